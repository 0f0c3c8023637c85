/* The SQL of voc-aggregate. Every statement runs inside the batch's
 * transaction (aggregate.c opens and commits it) and is parameterised. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "voc/item.h"
#include "voc/log.h"

/* Item states that no longer take occurrences without a regression decision;
 * keep the SQL list and state_done() in step. */
#define DONE_STATES "('resolved', 'verified', 'closed')"

static bool state_done(const char *state)
{
    return strcmp(state, "resolved") == 0 || strcmp(state, "verified") == 0 ||
           strcmp(state, "closed") == 0;
}

static const char *const severity_names[] = {"low", "medium", "high", "critical"};

int agg_severity_rank(const char *severity)
{
    for (int i = 0; severity && i < 4; i++)
        if (strcmp(severity, severity_names[i]) == 0)
            return i;
    return -1;
}

const char *agg_severity_name(int rank)
{
    return severity_names[rank < 0 ? 0 : rank > 3 ? 3 : rank];
}

/* Runs a statement; returns the result when its status is `want`, else NULL
 * with db->fault and db->err set. */
PGresult *agg_q(struct agg_db *db, const char *sql, int n, const char *const *vals,
                ExecStatusType want)
{
    PGresult *r = PQexecParams(db->conn, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    db->fault = voc_db_fault_of(db->conn, r);
    if (db->fault == VOC_DB_OK)
        db->fault = VOC_DB_FATAL;
    voc_db_describe(db->conn, r, db->err, sizeof db->err);
    PQclear(r);
    return NULL;
}

int agg_exec(struct agg_db *db, const char *sql, int n, const char *const *vals)
{
    PGresult *r = agg_q(db, sql, n, vals, PGRES_COMMAND_OK);
    PQclear(r);
    return r ? 0 : -1;
}

int agg_item_call(struct agg_db *db, int rc)
{
    /* voc_item_* functions set db->fault and db->err themselves. */
    (void)db;
    return rc == 0 ? 0 : -1;
}

int agg_audit(struct agg_db *db, long long id, const char *kind, const char *reason,
              const char *fmt, ...)
{
    char *data = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        json_t *j = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
        data = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!data) {
            db->fault = VOC_DB_RETRY; /* out of memory */
            snprintf(db->err, sizeof db->err, "cannot build the audit data");
            return -1;
        }
    }
    int rc = voc_item_audit(db->conn, id, kind, "voc-aggregate", reason, data, &db->fault, db->err,
                            sizeof db->err);
    free(data);
    return rc == 0 ? 0 : -1;
}

int agg_publish(struct agg_db *db, long long id, const char *what)
{
    return voc_item_publish(db->conn, id, what, &db->fault, db->err, sizeof db->err) == 0 ? 0 : -1;
}

int itemdb_counted(struct agg_db *db, const char *const *event_ids, int n, bool *counted)
{
    /* One round trip for the whole batch: which events were counted before. */
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(event_ids[i] ? event_ids[i] : ""));
    char *ids = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!ids)
        return -1;
    const char *vals[] = {ids};
    PGresult *r = agg_q(db,
                        "SELECT event_id FROM voc.item_occurrence WHERE event_id IN "
                        "(SELECT jsonb_array_elements_text($1::jsonb))",
                        1, vals, PGRES_TUPLES_OK);
    free(ids);
    if (!r)
        return -1;
    for (int i = 0; i < n; i++) {
        counted[i] = false;
        for (int row = 0; row < PQntuples(r) && event_ids[i]; row++)
            if (strcmp(PQgetvalue(r, row, 0), event_ids[i]) == 0)
                counted[i] = true;
    }
    PQclear(r);
    return 0;
}

/* Applies the regression rule to a matched item in a done state. Returns 0
 * with *item_id kept (join), *item_id = 0 and *link_to set (open a new,
 * linked item), or -1. */
