/* voc-aggregate's batch handler.
 *
 * A batch is one Postgres transaction: events already counted are skipped (one
 * query), every other complaint is matched to an item or opens one, its
 * occurrence is recorded, and each touched item is settled (counts, severity,
 * route, title, audit, outbox). After COMMIT the outbox is relayed to
 * voc.item. Replays change nothing: item_occurrence is keyed by event_id.
 * Classified events are keyed by dimension/category, so one instance owns all
 * the items a key can match and item creation never races across instances;
 * the unique index on live fingerprints guards the moments of a rebalance. */
#include "agg_service.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "voc/deadletter.h"
#include "voc/log.h"
#include "voc/outbox.h"

struct aggregate {
    const struct voc_config *cfg;
    rd_kafka_t *producer;
    volatile sig_atomic_t *reload;
    struct voc_routing *routing;
    struct agg_db db;
    struct agg_event *events;
    struct agg_touched *touched;
    struct agg_touched *parents; /* line items above touched classroom items */
    char (*reasons)[200];        /* why events[i] will be dead-lettered */
    size_t ntouched, cap;
    bool isolate; /* after a data error: each event under a savepoint */
    unsigned batch_counted, batch_opened;
    unsigned long long consumed, counted, opened, deadlettered;
    long long last_relay_ms, last_totals_ms;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct voc_routing *load_routing(const char *path)
{
    struct voc_diag diag = {0};
    struct voc_routing *r = voc_routing_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s", voc_log_q(diag.lines[i]));
    voc_diag_free(&diag);
    return r;
}

struct aggregate *aggregate_new(const struct voc_config *cfg, rd_kafka_t *producer,
                                volatile sig_atomic_t *reload, int *bad_config)
{
    struct aggregate *a = calloc(1, sizeof *a);
    *bad_config = 0;
    if (!a)
        return NULL;
    a->cfg = cfg;
    a->producer = producer;
    a->reload = reload;
    a->cap = (size_t)cfg->aggregate.batch_size;
    a->events = calloc(a->cap, sizeof *a->events);
    a->touched = calloc(a->cap, sizeof *a->touched);
    a->parents = calloc(a->cap, sizeof *a->parents);
    a->reasons = calloc(a->cap, sizeof *a->reasons);
    a->routing = load_routing(cfg->routing_path);
    if (!a->routing)
        *bad_config = 1;
    if (!a->events || !a->touched || !a->parents || !a->reasons || !a->routing) {
        aggregate_free(a);
        return NULL;
    }
    a->db.cfg = &cfg->aggregate;
    a->db.routing = a->routing;
    a->db.notice_topic = cfg->topics.notification;
    return a;
}

void aggregate_free(struct aggregate *a)
{
    if (!a)
        return;
    if (a->db.conn)
        PQfinish(a->db.conn);
    for (size_t i = 0; a->events && i < a->cap; i++)
        json_decref(a->events[i].root);
    free(a->events);
    free(a->touched);
    free(a->parents);
    free(a->reasons);
    voc_routing_free(a->routing);
    free(a);
}

static const char *str_at(json_t *obj, const char *key, const char *sub)
{
    json_t *v = json_object_get(obj, key);
    if (sub)
        v = json_object_get(v, sub);
    return json_string_value(v);
}

/* Reads a classified event. Returns 0, or -1 with reason (for the dead-letter). */
static int parse_classified(const rd_kafka_message_t *m, struct agg_event *ev, char *reason,
                            size_t len)
{
    json_error_t e;
    memset(ev, 0, sizeof *ev);
    ev->root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &e);
    if (!ev->root || !json_is_object(ev->root)) {
        snprintf(reason, len, "classified event is not a JSON object: %s", e.text);
        return -1;
    }
    json_t *r = ev->root;
    ev->event_id = str_at(r, "event_id", NULL);
    ev->occurred_at = str_at(r, "occurred_at", NULL);
    ev->customer_id = str_at(r, "customer", "id");
    ev->tier = str_at(r, "customer", "tier");
    ev->channel = str_at(r, "channel", NULL);
    ev->classroom_id = str_at(r, "classroom", "id");
    ev->lesson_id = str_at(r, "classroom", "lesson_id");
    ev->teacher_id = str_at(r, "classroom", "teacher_id");
    ev->product_id = str_at(r, "product", "id");
    ev->line = str_at(r, "network", "line");
    ev->text = str_at(r, "text", NULL);
    ev->text_norm = str_at(r, "text_norm", NULL);
    ev->dimension = str_at(r, "classification", "dimension");
    ev->category = str_at(r, "classification", "category");
    ev->severity = str_at(r, "classification", "severity");
    ev->sentiment = str_at(r, "classification", "sentiment");
    if (!ev->event_id || !ev->occurred_at || !ev->dimension || !ev->category ||
        agg_severity_rank(ev->severity) < 0 || !ev->sentiment) {
        snprintf(reason, len, "classified event lacks event_id, occurred_at or classification");
        return -1;
    }
    return 0;
}

