/* voc-outreach through the real binaries: the classroom simulator's
 * heartbeats go through voc-bus into voc-outreach, and the tasks are read
 * back from Postgres. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define TASKS "SELECT count(*) FROM voc.outreach"

/* Simulates 4 classrooms of 6 students on 2 lines (8 on 1 line for the line
 * test) for 90 s of event time ending now, with up to three stall specs
 * (NULL: fewer), into <workdir>/<name>.ndjson. */
static void simulate(struct h_env *env, const char *name, int classrooms, const char *stall1,
                     const char *stall2, const char *stall3, char *path, size_t len)
{
    char rooms[16], start[32];
    snprintf(path, len, "%s/%s.ndjson", env->workdir, name);
    snprintf(rooms, sizeof rooms, "%d", classrooms);
    snprintf(start, sizeof start, "%lld", ((long long)time(NULL) - 90) * 1000);
    int rc = h_vocctl(env, "simulate", "--classrooms", rooms, "--students", "6", "--lines", "2",
                      "--duration-s", "90", "--seed", "7", "--start-ms", start, "--out", path,
                      stall1 ? "--stall" : (char *)NULL, stall1, stall2 ? "--stall" : (char *)NULL,
                      stall2, stall3 ? "--stall" : (char *)NULL, stall3, (char *)NULL);
    ck_assert_int_eq(rc, 0);
}

static void publish(struct h_env *env, const char *path)
{
    ck_assert_int_eq(h_vocctl(env, "publish", "voc.telemetry", path, (char *)NULL), 0);
}

/* Waits until voc-outreach has consumed everything, then a little longer so
 * that held decisions are released by its clock. */
static void settle(struct h_env *env)
{
    ck_assert(h_group_caught_up(env, "voc-outreach", "voc.telemetry", 60000));
    sleep(3);
}

