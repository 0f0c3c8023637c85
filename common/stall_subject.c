/* The stall detector's subjects: clients, classrooms, lines and seats are
 * found or made for each heartbeat, kept in their membership lists and freed
 * on expiry; and each client's window of samples. */
#include <string.h>

#include "stall_int.h"

/* The inline ring holds a 30 s window at one heartbeat per 5 s with room to
 * spare; a chattier client gets a heap ring, doubled as needed, up to this. */
#define RING_MAX 4096

/* Keeps *slot equal to text (NULL allowed). Hashes are compared so that
 * the steady state never reads the stored copy: one cache miss less per
 * heartbeat. A failed copy leaves *hash stale, so the next heartbeat retries. */
static void context_set(struct voc_stall *s, char **slot, uint64_t *hash, const char *text)
{
    uint64_t h = text ? stall_hash(text) : 0;
    if (h == *hash && (*slot != NULL) == (text != NULL))
        return;
    stall_strset_slot(s, slot, text);
    *hash = *slot && text && strcmp(*slot, text) == 0 ? h : 0;
}

static struct stall_classroom *classroom_get(struct voc_stall *s, const char *id)
{
    uint64_t h = stall_hash(id);
    struct stall_hnode *n = stall_htab_find(&s->classrooms, h, id);
    if (n)
        return STALL_OF(n, struct stall_classroom, h);
    size_t len = strlen(id) + 1;
    struct stall_classroom *k = stall_alloc(s, sizeof *k + len);
    if (!k)
        return NULL;
    memcpy(k->id, id, len);
    k->h.hash = h;
    k->h.key = k->id;
    k->task_at_ms = k->task_first_bad_ms = STALL_NEVER;
    stall_list_init(&k->members);
    stall_list_init(&k->seats);
    stall_list_init(&k->lru);
    if (stall_htab_insert(s, &s->classrooms, &k->h) < 0) {
        stall_free(s, k, sizeof *k + len);
        return NULL;
    }
    stall_list_append(&s->classrooms_lru, &k->lru);
    k->lru_ms = k->seen_ms = s->now_ms;
    return k;
}

static struct stall_line *line_get(struct voc_stall *s, const char *id)
{
    uint64_t h = stall_hash(id);
    struct stall_hnode *n = stall_htab_find(&s->lines, h, id);
    if (n)
        return STALL_OF(n, struct stall_line, h);
    size_t len = strlen(id) + 1;
    struct stall_line *l = stall_alloc(s, sizeof *l + len);
    if (!l)
        return NULL;
    memcpy(l->id, id, len);
    l->h.hash = h;
    l->h.key = l->id;
    if (stall_htab_insert(s, &s->lines, &l->h) < 0) {
        stall_free(s, l, sizeof *l + len);
        return NULL;
    }
    stall_list_init(&l->members);
    stall_list_init(&l->heard);
    stall_list_init(&l->marked);
    stall_list_init(&l->lru);
    stall_list_append(&s->lines_lru, &l->lru);
    l->lru_ms = l->seen_ms = s->now_ms;
    return l;
}

/* ---- seats: a classroom as seen on one line ---- */

static bool linked(const struct stall_link *l)
{
    return l->next != l;
}

static void seat_free(struct voc_stall *s, struct stall_seat *t)
{
    if (linked(&t->heard)) {
        stall_list_remove(&t->heard);
        t->line->nheard--;
    }
    if (linked(&t->marked)) {
        stall_list_remove(&t->marked);
        t->line->nmarked--;
    }
    stall_list_remove(&t->in_cls);
    stall_free(s, t, sizeof *t);
}

/* k's seat on l, made if need be. A classroom's students are on a few
 * lines at most, so a walk finds it; it runs only when a client joins. */
static struct stall_seat *seat_get(struct voc_stall *s, struct stall_classroom *k,
                                   struct stall_line *l)
{
    for (struct stall_link *n = k->seats.next; n != &k->seats; n = n->next) {
        struct stall_seat *t = STALL_OF(n, struct stall_seat, in_cls);
        if (t->line == l)
            return t;
    }
    struct stall_seat *t = stall_alloc(s, sizeof *t);
    if (!t)
        return NULL;
    t->cls = k;
    t->line = l;
    t->heard_ms = t->marked_ms = STALL_NEVER;
    stall_list_init(&t->heard);
    stall_list_init(&t->marked);
    stall_list_append(&k->seats, &t->in_cls);
    return t;
}