static struct agg_touched *touch(struct aggregate *a, long long id)
{
    for (size_t i = 0; i < a->ntouched; i++)
        if (a->touched[i].id == id)
            return &a->touched[i];
    struct agg_touched *t = &a->touched[a->ntouched++];
    memset(t, 0, sizeof *t);
    t->id = id;
    return t;
}

/* Matches one complaint and records its occurrence. */
static int count_event(struct aggregate *a, const struct agg_event *ev)
{
    char entity[256], fp[512];
    const char *fingerprint = NULL;
    struct voc_signature sig = {.empty = 1};
    if (voc_match_fingerprint(ev->dimension, ev->category, ev->line, ev->product_id, ev->lesson_id,
                              ev->teacher_id, ev->channel, entity, sizeof entity, fp,
                              sizeof fp) == 0) {
        fingerprint = fp;
        /* Line complaints from a classroom are counted per classroom first. */
        if (strcmp(ev->dimension, "line") == 0 && ev->classroom_id) {
            size_t len = strlen(fp);
            snprintf(fp + len, sizeof fp - len, ":room:%s", ev->classroom_id);
        }
    } else if (ev->text_norm && voc_match_signature(ev->text_norm, &sig) < 0) {
        return -1;
    }
    long long item = 0, link_to = 0;
    const char *how = "exact";
    double sim = 0;
    if (itemdb_match(&a->db, ev, fingerprint, &sig, &item, &link_to, &how, &sim) < 0)
        return -1;
    bool opened = false;
    /* A paraphrase that joined but is not a near-copy widens the item's reach. */
    if (item && !sig.empty && strcmp(how, "minhash") == 0 && sim < 0.9 &&
        itemdb_add_member(&a->db, item, ev, &sig) < 0)
        return -1;
    if (!item) {
        char text_fp[512];
        if (!fingerprint) { /* a text-born item: its founder names it */
            snprintf(text_fp, sizeof text_fp, "%s:text:%s:%s:%s", VOC_MATCH_VERSION, ev->dimension,
                     ev->category, ev->event_id);
            fingerprint = text_fp;
        }
        const char *rule = sig.empty ? "exact:" VOC_MATCH_VERSION : "minhash:" VOC_MATCH_VERSION;
        if (itemdb_open(&a->db, ev, fingerprint, sig.empty ? entity : NULL, &sig, rule, link_to,
                        &item) < 0)
            return -1;
        opened = true;
        how = "founder";
        a->batch_opened++;
    }
    if (itemdb_add_occurrence(&a->db, item, ev, how, sim) < 0)
        return -1;
    struct agg_touched *t = touch(a, item);
    t->opened |= opened;
    t->added++;
    int sev = agg_severity_rank(ev->severity);
    if (sev > t->max_severity)
        t->max_severity = sev;
    return 0;
}

static bool seen_earlier(struct aggregate *a, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (a->events[j].root && strcmp(a->events[j].event_id, a->events[i].event_id) == 0)
            return true;
    return false;
}

static int savepoint(struct aggregate *a, const char *sql)
{
    return voc_db_exec(a->db.conn, sql, &a->db.fault, a->db.err, sizeof a->db.err);
}

/* Counts events[i]. In isolation mode (after a batch failed on a data
 * error), the event runs under a savepoint: if Postgres refuses it (SQLSTATE
 * class 22 or 23), only it is rolled back and it is dead-lettered with the
 * reason, and the rest of the batch goes on. */
