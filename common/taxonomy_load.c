/* Loading and validating deploy/config/taxonomy.yaml (format: see the comment
 * at the top of that file). Every problem is reported, each with its line, so
 * one `vocctl config check` run shows them all. */
#include "taxonomy_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/yamlcfg.h"

struct loader {
    struct voc_yaml y;
    struct voc_diag *diag;
    struct voc_taxonomy *t;
    bool bad;
};

static void err(struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err(struct loader *L, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    /* clang-analyzer 14 loses track of va_start in static variadics. */
    vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    voc_diag_add(L->diag, L->y.path, line, "%s", msg);
    L->bad = true;
}

/* The yamlcfg helpers report for themselves; we only remember that they did. */
static void check(struct loader *L, int rc)
{
    if (rc != 0)
        L->bad = true;
}

/* Index of s in a NULL-ended list, or -1. */
static int name_index(const char *const *names, const char *s)
{
    for (size_t i = 0; s && names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static bool latin_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* An identifier that fits the audit string and reads well in SQL and logs. */
static bool valid_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool lower_alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (!lower_alnum && s[i] != '_' && s[i] != '-')
            return false;
    }
    return true;
}

/* Reads an optional enumerated scalar map[key] into *out (left as is when absent). */
static void read_enum(struct loader *L, yaml_node_t *map, const char *key, const char *what,
                      const char *const *names, const char *expected, int *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, key);
    if (!v)
        return;
    const char *s = voc_yaml_str(v);
    int i = name_index(names, s);
    if (i < 0)
        err(L, voc_yaml_line(v), "unknown %s '%s' (expected %s)", what, s ? s : "(not a value)",
            expected);
    else
        *out = i;
}

#define DIMS_EXPECTED "class, product, line or service"
#define SEVS_EXPECTED "low, medium, high or critical"

static int add_term(struct loader *L, const char *text, int line, int use, int target, int weight)
{
    struct voc_taxonomy *t = L->t;
    if (t->nterms == t->capterms) {
        size_t cap = t->capterms ? t->capterms * 2 : 256;
        struct voc_tax_term *n = realloc(t->terms, cap * sizeof *n);
        if (!n)
            return -1;
        t->terms = n;
        t->capterms = cap;
    }
    size_t len = strlen(text);
    bool star = len > 0 && text[len - 1] == '*';
    struct voc_tax_term *term = &t->terms[t->nterms];
    memset(term, 0, sizeof *term);
    term->len = star ? len - 1 : len;
    term->text = strndup(text, term->len);
    if (!term->text)
        return -1;
    term->line = line;
    term->use = (uint8_t)use;
    term->target = target;
    term->weight = weight;
    term->word_start = latin_alnum((unsigned char)text[0]);
    term->word_end = !star && latin_alnum((unsigned char)text[term->len - 1]);
    t->nterms++;
    return 0;
}

/* Why a keyword could never match normalised text, or NULL when it is fine. */
static const char *term_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || (n == 1 && s[0] == '*'))
        return "empty keyword";
    if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == '\t' || strstr(s, "  ") || strchr(s, '\t'))
        return "has extra white space, but white space in the text is collapsed to one space";
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            return "has upper-case letters, but the text is case-folded";
        if (s[i] == '*' && i + 1 < n)
            return "may only have '*' at its end";
    }
    return NULL;
}

static bool duplicate_term(struct loader *L, size_t first, const char *text, int line)
{
    const struct voc_taxonomy *t = L->t;
    size_t len = strlen(text);
    bool star = len > 0 && text[len - 1] == '*';
    len -= star;
    for (size_t i = first; i < t->nterms; i++) {
        const struct voc_tax_term *o = &t->terms[i];
        if (o->len == len && memcmp(o->text, text, len) == 0) {
            err(L, line, "duplicate keyword '%s' (first at line %d)", text, o->line);
            return true;
        }
    }
    return false;
}

