/* Merging two items that turned out to be one problem, and undoing it
 * exactly: the merge's audit row records which events it moved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_int.h"

/* Moves events between two items (merge: FROM -> INTO; unmerge: back) and
 * returns how many occurrences moved and the audit data naming them. */
static const char merge_move_sql[] =
    "WITH occ AS (UPDATE voc.item_occurrence SET item_id = $2::bigint"
    " WHERE item_id = $1::bigint RETURNING event_id),"
    " fb AS (UPDATE voc.feedback SET item_id = $2::bigint"
    " WHERE item_id = $1::bigint RETURNING event_id)"
    " SELECT (SELECT count(*) FROM occ), jsonb_build_object('into', $2::bigint,"
    " 'event_ids', (SELECT coalesce(jsonb_agg(event_id ORDER BY event_id), '[]') FROM occ),"
    " 'feedback_event_ids', (SELECT coalesce(jsonb_agg(event_id ORDER BY event_id), '[]')"
    " FROM fb))";
/* Exactly the events the last merge of $1 into $2 moved, wherever the merge
 * left them on $2; occurrences counted into $2 since then stay there. */
static const char unmerge_move_sql[] =
    "WITH m AS (SELECT data FROM voc.item_event WHERE item_id = $1::bigint AND kind = 'merged'"
    " AND (data ->> 'into')::bigint = $2::bigint ORDER BY id DESC LIMIT 1),"
    " occ AS (UPDATE voc.item_occurrence o SET item_id = $1::bigint FROM m"
    " WHERE o.item_id = $2::bigint"
    " AND o.event_id IN (SELECT jsonb_array_elements_text(m.data -> 'event_ids'))"
    " RETURNING o.event_id),"
    " fb AS (UPDATE voc.feedback f SET item_id = $1::bigint FROM m WHERE f.item_id = $2::bigint"
    " AND f.event_id IN (SELECT jsonb_array_elements_text(m.data -> 'feedback_event_ids'))"
    " RETURNING f.event_id)"
    " SELECT (SELECT count(*) FROM occ), jsonb_build_object('from_item', $2::bigint,"
    " 'event_ids', (SELECT coalesce(jsonb_agg(event_id ORDER BY event_id), '[]') FROM occ),"
    " 'feedback_event_ids', (SELECT coalesce(jsonb_agg(event_id ORDER BY event_id), '[]')"
    " FROM fb))";

static const char merge_mark_sql[] =
    "WITH l AS (INSERT INTO voc.item_link (from_item, to_item, kind)"
    " VALUES ($1::bigint, $2::bigint, 'merged_into') ON CONFLICT DO NOTHING)"
    " UPDATE voc.item SET merged_into = $2::bigint, updated_at = now() WHERE id = $1::bigint";
static const char unmerge_mark_sql[] =
    "WITH l AS (DELETE FROM voc.item_link WHERE from_item = $1::bigint"
    " AND to_item = $2::bigint AND kind = 'merged_into')"
    " UPDATE voc.item SET merged_into = NULL, updated_at = now() WHERE id = $1::bigint";

/* The shared second half of merge and unmerge: move the events, mark FROM,
 * recount both, and audit and publish both. */
static int item_move(PGconn *conn, const struct voc_item_cmd *cmd, long long from, long long into,
                     bool merge, struct voc_item_outcome *out, enum voc_db_fault *fault, char *err,
                     size_t errlen)
{
    char sfrom[24], sinto[24], *into_data = NULL;
    const char *kind = merge ? "merged" : "unmerged";
    snprintf(sfrom, sizeof sfrom, "%lld", from);
    snprintf(sinto, sizeof sinto, "%lld", into);
    const char *params[] = {sfrom, sinto};
    PGresult *moved = voc_item_query(conn, kind, merge ? merge_move_sql : unmerge_move_sql, 2,
                                     params, fault, err, errlen);
    if (!moved)
        return VOC_ITEM_ERROR;
    int rc = VOC_ITEM_ERROR;
    out->moved = strtoll(PQgetvalue(moved, 0, 0), NULL, 10);
    if (voc_item_exec(conn, kind, merge ? merge_mark_sql : unmerge_mark_sql, 2, params, fault, err,
                      errlen) != 0 ||
        voc_item_recount(conn, from, fault, err, errlen) != 0 ||
        voc_item_recount(conn, into, fault, err, errlen) != 0 ||
        voc_item_record(conn, from, kind, kind, cmd, PQgetvalue(moved, 0, 1), fault, err, errlen) !=
            VOC_ITEM_DONE)
        goto out;
    into_data = voc_item_dumps(json_pack("{s:I, s:I}", merge ? "from" : "item", (json_int_t)from,
                                         "moved", (json_int_t)out->moved));
    if (!into_data) {
        voc_item_oom(fault, err, errlen);
        goto out;
    }
    rc = voc_item_record(conn, into, kind, kind, cmd, into_data, fault, err, errlen);
out:
    free(into_data);
    PQclear(moved);
    return rc;
}

