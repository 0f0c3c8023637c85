/* The transactional outbox: writing events next to the state change that
 * causes them, and relaying them to Kafka after commit. */
#include "voc/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the relay waits for the broker to acknowledge a batch, and then
 * for purged messages to report back, before giving up on the round. */
#define OUTBOX_ACK_TIMEOUT_MS   30000
#define OUTBOX_PURGE_TIMEOUT_MS 10000

/* One line, whatever libpq or the caller put in the message. */
static void outbox_fail(PGconn *conn, const PGresult *res, const char *what,
                        enum voc_db_fault *fault, char *err, size_t errlen)
{
    enum voc_db_fault f = voc_db_fault_of(conn, res);
    if (fault)
        *fault = f == VOC_DB_OK ? VOC_DB_FATAL : f;
    /* Primary message and SQLSTATE only: DETAIL quotes row values (customer
     * data), and this text reaches logs and dead letters. */
    char why[512];
    voc_db_describe(conn, res, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, *why ? why : "unexpected result");
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int voc_outbox_add(PGconn *conn, const char *topic, const char *key, const char *type,
                   const char *payload_json, enum voc_db_fault *fault, char *err, size_t errlen)
{
    if (fault)
        *fault = VOC_DB_OK;
    if (!topic || !*topic || !type || !*type || !payload_json) {
        if (fault)
            *fault = VOC_DB_BAD_ROW;
        snprintf(err, errlen, "outbox: topic, type and payload are required");
        return -1;
    }
    /* The relay merges event_id and type into the payload with jsonb ||,
     * which only means that for an object: refuse anything else here, where
     * the caller can still tell which change produced it. */
    const char *params[] = {topic, key, type, payload_json};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO voc.outbox (topic, key, type, payload)"
                                 " SELECT $1, $2, $3, p FROM (SELECT $4::jsonb AS p) v"
                                 " WHERE jsonb_typeof(p) = 'object'",
                                 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        outbox_fail(conn, res, "outbox insert", fault, err, errlen);
        PQclear(res);
        return -1;
    }
    int inserted = atoi(PQcmdTuples(res));
    PQclear(res);
    if (inserted != 1) {
        if (fault)
            *fault = VOC_DB_BAD_ROW;
        snprintf(err, errlen, "outbox: the payload of a %s event must be a JSON object", type);
        return -1;
    }
    return 0;
}

static void outbox_rollback(PGconn *conn)
{
    /* Best effort: if the connection is gone the server has rolled back. */
    PGresult *res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

/* Waits for every delivery report of t. The tracker is the msg_opaque of
 * messages librdkafka still holds, so it must outlive them: if the broker
 * does not answer, the messages are purged (their reports then arrive with a
 * purge error) and, should even that hang, the tracker is leaked on purpose
 * rather than freed under librdkafka's feet. Returns 0 when all were
 * delivered. */
static int outbox_settle(rd_kafka_t *producer, struct voc_produce_tracker *t, char *err,
                         size_t errlen)
{
    int rc = voc_kafka_wait(producer, t, OUTBOX_ACK_TIMEOUT_MS);
    if (rc == 0) {
        free(t);
        return 0;
    }
    if (rc < 0) {
        snprintf(err, errlen, "outbox relay: no acknowledgement from the broker within %d ms",
                 OUTBOX_ACK_TIMEOUT_MS);
        rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        if (voc_kafka_wait(producer, t, OUTBOX_PURGE_TIMEOUT_MS) < 0 && t->pending > 0)
            return -1; /* t leaked: see above */
    } else {
        snprintf(err, errlen, "outbox relay: %d event(s) not delivered: %s", t->failed,
                 t->first_error);
    }
    free(t);
    return -1;
}

/* Produces every selected row; returns 0 when the broker acknowledged all. */
static int outbox_produce(rd_kafka_t *producer, const PGresult *rows, char *err, size_t errlen)
{
    struct voc_produce_tracker *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "outbox relay: out of memory");
        return -1;
    }
    for (int i = 0; i < PQntuples(rows); i++) {
        const char *topic = PQgetvalue(rows, i, 1);
        const char *key = PQgetisnull(rows, i, 2) ? NULL : PQgetvalue(rows, i, 2);
        const char *value = PQgetvalue(rows, i, 3);
        /* Stop at a refused produce, but still wait for the ones already
         * handed over: they hold t. */
        if (voc_kafka_produce(producer, t, topic, key, key ? strlen(key) : 0, value,
                              (size_t)PQgetlength(rows, i, 3)) != 0)
            break;
    }
    /* A refused produce is counted in t->failed, so settling reports it. */
    return outbox_settle(producer, t, err, errlen);
}

