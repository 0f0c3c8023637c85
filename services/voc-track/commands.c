/* Commands from the voc.command topic: the second door to the item state
 * machine (the first is `vocctl item`); both run voc_item_apply(), so they
 * obey the same rules and leave the same audit rows.
 *
 * A message is
 *   invalid    not JSON, or refused by schemas/events/command.schema.json:
 *              dead-lettered with the validator's reason; nothing recorded;
 *   duplicate  its command_id is in voc.command already: nothing happens
 *              (a redelivery, or a sender retrying);
 *   done       the item changed: voc.command row (outcome done), audit
 *              row and voc.item event, one transaction;
 *   refused    valid, but the item's state or the arguments do not allow
 *              it (ack on a closed item, assign without assignee, no such
 *              item): recorded in voc.command with the state machine's
 *              message, nothing else written. A refusal is an answer, not
 *              a bad message: it is not dead-lettered, and resending the
 *              same command_id does not retry it (send a new id).
 * A command Postgres itself refuses (SQLSTATE class 22/23) is dead-lettered
 * with that reason; any other database failure retries the batch. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "voc/deadletter.h"
#include "voc/item.h"
#include "voc/log.h"

#define COMMAND_SCHEMA "command.schema.json"

static const char *str(json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

static int deadletter(struct track *t, struct voc_produce_tracker *tr, const rd_kafka_message_t *m,
                      const char *reason)
{
    t->deadlettered++;
    return voc_deadletter_produce(t->producer, tr, t->cfg->topics.deadletter, "voc-track", m,
                                  reason) == 0
               ? 0
               : -1;
}

/* Claims the command id. 1: new, 0: seen before, -1: error. */
static int claim(struct track *t, const rd_kafka_message_t *m, json_t *root, const char *payload,
                 enum voc_db_fault *fault, char *err, size_t errlen)
{
    char item[24], part[16], off[24];
    snprintf(item, sizeof item, "%lld",
             (long long)json_integer_value(json_object_get(root, "item_id")));
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *vals[] = {str(root, "command_id"),
                          item,
                          str(root, "verb"),
                          str(root, "actor"),
                          payload,
                          rd_kafka_topic_name(m->rkt),
                          part,
                          off};
    PGresult *r = track_q(t,
                          "INSERT INTO voc.command (command_id, item_id, verb, actor, payload,"
                          " outcome, topic, partition, \"offset\")"
                          " VALUES ($1, $2::bigint, $3, $4, $5::jsonb, 'done', $6, $7::int,"
                          " $8::bigint) ON CONFLICT (command_id) DO NOTHING RETURNING 1",
                          8, vals, PGRES_TUPLES_OK, fault, err, errlen);
    if (!r)
        return -1;
    int fresh = PQntuples(r) == 1;
    PQclear(r);
    return fresh;
}

static int record_refusal(struct track *t, const char *command_id, const char *message,
                          enum voc_db_fault *fault, char *err, size_t errlen)
{
    const char *vals[] = {command_id, message};
    PGresult *r = track_q(t,
                          "UPDATE voc.command SET outcome = 'refused', message = $2"
                          " WHERE command_id = $1",
                          2, vals, PGRES_COMMAND_OK, fault, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

/* The command's transaction: claim, apply, record. Returns VOC_ITEM_DONE,
 * VOC_ITEM_REFUSED (msg says why), 2 for a duplicate, or VOC_ITEM_ERROR. */
static int run(struct track *t, const rd_kafka_message_t *m, json_t *root, const char *payload,
               char *msg, size_t msglen, enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct voc_item_cmd cmd = {
        .verb = str(root, "verb"),
        .item_id = (long long)json_integer_value(json_object_get(root, "item_id")),
        .assignee = str(root, "assignee"),
        .until = str(root, "until"),
        .more = (int)json_integer_value(json_object_get(root, "more")),
        .actor = str(root, "actor"),
        .note = str(root, "note"),
    };
    if (track_exec(t, "BEGIN", fault, err, errlen) < 0)
        return VOC_ITEM_ERROR;
    int fresh = claim(t, m, root, payload, fault, err, errlen);
    if (fresh <= 0) {
        PQclear(PQexec(t->conn, "ROLLBACK"));
        return fresh == 0 ? 2 : VOC_ITEM_ERROR;
    }
    int rc = voc_item_apply(t->conn, &cmd, NULL, fault, msg, msglen);
    if (rc == VOC_ITEM_ERROR) {
        snprintf(err, errlen, "%s", msg);
        return VOC_ITEM_ERROR;
    }
    if (rc == VOC_ITEM_REFUSED &&
        record_refusal(t, str(root, "command_id"), msg, fault, err, errlen) < 0)
        return VOC_ITEM_ERROR;
    if (track_exec(t, "COMMIT", fault, err, errlen) < 0)
        return VOC_ITEM_ERROR;
    return rc;
}

/* Parses and validates; NULL with reason when the message is not a command. */
static json_t *parse(struct track *t, const rd_kafka_message_t *m, char *reason, size_t len)
{
    json_error_t e;
    json_t *root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &e);
    if (!root || !json_is_object(root)) {
        snprintf(reason, len, "command is not a JSON object: %s",
                 root ? "another JSON value" : e.text);
        json_decref(root);
        return NULL;
    }
    if (voc_schema_validate(t->schemas, COMMAND_SCHEMA, root, reason, len) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static void log_outcome(int rc, json_t *root, const char *msg)
{
    const char *id = str(root, "command_id");
    long long item = (long long)json_integer_value(json_object_get(root, "item_id"));
    if (rc == VOC_ITEM_DONE)
        voc_log(VOC_LOG_INFO, "command_done", "command_id=%s item=%lld verb=%s", voc_log_q(id),
                item, str(root, "verb"));
    else if (rc == VOC_ITEM_REFUSED)
        voc_log(VOC_LOG_INFO, "command_refused", "command_id=%s item=%lld verb=%s reason=%s",
                voc_log_q(id), item, str(root, "verb"), voc_log_q(msg));
    else
        voc_log(VOC_LOG_DEBUG, "command_duplicate", "command_id=%s", voc_log_q(id));
}

int track_command(struct track *t, const rd_kafka_message_t *m, struct voc_produce_tracker *tr)
{
    char reason[512], msg[512] = "", err[512] = "";
    enum voc_db_fault fault = VOC_DB_OK;
    json_t *root = parse(t, m, reason, sizeof reason);
    if (!root)
        return deadletter(t, tr, m, reason);
    char *payload = json_dumps(root, JSON_COMPACT);
    int rc = VOC_ITEM_ERROR;
    if (payload && track_connect(t) == 0)
        rc = run(t, m, root, payload, msg, sizeof msg, &fault, err, sizeof err);
    else
        fault = VOC_DB_RECONNECT;
    free(payload);
    int out = 0;
    if (rc == VOC_ITEM_ERROR) {
        track_db_failed(t, "command", fault, err);
        if (fault == VOC_DB_BAD_ROW) {
            snprintf(reason, sizeof reason, "postgres refused the command: %s", err);
            out = deadletter(t, tr, m, reason);
        } else {
            out = -1;
        }
    } else {
        log_outcome(rc, root, msg);
        t->commands += rc == VOC_ITEM_DONE;
        t->refused += rc == VOC_ITEM_REFUSED;
        t->duplicates += rc == 2;
    }
    json_decref(root);
    return out;
}
