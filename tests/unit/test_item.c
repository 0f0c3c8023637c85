/* Improvement items: the state machine, the commands people run on items,
 * merge/unmerge and recount, against a real PostgreSQL (PG* environment,
 * e.g. under pg_virtualenv). With no server every database test FAILS: a
 * skipped test would hide a broken lifecycle. Each test has its own database. */
#include "voc/item.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testsupport.h"

/* The first value of a one-row query with up to three parameters, malloc'd;
 * "(null)" for NULL. */
static char *q3(PGconn *c, const char *sql, const char *p1, const char *p2, const char *p3)
{
    const char *params[] = {p1, p2, p3};
    return ts_sql_valn(c, sql, p3 ? 3 : p2 ? 2 : p1 ? 1 : 0, params);
}

/* Asserts that a query about item `id` returns want. */
static void expect(PGconn *c, long long id, const char *sql, const char *want)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    ts_expect_val(c, sql, sid, want);
}

static long long count_of(PGconn *c, const char *sql)
{
    char *v = q3(c, sql, NULL, NULL, NULL);
    long long n = atoll(v);
    free(v);
    return n;
}

/* A live item as voc-aggregate would open it. */
static long long new_item(PGconn *c, const char *fingerprint, const char *state)
{
    char *v = q3(c,
                 "INSERT INTO voc.item (fingerprint, dimension, category, entity, title, state,"
                 " severity, department, routing_rule, routing_version, match_rule, match_version,"
                 " signatures, first_seen, last_seen)"
                 " VALUES ($1, 'product', 'whiteboard_freeze', 'app-ios', 'whiteboard freezes', $2,"
                 " 'high', 'product_rd', 'product-bugs', 'r1', 'exact', 'm1', '\\x0102',"
                 " '2024-05-01 10:00+08', '2024-05-01 10:00+08') RETURNING id",
                 fingerprint, state, NULL);
    long long id = atoll(v);
    free(v);
    return id;
}

/* One event counted in item id: its voc.feedback row and its occurrence. */
static void add_event(PGconn *c, long long id, const char *event_id, const char *customer,
                      const char *tier, const char *at)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *p[] = {event_id, sid, customer, tier, at};
    PGresult *r = PQexecParams(
        c,
        "WITH f AS (INSERT INTO voc.feedback (event_id, type, occurred_at, customer_id, tier, text,"
        " dimension, category, severity, sentiment, rule, taxonomy_version, source_topic,"
        " source_partition, source_offset, payload, item_id) VALUES ($1, 'complaint',"
        " $5::timestamptz, $3, $4, 'it froze', 'product', 'whiteboard_freeze', 'high',"
        " 'complaint', 'none', 't1', 'voc.complaint', 0, 1, '{}', $2::bigint))"
        " INSERT INTO voc.item_occurrence (event_id, item_id, customer_id, tier, occurred_at,"
        " match) VALUES ($1, $2::bigint, $3, $4, $5::timestamptz, 'exact')",
        5, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "add_event: %s", PQerrorMessage(c));
    PQclear(r);
}

static void recount_ok(PGconn *c, long long id)
{
    char err[512] = "";
    ck_assert_msg(voc_item_recount(c, id, NULL, err, sizeof err) == 0, "recount: %s", err);
}

static long long audit_rows(PGconn *c)
{
    return count_of(c, "SELECT count(*) FROM voc.item_event");
}

static long long outbox_rows(PGconn *c)
{
    return count_of(c, "SELECT count(*) FROM voc.outbox");
}

/* Runs a command that must succeed. */
static void run_ok(PGconn *c, const struct voc_item_cmd *cmd)
{
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    int rc = voc_item_run(c, cmd, NULL, &f, err, sizeof err);
    ck_assert_msg(rc == VOC_ITEM_DONE, "%s %lld: rc %d: %s", cmd->verb, cmd->item_id, rc, err);
    ck_assert_int_eq(f, VOC_DB_OK);
}

