/* The schema interpreter: each keyword, its message, and what loading refuses. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "voc/schema.h"
#include "testsupport.h"

#define OBJ(props) "{\"type\": \"object\", \"properties\": {" props "}}"

static char err[512];
static char reason[512];

static struct voc_schemas *load1(const char *text)
{
    const struct voc_embedded_schema list[] = {{"t.schema.json", text}, {NULL, NULL}};
    return voc_schemas_load_from(list, err, sizeof err);
}

/* Validates the JSON text doc; returns 0/-1 and leaves the reason in `reason`. */
static int check_doc(const struct voc_schemas *s, const char *name, const char *doc)
{
    json_error_t je;
    json_t *j = json_loads(doc, JSON_DECODE_ANY, &je);
    ck_assert_msg(j != NULL, "test document %s: %s", doc, je.text);
    int rc = voc_schema_validate(s, name, j, reason, sizeof reason);
    json_decref(j);
    return rc;
}

#define VALID(s, doc)                                                                              \
    ck_assert_msg(check_doc(s, "t.schema.json", doc) == 0, "%s refused: %s", doc, reason)
#define INVALID(s, doc, want)                                                                      \
    do {                                                                                           \
        ck_assert_msg(check_doc(s, "t.schema.json", doc) == -1, "%s accepted", doc);               \
        ck_assert_str_eq(reason, want);                                                            \
    } while (0)

static void refused(const char *text, const char *want)
{
    struct voc_schemas *s = load1(text);
    ck_assert_msg(s == NULL, "loaded: %s", text);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' does not say '%s'", err, want);
}

