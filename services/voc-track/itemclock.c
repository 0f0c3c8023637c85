/* An item's SLA clocks, derived from its audit history (voc.item_event) and
 * sla.yaml on every look, never stored: a restart, a second instance or a
 * changed sla.yaml computes the same deadlines from the same rows.
 *
 * The cycle: the latest audit row that started work afresh, i.e. the item
 * was opened (kind opened), regressed (kind regressed, by voc-aggregate or
 * by hand) or reopened (state_changed to open from anything but snoozed).
 * Its id is the cycle in voc.sla_fire, so a regressed item is reminded and
 * escalated afresh, and a level fired in an earlier cycle does not count.
 * An item with no such row (none should exist) runs from its created_at as
 * cycle 0. Ordering is by audit id, the order the changes committed in.
 *
 * Two clocks run from the cycle's start, both in business time of the
 * severity's calendar (critical: usually 24x7):
 *   ack      stops at the first move to anything but open, regressed or
 *            snoozed (acknowledged, in_progress, resolved, wont_fix, ...);
 *   resolve  stops at the first move to resolved, verified, closed, wont_fix.
 * Spans in snoozed (state_changed to snoozed until the next move out of it)
 * pause both. Recipients by level: the item's escalation chain (routing:
 * handler -> the assignee, or the owner while unassigned; owner -> the
 * routed owner; other names as they are), level 0 (the reminder) goes to
 * the first of them. An empty chain escalates once, to the owner. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "voc/log.h"
#include "voc/timeutil.h"

#define MAX_PAUSES 64

/* What the history says about the current cycle. */
struct item_hist {
    long long cycle;
    int64_t start, ack_stop, resolve_stop, verified_at, snooze_until;
    long long snooze_more;
    struct voc_sla_pause pauses[MAX_PAUSES];
    size_t npauses;
};

/* One item row of the query below. */
struct item_row {
    long long id, occurrences;
    const char *state, *severity, *department, *owner, *assignee, *title;
    int64_t resolved_at, last_seen, created_at;
    json_t *chain, *events, *fires;
};

static const char item_sql[] =
    "SELECT i.id, i.state, i.severity, i.department, i.owner, i.assignee,"
    " to_json(i.escalation)::text, i.title,"
    " (extract(epoch FROM i.resolved_at) * 1000)::bigint,"
    " (extract(epoch FROM i.last_seen) * 1000)::bigint, i.occurrences,"
    " (extract(epoch FROM i.created_at) * 1000)::bigint,"
    " (SELECT coalesce(json_agg(json_build_array(e.id, (extract(epoch FROM e.at) * 1000)::bigint,"
    "   e.kind, e.data->>'from', e.data->>'to', e.data->>'until',"
    "   e.data->>'wake_at_occurrences') ORDER BY e.id), '[]')::text"
    "  FROM voc.item_event e WHERE e.item_id = i.id"
    "  AND e.kind IN ('opened', 'regressed', 'state_changed')"
    "  AND e.id >= coalesce((SELECT max(s.id) FROM voc.item_event s WHERE s.item_id = i.id"
    "   AND s.kind IN ('opened', 'regressed', 'state_changed') AND (s.kind <> 'state_changed'"
    "   OR (s.data->>'to' = 'open' AND s.data->>'from' IS DISTINCT FROM 'snoozed'))), 0)),"
    " (SELECT coalesce(json_agg(json_build_array(f.clock, f.cycle, f.level)), '[]')::text"
    "  FROM voc.sla_fire f WHERE f.subject = 'item' AND f.subject_id = i.id)"
    " FROM voc.item i WHERE i.id = ANY($1::bigint[]) AND i.merged_into IS NULL";

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool starts_cycle(const char *kind, const char *from, const char *to)
{
    return eq(kind, "opened") || eq(kind, "regressed") ||
           (eq(kind, "state_changed") && eq(to, "open") && !eq(from, "snoozed"));
}

static const char *ev_str(json_t *e, size_t i)
{
    return json_string_value(json_array_get(e, i));
}

