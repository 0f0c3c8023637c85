/* The batch consumer loop shared by every vocloop consumer.
 *
 * Messages accumulate until the batch is full or flush_ms has passed since its
 * first message; the handler makes the batch's effect durable; only then are
 * the offsets (offset + 1 per partition) stored for auto-commit. A batch whose
 * handler cannot succeed (Postgres down) is retried with capped backoff and
 * never acknowledged early, so a crash at any point leads to redelivery, which
 * idempotent writes absorb. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/kafka.h"
#include "voc/log.h"

struct consumer_loop {
    rd_kafka_t *rk;
    const struct voc_consumer_opts *opts;
    const struct voc_batch_handler *handler;
    volatile sig_atomic_t *stop;
    rd_kafka_message_t **batch;
    size_t n;
    long long first_at_ms;
    bool fatal;
};

/* Rebalance callbacks run inside rd_kafka_consumer_poll() on the loop's own
 * thread, so the loop they must flush is the one running on this thread. */
static _Thread_local struct consumer_loop *active_loop;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void drop_batch(struct consumer_loop *loop)
{
    for (size_t i = 0; i < loop->n; i++)
        rd_kafka_message_destroy(loop->batch[i]);
    loop->n = 0;
}

static void store_offsets(struct consumer_loop *loop)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < loop->n; i++) {
        const rd_kafka_message_t *m = loop->batch[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(offs, topic, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offs, topic, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(loop->rk, offs);
    if (e) /* Partitions revoked meanwhile: their new owner re-reads; writes are idempotent. */
        voc_log(VOC_LOG_WARN, "offsets_store_failed", "error=%s", voc_log_q(rd_kafka_err2str(e)));
    rd_kafka_topic_partition_list_destroy(offs);
}

/* Hands the batch to the handler until it is durable. When giving up is
 * allowed (stopping, or partitions being revoked), a batch that still cannot
 * be written is dropped unacknowledged: it will be delivered again. */
static void flush_batch(struct consumer_loop *loop, int max_attempts)
{
    int backoff = 50;
    for (int attempt = 1; loop->n > 0; attempt++) {
        enum voc_batch_result r = loop->handler->process(loop->handler->ctx, loop->batch, loop->n);
        if (r == VOC_BATCH_DONE) {
            store_offsets(loop);
            drop_batch(loop);
            return;
        }
        if (r == VOC_BATCH_FATAL) {
            loop->fatal = true;
            drop_batch(loop);
            return;
        }
        if ((max_attempts && attempt >= max_attempts) || (*loop->stop && attempt >= 3)) {
            voc_log(VOC_LOG_WARN, "batch_abandoned",
                    "messages=%zu attempts=%d note=\"left unacknowledged for redelivery\"", loop->n,
                    attempt);
            drop_batch(loop);
            return;
        }
        voc_log(VOC_LOG_WARN, "batch_retry", "messages=%zu attempt=%d backoff_ms=%d", loop->n,
                attempt, backoff);
        sleep_ms(backoff);
        backoff =
            backoff * 2 > loop->opts->max_backoff_ms ? loop->opts->max_backoff_ms : backoff * 2;
    }
}

enum { FROM_TIME = 1, FROM_CHECKPOINT = 2 };

/* The broker's first offset at (now - replay_ms) by message timestamp, for
 * the partitions whose topic asks for one; NULL when none does or the broker
 * cannot answer (then the handler's checkpoints still apply). */
static rd_kafka_topic_partition_list_t *
offsets_by_time(const struct voc_batch_handler *h, rd_kafka_t *rk,
                const rd_kafka_topic_partition_list_t *parts)
{
    if (!h->replay_ms)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long wall = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        long long back = h->replay_ms(h->ctx, parts->elems[i].topic);
        if (back > 0)
            rd_kafka_topic_partition_list_add(at, parts->elems[i].topic, parts->elems[i].partition)
                ->offset = wall - back;
    }
    rd_kafka_resp_err_t e = at->cnt ? rd_kafka_offsets_for_times(rk, at, 5000) : 0;
    if (e)
        voc_log(VOC_LOG_WARN, "replay_time_lookup_failed", "error=%s",
                voc_log_q(rd_kafka_err2str(e)));
    if (e || at->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(at);
        return NULL;
    }
    return at;
}

/* Where partition p starts (see replay_from in voc/kafka.h): the earliest
 * of committed, its offset by time and the handler's checkpoint, but not
 * before the log start (an offset out of range would be left to
 * auto.offset.reset, which may skip to the end). *source says which won
 * (0: the committed offset). */
static int64_t start_of(const struct voc_batch_handler *h, rd_kafka_t *rk,
                        const rd_kafka_topic_partition_t *p, int64_t committed,
                        const rd_kafka_topic_partition_list_t *by_time, int *source)
{
    int64_t from = committed, low = 0, high = 0;
    *source = 0;
    const rd_kafka_topic_partition_t *t =
        by_time ? rd_kafka_topic_partition_list_find(by_time, p->topic, p->partition) : NULL;
    if (t && !t->err && t->offset >= 0 && t->offset < from) {
        from = t->offset;
        *source = FROM_TIME;
    }
    int64_t mine = h->replay_from ? h->replay_from(h->ctx, p->topic, p->partition, committed) : -1;
    if (mine >= 0 && mine < from) {
        from = mine;
        *source = FROM_CHECKPOINT;
    }
    if (!*source)
        return committed;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &low, &high, 5000);
    if (e) {
        voc_log(VOC_LOG_WARN, "partition_not_rewound", "topic=%s partition=%d error=%s",
                voc_log_q(p->topic), (int)p->partition, voc_log_q(rd_kafka_err2str(e)));
        *source = 0;
        return committed;
    }
    if (from < low)
        from = low;
    if (from >= committed) {
        *source = 0;
        return committed;
    }
    return from;
}

