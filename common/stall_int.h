/* Private to common/stall*.c: the detector's state and its containers.
 *
 * Three kinds of subject, each in a hash table keyed by its id and on an
 * expiry queue ordered by lru_ms, the stream time it was (re)queued. Stream
 * time only moves forward, so appending at the tail keeps a queue sorted and
 * expiry only ever looks at its head. A heartbeat only sets seen_ms; expiry
 * re-queues a head seen since, so a subject is forgotten between idle_ms and
 * 2 x idle_ms after it was last heard of, at O(1) amortised cost:
 *  - a client (student or teacher app), with a small sorted ring of its
 *    recent heartbeats' freeze figures and their running sums;
 *  - a classroom, with its members (clients) and, during an incident, the
 *    families affected;
 *  - a line, with its members and, during an incident, the families
 *    affected;
 *  - a classroom as seen on one line (struct stall_seat), for the line
 *    rules: when it was last heard from there and when it last had a client
 *    over a threshold there. A line keeps its seats on two lists sorted by
 *    those times, so "classrooms heard from (marked) within line_window_ms"
 *    are exact counts kept at O(1) amortised cost per heartbeat. A seat
 *    outlives its clients until it leaves the line window; its classroom and
 *    line are kept until then too.
 * Every allocation goes through stall_alloc/stall_free so voc_stall_memory()
 * is exact. */
#ifndef VOC_STALL_INT_H
#define VOC_STALL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/stall.h"

#define STALL_NEVER INT64_MIN

/* A circular doubly-linked list; a list head is a sentinel link. */
struct stall_link {
    struct stall_link *prev, *next;
};

#define STALL_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Chained hash table over nodes embedded in the subjects. */
struct stall_hnode {
    struct stall_hnode *next;
    uint64_t hash;
    const char *key;
};

struct stall_htab {
    struct stall_hnode **slots;
    size_t nslots, count;
};

/* A set of owned strings, in insertion order, with an open-addressed index. */
struct stall_strset {
    char **items;
    size_t count, cap;
    uint32_t *index; /* item position + 1; 0 = empty */
    size_t nindex;   /* a power of two, or 0 */
};

/* One heartbeat's contribution to its client's window: 8 bytes, so the
 * usual window (6 heartbeats) fits in one cache line inside the client. The
 * window end is kept relative to the client's base_ms. */
struct stall_sample {
    uint32_t end_off;
    uint16_t frozen_ms; /* per heartbeat; clamped (a heartbeat covers ~5 s) */
    uint16_t freezes;
};

#define STALL_RING_INLINE 8

/* What answers for a subject's current incident (who already has, or will
 * get, a task for it). */
enum stall_cover {
    COVER_NONE,      /* no incident, or nobody answers for it */
    COVER_HELD,      /* its own detection, waiting for the line grace */
    COVER_TASK,      /* its own detection, emitted */
    COVER_PREV,      /* within the cooldown: the previous task answers */
    COVER_CLASSROOM, /* its classroom's incident answers */
    COVER_LINE       /* its line's incident answers */
};

struct stall_classroom;
struct stall_line;
struct stall_seat;

/* Fields every heartbeat reads or writes come last, next to the key, so a
 * heartbeat touches few cache lines of a client. */
struct stall_client {
    /* membership, expiry and incident bookkeeping */
    struct stall_link lru, in_cls, in_line;
    char *customer;    /* NULL for a teacher or an unknown family */
    uint32_t held_seq; /* != 0 while a hold queue entry refers to it */
    uint8_t cover;     /* enum stall_cover */
    int32_t peak_freezes;
    int64_t peak_frozen_ms;
    int64_t first_bad_ms;                  /* the current incident's first bad heartbeat */
    int64_t task_first_bad_ms, task_at_ms; /* its last task: id and cooldown start */
    int64_t lru_ms;                        /* when it was put on the expiry queue */
    /* per heartbeat */
    struct stall_classroom *cls; /* never NULL */
    struct stall_line *line;     /* NULL: no line view */
    struct stall_seat *seat;     /* (cls, line); NULL when line is */
    uint64_t customer_hash;
    struct stall_sample *ring; /* sorted by window end, oldest at ring_head */
    uint16_t ring_head, ring_len, ring_cap;
    bool teacher, in_incident;
    int32_t sum_freezes;
    int64_t sum_frozen_ms;
    int64_t base_ms;       /* sample window ends are relative to this */
    int64_t latest_end_ms; /* the newest window end of its own stream */
    int64_t seen_ms;       /* stream time of its last heartbeat */
    int64_t last_cross_ms; /* stream time it was last over a threshold */
    struct stall_sample inline_ring[STALL_RING_INLINE]; /* ring, until it must grow */
    struct stall_hnode h;                               /* key = id */
    char id[];
};

