/* vocctl case list [--open] [--customer ID] [--limit N] [--json]
 * vocctl case show ID [--json]
 * vocctl case reply ID --by WHO [--note TEXT]
 * vocctl case callback ID --by WHO --outcome O [--reason TEXT] [--satisfaction 1-5]
 * vocctl case promise ID --by WHO --due RFC3339 --note TEXT
 * vocctl case task-done TASK_ID --by WHO [--note TEXT]
 * vocctl case close ID --by WHO [--note TEXT]
 * vocctl case comment ID --by WHO --note TEXT
 *
 * Customer service's side of "one complaint, one handling": the commands go
 * through voc_case_run_out() (common/case_cmd.c), which holds the rules.
 * Exit: 0 done, 1 refused or failed (the message says why), 2 bad usage or
 * configuration. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/case.h"
#include "voc/db.h"
#include "vocctl.h"

#define CASE_USAGE                                                                                 \
    "usage: vocctl case list [--open] [--customer ID] [--limit N] [--json]\n"                      \
    "       vocctl case show ID [--json]\n"                                                        \
    "       vocctl case reply ID --by WHO [--note TEXT]\n"                                         \
    "       vocctl case callback ID --by WHO --outcome resolved|unresolved|no_answer|declined\n"   \
    "                            [--reason TEXT] [--satisfaction 1-5]\n"                           \
    "       vocctl case promise ID --by WHO --due RFC3339 --note TEXT\n"                           \
    "       vocctl case task-done TASK_ID --by WHO [--note TEXT]\n"                                \
    "       vocctl case close ID --by WHO [--note TEXT]\n"                                         \
    "       vocctl case comment ID --by WHO --note TEXT\n"                                         \
    "\n"                                                                                           \
    "list shows cases not closed first, soonest reply due first (default limit 50).\n"

#define TIME_FMT "'YYYY-MM-DD HH24:MI'"

/* What vocctl case was asked to do. */
struct case_args {
    struct voc_case_cmd cmd;
    bool open_only, json, list, show;
    const char *customer, *limit;
    long long id; /* the positional ID */
};

static int case_usage(const char *why)
{
    if (why)
        fprintf(stderr, "vocctl case: %s\n", why);
    fputs(CASE_USAGE, stderr);
    return 2;
}

/* ---- list ---- */

static const char list_cte[] =
    "WITH x AS (SELECT c.*, (SELECT count(*) FROM voc.case_task t WHERE t.case_id = c.id"
    " AND t.done_at IS NULL) AS open_tasks, row_number() OVER (ORDER BY"
    " array_position(ARRAY['open', 'replied', 'closed'], c.state),"
    " CASE WHEN c.state <> 'closed' THEN c.reply_due_at END, c.closed_at DESC, c.id) AS n"
    " FROM voc.case c WHERE (NOT $1::boolean OR c.state <> 'closed')"
    " AND ($2::text IS NULL OR c.customer_id = $2) ORDER BY n LIMIT $3::integer) ";

static int case_list(PGconn *conn, const struct case_args *a)
{
    static const char *const heads[] = {"ID",      "STATE",  "KIND",      "TIER",  "CUSTOMER",
                                        "CHANNEL", "OPENED", "REPLY DUE", "TASKS", "CALLBACK"};
    char sql[1536];
    if (a->json)
        snprintf(sql, sizeof sql,
                 "%sSELECT coalesce(jsonb_agg(to_jsonb(x) - 'n' ORDER BY n), '[]') FROM x",
                 list_cte);
    else
        snprintf(sql, sizeof sql,
                 "%sSELECT id, state, kind, tier, coalesce(customer_id, '-'),"
                 " coalesce(channel, '-'), to_char(opened_at, " TIME_FMT "),"
                 " to_char(reply_due_at, " TIME_FMT ") || CASE WHEN state = 'open'"
                 " AND reply_due_at < now() THEN ' LATE' ELSE '' END, open_tasks,"
                 " coalesce(callback_outcome, '-') FROM x ORDER BY n",
                 list_cte);
    const char *params[] = {a->open_only ? "true" : "false", a->customer, a->limit};
    return vocctl_print_query(conn, "case list", sql, 3, params, a->json, heads,
                              sizeof heads / sizeof heads[0]);
}

/* ---- show ---- */

static const char show_json_sql[] =
    "SELECT jsonb_build_object('case', to_jsonb(c),"
    " 'feedback', (SELECT jsonb_build_object('type', f.type, 'occurred_at', f.occurred_at,"
    " 'rating', f.rating, 'text', f.text, 'item_id', f.item_id) FROM voc.feedback f"
    " WHERE f.event_id = c.event_id),"
    " 'tasks', coalesce((SELECT jsonb_agg(to_jsonb(t) ORDER BY t.id) FROM voc.case_task t"
    " WHERE t.case_id = c.id), '[]'),"
    " 'history', coalesce((SELECT jsonb_agg(to_jsonb(e) - 'case_id' ORDER BY e.id)"
    " FROM voc.case_event e WHERE e.case_id = c.id), '[]'))"
    " FROM voc.case c WHERE c.id = $1::bigint";

