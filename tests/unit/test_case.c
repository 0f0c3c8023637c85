/* Customer cases: opening (idempotent per event), the commands people run on
 * them and their refusals, the audit trail, the follow-up tasks an item's
 * resolution creates, and vocctl case end to end, against a real PostgreSQL
 * (PG* environment, e.g. under pg_virtualenv). Each test has its own
 * database; with no server every test FAILS. */
#include "voc/case.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testsupport.h"
#include "voc/item.h"

#define VOCCTL     VOC_TEST_BINARY_DIR "/vocctl"
#define CONFIG_DIR VOC_TEST_SOURCE_DIR "/deploy/config"

static long long ll_of(PGconn *c, const char *sql, const char *param)
{
    char *v = ts_sql_val(c, sql, param);
    long long n = atoll(v);
    free(v);
    return n;
}

static void id_str(char *buf, size_t len, long long id)
{
    snprintf(buf, len, "%lld", id);
}

/* Asserts that a query about id returns want. */
static void expect(PGconn *c, long long id, const char *sql, const char *want)
{
    char sid[24];
    id_str(sid, sizeof sid, id);
    ts_expect_val(c, sql, sid, want);
}

/* An item as voc-aggregate opens it; returns its id. */
static long long new_item(PGconn *c, const char *fingerprint, const char *title)
{
    const char *p[] = {fingerprint, title};
    char *v = ts_sql_valn(c,
                          "INSERT INTO voc.item (fingerprint, dimension, category, entity, title,"
                          " severity, department, routing_rule, routing_version, match_rule,"
                          " match_version, first_seen, last_seen) VALUES ($1, 'product',"
                          " 'whiteboard_freeze', 'app-ios', $2, 'high', 'product_rd',"
                          " 'product-bugs', 'r1', 'exact', 'm1', now(), now()) RETURNING id",
                          2, p);
    long long id = atoll(v);
    free(v);
    return id;
}

/* A voc.feedback row as voc-ingest writes it (counted in item_id unless 0). */
static void add_feedback(PGconn *c, const char *event_id, const char *type, const char *rating,
                         const char *customer, long long item_id)
{
    char iid[24];
    id_str(iid, sizeof iid, item_id);
    const char *p[] = {event_id, type, rating, customer, item_id ? iid : NULL};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO voc.feedback (event_id, type, occurred_at, channel, customer_id, tier,"
        " rating, text, dimension, category, severity, sentiment, rule, taxonomy_version,"
        " source_topic, source_partition, source_offset, payload, item_id) VALUES ($1, $2,"
        " '2026-11-23 10:00+08', 'app', $4, 'vip', $3::smallint, 'the whiteboard froze',"
        " 'product', 'whiteboard_freeze', 'high', 'complaint', 'none', 't1', 'voc.complaint', 0,"
        " 1, '{}', $5::bigint)",
        5, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "add_feedback: %s", PQerrorMessage(c));
    PQclear(r);
}

/* Opens the case of an event (as voc-track does); returns its id. */
static long long open_case(PGconn *c, const char *event_id, const char *kind, bool want_new)
{
    struct voc_case_new n = {.event_id = event_id,
                             .kind = kind,
                             .customer_id = "fam-1",
                             .tier = "VIP",
                             .channel = "app",
                             .opened_at = "2026-11-23T10:00:00+08:00",
                             .reply_due_at = "2026-11-23T10:15:00+08:00"};
    long long id = 0;
    bool created = !want_new;
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    ts_sql_ok(c, "BEGIN");
    ck_assert_msg(voc_case_open(c, &n, &id, &created, &f, err, sizeof err) == 0, "open: %s", err);
    ts_sql_ok(c, "COMMIT");
    ck_assert_int_eq(f, VOC_DB_OK);
    ck_assert(created == want_new);
    ck_assert_int_gt(id, 0);
    return id;
}

/* One event and its case; returns the case id. */
static long long new_case(PGconn *c, const char *event_id, const char *customer, long long item)
{
    add_feedback(c, event_id, "complaint", NULL, customer, item);
    return open_case(c, event_id, "complaint", true);
}

static long long case_audits(PGconn *c)
{
    return ll_of(c, "SELECT count(*) FROM voc.case_event", NULL);
}

static void run_ok(PGconn *c, const struct voc_case_cmd *cmd)
{
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    int rc = voc_case_run(c, cmd, &f, err, sizeof err);
    ck_assert_msg(rc == VOC_CASE_DONE, "%s %lld: rc %d: %s", cmd->verb, cmd->case_id, rc, err);
    ck_assert_int_eq(f, VOC_DB_OK);
}

