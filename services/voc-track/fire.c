/* Firing the due levels of one clock run, each exactly once.
 *
 * Levels: 0 is the reminder (at the policy's share of the budget), 1..n the
 * escalation chain after the deadline, each after its own interval
 * (voc_sla_clock_due). A level fires when it is due, not fired before, and
 * the clock still runs: a clock that stopped (acknowledged, resolved,
 * replied, task done) fires nothing more, whatever it missed.
 *
 * Exactly once: INSERT INTO voc.sla_fire ... ON CONFLICT DO NOTHING, and the
 * notification (voc_notice_add: the outbox, topic voc.notification) only
 * when that insert added the row, in the same transaction. A second
 * voc-track instance racing for the same level waits on the row lock of the
 * first's insert and then inserts nothing; a crash before COMMIT leaves
 * neither, and the next scan (of any instance) fires it. Levels missed while
 * no voc-track ran are fired late, once each, in level order (catch-up:
 * nobody is spared a page because the pager was down). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "voc/case.h"
#include "voc/log.h"
#include "voc/notice.h"

struct fire_ctx {
    struct track *t;
    const struct track_run *run;
    int64_t now;
    char deadline[32];
    enum voc_db_fault fault;
    char err[512];
};

static const char *doing(const char *clock)
{
    if (strcmp(clock, "ack") == 0)
        return "acknowledge";
    if (strcmp(clock, "resolve") == 0)
        return "resolve";
    if (strcmp(clock, "reply") == 0)
        return "first reply to the customer";
    return "follow up with the customer";
}

static const char *recipient_of(const struct track_run *run, int level)
{
    size_t i = level > 0 ? (size_t)level - 1 : 0;
    return i < run->nchain ? run->chain[i] : NULL;
}

/* Inserts the level's voc.sla_fire row. 1 when added, 0 when it existed, -1. */
static int claim(struct fire_ctx *f, int level, int64_t due_ms)
{
    const struct track_run *run = f->run;
    char id[24], cycle[24], lv[8], due[32], now[32];
    snprintf(id, sizeof id, "%lld", run->subject_id);
    snprintf(cycle, sizeof cycle, "%lld", run->cycle);
    snprintf(lv, sizeof lv, "%d", level);
    voc_sla_format_ms(due_ms, due, sizeof due);
    voc_sla_format_ms(f->now, now, sizeof now);
    const char *vals[] = {run->subject,
                          id,
                          run->clock,
                          cycle,
                          lv,
                          level == 0 ? "sla.reminder" : "sla.escalation",
                          recipient_of(run, level),
                          run->department,
                          due,
                          f->deadline,
                          now,
                          f->t->instance};
    PGresult *r =
        track_q(f->t,
                "INSERT INTO voc.sla_fire (subject, subject_id, clock, cycle, level, kind,"
                " recipient, department, due_at, deadline_at, fired_at, fired_by)"
                " VALUES ($1, $2::bigint, $3, $4::bigint, $5::smallint, $6, $7, $8,"
                " $9::timestamptz, $10::timestamptz, $11::timestamptz, $12)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                12, vals, PGRES_TUPLES_OK, &f->fault, f->err, sizeof f->err);
    if (!r)
        return -1;
    int added = PQntuples(r) == 1;
    PQclear(r);
    return added;
}

/* The notification (and, for cases, the audit row) of a level just claimed. */
static int announce(struct fire_ctx *f, int level, size_t nlevels)
{
    const struct track_run *run = f->run;
    char title[400], text[400];
    const char *who = recipient_of(run, level);
    if (level == 0)
        snprintf(title, sizeof title, "Reminder: %s: %s by %s", run->what, doing(run->clock),
                 f->deadline);
    else
        snprintf(title, sizeof title, "SLA breached, escalation %d/%zu: %s: %s was due %s", level,
                 nlevels, run->what, doing(run->clock), f->deadline);
    snprintf(text, sizeof text, "%s %s %lld, clock %s, level %d%s%s", run->subject,
             level == 0 ? "reminder for" : "escalated to level", run->subject_id, run->clock, level,
             who ? ", addressed to " : "", who ? who : "");
    struct voc_notice n = {
        .kind = level == 0 ? "sla.reminder" : "sla.escalation",
        .department = run->department,
        .recipient = who,
        .level = level,
        .subject = run->subject,
        .subject_id = run->subject_id,
        .title = title,
        .severity = run->severity,
        .due_at = f->deadline,
        .text = text,
    };
    if (voc_notice_add(f->t->conn, f->t->cfg->topics.notification, &n, &f->fault, f->err,
                       sizeof f->err) < 0)
        return -1;
    if (!run->case_id)
        return 0;
    json_t *data = json_pack("{s:s, s:I, s:s, s:i, s:s?}", "subject", run->subject, "subject_id",
                             (json_int_t)run->subject_id, "clock", run->clock, "level", level,
                             "recipient", who);
    char *data_s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    int rc =
        data_s ? voc_case_audit(f->t->conn, run->case_id, level == 0 ? "reminded" : "escalated",
                                "voc-track", title, data_s, NULL, &f->fault, f->err, sizeof f->err)
               : -1;
    free(data_s);
    return rc;
}

/* Claims and announces the levels in todo[], in one transaction. */
static int fire_levels(struct fire_ctx *f, const int *todo, const int64_t *due_of, int n,
                       size_t nlevels)
{
    int fired = 0;
    if (track_exec(f->t, "BEGIN", &f->fault, f->err, sizeof f->err) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        int added = claim(f, todo[i], due_of[i]);
        if (added < 0 || (added && announce(f, todo[i], nlevels) < 0))
            return -1;
        if (added)
            voc_log(VOC_LOG_INFO, "sla_fired", "subject=%s id=%lld clock=%s cycle=%lld level=%d",
                    f->run->subject, f->run->subject_id, f->run->clock, f->run->cycle, todo[i]);
        fired += added;
    }
    if (track_exec(f->t, "COMMIT", &f->fault, f->err, sizeof f->err) < 0)
        return -1;
    return fired;
}

int track_fire_run(struct track *t, const struct track_run *run, int64_t now, int64_t *next_ms)
{
    int64_t due[2 + TRACK_MAX_LEVELS], due_of[1 + TRACK_MAX_LEVELS];
    int todo[1 + TRACK_MAX_LEVELS], n = 0;
    *next_ms = INT64_MAX;
    if (run->policy.budget_ms <= 0 || run->stop_ms != INT64_MAX)
        return 0;
    size_t nlevels = run->nchain < TRACK_MAX_LEVELS ? run->nchain : TRACK_MAX_LEVELS;
    voc_sla_clock_due(run->cal, &run->policy, run->start_ms, run->pauses, run->npauses, nlevels,
                      due);
    for (size_t level = 0; level <= nlevels; level++) {
        int64_t d = level == 0 ? due[0] : due[1 + level];
        if (d == INT64_MAX || (run->fired & (1u << level)))
            continue;
        if (d > now) {
            if (d < *next_ms)
                *next_ms = d;
            continue;
        }
        due_of[n] = d;
        todo[n++] = (int)level;
    }
    if (n == 0)
        return 0;
    struct fire_ctx f = {.t = t, .run = run, .now = now};
    voc_sla_format_ms(due[1], f.deadline, sizeof f.deadline);
    int fired = fire_levels(&f, todo, due_of, n, nlevels);
    if (fired < 0) {
        track_db_failed(t, "sla_fire", f.fault, f.err);
        return -1;
    }
    t->fired += (unsigned long long)fired;
    return fired;
}
