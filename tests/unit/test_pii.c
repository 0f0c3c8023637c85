/* PII masking: every case asserts the exact bytes a downstream reader sees. */
#include "voc/pii.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"

/* Masks text (len bytes) and checks the result and the replacement count. */
static void expect_n(const char *text, size_t len, const char *want, size_t wantlen, int wantcount)
{
    size_t outlen = 12345;
    int count = -1;
    char *got = voc_pii_mask(text, len, &outlen, &count);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(outlen == wantlen && memcmp(got, want, wantlen) == 0,
                  "input \"%s\": got \"%s\" (%zu bytes), want \"%s\"", text, got, outlen, want);
    ck_assert_int_eq(got[outlen], '\0');
    ck_assert_int_eq(count, wantcount);
    free(got);
}

static void expect(const char *text, const char *want, int wantcount)
{
    expect_n(text, strlen(text), want, strlen(want), wantcount);
}

static void untouched(const char *text)
{
    expect(text, text, 0);
}

START_TEST(phone_in_chinese_sentence)
{
    expect("我的手机号13812345678请回电", "我的手机号[PHONE]请回电", 1);
    expect("13912345678", "[PHONE]", 1);
}
END_TEST

START_TEST(phone_prefixes_and_grouping)
{
    expect("call +86 138-1234-5678 now", "call [PHONE] now", 1);
    expect("call +86-138 1234 5678.", "call [PHONE].", 1);
    expect("电话+8613812345678", "电话[PHONE]", 1);
    expect("电话8613812345678", "电话[PHONE]", 1);
    expect("电话0086 13812345678", "电话[PHONE]", 1);
    expect("手机 138-1234-5678，谢谢", "手机 [PHONE]，谢谢", 1);
    /* Mixed grouping is not a 3-4-4 layout. */
    untouched("138-12345678");
}
END_TEST

START_TEST(phone_full_width_digits)
{
    expect("电话１３８１２３４５６７８！", "电话[PHONE]！", 1);
    expect("电话１３８-１２３４-５６７８", "电话[PHONE]", 1);
}
END_TEST

START_TEST(numbers_that_are_not_phones)
{
    untouched("编号123456789012到了");      /* 12 digits */
    untouched("订单号2023112312345678901"); /* 19 digits, fails Luhn */
    untouched("ab13812345678");             /* glued to letters */
    untouched("13812345678x");
    untouched("１３８１２３４５６７８９"); /* 12 full-width digits */
    untouched("12812345678");              /* 12x is not a mobile prefix */
    untouched("1381234567");               /* 10 digits */
}
END_TEST

START_TEST(id_card_valid)
{
    expect("身份证11010519491231002X。", "身份证[ID_CARD]。", 1);
    expect("身份证 11010519491231002x", "身份证 [ID_CARD]", 1);
    expect("生日2000-02-29: 110105200002290048", "生日2000-02-29: [ID_CARD]", 1);
    expect("旧证110105491231002号", "旧证[ID_CARD]号", 1);
}
END_TEST

START_TEST(id_card_rejected)
{
    /* Wrong check digit, and not Luhn-valid either: stays. */
    untouched("身份证110105194912310021");
    /* Wrong ID check digit but Luhn-valid 18 digits: the card rule takes it. */
    expect("号码110105194912310028", "号码[BANK_CARD]", 1);
    /* Correct check digits, impossible dates (month 13; 29 Feb 1900). */
    untouched("110105194913310021");
    untouched("110105190002290041");
    untouched("110105491331002");
    /* The 'X' must not be glued to further letters. */
    untouched("11010519491231002Xyz");
}
END_TEST

START_TEST(bank_cards)
{
    expect("卡号 4111 1111 1111 1111，谢谢", "卡号 [BANK_CARD]，谢谢", 1);
    expect("card 4111-1111-1111-1111.", "card [BANK_CARD].", 1);
    expect("卡号6222021234567890128", "卡号[BANK_CARD]", 1);
    expect("卡号 6222 0212 3456 7890 128", "卡号 [BANK_CARD]", 1);
    expect("卡号６２２２０２１２３４５６７８９４", "卡号[BANK_CARD]", 1);
}
END_TEST

START_TEST(order_numbers_survive)
{
    untouched("订单2023112300001234已发货");
    untouched("卡号 4111 1111 1111 1112");
    untouched("4111 11111 111 1111");        /* not groups of four */
    untouched("流水号20231123000012345678"); /* 22 digits */
}
END_TEST

START_TEST(emails)
{
    expect("Please contact john.doe+vip@example.co.uk today.", "Please contact [EMAIL] today.", 1);
    expect("邮箱a@b.cn", "邮箱[EMAIL]", 1); /* the output is longer than the input */
    expect("13812345678@qq.com", "[EMAIL]", 1);
    expect("mail me at x@mail.example.com.", "mail me at [EMAIL].", 1);
    untouched("user@localhost");
    untouched("user@host.c1");
    untouched("@example.com");
}
END_TEST

START_TEST(multiple_pii)
{
    expect("张三 13812345678, 邮箱 zs@qq.com, 卡 6222021234567890128, 身份证 11010519491231002X",
           "张三 [PHONE], 邮箱 [EMAIL], 卡 [BANK_CARD], 身份证 [ID_CARD]", 4);
    expect("a@b.cn a@b.cn a@b.cn", "[EMAIL] [EMAIL] [EMAIL]", 3);
}
END_TEST

