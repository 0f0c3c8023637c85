/* The transactional outbox against a real PostgreSQL (PG* environment, e.g.
 * under pg_virtualenv) and a real broker (the built voc-bus). Without either
 * every test FAILS: a skipped test would hide lost or doubled events. */
#include "voc/outbox.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"

#define TOPIC "voc.item"

/* A producer made the way services make theirs: from a configuration. */
static rd_kafka_t *producer_for(const char *brokers, const char *timeout_ms)
{
    char err[512] = "";
    struct voc_kv common[] = {{"bootstrap.servers", (char *)brokers}};
    struct voc_kv prod[] = {{"message.timeout.ms", (char *)timeout_ms}};
    struct voc_config cfg = {.kafka = {common, 1}, .kafka_producer = {prod, 1}};
    rd_kafka_t *rk = voc_kafka_producer_new(&cfg, err, sizeof err);
    ck_assert_msg(rk != NULL, "producer: %s", err);
    return rk;
}

/* Reads every message of TOPIC from the beginning until want have arrived or
 * timeout_ms passes. Returns them as "key value" lines in arrival order per
 * partition; *n receives how many. */
static char **read_topic(const char *brokers, size_t want, int timeout_ms, size_t *n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == 0);
    ck_assert(rd_kafka_conf_set(conf, "group.id", "test-outbox", err, sizeof err) == 0);
    ck_assert(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err) == 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "consumer: %s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(3);
    for (int p = 0; p < 3; p++)
        rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    char **v = calloc(want + 1, sizeof *v);
    *n = 0;
    for (int waited = 0; *n < want && waited < timeout_ms; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err) {
            char *line = NULL;
            ck_assert_int_ge(asprintf(&line, "%.*s %.*s", (int)m->key_len,
                                      m->key ? (const char *)m->key : "", (int)m->len,
                                      (const char *)m->payload),
                             0);
            v[(*n)++] = line;
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void add_ok(PGconn *c, const char *key, const char *type, const char *payload)
{
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    ck_assert_msg(voc_outbox_add(c, TOPIC, key, type, payload, &f, err, sizeof err) == 0,
                  "add %s: %s", type, err);
    ck_assert_int_eq(f, VOC_DB_OK);
}

static int relay(PGconn *c, rd_kafka_t *p, int limit, enum voc_db_fault *f, char *err)
{
    return voc_outbox_relay(c, p, limit, f, err, 512);
}

START_TEST(add_keeps_events_in_the_callers_transaction)
{
    struct ts_db t;
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_OK;
    ts_db_open(&t, "voc_test_outbox_add");
    ts_sql_ok(t.conn, "BEGIN");
    add_ok(t.conn, "7", "item.opened", "{\"id\": 7}");
    ts_sql_ok(t.conn, "ROLLBACK");
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.outbox", NULL, "0");
    ck_assert_int_eq(voc_outbox_add(t.conn, TOPIC, "7", "item.opened", "[1, 2]", &f, err, 512), -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW);
    ck_assert_str_eq(err, "outbox: the payload of a item.opened event must be a JSON object");
    ck_assert_int_eq(voc_outbox_add(t.conn, TOPIC, "7", "item.opened", "{oops", &f, err, 512), -1);
    ck_assert_int_eq(f, VOC_DB_BAD_ROW); /* 22P02: not JSON at all */
    ck_assert_int_eq(voc_outbox_add(t.conn, "", "7", "item.opened", "{}", &f, err, 512), -1);
    add_ok(t.conn, NULL, "item.opened", "{\"id\": 7}");
    ts_expect_val(
        t.conn,
        "SELECT (key IS NULL) || ' ' || (published_at IS NULL) || ' ' || (event_id IS NOT "
        "NULL) FROM voc.outbox",
        NULL, "true true true");
    ts_db_close(&t);
}
END_TEST

START_TEST(relay_publishes_once_and_marks_the_rows)
{
    struct ts_db t;
    struct ts_bus b;
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_FATAL;
    size_t n = 0;
    ts_db_open(&t, "voc_test_outbox_relay");
    ts_bus_start(&b, 3);
    rd_kafka_t *p = producer_for(b.brokers, "20000");
    add_ok(t.conn, "7", "item.opened", "{\"id\": 7, \"title\": \"白板卡住\"}");
    add_ok(t.conn, "7", "item.acknowledged", "{\"id\": 7, \"state\": \"acknowledged\"}");
    add_ok(t.conn, "8", "item.opened", "{\"id\": 8}");
    ck_assert_msg(relay(t.conn, p, 100, &f, err) == 3, "relay: %s", err);
    ck_assert_int_eq(f, VOC_DB_OK);
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.outbox WHERE published_at IS NULL", NULL, "0");
    /* What a reader must see: key, the payload, and the event_id and type
     * the relay merged in; one item's events in order. */
    char *want = ts_sql_val(t.conn,
                            "SELECT string_agg(key || ' ' || (payload ||"
                            " jsonb_build_object('event_id', event_id, 'type', type))::text,"
                            " E'\\n' ORDER BY key, id) FROM voc.outbox",
                            NULL);
    char **got = read_topic(b.brokers, 3, 20000, &n);
    ck_assert_int_eq(n, 3);
    /* Partitions interleave freely; within a key (one partition) order holds. */
    char joined[4096] = "";
    for (int pass = 7; pass <= 8; pass++)
        for (size_t i = 0; i < n; i++)
            if (atoi(got[i]) == pass)
                snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                         joined[0] ? "\n" : "", got[i]);
    ck_assert_str_eq(joined, want);
    free_lines(got, n);
    free(want);
    /* Nothing left: a second relay publishes nothing and the topic keeps three. */
    ck_assert_int_eq(relay(t.conn, p, 100, &f, err), 0);
    got = read_topic(b.brokers, 4, 3000, &n);
    ck_assert_int_eq(n, 3);
    free_lines(got, n);
    rd_kafka_destroy(p);
    ts_bus_stop(&b);
    ts_db_close(&t);
}
END_TEST

