/* voc-notify's parts and their shared state.
 *
 *   notifier.c  start-up (notify.yaml, routing.yaml, webhook URLs from the
 *               environment), the tick that runs delivery rounds, totals
 *   queue.c     the batch handler: notifications from Kafka into voc.notice
 *   deliver.c   delivery rounds from voc.notice: grouping, sending, recording
 *               attempts, backoff, dead letters
 *   http.c      one HTTP POST with libcurl, errors scrubbed of the URL */
#ifndef VOC_NOTIFIER_H
#define VOC_NOTIFIER_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>

#include "voc/config.h"
#include "voc/kafka.h"
#include "voc/notify.h"
#include "voc/routing.h"

struct notifier {
    const struct voc_config *cfg;
    rd_kafka_t *producer;
    volatile sig_atomic_t *reload;
    struct voc_routing *routing;
    struct voc_notify_targets targets;
    /* Per target (same index): its webhook URL (a secret: never logged), or
     * NULL with why it cannot be used in url_error. */
    char **urls;
    char **url_errors;
    PGconn *conn;
    long long next_round_ms, last_totals_ms;
    unsigned long long stored, duplicates, refused, delivered, failed_attempts, dead;
};

struct notifier *notifier_new(const struct voc_config *cfg, rd_kafka_t *producer,
                              volatile sig_atomic_t *reload, int *bad_config);
void notifier_free(struct notifier *nt);
struct voc_batch_handler notifier_handler(struct notifier *nt);
void notifier_log_totals(const struct notifier *nt);
/* A connection to Postgres, (re)made when needed; -1 with err. */
int notifier_connect(struct notifier *nt, char *err, size_t errlen);
/* After a failed statement: rolls back, and drops the connection when the
 * fault says it is gone. */
void notifier_db_failed(struct notifier *nt, enum voc_db_fault fault);

/* queue.c: stores a batch of notifications; the batch handler's process(). */
enum voc_batch_result queue_store(struct notifier *nt, rd_kafka_message_t **msgs, size_t n);

/* deliver.c: dead-letters exhausted notices, then sends up to max_groups due
 * groups. Returns how many requests it made, or -1 when Postgres or the
 * broker failed (logged). */
int deliver_round(struct notifier *nt, int max_groups);

/* http.c */
struct http_reply {
    long status;     /* 0 when no reply came */
    char body[1024]; /* the start of the reply body, NUL-terminated */
    char error[256]; /* transport error, scrubbed of the URL */
    long long duration_ms;
};
/* POSTs body (JSON) to url with the extra headers (NULL-terminated "Name:
 * value" strings). Returns 0 when a reply came (any status), -1 otherwise. */
int http_post(const char *url, const char *body, const char *const *headers, long timeout_ms,
              struct http_reply *out);
/* Replaces every occurrence of url, or of its path and query (where the
 * services put their tokens), in text by "[redacted]". */
void http_scrub(char *text, size_t size, const char *url);

#endif