static int count_isolated(struct aggregate *a, size_t i)
{
    struct agg_event *ev = &a->events[i];
    if (!a->isolate) {
        if (count_event(a, ev) < 0)
            return -1;
        a->batch_counted++;
        return 0;
    }
    if (savepoint(a, "SAVEPOINT agg_event") < 0)
        return -1;
    unsigned opened = a->batch_opened;
    if (count_event(a, ev) == 0) {
        a->batch_counted++;
        return savepoint(a, "RELEASE SAVEPOINT agg_event");
    }
    if (a->db.fault != VOC_DB_BAD_ROW)
        return -1;
    snprintf(a->reasons[i], sizeof a->reasons[i], "postgres refused the event: %s", a->db.err);
    json_decref(ev->root);
    ev->root = NULL; /* dead-lettered after the commit */
    a->batch_opened = opened;
    a->db.fault = VOC_DB_OK;
    return savepoint(a, "ROLLBACK TO SAVEPOINT agg_event");
}

/* Settles every touched item, then the line items above them (after their
 * children, so their counts include the batch). A line item also touched
 * directly is settled in both rounds: each round reports its own additions. */
static int settle_all(struct aggregate *a)
{
    size_t nparents = 0;
    for (size_t i = 0; i < a->ntouched; i++) {
        struct agg_touched parent;
        if (itemdb_settle(&a->db, &a->touched[i], &parent) < 0)
            return -1;
        if (!parent.id)
            continue;
        size_t p = 0;
        while (p < nparents && a->parents[p].id != parent.id)
            p++;
        if (p == nparents)
            a->parents[nparents++] = parent;
        else {
            a->parents[p].added += parent.added;
            a->parents[p].opened |= parent.opened;
            if (parent.max_severity > a->parents[p].max_severity)
                a->parents[p].max_severity = parent.max_severity;
        }
    }
    for (size_t p = 0; p < nparents; p++) {
        struct agg_touched none;
        if (itemdb_settle(&a->db, &a->parents[p], &none) < 0)
            return -1;
    }
    return 0;
}

/* The batch's transaction body: everything between BEGIN and COMMIT. */
static int batch_body(struct aggregate *a, size_t n)
{
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    bool *counted = calloc(n ? n : 1, sizeof *counted);
    int rc = -1;
    if (!ids || !counted)
        goto done;
    for (size_t i = 0; i < n; i++)
        ids[i] = a->events[i].root ? a->events[i].event_id : NULL;
    if (itemdb_counted(&a->db, ids, (int)n, counted) < 0)
        goto done;
    a->ntouched = 0;
    for (size_t i = 0; i < n; i++) {
        const struct agg_event *ev = &a->events[i];
        /* Only complaints (incl. low ratings) make improvement items. */
        if (!ev->root || counted[i] || strcmp(ev->sentiment, "complaint") != 0 ||
            seen_earlier(a, i))
            continue;
        if (count_isolated(a, i) < 0)
            goto done;
    }
    if (settle_all(a) < 0)
        goto done;
    rc = 0;
done:
    free(ids);
    free(counted);
    return rc;
}

static int ensure_connected(struct aggregate *a)
{
    if (a->db.conn && PQstatus(a->db.conn) == CONNECTION_OK)
        return 0;
    if (a->db.conn)
        PQfinish(a->db.conn);
    a->db.conn = voc_db_connect(a->cfg->postgres.dsn, "voc-aggregate", a->db.err, sizeof a->db.err);
    if (!a->db.conn) {
        a->db.fault = VOC_DB_RECONNECT;
        return -1;
    }
    voc_log(VOC_LOG_INFO, "db_connected", "app=voc-aggregate");
    return 0;
}

/* What to do with the batch after a failed transaction. */
static enum voc_batch_result after_fault(struct aggregate *a)
{
    voc_log(a->db.fault == VOC_DB_FATAL ? VOC_LOG_ERROR : VOC_LOG_WARN, "db_batch_failed",
            "fault=%d error=%s", (int)a->db.fault, voc_log_q(a->db.err));
    if (a->db.conn && PQstatus(a->db.conn) == CONNECTION_OK)
        PQclear(PQexec(a->db.conn, "ROLLBACK"));
    switch (a->db.fault) {
    case VOC_DB_RECONNECT:
        if (a->db.conn)
            PQfinish(a->db.conn);
        a->db.conn = NULL;
        return VOC_BATCH_RETRY;
    case VOC_DB_RETRY:
        return VOC_BATCH_RETRY;
    case VOC_DB_BAD_ROW:
        /* Redo the batch one event at a time to find and dead-letter the one
         * Postgres refuses (a 23505 from a rebalance race simply succeeds). */
        a->isolate = true;
        return VOC_BATCH_RETRY;
    default:
        return VOC_BATCH_FATAL;
    }
}

