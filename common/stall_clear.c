/* Early release of held detections: evidence that a stall is one student's
 * (or one classroom's) and not its classroom's or line's.
 *
 * A student or classroom decision is held for line_grace_ms so that a
 * classroom or line failing at once becomes one task. Waiting out the whole
 * grace is only necessary while nothing is known: a line or classroom that
 * fails freezes the clients on it together, so a freeze-free heartbeat from a
 * classmate, or from another classroom on the line, whose window ends at or
 * after the crossing that made the decision shows that client is not in the
 * same stall. Once enough of them have arrived (CLEAR_MEMBERS classmates,
 * and CLEAR_ROOMS other classrooms on the line; fewer when fewer exist), and
 * no classmate or other classroom on the line has crossed a threshold within
 * a grace of it (then a share rule may be forming and the grace decides),
 * the task goes out at once.
 *
 * Only heartbeats ending at or after the crossing count (the "onset"):
 * freeze figures are not exact in time (webrtc-stats adds a freeze to the
 * window in which it ends, whole), so an earlier classmate window that looks
 * clean may simply predate the stall. In the benchmark, counting earlier
 * windows released students of a stalling classroom before its teacher task
 * formed. With ~10 classmates reporting every 5 s at random phases, two
 * arrive within about a second.
 *
 * A limit: a classmate frozen right through its window reports no freeze yet
 * (webrtc-stats counts a freeze when it ends); its frames decoded would show
 * it, and the detector does not read frames today. The crossing rule needs
 * the stalled client's own freezes to have ended too, so in practice the
 * classroom's freezes end (and are reported) together.
 *
 * What this gives up: a stall of part of a classroom (the share rule) or of
 * part of a line (min_share) may, by the luck of who reports first, release
 * the first student's call before the classroom or line task forms. That
 * family is then called twice (its own task, then in the bulk list); the
 * alternative is every call waiting the whole grace. Set
 * line.early_release: false to wait out the grace always.
 *
 * The pending records are few (holds last seconds; during a line incident
 * nothing on the line is held) and at most STALL_CLEAR_MAX of them are kept:
 * a hold beyond that simply waits out its grace. Each heartbeat looks at the
 * records only when there are any. */
#include <string.h>

#include "stall_int.h"

#define CLEAR_MEMBERS   2   /* freeze-free classmates needed */
#define CLEAR_ROOMS     3   /* freeze-free other classrooms on the line needed */
#define CLEAR_FROZEN_MS 500 /* at most this frozen in its window: a jitter freeze, not a stall */

struct stall_clear {
    void *subject; /* struct stall_client or struct stall_classroom */
    uint32_t seq;  /* the hold's */
    bool classroom, contested;
    struct stall_classroom *cls;
    struct stall_line *line; /* NULL: no line view */
    int64_t onset_ms;        /* evidence must end at or after this */
    int64_t decided_ms;      /* stream time of the decision */
    const void *members[CLEAR_MEMBERS];
    const void *rooms[CLEAR_ROOMS];
    uint8_t nmembers, nrooms;
};

/* Adds p to a small set of distinct pointers (ignored once full). */
static void note(const void **set, uint8_t *n, size_t cap, const void *p)
{
    for (uint8_t i = 0; i < *n; i++)
        if (set[i] == p)
            return;
    if (*n < cap)
        set[(*n)++] = p;
}

/* Whether c crossed a threshold within a grace of r's decision. */
static bool crossed_recently(const struct voc_stall *s, const struct stall_clear *r,
                             const struct stall_client *c)
{
    return c->in_incident && c->last_cross_ms >= r->decided_ms - s->cfg.line_grace_ms;
}

/* The evidence (and contest) already in when the hold is made: classmates'
 * and line members' newest heartbeats. */
static void clear_look_back(const struct voc_stall *s, struct stall_clear *r)
{
    for (const struct stall_link *n = r->cls->members.next; n != &r->cls->members; n = n->next) {
        const struct stall_client *c = STALL_OF(n, struct stall_client, in_cls);
        if (r->classroom || c == r->subject)
            continue;
        if (crossed_recently(s, r, c))
            r->contested = true;
        else if (stall_client_clear_since(c, r->onset_ms, CLEAR_FROZEN_MS))
            note(r->members, &r->nmembers, CLEAR_MEMBERS, c);
    }
    if (!r->line)
        return;
    for (const struct stall_link *n = r->line->members.next; n != &r->line->members; n = n->next) {
        const struct stall_client *c = STALL_OF(n, struct stall_client, in_line);
        if (c->cls == r->cls)
            continue;
        if (crossed_recently(s, r, c))
            r->contested = true;
        else if (stall_client_clear_since(c, r->onset_ms, CLEAR_FROZEN_MS))
            note(r->rooms, &r->nrooms, CLEAR_ROOMS, c->cls);
    }
}

