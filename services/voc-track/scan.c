/* Which items and cases the SLA scan looks at, and when.
 *
 * Looking at every live item every second would not scale (10k open items,
 * each with a long audit trail), so each pass looks only at
 *   - subjects whose history moved since the last pass: new voc.item_event
 *     rows of the kinds that matter to a clock or a move (opened, regressed,
 *     state_changed, recurred) and any new voc.case_event row (new cases,
 *     replies, tasks, closes), read by id from where the last pass stopped;
 *   - subjects that fall due: after each look the next instant at which
 *     something can happen to the subject (a level, a verify, a close, a
 *     wake-up) is kept in memory, and the pass takes those now due;
 *   - everything live, in a full pass at start, after SIGHUP (a new
 *     sla.yaml moves deadlines), after any failure, and every 30 s of real
 *     time. The full pass also catches audit rows whose ids committed out of
 *     order behind the position read (a concurrent transaction).
 * The memory is only a shortcut: what fires is decided from the database
 * alone (fire.c), so losing it (a restart) loses nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "voc/clock.h"
#include "voc/log.h"

#define FULL_PASS_MS 30000
#define CHUNK        500

struct idvec {
    long long *v;
    size_t n, cap;
};

static int push(struct idvec *a, long long id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        long long *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return 0;
}

static size_t find(const struct track_due_map *m, long long id, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && m->v[lo].id == id;
    return lo;
}

void track_due_set(struct track_due_map *m, long long id, int64_t next_ms)
{
    bool found;
    size_t i = find(m, id, &found);
    if (found && next_ms == INT64_MAX) {
        memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof *m->v);
        m->n--;
        return;
    }
    if (found || next_ms == INT64_MAX) {
        if (found)
            m->v[i].next_ms = next_ms;
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct track_due *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return; /* forgotten until the next full pass */
        m->v = v;
        m->cap = cap;
    }
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof *m->v);
    m->v[i] = (struct track_due){id, next_ms};
    m->n++;
}

void track_due_free(struct track_due_map *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* ids as a Postgres array literal ("{1,2}"), malloc'd; NULL when out of memory. */
static char *id_array(const long long *ids, size_t n)
{
    size_t cap = n * 21 + 3, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "", ids[i]);
    snprintf(s + len, cap - len, "}");
    return s;
}

