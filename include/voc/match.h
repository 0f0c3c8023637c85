/* Matching events to improvement items (voc-aggregate, vocctl explain-match).
 *
 * Two rules, both explainable and versioned (VOC_MATCH_VERSION):
 *  - exact: a fingerprint of dimension + category + the normalised primary
 *    entity (network line for `line`, product id for `product`, lesson, else
 *    teacher, for `class`, channel for `service`);
 *  - near-duplicate text within the same dimension and category: MinHash over
 *    character 2- and 3-grams of the normalised text, with digits, ids and
 *    times masked first, so "等了30分钟" and "等了45分钟" look alike. The
 *    similarity is the share of equal MinHash values (an estimate of the
 *    Jaccard similarity of the two n-gram sets).
 * Candidates come from LSH: the signature is cut into VOC_MATCH_BANDS bands;
 * two texts that share any band hash are candidates, so finding a match never
 * scans all open items. */
#ifndef VOC_MATCH_H
#define VOC_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define VOC_MATCH_VERSION "m1"
#define VOC_MATCH_HASHES  64
#define VOC_MATCH_BANDS   16 /* 16 bands x 4 rows */

struct voc_signature {
    uint32_t h[VOC_MATCH_HASHES];
    int empty; /* the text had no n-grams: never near-matches anything */
};

/* Masks digits, ids and times in already-normalised text (voc_textnorm_apply)
 * and returns a malloc'd copy (caller frees), or NULL when out of memory. */
char *voc_match_mask(const char *norm_text);

/* Computes the MinHash signature of already-normalised text (masking inside). */
int voc_match_signature(const char *norm_text, struct voc_signature *out);

/* Estimated Jaccard similarity in [0, 1]. 0 when either is empty. */
double voc_match_similarity(const struct voc_signature *a, const struct voc_signature *b);

/* The LSH band hashes of a signature (63-bit, fit a Postgres bigint). */
void voc_match_bands(const struct voc_signature *s, int64_t bands[VOC_MATCH_BANDS]);

/* Signature <-> bytes (VOC_MATCH_HASHES * 4, little-endian) for storage. */
void voc_match_sig_pack(const struct voc_signature *s, unsigned char out[VOC_MATCH_HASHES * 4]);
int voc_match_sig_unpack(const unsigned char *in, size_t len, struct voc_signature *out);

/* The exact fingerprint "m1:<dimension>:<category>:<entity>" in out, and the
 * normalised entity (lower-cased, trimmed) in entity_out. Returns 0, or -1
 * when the event has no primary entity for its dimension (then only the
 * near-duplicate rule applies). Arguments may be NULL when absent. */
int voc_match_fingerprint(const char *dimension, const char *category, const char *line,
                          const char *product_id, const char *lesson_id, const char *teacher_id,
                          const char *channel, char *entity_out, size_t entity_len, char *out,
                          size_t outlen);

#endif
