/* The bodies voc-notify posts, one builder per format, checked as the
 * receiving service would parse them: WeCom and DingTalk robots (markdown),
 * Feishu bots (text), Slack incoming webhooks (mrkdwn) and the generic JSON
 * webhook; grouping within each service's size limit; mention syntax from
 * complaint text neutralised; and which replies count as accepted. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/notify.h"
#include "testsupport.h"

static struct voc_notify_msg msg(const char *event_id, const char *title)
{
    struct voc_notify_msg m = {.event_id = event_id,
                               .n = {.kind = "sla.escalation",
                                     .department = "network_ops",
                                     .recipient = "netops_manager",
                                     .level = 2,
                                     .subject = "item",
                                     .subject_id = 42,
                                     .title = title,
                                     .severity = "critical",
                                     .due_at = "2026-11-23T10:00:00Z",
                                     .text = "line-1: 48 families stalled"}};
    return m;
}

/* Parses body, which must be valid JSON, and returns the string at a.b
 * (b may be NULL). The caller json_decref()s *root. */
static const char *field(const char *body, json_t **root, const char *a, const char *b)
{
    json_error_t e;
    ck_assert_ptr_nonnull(body);
    *root = json_loads(body, 0, &e);
    ck_assert_msg(*root != NULL, "not JSON: %s", e.text);
    json_t *v = json_object_get(*root, a);
    if (b)
        v = json_object_get(v, b);
    ck_assert_msg(json_is_string(v), "%s.%s is not a string in %s", a, b ? b : "", body);
    return json_string_value(v);
}

START_TEST(wecom_is_a_markdown_robot_message)
{
    struct voc_notify_msg ms[] = {msg("e1", "Line 1 is down"), msg("e2", "二号线卡顿")};
    size_t used;
    json_t *root;
    char *body = voc_notify_body_wecom("network_ops", ms, 2, &used);
    ck_assert_uint_eq(used, 2);
    const char *content = field(body, &root, "markdown", "content");
    ck_assert_str_eq(json_string_value(json_object_get(root, "msgtype")), "markdown");
    ck_assert_ptr_nonnull(strstr(content, "network_ops: 2 notifications"));
    ck_assert_ptr_nonnull(strstr(content, "Line 1 is down"));
    ck_assert_ptr_nonnull(strstr(content, "二号线卡顿"));
    ck_assert_ptr_nonnull(strstr(content, "<font color=\"warning\">[critical]</font>"));
    ck_assert_ptr_nonnull(strstr(content, "netops_manager (level 2)"));
    ck_assert_ptr_nonnull(strstr(content, "item #42"));
    json_decref(root);
    free(body);
}
END_TEST

START_TEST(dingtalk_is_a_markdown_robot_message_with_a_title)
{
    struct voc_notify_msg ms[] = {msg("e1", "Line 1 is down")};
    size_t used;
    json_t *root;
    char *body = voc_notify_body_dingtalk("network_ops", ms, 1, &used);
    ck_assert_uint_eq(used, 1);
    const char *text = field(body, &root, "markdown", "text");
    ck_assert_str_eq(json_string_value(json_object_get(root, "msgtype")), "markdown");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "markdown"), "title")),
                     "VoC: 1 notification");
    ck_assert_ptr_nonnull(strstr(text, "**sla.escalation**"));
    ck_assert_ptr_nonnull(strstr(text, "\n\nLine 1 is down\n\n")); /* paragraphs */
    json_decref(root);
    free(body);
}
END_TEST

START_TEST(feishu_is_a_text_message)
{
    struct voc_notify_msg ms[] = {msg("e1", "Line 1 is down"), msg("e2", "Line 2 too")};
    size_t used;
    json_t *root;
    char *body = voc_notify_body_feishu("network_ops", ms, 2, &used);
    ck_assert_uint_eq(used, 2);
    const char *text = field(body, &root, "content", "text");
    ck_assert_str_eq(json_string_value(json_object_get(root, "msg_type")), "text");
    ck_assert_ptr_nonnull(strstr(text, "Line 1 is down"));
    ck_assert_ptr_nonnull(strstr(text, "Line 2 too"));
    ck_assert_ptr_null(strstr(text, "**")); /* no markup in plain text */
    json_decref(root);
    free(body);
}
END_TEST

START_TEST(slack_is_mrkdwn_text)
{
    struct voc_notify_msg ms[] = {msg("e1", "Refunds & billing <down>")};
    size_t used;
    json_t *root;
    char *body = voc_notify_body_slack("customer_service", ms, 1, &used);
    const char *text = field(body, &root, "text", NULL);
    ck_assert_ptr_nonnull(strstr(text, "*sla.escalation*"));
    ck_assert_ptr_nonnull(strstr(text, "Refunds &amp; billing &lt;down&gt;"));
    json_decref(root);
    free(body);
}
END_TEST

START_TEST(generic_json_carries_every_notice_whole)
{
    struct voc_notify_msg ms[] = {msg("e1", "one"), msg("e2", "two"), msg("e3", "three")};
    size_t used;
    json_t *root;
    char *body = voc_notify_body(VOC_NOTIFY_JSON, "voc-json", "network_ops", ms, 3, &used);
    ck_assert_uint_eq(used, 3);
    ck_assert_str_eq(field(body, &root, "target", NULL), "voc-json");
    ck_assert_str_eq(json_string_value(json_object_get(root, "department")), "network_ops");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "count")), 3);
    json_t *list = json_object_get(root, "notices");
    ck_assert_uint_eq(json_array_size(list), 3);
    json_t *second = json_array_get(list, 1);
    ck_assert_str_eq(json_string_value(json_object_get(second, "event_id")), "e2");
    ck_assert_str_eq(json_string_value(json_object_get(second, "title")), "two");
    ck_assert_str_eq(json_string_value(json_object_get(second, "recipient")), "netops_manager");
    ck_assert_int_eq(json_integer_value(json_object_get(second, "level")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(second, "subject_id")), 42);
    json_decref(root);
    free(body);
}
END_TEST

