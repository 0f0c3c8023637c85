/* The dead-letter record (schemas/events/deadletter.schema.json): what a
 * person needs to understand and replay a message we could not accept. */
#ifndef VOC_DEADLETTER_H
#define VOC_DEADLETTER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/kafka.h"

struct voc_deadletter_src {
    const char *service; /* e.g. "voc-ingest" */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* may be NULL */
    size_t keylen;
    const void *value; /* the original bytes, exactly as received */
    size_t len;
};

/* Returns the record as a malloc'd JSON string (caller frees), or NULL when
 * out of memory. original_b64 always holds the exact bytes; original_text is
 * added when they are valid UTF-8. */
char *voc_deadletter_record(const struct voc_deadletter_src *src, const char *reason);

/* Dead-letters consumed message m: builds its record, logs it
 * (event=deadlettered with the reason, never the content) and produces it to
 * topic, tracked by t (wait with voc_kafka_wait before storing m's offset).
 * Returns 0, or -1 when out of memory or the producer refused. */
int voc_deadletter_produce(rd_kafka_t *producer, struct voc_produce_tracker *t, const char *topic,
                           const char *service, const rd_kafka_message_t *m, const char *reason);

#endif
