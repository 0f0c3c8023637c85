/* voc-notify through the real binaries: notifications are written with
 * voc_notice_add and published by the outbox relay to voc-bus, exactly as
 * voc-aggregate and voc-track do; voc-notify posts them to a real HTTP
 * receiver on loopback (harness_http.h) whose URLs, secret tokens included,
 * reach it only through VOC_WEBHOOK_* variables. Results are read back from
 * the receiver, Postgres and the dead-letter topic. */
#include <check.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_http.h"
#include "voc/config.h"
#include "voc/kafka.h"
#include "voc/notice.h"
#include "voc/outbox.h"

/* A token as the chat services put it in their URLs: it must never show up
 * in a log line or in Postgres. */
#define SECRET "Zk3q9-secret-token-7Hq2"

#define DELIVERED(t)                                                                               \
    "SELECT count(*) FROM voc.notice WHERE state = 'delivered' AND target = '" t "'"

/* Small group_wait and backoff so that retries take a second, not minutes. */
static void fast_config(struct h_env *env, const char *max_attempts)
{
    char line[64];
    h_config_replace(env, "group_wait_ms: 2000", "group_wait_ms: 700");
    h_config_replace(env, "backoff_initial_ms: 1000", "backoff_initial_ms: 300");
    h_config_replace(env, "backoff_max_ms: 300000", "backoff_max_ms: 1000");
    snprintf(line, sizeof line, "max_attempts: %s", max_attempts);
    h_config_replace(env, "max_attempts: 6", line);
}

/* Points target variable env_name at path on the receiver, with the secret
 * in the query string as WeCom and DingTalk have it. */
static void point(const char *env_name, struct h_http *rx, const char *path)
{
    char url[256];
    h_http_url(rx, path, url, sizeof url);
    strncat(url, "?key=" SECRET, sizeof url - strlen(url) - 1);
    setenv(env_name, url, 1);
}

