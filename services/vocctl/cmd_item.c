/* vocctl items [--department D] [--state S] [--dimension D] [--limit N] [--json]
 * vocctl item show ID [--json]
 * vocctl item ack|start|resolve|verify|close|wont-fix|reopen ID --by WHO [--note TEXT]
 * vocctl item snooze ID --by WHO (--until TIME | --occurrences N) [--note TEXT]
 * vocctl item assign ID --to PERSON --by WHO [--note TEXT]
 * vocctl item comment ID --by WHO --note TEXT
 * vocctl item merge FROM INTO --by WHO [--note TEXT]
 * vocctl item unmerge ID --by WHO [--note TEXT]
 *
 * The commands go through voc_item_run(), the same code voc.command uses, so
 * both doors obey one state machine. Exit: 0 done, 1 refused or failed (the
 * message says why), 2 bad usage or configuration. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/item.h"
#include "vocctl.h"

#define ITEMS_USAGE                                                                                \
    "usage: vocctl items [--department D] [--state S] [--dimension D] [--limit N] [--json]\n"      \
    "\n"                                                                                           \
    "Lists improvement items, most severe and most recent first (default limit 50).\n"             \
    "Items merged into another are not listed; see 'vocctl item show' of the surviving one.\n"

#define ITEM_USAGE                                                                                 \
    "usage: vocctl item show ID [--json]\n"                                                        \
    "       vocctl item ack|start|resolve|verify|close|wont-fix|reopen ID --by WHO [--note "       \
    "TEXT]\n"                                                                                      \
    "       vocctl item snooze ID --by WHO (--until TIME | --occurrences N) [--note TEXT]\n"       \
    "       vocctl item assign ID --to PERSON --by WHO [--note TEXT]\n"                            \
    "       vocctl item comment ID --by WHO --note TEXT\n"                                         \
    "       vocctl item merge FROM INTO --by WHO [--note TEXT]\n"                                  \
    "       vocctl item unmerge ID --by WHO [--note TEXT]\n"

static const char *const dimensions[] = {"class", "product", "line", "service", "unclassified"};

/* The listed items, numbered in display order (the ORDER BY is here once, for
 * both the table and --json). */
static const char items_cte[] =
    "WITH x AS (SELECT i.*, row_number() OVER (ORDER BY array_position(ARRAY['critical',"
    " 'high', 'medium', 'low'], severity), last_seen DESC, id) AS n"
    " FROM voc.item i WHERE merged_into IS NULL AND ($1::text IS NULL OR department = $1)"
    " AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR dimension = $3)"
    " ORDER BY n LIMIT $4::integer) ";

static int items_query(PGconn *conn, const char *const *filters, bool json)
{
    static const char *const heads[] = {"ID",     "STATE",      "SEVERITY", "DIMENSION/CATEGORY",
                                        "ENTITY", "DEPARTMENT", "ASSIGNEE", "OCC",
                                        "CUST",   "LAST SEEN",  "TITLE"};
    char sql[1024];
    if (json)
        snprintf(sql, sizeof sql,
                 "%sSELECT coalesce(jsonb_agg(to_jsonb(x) - 'signatures' - 'n' ORDER BY n), '[]')"
                 " FROM x",
                 items_cte);
    else
        snprintf(sql, sizeof sql,
                 "%sSELECT id, state, severity, dimension || '/' || category,"
                 " coalesce(entity, '-'), department, coalesce(assignee, '-'), occurrences,"
                 " customers, to_char(last_seen, 'YYYY-MM-DD HH24:MI'), left(title, 40)"
                 " FROM x ORDER BY n",
                 items_cte);
    return vocctl_print_query(conn, "items", sql, 4, filters, json, heads,
                              sizeof heads / sizeof heads[0]);
}

/* Returns 0 when v is one of the n allowed values, else says so. */
static int one_of(const char *opt, const char *v, const char *const *allowed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, allowed[i]) == 0)
            return 0;
    fprintf(stderr, "vocctl items: %s '%s' is not one of:", opt, v);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %s", allowed[i]);
    fputc('\n', stderr);
    return -1;
}

