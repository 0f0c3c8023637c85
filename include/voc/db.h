/* PostgreSQL access shared by every service: connecting, classifying errors by
 * SQLSTATE so callers act on them, and running migrations. */
#ifndef VOC_DB_H
#define VOC_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/* What a caller should do about a failed statement. */
enum voc_db_fault {
    VOC_DB_OK,
    VOC_DB_RECONNECT, /* class 08, shutdown, read-only standby, or the connection is gone:
                         reconnect and redo the batch */
    VOC_DB_RETRY,     /* 40001, 40P01, 40003, class 53 (disk full, out of memory), 57014
                         (statement timeout), 55P03 (lock not available): redo it later */
    VOC_DB_BAD_ROW,   /* class 22 (data exception) or 23 (integrity): that row is bad */
    VOC_DB_FATAL      /* anything else (e.g. 42 undefined table): stop and tell the operator */
};

/* Connects with a libpq conninfo string ("" means libpq's PG* environment).
 * Sets application_name to `app`. Returns NULL with err filled on failure;
 * the error never contains the password. */
PGconn *voc_db_connect(const char *dsn, const char *app, char *err, size_t errlen);

/* Classifies a result (NULL result counts as a lost connection). */
enum voc_db_fault voc_db_fault_of(PGconn *conn, const PGresult *res);

/* Describes a failure in one line: "<primary message> (SQLSTATE xxxxx)", or
 * libpq's own message when the server sent none. Never DETAIL or CONTEXT:
 * they quote row values, i.e. customer data, into logs and dead letters. */
void voc_db_describe(PGconn *conn, const PGresult *res, char *out, size_t len);

/* Runs a parameterless statement (BEGIN, COMMIT, SET ...). Returns 0, or -1
 * with err filled and *fault set (fault may be NULL). */
int voc_db_exec(PGconn *conn, const char *sql, enum voc_db_fault *fault, char *err, size_t errlen);

/* Applies the ordered migrations in sql_dir (files NNN_name.sql) that the
 * database has not recorded in voc.schema_migrations, each in its own
 * transaction under an advisory lock, so two concurrent runs are safe.
 * Refuses (returns -1, err says so) when the database records a version newer
 * than the newest file: that binary is older than the schema it talks to.
 * *applied receives how many were applied now (0 when up to date). */
int voc_db_migrate(PGconn *conn, const char *sql_dir, int *applied, char *err, size_t errlen);

/* The directory holding the SQL migrations: $VOC_SQL_DIR, else the source
 * tree's schemas/sql when it exists, else /usr/share/vocloop/sql. */
const char *voc_db_sql_dir(void);

#endif
