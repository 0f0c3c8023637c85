/* The stall rules: what a client's crossing means for the client, its
 * classroom and its line (see the header comment of stall.c). Each step is
 * O(1) (amortised) per heartbeat except at the start of an incident, when a
 * classroom's members (a class, tens at most) or, once per line incident, a
 * line's members are walked. */
#include <string.h>

#include "stall_int.h"

static bool seen_in_window(const struct voc_stall *s, const struct stall_client *c)
{
    return c->seen_ms > s->now_ms - s->cfg.window_ms;
}

static bool cooling(const struct voc_stall *s, int64_t task_at_ms, int64_t cooldown_ms)
{
    return task_at_ms != STALL_NEVER && s->now_ms < task_at_ms + cooldown_ms;
}

static void add_family(struct voc_stall *s, struct stall_strset *set, const char *customer)
{
    /* A failure is recorded in s->oom and reported by voc_stall_heartbeat;
     * the decision itself stands. */
    (void)stall_strset_add(s, set, customer);
}

static void add_families(struct voc_stall *s, struct stall_strset *to,
                         const struct stall_strset *from)
{
    for (size_t i = 0; i < from->count; i++)
        add_family(s, to, from->items[i]);
}

/* ---- line ---- */

/* Absorbs k's held detection when it came through l: the line task answers
 * for it and its families join the line's. */
static void line_absorb_classroom(struct voc_stall *s, struct stall_line *l,
                                  struct stall_classroom *k, int64_t *first_bad)
{
    if (!stall_classroom_active(s, k) || k->inc_line != l || k->cover != COVER_HELD)
        return;
    k->cover = COVER_LINE;
    add_families(s, &l->families, &k->families);
    if (k->first_bad_ms < *first_bad)
        *first_bad = k->first_bad_ms;
}

static void emit_line(struct voc_stall *s, struct stall_line *l, int stalled, int total,
                      voc_stall_emit emit, void *ctx)
{
    struct voc_stall_detection d;
    memset(&d, 0, sizeof d);
    d.level = VOC_STALL_LINE;
    d.incident_id = stall_id(s, "line", l->id, l->first_bad_ms);
    d.subject = d.line = l->id;
    d.first_bad_ms = l->first_bad_ms;
    d.detected_ms = s->now_ms;
    d.stalled = stalled;
    d.total = total > stalled ? total : stalled;
    d.customers = (const char *const *)l->families.items;
    d.ncustomers = l->families.count;
    if (emit && d.incident_id)
        emit(ctx, &d);
}

/* Fires a line incident now (it is not held: it is what holds wait for).
 * The one walk over the line's members collects the families, absorbs held
 * detections and counts the classrooms stalled. */
static void line_fire(struct voc_stall *s, struct stall_line *l, voc_stall_emit emit, void *ctx)
{
    int marked = (int)l->nmarked, stalled = 0;
    stall_line_unmark(l);
    l->in_incident = true;
    l->inc_start_ms = l->first_bad_ms = s->now_ms;
    stall_strset_clear(s, &l->families);
    if (++s->stamp == 0)
        s->stamp = 1;
    for (struct stall_link *n = l->members.next; n != &l->members; n = n->next) {
        struct stall_client *c = STALL_OF(n, struct stall_client, in_line);
        struct stall_classroom *k = c->cls;
        if (k->stamp != s->stamp) {
            k->stamp = s->stamp;
            line_absorb_classroom(s, l, k, &l->first_bad_ms);
        }
        if (!stall_client_stalled(s, c))
            continue;
        if (k->stall_stamp != s->stamp) {
            k->stall_stamp = s->stamp;
            stalled++;
        }
        if (c->first_bad_ms < l->first_bad_ms)
            l->first_bad_ms = c->first_bad_ms;
        add_family(s, &l->families, c->customer);
        if (c->cover == COVER_HELD || c->cover == COVER_NONE)
            c->cover = COVER_LINE;
    }
    emit_line(s, l, stalled > marked ? stalled : marked, (int)l->nheard, emit, ctx);
}

/* Notes that c's classroom has a stalled client on c's line, and fires the
 * line incident when enough classrooms have within line_window_ms: at least
 * line_min_classrooms, and at least line_min_share of those heard from on
 * the line in that window (on a line of hundreds of classrooms, a few
 * independent stalls are not the line failing). */
static void line_mark(struct voc_stall *s, struct stall_client *c, voc_stall_emit emit, void *ctx)
{
    struct stall_line *l = c->line;
    if (!l || !c->seat || stall_line_active(s, l))
        return;
    if (l->in_incident) { /* ended since the last sweep */
        l->in_incident = false;
        stall_strset_clear(s, &l->families);
    }
    stall_seat_mark(s, c->seat);
    stall_line_prune(s, l);
    double marked = (double)l->nmarked;
    if (l->nmarked >= (size_t)s->cfg.line_min_classrooms &&
        marked >= s->cfg.line_min_share * (double)l->nheard - 1e-9)
        line_fire(s, l, emit, ctx);
}

/* ---- classroom ---- */

/* The share rule over the students heard from within the window. */
static bool classroom_share_met(const struct voc_stall *s, const struct stall_classroom *k)
{
    int total = 0, stalled = 0;
    for (const struct stall_link *n = k->members.next; n != &k->members; n = n->next) {
        const struct stall_client *c = STALL_OF(n, struct stall_client, in_cls);
        if (c->teacher || !seen_in_window(s, c))
            continue;
        total++;
        stalled += stall_client_stalled(s, c);
    }
    return stalled >= s->cfg.classroom_min_students &&
           (double)stalled >= s->cfg.classroom_share * (double)total - 1e-9;
}

