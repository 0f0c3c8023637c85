/* vocctl routing apply [--dry-run] [--actor NAME]: re-evaluates which
 * department owns every live item with the current routing.yaml, after a rule
 * moved or a department changed hands. Each re-routed item is one transaction
 * with its 'routed' audit row and its item.routed outbox event, so a failure
 * half-way leaves every item either re-routed or untouched and a second run
 * finishes the job. The assignee (the person handling the item) is kept: a new
 * owning department does not take the work out of someone's hands. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/item.h"
#include "voc/routing.h"
#include "vocctl.h"

/* Items that still take work; the same set item_live_fingerprint_idx covers. */
#define ROUTING_LIVE                                                                               \
    "state NOT IN ('resolved', 'verified', 'closed', 'wont_fix') AND merged_into IS NULL"
#define ROUTING_COLS                                                                               \
    "id, dimension, category, entity, severity, department, owner, notify, "                       \
    "to_json(escalation)::text, routing_rule"

static const char routing_list_sql[] =
    "SELECT " ROUTING_COLS " FROM voc.item WHERE " ROUTING_LIVE " ORDER BY id";
/* Re-read under lock: voc-aggregate may have touched the item since the list. */
static const char routing_lock_sql[] = "SELECT " ROUTING_COLS " FROM voc.item WHERE id = "
                                       "$1::bigint AND " ROUTING_LIVE " FOR UPDATE";
static const char routing_update_sql[] =
    "UPDATE voc.item SET department = $2, owner = $3, notify = $4, "
    "escalation = ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), routing_rule = $6, "
    "routing_version = $7, updated_at = now() WHERE id = $1::bigint";

/* Retries of one item after a serialization failure or deadlock. */
#define ROUTING_RETRIES 3

struct routing_row {
    long long id;
    const char *dimension, *category, *entity, *severity; /* point into the result */
    const char *department, *owner, *notify, *rule;
    json_t *escalation; /* owned; a JSON array of strings */
};

struct routing_run {
    PGconn *conn;
    const struct voc_routing *routing;
    const char *actor;
    bool dry_run;
    int live, changed, failed;
};

static void routing_usage(FILE *out)
{
    fprintf(out, "usage: vocctl [--config DIR] routing apply [--dry-run] [--actor NAME]\n"
                 "\n"
                 "Re-routes every live item (not resolved, verified, closed, wont_fix or merged)\n"
                 "with DIR/routing.yaml: department, owner, notify target and escalation chain.\n"
                 "The assignee is kept. Each change is audited ('routed') and published.\n"
                 "\n"
                 "  --dry-run     print what would change; change nothing\n"
                 "  --actor NAME  who is recorded in the audit trail (default $USER)\n");
}

static const char *routing_val(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col);
}

static int routing_row_read(const PGresult *res, int i, struct routing_row *row)
{
    row->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    row->dimension = routing_val(res, i, 1);
    row->category = routing_val(res, i, 2);
    row->entity = routing_val(res, i, 3);
    row->severity = routing_val(res, i, 4);
    row->department = routing_val(res, i, 5);
    row->owner = routing_val(res, i, 6);
    row->notify = routing_val(res, i, 7);
    row->rule = routing_val(res, i, 9);
    row->escalation = json_loads(PQgetvalue(res, i, 8), 0, NULL);
    if (!json_is_array(row->escalation)) {
        json_decref(row->escalation);
        row->escalation = NULL;
        fprintf(stderr, "vocctl routing: item %lld: unreadable escalation\n", row->id);
        return -1;
    }
    return 0;
}

static bool routing_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool routing_chain_same(const json_t *have, const char *const *want)
{
    size_t n = 0;
    for (; want[n]; n++)
        if (!routing_same(json_string_value(json_array_get(have, n)), want[n]))
            return false;
    return json_array_size(have) == n;
}

