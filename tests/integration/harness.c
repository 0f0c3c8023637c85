/* Integration test harness (see harness.h). Failures abort the test through
 * Check's ck_abort_msg so a broken environment fails loudly, never skips. */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int spawn_counter;

const char *h_src(const char *rel)
{
    static char buf[4][1024];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof buf[0], "%s/%s", VOC_TEST_SOURCE_DIR, rel);
    return out;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static pid_t spawn(struct h_env *env, const char *name, char *const argv[])
{
    char log[512];
    snprintf(log, sizeof log, "%s/%s.%d.log", env->workdir, name, ++spawn_counter);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static pid_t start_va(struct h_env *env, const char *binary, va_list ap)
{
    char path[512], confdir[512];
    char *argv[32];
    int n = 0;
    if (strcmp(binary, "vocctl") == 0)
        snprintf(path, sizeof path, "%s/vocctl", VOC_TEST_BINARY_DIR);
    else
        snprintf(path, sizeof path, "%s/%s", VOC_TEST_BINARY_DIR, binary);
    snprintf(confdir, sizeof confdir, "%s/config", env->workdir);
    argv[n++] = path;
    argv[n++] = "--config";
    argv[n++] = confdir;
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    return spawn(env, binary, argv);
}

pid_t h_start(struct h_env *env, const char *binary, ...)
{
    va_list ap;
    va_start(ap, binary);
    pid_t pid = start_va(env, binary, ap);
    va_end(ap);
    return pid;
}

int h_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;
    if (sig)
        kill(pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int h_vocctl(struct h_env *env, ...)
{
    va_list ap;
    va_start(ap, env);
    pid_t pid = start_va(env, "vocctl", ap);
    va_end(ap);
    return h_stop(pid, 0, 120000);
}

PGconn *h_connect(struct h_env *env)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {env->dbname, "3", NULL};
    return PQconnectdbParams(keys, vals, 0); /* host, port, user, password: PG* env */
}

long long h_query_ll(struct h_env *env, const char *sql)
{
    PGconn *c = h_connect(env);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            v = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

long long h_wait_for(struct h_env *env, const char *sql, long long want, int timeout_ms)
{
    long long v = -1;
    for (int waited = 0; waited <= timeout_ms; waited += 200) {
        v = h_query_ll(env, sql);
        if (v == want)
            return v;
        sleep_ms(200);
    }
    return v;
}

static void admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb("dbname=postgres");
    ck_assert_msg(PQstatus(c) == CONNECTION_OK,
                  "PostgreSQL not reachable (run under pg_virtualenv): %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void wait_for_bus(struct h_env *env, const char *addr_file)
{
    for (int waited = 0; waited < 20000; waited += 50) {
        FILE *f = fopen(addr_file, "r");
        if (f) {
            char *ok = fgets(env->brokers, sizeof env->brokers, f);
            fclose(f);
            if (ok) {
                env->brokers[strcspn(env->brokers, "\r\n")] = '\0';
                if (env->brokers[0])
                    return;
            }
        }
        sleep_ms(50);
    }
    ck_abort_msg("voc-bus did not write %s within 20 s", addr_file);
}

void h_setup(struct h_env *env, const char *name)
{
    char sql[256], addr_file[512];
    memset(env, 0, sizeof *env);
    snprintf(env->workdir, sizeof env->workdir, "/tmp/voc-it-%s-%d", name, (int)getpid());
    mkdir(env->workdir, 0755);
    /* Each test gets its own copy of the shipped configuration to adjust. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/config' && cp -r '%s' '%s/config'", env->workdir,
             h_src("deploy/config"), env->workdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(env->dbname, sizeof env->dbname, "it_%s_%d", name, (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", env->dbname);
    admin_exec(sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", env->dbname);
    admin_exec(sql);
    snprintf(addr_file, sizeof addr_file, "%s/bus.addr", env->workdir);
    env->bus_pid = h_start(env, "voc-bus", "--addr-file", addr_file, (char *)NULL);
    wait_for_bus(env, addr_file);
    setenv("VOC_KAFKA_BROKERS", env->brokers, 1);
    snprintf(sql, sizeof sql, "dbname=%s", env->dbname);
    setenv("VOC_PG_DSN", sql, 1);
    ck_assert_int_eq(h_vocctl(env, "migrate", (char *)NULL), 0);
}

void h_teardown(struct h_env *env)
{
    char sql[256];
    if (env->bus_pid > 0)
        h_stop(env->bus_pid, SIGTERM, 5000);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", env->dbname);
    admin_exec(sql);
}

static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return n;
}

size_t h_read_topic(struct h_env *env, const char *topic, size_t want, int timeout_ms, char ***out)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", env->brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "voc-test-reader", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "consumer: %s", err);
    int parts = topic_partitions(rk, topic);
    ck_assert_msg(parts > 0, "topic %s has no partitions", topic);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    char **v = calloc(want + 1, sizeof *v);
    for (int waited = 0; n < want && waited < timeout_ms; waited += 100) {
        rd_kafka_message_t *m;
        while (n < want && (m = rd_kafka_consumer_poll(rk, 100))) {
            if (!m->err) {
                v[n] = strndup(m->payload ? m->payload : "", m->len);
                n++;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *out = v;
    return n;
}

void h_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Realistic mixed traffic: complaints in Chinese and English, ratings, and
 * tech issues on named network lines, with VIP customers now and then. */
void h_write_events(const char *path, const char *prefix, size_t n)
{
    static const char *const texts[] = {
        "老师上课一直卡顿，画面冻住好几次", "The video keeps freezing during live class",
        "退款申请提交一周了还没有处理",     "App crashes every time I open the whiteboard",
        "客服回复太慢了，等了两个小时",     "老师讲得很好，孩子很喜欢"};
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    for (size_t i = 0; i < n; i++) {
        const char *tier = i % 10 == 0 ? "vip" : "standard";
        switch (i % 3) {
        case 0:
            fprintf(f,
                    "{\"event_id\":\"%s-%zu\",\"type\":\"complaint\",\"occurred_at\":"
                    "\"2026-11-20T19:%02zu:%02zu+08:00\",\"source\":\"app\",\"channel\":\"app\","
                    "\"customer\":{\"id\":\"c%zu\",\"tier\":\"%s\"},\"text\":\"%s\"}\n",
                    prefix, i, i / 60 % 60, i % 60, i % 997, tier, texts[i % 6]);
            break;
        case 1:
            fprintf(f,
                    "{\"event_id\":\"%s-%zu\",\"type\":\"rating\",\"occurred_at\":"
                    "\"2026-11-20T20:00:00+08:00\",\"source\":\"rating-svc\","
                    "\"customer\":{\"id\":\"c%zu\",\"tier\":\"%s\"},\"rating\":{\"score\":%zu,"
                    "\"aspect\":\"teacher\"},\"text\":\"%s\"}\n",
                    prefix, i, i % 997, tier, 1 + i % 5, texts[i % 6]);
            break;
        default:
            fprintf(f,
                    "{\"event_id\":\"%s-%zu\",\"type\":\"tech_issue\",\"occurred_at\":"
                    "\"2026-11-20T19:30:00Z\",\"source\":\"classroom-client\","
                    "\"classroom\":{\"id\":\"room-%zu\"},\"network\":{\"line\":\"line-%zu\"},"
                    "\"issue\":{\"kind\":\"video_stall\",\"severity\":\"medium\","
                    "\"duration_ms\":%zu}}\n",
                    prefix, i, i % 50, i % 4, 1000 + i % 5000);
        }
    }
    fclose(f);
}

void h_config_replace(struct h_env *env, const char *from, const char *to)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config/voc.yaml", env->workdir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char buf[16384];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *at = strstr(buf, from);
    ck_assert_msg(at != NULL, "'%s' not in %s", from, path);
    f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fprintf(f, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    fclose(f);
}

/* Sum over partitions of (high watermark - committed offset of group). */
static long long group_lag(rd_kafka_t *rk, const char *topic, int parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    long long lag = -1;
    if (rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lag = 0;
        for (int p = 0; p < parts; p++) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000))
                return -1;
            int64_t done = l->elems[p].offset < 0 ? lo : l->elems[p].offset;
            lag += hi - done;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return lag;
}

bool h_group_caught_up(struct h_env *env, const char *group, const char *topic, int timeout_ms)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", env->brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "consumer: %s", err);
    int parts = topic_partitions(rk, topic);
    long long lag = -1;
    /* Offsets are committed after each durable batch, on a 5 s cadence. */
    for (int waited = 0; waited <= timeout_ms; waited += 500) {
        if ((lag = group_lag(rk, topic, parts)) == 0)
            break;
        sleep_ms(500);
    }
    rd_kafka_destroy(rk);
    return lag == 0;
}

void h_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

void h_query_text(struct h_env *env, const char *sql, char *out, size_t len)
{
    PGconn *c = h_connect(env);
    out[0] = '\0';
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
}

int h_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