static int decide_done(struct agg_db *db, const char *state, bool after, bool within,
                       long long *item_id, long long *link_to, const char **how)
{
    char id[24];
    if (!after) { /* a late report of the resolved problem: count it, no reopen */
        *how = "late";
        return 0;
    }
    if (!within) {
        *link_to = *item_id;
        *item_id = 0;
        return 0;
    }
    snprintf(id, sizeof id, "%lld", *item_id);
    const char *vals[] = {id};
    /* Live again: resolved_at is cleared, as every reopening does. */
    if (agg_exec(db,
                 "UPDATE voc.item SET state = 'regressed', resolved_at = NULL, updated_at = now()"
                 " WHERE id = $1::bigint",
                 1, vals) < 0 ||
        agg_audit(db, *item_id, "regressed", "a new occurrence after resolution, within the window",
                  "{s:s, s:s}", "from", state, "to", "regressed") < 0 ||
        agg_publish(db, *item_id, "regressed") < 0 ||
        agg_notice(db, *item_id, "item.regressed") < 0)
        return -1;
    *how = "regression";
    return 0;
}

static int match_fingerprint(struct agg_db *db, const struct agg_event *ev, const char *fp,
                             long long *item_id, long long *link_to, const char **how)
{
    char hours[24];
    snprintf(hours, sizeof hours, "%lld", db->cfg->regression_window_h);
    const char *vals[] = {fp, ev->occurred_at, hours};
    /* Live (and wont_fix) items first; else the most recently resolved one. A
     * merged item stands for the item it was merged into (one level), and the
     * row is locked so that a concurrent merge cannot move it mid-batch. */
    PGresult *r = agg_q(db,
                        "SELECT t.id, t.state, coalesce($2::timestamptz > t.resolved_at, true),"
                        " coalesce($2::timestamptz <= t.resolved_at"
                        "  + make_interval(hours => $3::int), true)"
                        " FROM voc.item i JOIN voc.item t ON t.id = coalesce(i.merged_into, i.id)"
                        " WHERE i.fingerprint = $1 AND t.merged_into IS NULL"
                        " ORDER BY t.state IN " DONE_STATES ", t.resolved_at DESC NULLS FIRST,"
                        " t.id DESC LIMIT 1 FOR UPDATE OF t",
                        3, vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    int rc = 0;
    *how = "exact";
    if (PQntuples(r) == 1) {
        *item_id = atoll(PQgetvalue(r, 0, 0));
        const char *state = PQgetvalue(r, 0, 1);
        if (state_done(state))
            rc = decide_done(db, state, PQgetvalue(r, 0, 2)[0] == 't',
                             PQgetvalue(r, 0, 3)[0] == 't', item_id, link_to, how);
    }
    PQclear(r);
    return rc;
}

#define SIG_BYTES   ((size_t)VOC_MATCH_HASHES * 4)
#define MAX_MEMBERS 5

/* An item is represented by up to MAX_MEMBERS member signatures (its founder
 * and the paraphrases that joined it least alike), so a complaint close to
 * any of them finds the item: comparing with the founder alone splits a
 * cluster whose wordings drift. Returns the best similarity to a member. */
static double member_similarity(const struct voc_signature *sig, const unsigned char *raw,
                                size_t len)
{
    double best = 0;
    struct voc_signature m;
    for (size_t off = 0; off + SIG_BYTES <= len; off += SIG_BYTES) {
        if (voc_match_sig_unpack(raw + off, SIG_BYTES, &m) == 0) {
            double s = voc_match_similarity(sig, &m);
            if (s > best)
                best = s;
        }
    }
    return best;
}

/* Near-duplicate candidates share an LSH band; the best one at or above the
 * threshold wins, live items before done ones. */
/* Locks the chosen item's row for the rest of the batch, so a concurrent
 * merge cannot move it under us (only the winner: candidates stay unlocked). */
static int lock_item(struct agg_db *db, long long id)
{
    char idtxt[24];
    snprintf(idtxt, sizeof idtxt, "%lld", id);
    const char *vals[] = {idtxt};
    PGresult *r = agg_q(db, "SELECT 1 FROM voc.item WHERE id = $1::bigint FOR UPDATE", 1, vals,
                        PGRES_TUPLES_OK);
    PQclear(r);
    return r ? 0 : -1;
}

/* The LSH band hashes of sig as a Postgres bigint[] literal, scoped to one
 * dimension/category: mixing the group into every hash means a lookup only
 * ever meets candidates of its own category (the text rule never compares
 * across categories), instead of fetching look-alikes of every category. */
static void band_list(const struct voc_signature *sig, const char *dimension, const char *category,
                      char *out, size_t len)
{
    int64_t bands[VOC_MATCH_BANDS];
    uint64_t scope = 1469598103934665603ULL; /* FNV-1a over "dimension/category" */
    for (const char *p = dimension; *p; p++)
        scope = (scope ^ (unsigned char)*p) * 1099511628211ULL;
    scope = (scope ^ '/') * 1099511628211ULL;
    for (const char *p = category; *p; p++)
        scope = (scope ^ (unsigned char)*p) * 1099511628211ULL;
    voc_match_bands(sig, bands);
    size_t o = 0;
    out[o++] = '{';
    for (int b = 0; b < VOC_MATCH_BANDS; b++) {
        int64_t h = (int64_t)(((uint64_t)bands[b] ^ scope) & INT64_MAX);
        o += (size_t)snprintf(out + o, len - o, "%s%lld", b ? "," : "", (long long)h);
    }
    snprintf(out + o, len - o, "}");
}

static int match_text(struct agg_db *db, const struct agg_event *ev,
                      const struct voc_signature *sig, long long *item_id, long long *link_to,
                      const char **how, double *sim)
{
    char list[VOC_MATCH_BANDS * 24 + 4], hours[24];
    band_list(sig, ev->dimension, ev->category, list, sizeof list);
    snprintf(hours, sizeof hours, "%lld", db->cfg->regression_window_h);
    const char *vals[] = {list, ev->dimension, ev->category, ev->occurred_at, hours};
    PGresult *r =
        agg_q(db,
              "SELECT t.id, t.state, i.signatures, coalesce($4::timestamptz > t.resolved_at, true),"
              " coalesce($4::timestamptz <= t.resolved_at + make_interval(hours => $5::int), true)"
              " FROM voc.item i JOIN voc.item t ON t.id = coalesce(i.merged_into, i.id)"
              " WHERE i.id IN (SELECT b.item_id FROM voc.item_band b,"
              "  unnest($1::bigint[]) WITH ORDINALITY AS u(hash, band)"
              "  WHERE b.band = u.band - 1 AND b.hash = u.hash)"
              " AND i.dimension = $2 AND i.category = $3 AND i.entity IS NULL"
              " AND t.merged_into IS NULL",
              5, vals, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    int best = -1;
    double best_sim = 0;
    bool best_live = false;
    for (int row = 0; row < PQntuples(r); row++) {
        size_t len;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 2), &len);
        if (!raw)
            continue;
        double s = member_similarity(sig, raw, len);
        PQfreemem(raw);
        const char *st = PQgetvalue(r, row, 1);
        bool live = !state_done(st);
        if (s >= db->cfg->match_threshold &&
            (best < 0 || (live && !best_live) || (live == best_live && s > best_sim))) {
            best = row;
            best_sim = s;
            best_live = live;
        }
    }
    int rc = 0;
    *how = "minhash";
    if (best >= 0) {
        *item_id = atoll(PQgetvalue(r, best, 0));
        *sim = best_sim;
        rc = lock_item(db, *item_id);
        if (rc == 0 && !best_live)
            rc = decide_done(db, PQgetvalue(r, best, 1), PQgetvalue(r, best, 3)[0] == 't',
                             PQgetvalue(r, best, 4)[0] == 't', item_id, link_to, how);
    }
    PQclear(r);
    return rc;
}