/* One state change after the cycle's start. */
static void apply_change(struct item_hist *h, int64_t at, const char *from, const char *to,
                         json_t *e)
{
    if (eq(from, "snoozed") && h->npauses && h->pauses[h->npauses - 1].to_ms == INT64_MAX)
        h->pauses[h->npauses - 1].to_ms = at;
    if (eq(to, "snoozed")) {
        if (h->npauses < MAX_PAUSES)
            h->pauses[h->npauses++] = (struct voc_sla_pause){at, INT64_MAX};
        h->snooze_until = INT64_MAX;
        if (ev_str(e, 5))
            voc_time_parse_ms(ev_str(e, 5), &h->snooze_until);
        h->snooze_more = ev_str(e, 6) ? atoll(ev_str(e, 6)) : 0;
    }
    if (h->ack_stop == INT64_MAX && !eq(to, "open") && !eq(to, "regressed") && !eq(to, "snoozed"))
        h->ack_stop = at;
    if (h->resolve_stop == INT64_MAX &&
        (eq(to, "resolved") || eq(to, "verified") || eq(to, "closed") || eq(to, "wont_fix")))
        h->resolve_stop = at;
    if (eq(to, "verified"))
        h->verified_at = at;
}

/* events: [id, at_ms, kind, from, to, until, wake_at_occurrences], by id,
 * from the cycle's start on. */
static void derive(const struct item_row *it, struct item_hist *h)
{
    memset(h, 0, sizeof *h);
    h->start = it->created_at;
    h->ack_stop = h->resolve_stop = h->verified_at = h->snooze_until = INT64_MAX;
    size_t i = 0, n = json_array_size(it->events);
    json_t *first = json_array_get(it->events, 0);
    if (first && starts_cycle(ev_str(first, 2), ev_str(first, 3), ev_str(first, 4))) {
        h->cycle = (long long)json_integer_value(json_array_get(first, 0));
        h->start = (int64_t)json_integer_value(json_array_get(first, 1));
        i = 1;
    }
    for (; i < n; i++) {
        json_t *e = json_array_get(it->events, i);
        if (eq(ev_str(e, 2), "state_changed"))
            apply_change(h, (int64_t)json_integer_value(json_array_get(e, 1)), ev_str(e, 3),
                         ev_str(e, 4), e);
    }
}

/* The run's recipients from the item's chain. */
static void build_chain(const struct item_row *it, struct track_run *run)
{
    size_t n = json_array_size(it->chain);
    run->nchain = 0;
    for (size_t i = 0; i < n && run->nchain < TRACK_MAX_LEVELS; i++) {
        const char *name = json_string_value(json_array_get(it->chain, i));
        if (!name)
            continue;
        if (strcmp(name, "handler") == 0)
            name = it->assignee ? it->assignee : it->owner ? it->owner : name;
        else if (strcmp(name, "owner") == 0 && it->owner)
            name = it->owner;
        run->chain[run->nchain++] = name;
    }
    if (run->nchain == 0)
        run->chain[run->nchain++] = it->owner ? it->owner : it->department;
}

/* Levels of clock fired in this cycle, as a bit set. */
static uint32_t fired_mask(json_t *fires, const char *clock, long long cycle)
{
    uint32_t mask = 0;
    size_t n = json_array_size(fires);
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fires, i);
        json_int_t level = json_integer_value(json_array_get(f, 2));
        if (eq(ev_str(f, 0), clock) && json_integer_value(json_array_get(f, 1)) == cycle &&
            level >= 0 && level < 32)
            mask |= 1u << level;
    }
    return mask;
}

static int run_clocks(struct track *t, const struct item_row *it, const struct item_hist *h,
                      const struct voc_sla_item_policy *p, int64_t now, int64_t *next)
{
    char what[200];
    snprintf(what, sizeof what, "item %lld (%s) \"%.120s\"", it->id, it->severity, it->title);
    struct track_run run = {.subject = "item",
                            .subject_id = it->id,
                            .cycle = h->cycle,
                            .cal = p->calendar,
                            .start_ms = h->start,
                            .pauses = h->pauses,
                            .npauses = h->npauses,
                            .department = it->department,
                            .severity = it->severity,
                            .what = what};
    build_chain(it, &run);
    const char *clocks[] = {"ack", "resolve"};
    const struct voc_sla_clock *policies[] = {&p->ack, &p->resolve};
    const int64_t stops[] = {h->ack_stop, h->resolve_stop};
    for (int c = 0; c < 2; c++) {
        int64_t due;
        run.clock = clocks[c];
        run.policy = *policies[c];
        run.stop_ms = stops[c];
        run.fired = fired_mask(it->fires, clocks[c], h->cycle);
        if (track_fire_run(t, &run, now, &due) < 0)
            return -1;
        if (due < *next)
            *next = due;
    }
    return 0;
}

