/* PostgreSQL access: connecting, classifying failures, simple statements.
 * Migrations live in migrate.c. */
#include "voc/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* libpq ends messages with a newline and may add DETAIL/HINT lines; log lines
 * must stay one line. */
static void db_copy_msg(char *dst, size_t dstlen, const char *msg)
{
    if (dstlen == 0)
        return;
    snprintf(dst, dstlen, "%s", msg ? msg : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

/* Replaces every occurrence of secret in buf by "***". */
static void db_redact(char *buf, size_t buflen, const char *secret)
{
    size_t slen = secret ? strlen(secret) : 0;
    if (slen == 0 || buflen == 0)
        return;
    char *out = malloc(buflen);
    if (!out) {
        snprintf(buf, buflen, "connection failed (details withheld)");
        return;
    }
    size_t o = 0;
    for (const char *p = buf; *p && o + 1 < buflen;) {
        if (strncmp(p, secret, slen) == 0) {
            for (const char *r = "***"; *r && o + 1 < buflen; r++)
                out[o++] = *r;
            p += slen;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(buf, out, o + 1);
    free(out);
}

/* libpq quotes fragments of an unparseable conninfo in its message, and such
 * a fragment can be the password: keep the message, drop the fragments. */
static void db_elide_quoted(char *buf, size_t buflen)
{
    char *in = strdup(buf);
    if (!in) {
        snprintf(buf, buflen, "invalid connection string");
        return;
    }
    size_t o = 0;
    int quoted = 0;
    for (const char *r = in; *r && o + 6 < buflen; r++) {
        if (*r == '"') {
            quoted = !quoted;
            if (quoted) {
                memcpy(buf + o, "\"...\"", 5);
                o += 5;
            }
        } else if (!quoted) {
            buf[o++] = *r;
        }
    }
    buf[o] = '\0';
    free(in);
}

/* The error of a failed connection, without the password. */
static void db_connect_error(const char *dsn, PGconn *conn, char *err, size_t errlen)
{
    if (errlen == 0)
        return;
    db_copy_msg(err, errlen, conn ? PQerrorMessage(conn) : "out of memory");
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    if (!opts) {
        db_elide_quoted(err, errlen);
        PQfreemem(perr);
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            db_redact(err, errlen, o->val);
    PQconninfoFree(opts);
}

PGconn *voc_db_connect(const char *dsn, const char *app, char *err, size_t errlen)
{
    /* expand_dbname=1 keeps every setting of the user's conninfo (or URI);
     * application_name comes after it so it wins. The session keeps the
     * server's TimeZone: timestamptz values are absolute either way, and
     * analysts' sessions choose their own. */
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {dsn ? dsn : "", app, NULL};
    if (!app)
        keys[1] = NULL;
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    db_connect_error(dsn ? dsn : "", conn, err, errlen);
    PQfinish(conn);
    return NULL;
}

static int db_is_reconnect_state(const char *st)
{
    return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || /* admin_shutdown */
           strcmp(st, "57P02") == 0 ||                              /* crash_shutdown */
           strcmp(st, "57P03") == 0 ||                              /* cannot_connect_now */
           strcmp(st, "25006") == 0; /* read_only: we reached a standby after a failover */
}

/* Conditions of the server, not of our data: wait and try again rather than
 * stop (design principle 3). */
static int db_is_transient_state(const char *st)
{
    return strcmp(st, "40001") == 0 ||  /* serialization_failure */
           strcmp(st, "40P01") == 0 ||  /* deadlock_detected */
           strcmp(st, "40003") == 0 ||  /* statement_completion_unknown */
           strncmp(st, "53", 2) == 0 || /* insufficient resources: disk full, out of memory */
           strcmp(st, "57014") == 0 ||  /* query_canceled (statement timeout) */
           strcmp(st, "55P03") == 0;    /* lock_not_available */
}

enum voc_db_fault voc_db_fault_of(PGconn *conn, const PGresult *res)
{
    if (!res)
        return VOC_DB_RECONNECT;
    switch (PQresultStatus(res)) {
    case PGRES_FATAL_ERROR:
        break;
    case PGRES_BAD_RESPONSE:
        return VOC_DB_RECONNECT; /* the protocol stream cannot be trusted any more */
    case PGRES_PIPELINE_ABORTED:
        /* Not run because an earlier statement of the pipeline failed: the
         * caller decides by that first failure; on its own this means redo. */
        return VOC_DB_RETRY;
    default:
        return VOC_DB_OK;
    }
    if (conn && PQstatus(conn) == CONNECTION_BAD)
        return VOC_DB_RECONNECT;
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!st)
        return VOC_DB_FATAL; /* a client-side error on a live connection */
    if (db_is_reconnect_state(st))
        return VOC_DB_RECONNECT;
    if (db_is_transient_state(st))
        return VOC_DB_RETRY;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return VOC_DB_BAD_ROW;
    return VOC_DB_FATAL;
}

void voc_db_describe(PGconn *conn, const PGresult *res, char *out, size_t len)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (msg)
        snprintf(out, len, "%s (SQLSTATE %s)", msg, state ? state : "none");
    else
        snprintf(out, len, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    for (char *p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

int voc_db_exec(PGconn *conn, const char *sql, enum voc_db_fault *fault, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    enum voc_db_fault f = voc_db_fault_of(conn, res);
    if (fault)
        *fault = f;
    if (f != VOC_DB_OK) {
        /* The primary message only: DETAIL can quote row values (customer data). */
        const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        if (st && msg) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s %s", st, msg);
            db_copy_msg(err, errlen, buf);
        } else {
            db_copy_msg(err, errlen, PQerrorMessage(conn));
        }
    }
    PQclear(res);
    return f == VOC_DB_OK ? 0 : -1;
}

const char *voc_db_sql_dir(void)
{
    const char *env = getenv("VOC_SQL_DIR");
    if (env && *env)
        return env;
    struct stat st;
    if (stat(VOC_SOURCE_SQL_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return VOC_SOURCE_SQL_DIR;
    return "/usr/share/vocloop/sql";
}
