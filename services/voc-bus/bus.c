/* The mock cluster behind voc-bus. */
#include "bus.h"

#include <stdio.h>
#include <string.h>

#include "voc/log.h"

/* Served on the main thread (log.queue), so voc_log_q's static buffers are
 * never shared with librdkafka's threads. */
static void bus_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* The host handle has no bootstrap.servers by design: it owns the brokers
     * and never talks to them, so this warning would only mislead operators. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
        return;
    enum voc_log_level l = level <= 3   ? VOC_LOG_ERROR
                           : level == 4 ? VOC_LOG_WARN
                           : level <= 6 ? VOC_LOG_INFO
                                        : VOC_LOG_DEBUG;
    voc_log(l, "rdkafka", "fac=%s msg=%s", fac, voc_log_q(buf));
}

static rd_kafka_t *bus_new_handle(char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "voc-bus", err, errlen) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log.queue", "true", err, errlen) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, bus_log_cb);
    /* rd_kafka_new owns conf on success only. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_set_log_queue(rk, NULL);
    return rk;
}

static int bus_seen_before(const char *const *topics, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (topics[j] && strcmp(topics[j], topics[i]) == 0)
            return 1;
    return 0;
}

static int bus_create_topics(struct bus_cluster *bc, int brokers, int partitions,
                             const char *const *topics, size_t ntopics, char *err, size_t errlen)
{
    int replication = brokers < 3 ? brokers : 3;
    for (size_t i = 0; i < ntopics; i++) {
        if (!topics[i] || !*topics[i] || bus_seen_before(topics, i))
            continue;
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(bc->mcluster, topics[i], partitions, replication);
        if (e) {
            snprintf(err, errlen, "cannot create topic %s: %s", topics[i], rd_kafka_err2str(e));
            return -1;
        }
        voc_info("topic_created", "topic=%s partitions=%d replication=%d", voc_log_q(topics[i]),
                 partitions, replication);
    }
    return 0;
}

int bus_cluster_start(struct bus_cluster *bc, int brokers, int partitions,
                      const char *const *topics, size_t ntopics, char *err, size_t errlen)
{
    memset(bc, 0, sizeof *bc);
    bc->rk = bus_new_handle(err, errlen);
    if (!bc->rk)
        goto fail;
    bc->mcluster = rd_kafka_mock_cluster_new(bc->rk, brokers);
    if (!bc->mcluster) {
        snprintf(err, errlen, "cannot start a mock cluster of %d brokers", brokers);
        goto fail;
    }
    if (bus_create_topics(bc, brokers, partitions, topics, ntopics, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    bus_cluster_stop(bc);
    return -1;
}

const char *bus_cluster_bootstraps(const struct bus_cluster *bc)
{
    return rd_kafka_mock_cluster_bootstraps(bc->mcluster);
}

void bus_cluster_poll(struct bus_cluster *bc, int timeout_ms)
{
    rd_kafka_poll(bc->rk, timeout_ms);
}

void bus_cluster_stop(struct bus_cluster *bc)
{
    if (bc->mcluster)
        rd_kafka_mock_cluster_destroy(bc->mcluster);
    bc->mcluster = NULL;
    if (bc->rk) {
        rd_kafka_poll(bc->rk, 0); /* last queued log lines */
        rd_kafka_destroy(bc->rk);
    }
    bc->rk = NULL;
}