static void sooner(int64_t *next, int64_t at)
{
    if (at < *next)
        *next = at;
}

/* Auto-verify, auto-close and snooze wake-up. */
static int auto_moves(struct track *t, const struct item_row *it, const struct item_hist *h,
                      const struct voc_sla_item_policy *p, int64_t now, int64_t *next)
{
    if (eq(it->state, "resolved") && p && p->verify_quiet_ms > 0 && it->resolved_at != INT64_MAX &&
        it->last_seen <= it->resolved_at) {
        int64_t due = it->resolved_at + p->verify_quiet_ms;
        if (now >= due)
            return track_item_move(t, it->id, TRACK_VERIFY, "no recurrence since resolution");
        sooner(next, due);
    }
    if (eq(it->state, "verified") && p && p->close_after_ms > 0 && h->verified_at != INT64_MAX) {
        int64_t due = h->verified_at + p->close_after_ms;
        if (now >= due)
            return track_item_move(t, it->id, TRACK_CLOSE, "verified and quiet");
        sooner(next, due);
    }
    if (eq(it->state, "snoozed")) {
        if (h->snooze_more > 0 && it->occurrences >= h->snooze_more)
            return track_item_move(t, it->id, TRACK_WAKE, "snooze: occurrences reached");
        if (h->snooze_until != INT64_MAX && now >= h->snooze_until)
            return track_item_move(t, it->id, TRACK_WAKE, "snooze: time is up");
        sooner(next, h->snooze_until);
    }
    return 0;
}

static void read_row(const PGresult *r, int row, struct item_row *it)
{
    memset(it, 0, sizeof *it);
    it->id = track_ll(r, row, 0);
    it->state = PQgetvalue(r, row, 1);
    it->severity = PQgetvalue(r, row, 2);
    it->department = PQgetvalue(r, row, 3);
    it->owner = PQgetisnull(r, row, 4) ? NULL : PQgetvalue(r, row, 4);
    it->assignee = PQgetisnull(r, row, 5) ? NULL : PQgetvalue(r, row, 5);
    it->chain = json_loads(PQgetvalue(r, row, 6), 0, NULL);
    it->title = PQgetvalue(r, row, 7);
    it->resolved_at = track_ms(r, row, 8);
    it->last_seen = track_ms(r, row, 9);
    it->occurrences = track_ll(r, row, 10);
    it->created_at = track_ms(r, row, 11);
    it->events = json_loads(PQgetvalue(r, row, 12), 0, NULL);
    it->fires = json_loads(PQgetvalue(r, row, 13), 0, NULL);
}

static void clear_row(struct item_row *it)
{
    json_decref(it->chain);
    json_decref(it->events);
    json_decref(it->fires);
}

/* One item: fire what is due, move what must move; *next = when to look again. */
static int eval_item(struct track *t, const struct item_row *it, int64_t now, int64_t *next)
{
    struct item_hist h;
    *next = INT64_MAX;
    derive(it, &h);
    const struct voc_sla_item_policy *p = voc_sla_item(t->sla, it->severity);
    if (p && run_clocks(t, it, &h, p, now, next) < 0)
        return -1;
    return auto_moves(t, it, &h, p, now, next);
}

int track_items_eval(struct track *t, const long long *ids, size_t n, int64_t now)
{
    PGresult *r = track_rows_of(t, item_sql, ids, n, "item_scan", &t->items);
    if (!r)
        return -1;
    int rc = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        struct item_row it;
        int64_t next = now; /* after a failure: look again at the next scan */
        read_row(r, row, &it);
        if (rc == 0 && it.chain && it.events && it.fires && eval_item(t, &it, now, &next) < 0) {
            rc = -1;
            next = now;
        }
        track_due_set(&t->items, it.id, next);
        clear_row(&it);
    }
    PQclear(r);
    return rc;
}
