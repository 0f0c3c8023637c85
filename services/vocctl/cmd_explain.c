/* vocctl explain-match "text A" "text B" [--dimension D --category C]
 *                      [--threshold T]
 *
 * Why two complaints were, or were not, folded into one item. Each text takes
 * voc-ingest's path (voc_pii_mask, voc_textnorm_apply, and voc_classify
 * unless --dimension/--category say where both belong), then voc-aggregate's
 * near-duplicate rule: voc_match_signature, a shared LSH band (without one
 * the item is never even a candidate), voc_match_similarity >= the threshold
 * (aggregate.match_threshold in voc.yaml unless --threshold). The exact
 * fingerprint rule needs the event's entity fields, not its text, so it is
 * not part of this answer.
 *
 * Exit: 0 they would group, 1 they would not, 2 bad usage, bad configuration
 * or a text that is not valid UTF-8. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/config.h"
#include "voc/event.h"
#include "voc/match.h"
#include "voc/pii.h"
#include "voc/taxonomy.h"
#include "voc/textnorm.h"
#include "vocctl.h"

#define USAGE                                                                                      \
    "usage: vocctl explain-match \"TEXT A\" \"TEXT B\" [--dimension D --category C] "              \
    "[--threshold T]\n"

struct side {
    const char *raw;
    char *norm;   /* what voc-ingest stores as text_norm (masked, normalised) */
    char *ngrams; /* what the n-grams are taken from */
    struct voc_signature sig;
    const char *dimension, *category;
    char rule[128]; /* what decided the classification */
};

struct opts {
    const char *dimension, *category;
    double threshold; /* < 0: from voc.yaml */
    const char *texts[2];
};

/* Returns 0, 1 for --help, or -1 on bad usage (message printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {{"dimension", required_argument, NULL, 'd'},
                                             {"category", required_argument, NULL, 'c'},
                                             {"threshold", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct opts){.threshold = -1};
    /* 0, not 1: glibc then re-reads the option string, so options may follow
     * the texts here although vocctl's own parsing stopped at the first word. */
    optind = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "d:c:t:h", longopts, NULL)) != -1) {
        if (c == 'd') {
            o->dimension = optarg;
        } else if (c == 'c') {
            o->category = optarg;
        } else if (c == 't') {
            o->threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(o->threshold > 0 && o->threshold <= 1)) {
                fprintf(stderr, "vocctl explain-match: --threshold wants a number in (0, 1]\n");
                return -1;
            }
        } else {
            return c == 'h' ? 1 : -1;
        }
    }
    if (argc - optind != 2 || !o->dimension != !o->category) {
        if (!o->dimension != !o->category)
            fprintf(stderr, "vocctl explain-match: give --dimension and --category together\n");
        return -1;
    }
    o->texts[0] = argv[optind];
    o->texts[1] = argv[optind + 1];
    return 0;
}

/* Masks, normalises and signs one text; classifies it when tax is given. */
static int prepare(struct side *s, struct voc_textnorm *tn, const struct voc_taxonomy *tax)
{
    size_t len = 0;
    char *masked = voc_pii_mask(s->raw, strlen(s->raw), &len, NULL);
    if (!masked)
        goto fail;
    s->norm = voc_textnorm_apply(tn, masked, len, &len);
    free(masked);
    if (!s->norm) {
        fprintf(stderr, "vocctl explain-match: not valid UTF-8: the text cannot be an event\n");
        return -1;
    }
    s->ngrams = voc_match_mask(s->norm);
    if (!s->ngrams || voc_match_signature(s->norm, &s->sig) < 0)
        goto fail;
    if (tax) {
        /* Only the text: the same keyword rules voc-ingest applies to a
         * complaint; field rules would need the event's other fields. */
        struct voc_event ev = {
            .type = VOC_EV_COMPLAINT, .text = s->raw, .text_len = strlen(s->raw)};
        struct voc_classification cls;
        voc_classify(tax, &ev, s->norm, &cls);
        s->dimension = cls.dimension;
        s->category = cls.category;
        snprintf(s->rule, sizeof s->rule, "classified, %s", cls.rule);
    }
    return 0;
fail:
    fprintf(stderr, "vocctl explain-match: out of memory\n");
    return -1;
}

static int shared_bands(const struct voc_signature *a, const struct voc_signature *b)
{
    int64_t ba[VOC_MATCH_BANDS], bb[VOC_MATCH_BANDS];
    int n = 0;
    voc_match_bands(a, ba);
    voc_match_bands(b, bb);
    for (int j = 0; j < VOC_MATCH_BANDS; j++)
        n += ba[j] >= 0 && ba[j] == bb[j];
    return n;
}

