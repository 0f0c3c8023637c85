/* match_eval DATA_DIR [ITEMS]: how well and how fast the near-duplicate
 * matcher (common/match.c) groups text.
 *
 * Quality: every pair of DATA_DIR/lcqmc_pairs.tsv (s1 TAB s2 TAB label, 1 =
 * same meaning) goes through the path voc-ingest and voc-aggregate take
 * (voc_pii_mask, voc_textnorm_apply, voc_match_signature) and the pairwise
 * precision, recall and F1 are printed per threshold. The shipped threshold
 * is the lowest one with precision >= 0.9: merging two different problems
 * costs more than missing a merge. "LSH" is the share of the true pairs at or
 * over the threshold that share a band, i.e. that voc-aggregate would find.
 *
 * Cost: ITEMS (default 100,000) generated texts stand for the open items;
 * their band hashes go into an in-memory hash table standing in for the
 * Postgres index voc.item_band (band, hash). Each query event is signed, its
 * 16 bands are looked up, and each candidate's signature is compared. The
 * cost per event must not grow with the number of items; a full scan is
 * timed next to it for contrast.
 *
 * Exit: 0 done, 2 bad usage or the data file absent, 1 out of memory. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/match.h"
#include "voc/pii.h"
#include "voc/textnorm.h"

#define STEPS     13 /* thresholds 0.30, 0.35, ..., 0.90 */
#define PRECISION 0.9
#define QUERIES   20000
#define NO_ENTRY  UINT32_MAX