/* A title in a complaint must not page a whole group chat. */
START_TEST(mention_syntax_in_titles_pages_nobody)
{
    struct voc_notify_msg ms[] = {msg("e1", "<@all> <at user_id=\"all\">everyone</at>")};
    const enum voc_notify_format fs[] = {VOC_NOTIFY_WECOM, VOC_NOTIFY_DINGTALK, VOC_NOTIFY_FEISHU,
                                         VOC_NOTIFY_SLACK};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        size_t used;
        char *body = voc_notify_body(fs[i], "t", "cs", ms, 1, &used);
        ck_assert_ptr_nonnull(body);
        ck_assert_ptr_null(strstr(body, "<@all>"));
        ck_assert_ptr_null(strstr(body, "<at "));
        free(body);
    }
}
END_TEST

/* 60 long notices: WeCom takes what fits its 4096-byte markdown limit, each
 * message at least one, and the messages together carry every notice. */
START_TEST(a_large_group_is_split_within_the_size_limit)
{
    enum { N = 60 };
    struct voc_notify_msg ms[N];
    char titles[N][400], ids[N][16];
    for (size_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "e%zu", i);
        /* 3-byte characters, longer than the title limit: clipped on a
         * character boundary (jansson refuses invalid UTF-8). */
        size_t len = 0;
        while (len + 3 < sizeof titles[i])
            len += (size_t)snprintf(titles[i] + len, sizeof titles[i] - len, "卡");
        ms[i] = msg(ids[i], titles[i]);
    }
    size_t at = 0, messages = 0;
    while (at < N) {
        size_t used;
        json_t *root;
        char *body = voc_notify_body_wecom("teaching", ms + at, N - at, &used);
        const char *content = field(body, &root, "markdown", "content");
        ck_assert_uint_ge(used, 1);
        ck_assert_uint_le(strlen(content), 4096);
        ck_assert_ptr_nonnull(strstr(content, "\xE2\x80\xA6")); /* the clipped title's mark */
        json_decref(root);
        free(body);
        at += used;
        messages++;
    }
    ck_assert_uint_eq(at, N);
    ck_assert_uint_gt(messages, 1);
}
END_TEST

START_TEST(missing_fields_still_make_a_message)
{
    struct voc_notify_msg m = {.event_id = "e1", .n = {.department = "teaching"}};
    size_t used;
    json_t *root;
    char *body = voc_notify_body_wecom("teaching", &m, 1, &used);
    ck_assert_ptr_nonnull(strstr(field(body, &root, "markdown", "content"), "(no title)"));
    json_decref(root);
    free(body);
    ck_assert_ptr_null(voc_notify_body_wecom("teaching", &m, 0, &used));
}
END_TEST

static bool accepted(enum voc_notify_format f, long status, const char *body, const char *why)
{
    char err[256] = "";
    bool ok = voc_notify_check_reply(f, status, body, err, sizeof err) == 0;
    if (why)
        ck_assert_str_eq(err, why);
    return ok;
}

START_TEST(replies_are_judged_per_service)
{
    ck_assert(accepted(VOC_NOTIFY_WECOM, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", NULL));
    ck_assert(!accepted(VOC_NOTIFY_WECOM, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out\"}",
                        "errcode=45009 errmsg=api freq out"));
    ck_assert(!accepted(VOC_NOTIFY_DINGTALK, 200, "<html>portal</html>",
                        "HTTP 200 without 'errcode' in the reply: <html>portal</html>"));
    ck_assert(!accepted(VOC_NOTIFY_DINGTALK, 200, NULL,
                        "HTTP 200 without 'errcode' in the reply: (empty)"));
    ck_assert(accepted(VOC_NOTIFY_FEISHU, 200, "{\"code\":0,\"msg\":\"success\"}", NULL));
    ck_assert(accepted(VOC_NOTIFY_FEISHU, 200, "{\"StatusCode\":0}", NULL));
    ck_assert(!accepted(VOC_NOTIFY_FEISHU, 200, "{\"code\":19021,\"msg\":\"sign match fail\"}",
                        "code=19021 msg=sign match fail"));
    ck_assert(accepted(VOC_NOTIFY_SLACK, 200, "ok", NULL));
    ck_assert(!accepted(VOC_NOTIFY_SLACK, 403, "invalid_token", "HTTP 403: invalid_token"));
    ck_assert(accepted(VOC_NOTIFY_JSON, 204, NULL, NULL));
    ck_assert(!accepted(VOC_NOTIFY_JSON, 500, "line1\nline2", "HTTP 500: line1 line2"));
    ck_assert(!accepted(VOC_NOTIFY_WECOM, 502, NULL, "HTTP 502"));
}
END_TEST

static Suite *notify_format_suite(void)
{
    Suite *s = suite_create("notify_format");
    TCase *c = tcase_create("formats");
    tcase_add_test(c, wecom_is_a_markdown_robot_message);
    tcase_add_test(c, dingtalk_is_a_markdown_robot_message_with_a_title);
    tcase_add_test(c, feishu_is_a_text_message);
    tcase_add_test(c, slack_is_mrkdwn_text);
    tcase_add_test(c, generic_json_carries_every_notice_whole);
    tcase_add_test(c, mention_syntax_in_titles_pages_nobody);
    tcase_add_test(c, a_large_group_is_split_within_the_size_limit);
    tcase_add_test(c, missing_fields_still_make_a_message);
    tcase_add_test(c, replies_are_judged_per_service);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return ts_run_suite(notify_format_suite());
}