/* A command that must be refused with exactly `want`, writing nothing. */
static void run_refused(PGconn *c, const struct voc_case_cmd *cmd, const char *want)
{
    char err[512] = "";
    long long audits = case_audits(c);
    long long tasks = ll_of(c, "SELECT count(*) FROM voc.case_task", NULL);
    char *before = ts_sql_val(c,
                              "SELECT string_agg(to_jsonb(c)::text, ',' ORDER BY id)"
                              " FROM voc.case c",
                              NULL);
    int rc = voc_case_run(c, cmd, NULL, err, sizeof err);
    ck_assert_msg(rc == VOC_CASE_REFUSED, "%s: rc %d (%s), want refusal", cmd->verb, rc, err);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(case_audits(c), audits);
    ck_assert_int_eq(ll_of(c, "SELECT count(*) FROM voc.case_task", NULL), tasks);
    ts_expect_val(c, "SELECT string_agg(to_jsonb(c)::text, ',' ORDER BY id) FROM voc.case c", NULL,
                  before);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
    free(before);
}

/* The kinds of a case's audit rows in order, "opened,replied,...". */
static const char audit_kinds_sql[] =
    "SELECT string_agg(kind, ',' ORDER BY id) FROM voc.case_event WHERE case_id = $1::bigint";

START_TEST(opening_twice_is_one_case)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_case_open");
    add_feedback(t.conn, "ev-1", "complaint", NULL, "fam-1", 0);
    long long id = open_case(t.conn, "ev-1", "complaint", true);
    ck_assert_int_eq(open_case(t.conn, "ev-1", "complaint", false), id);
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.case", NULL, "1");
    expect(t.conn, id, audit_kinds_sql, "opened");
    expect(t.conn, id,
           "SELECT state || ' ' || c.kind || ' ' || tier || ' ' || customer_id || ' ' ||"
           " (reply_due_at = '2026-11-23 10:15+08')::text || ' ' || (data ->> 'event_id')"
           " FROM voc.case c JOIN voc.case_event e ON e.case_id = c.id WHERE c.id = $1::bigint",
           "open complaint vip fam-1 true ev-1");
    /* voc-track's own rows: reminders and escalations; nothing else. */
    char err[256] = "";
    long long ev = 0;
    enum voc_db_fault f = VOC_DB_OK;
    ck_assert_int_eq(voc_case_audit(t.conn, id, "escalated", "voc-track", "reply overdue",
                                    "{\"level\": 1}", &ev, &f, err, sizeof err),
                     0);
    expect(t.conn, ev,
           "SELECT kind || ' ' || (data ->> 'level') FROM voc.case_event"
           " WHERE id = $1::bigint",
           "escalated 1");
    ck_assert_int_eq(
        voc_case_audit(t.conn, id, "replied", NULL, NULL, NULL, NULL, &f, err, sizeof err), -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW);
    ck_assert_int_eq(
        voc_case_audit(t.conn, id, "exploded", "voc-track", NULL, NULL, NULL, &f, err, sizeof err),
        -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW);
    ts_db_close(&t);
}
END_TEST

START_TEST(a_low_rating_and_a_complaint_open_cases)
{
    struct ts_db t;
    char err[512] = "";
    long long id = 0;
    bool created = true;
    enum voc_db_fault f = VOC_DB_OK;
    ts_db_open(&t, "voc_test_case_kinds");
    add_feedback(t.conn, "ev-c", "complaint", NULL, "fam-1", 0);
    add_feedback(t.conn, "ev-r", "rating", "1", "fam-2", 0);
    long long c = open_case(t.conn, "ev-c", "complaint", true);
    long long r = open_case(t.conn, "ev-r", "rating", true);
    ck_assert_int_ne(c, r);
    ts_expect_val(t.conn,
                  "SELECT string_agg(kind || ':' || event_id, ',' ORDER BY id) FROM voc.case", NULL,
                  "complaint:ev-c,rating:ev-r");
    /* A case needs its event, and only complaints and ratings have cases. */
    struct voc_case_new bad = {.event_id = "ev-none",
                               .kind = "complaint",
                               .opened_at = "2026-11-23T10:00:00+08:00",
                               .reply_due_at = "2026-11-23T10:30:00+08:00"};
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_int_eq(voc_case_open(t.conn, &bad, &id, &created, &f, err, sizeof err), -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW);
    ck_assert(!created);
    ts_sql_ok(t.conn, "ROLLBACK");
    bad.event_id = "ev-c", bad.kind = "praise";
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_int_eq(voc_case_open(t.conn, &bad, &id, &created, &f, err, sizeof err), -1);
    ts_sql_ok(t.conn, "ROLLBACK");
    bad.kind = NULL;
    ck_assert_int_eq(voc_case_open(t.conn, &bad, &id, &created, &f, err, sizeof err), -1);
    ck_assert_str_eq(err, "case open: event_id, kind, opened_at and reply_due_at are required");
    ts_db_close(&t);
}
END_TEST