/* Moves the start of newly assigned partitions back so that the handler can
 * rebuild its in-memory state (replay_ms, replay_from in voc/kafka.h).
 * Best effort: what cannot be looked up leaves the committed offsets, which
 * is what the loop did before. */
static void rewind_assignment(struct consumer_loop *loop, rd_kafka_t *rk,
                              rd_kafka_topic_partition_list_t *parts)
{
    const struct voc_batch_handler *h = loop ? loop->handler : NULL;
    if (!h || (!h->replay_ms && !h->replay_from) || parts->cnt == 0)
        return;
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, committed, 5000);
    if (e) {
        voc_log(VOC_LOG_WARN, "partitions_not_rewound", "error=%s", voc_log_q(rd_kafka_err2str(e)));
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    rd_kafka_topic_partition_list_t *by_time = offsets_by_time(h, rk, parts);
    int rewound = 0, sources = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int64_t done = committed->elems[i].offset;
        int source;
        if (committed->elems[i].err || done < 0)
            continue; /* no commit yet: auto.offset.reset decides */
        int64_t from = start_of(h, rk, &parts->elems[i], done, by_time, &source);
        if (!source)
            continue;
        parts->elems[i].offset = from;
        sources |= source;
        rewound++;
    }
    if (rewound)
        voc_log(VOC_LOG_INFO, "partitions_rewound", "count=%d source=%s", rewound,
                sources == FROM_TIME         ? "time"
                : sources == FROM_CHECKPOINT ? "checkpoint"
                                             : "time+checkpoint");
    if (by_time)
        rd_kafka_topic_partition_list_destroy(by_time);
    rd_kafka_topic_partition_list_destroy(committed);
}

void voc_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque);
void voc_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    struct consumer_loop *loop = active_loop;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        voc_log(VOC_LOG_INFO, "partitions_assigned", "count=%d", parts->cnt);
        rewind_assignment(loop, rk, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        return;
    }
    bool lost = rd_kafka_assignment_lost(rk);
    voc_log(VOC_LOG_INFO, "partitions_revoked", "count=%d lost=%d", parts->cnt, lost);
    if (loop && loop->n > 0) {
        if (lost)
            drop_batch(loop); /* Another member owns them now: let it redo the work. */
        else
            flush_batch(loop, 5);
    }
    if (!lost) {
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            voc_log(VOC_LOG_WARN, "commit_failed", "error=%s", voc_log_q(rd_kafka_err2str(e)));
    }
    if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static void take_message(struct consumer_loop *loop, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            voc_log(VOC_LOG_WARN, "consumer_error", "error=%s",
                    voc_log_q(rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        return;
    }
    if (loop->n == 0)
        loop->first_at_ms = now_ms();
    loop->batch[loop->n++] = m;
}

int voc_consumer_run(rd_kafka_t *consumer, const struct voc_consumer_opts *opts,
                     const struct voc_batch_handler *handler, volatile sig_atomic_t *stop)
{
    struct consumer_loop loop = {.rk = consumer, .opts = opts, .handler = handler, .stop = stop};
    loop.batch = calloc(opts->batch_size, sizeof(rd_kafka_message_t *));
    if (!loop.batch)
        return -1;
    active_loop = &loop;
    while (!*stop && !loop.fatal) {
        if (handler->tick)
            handler->tick(handler->ctx);
        int timeout = 100;
        if (loop.n > 0) {
            long long left = loop.first_at_ms + opts->flush_ms - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, timeout);
        if (m)
            take_message(&loop, m);
        if (loop.n > 0 &&
            (loop.n >= opts->batch_size || now_ms() >= loop.first_at_ms + opts->flush_ms))
            flush_batch(&loop, 0);
    }
    if (!loop.fatal)
        flush_batch(&loop, 0);
    /* Commits the stored offsets and leaves the group (revoke runs in here). */
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(consumer);
    if (e)
        voc_log(VOC_LOG_WARN, "consumer_close", "error=%s", voc_log_q(rd_kafka_err2str(e)));
    active_loop = NULL;
    drop_batch(&loop);
    free(loop.batch);
    return loop.fatal ? -1 : 0;
}
