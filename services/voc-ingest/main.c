/* voc-ingest: complaints, ratings and tech issues from Kafka into
 * voc.feedback, validated, masked and classified; forwarded to
 * voc.classified; invalid input to voc.deadletter. */
#include "ingest.h"
#include "voc/service.h"

static const char *group_id(const struct voc_config *cfg)
{
    return cfg->ingest.group_id;
}

static size_t topics(const struct voc_config *cfg, const char **out, size_t max)
{
    (void)max;
    out[0] = cfg->topics.complaint;
    out[1] = cfg->topics.rating;
    out[2] = cfg->topics.tech_issue;
    return 3;
}

static size_t batch_size(const struct voc_config *cfg)
{
    return (size_t)cfg->ingest.batch_size;
}

static int flush_ms(const struct voc_config *cfg)
{
    return (int)cfg->ingest.flush_ms;
}

static void *create(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config)
{
    return ingest_new(cfg, producer, reload, bad_config);
}

static void destroy(void *state)
{
    ingest_free(state);
}

static struct voc_batch_handler handler(void *state)
{
    return ingest_handler(state);
}

static void log_totals(const void *state)
{
    ingest_log_totals(state);
}

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-ingest",
        .summary = "Consumes customer events into Postgres, classified by dimension.",
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
