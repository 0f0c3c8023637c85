/* Near-duplicate matching: masking, character n-grams, MinHash, LSH bands,
 * and the exact fingerprint.
 *
 * The text the n-grams see (what voc_match_mask returns) is a stream of units:
 *  - a CJK character (Han, kana, Hangul) is one unit; spaces and punctuation
 *    next to one are dropped, because Chinese does not mark word boundaries
 *    and "等了 30 分钟" must look like "等了30分钟";
 *  - a token of letters, digits and the connectors : - / . _ # (and "," between
 *    digits) that holds any digit becomes one "#": numbers, times, dates,
 *    order numbers and ids ("10:30", "2026-11-20", "ab12cd34ef", "order#123")
 *    vary between reports of one problem and say nothing about which problem
 *    it is. A token without digits stays, letter by letter;
 *  - Chinese modal and structural particles count as punctuation (below);
 *  - any run of spaces and punctuation between two non-CJK units is one
 *    space, so Latin words keep their boundaries ("the app" is not "thea pp").
 * Spaces are units too, so Latin 2- and 3-grams span word edges as usual.
 *
 * N-grams are hashed from their code points, not their bytes, and fed
 * straight into the 64 running minima: a signature allocates nothing. Each
 * MinHash value is the top half of a*h+b (mod 2^64) for a fixed table of odd
 * multipliers a and offsets b: one well-mixed 64-bit hash per n-gram and one
 * multiply per value. The table and the mixer are constants, so a signature
 * is the same on every machine and in every release with the same
 * VOC_MATCH_VERSION; changing any of them (or the masking) changes stored
 * signatures and band hashes, and must bump the version. */
#include "voc/match.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum unit_class { U_NONE, U_SEP, U_CJK, U_WORD, U_SPACE };

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* splitmix64 from the seed 0x766f636c6f6f7031 ("vocloop1"): 64 multipliers
 * (forced odd), then 64 offsets. Fixed here rather than computed at start-up
 * so that no initialisation order or thread can change them. */
static const uint64_t perm_a[VOC_MATCH_HASHES] = {
    0x4d7ed272cc3e9843u, 0x813c88693fbfb465u, 0xda475eb3eb667e31u, 0x06a2bffe71654f8fu,
    0x974e560b3ad18e4fu, 0x2a66198420a56011u, 0x111add3bce14a08bu, 0x49f09a5e4b2ce6a5u,
    0x0eb603c7eb1267d7u, 0x6b811387dcc50267u, 0x3211c1c50d89d731u, 0x921d5ef19072478bu,
    0x05430318890d0e73u, 0x083bdfa5f5aa8301u, 0xfbfe7b88454aa0c7u, 0x422067a0d6996829u,
    0x9a3a5c3d31a2d029u, 0xa2b28f9958454713u, 0x0223441c3630931fu, 0x6f032ba08e16dd23u,
    0x9a3e819ac02ccd45u, 0x15a3ecf2238b28d9u, 0x85120cdc223fd3d9u, 0xf035b607063d8437u,
    0xb814948cc48e7e79u, 0x408e017104fb88a9u, 0x23ed049163f2127du, 0x0d1ea8dcfa5d34b3u,
    0xc11755f442765a43u, 0x57d15403d1d063c1u, 0x65276d734a55d6c5u, 0x5f53635c563c61b1u,
    0xb2fe58f5bb5d06dbu, 0x73717819e469380bu, 0xbb6f9a4cf05d0fc9u, 0x3e1cecd6a5c1394bu,
    0xa961cdab633c32ffu, 0x366a21571ad67ae5u, 0xbf1adf1164ef7205u, 0x567d1b98eb94c46du,
    0x05a175429d406509u, 0xb8c1da8f1fbf2351u, 0x765111de92b9cc89u, 0xfe88c1ebaa8d6663u,
    0xa1c3292910f378e5u, 0x49bf06f2030b8d65u, 0xdd6cf1aee8421f85u, 0xcf67990027f459a5u,
    0x469fae3f00daf045u, 0x9679f7de68dc6731u, 0x54f7dfba1c89a871u, 0x8bd70c6d49d7ab65u,
    0xc9d63b6b992b37bfu, 0x92c932508e0cece1u, 0xc44fed8520b6874bu, 0xe3d5492fa5d4f8d9u,
    0x07fb33b47666a0c5u, 0xf6eccafe44df6343u, 0x45c3a2b3dacfae49u, 0x418e1465b8c6bdd9u,
    0x6bfad3ad8e70bccbu, 0xe73d217785439ba1u, 0x10683c0ff4a23147u, 0x08dd08ac6134c5b3u,
};
static const uint64_t perm_b[VOC_MATCH_HASHES] = {
    0xad0fd905cbb05851u, 0x5fbfce5e431d9f4cu, 0x780c287d682a62bcu, 0xf294bff0159b736du,
    0x9ca130a6ce778a77u, 0xde19a3aec7238534u, 0x6222e620a5492ddeu, 0xc045522126c346dcu,
    0x43f7e1b1bb102447u, 0x2c277c82c50620c0u, 0x90bae42b728ca8d8u, 0xd8746770004bae51u,
    0xdb764865b862ddb2u, 0xc43572bc3405b77au, 0x7922aa56f2ec75a7u, 0xb6f68560eb428797u,
    0xa5301fba40c8e770u, 0xd1dffa15fa38f185u, 0xcde6e507f0584e2eu, 0x603ef72c66469b8bu,
    0xa1e5fa2c4a02f256u, 0x512430952c213a17u, 0xff1b6a027c65f84eu, 0x6f5e80999c0bfd06u,
    0xa450bdce9a0f0098u, 0x855c632b41c9c30eu, 0x86669a319ea909c6u, 0x5729376a6ad76742u,
    0x3b4af3e59c1b4fe8u, 0xb135e611a92f1599u, 0x655bbbc7d5382e0fu, 0x8afce521f963f46du,
    0x982594c2a4e9ee01u, 0x53fc9489fc98e305u, 0x79cc2a17202cc310u, 0x139562e58e56ef3fu,
    0xffd17516400f9f88u, 0xf709e4e45ae27603u, 0x994a3863184258a7u, 0x2b9d1bdfbc53cc88u,
    0x3cdef849bc4f6efbu, 0x91455a9335a51d45u, 0x528b130a4ef44553u, 0x3c01aa325d664171u,
    0x6ce17c8d95539931u, 0x4b63d5c46abe6c09u, 0x67d253cc8b66f456u, 0xd333a0037ec1ba80u,
    0xc2c149a99f4e97d5u, 0x0132f950f5a3f171u, 0x1a5a9f0b5f082612u, 0xd5c406003d524c06u,
    0x34c7b85d9ee6e994u, 0x3636f7ff36f6f68cu, 0xa542a0187bdcb383u, 0x2cee49e7b7210d8eu,
    0x28bce9756a2d0c38u, 0x95fcb88d9e265b9bu, 0x169884317498d6b7u, 0xb68450fd774cfc8fu,
    0xd8b5e62b6727d49eu, 0xbeaf08386b7ab325u, 0x8527a74d607ce50fu, 0x80a96db6a2cd24afu,
};

