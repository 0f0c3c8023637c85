/* voc-track through the real binaries (voc-bus, PostgreSQL, voc-track, and
 * voc-ingest / voc-aggregate / vocctl where the path needs them), with the
 * SLA clock injected: VOC_CLOCK_FILE names a file in the test's workdir that
 * the test rewrites to move time. Nothing sleeps through a deadline; the
 * test only waits for voc-track's next scan (every 200 ms here).
 *
 * Assertions read what a department would receive: voc.sla_fire rows (one
 * per level that fired) and the notifications voc-track wrote to the outbox
 * (topic voc.notification) and relayed to the bus. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "harness_http.h"

#define MIN_MS 60000LL

/* Small budgets; critical is 24x7 as in the shipped file. Level 1 at the
 * deadline, level 2 ten minutes later, level 3 twenty minutes after that. */
static const char test_sla[] =
    "version: \"test-1\"\n"
    "calendars:\n"
    "  business:\n"
    "    timezone: Asia/Shanghai\n"
    "    hours:\n"
    "      mon-fri: [\"09:00-18:00\"]\n"
    "  always:\n"
    "    always_open: true\n"
    "items:\n"
    "  low: {calendar: business, ack: 9h, resolve: 45h}\n"
    "  medium: {calendar: business, ack: 4h, resolve: 18h, escalate: [0m, 4h]}\n"
    "  high: {calendar: business, ack: 1h, resolve: 9h}\n"
    "  critical:\n"
    "    calendar: always\n"
    "    ack: 10m\n"
    "    resolve: 1000h\n"
    "    remind_at: 0.5\n"
    "    escalate: [0m, 10m, 20m]\n"
    "    verify_after: 10m\n"
    "    close_after: 5m\n"
    "cases:\n"
    "  department: customer_service\n"
    "  escalation: [handler, owner, cs_director]\n"
    "  followup: 4h\n"
    "  tiers:\n"
    "    standard: {calendar: business, reply: 30m, escalate: [0m, 30m]}\n"
    "    vip: {reply: 15m}\n";