START_TEST(one_stalled_student_gets_exactly_one_task)
{
    struct h_env env;
    char path[512];
    h_setup(&env, "or1");
    simulate(&env, "one", 4, "student:1:2:20:30", NULL, NULL, path, sizeof path);
    pid_t outreach = h_start(&env, "voc-outreach", (char *)NULL);
    publish(&env, path);
    ck_assert_int_eq(h_wait_for(&env, TASKS, 1, 60000), 1);
    settle(&env);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.outreach WHERE level = 'student'"
                                      " AND subject = 's-1-2' AND customer_id = 'fam-1-2'"
                                      " AND classroom_id = 'room-1'"),
                     1);
    /* Decided the grace (outreach.yaml line.grace_ms, 5 s of event time) after
     * the heartbeat that crossed the threshold, which is the first bad one or
     * the next (one 5 s interval later), although the whole stream arrived at
     * once: the watermark waited for every partition. */
    ck_assert_int_le(h_query_ll(&env, "SELECT extract(epoch FROM detected_at - first_bad_at)"
                                      " * 1000 FROM voc.outreach"),
                     10000);
    ck_assert_int_eq(h_wait_for(&env,
                                "SELECT count(*) FROM voc.outbox WHERE type ="
                                " 'outreach.task' AND published_at IS NOT NULL",
                                1, 20000),
                     1);
    /* The family reports it too: the report joins the task, no second one. */
    char report[600];
    snprintf(report, sizeof report, "%s/report.ndjson", env.workdir);
    h_write_file(report, "{\"event_id\":\"ti-1\",\"type\":\"tech_issue\",\"occurred_at\":"
                         "\"2026-11-23T10:00:00Z\",\"source\":\"app\",\"customer\":{\"id\":"
                         "\"fam-1-2\"},\"classroom\":{\"id\":\"room-1\"},\"issue\":{\"kind\":"
                         "\"video_stall\"},\"text\":\"孩子的画面卡住了\"}\n");
    ck_assert_int_eq(h_vocctl(&env, "publish", "voc.tech_issue", report, (char *)NULL), 0);
    ck_assert_int_eq(h_wait_for(&env,
                                "SELECT count(*) FROM voc.outreach_report r JOIN"
                                " voc.outreach o USING (task_id) WHERE o.subject = 's-1-2'",
                                1, 30000),
                     1);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 1);
    ck_assert_int_eq(h_stop(outreach, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(a_stalled_teacher_makes_one_classroom_task_and_no_student_tasks)
{
    struct h_env env;
    char path[512];
    h_setup(&env, "or2");
    simulate(&env, "teacher", 4, "teacher:2:20:30", NULL, NULL, path, sizeof path);
    pid_t outreach = h_start(&env, "voc-outreach", (char *)NULL);
    publish(&env, path);
    ck_assert_int_eq(h_wait_for(&env, TASKS, 1, 60000), 1);
    settle(&env);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 1);
    ck_assert_int_eq(
        h_query_ll(&env,
                   "SELECT count(*) FROM voc.outreach WHERE level ="
                   " 'classroom' AND subject = 'room-2'"
                   " AND (SELECT count(*) FROM unnest(families) f WHERE f LIKE 'fam-2-%') = 6"),
        1);
    ck_assert_int_eq(h_stop(outreach, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(a_failing_line_makes_one_incident_an_item_and_no_calls)
{
    struct h_env env;
    char path[512];
    h_setup(&env, "or3");
    /* 16 classrooms on 2 lines: line-1 (8 classrooms) fails. */
    simulate(&env, "line", 16, "line:1:20:40", NULL, NULL, path, sizeof path);
    pid_t outreach = h_start(&env, "voc-outreach", (char *)NULL);
    pid_t aggregate = h_start(&env, "voc-aggregate", (char *)NULL);
    publish(&env, path);
    ck_assert_int_eq(h_wait_for(&env, TASKS, 1, 60000), 1);
    settle(&env);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 1);
    ck_assert_int_eq(
        h_query_ll(
            &env,
            "SELECT count(*) FROM voc.outreach WHERE level = 'line'"
            " AND subject = 'line-1'"
            " AND (SELECT count(DISTINCT f) FROM unnest(families) f WHERE f LIKE 'fam-%') = 48"),
        1);
    /* Network operations owns an improvement item on that line. */
    ck_assert_int_eq(h_wait_for(&env,
                                "SELECT count(*) FROM voc.item WHERE dimension = 'line'"
                                " AND entity = 'line-1' AND department = 'network_ops'",
                                1, 30000),
                     1);
    ck_assert_int_eq(h_stop(aggregate, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(outreach, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(healthy_classrooms_with_normal_jitter_make_no_task)
{
    struct h_env env;
    char path[512];
    h_setup(&env, "or4");
    simulate(&env, "healthy", 16, NULL, NULL, NULL, path, sizeof path);
    pid_t outreach = h_start(&env, "voc-outreach", (char *)NULL);
    publish(&env, path);
    settle(&env);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 0);
    ck_assert_int_eq(h_stop(outreach, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

/* Splits path into its first `head` lines and the rest. */
static void split(const char *path, int head, char *first, char *rest, size_t len)
{
    char cmd[2048];
    snprintf(first, len, "%s.head", path);
    snprintf(rest, len, "%s.tail", path);
    snprintf(cmd, sizeof cmd, "head -n %d '%s' > '%s' && tail -n +%d '%s' > '%s'", head, path,
             first, head + 1, path, rest);
    ck_assert_int_eq(system(cmd), 0);
}

/* The rows of voc.outreach for one subject. */
static long long tasks_for(struct h_env *env, const char *level, const char *subject)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM voc.outreach WHERE level = '%s' AND subject = '%s'", level,
             subject);
    return h_query_ll(env, sql);
}

START_TEST(a_restart_in_the_middle_of_a_stall_makes_no_second_task)
{
    struct h_env env;
    char path[512], first[600], rest[600];
    h_setup(&env, "or5");
    /* In room-0 (6 students): s-0-1 stalls from 20 s to 80 s, across the
     * restart; s-0-2 from 30 s to 40 s, before it; s-0-3 from 55 s to 65 s,
     * after it. Each of the first two gets a student task before the cut
     * (2 of 6 stalled is under the classroom share). s-0-3 makes it 3 of 6
     * within window_ms, a classroom stall, but only if voc-outreach still
     * knows after the restart that s-0-2 stalled, i.e. the windows were
     * rebuilt: started empty, it would call s-0-3's family instead. */
    simulate(&env, "restart", 4, "student:0:1:20:60", "student:0:2:30:10", "student:0:3:55:10",
             path, sizeof path);
    split(path, 28 * 9, first, rest, sizeof first); /* the cut falls at 45 s */
    pid_t outreach = h_start(&env, "voc-outreach", (char *)NULL);
    publish(&env, first);
    ck_assert_int_eq(h_wait_for(&env, TASKS, 2, 60000), 2);
    ck_assert(h_group_caught_up(&env, "voc-outreach", "voc.telemetry", 60000));
    ck_assert_int_eq(
        h_wait_for(&env, "SELECT (count(*) > 0)::int FROM voc.outreach_checkpoint", 1, 10000), 1);
    h_stop(outreach, SIGKILL, 5000);
    outreach = h_start(&env, "voc-outreach", (char *)NULL);
    publish(&env, rest);
    settle(&env);
    /* No second task for the stall that went on across the restart. */
    ck_assert_int_eq(tasks_for(&env, "student", "s-0-1"), 1);
    ck_assert_int_eq(tasks_for(&env, "student", "s-0-2"), 1);
    /* The stall whose evidence straddles the restart is found once, as a
     * classroom stall with all three families, and s-0-3 gets no call. */
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.outreach WHERE level ="
                                      " 'classroom' AND subject = 'room-0' AND families @>"
                                      " ARRAY['fam-0-1', 'fam-0-2', 'fam-0-3']"),
                     1);
    ck_assert_int_eq(tasks_for(&env, "student", "s-0-3"), 0);
    ck_assert_int_eq(h_query_ll(&env, TASKS), 3);
    /* voc-bus cannot look offsets up by time: the checkpoints did it. */
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "grep -Eq 'partitions_rewound.*count=[1-9][0-9]* source=checkpoint'"
             " '%s'/voc-outreach.*.log",
             env.workdir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(h_stop(outreach, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outreach");
    TCase *tc = tcase_create("through the binaries");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, one_stalled_student_gets_exactly_one_task);
    tcase_add_test(tc, a_stalled_teacher_makes_one_classroom_task_and_no_student_tasks);
    tcase_add_test(tc, a_failing_line_makes_one_incident_an_item_and_no_calls);
    tcase_add_test(tc, healthy_classrooms_with_normal_jitter_make_no_task);
    tcase_add_test(tc, a_restart_in_the_middle_of_a_stall_makes_no_second_task);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