struct stall_classroom {
    struct stall_hnode h;
    struct stall_link lru, members;
    struct stall_link seats; /* its struct stall_seat, one per line */
    char *lesson, *teacher_id;
    uint64_t lesson_hash, teacher_hash;
    size_t nmembers;
    struct stall_line *inc_line; /* the line the incident came through (a reference) */
    struct stall_strset families;
    bool in_incident, teacher_stall;
    uint8_t cover;
    uint32_t held_seq;
    uint32_t stamp, stall_stamp; /* scratch for counting distinct classrooms */
    int64_t first_bad_ms, last_cross_ms, lru_ms, seen_ms;
    int64_t task_first_bad_ms, task_at_ms;
    char id[];
};

/* A classroom on a line. On line->heard while heard_ms is within the line
 * window, on line->marked while marked_ms is, each list sorted by its time
 * (a refresh moves the seat to the tail); off a list, a link points to
 * itself. */
struct stall_seat {
    struct stall_link heard, marked, in_cls;
    struct stall_classroom *cls;
    struct stall_line *line;
    size_t refs; /* clients whose seat it is */
    int64_t heard_ms, marked_ms;
};

struct stall_line {
    struct stall_hnode h;
    struct stall_link lru, members;
    size_t refs;              /* clients on it + classroom incidents through it */
    struct stall_link heard;  /* seats heard from within line_window_ms */
    struct stall_link marked; /* seats marked within line_window_ms */
    size_t nheard, nmarked;   /* their lengths */
    struct stall_strset families;
    bool in_incident;
    int64_t inc_start_ms, first_bad_ms, lru_ms, seen_ms;
    char id[];
};

/* A student or classroom detection waiting out the line grace. Holds are
 * made at "now + grace" with a constant grace, so the queue is a FIFO. */
struct stall_held {
    void *subject; /* struct stall_client or struct stall_classroom */
    uint32_t seq;
    bool classroom;
    int64_t until_ms;
};

struct stall_clear; /* stall_clear.c */
#define STALL_CLEAR_MAX 64

struct voc_stall {
    struct voc_stall_config cfg;
    int64_t now_ms;
    int64_t watermark_ms; /* the caller's release clock (voc_stall_use_watermark) */
    int64_t event_ms;     /* end of the heartbeat being observed */
    bool external_clock;
    bool started, oom;
    struct stall_htab clients, classrooms, lines;
    struct stall_link clients_lru, classrooms_lru, lines_lru;
    struct stall_held *held;
    size_t held_head, held_len, held_cap;
    uint32_t seq, stamp;
    struct stall_clear *clears[STALL_CLEAR_MAX]; /* holds that may end early */
    size_t nclears;
    int64_t sweep_at_ms;
    size_t mem;
    char *buf; /* incident ids handed out */
    size_t bufcap;
};

/* ---- memory (stall_util.c) ---- */
void *stall_alloc(struct voc_stall *s, size_t n);
void stall_free(struct voc_stall *s, void *p, size_t n);
void *stall_grow(struct voc_stall *s, void *p, size_t old_n, size_t new_n);
char *stall_strdup(struct voc_stall *s, const char *text);
void stall_strfree(struct voc_stall *s, char *text);
/* Replaces *slot with a copy of text when they differ (NULL allowed). */
void stall_strset_slot(struct voc_stall *s, char **slot, const char *text);

/* ---- lists ---- */
void stall_list_init(struct stall_link *head);
void stall_list_append(struct stall_link *head, struct stall_link *l);
void stall_list_remove(struct stall_link *l);
bool stall_list_empty(const struct stall_link *head);

