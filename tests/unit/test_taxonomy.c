/* The shipped taxonomy classifies what customers actually say the way an owner
 * would expect, every broken taxonomy is refused with all its problems, and the
 * shared demo events classify as tests/data/samples_expected.tsv says. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voc/taxonomy.h"
#include "voc/textnorm.h"
#include "testsupport.h"

#define CONFIG  VOC_TEST_SOURCE_DIR "/deploy/config/taxonomy.yaml"
#define BAD_DIR VOC_TEST_SOURCE_DIR "/tests/data/taxonomy_bad"
#define SAMPLES VOC_TEST_SOURCE_DIR "/deploy/samples/events.ndjson"
#define EXPECT  VOC_TEST_SOURCE_DIR "/tests/data/samples_expected.tsv"

static struct voc_taxonomy *tax;
static struct voc_textnorm *tn;

static void setup(void)
{
    struct voc_diag d = {0};
    char err[256];
    tax = voc_taxonomy_load(CONFIG, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
    tn = voc_textnorm_new(err, sizeof err);
    if (!tn)
        fprintf(stderr, "textnorm: %s\n", err);
}

static void teardown(void)
{
    voc_taxonomy_free(tax);
    voc_textnorm_free(tn);
}

static struct voc_event event(enum voc_event_type type)
{
    struct voc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.issue_duration_ms = -1;
    return ev;
}

/* Classifies ev with raw text as the ingest path would: normalised first. */
static struct voc_classification classify_with(const struct voc_taxonomy *t,
                                               const struct voc_event *ev, const char *raw)
{
    struct voc_classification c;
    char *norm = NULL;
    size_t len;
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(tn);
    if (raw) {
        norm = voc_textnorm_apply(tn, raw, strlen(raw), &len);
        ck_assert_ptr_nonnull(norm);
    }
    voc_classify(t, ev, norm, &c);
    free(norm);
    return c;
}

static struct voc_classification classify(const struct voc_event *ev, const char *raw)
{
    return classify_with(tax, ev, raw);
}

static struct voc_classification complaint(const char *raw)
{
    struct voc_event ev = event(VOC_EV_COMPLAINT);
    return classify(&ev, raw);
}

#define ck_category(c, dim, cat)                                                                   \
    do {                                                                                           \
        ck_assert_str_eq((c).dimension, dim);                                                      \
        ck_assert_str_eq((c).category, cat);                                                       \
    } while (0)
#define ck_rule_prefix(c, prefix)                                                                  \
    ck_assert_msg(strncmp((c).rule, prefix, strlen(prefix)) == 0, "rule '%s' should start '%s'",   \
                  (c).rule, prefix)

START_TEST(shipped_config_loads)
{
    ck_assert_ptr_nonnull(tax);
    ck_assert_str_ne(voc_taxonomy_version(tax), "");
}
END_TEST

START_TEST(field_rules_from_structured_reports)
{
    struct voc_event ev = event(VOC_EV_TECH_ISSUE);
    ev.issue_kind = "video_stall";
    ev.issue_severity = "low";
    ev.line = "cn-north-ct-03";
    struct voc_classification c = classify(&ev, "孩子说老师讲得不错"); /* the field decides */
    ck_category(c, "line", "stall");
    ck_assert_str_eq(c.rule, "field:stall_on_line");
    ev.issue_kind = "audio_drop";
    c = classify(&ev, NULL);
    ck_assert_str_eq(c.rule, "field:audio_on_line");
    ck_category(c, "line", "audio");
    ev.line = NULL;
    ev.issue_kind = "disconnect";
    c = classify(&ev, NULL);
    ck_assert_str_eq(c.rule, "field:disconnect");
    ev.issue_kind = "crash";
    c = classify(&ev, NULL);
    ck_category(c, "product", "app_bug");
    ck_assert_str_eq(c.rule, "field:app_crash");
    ck_assert_str_eq(c.severity, "high"); /* the rule's own severity */
    ev.issue_kind = "login";
    ck_assert_str_eq(classify(&ev, NULL).rule, "field:login_failure");
    ev.issue_kind = "payment";
    c = classify(&ev, NULL);
    ck_category(c, "product", "pricing_billing");
    ck_assert_str_eq(c.rule, "field:payment_failure");
}
END_TEST