/* Writes the notices in one transaction and relays the outbox to voc-bus. */
static void publish(struct h_env *env, const struct voc_notice *ns, size_t n)
{
    char dir[512], err[512];
    struct voc_config cfg;
    struct voc_diag diag = {0};
    enum voc_db_fault fault;
    snprintf(dir, sizeof dir, "%s/config", env->workdir);
    ck_assert_int_eq(voc_config_load(dir, &cfg, &diag), 0);
    voc_diag_free(&diag);
    PGconn *c = voc_db_connect(cfg.postgres.dsn, "test_notify", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    rd_kafka_t *producer = voc_kafka_producer_new(&cfg, err, sizeof err);
    ck_assert_msg(producer != NULL, "%s", err);
    ck_assert_int_eq(voc_db_exec(c, "BEGIN", &fault, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(voc_notice_add(c, cfg.topics.notification, &ns[i], &fault, err, sizeof err) ==
                          0,
                      "%s", err);
    ck_assert_int_eq(voc_db_exec(c, "COMMIT", &fault, err, sizeof err), 0);
    ck_assert_int_eq(voc_outbox_relay(c, producer, 1000, &fault, err, sizeof err), (int)n);
    rd_kafka_destroy(producer);
    PQfinish(c);
    voc_config_free(&cfg);
}

/* Produces raw messages to voc.notification (key = department), as a
 * producer other than the relay might, or the relay publishing twice. */
static void produce_raw(struct h_env *env, const char *const *values, size_t n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", env->brokers, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(rd_kafka_producev(
                             p, RD_KAFKA_V_TOPIC("voc.notification"), RD_KAFKA_V_KEY("teaching", 8),
                             RD_KAFKA_V_VALUE((void *)values[i], strlen(values[i])),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

static struct voc_notice notice(const char *department, const char *title, long long id)
{
    struct voc_notice n = {.kind = "item.opened",
                           .department = department,
                           .subject = "item",
                           .subject_id = id,
                           .title = title,
                           .severity = "high",
                           .text = "50 reports from 30 families"};
    return n;
}

/* Nothing voc-notify wrote (its logs, its tables) holds the secret. */
static void assert_secret_kept(struct h_env *env)
{
    char pattern[512];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/voc-notify.*.log", env->workdir);
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        ck_assert_ptr_nonnull(f);
        char line[4096];
        while (fgets(line, sizeof line, f))
            ck_assert_msg(!strstr(line, SECRET) && !strstr(line, "key="),
                          "%s leaks the webhook URL: %s", g.gl_pathv[i], line);
        fclose(f);
    }
    globfree(&g);
    ck_assert_int_eq(h_query_ll(env, "SELECT count(*) FROM voc.delivery WHERE error LIKE"
                                     " '%" SECRET "%' OR error LIKE '%key=%'"),
                     0);
    ck_assert_int_eq(h_query_ll(env, "SELECT count(*) FROM voc.notice WHERE last_error LIKE"
                                     " '%" SECRET "%' OR payload::text LIKE '%" SECRET "%'"),
                     0);
}

/* How many requests to path (any status) the receiver has after waiting
 * `quiet_ms` more: nothing else may arrive once a group is done. */
static size_t settled_count(struct h_http *rx, const char *path, int quiet_ms)
{
    usleep((useconds_t)quiet_ms * 1000);
    return h_http_count(rx, path);
}

START_TEST(a_webhook_that_fails_twice_then_succeeds_is_delivered_once)
{
    struct h_env env;
    h_setup(&env, "nt1");
    fast_config(&env, "5");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_WECOM_TEACHING", rx, "/wecom/teaching");
    h_http_script(rx, "/wecom/teaching", 2, 500, NULL);
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    struct voc_notice n = notice("teaching", "老师上课一直卡顿", 42);
    publish(&env, &n, 1);

    ck_assert_int_eq(h_wait_for(&env, DELIVERED("wecom-teaching"), 1, 60000), 1);
    ck_assert_uint_eq(settled_count(rx, "/wecom/teaching", 2500), 3);
    ck_assert_uint_eq(h_http_count_status(rx, "/wecom/teaching", 200), 1);
    char trail[256];
    h_query_text(&env,
                 "SELECT string_agg(outcome || ':' || attempt || ':' || http_status, ','"
                 " ORDER BY id) FROM voc.delivery",
                 trail, sizeof trail);
    ck_assert_str_eq(trail, "failed:1:500,failed:2:500,ok:3:200");
    /* Backoff: 300 ms after the first failure, 600 ms after the second. */
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM (SELECT at - lag(at) OVER (ORDER BY"
                                      " id) AS gap, attempt FROM voc.delivery) g"
                                      " WHERE (attempt = 2 AND gap >= interval '300 ms')"
                                      " OR (attempt = 3 AND gap >= interval '600 ms')"),
                     2);
    ck_assert_int_eq(h_query_ll(&env, "SELECT attempts FROM voc.notice"), 3);
    /* Every try carried the same idempotency key, and its attempt number. */
    struct h_http_request first, last;
    ck_assert(h_http_get(rx, "/wecom/teaching", 0, &first));
    ck_assert(h_http_get(rx, "/wecom/teaching", 2, &last));
    ck_assert_ptr_nonnull(h_http_header(&first, "X-Voc-Delivery"));
    ck_assert_str_eq(h_http_header(&first, "X-Voc-Delivery"),
                     h_http_header(&last, "X-Voc-Delivery"));
    ck_assert_str_eq(h_http_header(&last, "X-Voc-Attempt"), "3");
    ck_assert_str_eq(last.method, "POST");
    /* WeCom's robot format, with the title in it. */
    ck_assert_ptr_nonnull(strstr(last.body, "\"msgtype\":\"markdown\""));
    ck_assert_ptr_nonnull(strstr(last.body, "老师上课一直卡顿"));
    h_http_request_clear(&first);
    h_http_request_clear(&last);
    assert_secret_kept(&env);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

START_TEST(notices_for_a_department_within_group_wait_arrive_as_one_request)
{
    struct h_env env;
    h_setup(&env, "nt2");
    fast_config(&env, "5");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_FEISHU_PRODUCT_RD", rx, "/feishu");
    point("VOC_WEBHOOK_DINGTALK_NETOPS", rx, "/dingtalk");
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    struct voc_notice ns[] = {notice("product_rd", "App crashes on the whiteboard", 1),
                              notice("network_ops", "line-1 stalls", 2),
                              notice("product_rd", "退款页面打不开", 3),
                              notice("product_rd", "Homework upload fails", 4)};
    publish(&env, ns, 4);

    ck_assert_int_eq(h_wait_for(&env, DELIVERED("feishu-product-rd"), 3, 30000), 3);
    ck_assert_int_eq(h_wait_for(&env, DELIVERED("dingtalk-netops"), 1, 30000), 1);
    ck_assert_uint_eq(settled_count(rx, "/feishu", 2000), 1);
    ck_assert_uint_eq(h_http_count(rx, "/dingtalk"), 1);
    struct h_http_request r;
    ck_assert(h_http_get(rx, "/feishu", 0, &r));
    ck_assert_ptr_nonnull(strstr(r.body, "\"msg_type\":\"text\""));
    ck_assert_ptr_nonnull(strstr(r.body, "App crashes on the whiteboard"));
    ck_assert_ptr_nonnull(strstr(r.body, "退款页面打不开"));
    ck_assert_ptr_nonnull(strstr(r.body, "Homework upload fails"));
    ck_assert_ptr_null(strstr(r.body, "line-1 stalls"));
    h_http_request_clear(&r);
    ck_assert(h_http_get(rx, "/dingtalk", 0, &r));
    ck_assert_ptr_nonnull(strstr(r.body, "\"msgtype\":\"markdown\""));
    ck_assert_ptr_nonnull(strstr(r.body, "line-1 stalls"));
    h_http_request_clear(&r);
    ck_assert_int_eq(h_query_ll(&env, "SELECT array_length(notice_ids, 1) FROM voc.delivery"
                                      " WHERE target = 'feishu-product-rd' AND outcome = 'ok'"),
                     3);
    assert_secret_kept(&env);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

/* The dead-letter record for a notice of target, or NULL. */
static char *deadletter_for(char **v, size_t n, const char *target)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i], target))
            return v[i];
    return NULL;
}

START_TEST(a_target_that_always_fails_is_deadlettered_after_max_attempts)
{
    struct h_env env;
    h_setup(&env, "nt3");
    fast_config(&env, "3");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_WECOM_CS", rx, "/cs");
    h_http_script(rx, "/cs", -1, 503, NULL);
    unsetenv("VOC_WEBHOOK_WECOM_VOC_TRIAGE"); /* triage's webhook is missing */
    /* Network operations' robot is unreachable (nothing listens on port 1). */
    setenv("VOC_WEBHOOK_DINGTALK_NETOPS", "http://127.0.0.1:1/robot/send?access_token=" SECRET, 1);
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    struct voc_notice ns[] = {notice("customer_service", "客服回复太慢", 7),
                              notice("triage", "Unclassified complaint", 8),
                              notice("network_ops", "line-3 down", 9)};
    publish(&env, ns, 3);

    ck_assert_int_eq(
        h_wait_for(&env, "SELECT count(*) FROM voc.notice WHERE state = 'dead'", 3, 60000), 3);
    ck_assert_uint_eq(settled_count(rx, "/cs", 1500), 3);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.delivery WHERE target ="
                                      " 'wecom-cs' AND outcome = 'failed' AND http_status = 503"),
                     3);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.delivery WHERE target ="
                                      " 'wecom-voc-triage' AND http_status IS NULL AND error ="
                                      " 'VOC_WEBHOOK_WECOM_VOC_TRIAGE is not set'"),
                     3);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.delivery WHERE target ="
                                      " 'dingtalk-netops' AND http_status IS NULL AND error LIKE"
                                      " '%127.0.0.1 port 1%'"),
                     3);
    char **v;
    size_t n = h_read_topic(&env, "voc.deadletter", 3, 30000, &v);
    ck_assert_uint_eq(n, 3);
    const char *cs = deadletter_for(v, n, "'wecom-cs'");
    ck_assert_ptr_nonnull(cs);
    ck_assert_ptr_nonnull(strstr(cs, "failed 3 times; last error: HTTP 503"));
    ck_assert_ptr_nonnull(strstr(cs, "\"service\":\"voc-notify\""));
    ck_assert_ptr_nonnull(strstr(cs, "\"topic\":\"voc.notification\""));
    ck_assert_ptr_nonnull(strstr(cs, "客服回复太慢")); /* the original travels with it */
    const char *triage = deadletter_for(v, n, "'wecom-voc-triage'");
    ck_assert_ptr_nonnull(triage);
    ck_assert_ptr_nonnull(strstr(triage, "VOC_WEBHOOK_WECOM_VOC_TRIAGE is not set"));
    h_free_strv(v, n);
    assert_secret_kept(&env);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