static char clock_path[600];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Moves voc-track's time: written aside and renamed, so never read half. */
static void set_clock(long long ms)
{
    char tmp[640], text[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", clock_path);
    snprintf(text, sizeof text, "%lld\n", ms);
    h_write_file(tmp, text);
    ck_assert_int_eq(rename(tmp, clock_path), 0);
}

static void track_setup(struct h_env *env, const char *name, long long start_ms)
{
    char path[512];
    h_setup(env, name);
    snprintf(path, sizeof path, "%s/config/sla.yaml", env->workdir);
    h_write_file(path, test_sla);
    h_config_replace(env, "scan_interval_ms: 1000", "scan_interval_ms: 200");
    snprintf(clock_path, sizeof clock_path, "%s/clock", env->workdir);
    setenv("VOC_CLOCK_FILE", clock_path, 1);
    set_clock(start_ms);
}

static long long db_now_ms(struct h_env *env)
{
    return h_query_ll(env, "SELECT (extract(epoch FROM now()) * 1000)::bigint");
}

static long long q(struct h_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long q(struct h_env *env, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return h_query_ll(env, sql);
}

/* Polls a formatted count until it is want (30 s at most); returns the last. */
static long long wait_q(struct h_env *env, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static long long wait_q(struct h_env *env, long long want, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return h_wait_for(env, sql, want, 30000);
}

/* An open item as voc-aggregate leaves it: the row and its "opened" audit
 * row at opened_ms, which starts its clocks. Handler li.lei. */
static long long new_item(struct h_env *env, const char *severity, long long opened_ms)
{
    char sql[1024];
    PGconn *c = h_connect(env);
    snprintf(sql, sizeof sql,
             "INSERT INTO voc.item (fingerprint, dimension, category, title, severity, department,"
             " owner, assignee, escalation, routing_rule, routing_version, match_rule,"
             " match_version, first_seen, last_seen) VALUES ('fp-' || gen_random_uuid(), 'line',"
             " 'stall', 'Shanghai line stalls in class', '%s', 'network_ops', 'netops-oncall',"
             " 'li.lei', '{handler,owner,voc_lead}', 'test', 'test', 'exact:test', 'test',"
             " now(), now()) RETURNING id",
             severity);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(sql, sizeof sql,
             "INSERT INTO voc.item_event (item_id, at, kind, actor, reason) VALUES"
             " (%lld, to_timestamp(%lld / 1000.0), 'opened', 'voc-aggregate', 'first occurrence')",
             id, opened_ms);
    r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return id;
}

#define FIRES                                                                                      \
    "SELECT count(*) FROM voc.sla_fire WHERE subject = 'item' AND subject_id = %lld"               \
    " AND clock = 'ack' AND level = %d"
#define ALL_FIRES "SELECT count(*) FROM voc.sla_fire WHERE subject = 'item' AND subject_id = %lld"
#define NOTICES                                                                                    \
    "SELECT count(*) FROM voc.outbox WHERE topic = 'voc.notification'"                             \
    " AND (payload->>'subject_id')::bigint = %lld AND coalesce((payload->>'level')::int, 0) = %d"  \
    " AND type LIKE 'sla.%%'"

/* Each of levels 0..3 of item id fired exactly once, with one notification. */
static void assert_each_level_once(struct h_env *env, long long id)
{
    for (int level = 0; level <= 3; level++) {
        ck_assert_int_eq(q(env, FIRES, id, level), 1);
        ck_assert_int_eq(q(env, NOTICES, id, level), 1);
    }
    ck_assert_int_eq(q(env, ALL_FIRES, id), 4);
}

static void publish_lines(struct h_env *env, const char *topic, const char *name, const char *lines)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ndjson", env->workdir, name);
    h_write_file(path, lines);
    ck_assert_int_eq(h_vocctl(env, "publish", topic, path, (char *)NULL), 0);
}

START_TEST(an_unacknowledged_critical_item_pages_levels_1_2_3_once_and_ack_stops_it)
{
    struct h_env env;
    char line[512];
    track_setup(&env, "trk_esc", 0);
    long long t0 = db_now_ms(&env);
    long long a = new_item(&env, "critical", t0), b = new_item(&env, "critical", t0);
    set_clock(t0 + MIN_MS);
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    sleep_ms(1500);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.sla_fire"), 0);
    /* Half the 10 min budget: the reminder, to the handler. */
    set_clock(t0 + 5 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, a, 0), 1);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, b, 0), 1);
    set_clock(t0 + 10 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, a, 1), 1);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, b, 1), 1);
    /* B's handler acknowledges from the chat bot, through voc.command. */
    snprintf(line, sizeof line,
             "{\"type\":\"command\",\"command_id\":\"bot-ack-%lld\",\"actor\":\"li.lei\","
             "\"item_id\":%lld,\"verb\":\"ack\"}\n",
             b, b);
    publish_lines(&env, "voc.command", "ack", line);
    ck_assert_int_eq(wait_q(&env, 1,
                            "SELECT count(*) FROM voc.item WHERE id = %lld"
                            " AND state = 'acknowledged'",
                            b),
                     1);
    set_clock(t0 + 20 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, a, 2), 1);
    set_clock(t0 + 40 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, a, 3), 1);
    sleep_ms(1500); /* several more scans: nothing may fire twice */
    assert_each_level_once(&env, a);
    /* B stopped at its acknowledgement: reminder and level 1 only. */
    ck_assert_int_eq(q(&env, ALL_FIRES, b), 2);
    ck_assert_int_eq(q(&env, FIRES, b, 2) + q(&env, FIRES, b, 3), 0);
    /* Up the chain: handler (the assignee), the department owner, the lead. */
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.sla_fire WHERE subject_id = %lld AND"
                       " recipient = CASE level WHEN 3 THEN 'voc_lead' WHEN 2 THEN 'netops-oncall'"
                       " ELSE 'li.lei' END AND department = 'network_ops'",
                       a),
                     4);
    /* The bus carries exactly the six notifications, no repeats. */
    ck_assert_int_eq(h_wait_for(&env,
                                "SELECT count(*) FROM voc.outbox WHERE topic = 'voc.notification'"
                                " AND published_at IS NOT NULL",
                                6, 20000),
                     6);
    char **msgs;
    size_t n = h_read_topic(&env, "voc.notification", 7, 5000, &msgs);
    ck_assert_int_eq((long long)n, 6);
    int escalations = 0;
    for (size_t i = 0; i < n; i++)
        escalations += strstr(msgs[i], "\"sla.escalation\"") != NULL; /* jsonb: "type": "..." */
    ck_assert_int_eq(escalations, 4);
    h_free_strv(msgs, n);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(a_restart_mid_escalation_repeats_nothing_and_misses_nothing)
{
    struct h_env env;
    char by[128], by2[128], sql[256];
    track_setup(&env, "trk_restart", 0);
    long long t0 = db_now_ms(&env);
    long long c = new_item(&env, "critical", t0);
    set_clock(t0 + MIN_MS);
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    set_clock(t0 + 5 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, c, 0), 1);
    set_clock(t0 + 10 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, c, 1), 1);
    /* Killed right after level 1; while it is down, levels 2 and 3 fall due. */
    h_stop(track, SIGKILL, 5000);
    set_clock(t0 + 40 * MIN_MS + 1000);
    track = h_start(&env, "voc-track", (char *)NULL);
    ck_assert_int_eq(wait_q(&env, 4, ALL_FIRES, c), 4);
    sleep_ms(1500);
    assert_each_level_once(&env, c);
    /* The missed levels were caught up by the new process, in order. */
    snprintf(sql, sizeof sql,
             "SELECT fired_by FROM voc.sla_fire WHERE subject_id = %lld AND level = 1", c);
    h_query_text(&env, sql, by, sizeof by);
    snprintf(sql, sizeof sql,
             "SELECT fired_by FROM voc.sla_fire WHERE subject_id = %lld AND level = 3", c);
    h_query_text(&env, sql, by2, sizeof by2);
    ck_assert_str_ne(by, by2);
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.sla_fire a JOIN voc.sla_fire b USING (subject_id)"
                       " WHERE subject_id = %lld AND a.level = 2 AND b.level = 3"
                       " AND a.recorded_at <= b.recorded_at",
                       c),
                     1);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(two_instances_fire_each_level_once)
{
    struct h_env env;
    track_setup(&env, "trk_two", 0);
    long long t0 = db_now_ms(&env);
    long long d = new_item(&env, "critical", t0), e = new_item(&env, "critical", t0);
    set_clock(t0 + MIN_MS);
    pid_t one = h_start(&env, "voc-track", (char *)NULL);
    pid_t two = h_start(&env, "voc-track", (char *)NULL);
    sleep_ms(1500);
    /* Both race for the same catch-up: four levels of two items at once. */
    set_clock(t0 + 40 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 4, ALL_FIRES, d), 4);
    ck_assert_int_eq(wait_q(&env, 4, ALL_FIRES, e), 4);
    sleep_ms(2000);
    assert_each_level_once(&env, d);
    assert_each_level_once(&env, e);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.outbox"
                                      " WHERE topic = 'voc.notification'"),
                     8);
    ck_assert_int_eq(h_stop(one, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(two, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(commands_are_idempotent_refusals_recorded_and_invalid_ones_deadlettered)
{
    struct h_env env;
    char lines[2048];
    track_setup(&env, "trk_cmd", 0);
    long long f = new_item(&env, "high", db_now_ms(&env));
    set_clock(db_now_ms(&env));
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    /* Unkeyed, these land on any partition: the ack goes first, on its own,
     * so that the second ack meets an acknowledged item. */
    char first[512];
    snprintf(first, sizeof first,
             "{\"type\":\"command\",\"command_id\":\"cmd-1\",\"actor\":\"li.lei\",\"item_id\":%lld,"
             "\"verb\":\"ack\",\"note\":\"on it\"}\n"
             "{\"type\":\"command\",\"command_id\":\"cmd-1\",\"actor\":\"li.lei\",\"item_id\":%lld,"
             "\"verb\":\"ack\",\"note\":\"on it\"}\n",
             f, f);
    publish_lines(&env, "voc.command", "cmd1", first);
    ck_assert_int_eq(h_wait_for(&env, "SELECT count(*) FROM voc.command", 1, 60000), 1);
    snprintf(lines, sizeof lines,
             "{\"type\":\"command\",\"command_id\":\"bad-1\",\"item_id\":%lld,\"verb\":\"ack\"}\n"
             "this is not json\n"
             "{\"type\":\"command\",\"command_id\":\"cmd-2\",\"actor\":\"wang.fang\","
             "\"item_id\":%lld,\"verb\":\"ack\"}\n"
             "{\"type\":\"command\",\"command_id\":\"cmd-3\",\"actor\":\"netops-oncall\","
             "\"item_id\":%lld,\"verb\":\"assign\",\"assignee\":\"wang.fang\"}\n",
             f, f, f);
    publish_lines(&env, "voc.command", "cmds", lines);
    ck_assert_int_eq(h_wait_for(&env, "SELECT count(*) FROM voc.command", 3, 60000), 3);
    ck_assert(h_group_caught_up(&env, "voc-track", "voc.command", 60000));
    /* cmd-1 acted once; cmd-2 is an answer, not an error; cmd-3 assigned. */
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.item_event WHERE item_id = %lld AND"
                       " kind = 'state_changed' AND actor = 'li.lei' AND reason = 'on it'",
                       f),
                     1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.command WHERE command_id = 'cmd-1'"
                                      " AND outcome = 'done' AND message IS NULL"),
                     1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.command WHERE command_id = 'cmd-2'"
                                      " AND outcome = 'refused'"
                                      " AND message LIKE '%already acknowledged%'"),
                     1);
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.item WHERE id = %lld AND state ="
                       " 'acknowledged' AND assignee = 'wang.fang'",
                       f),
                     1);
    char **dl;
    size_t n = h_read_topic(&env, "voc.deadletter", 2, 20000, &dl);
    ck_assert_int_eq((long long)n, 2);
    int named_actor = 0, not_json = 0;
    for (size_t i = 0; i < n; i++) {
        named_actor += strstr(dl[i], "actor") != NULL && strstr(dl[i], "voc-track") != NULL;
        not_json += strstr(dl[i], "not a JSON object") != NULL;
    }
    h_free_strv(dl, n);
    ck_assert_int_eq(named_actor, 1);
    ck_assert_int_eq(not_json, 1);
    /* The whole stream again: nothing changes. */
    long long audit = h_query_ll(&env, "SELECT count(*) FROM voc.item_event");
    publish_lines(&env, "voc.command", "cmd1", first);
    publish_lines(&env, "voc.command", "cmds", lines);
    ck_assert(h_group_caught_up(&env, "voc-track", "voc.command", 60000));
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.item_event"), audit);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.command"), 3);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