/* The case as label/value lines; a NULL value (nothing to say) is left out. */
static const char show_sql[] =
    "SELECT x.k, x.v FROM voc.case c LEFT JOIN voc.feedback f ON f.event_id = c.event_id"
    " LEFT JOIN voc.item i ON i.id = f.item_id, LATERAL (VALUES"
    " (1, 'case', c.id || '  [' || c.state || ']  ' || c.kind || '  tier ' || c.tier),"
    " (2, 'customer', coalesce(c.customer_id, '(anonymous)') || ' via '"
    " || coalesce(c.channel, '-')),"
    " (3, 'event', c.event_id || '  ' || f.type || coalesce('  rating ' || f.rating, '')),"
    " (4, 'said', f.text),"
    " (5, 'item', i.id || '  [' || i.state || ']  ' || i.title),"
    " (6, 'opened', to_char(c.opened_at, " TIME_FMT ")),"
    " (7, 'reply due', to_char(c.reply_due_at, " TIME_FMT ") || CASE WHEN c.state = 'open'"
    " AND c.reply_due_at < now() THEN '  (LATE)' ELSE '' END),"
    " (8, 'replied', to_char(c.replied_at, " TIME_FMT ") || ' by ' || c.replied_by"
    " || coalesce(': ' || c.reply_note, '')),"
    " (9, 'callback', to_char(c.callback_at, " TIME_FMT ") || ' by ' || c.callback_by || ': '"
    " || c.callback_outcome || coalesce(', satisfaction ' || c.satisfaction_after, '')"
    " || coalesce(', reason: ' || c.callback_reason, '')),"
    " (10, 'closed', to_char(c.closed_at, " TIME_FMT ") || ' by ' || c.closed_by))"
    " AS x(n, k, v) WHERE c.id = $1::bigint AND x.v IS NOT NULL ORDER BY x.n";

static const char tasks_sql[] =
    "SELECT id, kind, CASE WHEN done_at IS NULL THEN 'open' ELSE 'done' END,"
    " coalesce(to_char(due_at, " TIME_FMT "), '-'), to_char(created_at, " TIME_FMT "),"
    " coalesce(to_char(done_at, " TIME_FMT ") || ' by ' || done_by, '-'), note"
    " FROM voc.case_task WHERE case_id = $1::bigint ORDER BY id";

static const char history_sql[] =
    "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), kind, actor, coalesce(reason, ''),"
    " coalesce(data::text, '') FROM voc.case_event WHERE case_id = $1::bigint ORDER BY id";

/* Runs a one-parameter query; NULL after saying why. */
static PGresult *show_query(PGconn *conn, const char *sql, const char *id)
{
    const char *params[] = {id};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    fprintf(stderr, "vocctl case show: %s", PQerrorMessage(conn));
    PQclear(res);
    return NULL;
}

static int case_show(PGconn *conn, long long id, bool json)
{
    static const char *const task_heads[] = {"TASK",    "KIND", "STATE", "DUE",
                                             "CREATED", "DONE", "NOTE"};
    static const char *const history_heads[] = {"AT", "KIND", "ACTOR", "REASON", "DATA"};
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    PGresult *res = show_query(conn, json ? show_json_sql : show_sql, sid);
    if (!res)
        return 1;
    if (PQntuples(res) == 0) {
        fprintf(stderr, "vocctl case: case %lld does not exist\n", id);
        PQclear(res);
        return 1;
    }
    if (json) {
        printf("%s\n", PQgetvalue(res, 0, 0));
        PQclear(res);
        return 0;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        printf("%-10s ", PQgetvalue(res, r, 0));
        vocctl_put_cell(PQgetvalue(res, r, 1), 0); /* customer text: one line */
        putchar('\n');
    }
    PQclear(res);
    if (!(res = show_query(conn, tasks_sql, sid)))
        return 1;
    printf("\ntasks:\n");
    vocctl_print_table(res, task_heads, sizeof task_heads / sizeof task_heads[0]);
    PQclear(res);
    if (!(res = show_query(conn, history_sql, sid)))
        return 1;
    printf("\nhistory:\n");
    vocctl_print_table(res, history_heads, sizeof history_heads / sizeof history_heads[0]);
    PQclear(res);
    return 0;
}

/* ---- commands ---- */

static int case_command(PGconn *conn, const struct voc_case_cmd *cmd)
{
    char err[1024];
    struct voc_case_outcome out;
    enum voc_db_fault fault;
    if (voc_case_run_out(conn, cmd, &out, &fault, err, sizeof err) != VOC_CASE_DONE) {
        fprintf(stderr, "vocctl case: %s\n", err);
        return 1;
    }
    if (strcmp(cmd->verb, "callback") == 0)
        printf("case %lld: callback recorded (%s)\n", out.case_id, cmd->outcome);
    else if (strcmp(cmd->verb, "promise") == 0)
        printf("case %lld: progress update promised by %s (task %lld)\n", out.case_id, cmd->due_at,
               out.task_id);
    else if (strcmp(cmd->verb, "task-done") == 0)
        printf("task %lld of case %lld done\n", out.task_id, out.case_id);
    else if (strcmp(cmd->verb, "comment") == 0)
        printf("case %lld: comment recorded\n", out.case_id);
    if (strcmp(out.from_state, out.to_state) != 0)
        printf("case %lld: %s -> %s\n", out.case_id, out.from_state, out.to_state);
    return 0;
}