START_TEST(reply_and_close_follow_the_rules)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_case_reply");
    long long id = new_case(t.conn, "ev-1", "fam-1", 0);
    struct voc_case_cmd c = {.verb = "reply", .case_id = id, .note = "called back, sorry"};
    run_refused(t.conn, &c, "'reply' needs the person acting (--by)");
    c.actor = "ann";
    run_ok(t.conn, &c);
    expect(t.conn, id,
           "SELECT state || ' ' || replied_by || ' ' || reply_note || ' ' ||"
           " (replied_at IS NOT NULL)::text FROM voc.case WHERE id = $1::bigint",
           "replied ann called back, sorry true");
    snprintf(want, sizeof want, "case %lld is replied; 'reply' needs open", id);
    run_refused(t.conn, &c, want);
    c.verb = "comment", c.note = NULL;
    run_refused(t.conn, &c, "'comment' needs the text of the comment (--note)");
    c.note = "customer prefers WeChat";
    run_ok(t.conn, &c);
    c.verb = "close", c.note = "done";
    run_ok(t.conn, &c);
    expect(t.conn, id, "SELECT state || ' ' || closed_by FROM voc.case WHERE id = $1::bigint",
           "closed ann");
    c.verb = "reply";
    snprintf(want, sizeof want, "case %lld is closed; 'reply' needs open", id);
    run_refused(t.conn, &c, want);
    c.verb = "close";
    snprintf(want, sizeof want, "case %lld is closed; 'close' needs open or replied", id);
    run_refused(t.conn, &c, want);
    c.verb = "comment", c.note = "she called again to say thanks";
    run_ok(t.conn, &c);
    expect(t.conn, id, audit_kinds_sql, "opened,replied,commented,closed,commented");
    expect(t.conn, id,
           "SELECT actor || ' ' || reason || ' ' || data::text FROM voc.case_event"
           " WHERE case_id = $1::bigint AND kind = 'closed'",
           "ann done {\"to\": \"closed\", \"from\": \"replied\"}");
    struct voc_case_cmd missing = {.verb = "reply", .case_id = id + 10, .actor = "ann"};
    snprintf(want, sizeof want, "case %lld does not exist", id + 10);
    run_refused(t.conn, &missing, want);
    missing.verb = "explode";
    run_refused(t.conn, &missing, "unknown case command 'explode'");
    ts_db_close(&t);
}
END_TEST

START_TEST(callbacks_record_why_and_may_close)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_case_callback");
    long long id = new_case(t.conn, "ev-1", "fam-1", 0);
    struct voc_case_cmd c = {.verb = "callback", .case_id = id, .actor = "ann"};
    run_refused(t.conn, &c,
                "'callback' needs an outcome (--outcome): resolved, unresolved, no_answer or "
                "declined");
    c.outcome = "unresolved";
    run_refused(t.conn, &c,
                "'callback' with outcome unresolved needs the customer's reason (--reason): "
                "there is no dissatisfaction without a cause");
    c.outcome = "no_answer", c.satisfaction = 3;
    run_refused(t.conn, &c, "a callback with outcome no_answer cannot record a satisfaction");
    /* Nobody answered: not a reply, the case stays open. */
    c.satisfaction = 0;
    run_ok(t.conn, &c);
    expect(t.conn, id,
           "SELECT state || ' ' || callback_outcome || ' ' || (replied_at IS NULL)::text"
           " FROM voc.case WHERE id = $1::bigint",
           "open no_answer true");
    /* Reached, still unhappy: the callback is the first reply. */
    c.outcome = "unresolved", c.reason = "the teacher was late twice", c.satisfaction = 2;
    run_ok(t.conn, &c);
    expect(t.conn, id,
           "SELECT state || ' ' || callback_outcome || ' ' || callback_reason || ' ' ||"
           " satisfaction_after || ' ' || replied_by FROM voc.case WHERE id = $1::bigint",
           "replied unresolved the teacher was late twice 2 ann");
    /* Resolved with nothing owed: closed. */
    c.outcome = "resolved", c.reason = "new teacher assigned", c.satisfaction = 4;
    run_ok(t.conn, &c);
    expect(t.conn, id,
           "SELECT state || ' ' || satisfaction_after || ' ' || closed_by FROM voc.case"
           " WHERE id = $1::bigint",
           "closed 4 ann");
    expect(t.conn, id, audit_kinds_sql, "opened,callback,callback,replied,callback,closed");
    expect(t.conn, id,
           "SELECT data::text FROM voc.case_event WHERE case_id = $1::bigint AND kind = 'callback'"
           " ORDER BY id DESC LIMIT 1",
           "{\"to\": \"closed\", \"from\": \"replied\", \"outcome\": \"resolved\", "
           "\"satisfaction\": 4}");
    snprintf(want, sizeof want, "case %lld is closed; 'callback' needs open or replied", id);
    run_refused(t.conn, &c, want);
    ts_db_close(&t);
}
END_TEST

