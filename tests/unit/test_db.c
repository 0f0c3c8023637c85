/* PostgreSQL access and migrations against a real server (PG* environment,
 * e.g. under pg_virtualenv). With no server reachable every test FAILS: a
 * skipped database test would hide a broken schema. Each test works in its
 * own database, dropped first if a failed earlier run left it behind. */
#include "voc/db.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testsupport.h"

#define SQL_DIR VOC_TEST_SOURCE_DIR "/schemas/sql"

static int migrate_ok(PGconn *c)
{
    return ts_db_migrate(c, SQL_DIR);
}

/* The number of migration files and the newest version in SQL_DIR. */
static int sql_files(int *newest)
{
    FILE *p = popen("ls " SQL_DIR " | grep -E '^[0-9]+_.*\\.sql$' | sort -n", "r");
    char line[256];
    int n = 0;
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof line, p)) {
        *newest = atoi(line);
        n++;
    }
    pclose(p);
    ck_assert_int_ge(n, 1);
    return n;
}

static const char feedback_columns[] =
    "id:bigint,event_id:text,type:text,occurred_at:timestamp with time zone,"
    "received_at:timestamp with time zone,channel:text,customer_id:text,tier:text,"
    "classroom_id:text,lesson_id:text,teacher_id:text,product_id:text,line:text,"
    "rating:smallint,text:text,dimension:text,category:text,severity:text,sentiment:text,"
    "rule:text,taxonomy_version:text,source_topic:text,source_partition:integer,"
    "source_offset:bigint,payload:jsonb,item_id:bigint";

START_TEST(migrate_empty_database_applies_all)
{
    struct ts_db t;
    int newest = 0, nfiles = sql_files(&newest);
    char want_version[16];
    ts_db_create(&t, "voc_test_empty");
    ck_assert_int_eq(migrate_ok(t.conn), nfiles);
    char *cols = ts_sql_val(t.conn,
                            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY "
                            "ordinal_position) FROM information_schema.columns "
                            "WHERE table_schema = 'voc' AND table_name = 'feedback'",
                            NULL);
    ck_assert_str_eq(cols, feedback_columns);
    /* Analysts read the column comments: none may be missing. */
    char *uncommented = ts_sql_val(t.conn,
                                   "SELECT count(*) FROM information_schema.columns "
                                   "WHERE table_schema = 'voc' AND table_name = 'feedback' AND "
                                   "col_description('voc.feedback'::regclass, ordinal_position) "
                                   "IS NULL",
                                   NULL);
    ck_assert_str_eq(uncommented, "0");
    char *version = ts_sql_val(t.conn, "SELECT max(version) FROM voc.schema_migrations", NULL);
    snprintf(want_version, sizeof want_version, "%d", newest);
    ck_assert_str_eq(version, want_version);
    free(cols);
    free(uncommented);
    free(version);
    ts_db_close(&t);
}
END_TEST

static void insert_rating(PGconn *c, const char *event_id, const char *rating,
                          enum voc_db_fault want, const char *want_state)
{
    const char *params[] = {event_id, rating};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO voc.feedback (event_id, type, occurred_at, rating, dimension, category, "
        "severity, sentiment, rule, taxonomy_version, source_topic, source_partition, "
        "source_offset, payload) VALUES ($1, 'rating', now(), $2::smallint, 'service', "
        "'slow_reply', 'low', 'complaint', 'none', 't1', 'voc.rating', 0, 1, '{}')",
        2, NULL, params, NULL, NULL, 0);
    ck_assert_msg(voc_db_fault_of(c, r) == want, "insert %s rating %s: %s", event_id, rating,
                  PQresultErrorMessage(r));
    if (want_state)
        ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), want_state);
    PQclear(r);
}

static const char snapshot_sql[] =
    "SELECT (SELECT string_agg(version || name || applied_at, ',' ORDER BY version) "
    "FROM voc.schema_migrations) || '|' || "
    "(SELECT string_agg(c.relname || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'voc') || '|' || "
    "(SELECT string_agg(event_id, ',') FROM voc.feedback)";

START_TEST(migrate_twice_changes_nothing)
{
    struct ts_db t;
    ts_db_create(&t, "voc_test_twice");
    ck_assert_int_ge(migrate_ok(t.conn), 1);
    insert_rating(t.conn, "ev-1", "4", VOC_DB_OK, NULL);
    char *before = ts_sql_val(t.conn, snapshot_sql, NULL);
    ck_assert_int_eq(migrate_ok(t.conn), 0);
    char *after = ts_sql_val(t.conn, snapshot_sql, NULL);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    ts_db_close(&t);
}
END_TEST

struct runner {
    PGconn *conn;
    int rc, applied;
    char err[512];
};

static void *run_migrate(void *arg)
{
    struct runner *r = arg;
    r->rc = voc_db_migrate(r->conn, SQL_DIR, &r->applied, r->err, sizeof r->err);
    return NULL;
}

/* Polls until one migration run waits for the migration lock and the other
 * for the blocker's uncommitted schema. */