START_TEST(no_pii_is_identical)
{
    untouched("老师讲课很好，孩子很喜欢。The class on 2023-11-23 was great, 5 stars!");
    expect_n("", 0, "", 0, 0);
    expect_n(NULL, 0, "", 0, 0);
}
END_TEST

START_TEST(bytes_pass_through)
{
    static const char bad[] = "\xff\xfe 13812345678 \xc3";
    static const char bad_want[] = "\xff\xfe [PHONE] \xc3";
    expect_n(bad, sizeof bad - 1, bad_want, sizeof bad_want - 1, 1);
    untouched("\xef\xbc");
    static const char nul[] = "a\0b 13812345678";
    static const char nul_want[] = "a\0b [PHONE]";
    expect_n(nul, sizeof nul - 1, nul_want, sizeof nul_want - 1, 1);
}
END_TEST

static const char *str_at(json_t *doc, const char *path)
{
    json_t *v = json_object_get(doc, path);
    ck_assert_ptr_nonnull(v);
    return json_string_value(v);
}

START_TEST(json_nested_event)
{
    json_error_t jerr;
    json_t *doc = json_loads(
        "{\"event_id\":\"13812345678\",\"type\":\"13812345678\",\"occurred_at\":\"13812345678\","
        "\"customer\":{\"id\":\"13812345678\",\"account_id\":\"6222021234567890128\","
        "\"phone\":\"13812345678\"},"
        "\"text\":\"我的手机号13812345678请回电\","
        "\"attributes\":{\"note\":\"邮箱 zs@qq.com\",\"tags\":[\"13812345678\",\"ok\",5],"
        "\"steps\":[{\"type\":\"+86 13812345678\"}]},\"rating\":1}",
        0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);

    ck_assert_int_eq(voc_pii_mask_json(doc), 5);

    ck_assert_str_eq(str_at(doc, "event_id"), "13812345678");
    ck_assert_str_eq(str_at(doc, "type"), "13812345678");
    ck_assert_str_eq(str_at(doc, "occurred_at"), "13812345678");
    json_t *customer = json_object_get(doc, "customer");
    ck_assert_str_eq(str_at(customer, "id"), "13812345678");
    ck_assert_str_eq(str_at(customer, "account_id"), "6222021234567890128");
    ck_assert_str_eq(str_at(customer, "phone"), "[PHONE]");
    ck_assert_str_eq(str_at(doc, "text"), "我的手机号[PHONE]请回电");
    json_t *attrs = json_object_get(doc, "attributes");
    ck_assert_str_eq(str_at(attrs, "note"), "邮箱 [EMAIL]");
    json_t *tags = json_object_get(attrs, "tags");
    ck_assert_str_eq(json_string_value(json_array_get(tags, 0)), "[PHONE]");
    ck_assert_str_eq(json_string_value(json_array_get(tags, 1)), "ok");
    ck_assert_int_eq(json_integer_value(json_array_get(tags, 2)), 5);
    /* "type" is an identifier only on the envelope, not deeper down. */
    json_t *step = json_array_get(json_object_get(attrs, "steps"), 0);
    ck_assert_str_eq(str_at(step, "type"), "[PHONE]");

    /* Masking is stable: a second pass finds nothing. */
    ck_assert_int_eq(voc_pii_mask_json(doc), 0);
    json_decref(doc);
}
END_TEST

START_TEST(json_roots_without_objects)
{
    json_t *arr = json_pack("[s, s, i]", "13812345678", "no pii", 7);
    ck_assert_ptr_nonnull(arr);
    ck_assert_int_eq(voc_pii_mask_json(arr), 1);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 0)), "[PHONE]");
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "no pii");
    json_decref(arr);

    json_t *num = json_integer(13812345678LL);
    ck_assert_int_eq(voc_pii_mask_json(num), 0);
    ck_assert_int_eq(json_integer_value(num), 13812345678LL);
    json_decref(num);
}
END_TEST

static Suite *pii_suite(void)
{
    Suite *s = suite_create("pii");
    TCase *text = tcase_create("text");
    tcase_add_test(text, phone_in_chinese_sentence);
    tcase_add_test(text, phone_prefixes_and_grouping);
    tcase_add_test(text, phone_full_width_digits);
    tcase_add_test(text, numbers_that_are_not_phones);
    tcase_add_test(text, id_card_valid);
    tcase_add_test(text, id_card_rejected);
    tcase_add_test(text, bank_cards);
    tcase_add_test(text, order_numbers_survive);
    tcase_add_test(text, emails);
    tcase_add_test(text, multiple_pii);
    tcase_add_test(text, no_pii_is_identical);
    tcase_add_test(text, bytes_pass_through);
    suite_add_tcase(s, text);
    TCase *json = tcase_create("json");
    tcase_add_test(json, json_nested_event);
    tcase_add_test(json, json_roots_without_objects);
    suite_add_tcase(s, json);
    return s;
}

int main(void)
{
    return ts_run_suite(pii_suite());
}
