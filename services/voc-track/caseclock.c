/* A customer case's clocks: "one complaint, one handling; one question, one
 * follow-up". Derived on every look from the case row, its open tasks and
 * sla.yaml (cases: the policy of the case's tier and channel):
 *   reply     from opened_at (when the customer spoke) to the first reply
 *             (replied_at, or closed_at for a case closed unreplied); the
 *             deadline is the promise, e.g. standard 30 min, VIP 15 min in
 *             business time; cycle = the case id;
 *   followup  per open task, from its created_at: a "followup" task (the
 *             item the customer reported was resolved) has the policy's
 *             follow-up budget; a "progress" task (a promise to the
 *             customer) is due at its due_at: its budget is the business
 *             time between creation and due_at (at least 1 ms; a due_at
 *             outside business hours falls due at the next business
 *             moment); cycle = the task id. A task done stops its clock.
 * Both remind and escalate like items, up the cases chain of sla.yaml, to
 * the department that owns cases; every fire also leaves a reminded or
 * escalated row in voc.case_event. A closed case owes nothing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "voc/log.h"

static const char case_sql[] =
    "SELECT c.id, c.kind, c.tier, c.channel,"
    " (extract(epoch FROM c.opened_at) * 1000)::bigint,"
    " (extract(epoch FROM coalesce(c.replied_at, c.closed_at)) * 1000)::bigint,"
    " (SELECT coalesce(json_agg(json_build_array(k.id, k.kind,"
    "   (extract(epoch FROM k.created_at) * 1000)::bigint,"
    "   (extract(epoch FROM k.due_at) * 1000)::bigint) ORDER BY k.id), '[]')::text"
    "  FROM voc.case_task k WHERE k.case_id = c.id AND k.done_at IS NULL),"
    " (SELECT coalesce(json_agg(json_build_array(f.subject, f.subject_id, f.clock, f.level)),"
    "   '[]')::text FROM voc.sla_fire f"
    "  WHERE (f.subject = 'case' AND f.subject_id = c.id) OR (f.subject = 'case_task'"
    "  AND f.subject_id IN (SELECT k.id FROM voc.case_task k WHERE k.case_id = c.id)))"
    " FROM voc.case c WHERE c.id = ANY($1::bigint[]) AND c.state <> 'closed'";

static bool eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Levels already fired for this subject's clock, as a bit set. */
static uint32_t fired_mask(json_t *fires, const char *subject, long long id, const char *clock)
{
    uint32_t mask = 0;
    size_t n = json_array_size(fires);
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fires, i);
        json_int_t level = json_integer_value(json_array_get(f, 3));
        if (eq(json_string_value(json_array_get(f, 0)), subject) &&
            json_integer_value(json_array_get(f, 1)) == id &&
            eq(json_string_value(json_array_get(f, 2)), clock) && level >= 0 && level < 32)
            mask |= 1u << level;
    }
    return mask;
}

static void set_chain(struct track_run *run, const struct voc_sla_case_policy *p)
{
    run->nchain = 0;
    for (size_t i = 0; p->escalation && p->escalation[i] && run->nchain < TRACK_MAX_LEVELS; i++)
        run->chain[run->nchain++] = p->escalation[i];
    if (run->nchain == 0)
        run->chain[run->nchain++] = p->department;
}

static void sooner(int64_t *next, int64_t at)
{
    if (at < *next)
        *next = at;
}

/* The follow-up clock of one open task; base is the case's run. */
static int eval_task(struct track *t, const struct track_run *base,
                     const struct voc_sla_case_policy *p, json_t *task, json_t *fires, int64_t now,
                     int64_t *next)
{
    char what[160];
    struct track_run run = *base;
    long long id = (long long)json_integer_value(json_array_get(task, 0));
    const char *kind = json_string_value(json_array_get(task, 1));
    int64_t created = (int64_t)json_integer_value(json_array_get(task, 2));
    json_t *due_at = json_array_get(task, 3);
    snprintf(what, sizeof what, "%s task %lld of case %lld", kind ? kind : "follow-up", id,
             base->case_id);
    run.subject = "case_task";
    run.subject_id = id;
    run.cycle = id;
    run.clock = "followup";
    run.policy = p->followup;
    run.start_ms = created;
    run.stop_ms = INT64_MAX;
    run.what = what;
    if (json_is_integer(due_at)) {
        int64_t budget =
            voc_sla_elapsed(p->calendar, created, (int64_t)json_integer_value(due_at), NULL, 0);
        run.policy.budget_ms = budget > 0 ? budget : 1;
    }
    run.fired = fired_mask(fires, "case_task", id, "followup");
    int64_t due;
    if (track_fire_run(t, &run, now, &due) < 0)
        return -1;
    sooner(next, due);
    return 0;
}

static int eval_case(struct track *t, const PGresult *r, int row, int64_t now, int64_t *next)
{
    char what[160];
    long long id = track_ll(r, row, 0);
    const char *tier = PQgetisnull(r, row, 2) ? NULL : PQgetvalue(r, row, 2);
    const char *channel = PQgetisnull(r, row, 3) ? NULL : PQgetvalue(r, row, 3);
    const struct voc_sla_case_policy *p = voc_sla_case(t->sla, tier, channel);
    json_t *tasks = json_loads(PQgetvalue(r, row, 6), 0, NULL);
    json_t *fires = json_loads(PQgetvalue(r, row, 7), 0, NULL);
    snprintf(what, sizeof what, "case %lld (%s %s, %s)", id, tier ? tier : "standard",
             PQgetvalue(r, row, 1), channel ? channel : "no channel");
    struct track_run run = {.subject = "case",
                            .subject_id = id,
                            .case_id = id,
                            .clock = "reply",
                            .cycle = id,
                            .cal = p->calendar,
                            .policy = p->reply,
                            .start_ms = track_ms(r, row, 4),
                            .stop_ms = track_ms(r, row, 5),
                            .department = p->department,
                            .what = what,
                            .fired = fired_mask(fires, "case", id, "reply")};
    set_chain(&run, p);
    int64_t due;
    int rc = track_fire_run(t, &run, now, &due);
    sooner(next, due);
    for (size_t i = 0; rc == 0 && i < json_array_size(tasks); i++)
        rc = eval_task(t, &run, p, json_array_get(tasks, i), fires, now, next);
    json_decref(tasks);
    json_decref(fires);
    return rc;
}

int track_cases_eval(struct track *t, const long long *ids, size_t n, int64_t now)
{
    PGresult *r = track_rows_of(t, case_sql, ids, n, "case_scan", &t->cases);
    if (!r)
        return -1;
    int rc = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t next = INT64_MAX;
        if (rc == 0 && eval_case(t, r, row, now, &next) < 0)
            rc = -1;
        track_due_set(&t->cases, track_ll(r, row, 0), rc == 0 ? next : now);
    }
    PQclear(r);
    return rc;
}
