/* voc.feedback writer over libpq pipeline mode. */
#include "voc/feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/log.h"

#define CHUNK_ROWS 1000
#define NPARAMS    23

static const char insert_sql[] =
    "INSERT INTO voc.feedback (event_id, type, occurred_at, channel, customer_id, tier,"
    " classroom_id, lesson_id, teacher_id, product_id, line, rating, text, dimension,"
    " category, severity, sentiment, rule, taxonomy_version, source_topic,"
    " source_partition, source_offset, payload)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
    " $18, $19, $20, $21, $22, $23::jsonb)"
    " ON CONFLICT (event_id) DO NOTHING";

struct voc_feedback_writer {
    char *dsn;
    char *app;
    PGconn *conn;
};

struct voc_feedback_writer *voc_feedback_writer_new(const char *dsn, const char *app)
{
    struct voc_feedback_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->dsn = strdup(dsn);
    w->app = strdup(app);
    if (!w->dsn || !w->app) {
        voc_feedback_writer_free(w);
        return NULL;
    }
    return w;
}

void voc_feedback_writer_free(struct voc_feedback_writer *w)
{
    if (!w)
        return;
    if (w->conn)
        PQfinish(w->conn);
    free(w->dsn);
    free(w->app);
    free(w);
}

static void disconnect(struct voc_feedback_writer *w)
{
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
}

/* Connects and prepares the insert: once per connection. */
static enum voc_db_fault ensure_connected(struct voc_feedback_writer *w, char *err, size_t errlen)
{
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK)
        return VOC_DB_OK;
    disconnect(w);
    w->conn = voc_db_connect(w->dsn, w->app, err, errlen);
    if (!w->conn)
        return VOC_DB_RECONNECT;
    PGresult *res = PQprepare(w->conn, "voc_feedback_insert", insert_sql, NPARAMS, NULL);
    enum voc_db_fault f = voc_db_fault_of(w->conn, res);
    if (f != VOC_DB_OK) {
        snprintf(err, errlen, "prepare voc.feedback insert: %s", PQresultErrorMessage(res));
        PQclear(res);
        disconnect(w);
        return f == VOC_DB_BAD_ROW ? VOC_DB_FATAL : f;
    }
    PQclear(res);
    voc_log(VOC_LOG_INFO, "db_connected", "app=%s", w->app);
    return VOC_DB_OK;
}

static int send_row(PGconn *conn, const struct voc_feedback_row *r)
{
    const struct voc_event *ev = r->ev;
    char rating[16], partition[16], offset[24];
    snprintf(partition, sizeof partition, "%d", (int)r->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)r->offset);
    if (ev->rating_score > 0)
        snprintf(rating, sizeof rating, "%d", ev->rating_score);
    const char *values[NPARAMS] = {ev->event_id,
                                   ev->type_name,
                                   ev->occurred_at,
                                   ev->channel,
                                   ev->customer_id,
                                   ev->tier,
                                   ev->classroom_id,
                                   ev->lesson_id,
                                   ev->teacher_id,
                                   ev->product_id,
                                   ev->line,
                                   ev->rating_score ? rating : NULL,
                                   r->text,
                                   r->cls->dimension,
                                   r->cls->category,
                                   r->cls->severity,
                                   r->cls->sentiment,
                                   r->cls->rule,
                                   r->taxonomy_version,
                                   r->topic,
                                   partition,
                                   offset,
                                   r->payload};
    return PQsendQueryPrepared(conn, "voc_feedback_insert", NPARAMS, values, NULL, NULL, 0) ? 0
                                                                                            : -1;
}

/* Reads the results of a sent chunk. On the first failing row, *bad is its
 * index in rows and err holds Postgres's message. */
static enum voc_db_fault read_chunk(PGconn *conn, struct voc_feedback_row *rows, size_t from,
                                    size_t to, size_t *inserted, size_t *bad, char *err,
                                    size_t errlen)
{
    enum voc_db_fault fault = VOC_DB_OK;
    for (size_t i = from; i < to; i++) {
        if (rows[i].rejected)
            continue;
        PGresult *res = PQgetResult(conn);
        if (!res)
            return VOC_DB_RECONNECT;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK) {
            *inserted += (size_t)atoi(PQcmdTuples(res));
        } else if (st != PGRES_PIPELINE_ABORTED && fault == VOC_DB_OK) {
            fault = voc_db_fault_of(conn, res);
            *bad = i;
            voc_db_describe(conn, res, err, errlen);
        }
        PQclear(res);
        PQclear(PQgetResult(conn)); /* the NULL that ends each query's results */
    }
    PGresult *sync = PQgetResult(conn);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        PQclear(sync);
        return VOC_DB_RECONNECT;
    }
    PQclear(sync);
    return fault;
}

static enum voc_db_fault write_chunk(PGconn *conn, struct voc_feedback_row *rows, size_t from,
                                     size_t to, size_t *inserted, size_t *bad, char *err,
                                     size_t errlen)
{
    if (PQenterPipelineMode(conn) != 1) {
        snprintf(err, errlen, "cannot enter pipeline mode: %s", PQerrorMessage(conn));
        return VOC_DB_RECONNECT;
    }
    for (size_t i = from; i < to; i++) {
        if (!rows[i].rejected && send_row(conn, &rows[i]) < 0) {
            snprintf(err, errlen, "send: %s", PQerrorMessage(conn));
            return VOC_DB_RECONNECT;
        }
    }
    if (PQpipelineSync(conn) != 1) {
        snprintf(err, errlen, "sync: %s", PQerrorMessage(conn));
        return VOC_DB_RECONNECT;
    }
    size_t added = 0;
    enum voc_db_fault f = read_chunk(conn, rows, from, to, &added, bad, err, errlen);
    if (f == VOC_DB_RECONNECT)
        return f;
    PQexitPipelineMode(conn);
    /* A failed chunk was rolled back as a whole: its successes do not count. */
    if (f == VOC_DB_OK)
        *inserted += added;
    return f;
}

enum voc_db_fault voc_feedback_write(struct voc_feedback_writer *w, struct voc_feedback_row *rows,
                                     size_t n, size_t *inserted, char *err, size_t errlen)
{
    *inserted = 0;
    enum voc_db_fault f = ensure_connected(w, err, errlen);
    if (f != VOC_DB_OK)
        return f;
    for (size_t from = 0; from < n; from += CHUNK_ROWS) {
        size_t to = from + CHUNK_ROWS < n ? from + CHUNK_ROWS : n;
        for (;;) {
            size_t bad = 0;
            f = write_chunk(w->conn, rows, from, to, inserted, &bad, err, errlen);
            if (f == VOC_DB_OK)
                break;
            if (f != VOC_DB_BAD_ROW) {
                if (f == VOC_DB_RECONNECT)
                    disconnect(w);
                return f;
            }
            /* Leave the offending row out and write the rest of the chunk again. */
            rows[bad].rejected = true;
            snprintf(rows[bad].reject_reason, sizeof rows[bad].reject_reason,
                     "postgres refused the row: %s", err);
        }
    }
    return VOC_DB_OK;
}