struct pair {
    double sim;
    int label;
    int shares_band;
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double threshold_at(int step)
{
    return 0.30 + 0.05 * step;
}

/* Similarities are multiples of 1/64; the slack keeps 0.45 from becoming
 * 0.4500000001 and missing pairs exactly on it. */
static int over(double sim, double t)
{
    return sim + 1e-9 >= t;
}

/* Masked, then normalised, then signed: the order voc-ingest uses. */
static int sign_raw(struct voc_textnorm *tn, const char *raw, struct voc_signature *sig,
                    double *sign_us)
{
    size_t len = 0;
    char *masked = voc_pii_mask(raw, strlen(raw), &len, NULL);
    char *norm = masked ? voc_textnorm_apply(tn, masked, len, &len) : NULL;
    int rc = -1;
    if (norm) {
        double t0 = now_us();
        rc = voc_match_signature(norm, sig);
        *sign_us += now_us() - t0;
    }
    free(norm);
    free(masked);
    return rc;
}

static int shares_band(const struct voc_signature *a, const struct voc_signature *b)
{
    int64_t ba[VOC_MATCH_BANDS], bb[VOC_MATCH_BANDS];
    voc_match_bands(a, ba);
    voc_match_bands(b, bb);
    for (int j = 0; j < VOC_MATCH_BANDS; j++)
        if (ba[j] >= 0 && ba[j] == bb[j])
            return 1;
    return 0;
}

/* Reads and scores every pair. Returns the count, or -1 (message printed). */
static long load_pairs(FILE *f, struct voc_textnorm *tn, struct pair **out, double *sign_us)
{
    size_t cap = 8192, n = 0;
    struct pair *pairs = malloc(cap * sizeof *pairs);
    char *line = NULL;
    size_t linecap = 0;
    if (!pairs)
        goto fail;
    while (getline(&line, &linecap, f) > 0) {
        char *s1 = line, *s2 = strchr(s1, '\t');
        char *lab = s2 ? strchr(s2 + 1, '\t') : NULL;
        if (!lab)
            continue; /* not a pair line */
        *s2++ = '\0';
        *lab++ = '\0';
        struct voc_signature a, b;
        if (sign_raw(tn, s1, &a, sign_us) < 0 || sign_raw(tn, s2, &b, sign_us) < 0)
            continue; /* invalid UTF-8: the pair cannot reach voc-aggregate either */
        if (n == cap) {
            struct pair *p = realloc(pairs, 2 * cap * sizeof *pairs);
            if (!p)
                goto fail;
            pairs = p;
            cap *= 2;
        }
        pairs[n++] =
            (struct pair){voc_match_similarity(&a, &b), lab[0] == '1', shares_band(&a, &b)};
    }
    free(line);
    *out = pairs;
    return (long)n;
fail:
    fprintf(stderr, "match_eval: out of memory\n");
    free(line);
    free(pairs);
    return -1;
}

/* Prints the curve; returns the shipped threshold (or -1 if none qualifies). */
static double print_curve(const struct pair *pairs, long n)
{
    long positives = 0;
    for (long i = 0; i < n; i++)
        positives += pairs[i].label;
    printf("%ld pairs, %ld labelled same meaning\n\n", n, positives);
    printf("threshold  precision  recall     F1   grouped  LSH cand. recall\n");
    double shipped = -1;
    for (int s = 0; s < STEPS; s++) {
        double t = threshold_at(s);
        long tp = 0, fp = 0, found = 0;
        for (long i = 0; i < n; i++) {
            if (!over(pairs[i].sim, t))
                continue;
            tp += pairs[i].label;
            fp += !pairs[i].label;
            found += pairs[i].label && pairs[i].shares_band;
        }
        double p = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
        double r = positives ? (double)tp / (double)positives : 0.0;
        double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        int mark = shipped < 0 && tp + fp > 0 && p >= PRECISION;
        if (mark)
            shipped = t;
        printf("   %.2f     %6.3f   %6.3f  %6.3f  %7ld  %6.3f%s\n", t, p, r, f1, tp + fp,
               tp ? (double)found / (double)tp : 1.0,
               mark ? "   <- lowest with precision >= 0.9" : "");
    }
    return shipped;
}

/* ---- cost against many open items ----------------------------------------- */

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static const char *const phrases[] = {
    "上课", "视频",     "一直", "卡顿", "老师", "迟到",   "退款",   "没到账",   "客服",   "不回复",
    "声音", "断断续续", "画面", "黑屏", "白板", "打不开", "作业",   "提交失败", "直播间", "进不去",
    "课程", "价格",     "太贵", "网络", "掉线", "回放",   "看不了", "闪退",     "登录",   "验证码"};

/* A complaint-like text: four to seven stock phrases, each followed by a
 * random common Han character, and a number; texts overlap the way real ones
 * do. The same seed gives the same words whatever the number. */
static size_t gen_text(uint64_t seed, unsigned number, char *buf, size_t cap)
{
    size_t len = 0, nphr = sizeof phrases / sizeof phrases[0];
    uint64_t rng = seed;
    int parts = 4 + (int)(rng_next(&rng) % 4);
    for (int i = 0; i < parts && len + 64 < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s", phrases[rng_next(&rng) % nphr]);
        uint32_t c = 0x4e00 + (uint32_t)(rng_next(&rng) % 0x51a5);
        buf[len++] = (char)(0xe0 | (c >> 12));
        buf[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
        buf[len++] = (char)(0x80 | (c & 0x3f));
    }
    len += (size_t)snprintf(buf + len, cap - len, "%u", number);
    return len;
}

struct band_entry {
    int64_t hash;
    uint32_t item, next;
    int band;
};

struct index {
    uint32_t *heads; /* per bucket: first entry, NO_ENTRY when none */
    struct band_entry *entries;
    size_t mask, used;
    struct voc_signature *sigs; /* per item */
    uint32_t *seen;             /* per item: last query that examined it */
};

static void index_free(struct index *ix)
{
    free(ix->heads);
    free(ix->entries);
    free(ix->sigs);
    free(ix->seen);
}

static int index_new(struct index *ix, size_t items)
{
    size_t buckets = 1;
    while (buckets < items * VOC_MATCH_BANDS * 2)
        buckets <<= 1;
    *ix = (struct index){.mask = buckets - 1};
    ix->heads = malloc(buckets * sizeof *ix->heads);
    ix->entries = malloc(items * VOC_MATCH_BANDS * sizeof *ix->entries);
    ix->sigs = malloc(items * sizeof *ix->sigs);
    ix->seen = calloc(items, sizeof *ix->seen);
    if (!ix->heads || !ix->entries || !ix->sigs || !ix->seen) {
        index_free(ix);
        return -1;
    }
    memset(ix->heads, 0xff, buckets * sizeof *ix->heads);
    return 0;
}

static size_t bucket_of(const struct index *ix, int band, int64_t hash)
{
    return ((uint64_t)hash ^ (uint64_t)band * 0x9e3779b97f4a7c15u) & ix->mask;
}

static void index_add(struct index *ix, uint32_t item, const struct voc_signature *sig)
{
    int64_t bands[VOC_MATCH_BANDS];
    ix->sigs[item] = *sig;
    voc_match_bands(sig, bands);
    for (int j = 0; j < VOC_MATCH_BANDS; j++) {
        if (bands[j] < 0)
            continue; /* empty text: never a candidate */
        size_t b = bucket_of(ix, j, bands[j]);
        ix->entries[ix->used] = (struct band_entry){bands[j], item, ix->heads[b], j};
        ix->heads[b] = (uint32_t)ix->used++;
    }
}

/* The best item at or over the threshold, or -1; *examined counts candidates. */
static long index_query(struct index *ix, const struct voc_signature *sig, uint32_t stamp,
                        double threshold, long *examined)
{
    int64_t bands[VOC_MATCH_BANDS];
    long best = -1;
    double best_sim = threshold;
    voc_match_bands(sig, bands);
    for (int j = 0; j < VOC_MATCH_BANDS; j++) {
        if (bands[j] < 0)
            continue;
        for (uint32_t e = ix->heads[bucket_of(ix, j, bands[j])]; e != NO_ENTRY;
             e = ix->entries[e].next) {
            const struct band_entry *be = &ix->entries[e];
            if (be->band != j || be->hash != bands[j] || ix->seen[be->item] == stamp)
                continue;
            ix->seen[be->item] = stamp;
            (*examined)++;
            double s = voc_match_similarity(sig, &ix->sigs[be->item]);
            if (over(s, best_sim)) {
                best_sim = s;
                best = be->item;
            }
        }
    }
    return best;
}

/* Half the queries repeat an item's text with another number (a true repeat,
 * which the masking makes identical); half are new texts. */
static int run_queries(struct index *ix, size_t items, double threshold, struct voc_signature *q)
{
    char text[512];
    uint64_t rng = 42;
    for (uint32_t i = 0; i < QUERIES; i++) {
        uint64_t seed = i % 2 ? rng_next(&rng) | 1u << 31 : rng_next(&rng) % items;
        gen_text(seed, (unsigned)i, text, sizeof text);
        if (voc_match_signature(text, &q[i]) < 0)
            return -1;
    }
    long examined = 0, matched = 0;
    double t0 = now_us();
    for (uint32_t i = 0; i < QUERIES; i++)
        matched += index_query(ix, &q[i], i + 1, threshold, &examined) >= 0;
    double per_event = (now_us() - t0) / QUERIES;
    double scan = now_us();
    volatile double sink = 0;
    for (size_t k = 0; k < items; k++)
        sink += voc_match_similarity(&q[0], &ix->sigs[k]);
    (void)sink;
    printf("%9zu  %10.2f  %10.1f  %9.1f%%  %12.0f\n", items, per_event, (double)examined / QUERIES,
           100.0 * (double)matched / QUERIES, now_us() - scan);
    return 0;
}

static int measure_cost(size_t max_items, double threshold)
{
    char text[512];
    struct voc_signature *q = malloc(QUERIES * sizeof *q);
    if (!q)
        return -1;
    printf("\ncost per query event, LSH lookup + similarity of every candidate (threshold %.2f)\n",
           threshold);
    printf("    items  us/event  candidates  matched  full scan us/event\n");
    double sign_us = 0, bytes = 0;
    size_t signed_texts = 0;
    for (size_t items = max_items / 100; items <= max_items; items *= 10) {
        struct index ix;
        if (items == 0 || index_new(&ix, items) < 0)
            break;
        for (uint32_t i = 0; i < items; i++) {
            struct voc_signature sig;
            bytes += (double)gen_text(i, 1000 + i, text, sizeof text);
            double t0 = now_us();
            voc_match_signature(text, &sig);
            sign_us += now_us() - t0;
            signed_texts++;
            index_add(&ix, i, &sig);
        }
        int rc = run_queries(&ix, items, threshold, q);
        index_free(&ix);
        if (rc < 0)
            break;
    }
    if (signed_texts)
        printf("signature of a generated text (%.0f bytes on average): %.2f us\n",
               bytes / (double)signed_texts, sign_us / (double)signed_texts);
    free(q);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: match_eval DATA_DIR [ITEMS]\n");
        return 2;
    }
    size_t items = argc == 3 ? strtoul(argv[2], NULL, 10) : 100000;
    char path[4096], err[256] = "";
    snprintf(path, sizeof path, "%s/lcqmc_pairs.tsv", argv[1]);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr,
                "match_eval: cannot read %s: %s\nThe evaluation needs the shared data set "
                "(../shared/data/lcqmc_pairs.tsv); nothing was measured.\n",
                path, strerror(errno));
        return 2;
    }
    struct voc_textnorm *tn = voc_textnorm_new(err, sizeof err);
    struct pair *pairs = NULL;
    double sign_us = 0;
    long n = tn ? load_pairs(f, tn, &pairs, &sign_us) : -1;
    fclose(f);
    voc_textnorm_free(tn);
    if (n < 0) {
        if (!tn)
            fprintf(stderr, "match_eval: %s\n", err);
        return 1;
    }
    printf("near-duplicate matcher %s on %s\n", VOC_MATCH_VERSION, path);
    double shipped = print_curve(pairs, n);
    printf("\nsignature of an LCQMC text: %.2f us\n", n ? sign_us / (2.0 * (double)n) : 0.0);
    free(pairs);
    if (shipped < 0)
        printf("no threshold reaches precision %.1f\n", PRECISION);
    int rc = measure_cost(items, shipped < 0 ? 0.9 : shipped);
    return rc < 0 ? 1 : 0;
}
