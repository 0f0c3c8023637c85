/* voc-track: the SLA clock, commands from the voc.command topic, and
 * customer cases.
 *
 * track.c     the handler: state, the batch (commands, cases), the tick
 *             (SLA scan at scan_interval_ms, outbox relay, SIGHUP reload)
 * commands.c  voc.command: validate, dead-letter, run idempotently
 * cases.c     a case for every complaint and low rating (voc.classified)
 * scan.c      which items and cases to look at now (incremental, plus a
 *             periodic full pass), and when each is next due
 * itemclock.c an item's clocks derived from its audit history
 * caseclock.c a case's reply clock and its tasks' follow-up clocks
 * fire.c      firing due levels exactly once (voc.sla_fire + notification)
 * verify.c    auto-verify, auto-close, snooze wake-up
 *
 * Time: every SLA decision uses voc_clock_now_ms() (voc/clock.h); the
 * cadences (scan, relay, full pass) are real time, so a test that moves
 * the clock file sees the effect within one scan interval. */
#ifndef VOC_TRACK_H
#define VOC_TRACK_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/kafka.h"
#include "voc/schema.h"
#include "voc/sla.h"

/* Escalation levels a clock may have (the chain's length, capped). */
#define TRACK_MAX_LEVELS 16

/* When each live subject needs looking at next (scan.c). */
struct track_due {
    long long id;
    int64_t next_ms;
};
struct track_due_map {
    struct track_due *v; /* sorted by id */
    size_t n, cap;
};

struct track {
    const struct voc_config *cfg;
    rd_kafka_t *producer;
    volatile sig_atomic_t *reload;
    struct voc_sla *sla;
    struct voc_schemas *schemas;
    PGconn *conn;
    char instance[96]; /* host:pid, recorded in voc.sla_fire.fired_by */
    /* scan.c's memory: what is due when, and how far the audit was read. */
    struct track_due_map items, cases;
    long long last_item_event, last_case_event;
    bool full_pending, db_down;
    int64_t last_scan_mono, last_full_mono, last_relay_mono, last_totals_mono;
    unsigned long long commands, refused, duplicates, deadlettered, cases_opened;
    unsigned long long fired, verified, closed, woken;
};

int64_t track_mono_ms(void);
/* Connects when needed. 0, or -1 (logged). */
int track_connect(struct track *t);
/* After a failed statement: drops the connection when it is gone. */
void track_db_failed(struct track *t, const char *what, enum voc_db_fault fault, const char *err);
/* Runs a parameterised statement; the result when its status is want, else
 * NULL with *fault and err. */
PGresult *track_q(struct track *t, const char *sql, int n, const char *const *vals,
                  ExecStatusType want, enum voc_db_fault *fault, char *err, size_t errlen);
int track_exec(struct track *t, const char *sql, enum voc_db_fault *fault, char *err,
               size_t errlen);
long long track_ll(const PGresult *r, int row, int col); /* 0 for NULL */
int64_t track_ms(const PGresult *r, int row, int col);   /* INT64_MAX for NULL */

/* commands.c: one command message. Returns 0 (done, refused, duplicate or
 * dead-lettered through tr), -1 when it must be retried. */
int track_command(struct track *t, const rd_kafka_message_t *m, struct voc_produce_tracker *tr);

/* cases.c: the classified events of a batch that open cases, in one
 * transaction (each under a savepoint: one Postgres refuses is
 * dead-lettered). Returns 0, or -1 when the batch must be retried. */
int track_cases(struct track *t, rd_kafka_message_t **msgs, size_t n,
                struct voc_produce_tracker *tr);

/* scan.c: one pass of the SLA clock. */
void track_scan(struct track *t);
void track_due_set(struct track_due_map *m, long long id, int64_t next_ms);
void track_due_free(struct track_due_map *m);
/* The rows of sql ($1: ids as a bigint[]) for the ids looked at; each id is
 * first marked in dues as needing no more looks (rows not returned are
 * closed, merged away or gone), the caller sets the rest. NULL when the query
 * fails (logged as `what`) or memory runs out. */
PGresult *track_rows_of(struct track *t, const char *sql, const long long *ids, size_t n,
                        const char *what, struct track_due_map *dues);

/* One run of one clock, as fire.c needs it. */
struct track_run {
    const char *subject; /* item, case, case_task */
    long long subject_id;
    long long case_id; /* case and case_task: the case (audit rows), else 0 */
    const char *clock; /* ack, resolve, reply, followup */
    long long cycle;
    const struct voc_sla_calendar *cal;
    struct voc_sla_clock policy; /* budget, reminder share, intervals */
    int64_t start_ms, stop_ms;   /* stop_ms: INT64_MAX while running */
    const struct voc_sla_pause *pauses;
    size_t npauses;
    const char *chain[TRACK_MAX_LEVELS]; /* recipients, level 1.. = chain[0..] */
    size_t nchain;
    const char *department, *severity, *what; /* what: one line about the subject */
    uint32_t fired; /* bit L: level L already in voc.sla_fire for this cycle */
};

/* fire.c: fires every level of run that is due at now and not yet fired,
 * in level order, in one transaction (none when nothing is due). *next_ms
 * receives when its next level falls due (INT64_MAX: never). Returns how
 * many it fired, or -1 (database: retry at the next scan). */
int track_fire_run(struct track *t, const struct track_run *run, int64_t now, int64_t *next_ms);

/* itemclock.c / caseclock.c: evaluate these subjects at now; each id's next
 * due time goes to the map (removed when none). 0, or -1 (database). */
int track_items_eval(struct track *t, const long long *ids, size_t n, int64_t now);
int track_cases_eval(struct track *t, const long long *ids, size_t n, int64_t now);

/* verify.c: the automatic item moves, each in its own transaction. */
enum track_move { TRACK_VERIFY, TRACK_CLOSE, TRACK_WAKE };
int track_item_move(struct track *t, long long item_id, enum track_move move, const char *why);

#endif