START_TEST(relay_honours_the_limit_in_id_order)
{
    struct ts_db t;
    struct ts_bus b;
    char err[512] = "";
    size_t n = 0;
    ts_db_open(&t, "voc_test_outbox_limit");
    ts_bus_start(&b, 3);
    rd_kafka_t *p = producer_for(b.brokers, "20000");
    for (int i = 1; i <= 5; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "{\"seq\": %d}", i);
        add_ok(t.conn, "k", "item.recurred", payload);
    }
    ck_assert_int_eq(relay(t.conn, p, 2, NULL, err), 2);
    ts_expect_val(t.conn,
                  "SELECT string_agg(id::text, ',' ORDER BY id) FROM voc.outbox"
                  " WHERE published_at IS NOT NULL",
                  NULL, "1,2");
    ck_assert_int_eq(relay(t.conn, p, 2, NULL, err), 2);
    ck_assert_int_eq(relay(t.conn, p, 2, NULL, err), 1);
    ck_assert_int_eq(relay(t.conn, p, 2, NULL, err), 0);
    char **got = read_topic(b.brokers, 5, 20000, &n);
    ck_assert_int_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        char seq[16];
        snprintf(seq, sizeof seq, "\"seq\": %zu", i + 1);
        ck_assert_msg(strstr(got[i], seq), "message %zu out of order: %s", i, got[i]);
    }
    free_lines(got, n);
    rd_kafka_destroy(p);
    ts_bus_stop(&b);
    ts_db_close(&t);
}
END_TEST

/* Two relays at once: rows one holds are skipped by the other, not sent twice. */
START_TEST(relay_skips_rows_another_relay_holds)
{
    struct ts_db t;
    struct ts_bus b;
    char err[512] = "";
    ts_db_open(&t, "voc_test_outbox_skip");
    ts_bus_start(&b, 3);
    rd_kafka_t *p = producer_for(b.brokers, "20000");
    add_ok(t.conn, "1", "item.opened", "{}");
    add_ok(t.conn, "2", "item.opened", "{}");
    PGconn *other = ts_db_connect(&t);
    ts_sql_ok(other, "BEGIN; SELECT id FROM voc.outbox WHERE id = 1 FOR UPDATE");
    ck_assert_msg(relay(t.conn, p, 10, NULL, err) == 1, "relay: %s", err);
    ts_sql_ok(other, "ROLLBACK");
    ts_expect_val(t.conn,
                  "SELECT string_agg(id || ':' || (published_at IS NOT NULL), ',' ORDER BY id)"
                  " FROM voc.outbox",
                  NULL, "1:false,2:true");
    ck_assert_int_eq(relay(t.conn, p, 10, NULL, err), 1);
    PQfinish(other);
    rd_kafka_destroy(p);
    ts_bus_stop(&b);
    ts_db_close(&t);
}
END_TEST

START_TEST(relay_without_a_broker_leaves_events_for_the_next_round)
{
    struct ts_db t;
    char err[512] = "";
    enum voc_db_fault f = VOC_DB_OK;
    ts_db_open(&t, "voc_test_outbox_nobroker");
    /* Port 9 (discard) on loopback: nothing listens, deliveries time out. */
    rd_kafka_t *p = producer_for("127.0.0.1:9", "1500");
    add_ok(t.conn, "7", "item.opened", "{}");
    add_ok(t.conn, "7", "item.resolved", "{}");
    ck_assert_int_eq(relay(t.conn, p, 10, &f, err), -1);
    ck_assert_int_eq(f, VOC_DB_RETRY);
    ck_assert_msg(strstr(err, "2 event(s) not delivered"), "err: %s", err);
    ck_assert_int_eq(PQtransactionStatus(t.conn), PQTRANS_IDLE);
    ts_expect_val(t.conn, "SELECT count(*) FROM voc.outbox WHERE published_at IS NULL", NULL, "2");
    ck_assert_int_eq(relay(t.conn, p, 0, &f, err), -1);
    ts_sql_ok(t.conn, "BEGIN");
    ck_assert_int_eq(relay(t.conn, p, 10, &f, err), -1);
    ck_assert_str_eq(err, "outbox relay: the connection must not be inside a transaction");
    ts_sql_ok(t.conn, "ROLLBACK");
    rd_kafka_destroy(p);
    ts_db_close(&t);
}
END_TEST

static Suite *outbox_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, add_keeps_events_in_the_callers_transaction);
    tcase_add_test(tc, relay_publishes_once_and_marks_the_rows);
    tcase_add_test(tc, relay_honours_the_limit_in_id_order);
    tcase_add_test(tc, relay_skips_rows_another_relay_holds);
    tcase_add_test(tc, relay_without_a_broker_leaves_events_for_the_next_round);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ts_run_suite(outbox_suite());
}
