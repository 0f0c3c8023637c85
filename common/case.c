/* Customer cases: opening one per complaint or low rating, the audit trail,
 * and the follow-up tasks an item's resolution owes the customers who
 * reported it. The commands people run on cases are in case_cmd.c. */
#include "voc/case.h"

#include "item_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* voc_item_query/voc_item_exec and voc_item_audit_row (item_int.h) are plain
 * "parameterised statement with a one-line error" helpers; cases use them
 * rather than a second copy. */

static int case_bad(enum voc_db_fault *fault, char *err, size_t errlen, const char *msg)
{
    *fault = VOC_DB_BAD_ROW;
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int voc_case_audit(PGconn *conn, long long case_id, const char *kind, const char *actor,
                   const char *reason, const char *data_json, long long *event_id,
                   enum voc_db_fault *fault, char *err, size_t errlen)
{
    return voc_item_audit_row(conn, "case audit",
                              "INSERT INTO voc.case_event (case_id, kind, actor, reason, data)"
                              " VALUES ($1::bigint, $2, $3, $4, $5::jsonb) RETURNING id",
                              case_id, kind, actor, reason, data_json, event_id, fault, err,
                              errlen);
}

/* The insert and its "opened" audit row are one statement: the audit row
 * exists exactly when the case was created now. A tier the SLA does not know
 * is stored as standard rather than refused: every complaint gets a case. */
static const char open_sql[] =
    "WITH ins AS (INSERT INTO voc.case (event_id, kind, customer_id, tier, channel, opened_at,"
    " reply_due_at) VALUES ($1, $2, $3, CASE WHEN lower($4::text) IN ('vip', 'svip')"
    " THEN lower($4::text) ELSE 'standard' END, $5, $6::timestamptz, $7::timestamptz)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id, kind, reply_due_at),"
    " ev AS (INSERT INTO voc.case_event (case_id, kind, actor, data)"
    " SELECT id, 'opened', $8, jsonb_build_object('event_id', event_id, 'kind', kind,"
    " 'reply_due_at', reply_due_at) FROM ins)"
    " SELECT id FROM ins";

int voc_case_open(PGconn *conn, const struct voc_case_new *c, long long *case_id, bool *created,
                  enum voc_db_fault *fault, char *err, size_t errlen)
{
    enum voc_db_fault f = VOC_DB_OK;
    if (!fault)
        fault = &f;
    *fault = VOC_DB_OK;
    *case_id = 0;
    *created = false;
    if (!c || !c->event_id || !*c->event_id || !c->kind || !c->opened_at || !c->reply_due_at)
        return case_bad(fault, err, errlen,
                        "case open: event_id, kind, opened_at and reply_due_at are required");
    const char *params[] = {
        c->event_id, c->kind,      c->customer_id,  c->tier,
        c->channel,  c->opened_at, c->reply_due_at, c->actor ? c->actor : "voc-track"};
    PGresult *res = voc_item_query(conn, "case open", open_sql, 8, params, fault, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *case_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *created = true;
        PQclear(res);
        return 0;
    }
    PQclear(res);
    /* A redelivery: the case exists. A statement of its own, so a case
     * committed by another transaction while this one waited is seen too. */
    res = voc_item_query(conn, "case open", "SELECT id FROM voc.case WHERE event_id = $1", 1,
                         params, fault, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return case_bad(fault, err, errlen, "case open: the case for the event vanished");
    }
    *case_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* One task per case whose event was counted in the item and that is not
 * closed (the customer still has a case to hear back on), with its
 * task_created audit row. The cases are locked (FOR UPDATE, re-checked
 * after a wait) so a case closed concurrently gets no task: a closed case
 * owes nothing. The unique (case_id, kind, resolution_id) makes a repeated
 * call add nothing; a later resolution (after a regression) has a new
 * resolution_id and adds one. The task and audit rows name the person who
 * resolved the item (the resolution's actor). */
static const char followups_sql[] =
    "WITH c AS (SELECT c.id, i.id AS item_id, i.title FROM voc.case c"
    " JOIN voc.feedback f ON f.event_id = c.event_id JOIN voc.item i ON i.id = f.item_id"
    " WHERE f.item_id = $1::bigint AND c.state <> 'closed' ORDER BY c.id FOR UPDATE OF c),"
    " who AS (SELECT coalesce((SELECT actor FROM voc.item_event WHERE id = $2::bigint),"
    " 'voc-track') AS actor),"
    " t AS (INSERT INTO voc.case_task (case_id, kind, item_id, resolution_id, note, created_by)"
    " SELECT c.id, 'followup', c.item_id, $2::bigint,"
    " format('The issue you reported (''%s'') has been fixed', c.title), who.actor"
    " FROM c, who ON CONFLICT (case_id, kind, resolution_id) DO NOTHING"
    " RETURNING id, case_id, item_id, created_by),"
    " ev AS (INSERT INTO voc.case_event (case_id, kind, actor, reason, data)"
    " SELECT case_id, 'task_created', created_by, 'item ' || item_id || ' resolved',"
    " jsonb_build_object('task_id', id, 'item_id', item_id, 'resolution_id', $2::bigint)"
    " FROM t RETURNING 1)"
    " SELECT count(*) FROM ev";

int voc_case_followups_for_item(PGconn *conn, long long item_id, long long resolution_id,
                                int *created, enum voc_db_fault *fault, char *err, size_t errlen)
{
    enum voc_db_fault f = VOC_DB_OK;
    char iid[24], rid[24];
    if (!fault)
        fault = &f;
    *fault = VOC_DB_OK;
    *created = 0;
    snprintf(iid, sizeof iid, "%lld", item_id);
    snprintf(rid, sizeof rid, "%lld", resolution_id);
    const char *params[] = {iid, rid};
    PGresult *res =
        voc_item_query(conn, "case follow-ups", followups_sql, 2, params, fault, err, errlen);
    if (!res)
        return -1;
    *created = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
