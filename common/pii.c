/* Masking of personal data: a single forward pass over the bytes, no regex.
 *
 * The scanner only looks for numbers at token starts (the previous character
 * is not an ASCII/full-width digit or Latin letter) and requires the match to
 * end at a token boundary too, so a phone-shaped slice of a longer order
 * number is never masked. Unmatched text is copied in bulk, so text without
 * PII costs one pass and one allocation. */
#include "voc/pii.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longest digit sequence any rule needs: 0086 + 11 phone digits, 18 ID-card
 * digits, 19 card digits, plus slack so over-long runs are recognised. */
#define RUN_MAX 24

struct digit_run {
    int n;
    unsigned char d[RUN_MAX];   /* digit values */
    unsigned char sep[RUN_MAX]; /* a single ' ' or '-' precedes digit i */
    size_t end[RUN_MAX];        /* byte offset just past digit i */
};

struct out_buf {
    char *p;
    size_t len;
};

static const char *const pii_tags[] = {"[PHONE]", "[ID_CARD]", "[BANK_CARD]", "[EMAIL]"};

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Digit value at p (ASCII or full-width U+FF10..FF19), its width in *w, or -1. */
static int digit_at(const unsigned char *s, size_t len, size_t p, size_t *w)
{
    if (p < len && s[p] >= '0' && s[p] <= '9') {
        *w = 1;
        return s[p] - '0';
    }
    if (p + 2 < len && s[p] == 0xEF && s[p + 1] == 0xBC && s[p + 2] >= 0x90 && s[p + 2] <= 0x99) {
        *w = 3;
        return s[p + 2] - 0x90;
    }
    return -1;
}

/* Full-width digits and Latin letters (U+FF10..19, FF21..3A, FF41..5A) glue
 * to a number just as their ASCII forms do. */
static int is_fw_alnum(unsigned char b0, unsigned char b1, unsigned char b2)
{
    if (b0 != 0xEF)
        return 0;
    if (b1 == 0xBC)
        return (b2 >= 0x90 && b2 <= 0x99) || (b2 >= 0xA1 && b2 <= 0xBA);
    return b1 == 0xBD && b2 >= 0x81 && b2 <= 0x9A;
}

static int word_at(const unsigned char *s, size_t len, size_t p)
{
    if (p >= len)
        return 0;
    if (is_ascii_alnum(s[p]))
        return 1;
    return p + 2 < len && is_fw_alnum(s[p], s[p + 1], s[p + 2]);
}

/* Reads digits from p, allowing a single ' ' or '-' between two digits. */
static void read_run(const unsigned char *s, size_t len, size_t p, struct digit_run *r)
{
    size_t w;
    int pending_sep = 0;
    r->n = 0;
    while (r->n < RUN_MAX) {
        int v = digit_at(s, len, p, &w);
        if (v < 0)
            break;
        r->d[r->n] = (unsigned char)v;
        r->sep[r->n] = (unsigned char)pending_sep;
        p += w;
        r->end[r->n++] = p;
        pending_sep = 0;
        if (p < len && (s[p] == ' ' || s[p] == '-') && digit_at(s, len, p + 1, &w) >= 0) {
            pending_sep = 1;
            p++;
        }
    }
}

static int has_sep(const struct digit_run *r, int from, int to)
{
    for (int i = from; i < to; i++)
        if (r->sep[i])
            return 1;
    return 0;
}

static int num_at(const struct digit_run *r, int at, int ndigits)
{
    int v = 0;
    for (int i = 0; i < ndigits; i++)
        v = v * 10 + r->d[at + i];
    return v;
}

static int valid_date(int y, int m, int d)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* Returns the end offset of an ID-card number starting the run, or 0. */
static size_t match_id_card(const unsigned char *s, size_t len, const struct digit_run *r)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check_chars[] = "10X98765432";
    if (r->n >= 17 && !has_sep(r, 1, 17) &&
        valid_date(num_at(r, 6, 4), num_at(r, 10, 2), num_at(r, 12, 2)) &&
        num_at(r, 6, 4) >= 1900 && num_at(r, 6, 4) <= 2099) {
        int sum = 0;
        for (int i = 0; i < 17; i++)
            sum += r->d[i] * weights[i];
        char want = check_chars[sum % 11];
        size_t e = r->end[16];
        if (r->n >= 18 && !r->sep[17] && want == (char)('0' + r->d[17]) &&
            !word_at(s, len, r->end[17]))
            return r->end[17];
        if (r->n == 17 && want == 'X' && e < len && (s[e] == 'X' || s[e] == 'x') &&
            !word_at(s, len, e + 1))
            return e + 1;
    }
    if (r->n >= 15 && !has_sep(r, 1, 15) && !word_at(s, len, r->end[14]) &&
        valid_date(1900 + num_at(r, 6, 2), num_at(r, 8, 2), num_at(r, 10, 2)))
        return r->end[14];
    return 0;
}

