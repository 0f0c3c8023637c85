/* Improvement items: the state machine, the audit trail, outbox events and
 * the commands people (vocctl) and systems (voc.command) run on items. */
#include "voc/item.h"

#include "item_int.h"

#include "voc/case.h"
#include "voc/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Item events go to this topic. item.h's contract fixes it for now; when
 * topics become configurable it turns into a parameter of voc_item_publish. */
#define ITEM_TOPIC "voc.item"

static const char *const item_states[] = {"open",     "acknowledged", "in_progress",
                                          "resolved", "verified",     "closed",
                                          "snoozed",  "wont_fix",     "regressed"};

/* Every move a person or a service may make; anything else is refused.
 *   open, regressed (fresh work): take it, work it, fix it, park it, decline it
 *   acknowledged, in_progress: the same, without going back
 *   snoozed: wakes up open (by hand, or voc-track when its time or count is up),
 *            or is settled without waking
 *   resolved -> verified -> closed: voc-track's auto-verify, or by hand
 *   resolved, verified, closed, wont_fix: a person reopens (-> open); a new
 *            occurrence inside the regression window (voc-aggregate) -> regressed */
static const struct {
    const char *from;
    const char *to[6];
} item_moves[] = {
    {"open", {"acknowledged", "in_progress", "resolved", "snoozed", "wont_fix"}},
    {"regressed", {"acknowledged", "in_progress", "resolved", "snoozed", "wont_fix"}},
    {"acknowledged", {"in_progress", "resolved", "snoozed", "wont_fix"}},
    {"in_progress", {"resolved", "snoozed", "wont_fix"}},
    {"snoozed", {"open", "resolved", "wont_fix"}},
    {"resolved", {"verified", "closed", "open", "regressed"}},
    {"verified", {"closed", "open", "regressed"}},
    {"closed", {"open", "regressed"}},
    {"wont_fix", {"open", "regressed"}},
};

