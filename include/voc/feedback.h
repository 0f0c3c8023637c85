/* Writing accepted events to voc.feedback, idempotent on event_id.
 *
 * One round trip per chunk of up to 1,000 rows (libpq pipeline mode; the
 * chunk is one implicit transaction). Chunks commit separately: that is safe
 * because every insert is ON CONFLICT (event_id) DO NOTHING and offsets are
 * stored only after the whole batch is written, so a crash in between means
 * a redelivery that inserts nothing twice. */
#ifndef VOC_FEEDBACK_H
#define VOC_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/db.h"
#include "voc/event.h"
#include "voc/taxonomy.h"

struct voc_feedback_row {
    /* In: */
    const struct voc_event *ev;
    const char *text;    /* PII-masked text, or NULL */
    const char *payload; /* the PII-masked event as JSON */
    const struct voc_classification *cls;
    const char *taxonomy_version;
    const char *topic;
    int32_t partition;
    int64_t offset;
    /* Out: set when Postgres refused this row for its data (SQLSTATE class
     * 22 or 23); the row was left out and the rest written. */
    bool rejected;
    char reject_reason[256];
};

struct voc_feedback_writer; /* owns its Postgres connection */

/* Does not connect yet: the first write does (and every write after a lost
 * connection reconnects and prepares again). Returns NULL when out of memory. */
struct voc_feedback_writer *voc_feedback_writer_new(const char *dsn, const char *app);
void voc_feedback_writer_free(struct voc_feedback_writer *w);

/* Writes rows[0..n). Returns VOC_DB_OK when every row is written, already
 * present, or rejected (see row->rejected); *inserted counts new rows.
 * VOC_DB_RECONNECT / VOC_DB_RETRY: try the same rows again later.
 * VOC_DB_FATAL: the schema is wrong or missing; err says what Postgres said. */
enum voc_db_fault voc_feedback_write(struct voc_feedback_writer *w, struct voc_feedback_row *rows,
                                     size_t n, size_t *inserted, char *err, size_t errlen);

#endif
