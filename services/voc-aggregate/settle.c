/* End-of-batch work on each item the batch touched: counts, severity,
 * re-routing when severity changes the route, the title, the audit and
 * outbox events, and the line roll-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "voc/item.h"
#include "voc/notice.h"

/* Severity never drops by itself: the highest event severity, raised by
 * volume and by VIP share, and never below what the item already has. */
static int settled_severity(const struct agg_db *db, int stored, const struct agg_touched *t,
                            long long occurrences, long long vip)
{
    int sev = t->max_severity > stored ? t->max_severity : stored;
    if (occurrences >= db->cfg->volume_critical)
        sev = 3;
    else if (occurrences >= db->cfg->volume_high && sev < 2)
        sev = 2;
    if (vip >= db->cfg->vip_raise && t->max_severity + 1 > sev)
        sev = t->max_severity + 1;
    return sev > 3 ? 3 : sev;
}

static int reroute(struct agg_db *db, long long id, const char *idtxt, PGresult *row, int sev)
{
    struct voc_route route;
    const char *entity = PQgetisnull(row, 0, 5) ? NULL : PQgetvalue(row, 0, 5);
    voc_route(db->routing, PQgetvalue(row, 0, 3), PQgetvalue(row, 0, 4), entity,
              agg_severity_name(sev), &route);
    if (strcmp(route.department, PQgetvalue(row, 0, 6)) == 0 &&
        strcmp(route.rule, PQgetvalue(row, 0, 9)) == 0)
        return 0;
    const char *vals[] = {idtxt,        route.department, route.owner,
                          route.notify, route.rule,       voc_routing_version(db->routing)};
    if (agg_exec(db,
                 "UPDATE voc.item SET department = $2, owner = $3, notify = $4,"
                 " routing_rule = $5, routing_version = $6, updated_at = now()"
                 " WHERE id = $1::bigint",
                 6, vals) < 0 ||
        agg_audit(db, id, "routed", "severity changed the route", "{s:s, s:s, s:s}", "from",
                  PQgetvalue(row, 0, 6), "to", route.department, "rule", route.rule) < 0)
        return -1;
    return agg_publish(db, id, "routed");
}

static int raise_severity(struct agg_db *db, long long id, const char *idtxt, PGresult *row,
                          int from, int to)
{
    const char *vals[] = {idtxt, agg_severity_name(to)};
    if (agg_exec(db, "UPDATE voc.item SET severity = $2, updated_at = now() WHERE id = $1::bigint",
                 2, vals) < 0 ||
        agg_audit(db, id, "severity_changed", "volume, customer tier or keywords", "{s:s, s:s}",
                  "from", agg_severity_name(from), "to", agg_severity_name(to)) < 0)
        return -1;
    return reroute(db, id, idtxt, row, to);
}

/* The most representative sample: the one most similar, on average, to the
 * others. Returns its index, or -1 with fewer than three samples. */
static int representative(json_t *samples)
{
    size_t n = json_array_size(samples);
    if (n < 3)
        return -1;
    struct voc_signature sig[5];
    n = n > 5 ? 5 : n;
    for (size_t i = 0; i < n; i++)
        voc_match_signature(json_string_value(json_array_get(samples, i)), &sig[i]);
    int best = 0;
    double best_sum = -1;
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++)
            if (i != j)
                sum += voc_match_similarity(&sig[i], &sig[j]);
        if (sum > best_sum) {
            best_sum = sum;
            best = (int)i;
        }
    }
    return best;
}

static int retitle(struct agg_db *db, const char *idtxt, const char *samples_json,
                   const char *title)
{
    json_t *samples = json_loads(samples_json, 0, NULL);
    int rc = 0;
    int best = representative(samples);
    const char *text = best >= 0 ? json_string_value(json_array_get(samples, (size_t)best)) : NULL;
    if (text && strncmp(text, title, strlen(title)) != 0) {
        const char *vals[] = {idtxt, text};
        rc =
            agg_exec(db, "UPDATE voc.item SET title = left($2, 80) WHERE id = $1::bigint", 2, vals);
    }
    json_decref(samples);
    return rc;
}

