/* The transactional outbox (design principle 1): a state change and the
 * events it must send are written in one Postgres transaction; a relay
 * publishes them to Kafka after commit. A crash between commit and publish
 * loses nothing; a crash between publish and marking republishes the same
 * event_id, which readers deduplicate on. */
#ifndef VOC_OUTBOX_H
#define VOC_OUTBOX_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "voc/db.h"
#include "voc/kafka.h"

/* Adds an event to voc.outbox inside the caller's open transaction.
 * payload_json is a JSON object; the relay adds "event_id" (a UUID assigned
 * here) and "type" is the caller's. Returns 0, or -1 with err and *fault. */
int voc_outbox_add(PGconn *conn, const char *topic, const char *key, const char *type,
                   const char *payload_json, enum voc_db_fault *fault, char *err, size_t errlen);

/* Publishes up to limit unpublished events in id order (rows locked FOR
 * UPDATE SKIP LOCKED so two relays never publish the same row at once),
 * waits for the broker's acknowledgement, marks them published, commits.
 * Returns how many were published, or -1 with err and *fault. */
int voc_outbox_relay(PGconn *conn, rd_kafka_t *producer, int limit, enum voc_db_fault *fault,
                     char *err, size_t errlen);

#endif
