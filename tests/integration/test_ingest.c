/* voc-ingest through the real binaries: voc-bus, vocctl, voc-ingest and
 * PostgreSQL. What a user would notice: samples land classified, bad input is
 * dead-lettered with a reason, replays add nothing, and neither a kill -9 nor
 * a Postgres restart loses an event. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define COUNT_FEEDBACK "SELECT count(*) FROM voc.feedback"

struct expected {
    char id[64], dimension[32], category[64];
};

/* tests/data/samples_expected.tsv: "# invalid: N", then id<TAB>dimension<TAB>category. */
static size_t load_expected(struct expected *out, size_t cap, int *invalid)
{
    FILE *f = fopen(h_src("tests/data/samples_expected.tsv"), "r");
    ck_assert_msg(f != NULL, "tests/data/samples_expected.tsv is missing");
    char line[512];
    size_t n = 0;
    *invalid = -1;
    while (fgets(line, sizeof line, f) && n < cap) {
        if (sscanf(line, "# invalid: %d", invalid) == 1 || line[0] == '#' || line[0] == '\n')
            continue;
        ck_assert_int_eq(sscanf(line, "%63[^\t]\t%31[^\t]\t%63[^\t\r\n]", out[n].id,
                                out[n].dimension, out[n].category),
                         3);
        n++;
    }
    fclose(f);
    ck_assert_msg(*invalid > 0, "samples_expected.tsv must say '# invalid: N'");
    return n;
}

static void assert_dimensions(struct h_env *env, const struct expected *exp, size_t n)
{
    PGconn *c = h_connect(env);
    for (size_t i = 0; i < n; i++) {
        const char *params[] = {exp[i].id};
        PGresult *r =
            PQexecParams(c, "SELECT dimension, category FROM voc.feedback WHERE event_id = $1", 1,
                         NULL, params, NULL, NULL, 0);
        ck_assert_msg(PQntuples(r) == 1, "sample %s is not in voc.feedback", exp[i].id);
        ck_assert_msg(strcmp(PQgetvalue(r, 0, 0), exp[i].dimension) == 0 &&
                          strcmp(PQgetvalue(r, 0, 1), exp[i].category) == 0,
                      "sample %s classified %s/%s, expected %s/%s", exp[i].id, PQgetvalue(r, 0, 0),
                      PQgetvalue(r, 0, 1), exp[i].dimension, exp[i].category);
        PQclear(r);
    }
    PQfinish(c);
}

static void assert_deadletters(char **recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_error_t e;
        json_t *r = json_loads(recs[i], 0, &e);
        ck_assert_msg(r != NULL, "dead-letter record is not JSON: %s", recs[i]);
        const char *reason = json_string_value(json_object_get(r, "reason"));
        ck_assert_msg(reason && strlen(reason) > 5, "dead-letter record without a reason");
        ck_assert_msg(json_string_value(json_object_get(r, "original_b64")) != NULL,
                      "dead-letter record without the original bytes");
        ck_assert_msg(json_integer_value(json_object_get(r, "offset")) >= 0, "no source offset");
        ck_assert_msg(strncmp(json_string_value(json_object_get(r, "topic")), "voc.", 4) == 0,
                      "no source topic");
        json_decref(r);
    }
}

START_TEST(samples_land_classified_and_invalid_ones_are_deadlettered)
{
    struct h_env env;
    struct expected exp[256];
    int invalid;
    size_t n = load_expected(exp, 256, &invalid);
    h_setup(&env, "samples");
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    ck_assert_int_eq(
        h_vocctl(&env, "publish", "auto", h_src("deploy/samples/events.ndjson"), (char *)NULL), 0);
    ck_assert_int_eq(h_wait_for(&env, COUNT_FEEDBACK, (long long)n, 60000), (long long)n);
    assert_dimensions(&env, exp, n);

    char **recs;
    size_t got = h_read_topic(&env, "voc.deadletter", (size_t)invalid + 1, 5000, &recs);
    ck_assert_msg(got == (size_t)invalid, "%zu dead-letter records, expected %d", got, invalid);
    assert_deadletters(recs, got);
    h_free_strv(recs, got);
    got = h_read_topic(&env, "voc.classified", n + 1, 3000, &recs);
    ck_assert_msg(got == n, "%zu classified events, expected %zu", got, n);
    h_free_strv(recs, got);

    /* Personal data never reaches storage; the mask tags show it was there. */
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.feedback WHERE"
                                      " coalesce(text, '') || payload::text ~ '1[3-9][0-9]{9}'"
                                      " OR coalesce(text, '') || payload::text ~ '[a-z]@[a-z]'"),
                     0);
    ck_assert_int_gt(
        h_query_ll(&env, "SELECT count(*) FROM voc.feedback WHERE text LIKE '%[PHONE]%'"), 0);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(publishing_the_same_events_twice_adds_no_rows)
{
    struct h_env env;
    struct expected exp[256];
    int invalid;
    size_t n = load_expected(exp, 256, &invalid);
    h_setup(&env, "twice");
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    for (int round = 0; round < 2; round++)
        ck_assert_int_eq(
            h_vocctl(&env, "publish", "auto", h_src("deploy/samples/events.ndjson"), (char *)NULL),
            0);
    /* Every copy is processed (and forwarded) once, but stored once. */
    char **recs;
    size_t got = h_read_topic(&env, "voc.classified", 2 * n, 60000, &recs);
    h_free_strv(recs, got);
    ck_assert_uint_eq(got, 2 * n);
    ck_assert_int_eq(h_query_ll(&env, COUNT_FEEDBACK), (long long)n);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

/* Publishes `total` generated events while the caller disrupts something. */
static pid_t publish_generated(struct h_env *env, const char *prefix, size_t total)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ndjson", env->workdir, prefix);
    h_write_events(path, prefix, total);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s/vocctl' --config '%s/config' publish auto '%s' >/dev/null",
                 VOC_TEST_BINARY_DIR, env->workdir, path);
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    return pid;
}