int vocctl_items(int argc, char **argv, const char *config_dir)
{
    static const struct option opts[] = {{"department", required_argument, NULL, 'd'},
                                         {"state", required_argument, NULL, 's'},
                                         {"dimension", required_argument, NULL, 'D'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char *const states[] = {"open",     "acknowledged", "in_progress",
                                         "resolved", "verified",     "closed",
                                         "snoozed",  "wont_fix",     "regressed"};
    const char *filters[4] = {NULL, NULL, NULL, "50"};
    long long limit;
    bool json = false;
    int c, rc;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') {
            filters[0] = optarg;
        } else if (c == 's') {
            filters[1] = optarg;
            if (one_of("--state", optarg, states, sizeof states / sizeof states[0]) != 0)
                return 2;
        } else if (c == 'D') {
            filters[2] = optarg;
            if (one_of("--dimension", optarg, dimensions, sizeof dimensions / sizeof dimensions[0]))
                return 2;
        } else if (c == 'l') {
            filters[3] = optarg;
            if (vocctl_parse_id(optarg, &limit) != 0 || limit > 100000) {
                fprintf(stderr, "vocctl items: --limit must be 1..100000\n");
                return 2;
            }
        } else if (c == 'j') {
            json = true;
        } else {
            fputs(ITEMS_USAGE, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        fputs(ITEMS_USAGE, stderr);
        return 2;
    }
    PGconn *conn = vocctl_connect(config_dir, "items", &rc);
    if (!conn)
        return rc;
    rc = items_query(conn, filters, json);
    PQfinish(conn);
    return rc;
}

/* The whole of `item show` as one JSON document, built by Postgres. */
static const char show_sql[] =
    "SELECT jsonb_build_object('item', to_jsonb(i) - 'signatures',"
    " 'history', coalesce((SELECT jsonb_agg(to_jsonb(e) - 'item_id' ORDER BY e.id)"
    " FROM voc.item_event e WHERE e.item_id = i.id), '[]'),"
    " 'links', coalesce((SELECT jsonb_agg(to_jsonb(l) ORDER BY l.created_at, l.from_item)"
    " FROM voc.item_link l WHERE l.from_item = i.id OR l.to_item = i.id), '[]'),"
    " 'feedback', coalesce((SELECT jsonb_agg(f ORDER BY f.occurred_at DESC, f.id DESC) FROM"
    " (SELECT id, event_id, type, occurred_at, channel, customer_id, tier, rating, severity,"
    " text FROM voc.feedback WHERE item_id = i.id ORDER BY occurred_at DESC, id DESC LIMIT 10)"
    " f), '[]'))"
    " FROM voc.item i WHERE i.id = $1::bigint";

/* A field as text for people: strings as they are, numbers printed, "-" for
 * missing or null. Times lose their fractional seconds. */
static const char *jtext(const json_t *o, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v)) {
        /* 2024-05-01T10:00:00.123456+08:00 -> 2024-05-01 10:00:00+08:00 */
        const char *s = json_string_value(v);
        if (strlen(s) < 20 || s[4] != '-' || s[10] != 'T' || s[13] != ':')
            return s;
        const char *rest = s + 19;
        if (*rest == '.')
            rest += 1 + strspn(rest + 1, "0123456789");
        snprintf(buf, len, "%.10s %.8s%s", s, s + 11, rest);
        return buf;
    }
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
        return buf;
    }
    if (json_is_true(v) || json_is_false(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_null(v) || !v)
        return "-";
    char *dump = json_dumps(v, JSON_COMPACT);
    snprintf(buf, len, "%s", dump ? dump : "?");
    free(dump);
    return buf;
}

/* jtext into one of 8 rotating buffers: enough for one printf's fields. */
static const char *item_jt(const json_t *o, const char *key)
{
    static char bufs[8][512];
    static unsigned next;
    return jtext(o, key, bufs[next++ % 8], sizeof bufs[0]);
}

