/* voc-notify's state: configuration at start-up, the Postgres connection, and
 * the tick that runs delivery rounds between consumer batches.
 *
 * Notifications are stored by the batch handler (queue.c) and delivered from
 * Postgres (deliver.c), never straight from Kafka: a retry can then wait
 * minutes without holding up the partition, survive a restart, and be shared
 * safely by several voc-notify instances (rows are claimed with FOR UPDATE
 * SKIP LOCKED). Delivery runs on the consumer's thread, so a slow webhook
 * delays consumption by at most MAX_GROUPS_PER_TICK requests' timeouts, far
 * below max.poll.interval.ms. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notifier.h"
#include "voc/log.h"

/* How often the tick looks for due groups, and after a failure. */
#define ROUND_INTERVAL_MS   200
#define ROUND_BACKOFF_MS    2000
#define MAX_GROUPS_PER_TICK 5
#define TOTALS_INTERVAL_MS  30000

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load_config(struct notifier *nt)
{
    struct voc_diag diag = {0};
    int rc = 0;
    nt->routing = voc_routing_load(nt->cfg->routing_path, &diag);
    if (voc_notify_targets_load(nt->cfg->notify_path, &nt->targets, &diag) != 0 || !nt->routing)
        rc = -1;
    else
        rc = voc_notify_targets_check_routing(&nt->targets, nt->cfg->notify_path, nt->routing,
                                              &diag);
    for (size_t i = 0; i < diag.count; i++)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s", voc_log_q(diag.lines[i]));
    voc_diag_free(&diag);
    return rc;
}

/* Reads each target's URL from its variable, once: the variable is checked
 * to be there at start-up, and a missing one is said once, by name only. */
static int read_urls(struct notifier *nt)
{
    size_t n = nt->targets.n;
    nt->urls = calloc(n ? n : 1, sizeof *nt->urls);
    nt->url_errors = calloc(n ? n : 1, sizeof *nt->url_errors);
    if (!nt->urls || !nt->url_errors)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct voc_notify_target *t = &nt->targets.v[i];
        const char *url = getenv(t->url_env);
        char why[160];
        if (url && (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7))) {
            if (!(nt->urls[i] = strdup(url)))
                return -1;
            continue;
        }
        snprintf(why, sizeof why, url && *url ? "%s is not an http(s) URL" : "%s is not set",
                 t->url_env);
        if (!(nt->url_errors[i] = strdup(why)))
            return -1;
        voc_log(VOC_LOG_WARN, "webhook_url_unset",
                "target=%s env=%s reason=%s note=\"its notifications fail, are retried and "
                "dead-lettered\"",
                t->name, t->url_env, voc_log_q(why));
    }
    return 0;
}

struct notifier *notifier_new(const struct voc_config *cfg, rd_kafka_t *producer,
                              volatile sig_atomic_t *reload, int *bad_config)
{
    struct notifier *nt = calloc(1, sizeof *nt);
    *bad_config = 0;
    if (!nt)
        return NULL;
    nt->cfg = cfg;
    nt->producer = producer;
    nt->reload = reload;
    if (load_config(nt) != 0) {
        *bad_config = 1;
        goto fail;
    }
    if (read_urls(nt) != 0)
        goto fail;
    return nt;
fail:
    notifier_free(nt);
    return NULL;
}

void notifier_free(struct notifier *nt)
{
    if (!nt)
        return;
    for (size_t i = 0; i < nt->targets.n; i++) {
        if (nt->urls)
            free(nt->urls[i]);
        if (nt->url_errors)
            free(nt->url_errors[i]);
    }
    free(nt->urls);
    free(nt->url_errors);
    voc_notify_targets_free(&nt->targets);
    voc_routing_free(nt->routing);
    if (nt->conn)
        PQfinish(nt->conn);
    free(nt);
}

int notifier_connect(struct notifier *nt, char *err, size_t errlen)
{
    if (nt->conn && PQstatus(nt->conn) == CONNECTION_OK)
        return 0;
    if (nt->conn)
        PQfinish(nt->conn);
    nt->conn = voc_db_connect(nt->cfg->postgres.dsn, "voc-notify", err, errlen);
    return nt->conn ? 0 : -1;
}

void notifier_db_failed(struct notifier *nt, enum voc_db_fault fault)
{
    if (!nt->conn)
        return;
    if (fault == VOC_DB_RECONNECT || PQstatus(nt->conn) != CONNECTION_OK) {
        PQfinish(nt->conn);
        nt->conn = NULL;
        return;
    }
    if (PQtransactionStatus(nt->conn) != PQTRANS_IDLE)
        PQclear(PQexec(nt->conn, "ROLLBACK"));
}

void notifier_log_totals(const struct notifier *nt)
{
    voc_log(VOC_LOG_INFO, "totals",
            "stored=%llu duplicates=%llu refused=%llu delivered=%llu failed_attempts=%llu "
            "dead=%llu",
            nt->stored, nt->duplicates, nt->refused, nt->delivered, nt->failed_attempts, nt->dead);
}

static enum voc_batch_result process(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    return queue_store(ctx, msgs, n);
}

static void tick(void *ctx)
{
    struct notifier *nt = ctx;
    long long now = mono_ms();
    if (now >= nt->next_round_ms) {
        /* A full round may have left due groups: the next tick goes on. */
        int sent = deliver_round(nt, MAX_GROUPS_PER_TICK);
        nt->next_round_ms = mono_ms() + (sent < 0                      ? ROUND_BACKOFF_MS
                                         : sent >= MAX_GROUPS_PER_TICK ? 0
                                                                       : ROUND_INTERVAL_MS);
    }
    if (*nt->reload) {
        *nt->reload = 0;
        voc_log(VOC_LOG_WARN, "reload_ignored",
                "msg=\"notify.yaml, routing.yaml and webhook variables are read at start-up; "
                "restart voc-notify to apply them\"");
    }
    if (now - nt->last_totals_ms >= TOTALS_INTERVAL_MS) {
        nt->last_totals_ms = now;
        notifier_log_totals(nt);
    }
}

struct voc_batch_handler notifier_handler(struct notifier *nt)
{
    struct voc_batch_handler h = {.ctx = nt, .process = process, .tick = tick};
    return h;
}