START_TEST(stall_without_a_line_is_decided_by_its_words)
{
    struct voc_event ev = event(VOC_EV_TECH_ISSUE);
    ev.issue_kind = "video_stall";
    struct voc_classification c = classify(&ev, "更新后一打开就闪退");
    ck_category(c, "product", "app_bug");
    ck_rule_prefix(c, "keyword:app_bug(score=");
    c = classify(&ev, NULL);
    ck_category(c, "unclassified", "unclassified");
    ck_assert_str_eq(c.rule, "none");
}
END_TEST

START_TEST(ratings_without_words_go_by_aspect)
{
    static const struct {
        const char *aspect, *dim, *cat;
    } want[] = {
        {"teacher", "class", "teacher_quality"}, {"content", "class", "content"},
        {"app", "product", "app_bug"},           {"network", "line", "stall"},
        {"service", "service", "attitude"},      {"overall", "unclassified", "unclassified"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct voc_event ev = event(VOC_EV_RATING);
        ev.rating_score = 2;
        ev.rating_aspect = want[i].aspect;
        struct voc_classification c = classify(&ev, NULL);
        ck_category(c, want[i].dim, want[i].cat);
    }
    /* With words, the words are more specific than the aspect. */
    struct voc_event ev = event(VOC_EV_RATING);
    ev.rating_score = 1;
    ev.rating_aspect = "teacher";
    struct voc_classification c = classify(&ev, "老师经常迟到，还提前下课");
    ck_category(c, "class", "schedule");
    ck_rule_prefix(c, "keyword:schedule(");
}
END_TEST

START_TEST(chinese_keywords_route_to_the_owner)
{
    ck_category(complaint("上课的时候视频一直卡顿"), "line", "stall");
    ck_category(complaint("老师口音太重，孩子听不懂"), "class", "teacher_quality");
    ck_category(complaint("老师对孩子很凶"), "class", "teacher_attitude");
    ck_category(complaint("客服态度很差，一直敷衍"), "service", "attitude");
    ck_category(complaint("客服一直没人回复"), "service", "response_time");
    ck_category(complaint("说好的每周两次辅导没兑现"), "service", "promise");
    ck_category(complaint("课程顾问天天打电话推销"), "service", "sales_calls");
    ck_category(complaint("自动续费乱扣款"), "product", "pricing_billing");
    ck_category(complaint("上课十分钟掉线三次"), "line", "disconnect");
    ck_category(complaint("有同学一直开麦捣乱"), "class", "classroom_order");
}
END_TEST

START_TEST(traditional_text_matches_simplified_keywords)
{
    /* What normalisation makes of "我要退費！課程跟宣傳的完全不一樣". */
    struct voc_event ev = event(VOC_EV_COMPLAINT);
    struct voc_classification c;
    voc_classify(tax, &ev, "我要退费!课程跟宣传的完全不一样", &c);
    ck_category(c, "product", "refund");
    /* And the whole path from the Traditional original. */
    ck_category(complaint("我要退費！課程跟宣傳的完全不一樣"), "product", "refund");
    ck_category(complaint("老師的聲音斷斷續續，還有回音"), "line", "audio");
}
END_TEST

START_TEST(english_terms_respect_word_boundaries)
{
    ck_category(complaint("The video keeps LAGGING in class"), "line", "stall");
    ck_category(complaint("The app crashes every time I open the homework"), "product", "app_bug");
    /* "flag" contains "lag" but is another word. */
    struct voc_classification c = complaint("The red flag next to my name");
    ck_category(c, "unclassified", "unclassified");
    ck_category(complaint("Got charged twice for the subscription"), "product", "pricing_billing");
}
END_TEST

/* Scoring mechanics on a small taxonomy whose weights the test controls. */
static const char mini_yaml[] = "version: mini-1\n"
                                "categories:\n"
                                "  - id: first\n"
                                "    dimension: line\n"
                                "    keywords: [lag*, late, 冻: 2, 12315]\n"
                                "  - id: second\n"
                                "    dimension: service\n"
                                "    keywords: [冻: 2, wait: 3]\n"
                                "  - id: picky\n"
                                "    dimension: product\n"
                                "    threshold: 5\n"
                                "    keywords: [bug*: 4]\n";

static struct voc_taxonomy *load_mini(void)
{
    char path[] = "/tmp/test_taxonomy_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, mini_yaml, sizeof mini_yaml - 1), (int)(sizeof mini_yaml - 1));
    close(fd);
    struct voc_diag d = {0};
    struct voc_taxonomy *t = voc_taxonomy_load(path, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
    unlink(path);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(voc_taxonomy_version(t), "mini-1");
    return t;
}

static const char *mini_rule(const struct voc_taxonomy *t, const char *norm)
{
    static struct voc_classification c; /* rule[] must outlive the call */
    struct voc_event ev = event(VOC_EV_COMPLAINT);
    voc_classify(t, &ev, norm, &c);
    return c.rule;
}

START_TEST(scoring_ties_thresholds_and_boundaries)
{
    struct voc_taxonomy *t = load_mini();
    ck_assert_str_eq(mini_rule(t, "冻"), "keyword:first(score=2)");            /* tie: file order */
    ck_assert_str_eq(mini_rule(t, "冻 wait"), "keyword:second(score=5)");      /* higher wins */
    ck_assert_str_eq(mini_rule(t, "lag lag lag"), "none");                     /* once per text */
    ck_assert_str_eq(mini_rule(t, "lagging, late"), "keyword:first(score=2)"); /* prefix, word */
    ck_assert_str_eq(mini_rule(t, "flag, later"), "none");                     /* not words */
    ck_assert_str_eq(mini_rule(t, "late冻"), "keyword:first(score=3)"); /* CJK is a boundary */
    ck_assert_str_eq(mini_rule(t, "bugs everywhere"), "none");          /* 4 is under threshold 5 */
    ck_assert_str_eq(mini_rule(t, "bugs, lag, late"), "keyword:first(score=2)"); /* picky is out */
    ck_assert_str_eq(mini_rule(t, "call 012315 or 12315"), "none");              /* 1 < 2 */
    ck_assert_str_eq(mini_rule(t, ""), "none");
    ck_assert_str_eq(mini_rule(t, NULL), "none");
    voc_taxonomy_free(t);
}
END_TEST

START_TEST(threshold_not_met_is_unclassified)
{
    struct voc_classification c = complaint("孩子觉得还行吧，就是有点累");
    ck_category(c, "unclassified", "unclassified");
    ck_assert_str_eq(c.rule, "none");
    ck_assert_str_eq(c.severity, "low");
    c = complaint("我想问一下老师"); /* one context word is not enough */
    ck_category(c, "unclassified", "unclassified");
}
END_TEST

START_TEST(vip_customers_are_raised_one_level)
{
    struct voc_event ev = event(VOC_EV_COMPLAINT);
    const char *text = "课件有错别字";
    ck_assert_str_eq(classify(&ev, text).severity, "low");
    ev.tier = "standard";
    ck_assert_str_eq(classify(&ev, text).severity, "low");
    ev.tier = "vip";
    ck_assert_str_eq(classify(&ev, text).severity, "medium");
    ev.tier = "svip";
    ck_assert_str_eq(classify(&ev, text).severity, "medium");
    ck_assert_str_eq(classify(&ev, "投诉到12315").severity, "critical"); /* capped */
}
END_TEST

START_TEST(going_outside_the_company_is_critical)
{
    struct voc_classification c = complaint("再不处理我就投诉到12315，还要曝光你们");
    ck_category(c, "unclassified", "unclassified");
    ck_assert_str_eq(c.severity, "critical");
    c = complaint("If the refund is not processed I will contact my lawyer");
    ck_category(c, "product", "refund");
    ck_assert_str_eq(c.severity, "critical");
    ck_assert_str_eq(complaint("课件内容太浅，想退款").severity, "high");
}
END_TEST

START_TEST(tech_issue_severity_is_a_floor)
{
    struct voc_event ev = event(VOC_EV_TECH_ISSUE);
    ev.issue_kind = "login";
    ev.issue_severity = "critical";
    ck_assert_str_eq(classify(&ev, NULL).severity, "critical"); /* category says medium */
    ev.issue_kind = "lag";
    ev.line = "cn-east-cu-02";
    ev.issue_severity = "low";
    ck_assert_str_eq(classify(&ev, NULL).severity, "medium"); /* a floor never lowers */
    ev.issue_severity = "high";
    ck_assert_str_eq(classify(&ev, NULL).severity, "high");
    ev.tier = "svip";
    ck_assert_str_eq(classify(&ev, NULL).severity, "critical"); /* raised after the floor */
}
END_TEST

START_TEST(rating_sentiment_follows_the_score)
{
    static const char *const want[] = {"complaint", "complaint", "neutral", "praise", "praise"};
    struct voc_event ev = event(VOC_EV_RATING);
    ev.rating_aspect = "content";
    for (int score = 1; score <= 5; score++) {
        ev.rating_score = score;
        ck_assert_str_eq(classify(&ev, "教材很好").sentiment, want[score - 1]);
    }
    ev.tier = "vip";
    ck_assert_str_eq(classify(&ev, NULL).severity, "low"); /* praise is never urgent */
    ev.rating_score = 1;
    ck_assert_str_eq(classify(&ev, NULL).severity, "medium");
}
END_TEST

START_TEST(complaint_sentiment_follows_the_words)
{
    ck_assert_str_eq(complaint("视频卡顿").sentiment, "complaint");
    ck_assert_str_eq(complaint("谢谢老师，问题已经解决了，非常满意").sentiment, "praise");
    /* One kind word does not outweigh a grievance. */
    ck_assert_str_eq(complaint("谢谢，但是问题还是没有解决，很失望").sentiment, "complaint");
    struct voc_event ev = event(VOC_EV_TECH_ISSUE);
    ev.issue_kind = "crash";
    struct voc_classification c =
        classify(&ev, "Thank you, the support team fixed the crash, great job!");
    ck_assert_str_eq(c.sentiment, "praise");
    ck_assert_str_eq(c.severity, "low");
    ev = event(VOC_EV_TELEMETRY);
    ck_assert_str_eq(classify(&ev, NULL).sentiment, "neutral");
}
END_TEST

/* ---- the shared demo events ---- */

static int has_offset(const char *at)
{
    size_t n = strlen(at);
    if (n > 0 && at[n - 1] == 'Z')
        return 1;
    return n > 6 && (at[n - 6] == '+' || at[n - 6] == '-') && at[n - 3] == ':';
}

/* Fills what classification reads, and rejects the lines the event contract
 * rejects in ways the samples use; voc_event_parse() is tested elsewhere. */
static int sample_event(json_t *o, struct voc_event *ev)
{
    static const char *const types[] = {"complaint", "rating", "tech_issue"};
    const char *at = json_string_value(json_object_get(o, "occurred_at"));
    *ev = event(VOC_EV_COMPLAINT);
    ev->event_id = json_string_value(json_object_get(o, "event_id"));
    ev->type_name = json_string_value(json_object_get(o, "type"));
    if (!ev->event_id || !ev->type_name || !at || !has_offset(at))
        return -1;
    int type = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(types[i], ev->type_name) == 0)
            type = i;
    if (type < 0)
        return -1;
    ev->type = (enum voc_event_type)type;
    ev->text = json_string_value(json_object_get(o, "text"));
    ev->tier = json_string_value(json_object_get(json_object_get(o, "customer"), "tier"));
    ev->line = json_string_value(json_object_get(json_object_get(o, "network"), "line"));
    json_t *issue = json_object_get(o, "issue");
    ev->issue_kind = json_string_value(json_object_get(issue, "kind"));
    ev->issue_severity = json_string_value(json_object_get(issue, "severity"));
    json_t *rating = json_object_get(o, "rating");
    json_t *score = json_object_get(rating, "score");
    ev->rating_aspect = json_string_value(json_object_get(rating, "aspect"));
    if (ev->type == VOC_EV_RATING &&
        (!json_is_integer(score) || json_integer_value(score) < 1 || json_integer_value(score) > 5))
        return -1;
    ev->rating_score = (int)json_integer_value(score);
    return 0;
}

struct expected {
    char id[64], dim[32], cat[72];
    int seen;
};

/* Reads samples_expected.tsv; returns the row count and the `# invalid: N` count. */
static size_t read_expected(struct expected *rows, size_t max, int *invalid)
{
    FILE *f = fopen(EXPECT, "r");
    char line[256];
    size_t n = 0;
    ck_assert_msg(f != NULL, "cannot open %s", EXPECT);
    *invalid = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "# invalid: %d", invalid) == 1 || line[0] == '#' || line[0] == '\n')
            continue;
        ck_assert_uint_lt(n, max);
        ck_assert_int_eq(
            sscanf(line, "%63[^\t]\t%31[^\t]\t%71[^\t\n]", rows[n].id, rows[n].dim, rows[n].cat),
            3);
        rows[n++].seen = 0;
    }
    fclose(f);
    return n;
}