/* ---- hash tables ---- */
uint64_t stall_hash(const char *key);
struct stall_hnode *stall_htab_find(const struct stall_htab *t, uint64_t hash, const char *key);
int stall_htab_insert(struct voc_stall *s, struct stall_htab *t, struct stall_hnode *n);
void stall_htab_remove(struct voc_stall *s, struct stall_htab *t, struct stall_hnode *n);
void stall_htab_free(struct voc_stall *s, struct stall_htab *t);

/* ---- string sets ---- */
int stall_strset_add(struct voc_stall *s, struct stall_strset *set, const char *text);
bool stall_strset_has(const struct stall_strset *set, const char *text);
void stall_strset_clear(struct voc_stall *s, struct stall_strset *set);

/* ---- the incident ids (stall.c); valid until the next call ---- */
const char *stall_id(struct voc_stall *s, const char *level, const char *subject, int64_t ms);

/* ---- state predicates and shared steps (stall.c) ---- */
bool stall_client_stalled(const struct voc_stall *s, const struct stall_client *c);
bool stall_classroom_active(const struct voc_stall *s, const struct stall_classroom *k);
bool stall_line_active(const struct voc_stall *s, const struct stall_line *l);
int stall_hold(struct voc_stall *s, void *subject, bool classroom, uint32_t *held_seq);
void stall_release_due(struct voc_stall *s, voc_stall_emit emit, void *ctx);
/* Ends hold seq of subject (a client, or a classroom when classroom is set)
 * as decided at decided_ms: emits its task unless it was absorbed meanwhile. */
void stall_release_subject(struct voc_stall *s, void *subject, bool classroom, uint32_t seq,
                           int64_t decided_ms, voc_stall_emit emit, void *ctx);

/* ---- early release (stall_clear.c) ---- */
/* Starts gathering evidence for the hold just made (seq) on subject. */
void stall_clear_add(struct voc_stall *s, void *subject, bool classroom, uint32_t seq);
/* Forgets the evidence of hold seq (it ended by its grace). */
void stall_clear_drop(struct voc_stall *s, const void *subject, uint32_t seq);
void stall_clear_free_all(struct voc_stall *s);
/* Weighs c's heartbeat (frozen_ms in its window; crossed: it was over a
 * threshold) as evidence and releases the holds it clears. */
void stall_clear_heartbeat(struct voc_stall *s, const struct stall_client *c, int64_t frozen_ms,
                           bool crossed, voc_stall_emit emit, void *ctx);
/* Releases the holds already cleared (e.g. once the watermark has moved). */
void stall_clear_check(struct voc_stall *s, voc_stall_emit emit, void *ctx);

/* ---- subjects (stall_subject.c) ---- */
struct stall_client *stall_client_get(struct voc_stall *s, const struct voc_heartbeat *hb);
void stall_client_free(struct voc_stall *s, struct stall_client *c);
void stall_classroom_free(struct voc_stall *s, struct stall_classroom *k);
void stall_line_free(struct voc_stall *s, struct stall_line *l);
/* Drops l's seats heard from (marked) no later than line_window_ms ago from
 * its lists, freeing those no client refers to. */
void stall_line_prune(struct voc_stall *s, struct stall_line *l);
/* Marks t now: moves it to the tail of its line's marked list. */
void stall_seat_mark(struct voc_stall *s, struct stall_seat *t);
/* Empties l's marked list (a line incident starts afresh after it ends). */
void stall_line_unmark(struct stall_line *l);

/* Adds hb's freeze figures to c's window (ignoring redeliveries and
 * heartbeats older than the window) and drops samples that left it. */
void stall_window_add(struct voc_stall *s, struct stall_client *c, const struct voc_heartbeat *hb);
/* The window end of the oldest of the consecutive samples with a freeze
 * that end c's window (its newest sample when that has none). */
int64_t stall_window_first_bad(const struct stall_client *c);
/* Whether c's newest sample ends at or after since_ms with at most
 * max_frozen_ms frozen. */
bool stall_client_clear_since(const struct stall_client *c, int64_t since_ms,
                              int64_t max_frozen_ms);

/* ---- decisions (stall_detect.c) ---- */
/* Applies c's window (just updated) to c, its classroom and its line.
 * Returns whether c is over a threshold after it (a crossing). */
bool stall_client_observe(struct voc_stall *s, struct stall_client *c, voc_stall_emit emit,
                          void *ctx);

#endif