/* Runs a command that must be refused with exactly `want`, writing nothing. */
static void run_refused(PGconn *c, const struct voc_item_cmd *cmd, const char *want)
{
    char err[512] = "";
    long long audits = audit_rows(c), events = outbox_rows(c);
    int rc = voc_item_run(c, cmd, NULL, NULL, err, sizeof err);
    ck_assert_msg(rc == VOC_ITEM_REFUSED, "%s %lld: rc %d (%s), want refusal", cmd->verb,
                  cmd->item_id, rc, err);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(audit_rows(c), audits);
    ck_assert_int_eq(outbox_rows(c), events);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
}

static void set_state_sql(PGconn *c, long long id, const char *state)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    free(q3(c, "UPDATE voc.item SET state = $2 WHERE id = $1::bigint RETURNING id", sid, state,
            NULL));
}

START_TEST(transition_table)
{
    static const char *const legal[][2] = {
        {"open", "acknowledged"},
        {"regressed", "acknowledged"},
        {"acknowledged", "in_progress"},
        {"in_progress", "resolved"},
        {"open", "wont_fix"},
        {"in_progress", "snoozed"},
        {"snoozed", "open"},
        {"resolved", "verified"},
        {"verified", "closed"},
        {"resolved", "closed"},
        {"closed", "open"},
        {"wont_fix", "open"},
        {"resolved", "regressed"},
        {"closed", "regressed"},
    };
    static const char *const illegal[][2] = {
        {"closed", "acknowledged"}, {"open", "closed"},
        {"open", "verified"},       {"open", "open"},
        {"in_progress", "open"},    {"acknowledged", "open"},
        {"wont_fix", "resolved"},   {"open", "regressed"},
        {"verified", "resolved"},   {"snoozed", "acknowledged"},
        {"open", "merged"},         {"bogus", "open"},
    };
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        ck_assert_msg(voc_item_transition_allowed(legal[i][0], legal[i][1]), "%s -> %s refused",
                      legal[i][0], legal[i][1]);
    for (size_t i = 0; i < sizeof illegal / sizeof illegal[0]; i++)
        ck_assert_msg(!voc_item_transition_allowed(illegal[i][0], illegal[i][1]),
                      "%s -> %s allowed", illegal[i][0], illegal[i][1]);
    ck_assert(!voc_item_transition_allowed(NULL, "open"));
    ck_assert(voc_item_state_valid("wont_fix") && !voc_item_state_valid("won't fix"));
    ck_assert(voc_item_state_active("snoozed") && voc_item_state_active("regressed"));
    ck_assert(!voc_item_state_active("resolved") && !voc_item_state_active("wont_fix"));
    ck_assert_str_eq(voc_item_verb_state("ack"), "acknowledged");
    ck_assert_str_eq(voc_item_verb_state("wont-fix"), "wont_fix");
    ck_assert_str_eq(voc_item_verb_state("reopen"), "open");
    ck_assert_str_eq(voc_item_state_verb("in_progress"), "start");
    ck_assert_ptr_null(voc_item_verb_state("assign"));
}
END_TEST

START_TEST(illegal_transitions_are_refused_with_reasons)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_item_refused");
    long long id = new_item(t.conn, "fp-1", "closed");
    char want[256];
    struct voc_item_cmd cmd = {.verb = "ack", .item_id = id, .actor = "alice"};
    snprintf(want, sizeof want, "item %lld is closed; 'ack' needs open or regressed", id);
    run_refused(t.conn, &cmd, want);
    set_state_sql(t.conn, id, "in_progress");
    cmd.verb = "reopen";
    snprintf(want, sizeof want,
             "item %lld is in_progress; 'reopen' needs snoozed, resolved, verified, closed or "
             "wont_fix",
             id);
    run_refused(t.conn, &cmd, want);
    cmd.verb = "start";
    snprintf(want, sizeof want, "item %lld is already in_progress", id);
    run_refused(t.conn, &cmd, want);
    cmd.verb = "close";
    snprintf(want, sizeof want, "item %lld is in_progress; 'close' needs resolved or verified", id);
    run_refused(t.conn, &cmd, want);
    cmd.actor = "";
    run_refused(t.conn, &cmd, "'close' needs the person acting (--by)");
    struct voc_item_cmd missing = {.verb = "ack", .item_id = id + 100, .actor = "alice"};
    snprintf(want, sizeof want, "item %lld does not exist", id + 100);
    run_refused(t.conn, &missing, want);
    struct voc_item_cmd bogus = {.verb = "explode", .item_id = id, .actor = "alice"};
    run_refused(t.conn, &bogus, "unknown item command 'explode'");
    expect(t.conn, id, "SELECT state FROM voc.item WHERE id = $1::bigint", "in_progress");
    ts_db_close(&t);
}
END_TEST