/* Mobile body (1[3-9] + 9 digits, bare or grouped 3-4-4) at digit index k. */
static size_t phone_body(const unsigned char *s, size_t len, const struct digit_run *r, int k)
{
    if (r->n - k < 11 || r->d[k] != 1 || r->d[k + 1] < 3)
        return 0;
    if (has_sep(r, k + 1, k + 3) || has_sep(r, k + 4, k + 7) || has_sep(r, k + 8, k + 11))
        return 0;
    if (r->sep[k + 3] != r->sep[k + 7] || word_at(s, len, r->end[k + 10]))
        return 0;
    return r->end[k + 10];
}

/* plus: the run was preceded by '+', so only the 86 country code is allowed. */
static size_t match_phone(const unsigned char *s, size_t len, const struct digit_run *r, int plus)
{
    if (r->n >= 2 && r->d[0] == 8 && r->d[1] == 6 && !r->sep[1]) {
        size_t e = phone_body(s, len, r, 2);
        if (e || plus)
            return e;
    }
    if (plus)
        return 0;
    if (r->n >= 4 && r->d[0] == 0 && r->d[1] == 0 && r->d[2] == 8 && r->d[3] == 6 &&
        !has_sep(r, 1, 4)) {
        size_t e = phone_body(s, len, r, 4);
        if (e)
            return e;
    }
    return phone_body(s, len, r, 0);
}