void stall_clear_add(struct voc_stall *s, void *subject, bool classroom, uint32_t seq)
{
    if (!s->cfg.line_early_release || s->nclears == STALL_CLEAR_MAX)
        return;
    struct stall_clear *r = stall_alloc(s, sizeof *r);
    if (!r)
        return; /* reported as out of memory; the grace still ends this hold */
    memset(r, 0, sizeof *r);
    r->subject = subject;
    r->seq = seq;
    r->classroom = classroom;
    if (classroom) {
        r->cls = subject;
        r->line = r->cls->inc_line;
    } else {
        struct stall_client *c = subject;
        r->cls = c->cls;
        r->line = c->line;
    }
    r->onset_ms = s->event_ms;
    r->decided_ms = s->event_ms;
    s->clears[s->nclears++] = r;
    clear_look_back(s, r);
}

static void clear_remove(struct voc_stall *s, size_t i)
{
    stall_free(s, s->clears[i], sizeof *s->clears[i]);
    s->clears[i] = s->clears[--s->nclears];
}

void stall_clear_drop(struct voc_stall *s, const void *subject, uint32_t seq)
{
    for (size_t i = 0; i < s->nclears; i++)
        if (s->clears[i]->subject == subject && s->clears[i]->seq == seq) {
            clear_remove(s, i);
            return;
        }
}

void stall_clear_free_all(struct voc_stall *s)
{
    while (s->nclears)
        clear_remove(s, s->nclears - 1);
}

static size_t at_most(size_t want, size_t available)
{
    return want < available ? want : available;
}

static bool clear_satisfied(const struct voc_stall *s, const struct stall_clear *r)
{
    if (r->contested)
        return false;
    if (s->external_clock && s->watermark_ms < r->decided_ms)
        return false; /* a lagging partition may still hold a crossing from before */
    /* A classroom's own decision needs no classmates: its members are its evidence. */
    if (!r->classroom && r->nmembers < at_most(CLEAR_MEMBERS, r->cls->nmembers - 1))
        return false;
    return !r->line || r->nrooms >= at_most(CLEAR_ROOMS, r->line->nheard ? r->line->nheard - 1 : 0);
}

static bool subject_held(const struct stall_clear *r)
{
    if (r->classroom) {
        const struct stall_classroom *k = r->subject;
        return k->held_seq == r->seq && k->cover == COVER_HELD;
    }
    const struct stall_client *c = r->subject;
    return c->held_seq == r->seq && c->cover == COVER_HELD;
}

/* Releases every satisfied record; absorbed ones are left to the grace,
 * which drops them. */
void stall_clear_check(struct voc_stall *s, voc_stall_emit emit, void *ctx)
{
    for (size_t i = 0; i < s->nclears;) {
        struct stall_clear *r = s->clears[i];
        if (!subject_held(r) || !clear_satisfied(s, r)) {
            i++;
            continue;
        }
        void *subject = r->subject;
        bool classroom = r->classroom;
        uint32_t seq = r->seq;
        clear_remove(s, i);
        stall_release_subject(s, subject, classroom, seq, s->now_ms, emit, ctx);
    }
}

void stall_clear_heartbeat(struct voc_stall *s, const struct stall_client *c, int64_t frozen_ms,
                           bool crossed, voc_stall_emit emit, void *ctx)
{
    if (!s->nclears)
        return;
    bool clear = !crossed && frozen_ms <= CLEAR_FROZEN_MS;
    for (size_t i = 0; i < s->nclears; i++) {
        struct stall_clear *r = s->clears[i];
        if (r->subject == c)
            continue;
        if (c->cls == r->cls) {
            if (r->classroom)
                continue; /* its own members: part of its incident */
            if (crossed)
                r->contested = true;
            else if (clear && s->event_ms >= r->onset_ms)
                note(r->members, &r->nmembers, CLEAR_MEMBERS, c);
        } else if (c->line && c->line == r->line) {
            if (crossed)
                r->contested = true;
            else if (clear && s->event_ms >= r->onset_ms)
                note(r->rooms, &r->nrooms, CLEAR_ROOMS, c->cls);
        }
    }
    stall_clear_check(s, emit, ctx);
}