START_TEST(a_resolved_item_is_verified_then_closed_by_the_clock)
{
    struct h_env env;
    char id[24];
    track_setup(&env, "trk_verify", 0);
    long long g = new_item(&env, "critical", db_now_ms(&env));
    set_clock(db_now_ms(&env));
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    snprintf(id, sizeof id, "%lld", g);
    ck_assert_int_eq(h_vocctl(&env, "item", "resolve", id, "--by", "li.lei", (char *)NULL), 0);
    long long resolved = q(&env,
                           "SELECT (extract(epoch FROM resolved_at) * 1000)::bigint FROM voc.item"
                           " WHERE id = %lld",
                           g);
    set_clock(resolved + 9 * MIN_MS);
    sleep_ms(1500);
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.item WHERE id = %lld AND state = 'resolved'"
                       "",
                       g),
                     1);
    /* Ten quiet minutes: verified, by voc-track. */
    set_clock(resolved + 10 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1,
                            "SELECT count(*) FROM voc.item_event WHERE item_id = %lld AND"
                            " data->>'to' = 'verified' AND actor = 'voc-track'",
                            g),
                     1);
    long long verified = q(&env,
                           "SELECT (extract(epoch FROM at) * 1000)::bigint FROM voc.item_event"
                           " WHERE item_id = %lld AND data->>'to' = 'verified'",
                           g);
    set_clock((verified > resolved + 10 * MIN_MS ? verified : resolved + 10 * MIN_MS) + 5 * MIN_MS +
              1000);
    ck_assert_int_eq(
        wait_q(&env, 1, "SELECT count(*) FROM voc.item WHERE id = %lld AND state = 'closed'", g),
        1);
    /* Resolved before its deadline: it never paged anyone. */
    ck_assert_int_eq(q(&env, ALL_FIRES, g), 0);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

