/* Replay marks: where a consumer that keeps event-time state in memory (e.g.
 * voc-outreach's sliding windows) must re-read each partition from after a
 * restart, so that it sees again every message of the last horizon_ms of
 * event time, found from the messages themselves rather than from the broker.
 *
 * Per partition it keeps a short queue of marks, about one per spacing_ms of
 * event time: (offset, the newest event time among the messages noted before
 * that offset). The replay offset is the latest mark before which every
 * noted message is at least horizon_ms older than the partition's newest
 * event. Keeping the newest event time before a mark, rather than the event
 * time at it, makes out-of-order event times safe: nothing skipped can be
 * younger than the horizon. Memory per partition is about
 * horizon_ms / spacing_ms marks of 16 bytes.
 *
 * Single-threaded; the caller persists the points (e.g. in Postgres) and
 * hands them to the consumer loop's replay_from hook (voc/kafka.h). */
#ifndef VOC_REPLAY_H
#define VOC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Partitions numbered at or above this are not tracked (notes are ignored). */
#define VOC_REPLAY_MAX_PARTITIONS 65536

struct voc_replay_marks;

/* horizon_ms >= 0, spacing_ms > 0. NULL when out of memory or invalid. */
struct voc_replay_marks *voc_replay_new(int64_t horizon_ms, int64_t spacing_ms);
void voc_replay_free(struct voc_replay_marks *m);

/* Notes that the message at offset of partition carries event time event_ms.
 * An offset not after the last one noted for the partition means the
 * partition is being re-read (a rewind or a reassignment): its marks start
 * afresh from there. Returns 0, or -1 when out of memory (the note is lost,
 * which only makes a later replay point older, never younger). */
int voc_replay_note(struct voc_replay_marks *m, int32_t partition, int64_t offset,
                    int64_t event_ms);

struct voc_replay_point {
    int32_t partition;
    int64_t offset;   /* re-read from here ... */
    int64_t event_ms; /* ... and every noted message newer than this is re-read */
};

/* The partition's replay point. When the notes do not reach horizon_ms back
 * yet (a stream younger than the horizon, or shortly after a start), the
 * oldest mark: everything this process has read of the partition. Returns 0,
 * or -1 when nothing was noted for it. */
int voc_replay_point(const struct voc_replay_marks *m, int32_t partition,
                     struct voc_replay_point *out);

/* Fills out with up to max partitions whose replay point moved since it was
 * last passed to voc_replay_saved(), in partition order. Returns how many. */
size_t voc_replay_moved(const struct voc_replay_marks *m, struct voc_replay_point *out, size_t max);
/* Records that these points are persisted. */
void voc_replay_saved(struct voc_replay_marks *m, const struct voc_replay_point *points, size_t n);

#endif
