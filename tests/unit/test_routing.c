/* The shipped routing.yaml sends every kind of item to the department an
 * owner would expect, broken routing files are refused with every problem at
 * its line, and `vocctl routing apply` re-routes live items in a real database
 * (PG* environment, e.g. pg_virtualenv: with no server the test FAILS). */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "voc/db.h"
#include "voc/routing.h"
#include "testsupport.h"

#define CONFIG_DIR VOC_TEST_SOURCE_DIR "/deploy/config"
#define CONFIG     CONFIG_DIR "/routing.yaml"
#define BAD_DIR    VOC_TEST_SOURCE_DIR "/tests/data/routing_bad"
#define VOCCTL     VOC_TEST_BINARY_DIR "/vocctl"

static struct voc_routing *shipped;

static void setup(void)
{
    struct voc_diag d = {0};
    shipped = voc_routing_load(CONFIG, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
}

static void teardown(void)
{
    voc_routing_free(shipped);
}

static struct voc_route route(const char *dim, const char *cat, const char *entity, const char *sev)
{
    struct voc_route r;
    ck_assert_ptr_nonnull(shipped);
    memset(&r, 0, sizeof r);
    voc_route(shipped, dim, cat, entity, sev, &r);
    return r;
}

/* The chain as "a>b>c", to compare in one assertion. */
static const char *chain(const struct voc_route *r)
{
    static char buf[256];
    buf[0] = '\0';
    for (size_t i = 0; r->escalation && r->escalation[i]; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ">" : "",
                 r->escalation[i]);
    return buf;
}

#define ck_route(r, rule_, dept, owner_, notify_, chain_)                                          \
    do {                                                                                           \
        ck_assert_str_eq((r).rule, rule_);                                                         \
        ck_assert_str_eq((r).department, dept);                                                    \
        ck_assert_str_eq((r).owner, owner_);                                                       \
        ck_assert_str_eq((r).notify, notify_);                                                     \
        ck_assert_str_eq(chain(&(r)), chain_);                                                     \
    } while (0)

#define NETOPS_CHAIN "handler>owner>netops_manager>voc_lead"
#define CS_CHAIN     "handler>owner>cs_director>voc_lead"

START_TEST(shipped_config_loads)
{
    ck_assert_ptr_nonnull(shipped);
    ck_assert_str_eq(voc_routing_version(shipped), "2026.11-1");
}
END_TEST

START_TEST(each_dimension_goes_to_its_department)
{
    struct voc_route r = route("line", "stall", "cn-north-ct-03", "medium");
    ck_route(r, "line", "network_ops", "netops-oncall", "dingtalk-netops", NETOPS_CHAIN);
    ck_assert(!r.triage);
    r = route("product", "app_bug", "com.example.classroom", "high");
    ck_route(r, "product", "product_rd", "product-lead", "feishu-product-rd",
             "handler>owner>rd_director>voc_lead");
    r = route("class", "teacher_quality", "lesson-88/teacher-7", "low");
    ck_route(r, "class", "teaching", "teaching-lead", "wecom-teaching",
             "handler>owner>teaching_director>voc_lead");
    r = route("service", "response_time", "hotline", "medium");
    ck_route(r, "service", "customer_service", "cs-lead", "wecom-cs", CS_CHAIN);
    ck_assert(!r.triage);
}
END_TEST

START_TEST(unmatched_items_go_to_triage)
{
    struct voc_route r = route("unclassified", "unclassified", NULL, "low");
    ck_route(r, "triage", "triage", "voc-lead", "wecom-voc-triage", "handler>voc_lead>cs_director");
    ck_assert(r.triage);
    /* Even a critical one, and one whose dimension is missing. */
    ck_assert(route("unclassified", "unclassified", "x", "critical").triage);
    ck_assert(route(NULL, NULL, NULL, NULL).triage);
}
END_TEST

START_TEST(first_matching_rule_wins)
{
    /* refund_critical sits above `product`: a critical refund is customer
     * service's, with the department's chain and the rule's owner and target. */
    struct voc_route r = route("product", "refund", "course-42", "critical");
    ck_route(r, "refund_critical", "customer_service", "cs-finance-lead", "wecom-cs-finance",
             CS_CHAIN);
    r = route("product", "pricing_billing", NULL, "critical");
    ck_assert_str_eq(r.rule, "refund_critical");
    /* Same severity, other category: the next rule in file order. */
    r = route("product", "app_bug", NULL, "critical");
    ck_route(r, "product", "product_rd", "product-lead", "feishu-product-rd",
             "handler>owner>rd_director>voc_lead");
    /* A category in another dimension does not match either. */
    ck_assert_str_eq(route("service", "refund", NULL, "critical").rule, "service");
}
END_TEST

START_TEST(severity_at_least_is_a_floor)
{
    static const char *const below[] = {"low", "medium", "high"};
    for (size_t i = 0; i < 3; i++) {
        struct voc_route r = route("product", "refund", NULL, below[i]);
        ck_assert_msg(strcmp(r.rule, "product") == 0, "%s refund went to %s", below[i], r.rule);
        ck_assert_str_eq(r.owner, "product-lead");
    }
    ck_assert_str_eq(route("product", "refund", NULL, "critical").rule, "refund_critical");
    /* An unknown or missing severity never reaches a floor. */
    ck_assert_str_eq(route("product", "refund", NULL, "urgent").rule, "product");
    ck_assert_str_eq(route("product", "refund", NULL, NULL).rule, "product");
}
END_TEST

START_TEST(entity_globs_pick_overseas_lines)
{
    struct voc_route r = route("line", "stall", "intl-sg-01", "low");
    ck_route(r, "overseas_lines", "network_ops", "netops-intl", "dingtalk-netops-intl",
             NETOPS_CHAIN);
    ck_assert_str_eq(route("line", "audio", "cn-overseas-07", "high").owner, "netops-intl");
    /* Globs are anchored, and an item without an entity matches no pattern. */
    ck_assert_str_eq(route("line", "stall", "cn-intl-sg-01", "low").rule, "line");
    ck_assert_str_eq(route("line", "stall", "cn-north-ct-03", "low").rule, "line");
    ck_assert_str_eq(route("line", "stall", NULL, "low").rule, "line");
    /* The pattern is for lines only: a product called intl-* is R&D's. */
    ck_assert_str_eq(route("product", "app_bug", "intl-app", "low").rule, "product");
}
END_TEST

/* ---- broken routing files: every problem, with its line ---- */

static const struct ts_bad_file bad[] = {
    {"missing_version.yaml", {"2: missing required key 'version'"}},
    {"missing_triage.yaml", {"2: missing required key 'triage'"}},
    {"unknown_keys.yaml",
     {"2: unknown key 'colour' in the routing file",
      "6: unknown key 'phone' in department 'network_ops'", "10: unknown key 'priority' in a rule",
      "13: unknown key 'tier' in match", "17: unknown key 'escalation' in triage"}},
    {"unknown_department.yaml",
     {"7: rule 'line': unknown department 'network'",
      "8: rule 'product': missing required key 'department'",
      "11: triage: unknown department 'triage_desk'"}},
    {"duplicate_rule.yaml",
     {"8: duplicate rule name 'line' (first at line 5)",
      "11: rule name 'triage' must be 1-64 characters of a-z, 0-9, '_' and '-', and not "
      "'triage'"}},
    {"bad_severity.yaml",
     {"6: rule 'urgent_refunds': unknown severity 'urgent' (expected low, medium, high or "
      "critical)",
      "9: rule 'big_bugs': unknown severity '(not a value)' (expected low, medium, high or "
      "critical)"}},
    {"empty_pattern.yaml",
     {"7: rule 'overseas': empty entity pattern",
      "11: rule 'nothing': empty list for 'entity': the rule could never match",
      "14: rule 'blank_category': empty category"}},
    {"department_without_owner.yaml",
     {"3: department 'teaching' has no owner", "7: department 'network_ops': empty 'owner'",
      "9: department 'network_ops': escalation entries must be non-empty names"}},
    {"bad_dimension.yaml",
     {"6: rule 'network': unknown dimension 'network' (expected class, product, line, service "
      "or unclassified)",
      "9: rule 'everything': empty 'match' would take every item"}},
    {"triage_without_notify.yaml",
     {"7: triage: no notify target (here or on department 'triage'): an unmatched item must "
      "alert someone"}},
    {"syntax_error.yaml",
     {"6: YAML syntax: did not find expected ',' or ']' while parsing a flow sequence"}},
};
#define NBAD (sizeof bad / sizeof bad[0])

/* Whether voc_routing_load accepts path; the result is not kept. */
static bool routing_loads(const char *path, struct voc_diag *d)
{
    struct voc_routing *loaded = voc_routing_load(path, d);
    bool accepted = loaded != NULL;
    voc_routing_free(loaded);
    return accepted;
}

START_TEST(broken_routing_files_are_refused)
{
    ts_expect_refused(BAD_DIR, &bad[_i], routing_loads);
}
END_TEST

/* ---- vocctl routing apply against a real database ---- */

#define TEST_DB "voc_test_routing"

/* text with its one occurrence of from replaced by to (malloc'd). */
static char *replace_once(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' not in the shipped routing.yaml", from);
    size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(len);
    ck_assert_ptr_nonnull(out);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

/* A copy of deploy/config whose routing sends ordinary line items to
 * teaching's bob: what an operator does after a reorganisation. */
static void make_config(char *dir)
{
    char cmd[1024], path[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s'", CONFIG_DIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/routing.yaml", dir);
    char *text = ts_read_file(path, NULL);
    text = replace_once(text, "\nversion: \"2026.11-1\"", "\nversion: \"2026.12-1\"");
    text = replace_once(text,
                        "  - name: line\n    match:\n      dimension: [line]\n"
                        "    department: network_ops\n",
                        "  - name: line\n    match:\n      dimension: [line]\n"
                        "    department: teaching\n    owner: bob\n");
    ts_write_file(path, text);
    free(text);
}

/* An item routed as the shipped routing.yaml would route it; returns its id. */
static char *insert_item(PGconn *c, const char *fp, const char *dim, const char *cat,
                         const char *entity, const char *state, const char *assignee)
{
    struct voc_route r = route(dim, cat, entity, "high");
    char esc[256] = "[";
    for (size_t i = 0; r.escalation[i]; i++)
        snprintf(esc + strlen(esc), sizeof esc - strlen(esc), "%s\"%s\"", i ? "," : "",
                 r.escalation[i]);
    strcat(esc, "]");
    const char *params[] = {fp,      dim,      cat, entity, state,   r.department,
                            r.owner, r.notify, esc, r.rule, assignee};
    return ts_sql_valn(
        c,
        "INSERT INTO voc.item (fingerprint, dimension, category, entity, title, state, "
        "severity, department, owner, notify, escalation, routing_rule, routing_version, "
        "assignee, match_rule, match_version, first_seen, last_seen) VALUES ($1, $2, $3, $4, "
        "'a title', $5, 'high', $6, $7, $8, ARRAY(SELECT jsonb_array_elements_text($9::jsonb)), "
        "$10, '2026.11-1', $11, 'exact', 'm1', now(), now()) RETURNING id",
        11, params);
}

/* Runs vocctl with the test database; returns its exit code, output in out. */
static int vocctl(const char *dir, const char *args, char *out, size_t outlen)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --config '%s' %s 2>&1", VOCCTL, dir, args);
    setenv("VOC_PG_DSN", "dbname=" TEST_DB, 1);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char item_sql[] =
    "SELECT department || '/' || coalesce(owner, '-') || '/' || coalesce(notify, '-') || '/' || "
    "array_to_string(escalation, '>') || '/' || routing_rule || '/' || routing_version || '/' "
    "|| coalesce(assignee, '-') FROM voc.item WHERE id = $1::bigint";

static void expect_counts(PGconn *c, const char *routed, const char *outbox)
{
    ts_expect_val(c, "SELECT count(*) FROM voc.item_event WHERE kind = 'routed'", NULL, routed);
    ts_expect_val(c, "SELECT count(*) FROM voc.outbox", NULL, outbox);
}

/* Items the shipped routing placed: two live, two that must not move. */
struct seed {
    char *line, *lesson, *done, *merged; /* ids */
};

static void seed_db(PGconn *c, struct seed *s)
{
    s->line = insert_item(c, "f-line", "line", "stall", "cn-north-ct-03", "in_progress", "alice");
    s->lesson = insert_item(c, "f-class", "class", "content", "lesson-88", "open", NULL);
    s->done = insert_item(c, "f-done", "line", "stall", "cn-north-ct-04", "resolved", "carol");
    s->merged = insert_item(c, "f-merged", "line", "audio", "cn-east-cu-01", "open", NULL);
    const char *mp[] = {s->lesson, s->merged};
    PGresult *r = PQexecParams(c,
                               "UPDATE voc.item SET merged_into = $1::bigint WHERE id = "
                               "$2::bigint",
                               2, NULL, mp, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "merge: %s", PQerrorMessage(c));
    PQclear(r);
}

static void seed_free(struct seed *s)
{
    free(s->line);
    free(s->lesson);
    free(s->done);
    free(s->merged);
}

/* After the real run: the line item moved, its handler stayed, nothing else moved. */
static void expect_rerouted(PGconn *c, const struct seed *s)
{
    char want[128];
    ts_expect_val(c, item_sql, s->line,
                  "teaching/bob/wecom-teaching/handler>owner>teaching_director>voc_lead/line/"
                  "2026.12-1/alice");
    ts_expect_val(c, "SELECT routing_version FROM voc.item WHERE id = $1::bigint", s->lesson,
                  "2026.11-1");
    ts_expect_val(c, "SELECT department FROM voc.item WHERE id = $1::bigint", s->done,
                  "network_ops");
    ts_expect_val(c, "SELECT department FROM voc.item WHERE id = $1::bigint", s->merged,
                  "network_ops");
    expect_counts(c, "1", "1");
    ts_expect_val(c,
                  "SELECT actor || ' ' || (data->'from'->>'department') || '/' || "
                  "(data->'from'->>'owner') || ' -> ' || (data->'to'->>'department') || '/' || "
                  "(data->'to'->>'owner') FROM voc.item_event WHERE kind = 'routed' AND item_id = "
                  "$1::bigint",
                  s->line, "ops-ann network_ops/netops-oncall -> teaching/bob");
    snprintf(want, sizeof want, "item.routed %s", s->line);
    ts_expect_val(c, "SELECT type || ' ' || key FROM voc.outbox", NULL, want);
}

START_TEST(apply_reroutes_live_items)
{
    char dir[] = "/tmp/voc_test_routingXXXXXX", out[4096], want[1024];
    struct seed s;
    struct ts_db t;
    ts_db_open(&t, TEST_DB);
    PGconn *c = t.conn;
    seed_db(c, &s);
    char *before = ts_sql_val(c, item_sql, s.line);
    make_config(dir);

    snprintf(want, sizeof want,
             "item %s: network_ops/netops-oncall -> teaching/bob (rule line, notify "
             "dingtalk-netops -> wecom-teaching, escalation handler>owner>netops_manager>voc_lead "
             "-> handler>owner>teaching_director>voc_lead)\n"
             "routing 2026.12-1: 1 of 2 live items would be re-routed\n",
             s.line);
    ck_assert_int_eq(vocctl(dir, "routing apply --dry-run", out, sizeof out), 0);
    ck_assert_str_eq(out, want);
    ts_expect_val(c, item_sql, s.line, before); /* a dry run writes nothing */
    expect_counts(c, "0", "0");

    ck_assert_int_eq(vocctl(dir, "routing apply --actor ops-ann", out, sizeof out), 0);
    strcpy(strstr(want, "would be re-routed"), "re-routed\n");
    ck_assert_str_eq(out, want);
    expect_rerouted(c, &s);

    /* Nothing left to do: a second run changes nothing and says so. */
    ck_assert_int_eq(vocctl(dir, "routing apply", out, sizeof out), 0);
    ck_assert_str_eq(out, "routing 2026.12-1: 0 of 2 live items re-routed\n");
    expect_counts(c, "1", "1");

    seed_free(&s);
    free(before);
    ts_remove_dir(dir);
    ts_db_close(&t);
}
END_TEST

START_TEST(apply_refuses_a_broken_routing_file)
{
    char dir[] = "/tmp/voc_test_routingXXXXXX", cmd[1024], out[4096], want[1024];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "cp '%s/voc.yaml' '%s/' && cp '%s/unknown_department.yaml' '%s/routing.yaml'",
             CONFIG_DIR, dir, BAD_DIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    /* Exit 2 before touching any database: the problems are in the file. */
    ck_assert_int_eq(vocctl(dir, "routing apply", out, sizeof out), 2);
    snprintf(want, sizeof want, "%s/routing.yaml:7: rule 'line': unknown department 'network'\n",
             dir);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "got: %s", out);
    ck_assert_int_eq(vocctl(dir, "routing", out, sizeof out), 2);
    ck_assert_int_eq(vocctl(dir, "routing apply extra", out, sizeof out), 2);
    ts_remove_dir(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("routing");
    TCase *tc = tcase_create("route");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, shipped_config_loads);
    tcase_add_test(tc, each_dimension_goes_to_its_department);
    tcase_add_test(tc, unmatched_items_go_to_triage);
    tcase_add_test(tc, first_matching_rule_wins);
    tcase_add_test(tc, severity_at_least_is_a_floor);
    tcase_add_test(tc, entity_globs_pick_overseas_lines);
    tcase_add_loop_test(tc, broken_routing_files_are_refused, 0, (int)NBAD);
    suite_add_tcase(s, tc);
    TCase *apply = tcase_create("apply");
    tcase_add_unchecked_fixture(apply, setup, teardown);
    tcase_set_timeout(apply, 60);
    tcase_add_test(apply, apply_reroutes_live_items);
    tcase_add_test(apply, apply_refuses_a_broken_routing_file);
    suite_add_tcase(s, apply);
    return s;
}

int main(void)
{
    return ts_run_suite(suite());
}