int itemdb_match(struct agg_db *db, const struct agg_event *ev, const char *fingerprint,
                 const struct voc_signature *sig, long long *item_id, long long *link_to,
                 const char **how, double *similarity)
{
    *item_id = 0;
    *link_to = 0;
    *similarity = 0;
    if (fingerprint)
        return match_fingerprint(db, ev, fingerprint, item_id, link_to, how);
    *how = "minhash";
    if (sig->empty)
        return 0;
    return match_text(db, ev, sig, item_id, link_to, how, similarity);
}

/* Postgres text-format literals for the parameters that are not plain text. */
static char *bytea_hex(const struct voc_signature *sig)
{
    unsigned char raw[VOC_MATCH_HASHES * 4];
    char *hex = malloc(sizeof raw * 2 + 3);
    if (!hex)
        return NULL;
    voc_match_sig_pack(sig, raw);
    strcpy(hex, "\\x");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

/* The escalation chain as a JSON array: Postgres turns it into text[]. */
static char *escalation_json(const char *const *chain)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && chain && chain[i]; i++)
        json_array_append_new(arr, json_string(chain[i]));
    char *out = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return out;
}

/* The first 80 characters of the text (never cutting a UTF-8 sequence). */
static void make_title(const struct agg_event *ev, const char *entity, char *out, size_t outlen)
{
    if (!ev->text || !*ev->text) {
        snprintf(out, outlen, "%s/%s%s%s", ev->dimension, ev->category, entity ? " " : "",
                 entity ? entity : "");
        return;
    }
    size_t i = 0, chars = 0;
    while (ev->text[i] && chars < 80 && i + 4 < outlen) {
        i++;
        while (((unsigned char)ev->text[i] & 0xc0) == 0x80)
            i++;
        chars++;
    }
    snprintf(out, outlen, "%.*s", (int)i, ev->text);
}