PGresult *track_rows_of(struct track *t, const char *sql, const long long *ids, size_t n,
                        const char *what, struct track_due_map *dues)
{
    char err[512];
    enum voc_db_fault fault;
    char *arr = id_array(ids, n);
    if (!arr)
        return NULL;
    const char *vals[] = {arr};
    PGresult *r = track_q(t, sql, 1, vals, PGRES_TUPLES_OK, &fault, err, sizeof err);
    free(arr);
    if (!r) {
        track_db_failed(t, what, fault, err);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        track_due_set(dues, ids[i], INT64_MAX);
    return r;
}

/* Appends the ids of a Postgres array literal ("{1,2}"). */
static int parse_ids(const char *s, struct idvec *out)
{
    for (const char *p = s; *p;) {
        char *end;
        long long id = strtoll(p, &end, 10);
        if (end != p) {
            if (push(out, id) < 0)
                return -1;
            p = end;
        } else {
            p++;
        }
    }
    return 0;
}

/* Runs a query whose rows' first column are ids. */
static int query_ids(struct track *t, const char *sql, int n, const char *const *vals,
                     struct idvec *out, PGresult **keep)
{
    char err[512];
    enum voc_db_fault fault;
    PGresult *r = track_q(t, sql, n, vals, PGRES_TUPLES_OK, &fault, err, sizeof err);
    if (!r) {
        track_db_failed(t, "scan", fault, err);
        return -1;
    }
    int rc = 0;
    for (int row = 0; row < PQntuples(r) && rc == 0 && !keep; row++)
        rc = push(out, track_ll(r, row, 0));
    if (keep)
        *keep = r;
    else
        PQclear(r);
    return rc;
}

static int gather_full(struct track *t, struct idvec *items, struct idvec *cases)
{
    PGresult *r;
    /* The positions first: whatever commits after them is read next pass. */
    if (query_ids(t,
                  "SELECT coalesce((SELECT max(id) FROM voc.item_event), 0),"
                  " coalesce((SELECT max(id) FROM voc.case_event), 0)",
                  0, NULL, NULL, &r) < 0)
        return -1;
    t->last_item_event = track_ll(r, 0, 0);
    t->last_case_event = track_ll(r, 0, 1);
    PQclear(r);
    if (query_ids(t,
                  "SELECT id FROM voc.item WHERE merged_into IS NULL AND state IN ('open',"
                  " 'acknowledged', 'in_progress', 'regressed', 'snoozed', 'resolved', 'verified')",
                  0, NULL, items, NULL) < 0)
        return -1;
    return query_ids(t, "SELECT id FROM voc.case WHERE state <> 'closed'", 0, NULL, cases, NULL);
}

/* Subjects with audit rows after *last; moves *last on. */
static int gather_since(struct track *t, const char *sql, long long *last, struct idvec *out)
{
    char pos[24];
    PGresult *r;
    snprintf(pos, sizeof pos, "%lld", *last);
    const char *vals[] = {pos};
    if (query_ids(t, sql, 1, vals, NULL, &r) < 0)
        return -1;
    int rc = parse_ids(PQgetvalue(r, 0, 1), out);
    if (rc == 0)
        *last = track_ll(r, 0, 0);
    PQclear(r);
    return rc;
}

static int gather_changed(struct track *t, struct idvec *items, struct idvec *cases)
{
    if (gather_since(
            t,
            "WITH n AS (SELECT item_id, id, kind FROM voc.item_event WHERE id > $1::bigint)"
            " SELECT coalesce((SELECT max(id) FROM n), $1::bigint),"
            " (SELECT coalesce(array_agg(DISTINCT item_id), '{}') FROM n WHERE kind IN"
            " ('opened', 'regressed', 'state_changed', 'recurred'))::text",
            &t->last_item_event, items) < 0)
        return -1;
    return gather_since(t,
                        "WITH n AS (SELECT case_id, id FROM voc.case_event WHERE id > $1::bigint)"
                        " SELECT coalesce((SELECT max(id) FROM n), $1::bigint),"
                        " (SELECT coalesce(array_agg(DISTINCT case_id), '{}') FROM n)::text",
                        &t->last_case_event, cases);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Adds the subjects due by now, sorts, drops repeats. */
static int settle_ids(const struct track_due_map *m, int64_t now, struct idvec *ids)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].next_ms <= now && push(ids, m->v[i].id) < 0)
            return -1;
    if (ids->n)
        qsort(ids->v, ids->n, sizeof *ids->v, cmp_ll);
    size_t kept = 0;
    for (size_t i = 0; i < ids->n; i++)
        if (kept == 0 || ids->v[kept - 1] != ids->v[i])
            ids->v[kept++] = ids->v[i];
    ids->n = kept;
    return 0;
}

static int eval_all(struct track *t, const struct idvec *ids, int64_t now,
                    int (*eval)(struct track *, const long long *, size_t, int64_t))
{
    for (size_t i = 0; i < ids->n; i += CHUNK) {
        size_t n = ids->n - i < CHUNK ? ids->n - i : CHUNK;
        if (eval(t, ids->v + i, n, now) < 0)
            return -1;
    }
    return 0;
}

void track_scan(struct track *t)
{
    struct idvec items = {0}, cases = {0};
    if (track_connect(t) < 0)
        return;
    int64_t now = voc_clock_now_ms(), mono = track_mono_ms();
    bool full = t->full_pending || mono - t->last_full_mono >= FULL_PASS_MS;
    int rc = full ? gather_full(t, &items, &cases) : gather_changed(t, &items, &cases);
    if (rc == 0)
        rc = settle_ids(&t->items, now, &items);
    if (rc == 0)
        rc = settle_ids(&t->cases, now, &cases);
    if (rc == 0)
        rc = eval_all(t, &items, now, track_items_eval);
    if (rc == 0)
        rc = eval_all(t, &cases, now, track_cases_eval);
    if (rc < 0) {
        t->full_pending = true; /* what this pass missed, the next one sees */
    } else if (full) {
        t->full_pending = false;
        t->last_full_mono = mono;
        voc_log(VOC_LOG_DEBUG, "sla_full_pass", "items=%zu cases=%zu due_items=%zu due_cases=%zu",
                items.n, cases.n, t->items.n, t->cases.n);
    }
    free(items.v);
    free(cases.v);
}
