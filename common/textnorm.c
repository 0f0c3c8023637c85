/* Text normalisation for matching: NFKC + case folding, Traditional to
 * Simplified, whitespace collapsed.
 *
 * utf8proc_map() would allocate twice per call; instead the decode buffer
 * lives in the handle and is reused, and whitespace is collapsed while
 * re-encoding in place.
 *
 * OpenCC costs ~0.7 us per character, far over the per-event budget, and is
 * the identity on most of our traffic (Simplified text). So the handle asks
 * OpenCC once, at creation, which BMP characters t2s changes on their own,
 * and converts a text only when it contains one of them, one of the few
 * characters that change only inside a phrase, or a Han character outside
 * the BMP. The result is the same as converting every text. */
#include "voc/textnorm.h"

#include <opencc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* NFKC_Casefold as utf8proc_NFKC_Casefold() defines it (IGNORE drops default
 * ignorables such as U+200B, which would otherwise split keywords), plus
 * STRIPCC: controls removed, line breaks and tabs turned into spaces. */
#define TN_OPTIONS                                                                                 \
    (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE |  \
     UTF8PROC_STRIPCC)

#define TN_INITIAL_CAP 512

#define TN_BMP 0x10000

struct voc_textnorm {
    opencc_t cc;
    unsigned char t2s_bmp[TN_BMP / 8]; /* bit set: t2s may change this code point */
    utf8proc_int32_t *cps;             /* scratch: code points, then the re-encoded UTF-8 */
    size_t cap;                        /* in code points; the allocation has one spare slot */
};

static void set_err(char *err, size_t errlen, const char *msg, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}

static int grow(struct voc_textnorm *tn, size_t need)
{
    size_t cap = tn->cap ? tn->cap : TN_INITIAL_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof *tn->cps - 1)
            return -1;
        cap *= 2;
    }
    /* The spare slot holds the NUL after a worst-case 4-bytes-per-point encoding. */
    utf8proc_int32_t *cps = realloc(tn->cps, (cap + 1) * sizeof *cps);
    if (!cps)
        return -1;
    tn->cps = cps;
    tn->cap = cap;
    return 0;
}

/* Characters that t2s leaves alone on their own but changes inside a phrase
 * of TSPhrases (OpenCC 1.1.6: 回覆, 明瞭, 沈默, 牴牾, 衹得, 藉口). A probe of
 * single characters cannot find these. */
static const utf8proc_int32_t phrase_only[] = {0x6C88, 0x7274, 0x77AD, 0x85C9, 0x8879, 0x8986};

static void mark(struct voc_textnorm *tn, utf8proc_int32_t c)
{
    tn->t2s_bmp[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int marked(const struct voc_textnorm *tn, utf8proc_int32_t c)
{
    if (c >= TN_BMP)
        return c >= 0x20000 && c < 0x40000; /* Han lives in planes 2-3, not 1 */
    return tn->t2s_bmp[c >> 3] >> (c & 7) & 1;
}

/* Every non-ASCII BMP scalar value, one per line, so that OpenCC cannot
 * join neighbours into a phrase. */
static char *probe_text(size_t *len)
{
    char *buf = malloc((size_t)TN_BMP * 4);
    if (!buf)
        return NULL;
    size_t w = 0;
    for (utf8proc_int32_t c = 0x80; c < TN_BMP; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        w += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)buf + w);
        buf[w++] = '\n';
    }
    *len = w;
    return buf;
}

/* Marks each line of in that differs from the same line of out. */
static void mark_changed(struct voc_textnorm *tn, const char *in, size_t inlen, const char *out)
{
    const char *p = in, *q = out, *end = in + inlen;
    while (p < end) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)p, end - p, &c);
        const char *qe = strchr(q, '\n');
        if (n <= 0 || !qe) {
            /* Lines no longer line up: convert every text rather than guess. */
            memset(tn->t2s_bmp, 0xFF, sizeof tn->t2s_bmp);
            return;
        }
        if ((size_t)(qe - q) != (size_t)n || memcmp(p, q, (size_t)n) != 0)
            mark(tn, c);
        p += n + 1;
        q = qe + 1;
    }
}

static int probe_t2s(struct voc_textnorm *tn)
{
    size_t len;
    char *in = probe_text(&len);
    if (!in)
        return -1;
    char *out = opencc_convert_utf8(tn->cc, in, len);
    if (!out) {
        free(in);
        return -1;
    }
    mark_changed(tn, in, len, out);
    opencc_convert_utf8_free(out);
    free(in);
    for (size_t i = 0; i < sizeof phrase_only / sizeof *phrase_only; i++)
        mark(tn, phrase_only[i]);
    return 0;
}

