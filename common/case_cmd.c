/* The commands people run on customer cases (vocctl case, and later the
 * voc.command door): reply, callback, promise, task-done, close, comment.
 * Each locks the case, checks the rules in voc/case.h, changes it and writes
 * its voc.case_event row(s), all in one transaction. */
#include "voc/case.h"

#include "item_int.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/timeutil.h"

/* The row of a case a command holds locked until the transaction ends. */
struct case_row {
    long long id;
    char state[16];
    bool callback_resolved; /* the latest callback said resolved */
    long long open_tasks;
    char task_ids[128]; /* the open tasks' ids, "4, 9" */
};

/* Locks case id. The open tasks are counted by a second statement after the
 * lock: one that waited for a concurrent follow-up insert must see it. */
static int case_lock(PGconn *conn, long long id, struct case_row *r, enum voc_db_fault *fault,
                     char *err, size_t errlen)
{
    char sid[24];
    memset(r, 0, sizeof *r);
    r->id = id;
    snprintf(sid, sizeof sid, "%lld", id);
    const char *params[] = {sid};
    PGresult *res = voc_item_query(conn, "case lock",
                                   "SELECT state, callback_outcome IS NOT DISTINCT FROM 'resolved'"
                                   " FROM voc.case WHERE id = $1::bigint FOR UPDATE",
                                   1, params, fault, err, errlen);
    if (!res)
        return VOC_CASE_ERROR;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(err, errlen, "case %lld does not exist", id);
        return VOC_CASE_REFUSED;
    }
    snprintf(r->state, sizeof r->state, "%s", PQgetvalue(res, 0, 0));
    r->callback_resolved = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    res = voc_item_query(conn, "case tasks",
                         "SELECT count(*), coalesce(string_agg(id::text, ', ' ORDER BY id), '')"
                         " FROM voc.case_task WHERE case_id = $1::bigint AND done_at IS NULL",
                         1, params, fault, err, errlen);
    if (!res)
        return VOC_CASE_ERROR;
    r->open_tasks = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(r->task_ids, sizeof r->task_ids, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return VOC_CASE_DONE;
}

/* REFUSED unless the case is in one of the states `needs` lists
 * ("open or replied"): "case 12 is closed; 'reply' needs open". */
static int case_needs(const struct case_row *r, const char *verb, const char *needs, char *err,
                      size_t errlen)
{
    char list[64];
    snprintf(list, sizeof list, " %s ", needs);
    char state[24];
    snprintf(state, sizeof state, " %s ", r->state);
    if (strstr(list, state))
        return VOC_CASE_DONE;
    snprintf(err, errlen, "case %lld is %s; '%s' needs %s", r->id, r->state, verb, needs);
    return VOC_CASE_REFUSED;
}

/* Writes one audit row whose data is built from obj (consumed). */
static int case_audit_json(PGconn *conn, long long id, const char *kind, const char *actor,
                           const char *reason, json_t *obj, enum voc_db_fault *fault, char *err,
                           size_t errlen)
{
    char *data = voc_item_dumps(obj);
    if (!data)
        return voc_item_oom(fault, err, errlen);
    int rc = voc_case_audit(conn, id, kind, actor, reason, data, NULL, fault, err, errlen);
    free(data);
    return rc == 0 ? VOC_CASE_DONE : VOC_CASE_ERROR;
}

