/* Integration test harness: runs the real binaries (voc-bus, voc-ingest,
 * vocctl) against the real PostgreSQL that tests/run.sh provides through
 * pg_virtualenv (PG* variables), and reads results back from Postgres and
 * from the broker. Nothing here fakes either. */
#ifndef VOC_HARNESS_H
#define VOC_HARNESS_H

#include <check.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct h_env {
    char workdir[256]; /* per-test scratch directory (logs, files) */
    char brokers[256]; /* voc-bus bootstrap address */
    char dbname[64];   /* per-test database */
    pid_t bus_pid;
};

/* Creates a scratch dir and a fresh database, starts voc-bus, applies the
 * migrations, and exports VOC_KAFKA_BROKERS / VOC_PG_DSN for every child. */
void h_setup(struct h_env *env, const char *name);
/* Stops everything started, drops the database. */
void h_teardown(struct h_env *env);

/* Starts a binary from the build tree (e.g. "voc-ingest") with --config
 * <workdir>/config (a copy of deploy/config) plus extra args (NULL-terminated); stderr goes to
 * <workdir>/<name>.<n>.log. */
pid_t h_start(struct h_env *env, const char *binary, ...);
/* Sends sig and waits up to timeout_ms; returns the exit status (or -1). */
int h_stop(pid_t pid, int sig, int timeout_ms);
/* Runs vocctl with args to completion; returns its exit code. */
int h_vocctl(struct h_env *env, ...);

/* A scalar query (parameterless: tests only use constant SQL) as a long long;
 * -1 when the database cannot be reached. Connects afresh each call, so it
 * survives a Postgres restart. */
long long h_query_ll(struct h_env *env, const char *sql);
/* A scalar query as text ("" for NULL or failure). */
void h_query_text(struct h_env *env, const char *sql, char *out, size_t len);
/* Polls h_query_ll until it returns want or timeout_ms passes; returns the last value. */
long long h_wait_for(struct h_env *env, const char *sql, long long want, int timeout_ms);
/* Connection to the test database (caller PQfinish()es). */
PGconn *h_connect(struct h_env *env);

/* Reads every message of topic from the beginning until `want` have arrived
 * or timeout_ms passes (no consumer group). Returns how many were read; the
 * payloads go to *out (malloc'd NUL-terminated strings, free with h_free_strv). */
size_t h_read_topic(struct h_env *env, const char *topic, size_t want, int timeout_ms, char ***out);
void h_free_strv(char **v, size_t n);

/* Writes n valid, realistic events (ids "<prefix>-<i>", mixed types and
 * languages) as NDJSON to path. */
void h_write_events(const char *path, const char *prefix, size_t n);

/* Replaces the first `from` with `to` in this test's copy of voc.yaml. */
void h_config_replace(struct h_env *env, const char *from, const char *to);

/* Waits until consumer group `group` has committed every message of topic
 * (lag 0 on all partitions). Returns false on timeout. */
bool h_group_caught_up(struct h_env *env, const char *group, const char *topic, int timeout_ms);

/* Writes text to path (aborts the test on failure). */
void h_write_file(const char *path, const char *text);

/* Path of a file in the source tree. */
const char *h_src(const char *rel);

/* Runs every test of s; returns main()'s exit code. */
int h_run_suite(Suite *s);

#endif
