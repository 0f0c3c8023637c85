/* Event parsing: the examples round-trip into the struct, and every way a
 * message can be broken ends in a readable reason (never a crash). */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/event.h"
#include "testsupport.h"

#define EXAMPLES VOC_TEST_SOURCE_DIR "/schemas/examples"

static struct voc_schemas *schemas;
static char reason[512];

static void setup(void)
{
    char err[512];
    schemas = voc_schemas_load(err, sizeof err);
    ck_assert_msg(schemas != NULL, "%s", err);
}

static void teardown(void)
{
    voc_schemas_free(schemas);
}

static int parse(struct voc_event *ev, const char *s)
{
    return voc_event_parse(ev, s, strlen(s), 65536, schemas, reason, sizeof reason);
}

/* Parses s, which must be refused, and checks the reason starts with want. */
static void refused(const char *s, size_t len, const char *want)
{
    struct voc_event ev;
    ck_assert_int_eq(voc_event_parse(&ev, s, len, 65536, schemas, reason, sizeof reason), -1);
    ck_assert_ptr_null(ev.root);
    ck_assert_msg(strncmp(reason, want, strlen(want)) == 0, "reason '%s', wanted '%s...'", reason,
                  want);
}

#define REFUSED(s, want) refused(s, strlen(s), want)

static const char *at(const json_t *doc, const char *block, const char *key)
{
    return json_string_value(json_object_get(block ? json_object_get(doc, block) : doc, key));
}

#define SAME(file, field, got, want)                                                               \
    ck_assert_msg((got) == NULL ? (want) == NULL : (want) != NULL && !strcmp((got), (want)),       \
                  "%s: %s is '%s', the file says '%s'", file, field, (got) ? (got) : "(null)",     \
                  (want) ? (want) : "(null)")

/* Every field of ev against the same field read straight from the JSON. */
static void same_as_file(const char *file, const struct voc_event *ev, const json_t *doc)
{
    int flat = ev->type == VOC_EV_TELEMETRY;
    SAME(file, "event_id", ev->event_id, at(doc, NULL, "event_id"));
    SAME(file, "type_name", ev->type_name, at(doc, NULL, "type"));
    ck_assert_str_eq(voc_event_type_name(ev->type), at(doc, NULL, "type"));
    SAME(file, "occurred_at", ev->occurred_at, at(doc, NULL, "occurred_at"));
    SAME(file, "source", ev->source, at(doc, NULL, "source"));
    SAME(file, "channel", ev->channel, at(doc, NULL, "channel"));
    SAME(file, "customer_id", ev->customer_id,
         flat ? at(doc, NULL, "customer_id") : at(doc, "customer", "id"));
    SAME(file, "tier", ev->tier, at(doc, "customer", "tier"));
    SAME(file, "classroom_id", ev->classroom_id,
         flat ? at(doc, NULL, "classroom_id") : at(doc, "classroom", "id"));
    SAME(file, "lesson_id", ev->lesson_id, at(doc, flat ? NULL : "classroom", "lesson_id"));
    SAME(file, "teacher_id", ev->teacher_id, at(doc, flat ? NULL : "classroom", "teacher_id"));
    SAME(file, "product_id", ev->product_id, at(doc, "product", "id"));
    SAME(file, "product_name", ev->product_name, at(doc, "product", "name"));
    SAME(file, "line", ev->line, at(doc, "network", "line"));
    SAME(file, "isp", ev->isp, at(doc, "network", "isp"));
    SAME(file, "region", ev->region, at(doc, "network", "region"));
    SAME(file, "client_app", ev->client_app, at(doc, "client", "app"));
    SAME(file, "client_version", ev->client_version, at(doc, "client", "version"));
    SAME(file, "client_os", ev->client_os, at(doc, "client", "os"));
    SAME(file, "text", ev->text, at(doc, NULL, "text"));
    ck_assert_uint_eq(ev->text_len, ev->text ? strlen(ev->text) : 0);
    const json_t *score = json_object_get(json_object_get(doc, "rating"), "score");
    ck_assert_int_eq(ev->rating_score, score ? (int)json_number_value(score) : 0);
    SAME(file, "rating_aspect", ev->rating_aspect, at(doc, "rating", "aspect"));
    SAME(file, "issue_kind", ev->issue_kind, at(doc, "issue", "kind"));
    SAME(file, "issue_severity", ev->issue_severity, at(doc, "issue", "severity"));
    const json_t *d = json_object_get(json_object_get(doc, "issue"), "duration_ms");
    ck_assert_int_eq(ev->issue_duration_ms, d ? json_integer_value(d) : -1);
}