/* task-done: refused for another case's task, a missing one and one done
 * already; the last task of a case whose callback said resolved closes it. */
static void task_done_rules(PGconn *c, long long id, long long other, long long task)
{
    char want[256];
    struct voc_case_cmd done = {
        .verb = "task-done", .case_id = other, .task_id = task, .actor = "bob", .note = "sms"};
    snprintf(want, sizeof want, "task %lld belongs to case %lld, not case %lld", task, id, other);
    run_refused(c, &done, want);
    done.case_id = 0;
    done.task_id = task + 100;
    snprintf(want, sizeof want, "task %lld does not exist", task + 100);
    run_refused(c, &done, want);
    /* The last task done closes the case (its callback said resolved). */
    done.task_id = task;
    run_ok(c, &done);
    expect(c, id, "SELECT state || ' ' || closed_by FROM voc.case WHERE id = $1::bigint",
           "closed bob");
    expect(c, task, "SELECT done_by || ' ' || done_note FROM voc.case_task WHERE id = $1::bigint",
           "bob sms");
    done.case_id = id;
    char stask[24], msg[256];
    id_str(stask, sizeof stask, task);
    char *at = ts_sql_val(c,
                          "SELECT to_char(done_at, 'YYYY-MM-DD HH24:MI') FROM voc.case_task"
                          " WHERE id = $1::bigint",
                          stask);
    snprintf(msg, sizeof msg, "task %lld of case %lld is already done (by bob at %s)", task, id,
             at);
    free(at);
    run_refused(c, &done, msg);
}

START_TEST(promises_and_tasks)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_case_promise");
    long long id = new_case(t.conn, "ev-1", "fam-1", 0);
    long long other = new_case(t.conn, "ev-2", "fam-2", 0);
    struct voc_case_cmd c = {.verb = "promise", .case_id = id, .actor = "ann"};
    run_refused(t.conn, &c, "'promise' needs what was promised (--note)");
    c.note = "we will tell you when the refund is through";
    run_refused(t.conn, &c, "'promise' needs the time it is promised by (--due)");
    c.due_at = "tomorrow";
    run_refused(t.conn, &c,
                "'promise' by 'tomorrow': not an RFC 3339 time (try 2026-11-24T18:00:00+08:00)");
    c.due_at = "2001-01-01T00:00:00Z";
    run_refused(t.conn, &c, "'promise' by 2001-01-01T00:00:00Z: that is not in the future");
    c.due_at = "2999-01-01T00:00:00Z";
    run_ok(t.conn, &c);
    long long task = ll_of(t.conn, "SELECT max(id) FROM voc.case_task", NULL);
    expect(t.conn, task,
           "SELECT kind || ' ' || created_by || ' ' || (due_at = '2999-01-01Z')::text"
           " || ' ' || (done_at IS NULL)::text FROM voc.case_task WHERE id = $1::bigint",
           "progress ann true true");
    /* Nothing may close while the customer is still owed something. */
    struct voc_case_cmd close = {.verb = "close", .case_id = id, .actor = "ann"};
    snprintf(want, sizeof want,
             "case %lld still owes the customer 1 task (%lld); tell them first (task-done)", id,
             task);
    run_refused(t.conn, &close, want);
    /* A resolved callback leaves the case replied while a task is open. */
    struct voc_case_cmd cb = {.verb = "callback",
                              .case_id = id,
                              .actor = "ann",
                              .outcome = "resolved",
                              .reason = "refund explained"};
    run_ok(t.conn, &cb);
    expect(t.conn, id, "SELECT state FROM voc.case WHERE id = $1::bigint", "replied");
    task_done_rules(t.conn, id, other, task);
    expect(t.conn, id, audit_kinds_sql, "opened,promised,callback,replied,task_done,closed");
    ts_db_close(&t);
}
END_TEST