/* Locks both items in id order, so that two commands on the same pair never
 * deadlock whichever way round they name it. */
static int item_lock_pair(PGconn *conn, long long from, long long into, bool merged_ok,
                          struct voc_item_row *a, struct voc_item_row *b, enum voc_db_fault *fault,
                          char *err, size_t errlen)
{
    struct voc_item_row *lo = from < into ? a : b, *hi = from < into ? b : a;
    int rc = voc_item_lock(conn, from < into ? from : into, merged_ok, lo, fault, err, errlen);
    if (rc == VOC_ITEM_DONE)
        rc = voc_item_lock(conn, from < into ? into : from, merged_ok, hi, fault, err, errlen);
    return rc;
}

int voc_item_merge_in(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                      enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_row a = {0}, b = {0};
    long long from = cmd->item_id, into = cmd->into_id;
    int rc = VOC_ITEM_REFUSED;
    if (from == into) {
        snprintf(err, errlen, "cannot merge item %lld into itself", from);
        return rc;
    }
    rc = item_lock_pair(conn, from, into, false, &a, &b, fault, err, errlen);
    if (rc != VOC_ITEM_DONE)
        goto out;
    /* Chains would make unmerge ambiguous: which item holds the events? */
    if (a.merged_in) {
        snprintf(err, errlen, "item %lld has item %lld merged into it; unmerge %lld first", from,
                 a.merged_in, a.merged_in);
        rc = VOC_ITEM_REFUSED;
        goto out;
    }
    rc = item_move(conn, cmd, from, into, true, out, fault, err, errlen);
out:
    voc_item_row_clear(&a);
    voc_item_row_clear(&b);
    return rc;
}

int voc_item_unmerge_in(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                        enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_row a = {0}, b = {0};
    long long from = cmd->item_id;
    char sfrom[24];
    snprintf(sfrom, sizeof sfrom, "%lld", from);
    const char *params[] = {sfrom};
    /* Learn the pair first, then lock both in id order and look again. */
    PGresult *res =
        voc_item_query(conn, "unmerge", "SELECT merged_into FROM voc.item WHERE id = $1::bigint", 1,
                       params, fault, err, errlen);
    if (!res)
        return VOC_ITEM_ERROR;
    long long into = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)
                         ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                         : 0;
    PQclear(res);
    int rc = item_lock_pair(conn, from, into ? into : from, true, &a, &b, fault, err, errlen);
    if (rc != VOC_ITEM_DONE)
        goto out;
    rc = VOC_ITEM_REFUSED;
    if (!a.merged_into) {
        snprintf(err, errlen, "item %lld is not merged into another item", from);
        goto out;
    }
    if (a.merged_into != into) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "item %lld was merged elsewhere meanwhile; try again", from);
        rc = VOC_ITEM_ERROR;
        goto out;
    }
    if (voc_item_state_active(a.state) &&
        (rc = voc_item_check_live(conn, from, "be unmerged", fault, err, errlen)) != VOC_ITEM_DONE)
        goto out;
    rc = item_move(conn, cmd, from, into, false, out, fault, err, errlen);
out:
    voc_item_row_clear(&a);
    voc_item_row_clear(&b);
    return rc;
}
