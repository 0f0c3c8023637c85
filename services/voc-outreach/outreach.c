/* voc-outreach's batch handler.
 *
 * Heartbeats feed the stall detector in event time; tech-issue reports from
 * a family already in a detected stall join it. What the detector decides is
 * copied out and written in one transaction per batch (tasks.c), then the
 * outbox is relayed to voc.outreach. A batch that has to be retried is not
 * fed to the detector twice: its decisions are kept until they are written.
 * Stream time is an event-time watermark over the telemetry partitions
 * (see advance_watermark), so catching up after a restart cannot release a
 * hold before the lagging partitions have spoken; when heartbeats pause, the
 * tick moves it on by the wall clock, so held decisions are still released.
 * The windows live in memory: when telemetry partitions are assigned, the
 * consumer loop rewinds them by the replay horizon (replay_from, replay_ms),
 * using the checkpoints kept in voc.outreach_checkpoint (checkpoint.c) where
 * the broker cannot look offsets up by time; the replayed decisions meet the
 * tasks already written, which voc.outreach refuses to repeat. */
#include "outreach.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "tasks.h"
#include "voc/deadletter.h"
#include "voc/event.h"
#include "voc/log.h"
#include "voc/outbox.h"
#include "voc/replay.h"
#include "voc/schema.h"
#include "voc/stall.h"
#include "voc/timeutil.h"

/* Telemetry partitions tracked for the watermark; more share the last slot. */
#define MAX_PARTITIONS 512
/* A partition silent this long (wall clock) no longer holds the watermark back. */
#define PARTITION_IDLE_MS 10000
/* With no heartbeat at all for this long, stream time follows the wall clock. */
#define STREAM_IDLE_MS 1000
/* The watermark only knows partitions that have spoken: after start-up (or
 * a rebalance) it waits this long so that every partition with a backlog has
 * delivered something before stream time may move. */
#define WARMUP_MS 2000
/* Replay marks: one per this much event time; checkpoints written this often. */
#define MARK_SPACING_MS  1000
#define CHECKPOINT_MS    1000
#define CHECKPOINT_BATCH 256

