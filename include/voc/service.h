/* The life of a consumer service, shared by voc-ingest and voc-aggregate:
 * command line, configuration, a producer, the handler, the consumer group,
 * signals, the batch loop, and an orderly shutdown. A service describes
 * itself; voc_service_main() runs it. */
#ifndef VOC_SERVICE_H
#define VOC_SERVICE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "voc/config.h"
#include "voc/kafka.h"

#define VOC_SERVICE_MAX_TOPICS 4

/* The offset of a member of struct voc_config, e.g. VOC_CFG(ingest.group_id). */
#define VOC_CFG(member) offsetof(struct voc_config, member)

struct voc_service {
    const char *name;    /* e.g. "voc-ingest": logs, --help, application_name */
    const char *summary; /* one line for --help */
    /* What to consume: where the settings live in the loaded configuration
     * (VOC_CFG offsets), so a new service states them instead of coding
     * accessors. */
    size_t group_id_at;                       /* char * */
    size_t batch_size_at, flush_ms_at;        /* long long */
    size_t topics_at[VOC_SERVICE_MAX_TOPICS]; /* char *, ntopics of them */
    size_t ntopics;
    /* The handler's state. create() returns NULL on failure, with
     * *bad_config = 1 when the configuration is at fault (exit 2). */
    void *(*create)(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config);
    void (*destroy)(void *state);
    struct voc_batch_handler (*handler)(void *state);
    void (*log_totals)(const void *state);
};

/* The hooks of a service module named prefix whose state is `type`: its
 * prefix_new(cfg, producer, reload, bad_config), prefix_free(state),
 * prefix_handler(state) and prefix_log_totals(state), wrapped once here so
 * each module keeps its own types. VOC_SERVICE_ADAPTERS(prefix, type) at file
 * scope defines the wrappers; VOC_SERVICE_HOOKS(prefix) names them inside a
 * struct voc_service initialiser. */
#define VOC_SERVICE_ADAPTERS(prefix, type)                                                         \
    static void *prefix##_create_hook(const struct voc_config *cfg, rd_kafka_t *producer,          \
                                      volatile sig_atomic_t *reload, int *bad_config)              \
    {                                                                                              \
        return prefix##_new(cfg, producer, reload, bad_config);                                    \
    }                                                                                              \
    static void prefix##_destroy_hook(void *state)                                                 \
    {                                                                                              \
        prefix##_free((type *)state);                                                              \
    }                                                                                              \
    static struct voc_batch_handler prefix##_handler_hook(void *state)                             \
    {                                                                                              \
        return prefix##_handler((type *)state);                                                    \
    }                                                                                              \
    static void prefix##_totals_hook(const void *state)                                            \
    {                                                                                              \
        prefix##_log_totals((const type *)state);                                                  \
    }
#define VOC_SERVICE_HOOKS(prefix)                                                                  \
    .create = prefix##_create_hook, .destroy = prefix##_destroy_hook,                              \
    .handler = prefix##_handler_hook, .log_totals = prefix##_totals_hook

/* Runs the service; returns main()'s exit code (0, 1 runtime, 2 usage/config). */
int voc_service_main(const struct voc_service *svc, int argc, char **argv);

#endif
