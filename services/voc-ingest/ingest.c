/* voc-ingest's batch handler.
 *
 * Per batch: parse and validate every message once; mask PII in the text and
 * in a copy of the event (the original JSON stays intact for the row's
 * columns); normalise the masked text and classify it; write all accepted rows
 * in one pipelined round trip; then produce dead-letter records and classified
 * events and wait for the broker to acknowledge them. Only then does the loop
 * store the offsets. Writing before producing means a Postgres outage never
 * duplicates dead-letter records: nothing is produced until the rows are in. */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/deadletter.h"
#include "voc/event.h"
#include "voc/feedback.h"
#include "voc/log.h"
#include "voc/pii.h"
#include "voc/schema.h"
#include "voc/taxonomy.h"
#include "voc/textnorm.h"

/* Everything derived from one message; reset after every batch. */
struct slot {
    struct voc_event ev;
    bool valid;
    char reason[512];
    char *masked_text;
    char *norm_text;
    json_t *masked; /* masked copy of the event, later enriched for voc.classified */
    char *payload;  /* masked event as stored in voc.feedback.payload */
    struct voc_classification cls;
};

struct ingest {
    const struct voc_config *cfg;
    rd_kafka_t *producer;
    volatile sig_atomic_t *reload;
    struct voc_schemas *schemas;
    struct voc_taxonomy *taxonomy;
    struct voc_textnorm *norm;
    struct voc_feedback_writer *writer;
    struct slot *slots;
    struct voc_feedback_row *rows;
    size_t cap;
    unsigned long long consumed, accepted, inserted, deadlettered;
    time_t last_totals;
};

static struct voc_taxonomy *load_taxonomy(const char *path)
{
    struct voc_diag diag = {0};
    struct voc_taxonomy *t = voc_taxonomy_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s", voc_log_q(diag.lines[i]));
    if (!t && diag.count == 0)
        voc_log(VOC_LOG_ERROR, "config_error", "where=%s msg=\"cannot load\"", path);
    voc_diag_free(&diag);
    return t;
}

struct ingest *ingest_new(const struct voc_config *cfg, rd_kafka_t *producer,
                          volatile sig_atomic_t *reload, int *bad_config)
{
    char err[512];
    struct ingest *in = calloc(1, sizeof *in);
    *bad_config = 0;
    if (!in)
        return NULL;
    in->cfg = cfg;
    in->producer = producer;
    in->reload = reload;
    in->cap = (size_t)cfg->ingest.batch_size;
    in->slots = calloc(in->cap, sizeof *in->slots);
    in->rows = calloc(in->cap, sizeof *in->rows);
    if (!in->slots || !in->rows)
        goto fail;
    in->taxonomy = load_taxonomy(cfg->taxonomy_path);
    if (!in->taxonomy) {
        *bad_config = 1;
        goto fail;
    }
    in->schemas = voc_schemas_load(err, sizeof err);
    if (!in->schemas) {
        voc_log(VOC_LOG_ERROR, "schemas_failed", "error=%s", voc_log_q(err));
        goto fail;
    }
    in->norm = voc_textnorm_new(err, sizeof err);
    if (!in->norm) {
        voc_log(VOC_LOG_ERROR, "textnorm_failed", "error=%s", voc_log_q(err));
        goto fail;
    }
    in->writer = voc_feedback_writer_new(cfg->postgres.dsn, "voc-ingest");
    if (!in->writer)
        goto fail;
    in->last_totals = time(NULL);
    return in;
fail:
    ingest_free(in);
    return NULL;
}

static void slot_reset(struct slot *s)
{
    voc_event_clear(&s->ev);
    free(s->masked_text);
    free(s->norm_text);
    json_decref(s->masked);
    free(s->payload);
    memset(s, 0, sizeof *s);
}