/* ---- arguments ---- */

/* Checks the options against the subcommand. -1 to go on, else the exit code. */
static int case_check_args(struct case_args *a, int npos, char **pos)
{
    const struct voc_case_cmd *c = &a->cmd;
    const char *v = c->verb;
    bool list_opts = a->open_only || a->customer || a->limit;
    if (!a->list && !a->show && !voc_case_verb_known(v))
        return case_usage("unknown subcommand");
    if (a->list)
        return npos != 0 ? case_usage("list takes no ID")
               : c->actor || c->note || c->outcome || c->reason || c->satisfaction || c->due_at
                   ? case_usage("list takes only --open, --customer, --limit and --json")
                   : -1;
    if (npos != 1 || vocctl_parse_id(pos[0], &a->id) != 0)
        return case_usage("expected one ID (a positive number)");
    if (list_opts)
        return case_usage("--open, --customer and --limit go with list");
    if (a->show)
        return c->actor || c->note || c->outcome || c->reason || c->satisfaction || c->due_at
                   ? case_usage("show takes only --json")
                   : -1;
    if (a->json)
        return case_usage("--json is for list and show");
    if (!c->actor)
        return case_usage("--by WHO is required: the audit trail records who acted");
    bool callback = strcmp(v, "callback") == 0, promise = strcmp(v, "promise") == 0;
    if (!callback && (c->outcome || c->reason || c->satisfaction))
        return case_usage("--outcome, --reason and --satisfaction go with callback");
    if (callback && !c->outcome)
        return case_usage("callback needs --outcome resolved|unresolved|no_answer|declined");
    if (promise != (c->due_at != NULL))
        return case_usage(promise ? "promise needs --due TIME" : "--due goes with promise");
    if ((promise || strcmp(v, "comment") == 0) && !c->note)
        return case_usage(promise ? "promise needs --note (what was promised)"
                                  : "comment needs --note TEXT");
    return -1;
}

/* Returns -1 to go on, else the exit code. argv[0] is the subcommand. */
static int case_parse(int argc, char **argv, struct case_args *a)
{
    static const struct option opts[] = {{"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"outcome", required_argument, NULL, 'o'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"satisfaction", required_argument, NULL, 's'},
                                         {"due", required_argument, NULL, 'd'},
                                         {"open", no_argument, NULL, 'O'},
                                         {"customer", required_argument, NULL, 'c'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long long n;
    int c;
    memset(a, 0, sizeof *a);
    a->cmd.verb = argv[0];
    a->list = strcmp(argv[0], "list") == 0;
    a->show = strcmp(argv[0], "show") == 0;
    optind = 0; /* glibc: restart scanning on this argv, permuting options */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            a->cmd.actor = optarg;
        } else if (c == 'n') {
            a->cmd.note = optarg;
        } else if (c == 'o') {
            a->cmd.outcome = optarg;
        } else if (c == 'r') {
            a->cmd.reason = optarg;
        } else if (c == 's') {
            if (vocctl_parse_id(optarg, &n) != 0 || n > 5)
                return case_usage("--satisfaction is 1 (worst) to 5");
            a->cmd.satisfaction = (int)n;
        } else if (c == 'd') {
            a->cmd.due_at = optarg;
        } else if (c == 'O') {
            a->open_only = true;
        } else if (c == 'c') {
            a->customer = optarg;
        } else if (c == 'l') {
            if (vocctl_parse_id(optarg, &n) != 0 || n > 100000)
                return case_usage("--limit must be 1..100000");
            a->limit = optarg;
        } else if (c == 'j') {
            a->json = true;
        } else {
            fputs(CASE_USAGE, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    return case_check_args(a, argc - optind, argv + optind);
}

int vocctl_case(int argc, char **argv, const char *config_dir)
{
    struct case_args a;
    int rc;
    if (argc < 2)
        return case_usage(NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(CASE_USAGE, stdout);
        return 0;
    }
    rc = case_parse(argc - 1, argv + 1, &a);
    if (rc >= 0)
        return rc;
    if (!a.limit)
        a.limit = "50";
    if (strcmp(a.cmd.verb, "task-done") == 0)
        a.cmd.task_id = a.id;
    else
        a.cmd.case_id = a.id;
    PGconn *conn = vocctl_connect(config_dir, "case", &rc);
    if (!conn)
        return rc;
    if (a.list)
        rc = case_list(conn, &a);
    else if (a.show)
        rc = case_show(conn, a.id, a.json);
    else
        rc = case_command(conn, &a.cmd);
    PQfinish(conn);
    return rc;
}
