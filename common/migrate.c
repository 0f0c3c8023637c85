/* The schema migration runner behind voc_db_migrate(). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/db.h"
#include "voc/log.h"

/* pg_advisory_lock key shared by every vocloop migration run ("vocloop" in
 * ASCII). Advisory locks are per database, like the migrations they guard. */
#define MIG_LOCK_KEY "33336520063545200"

#define MIG_MAX_FILE_BYTES (16L * 1024 * 1024)

struct mig_file {
    int version;
    char name[256]; /* NNN_name.sql */
};

struct mig_list {
    struct mig_file *items; /* owned */
    size_t count, cap;
};

/* Returns 1 for a migration name (digits, '_', [a-z0-9_], ".sql") with its
 * version, 0 for a file that is not SQL, -1 for a misnamed SQL file. The
 * strict alphabet also lets the name go into log lines unquoted. */
static int mig_parse_name(const char *name, int *version)
{
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    long v = 0;
    const char *p = name;
    for (; *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    if (p == name || *p != '_' || v < 1 || len >= sizeof((struct mig_file *)0)->name)
        return -1;
    for (p++; p < name + len - 4; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return -1;
    *version = (int)v;
    return 1;
}

static int mig_cmp(const void *a, const void *b)
{
    const struct mig_file *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static int mig_add(struct mig_list *l, int version, const char *name)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct mig_file *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count].version = version;
    snprintf(l->items[l->count].name, sizeof l->items[0].name, "%s", name);
    l->count++;
    return 0;
}

/* Lists dir's migrations sorted by version. A misnamed .sql file or two files
 * with one version are errors: skipping either would silently skip schema. */
static int mig_list_dir(const char *dir, struct mig_list *l, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open migration directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int version, rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int kind = mig_parse_name(de->d_name, &version);
        if (kind < 0) {
            snprintf(err, errlen, "%s/%s: a migration must be named NNN_name.sql ([a-z0-9_])", dir,
                     de->d_name);
            rc = -1;
        } else if (kind > 0 && mig_add(l, version, de->d_name) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    closedir(d);
    if (rc != 0)
        return -1;
    if (l->count == 0) {
        snprintf(err, errlen, "no migrations (NNN_name.sql) in %s", dir);
        return -1;
    }
    qsort(l->items, l->count, sizeof l->items[0], mig_cmp);
    for (size_t i = 1; i < l->count; i++) {
        if (l->items[i].version == l->items[i - 1].version) {
            snprintf(err, errlen, "%s: %s and %s have the same version", dir, l->items[i - 1].name,
                     l->items[i].name);
            return -1;
        }
    }
    return 0;
}

/* Returns the file's text (caller frees), or NULL with err filled. */
static char *mig_read(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    char *text = NULL;
    long size = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        goto fail;
    if (fseek(f, 0, SEEK_END) != 0)
        goto fail;
    size = ftell(f);
    if (size < 0 || size > MIG_MAX_FILE_BYTES || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size)
        goto fail;
    text[size] = '\0';
    fclose(f);
    return text;
fail:
    snprintf(err, errlen, "cannot read %s: %s", path,
             size > MIG_MAX_FILE_BYTES ? "too big" : strerror(errno ? errno : EIO));
    free(text);
    if (f)
        fclose(f);
    return NULL;
}

/* "SQLSTATE message" of a failed result, prefixed with what failed. */
static void mig_res_error(PGconn *conn, const PGresult *res, const char *what, char *err,
                          size_t errlen)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (st && msg)
        snprintf(err, errlen, "%s: %s %s", what, st, msg);
    else
        snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
    for (char *p = err; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* Runs sql; on failure prefixes err with what (a file name or a step). */
static int mig_exec(PGconn *conn, const char *what, const char *sql, char *err, size_t errlen)
{
    char msg[512];
    if (voc_db_exec(conn, sql, NULL, msg, sizeof msg) == 0)
        return 0;
    snprintf(err, errlen, "%s: %s", what, msg);
    return -1;
}

/* client_min_messages=warning keeps "already exists, skipping" NOTICEs of
 * IF NOT EXISTS off the operator's terminal. */
static int mig_bootstrap(PGconn *conn, char *err, size_t errlen)
{
    static const char sql[] = "BEGIN;"
                              "SET LOCAL client_min_messages = warning;"
                              "CREATE SCHEMA IF NOT EXISTS voc;"
                              "CREATE TABLE IF NOT EXISTS voc.schema_migrations ("
                              " version integer PRIMARY KEY,"
                              " name text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now());"
                              "COMMIT";
    if (mig_exec(conn, "creating voc.schema_migrations", sql, err, errlen) == 0)
        return 0;
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

/* Fills *versions (caller frees) with the recorded versions, ascending. */
static int mig_recorded(PGconn *conn, int **versions, size_t *n, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT version FROM voc.schema_migrations ORDER BY version");
    *versions = NULL;
    *n = 0;
    if (voc_db_fault_of(conn, res) != VOC_DB_OK) {
        mig_res_error(conn, res, "reading voc.schema_migrations", err, errlen);
        goto fail;
    }
    *n = (size_t)PQntuples(res);
    *versions = calloc(*n ? *n : 1, sizeof **versions);
    if (!*versions) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < *n; i++)
        (*versions)[i] = atoi(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return 0;
fail:
    PQclear(res);
    *n = 0;
    return -1;
}

static int mig_record(PGconn *conn, const struct mig_file *f, char *err, size_t errlen)
{
    char version[16];
    snprintf(version, sizeof version, "%d", f->version);
    const char *params[] = {version, f->name};
    PGresult *res = PQexecParams(
        conn, "INSERT INTO voc.schema_migrations (version, name) VALUES ($1::integer, $2)", 2, NULL,
        params, NULL, NULL, 0);
    int rc = voc_db_fault_of(conn, res) == VOC_DB_OK ? 0 : -1;
    if (rc != 0)
        mig_res_error(conn, res, f->name, err, errlen);
    PQclear(res);
    return rc;
}

/* One file, one transaction: a failing file leaves no trace. */
static int mig_apply(PGconn *conn, const char *dir, const struct mig_file *f, char *err,
                     size_t errlen)
{
    char *text = mig_read(dir, f->name, err, errlen);
    if (!text)
        return -1;
    if (mig_exec(conn, f->name, "BEGIN; SET LOCAL client_min_messages = warning", err, errlen) !=
            0 ||
        mig_exec(conn, f->name, text, err, errlen) != 0 || mig_record(conn, f, err, errlen) != 0 ||
        mig_exec(conn, f->name, "COMMIT", err, errlen) != 0)
        goto fail;
    free(text);
    voc_info("migration_applied", "version=%d file=%s", f->version, f->name);
    return 0;
fail:
    free(text);
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

static int mig_is_recorded(const int *versions, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (versions[i] == version)
            return 1;
    return 0;
}

/* The work done while holding the advisory lock. */
static int mig_locked(PGconn *conn, const char *dir, const struct mig_list *l, int *applied,
                      char *err, size_t errlen)
{
    int *versions = NULL;
    size_t n = 0;
    int rc = -1;
    if (mig_bootstrap(conn, err, errlen) != 0 ||
        mig_recorded(conn, &versions, &n, err, errlen) != 0)
        goto out;
    int newest = l->items[l->count - 1].version;
    if (n > 0 && versions[n - 1] > newest) {
        snprintf(err, errlen,
                 "database schema is at version %d but this build knows only up to %d: "
                 "upgrade vocloop",
                 versions[n - 1], newest);
        goto out;
    }
    for (size_t i = 0; i < l->count; i++) {
        if (mig_is_recorded(versions, n, l->items[i].version))
            continue;
        if (mig_apply(conn, dir, &l->items[i], err, errlen) != 0)
            goto out;
        (*applied)++;
    }
    rc = 0;
out:
    free(versions);
    return rc;
}

int voc_db_migrate(PGconn *conn, const char *sql_dir, int *applied, char *err, size_t errlen)
{
    struct mig_list l = {0};
    int rc = -1;
    *applied = 0;
    if (mig_list_dir(sql_dir, &l, err, errlen) != 0)
        goto out;
    /* Waits for a concurrent run to finish; it then finds nothing left to do. */
    if (mig_exec(conn, "taking the migration lock", "SELECT pg_advisory_lock(" MIG_LOCK_KEY ")",
                 err, errlen) != 0)
        goto out;
    rc = mig_locked(conn, sql_dir, &l, applied, err, errlen);
    char unlock_err[512];
    if (mig_exec(conn, "releasing the migration lock",
                 "SELECT pg_advisory_unlock(" MIG_LOCK_KEY ")", unlock_err,
                 sizeof unlock_err) != 0 &&
        rc == 0) {
        snprintf(err, errlen, "%s", unlock_err);
        rc = -1;
    }
out:
    free(l.items);
    return rc;
}