struct voc_textnorm *voc_textnorm_new(char *err, size_t errlen)
{
    struct voc_textnorm *tn = calloc(1, sizeof *tn);
    if (!tn) {
        set_err(err, errlen, "out of memory", NULL);
        return NULL;
    }
    tn->cc = opencc_open("t2s.json");
    /* OpenCC signals failure with (opencc_t)-1. */
    if (tn->cc == (opencc_t)-1) { // NOLINT(performance-no-int-to-ptr)
        set_err(err, errlen, "cannot open OpenCC configuration t2s.json", opencc_error());
        goto fail;
    }
    if (grow(tn, TN_INITIAL_CAP) != 0) {
        set_err(err, errlen, "out of memory", NULL);
        goto fail;
    }
    if (probe_t2s(tn) != 0) {
        set_err(err, errlen, "cannot probe OpenCC t2s", opencc_error());
        goto fail;
    }
    return tn;
fail:
    voc_textnorm_free(tn);
    return NULL;
}

void voc_textnorm_free(struct voc_textnorm *tn)
{
    if (!tn)
        return;
    if (tn->cc && tn->cc != (opencc_t)-1) // NOLINT(performance-no-int-to-ptr)
        opencc_close(tn->cc);
    free(tn->cps);
    free(tn);
}

/* Unicode White_Space. Most of these are already U+0020 after NFKC/STRIPCC,
 * but U+1680, U+2028 and U+2029 have no compatibility mapping. */
static int is_space(utf8proc_int32_t c)
{
    return c == 0x20 || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Decomposes and normalises into tn->cps; returns the number of code points
 * or a negative utf8proc error. */
static utf8proc_ssize_t decode(struct voc_textnorm *tn, const char *text, size_t len)
{
    const utf8proc_uint8_t *src = (const utf8proc_uint8_t *)text;
    utf8proc_ssize_t n = utf8proc_decompose(src, (utf8proc_ssize_t)len, tn->cps,
                                            (utf8proc_ssize_t)tn->cap, TN_OPTIONS);
    if (n > (utf8proc_ssize_t)tn->cap) {
        if (grow(tn, (size_t)n) != 0)
            return UTF8PROC_ERROR_NOMEM;
        n = utf8proc_decompose(src, (utf8proc_ssize_t)len, tn->cps, (utf8proc_ssize_t)tn->cap,
                               TN_OPTIONS);
    }
    if (n < 0)
        return n;
    return utf8proc_normalize_utf32(tn->cps, n, TN_OPTIONS);
}

/* Re-encodes the n code points as UTF-8 over the same buffer, collapsing
 * whitespace runs and trimming. Safe in place: after i points at most 4*i
 * bytes are written, and point i is read before its bytes are overwritten.
 * Sets *convert when the text holds a character t2s may change. */
static size_t encode_collapsed(const struct voc_textnorm *tn, utf8proc_ssize_t n, int *convert)
{
    utf8proc_int32_t *cps = tn->cps;
    utf8proc_uint8_t *out = (utf8proc_uint8_t *)cps;
    size_t w = 0;
    int pending_space = 0;
    *convert = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_int32_t c = cps[i];
        if (is_space(c)) {
            pending_space = w > 0;
            continue;
        }
        if (pending_space) {
            out[w++] = ' ';
            pending_space = 0;
        }
        if (c >= 0x80 && !*convert)
            *convert = marked(tn, c);
        w += (size_t)utf8proc_encode_char(c, out + w);
    }
    out[w] = '\0';
    return w;
}

static char *dup_bytes(const char *src, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, src, n);
        copy[n] = '\0';
    }
    return copy;
}

char *voc_textnorm_apply(struct voc_textnorm *tn, const char *text, size_t len, size_t *outlen)
{
    char *result = NULL;
    char *converted = NULL;
    int convert;
    if (outlen)
        *outlen = 0;
    if (len > (size_t)PTRDIFF_MAX / 4)
        return NULL;
    utf8proc_ssize_t n = decode(tn, len ? text : "", len);
    if (n < 0)
        return NULL;
    size_t w = encode_collapsed(tn, n, &convert);
    const char *norm = (const char *)tn->cps;
    if (convert) {
        /* Output is NUL-free: STRIPCC removed every U+0000 from the input. */
        converted = opencc_convert_utf8(tn->cc, norm, w);
        if (!converted)
            goto cleanup;
        norm = converted;
        w = strlen(converted);
    }
    result = dup_bytes(norm, w);
    if (!result)
        goto cleanup;
    if (outlen)
        *outlen = w;
cleanup:
    if (converted)
        opencc_convert_utf8_free(converted);
    return result;
}