static void wait_until_both_blocked(PGconn *admin, const char *db)
{
    for (int i = 0; i < 200; i++) {
        char *state = ts_sql_val(admin,
                                 "SELECT count(*) FILTER (WHERE l.locktype = 'advisory') || '/' || "
                                 "count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = "
                                 "l.pid WHERE NOT l.granted AND a.datname = $1",
                                 db);
        int done = strcmp(state, "1/2") == 0;
        free(state);
        if (done)
            return;
        usleep(50 * 1000);
    }
    ck_abort_msg("the two migration runs never waited on each other");
}

START_TEST(concurrent_migrations_apply_once)
{
    struct ts_db t;
    int newest = 0, nfiles = sql_files(&newest);
    ts_db_create(&t, "voc_test_concurrent");
    /* An uncommitted CREATE SCHEMA makes whichever run gets the migration lock
     * wait inside it, so the runs are guaranteed to overlap. */
    PGconn *blocker = ts_db_connect(&t);
    ts_sql_ok(blocker, "BEGIN; CREATE SCHEMA voc");
    struct runner a = {.conn = t.conn}, b = {.conn = ts_db_connect(&t)};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, run_migrate, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, run_migrate, &b), 0);
    wait_until_both_blocked(t.admin, t.name);
    ts_sql_ok(blocker, "ROLLBACK");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_msg(a.rc == 0 && b.rc == 0, "a: %s b: %s", a.err, b.err);
    ck_assert_int_eq(a.applied + b.applied, nfiles);
    ck_assert(a.applied == 0 || b.applied == 0);
    char *rows = ts_sql_val(t.conn, "SELECT count(*) FROM voc.schema_migrations", NULL);
    ck_assert_int_eq(atoi(rows), nfiles);
    free(rows);
    PQfinish(b.conn);
    PQfinish(blocker);
    ts_db_close(&t);
}
END_TEST

