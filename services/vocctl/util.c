/* Helpers the vocctl subcommands share: connecting with the configured DSN,
 * reading an id argument, and printing text people and customers wrote in
 * table cells, and listings (a table or JSON). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "voc/config.h"
#include "voc/db.h"
#include "vocctl.h"

PGconn *vocctl_connect(const char *config_dir, const char *cmd, int *rc)
{
    struct voc_config cfg = {0};
    struct voc_diag diag = {0};
    PGconn *conn = NULL;
    char err[512];
    *rc = 2;
    if (voc_config_load(config_dir, &cfg, &diag) != 0) {
        voc_diag_print(&diag, stderr);
        goto out;
    }
    *rc = 1;
    conn = voc_db_connect(cfg.postgres.dsn, "vocctl", err, sizeof err);
    if (!conn)
        fprintf(stderr, "vocctl %s: cannot connect to PostgreSQL: %s\n", cmd, err);
out:
    voc_config_free(&cfg);
    voc_diag_free(&diag);
    return conn;
}

int vocctl_parse_id(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return -1;
    *out = v;
    return 0;
}

void vocctl_put_cell(const char *s, int width)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    int used = 0;
    utf8proc_int32_t c;
    for (utf8proc_ssize_t n; *p; p += n) {
        n = utf8proc_iterate(p, -1, &c);
        if (n <= 0) {
            n = 1;
            c = '?';
        }
        if (c < 0x20 || c == 0x7f) {
            putchar(' ');
            used++;
        } else {
            fwrite(p, 1, (size_t)n, stdout);
            used += utf8proc_charwidth(c);
        }
    }
    for (; used < width; used++)
        putchar(' ');
}

int vocctl_cell_width(const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    int w = 0;
    utf8proc_int32_t c;
    for (utf8proc_ssize_t n; *p; p += n) {
        n = utf8proc_iterate(p, -1, &c);
        if (n <= 0) {
            n = 1; /* vocctl_put_cell prints '?' for it */
            w++;
        } else {
            w += c < 0x20 || c == 0x7f ? 1 : utf8proc_charwidth(c);
        }
    }
    return w;
}

void vocctl_print_table(const PGresult *res, const char *const *heads, int ncol)
{
    enum { MAXCOL = 32 };
    int width[MAXCOL];
    ncol = ncol < MAXCOL ? ncol : MAXCOL;
    for (int c = 0; c < ncol; c++) {
        width[c] = vocctl_cell_width(heads[c]);
        for (int r = 0; r < PQntuples(res); r++) {
            int w = vocctl_cell_width(PQgetvalue(res, r, c));
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (int c = 0; c < ncol; c++)
        vocctl_put_cell(heads[c], c + 1 < ncol ? width[c] + 2 : 0);
    putchar('\n');
    for (int r = 0; r < PQntuples(res); r++) {
        for (int c = 0; c < ncol; c++)
            vocctl_put_cell(PQgetvalue(res, r, c), c + 1 < ncol ? width[c] + 2 : 0);
        putchar('\n');
    }
}

int vocctl_print_query(PGconn *conn, const char *cmd, const char *sql, int nparams,
                       const char *const *params, bool json, const char *const *heads, int ncol)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "vocctl %s: %s", cmd, PQerrorMessage(conn));
        PQclear(res);
        return 1;
    }
    if (json)
        printf("%s\n", PQgetvalue(res, 0, 0));
    else
        vocctl_print_table(res, heads, ncol);
    PQclear(res);
    return 0;
}