static int run_transaction(struct aggregate *a, size_t n)
{
    a->db.fault = VOC_DB_OK;
    a->batch_counted = a->batch_opened = 0;
    if (ensure_connected(a) < 0)
        return -1;
    if (voc_db_exec(a->db.conn, "BEGIN", &a->db.fault, a->db.err, sizeof a->db.err) < 0 ||
        batch_body(a, n) < 0 ||
        voc_db_exec(a->db.conn, "COMMIT", &a->db.fault, a->db.err, sizeof a->db.err) < 0) {
        if (a->db.fault == VOC_DB_OK)
            a->db.fault = VOC_DB_RETRY; /* out of memory: try again */
        return -1;
    }
    return 0;
}

/* Publishes what committed transactions left in the outbox (ours and those
 * of vocctl commands). A failure only delays: the rows stay unpublished. */
static void relay(struct aggregate *a)
{
    enum voc_db_fault fault;
    char err[512];
    int n;
    a->last_relay_ms = now_ms();
    if (ensure_connected(a) < 0)
        return;
    while ((n = voc_outbox_relay(a->db.conn, a->producer, 1000, &fault, err, sizeof err)) == 1000)
        ;
    if (n < 0)
        voc_log(VOC_LOG_WARN, "relay_failed", "error=%s", voc_log_q(err));
}

static int deadletter(struct aggregate *a, struct voc_produce_tracker *t,
                      const rd_kafka_message_t *m, const char *reason)
{
    a->deadlettered++;
    return voc_deadletter_produce(a->producer, t, a->cfg->topics.deadletter, "voc-aggregate", m,
                                  reason);
}

static enum voc_batch_result process(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    struct aggregate *a = ctx;
    enum voc_batch_result result = VOC_BATCH_DONE;
    for (size_t i = 0; i < n; i++) {
        if (parse_classified(msgs[i], &a->events[i], a->reasons[i], sizeof a->reasons[i]) < 0) {
            json_decref(a->events[i].root);
            a->events[i].root = NULL;
        }
    }
    if (run_transaction(a, n) < 0) {
        result = after_fault(a);
        goto done;
    }
    struct voc_produce_tracker t = {0};
    for (size_t i = 0; i < n; i++)
        if (!a->events[i].root && deadletter(a, &t, msgs[i], a->reasons[i]) < 0)
            result = VOC_BATCH_RETRY;
    if (voc_kafka_wait(a->producer, &t, 30000) != 0)
        result = VOC_BATCH_RETRY;
    if (result == VOC_BATCH_DONE) {
        a->consumed += n;
        a->counted += a->batch_counted;
        a->opened += a->batch_opened;
        a->isolate = false;
        relay(a);
    }
done:
    for (size_t i = 0; i < n; i++) {
        json_decref(a->events[i].root);
        a->events[i].root = NULL;
    }
    return result;
}

void aggregate_log_totals(const struct aggregate *a)
{
    voc_log(VOC_LOG_INFO, "totals", "consumed=%llu counted=%llu opened=%llu deadlettered=%llu",
            a->consumed, a->counted, a->opened, a->deadlettered);
}

/* Between batches: SIGHUP reloads routing.yaml; the outbox is relayed on a
 * cadence (vocctl commands write to it too); totals every 30 s. */
static void tick(void *ctx)
{
    struct aggregate *a = ctx;
    if (*a->reload) {
        *a->reload = 0;
        struct voc_routing *r = load_routing(a->cfg->routing_path);
        if (r) {
            voc_routing_free(a->routing);
            a->routing = r;
            a->db.routing = r;
            voc_log(VOC_LOG_INFO, "routing_reloaded", "version=%s",
                    voc_log_q(voc_routing_version(r)));
        } else {
            voc_log(VOC_LOG_ERROR, "routing_reload_refused", "msg=\"kept the running rules\"");
        }
    }
    long long now = now_ms();
    if (now - a->last_relay_ms >= a->cfg->aggregate.relay_interval_ms)
        relay(a);
    if (now - a->last_totals_ms >= 30000) {
        a->last_totals_ms = now;
        aggregate_log_totals(a);
    }
}

struct voc_batch_handler aggregate_handler(struct aggregate *a)
{
    struct voc_batch_handler h = {.ctx = a, .process = process, .tick = tick};
    return h;
}