START_TEST(newer_database_is_refused)
{
    struct ts_db t;
    int newest = 0;
    char err[512] = "", want[256];
    int applied = -1;
    sql_files(&newest);
    ts_db_create(&t, "voc_test_newer");
    ts_sql_ok(t.conn, "CREATE SCHEMA voc; CREATE TABLE voc.schema_migrations (version integer "
                      "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT "
                      "now()); INSERT INTO voc.schema_migrations VALUES (999, '999_future.sql')");
    ck_assert_int_eq(voc_db_migrate(t.conn, SQL_DIR, &applied, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "database schema is at version 999 but this build knows only up to %d: "
             "upgrade vocloop",
             newest);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(applied, 0);
    char *feedback = ts_sql_val(t.conn, "SELECT to_regclass('voc.feedback')", NULL);
    ck_assert_str_eq(feedback, "(null)");
    free(feedback);
    ts_db_close(&t);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ts_write_file(path, text);
}

START_TEST(failed_migration_leaves_no_trace)
{
    struct ts_db t;
    char dir[] = "/tmp/voc_test_sqlXXXXXX", err[512] = "";
    int applied = -1;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file(dir, "001_a.sql", "CREATE TABLE voc.a (x int);");
    write_file(dir, "002_b.sql", "CREATE TABLE voc.b (x int); SELECT 1/0;");
    ts_db_create(&t, "voc_test_failed");
    ck_assert_int_eq(voc_db_migrate(t.conn, dir, &applied, err, sizeof err), -1);
    ck_assert_int_eq(applied, 1);
    ck_assert_msg(strstr(err, "002_b.sql") && strstr(err, "22012"), "err: %s", err);
    char *b = ts_sql_val(t.conn, "SELECT to_regclass('voc.b')", NULL);
    ck_assert_str_eq(b, "(null)");
    free(b);
    /* Fixed file, other session: a lock left behind would hang here. */
    write_file(dir, "002_b.sql", "CREATE TABLE voc.b (x int);");
    PGconn *other = ts_db_connect(&t);
    ck_assert_int_eq(ts_db_migrate(other, dir), 1);
    PQfinish(other);
    write_file(dir, "003-typo.sql", "SELECT 1;");
    ck_assert_int_eq(voc_db_migrate(t.conn, dir, &applied, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "003-typo.sql"), "err: %s", err);
    ts_remove_dir(dir);
    ts_db_close(&t);
}
END_TEST

START_TEST(fault_bad_rows)
{
    struct ts_db t;
    ts_db_create(&t, "voc_test_badrow");
    migrate_ok(t.conn);
    insert_rating(t.conn, "ev-1", "5", VOC_DB_OK, NULL);
    insert_rating(t.conn, "ev-1", "5", VOC_DB_BAD_ROW, "23505");
    insert_rating(t.conn, "ev-2", "6", VOC_DB_BAD_ROW, "23514");
    PGresult *r = PQexec(t.conn, "SELECT 1/0");
    ck_assert_int_eq(voc_db_fault_of(t.conn, r), VOC_DB_BAD_ROW);
    ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22012");
    PQclear(r);
    ts_db_close(&t);
}
END_TEST

static void expect_exec(PGconn *c, const char *sql, enum voc_db_fault want)
{
    char err[512] = "";
    enum voc_db_fault got = VOC_DB_OK;
    ck_assert_int_eq(voc_db_exec(c, sql, &got, err, sizeof err), want == VOC_DB_OK ? 0 : -1);
    ck_assert_msg(got == want, "%s: fault %d, want %d (%s)", sql, got, want, err);
    if (want != VOC_DB_OK)
        ck_assert_msg(err[0] && !strchr(err, '\n'), "%s: err \"%s\"", sql, err);
}

START_TEST(fault_classes)
{
    struct ts_db t;
    ts_db_create(&t, "voc_test_faults");
    expect_exec(t.conn, "SELECT 1", VOC_DB_OK);
    expect_exec(t.conn, "SELEC 1", VOC_DB_FATAL);
    expect_exec(t.conn, "SELECT * FROM no_such_table", VOC_DB_FATAL);
    expect_exec(t.conn, "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$",
                VOC_DB_RETRY);
    expect_exec(t.conn, "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$",
                VOC_DB_RETRY);
    expect_exec(t.conn, "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '08006'; END $$",
                VOC_DB_RECONNECT);
    ck_assert_int_eq(voc_db_fault_of(t.conn, NULL), VOC_DB_RECONNECT);
    ts_db_close(&t);
}
END_TEST

START_TEST(fault_terminated_connection_reconnects)
{
    struct ts_db t;
    char pid[16];
    ts_db_create(&t, "voc_test_terminated");
    snprintf(pid, sizeof pid, "%d", PQbackendPID(t.conn));
    char *killed = ts_sql_val(t.admin, "SELECT pg_terminate_backend($1::integer, 5000)", pid);
    ck_assert_str_eq(killed, "t");
    free(killed);
    PGresult *r = PQexec(t.conn, "SELECT 1");
    ck_assert_int_eq(voc_db_fault_of(t.conn, r), VOC_DB_RECONNECT);
    PQclear(r);
    expect_exec(t.conn, "SELECT 1", VOC_DB_RECONNECT);
    ts_db_close(&t);
}
END_TEST

START_TEST(connect_names_the_application_and_keeps_the_dsn)
{
    struct ts_db t;
    ts_db_create(&t, "voc_test_connect");
    char *app = ts_sql_val(t.conn, "SELECT current_setting('application_name')", NULL);
    char *db = ts_sql_val(t.conn, "SELECT current_database()", NULL);
    ck_assert_str_eq(app, "test_db");
    ck_assert_str_eq(db, t.name);
    free(app);
    free(db);
    ts_db_close(&t);
}
END_TEST

START_TEST(connect_errors_never_show_the_password)
{
    static const char *const dsns[] = {
        "dbname=voc_test_no_such_db password=hunter2secret",
        "postgresql://u:hunter2secret%zz@localhost/x",
        "postgresql://u:hunter2secret@[::1/x",
        "host=localhost password='hunter2secret",
    };
    for (size_t i = 0; i < sizeof dsns / sizeof dsns[0]; i++) {
        char err[512] = "";
        PGconn *c = voc_db_connect(dsns[i], "test_db", err, sizeof err);
        ck_assert_ptr_null(c);
        ck_assert_msg(err[0] != '\0', "no error for %s", dsns[i]);
        ck_assert_msg(!strstr(err, "hunter2"), "password in error: %s", err);
    }
}
END_TEST

START_TEST(sql_dir_prefers_the_environment)
{
    setenv("VOC_SQL_DIR", "/opt/voc/sql", 1);
    ck_assert_str_eq(voc_db_sql_dir(), "/opt/voc/sql");
    unsetenv("VOC_SQL_DIR");
    ck_assert_str_eq(voc_db_sql_dir(), SQL_DIR);
}
END_TEST

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *mig = tcase_create("migrate");
    tcase_set_timeout(mig, 60);
    tcase_add_test(mig, migrate_empty_database_applies_all);
    tcase_add_test(mig, migrate_twice_changes_nothing);
    tcase_add_test(mig, concurrent_migrations_apply_once);
    tcase_add_test(mig, newer_database_is_refused);
    tcase_add_test(mig, failed_migration_leaves_no_trace);
    suite_add_tcase(s, mig);
    TCase *fault = tcase_create("fault");
    tcase_set_timeout(fault, 60);
    tcase_add_test(fault, fault_bad_rows);
    tcase_add_test(fault, fault_classes);
    tcase_add_test(fault, fault_terminated_connection_reconnects);
    suite_add_tcase(s, fault);
    TCase *conn = tcase_create("connect");
    tcase_set_timeout(conn, 60);
    tcase_add_test(conn, connect_names_the_application_and_keeps_the_dsn);
    tcase_add_test(conn, connect_errors_never_show_the_password);
    tcase_add_test(conn, sql_dir_prefers_the_environment);
    suite_add_tcase(s, conn);
    return s;
}

int main(void)
{
    return ts_run_suite(db_suite());
}