/* One command: exactly one audit row and one outbox event, both describing it. */
static void step(PGconn *c, const struct voc_item_cmd *cmd, const char *kind, const char *type)
{
    long long audits = audit_rows(c), events = outbox_rows(c);
    run_ok(c, cmd);
    ck_assert_int_eq(audit_rows(c), audits + 1);
    ck_assert_int_eq(outbox_rows(c), events + 1);
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", cmd->item_id);
    char *last = q3(c,
                    "SELECT e.kind || '|' || e.actor || '|' || coalesce(e.reason, '-') || '|' ||"
                    " o.type || '|' || o.topic || '|' || o.key || '|' || (o.payload ->> 'state')"
                    " FROM voc.item_event e, voc.outbox o WHERE e.item_id::text = $1"
                    " AND o.key = $1 ORDER BY e.id DESC, o.id DESC LIMIT 1",
                    sid, NULL, NULL);
    char *state = q3(c, "SELECT state FROM voc.item WHERE id = $1::bigint", sid, NULL, NULL);
    char want[512];
    snprintf(want, sizeof want, "%s|%s|%s|%s|voc.item|%s|%s", kind, cmd->actor,
             cmd->note ? cmd->note : "-", type, sid, state);
    ck_assert_str_eq(last, want);
    free(last);
    free(state);
}

START_TEST(each_command_writes_one_audit_row_and_one_event)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_item_commands");
    long long id = new_item(t.conn, "fp-1", "open");
    const char *state_q = "SELECT state FROM voc.item WHERE id = $1::bigint";
    const char *resolved_q = "SELECT resolved_at IS NOT NULL FROM voc.item WHERE id = $1::bigint";
    struct voc_item_cmd c = {.item_id = id, .actor = "alice", .note = "on it"};
    c.verb = "ack";
    step(t.conn, &c, "state_changed", "item.acknowledged");
    expect(t.conn, id, state_q, "acknowledged");
    c.verb = "assign", c.assignee = "bob", c.note = NULL;
    step(t.conn, &c, "reassigned", "item.assigned");
    expect(t.conn, id, "SELECT assignee FROM voc.item WHERE id = $1::bigint", "bob");
    expect(t.conn, id,
           "SELECT data::text FROM voc.item_event WHERE item_id = $1::bigint ORDER BY id DESC "
           "LIMIT 1",
           "{\"to\": \"bob\", \"from\": null}");
    c.verb = "comment", c.note = "customer sent a video";
    step(t.conn, &c, "commented", "item.commented");
    c.verb = "start", c.note = NULL;
    step(t.conn, &c, "state_changed", "item.in_progress");
    c.verb = "resolve", c.note = "fixed in 3.2.1";
    step(t.conn, &c, "state_changed", "item.resolved");
    expect(t.conn, id, resolved_q, "t");
    c.verb = "verify", c.note = NULL;
    step(t.conn, &c, "state_changed", "item.verified");
    expect(t.conn, id, resolved_q, "t");
    c.verb = "close";
    step(t.conn, &c, "state_changed", "item.closed");
    c.verb = "reopen", c.note = "still freezing on iPad";
    step(t.conn, &c, "state_changed", "item.reopened");
    expect(t.conn, id, state_q, "open");
    expect(t.conn, id, resolved_q, "f");
    c.verb = "wont-fix", c.note = "legacy app";
    step(t.conn, &c, "state_changed", "item.wont_fix");
    expect(t.conn, id,
           "SELECT data::text FROM voc.item_event WHERE item_id = $1::bigint ORDER BY id DESC "
           "LIMIT 1",
           "{\"to\": \"wont_fix\", \"from\": \"open\"}");
    /* The event carries the row, but not the matcher's binary signature. */
    ts_expect_val(t.conn,
                  "SELECT (payload ? 'signatures')::text || (payload ->> 'id') FROM voc.outbox"
                  " ORDER BY id DESC LIMIT 1",
                  NULL, "false1");
    ts_db_close(&t);
}
END_TEST