static long long at_ms(struct h_env *env, const char *rfc3339)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT (extract(epoch FROM timestamptz '%s') * 1000)::bigint",
             rfc3339);
    return h_query_ll(env, sql);
}

#define CASE_FIRES  "SELECT count(*) FROM voc.sla_fire WHERE subject = 'case' AND level = 1"
#define FRIDAY_1750 "2026-11-27T17:50:00+08:00"

/* "a VIP complaint breaches at 15 business minutes and a standard one at
 * 30, with a weekend in between handled by the calendar". */
START_TEST(cases_breach_in_business_minutes_across_a_weekend_by_tier)
{
    struct h_env env;
    char lines[2048];
    track_setup(&env, "trk_case", 0);
    set_clock(at_ms(&env, "2026-11-27T17:55:00+08:00"));
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    snprintf(lines, sizeof lines,
             "{\"event_id\":\"vip-1\",\"type\":\"complaint\",\"occurred_at\":\"%s\","
             "\"source\":\"app\",\"channel\":\"app\",\"customer\":{\"id\":\"cust-v\","
             "\"tier\":\"vip\"},\"text\":\"老师迟到了二十分钟\"}\n"
             "{\"event_id\":\"std-1\",\"type\":\"complaint\",\"occurred_at\":\"%s\","
             "\"source\":\"app\",\"channel\":\"app\",\"customer\":{\"id\":\"cust-s\","
             "\"tier\":\"standard\"},\"text\":\"退款申请提交一周了还没有处理\"}\n"
             "{\"event_id\":\"rate-2\",\"type\":\"rating\",\"occurred_at\":\"%s\","
             "\"source\":\"rating-svc\",\"customer\":{\"id\":\"cust-r\"},"
             "\"rating\":{\"score\":2,\"aspect\":\"teacher\"}}\n"
             "{\"event_id\":\"rate-4\",\"type\":\"rating\",\"occurred_at\":\"%s\","
             "\"source\":\"rating-svc\",\"customer\":{\"id\":\"cust-q\"},"
             "\"rating\":{\"score\":4,\"aspect\":\"teacher\"}}\n",
             FRIDAY_1750, FRIDAY_1750, FRIDAY_1750, FRIDAY_1750);
    publish_lines(&env, "auto", "feedback", lines);
    ck_assert_int_eq(h_wait_for(&env, "SELECT count(*) FROM voc.case", 3, 60000), 3);
    ck_assert(h_group_caught_up(&env, "voc-track", "voc.classified", 60000));
    /* A complaint and a rating of 2 open cases; a rating of 4 does not. */
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.case"), 3);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.case WHERE event_id = 'vip-1'"
                                      " AND reply_due_at = '2026-11-30T09:05:00+08:00'"),
                     1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.case WHERE event_id IN"
                                      " ('std-1', 'rate-2')"
                                      " AND reply_due_at = '2026-11-30T09:20:00+08:00'"),
                     2);
    /* Saturday, Sunday and Monday 09:04:59 count as 4:59 business minutes. */
    set_clock(at_ms(&env, "2026-11-30T09:04:59+08:00"));
    sleep_ms(1500);
    ck_assert_int_eq(h_query_ll(&env, CASE_FIRES), 0);
    set_clock(at_ms(&env, "2026-11-30T09:05:00+08:00"));
    ck_assert_int_eq(h_wait_for(&env, CASE_FIRES, 1, 30000), 1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.sla_fire f JOIN voc.case c ON"
                                      " c.id = f.subject_id WHERE f.subject = 'case'"
                                      " AND c.event_id = 'vip-1'"
                                      " AND f.due_at = '2026-11-30T09:05:00+08:00'"
                                      " AND f.department = 'customer_service'"),
                     1);
    set_clock(at_ms(&env, "2026-11-30T09:19:59+08:00"));
    sleep_ms(1500);
    ck_assert_int_eq(h_query_ll(&env, CASE_FIRES), 1);
    set_clock(at_ms(&env, "2026-11-30T09:20:00+08:00"));
    ck_assert_int_eq(h_wait_for(&env, CASE_FIRES, 3, 30000), 3);
    /* Each breach is in the case's history and went to customer service. */
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.case_event WHERE kind = 'escalated'"
                                      " AND actor = 'voc-track'"),
                     3);
    ck_assert_int_eq(h_query_ll(&env,
                                "SELECT count(*) FROM voc.outbox WHERE type = 'sla.escalation'"
                                " AND key = 'customer_service' AND payload->>'subject' = 'case'"),
                     3);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

