/* Stall detection for proactive outreach (voc-outreach).
 *
 * Fed with telemetry heartbeats (one per student client every few seconds;
 * freeze figures use W3C webrtc-stats semantics), it keeps sliding windows
 * per student, per classroom and per network line, and decides:
 *  - student stall: within window_ms, frozen >= student_frozen_ms, or
 *    freezes >= student_freezes with frozen >= student_freezes_min_ms (a few
 *    sub-300 ms freezes are healthy jitter, not a stall);
 *  - classroom stall: the classroom's teacher stalled, or at least
 *    classroom_share of its students (and at least classroom_min_students)
 *    stalled in the same window: one classroom task instead of one per student;
 *  - line incident: classrooms with stalled clients on one line within
 *    line_window_ms, at least line_min_classrooms of them and at least
 *    line_min_share of the classrooms heard from on that line in that window
 *    (so a few independent stalls on a big line are not a line incident): one
 *    line task to network operations, which inhibits student and classroom
 *    tasks on that line for line_incident_ms (tech support gets the bulk list
 *    instead of fifty calls).
 * Student and classroom detections are held for line_grace_ms (of stream
 * time) so that a line failing everywhere at once becomes one line incident,
 * not a handful of calls followed by it: that hold is the latency price.
 * With line_early_release a hold ends sooner, as soon as freeze-free
 * heartbeats from classmates and from other classrooms on the line show the
 * stall is not theirs (common/stall_clear.c).
 * Cooldowns per student and classroom stop a second task for one incident.
 *
 * Time is the events' own (window end), never the wall clock, so replays and
 * tests are deterministic; voc_stall_advance() moves stream time forward when
 * no heartbeat arrives. The detector is single-threaded and owns its memory. */
#ifndef VOC_STALL_H
#define VOC_STALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/diag.h"

struct voc_stall_config {
    int64_t window_ms;              /* 30000 */
    int64_t student_frozen_ms;      /* 3000 */
    int student_freezes;            /* 3 */
    int64_t student_freezes_min_ms; /* 2000: frozen needed with the freeze count */
    double classroom_share;         /* 0.5 */
    int classroom_min_students;     /* 2 */
    int64_t line_window_ms;         /* 180000 */
    int line_min_classrooms;        /* 3 */
    double line_min_share;          /* 0.3: of the classrooms heard on the line */
    int64_t line_incident_ms;       /* 900000 */
    int64_t line_grace_ms;          /* 1000 */
    bool line_early_release;        /* true: end a hold as soon as evidence clears it */
    int64_t cooldown_student_ms;    /* 600000 */
    int64_t cooldown_classroom_ms;  /* 600000 */
    int64_t idle_ms;                /* 120000: forget clients not heard from */
};

/* Defaults as above. */
void voc_stall_config_defaults(struct voc_stall_config *cfg);
/* Loads deploy/config/outreach.yaml over the defaults; every problem goes
 * to diag as file:line: message. Returns 0, or -1 if any. */
int voc_stall_config_load(const char *path, struct voc_stall_config *cfg, struct voc_diag *diag);

struct voc_heartbeat {
    const char *student_id, *customer_id, *classroom_id, *lesson_id, *teacher_id;
    const char *line; /* may be NULL: then no line-level view of this client */
    bool teacher;     /* role == "teacher" */
    int64_t end_ms;   /* window start + duration, ms since the epoch */
    int64_t duration_ms;
    int freeze_count;
    int64_t freeze_ms; /* total_freezes_duration_ms */
};

enum voc_stall_level { VOC_STALL_STUDENT, VOC_STALL_CLASSROOM, VOC_STALL_LINE };

struct voc_stall_detection {
    enum voc_stall_level level;
    /* The incident's stable id: "<level>:<subject>:<first bad window end>". */
    const char *incident_id;
    const char *subject; /* student id, classroom id or line */
    /* Context; NULL when not applicable (e.g. student_id for a line). */
    const char *student_id, *customer_id, *classroom_id, *lesson_id, *teacher_id, *line;
    bool teacher;         /* a classroom stall caused by its teacher */
    int64_t first_bad_ms; /* the first bad heartbeat of the incident (evidence start) */
    int64_t detected_ms;  /* stream time of the decision */
    int64_t frozen_ms;    /* student: frozen in the window */
    int freezes;          /* student: freezes in the window */
    int stalled;          /* classroom: students stalled; line: classrooms stalled */
    /* classroom: students seen; line: classrooms heard from on the line
     * within line_window_ms (the line_min_share denominator) */
    int total;
    /* Classroom and line: the customers (families) affected, for the bulk list. */
    const char *const *customers;
    size_t ncustomers;
};

/* Called for each decision; the pointers are valid only during the call,
 * which must not call back into the detector. */
typedef void (*voc_stall_emit)(void *ctx, const struct voc_stall_detection *d);

struct voc_stall;
/* NULL when out of memory or when cfg breaks what the loader checks (e.g.
 * line_grace_ms >= window_ms, idle_ms < window_ms, line_min_share outside
 * (0, 1], student_freezes_min_ms >= student_frozen_ms). */
struct voc_stall *voc_stall_new(const struct voc_stall_config *cfg);
void voc_stall_free(struct voc_stall *s);

/* Feeds one heartbeat (stream time advances to hb->end_ms if later) and
 * emits what is now decided. Returns 0, or -1 when out of memory. */
int voc_stall_heartbeat(struct voc_stall *s, const struct voc_heartbeat *hb, voc_stall_emit emit,
                        void *ctx);

/* From now on held decisions are released by the caller's event-time
 * watermark (the oldest "latest event" among the partitions feeding the
 * detector, passed to voc_stall_advance()), not by the newest heartbeat.
 * Without it, one partition running ahead while the consumer catches up
 * would release holds before the other partitions' heartbeats arrive, and a
 * line failing everywhere would come out as separate calls. Decisions are
 * still made and stamped in the events' own time. */
void voc_stall_use_watermark(struct voc_stall *s);

/* Moves stream time to now_ms (if later): releases held detections whose
 * grace has passed, ends line incidents, forgets idle clients. */
void voc_stall_advance(struct voc_stall *s, int64_t now_ms, voc_stall_emit emit, void *ctx);

/* A tech-issue report from customer_id in classroom_id: if that family's
 * student is in a stall that was detected (or is held), returns its
 * incident id (valid until the next call into the detector), else NULL: the
 * report joins the stall instead of making a second task. */
const char *voc_stall_find_incident(struct voc_stall *s, const char *customer_id,
                                    const char *classroom_id);

/* The families of an active classroom or line incident, by the id it was
 * emitted (or found) with: the list grows after emission as students stall
 * during the incident (they are not emitted again), so a bulk list shown to
 * tech support should be read here. Returns the count and sets *customers
 * (valid until the next call into the detector); 0 and NULL when the
 * incident is unknown, over, or student-level. */
size_t voc_stall_incident_customers(struct voc_stall *s, const char *incident_id,
                                    const char *const **customers);

/* Memory held, for the benchmark. */
size_t voc_stall_memory(const struct voc_stall *s);

#endif