static void check_sample(const char *json, struct expected *rows, size_t nrows, int *invalid,
                         char *report, size_t reportlen)
{
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    struct voc_event ev;
    if (!o || sample_event(o, &ev) != 0) {
        (*invalid)++;
        json_decref(o);
        return;
    }
    struct voc_classification c = classify(&ev, ev.text);
    size_t i = 0;
    while (i < nrows && strcmp(rows[i].id, ev.event_id) != 0)
        i++;
    size_t used = strlen(report);
    if (i == nrows)
        snprintf(report + used, reportlen - used, "\n%s: not in the expected file", ev.event_id);
    else if (strcmp(rows[i].dim, c.dimension) != 0 || strcmp(rows[i].cat, c.category) != 0)
        snprintf(report + used, reportlen - used, "\n%s: got %s/%s (%s), expected %s/%s",
                 ev.event_id, c.dimension, c.category, c.rule, rows[i].dim, rows[i].cat);
    if (i < nrows)
        rows[i].seen++;
    json_decref(o);
}

START_TEST(samples_classify_as_expected)
{
    static struct expected rows[128];
    static char report[8192];
    int want_invalid, invalid = 0;
    size_t nrows = read_expected(rows, 128, &want_invalid);
    FILE *f = fopen(SAMPLES, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    ck_assert_msg(f != NULL, "cannot open %s", SAMPLES);
    report[0] = '\0';
    while ((len = getline(&line, &cap, f)) > 0)
        if (len > 1)
            check_sample(line, rows, nrows, &invalid, report, sizeof report);
    free(line);
    fclose(f);
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].seen != 1)
            snprintf(report + strlen(report), sizeof report - strlen(report),
                     "\n%s: in the expected file %d times in the samples", rows[i].id,
                     rows[i].seen);
    ck_assert_msg(report[0] == '\0', "samples disagree:%s", report);
    ck_assert_int_eq(invalid, want_invalid);
    ck_assert_uint_ge(nrows, 30);
}
END_TEST

