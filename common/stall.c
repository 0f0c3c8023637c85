/* Stall detection: the detector's life cycle, stream time, holds, emission
 * and look-ups. The rules themselves are in stall_detect.c.
 *
 * Semantics (details include/voc/stall.h leaves open):
 *  - Time. Stream time is the largest window end seen (or given to
 *    voc_stall_advance); it never goes back. Heartbeats with a window end
 *    outside 1 .. 2^53 ms, or without student_id or classroom_id, are ignored.
 *  - Student window. A client's window holds its heartbeats whose window end
 *    lies in (its newest end - window_ms, its newest end]. A heartbeat older
 *    than that is ignored; one whose window end equals one already in the
 *    window is a redelivery and is ignored (Kafka is at-least-once).
 *  - Student incident. A heartbeat after which the window's sums reach
 *    student_frozen_ms, or student_freezes together with
 *    student_freezes_min_ms of frozen time, is a "crossing". The first crossing
 *    starts an incident whose first bad heartbeat is the oldest heartbeat
 *    with a freeze still in the window (an old jitter freeze that has left
 *    the window does not stretch it). The incident lasts until window_ms of
 *    stream time pass without a crossing; the next crossing starts a new one.
 *    A client that falls silent therefore ends its incident window_ms after
 *    its last crossing. Teachers' clients have incidents too, but a teacher
 *    incident is a classroom stall, never a student task.
 *  - Who answers for an incident, decided when it starts, in this order: an
 *    active line incident on the client's line; an active classroom incident;
 *    a classroom stall this crossing completes; within cooldown_student_ms of
 *    the client's last task, that task; else a new student detection, held
 *    for line_grace_ms. A classroom incident is answered for likewise: the
 *    line of the client that completed it, the classroom cooldown, or a new
 *    classroom detection, held.
 *  - Classroom stall: the teacher's crossing, or a student's first crossing
 *    after which, among the classroom's students heard from within window_ms,
 *    at least classroom_min_students and at least classroom_share are in an
 *    incident. It lasts while any member keeps crossing, plus window_ms. Its
 *    families: the stalled students' (for a teacher stall: every student
 *    heard from within window_ms), plus any who stall during it.
 *  - Line incident: a heartbeat makes its classroom heard from on its line,
 *    a crossing marks (line, classroom). It fires at once (not held) on the
 *    crossing after which, within line_window_ms, at least
 *    line_min_classrooms distinct classrooms are marked on the line and at
 *    least line_min_share of the classrooms heard from on it; it absorbs the
 *    held student and classroom detections on the line. It lasts
 *    line_incident_ms exactly; while it lasts no marks are kept and new
 *    stalls on the line only join its families. A line still failing when it
 *    ends fires a new one. Its total is the classrooms heard from.
 *  - Holds are released (emitted, unless absorbed meanwhile) as soon as
 *    stream time reaches decision + line_grace_ms. detected_ms is the stream
 *    time of the release; frozen_ms and freezes are the incident's peak
 *    window sums up to then. Cooldowns run from the emitted task.
 *  - Memory. Clients, classrooms and lines not heard of for idle_ms of stream
 *    time are freed (between idle_ms and 2 x idle_ms after the last
 *    heartbeat: see stall_int.h), except while they have a hold pending, an
 *    incident, or a cooldown running (so a family called a minute ago who
 *    reconnects is not called again); those are looked at again idle_ms
 *    later. A line, and a classroom with a seat on it, are also kept while
 *    that seat counts as heard from (line_window_ms), so that the share rule
 *    counts every classroom heard from in the window. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stall_int.h"

#define MAX_MS   (INT64_C(1) << 53) /* beyond any real clock; keeps sums far from overflow */
#define DAY_MS   INT64_C(86400000)
#define SWEEP_MS 1000 /* how often ended line incidents give back their lists */

