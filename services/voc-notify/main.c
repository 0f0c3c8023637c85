/* voc-notify: delivers the notifications on voc.notification (written
 * through the outbox by voc-aggregate and voc-track) to each department's
 * chat webhook from routing.yaml and notify.yaml: grouped per department,
 * retried with backoff, every attempt in voc.delivery, dead-lettered after
 * the last. See notifier.h for the parts. */
#include <curl/curl.h>
#include <stdio.h>

#include "notifier.h"
#include "voc/service.h"

static const char *group_id(const struct voc_config *cfg)
{
    return cfg->notify.group_id;
}

static size_t topics(const struct voc_config *cfg, const char **out, size_t max)
{
    (void)max;
    out[0] = cfg->topics.notification;
    return 1;
}

static size_t batch_size(const struct voc_config *cfg)
{
    return (size_t)cfg->notify.batch_size;
}

static int flush_ms(const struct voc_config *cfg)
{
    return (int)cfg->notify.flush_ms;
}

static void *create(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config)
{
    return notifier_new(cfg, producer, reload, bad_config);
}

static void destroy(void *state)
{
    notifier_free(state);
}

static struct voc_batch_handler handler(void *state)
{
    return notifier_handler(state);
}

static void log_totals(const void *state)
{
    notifier_log_totals(state);
}

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-notify",
        .summary = "Delivers notifications to departments' chat webhooks, grouped, with retries.",
        .group_id = group_id,
        .topics = topics,
        .batch_size = batch_size,
        .flush_ms = flush_ms,
        .create = create,
        .destroy = destroy,
        .handler = handler,
        .log_totals = log_totals,
    };
    /* Before any thread exists: libcurl's global set-up is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "voc-notify: libcurl could not be initialised\n");
        return 1;
    }
    int rc = voc_service_main(&svc, argc, argv);
    curl_global_cleanup();
    return rc;
}