static int store_bands(struct agg_db *db, const char *id, const struct agg_event *ev,
                       const struct voc_signature *sig)
{
    char list[VOC_MATCH_BANDS * 24 + 4];
    band_list(sig, ev->dimension, ev->category, list, sizeof list);
    const char *vals[] = {id, list};
    return agg_exec(db,
                    "INSERT INTO voc.item_band (item_id, band, hash) SELECT $1::bigint, u.band - 1,"
                    " u.hash FROM unnest($2::bigint[]) WITH ORDINALITY AS u(hash, band)"
                    " ON CONFLICT DO NOTHING",
                    2, vals);
}

/* The audit trail of a new item. Its outbox events wait for itemdb_settle(),
 * so that item.opened carries the counts of the batch that opened it. */
static int audit_new(struct agg_db *db, long long id, const struct voc_route *route,
                     const char *match_rule, long long link_to)
{
    char idtxt[24], linktxt[24];
    if (agg_audit(db, id, "opened", "first occurrence", "{s:s, s:s}", "match_rule", match_rule,
                  "department", route->department) < 0)
        return -1;
    if (link_to) {
        snprintf(idtxt, sizeof idtxt, "%lld", id);
        snprintf(linktxt, sizeof linktxt, "%lld", link_to);
        const char *vals[] = {idtxt, linktxt};
        if (agg_exec(db,
                     "INSERT INTO voc.item_link (from_item, to_item, kind)"
                     " VALUES ($1::bigint, $2::bigint, 'regression_of') ON CONFLICT DO NOTHING",
                     2, vals) < 0 ||
            agg_audit(db, id, "linked", "recurred after the regression window of a resolved item",
                      "{s:I}", "regression_of", (json_int_t)link_to) < 0)
            return -1;
    }
    if (route->triage &&
        agg_audit(db, id, "routed", "no routing rule matched: sent to triage", NULL) < 0)
        return -1;
    return 0;
}

