/* voc-track's handler: its state, the batch and the tick (see track.h).
 *
 * A batch mixes voc.command and voc.classified messages: commands run one
 * transaction each (a command is small and its outcome is its own),
 * classified events that open cases share one. Dead letters are waited for
 * before the batch counts as done, so an offset is stored only when every
 * message of the batch has a durable effect (design principle 2); a retried
 * batch changes nothing twice (voc.command and voc.case are idempotent on
 * the message's id). */
#include "track_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "track.h"
#include "voc/clock.h"
#include "voc/log.h"
#include "voc/outbox.h"

/* Outbox rows relayed per round trip. */
#define RELAY_LIMIT 1000
#define TOTALS_MS   30000

int64_t track_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct voc_sla *load_sla(const char *path)
{
    struct voc_diag diag = {0};
    struct voc_sla *s = voc_sla_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s", voc_log_q(diag.lines[i]));
    voc_diag_free(&diag);
    return s;
}

struct track *track_new(const struct voc_config *cfg, rd_kafka_t *producer,
                        volatile sig_atomic_t *reload, int *bad_config)
{
    char err[256], host[64] = "localhost";
    struct track *t = calloc(1, sizeof *t);
    *bad_config = 0;
    if (!t)
        return NULL;
    t->cfg = cfg;
    t->producer = producer;
    t->reload = reload;
    t->full_pending = true;
    gethostname(host, sizeof host - 1);
    snprintf(t->instance, sizeof t->instance, "%s:%d", host, (int)getpid());
    if (!(t->sla = load_sla(cfg->sla_path))) {
        *bad_config = 1;
        goto fail;
    }
    if (!(t->schemas = voc_schemas_load(err, sizeof err))) {
        voc_log(VOC_LOG_ERROR, "schemas_failed", "error=%s", voc_log_q(err));
        goto fail;
    }
    voc_log(VOC_LOG_INFO, "sla_loaded", "version=%s clock=%s", voc_log_q(voc_sla_version(t->sla)),
            voc_clock_overridden() ? "file" : "wall");
    (void)voc_clock_now_ms(); /* logs clock_overridden once, at start */
    return t;
fail:
    track_free(t);
    return NULL;
}

void track_free(struct track *t)
{
    if (!t)
        return;
    if (t->conn)
        PQfinish(t->conn);
    track_due_free(&t->items);
    track_due_free(&t->cases);
    voc_schemas_free(t->schemas);
    voc_sla_free(t->sla);
    free(t);
}

int track_connect(struct track *t)
{
    char err[256];
    if (t->conn && PQstatus(t->conn) == CONNECTION_OK)
        return 0;
    if (t->conn)
        PQfinish(t->conn);
    t->conn = voc_db_connect(t->cfg->postgres.dsn, "voc-track", err, sizeof err);
    if (!t->conn) {
        /* Tried every tick: say it once per outage, not ten times a second. */
        if (!t->db_down)
            voc_log(VOC_LOG_WARN, "db_unavailable", "error=%s", voc_log_q(err));
        t->db_down = true;
        return -1;
    }
    t->db_down = false;
    voc_log(VOC_LOG_INFO, "db_connected", "app=voc-track");
    return 0;
}

void track_db_failed(struct track *t, const char *what, enum voc_db_fault fault, const char *err)
{
    voc_log(fault == VOC_DB_FATAL ? VOC_LOG_ERROR : VOC_LOG_WARN, "db_failed",
            "what=%s fault=%d error=%s", what, (int)fault, voc_log_q(err));
    if (!t->conn)
        return;
    if (fault == VOC_DB_RECONNECT || PQstatus(t->conn) != CONNECTION_OK) {
        PQfinish(t->conn);
        t->conn = NULL;
        return;
    }
    /* Whatever transaction was open is lost. */
    PQclear(PQexec(t->conn, "ROLLBACK"));
}

PGresult *track_q(struct track *t, const char *sql, int n, const char *const *vals,
                  ExecStatusType want, enum voc_db_fault *fault, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(t->conn, sql, n, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    *fault = voc_db_fault_of(t->conn, r);
    if (*fault == VOC_DB_OK)
        *fault = VOC_DB_FATAL;
    voc_db_describe(t->conn, r, err, errlen);
    PQclear(r);
    return NULL;
}

int track_exec(struct track *t, const char *sql, enum voc_db_fault *fault, char *err, size_t errlen)
{
    return voc_db_exec(t->conn, sql, fault, err, errlen);
}

long long track_ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t track_ms(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? INT64_MAX : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Publishes what committed transactions left in the outbox (ours, vocctl's). */
static void relay(struct track *t)
{
    enum voc_db_fault fault;
    char err[512];
    int n;
    t->last_relay_mono = track_mono_ms();
    if (track_connect(t) < 0)
        return;
    while ((n = voc_outbox_relay(t->conn, t->producer, RELAY_LIMIT, &fault, err, sizeof err)) ==
           RELAY_LIMIT)
        ;
    if (n < 0)
        track_db_failed(t, "relay", fault, err);
}

static enum voc_batch_result process(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    struct track *t = ctx;
    struct voc_produce_tracker tr = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (strcmp(rd_kafka_topic_name(msgs[i]->rkt), t->cfg->topics.command) == 0)
            rc = track_command(t, msgs[i], &tr);
    if (rc == 0)
        rc = track_cases(t, msgs, n, &tr);
    if (voc_kafka_wait(t->producer, &tr, 30000) != 0 || rc < 0)
        return VOC_BATCH_RETRY;
    relay(t);
    return VOC_BATCH_DONE;
}

void track_log_totals(const struct track *t)
{
    voc_log(VOC_LOG_INFO, "totals",
            "commands=%llu refused=%llu duplicates=%llu deadlettered=%llu cases_opened=%llu "
            "fired=%llu verified=%llu closed=%llu woken=%llu due_items=%zu due_cases=%zu",
            t->commands, t->refused, t->duplicates, t->deadlettered, t->cases_opened, t->fired,
            t->verified, t->closed, t->woken, t->items.n, t->cases.n);
}

/* SIGHUP: a new sla.yaml applies at once (deadlines are derived, so a full
 * pass recomputes every one); a broken file keeps the running policies. */
static void reload_sla(struct track *t)
{
    struct voc_sla *s = load_sla(t->cfg->sla_path);
    if (!s) {
        voc_log(VOC_LOG_ERROR, "sla_reload_refused", "msg=\"kept the running policies\"");
        return;
    }
    voc_sla_free(t->sla);
    t->sla = s;
    t->full_pending = true;
    voc_log(VOC_LOG_INFO, "sla_reloaded", "version=%s", voc_log_q(voc_sla_version(s)));
}

/* Between polls (about every 100 ms): reload, the SLA scan on its cadence,
 * the relay on its cadence, totals now and then. */
static void tick(void *ctx)
{
    struct track *t = ctx;
    if (*t->reload) {
        *t->reload = 0;
        reload_sla(t);
    }
    int64_t now = track_mono_ms();
    if (now - t->last_scan_mono >= t->cfg->track.scan_interval_ms) {
        t->last_scan_mono = now;
        track_scan(t);
    }
    if (now - t->last_relay_mono >= t->cfg->track.relay_interval_ms)
        relay(t);
    if (now - t->last_totals_mono >= TOTALS_MS) {
        t->last_totals_mono = now;
        track_log_totals(t);
    }
}

struct voc_batch_handler track_handler(struct track *t)
{
    struct voc_batch_handler h = {.ctx = t, .process = process, .tick = tick};
    return h;
}
