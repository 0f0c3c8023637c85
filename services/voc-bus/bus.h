/* voc-bus's embedded broker: librdkafka's mock cluster, owned by one
 * producer-type handle that never produces.
 *
 * struct bus_cluster is the single place that holds the mock cluster, so a
 * later control interface (error injection, broker down/up) takes it from here
 * rather than reaching into main(). */
#ifndef VOC_BUS_H
#define VOC_BUS_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

struct bus_cluster {
    rd_kafka_t *rk;                    /* owned; the mock cluster's host handle */
    rd_kafka_mock_cluster_t *mcluster; /* owned; destroyed before rk */
};

/* Starts `brokers` mock brokers on 127.0.0.1 (ephemeral ports) and creates
 * each of the `ntopics` names (NULL or "" entries and repeats are skipped)
 * with `partitions` partitions and replication min(3, brokers).
 * Returns 0, or -1 with err filled and *bc left empty. */
int bus_cluster_start(struct bus_cluster *bc, int brokers, int partitions,
                      const char *const *topics, size_t ntopics, char *err, size_t errlen);

/* The bootstrap.servers list ("127.0.0.1:port,..."); valid while bc runs. */
const char *bus_cluster_bootstraps(const struct bus_cluster *bc);

/* Serves the handle's queued log lines for up to timeout_ms. */
void bus_cluster_poll(struct bus_cluster *bc, int timeout_ms);

/* Destroys the cluster, then the handle. Safe on an empty or stopped bc. */
void bus_cluster_stop(struct bus_cluster *bc);

#endif