/* How many follow-up tasks case id has. */
static long long followups(PGconn *c, long long id)
{
    char sid[24];
    id_str(sid, sizeof sid, id);
    return ll_of(c,
                 "SELECT count(*) FROM voc.case_task WHERE case_id = $1::bigint"
                 " AND kind = 'followup'",
                 sid);
}

static void set_item(PGconn *c, long long item, const char *state)
{
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    ck_assert_msg(voc_item_set_state(c, item, state, "lee", NULL, &f, err, sizeof err) ==
                      VOC_ITEM_DONE,
                  "%s: %s", state, err);
}

START_TEST(resolving_an_item_tells_everyone_who_reported_it)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_case_followup");
    long long item = new_item(t.conn, "fp-1", "whiteboard freezes on iPad");
    long long elsewhere = new_item(t.conn, "fp-2", "audio drops");
    long long open = new_case(t.conn, "ev-open", "fam-1", item);
    add_feedback(t.conn, "ev-rating", "rating", "1", "fam-2", item);
    long long rated = open_case(t.conn, "ev-rating", "rating", true);
    long long closed = new_case(t.conn, "ev-closed", "fam-3", item);
    long long unrelated = new_case(t.conn, "ev-other", "fam-4", elsewhere);
    add_feedback(t.conn, "ev-nocase", "complaint", NULL, "fam-5", item); /* no case: no task */
    struct voc_case_cmd c = {.verb = "reply", .case_id = rated, .actor = "ann"};
    run_ok(t.conn, &c);
    c.verb = "close", c.case_id = closed;
    run_ok(t.conn, &c);
    set_item(t.conn, item, "resolved");
    ck_assert_int_eq(followups(t.conn, open), 1);
    ck_assert_int_eq(followups(t.conn, rated), 1);
    ck_assert_int_eq(followups(t.conn, closed), 0);
    ck_assert_int_eq(followups(t.conn, unrelated), 0);
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.case_task", NULL, "2");
    /* Each task names the item, the resolution and what to tell the customer. */
    expect(t.conn, open,
           "SELECT (t.item_id = e.item_id)::text || ' ' || e.kind || ' ' || (e.data ->> 'to')"
           " || ' ' || t.created_by || ' ' || (t.due_at IS NULL)::text || ' ' || t.note"
           " FROM voc.case_task t JOIN voc.item_event e ON e.id = t.resolution_id"
           " WHERE t.case_id = $1::bigint",
           "true state_changed resolved lee true The issue you reported ('whiteboard freezes on "
           "iPad') has been fixed");
    expect(t.conn, open, audit_kinds_sql, "opened,task_created");
    /* The same resolution again adds nothing. */
    char sid[24];
    id_str(sid, sizeof sid, item);
    long long res = ll_of(t.conn, "SELECT max(resolution_id) FROM voc.case_task", NULL);
    int created = -1;
    char err[256] = "";
    ck_assert_int_eq(
        voc_case_followups_for_item(t.conn, item, res, &created, NULL, err, sizeof err), 0);
    ck_assert_int_eq(created, 0);
    /* It came back and was fixed again: the customers hear about it again. */
    set_item(t.conn, item, "regressed");
    ck_assert_int_eq(followups(t.conn, open), 1);
    set_item(t.conn, item, "resolved");
    ck_assert_int_eq(followups(t.conn, open), 2);
    ck_assert_int_eq(followups(t.conn, rated), 2);
    ck_assert_int_eq(followups(t.conn, closed), 0);
    ts_expect_val(t.conn, "SELECT count(DISTINCT resolution_id) FROM voc.case_task", NULL, "2");
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.case_event WHERE kind = 'task_created'", NULL,
                  "4");
    ts_db_close(&t);
}
END_TEST

