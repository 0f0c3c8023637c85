/* Text normalisation: the exact strings the classifier and fingerprints see. */
#include "voc/textnorm.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"

static struct voc_textnorm *tn;

static void setup(void)
{
    char err[256] = "";
    tn = voc_textnorm_new(err, sizeof err);
    ck_assert_msg(tn != NULL, "voc_textnorm_new: %s", err);
}

static void teardown(void)
{
    voc_textnorm_free(tn);
    tn = NULL;
}

static void expect_n(const char *text, size_t len, const char *want)
{
    size_t outlen = 12345;
    char *got = voc_textnorm_apply(tn, text, len, &outlen);
    ck_assert_msg(got != NULL, "NULL for \"%s\"", text);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(outlen, strlen(want));
    free(got);
}

static void expect(const char *text, const char *want)
{
    expect_n(text, strlen(text), want);
}

static void expect_invalid(const char *text, size_t len)
{
    size_t outlen = 12345;
    ck_assert_ptr_null(voc_textnorm_apply(tn, text, len, &outlen));
}

START_TEST(full_width_and_case)
{
    expect("ＡＢＣ１２３", "abc123");
    expect("Hello WORLD", "hello world");
    expect("Straße", "strasse");
    expect("①号线", "1号线");
}
END_TEST

START_TEST(traditional_to_simplified)
{
    expect("這個老師講課很好", "这个老师讲课很好");
    expect("網絡卡頓，畫面凍結", "网络卡顿,画面冻结");
}
END_TEST

/* Characters that only change inside a phrase, characters outside the BMP,
 * and a BMP character whose simplified form is outside it: OpenCC must still
 * see them although most text skips it. */
START_TEST(traditional_edge_cases)
{
    expect("回覆", "回复");
    expect("明瞭", "明了");
    expect("沈默", "沉默");
    expect("牴牾", "抵牾");
    expect("衹得", "只得");
    expect("找藉口", "找借口");
    expect("乾隆皇帝在乾燥的天氣裡擦乾頭髮", "乾隆皇帝在干燥的天气里擦干头发");
    expect("\xf0\xa9\x80\xa8", "\xf0\xab\x95\x9a"); /* U+29028 -> U+2B55A */
    expect("\xe3\x92\x93", "\xf0\xa0\x89\x82");     /* U+3493 -> U+20242 */
    expect("简体字不变😀", "简体字不变😀");
}
END_TEST

START_TEST(whitespace_collapsed_and_trimmed)
{
    expect("  a \t\n b\xe3\x80\x80"
           "c  ",
           "a b c");
    /* NBSP, Ogham space, line and paragraph separators, ideographic space. */
    expect("a\xc2\xa0\xc2\xa0"
           "b\xe1\x9a\x80"
           "c\xe2\x80\xa8"
           "d\xe2\x80\xa9\xe3\x80\x80"
           "e",
           "a b c d e");
    expect(" \t\r\n\xe3\x80\x80 ", "");
}
END_TEST

START_TEST(mixed_text)
{
    expect("  這個ＡＰＰ　很卡！\r\n請處理  ", "这个app 很卡! 请处理");
    expect("老師說：Class ＯＫ", "老师说:class ok");
}
END_TEST

START_TEST(controls_and_ignorables_dropped)
{
    expect("a\x01"
           "b\x7f"
           "c",
           "abc");
    expect_n("a\0b", 3, "ab");
    /* A zero-width space must not split a keyword. */
    expect("退\xe2\x80\x8b款", "退款");
}
END_TEST

START_TEST(empty_input)
{
    expect_n("", 0, "");
    expect_n(NULL, 0, "");
}
END_TEST

START_TEST(invalid_utf8_rejected)
{
    expect_invalid("\xff", 1);
    expect_invalid("ok\xe4\xb8", 4);   /* truncated sequence */
    expect_invalid("\xc0\xaf", 2);     /* overlong '/' */
    expect_invalid("\xed\xa0\x80", 3); /* UTF-16 surrogate */
    expect_invalid("這個\x80老師", 13);
}
END_TEST

static const char *const samples[] = {
    "ＡＢＣ１２３",        "這個老師講課很好",
    "  a \t\n b\u3000c  ", "  這個ＡＰＰ　很卡！\r\n請處理  ",
    "Straße ﬁle ＫＭ²",    "乾隆皇帝在乾燥的天氣裡擦乾頭髮",
};

START_TEST(idempotent)
{
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        size_t n1, n2;
        char *once = voc_textnorm_apply(tn, samples[i], strlen(samples[i]), &n1);
        ck_assert_ptr_nonnull(once);
        char *twice = voc_textnorm_apply(tn, once, n1, &n2);
        ck_assert_ptr_nonnull(twice);
        ck_assert_msg(strcmp(once, twice) == 0, "\"%s\" -> \"%s\" -> \"%s\"", samples[i], once,
                      twice);
        free(once);
        free(twice);
    }
}
END_TEST

START_TEST(deterministic_across_handles)
{
    char err[256];
    struct voc_textnorm *other = voc_textnorm_new(err, sizeof err);
    ck_assert_msg(other != NULL, "%s", err);
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        size_t n1, n2;
        char *a = voc_textnorm_apply(tn, samples[i], strlen(samples[i]), &n1);
        char *b = voc_textnorm_apply(other, samples[i], strlen(samples[i]), &n2);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(n1, n2);
        ck_assert_mem_eq(a, b, n1);
        free(a);
        free(b);
    }
    voc_textnorm_free(other);
}
END_TEST

/* Longer than the handle's initial scratch buffer, then short again. */
START_TEST(long_input_reuses_handle)
{
    enum { REPS = 2000 };
    static const char unit[] = "這個　ＡＰＰ ";
    static const char unit_want[] = "这个 app ";
    size_t ulen = strlen(unit), wlen = strlen(unit_want);
    char *in = malloc(ulen * REPS + 1);
    char *want = malloc(wlen * REPS + 1);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(want);
    for (int i = 0; i < REPS; i++) {
        memcpy(in + i * ulen, unit, ulen);        // NOLINT(bugprone-not-null-terminated-result)
        memcpy(want + i * wlen, unit_want, wlen); // NOLINT(bugprone-not-null-terminated-result)
    }
    want[wlen * REPS - 1] = '\0'; /* trailing space trimmed */
    expect_n(in, ulen * REPS, want);
    expect("這個", "这个");
    free(in);
    free(want);
}
END_TEST

static Suite *textnorm_suite(void)
{
    Suite *s = suite_create("textnorm");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_width_and_case);
    tcase_add_test(tc, traditional_to_simplified);
    tcase_add_test(tc, traditional_edge_cases);
    tcase_add_test(tc, whitespace_collapsed_and_trimmed);
    tcase_add_test(tc, mixed_text);
    tcase_add_test(tc, controls_and_ignorables_dropped);
    tcase_add_test(tc, empty_input);
    tcase_add_test(tc, invalid_utf8_rejected);
    tcase_add_test(tc, idempotent);
    tcase_add_test(tc, deterministic_across_handles);
    tcase_add_test(tc, long_input_reuses_handle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ts_run_suite(textnorm_suite());
}