/* One keyword entry: `- term` (weight 1) or `- term: weight`. */
static void load_term(struct loader *L, yaml_node_t *item, size_t first, int use, int target)
{
    int line = voc_yaml_line(item);
    const char *text = voc_yaml_str(item);
    long long weight = 1;
    if (!text && voc_yaml_map_len(item) == 1) {
        text = voc_yaml_map_key(&L->y, item, 0, NULL);
        const char *w = voc_yaml_str(voc_yaml_map_value(&L->y, item, 0));
        char *end = NULL;
        weight = w ? strtoll(w, &end, 10) : 0;
        if (!w || end == w || *end || weight < 1 || weight > 100) {
            err(L, line, "keyword '%s': weight must be a whole number from 1 to 100, not '%s'",
                text ? text : "", w ? w : "(not a value)");
            return;
        }
    }
    if (!text) {
        err(L, line, "a keyword must be `- term` or `- term: weight`");
        return;
    }
    const char *why = term_problem(text);
    if (why) {
        if (strcmp(why, "empty keyword") == 0)
            err(L, line, "empty keyword");
        else
            err(L, line, "keyword '%s' %s", text, why);
        return;
    }
    if (duplicate_term(L, first, text, line))
        return;
    if (add_term(L, text, line, use, target, (int)weight) != 0)
        err(L, line, "out of memory");
}

