/* voc-notify's batch handler: notifications from Kafka into voc.notice.
 *
 * A batch is one transaction; the consumer stores its offsets only after
 * process() returned DONE, i.e. after COMMIT, so a notification is either in
 * voc.notice or will be consumed again. event_id is UNIQUE and the insert is
 * ON CONFLICT DO NOTHING: a redelivered message (a crash before the offsets
 * were committed, or the outbox relay publishing twice) is stored once.
 *
 * Each notice is due group_wait_ms after it arrived; the delivery round
 * (deliver.c) takes everything pending for its group when the first one is
 * due. Its target is resolved now, from routing.yaml: the payload's `notify`
 * when it names a defined target (an item routed by a rule with its own
 * target), else the department's (voc_routing_department_notify).
 *
 * A message that cannot be a notification (not a JSON object, no event_id
 * or department), or a row Postgres refuses (SQLSTATE class 22/23, isolated
 * by a savepoint), is dead-lettered with the reason; its batch-mates are
 * stored. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "voc/deadletter.h"
#include "voc/log.h"

#define DL_ACK_TIMEOUT_MS 30000

struct batch_counts {
    unsigned long long stored, duplicates, refused;
};

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* The message as a notification object, or NULL with why not. The reason
 * never quotes the content (it is logged). */
static json_t *parse(const rd_kafka_message_t *m, char *reason, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(m->payload ? m->payload : "", m->len, JSON_REJECT_DUPLICATES, &e);
    if (!o)
        snprintf(reason, len, "not valid JSON (line %d, column %d)", e.line, e.column);
    else if (!json_is_object(o))
        snprintf(reason, len, "a notification must be a JSON object");
    else if (!str_of(o, "event_id"))
        snprintf(reason, len, "a notification needs a non-empty string 'event_id'");
    else if (!str_of(o, "department"))
        snprintf(reason, len, "a notification needs a non-empty string 'department'");
    else if (!str_of(o, "kind") && !str_of(o, "type"))
        snprintf(reason, len, "a notification needs a 'kind' (or 'type')");
    else
        return o;
    json_decref(o);
    return NULL;
}

static const char *target_of(const struct notifier *nt, json_t *o)
{
    const char *own = str_of(o, "notify");
    if (own && voc_notify_target_find(&nt->targets, own))
        return own;
    return voc_routing_department_notify(nt->routing, str_of(o, "department"));
}

/* Inserts one notice. Returns 1 stored, 0 already there, -1 with *fault. */
static int insert(struct notifier *nt, const rd_kafka_message_t *m, json_t *o,
                  enum voc_db_fault *fault, char *err, size_t errlen)
{
    char wait[32], part[16], off[32];
    char *payload = strndup(m->payload, m->len);
    if (!payload) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(wait, sizeof wait, "%lld", nt->cfg->notify.group_wait_ms);
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *kind = str_of(o, "kind") ? str_of(o, "kind") : str_of(o, "type");
    const char *params[] = {str_of(o, "event_id"),
                            kind,
                            str_of(o, "department"),
                            target_of(nt, o),
                            payload,
                            wait,
                            rd_kafka_topic_name(m->rkt),
                            part,
                            off};
    PGresult *res = PQexecParams(
        nt->conn,
        "INSERT INTO voc.notice (event_id, kind, department, target, payload, next_attempt_at,"
        " src_topic, src_partition, src_offset)"
        " VALUES ($1, $2, $3, $4, $5::jsonb,"
        " clock_timestamp() + $6::bigint * interval '1 millisecond', $7, $8::int, $9::bigint)"
        " ON CONFLICT (event_id) DO NOTHING",
        9, NULL, params, NULL, NULL, 0);
    free(payload);
    int rc = -1;
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        rc = strcmp(PQcmdTuples(res), "1") == 0 ? 1 : 0;
    } else {
        *fault = voc_db_fault_of(nt->conn, res);
        voc_db_describe(nt->conn, res, err, errlen);
    }
    PQclear(res);
    return rc;
}