void ingest_free(struct ingest *in)
{
    if (!in)
        return;
    for (size_t i = 0; in->slots && i < in->cap; i++)
        slot_reset(&in->slots[i]);
    free(in->slots);
    free(in->rows);
    voc_feedback_writer_free(in->writer);
    voc_textnorm_free(in->norm);
    voc_schemas_free(in->schemas);
    voc_taxonomy_free(in->taxonomy);
    free(in);
}

/* Validates, masks, normalises and classifies one message into s. Returns 0
 * when accepted, -1 when it is to be dead-lettered (s->reason says why), and
 * -2 when out of memory. */
static int prepare(struct ingest *in, const rd_kafka_message_t *m, struct slot *s)
{
    struct voc_event *ev = &s->ev;
    if (voc_event_parse(ev, m->payload, m->len, (size_t)in->cfg->ingest.max_event_bytes,
                        in->schemas, s->reason, sizeof s->reason) < 0)
        return -1;
    if (ev->type == VOC_EV_TELEMETRY) {
        snprintf(s->reason, sizeof s->reason,
                 "telemetry events belong on %s; voc-ingest takes complaints, ratings and "
                 "tech issues",
                 in->cfg->topics.telemetry);
        return -1;
    }
    size_t len = 0;
    if (ev->text) {
        s->masked_text = voc_pii_mask(ev->text, ev->text_len, &len, NULL);
        if (!s->masked_text)
            return -2;
        s->norm_text = voc_textnorm_apply(in->norm, s->masked_text, len, &len);
        if (!s->norm_text)
            return -2;
    }
    s->masked = json_deep_copy(ev->root);
    if (!s->masked || voc_pii_mask_json(s->masked) < 0)
        return -2;
    s->payload = json_dumps(s->masked, JSON_COMPACT);
    if (!s->payload)
        return -2;
    voc_classify(in->taxonomy, ev, s->norm_text, &s->cls);
    s->valid = true;
    return 0;
}

static int produce_deadletter(struct ingest *in, struct voc_produce_tracker *t,
                              const rd_kafka_message_t *m, const char *reason)
{
    in->deadlettered++;
    return voc_deadletter_produce(in->producer, t, in->cfg->topics.deadletter, "voc-ingest", m,
                                  reason);
}

/* The classified event: the masked event plus what vocloop decided, keyed by
 * its group key (dimension/category) so one voc-aggregate instance owns it. */
static int produce_classified(struct ingest *in, struct voc_produce_tracker *t, struct slot *s)
{
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "dimension", s->cls.dimension, "category",
                  s->cls.category, "severity", s->cls.severity, "sentiment", s->cls.sentiment,
                  "rule", s->cls.rule, "taxonomy_version", voc_taxonomy_version(in->taxonomy));
    if (!c)
        return -1;
    json_object_set_new(s->masked, "classification", c);
    if (s->norm_text)
        json_object_set_new(s->masked, "text_norm", json_string(s->norm_text));
    char *value = json_dumps(s->masked, JSON_COMPACT);
    if (!value)
        return -1;
    char key[160];
    int keylen = snprintf(key, sizeof key, "%s/%s", s->cls.dimension, s->cls.category);
    int rc = voc_kafka_produce(in->producer, t, in->cfg->topics.classified, key,
                               (size_t)keylen < sizeof key ? (size_t)keylen : sizeof key - 1, value,
                               strlen(value));
    free(value);
    return rc;
}

/* Fills the row array from accepted slots; returns how many. */
static size_t build_rows(struct ingest *in, rd_kafka_message_t **msgs, size_t n, size_t *map)
{
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &in->slots[i];
        if (!s->valid)
            continue;
        struct voc_feedback_row *r = &in->rows[nrows];
        memset(r, 0, sizeof *r);
        r->ev = &s->ev;
        r->text = s->masked_text;
        r->payload = s->payload;
        r->cls = &s->cls;
        r->taxonomy_version = voc_taxonomy_version(in->taxonomy);
        r->topic = rd_kafka_topic_name(msgs[i]->rkt);
        r->partition = msgs[i]->partition;
        r->offset = msgs[i]->offset;
        map[nrows++] = i;
    }
    return nrows;
}