/* ---- the unit stream ---------------------------------------------------- */

static int is_cjk(int32_t c)
{
    return (c >= 0x1100 && c <= 0x11ff) || (c >= 0x2e80 && c <= 0x9fff) ||
           (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff) ||
           (c >= 0x20000 && c <= 0x3ffff);
}

static int is_numeric_cat(utf8proc_category_t cat)
{
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
           cat == UTF8PROC_CATEGORY_NO;
}

/* Chinese modal and structural particles (的 了 吗 呢 吧 啊 呀 哦 嘛 么 啦 呗)
 * are dropped like punctuation: they change the tone, not the problem, and
 * they are where paraphrases differ most ("卡了吗" / "卡啊"). On LCQMC this
 * takes recall at precision >= 0.9 from 2% to 8% (tests/bench/README.md,
 * "match"). Pronouns and question words are kept: dropping them cost
 * precision ("我" vs "你" asks about someone else). */
static const int32_t particles[] = {0x7684, 0x4e86, 0x5417, 0x5462, 0x5427, 0x554a,
                                    0x5440, 0x54e6, 0x561b, 0x4e48, 0x5566, 0x5457};

static int is_particle(int32_t c)
{
    for (size_t i = 0; i < sizeof particles / sizeof particles[0]; i++)
        if (c == particles[i])
            return 1;
    return 0;
}

/* Letters, marks and numbers are word characters; the rest separate. */
static enum unit_class classify(int32_t c)
{
    if (c < 0x80) {
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        return alnum ? U_WORD : U_SEP;
    }
    utf8proc_category_t cat = utf8proc_category(c);
    if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
        (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME) || is_numeric_cat(cat))
        return !is_cjk(c) ? U_WORD : is_particle(c) ? U_SEP : U_CJK;
    return U_SEP;
}

/* Only reached for U_WORD characters, so CJK numerals (三, 〇) never count. */
static int is_digit(int32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    return is_numeric_cat(utf8proc_category(c));
}

struct unit_it {
    const uint8_t *p, *end;
    const uint8_t *plain_end; /* letters of a digit-free token still to emit */
    enum unit_class prev;     /* class of the last unit emitted */
};