static void load_terms(struct loader *L, yaml_node_t *seq, const char *what, int use, int target)
{
    if (!seq)
        return;
    if (voc_yaml_expect_seq(&L->y, seq, what, L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t first = L->t->nterms;
    for (size_t i = 0; i < voc_yaml_seq_len(seq); i++)
        load_term(L, voc_yaml_seq_item(&L->y, seq, i), first, use, target);
}

static void load_category(struct loader *L, yaml_node_t *n)
{
    static const char *const keys[] = {"id",        "dimension", "severity",
                                       "threshold", "keywords",  NULL};
    if (voc_yaml_expect_map(&L->y, n, "a category", keys, L->diag) != 0) {
        L->bad = true;
        if (n->type != YAML_MAPPING_NODE)
            return;
    }
    struct voc_taxonomy *t = L->t;
    struct voc_tax_category *c = &t->cats[t->ncats];
    memset(c, 0, sizeof *c);
    c->dim = -1;
    c->sev = VOC_TAX_MEDIUM;
    c->line = voc_yaml_line(n);
    long long threshold = 2;
    check(L, voc_yaml_read_str(&L->y, n, "id", true, &c->id, L->diag));
    check(L, voc_yaml_read_int(&L->y, n, "threshold", false, 1, 1000, &threshold, L->diag));
    c->threshold = (int)threshold;
    if (!voc_yaml_get(&L->y, n, "dimension"))
        err(L, c->line, "missing required key 'dimension'");
    read_enum(L, n, "dimension", "dimension", voc_tax_dim_names, DIMS_EXPECTED, &c->dim);
    read_enum(L, n, "severity", "severity", voc_tax_sev_names, SEVS_EXPECTED, &c->sev);
    t->ncats++; /* kept even when incomplete, so free() releases its id */
    if (c->id && (!valid_id(c->id, VOC_TAX_MAX_ID) || strcmp(c->id, "unclassified") == 0)) {
        err(L, voc_yaml_line(voc_yaml_get(&L->y, n, "id")),
            "category id '%s' must be 1-%d characters of a-z, 0-9, '_' and '-', "
            "and not 'unclassified'",
            c->id, VOC_TAX_MAX_ID);
    }
    for (size_t i = 0; c->id && i + 1 < t->ncats; i++) {
        if (t->cats[i].id && strcmp(t->cats[i].id, c->id) == 0)
            err(L, voc_yaml_line(voc_yaml_get(&L->y, n, "id")),
                "duplicate category id '%s' (first at line %d)", c->id, t->cats[i].line);
    }
    load_terms(L, voc_yaml_get(&L->y, n, "keywords"), "keywords", VOC_TAX_USE_CATEGORY,
               (int)(t->ncats - 1));
}

static void load_categories(struct loader *L, yaml_node_t *root)
{
    yaml_node_t *seq = voc_yaml_get(&L->y, root, "categories");
    if (!seq) {
        err(L, voc_yaml_line(root), "missing required key 'categories'");
        return;
    }
    if (voc_yaml_expect_seq(&L->y, seq, "categories", L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_seq_len(seq);
    if (n > VOC_TAX_MAX_CATEGORIES) {
        err(L, voc_yaml_line(seq), "%zu categories, at most %d are supported", n,
            VOC_TAX_MAX_CATEGORIES);
        return;
    }
    L->t->cats = calloc(n ? n : 1, sizeof *L->t->cats);
    if (!L->t->cats) {
        err(L, voc_yaml_line(seq), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_category(L, voc_yaml_seq_item(&L->y, seq, i));
}

/* "a, b or c" for the allowed values of a field. */
static void join_values(const char *const *v, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; v[i] && used < len; i++) {
        const char *sep = i == 0 ? "" : v[i + 1] ? ", " : " or ";
        int n = snprintf(buf + used, len - used, "%s%s", sep, v[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

static bool value_allowed(struct loader *L, const struct voc_tax_field *f, const char *s, int line)
{
    if (!f->values || name_index(f->values, s) >= 0)
        return true;
    char expected[256];
    join_values(f->values, expected, sizeof expected);
    err(L, line, "'%s' is not a valid %s (expected %s)", s, f->name, expected);
    return false;
}

static int field_index(const char *name)
{
    for (size_t i = 0; name && i < voc_tax_nfields; i++)
        if (strcmp(voc_tax_fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* One `field: [values] | value | present | absent` entry of a `when`. */
static void load_cond(struct loader *L, struct voc_tax_rule *r, yaml_node_t *when, size_t i)
{
    int kline;
    const char *key = voc_yaml_map_key(&L->y, when, i, &kline);
    yaml_node_t *v = voc_yaml_map_value(&L->y, when, i);
    int f = field_index(key);
    if (f < 0) {
        err(L, kline, "unknown field '%s' in when", key ? key : "?");
        return;
    }
    struct voc_tax_cond *c = &r->conds[r->nconds++];
    c->field = f;
    const char *s = voc_yaml_str(v);
    if (s && (strcmp(s, "present") == 0 || strcmp(s, "absent") == 0)) {
        c->mode = s[0] == 'p' ? VOC_TAX_PRESENT : VOC_TAX_ABSENT;
        return;
    }
    c->mode = VOC_TAX_ANY_OF;
    if (f == VOC_TAX_FIELD_TEXT || (!s && v->type != YAML_SEQUENCE_NODE)) {
        err(L, voc_yaml_line(v), "'%s' must be %s", key,
            f == VOC_TAX_FIELD_TEXT ? "present or absent"
                                    : "a value, a list of values, present or absent");
        return;
    }
    size_t n = s ? 1 : voc_yaml_seq_len(v);
    if (n == 0) {
        err(L, voc_yaml_line(v), "empty list for '%s': the rule could never match", key);
        return;
    }
    c->values = calloc(n, sizeof *c->values);
    if (!c->values) {
        err(L, voc_yaml_line(v), "out of memory");
        return;
    }
    for (size_t k = 0; k < n; k++) {
        yaml_node_t *item = s ? v : voc_yaml_seq_item(&L->y, v, k);
        const char *val = voc_yaml_str(item);
        if (!val) {
            err(L, voc_yaml_line(item), "values of '%s' must be single values", key);
            continue;
        }
        if (!value_allowed(L, &voc_tax_fields[f], val, voc_yaml_line(item)))
            continue;
        c->values[c->nvalues] = strdup(val);
        if (!c->values[c->nvalues++])
            err(L, voc_yaml_line(item), "out of memory");
    }
}

static void load_when(struct loader *L, struct voc_tax_rule *r, yaml_node_t *rule)
{
    yaml_node_t *when = voc_yaml_get(&L->y, rule, "when");
    if (!when) {
        err(L, r->line, "missing required key 'when'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, when, "when", NULL, L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_map_len(when);
    if (n == 0) {
        err(L, voc_yaml_line(when), "empty 'when': the rule would match every event");
        return;
    }
    r->conds = calloc(n, sizeof *r->conds);
    if (!r->conds) {
        err(L, voc_yaml_line(when), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_cond(L, r, when, i);
}

static void load_then(struct loader *L, struct voc_tax_rule *r, yaml_node_t *rule)
{
    static const char *const keys[] = {"dimension", "category", "severity", NULL};
    yaml_node_t *then = voc_yaml_get(&L->y, rule, "then");
    if (!then) {
        err(L, r->line, "missing required key 'then'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, then, "then", keys, L->diag) != 0) {
        L->bad = true;
        if (then->type != YAML_MAPPING_NODE)
            return;
    }
    int dim = -1;
    if (!voc_yaml_get(&L->y, then, "dimension"))
        err(L, voc_yaml_line(then), "missing required key 'dimension'");
    read_enum(L, then, "dimension", "dimension", voc_tax_dim_names, DIMS_EXPECTED, &dim);
    read_enum(L, then, "severity", "severity", voc_tax_sev_names, SEVS_EXPECTED, &r->sev);
    yaml_node_t *cat = voc_yaml_get(&L->y, then, "category");
    const char *id = voc_yaml_str(cat);
    if (!cat) {
        err(L, voc_yaml_line(then), "missing required key 'category'");
        return;
    }
    for (size_t i = 0; id && i < L->t->ncats; i++)
        if (L->t->cats[i].id && strcmp(L->t->cats[i].id, id) == 0)
            r->category = (int)i;
    const char *name = r->name ? r->name : "?";
    if (r->category < 0) {
        err(L, voc_yaml_line(cat), "field rule '%s': unknown category '%s'", name,
            id ? id : "(not a value)");
    } else if (dim >= 0 && L->t->cats[r->category].dim >= 0 && L->t->cats[r->category].dim != dim) {
        err(L, voc_yaml_line(cat), "field rule '%s': category '%s' is in dimension '%s', not '%s'",
            name, id, voc_tax_dim_names[L->t->cats[r->category].dim], voc_tax_dim_names[dim]);
    }
}

static void load_rule(struct loader *L, yaml_node_t *n)
{
    static const char *const keys[] = {"name", "when", "then", NULL};
    if (voc_yaml_expect_map(&L->y, n, "a field rule", keys, L->diag) != 0) {
        L->bad = true;
        if (n->type != YAML_MAPPING_NODE)
            return;
    }
    struct voc_taxonomy *t = L->t;
    struct voc_tax_rule *r = &t->rules[t->nrules++];
    memset(r, 0, sizeof *r);
    r->category = -1;
    r->sev = -1;
    r->line = voc_yaml_line(n);
    check(L, voc_yaml_read_str(&L->y, n, "name", true, &r->name, L->diag));
    if (r->name && !valid_id(r->name, VOC_TAX_MAX_NAME))
        err(L, voc_yaml_line(voc_yaml_get(&L->y, n, "name")),
            "field rule name '%s' must be 1-%d characters of a-z, 0-9, '_' and '-'", r->name,
            VOC_TAX_MAX_NAME);
    for (size_t i = 0; r->name && i + 1 < t->nrules; i++)
        if (t->rules[i].name && strcmp(t->rules[i].name, r->name) == 0)
            err(L, voc_yaml_line(voc_yaml_get(&L->y, n, "name")),
                "duplicate field rule name '%s' (first at line %d)", r->name, t->rules[i].line);
    load_when(L, r, n);
    load_then(L, r, n);
}

static void load_rules(struct loader *L, yaml_node_t *root)
{
    yaml_node_t *seq = voc_yaml_get(&L->y, root, "field_rules");
    if (!seq)
        return;
    if (voc_yaml_expect_seq(&L->y, seq, "field_rules", L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_seq_len(seq);
    L->t->rules = calloc(n ? n : 1, sizeof *L->t->rules);
    if (!L->t->rules) {
        err(L, voc_yaml_line(seq), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_rule(L, voc_yaml_seq_item(&L->y, seq, i));
}

static void load_severity(struct loader *L, yaml_node_t *root)
{
    static const char *const keys[] = {"default", "tier_raise", "issue_floor", "keywords", NULL};
    yaml_node_t *n = voc_yaml_get(&L->y, root, "severity");
    if (!n)
        return;
    if (voc_yaml_expect_map(&L->y, n, "severity", keys, L->diag) != 0) {
        L->bad = true;
        if (n->type != YAML_MAPPING_NODE)
            return;
    }
    read_enum(L, n, "default", "severity", voc_tax_sev_names, SEVS_EXPECTED, &L->t->sev_default);
    check(L, voc_yaml_read_bool(&L->y, n, "issue_floor", false, &L->t->issue_floor, L->diag));
    yaml_node_t *raise = voc_yaml_get(&L->y, n, "tier_raise");
    if (raise) {
        if (voc_yaml_expect_map(&L->y, raise, "tier_raise", voc_tax_tier_names, L->diag) != 0)
            L->bad = true;
        for (int i = 0; i < VOC_TAX_NTIER; i++) {
            long long v = L->t->tier_raise[i];
            check(L,
                  voc_yaml_read_int(&L->y, raise, voc_tax_tier_names[i], false, 0, 3, &v, L->diag));
            L->t->tier_raise[i] = (int)v;
        }
    }
    yaml_node_t *kw = voc_yaml_get(&L->y, n, "keywords");
    if (kw && voc_yaml_expect_map(&L->y, kw, "severity keywords", voc_tax_sev_names, L->diag))
        L->bad = true;
    for (int i = 0; kw && i < VOC_TAX_NSEV; i++)
        load_terms(L, voc_yaml_get(&L->y, kw, voc_tax_sev_names[i]), voc_tax_sev_names[i],
                   VOC_TAX_USE_SEVERITY, i);
}

static void load_sentiment(struct loader *L, yaml_node_t *root)
{
    static const char *const keys[] = {"rating_complaint_max", "rating_praise_min",
                                       "praise_margin",        "praise_keywords",
                                       "complaint_keywords",   NULL};
    yaml_node_t *n = voc_yaml_get(&L->y, root, "sentiment");
    if (!n)
        return;
    if (voc_yaml_expect_map(&L->y, n, "sentiment", keys, L->diag) != 0) {
        L->bad = true;
        if (n->type != YAML_MAPPING_NODE)
            return;
    }
    struct voc_taxonomy *t = L->t;
    long long cmax = t->rating_complaint_max, pmin = t->rating_praise_min;
    long long margin = t->praise_margin;
    check(L, voc_yaml_read_int(&L->y, n, "rating_complaint_max", false, 0, 5, &cmax, L->diag));
    check(L, voc_yaml_read_int(&L->y, n, "rating_praise_min", false, 1, 6, &pmin, L->diag));
    check(L, voc_yaml_read_int(&L->y, n, "praise_margin", false, 1, 1000, &margin, L->diag));
    yaml_node_t *at = voc_yaml_get(&L->y, n, "rating_complaint_max");
    if (cmax >= pmin)
        err(L, voc_yaml_line(at ? at : n),
            "rating_complaint_max (%lld) must be below rating_praise_min (%lld)", cmax, pmin);
    t->rating_complaint_max = (int)cmax;
    t->rating_praise_min = (int)pmin;
    t->praise_margin = (int)margin;
    load_terms(L, voc_yaml_get(&L->y, n, "praise_keywords"), "praise_keywords", VOC_TAX_USE_PRAISE,
               0);
    load_terms(L, voc_yaml_get(&L->y, n, "complaint_keywords"), "complaint_keywords",
               VOC_TAX_USE_COMPLAINT, 0);
}

static void set_defaults(struct voc_taxonomy *t)
{
    t->sev_default = VOC_TAX_LOW;
    t->tier_raise[VOC_TAX_VIP] = 1;
    t->tier_raise[VOC_TAX_SVIP] = 1;
    t->issue_floor = true;
    t->rating_complaint_max = 2;
    t->rating_praise_min = 4;
    t->praise_margin = 2;
}

static void load_root(struct loader *L)
{
    static const char *const keys[] = {"version",  "field_rules", "categories",
                                       "severity", "sentiment",   NULL};
    yaml_node_t *root = voc_yaml_root(&L->y);
    if (!root) {
        err(L, 0, "empty file: a taxonomy needs at least 'version' and 'categories'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, root, "the taxonomy", keys, L->diag) != 0) {
        L->bad = true;
        if (root->type != YAML_MAPPING_NODE)
            return;
    }
    check(L, voc_yaml_read_str(&L->y, root, "version", true, &L->t->version, L->diag));
    if (L->t->version && !L->t->version[0])
        err(L, voc_yaml_line(voc_yaml_get(&L->y, root, "version")), "empty version");
    load_categories(L, root);
    load_rules(L, root);
    load_severity(L, root);
    load_sentiment(L, root);
}

struct voc_taxonomy *voc_taxonomy_load(const char *path, struct voc_diag *diag)
{
    struct loader L = {.diag = diag};
    L.t = calloc(1, sizeof *L.t);
    if (!L.t) {
        voc_diag_add(diag, path, 0, "out of memory");
        return NULL;
    }
    set_defaults(L.t);
    if (voc_yaml_load(&L.y, path, diag) != 0)
        goto fail;
    load_root(&L);
    if (L.bad)
        goto fail;
    if (voc_tax_matcher_build(L.t) != 0) {
        err(&L, 0, "out of memory building the keyword matcher");
        goto fail;
    }
    voc_yaml_free(&L.y);
    return L.t;
fail:
    voc_yaml_free(&L.y);
    voc_taxonomy_free(L.t);
    return NULL;
}