/* ---- broken taxonomies: every problem, with its line ---- */

static const struct ts_bad_file bad[] = {
    {"missing_version.yaml", {"2: missing required key 'version'"}},
    {"unknown_keys.yaml",
     {"2: unknown key 'colour' in the taxonomy", "6: unknown key 'weight' in a category"}},
    {"unknown_dimension.yaml",
     {"4: unknown dimension 'network' (expected class, product, line or service)"}},
    {"unknown_severity.yaml",
     {"5: unknown severity 'urgent' (expected low, medium, high or critical)",
      "8: unknown severity 'severe' (expected low, medium, high or critical)"}},
    {"duplicate_category.yaml", {"6: duplicate category id 'stall' (first at line 3)"}},
    {"rule_unknown_category.yaml", {"5: field rule 'stall_on_line': unknown category 'stalls'"}},
    {"rule_wrong_dimension.yaml",
     {"9: field rule 'crash': category 'app_bug' is in dimension 'product', not 'line'"}},
    {"empty_keyword.yaml", {"7: empty keyword", "8: empty keyword"}},
    {"bad_weight.yaml",
     {"6: keyword '卡顿': weight must be a whole number from 1 to 100, not 'heavy'",
      "7: keyword 'lag*': weight must be a whole number from 1 to 100, not '0'",
      "8: keyword 'freeze': weight must be a whole number from 1 to 100, not '(not a value)'"}},
    {"unknown_when_field.yaml",
     {"6: unknown field 'issue.knd' in when",
      "8: 'gold' is not a valid customer.tier (expected standard, vip or svip)"}},
    {"keyword_never_matches.yaml",
     {"6: keyword 'Lag*' has upper-case letters, but the text is case-folded",
      "7: keyword 'video  freeze' has extra white space, but white space in the text is "
      "collapsed to one space",
      "8: keyword 'fr*eeze' may only have '*' at its end",
      "10: duplicate keyword '卡顿' (first at line 9)"}},
    {"many_problems.yaml",
     {"4: empty 'when': the rule would match every event", "7: 'text' must be present or absent",
      "6: missing required key 'then'", "12: unknown key 'gold' in tier_raise",
      "14: unknown key 'urgent' in severity keywords",
      "16: rating_complaint_max (4) must be below rating_praise_min (3)"}},
    {"syntax_error.yaml",
     {"6: YAML syntax: did not find expected ',' or ']' while parsing a flow sequence"}},
};
#define NBAD (sizeof bad / sizeof bad[0])