int itemdb_open(struct agg_db *db, const struct agg_event *ev, const char *fingerprint,
                const char *entity, const struct voc_signature *sig, const char *match_rule,
                long long link_to, long long *item_id)
{
    struct voc_route route;
    char title[400];
    voc_route(db->routing, ev->dimension, ev->category, entity, ev->severity, &route);
    make_title(ev, entity, title, sizeof title);
    char *escalation = escalation_json(route.escalation);
    char *sighex = sig->empty ? NULL : bytea_hex(sig);
    if (!escalation || (!sig->empty && !sighex)) {
        free(escalation);
        free(sighex);
        return -1;
    }
    const char *vals[] = {
        fingerprint,  ev->dimension,     ev->category,     entity,
        title,        ev->severity,      route.department, route.owner,
        route.notify, escalation,        route.rule,       voc_routing_version(db->routing),
        match_rule,   VOC_MATCH_VERSION, sighex,           ev->occurred_at};
    PGresult *r =
        agg_q(db,
              "INSERT INTO voc.item (fingerprint, dimension, category, entity, title,"
              " severity, department, owner, notify, escalation, routing_rule,"
              " routing_version, match_rule, match_version, signatures, first_seen,"
              " last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
              " ARRAY(SELECT jsonb_array_elements_text($10::jsonb)), $11,"
              " $12, $13, $14, $15::bytea, $16::timestamptz, $16::timestamptz) RETURNING id",
              16, vals, PGRES_TUPLES_OK);
    free(sighex);
    free(escalation);
    if (!r)
        return -1;
    *item_id = atoll(PQgetvalue(r, 0, 0));
    int rc = 0;
    if (!entity && !sig->empty)
        rc = store_bands(db, PQgetvalue(r, 0, 0), ev, sig);
    PQclear(r);
    if (rc == 0)
        rc = audit_new(db, *item_id, &route, match_rule, link_to);
    return rc;
}

int itemdb_add_occurrence(struct agg_db *db, long long item_id, const struct agg_event *ev,
                          const char *how, double similarity)
{
    char id[24], sim[32];
    snprintf(id, sizeof id, "%lld", item_id);
    snprintf(sim, sizeof sim, "%.4f", similarity);
    const char *occ[] = {ev->event_id, id, ev->customer_id, ev->tier, ev->occurred_at, how, sim};
    if (agg_exec(
            db,
            "INSERT INTO voc.item_occurrence (event_id, item_id, customer_id, tier, occurred_at,"
            " match, similarity) VALUES ($1, $2::bigint, $3, $4, $5::timestamptz, $6, $7::real)"
            " ON CONFLICT (event_id) DO NOTHING",
            7, occ) < 0)
        return -1;
    const char *fb[] = {ev->event_id, id};
    if (agg_exec(db, "UPDATE voc.feedback SET item_id = $2::bigint WHERE event_id = $1", 2, fb) < 0)
        return -1;
    if (!ev->text || !*ev->text)
        return 0;
    /* A few distinct representative texts; the title is chosen among them. */
    const char *smp[] = {id, ev->text};
    return agg_exec(db,
                    "UPDATE voc.item SET samples = samples || jsonb_build_array($2::text)"
                    " WHERE id = $1::bigint AND jsonb_array_length(samples) < 5"
                    " AND NOT samples @> jsonb_build_array($2::text)",
                    2, smp);
}

int itemdb_add_member(struct agg_db *db, long long item_id, const struct agg_event *ev,
                      const struct voc_signature *sig)
{
    char id[24], max[24];
    char *hex = bytea_hex(sig);
    if (!hex)
        return -1;
    snprintf(id, sizeof id, "%lld", item_id);
    snprintf(max, sizeof max, "%zu", SIG_BYTES * MAX_MEMBERS);
    const char *vals[] = {id, hex, max};
    PGresult *r = agg_q(db,
                        "UPDATE voc.item SET signatures = signatures || $2::bytea"
                        " WHERE id = $1::bigint AND length(signatures) < $3::int RETURNING id",
                        3, vals, PGRES_TUPLES_OK);
    free(hex);
    if (!r)
        return -1;
    int rc = PQntuples(r) == 1 ? store_bands(db, id, ev, sig) : 0;
    PQclear(r);
    return rc;
}