/* Calls fn for every example event in dir (dead letters are not events). */
static int each_example(const char *dir, void (*fn)(const char *path, const char *name))
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 ||
            !strncmp(e->d_name, "deadletter_", 11) || !strncmp(e->d_name, "command_", 8))
            continue; /* records that are not customer events: their own tests */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void round_trip(const char *path, const char *name)
{
    size_t len;
    char *buf = ts_read_file(path, &len);
    json_t *doc = json_loadb(buf, len, 0, NULL);
    struct voc_event ev;
    ck_assert_msg(voc_event_parse(&ev, buf, len, 65536, schemas, reason, sizeof reason) == 0,
                  "%s: %s", name, reason);
    same_as_file(name, &ev, doc);
    voc_event_clear(&ev);
    ck_assert_ptr_null(ev.root);
    json_decref(doc);
    free(buf);
}

START_TEST(test_valid_examples_round_trip)
{
    ck_assert_int_ge(each_example(EXAMPLES "/valid", round_trip), 12);
}
END_TEST

static void must_fail(const char *path, const char *name)
{
    size_t len;
    char *buf = ts_read_file(path, &len);
    struct voc_event ev;
    ck_assert_msg(voc_event_parse(&ev, buf, len, 65536, schemas, reason, sizeof reason) == -1,
                  "%s accepted", name);
    ck_assert_ptr_null(ev.root);
    ck_assert_msg(*reason && !strchr(reason, '\n'), "%s: reason '%s'", name, reason);
    free(buf);
}

START_TEST(test_invalid_examples_refused)
{
    ck_assert_int_ge(each_example(EXAMPLES "/invalid", must_fail), 30);
}
END_TEST

START_TEST(test_fields_of_known_examples)
{
    size_t len;
    struct voc_event ev;
    char *buf = ts_read_file(EXAMPLES "/valid/telemetry_student_full.json", &len);
    ck_assert_int_eq(voc_event_parse(&ev, buf, len, 0, schemas, reason, sizeof reason), 0);
    ck_assert_int_eq(ev.type, VOC_EV_TELEMETRY);
    ck_assert_str_eq(ev.customer_id, "cust-88412");
    ck_assert_str_eq(ev.classroom_id, "room-5521");
    ck_assert_str_eq(ev.teacher_id, "t-0193");
    ck_assert_str_eq(ev.isp, "中国电信");
    ck_assert_ptr_null(ev.text);
    ck_assert_int_eq(ev.issue_duration_ms, -1);
    voc_event_clear(&ev);
    free(buf);
    buf = ts_read_file(EXAMPLES "/valid/complaint_text_8192_emoji.json", &len);
    ck_assert_int_eq(voc_event_parse(&ev, buf, len, 0, schemas, reason, sizeof reason), 0);
    ck_assert_uint_eq(ev.text_len, (size_t)8192 * 4); /* 8192 code points, 4 bytes each */
    voc_event_clear(&ev);
    voc_event_clear(&ev); /* clearing twice is harmless */
    free(buf);
}
END_TEST

START_TEST(test_broken_json)
{
    REFUSED("{\"event_id\": \"e1\", \"type\": \"complaint\"",
            "not valid JSON at line 1 column 38: '}' expected near end of file");
    REFUSED("{\"a\": 1,\n \"a\": 2}", "not valid JSON at line 2 column 4: duplicate object key");
    /* jansson's " near '<input>'" is dropped: it would copy customer text. */
    ck_assert_ptr_null(strstr(reason, "near"));
    REFUSED("{\"text\": \"x\\u0000y\"}",
            "not valid JSON at line 1 column 19: \\u0000 (NUL) is not allowed in text");
    refused("{\"text\": \"x\0y\"}", 15,
            "not valid JSON at line 1 column 11: control character 0x0");
    REFUSED("", "the message is empty");
    REFUSED(" \r\n", "the message is empty");
}
END_TEST

START_TEST(test_not_utf8)
{
    REFUSED("{\"text\": \"caf\xe9\"}", "not valid UTF-8 at line 1 column 13 (byte offset 13)");
    /* An overlong encoding of '/', a classic filter bypass. */
    REFUSED("{\"text\": \"a\xc0\xaf\"}", "not valid UTF-8 at line 1 column 11 (byte offset 11)");
    REFUSED("{\"\xff\": 1}", "not valid UTF-8");
}
END_TEST