static void show_item(const json_t *it)
{
    printf("item %s  [%s]  %s  %s/%s  entity %s\n", item_jt(it, "id"), item_jt(it, "state"),
           item_jt(it, "severity"), item_jt(it, "dimension"), item_jt(it, "category"),
           item_jt(it, "entity"));
    printf("title:       ");
    vocctl_put_cell(item_jt(it, "title"), 0); /* customer text: keep it on one line */
    putchar('\n');
    printf("department:  %s (owner %s)  assignee %s  notify %s\n", item_jt(it, "department"),
           item_jt(it, "owner"), item_jt(it, "assignee"), item_jt(it, "notify"));
    printf("counts:      %s occurrences, %s customers, %s VIP\n", item_jt(it, "occurrences"),
           item_jt(it, "customers"), item_jt(it, "vip_occurrences"));
    printf("seen:        %s .. %s\n", item_jt(it, "first_seen"), item_jt(it, "last_seen"));
    printf("routed by:   %s (%s)  matched by %s (%s)\n", item_jt(it, "routing_rule"),
           item_jt(it, "routing_version"), item_jt(it, "match_rule"), item_jt(it, "match_version"));
    if (json_integer_value(json_object_get(it, "merged_into")))
        printf("merged into: item %s\n", item_jt(it, "merged_into"));
    if (json_integer_value(json_object_get(it, "parent_item_id")))
        printf("parent:      item %s\n", item_jt(it, "parent_item_id"));
    if (json_is_string(json_object_get(it, "resolved_at")))
        printf("resolved at: %s\n", item_jt(it, "resolved_at"));
}

static void show_rest(const json_t *doc)
{
    size_t i;
    json_t *e;
    printf("\nhistory:\n");
    json_array_foreach(json_object_get(doc, "history"), i, e)
    {
        printf("  %s  %-16s %-14s %s", item_jt(e, "at"), item_jt(e, "kind"), item_jt(e, "actor"),
               item_jt(e, "data"));
        if (json_is_string(json_object_get(e, "reason"))) {
            printf("  \"");
            vocctl_put_cell(item_jt(e, "reason"), 0);
            putchar('"');
        }
        putchar('\n');
    }
    printf("\nlinks:\n");
    json_array_foreach(json_object_get(doc, "links"), i, e)
    {
        printf("  item %s %s item %s\n", item_jt(e, "from_item"), item_jt(e, "kind"),
               item_jt(e, "to_item"));
    }
    printf("\nrecent feedback:\n");
    json_array_foreach(json_object_get(doc, "feedback"), i, e)
    {
        printf("  %s  %s  %s  customer %s (%s)  ", item_jt(e, "occurred_at"),
               item_jt(e, "event_id"), item_jt(e, "type"), item_jt(e, "customer_id"),
               item_jt(e, "tier"));
        vocctl_put_cell(item_jt(e, "text"), 0);
        putchar('\n');
    }
}

static int item_show(PGconn *conn, long long id, bool as_json)
{
    char sid[24];
    int rc = 1;
    json_t *doc = NULL;
    snprintf(sid, sizeof sid, "%lld", id);
    const char *params[] = {sid};
    PGresult *res = PQexecParams(conn, show_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "vocctl item: %s", PQerrorMessage(conn));
        goto out;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "vocctl item: item %lld does not exist\n", id);
        goto out;
    }
    rc = 0;
    if (as_json) {
        printf("%s\n", PQgetvalue(res, 0, 0));
        goto out;
    }
    json_error_t jerr;
    doc = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    if (!doc) {
        fprintf(stderr, "vocctl item: cannot read the item: %s\n", jerr.text);
        rc = 1;
        goto out;
    }
    show_item(json_object_get(doc, "item"));
    show_rest(doc);
out:
    json_decref(doc);
    PQclear(res);
    return rc;
}

/* What vocctl item was asked to do. */
struct item_args {
    struct voc_item_cmd cmd;
    bool json;
};

static int item_usage(const char *why)
{
    if (why)
        fprintf(stderr, "vocctl item: %s\n", why);
    fputs(ITEM_USAGE, stderr);
    return 2;
}

