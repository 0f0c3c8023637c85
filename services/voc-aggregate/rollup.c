/* Roll-up: "same root cause, many entry points". Stall and lag complaints on
 * one network line are first counted per classroom (fingerprint
 * "<line fingerprint>:room:<classroom>"); once rollup_min_classrooms such
 * items are live on the same line, a line item is opened (or found) and the
 * classroom items are linked under it. The line item counts every occurrence
 * of its children and its own (complaints that named the line but no room). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "voc/item.h"

#define LIVE "state NOT IN ('resolved', 'verified', 'closed', 'wont_fix') AND merged_into IS NULL"

int rollup_recount_parent(struct agg_db *db, long long parent_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", parent_id);
    const char *vals[] = {id};
    return agg_exec(
        db,
        "WITH occ AS (SELECT o.customer_id, o.tier, o.occurred_at FROM voc.item_occurrence o"
        "  JOIN voc.item c ON c.id = o.item_id"
        "  WHERE c.id = $1::bigint OR c.parent_item_id = $1::bigint)"
        " UPDATE voc.item SET occurrences = (SELECT count(*) FROM occ),"
        " customers = (SELECT count(DISTINCT customer_id) FROM occ),"
        " vip_occurrences = (SELECT count(*) FROM occ WHERE tier IN ('vip', 'svip')),"
        " first_seen = coalesce((SELECT min(occurred_at) FROM occ), first_seen),"
        " last_seen = coalesce((SELECT max(occurred_at) FROM occ), last_seen),"
        " updated_at = now() WHERE id = $1::bigint",
        1, vals);
}

/* Finds the live line item for prefix, or opens it. */
static int line_item(struct agg_db *db, const char *prefix, PGresult *child, long long *parent,
                     bool *opened)
{
    const char *vals[] = {prefix};
    PGresult *r = agg_q(db, "SELECT id FROM voc.item WHERE fingerprint = $1 AND " LIVE " LIMIT 1",
                        1, vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    *parent = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (*parent)
        return 0;
    struct agg_event ev = {.dimension = "line",
                           .category = PQgetvalue(child, 0, 1),
                           .severity = PQgetvalue(child, 0, 3),
                           .occurred_at = PQgetvalue(child, 0, 4)};
    struct voc_signature none = {.empty = 1};
    *opened = true;
    return itemdb_open(db, &ev, prefix, PQgetvalue(child, 0, 2), &none, "rollup", 0, parent);
}

static int link_children(struct agg_db *db, const char *prefix, long long parent)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", parent);
    const char *vals[] = {prefix, pid};
    PGresult *r = agg_q(db,
                        "UPDATE voc.item SET parent_item_id = $2::bigint, updated_at = now()"
                        " WHERE left(fingerprint, length($1) + 6) = $1 || ':room:'"
                        " AND parent_item_id IS NULL AND " LIVE " RETURNING id",
                        2, vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        long long child = atoll(PQgetvalue(r, i, 0));
        const char *link[] = {PQgetvalue(r, i, 0), pid};
        rc = agg_exec(db,
                      "INSERT INTO voc.item_link (from_item, to_item, kind)"
                      " VALUES ($1::bigint, $2::bigint, 'child_of') ON CONFLICT DO NOTHING",
                      2, link);
        if (rc == 0)
            rc = agg_audit(db, child, "linked", "rolled up under its network line item", "{s:I}",
                           "parent", (json_int_t)parent);
        if (rc == 0)
            rc = agg_publish(db, child, "linked");
    }
    PQclear(r);
    return rc;
}

int rollup_line_item(struct agg_db *db, long long child_id, long long *parent_out, bool *opened)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", child_id);
    const char *vals[] = {id};
    PGresult *child = agg_q(db,
                            "SELECT fingerprint, category, entity, severity, first_seen::text"
                            " FROM voc.item WHERE id = $1::bigint",
                            1, vals, PGRES_TUPLES_OK);
    if (!child)
        return -1;
    int rc = 0;
    char prefix[512];
    const char *fp = PQgetvalue(child, 0, 0);
    const char *room = strstr(fp, ":room:");
    snprintf(prefix, sizeof prefix, "%.*s", room ? (int)(room - fp) : 0, fp);
    const char *pv[] = {prefix};
    PGresult *n = agg_q(db,
                        "SELECT count(*) FROM voc.item"
                        " WHERE left(fingerprint, length($1) + 6) = $1 || ':room:' AND " LIVE,
                        1, pv, PGRES_TUPLES_OK);
    if (!n) {
        PQclear(child);
        return -1;
    }
    long long parent = 0;
    *opened = false;
    if (room && atoll(PQgetvalue(n, 0, 0)) >= db->cfg->rollup_min_classrooms) {
        rc = line_item(db, prefix, child, &parent, opened);
        if (rc == 0)
            rc = link_children(db, prefix, parent);
    }
    *parent_out = parent;
    PQclear(n);
    PQclear(child);
    return rc;
}