static void print_side(const char *name, const struct side *s)
{
    printf("%s normalised:  %s\n", name, s->norm);
    printf("%s matched as:  %s%s\n", name, s->ngrams, s->sig.empty ? "  (no n-grams)" : "");
    printf("%s group:       %s/%s (%s)\n", name, s->dimension, s->category, s->rule);
}

/* Prints the verdict; returns 1 when the two would group. */
static int verdict(const struct side *a, const struct side *b, double threshold,
                   const char *threshold_from)
{
    double sim = voc_match_similarity(&a->sig, &b->sig);
    int bands = shared_bands(&a->sig, &b->sig);
    int same_group =
        strcmp(a->dimension, b->dimension) == 0 && strcmp(a->category, b->category) == 0;
    printf("similarity:    %.3f (%d of %d MinHash values equal; matcher %s)\n", sim,
           (int)(sim * VOC_MATCH_HASHES + 0.5), VOC_MATCH_HASHES, VOC_MATCH_VERSION);
    printf("threshold:     %.3f (%s)\n", threshold, threshold_from);
    printf("shared bands:  %d of %d%s\n", bands, VOC_MATCH_BANDS,
           bands ? "" : " (not even a candidate)");
    const char *why = NULL;
    if (!same_group)
        why = "different dimension/category: items never span two";
    else if (a->sig.empty || b->sig.empty)
        why = "a text has fewer than two characters to compare";
    else if (!bands)
        why = "no shared LSH band, so the item is never looked at";
    else if (sim + 1e-9 < threshold)
        why = "similarity below the threshold";
    printf("would group:   %s%s%s\n", why ? "no (" : "yes", why ? why : "", why ? ")" : "");
    return why == NULL;
}

/* Loads what the options leave open: the threshold and the taxonomy. */
static int load_config(const char *config_dir, const struct opts *o, double *threshold, char *from,
                       size_t fromlen, struct voc_taxonomy **tax)
{
    struct voc_diag diag = {0};
    struct voc_config cfg;
    int rc = voc_config_load(config_dir, &cfg, &diag);
    if (rc == 0 && o->threshold < 0) {
        *threshold = cfg.aggregate.match_threshold;
        snprintf(from, fromlen, "aggregate.match_threshold in %s/voc.yaml", config_dir);
    }
    if (rc == 0 && !o->dimension) {
        *tax = voc_taxonomy_load(cfg.taxonomy_path, &diag);
        if (!*tax)
            rc = -1;
    }
    voc_diag_print(&diag, stderr);
    if (rc < 0 && diag.count == 0)
        fprintf(stderr, "%s: configuration could not be loaded\n", config_dir);
    voc_config_free(&cfg);
    voc_diag_free(&diag);
    return rc;
}

int vocctl_explain(int argc, char **argv, const char *config_dir)
{
    struct opts o;
    int parsed = parse_opts(argc, argv, &o);
    if (parsed != 0) {
        fputs(USAGE, parsed > 0 ? stdout : stderr);
        return parsed > 0 ? 0 : 2;
    }
    char err[256] = "", from[4200] = "--threshold";
    double threshold = o.threshold;
    struct voc_taxonomy *tax = NULL;
    struct voc_textnorm *tn = NULL;
    struct side sides[2] = {{.raw = o.texts[0]}, {.raw = o.texts[1]}};
    int rc = 2;
    if ((o.threshold < 0 || !o.dimension) &&
        load_config(config_dir, &o, &threshold, from, sizeof from, &tax) < 0)
        goto done;
    tn = voc_textnorm_new(err, sizeof err);
    if (!tn) {
        fprintf(stderr, "vocctl explain-match: %s\n", err);
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        if (prepare(&sides[i], tn, tax) < 0)
            goto done;
        if (!tax) {
            sides[i].dimension = o.dimension;
            sides[i].category = o.category;
            snprintf(sides[i].rule, sizeof sides[i].rule, "given");
        }
    }
    print_side("A", &sides[0]);
    print_side("B", &sides[1]);
    rc = verdict(&sides[0], &sides[1], threshold, from) ? 0 : 1;
done:
    for (int i = 0; i < 2; i++) {
        free(sides[i].norm);
        free(sides[i].ngrams);
    }
    voc_textnorm_free(tn);
    voc_taxonomy_free(tax);
    return rc;
}
