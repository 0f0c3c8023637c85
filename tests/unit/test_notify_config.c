/* The notification targets file (deploy/config/notify.yaml): the shipped one
 * loads and defines every target routing.yaml names; a URL or a token in the
 * file, and every other mistake, is refused with file:line messages that
 * never quote the secret; notifications find their department's target. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voc/notify.h"
#include "voc/routing.h"
#include "testsupport.h"

#define CONFIG  VOC_TEST_SOURCE_DIR "/deploy/config/notify.yaml"
#define ROUTING VOC_TEST_SOURCE_DIR "/deploy/config/routing.yaml"
#define BAD_DIR VOC_TEST_SOURCE_DIR "/tests/data/notify_bad"

static struct voc_routing *shipped_routing(void)
{
    struct voc_diag d = {0};
    struct voc_routing *r = voc_routing_load(ROUTING, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(shipped_targets_load_and_cover_routing)
{
    struct voc_notify_targets t;
    struct voc_diag d = {0};
    struct voc_routing *r = shipped_routing();
    ck_assert_int_eq(voc_notify_targets_load(CONFIG, &t, &d), 0);
    ck_assert_int_eq(voc_notify_targets_check_routing(&t, CONFIG, r, &d), 0);
    ck_assert_uint_eq(d.count, 0);
    const struct voc_notify_target *w = voc_notify_target_find(&t, "wecom-teaching");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->format, VOC_NOTIFY_WECOM);
    ck_assert_str_eq(w->url_env, "VOC_WEBHOOK_WECOM_TEACHING");
    ck_assert_int_eq(voc_notify_target_find(&t, "feishu-product-rd")->format, VOC_NOTIFY_FEISHU);
    ck_assert_int_eq(voc_notify_target_find(&t, "dingtalk-netops")->format, VOC_NOTIFY_DINGTALK);
    ck_assert_int_eq(voc_notify_target_find(&t, "slack-voc-leads")->format, VOC_NOTIFY_SLACK);
    ck_assert_int_eq(voc_notify_target_find(&t, "voc-json")->format, VOC_NOTIFY_JSON);
    ck_assert_ptr_null(voc_notify_target_find(&t, "nobody"));
    voc_notify_targets_free(&t);
    voc_routing_free(r);
}
END_TEST

START_TEST(a_target_routing_names_must_be_defined)
{
    char path[] = "/tmp/voc-notify-partial-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ts_write_file(path, "targets:\n"
                        "  wecom-teaching: {format: wecom, url_env: VOC_WEBHOOK_A}\n"
                        "  feishu-product-rd: {format: feishu, url_env: VOC_WEBHOOK_B}\n"
                        "  dingtalk-netops: {format: dingtalk, url_env: VOC_WEBHOOK_C}\n"
                        "  wecom-cs: {format: wecom, url_env: VOC_WEBHOOK_D}\n"
                        "  wecom-cs-finance: {format: wecom, url_env: VOC_WEBHOOK_E}\n");
    struct voc_notify_targets t;
    struct voc_diag d = {0};
    struct voc_routing *r = shipped_routing();
    ck_assert_int_eq(voc_notify_targets_load(path, &t, &d), 0);
    ck_assert_int_eq(voc_notify_targets_check_routing(&t, path, r, &d), -1);
    ck_assert_uint_eq(d.count, 2);
    char want[512];
    snprintf(want, sizeof want,
             "%s: no target 'wecom-voc-triage', which routing.yaml names: its notifications "
             "would have nowhere to go",
             path);
    ck_assert_str_eq(d.lines[0], want);
    ck_assert_ptr_nonnull(strstr(d.lines[1], "'dingtalk-netops-intl'"));
    voc_diag_free(&d);
    voc_notify_targets_free(&t);
    voc_routing_free(r);
    remove(path);
}
END_TEST

START_TEST(a_department_finds_its_target)
{
    struct voc_routing *r = shipped_routing();
    ck_assert_str_eq(voc_routing_department_notify(r, "teaching"), "wecom-teaching");
    ck_assert_str_eq(voc_routing_department_notify(r, "network_ops"), "dingtalk-netops");
    ck_assert_str_eq(voc_routing_department_notify(r, "triage"), "wecom-voc-triage");
    /* Someone always hears: unknown departments go to triage's target. */
    ck_assert_str_eq(voc_routing_department_notify(r, "no_such_team"), "wecom-voc-triage");
    ck_assert_str_eq(voc_routing_department_notify(r, NULL), "wecom-voc-triage");
    voc_routing_free(r);
}
END_TEST

