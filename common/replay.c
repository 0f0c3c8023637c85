/* Replay marks (voc/replay.h): per partition, a queue of (offset, newest
 * event time before it) pruned from the front as the partition's newest
 * event moves on, so its head is always the replay point. */
#include "voc/replay.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mark {
    int64_t offset;
    int64_t before_ms; /* the newest event time noted before offset */
};

struct part {
    struct mark *marks; /* marks[head .. head + len), oldest first */
    size_t head, len, cap;
    int64_t last_offset, newest_ms;
    int64_t saved_offset; /* -1: never saved */
};

struct voc_replay_marks {
    int64_t horizon_ms, spacing_ms;
    struct part **parts; /* indexed by partition; NULL until noted */
    size_t nparts;
};

struct voc_replay_marks *voc_replay_new(int64_t horizon_ms, int64_t spacing_ms)
{
    if (horizon_ms < 0 || spacing_ms <= 0)
        return NULL;
    struct voc_replay_marks *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->horizon_ms = horizon_ms;
    m->spacing_ms = spacing_ms;
    return m;
}

void voc_replay_free(struct voc_replay_marks *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nparts; i++) {
        if (m->parts[i])
            free(m->parts[i]->marks);
        free(m->parts[i]);
    }
    free(m->parts);
    free(m);
}

static struct part *part_get(struct voc_replay_marks *m, int32_t partition)
{
    if (partition < 0 || partition >= VOC_REPLAY_MAX_PARTITIONS)
        return NULL;
    size_t i = (size_t)partition;
    if (i >= m->nparts) {
        size_t n = m->nparts ? m->nparts : 16;
        while (n <= i)
            n *= 2;
        struct part **grown = realloc(m->parts, n * sizeof(struct part *));
        if (!grown)
            return NULL;
        memset(grown + m->nparts, 0, (n - m->nparts) * sizeof(struct part *));
        m->parts = grown;
        m->nparts = n;
    }
    if (!m->parts[i]) {
        m->parts[i] = calloc(1, sizeof **m->parts);
        if (m->parts[i])
            m->parts[i]->saved_offset = -1;
    }
    return m->parts[i];
}

static const struct part *part_find(const struct voc_replay_marks *m, int32_t partition)
{
    if (partition < 0 || (size_t)partition >= m->nparts)
        return NULL;
    return m->parts[partition];
}

static int push_mark(struct part *p, int64_t offset)
{
    if (p->head > 0 && p->head + p->len == p->cap) {
        memmove(p->marks, p->marks + p->head, p->len * sizeof *p->marks);
        p->head = 0;
    }
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct mark *grown = realloc(p->marks, cap * sizeof *grown);
        if (!grown)
            return -1;
        p->marks = grown;
        p->cap = cap;
    }
    p->marks[p->head + p->len++] = (struct mark){offset, p->newest_ms};
    return 0;
}

int voc_replay_note(struct voc_replay_marks *m, int32_t partition, int64_t offset, int64_t event_ms)
{
    if (partition < 0 || partition >= VOC_REPLAY_MAX_PARTITIONS)
        return 0;
    struct part *p = part_get(m, partition);
    if (!p)
        return -1;
    if (p->len == 0 || offset <= p->last_offset) {
        /* A fresh start or a re-read: what came before this offset is unknown,
         * so its first message stands for it (streams are roughly in order). */
        p->head = p->len = 0;
        p->newest_ms = event_ms;
    }
    p->last_offset = offset;
    int rc = 0;
    if (p->len == 0 || p->newest_ms - p->marks[p->head + p->len - 1].before_ms >= m->spacing_ms)
        rc = push_mark(p, offset);
    if (event_ms > p->newest_ms)
        p->newest_ms = event_ms;
    /* The head stays the latest mark with nothing younger than the horizon
     * before it (or the oldest mark while none qualifies). */
    while (p->len >= 2 && p->marks[p->head + 1].before_ms <= p->newest_ms - m->horizon_ms) {
        p->head++;
        p->len--;
    }
    return rc;
}

int voc_replay_point(const struct voc_replay_marks *m, int32_t partition,
                     struct voc_replay_point *out)
{
    const struct part *p = part_find(m, partition);
    if (!p || p->len == 0)
        return -1;
    out->partition = partition;
    out->offset = p->marks[p->head].offset;
    out->event_ms = p->marks[p->head].before_ms;
    return 0;
}

size_t voc_replay_moved(const struct voc_replay_marks *m, struct voc_replay_point *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nparts && n < max; i++) {
        struct voc_replay_point pt;
        if (voc_replay_point(m, (int32_t)i, &pt) == 0 && pt.offset != m->parts[i]->saved_offset)
            out[n++] = pt;
    }
    return n;
}

void voc_replay_saved(struct voc_replay_marks *m, const struct voc_replay_point *points, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t p = points[i].partition;
        if (p >= 0 && (size_t)p < m->nparts && m->parts[p])
            m->parts[p]->saved_offset = points[i].offset;
    }
}