static json_t *routing_chain_json(const char *const *chain)
{
    json_t *a = json_array();
    for (size_t i = 0; a && chain[i]; i++)
        if (json_array_append_new(a, json_string(chain[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static bool routing_differs(const struct routing_row *row, const struct voc_route *rt)
{
    return !routing_same(row->department, rt->department) || !routing_same(row->owner, rt->owner) ||
           !routing_same(row->notify, rt->notify) || !routing_same(row->rule, rt->rule) ||
           !routing_chain_same(row->escalation, rt->escalation);
}

static void routing_print_chain(const json_t *chain)
{
    size_t i;
    json_t *v;
    json_array_foreach(chain, i, v) printf("%s%s", i ? ">" : "", json_string_value(v));
}

/* "item 12: network_ops/alice -> teaching/bob (rule x)", plus what else moved. */
static void routing_print(const struct routing_row *row, const struct voc_route *rt)
{
    printf("item %lld: %s/%s -> %s/%s (rule %s", row->id, row->department ? row->department : "-",
           row->owner ? row->owner : "-", rt->department, rt->owner ? rt->owner : "-", rt->rule);
    bool moved =
        !routing_same(row->department, rt->department) || !routing_same(row->owner, rt->owner);
    if (!routing_same(row->notify, rt->notify))
        printf(", notify %s -> %s", row->notify ? row->notify : "-", rt->notify ? rt->notify : "-");
    if (!routing_chain_same(row->escalation, rt->escalation)) {
        json_t *to = routing_chain_json(rt->escalation);
        printf(", escalation ");
        routing_print_chain(row->escalation);
        printf(" -> ");
        routing_print_chain(to);
        json_decref(to);
    } else if (!moved && routing_same(row->notify, rt->notify)) {
        printf(", was %s", row->rule ? row->rule : "-");
    }
    printf(")\n");
}

/* {"from": {...}, "to": {...}} for the audit row, as a malloc'd string. */
static char *routing_audit_json(const struct routing_row *row, const struct voc_route *rt,
                                const char *version)
{
    json_t *to_chain = routing_chain_json(rt->escalation);
    if (!to_chain)
        return NULL;
    json_t *doc = json_pack("{s:{s:s?, s:s?, s:s?, s:O, s:s?}, s:{s:s, s:s?, s:s?, s:o, s:s, s:s}}",
                            "from", "department", row->department, "owner", row->owner, "notify",
                            row->notify, "escalation", row->escalation, "rule", row->rule, "to",
                            "department", rt->department, "owner", rt->owner, "notify", rt->notify,
                            "escalation", to_chain, "rule", rt->rule, "routing_version", version);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

static int routing_update(PGconn *conn, const struct routing_row *row, const struct voc_route *rt,
                          const char *version, enum voc_db_fault *fault, char *err, size_t errlen)
{
    char id[32];
    int rc = -1;
    json_t *chain = routing_chain_json(rt->escalation);
    char *chain_text = chain ? json_dumps(chain, JSON_COMPACT) : NULL;
    json_decref(chain);
    if (!chain_text) {
        snprintf(err, errlen, "out of memory");
        *fault = VOC_DB_FATAL;
        return -1;
    }
    snprintf(id, sizeof id, "%lld", row->id);
    const char *params[] = {id,         rt->department, rt->owner, rt->notify,
                            chain_text, rt->rule,       version};
    PGresult *res = PQexecParams(conn, routing_update_sql, 7, NULL, params, NULL, NULL, 0);
    *fault = voc_db_fault_of(conn, res);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = 0;
    else
        snprintf(err, errlen, "update: %s", PQresultErrorMessage(res));
    PQclear(res);
    free(chain_text);
    return rc;
}

/* Writes one change: the row, its audit and its outbox event. In the caller's
 * transaction. */
static int routing_write(struct routing_run *run, const struct routing_row *row,
                         const struct voc_route *rt, enum voc_db_fault *fault, char *err,
                         size_t errlen)
{
    const char *version = voc_routing_version(run->routing);
    char *data = routing_audit_json(row, rt, version);
    int rc = -1;
    if (!data) {
        snprintf(err, errlen, "out of memory");
        *fault = VOC_DB_FATAL;
        return -1;
    }
    if (routing_update(run->conn, row, rt, version, fault, err, errlen) == 0 &&
        voc_item_audit(run->conn, row->id, "routed", run->actor, "routing rules changed", data,
                       fault, err, errlen) == 0 &&
        voc_item_publish(run->conn, row->id, "routed", fault, err, errlen) == 0)
        rc = 0;
    free(data);
    return rc;
}

/* One item in its own transaction. Returns 1 re-routed, 0 nothing to do (or
 * no longer live), -1 failed with *fault and err set. */
static int routing_apply_item(struct routing_run *run, long long id, enum voc_db_fault *fault,
                              char *err, size_t errlen)
{
    char idtext[32];
    struct routing_row row = {0};
    struct voc_route rt;
    int rc = -1;
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *params[] = {idtext};
    if (voc_db_exec(run->conn, "BEGIN", fault, err, errlen) != 0)
        return -1;
    PGresult *res = PQexecParams(run->conn, routing_lock_sql, 1, NULL, params, NULL, NULL, 0);
    *fault = voc_db_fault_of(run->conn, res);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "lock: %s", PQresultErrorMessage(res));
        goto fail;
    }
    if (PQntuples(res) == 0 || routing_row_read(res, 0, &row) != 0) {
        rc = PQntuples(res) == 0 ? 0 : -1;
        if (rc < 0)
            snprintf(err, errlen, "unreadable escalation");
        goto fail;
    }
    voc_route(run->routing, row.dimension, row.category, row.entity, row.severity, &rt);
    if (!routing_differs(&row, &rt)) {
        rc = 0;
        goto fail;
    }
    if (routing_write(run, &row, &rt, fault, err, errlen) != 0 ||
        voc_db_exec(run->conn, "COMMIT", fault, err, errlen) != 0)
        goto fail;
    routing_print(&row, &rt);
    json_decref(row.escalation);
    PQclear(res);
    return 1;
fail:
    /* Also the way out when there was nothing to do: the lock is released. */
    PQclear(PQexec(run->conn, "ROLLBACK"));
    json_decref(row.escalation);
    PQclear(res);
    return rc;
}

/* Applies one item with retries. Returns 0 to go on, -1 to stop (the
 * connection or the schema is broken: every further item would fail too). */
static int routing_apply_with_retry(struct routing_run *run, long long id)
{
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_OK;
    for (int attempt = 0; attempt <= ROUTING_RETRIES; attempt++) {
        int rc = routing_apply_item(run, id, &fault, err, sizeof err);
        if (rc >= 0) {
            run->changed += rc;
            return 0;
        }
        if (fault != VOC_DB_RETRY)
            break;
    }
    fprintf(stderr, "vocctl routing: item %lld not re-routed: %s\n", id, err);
    run->failed++;
    return fault == VOC_DB_RECONNECT || fault == VOC_DB_FATAL ? -1 : 0;
}

static int routing_apply(struct routing_run *run)
{
    PGresult *res = PQexec(run->conn, routing_list_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "vocctl routing: cannot read the items: %s", PQresultErrorMessage(res));
        PQclear(res);
        return 1;
    }
    run->live = PQntuples(res);
    for (int i = 0; i < run->live; i++) {
        struct routing_row row;
        struct voc_route rt;
        if (routing_row_read(res, i, &row) != 0) {
            run->failed++;
            continue;
        }
        voc_route(run->routing, row.dimension, row.category, row.entity, row.severity, &rt);
        bool differs = routing_differs(&row, &rt);
        if (differs && run->dry_run) {
            routing_print(&row, &rt);
            run->changed++;
        }
        json_decref(row.escalation);
        if (differs && !run->dry_run && routing_apply_with_retry(run, row.id) != 0)
            break;
    }
    PQclear(res);
    printf("routing %s: %d of %d live items %s%s\n", voc_routing_version(run->routing),
           run->changed, run->live, run->dry_run ? "would be re-routed" : "re-routed",
           run->failed ? " (some failed, see above)" : "");
    return run->failed ? 1 : 0;
}

/* Parses `apply [--dry-run] [--actor NAME]`. Returns -1 to go on, else an exit code. */
static int routing_parse(int argc, char **argv, struct routing_run *run)
{
    static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
                                         {"actor", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        routing_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "apply") != 0) {
        routing_usage(stderr);
        return 2;
    }
    /* argv[1] ("apply") plays the program name for getopt. */
    while ((c = getopt_long(argc - 1, argv + 1, "na:h", opts, NULL)) != -1) {
        if (c == 'n') {
            run->dry_run = true;
        } else if (c == 'a' && optarg[0]) {
            run->actor = optarg;
        } else {
            routing_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc - 1) {
        routing_usage(stderr);
        return 2;
    }
    return -1;
}

int vocctl_routing(int argc, char **argv, const char *config_dir)
{
    const char *user = getenv("USER");
    struct routing_run run = {.actor = user && *user ? user : "vocctl"};
    int rc = routing_parse(argc, argv, &run);
    if (rc >= 0)
        return rc;
    struct voc_config cfg = {0};
    struct voc_diag diag = {0};
    struct voc_routing *routing = NULL;
    char path[4096], err[512];
    rc = 2;
    if (voc_config_load(config_dir, &cfg, &diag) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/routing.yaml", cfg.dir);
    routing = voc_routing_load(path, &diag);
    if (!routing)
        goto out;
    rc = 1;
    run.routing = routing;
    run.conn = voc_db_connect(cfg.postgres.dsn, "vocctl", err, sizeof err);
    if (!run.conn) {
        fprintf(stderr, "vocctl routing: cannot connect to PostgreSQL: %s\n", err);
        goto out;
    }
    rc = routing_apply(&run);
out:
    voc_diag_print(&diag, stderr);
    PQfinish(run.conn);
    voc_routing_free(routing);
    voc_config_free(&cfg);
    voc_diag_free(&diag);
    return rc;
}