/* "{1,2,3}": the ids of the produced rows as one bigint[] parameter, so
 * marking them is one parameterised statement whatever the batch size. */
static char *outbox_id_array(const PGresult *rows)
{
    int n = PQntuples(rows);
    size_t cap = 3;
    for (int i = 0; i < n; i++)
        cap += (size_t)PQgetlength(rows, i, 0) + 1;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t len = 0;
    buf[len++] = '{';
    for (int i = 0; i < n; i++) {
        size_t l = (size_t)PQgetlength(rows, i, 0);
        if (i > 0)
            buf[len++] = ',';
        memcpy(buf + len, PQgetvalue(rows, i, 0), l);
        len += l;
    }
    buf[len++] = '}';
    buf[len] = '\0';
    return buf;
}

static int outbox_mark(PGconn *conn, const PGresult *rows, enum voc_db_fault *fault, char *err,
                       size_t errlen)
{
    char *ids = outbox_id_array(rows);
    if (!ids) {
        if (fault)
            *fault = VOC_DB_FATAL;
        snprintf(err, errlen, "outbox relay: out of memory");
        return -1;
    }
    const char *params[] = {ids};
    PGresult *res = PQexecParams(conn,
                                 "UPDATE voc.outbox SET published_at = now()"
                                 " WHERE id = ANY($1::bigint[])",
                                 1, NULL, params, NULL, NULL, 0);
    free(ids);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        outbox_fail(conn, res, "outbox relay: mark published", fault, err, errlen);
    PQclear(res);
    return rc;
}

/* Why a crash can republish: the rows are marked published in the same
 * transaction that locked them, and that transaction can only commit after
 * the broker acknowledged the messages. If the process dies (or the COMMIT
 * fails) after the acknowledgement and before the COMMIT lands, Postgres rolls
 * the marking back, the rows stay unpublished, and the next relay produces
 * them again with the same event_id. That is the price of never losing an
 * event; readers deduplicate on event_id. The opposite order (commit, then
 * produce) could lose events, which design principle 1 forbids. */
int voc_outbox_relay(PGconn *conn, rd_kafka_t *producer, int limit, enum voc_db_fault *fault,
                     char *err, size_t errlen)
{
    char lim[16];
    PGresult *rows = NULL;
    if (fault)
        *fault = VOC_DB_OK;
    if (limit < 1) {
        if (fault)
            *fault = VOC_DB_FATAL;
        snprintf(err, errlen, "outbox relay: limit must be at least 1");
        return -1;
    }
    /* The relay commits what it marks: inside a caller's transaction it
     * would commit the caller's work too. */
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        if (fault)
            *fault = VOC_DB_FATAL;
        snprintf(err, errlen, "outbox relay: the connection must not be inside a transaction");
        return -1;
    }
    if (voc_db_exec(conn, "BEGIN", fault, err, errlen) != 0)
        return -1;
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[] = {lim};
    rows = PQexecParams(conn,
                        "SELECT id, topic, key,"
                        " payload || jsonb_build_object('event_id', event_id, 'type', type)"
                        " FROM voc.outbox WHERE published_at IS NULL ORDER BY id"
                        " LIMIT $1::integer FOR UPDATE SKIP LOCKED",
                        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
        outbox_fail(conn, rows, "outbox relay: select", fault, err, errlen);
        goto fail;
    }
    int n = PQntuples(rows);
    if (n > 0 && outbox_produce(producer, rows, err, errlen) != 0) {
        /* Not a database fault, but the remedy is the same: the rows stay
         * unpublished and the next round tries them again. */
        if (fault)
            *fault = VOC_DB_RETRY;
        goto fail;
    }
    if (n > 0 && outbox_mark(conn, rows, fault, err, errlen) != 0)
        goto fail;
    PQclear(rows);
    rows = NULL;
    if (voc_db_exec(conn, "COMMIT", fault, err, errlen) != 0)
        return -1;
    return n;
fail:
    PQclear(rows);
    outbox_rollback(conn);
    return -1;
}