START_TEST(kill_9_mid_stream_loses_nothing_and_duplicates_nothing)
{
    struct h_env env;
    const size_t total = 20000;
    h_setup(&env, "kill9");
    /* Small batches so that the kill lands between many commits. */
    h_config_replace(&env, "batch_size: 500", "batch_size: 50");
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    pid_t pub = publish_generated(&env, "k9", total);
    for (int kill_no = 0; kill_no < 2; kill_no++) {
        long long at = 0;
        long long threshold = kill_no == 0 ? 1000 : 8000;
        for (int i = 0; i < 600 && (at = h_query_ll(&env, COUNT_FEEDBACK)) < threshold; i++)
            usleep(50000);
        ck_assert_msg(at >= threshold && at < (long long)total,
                      "the kill should land mid-stream (rows=%lld)", at);
        h_stop(ingest, SIGKILL, 5000);
        ingest = h_start(&env, "voc-ingest", (char *)NULL);
    }
    ck_assert_int_eq(h_stop(pub, 0, 60000), 0);
    ck_assert_int_eq(h_wait_for(&env, COUNT_FEEDBACK, (long long)total, 120000), (long long)total);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(DISTINCT event_id) FROM voc.feedback"),
                     (long long)total);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(a_row_postgres_refuses_is_deadlettered_and_its_batch_mates_stored)
{
    struct h_env env;
    char path[512];
    h_setup(&env, "refused");
    /* 30 February passes the schema's RFC 3339 pattern; only Postgres knows
     * there is no such day (SQLSTATE 22008). */
    snprintf(path, sizeof path, "%s/refused.ndjson", env.workdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"event_id\":\"ok-1\",\"type\":\"complaint\",\"occurred_at\":"
          "\"2026-11-20T19:00:00+08:00\",\"source\":\"app\",\"customer\":{\"id\":\"c1\"},\"text\":"
          "\"退款一直没到账\"}\n"
          "{\"event_id\":\"bad-date\",\"type\":\"complaint\",\"occurred_at\":"
          "\"2026-02-30T19:00:00+08:00\",\"source\":\"app\",\"customer\":{\"id\":\"c1\"},\"text\":"
          "\"老师迟到\"}\n"
          "{\"event_id\":\"ok-2\",\"type\":\"complaint\",\"occurred_at\":"
          "\"2026-11-20T19:01:00+08:00\",\"source\":\"app\",\"customer\":{\"id\":\"c1\"},\"text\":"
          "\"app crashes\"}\n",
          f);
    fclose(f);
    /* One customer, so one partition: the three arrive in one batch. */
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    ck_assert_int_eq(h_vocctl(&env, "publish", "voc.complaint", path, (char *)NULL), 0);
    ck_assert_int_eq(h_wait_for(&env, COUNT_FEEDBACK, 2, 60000), 2);
    char **recs;
    size_t got = h_read_topic(&env, "voc.deadletter", 1, 20000, &recs);
    ck_assert_uint_eq(got, 1);
    json_t *r = json_loads(recs[0], 0, NULL);
    const char *reason = json_string_value(json_object_get(r, "reason"));
    ck_assert_msg(reason && strstr(reason, "postgres refused the row") && strstr(reason, "22008"),
                  "reason: %s", reason ? reason : "(none)");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(r, "original_text")), "bad-date"));
    json_decref(r);
    h_free_strv(recs, got);
    ck_assert_int_eq(
        h_query_ll(&env, "SELECT count(*) FROM voc.feedback WHERE event_id IN ('ok-1', 'ok-2')"),
        2);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

static int pg_cluster(const char *action)
{
    char cmd[256];
    const char *version = getenv("PGVERSION");
    snprintf(cmd, sizeof cmd, "pg_ctlcluster %s regress %s >/dev/null 2>&1",
             version ? version : "15", action);
    return system(cmd);
}

START_TEST(postgres_restart_mid_stream_loses_nothing)
{
    struct h_env env;
    const size_t total = 20000;
    h_setup(&env, "pgrestart");
    h_config_replace(&env, "batch_size: 500", "batch_size: 50");
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    pid_t pub = publish_generated(&env, "pr", total);
    long long at = 0;
    for (int i = 0; i < 600 && (at = h_query_ll(&env, COUNT_FEEDBACK)) < 1000; i++)
        usleep(50000);
    ck_assert_msg(at >= 1000 && at < (long long)total, "restart should land mid-stream (rows=%lld)",
                  at);
    ck_assert_int_eq(pg_cluster("stop -m fast"), 0);
    sleep(3); /* voc-ingest must wait and retry, not exit */
    ck_assert_int_eq(waitpid(ingest, NULL, WNOHANG), 0);
    ck_assert_int_eq(pg_cluster("start"), 0);
    ck_assert_int_eq(h_stop(pub, 0, 60000), 0);
    ck_assert_int_eq(h_wait_for(&env, COUNT_FEEDBACK, (long long)total, 120000), (long long)total);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("through the binaries");
    /* Group joins take ~3 s on voc-bus; restarts and 20,000 events take longer. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, samples_land_classified_and_invalid_ones_are_deadlettered);
    tcase_add_test(tc, publishing_the_same_events_twice_adds_no_rows);
    tcase_add_test(tc, a_row_postgres_refuses_is_deadlettered_and_its_batch_mates_stored);
    tcase_add_test(tc, kill_9_mid_stream_loses_nothing_and_duplicates_nothing);
    tcase_add_test(tc, postgres_restart_mid_stream_loses_nothing);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
