/* voc-outreach: classroom stalls detected from telemetry in real time, and one
 * task per incident for tech support (voc.outreach), before the family
 * complains. */
#include "outreach.h"
#include "voc/service.h"

static const char *group_id(const struct voc_config *cfg)
{
    return cfg->outreach.group_id;
}

static size_t topics(const struct voc_config *cfg, const char **out, size_t max)
{
    (void)max;
    out[0] = cfg->topics.telemetry;
    out[1] = cfg->topics.tech_issue;
    return 2;
}

static size_t batch_size(const struct voc_config *cfg)
{
    return (size_t)cfg->outreach.batch_size;
}

static int flush_ms(const struct voc_config *cfg)
{
    return (int)cfg->outreach.flush_ms;
}

static void *create(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config)
{
    return outreach_new(cfg, producer, reload, bad_config);
}

static void destroy(void *state)
{
    outreach_free(state);
}

static struct voc_batch_handler handler(void *state)
{
    return outreach_handler(state);
}

static void log_totals(const void *state)
{
    outreach_log_totals(state);
}

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-outreach",
        .summary = "Detects classroom stalls from telemetry and hands tech support one task each.",
        .group_id = group_id,
        .topics = topics,
        .batch_size = batch_size,
        .flush_ms = flush_ms,
        .create = create,
        .destroy = destroy,
        .handler = handler,
        .log_totals = log_totals,
    };
    return voc_service_main(&svc, argc, argv);
}