static int recount(struct agg_db *db, long long id, const char *idtxt)
{
    const char *vals[] = {idtxt};
    PGresult *r =
        agg_q(db, "SELECT EXISTS (SELECT 1 FROM voc.item WHERE parent_item_id = $1::bigint)", 1,
              vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    bool parent = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (parent)
        return rollup_recount_parent(db, id);
    return agg_item_call(db, voc_item_recount(db->conn, id, &db->fault, db->err, sizeof db->err));
}

int agg_notice(struct agg_db *db, long long id, const char *kind)
{
    char idtxt[24], title[400];
    snprintf(idtxt, sizeof idtxt, "%lld", id);
    const char *vals[] = {idtxt};
    PGresult *r = agg_q(db,
                        "SELECT department, owner, severity, title FROM voc.item"
                        " WHERE id = $1::bigint",
                        1, vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 0;
    }
    bool regressed = strcmp(kind, "item.regressed") == 0;
    snprintf(title, sizeof title, "%s item %lld (%s): %.200s",
             regressed ? "Back after resolution:" : "New", id, PQgetvalue(r, 0, 2),
             PQgetvalue(r, 0, 3));
    struct voc_notice n = {
        .kind = kind,
        .department = PQgetvalue(r, 0, 0),
        .recipient = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1),
        .subject = "item",
        .subject_id = id,
        .title = title,
        .severity = PQgetvalue(r, 0, 2),
        .text = regressed ? "a new occurrence after the fix: the item is back with its owner, "
                            "and its SLA clocks start again"
                          : NULL,
    };
    int rc = voc_notice_add(db->conn, db->notice_topic, &n, &db->fault, db->err, sizeof db->err);
    PQclear(r);
    return rc;
}

/* The outbox events of the batch, once counts and severity are final: a new
 * item goes out as item.opened (and item.routed when triage must hear of it)
 * with an item.opened notice to its department, an existing one as
 * item.recurred. */
static int announce(struct agg_db *db, const struct agg_touched *t, const char *routing_rule)
{
    if (t->opened) {
        if (agg_publish(db, t->id, "opened") < 0 || agg_notice(db, t->id, "item.opened") < 0)
            return -1;
        return strcmp(routing_rule, "triage") == 0 ? agg_publish(db, t->id, "routed") : 0;
    }
    if (t->added == 0)
        return 0;
    if (agg_audit(db, t->id, "recurred", "new occurrences", "{s:i}", "added", t->added) < 0)
        return -1;
    return agg_publish(db, t->id, "recurred");
}

int itemdb_settle(struct agg_db *db, const struct agg_touched *t, struct agg_touched *parent)
{
    char idtxt[24];
    snprintf(idtxt, sizeof idtxt, "%lld", t->id);
    memset(parent, 0, sizeof *parent);
    if (recount(db, t->id, idtxt) < 0)
        return -1;
    const char *vals[] = {idtxt};
    PGresult *row = agg_q(db,
                          "SELECT severity, occurrences, vip_occurrences, dimension, category,"
                          " entity, department, samples::text, title, routing_rule,"
                          " coalesce(parent_item_id, 0), fingerprint"
                          " FROM voc.item WHERE id = $1::bigint",
                          1, vals, PGRES_TUPLES_OK);
    if (!row)
        return -1;
    int rc = 0;
    int stored = agg_severity_rank(PQgetvalue(row, 0, 0));
    int sev =
        settled_severity(db, stored, t, atoll(PQgetvalue(row, 0, 1)), atoll(PQgetvalue(row, 0, 2)));
    if (sev > stored)
        rc = raise_severity(db, t->id, idtxt, row, stored, sev);
    if (rc == 0)
        rc = retitle(db, idtxt, PQgetvalue(row, 0, 7), PQgetvalue(row, 0, 8));
    if (rc == 0)
        rc = announce(db, t, PQgetvalue(row, 0, 9));
    long long parent_id = atoll(PQgetvalue(row, 0, 10));
    bool classroom_child = strcmp(PQgetvalue(row, 0, 3), "line") == 0 &&
                           strstr(PQgetvalue(row, 0, 11), ":room:") != NULL;
    PQclear(row);
    bool opened = false;
    if (rc == 0 && classroom_child && !parent_id)
        rc = rollup_line_item(db, t->id, &parent_id, &opened);
    /* The line item is settled after its children, in the same batch. */
    if (rc == 0 && parent_id) {
        parent->id = parent_id;
        parent->added = t->added;
        parent->max_severity = t->max_severity;
        parent->opened = opened;
    }
    return rc;
}