START_TEST(convenience_functions_are_one_transaction_each)
{
    struct ts_db t;
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    ts_db_open(&t, "voc_test_item_wrappers");
    long long a = new_item(t.conn, "fp-a", "open"), b = new_item(t.conn, "fp-b", "open");
    ck_assert_int_eq(voc_item_set_state(t.conn, a, "resolved", "alice", NULL, &f, err, sizeof err),
                     VOC_ITEM_DONE);
    ck_assert_int_eq(voc_item_assign(t.conn, a, "bob", "alice", NULL, &f, err, sizeof err), 0);
    ck_assert_int_eq(voc_item_comment(t.conn, a, "alice", "hi", &f, err, sizeof err), 0);
    ck_assert_int_eq(voc_item_merge(t.conn, b, a, "alice", NULL, &f, err, sizeof err), 0);
    ck_assert_int_eq(voc_item_unmerge(t.conn, b, "alice", NULL, &f, err, sizeof err), 0);
    ck_assert_int_eq(voc_item_set_state(t.conn, a, "nirvana", "alice", NULL, &f, err, sizeof err),
                     VOC_ITEM_REFUSED);
    ck_assert_str_eq(err, "'nirvana' is not an item state");
    ck_assert_int_eq(PQtransactionStatus(t.conn), PQTRANS_IDLE);
    /* set_state, assign, comment: 1 each; merge and unmerge: 2 each. */
    ck_assert_int_eq(audit_rows(t.conn), 7);
    ck_assert_int_eq(outbox_rows(t.conn), 7);
    ts_db_close(&t);
}
END_TEST

START_TEST(snooze_needs_a_wake_up)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_item_snooze");
    long long id = new_item(t.conn, "fp-1", "open");
    add_event(t.conn, id, "ev-1", "c1", NULL, "2024-05-01 10:00+08");
    recount_ok(t.conn, id);
    struct voc_item_cmd c = {.verb = "snooze", .item_id = id, .actor = "alice"};
    run_refused(t.conn, &c, "'snooze' needs a time (--until) or a number of occurrences");
    c.until = "next tuesday-ish";
    run_refused(t.conn, &c,
                "'snooze' until 'next tuesday-ish': not a time (try 2024-05-01 09:00+08)");
    c.until = "2001-01-01 00:00+00";
    run_refused(t.conn, &c, "'snooze' until 2001-01-01 00:00+00: that is not in the future");
    c.until = "2999-01-01 00:00+00", c.more = 5;
    run_ok(t.conn, &c);
    expect(t.conn, id,
           "SELECT state || ' ' || (data ->> 'wake_at_occurrences') || ' ' ||"
           " ((data ->> 'until')::timestamptz = '2999-01-01 00:00+00')::text"
           " FROM voc.item_event e JOIN voc.item i ON i.id = e.item_id"
           " WHERE e.item_id = $1::bigint ORDER BY e.id DESC LIMIT 1",
           "snoozed 6 true");
    c.verb = "reopen";
    run_ok(t.conn, &c);
    expect(t.conn, id, "SELECT state FROM voc.item WHERE id = $1::bigint", "open");
    ts_db_close(&t);
}
END_TEST

START_TEST(reopen_refused_when_a_newer_item_is_live)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_item_live");
    long long old = new_item(t.conn, "fp-1", "resolved");
    long long now = new_item(t.conn, "fp-1", "open");
    struct voc_item_cmd c = {.verb = "reopen", .item_id = old, .actor = "alice"};
    snprintf(want, sizeof want,
             "item %lld cannot be reopened: item %lld is the live item for the same problem; "
             "merge %lld into %lld first",
             old, now, now, old);
    run_refused(t.conn, &c, want);
    struct voc_item_cmd m = {.verb = "merge", .item_id = now, .into_id = old, .actor = "alice"};
    run_ok(t.conn, &m);
    run_ok(t.conn, &c);
    expect(t.conn, old, "SELECT state FROM voc.item WHERE id = $1::bigint", "open");
    ts_db_close(&t);
}
END_TEST

