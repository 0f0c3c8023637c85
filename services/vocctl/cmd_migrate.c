/* vocctl migrate [--sql-dir DIR] [--dry-run]: bring the database schema up to
 * this build's migrations (or, with --dry-run, say what that would do). */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/db.h"
#include "vocctl.h"

static void migrate_usage(FILE *out)
{
    fprintf(out,
            "usage: vocctl [--config DIR] migrate [--sql-dir DIR] [--dry-run]\n"
            "\n"
            "Applies the SQL migrations (NNN_name.sql) the database has not recorded in\n"
            "voc.schema_migrations, each in its own transaction. Safe to run concurrently.\n"
            "\n"
            "  --sql-dir DIR  migrations directory (default $VOC_SQL_DIR, else %s)\n"
            "  --dry-run      list what would be applied; change nothing\n",
            voc_db_sql_dir());
}

/* Returns the recorded schema version (0 for none) or -1, printing why.
 * With versions != NULL also returns every recorded version (caller frees). */
static int migrate_db_version(PGconn *conn, int **versions, int *n)
{
    int version = -1;
    if (versions) {
        *versions = NULL;
        *n = 0;
    }
    PGresult *res = PQexec(conn, "SELECT to_regclass('voc.schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto out;
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = PQexec(conn, exists ? "SELECT version FROM voc.schema_migrations ORDER BY version"
                              : "SELECT 0 WHERE false");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto out;
    int rows = PQntuples(res);
    version = rows ? atoi(PQgetvalue(res, rows - 1, 0)) : 0;
    if (versions && rows > 0) {
        *versions = calloc((size_t)rows, sizeof **versions);
        if (!*versions) {
            version = -1;
            goto out;
        }
        *n = rows;
        for (int i = 0; i < rows; i++)
            (*versions)[i] = atoi(PQgetvalue(res, i, 0));
    }
out:
    if (version < 0)
        fprintf(stderr, "vocctl migrate: cannot read the schema version: %s", PQerrorMessage(conn));
    PQclear(res);
    return version;
}

static int migrate_is_sql(const struct dirent *de)
{
    size_t len = strlen(de->d_name);
    return de->d_name[0] >= '0' && de->d_name[0] <= '9' && len > 4 &&
           strcmp(de->d_name + len - 4, ".sql") == 0;
}

static int migrate_by_version(const struct dirent **a, const struct dirent **b)
{
    long x = strtol((*a)->d_name, NULL, 10), y = strtol((*b)->d_name, NULL, 10);
    return (x > y) - (x < y);
}

/* Lists the files a real run would apply. The real run still checks file
 * names strictly; this only reports. */
static int migrate_dry_run(PGconn *conn, const char *sql_dir)
{
    struct dirent **files = NULL;
    int *versions = NULL, nversions = 0, pending = 0, rc = 1;
    int nfiles = scandir(sql_dir, &files, migrate_is_sql, migrate_by_version);
    if (nfiles <= 0) {
        fprintf(stderr, "vocctl migrate: no migrations (NNN_name.sql) in %s\n", sql_dir);
        goto out;
    }
    int version = migrate_db_version(conn, &versions, &nversions);
    if (version < 0)
        goto out;
    int newest = (int)strtol(files[nfiles - 1]->d_name, NULL, 10);
    if (version > newest) {
        fprintf(stderr,
                "vocctl migrate: database schema is at version %d but this build knows only "
                "up to %d: upgrade vocloop\n",
                version, newest);
        goto out;
    }
    for (int i = 0; i < nfiles; i++) {
        int v = (int)strtol(files[i]->d_name, NULL, 10), seen = 0;
        for (int j = 0; j < nversions; j++)
            seen |= versions[j] == v;
        if (!seen) {
            printf("would apply %s\n", files[i]->d_name);
            pending++;
        }
    }
    printf("schema at version %d (would apply %d)\n", version, pending);
    rc = 0;
out:
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(versions);
    return rc;
}

static int migrate_run(PGconn *conn, const char *sql_dir)
{
    char err[1024];
    int applied = 0;
    if (voc_db_migrate(conn, sql_dir, &applied, err, sizeof err) != 0) {
        fprintf(stderr, "vocctl migrate: %s\n", err);
        if (applied > 0)
            fprintf(stderr, "vocctl migrate: %d migration(s) were applied before that\n", applied);
        return 1;
    }
    int version = migrate_db_version(conn, NULL, NULL);
    if (version < 0)
        return 1;
    printf("schema at version %d (applied %d)\n", version, applied);
    return 0;
}

int vocctl_migrate(int argc, char **argv, const char *config_dir)
{
    static const struct option opts[] = {{"sql-dir", required_argument, NULL, 's'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *sql_dir = voc_db_sql_dir();
    int dry_run = 0, c, rc;
    while ((c = getopt_long(argc, argv, "s:nh", opts, NULL)) != -1) {
        if (c == 's') {
            sql_dir = optarg;
        } else if (c == 'n') {
            dry_run = 1;
        } else {
            migrate_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        migrate_usage(stderr);
        return 2;
    }
    PGconn *conn = vocctl_connect(config_dir, "migrate", &rc);
    if (!conn)
        return rc;
    rc = dry_run ? migrate_dry_run(conn, sql_dir) : migrate_run(conn, sql_dir);
    PQfinish(conn);
    return rc;
}
