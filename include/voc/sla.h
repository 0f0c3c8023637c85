/* Service levels: deploy/config/sla.yaml. Policies (how long people have to
 * acknowledge, resolve, reply) and the business-hours calendars they are
 * counted in. Pure computation, no I/O after load: voc-track derives every
 * deadline from an item's or case's audit history with these functions, so
 * a restart or a config change recomputes the same deadlines.
 *
 * All times are milliseconds since the Unix epoch (UTC); durations of a
 * policy are business milliseconds of its calendar. */
#ifndef VOC_SLA_H
#define VOC_SLA_H

#include <stddef.h>
#include <stdint.h>

#include "voc/diag.h"

struct voc_sla;          /* opaque, immutable after load */
struct voc_sla_calendar; /* owned by its struct voc_sla */

/* What a clock's deadline leads to, once passed: levels of the escalation
 * chain, each after its own interval. */
struct voc_sla_clock {
    int64_t budget_ms; /* business ms from the clock's start to its deadline; 0 = no clock */
    double remind_at;  /* share of budget_ms at which one reminder goes (0 = none) */
    /* Escalation: level i+1 (1-based, the (i+1)-th name of the chain) fires
     * escalate_ms[i] business ms after level i (level 1: after the deadline,
     * usually 0). A chain longer than the list repeats its last interval. */
    const int64_t *escalate_ms;
    size_t nescalate;
};

/* The policy for an item of one severity (low, medium, high, critical). */
struct voc_sla_item_policy {
    const struct voc_sla_calendar *calendar;
    struct voc_sla_clock ack;     /* open or regressed -> acknowledged (or later) */
    struct voc_sla_clock resolve; /* open or regressed -> resolved */
    int64_t verify_quiet_ms;      /* wall ms a resolved item must see no recurrence to
                                     become verified; 0 = never automatically */
    int64_t close_after_ms;       /* wall ms from verified to closed; 0 = never */
};

/* The policy for a customer case of one tier and channel. */
struct voc_sla_case_policy {
    const struct voc_sla_calendar *calendar;
    struct voc_sla_clock reply;    /* case opened -> first reply (standard 30 min, VIP 15) */
    struct voc_sla_clock followup; /* a follow-up task created -> done */
    const char *const *escalation; /* NULL-terminated chain (names as in routing.yaml) */
    const char *department;        /* routing.yaml department that owns cases */
};

/* Loads and checks the file; every problem goes to diag as file:line.
 * Returns NULL if there was any. Call it from one thread only (start-up,
 * SIGHUP): it briefly switches the process's TZ to read each calendar's
 * zone (see common/sla_zone.c). Everything below is pure and thread-safe. */
struct voc_sla *voc_sla_load(const char *path, struct voc_diag *diag);
void voc_sla_free(struct voc_sla *s);
const char *voc_sla_version(const struct voc_sla *s);

/* The policy for a severity; NULL when the severity is unknown. Points into s. */
const struct voc_sla_item_policy *voc_sla_item(const struct voc_sla *s, const char *severity);
/* The policy for a customer tier (standard, vip, svip; NULL = standard) and
 * channel (NULL or unknown = the tier's default). Never NULL for a loaded s. */
const struct voc_sla_case_policy *voc_sla_case(const struct voc_sla *s, const char *tier,
                                               const char *channel);

/* A calendar by name (NULL when unknown), and its name. */
const struct voc_sla_calendar *voc_sla_calendar_find(const struct voc_sla *s, const char *name);
const char *voc_sla_calendar_name(const struct voc_sla_calendar *cal);

/* A span during which a clock does not run (an item snoozed). */
struct voc_sla_pause {
    int64_t from_ms, to_ms; /* to_ms = INT64_MAX while still paused */
};

/* The instant at which budget_ms business milliseconds have elapsed on cal,
 * counted from start_ms and skipping the pauses (any order, may overlap).
 * Returns INT64_MAX when that never happens (paused for good). budget_ms = 0
 * returns start_ms. A budget that runs out exactly at closing time is due
 * then (Friday 18:00), not at the next opening. Steps by open ranges, not
 * minutes: weeks of budget cost a few dozen steps. */
int64_t voc_sla_add(const struct voc_sla_calendar *cal, int64_t start_ms, int64_t budget_ms,
                    const struct voc_sla_pause *pauses, size_t npauses);

/* Business milliseconds on cal between from_ms and to_ms (0 when to <= from),
 * not counting the pauses. */
int64_t voc_sla_elapsed(const struct voc_sla_calendar *cal, int64_t from_ms, int64_t to_ms,
                        const struct voc_sla_pause *pauses, size_t npauses);

/* The due instants of one clock started at start_ms: [0] the reminder
 * (INT64_MAX when none), [1] the deadline (= level 1 for chains whose first
 * interval is 0), then levels 1..nlevels at [1 + level]. out must hold
 * 2 + nlevels entries. A clock with budget_ms 0 has none of them, a clock
 * with nescalate 0 no levels: INT64_MAX. Reminder and levels are counted
 * on cal and skip the pauses like the deadline. */
void voc_sla_clock_due(const struct voc_sla_calendar *cal, const struct voc_sla_clock *clock,
                       int64_t start_ms, const struct voc_sla_pause *pauses, size_t npauses,
                       size_t nlevels, int64_t *out);

/* Formats ms as RFC 3339 in UTC with milliseconds ("2026-11-23T01:02:03.004Z");
 * "infinity" (INT64_MAX, never) or "-infinity" outside years 0-9999, as
 * PostgreSQL's timestamptz reads them. buf must hold 32 bytes. */
void voc_sla_format_ms(int64_t ms, char *buf, size_t len);

#endif