static int case_reply(PGconn *conn, const struct voc_case_cmd *cmd, struct case_row *r,
                      struct voc_case_outcome *out, enum voc_db_fault *fault, char *err,
                      size_t errlen)
{
    int rc = case_needs(r, "reply", "open", err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", r->id);
    const char *params[] = {sid, cmd->actor, cmd->note};
    if (voc_item_exec(conn, "case reply",
                      "UPDATE voc.case SET state = 'replied', replied_at = now(), replied_by = $2,"
                      " reply_note = $3 WHERE id = $1::bigint",
                      3, params, fault, err, errlen) != 0)
        return VOC_CASE_ERROR;
    snprintf(out->to_state, sizeof out->to_state, "replied");
    return case_audit_json(conn, r->id, "replied", cmd->actor, cmd->note,
                           json_pack("{s:s, s:s}", "from", "open", "to", "replied"), fault, err,
                           errlen);
}

static bool case_outcome_valid(const char *o)
{
    return o && (strcmp(o, "resolved") == 0 || strcmp(o, "unresolved") == 0 ||
                 strcmp(o, "no_answer") == 0 || strcmp(o, "declined") == 0);
}

/* The callback's own checks, before anything is locked. */
static int callback_check(const struct voc_case_cmd *cmd, char *err, size_t errlen)
{
    if (!case_outcome_valid(cmd->outcome)) {
        snprintf(err, errlen,
                 "'callback' needs an outcome (--outcome): resolved, unresolved, no_answer or "
                 "declined");
        return VOC_CASE_REFUSED;
    }
    const bool talked =
        strcmp(cmd->outcome, "resolved") == 0 || strcmp(cmd->outcome, "unresolved") == 0;
    if (talked && (!cmd->reason || !*cmd->reason)) {
        snprintf(err, errlen,
                 "'callback' with outcome %s needs the customer's reason (--reason): there is no "
                 "dissatisfaction without a cause",
                 cmd->outcome);
        return VOC_CASE_REFUSED;
    }
    if (cmd->satisfaction < 0 || cmd->satisfaction > 5) {
        snprintf(err, errlen, "satisfaction is 1 (worst) to 5, or 0 when not asked");
        return VOC_CASE_REFUSED;
    }
    if (cmd->satisfaction && !talked) {
        snprintf(err, errlen, "a callback with outcome %s cannot record a satisfaction",
                 cmd->outcome);
        return VOC_CASE_REFUSED;
    }
    return VOC_CASE_DONE;
}

/* The transitions a callback causes besides its own audit row. */
static int callback_transitions(PGconn *conn, const struct voc_case_cmd *cmd,
                                const struct case_row *r, const char *to, enum voc_db_fault *fault,
                                char *err, size_t errlen)
{
    if (strcmp(r->state, "open") == 0 && strcmp(to, "open") != 0 &&
        case_audit_json(conn, r->id, "replied", cmd->actor, "first reached by the callback",
                        json_pack("{s:s, s:s}", "from", "open", "to", "replied"), fault, err,
                        errlen) != VOC_CASE_DONE)
        return VOC_CASE_ERROR;
    if (strcmp(to, "closed") == 0)
        return case_audit_json(
            conn, r->id, "closed", cmd->actor, "the callback found the problem resolved",
            json_pack("{s:s, s:s}", "from", r->state, "to", "closed"), fault, err, errlen);
    return VOC_CASE_DONE;
}

static int case_callback(PGconn *conn, const struct voc_case_cmd *cmd, struct case_row *r,
                         struct voc_case_outcome *out, enum voc_db_fault *fault, char *err,
                         size_t errlen)
{
    int rc = case_needs(r, "callback", "open or replied", err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    /* Reaching the customer answers them; "resolved" with nothing owed ends it. */
    const char *to = strcmp(cmd->outcome, "no_answer") == 0 ? r->state : "replied";
    if (strcmp(cmd->outcome, "resolved") == 0 && r->open_tasks == 0)
        to = "closed";
    char sid[24], sat[8];
    snprintf(sid, sizeof sid, "%lld", r->id);
    snprintf(sat, sizeof sat, "%d", cmd->satisfaction);
    const char *params[] = {
        sid, cmd->actor, cmd->outcome, cmd->reason, cmd->satisfaction ? sat : NULL, to};
    if (voc_item_exec(
            conn, "case callback",
            "UPDATE voc.case SET callback_at = now(), callback_by = $2, callback_outcome = $3,"
            " callback_reason = $4, satisfaction_after = $5::smallint, state = $6,"
            " replied_at = CASE WHEN replied_at IS NULL AND $3 <> 'no_answer' THEN now()"
            " ELSE replied_at END,"
            " replied_by = CASE WHEN replied_by IS NULL AND $3 <> 'no_answer' THEN $2"
            " ELSE replied_by END,"
            " closed_at = CASE WHEN $6 = 'closed' THEN now() END,"
            " closed_by = CASE WHEN $6 = 'closed' THEN $2 END WHERE id = $1::bigint",
            6, params, fault, err, errlen) != 0)
        return VOC_CASE_ERROR;
    snprintf(out->to_state, sizeof out->to_state, "%s", to);
    json_t *data =
        json_pack("{s:s, s:s, s:s}", "outcome", cmd->outcome, "from", r->state, "to", to);
    if (data && cmd->satisfaction)
        json_object_set_new(data, "satisfaction", json_integer(cmd->satisfaction));
    rc =
        case_audit_json(conn, r->id, "callback", cmd->actor, cmd->reason, data, fault, err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    return callback_transitions(conn, cmd, r, to, fault, err, errlen);
}

static int case_promise(PGconn *conn, const struct voc_case_cmd *cmd, struct case_row *r,
                        struct voc_case_outcome *out, enum voc_db_fault *fault, char *err,
                        size_t errlen)
{
    int rc = case_needs(r, "promise", "open or replied", err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", r->id);
    const char *params[] = {sid, cmd->note, cmd->due_at, cmd->actor};
    PGresult *res = voc_item_query(
        conn, "case promise",
        "INSERT INTO voc.case_task (case_id, kind, note, due_at, created_by)"
        " SELECT $1::bigint, 'progress', $2, $3::timestamptz, $4 WHERE $3::timestamptz > now()"
        " RETURNING id, to_json(due_at) #>> '{}'",
        4, params, fault, err, errlen);
    if (!res)
        return VOC_CASE_ERROR;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(err, errlen, "'promise' by %s: that is not in the future", cmd->due_at);
        return VOC_CASE_REFUSED;
    }
    out->task_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    json_t *data = json_pack("{s:I, s:s}", "task_id", (json_int_t)out->task_id, "due_at",
                             PQgetvalue(res, 0, 1));
    PQclear(res);
    return case_audit_json(conn, r->id, "promised", cmd->actor, cmd->note, data, fault, err,
                           errlen);
}

/* Closes r (locked) and writes the "closed" row. */
static int case_do_close(PGconn *conn, const struct case_row *r, const char *actor,
                         const char *reason, struct voc_case_outcome *out, enum voc_db_fault *fault,
                         char *err, size_t errlen)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", r->id);
    const char *params[] = {sid, actor};
    if (voc_item_exec(conn, "case close",
                      "UPDATE voc.case SET state = 'closed', closed_at = now(), closed_by = $2"
                      " WHERE id = $1::bigint",
                      2, params, fault, err, errlen) != 0)
        return VOC_CASE_ERROR;
    snprintf(out->to_state, sizeof out->to_state, "closed");
    return case_audit_json(conn, r->id, "closed", actor, reason,
                           json_pack("{s:s, s:s}", "from", r->state, "to", "closed"), fault, err,
                           errlen);
}

static int case_close(PGconn *conn, const struct voc_case_cmd *cmd, struct case_row *r,
                      struct voc_case_outcome *out, enum voc_db_fault *fault, char *err,
                      size_t errlen)
{
    int rc = case_needs(r, "close", "open or replied", err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    if (r->open_tasks > 0) {
        snprintf(err, errlen,
                 "case %lld still owes the customer %lld task%s (%s); tell them first "
                 "(task-done)",
                 r->id, r->open_tasks, r->open_tasks == 1 ? "" : "s", r->task_ids);
        return VOC_CASE_REFUSED;
    }
    return case_do_close(conn, r, cmd->actor, cmd->note, out, fault, err, errlen);
}

static int case_comment(PGconn *conn, const struct voc_case_cmd *cmd, struct case_row *r,
                        enum voc_db_fault *fault, char *err, size_t errlen)
{
    if (voc_case_audit(conn, r->id, "commented", cmd->actor, cmd->note, NULL, NULL, fault, err,
                       errlen) != 0)
        return VOC_CASE_ERROR;
    return VOC_CASE_DONE;
}

/* The case a task belongs to, or 0 when there is no such task. */
static int task_case(PGconn *conn, long long task_id, long long *case_id, enum voc_db_fault *fault,
                     char *err, size_t errlen)
{
    char tid[24];
    snprintf(tid, sizeof tid, "%lld", task_id);
    const char *params[] = {tid};
    PGresult *res =
        voc_item_query(conn, "case task", "SELECT case_id FROM voc.case_task WHERE id = $1::bigint",
                       1, params, fault, err, errlen);
    if (!res)
        return VOC_CASE_ERROR;
    *case_id = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return VOC_CASE_DONE;
}

/* Marks the task done (its case r is locked). REFUSED when it is done already. */
static int task_mark_done(PGconn *conn, const struct voc_case_cmd *cmd, const struct case_row *r,
                          enum voc_db_fault *fault, char *err, size_t errlen)
{
    char tid[24];
    snprintf(tid, sizeof tid, "%lld", cmd->task_id);
    const char *params[] = {tid, cmd->actor, cmd->note};
    PGresult *res = voc_item_query(
        conn, "case task done",
        "WITH old AS (SELECT id, done_by, to_char(done_at, 'YYYY-MM-DD HH24:MI') AS at"
        " FROM voc.case_task WHERE id = $1::bigint FOR UPDATE),"
        " upd AS (UPDATE voc.case_task t SET done_at = now(), done_by = $2, done_note = $3"
        " FROM old WHERE t.id = old.id AND old.done_by IS NULL RETURNING t.kind)"
        " SELECT (SELECT kind FROM upd), old.done_by, old.at FROM old",
        3, params, fault, err, errlen);
    if (!res)
        return VOC_CASE_ERROR;
    int rc = VOC_CASE_DONE;
    if (PQgetisnull(res, 0, 0)) {
        snprintf(err, errlen, "task %lld of case %lld is already done (by %s at %s)", cmd->task_id,
                 r->id, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
        rc = VOC_CASE_REFUSED;
    } else {
        rc = case_audit_json(conn, r->id, "task_done", cmd->actor, cmd->note,
                             json_pack("{s:I, s:s}", "task_id", (json_int_t)cmd->task_id, "kind",
                                       PQgetvalue(res, 0, 0)),
                             fault, err, errlen);
    }
    PQclear(res);
    return rc;
}

/* task-done: the case is locked before the task, as every command does. */
static int case_task_done(PGconn *conn, const struct voc_case_cmd *cmd,
                          struct voc_case_outcome *out, enum voc_db_fault *fault, char *err,
                          size_t errlen)
{
    struct case_row r;
    long long owner = 0;
    int rc = task_case(conn, cmd->task_id, &owner, fault, err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    if (!owner) {
        snprintf(err, errlen, "task %lld does not exist", cmd->task_id);
        return VOC_CASE_REFUSED;
    }
    if (cmd->case_id && cmd->case_id != owner) {
        snprintf(err, errlen, "task %lld belongs to case %lld, not case %lld", cmd->task_id, owner,
                 cmd->case_id);
        return VOC_CASE_REFUSED;
    }
    if ((rc = case_lock(conn, owner, &r, fault, err, errlen)) != VOC_CASE_DONE)
        return rc;
    out->case_id = owner;
    out->task_id = cmd->task_id;
    snprintf(out->from_state, sizeof out->from_state, "%s", r.state);
    snprintf(out->to_state, sizeof out->to_state, "%s", r.state);
    if ((rc = task_mark_done(conn, cmd, &r, fault, err, errlen)) != VOC_CASE_DONE)
        return rc;
    /* The customer said it was resolved and this was the last thing owed. */
    if (r.callback_resolved && r.open_tasks == 1 && strcmp(r.state, "closed") != 0)
        return case_do_close(conn, &r, cmd->actor, "resolved on the callback and nothing more owed",
                             out, fault, err, errlen);
    return VOC_CASE_DONE;
}

/* Checks that need no database. */
static int case_check(const struct voc_case_cmd *cmd, char *err, size_t errlen)
{
    const char *v = cmd->verb;
    int64_t ms;
    if (strcmp(v, "callback") == 0)
        return callback_check(cmd, err, errlen);
    if (strcmp(v, "promise") == 0 && (!cmd->note || !*cmd->note))
        snprintf(err, errlen, "'promise' needs what was promised (--note)");
    else if (strcmp(v, "promise") == 0 && !cmd->due_at)
        snprintf(err, errlen, "'promise' needs the time it is promised by (--due)");
    else if (strcmp(v, "promise") == 0 && voc_time_parse_ms(cmd->due_at, &ms) != 0)
        snprintf(err, errlen,
                 "'promise' by '%s': not an RFC 3339 time (try 2026-11-24T18:00:00+08:00)",
                 cmd->due_at);
    else if (strcmp(v, "comment") == 0 && (!cmd->note || !*cmd->note))
        snprintf(err, errlen, "'comment' needs the text of the comment (--note)");
    else if (strcmp(v, "task-done") == 0 && cmd->task_id <= 0)
        snprintf(err, errlen, "'task-done' needs a task id");
    else
        return VOC_CASE_DONE;
    return VOC_CASE_REFUSED;
}

bool voc_case_verb_known(const char *v)
{
    static const char *const verbs[] = {"reply", "callback",  "promise",
                                        "close", "task-done", "comment"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(v, verbs[i]) == 0)
            return true;
    return false;
}

int voc_case_apply(PGconn *conn, const struct voc_case_cmd *cmd, struct voc_case_outcome *out,
                   enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_case_outcome ignored;
    enum voc_db_fault f;
    struct case_row r;
    if (!out)
        out = &ignored;
    if (!fault)
        fault = &f;
    memset(out, 0, sizeof *out);
    *fault = VOC_DB_OK;
    if (!cmd || !cmd->verb || !voc_case_verb_known(cmd->verb)) {
        snprintf(err, errlen, "unknown case command '%s'", cmd && cmd->verb ? cmd->verb : "");
        return VOC_CASE_REFUSED;
    }
    /* Accountability: the audit trail must say who did it. */
    if (!cmd->actor || !*cmd->actor) {
        snprintf(err, errlen, "'%s' needs the person acting (--by)", cmd->verb);
        return VOC_CASE_REFUSED;
    }
    int rc = case_check(cmd, err, errlen);
    if (rc != VOC_CASE_DONE)
        return rc;
    if (strcmp(cmd->verb, "task-done") == 0)
        return case_task_done(conn, cmd, out, fault, err, errlen);
    if ((rc = case_lock(conn, cmd->case_id, &r, fault, err, errlen)) != VOC_CASE_DONE)
        return rc;
    out->case_id = r.id;
    snprintf(out->from_state, sizeof out->from_state, "%s", r.state);
    snprintf(out->to_state, sizeof out->to_state, "%s", r.state);
    if (strcmp(cmd->verb, "reply") == 0)
        return case_reply(conn, cmd, &r, out, fault, err, errlen);
    if (strcmp(cmd->verb, "callback") == 0)
        return case_callback(conn, cmd, &r, out, fault, err, errlen);
    if (strcmp(cmd->verb, "promise") == 0)
        return case_promise(conn, cmd, &r, out, fault, err, errlen);
    if (strcmp(cmd->verb, "close") == 0)
        return case_close(conn, cmd, &r, out, fault, err, errlen);
    return case_comment(conn, cmd, &r, fault, err, errlen);
}

int voc_case_run_out(PGconn *conn, const struct voc_case_cmd *cmd, struct voc_case_outcome *out,
                     enum voc_db_fault *fault, char *err, size_t errlen)
{
    enum voc_db_fault f;
    if (!fault)
        fault = &f;
    if (voc_db_exec(conn, "BEGIN", fault, err, errlen) != 0)
        return VOC_CASE_ERROR;
    int rc = voc_case_apply(conn, cmd, out, fault, err, errlen);
    if (rc == VOC_CASE_DONE)
        return voc_db_exec(conn, "COMMIT", fault, err, errlen) == 0 ? VOC_CASE_DONE
                                                                    : VOC_CASE_ERROR;
    /* Refused or failed: nothing of it may stay. Best effort, since a lost
     * connection has rolled back already. */
    PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

int voc_case_run(PGconn *conn, const struct voc_case_cmd *cmd, enum voc_db_fault *fault, char *err,
                 size_t errlen)
{
    return voc_case_run_out(conn, cmd, NULL, fault, err, errlen);
}
