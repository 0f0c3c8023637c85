/* voc-aggregate: classified complaints folded into improvement items, each
 * owned by a department, in Postgres; item events to voc.item through
 * the outbox. */
#include "agg_service.h"
#include "voc/service.h"

static const char *group_id(const struct voc_config *cfg)
{
    return cfg->aggregate.group_id;
}

static size_t topics(const struct voc_config *cfg, const char **out, size_t max)
{
    (void)max;
    out[0] = cfg->topics.classified;
    return 1;
}

static size_t batch_size(const struct voc_config *cfg)
{
    return (size_t)cfg->aggregate.batch_size;
}

static int flush_ms(const struct voc_config *cfg)
{
    return (int)cfg->aggregate.flush_ms;
}

static void *create(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config)
{
    return aggregate_new(cfg, producer, reload, bad_config);
}

static void destroy(void *state)
{
    aggregate_free(state);
}

static struct voc_batch_handler handler(void *state)
{
    return aggregate_handler(state);
}

static void log_totals(const void *state)
{
    aggregate_log_totals(state);
}

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-aggregate",
        .summary = "Folds classified complaints into tracked, owned improvement items.",
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