static const struct ts_bad_file bad[] = {
    {"url_in_file.yaml",
     {("4: a URL does not belong in notify.yaml: webhook URLs carry their secret token; put it "
       "in the environment variable named by url_env"),
      "4: target 'wecom-teaching': url_env must name a variable VOC_WEBHOOK_<A-Z 0-9 _>"}},
    {"url_key.yaml",
     {("5: a URL does not belong in notify.yaml: webhook URLs carry their secret token; put it "
       "in the environment variable named by url_env"),
      "5: unknown key 'url' in target 'slack-voc-leads'"}},
    {"token_in_file.yaml",
     {("6: this value looks like a secret token: secrets belong in the environment (url_env), "
       "never in notify.yaml"),
      "6: unknown key 'token' in target 'dingtalk-netops'"}},
    {"bad_values.yaml",
     {"2: target name 'Wecom Teaching' must be 1-64 characters of a-z, 0-9, '_' and '-'",
      ("6: target 'feishu-product-rd': unknown format 'lark' (expected json, wecom, dingtalk, "
       "feishu or slack)"),
      "7: target 'feishu-product-rd': url_env must name a variable VOC_WEBHOOK_<A-Z 0-9 _>",
      "8: target 'dingtalk-netops': missing required key 'format'",
      "9: target 'dingtalk-netops': url_env must name a variable VOC_WEBHOOK_<A-Z 0-9 _>",
      "10: target 'wecom-cs' must be a mapping"}},
    {"missing_targets.yaml",
     {"2: unknown key 'delivery' in notify.yaml", "2: missing required key 'targets'"}},
    {"empty.yaml", {" empty file: notify.yaml needs 'targets'"}},
    {"syntax_error.yaml",
     {"3: YAML syntax: did not find expected ',' or '}' while parsing a flow mapping"}},
    {"duplicate_target.yaml", {"5: duplicate key 'wecom-cs' (first at line 2)"}},
};
#define NBAD (sizeof bad / sizeof bad[0])

static bool targets_load(const char *path, struct voc_diag *d)
{
    struct voc_notify_targets t;
    int rc = voc_notify_targets_load(path, &t, d);
    ck_assert_uint_eq(t.n, 0); /* nothing half-loaded is handed out */
    voc_notify_targets_free(&t);
    return rc == 0;
}

START_TEST(broken_notify_files_are_refused_without_quoting_secrets)
{
    ts_expect_refused(BAD_DIR, &bad[_i], targets_load);
}
END_TEST

/* The secrets in the bad files never reach a diagnostic. */
START_TEST(diagnostics_never_quote_a_secret)
{
    static const char *const files[] = {"url_in_file.yaml", "url_key.yaml", "token_in_file.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        struct voc_diag d = {0};
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, files[i]);
        targets_load(path, &d);
        for (size_t k = 0; k < d.count; k++) {
            ck_assert_ptr_null(strstr(d.lines[k], "qyapi"));
            ck_assert_ptr_null(strstr(d.lines[k], "693a91f6"));
            ck_assert_ptr_null(strstr(d.lines[k], "hooks.example"));
            ck_assert_ptr_null(strstr(d.lines[k], "7f3c9a0b"));
        }
        voc_diag_free(&d);
    }
}
END_TEST

static Suite *notify_config_suite(void)
{
    Suite *s = suite_create("notify_config");
    TCase *c = tcase_create("config");
    tcase_add_test(c, shipped_targets_load_and_cover_routing);
    tcase_add_test(c, a_target_routing_names_must_be_defined);
    tcase_add_test(c, a_department_finds_its_target);
    tcase_add_loop_test(c, broken_notify_files_are_refused_without_quoting_secrets, 0, (int)NBAD);
    tcase_add_test(c, diagnostics_never_quote_a_secret);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return ts_run_suite(notify_config_suite());
}