START_TEST(recount_from_occurrences)
{
    struct ts_db t;
    ts_db_open(&t, "voc_test_item_recount");
    long long id = new_item(t.conn, "fp-1", "open");
    add_event(t.conn, id, "ev-1", "c1", "vip", "2024-05-02 09:00+08");
    add_event(t.conn, id, "ev-2", "c1", "vip", "2024-05-01 08:00+08");
    add_event(t.conn, id, "ev-3", "c2", "SVIP", "2024-05-03 21:30+08");
    add_event(t.conn, id, "ev-4", NULL, "standard", "2024-05-02 12:00+08");
    add_event(t.conn, id, "ev-5", "c3", NULL, "2024-05-02 13:00+08");
    recount_ok(t.conn, id);
    expect(t.conn, id,
           "SELECT occurrences || ' ' || customers || ' ' || vip_occurrences || ' ' ||"
           " (first_seen = '2024-05-01 08:00+08') || ' ' || (last_seen = '2024-05-03 21:30+08')"
           " FROM voc.item WHERE id = $1::bigint",
           "5 3 3 true true");
    /* An item left empty keeps when it was seen. */
    ts_sql_ok(t.conn, "DELETE FROM voc.item_occurrence");
    recount_ok(t.conn, id);
    expect(t.conn, id,
           "SELECT occurrences || ' ' || customers || ' ' || (last_seen = '2024-05-03 21:30+08')"
           " FROM voc.item WHERE id = $1::bigint",
           "0 0 true");
    ts_db_close(&t);
}
END_TEST

