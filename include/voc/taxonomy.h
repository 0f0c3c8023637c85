/* Classification of events by dimension, category, severity and sentiment,
 * driven by deploy/config/taxonomy.yaml.
 *
 * Order of decision: field rules (structured fields, e.g. a tech issue of kind
 * video_stall with a network line -> line/stall) first, in file order, first
 * match wins; then weighted keyword rules over the normalised text, where the
 * category with the highest total weight at or above its threshold wins (ties:
 * earlier category in the file); else dimension "unclassified", category
 * "unclassified". Never fails: every event gets an answer. */
#ifndef VOC_TAXONOMY_H
#define VOC_TAXONOMY_H

#include "voc/diag.h"
#include "voc/event.h"

struct voc_taxonomy; /* opaque, immutable after load: safe to share */

/* Loads and validates path; every problem goes to diag as file:line: message.
 * Returns NULL when there was any problem. */
struct voc_taxonomy *voc_taxonomy_load(const char *path, struct voc_diag *diag);
void voc_taxonomy_free(struct voc_taxonomy *t);
/* The file's `version:` value, recorded with every classification. */
const char *voc_taxonomy_version(const struct voc_taxonomy *t);

struct voc_classification {
    /* Point into the taxonomy (or static strings): valid while it lives. */
    const char *dimension; /* class, product, line, service, unclassified */
    const char *category;  /* a category id from the file, or "unclassified" */
    const char *severity;  /* low, medium, high, critical */
    const char *sentiment; /* praise, neutral, complaint */
    /* What decided, for audit: "field:<rule name>", "keyword:<category>(score=N)",
     * or "none". */
    char rule[128];
};

/* norm_text is the event text after voc_textnorm_apply() (or NULL/"" when the
 * event has no text). */
void voc_classify(const struct voc_taxonomy *t, const struct voc_event *ev, const char *norm_text,
                  struct voc_classification *out);

#endif
