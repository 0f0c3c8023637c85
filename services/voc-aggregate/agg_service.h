/* voc-aggregate's handler as main() sees it. */
#ifndef VOC_AGG_SERVICE_H
#define VOC_AGG_SERVICE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "voc/config.h"
#include "voc/kafka.h"

struct aggregate;

/* Loads routing.yaml (errors logged as file:line: message; *bad_config = 1).
 * The producer is borrowed. The database is connected on first use. */
struct aggregate *aggregate_new(const struct voc_config *cfg, rd_kafka_t *producer,
                                volatile sig_atomic_t *reload, int *bad_config);
void aggregate_free(struct aggregate *a);
struct voc_batch_handler aggregate_handler(struct aggregate *a);
void aggregate_log_totals(const struct aggregate *a);

#endif