START_TEST(a_chat_service_answering_200_with_an_error_code_is_retried)
{
    struct h_env env;
    h_setup(&env, "nt4");
    fast_config(&env, "5");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_DINGTALK_NETOPS", rx, "/dingtalk");
    /* DingTalk refuses with HTTP 200 and errcode -1 (e.g. a keyword check). */
    h_http_script(rx, "/dingtalk", 1, 200, NULL);
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    struct voc_notice n = notice("network_ops", "line-2 packet loss", 9);
    publish(&env, &n, 1);

    ck_assert_int_eq(h_wait_for(&env, DELIVERED("dingtalk-netops"), 1, 60000), 1);
    ck_assert_uint_eq(settled_count(rx, "/dingtalk", 1500), 2);
    char trail[256];
    h_query_text(&env,
                 "SELECT string_agg(outcome || ':' || http_status || ':' || coalesce(error, '-'),"
                 " ',' ORDER BY id) FROM voc.delivery",
                 trail, sizeof trail);
    ck_assert_str_eq(trail, "failed:200:errcode=-1 errmsg=,ok:200:-");
    assert_secret_kept(&env);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

/* A notification Kafka delivers twice (the relay republishing after a crash)
 * is stored and sent once; a message that is no notification is
 * dead-lettered at intake and sends nothing. */
START_TEST(a_redelivered_notification_is_sent_once)
{
    struct h_env env;
    h_setup(&env, "nt5");
    fast_config(&env, "5");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_WECOM_TEACHING", rx, "/wecom/teaching");
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    static const char *const msgs[] = {
        "{\"event_id\":\"0b6f4c1e-aaaa-4bbb-8ccc-000000000001\",\"type\":\"item.opened\","
        "\"kind\":\"item.opened\",\"department\":\"teaching\",\"subject\":\"item\","
        "\"subject_id\":5,\"title\":\"Teacher late again\"}",
        "{\"event_id\":\"0b6f4c1e-aaaa-4bbb-8ccc-000000000001\",\"type\":\"item.opened\","
        "\"kind\":\"item.opened\",\"department\":\"teaching\",\"subject\":\"item\","
        "\"subject_id\":5,\"title\":\"Teacher late again\"}",
        "{\"event_id\":\"no-department\",\"kind\":\"item.opened\"}", "not json at all"};
    produce_raw(&env, msgs, 4);

    ck_assert_int_eq(h_wait_for(&env, DELIVERED("wecom-teaching"), 1, 60000), 1);
    ck_assert_uint_eq(settled_count(rx, "/wecom/teaching", 2000), 1);
    ck_assert_int_eq(h_query_ll(&env, "SELECT count(*) FROM voc.notice"), 1);
    char **v;
    size_t n = h_read_topic(&env, "voc.deadletter", 2, 30000, &v);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(deadletter_for(v, n, "needs a non-empty string 'department'"));
    ck_assert_ptr_nonnull(deadletter_for(v, n, "not valid JSON"));
    h_free_strv(v, n);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

/* voc-notify killed between two failed attempts: the retry schedule lives
 * in Postgres, so the restarted process goes on and delivers once. */
START_TEST(retries_survive_a_kill)
{
    struct h_env env;
    h_setup(&env, "nt6");
    fast_config(&env, "5");
    /* Time enough to kill it between the first attempt and the retry. */
    h_config_replace(&env, "backoff_initial_ms: 300", "backoff_initial_ms: 1500");
    h_config_replace(&env, "backoff_max_ms: 1000", "backoff_max_ms: 3000");
    struct h_http *rx = h_http_start();
    point("VOC_WEBHOOK_WECOM_TEACHING", rx, "/wecom/teaching");
    h_http_script(rx, "/wecom/teaching", 1, 500, NULL);
    pid_t notify = h_start(&env, "voc-notify", (char *)NULL);
    struct voc_notice n = notice("teaching", "Whiteboard freezes", 77);
    publish(&env, &n, 1);
    ck_assert_int_eq(h_wait_for(&env, "SELECT count(*) FROM voc.delivery", 1, 60000), 1);
    h_stop(notify, SIGKILL, 5000);
    notify = h_start(&env, "voc-notify", (char *)NULL);

    ck_assert_int_eq(h_wait_for(&env, DELIVERED("wecom-teaching"), 1, 60000), 1);
    ck_assert_uint_eq(settled_count(rx, "/wecom/teaching", 2000), 2);
    ck_assert_uint_eq(h_http_count_status(rx, "/wecom/teaching", 200), 1);
    char trail[256];
    h_query_text(&env,
                 "SELECT string_agg(outcome || ':' || attempt, ',' ORDER BY id)"
                 " FROM voc.delivery",
                 trail, sizeof trail);
    ck_assert_str_eq(trail, "failed:1,ok:2");
    assert_secret_kept(&env);
    ck_assert_int_eq(h_stop(notify, SIGTERM, 20000), 0);
    h_http_stop(rx);
    h_teardown(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("through the binaries");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_webhook_that_fails_twice_then_succeeds_is_delivered_once);
    tcase_add_test(tc, notices_for_a_department_within_group_wait_arrive_as_one_request);
    tcase_add_test(tc, a_target_that_always_fails_is_deadlettered_after_max_attempts);
    tcase_add_test(tc, a_chat_service_answering_200_with_an_error_code_is_retried);
    tcase_add_test(tc, a_redelivered_notification_is_sent_once);
    tcase_add_test(tc, retries_survive_a_kill);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