static void whiteboard_complaint(struct h_env *env, const char *id, long long when_ms)
{
    char line[1024], when[64], sql[160];
    snprintf(sql, sizeof sql,
             "SELECT to_char(to_timestamp(%lld / 1000.0) AT TIME ZONE 'UTC',"
             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
             when_ms);
    h_query_text(env, sql, when, sizeof when);
    snprintf(
        line, sizeof line,
        "{\"event_id\":\"%s\",\"type\":\"complaint\",\"occurred_at\":\"%s\",\"source\":\"app\","
        "\"customer\":{\"id\":\"cust-%s\"},\"text\":\"白板功能打不开，一直闪退\"}\n",
        id, when, id);
    publish_lines(env, "auto", id, line);
}

/* "A resolved item that recurs goes back to the owner": voc-aggregate
 * regresses it and tells the owner; voc-track starts its clocks afresh. */
START_TEST(a_regressed_item_goes_back_to_its_owner_with_fresh_clocks)
{
    struct h_env env;
    char id[24];
    track_setup(&env, "trk_regress", 0);
    long long now = db_now_ms(&env);
    set_clock(now);
    pid_t ingest = h_start(&env, "voc-ingest", (char *)NULL);
    pid_t aggregate = h_start(&env, "voc-aggregate", (char *)NULL);
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    whiteboard_complaint(&env, "wb-1", now - MIN_MS);
    ck_assert_int_eq(h_wait_for(&env, "SELECT count(*) FROM voc.item", 1, 60000), 1);
    long long item = h_query_ll(&env, "SELECT id FROM voc.item");
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.outbox o JOIN voc.item i ON i.id = %lld"
                       " WHERE o.topic = 'voc.notification' AND o.type = 'item.opened'"
                       " AND o.key = i.department AND o.payload->>'recipient' = i.owner",
                       item),
                     1);
    snprintf(id, sizeof id, "%lld", item);
    ck_assert_int_eq(h_vocctl(&env, "item", "resolve", id, "--by", "alice", (char *)NULL), 0);
    whiteboard_complaint(&env, "wb-2", db_now_ms(&env) + MIN_MS);
    ck_assert_int_eq(wait_q(&env, 1,
                            "SELECT count(*) FROM voc.item WHERE id = %lld"
                            " AND state = 'regressed'",
                            item),
                     1);
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.outbox o JOIN voc.item i ON i.id = %lld"
                       " WHERE o.topic = 'voc.notification' AND o.type = 'item.regressed'"
                       " AND o.payload->>'recipient' = i.owner",
                       item),
                     1);
    /* A month later nobody acknowledged it: the new cycle escalates, the
     * first (resolved in time) stays quiet. */
    set_clock(now + MIN_MS * 60 * 24 * 30);
    ck_assert_int_eq(wait_q(&env, 1,
                            "SELECT count(*) FROM voc.sla_fire WHERE subject = 'item'"
                            " AND subject_id = %lld AND clock = 'ack' AND level = 1 AND cycle ="
                            " (SELECT max(id) FROM voc.item_event WHERE item_id = %lld"
                            " AND kind = 'regressed')",
                            item, item),
                     1);
    ck_assert_int_eq(q(&env,
                       "SELECT count(*) FROM voc.sla_fire WHERE subject = 'item' AND cycle ="
                       " (SELECT id FROM voc.item_event WHERE item_id = %lld AND kind = 'opened')",
                       item),
                     0);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(aggregate, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(ingest, SIGTERM, 20000), 0);
    h_teardown(&env);
}
END_TEST