/* Puts the affected students' families on k's list and takes over the
 * stalled students' held detections: one classroom task instead. */
static void classroom_gather(struct voc_stall *s, struct stall_classroom *k)
{
    for (struct stall_link *n = k->members.next; n != &k->members; n = n->next) {
        struct stall_client *c = STALL_OF(n, struct stall_client, in_cls);
        if (c->teacher)
            continue;
        bool stalled = stall_client_stalled(s, c);
        if (stalled || (k->teacher_stall && seen_in_window(s, c)))
            add_family(s, &k->families, c->customer);
        if (!stalled)
            continue;
        if (c->first_bad_ms < k->first_bad_ms)
            k->first_bad_ms = c->first_bad_ms;
        if (c->cover == COVER_HELD || c->cover == COVER_NONE)
            c->cover = COVER_CLASSROOM;
    }
}

/* Starts a classroom incident completed by trigger's crossing and decides
 * who answers for it. */
static void classroom_start(struct voc_stall *s, struct stall_classroom *k,
                            const struct stall_client *trigger)
{
    k->in_incident = true;
    k->teacher_stall = trigger->teacher;
    k->last_cross_ms = s->now_ms;
    k->first_bad_ms = trigger->first_bad_ms;
    stall_strset_clear(s, &k->families);
    if (k->inc_line)
        k->inc_line->refs--;
    k->inc_line = trigger->line;
    if (k->inc_line)
        k->inc_line->refs++;
    classroom_gather(s, k);
    struct stall_line *l = k->inc_line;
    if (l && stall_line_active(s, l)) {
        k->cover = COVER_LINE;
        add_families(s, &l->families, &k->families);
    } else if (cooling(s, k->task_at_ms, s->cfg.cooldown_classroom_ms)) {
        k->cover = COVER_PREV;
    } else {
        k->cover = stall_hold(s, k, true, &k->held_seq) == 0 ? COVER_HELD : COVER_NONE;
    }
}

/* A member's crossing while k's incident lasts keeps it going and, from a
 * student, adds the family (to the line's list too when the line answers). */
static void classroom_join(struct voc_stall *s, struct stall_classroom *k,
                           const struct stall_client *c)
{
    k->last_cross_ms = s->now_ms;
    if (c->teacher && !k->teacher_stall) {
        k->teacher_stall = true;
        classroom_gather(s, k); /* every student is affected now */
    } else if (!c->teacher) {
        add_family(s, &k->families, c->customer);
    }
    if (k->cover == COVER_LINE && k->inc_line && stall_line_active(s, k->inc_line))
        add_families(s, &k->inc_line->families, &k->families);
}

/* ---- client ---- */

/* Decides who answers for c's new incident (order in stall.c's comment). */
static void client_start(struct voc_stall *s, struct stall_client *c)
{
    struct stall_classroom *k = c->cls;
    struct stall_line *l = c->line;
    if (c->teacher) {
        c->cover = COVER_CLASSROOM;
        if (stall_classroom_active(s, k))
            classroom_join(s, k, c);
        else
            classroom_start(s, k, c);
    } else if (l && stall_line_active(s, l)) {
        c->cover = COVER_LINE;
        add_family(s, &l->families, c->customer);
    } else if (stall_classroom_active(s, k)) {
        c->cover = COVER_CLASSROOM;
        classroom_join(s, k, c);
    } else if (classroom_share_met(s, k)) {
        classroom_start(s, k, c); /* covers c too */
    } else if (cooling(s, c->task_at_ms, s->cfg.cooldown_student_ms)) {
        c->cover = COVER_PREV;
    } else {
        c->cover = stall_hold(s, c, false, &c->held_seq) == 0 ? COVER_HELD : COVER_NONE;
    }
}

bool stall_client_observe(struct voc_stall *s, struct stall_client *c, voc_stall_emit emit,
                          void *ctx)
{
    if (c->in_incident && !stall_client_stalled(s, c)) {
        c->in_incident = false; /* a full window without a crossing */
        c->cover = COVER_NONE;
    }
    /* Frozen long enough, or often enough with enough frozen time: three
     * sub-300 ms freezes in a window are jitter, not a stall. */
    bool frozen = c->sum_frozen_ms >= s->cfg.student_frozen_ms;
    bool freezes = c->sum_freezes >= s->cfg.student_freezes &&
                   c->sum_frozen_ms >= s->cfg.student_freezes_min_ms;
    if (!frozen && !freezes)
        return false;
    bool fresh = !c->in_incident;
    if (fresh) {
        c->in_incident = true;
        c->first_bad_ms = stall_window_first_bad(c);
        c->peak_frozen_ms = 0;
        c->peak_freezes = 0;
        c->cover = COVER_NONE;
    }
    c->last_cross_ms = s->now_ms;
    if (c->sum_frozen_ms > c->peak_frozen_ms)
        c->peak_frozen_ms = c->sum_frozen_ms;
    if (c->sum_freezes > c->peak_freezes)
        c->peak_freezes = c->sum_freezes;
    /* The line first: if this crossing makes it an incident, the line
     * answers for c and c's classroom. */
    line_mark(s, c, emit, ctx);
    if (fresh)
        client_start(s, c);
    else if (stall_classroom_active(s, c->cls))
        c->cls->last_cross_ms = s->now_ms;
    return true;
}
