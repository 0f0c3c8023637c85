/* The life of a consumer service (see voc/service.h). */
#include "voc/service.h"

#include "voc/cli.h"
#include "voc/log.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static const void *cfg_at(const struct voc_config *cfg, size_t offset)
{
    return (const char *)cfg + offset;
}

static const char *cfg_str(const struct voc_config *cfg, size_t offset)
{
    const char *v;
    memcpy(&v, cfg_at(cfg, offset), sizeof v);
    return v;
}

static long long cfg_ll(const struct voc_config *cfg, size_t offset)
{
    long long v;
    memcpy(&v, cfg_at(cfg, offset), sizeof v);
    return v;
}

static int run(const struct voc_service *svc, const struct voc_config *cfg)
{
    char err[512];
    const char *topics[VOC_SERVICE_MAX_TOPICS];
    const char *group = cfg_str(cfg, svc->group_id_at);
    int rc = VOC_EXIT_FAILURE, bad_config = 0;
    rd_kafka_t *consumer = NULL;
    void *state = NULL;
    rd_kafka_t *producer = voc_kafka_producer_new(cfg, err, sizeof err);
    if (!producer) {
        voc_log(VOC_LOG_ERROR, "producer_failed", "error=%s", voc_log_q(err));
        return VOC_EXIT_USAGE; /* only a bad property makes rd_kafka_new fail */
    }
    state = svc->create(cfg, producer, &reload_requested, &bad_config);
    if (!state) {
        rc = bad_config ? VOC_EXIT_USAGE : VOC_EXIT_FAILURE;
        goto done;
    }
    size_t ntopics = svc->ntopics;
    for (size_t i = 0; i < ntopics; i++)
        topics[i] = cfg_str(cfg, svc->topics_at[i]);
    consumer = voc_kafka_consumer_new(cfg, group, topics, ntopics, err, sizeof err);
    if (!consumer) {
        voc_log(VOC_LOG_ERROR, "consumer_failed", "error=%s", voc_log_q(err));
        rc = VOC_EXIT_USAGE;
        goto done;
    }
    struct voc_consumer_opts opts = {.batch_size = (size_t)cfg_ll(cfg, svc->batch_size_at),
                                     .flush_ms = (int)cfg_ll(cfg, svc->flush_ms_at),
                                     .max_backoff_ms = 5000};
    voc_log(VOC_LOG_INFO, "started", "group=%s topics=%zu batch_size=%zu flush_ms=%d brokers=%s",
            group, ntopics, opts.batch_size, opts.flush_ms,
            voc_log_q(voc_config_kafka_get(cfg, "bootstrap.servers")));
    struct voc_batch_handler handler = svc->handler(state);
    rc = voc_consumer_run(consumer, &opts, &handler, &stop_requested) == 0 ? VOC_EXIT_OK
                                                                           : VOC_EXIT_FAILURE;
    svc->log_totals(state);
done:
    if (consumer)
        rd_kafka_destroy(consumer);
    rd_kafka_flush(producer, 10000);
    rd_kafka_destroy(producer);
    if (state)
        svc->destroy(state);
    return rc;
}

int voc_service_main(const struct voc_service *svc, int argc, char **argv)
{
    const char *config_dir;
    struct voc_config cfg;
    int rc = voc_cli_parse(argc, argv, svc->name, svc->summary, &config_dir);
    if (rc >= 0)
        return rc;
    if ((rc = voc_cli_load_config(svc->name, config_dir, &cfg)) != 0)
        return rc;
    voc_signals_install(&stop_requested, &reload_requested);
    rc = run(svc, &cfg);
    voc_log(VOC_LOG_INFO, "stopped", "exit=%d", rc);
    voc_config_free(&cfg);
    return rc;
}
