/* voc-track's handler as main() sees it. */
#ifndef VOC_TRACK_SERVICE_H
#define VOC_TRACK_SERVICE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "voc/config.h"
#include "voc/kafka.h"

struct track;

/* Loads sla.yaml (problems logged as file:line: message, *bad_config = 1).
 * The producer is borrowed; the database is connected on first use. */
struct track *track_new(const struct voc_config *cfg, rd_kafka_t *producer,
                        volatile sig_atomic_t *reload, int *bad_config);
void track_free(struct track *t);
struct voc_batch_handler track_handler(struct track *t);
void track_log_totals(const struct track *t);

#endif