/* End to end: voc-track's page reaches the department's chat webhook
 * through voc-notify (a real HTTP receiver on loopback). */
START_TEST(a_page_reaches_the_departments_webhook)
{
    struct h_env env;
    char url[256], all[16384] = "", want[64];
    track_setup(&env, "trk_e2e", 0);
    h_config_replace(&env, "group_wait_ms: 2000", "group_wait_ms: 300");
    struct h_http *rx = h_http_start();
    setenv("VOC_WEBHOOK_DINGTALK_NETOPS", h_http_url(rx, "/dingtalk/netops", url, sizeof url), 1);
    long long t0 = db_now_ms(&env);
    long long a = new_item(&env, "critical", t0);
    set_clock(t0 + MIN_MS);
    pid_t track = h_start(&env, "voc-track", (char *)NULL);
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    set_clock(t0 + 10 * MIN_MS + 1000);
    ck_assert_int_eq(wait_q(&env, 1, FIRES, a, 1), 1);
    /* The reminder and the level-1 page, in one or two requests. */
    snprintf(want, sizeof want, "item %lld", a);
    for (int waited = 0; waited < 60000 && !strstr(all, "escalation 1/3"); waited += 500) {
        sleep_ms(500);
        all[0] = '\0';
        struct h_http_request r;
        for (size_t i = 0; h_http_get(rx, "/dingtalk/netops", i, &r); i++) {
            strncat(all, r.body, sizeof all - strlen(all) - 1);
            h_http_request_clear(&r);
        }
    }
    ck_assert_msg(strstr(all, "escalation 1/3") && strstr(all, want), "webhook got: %.500s", all);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    ck_assert_int_eq(h_stop(track, SIGTERM, 20000), 0);
    h_http_stop(rx);
    unsetenv("VOC_WEBHOOK_DINGTALK_NETOPS");
    h_teardown(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("track");
    TCase *tc = tcase_create("through the binaries");
    /* Group joins (~3 s each), voc-ingest where cases need it. */
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, an_unacknowledged_critical_item_pages_levels_1_2_3_once_and_ack_stops_it);
    tcase_add_test(tc, a_restart_mid_escalation_repeats_nothing_and_misses_nothing);
    tcase_add_test(tc, two_instances_fire_each_level_once);
    tcase_add_test(tc, commands_are_idempotent_refusals_recorded_and_invalid_ones_deadlettered);
    tcase_add_test(tc, a_resolved_item_is_verified_then_closed_by_the_clock);
    tcase_add_test(tc, cases_breach_in_business_minutes_across_a_weekend_by_tier);
    tcase_add_test(tc, a_regressed_item_goes_back_to_its_owner_with_fresh_clocks);
    tcase_add_test(tc, a_page_reaches_the_departments_webhook);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