START_TEST(followups_share_the_resolution_transaction)
{
    struct ts_db t;
    char err[256] = "";
    ts_db_open(&t, "voc_test_case_atomic");
    long long item = new_item(t.conn, "fp-1", "whiteboard freezes");
    long long id = new_case(t.conn, "ev-1", "fam-1", item);
    /* A resolution rolled back (voc.command's caller failed later, say)
     * leaves no task behind: the tasks are written in its transaction. */
    struct voc_item_cmd c = {.verb = "resolve", .item_id = item, .actor = "lee"};
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_int_eq(voc_item_apply(t.conn, &c, NULL, NULL, err, sizeof err), VOC_ITEM_DONE);
    ck_assert_int_eq(followups(t.conn, id), 1);
    ts_sql_ok(t.conn, "ROLLBACK");
    ck_assert_int_eq(followups(t.conn, id), 0);
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.case_event WHERE kind = 'task_created'", NULL,
                  "0");
    /* A refused resolution (already resolved) adds nothing either. */
    set_item(t.conn, item, "resolved");
    ck_assert_int_eq(
        voc_item_set_state(t.conn, item, "resolved", "lee", NULL, NULL, err, sizeof err),
        VOC_ITEM_REFUSED);
    ck_assert_int_eq(followups(t.conn, id), 1);
    ts_db_close(&t);
}
END_TEST

/* Runs vocctl against the test database; returns its exit code, output
 * (stdout and stderr) in out. */
static int vocctl(const char *db, const char *args, char *out, size_t outlen)
{
    char cmd[1024], dsn[128];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' %s 2>&1", VOCCTL, CONFIG_DIR, args);
    snprintf(dsn, sizeof dsn, "dbname=%s", db);
    setenv("VOC_PG_DSN", dsn, 1);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(vocctl_case_commands)
{
    struct ts_db t;
    char out[8192], args[256], want[256];
    ts_db_open(&t, "voc_test_case_cli");
    long long id = new_case(t.conn, "ev-1", "fam-1", 0);
    snprintf(args, sizeof args, "case reply %lld --by ann --note 'sorry, fixing it'", id);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 0);
    snprintf(want, sizeof want, "case %lld: open -> replied\n", id);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 1);
    snprintf(want, sizeof want, "vocctl case: case %lld is replied; 'reply' needs open\n", id);
    ck_assert_str_eq(out, want);
    snprintf(args, sizeof args, "case reply %lld", id);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--by WHO is required"));
    snprintf(args, sizeof args, "case callback %lld --by ann --outcome maybe", id);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 1);
    snprintf(args, sizeof args,
             "case callback %lld --by ann --outcome resolved --reason 'fixed' --satisfaction 5",
             id);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 0);
    snprintf(want, sizeof want,
             "case %lld: callback recorded (resolved)\ncase %lld: replied -> closed\n", id, id);
    ck_assert_str_eq(out, want);
    snprintf(args, sizeof args, "case show %lld", id);
    ck_assert_int_eq(vocctl(t.name, args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "[closed]"));
    ck_assert_ptr_nonnull(strstr(out, "resolved, satisfaction 5, reason: fixed"));
    ck_assert_ptr_nonnull(strstr(out, "sorry, fixing it"));
    ck_assert_int_eq(vocctl(t.name, "case list --open", out, sizeof out), 0);
    ck_assert_ptr_null(strstr(out, "closed"));
    ck_assert_int_eq(vocctl(t.name, "case list --customer fam-1 --json", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"satisfaction_after\": 5"));
    ck_assert_int_eq(vocctl(t.name, "case show 999", out, sizeof out), 1);
    ck_assert_str_eq(out, "vocctl case: case 999 does not exist\n");
    ts_db_close(&t);
}
END_TEST

static Suite *case_suite(void)
{
    Suite *s = suite_create("case");
    TCase *db = tcase_create("cases");
    tcase_set_timeout(db, 120);
    tcase_add_test(db, opening_twice_is_one_case);
    tcase_add_test(db, a_low_rating_and_a_complaint_open_cases);
    tcase_add_test(db, reply_and_close_follow_the_rules);
    tcase_add_test(db, callbacks_record_why_and_may_close);
    tcase_add_test(db, promises_and_tasks);
    tcase_add_test(db, resolving_an_item_tells_everyone_who_reported_it);
    tcase_add_test(db, followups_share_the_resolution_transaction);
    tcase_add_test(db, vocctl_case_commands);
    suite_add_tcase(s, db);
    return s;
}

int main(void)
{
    return ts_run_suite(case_suite());
}
