/* voc-ingest: complaints, ratings and tech issues from Kafka into
 * voc.feedback, validated, masked and classified; forwarded to
 * voc.classified; invalid input to voc.deadletter. */
#include <signal.h>
#include <stdio.h>

#include "ingest.h"
#include "voc/cli.h"
#include "voc/kafka.h"
#include "voc/log.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

int main(int argc, char **argv)
{
    const char *config_dir;
    struct voc_config cfg;
    char err[512];
    int rc = voc_cli_parse(argc, argv, "voc-ingest",
                           "Consumes customer events into Postgres, classified by dimension.",
                           &config_dir);
    if (rc >= 0)
        return rc;
    if ((rc = voc_cli_load_config("voc-ingest", config_dir, &cfg)) != 0)
        return rc;
    rd_kafka_t *producer = NULL, *consumer = NULL;
    struct ingest *in = NULL;
    int bad_config = 0;

    voc_signals_install(&stop_requested, &reload_requested);
    producer = voc_kafka_producer_new(&cfg, err, sizeof err);
    if (!producer) {
        voc_log(VOC_LOG_ERROR, "producer_failed", "error=%s", voc_log_q(err));
        rc = VOC_EXIT_USAGE; /* only a bad property makes rd_kafka_new fail */
        goto done;
    }
    in = ingest_new(&cfg, producer, &reload_requested, &bad_config);
    if (!in) {
        rc = bad_config ? VOC_EXIT_USAGE : VOC_EXIT_FAILURE;
        goto done;
    }
    const char *topics[] = {cfg.topics.complaint, cfg.topics.rating, cfg.topics.tech_issue};
    consumer = voc_kafka_consumer_new(&cfg, cfg.ingest.group_id, topics, 3, err, sizeof err);
    if (!consumer) {
        voc_log(VOC_LOG_ERROR, "consumer_failed", "error=%s", voc_log_q(err));
        rc = VOC_EXIT_USAGE;
        goto done;
    }
    voc_log(VOC_LOG_INFO, "started", "group=%s batch_size=%lld flush_ms=%lld brokers=%s",
            cfg.ingest.group_id, cfg.ingest.batch_size, cfg.ingest.flush_ms,
            voc_log_q(voc_config_kafka_get(&cfg, "bootstrap.servers")));
    struct voc_consumer_opts opts = {.batch_size = (size_t)cfg.ingest.batch_size,
                                     .flush_ms = (int)cfg.ingest.flush_ms,
                                     .max_backoff_ms = 5000};
    struct voc_batch_handler handler = ingest_handler(in);
    rc = voc_consumer_run(consumer, &opts, &handler, &stop_requested) == 0 ? VOC_EXIT_OK
                                                                           : VOC_EXIT_FAILURE;
    ingest_log_totals(in);
done:
    if (consumer)
        rd_kafka_destroy(consumer);
    if (producer) {
        rd_kafka_flush(producer, 10000);
        rd_kafka_destroy(producer);
    }
    ingest_free(in);
    voc_log(VOC_LOG_INFO, "stopped", "exit=%d", rc);
    voc_config_free(&cfg);
    return rc;
}