/* A seat no client refers to stays while it counts as heard from. */
static void seat_release(struct voc_stall *s, struct stall_client *c)
{
    struct stall_seat *t = c->seat;
    c->seat = NULL;
    if (t && --t->refs == 0 && !linked(&t->heard))
        seat_free(s, t);
}

/* Points c->seat at (c->cls, c->line); left NULL when out of memory (the
 * next heartbeat retries). */
static void seat_set(struct voc_stall *s, struct stall_client *c)
{
    if (c->seat && c->seat->cls == c->cls && c->seat->line == c->line)
        return;
    seat_release(s, c);
    if (c->line && (c->seat = seat_get(s, c->cls, c->line)))
        c->seat->refs++;
}

/* Sets *at_ms to now and keeps link at the tail of list (sorted by it). */
static void seat_touch(struct voc_stall *s, struct stall_link *list, struct stall_link *link,
                       size_t *len, int64_t *at_ms)
{
    *at_ms = s->now_ms;
    if (list->prev == link)
        return;
    if (linked(link))
        stall_list_remove(link);
    else
        (*len)++;
    stall_list_append(list, link);
}

void stall_seat_mark(struct voc_stall *s, struct stall_seat *t)
{
    seat_touch(s, &t->line->marked, &t->marked, &t->line->nmarked, &t->marked_ms);
}

void stall_line_unmark(struct stall_line *l)
{
    while (linked(&l->marked))
        stall_list_remove(l->marked.next);
    l->nmarked = 0;
}

void stall_line_prune(struct voc_stall *s, struct stall_line *l)
{
    int64_t cutoff = s->now_ms - s->cfg.line_window_ms;
    while (linked(&l->marked)) {
        struct stall_seat *t = STALL_OF(l->marked.next, struct stall_seat, marked);
        if (t->marked_ms > cutoff)
            break;
        stall_list_remove(&t->marked);
        l->nmarked--;
    }
    while (linked(&l->heard)) {
        struct stall_seat *t = STALL_OF(l->heard.next, struct stall_seat, heard);
        if (t->heard_ms > cutoff)
            break;
        stall_list_remove(&t->heard);
        l->nheard--;
        if (t->refs == 0)
            seat_free(s, t);
    }
}

/* ---- clients ---- */

static struct stall_client *client_new(struct voc_stall *s, const char *id, uint64_t h,
                                       struct stall_classroom *k)
{
    size_t len = strlen(id) + 1;
    struct stall_client *c = stall_alloc(s, sizeof *c + len);
    if (!c)
        return NULL;
    memcpy(c->id, id, len);
    c->h.hash = h;
    c->h.key = c->id;
    if (stall_htab_insert(s, &s->clients, &c->h) < 0) {
        stall_free(s, c, sizeof *c + len);
        return NULL;
    }
    c->ring = c->inline_ring;
    c->ring_cap = STALL_RING_INLINE;
    c->latest_end_ms = c->task_at_ms = c->task_first_bad_ms = STALL_NEVER;
    stall_list_init(&c->lru);
    stall_list_init(&c->in_line);
    stall_list_append(&s->clients_lru, &c->lru);
    c->lru_ms = s->now_ms;
    c->cls = k;
    stall_list_append(&k->members, &c->in_cls);
    k->nmembers++;
    return c;
}

/* A client that changes classroom or line keeps its window (the video it
 * receives is the same), but an incident answered for by the old classroom
 * or line is no longer answered for by the new one. */
static void client_move(struct stall_client *c, struct stall_classroom *k, struct stall_line *l)
{
    if (c->cls != k) {
        stall_list_remove(&c->in_cls);
        c->cls->nmembers--;
        c->cls = k;
        stall_list_append(&k->members, &c->in_cls);
        k->nmembers++;
        if (c->cover == COVER_CLASSROOM)
            c->cover = COVER_NONE;
    }
    if (c->line != l) {
        if (c->line) {
            stall_list_remove(&c->in_line);
            c->line->refs--;
        }
        c->line = l;
        if (l) {
            stall_list_append(&l->members, &c->in_line);
            l->refs++;
        }
        if (c->cover == COVER_LINE)
            c->cover = COVER_NONE;
    }
}