static int luhn_ok(const struct digit_run *r, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++) {
        int v = r->d[n - 1 - i];
        if (i % 2) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static size_t match_bank_card(const unsigned char *s, size_t len, const struct digit_run *r)
{
    int n = 0;
    if (r->n > 4 && r->sep[4]) {
        /* Grouped: separators exactly every 4 digits; a short group ends it. */
        while (n < r->n && (n == 0 || n % 4 != 0 || r->sep[n]) && (n % 4 == 0 || !r->sep[n]))
            n++;
        if (n < r->n && n % 4 == 0 && !r->sep[n])
            return 0; /* a group of more than 4 digits: not a card layout */
    } else {
        while (n < r->n && !r->sep[n])
            n++;
    }
    if (n < 13 || n > 19 || word_at(s, len, r->end[n - 1]) || !luhn_ok(r, n))
        return 0;
    return r->end[n - 1];
}

static int is_local_char(unsigned char c)
{
    return is_ascii_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int is_label_char(unsigned char c)
{
    return is_ascii_alnum(c) || c == '-';
}

/* local@domain.tld starting at p; returns the end offset or 0. The domain is
 * cut back to the last label that is an all-letter TLD of 2+ characters. */
static size_t match_email(const unsigned char *s, size_t len, size_t p)
{
    while (p < len && is_local_char(s[p]))
        p++;
    if (p >= len || s[p] != '@')
        return 0;
    p++;
    size_t good_end = 0;
    for (int label = 0;; label++) {
        size_t start = p;
        int letters_only = 1;
        while (p < len && is_label_char(s[p])) {
            if (!((s[p] >= 'A' && s[p] <= 'Z') || (s[p] >= 'a' && s[p] <= 'z')))
                letters_only = 0;
            p++;
        }
        if (p == start)
            break;
        if (label > 0 && letters_only && p - start >= 2)
            good_end = p;
        if (p + 1 >= len || s[p] != '.' || !is_label_char(s[p + 1]))
            break;
        p++;
    }
    return good_end;
}

/* Tries every rule at i; returns the match end (0 if none). The caller only
 * calls this at token starts: unmatched tokens are skipped whole and numeric
 * matches end at a token boundary, so no left-boundary test is needed. */
static size_t match_at(const unsigned char *s, size_t len, size_t i, int has_at,
                       enum voc_pii_kind *kind)
{
    struct digit_run r;
    size_t e;
    if (has_at && is_ascii_alnum(s[i]) && (i == 0 || !is_local_char(s[i - 1]))) {
        if ((e = match_email(s, len, i))) {
            *kind = VOC_PII_EMAIL;
            return e;
        }
    }
    int plus = s[i] == '+';
    read_run(s, len, i + (size_t)plus, &r);
    if (r.n == 0)
        return 0;
    if (!plus && (e = match_id_card(s, len, &r))) {
        *kind = VOC_PII_ID_CARD;
        return e;
    }
    if ((e = match_phone(s, len, &r, plus))) {
        *kind = VOC_PII_PHONE;
        return e;
    }
    if (!plus && (e = match_bank_card(s, len, &r))) {
        *kind = VOC_PII_BANK_CARD;
        return e;
    }
    return 0;
}

static void emit(struct out_buf *o, const char *src, size_t n)
{
    if (n == 0)
        return; /* src may be NULL for empty input */
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

/* Skips the rest of a token that matched nothing, so that no rule fires on
 * its tail (the tail of an order number is not a phone). */
static size_t skip_token(const unsigned char *s, size_t len, size_t i)
{
    size_t next = i + 1;
    while (word_at(s, len, i))
        i += s[i] < 0x80 ? 1 : 3;
    return i > next ? i : next;
}

char *voc_pii_mask(const char *text, size_t len, size_t *outlen, int *count)
{
    const unsigned char *s = (const unsigned char *)text;
    /* The only growth is an e-mail of 6 bytes (a@b.cn) becoming "[EMAIL]". */
    if (len > (SIZE_MAX - 2) / 7 * 6)
        return NULL;
    struct out_buf o = {malloc(len + len / 6 + 2), 0};
    if (!o.p)
        return NULL;
    int n = 0, has_at = len > 0 && memchr(s, '@', len) != NULL;
    size_t flushed = 0, i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (!is_ascii_alnum(c) && c != '+' && c != 0xEF) {
            i++;
            continue;
        }
        enum voc_pii_kind kind;
        size_t e = match_at(s, len, i, has_at, &kind);
        if (e == 0) {
            i = skip_token(s, len, i);
            continue;
        }
        emit(&o, text + flushed, i - flushed);
        emit(&o, pii_tags[kind], strlen(pii_tags[kind]));
        n++;
        flushed = i = e;
    }
    emit(&o, text + flushed, len - flushed);
    o.p[o.len] = '\0';
    if (outlen)
        *outlen = o.len;
    if (count)
        *count = n;
    return o.p;
}

static int is_identifier_key(const char *key, int top)
{
    size_t n = strlen(key);
    if (strcmp(key, "id") == 0 || strcmp(key, "event_id") == 0)
        return 1;
    if (n >= 3 && strcmp(key + n - 3, "_id") == 0)
        return 1;
    return top && (strcmp(key, "type") == 0 || strcmp(key, "occurred_at") == 0);
}

static int mask_node(json_t *node, int top);

static int mask_string(json_t *str)
{
    size_t outlen;
    int n;
    char *masked = voc_pii_mask(json_string_value(str), json_string_length(str), &outlen, &n);
    if (!masked)
        return -1;
    /* Tags are ASCII and replace whole characters, so the result is as valid
     * UTF-8 as the input was: no need to re-validate. */
    if (n > 0 && json_string_setn_nocheck(str, masked, outlen) != 0)
        n = -1;
    free(masked);
    return n;
}

static int mask_children(json_t *node, int top)
{
    int total = 0, n;
    if (json_is_object(node)) {
        const char *key;
        json_t *value;
        json_object_foreach(node, key, value)
        {
            if (is_identifier_key(key, top))
                continue;
            if ((n = mask_node(value, 0)) < 0)
                return -1;
            total += n;
        }
        return total;
    }
    size_t idx;
    json_t *value;
    json_array_foreach(node, idx, value)
    {
        if ((n = mask_node(value, 0)) < 0)
            return -1;
        total += n;
    }
    return total;
}

static int mask_node(json_t *node, int top)
{
    if (json_is_string(node))
        return mask_string(node);
    if (json_is_object(node) || json_is_array(node))
        return mask_children(node, top);
    return 0;
}

int voc_pii_mask_json(json_t *doc)
{
    if (!doc)
        return 0;
    return mask_node(doc, 1);
}
