/* Internals of the taxonomy, shared by its two translation units only:
 * taxonomy_load.c (YAML -> struct voc_taxonomy, validation, free) and
 * taxonomy.c (keyword automaton, classification). Not installed, not public. */
#ifndef VOC_TAXONOMY_INT_H
#define VOC_TAXONOMY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "voc/taxonomy.h"

/* Bounded so classification can keep per-category scores on the stack. */
#define VOC_TAX_MAX_CATEGORIES 255
/* Longest category id / rule name, so "keyword:<id>(score=N)" fits rule[128]. */
#define VOC_TAX_MAX_ID   64
#define VOC_TAX_MAX_NAME 100

enum voc_tax_dim { VOC_TAX_CLASS, VOC_TAX_PRODUCT, VOC_TAX_LINE, VOC_TAX_SERVICE, VOC_TAX_NDIM };
enum voc_tax_sev { VOC_TAX_LOW, VOC_TAX_MEDIUM, VOC_TAX_HIGH, VOC_TAX_CRITICAL, VOC_TAX_NSEV };
enum voc_tax_tier { VOC_TAX_STANDARD, VOC_TAX_VIP, VOC_TAX_SVIP, VOC_TAX_NTIER };

/* What a keyword contributes when it is found in the text. */
enum voc_tax_use {
    VOC_TAX_USE_CATEGORY,  /* weight to category `target` */
    VOC_TAX_USE_SEVERITY,  /* severity floor `target` */
    VOC_TAX_USE_PRAISE,    /* weight to the praise side */
    VOC_TAX_USE_COMPLAINT, /* weight to the complaint side */
};

struct voc_tax_term {
    char *text; /* bytes to find, without a trailing '*' */
    size_t len;
    int line;        /* in the YAML file, for duplicate reports */
    uint8_t use;     /* enum voc_tax_use */
    bool word_start; /* Latin start: the byte before must not be [a-z0-9] */
    bool word_end;   /* Latin end without '*': the byte after must not be [a-z0-9] */
    int target;
    int weight;
    uint32_t next; /* automaton: next term ending in the same state, index+1; 0 ends */
};

struct voc_tax_category {
    char *id;
    int dim, sev, threshold;
    int line;
};

enum voc_tax_mode { VOC_TAX_ANY_OF, VOC_TAX_PRESENT, VOC_TAX_ABSENT };

struct voc_tax_cond {
    int field; /* index into voc_tax_fields */
    int mode;  /* enum voc_tax_mode */
    char **values;
    size_t nvalues;
};

struct voc_tax_rule {
    char *name;
    struct voc_tax_cond *conds;
    size_t nconds;
    int category;
    int sev; /* -1: the category's */
    int line;
};

/* Aho-Corasick automaton over bytes, as a full transition table over byte
 * classes (bytes no keyword uses share class 0), so the scan is one table
 * lookup per input byte whatever the number of keywords. */
struct voc_tax_matcher {
    uint8_t cls[256];
    uint32_t nclasses, nstates;
    uint32_t *delta;      /* nstates * nclasses */
    uint32_t *first_term; /* per state: first term ending here, index+1; 0 none */
    uint32_t *dict;       /* per state: longest proper suffix state with terms; 0 none */
};

struct voc_taxonomy {
    char *version;
    struct voc_tax_category *cats;
    size_t ncats;
    struct voc_tax_rule *rules;
    size_t nrules;
    struct voc_tax_term *terms;
    size_t nterms, capterms;
    int sev_default;
    int tier_raise[VOC_TAX_NTIER];
    bool issue_floor;
    int rating_complaint_max, rating_praise_min, praise_margin;
    struct voc_tax_matcher m;
};

/* A field a `when` clause may test. values: the allowed values (NULL-ended),
 * or NULL for free-form fields. offset: of the string in struct voc_event, or
 * VOC_TAX_COMPUTED for the fields below that are derived. */
struct voc_tax_field {
    const char *name;
    const char *const *values;
    size_t offset;
};
#define VOC_TAX_COMPUTED ((size_t)-1)
extern const struct voc_tax_field voc_tax_fields[];
extern const size_t voc_tax_nfields;
/* NULL-ended, so they double as allowed-key lists for voc_yaml_expect_map. */
extern const char *const voc_tax_dim_names[VOC_TAX_NDIM + 1];
extern const char *const voc_tax_sev_names[VOC_TAX_NSEV + 1];
extern const char *const voc_tax_tier_names[VOC_TAX_NTIER + 1];
/* Indexes of the computed fields; `text` only takes present/absent. */
#define VOC_TAX_FIELD_TEXT  0
#define VOC_TAX_FIELD_TYPE  1
#define VOC_TAX_FIELD_SCORE 2

/* Builds t->m from t->terms. Returns -1 when out of memory (t->m is then
 * empty and voc_taxonomy_free() still safe). */
int voc_tax_matcher_build(struct voc_taxonomy *t);

#endif
