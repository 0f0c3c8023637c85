/* Kafka clients built from the configuration, and the batch consumer loop
 * every vocloop consumer runs.
 *
 * The loop's promise (design principle 2): a message's offset is stored only
 * after the batch holding it has been handled durably, i.e. the handler
 * returned VOC_BATCH_DONE after its Postgres transaction committed and its
 * produced messages were acknowledged. Offsets are committed by librdkafka's
 * auto-commit from the stored positions, on revoke and on close. */
#ifndef VOC_KAFKA_H
#define VOC_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/config.h"

/* Producer with kafka + kafka_producer properties. NULL with err filled. */
rd_kafka_t *voc_kafka_producer_new(const struct voc_config *cfg, char *err, size_t errlen);

/* Consumer in group_id, subscribed to topics, with kafka + kafka_consumer
 * properties and vocloop's required settings (enable.auto.offset.store=false). */
rd_kafka_t *voc_kafka_consumer_new(const struct voc_config *cfg, const char *group_id,
                                   const char *const *topics, size_t ntopics, char *err,
                                   size_t errlen);

/* Produces and waits until every message is acknowledged or timeout_ms passes.
 * Returns the number of messages that failed (0 = all delivered), -1 on a
 * timeout, after purging what was still pending, so that no delivery report
 * can reach the tracker once voc_kafka_wait() has returned. Used where a batch
 * must not be acknowledged before its output is. One batch at a time per
 * producer: the purge covers every message of the producer. */
struct voc_produce_tracker {
    int pending;
    int failed;
    char first_error[160];
};
/* The producer must have been created by voc_kafka_producer_new(), whose
 * delivery callback counts into the tracker passed as msg_opaque. */
int voc_kafka_produce(rd_kafka_t *producer, struct voc_produce_tracker *t, const char *topic,
                      const void *key, size_t keylen, const void *value, size_t len);
int voc_kafka_wait(rd_kafka_t *producer, struct voc_produce_tracker *t, int timeout_ms);

enum voc_batch_result {
    VOC_BATCH_DONE,  /* effect durable: store the offsets */
    VOC_BATCH_RETRY, /* a dependency is down: back off and hand me the same batch again */
    VOC_BATCH_FATAL  /* cannot continue (bad schema, bug): stop the loop, store nothing */
};

struct voc_batch_handler {
    void *ctx;
    enum voc_batch_result (*process)(void *ctx, rd_kafka_message_t **msgs, size_t n);
    /* Optional: called once per loop iteration (e.g. to act on SIGHUP). */
    void (*tick)(void *ctx);
    /* Optional, for handlers that keep state in memory and rebuild it after
     * a restart or a rebalance by re-reading what came before the committed
     * offset. When partitions are assigned, each starts at the earliest of:
     * its committed offset; the broker's offset for (now - replay_ms) by
     * message timestamp (when replay_ms returns > 0 for its topic and the
     * broker can answer: librdkafka's mock cluster, voc-bus, cannot); and
     * replay_from's answer, the handler's own checkpoint (an offset, or -1
     * for none). Never after the committed offset, never before the log
     * start; a partition with no committed offset yet is left to
     * auto.offset.reset (and replay_from is not asked). Logged as
     * partitions_rewound count=N source=time|checkpoint|time+checkpoint.
     * replay_from runs inside the rebalance callback, on the loop's thread;
     * committed tells it where the replay ends (messages before it were
     * handled durably, so their side effects, e.g. dead letters, need not be
     * repeated). */
    long long (*replay_ms)(void *ctx, const char *topic);
    int64_t (*replay_from)(void *ctx, const char *topic, int32_t partition, int64_t committed);
};

struct voc_consumer_opts {
    size_t batch_size;  /* hand over a batch at this many messages ... */
    int flush_ms;       /* ... or this long after its first message */
    int max_backoff_ms; /* cap of the retry backoff (doubles from 50 ms) */
};

/* Runs until *stop is set (then finishes the batch in hand, stores offsets and
 * closes the consumer, leaving the group), or the handler returns FATAL.
 * Returns 0 on a clean stop, -1 on a fatal error. Destroys nothing: the
 * caller destroys the consumer after this returns. */
int voc_consumer_run(rd_kafka_t *consumer, const struct voc_consumer_opts *opts,
                     const struct voc_batch_handler *handler, volatile sig_atomic_t *stop);

/* Installs SIGTERM/SIGINT handlers that set *stop (a second signal _exit()s
 * at once) and, when reload is not NULL, a SIGHUP handler that sets *reload. */
void voc_signals_install(volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

#endif
