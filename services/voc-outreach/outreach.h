/* voc-outreach's handler as main() sees it: telemetry and tech issues in,
 * outreach tasks out (voc.outreach rows and events, via the outbox). */
#ifndef VOC_OUTREACH_H
#define VOC_OUTREACH_H

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "voc/config.h"
#include "voc/kafka.h"

struct outreach;

/* Loads outreach.yaml (problems logged as file:line: message, *bad_config = 1). */
struct outreach *outreach_new(const struct voc_config *cfg, rd_kafka_t *producer,
                              volatile sig_atomic_t *reload, int *bad_config);
void outreach_free(struct outreach *o);
struct voc_batch_handler outreach_handler(struct outreach *o);
void outreach_log_totals(const struct outreach *o);

#endif