static enum voc_batch_result forward(struct ingest *in, rd_kafka_message_t **msgs, size_t n)
{
    struct voc_produce_tracker t = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct slot *s = &in->slots[i];
        rc = s->valid ? produce_classified(in, &t, s)
                      : produce_deadletter(in, &t, msgs[i], s->reason);
    }
    int failed = voc_kafka_wait(in->producer, &t, 30000);
    if (rc < 0 || failed != 0) {
        voc_log(VOC_LOG_WARN, "produce_failed", "failed=%d pending=%d error=%s", t.failed,
                t.pending, voc_log_q(t.first_error));
        return VOC_BATCH_RETRY;
    }
    return VOC_BATCH_DONE;
}

static enum voc_batch_result process(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    struct ingest *in = ctx;
    enum voc_batch_result result = VOC_BATCH_RETRY;
    size_t *map = calloc(n ? n : 1, sizeof *map);
    char err[512];
    if (!map)
        return VOC_BATCH_RETRY;
    for (size_t i = 0; i < n; i++) {
        if (prepare(in, msgs[i], &in->slots[i]) == -2)
            goto done; /* out of memory: try again later rather than misfile it */
    }
    size_t nrows = build_rows(in, msgs, n, map);
    size_t inserted = 0;
    enum voc_db_fault f =
        voc_feedback_write(in->writer, in->rows, nrows, &inserted, err, sizeof err);
    if (f != VOC_DB_OK) {
        voc_log(f == VOC_DB_FATAL ? VOC_LOG_ERROR : VOC_LOG_WARN, "db_write_failed",
                "rows=%zu error=%s", nrows, voc_log_q(err));
        result = f == VOC_DB_FATAL ? VOC_BATCH_FATAL : VOC_BATCH_RETRY;
        goto done;
    }
    for (size_t r = 0; r < nrows; r++) {
        if (in->rows[r].rejected) {
            struct slot *s = &in->slots[map[r]];
            s->valid = false;
            snprintf(s->reason, sizeof s->reason, "%s", in->rows[r].reject_reason);
        }
    }
    result = forward(in, msgs, n);
    if (result == VOC_BATCH_DONE) {
        in->consumed += n;
        in->inserted += inserted;
        for (size_t i = 0; i < n; i++)
            in->accepted += in->slots[i].valid;
        voc_log(VOC_LOG_DEBUG, "batch_done", "messages=%zu rows=%zu inserted=%zu", n, nrows,
                inserted);
    }
done:
    for (size_t i = 0; i < n; i++)
        slot_reset(&in->slots[i]);
    free(map);
    return result;
}

void ingest_log_totals(const struct ingest *in)
{
    voc_log(VOC_LOG_INFO, "totals", "consumed=%llu accepted=%llu inserted=%llu deadlettered=%llu",
            in->consumed, in->accepted, in->inserted, in->deadlettered);
}

/* Between batches: act on SIGHUP and log totals every 30 s. */
static void tick(void *ctx)
{
    struct ingest *in = ctx;
    if (*in->reload) {
        *in->reload = 0;
        struct voc_taxonomy *t = load_taxonomy(in->cfg->taxonomy_path);
        if (t) {
            voc_taxonomy_free(in->taxonomy);
            in->taxonomy = t;
            voc_log(VOC_LOG_INFO, "taxonomy_reloaded", "version=%s",
                    voc_log_q(voc_taxonomy_version(t)));
        } else {
            voc_log(VOC_LOG_ERROR, "taxonomy_reload_refused", "msg=\"kept the running taxonomy\"");
        }
    }
    time_t now = time(NULL);
    if (now - in->last_totals >= 30) {
        in->last_totals = now;
        ingest_log_totals(in);
    }
}

struct voc_batch_handler ingest_handler(struct ingest *in)
{
    struct voc_batch_handler h = {.ctx = in, .process = process, .tick = tick};
    return h;
}
