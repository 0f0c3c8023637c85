/* voc-track: the SLA clock (reminders, escalation up each item's chain,
 * auto-verify and close, snooze wake-up), commands from the voc.command
 * topic, and a customer case for every complaint and low rating. */
#include "track_service.h"
#include "voc/service.h"

static const char *group_id(const struct voc_config *cfg)
{
    return cfg->track.group_id;
}

static size_t topics(const struct voc_config *cfg, const char **out, size_t max)
{
    (void)max;
    out[0] = cfg->topics.command;
    out[1] = cfg->topics.classified;
    return 2;
}

static size_t batch_size(const struct voc_config *cfg)
{
    return (size_t)cfg->track.batch_size;
}

static int flush_ms(const struct voc_config *cfg)
{
    return (int)cfg->track.flush_ms;
}

static void *create(const struct voc_config *cfg, rd_kafka_t *producer,
                    volatile sig_atomic_t *reload, int *bad_config)
{
    return track_new(cfg, producer, reload, bad_config);
}

static void destroy(void *state)
{
    track_free(state);
}

static struct voc_batch_handler handler(void *state)
{
    return track_handler(state);
}

static void log_totals(const void *state)
{
    track_log_totals(state);
}

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-track",
        .summary = "Runs the SLA clock on items and cases, item commands from voc.command, and "
                   "opens a case per complaint and low rating.",
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