struct outreach {
    const struct voc_config *cfg;
    rd_kafka_t *producer;
    volatile sig_atomic_t *reload;
    struct voc_stall_config stall_cfg;
    struct voc_stall *detector;
    struct voc_schemas *schemas;
    PGconn *conn;
    struct pending pending;
    struct bulk {
        char *id;
        size_t count;
    } * bulk; /* emitted classroom and line incidents still active */
    size_t nbulk;
    /* The batch whose decisions are pending, so a retry does not re-feed it. */
    bool fed;
    int32_t fed_partition;
    int64_t fed_offset;
    size_t fed_n;
    /* The event-time watermark: per telemetry partition, the latest window
     * end seen and when (wall clock); the detector's stream time is the
     * oldest of those among partitions heard from lately. */
    struct {
        int64_t latest_ms, wall_ms;
        int64_t replay_end; /* the committed offset at assignment: below it, a replay */
    } parts[MAX_PARTITIONS];
    struct voc_replay_marks *marks; /* where each telemetry partition's replay starts */
    int64_t last_checkpoint_ms;
    int64_t watermark_ms, max_seen_ms, last_arrival_wall_ms, first_arrival_wall_ms;
    long long last_totals_ms;
    unsigned long long heartbeats, tasks, joins, deadlettered;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int slot_of(int32_t partition)
{
    return partition < 0 ? 0 : partition >= MAX_PARTITIONS ? MAX_PARTITIONS - 1 : partition;
}

/* Whether m was handled before, and is only re-read to rebuild the windows:
 * its dead letter was sent then. */
static bool replayed(const struct outreach *o, const rd_kafka_message_t *m)
{
    return m->partition >= 0 && m->partition < MAX_PARTITIONS - 1 &&
           m->offset < o->parts[m->partition].replay_end;
}

/* How much event time must be re-read to rebuild the windows: a client is in
 * an incident while it crossed a threshold within window_ms, and a crossing
 * needs window_ms of heartbeats; a line counts the classrooms marked within
 * line.window_ms (at least window_ms); held decisions wait line.grace_ms. */
static int64_t replay_horizon_ms(const struct voc_stall_config *c)
{
    return c->line_window_ms + c->window_ms + c->line_grace_ms;
}

static int load_stall_config(const char *path, struct voc_stall_config *out)
{
    struct voc_diag diag = {0};
    voc_stall_config_defaults(out);
    int rc = voc_stall_config_load(path, out, &diag);
    for (size_t i = 0; i < diag.count; i++)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s", voc_log_q(diag.lines[i]));
    voc_diag_free(&diag);
    return rc;
}

struct outreach *outreach_new(const struct voc_config *cfg, rd_kafka_t *producer,
                              volatile sig_atomic_t *reload, int *bad_config)
{
    char err[256];
    struct outreach *o = calloc(1, sizeof *o);
    *bad_config = 0;
    if (!o)
        return NULL;
    o->cfg = cfg;
    o->producer = producer;
    o->reload = reload;
    if (load_stall_config(cfg->outreach_path, &o->stall_cfg) < 0) {
        *bad_config = 1;
        goto fail;
    }
    o->schemas = voc_schemas_load(err, sizeof err);
    o->detector = voc_stall_new(&o->stall_cfg);
    if (!o->schemas || !o->detector)
        goto fail;
    voc_stall_use_watermark(o->detector);
    o->marks = voc_replay_new(replay_horizon_ms(&o->stall_cfg), MARK_SPACING_MS);
    if (!o->marks)
        goto fail;
    return o;
fail:
    outreach_free(o);
    return NULL;
}

void outreach_free(struct outreach *o)
{
    if (!o)
        return;
    tasks_free(&o->pending);
    for (size_t i = 0; i < o->nbulk; i++)
        free(o->bulk[i].id);
    free(o->bulk);
    voc_stall_free(o->detector);
    voc_replay_free(o->marks);
    voc_schemas_free(o->schemas);
    if (o->conn)
        PQfinish(o->conn);
    free(o);
}

/* Remembers emitted classroom and line tasks, whose family lists grow. */
static void track_bulk(struct outreach *o, const struct voc_stall_detection *d)
{
    if (d->level == VOC_STALL_STUDENT)
        return;
    struct bulk *b = realloc(o->bulk, (o->nbulk + 1) * sizeof *b);
    if (!b)
        return;
    o->bulk = b;
    b[o->nbulk].id = strdup(d->incident_id);
    b[o->nbulk].count = d->ncustomers;
    if (b[o->nbulk].id)
        o->nbulk++;
}

/* The detector's callback: copy the decision out; it lives only for the call. */
static void collect(void *ctx, const struct voc_stall_detection *d)
{
    struct outreach *o = ctx;
    if (tasks_add(&o->pending, d) < 0)
        voc_log(VOC_LOG_ERROR, "out_of_memory", "lost=%s", voc_log_q(d->incident_id));
    else
        track_bulk(o, d);
}

static const char *str_at(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

static int feed_heartbeat(struct outreach *o, const struct voc_event *ev,
                          const rd_kafka_message_t *m)
{
    int32_t partition = m->partition;
    json_t *r = ev->root;
    struct voc_heartbeat hb = {
        .student_id = str_at(r, "student_id", NULL),
        .customer_id = ev->customer_id,
        .classroom_id = ev->classroom_id,
        .lesson_id = ev->lesson_id,
        .teacher_id = ev->teacher_id,
        .line = ev->line,
        .teacher = strcmp(str_at(r, "role", NULL), "teacher") == 0,
    };
    json_t *window = json_object_get(r, "window"), *video = json_object_get(r, "video");
    int64_t start;
    if (voc_time_parse_ms(json_string_value(json_object_get(window, "start")), &start) < 0)
        return 0; /* the schema's pattern admits only parseable times; be safe */
    hb.duration_ms = (int64_t)json_number_value(json_object_get(window, "duration_ms"));
    hb.end_ms = start + hb.duration_ms;
    hb.freeze_count = (int)json_number_value(json_object_get(video, "freeze_count"));
    hb.freeze_ms = (int64_t)json_number_value(json_object_get(video, "total_freezes_duration_ms"));
    int slot = slot_of(partition);
    int64_t now = wall_ms();
    if (hb.end_ms > o->parts[slot].latest_ms)
        o->parts[slot].latest_ms = hb.end_ms;
    o->parts[slot].wall_ms = now;
    o->last_arrival_wall_ms = now;
    if (!o->first_arrival_wall_ms)
        o->first_arrival_wall_ms = now;
    if (hb.end_ms > o->max_seen_ms)
        o->max_seen_ms = hb.end_ms;
    o->heartbeats++;
    if (voc_replay_note(o->marks, partition, m->offset, hb.end_ms) < 0)
        voc_log(VOC_LOG_WARN, "out_of_memory", "lost=\"replay mark\"");
    return voc_stall_heartbeat(o->detector, &hb, collect, o);
}

static int join_report(struct outreach *o, const struct voc_event *ev)
{
    if (!ev->customer_id)
        return 0;
    const char *incident = voc_stall_find_incident(o->detector, ev->customer_id, ev->classroom_id);
    if (!incident)
        return 0;
    o->joins++;
    return tasks_join(&o->pending, ev->event_id, incident, ev->customer_id, ev->occurred_at);
}

static int ensure_connected(struct outreach *o, char *err, size_t errlen)
{
    if (o->conn && PQstatus(o->conn) == CONNECTION_OK)
        return 0;
    if (o->conn)
        PQfinish(o->conn);
    o->conn = voc_db_connect(o->cfg->postgres.dsn, "voc-outreach", err, errlen);
    return o->conn ? 0 : -1;
}

/* Queues the grown family lists of active bulk tasks; forgets ended ones. */
static void refresh_bulk_lists(struct outreach *o)
{
    size_t kept = 0;
    for (size_t i = 0; i < o->nbulk; i++) {
        const char *const *customers;
        size_t n = voc_stall_incident_customers(o->detector, o->bulk[i].id, &customers);
        if (n == 0) {
            free(o->bulk[i].id);
            continue;
        }
        if (n > o->bulk[i].count &&
            tasks_update_families(&o->pending, o->bulk[i].id, customers, n) == 0)
            o->bulk[i].count = n;
        o->bulk[kept++] = o->bulk[i];
    }
    o->nbulk = kept;
}

/* Writes pending decisions and relays the outbox. Returns 0 when nothing is
 * left pending, -1 (logged) when it must be tried again. */
static int flush_pending(struct outreach *o)
{
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_RECONNECT;
    refresh_bulk_lists(o);
    if (o->pending.ntasks == 0 && o->pending.njoins == 0 && o->pending.nupdates == 0)
        return 0;
    int created = -1;
    if (ensure_connected(o, err, sizeof err) == 0)
        created = tasks_write(o->conn, o->cfg, &o->stall_cfg, &o->pending, &fault, err, sizeof err);
    if (created < 0) {
        voc_log(VOC_LOG_WARN, "db_write_failed", "fault=%d error=%s", (int)fault, voc_log_q(err));
        if (fault == VOC_DB_RECONNECT && o->conn) {
            PQfinish(o->conn);
            o->conn = NULL;
        }
        return -1;
    }
    o->tasks += (unsigned long long)created;
    voc_log(VOC_LOG_INFO, "tasks_written", "decided=%zu created=%d joins=%zu", o->pending.ntasks,
            created, o->pending.njoins);
    tasks_clear(&o->pending);
    int n;
    while ((n = voc_outbox_relay(o->conn, o->producer, 1000, &fault, err, sizeof err)) == 1000)
        ;
    if (n < 0)
        voc_log(VOC_LOG_WARN, "relay_failed", "error=%s", voc_log_q(err));
    return 0;
}

/* Feeds the batch to the detector. Invalid telemetry is dead-lettered;
 * invalid tech issues are voc-ingest's to dead-letter (it reads them too). */
static int feed(struct outreach *o, rd_kafka_message_t **msgs, size_t n,
                struct voc_produce_tracker *t)
{
    char reason[512];
    for (size_t i = 0; i < n; i++) {
        struct voc_event ev;
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        bool telemetry = strcmp(topic, o->cfg->topics.telemetry) == 0;
        if (voc_event_parse(&ev, msgs[i]->payload, msgs[i]->len, 0, o->schemas, reason,
                            sizeof reason) < 0) {
            if (telemetry && !replayed(o, msgs[i])) {
                o->deadlettered++;
                if (voc_deadletter_produce(o->producer, t, o->cfg->topics.deadletter,
                                           "voc-outreach", msgs[i], reason) < 0)
                    return -1;
            }
            continue;
        }
        int rc = 0;
        if (ev.type == VOC_EV_TELEMETRY)
            rc = feed_heartbeat(o, &ev, msgs[i]);
        else if (ev.type == VOC_EV_TECH_ISSUE)
            rc = join_report(o, &ev);
        voc_event_clear(&ev);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Moves the detector's stream time to the watermark (never backwards). */
static void advance_to(struct outreach *o, int64_t ms)
{
    if (ms <= o->watermark_ms)
        return;
    o->watermark_ms = ms;
    voc_stall_advance(o->detector, ms, collect, o);
}

static void advance_watermark(struct outreach *o)
{
    int64_t now = wall_ms(), wm = 0;
    if (now - o->first_arrival_wall_ms < WARMUP_MS)
        return;
    for (int p = 0; p < MAX_PARTITIONS; p++)
        if (o->parts[p].latest_ms && o->parts[p].wall_ms > now - PARTITION_IDLE_MS &&
            (wm == 0 || o->parts[p].latest_ms < wm))
            wm = o->parts[p].latest_ms;
    if (wm)
        advance_to(o, wm);
}

static enum voc_batch_result process(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    struct outreach *o = ctx;
    struct voc_produce_tracker t = {0};
    bool same = o->fed && o->fed_partition == msgs[0]->partition &&
                o->fed_offset == msgs[0]->offset && o->fed_n == n;
    if (!same) {
        if (feed(o, msgs, n, &t) < 0) {
            voc_kafka_wait(o->producer, &t, 30000);
            return VOC_BATCH_RETRY;
        }
        advance_watermark(o);
        o->fed = true;
        o->fed_partition = msgs[0]->partition;
        o->fed_offset = msgs[0]->offset;
        o->fed_n = n;
    }
    if (voc_kafka_wait(o->producer, &t, 30000) != 0 || flush_pending(o) < 0)
        return VOC_BATCH_RETRY;
    o->fed = false;
    return VOC_BATCH_DONE;
}

void outreach_log_totals(const struct outreach *o)
{
    voc_log(VOC_LOG_INFO, "totals",
            "heartbeats=%llu tasks=%llu joined_reports=%llu deadlettered=%llu memory_bytes=%zu",
            o->heartbeats, o->tasks, o->joins, o->deadlettered, voc_stall_memory(o->detector));
}

/* Stores the replay points that moved. Best effort: a point not stored only
 * makes a restart re-read from an older one; tried again next time. */
static void save_checkpoints(struct outreach *o)
{
    struct voc_replay_point pts[CHECKPOINT_BATCH];
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_RECONNECT;
    size_t n;
    while ((n = voc_replay_moved(o->marks, pts, CHECKPOINT_BATCH)) > 0) {
        if (ensure_connected(o, err, sizeof err) < 0 ||
            checkpoint_save(o->conn, o->cfg->topics.telemetry, pts, n, &fault, err, sizeof err) <
                0) {
            voc_log(VOC_LOG_WARN, "checkpoint_failed", "fault=%d error=%s", (int)fault,
                    voc_log_q(err));
            if (fault == VOC_DB_RECONNECT && o->conn) {
                PQfinish(o->conn);
                o->conn = NULL;
            }
            return;
        }
        voc_replay_saved(o->marks, pts, n);
        if (n < CHECKPOINT_BATCH)
            return;
    }
}

/* Between batches: stream time moves on with the wall clock while no
 * heartbeat arrives (held decisions are released, incidents end), pending
 * decisions are written, and totals are logged every 30 s. */
static void tick(void *ctx)
{
    struct outreach *o = ctx;
    int64_t now = wall_ms();
    if (o->max_seen_ms && now - o->first_arrival_wall_ms >= WARMUP_MS)
        advance_watermark(o);
    if (o->max_seen_ms && now - o->last_arrival_wall_ms >= STREAM_IDLE_MS) {
        advance_to(o, o->max_seen_ms + (now - o->last_arrival_wall_ms));
        if (!o->fed)
            flush_pending(o);
    }
    if (*o->reload) {
        *o->reload = 0;
        voc_log(VOC_LOG_WARN, "reload_ignored",
                "msg=\"outreach.yaml is read at start-up; restart voc-outreach to apply it\"");
    }
    if (now - o->last_checkpoint_ms >= CHECKPOINT_MS) {
        o->last_checkpoint_ms = now;
        save_checkpoints(o);
    }
    if (now - o->last_totals_ms >= 30000) {
        o->last_totals_ms = now;
        outreach_log_totals(o);
    }
}

/* After a restart or a rebalance the windows are rebuilt by re-reading the
 * telemetry of the replay horizon: tasks already written have the same
 * incident ids (or fall in a cooldown) and are not written again. */
static long long replay_ms(void *ctx, const char *topic)
{
    const struct outreach *o = ctx;
    if (strcmp(topic, o->cfg->topics.telemetry) != 0)
        return 0;
    return replay_horizon_ms(&o->stall_cfg);
}

/* The checkpoint of a telemetry partition being assigned (-1: none, or
 * Postgres cannot say: then the broker's answer or the committed offset). */
static int64_t replay_from(void *ctx, const char *topic, int32_t partition, int64_t committed)
{
    struct outreach *o = ctx;
    if (strcmp(topic, o->cfg->topics.telemetry) != 0)
        return -1;
    if (partition >= 0 && partition < MAX_PARTITIONS - 1)
        o->parts[partition].replay_end = committed;
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_RECONNECT;
    int64_t offset = -1;
    int found = -1;
    if (ensure_connected(o, err, sizeof err) == 0)
        found = checkpoint_load(o->conn, topic, partition, &offset, &fault, err, sizeof err);
    if (found < 0) {
        voc_log(VOC_LOG_WARN, "checkpoint_unread", "partition=%d fault=%d error=%s", (int)partition,
                (int)fault, voc_log_q(err));
        if (fault == VOC_DB_RECONNECT && o->conn) {
            PQfinish(o->conn);
            o->conn = NULL;
        }
    }
    return found == 1 ? offset : -1;
}

struct voc_batch_handler outreach_handler(struct outreach *o)
{
    struct voc_batch_handler h = {.ctx = o,
                                  .process = process,
                                  .tick = tick,
                                  .replay_ms = replay_ms,
                                  .replay_from = replay_from};
    return h;
}