static const struct {
    const char *verb, *state;
} item_verbs[] = {{"ack", "acknowledged"},  {"start", "in_progress"}, {"resolve", "resolved"},
                  {"verify", "verified"},   {"close", "closed"},      {"snooze", "snoozed"},
                  {"wont-fix", "wont_fix"}, {"reopen", "open"},       {"regress", "regressed"}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

bool voc_item_state_valid(const char *state)
{
    for (size_t i = 0; state && i < N_OF(item_states); i++)
        if (strcmp(state, item_states[i]) == 0)
            return true;
    return false;
}

bool voc_item_state_active(const char *state)
{
    /* Mirrors the predicate of item_live_fingerprint_idx in 002_items.sql. */
    return voc_item_state_valid(state) && strcmp(state, "resolved") != 0 &&
           strcmp(state, "verified") != 0 && strcmp(state, "closed") != 0 &&
           strcmp(state, "wont_fix") != 0;
}

bool voc_item_transition_allowed(const char *from, const char *to)
{
    for (size_t i = 0; from && to && i < N_OF(item_moves); i++)
        for (size_t j = 0; strcmp(item_moves[i].from, from) == 0 && item_moves[i].to[j]; j++)
            if (strcmp(item_moves[i].to[j], to) == 0)
                return true;
    return false;
}

const char *voc_item_verb_state(const char *verb)
{
    for (size_t i = 0; verb && i < N_OF(item_verbs); i++)
        if (strcmp(item_verbs[i].verb, verb) == 0)
            return item_verbs[i].state;
    return NULL;
}

const char *voc_item_state_verb(const char *state)
{
    for (size_t i = 0; state && i < N_OF(item_verbs); i++)
        if (strcmp(item_verbs[i].state, state) == 0)
            return item_verbs[i].verb;
    return NULL;
}

/* "item 7 is closed; 'ack' needs open or regressed". */
static void item_refusal(long long id, const char *from, const char *to, char *err, size_t errlen)
{
    const char *need[N_OF(item_moves)];
    size_t n = 0, len;
    for (size_t i = 0; i < N_OF(item_moves); i++)
        if (voc_item_transition_allowed(item_moves[i].from, to))
            need[n++] = item_moves[i].from;
    const char *verb = voc_item_state_verb(to);
    len = (size_t)snprintf(err, errlen, "item %lld is %s; '%s' needs ", id, from, verb ? verb : to);
    for (size_t i = 0; i < n && len < errlen; i++)
        len += (size_t)snprintf(err + len, errlen - len, "%s%s",
                                i == 0       ? ""
                                : i + 1 == n ? " or "
                                             : ", ",
                                need[i]);
}

/* Runs a statement; returns its result, or NULL with *fault and a one-line
 * err naming what failed. */
PGresult *voc_item_query(PGconn *conn, const char *what, const char *sql, int n,
                         const char *const *params, enum voc_db_fault *fault, char *err,
                         size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    enum voc_db_fault f = voc_db_fault_of(conn, res);
    *fault = f == VOC_DB_OK ? VOC_DB_FATAL : f;
    /* Primary message and SQLSTATE only: DETAIL quotes row values (customer
     * data), and this text reaches logs and dead letters. */
    char why[512];
    voc_db_describe(conn, res, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, *why ? why : "unexpected result");
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    PQclear(res);
    return NULL;
}

/* Runs a statement that returns nothing the caller needs. */
int voc_item_exec(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
                  enum voc_db_fault *fault, char *err, size_t errlen)
{
    PGresult *res = voc_item_query(conn, what, sql, n, params, fault, err, errlen);
    PQclear(res);
    return res ? 0 : -1;
}

static int item_bad(enum voc_db_fault *fault, char *err, size_t errlen, const char *msg)
{
    if (fault)
        *fault = VOC_DB_BAD_ROW;
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int voc_item_audit_row(PGconn *conn, const char *what, const char *sql, long long subject_id,
                       const char *kind, const char *actor, const char *reason,
                       const char *data_json, long long *row_id, enum voc_db_fault *fault,
                       char *err, size_t errlen)
{
    enum voc_db_fault f = VOC_DB_OK;
    char id[24];
    if (!fault)
        fault = &f;
    *fault = VOC_DB_OK;
    if (!kind || !*kind || !actor || !*actor) {
        *fault = VOC_DB_BAD_ROW;
        snprintf(err, errlen, "%s: kind and actor are required", what);
        return -1;
    }
    snprintf(id, sizeof id, "%lld", subject_id);
    const char *params[] = {id, kind, actor, reason, data_json};
    PGresult *res = voc_item_query(conn, what, sql, 5, params, fault, err, errlen);
    if (!res)
        return -1;
    if (row_id)
        *row_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* voc_item_audit that also returns the new row's id (audit_id may be NULL):
 * a resolution's follow-up tasks refer to the row that recorded it. */
static int item_audit_id(PGconn *conn, long long item_id, const char *kind, const char *actor,
                         const char *reason, const char *data_json, long long *audit_id,
                         enum voc_db_fault *fault, char *err, size_t errlen)
{
    return voc_item_audit_row(conn, "item audit",
                              "INSERT INTO voc.item_event (item_id, kind, actor, reason, data)"
                              " VALUES ($1::bigint, $2, $3, $4, $5::jsonb) RETURNING id",
                              item_id, kind, actor, reason, data_json, audit_id, fault, err,
                              errlen);
}

int voc_item_audit(PGconn *conn, long long item_id, const char *kind, const char *actor,
                   const char *reason, const char *data_json, enum voc_db_fault *fault, char *err,
                   size_t errlen)
{
    return item_audit_id(conn, item_id, kind, actor, reason, data_json, NULL, fault, err, errlen);
}

int voc_item_publish(PGconn *conn, long long item_id, const char *what, enum voc_db_fault *fault,
                     char *err, size_t errlen)
{
    enum voc_db_fault f = VOC_DB_OK;
    char id[24];
    if (!fault)
        fault = &f;
    *fault = VOC_DB_OK;
    if (!what || !*what)
        return item_bad(fault, err, errlen, "item publish: what is required");
    snprintf(id, sizeof id, "%lld", item_id);
    /* The signature is matcher state (bytes), of no use to readers. */
    const char *params[] = {id, what, ITEM_TOPIC};
    PGresult *res =
        voc_item_query(conn, "item publish",
                       "INSERT INTO voc.outbox (topic, key, type, payload)"
                       " SELECT $3, i.id::text, 'item.' || $2, to_jsonb(i) - 'signatures'"
                       " FROM voc.item i WHERE i.id = $1::bigint",
                       3, params, fault, err, errlen);
    if (!res)
        return -1;
    int n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n != 1) {
        *fault = VOC_DB_BAD_ROW;
        snprintf(err, errlen, "item publish: item %lld does not exist", item_id);
        return -1;
    }
    return 0;
}

int voc_item_recount(PGconn *conn, long long item_id, enum voc_db_fault *fault, char *err,
                     size_t errlen)
{
    enum voc_db_fault f = VOC_DB_OK;
    char id[24];
    if (!fault)
        fault = &f;
    *fault = VOC_DB_OK;
    snprintf(id, sizeof id, "%lld", item_id);
    const char *params[] = {id};
    return voc_item_exec(
        conn, "item recount",
        "UPDATE voc.item i SET occurrences = s.n, customers = s.c, vip_occurrences = s.v,"
        " first_seen = coalesce(s.f, i.first_seen), last_seen = coalesce(s.l, i.last_seen),"
        " updated_at = now()"
        " FROM (SELECT count(*) AS n, count(DISTINCT nullif(customer_id, '')) AS c,"
        " count(*) FILTER (WHERE lower(tier) IN ('vip', 'svip')) AS v,"
        " min(occurred_at) AS f, max(occurred_at) AS l"
        " FROM voc.item_occurrence WHERE item_id = $1::bigint) s"
        " WHERE i.id = $1::bigint",
        1, params, fault, err, errlen);
}

void voc_item_row_clear(struct voc_item_row *r)
{
    free(r->assignee);
    r->assignee = NULL;
}

static long long item_ll(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? 0 : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* Locks item id. Refuses a missing item and, unless merged_ok, one merged
 * into another: commands act on the surviving item. */
int voc_item_lock(PGconn *conn, long long id, bool merged_ok, struct voc_item_row *r,
                  enum voc_db_fault *fault, char *err, size_t errlen)
{
    char sid[24];
    memset(r, 0, sizeof *r);
    r->id = id;
    snprintf(sid, sizeof sid, "%lld", id);
    const char *params[] = {sid};
    PGresult *res = voc_item_query(conn, "item lock",
                                   "SELECT state, merged_into, (SELECT min(m.id) FROM voc.item m"
                                   " WHERE m.merged_into = i.id), occurrences, assignee"
                                   " FROM voc.item i WHERE i.id = $1::bigint FOR UPDATE",
                                   1, params, fault, err, errlen);
    if (!res)
        return VOC_ITEM_ERROR;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(err, errlen, "item %lld does not exist", id);
        return VOC_ITEM_REFUSED;
    }
    snprintf(r->state, sizeof r->state, "%s", PQgetvalue(res, 0, 0));
    r->merged_into = item_ll(res, 1);
    r->merged_in = item_ll(res, 2);
    r->occurrences = item_ll(res, 3);
    r->assignee = PQgetisnull(res, 0, 4) ? NULL : strdup(PQgetvalue(res, 0, 4));
    bool oom = !r->assignee && !PQgetisnull(res, 0, 4);
    PQclear(res);
    if (oom) {
        *fault = VOC_DB_FATAL;
        snprintf(err, errlen, "item lock: out of memory");
        return VOC_ITEM_ERROR;
    }
    if (r->merged_into && !merged_ok) {
        snprintf(err, errlen, "item %lld was merged into item %lld; act on %lld, or unmerge %lld",
                 id, r->merged_into, r->merged_into, id);
        return VOC_ITEM_REFUSED;
    }
    return VOC_ITEM_DONE;
}

/* An item coming back to life must not become a second live item for its
 * fingerprint (item_live_fingerprint_idx): say which one is in the way. */
int voc_item_check_live(PGconn *conn, long long id, const char *doing, enum voc_db_fault *fault,
                        char *err, size_t errlen)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    const char *params[] = {sid};
    PGresult *res =
        voc_item_query(conn, "item live check",
                       "SELECT o.id FROM voc.item o JOIN voc.item i ON i.id = $1::bigint"
                       " WHERE o.fingerprint = i.fingerprint AND o.id <> i.id"
                       " AND o.merged_into IS NULL"
                       " AND o.state NOT IN ('resolved', 'verified', 'closed', 'wont_fix')"
                       " LIMIT 1",
                       1, params, fault, err, errlen);
    if (!res)
        return VOC_ITEM_ERROR;
    int rc = VOC_ITEM_DONE;
    if (PQntuples(res) == 1) {
        const char *other = PQgetvalue(res, 0, 0);
        snprintf(err, errlen,
                 "item %lld cannot %s: item %s is the live item for the same problem; merge %s "
                 "into %lld first",
                 id, doing, other, other, id);
        rc = VOC_ITEM_REFUSED;
    }
    PQclear(res);
    return rc;
}

/* Audit + outbox: the two writes every command ends with. */
int voc_item_record(PGconn *conn, long long id, const char *kind, const char *what,
                    const struct voc_item_cmd *cmd, const char *data_json, enum voc_db_fault *fault,
                    char *err, size_t errlen)
{
    if (voc_item_audit(conn, id, kind, cmd->actor, cmd->note, data_json, fault, err, errlen) != 0 ||
        voc_item_publish(conn, id, what, fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    return VOC_ITEM_DONE;
}

char *voc_item_dumps(json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return s;
}

int voc_item_oom(enum voc_db_fault *fault, char *err, size_t errlen)
{
    *fault = VOC_DB_BAD_ROW;
    snprintf(err, errlen, "cannot encode the audit data (out of memory or invalid UTF-8)");
    return VOC_ITEM_ERROR;
}

/* A snooze needs its wake-up condition. There is no column for it: the audit
 * row keeps it, and voc-track derives the wake-up from the history. */
static int item_snooze_data(PGconn *conn, const struct voc_item_cmd *cmd,
                            const struct voc_item_row *r, json_t *data, enum voc_db_fault *fault,
                            char *err, size_t errlen)
{
    if (!cmd->until && cmd->more <= 0) {
        snprintf(err, errlen, "'snooze' needs a time (--until) or a number of occurrences");
        return VOC_ITEM_REFUSED;
    }
    if (cmd->more > 0)
        json_object_set_new(data, "wake_at_occurrences", json_integer(r->occurrences + cmd->more));
    if (!cmd->until)
        return VOC_ITEM_DONE;
    /* A mistyped time is the user's error, not the database's: test it under
     * a savepoint so the transaction survives it. */
    if (voc_item_exec(conn, "snooze", "SAVEPOINT voc_item_until", 0, NULL, fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    const char *params[] = {cmd->until};
    PGresult *res = PQexecParams(conn,
                                 "SELECT to_json($1::timestamptz) #>> '{}',"
                                 " $1::timestamptz > now()",
                                 1, NULL, params, NULL, NULL, 0);
    int rc = VOC_ITEM_REFUSED;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 1)[0] == 't') {
        json_object_set_new(data, "until", json_string(PQgetvalue(res, 0, 0)));
        rc = VOC_ITEM_DONE;
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        snprintf(err, errlen, "'snooze' until %s: that is not in the future", cmd->until);
    } else if (voc_db_fault_of(conn, res) == VOC_DB_BAD_ROW) {
        snprintf(err, errlen, "'snooze' until '%s': not a time (try 2024-05-01 09:00+08)",
                 cmd->until);
    } else {
        *fault = voc_db_fault_of(conn, res);
        snprintf(err, errlen, "snooze: %s", PQerrorMessage(conn));
        rc = VOC_ITEM_ERROR;
    }
    PQclear(res);
    const char *undo = rc == VOC_ITEM_DONE ? "RELEASE SAVEPOINT voc_item_until"
                                           : "ROLLBACK TO SAVEPOINT voc_item_until";
    if (rc != VOC_ITEM_ERROR &&
        voc_item_exec(conn, "snooze", undo, 0, NULL, fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    return rc;
}

/* voc_item_record for a resolution, plus what it owes customers: a follow-up
 * task on the case of everyone whose complaint joined the item (voc/case.h),
 * in the same transaction, tied to this resolution's audit row. */
static int item_record_resolved(PGconn *conn, long long id, const struct voc_item_cmd *cmd,
                                const char *data_json, enum voc_db_fault *fault, char *err,
                                size_t errlen)
{
    long long audit_id = 0;
    int followups = 0;
    if (item_audit_id(conn, id, "state_changed", cmd->actor, cmd->note, data_json, &audit_id, fault,
                      err, errlen) != 0 ||
        voc_item_publish(conn, id, "resolved", fault, err, errlen) != 0 ||
        voc_case_followups_for_item(conn, id, audit_id, &followups, fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    if (followups > 0)
        voc_info("case_followups", "item=%lld resolution=%lld tasks=%d", id, audit_id, followups);
    return VOC_ITEM_DONE;
}

static int item_set_state_in(PGconn *conn, const struct voc_item_cmd *cmd, const char *to,
                             struct voc_item_outcome *out, enum voc_db_fault *fault, char *err,
                             size_t errlen)
{
    struct voc_item_row r;
    json_t *data = NULL;
    char *data_s = NULL, sid[24];
    int rc = voc_item_lock(conn, cmd->item_id, false, &r, fault, err, errlen);
    if (rc != VOC_ITEM_DONE)
        goto out;
    snprintf(out->from_state, sizeof out->from_state, "%s", r.state);
    rc = VOC_ITEM_REFUSED;
    if (strcmp(r.state, to) == 0) {
        snprintf(err, errlen, "item %lld is already %s", r.id, to);
        goto out;
    }
    if (!voc_item_transition_allowed(r.state, to)) {
        item_refusal(r.id, r.state, to, err, errlen);
        goto out;
    }
    const bool reopen = strcmp(to, "open") == 0;
    if (!voc_item_state_active(r.state) && voc_item_state_active(to) &&
        (rc = voc_item_check_live(conn, r.id, reopen ? "be reopened" : "regress", fault, err,
                                  errlen)) != VOC_ITEM_DONE)
        goto out;
    rc = VOC_ITEM_ERROR;
    data = json_pack("{s:s, s:s}", "from", r.state, "to", to);
    if (!data) {
        voc_item_oom(fault, err, errlen);
        goto out;
    }
    if (strcmp(to, "snoozed") == 0 &&
        (rc = item_snooze_data(conn, cmd, &r, data, fault, err, errlen)) != VOC_ITEM_DONE)
        goto out;
    rc = VOC_ITEM_ERROR;
    snprintf(sid, sizeof sid, "%lld", r.id);
    const char *params[] = {sid, to};
    /* resolved_at is when the fix was declared: regression detection
     * compares occurrences with it, so it goes once the item is live again. */
    if (voc_item_exec(conn, "item state",
                      "UPDATE voc.item SET state = $2, updated_at = now(), resolved_at = CASE"
                      " WHEN $2 = 'resolved' THEN now() WHEN $2 IN ('open', 'regressed') THEN NULL"
                      " ELSE resolved_at END WHERE id = $1::bigint",
                      2, params, fault, err, errlen) != 0)
        goto out;
    data_s = voc_item_dumps(data);
    data = NULL;
    if (!data_s) {
        voc_item_oom(fault, err, errlen);
        goto out;
    }
    const bool regress = strcmp(to, "regressed") == 0;
    if (strcmp(to, "resolved") == 0)
        rc = item_record_resolved(conn, r.id, cmd, data_s, fault, err, errlen);
    else
        rc = voc_item_record(conn, r.id, regress ? "regressed" : "state_changed",
                             reopen ? "reopened" : to, cmd, data_s, fault, err, errlen);
out:
    json_decref(data);
    free(data_s);
    voc_item_row_clear(&r);
    return rc;
}

static int item_assign_in(PGconn *conn, const struct voc_item_cmd *cmd, enum voc_db_fault *fault,
                          char *err, size_t errlen)
{
    struct voc_item_row r;
    char *data = NULL, sid[24];
    if (!cmd->assignee || !*cmd->assignee) {
        snprintf(err, errlen, "'assign' needs the person to assign to (--to)");
        return VOC_ITEM_REFUSED;
    }
    int rc = voc_item_lock(conn, cmd->item_id, false, &r, fault, err, errlen);
    if (rc != VOC_ITEM_DONE)
        goto out;
    rc = VOC_ITEM_REFUSED;
    if (r.assignee && strcmp(r.assignee, cmd->assignee) == 0) {
        snprintf(err, errlen, "item %lld is already assigned to %s", r.id, r.assignee);
        goto out;
    }
    rc = VOC_ITEM_ERROR;
    data = voc_item_dumps(json_pack("{s:s?, s:s}", "from", r.assignee, "to", cmd->assignee));
    if (!data) {
        voc_item_oom(fault, err, errlen);
        goto out;
    }
    snprintf(sid, sizeof sid, "%lld", r.id);
    const char *params[] = {sid, cmd->assignee};
    if (voc_item_exec(conn, "item assign",
                      "UPDATE voc.item SET assignee = $2, updated_at = now() WHERE id = $1::bigint",
                      2, params, fault, err, errlen) != 0)
        goto out;
    rc = voc_item_record(conn, r.id, "reassigned", "assigned", cmd, data, fault, err, errlen);
out:
    free(data);
    voc_item_row_clear(&r);
    return rc;
}

static int item_comment_in(PGconn *conn, const struct voc_item_cmd *cmd, enum voc_db_fault *fault,
                           char *err, size_t errlen)
{
    struct voc_item_row r;
    char sid[24];
    if (!cmd->note || !*cmd->note) {
        snprintf(err, errlen, "'comment' needs the text of the comment (--note)");
        return VOC_ITEM_REFUSED;
    }
    int rc = voc_item_lock(conn, cmd->item_id, false, &r, fault, err, errlen);
    voc_item_row_clear(&r);
    if (rc != VOC_ITEM_DONE)
        return rc;
    snprintf(sid, sizeof sid, "%lld", r.id);
    const char *params[] = {sid};
    if (voc_item_exec(conn, "item comment",
                      "UPDATE voc.item SET updated_at = now() WHERE id = $1::bigint", 1, params,
                      fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    return voc_item_record(conn, r.id, "commented", "commented", cmd, NULL, fault, err, errlen);
}

int voc_item_apply(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                   enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_outcome ignored;
    enum voc_db_fault f;
    if (!out)
        out = &ignored;
    if (!fault)
        fault = &f;
    memset(out, 0, sizeof *out);
    *fault = VOC_DB_OK;
    if (!cmd || !cmd->verb) {
        snprintf(err, errlen, "no item command given");
        return VOC_ITEM_REFUSED;
    }
    /* Accountability: the audit trail must say who did it. */
    if (!cmd->actor || !*cmd->actor) {
        snprintf(err, errlen, "'%s' needs the person acting (--by)", cmd->verb);
        return VOC_ITEM_REFUSED;
    }
    const char *to = voc_item_verb_state(cmd->verb);
    if (to)
        return item_set_state_in(conn, cmd, to, out, fault, err, errlen);
    if (strcmp(cmd->verb, "assign") == 0)
        return item_assign_in(conn, cmd, fault, err, errlen);
    if (strcmp(cmd->verb, "comment") == 0)
        return item_comment_in(conn, cmd, fault, err, errlen);
    if (strcmp(cmd->verb, "merge") == 0)
        return voc_item_merge_in(conn, cmd, out, fault, err, errlen);
    if (strcmp(cmd->verb, "unmerge") == 0)
        return voc_item_unmerge_in(conn, cmd, out, fault, err, errlen);
    snprintf(err, errlen, "unknown item command '%s'", cmd->verb);
    return VOC_ITEM_REFUSED;
}

int voc_item_run(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                 enum voc_db_fault *fault, char *err, size_t errlen)
{
    if (voc_db_exec(conn, "BEGIN", fault, err, errlen) != 0)
        return VOC_ITEM_ERROR;
    int rc = voc_item_apply(conn, cmd, out, fault, err, errlen);
    if (rc == VOC_ITEM_DONE)
        return voc_db_exec(conn, "COMMIT", fault, err, errlen) == 0 ? VOC_ITEM_DONE
                                                                    : VOC_ITEM_ERROR;
    /* Refused or failed: nothing of it may stay. Best effort, since a lost
     * connection has rolled back already. */
    PGresult *res = PQexec(conn, "ROLLBACK");
    PQclear(res);
    return rc;
}

int voc_item_set_state(PGconn *conn, long long item_id, const char *to_state, const char *actor,
                       const char *note, enum voc_db_fault *fault, char *err, size_t errlen)
{
    const char *verb = voc_item_state_verb(to_state);
    if (!verb) {
        if (fault)
            *fault = VOC_DB_OK;
        snprintf(err, errlen, "'%s' is not an item state", to_state ? to_state : "(null)");
        return VOC_ITEM_REFUSED;
    }
    struct voc_item_cmd cmd = {.verb = verb, .item_id = item_id, .actor = actor, .note = note};
    return voc_item_run(conn, &cmd, NULL, fault, err, errlen);
}

int voc_item_assign(PGconn *conn, long long item_id, const char *assignee, const char *actor,
                    const char *note, enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_cmd cmd = {
        .verb = "assign", .item_id = item_id, .assignee = assignee, .actor = actor, .note = note};
    return voc_item_run(conn, &cmd, NULL, fault, err, errlen);
}

int voc_item_comment(PGconn *conn, long long item_id, const char *actor, const char *note,
                     enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_cmd cmd = {.verb = "comment", .item_id = item_id, .actor = actor, .note = note};
    return voc_item_run(conn, &cmd, NULL, fault, err, errlen);
}

int voc_item_merge(PGconn *conn, long long from_id, long long into_id, const char *actor,
                   const char *note, enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_cmd cmd = {
        .verb = "merge", .item_id = from_id, .into_id = into_id, .actor = actor, .note = note};
    return voc_item_run(conn, &cmd, NULL, fault, err, errlen);
}

int voc_item_unmerge(PGconn *conn, long long from_id, const char *actor, const char *note,
                     enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_cmd cmd = {.verb = "unmerge", .item_id = from_id, .actor = actor, .note = note};
    return voc_item_run(conn, &cmd, NULL, fault, err, errlen);
}