/* Whether voc_taxonomy_load accepts path; the result is not kept. */
static bool taxonomy_loads(const char *path, struct voc_diag *d)
{
    struct voc_taxonomy *loaded = voc_taxonomy_load(path, d);
    bool accepted = loaded != NULL;
    voc_taxonomy_free(loaded);
    return accepted;
}

START_TEST(broken_taxonomies_are_refused)
{
    ts_expect_refused(BAD_DIR, &bad[_i], taxonomy_loads);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("taxonomy");
    TCase *tc = tcase_create("classify");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, shipped_config_loads);
    tcase_add_test(tc, field_rules_from_structured_reports);
    tcase_add_test(tc, stall_without_a_line_is_decided_by_its_words);
    tcase_add_test(tc, ratings_without_words_go_by_aspect);
    tcase_add_test(tc, chinese_keywords_route_to_the_owner);
    tcase_add_test(tc, traditional_text_matches_simplified_keywords);
    tcase_add_test(tc, english_terms_respect_word_boundaries);
    tcase_add_test(tc, scoring_ties_thresholds_and_boundaries);
    tcase_add_test(tc, threshold_not_met_is_unclassified);
    tcase_add_test(tc, vip_customers_are_raised_one_level);
    tcase_add_test(tc, going_outside_the_company_is_critical);
    tcase_add_test(tc, tech_issue_severity_is_a_floor);
    tcase_add_test(tc, rating_sentiment_follows_the_score);
    tcase_add_test(tc, complaint_sentiment_follows_the_words);
    tcase_add_test(tc, samples_classify_as_expected);
    tcase_add_loop_test(tc, broken_taxonomies_are_refused, 0, (int)NBAD);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ts_run_suite(suite());
}