static int deadletter(struct notifier *nt, const rd_kafka_message_t *m, const char *reason,
                      struct voc_produce_tracker *t, struct batch_counts *c,
                      enum voc_db_fault *fault, char *err, size_t errlen)
{
    c->refused++;
    if (voc_deadletter_produce(nt->producer, t, nt->cfg->topics.deadletter, "voc-notify", m,
                               reason) == 0)
        return 0;
    *fault = VOC_DB_RETRY; /* not Postgres's fault, but the batch must be redone */
    snprintf(err, errlen, "dead-letter produce refused");
    return -1;
}

/* One message inside the batch transaction, under a savepoint so that a row
 * Postgres refuses is dead-lettered alone. */
static int take(struct notifier *nt, const rd_kafka_message_t *m, struct voc_produce_tracker *t,
                struct batch_counts *c, enum voc_db_fault *fault, char *err, size_t errlen)
{
    char reason[512];
    json_t *o = parse(m, reason, sizeof reason);
    if (!o)
        return deadletter(nt, m, reason, t, c, fault, err, errlen);
    int rc = voc_db_exec(nt->conn, "SAVEPOINT notice", fault, err, errlen);
    if (rc == 0)
        rc = insert(nt, m, o, fault, err, errlen);
    json_decref(o);
    if (rc == 1 || rc == 0) {
        c->stored += rc == 1;
        c->duplicates += rc == 0;
        return voc_db_exec(nt->conn, "RELEASE SAVEPOINT notice", fault, err, errlen);
    }
    if (*fault != VOC_DB_BAD_ROW)
        return -1;
    snprintf(reason, sizeof reason, "Postgres refused the notification: %s", err);
    if (voc_db_exec(nt->conn, "ROLLBACK TO SAVEPOINT notice", fault, err, errlen) != 0)
        return -1;
    return deadletter(nt, m, reason, t, c, fault, err, errlen);
}

enum voc_batch_result queue_store(struct notifier *nt, rd_kafka_message_t **msgs, size_t n)
{
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_RECONNECT;
    struct voc_produce_tracker t = {0};
    struct batch_counts c = {0};
    if (notifier_connect(nt, err, sizeof err) != 0 ||
        voc_db_exec(nt->conn, "BEGIN", &fault, err, sizeof err) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (take(nt, msgs[i], &t, &c, &fault, err, sizeof err) != 0)
            goto fail;
    if (voc_db_exec(nt->conn, "COMMIT", &fault, err, sizeof err) != 0)
        goto fail;
    /* Stored notices are safe; the dead letters must be acknowledged before
     * the offsets are stored. Redoing the batch stores nothing twice. */
    if (voc_kafka_wait(nt->producer, &t, DL_ACK_TIMEOUT_MS) != 0) {
        voc_log(VOC_LOG_WARN, "deadletter_unacknowledged", "error=%s", voc_log_q(t.first_error));
        return VOC_BATCH_RETRY;
    }
    nt->stored += c.stored;
    nt->duplicates += c.duplicates;
    nt->refused += c.refused;
    if (c.stored || c.refused)
        voc_log(VOC_LOG_INFO, "notices_stored", "stored=%llu duplicates=%llu refused=%llu",
                c.stored, c.duplicates, c.refused);
    return VOC_BATCH_DONE;
fail:
    voc_log(fault == VOC_DB_FATAL ? VOC_LOG_ERROR : VOC_LOG_WARN, "db_write_failed",
            "fault=%d error=%s", (int)fault, voc_log_q(err));
    notifier_db_failed(nt, fault);
    voc_kafka_wait(nt->producer, &t, DL_ACK_TIMEOUT_MS);
    return fault == VOC_DB_FATAL ? VOC_BATCH_FATAL : VOC_BATCH_RETRY;
}