struct stall_client *stall_client_get(struct voc_stall *s, const struct voc_heartbeat *hb)
{
    uint64_t h = stall_hash(hb->student_id);
    struct stall_hnode *n = stall_htab_find(&s->clients, h, hb->student_id);
    struct stall_client *c = n ? STALL_OF(n, struct stall_client, h) : NULL;
    /* A known client almost always stays in its classroom and on its line:
     * compare with those before looking anything up. */
    struct stall_classroom *k = c && strcmp(c->cls->id, hb->classroom_id) == 0
                                    ? c->cls
                                    : classroom_get(s, hb->classroom_id);
    if (!k)
        return NULL;
    struct stall_line *l = NULL;
    if (hb->line) {
        l = c && c->line && strcmp(c->line->id, hb->line) == 0 ? c->line : line_get(s, hb->line);
        if (!l)
            return NULL;
    }
    if (!c && !(c = client_new(s, hb->student_id, h, k)))
        return NULL;
    if (c->cls != k || c->line != l)
        client_move(c, k, l);
    c->teacher = hb->teacher;
    context_set(s, &c->customer, &c->customer_hash, hb->customer_id);
    if (hb->lesson_id)
        context_set(s, &k->lesson, &k->lesson_hash, hb->lesson_id);
    if (hb->teacher_id)
        context_set(s, &k->teacher_id, &k->teacher_hash, hb->teacher_id);
    /* No LRU move here (it would touch two random neighbours per list):
     * expiry re-queues subjects that were seen since they were queued. */
    c->seen_ms = k->seen_ms = s->now_ms;
    if (l) {
        l->seen_ms = s->now_ms;
        seat_set(s, c);
        if (c->seat)
            seat_touch(s, &l->heard, &c->seat->heard, &l->nheard, &c->seat->heard_ms);
    } else if (c->seat) {
        seat_release(s, c);
    }
    return c;
}

void stall_client_free(struct voc_stall *s, struct stall_client *c)
{
    seat_release(s, c);
    stall_list_remove(&c->lru);
    stall_list_remove(&c->in_cls);
    c->cls->nmembers--;
    if (c->line) {
        stall_list_remove(&c->in_line);
        c->line->refs--;
    }
    stall_htab_remove(s, &s->clients, &c->h);
    if (c->ring != c->inline_ring)
        stall_free(s, c->ring, c->ring_cap * sizeof *c->ring);
    stall_strfree(s, c->customer);
    stall_free(s, c, sizeof *c + strlen(c->id) + 1);
}

void stall_classroom_free(struct voc_stall *s, struct stall_classroom *k)
{
    stall_list_remove(&k->lru);
    stall_htab_remove(s, &s->classrooms, &k->h);
    if (k->inc_line)
        k->inc_line->refs--;
    stall_strfree(s, k->lesson);
    stall_strfree(s, k->teacher_id);
    stall_strset_clear(s, &k->families);
    while (linked(&k->seats))
        seat_free(s, STALL_OF(k->seats.next, struct stall_seat, in_cls));
    stall_free(s, k, sizeof *k + strlen(k->id) + 1);
}

void stall_line_free(struct voc_stall *s, struct stall_line *l)
{
    stall_list_remove(&l->lru);
    stall_htab_remove(s, &s->lines, &l->h);
    stall_strset_clear(s, &l->families);
    /* Its seats no client refers to (it has no client left) are all heard. */
    while (linked(&l->heard))
        seat_free(s, STALL_OF(l->heard.next, struct stall_seat, heard));
    stall_free(s, l, sizeof *l + strlen(l->id) + 1);
}

/* ---- the window ---- */

static struct stall_sample *ring_at(const struct stall_client *c, unsigned i)
{
    return &c->ring[(c->ring_head + i) % c->ring_cap];
}

static int64_t end_of(const struct stall_client *c, unsigned i)
{
    return c->base_ms + ring_at(c, i)->end_off;
}

static void ring_drop_oldest(struct stall_client *c)
{
    struct stall_sample *old = ring_at(c, 0);
    c->sum_frozen_ms -= old->frozen_ms;
    c->sum_freezes -= old->freezes;
    c->ring_head = (uint16_t)((c->ring_head + 1) % c->ring_cap);
    c->ring_len--;
}

/* Makes room for one more sample: doubles the ring (rarely, and only for a
 * client that sends more than STALL_RING_INLINE heartbeats per window), or,
 * at RING_MAX, forgets the oldest sample rather than grow without bound. */