void voc_stall_config_defaults(struct voc_stall_config *cfg)
{
    cfg->window_ms = 30000;
    cfg->student_frozen_ms = 3000;
    cfg->student_freezes = 3;
    cfg->student_freezes_min_ms = 2000;
    cfg->classroom_share = 0.5;
    cfg->classroom_min_students = 2;
    cfg->line_window_ms = 180000;
    cfg->line_min_classrooms = 3;
    cfg->line_min_share = 0.3;
    cfg->line_incident_ms = 900000;
    cfg->line_grace_ms = 1000;
    cfg->line_early_release = true;
    cfg->cooldown_student_ms = 600000;
    cfg->cooldown_classroom_ms = 600000;
    cfg->idle_ms = 120000;
}

static bool in_range(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

/* The invariants the detector relies on (the loader reports them by line):
 * a hold ends before its incident can, and nothing is forgotten mid-window. */
static bool config_usable(const struct voc_stall_config *c)
{
    return in_range(c->window_ms, 1000, DAY_MS) &&
           in_range(c->student_frozen_ms, 1, c->window_ms) &&
           in_range(c->student_freezes, 1, 100000) &&
           in_range(c->student_freezes_min_ms, 0, c->student_frozen_ms - 1) &&
           c->classroom_share > 0 && c->classroom_share <= 1 &&
           in_range(c->classroom_min_students, 1, 100000) &&
           in_range(c->line_window_ms, 1000, 7 * DAY_MS) &&
           in_range(c->line_min_classrooms, 1, 100000) && c->line_min_share > 0 &&
           c->line_min_share <= 1 && in_range(c->line_incident_ms, 1000, 7 * DAY_MS) &&
           in_range(c->line_grace_ms, 0, c->window_ms - 1) &&
           in_range(c->cooldown_student_ms, 0, 7 * DAY_MS) &&
           in_range(c->cooldown_classroom_ms, 0, 7 * DAY_MS) &&
           in_range(c->idle_ms, c->window_ms, 7 * DAY_MS);
}

struct voc_stall *voc_stall_new(const struct voc_stall_config *cfg)
{
    if (!config_usable(cfg))
        return NULL;
    struct voc_stall *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->now_ms = 0;
    stall_list_init(&s->clients_lru);
    stall_list_init(&s->classrooms_lru);
    stall_list_init(&s->lines_lru);
    return s;
}

void voc_stall_free(struct voc_stall *s)
{
    if (!s)
        return;
    /* Clients first: they hold references into classrooms and lines. */
    while (!stall_list_empty(&s->clients_lru))
        stall_client_free(s, STALL_OF(s->clients_lru.next, struct stall_client, lru));
    while (!stall_list_empty(&s->classrooms_lru))
        stall_classroom_free(s, STALL_OF(s->classrooms_lru.next, struct stall_classroom, lru));
    while (!stall_list_empty(&s->lines_lru))
        stall_line_free(s, STALL_OF(s->lines_lru.next, struct stall_line, lru));
    stall_htab_free(s, &s->clients);
    stall_htab_free(s, &s->classrooms);
    stall_htab_free(s, &s->lines);
    stall_clear_free_all(s);
    stall_free(s, s->held, s->held_cap * sizeof *s->held);
    stall_free(s, s->buf, s->bufcap);
    free(s);
}

size_t voc_stall_memory(const struct voc_stall *s)
{
    return sizeof *s + s->mem;
}

/* ---- state predicates: pure functions of the state and stream time ---- */

bool stall_client_stalled(const struct voc_stall *s, const struct stall_client *c)
{
    return c->in_incident && s->now_ms < c->last_cross_ms + s->cfg.window_ms;
}

bool stall_classroom_active(const struct voc_stall *s, const struct stall_classroom *k)
{
    return k->in_incident && s->now_ms < k->last_cross_ms + s->cfg.window_ms;
}

bool stall_line_active(const struct voc_stall *s, const struct stall_line *l)
{
    return l->in_incident && s->now_ms < l->inc_start_ms + s->cfg.line_incident_ms;
}

const char *stall_id(struct voc_stall *s, const char *level, const char *subject, int64_t ms)
{
    size_t need = strlen(level) + strlen(subject) + 24;
    if (need > s->bufcap) {
        char *buf = stall_grow(s, s->buf, s->bufcap, need);
        if (!buf)
            return NULL;
        s->buf = buf;
        s->bufcap = need;
    }
    snprintf(s->buf, s->bufcap, "%s:%s:%" PRId64, level, subject, ms);
    return s->buf;
}

/* ---- holds ---- */

int stall_hold(struct voc_stall *s, void *subject, bool classroom, uint32_t *held_seq)
{
    if (s->held_len == s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap * 2 : 64;
        struct stall_held *q = stall_alloc(s, cap * sizeof *q);
        if (!q)
            return -1;
        for (size_t i = 0; i < s->held_len; i++)
            q[i] = s->held[(s->held_head + i) % s->held_cap];
        stall_free(s, s->held, s->held_cap * sizeof *s->held);
        s->held = q;
        s->held_cap = cap;
        s->held_head = 0;
    }
    if (++s->seq == 0)
        s->seq = 1; /* 0 means "no hold" */
    struct stall_held *h = &s->held[(s->held_head + s->held_len++) % s->held_cap];
    h->subject = subject;
    h->seq = s->seq;
    h->classroom = classroom;
    /* Under a watermark the grace runs from the crossing heartbeat's own
     * time: while catching up, stream time may already be far ahead of it. */
    h->until_ms = (s->external_clock ? s->event_ms : s->now_ms) + s->cfg.line_grace_ms;
    *held_seq = s->seq;
    stall_clear_add(s, subject, classroom, s->seq);
    return 0;
}

/* Holds end by the release clock: stream time itself, or, under
 * voc_stall_use_watermark(), the caller's watermark, which trails stream time
 * until every partition has caught up with it. */
static int64_t release_clock(const struct voc_stall *s)
{
    return s->external_clock ? s->watermark_ms : s->now_ms;
}

static void emit_student(struct voc_stall *s, struct stall_client *c, int64_t decided_ms,
                         voc_stall_emit emit, void *ctx)
{
    struct voc_stall_detection d;
    memset(&d, 0, sizeof d);
    d.level = VOC_STALL_STUDENT;
    d.incident_id = stall_id(s, "student", c->id, c->first_bad_ms);
    d.subject = d.student_id = c->id;
    d.customer_id = c->customer;
    d.classroom_id = c->cls->id;
    d.lesson_id = c->cls->lesson;
    d.teacher_id = c->cls->teacher_id;
    d.line = c->line ? c->line->id : NULL;
    d.first_bad_ms = c->first_bad_ms;
    d.detected_ms = decided_ms;
    d.frozen_ms = c->peak_frozen_ms;
    d.freezes = c->peak_freezes;
    if (emit && d.incident_id)
        emit(ctx, &d);
}

static void emit_classroom(struct voc_stall *s, struct stall_classroom *k, int64_t decided_ms,
                           voc_stall_emit emit, void *ctx)
{
    struct voc_stall_detection d;
    memset(&d, 0, sizeof d);
    /* Counted now rather than when the stall began: the task should say how
     * many are stuck when tech support picks it up. */
    for (struct stall_link *m = k->members.next; m != &k->members; m = m->next) {
        const struct stall_client *c = STALL_OF(m, struct stall_client, in_cls);
        if (c->teacher || c->seen_ms <= s->now_ms - s->cfg.window_ms)
            continue;
        d.total++;
        d.stalled += stall_client_stalled(s, c);
    }
    d.level = VOC_STALL_CLASSROOM;
    d.incident_id = stall_id(s, "classroom", k->id, k->first_bad_ms);
    d.subject = d.classroom_id = k->id;
    d.lesson_id = k->lesson;
    d.teacher_id = k->teacher_id;
    d.line = k->inc_line ? k->inc_line->id : NULL;
    d.teacher = k->teacher_stall;
    d.first_bad_ms = k->first_bad_ms;
    d.detected_ms = decided_ms;
    d.customers = (const char *const *)k->families.items;
    d.ncustomers = k->families.count;
    if (emit && d.incident_id)
        emit(ctx, &d);
}

/* A hold whose subject was absorbed meanwhile (its cover is no longer
 * COVER_HELD) is dropped silently: the classroom or line task answers. */
void stall_release_subject(struct voc_stall *s, void *subject, bool classroom, uint32_t seq,
                           int64_t decided, voc_stall_emit emit, void *ctx)
{
    if (classroom) {
        struct stall_classroom *k = subject;
        if (k->held_seq != seq)
            return;
        k->held_seq = 0;
        if (k->cover != COVER_HELD)
            return;
        k->cover = COVER_TASK;
        k->task_first_bad_ms = k->first_bad_ms;
        k->task_at_ms = decided;
        emit_classroom(s, k, decided, emit, ctx);
    } else {
        struct stall_client *c = subject;
        if (c->held_seq != seq)
            return;
        c->held_seq = 0;
        if (c->cover != COVER_HELD)
            return;
        c->cover = COVER_TASK;
        c->task_first_bad_ms = c->first_bad_ms;
        c->task_at_ms = decided;
        emit_student(s, c, decided, emit, ctx);
    }
}

static void release_one(struct voc_stall *s, const struct stall_held *h, voc_stall_emit emit,
                        void *ctx)
{
    /* Decided when the grace ended, in the events' time: under a watermark
     * the release itself may come later, while partitions catch up. */
    int64_t decided = s->external_clock ? h->until_ms : s->now_ms;
    stall_clear_drop(s, h->subject, h->seq);
    stall_release_subject(s, h->subject, h->classroom, h->seq, decided, emit, ctx);
}

void stall_release_due(struct voc_stall *s, voc_stall_emit emit, void *ctx)
{
    while (s->held_len && s->held[s->held_head].until_ms <= release_clock(s)) {
        struct stall_held h = s->held[s->held_head];
        s->held_head = (s->held_head + 1) % s->held_cap;
        s->held_len--;
        release_one(s, &h, emit, ctx);
    }
    stall_clear_check(s, emit, ctx);
}

/* ---- forgetting ---- */

static bool cooling(const struct voc_stall *s, int64_t task_at_ms, int64_t cooldown_ms)
{
    return task_at_ms != STALL_NEVER && s->now_ms < task_at_ms + cooldown_ms;
}

static void requeue(struct stall_link *queue, struct stall_link *l, int64_t *lru_ms, int64_t now)
{
    *lru_ms = now;
    stall_list_remove(l);
    stall_list_append(queue, l);
}

/* Each queue is sorted by lru_ms, so only its head can be due. A head heard
 * of since it was queued, or one that must be kept (a hold pending, an
 * incident, a cooldown, members), goes back to the tail for another idle_ms. */
static void expire(struct voc_stall *s)
{
    int64_t now = s->now_ms, cutoff = now - s->cfg.idle_ms;
    while (!stall_list_empty(&s->clients_lru)) {
        struct stall_client *c = STALL_OF(s->clients_lru.next, struct stall_client, lru);
        if (c->lru_ms > cutoff)
            break;
        if (c->seen_ms > cutoff || c->held_seq || stall_client_stalled(s, c) ||
            cooling(s, c->task_at_ms, s->cfg.cooldown_student_ms))
            requeue(&s->clients_lru, &c->lru, &c->lru_ms, now);
        else
            stall_client_free(s, c);
    }
    /* Lines before classrooms: a line gives back its seats, which keep their
     * classrooms. */
    while (!stall_list_empty(&s->lines_lru)) {
        struct stall_line *l = STALL_OF(s->lines_lru.next, struct stall_line, lru);
        if (l->lru_ms > cutoff)
            break;
        stall_line_prune(s, l);
        if (l->seen_ms > cutoff || l->refs || l->nheard || stall_line_active(s, l))
            requeue(&s->lines_lru, &l->lru, &l->lru_ms, now);
        else
            stall_line_free(s, l);
    }
    while (!stall_list_empty(&s->classrooms_lru)) {
        struct stall_classroom *k = STALL_OF(s->classrooms_lru.next, struct stall_classroom, lru);
        if (k->lru_ms > cutoff)
            break;
        if (k->seen_ms > cutoff || k->nmembers || k->held_seq || stall_classroom_active(s, k) ||
            cooling(s, k->task_at_ms, s->cfg.cooldown_classroom_ms) || !stall_list_empty(&k->seats))
            requeue(&s->classrooms_lru, &k->lru, &k->lru_ms, now);
        else
            stall_classroom_free(s, k);
    }
}

/* A line incident's family list can be large (a whole line's worth): give
 * it back soon after the incident ends. Lines are few, so a periodic walk is
 * cheap. */
static void sweep_lines(struct voc_stall *s)
{
    for (struct stall_link *n = s->lines_lru.next; n != &s->lines_lru; n = n->next) {
        struct stall_line *l = STALL_OF(n, struct stall_line, lru);
        if (l->in_incident && !stall_line_active(s, l)) {
            l->in_incident = false;
            stall_strset_clear(s, &l->families);
        }
    }
}

void voc_stall_advance(struct voc_stall *s, int64_t now_ms, voc_stall_emit emit, void *ctx)
{
    if (now_ms < 1 || now_ms > MAX_MS)
        return;
    if (s->external_clock && now_ms > s->watermark_ms)
        s->watermark_ms = now_ms;
    if (s->started && now_ms <= s->now_ms) {
        stall_release_due(s, emit, ctx); /* the watermark may have moved */
        return;
    }
    s->now_ms = now_ms;
    s->started = true;
    stall_release_due(s, emit, ctx);
    expire(s);
    if (now_ms >= s->sweep_at_ms) {
        sweep_lines(s);
        s->sweep_at_ms = now_ms + SWEEP_MS;
    }
}

int voc_stall_heartbeat(struct voc_stall *s, const struct voc_heartbeat *hb, voc_stall_emit emit,
                        void *ctx)
{
    if (!hb->student_id || !hb->classroom_id || hb->end_ms < 1 || hb->end_ms > MAX_MS)
        return 0;
    s->event_ms = hb->end_ms;
    if (s->external_clock) {
        /* Observation time moves with the events; holds wait for the watermark. */
        if (hb->end_ms > s->now_ms) {
            s->now_ms = hb->end_ms;
            s->started = true;
        }
    } else {
        voc_stall_advance(s, hb->end_ms, emit, ctx);
    }
    struct stall_client *c = stall_client_get(s, hb);
    if (c) {
        stall_window_add(s, c, hb);
        bool crossed = stall_client_observe(s, c, emit, ctx);
        stall_clear_heartbeat(s, c, hb->freeze_ms, crossed, emit, ctx);
        /* With no grace a hold made just now is already due. */
        stall_release_due(s, emit, ctx);
    }
    /* Out of memory anywhere since the last report (a family list may be
     * short, a client unknown): tell the caller once. */
    bool oom = s->oom;
    s->oom = false;
    return oom ? -1 : 0;
}

/* ---- look-ups ---- */

static const char *line_id(struct voc_stall *s, const struct stall_line *l)
{
    return l && stall_line_active(s, l) ? stall_id(s, "line", l->id, l->first_bad_ms) : NULL;
}

static const char *classroom_cover_id(struct voc_stall *s, const struct stall_classroom *k)
{
    if (!stall_classroom_active(s, k))
        return NULL;
    switch (k->cover) {
    case COVER_HELD:
        return stall_id(s, "classroom", k->id, k->first_bad_ms);
    case COVER_TASK:
    case COVER_PREV:
        return stall_id(s, "classroom", k->id, k->task_first_bad_ms);
    case COVER_LINE:
        return line_id(s, k->inc_line);
    default:
        return NULL;
    }
}

static const char *client_cover_id(struct voc_stall *s, const struct stall_client *c)
{
    if (!stall_client_stalled(s, c))
        return NULL;
    switch (c->cover) {
    case COVER_HELD:
        return stall_id(s, "student", c->id, c->first_bad_ms);
    case COVER_TASK:
    case COVER_PREV:
        return stall_id(s, "student", c->id, c->task_first_bad_ms);
    case COVER_CLASSROOM:
        return classroom_cover_id(s, c->cls);
    case COVER_LINE:
        return line_id(s, c->line);
    default:
        return NULL;
    }
}

const char *voc_stall_find_incident(struct voc_stall *s, const char *customer_id,
                                    const char *classroom_id)
{
    if (!customer_id)
        return NULL;
    struct stall_hnode *n =
        classroom_id ? stall_htab_find(&s->classrooms, stall_hash(classroom_id), classroom_id)
                     : NULL;
    if (n) {
        struct stall_classroom *k = STALL_OF(n, struct stall_classroom, h);
        for (struct stall_link *m = k->members.next; m != &k->members; m = m->next) {
            const struct stall_client *c = STALL_OF(m, struct stall_client, in_cls);
            const char *id;
            if (c->customer && strcmp(c->customer, customer_id) == 0 &&
                (id = client_cover_id(s, c)))
                return id;
        }
        /* Affected without being stalled itself: a teacher stall. */
        if (stall_classroom_active(s, k) && stall_strset_has(&k->families, customer_id))
            return classroom_cover_id(s, k);
    }
    for (struct stall_link *m = s->lines_lru.next; m != &s->lines_lru; m = m->next) {
        const struct stall_line *l = STALL_OF(m, struct stall_line, lru);
        if (stall_line_active(s, l) && stall_strset_has(&l->families, customer_id))
            return line_id(s, l);
    }
    return NULL;
}

/* Splits "<level>:<subject>:<ms>" (the subject may itself hold ':'). */
static bool parse_id(const char *id, const char *level, char *subject, size_t cap, int64_t *ms)
{
    size_t ll = strlen(level);
    const char *last = strrchr(id, ':');
    if (strncmp(id, level, ll) != 0 || id[ll] != ':' || !last || last <= id + ll)
        return false;
    size_t len = (size_t)(last - (id + ll + 1));
    if (len == 0 || len >= cap)
        return false;
    memcpy(subject, id + ll + 1, len);
    subject[len] = '\0';
    char *end;
    *ms = strtoll(last + 1, &end, 10);
    return *end == '\0' && end != last + 1;
}

size_t voc_stall_incident_customers(struct voc_stall *s, const char *incident_id,
                                    const char *const **customers)
{
    char subject[1024];
    int64_t ms;
    struct stall_hnode *n;
    *customers = NULL;
    if (parse_id(incident_id, "line", subject, sizeof subject, &ms) &&
        (n = stall_htab_find(&s->lines, stall_hash(subject), subject))) {
        struct stall_line *l = STALL_OF(n, struct stall_line, h);
        if (!stall_line_active(s, l) || l->first_bad_ms != ms)
            return 0;
        *customers = (const char *const *)l->families.items;
        return l->families.count;
    }
    if (parse_id(incident_id, "classroom", subject, sizeof subject, &ms) &&
        (n = stall_htab_find(&s->classrooms, stall_hash(subject), subject))) {
        struct stall_classroom *k = STALL_OF(n, struct stall_classroom, h);
        /* Within the cooldown the previous task's id stands for the incident. */
        bool same = k->first_bad_ms == ms || (k->cover == COVER_PREV && k->task_first_bad_ms == ms);
        if (!stall_classroom_active(s, k) || !same)
            return 0;
        *customers = (const char *const *)k->families.items;
        return k->families.count;
    }
    return 0;
}

void voc_stall_use_watermark(struct voc_stall *s)
{
    s->external_clock = true;
}