START_TEST(test_type)
{
    struct voc_schemas *s = load1(OBJ("\"s\": {\"type\": \"string\"}, \"i\": {\"type\": "
                                      "\"integer\"}, \"n\": {\"type\": \"number\"}, \"b\": "
                                      "{\"type\": \"boolean\"}, \"u\": {\"type\": [\"string\", "
                                      "\"null\"]}, \"a\": {\"type\": \"array\"}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"s\": 1}", "/s: expected string, got 1");
    INVALID(s, "{\"i\": \"5\"}", "/i: expected integer, got string '5'");
    INVALID(s, "{\"i\": true}", "/i: expected integer, got true");
    INVALID(s, "{\"n\": \"1.5\"}", "/n: expected number, got string '1.5'");
    INVALID(s, "{\"b\": 0}", "/b: expected boolean, got 0");
    INVALID(s, "{\"u\": 1}", "/u: expected null or string, got 1");
    INVALID(s, "{\"a\": {}}", "/a: expected array, got an object");
    INVALID(s, "[]", "expected object, got an array");
    VALID(s, "{\"s\": \"x\", \"i\": 3, \"n\": 3, \"b\": false, \"u\": null, \"a\": []}");
    voc_schemas_free(s);
}
END_TEST

/* Draft 2020-12: an integer is a number with a zero fractional part. */
START_TEST(test_integer_with_zero_fraction)
{
    struct voc_schemas *s = load1(OBJ("\"i\": {\"type\": \"integer\", \"maximum\": 5}"));
    ck_assert_msg(s != NULL, "%s", err);
    VALID(s, "{\"i\": 5.0}");
    VALID(s, "{\"i\": -0.0}");
    INVALID(s, "{\"i\": 5.5}", "/i: expected integer, got 5.5");
    INVALID(s, "{\"i\": 6.0}", "/i: 6 is greater than the maximum 5");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_required_and_closed_objects)
{
    struct voc_schemas *s =
        load1("{\"type\": \"object\", \"required\": [\"customer\"], \"additionalProperties\": "
              "false, \"properties\": {\"customer\": {\"type\": \"object\", \"required\": "
              "[\"id\"], \"additionalProperties\": false, \"properties\": {\"id\": {}, "
              "\"tier\": {}}}, \"open\": {\"type\": \"object\"}}}");
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{}", "missing required field 'customer'");
    INVALID(s, "{\"customer\": {}}", "/customer: missing required field 'id'");
    INVALID(s, "{\"customer\": {\"id\": 1, \"teir\": \"vip\"}}", "/customer: unknown field 'teir'");
    INVALID(s, "{\"customer\": {\"id\": 1}, \"user\": 1}", "unknown field 'user'");
    VALID(s, "{\"customer\": {\"id\": 1, \"tier\": 2}, \"open\": {\"anything\": [1]}}");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_enum_and_const)
{
    struct voc_schemas *s = load1(OBJ("\"t\": {\"enum\": [\"standard\", \"vip\", \"svip\"]}, "
                                      "\"c\": {\"const\": \"complaint\"}, \"n\": {\"enum\": [1, "
                                      "2]}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"t\": \"gold\"}", "/t: 'gold' is not one of standard, vip, svip");
    INVALID(s, "{\"t\": 1}", "/t: 1 is not one of standard, vip, svip");
    INVALID(s, "{\"c\": \"rating\"}", "/c: must be 'complaint', got 'rating'");
    INVALID(s, "{\"n\": 3}", "/n: 3 is not one of 1, 2");
    VALID(s, "{\"t\": \"svip\", \"c\": \"complaint\", \"n\": 2.0}");
    voc_schemas_free(s);
}
END_TEST

/* Lengths are code points, as in JSON Schema, not bytes. */
START_TEST(test_string_lengths_count_code_points)
{
    struct voc_schemas *s =
        load1(OBJ("\"s\": {\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}"));
    ck_assert_msg(s != NULL, "%s", err);
    VALID(s, "{\"s\": \"日本語\"}");
    VALID(s, "{\"s\": \"😀😀😀\"}");
    VALID(s, "{\"s\": \"\\ud83d\\ude00\\ud83d\\ude00\"}");
    INVALID(s, "{\"s\": \"日本語です\"}", "/s: too long: 5 characters, the maximum is 3");
    INVALID(s, "{\"s\": \"a\"}", "/s: too short: 1 character, the minimum is 2");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_pattern)
{
    struct voc_schemas *s = load1(
        OBJ("\"y\": {\"type\": \"string\", \"pattern\": \"^[0-9]{4}$\", \"description\": \"a "
            "four-digit year\"}, \"p\": {\"pattern\": \"^a\"}, \"any\": {\"pattern\": \"b\"}, "
            "\"one\": {\"pattern\": \"^.$\"}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"y\": \"20x6\"}", "/y: '20x6' is not a four-digit year");
    /* ECMA-262 $ is the end of the string, not "before a final newline". */
    INVALID(s, "{\"y\": \"2026\\n\"}", "/y: '2026\\x0a' is not a four-digit year");
    INVALID(s, "{\"p\": \"ba\"}", "/p: 'ba' does not match the pattern ^a");
    VALID(s, "{\"y\": \"2026\", \"p\": 5, \"any\": \"abc\", \"one\": \"語\"}");
    voc_schemas_free(s);
}
END_TEST

/* A long base64 string overflows PCRE2's JIT stack; the match must still work. */
START_TEST(test_pattern_on_long_input)
{
    struct voc_schemas *s = load1(OBJ("\"b\": {\"pattern\": \"^(?:[A-Za-z0-9+/]{4})*$\"}"));
    ck_assert_msg(s != NULL, "%s", err);
    size_t n = 400000;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'A', n);
    big[n] = '\0';
    json_t *doc = json_pack("{s:s}", "b", big);
    ck_assert_int_eq(voc_schema_validate(s, "t.schema.json", doc, reason, sizeof reason), 0);
    big[n - 1] = '!';
    json_object_set_new(doc, "b", json_string(big));
    ck_assert_int_eq(voc_schema_validate(s, "t.schema.json", doc, reason, sizeof reason), -1);
    ck_assert_msg(strstr(reason, "does not match the pattern") != NULL, "%s", reason);
    ck_assert_msg(strlen(reason) < 200, "the value is not cut short in: %s", reason);
    json_decref(doc);
    free(big);
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_bounds)
{
    struct voc_schemas *s = load1(OBJ("\"r\": {\"minimum\": 1, \"maximum\": 5}, \"x\": "
                                      "{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"r\": 6}", "/r: 6 is greater than the maximum 5");
    INVALID(s, "{\"r\": 0.5}", "/r: 0.5 is less than the minimum 1");
    INVALID(s, "{\"x\": 0}", "/x: 0 must be greater than 0");
    INVALID(s, "{\"x\": 1.0}", "/x: 1 must be less than 1");
    VALID(s, "{\"r\": 1, \"x\": 0.999}");
    VALID(s, "{\"r\": 5, \"x\": 1e-9}");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_arrays)
{
    struct voc_schemas *s =
        load1(OBJ("\"tags\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 2, \"items\": "
                  "{\"type\": \"string\"}}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"tags\": []}", "/tags: 0 items, the minimum is 1");
    INVALID(s, "{\"tags\": [\"a\", \"b\", \"c\"]}", "/tags: 3 items, the maximum is 2");
    INVALID(s, "{\"tags\": [\"a\", 1]}", "/tags/1: expected string, got 1");
    VALID(s, "{\"tags\": [\"a\", \"b\"]}");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_refs_across_files)
{
    const struct voc_embedded_schema list[] = {
        {"a.schema.json", "{\"$id\": \"https://x.test/s/a.schema.json\", \"$defs\": {\"id\": "
                          "{\"type\": \"string\", \"minLength\": 1}}}"},
        {"b.schema.json",
         "{\"$id\": \"https://x.test/s/b.schema.json\", \"properties\": {\"x\": {\"$ref\": "
         "\"a.schema.json#/$defs/id\"}, \"y\": {\"$ref\": \"#/$defs/pos\"}, \"z\": {\"$ref\": "
         "\"#/$defs/pos\", \"maximum\": 9}}, \"$defs\": {\"pos\": {\"minimum\": 0}}}"},
        {NULL, NULL}};
    struct voc_schemas *s = voc_schemas_load_from(list, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(check_doc(s, "b.schema.json", "{\"x\": \"\"}"), -1);
    ck_assert_str_eq(reason, "/x: too short: 0 characters, the minimum is 1");
    ck_assert_int_eq(check_doc(s, "b.schema.json", "{\"y\": -1}"), -1);
    ck_assert_str_eq(reason, "/y: -1 is less than the minimum 0");
    /* $ref and its siblings both apply. */
    ck_assert_int_eq(check_doc(s, "b.schema.json", "{\"z\": 10}"), -1);
    ck_assert_str_eq(reason, "/z: 10 is greater than the maximum 9");
    ck_assert_int_eq(check_doc(s, "b.schema.json", "{\"x\": \"k\", \"y\": 0, \"z\": 9}"), 0);
    ck_assert_int_eq(check_doc(s, "nope.schema.json", "{}"), -1);
    ck_assert_str_eq(reason, "no schema named 'nope.schema.json'");
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_load_refuses_what_it_cannot_enforce)
{
    refused(OBJ("\"a\": {\"oneOf\": [{\"type\": \"string\"}]}"),
            "t.schema.json: /properties/a: unsupported keyword 'oneOf'");
    /* Even where nothing refers to it. */
    refused("{\"$defs\": {\"unused\": {\"if\": true}}}", "/$defs/unused: unsupported keyword 'if'");
    refused("{\"additionalProperties\": {\"type\": \"string\"}}",
            "additionalProperties must be true or false");
    refused("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}", "$schema must be");
    refused(OBJ("\"d\": {\"pattern\": \"([0-9]\"}"), "/properties/d: pattern at offset 6");
    refused("{\"type\": \"float\"}", "unknown type name 'float'");
    refused("{\"minLength\": -1}", "minLength must be a non-negative integer");
    refused(OBJ("\"x\": {\"$ref\": \"#/$defs/missing\"}"),
            "$ref '#/$defs/missing' points at nothing");
    refused(OBJ("\"x\": {\"$ref\": \"other.schema.json#/$defs/id\"}"),
            "no schema file of that name");
    refused("{\"type\": \"object\",\n \"type\": \"array\"}", "line 2");
    refused("{\"$id\": \"https://x.test/s/other.schema.json\"}", "must end in '/t.schema.json'");
}
END_TEST

START_TEST(test_pointer_escaping_and_quoting)
{
    struct voc_schemas *s =
        load1("{\"additionalProperties\": false, \"properties\": {\"a/b\": {\"type\": "
              "\"string\"}, \"m~n\": {\"type\": \"string\"}}}");
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"a/b\": 1}", "/a~1b: expected string, got 1");
    INVALID(s, "{\"m~n\": 1}", "/m~0n: expected string, got 1");
    /* A reason is one printable line, however hostile the input. */
    INVALID(s, "{\"x\\ny\": 1}", "unknown field 'x\\x0ay'");
    char doc[400] = "{\"";
    memset(doc + 2, 'k', 300);
    strcpy(doc + 302, "\": 1}");
    ck_assert_int_eq(check_doc(s, "t.schema.json", doc), -1);
    ck_assert_msg(strlen(reason) < 80 && strstr(reason, "...'"), "%s", reason);
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_boolean_schemas_and_ref_cycles)
{
    struct voc_schemas *s = load1(OBJ("\"no\": false, \"yes\": true, \"loop\": {\"$ref\": "
                                      "\"#/$defs/a\"}}, \"$defs\": {\"a\": {\"$ref\": "
                                      "\"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}"));
    ck_assert_msg(s != NULL, "%s", err);
    INVALID(s, "{\"no\": 1}", "/no: not allowed here");
    VALID(s, "{\"yes\": [1, {\"a\": null}]}");
    /* A reference cycle must end in a reason, not a stack overflow. */
    ck_assert_int_eq(check_doc(s, "t.schema.json", "{\"loop\": 1}"), -1);
    ck_assert_msg(strstr(reason, "/loop: nested too deeply") == reason, "%s", reason);
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_reason_buffer_is_respected)
{
    struct voc_schemas *s = load1(OBJ("\"r\": {\"maximum\": 5}"));
    ck_assert_msg(s != NULL, "%s", err);
    json_t *doc = json_pack("{s:i}", "r", 7);
    char small[8];
    ck_assert_int_eq(voc_schema_validate(s, "t.schema.json", doc, small, sizeof small), -1);
    ck_assert_str_eq(small, "/r: 7 i");
    ck_assert_int_eq(voc_schema_validate(s, "t.schema.json", doc, NULL, 0), -1);
    json_decref(doc);
    voc_schemas_free(s);
}
END_TEST

START_TEST(test_embedded_contract)
{
    struct voc_schemas *s = voc_schemas_load(err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(check_doc(s, "rating.schema.json",
                               "{\"event_id\": \"r1\", \"type\": \"rating\", \"occurred_at\": "
                               "\"2026-11-23 10:00\", \"source\": \"app\", \"rating\": "
                               "{\"score\": 3}}"),
                     -1);
    ck_assert_str_eq(reason,
                     "/occurred_at: '2026-11-23 10:00' is not an RFC 3339 time with an offset");
    ck_assert_int_eq(check_doc(s, "rating.schema.json",
                               "{\"event_id\": \"r1\", \"type\": \"rating\", \"occurred_at\": "
                               "\"2026-11-23T10:00:00+08:00\", \"source\": \"app\", \"rating\": "
                               "{\"score\": 7}}"),
                     -1);
    ck_assert_str_eq(reason, "/rating/score: 7 is greater than the maximum 5");
    for (const char *const *n = (const char *const[]){"complaint", "rating", "tech_issue",
                                                      "telemetry", "deadletter", NULL};
         *n; n++) {
        char name[64];
        snprintf(name, sizeof name, "%s.schema.json", *n);
        ck_assert_int_eq(check_doc(s, name, "{}"), -1);
        ck_assert_msg(strncmp(reason, "missing required field '", 24) == 0, "%s: %s", name, reason);
    }
    voc_schemas_free(s);
}
END_TEST

struct worker {
    const struct voc_schemas *s;
    int wrong;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char why[128];
    json_t *good = json_pack("{s:s}", "y", "2026");
    json_t *bad = json_pack("{s:s}", "y", "20x6");
    for (int i = 0; i < 5000; i++) {
        w->wrong += voc_schema_validate(w->s, "t.schema.json", good, why, sizeof why) != 0;
        w->wrong += voc_schema_validate(w->s, "t.schema.json", bad, why, sizeof why) != -1;
    }
    json_decref(good);
    json_decref(bad);
    return NULL;
}

/* One compiled set serves every consumer thread. */
START_TEST(test_shared_between_threads)
{
    struct voc_schemas *s = load1(OBJ("\"y\": {\"pattern\": \"^[0-9]{4}$\"}"));
    ck_assert_msg(s != NULL, "%s", err);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){s, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].wrong, 0);
    }
    voc_schemas_free(s);
}
END_TEST

static Suite *schema_suite(void)
{
    Suite *suite = suite_create("schema");
    TCase *tc = tcase_create("schema");
    tcase_add_test(tc, test_type);
    tcase_add_test(tc, test_integer_with_zero_fraction);
    tcase_add_test(tc, test_required_and_closed_objects);
    tcase_add_test(tc, test_enum_and_const);
    tcase_add_test(tc, test_string_lengths_count_code_points);
    tcase_add_test(tc, test_pattern);
    tcase_add_test(tc, test_pattern_on_long_input);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_arrays);
    tcase_add_test(tc, test_refs_across_files);
    tcase_add_test(tc, test_load_refuses_what_it_cannot_enforce);
    tcase_add_test(tc, test_pointer_escaping_and_quoting);
    tcase_add_test(tc, test_boolean_schemas_and_ref_cycles);
    tcase_add_test(tc, test_reason_buffer_is_respected);
    tcase_add_test(tc, test_embedded_contract);
    tcase_add_test(tc, test_shared_between_threads);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return ts_run_suite(schema_suite());
}
