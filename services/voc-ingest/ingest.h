/* voc-ingest's batch handler: validate, mask, normalise, classify, store,
 * forward. See ingest.c. */
#ifndef VOC_INGEST_H
#define VOC_INGEST_H

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "voc/config.h"
#include "voc/kafka.h"

struct ingest;

/* Builds the handler state; loads the taxonomy (errors printed as
 * file:line: message). Returns NULL on bad configuration (*bad_config = 1) or
 * another start-up failure (*bad_config = 0). The producer is borrowed. */
struct ingest *ingest_new(const struct voc_config *cfg, rd_kafka_t *producer,
                          volatile sig_atomic_t *reload, int *bad_config);
void ingest_free(struct ingest *in);

/* The handler to give voc_consumer_run(). */
struct voc_batch_handler ingest_handler(struct ingest *in);

/* Logs the running totals (called periodically and at exit). */
void ingest_log_totals(const struct ingest *in);

#endif
