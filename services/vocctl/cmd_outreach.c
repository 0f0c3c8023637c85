/* vocctl outreach list [--state open|done] [--level L] [--limit N] [--json]
 * vocctl outreach done ID --outcome reached|no_answer|resolved|declined|wrong_number|other
 *                         --by WHO [--note TEXT]
 *
 * Tech support's side of the loop: what to do, and what came of it. Closing a
 * task is one transaction with its outreach.done event (outbox). */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/outbox.h"
#include "vocctl.h"

/* Returns the connection, or NULL with *rc set: 2 bad configuration, 1 no database. */
static PGconn *connect_db(const char *config_dir, struct voc_config *cfg, int *rc)
{
    struct voc_diag diag = {0};
    char err[512];
    int loaded = voc_config_load(config_dir, cfg, &diag);
    voc_diag_print(&diag, stderr);
    voc_diag_free(&diag);
    if (loaded < 0) {
        *rc = 2;
        return NULL;
    }
    PGconn *conn = voc_db_connect(cfg->postgres.dsn, "vocctl", err, sizeof err);
    if (!conn) {
        fprintf(stderr, "vocctl outreach: %s\n", err);
        *rc = 1;
    }
    return conn;
}
static int list(PGconn *conn, const char *state, const char *level, const char *limit, bool json)
{
    const char *vals[] = {state, level, limit};
    PGresult *r = PQexecParams(
        conn,
        json ? "SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.created_at DESC), '[]')::text"
               " FROM (SELECT * FROM voc.outreach WHERE ($1::text IS NULL OR state = $1)"
               " AND ($2::text IS NULL OR level = $2) ORDER BY created_at DESC"
               " LIMIT $3::int) o"
             : "SELECT id, state, level, subject, coalesce(outcome, '-'),"
               " to_char(created_at, 'YYYY-MM-DD HH24:MI:SS'), contact FROM voc.outreach"
               " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR level = $2)"
               " ORDER BY created_at DESC LIMIT $3::int",
        3, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "vocctl outreach list: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    if (json) {
        printf("%s\n", PQgetvalue(r, 0, 0));
    } else {
        printf("%-6s %-5s %-9s %-20s %-12s %-19s %s\n", "ID", "STATE", "LEVEL", "SUBJECT",
               "OUTCOME", "CREATED", "CONTACT");
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-6s %-5s %-9s %-20s %-12s %-19s %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    }
    PQclear(r);
    return 0;
}

static int done(PGconn *conn, const struct voc_config *cfg, const char *id, const char *outcome,
                const char *by, const char *note)
{
    char err[512];
    enum voc_db_fault fault;
    const char *vals[] = {id, outcome, by, note};
    if (voc_db_exec(conn, "BEGIN", &fault, err, sizeof err) < 0)
        goto fail;
    PGresult *r = PQexecParams(conn,
                               "UPDATE voc.outreach SET state = 'done', outcome = $2,"
                               " done_at = now(), done_by = $3, note = $4"
                               " WHERE id = $1::bigint AND state = 'open'"
                               " RETURNING jsonb_build_object('id', id, 'task_id', task_id,"
                               " 'outcome', outcome, 'done_by', done_by, 'note', note)::text,"
                               " coalesce(classroom_id, subject)",
                               4, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        voc_db_describe(conn, r, err, sizeof err);
        PQclear(r);
        goto fail;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        PQclear(PQexec(conn, "ROLLBACK"));
        fprintf(stderr, "vocctl outreach done: task %s does not exist or is already done\n", id);
        return 1;
    }
    int rc = voc_outbox_add(conn, cfg->topics.outreach, PQgetvalue(r, 0, 1), "outreach.done",
                            PQgetvalue(r, 0, 0), &fault, err, sizeof err);
    PQclear(r);
    if (rc < 0 || voc_db_exec(conn, "COMMIT", &fault, err, sizeof err) < 0)
        goto fail;
    printf("outreach task %s done: %s\n", id, outcome);
    return 0;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    fprintf(stderr, "vocctl outreach done: %s\n", err);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: vocctl outreach list [--state open|done] [--level L] [--limit N] "
                    "[--json]\n"
                    "       vocctl outreach done ID --outcome OUTCOME --by WHO [--note TEXT]\n");
    return 2;
}

int vocctl_outreach(int argc, char **argv, const char *config_dir)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},   {"level", required_argument, NULL, 'l'},
        {"limit", required_argument, NULL, 'n'},   {"json", no_argument, NULL, 'j'},
        {"outcome", required_argument, NULL, 'o'}, {"by", required_argument, NULL, 'b'},
        {"note", required_argument, NULL, 'm'},    {NULL, 0, NULL, 0}};
    const char *state = NULL, *level = NULL, *limit = "50", *outcome = NULL, *by = NULL,
               *note = NULL;
    bool json = false;
    int c;
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'n':
            limit = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'o':
            outcome = optarg;
            break;
        case 'b':
            by = optarg;
            break;
        case 'm':
            note = optarg;
            break;
        default:
            return usage();
        }
    }
    bool is_done = strcmp(sub, "done") == 0;
    if ((!is_done && strcmp(sub, "list") != 0) ||
        (is_done && (optind != argc - 1 || !outcome || !by)) || (!is_done && optind != argc))
        return usage();
    struct voc_config cfg;
    int rc = 1;
    PGconn *conn = connect_db(config_dir, &cfg, &rc);
    if (conn) {
        rc = is_done ? done(conn, &cfg, argv[optind], outcome, by, note)
                     : list(conn, state, level, limit, json);
        PQfinish(conn);
    }
    voc_config_free(&cfg);
    return rc;
}