/* Decodes one code point; invalid bytes come back as a lone separator. */
static int32_t decode(const uint8_t *p, const uint8_t *end, size_t *n)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(p, end - p, &c);
    if (k <= 0) {
        *n = 1;
        return 0xfffd;
    }
    *n = (size_t)k;
    return c;
}

static int is_connector(int32_t c, int32_t before, int32_t after)
{
    if (c == ',')
        return is_digit(before) && is_digit(after);
    return c == ':' || c == '-' || c == '/' || c == '.' || c == '_' || c == '#';
}

/* Scans the token at it->p. Returns whether it holds a digit; *tok_end is
 * where it ends, *run_end where its first connector-free run ends. */
static int scan_token(const uint8_t *p, const uint8_t *end, const uint8_t **tok_end,
                      const uint8_t **run_end)
{
    int digit = 0;
    int32_t last = 0;
    *run_end = NULL;
    while (p < end) {
        size_t n;
        int32_t c = decode(p, end, &n);
        if (classify(c) != U_WORD) {
            size_t m = 0;
            int32_t next = p + n < end ? decode(p + n, end, &m) : 0;
            if (!is_connector(c, last, next) || classify(next) != U_WORD)
                break;
            if (!*run_end)
                *run_end = p;
        } else {
            digit |= is_digit(c);
        }
        last = c;
        p += n;
    }
    *tok_end = p;
    if (!*run_end)
        *run_end = p;
    return digit;
}

/* The next unit, or 0 at the end of the text. */
static int32_t unit_next(struct unit_it *it)
{
    size_t n;
    if (it->p < it->plain_end) {
        int32_t c = decode(it->p, it->end, &n);
        it->p += n;
        it->prev = U_WORD;
        return c;
    }
    int skipped = 0;
    int32_t c = 0;
    enum unit_class cls = U_NONE;
    while (it->p < it->end) {
        c = decode(it->p, it->end, &n);
        cls = classify(c);
        if (cls != U_SEP)
            break;
        it->p += n;
        skipped = 1;
    }
    if (it->p >= it->end)
        return 0;
    if (skipped && it->prev == U_WORD && cls == U_WORD) {
        it->prev = U_SPACE;
        return ' ';
    }
    it->prev = cls;
    if (cls == U_CJK) {
        it->p += n;
        return c;
    }
    const uint8_t *tok_end, *run_end;
    if (scan_token(it->p, it->end, &tok_end, &run_end)) {
        it->p = tok_end;
        return '#';
    }
    it->plain_end = run_end;
    it->p += n;
    return c;
}

static void unit_start(struct unit_it *it, const char *text)
{
    it->p = (const uint8_t *)text;
    it->end = it->p + strlen(text);
    it->plain_end = it->p;
    it->prev = U_NONE;
}

char *voc_match_mask(const char *norm_text)
{
    struct unit_it it;
    unit_start(&it, norm_text ? norm_text : "");
    /* Every unit replaces at least as many bytes as it encodes to: "#" and
     * " " stand for one or more characters, the rest are copied. */
    char *out = malloc((size_t)(it.end - it.p) + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    int32_t c;
    while ((c = unit_next(&it)) != 0)
        len += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out + len);
    out[len] = '\0';
    return out;
}

/* ---- MinHash ------------------------------------------------------------- */

static void minhash_add(uint32_t *h, uint64_t key)
{
    uint64_t x = mix64(key ^ 0x6e6772616d6b6579u);
    for (int i = 0; i < VOC_MATCH_HASHES; i++) {
        uint32_t v = (uint32_t)((perm_a[i] * x + perm_b[i]) >> 32);
        if (v < h[i])
            h[i] = v;
    }
}

int voc_match_signature(const char *norm_text, struct voc_signature *out)
{
    if (!out)
        return -1;
    for (int i = 0; i < VOC_MATCH_HASHES; i++)
        out->h[i] = UINT32_MAX;
    struct unit_it it;
    unit_start(&it, norm_text ? norm_text : "");
    /* Code points are below 2^21, so three fit in 63 bits: the key is the
     * n-gram itself, and bit 63 keeps 3-grams apart from 2-grams. */
    uint64_t w0 = 0, w1 = 0;
    size_t units = 0, ngrams = 0;
    int32_t c;
    while ((c = unit_next(&it)) != 0) {
        uint64_t cur = (uint64_t)c & 0x1fffff;
        if (units >= 1) {
            minhash_add(out->h, w1 << 21 | cur);
            ngrams++;
        }
        if (units >= 2)
            minhash_add(out->h, 1ull << 63 | w0 << 42 | w1 << 21 | cur);
        w0 = w1;
        w1 = cur;
        units++;
    }
    out->empty = ngrams == 0;
    return 0;
}

