/* Kafka clients from configuration, and producing with delivery tracking. */
#include "voc/kafka.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "voc/log.h"

static int conf_apply(rd_kafka_conf_t *conf, const struct voc_kv_list *l, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->count; i++) {
        char why[256];
        if (rd_kafka_conf_set(conf, l->items[i].key, l->items[i].value, why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "kafka property %s: %s", l->items[i].key, why);
            return -1;
        }
    }
    return 0;
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property %s: %s", key, why);
        return -1;
    }
    return 0;
}

/* librdkafka logs through this so its lines match ours (one line, key=value). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum voc_log_level l = level <= 3 ? VOC_LOG_ERROR : level <= 5 ? VOC_LOG_WARN : VOC_LOG_DEBUG;
    voc_log(l, "kafka", "facility=%s msg=%s", fac, voc_log_q(buf));
}

static rd_kafka_conf_t *conf_new(const struct voc_config *cfg, const struct voc_kv_list *role,
                                 char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (conf_apply(conf, &cfg->kafka, err, errlen) < 0 || conf_apply(conf, role, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct voc_produce_tracker *t = m->_private;
    if (!t)
        return;
    t->pending--;
    if (m->err) {
        if (t->failed++ == 0)
            snprintf(t->first_error, sizeof t->first_error, "%s", rd_kafka_err2str(m->err));
    }
}

rd_kafka_t *voc_kafka_producer_new(const struct voc_config *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = conf_new(cfg, &cfg->kafka_producer, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!rk)
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes conf only on success */
    return rk;
}

/* Defined in consumer.c: the rebalance policy of the batch loop. */
void voc_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque);

rd_kafka_t *voc_kafka_consumer_new(const struct voc_config *cfg, const char *group_id,
                                   const char *const *topics, size_t ntopics, char *err,
                                   size_t errlen)
{
    rd_kafka_conf_t *conf = conf_new(cfg, &cfg->kafka_consumer, err, errlen);
    if (!conf)
        return NULL;
    /* Offsets are stored by the loop after the batch is durable, never by
     * librdkafka on delivery to the application. */
    if (conf_set(conf, "group.id", group_id, err, errlen) < 0 ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) < 0 ||
        conf_set(conf, "enable.auto.commit", "true", err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, voc_consumer_rebalance_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

int voc_kafka_produce(rd_kafka_t *producer, struct voc_produce_tracker *t, const char *topic,
                      const void *key, size_t keylen, const void *value, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_OPAQUE(t),
            RD_KAFKA_V_END);
        if (!e) {
            t->pending++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (t->failed++ == 0)
                snprintf(t->first_error, sizeof t->first_error, "%s", rd_kafka_err2str(e));
            return -1;
        }
        /* The local queue is full: serve delivery reports to make room. */
        rd_kafka_poll(producer, 10);
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int voc_kafka_wait(rd_kafka_t *producer, struct voc_produce_tracker *t, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (t->pending > 0 && now_ms() < deadline)
        rd_kafka_poll(producer, 5);
    if (t->pending == 0)
        return t->failed;
    /* The tracker usually lives on the caller's stack: no delivery report may
     * arrive after we return. Purge what is still queued or in flight (each
     * purged message reports, with an error, right here) and wait for all. */
    rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    while (t->pending > 0)
        rd_kafka_poll(producer, 5);
    return -1;
}