/* Checks the options against the verb. Returns -1 to go on, else the exit code. */
static int item_check_args(const struct item_args *a, int npos, char **pos)
{
    const struct voc_item_cmd *c = &a->cmd;
    bool show = strcmp(c->verb, "show") == 0, merge = strcmp(c->verb, "merge") == 0;
    bool state = voc_item_verb_state(c->verb) != NULL;
    bool other = strcmp(c->verb, "assign") == 0 || strcmp(c->verb, "comment") == 0 ||
                 strcmp(c->verb, "unmerge") == 0;
    if (!show && !state && !merge && !other)
        return item_usage("unknown subcommand");
    if (npos != (merge ? 2 : 1))
        return item_usage(merge ? "merge needs FROM and INTO" : "expected one item ID");
    long long id;
    if (vocctl_parse_id(pos[0], &id) != 0 || (merge && vocctl_parse_id(pos[1], &id) != 0))
        return item_usage("an item ID is a positive number");
    if (show)
        return c->actor || c->note || c->assignee || c->until || c->more
                   ? item_usage("show takes only --json")
                   : -1;
    if (a->json)
        return item_usage("--json is for show");
    if (!c->actor)
        return item_usage("--by WHO is required: the audit trail records who acted");
    if ((c->assignee != NULL) != (strcmp(c->verb, "assign") == 0))
        return item_usage("--to PERSON goes with assign, and only there");
    if ((c->until || c->more) && strcmp(c->verb, "snooze") != 0)
        return item_usage("--until and --occurrences go with snooze");
    return -1;
}

/* Returns -1 to go on, else the exit code. */
static int item_parse(int argc, char **argv, struct item_args *a)
{
    static const struct option opts[] = {{"by", required_argument, NULL, 'b'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"to", required_argument, NULL, 't'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"occurrences", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long long more;
    int c;
    memset(a, 0, sizeof *a);
    a->cmd.verb = argv[0];
    optind = 0; /* glibc: restart scanning on this argv, permuting options */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            a->cmd.actor = optarg;
        } else if (c == 'n') {
            a->cmd.note = optarg;
        } else if (c == 't') {
            a->cmd.assignee = optarg;
        } else if (c == 'u') {
            a->cmd.until = optarg;
        } else if (c == 'o') {
            if (vocctl_parse_id(optarg, &more) != 0 || more > 1000000)
                return item_usage("--occurrences must be a positive number");
            a->cmd.more = (int)more;
        } else if (c == 'j') {
            a->json = true;
        } else if (c == 'h') {
            fputs(ITEM_USAGE, stdout);
            return 0;
        } else {
            return item_usage(NULL);
        }
    }
    int rc = item_check_args(a, argc - optind, argv + optind);
    if (rc >= 0)
        return rc;
    vocctl_parse_id(argv[optind], &a->cmd.item_id);
    if (strcmp(a->cmd.verb, "merge") == 0)
        vocctl_parse_id(argv[optind + 1], &a->cmd.into_id);
    return -1;
}

static int item_command(PGconn *conn, const struct voc_item_cmd *cmd)
{
    char err[1024];
    struct voc_item_outcome out;
    enum voc_db_fault fault;
    int rc = voc_item_run(conn, cmd, &out, &fault, err, sizeof err);
    if (rc != VOC_ITEM_DONE) {
        fprintf(stderr, "vocctl item: %s\n", err);
        return 1;
    }
    const char *to = voc_item_verb_state(cmd->verb);
    if (to)
        printf("item %lld: %s -> %s\n", cmd->item_id, out.from_state, to);
    else if (strcmp(cmd->verb, "assign") == 0)
        printf("item %lld assigned to %s\n", cmd->item_id, cmd->assignee);
    else if (strcmp(cmd->verb, "comment") == 0)
        printf("item %lld: comment recorded\n", cmd->item_id);
    else if (strcmp(cmd->verb, "merge") == 0)
        printf("item %lld merged into item %lld (%lld occurrences moved)\n", cmd->item_id,
               cmd->into_id, out.moved);
    else
        printf("item %lld unmerged (%lld occurrences moved back)\n", cmd->item_id, out.moved);
    return 0;
}

int vocctl_item(int argc, char **argv, const char *config_dir)
{
    struct item_args a;
    int rc;
    if (argc < 2)
        return item_usage(NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ITEM_USAGE, stdout);
        return 0;
    }
    rc = item_parse(argc - 1, argv + 1, &a);
    if (rc >= 0)
        return rc;
    PGconn *conn = vocctl_connect(config_dir, "item", &rc);
    if (!conn)
        return rc;
    if (strcmp(a.cmd.verb, "show") == 0)
        rc = item_show(conn, a.cmd.item_id, a.json);
    else
        rc = item_command(conn, &a.cmd);
    PQfinish(conn);
    return rc;
}
