/* voc-outreach's replay checkpoints (voc.outreach_checkpoint): per telemetry
 * partition, the offset from which re-reading rebuilds the detector's windows
 * after a restart, for brokers that cannot look offsets up by time. */
#ifndef VOC_OUTREACH_CHECKPOINT_H
#define VOC_OUTREACH_CHECKPOINT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/db.h"
#include "voc/replay.h"

/* Upserts the points of topic in one statement. Returns 0, or -1 with
 * *fault and err set (nothing written). */
int checkpoint_save(PGconn *conn, const char *topic, const struct voc_replay_point *points,
                    size_t n, enum voc_db_fault *fault, char *err, size_t errlen);

/* The stored replay offset of (topic, partition) into *offset. Returns 1,
 * 0 when there is none, or -1 with *fault and err set. */
int checkpoint_load(PGconn *conn, const char *topic, int32_t partition, int64_t *offset,
                    enum voc_db_fault *fault, char *err, size_t errlen);

#endif