START_TEST(test_not_an_event)
{
    REFUSED("[{\"type\": \"complaint\"}]", "the event must be a JSON object, got an array");
    REFUSED("5", "the event must be a JSON object, got a number");
    REFUSED("{\"event_id\": \"e1\"}", "missing required field 'type'");
    REFUSED("{\"type\": 3}", "/type: expected a string, got a number");
    REFUSED("{\"type\": \"feedback\"}",
            "/type: 'feedback' is not an event type (known: complaint, rating, tech_issue, "
            "telemetry)");
    REFUSED("{\"type\": \"a\\nb\"}", "/type: 'a?b' is not an event type");
}
END_TEST

START_TEST(test_size_limit_before_parsing)
{
    const char *ev_text = "{\"event_id\": \"e1\", \"type\": \"complaint\", \"occurred_at\": "
                          "\"2026-11-23T10:00:00Z\", \"source\": \"app\", \"text\": \"卡\"}";
    size_t len = strlen(ev_text);
    struct voc_event ev;
    ck_assert_int_eq(voc_event_parse(&ev, ev_text, len, len, schemas, reason, sizeof reason), 0);
    voc_event_clear(&ev);
    ck_assert_int_eq(voc_event_parse(&ev, ev_text, len, len - 1, schemas, reason, sizeof reason),
                     -1);
    char want[64];
    snprintf(want, sizeof want, "event is %zu bytes, the limit is %zu", len, len - 1);
    ck_assert_str_eq(reason, want);
    /* Not even looked at: garbage over the limit gets the size reason. */
    char *big = malloc(70000);
    ck_assert_ptr_nonnull(big);
    memset(big, '{', 70000);
    refused(big, 70000, "event is 70000 bytes, the limit is 65536");
    free(big);
}
END_TEST

START_TEST(test_integral_score)
{
    struct voc_event ev;
    const char *five = "{\"event_id\": \"r1\", \"type\": \"rating\", \"occurred_at\": "
                       "\"2026-11-23T10:00:00+08:00\", \"source\": \"app\", \"rating\": "
                       "{\"score\": 5.0}}";
    ck_assert_msg(parse(&ev, five) == 0, "%s", reason);
    ck_assert_int_eq(ev.rating_score, 5);
    voc_event_clear(&ev);
    const char *half = "{\"event_id\": \"r1\", \"type\": \"rating\", \"occurred_at\": "
                       "\"2026-11-23T10:00:00+08:00\", \"source\": \"app\", \"rating\": "
                       "{\"score\": 5.5}}";
    REFUSED(half, "/rating/score: expected integer, got 5.5");
}
END_TEST

START_TEST(test_deep_nesting)
{
    size_t n = 10000;
    char *deep = malloc(n + 200);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', n);
    refused(deep, n, "not valid JSON at line 1 column 2049: maximum parsing depth reached");
    /* The same inside the free-form attributes of an otherwise good event. */
    int k = snprintf(deep, 200, "{\"type\": \"complaint\", \"attributes\": {\"x\": ");
    memset(deep + k, '[', n);
    refused(deep, (size_t)k + n, "not valid JSON at line 1 column");
    ck_assert_ptr_nonnull(strstr(reason, "maximum parsing depth reached"));
    free(deep);
}
END_TEST

START_TEST(test_type_names)
{
    for (int t = 0; t < VOC_EV_TYPE_COUNT; t++)
        ck_assert_int_eq(voc_event_type_parse(voc_event_type_name((enum voc_event_type)t)), t);
    ck_assert_int_eq(voc_event_type_parse("Complaint"), -1);
    ck_assert_int_eq(voc_event_type_parse(NULL), -1);
    ck_assert_str_eq(voc_event_type_name(VOC_EV_TYPE_COUNT), "unknown");
}
END_TEST

START_TEST(test_small_reason_buffer)
{
    struct voc_event ev;
    char small[10];
    ck_assert_int_eq(voc_event_parse(&ev, "[]", 2, 0, schemas, small, sizeof small), -1);
    ck_assert_str_eq(small, "the event");
    ck_assert_int_eq(voc_event_parse(&ev, "[]", 2, 0, schemas, NULL, 0), -1);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *suite = suite_create("event");
    TCase *tc = tcase_create("event");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid_examples_round_trip);
    tcase_add_test(tc, test_invalid_examples_refused);
    tcase_add_test(tc, test_fields_of_known_examples);
    tcase_add_test(tc, test_broken_json);
    tcase_add_test(tc, test_not_utf8);
    tcase_add_test(tc, test_not_an_event);
    tcase_add_test(tc, test_size_limit_before_parsing);
    tcase_add_test(tc, test_integral_score);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_type_names);
    tcase_add_test(tc, test_small_reason_buffer);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return ts_run_suite(event_suite());
}
