/* What the unit test programs share: a fresh PostgreSQL database per test,
 * one-value queries, the built voc-bus, files, diagnostics lists and the
 * Check runner. Every helper fails the running test with a message instead of
 * returning an error: a unit test never skips because PostgreSQL or the
 * broker is missing, it FAILS, so a broken schema or a lost event cannot hide. */
#ifndef VOC_TESTSUPPORT_H
#define VOC_TESTSUPPORT_H

#include <check.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "voc/diag.h"

/* ---- PostgreSQL (PG* environment, e.g. under pg_virtualenv) ---- */

/* A database of one test's own, so tests cannot see each other's rows. */
struct ts_db {
    char name[64];
    PGconn *admin; /* to the PG* default database */
    PGconn *conn;  /* to the test's own database */
};

/* Connects with dsn ("" for the PG* defaults). The application_name is the
 * test program's name, so pg_stat_activity shows which test holds a lock. */
PGconn *ts_connect(const char *dsn);
/* Runs a parameterless statement that must succeed. */
void ts_sql_ok(PGconn *c, const char *sql);
/* The first value of a query that must return exactly one row, malloc'd;
 * "(null)" for SQL NULL. nparams text parameters bind $1..$n. */
char *ts_sql_valn(PGconn *c, const char *sql, int nparams, const char *const *params);
/* The same with one parameter, or none when param is NULL. */
char *ts_sql_val(PGconn *c, const char *sql, const char *param);
/* Asserts that ts_sql_val(c, sql, param) returns want. */
void ts_expect_val(PGconn *c, const char *sql, const char *param, const char *want);

/* Drops a database `name` a failed earlier run left behind, creates it
 * empty and connects t->conn to it. */
void ts_db_create(struct ts_db *t, const char *name);
/* ts_db_create, then every migration of voc_db_sql_dir(). */
void ts_db_open(struct ts_db *t, const char *name);
/* Another connection to t's database (the caller PQfinish()es it). */
PGconn *ts_db_connect(const struct ts_db *t);
/* Closes t->conn, drops the database and closes t->admin. */
void ts_db_close(struct ts_db *t);
/* Applies the migrations in dir, which must succeed; returns how many ran. */
int ts_db_migrate(PGconn *c, const char *dir);

/* ---- the built voc-bus (a real Kafka-protocol broker) ---- */

struct ts_bus {
    pid_t pid;
    char addr_file[128];
    char brokers[256]; /* bootstrap.servers for clients */
};

/* Starts one broker with `partitions` partitions per topic and waits for
 * its address. */
void ts_bus_start(struct ts_bus *b, int partitions);
void ts_bus_stop(struct ts_bus *b);

/* ---- files ---- */

/* The whole file, NUL-terminated and malloc'd; *len (may be NULL) receives
 * its size. */
char *ts_read_file(const char *path, size_t *len);
/* Writes text to path, replacing what was there. */
void ts_write_file(const char *path, const char *text);
/* Removes a scratch directory and everything in it. */
void ts_remove_dir(const char *dir);

/* ---- broken configuration files ---- */

#define TS_MAX_DIAGS 6

/* A file a loader must refuse, and every problem it must report. */
struct ts_bad_file {
    const char *file;
    const char *diags[TS_MAX_DIAGS]; /* each after "<dir>/<file>:"; the rest NULL */
};

/* Loads path into a throw-away result; true when the file was accepted. */
typedef bool (*ts_loader)(const char *path, struct voc_diag *d);

/* Asserts that load refuses dir/bad->file with exactly bad->diags, in order. */
void ts_expect_refused(const char *dir, const struct ts_bad_file *bad, ts_loader load);

/* ---- running ---- */

/* Runs every test of s; returns main()'s exit code. */
int ts_run_suite(Suite *s);

#endif
