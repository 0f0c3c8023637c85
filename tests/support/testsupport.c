/* Shared fixtures of the unit tests; see testsupport.h. */
#include "testsupport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "voc/db.h"

/* ---- PostgreSQL ---- */

PGconn *ts_connect(const char *dsn)
{
    char err[512] = "";
    PGconn *c = voc_db_connect(dsn, program_invocation_short_name, err, sizeof err);
    ck_assert_msg(c != NULL, "cannot connect to PostgreSQL (run under pg_virtualenv): %s", err);
    return c;
}

void ts_sql_ok(PGconn *c, const char *sql)
{
    char err[512];
    ck_assert_msg(voc_db_exec(c, sql, NULL, err, sizeof err) == 0, "%s: %s", sql, err);
}

char *ts_sql_valn(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQerrorMessage(c));
    char *v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_ptr_nonnull(v);
    return v;
}

char *ts_sql_val(PGconn *c, const char *sql, const char *param)
{
    const char *params[] = {param};
    return ts_sql_valn(c, sql, param ? 1 : 0, params);
}

void ts_expect_val(PGconn *c, const char *sql, const char *param, const char *want)
{
    char *got = ts_sql_val(c, sql, param);
    ck_assert_msg(strcmp(got, want) == 0, "%s%s%s%s: got '%s', want '%s'", sql, param ? " [" : "",
                  param ? param : "", param ? "]" : "", got, want);
    free(got);
}

/* `verb` ("CREATE DATABASE", ...) of name, quoted: test names are safe, but
 * quoting keeps a typo from becoming other SQL. */
static void db_statement(PGconn *admin, const char *verb, const char *name, const char *tail)
{
    char sql[256];
    char *id = PQescapeIdentifier(admin, name, strlen(name));
    ck_assert_ptr_nonnull(id);
    snprintf(sql, sizeof sql, "%s %s%s", verb, id, tail);
    PQfreemem(id);
    ts_sql_ok(admin, sql);
}

static void drop_db(PGconn *admin, const char *name)
{
    /* FORCE: a connection a failed test left open must not keep it alive. */
    db_statement(admin, "DROP DATABASE IF EXISTS", name, " WITH (FORCE)");
}

void ts_db_create(struct ts_db *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->admin = ts_connect("");
    ts_sql_ok(t->admin, "SET client_min_messages = warning"); /* no "does not exist, skipping" */
    drop_db(t->admin, t->name);
    db_statement(t->admin, "CREATE DATABASE", t->name, "");
    t->conn = ts_db_connect(t);
}

void ts_db_open(struct ts_db *t, const char *name)
{
    ts_db_create(t, name);
    ts_db_migrate(t->conn, voc_db_sql_dir());
}

PGconn *ts_db_connect(const struct ts_db *t)
{
    char dsn[128];
    snprintf(dsn, sizeof dsn, "dbname=%s", t->name);
    return ts_connect(dsn);
}

void ts_db_close(struct ts_db *t)
{
    PQfinish(t->conn);
    drop_db(t->admin, t->name);
    PQfinish(t->admin);
}

int ts_db_migrate(PGconn *c, const char *dir)
{
    char err[512] = "";
    int applied = -1;
    ck_assert_msg(voc_db_migrate(c, dir, &applied, err, sizeof err) == 0, "migrate: %s", err);
    return applied;
}

/* ---- voc-bus ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* In the child: the broker's chatter would bury Check's report. */
static void exec_bus(const struct ts_bus *b, int partitions)
{
    char parts[16];
    snprintf(parts, sizeof parts, "%d", partitions);
    /* A failed check ends the test process early: take the broker along. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execl(VOC_TEST_BINARY_DIR "/voc-bus", "voc-bus", "--config",
          VOC_TEST_SOURCE_DIR "/deploy/config", "--brokers", "1", "--partitions", parts,
          "--addr-file", b->addr_file, (char *)NULL);
    _exit(127);
}

void ts_bus_start(struct ts_bus *b, int partitions)
{
    memset(b, 0, sizeof *b);
    snprintf(b->addr_file, sizeof b->addr_file, "/tmp/voc-%s-%d.addr",
             program_invocation_short_name, (int)getpid());
    unlink(b->addr_file);
    b->pid = fork();
    ck_assert_msg(b->pid >= 0, "fork: %s", strerror(errno));
    if (b->pid == 0)
        exec_bus(b, partitions);
    for (int waited = 0; waited < 20000; waited += 50) {
        FILE *f = fopen(b->addr_file, "r");
        if (f) {
            char *ok = fgets(b->brokers, sizeof b->brokers, f);
            fclose(f);
            b->brokers[strcspn(b->brokers, "\r\n")] = '\0';
            if (ok && b->brokers[0])
                return;
        }
        sleep_ms(50);
    }
    ck_abort_msg("voc-bus did not write %s within 20 s", b->addr_file);
}

void ts_bus_stop(struct ts_bus *b)
{
    int status;
    kill(b->pid, SIGTERM);
    waitpid(b->pid, &status, 0);
    unlink(b->addr_file);
}

/* ---- files ---- */

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    ck_assert_msg(n >= 0, "cannot size %s", path);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

void ts_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

void ts_remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -r '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- broken configuration files ---- */

void ts_expect_refused(const char *dir, const struct ts_bad_file *bad, ts_loader load)
{
    char path[512], want[1024];
    struct voc_diag d = {0};
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", dir, bad->file);
    ck_assert_msg(!load(path, &d), "%s was accepted", bad->file);
    while (n < TS_MAX_DIAGS && bad->diags[n])
        n++;
    for (size_t i = 0; i < d.count && i < n; i++) {
        snprintf(want, sizeof want, "%s:%s", path, bad->diags[i]);
        ck_assert_str_eq(d.lines[i], want);
    }
    ck_assert_msg(d.count == n, "%s: %zu diagnostics, expected %zu (first: %s)", bad->file, d.count,
                  n, d.count ? d.lines[0] : "none");
    voc_diag_free(&d);
}

/* ---- running ---- */

int ts_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