START_TEST(in_transaction_helpers_leave_the_transaction_to_the_caller)
{
    struct ts_db t;
    char err[512] = "";
    ts_db_open(&t, "voc_test_item_helpers");
    long long id = new_item(t.conn, "fp-1", "open");
    add_event(t.conn, id, "ev-1", "c1", "vip", "2024-05-02 09:00+08");
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_msg(voc_item_recount(t.conn, id, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(voc_item_audit(t.conn, id, "opened", "voc-aggregate", "new", "{\"n\": 1}", NULL,
                                 err, sizeof err) == 0,
                  "%s", err);
    ck_assert_msg(voc_item_publish(t.conn, id, "opened", NULL, err, sizeof err) == 0, "%s", err);
    ts_expect_val(t.conn, "SELECT type || ' ' || (payload ->> 'occurrences') FROM voc.outbox", NULL,
                  "item.opened 1");
    ck_assert_int_eq(PQtransactionStatus(t.conn), PQTRANS_INTRANS);
    ts_sql_ok(t.conn, "ROLLBACK");
    ck_assert_int_eq(audit_rows(t.conn), 0);
    ck_assert_int_eq(outbox_rows(t.conn), 0);
    expect(t.conn, id, "SELECT occurrences FROM voc.item WHERE id = $1::bigint", "0");
    enum voc_db_fault f = VOC_DB_OK;
    ck_assert_int_eq(voc_item_publish(t.conn, id + 9, "opened", &f, err, sizeof err), -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW);
    ck_assert_int_eq(voc_item_audit(t.conn, id, "exploded", "x", NULL, NULL, &f, err, sizeof err),
                     -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW); /* 23514: kind outside the CHECK list */
    ts_db_close(&t);
}
END_TEST

/* item_id of every occurrence and feedback row, and both items' counts. */
static char *placement(PGconn *c)
{
    return q3(c,
              "SELECT (SELECT string_agg(event_id || '>' || item_id, ',' ORDER BY event_id)"
              " FROM voc.item_occurrence) || ' / ' || (SELECT string_agg(event_id || '>' ||"
              " item_id, ',' ORDER BY event_id) FROM voc.feedback) || ' / ' ||"
              " (SELECT string_agg(id || ':' || occurrences || ',' || customers || ',' ||"
              " vip_occurrences || ',' || first_seen || ',' || last_seen, ' ' ORDER BY id)"
              " FROM voc.item WHERE fingerprint IN ('fp-a', 'fp-b'))",
              NULL, NULL, NULL);
}

START_TEST(merge_moves_events_and_unmerge_restores_them)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_item_merge");
    long long a = new_item(t.conn, "fp-a", "open"), b = new_item(t.conn, "fp-b", "acknowledged");
    add_event(t.conn, a, "a-1", "c1", "vip", "2024-05-01 08:00+08");
    add_event(t.conn, a, "a-2", "c2", NULL, "2024-05-04 08:00+08");
    add_event(t.conn, b, "b-1", "c1", NULL, "2024-05-02 08:00+08");
    recount_ok(t.conn, a);
    recount_ok(t.conn, b);
    char *before = placement(t.conn);
    struct voc_item_cmd m = {
        .verb = "merge", .item_id = a, .into_id = b, .actor = "alice", .note = "same bug"};
    struct voc_item_outcome out;
    char err[512] = "";
    ck_assert_int_eq(voc_item_run(t.conn, &m, &out, NULL, err, sizeof err), VOC_ITEM_DONE);
    ck_assert_int_eq(out.moved, 2);
    expect(t.conn, b,
           "SELECT occurrences || ' ' || customers || ' ' || vip_occurrences || ' ' ||"
           " (first_seen = '2024-05-01 08:00+08') FROM voc.item WHERE id = $1::bigint",
           "3 2 1 true");
    expect(t.conn, a,
           "SELECT occurrences || ' ' || merged_into FROM voc.item WHERE id = $1::bigint", "0 2");
    expect(t.conn, b, "SELECT count(*) FROM voc.feedback WHERE item_id = $1::bigint", "3");
    ts_expect_val(t.conn,
                  "SELECT string_agg(kind || ' ' || item_id, ',' ORDER BY id) FROM voc.item_event",
                  NULL, "merged 1,merged 2");
    ts_expect_val(t.conn, "SELECT string_agg(type || ' ' || key, ',' ORDER BY id) FROM voc.outbox",
                  NULL, "item.merged 1,item.merged 2");
    expect(t.conn, a, "SELECT kind FROM voc.item_link WHERE from_item = $1::bigint AND to_item = 2",
           "merged_into");
    /* Counted into b after the merge: stays with b on unmerge. */
    add_event(t.conn, b, "b-2", "c9", NULL, "2024-05-05 08:00+08");
    struct voc_item_cmd um = {.verb = "unmerge", .item_id = a, .actor = "bob"};
    ck_assert_int_eq(voc_item_run(t.conn, &um, &out, NULL, err, sizeof err), VOC_ITEM_DONE);
    ck_assert_int_eq(out.moved, 2);
    ts_sql_ok(t.conn, "DELETE FROM voc.item_occurrence WHERE event_id = 'b-2';"
                      " DELETE FROM voc.feedback WHERE event_id = 'b-2'");
    recount_ok(t.conn, b);
    char *after = placement(t.conn);
    ck_assert_str_eq(after, before);
    expect(t.conn, a,
           "SELECT (merged_into IS NULL)::text || ' ' || (SELECT count(*) FROM voc.item_link)"
           " FROM voc.item WHERE id = $1::bigint",
           "true 0");
    ts_expect_val(t.conn,
                  "SELECT string_agg(kind || ' ' || item_id || ' ' || actor, ',' ORDER BY id)"
                  " FROM voc.item_event WHERE kind = 'unmerged'",
                  NULL, "unmerged 1 bob,unmerged 2 bob");
    snprintf(want, sizeof want, "item %lld is not merged into another item", a);
    run_refused(t.conn, &um, want);
    free(before);
    free(after);
    ts_db_close(&t);
}
END_TEST

START_TEST(merges_do_not_chain)
{
    struct ts_db t;
    char want[256];
    ts_db_open(&t, "voc_test_item_chain");
    long long a = new_item(t.conn, "fp-a", "open"), b = new_item(t.conn, "fp-b", "open");
    long long c = new_item(t.conn, "fp-c", "open");
    struct voc_item_cmd m = {.verb = "merge", .item_id = a, .into_id = b, .actor = "alice"};
    run_ok(t.conn, &m);
    /* The merged item is out of play until unmerged. */
    struct voc_item_cmd ack = {.verb = "ack", .item_id = a, .actor = "alice"};
    snprintf(want, sizeof want, "item %lld was merged into item %lld; act on %lld, or unmerge %lld",
             a, b, b, a);
    run_refused(t.conn, &ack, want);
    struct voc_item_cmd chain = {.verb = "merge", .item_id = b, .into_id = c, .actor = "alice"};
    snprintf(want, sizeof want, "item %lld has item %lld merged into it; unmerge %lld first", b, a,
             a);
    run_refused(t.conn, &chain, want);
    struct voc_item_cmd into_merged = {
        .verb = "merge", .item_id = c, .into_id = a, .actor = "alice"};
    snprintf(want, sizeof want, "item %lld was merged into item %lld; act on %lld, or unmerge %lld",
             a, b, b, a);
    run_refused(t.conn, &into_merged, want);
    struct voc_item_cmd self = {.verb = "merge", .item_id = c, .into_id = c, .actor = "alice"};
    snprintf(want, sizeof want, "cannot merge item %lld into itself", c);
    run_refused(t.conn, &self, want);
    ts_db_close(&t);
}
END_TEST

struct racer {
    PGconn *conn;
    long long id;
    int rc;
    char err[256];
};

static void *ack_thread(void *arg)
{
    struct racer *r = arg;
    struct voc_item_cmd c = {.verb = "ack", .item_id = r->id, .actor = "bob"};
    r->rc = voc_item_run(r->conn, &c, NULL, NULL, r->err, sizeof r->err);
    return NULL;
}

/* Two owners press "ack" at once: the row lock makes the second one see the
 * first one's result instead of acknowledging twice. */
START_TEST(concurrent_commands_serialise_on_the_item)
{
    struct ts_db t;
    char err[256] = "", want[128];
    ts_db_open(&t, "voc_test_item_race");
    long long id = new_item(t.conn, "fp-1", "open");
    struct voc_item_cmd c = {.verb = "ack", .item_id = id, .actor = "alice"};
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_int_eq(voc_item_apply(t.conn, &c, NULL, NULL, err, sizeof err), VOC_ITEM_DONE);
    struct racer r = {.conn = ts_db_connect(&t), .id = id};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, ack_thread, &r), 0);
    for (int i = 0;
         i < 200 && count_of(t.admin, "SELECT count(*) FROM pg_locks WHERE NOT granted") == 0; i++)
        usleep(20000);
    ts_sql_ok(t.conn, "COMMIT");
    pthread_join(th, NULL);
    snprintf(want, sizeof want, "item %lld is already acknowledged", id);
    ck_assert_int_eq(r.rc, VOC_ITEM_REFUSED);
    ck_assert_str_eq(r.err, want);
    ck_assert_int_eq(audit_rows(t.conn), 1);
    PQfinish(r.conn);
    ts_db_close(&t);
}
END_TEST

static Suite *item_suite(void)
{
    Suite *s = suite_create("item");
    TCase *states = tcase_create("states");
    tcase_add_test(states, transition_table);
    suite_add_tcase(s, states);
    TCase *db = tcase_create("commands");
    tcase_set_timeout(db, 90);
    tcase_add_test(db, illegal_transitions_are_refused_with_reasons);
    tcase_add_test(db, each_command_writes_one_audit_row_and_one_event);
    tcase_add_test(db, convenience_functions_are_one_transaction_each);
    tcase_add_test(db, snooze_needs_a_wake_up);
    tcase_add_test(db, reopen_refused_when_a_newer_item_is_live);
    tcase_add_test(db, recount_from_occurrences);
    tcase_add_test(db, in_transaction_helpers_leave_the_transaction_to_the_caller);
    tcase_add_test(db, merge_moves_events_and_unmerge_restores_them);
    tcase_add_test(db, merges_do_not_chain);
    tcase_add_test(db, concurrent_commands_serialise_on_the_item);
    suite_add_tcase(s, db);
    return s;
}

int main(void)
{
    return ts_run_suite(item_suite());
}