static void ring_make_room(struct voc_stall *s, struct stall_client *c)
{
    if (c->ring_len < c->ring_cap)
        return;
    if (c->ring_cap >= RING_MAX) {
        ring_drop_oldest(c);
        return;
    }
    unsigned cap = c->ring_cap * 2U;
    struct stall_sample *ring = stall_alloc(s, cap * sizeof *ring);
    if (!ring) {
        ring_drop_oldest(c);
        return;
    }
    for (unsigned i = 0; i < c->ring_len; i++)
        ring[i] = *ring_at(c, i);
    if (c->ring != c->inline_ring)
        stall_free(s, c->ring, c->ring_cap * sizeof *c->ring);
    c->ring = ring;
    c->ring_cap = (uint16_t)cap;
    c->ring_head = 0;
}

/* Keeps end - base_ms within 32 bits: the first heartbeat sets the base one
 * window back (so any later end the window accepts is above it); after ~49
 * days of one client's stream the samples are moved to a later base. */
static void rebase(struct stall_client *c, int64_t end, int64_t window)
{
    if (c->latest_end_ms == STALL_NEVER) {
        c->base_ms = end - window;
        return;
    }
    if (end - c->base_ms <= (int64_t)UINT32_MAX)
        return;
    int64_t base = c->latest_end_ms - window;
    for (unsigned i = 0; i < c->ring_len; i++)
        ring_at(c, i)->end_off = (uint32_t)(end_of(c, i) - base);
    c->base_ms = base;
}

/* Where a sample ending at end goes, from the tail since heartbeats mostly
 * arrive in order; -1 when that end is already there. Kafka delivers at
 * least once: such a heartbeat is a redelivery and must not count twice. */
static int insert_pos(const struct stall_client *c, int64_t end)
{
    unsigned pos = c->ring_len;
    while (pos > 0 && end_of(c, pos - 1) >= end) {
        if (end_of(c, pos - 1) == end)
            return -1;
        pos--;
    }
    return (int)pos;
}

void stall_window_add(struct voc_stall *s, struct stall_client *c, const struct voc_heartbeat *hb)
{
    int64_t window = s->cfg.window_ms;
    if (c->ring_cap == 0)
        return; /* cannot happen: a client is made with its ring */
    if (c->latest_end_ms != STALL_NEVER && hb->end_ms <= c->latest_end_ms - window)
        return; /* older than the window: it cannot change any decision now */
    rebase(c, hb->end_ms, window);
    int pos = insert_pos(c, hb->end_ms);
    if (pos < 0)
        return;
    unsigned len_before = c->ring_len;
    ring_make_room(s, c);
    if (c->ring_len < len_before && pos > 0)
        pos--; /* the oldest sample made room */
    for (unsigned i = c->ring_len; i > (unsigned)pos; i--)
        *ring_at(c, i) = *ring_at(c, i - 1);
    struct stall_sample *slot = ring_at(c, (unsigned)pos);
    slot->end_off = (uint32_t)(hb->end_ms - c->base_ms);
    slot->frozen_ms = (uint16_t)(hb->freeze_ms < 0       ? 0
                                 : hb->freeze_ms > 65535 ? 65535
                                                         : hb->freeze_ms);
    slot->freezes = (uint16_t)(hb->freeze_count < 0       ? 0
                               : hb->freeze_count > 65535 ? 65535
                                                          : hb->freeze_count);
    c->ring_len++;
    c->sum_frozen_ms += slot->frozen_ms;
    c->sum_freezes += slot->freezes;
    if (hb->end_ms > c->latest_end_ms)
        c->latest_end_ms = hb->end_ms;
    while (c->ring_len && end_of(c, 0) <= c->latest_end_ms - window)
        ring_drop_oldest(c);
}

int64_t stall_window_first_bad(const struct stall_client *c)
{
    /* The start of the run of consecutive frozen heartbeats that ends with
     * the newest: a jitter freeze 20 s earlier, with clean heartbeats since,
     * is not when this stall began. */
    int64_t first = c->latest_end_ms;
    for (unsigned i = c->ring_len; i-- > 0;) {
        const struct stall_sample *x = ring_at(c, i);
        if (x->frozen_ms == 0 && x->freezes == 0)
            break;
        first = end_of(c, i);
    }
    return first;
}

bool stall_client_clear_since(const struct stall_client *c, int64_t since_ms, int64_t max_frozen_ms)
{
    if (!c->ring_len || c->latest_end_ms < since_ms)
        return false;
    const struct stall_sample *x = ring_at(c, c->ring_len - 1u);
    return x->frozen_ms <= max_frozen_ms;
}