double voc_match_similarity(const struct voc_signature *a, const struct voc_signature *b)
{
    if (!a || !b || a->empty || b->empty)
        return 0.0;
    int same = 0;
    for (int i = 0; i < VOC_MATCH_HASHES; i++)
        same += a->h[i] == b->h[i];
    return (double)same / VOC_MATCH_HASHES;
}

/* An empty signature gets -1 in every band: no real band hash (all >= 0)
 * equals it, and a caller that stores it anyway finds only other empty texts,
 * which the similarity then refuses. */
void voc_match_bands(const struct voc_signature *s, int64_t bands[VOC_MATCH_BANDS])
{
    enum { ROWS = VOC_MATCH_HASHES / VOC_MATCH_BANDS };
    for (int j = 0; j < VOC_MATCH_BANDS; j++) {
        if (s->empty) {
            bands[j] = -1;
            continue;
        }
        /* The band number is mixed in so equal rows in different bands differ:
         * the hash stays meaningful even if stored without its band. */
        uint64_t x = mix64(0x62616e64u + (uint64_t)j);
        for (int r = 0; r < ROWS; r++)
            x = mix64(x ^ s->h[j * ROWS + r]);
        bands[j] = (int64_t)(x >> 1);
    }
}

void voc_match_sig_pack(const struct voc_signature *s, unsigned char out[VOC_MATCH_HASHES * 4])
{
    for (int i = 0; i < VOC_MATCH_HASHES; i++) {
        uint32_t v = s->h[i];
        for (int k = 0; k < 4; k++)
            out[i * 4 + k] = (unsigned char)(v >> (8 * k));
    }
}

/* The empty flag is not stored: an empty signature is all UINT32_MAX (the
 * minimum over no n-grams), which a real text reaches with odds of 2^-2048. */
int voc_match_sig_unpack(const unsigned char *in, size_t len, struct voc_signature *out)
{
    if (!in || !out || len != (size_t)VOC_MATCH_HASHES * 4)
        return -1;
    int all_max = 1;
    for (int i = 0; i < VOC_MATCH_HASHES; i++) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++)
            v |= (uint32_t)in[i * 4 + k] << (8 * k);
        out->h[i] = v;
        all_max &= v == UINT32_MAX;
    }
    out->empty = all_max;
    return 0;
}

/* ---- exact fingerprint --------------------------------------------------- */

static const char *primary_entity(const char *dimension, const char *line, const char *product_id,
                                  const char *lesson_id, const char *teacher_id,
                                  const char *channel)
{
    if (strcmp(dimension, "line") == 0)
        return line;
    if (strcmp(dimension, "product") == 0)
        return product_id;
    if (strcmp(dimension, "class") == 0)
        return lesson_id && *lesson_id ? lesson_id : teacher_id;
    if (strcmp(dimension, "service") == 0)
        return channel;
    return NULL; /* unclassified, or a dimension this version does not know */
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A missing dimension or category, or an out buffer too small for the
 * fingerprint, also give -1: no exact rule is safer than a truncated key that
 * could equal another entity's. */
int voc_match_fingerprint(const char *dimension, const char *category, const char *line,
                          const char *product_id, const char *lesson_id, const char *teacher_id,
                          const char *channel, char *entity_out, size_t entity_len, char *out,
                          size_t outlen)
{
    if (out && outlen)
        out[0] = '\0';
    if (entity_out && entity_len)
        entity_out[0] = '\0';
    if (!out || !dimension || !*dimension || !category || !*category)
        return -1;
    const char *e = primary_entity(dimension, line, product_id, lesson_id, teacher_id, channel);
    if (!e)
        return -1;
    while (is_space(*e))
        e++;
    size_t n = strlen(e);
    while (n > 0 && is_space(e[n - 1]))
        n--;
    if (n == 0)
        return -1;
    int head = snprintf(out, outlen, "%s:%s:%s:", VOC_MATCH_VERSION, dimension, category);
    if (head < 0 || (size_t)head + n >= outlen || (entity_out && n >= entity_len)) {
        if (outlen)
            out[0] = '\0';
        return -1;
    }
    /* ASCII-only lower-casing: entities are ids and line names, and a
     * locale-dependent tolower() would make fingerprints differ by machine. */
    for (size_t i = 0; i < n; i++) {
        char c = e[i] >= 'A' && e[i] <= 'Z' ? (char)(e[i] - 'A' + 'a') : e[i];
        out[(size_t)head + i] = c;
        if (entity_out)
            entity_out[i] = c;
    }
    out[(size_t)head + n] = '\0';
    if (entity_out)
        entity_out[n] = '\0';
    return 0;
}
