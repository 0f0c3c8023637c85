/* The life of a consumer service, shared by voc-ingest and voc-aggregate:
 * command line, configuration, a producer, the handler, the consumer group,
 * signals, the batch loop, and an orderly shutdown. A service describes
 * itself; voc_service_main() runs it. */
#ifndef VOC_SERVICE_H
#define VOC_SERVICE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>

#include "voc/config.h"
#include "voc/kafka.h"

struct voc_service {
    const char *name;    /* e.g. "voc-ingest": logs, --help, application_name */
    const char *summary; /* one line for --help */
    /* What to consume, from the loaded configuration. */
    const char *(*group_id)(const struct voc_config *cfg);
    size_t (*topics)(const struct voc_config *cfg, const char **out, size_t max);
    size_t (*batch_size)(const struct voc_config *cfg);
    int (*flush_ms)(const struct voc_config *cfg);
    /* The handler's state. create() returns NULL on failure, with
     * *bad_config = 1 when the configuration is at fault (exit 2). */
    void *(*create)(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config);
    void (*destroy)(void *state);
    struct voc_batch_handler (*handler)(void *state);
    void (*log_totals)(const void *state);
};

/* Runs the service; returns main()'s exit code (0, 1 runtime, 2 usage/config). */
int voc_service_main(const struct voc_service *svc, int argc, char **argv);

#endif
