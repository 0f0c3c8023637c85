/* Routing improvement items to their owning department: loading and
 * validating deploy/config/routing.yaml (format: see the comment at the top of
 * that file) and first-match routing. Every problem in the file is reported,
 * each with its line, so one `vocctl config check` run shows them all. */
#include "voc/routing.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/yamlcfg.h"

/* Ids end up in voc.item columns, log lines and chat messages: keep them short. */
#define RT_MAX_ID 64

static const char *const rt_sev_names[] = {"low", "medium", "high", "critical", NULL};
static const char *const rt_dim_names[] = {"class",   "product",      "line",
                                           "service", "unclassified", NULL};
#define RT_SEVS_EXPECTED "low, medium, high or critical"
#define RT_DIMS_EXPECTED "class, product, line, service or unclassified"

/* A list of accepted values; empty (n == 0) means the condition is absent. */
struct rt_list {
    char **v;
    size_t n;
};

struct rt_dept {
    char *id, *name, *owner, *notify;
    char **escalation; /* NULL-terminated, never NULL after load */
};

struct rt_rule {
    char *name;
    int line;
    struct rt_list dims, cats, entities; /* entities are fnmatch patterns */
    int min_sev;                         /* index in rt_sev_names, -1 = any */
    int dept;                            /* index in depts, -1 while unresolved */
    char *owner, *notify;                /* overrides; NULL = the department's */
};

struct voc_routing {
    char *version;
    struct rt_dept *depts;
    size_t ndepts;
    struct rt_rule *rules;
    size_t nrules;
    int triage_dept;
    char *triage_owner, *triage_notify; /* overrides; NULL = the department's */
};

struct loader {
    struct voc_yaml y;
    struct voc_diag *diag;
    struct voc_routing *r;
    bool bad;
};

static void err(struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err(struct loader *L, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    voc_diag_add(L->diag, L->y.path, line, "%s", msg);
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

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RT_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool lower_alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (!lower_alnum && s[i] != '_' && s[i] != '-')
            return false;
    }
    return true;
}

static int dept_index(const struct voc_routing *r, const char *id)
{
    for (size_t i = 0; id && i < r->ndepts; i++)
        if (r->depts[i].id && strcmp(r->depts[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Optional map[key] as a non-empty string: an empty owner or notify target
 * would route items to nobody without anyone noticing. */
static void read_name(struct loader *L, yaml_node_t *map, const char *key, const char *what,
                      char **out)
{
    if (voc_yaml_read_str(&L->y, map, key, false, out, L->diag) != 0)
        L->bad = true;
    else if (*out && !(*out)[0])
        err(L, voc_yaml_line(voc_yaml_get(&L->y, map, key)), "%s: empty '%s'", what, key);
}

/* map[key] naming a department; *out stays -1 when absent or unknown. */
static void read_dept_ref(struct loader *L, yaml_node_t *map, int map_line, const char *what,
                          int *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, "department");
    if (!v) {
        err(L, map_line, "%s: missing required key 'department'", what);
        return;
    }
    const char *s = voc_yaml_str(v);
    *out = dept_index(L->r, s);
    if (*out < 0)
        err(L, voc_yaml_line(v), "%s: unknown department '%s'", what, s ? s : "(not a value)");
}

static void load_escalation(struct loader *L, struct rt_dept *d, yaml_node_t *map, const char *what)
{
    char entries[RT_MAX_ID + 64];
    snprintf(entries, sizeof entries, "%s: escalation entries", what);
    if (voc_yaml_read_names(&L->y, map, "escalation", "escalation", entries, &d->escalation,
                            L->diag) != 0)
        L->bad = true;
}

static void load_department(struct loader *L, size_t i, yaml_node_t *map)
{
    static const char *const keys[] = {"name", "owner", "notify", "escalation", NULL};
    int line;
    const char *id = voc_yaml_map_key(&L->y, map, i, &line);
    yaml_node_t *v = voc_yaml_map_value(&L->y, map, i);
    struct rt_dept *d = &L->r->depts[L->r->ndepts++];
    char what[RT_MAX_ID + 32];
    snprintf(what, sizeof what, "department '%s'", id ? id : "?");
    d->id = strdup(id ? id : "");
    if (!d->id)
        err(L, line, "out of memory");
    else if (!valid_id(d->id))
        err(L, line, "department id '%s' must be 1-%d characters of a-z, 0-9, '_' and '-'", d->id,
            RT_MAX_ID);
    if (voc_yaml_expect_map(&L->y, v, what, keys, L->diag) != 0) {
        L->bad = true;
        if (v->type != YAML_MAPPING_NODE)
            return;
    }
    read_name(L, v, "name", what, &d->name);
    read_name(L, v, "owner", what, &d->owner);
    read_name(L, v, "notify", what, &d->notify);
    if (!voc_yaml_get(&L->y, v, "owner"))
        err(L, line, "%s has no owner", what);
    load_escalation(L, d, v, what);
}

static void load_departments(struct loader *L, yaml_node_t *root)
{
    yaml_node_t *map = voc_yaml_get(&L->y, root, "departments");
    if (!map) {
        err(L, voc_yaml_line(root), "missing required key 'departments'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, map, "departments", NULL, L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_map_len(map);
    if (n == 0) {
        err(L, voc_yaml_line(map), "no departments: every item needs an owning department");
        return;
    }
    L->r->depts = calloc(n, sizeof *L->r->depts);
    if (!L->r->depts) {
        err(L, voc_yaml_line(map), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_department(L, i, map);
}

/* `key: value` or `key: [values]` of a rule's match into *out. allowed, when
 * not NULL, lists the values that make sense (expected: their description). */
static void load_values(struct loader *L, const struct rt_rule *r, yaml_node_t *m, const char *key,
                        const char *const *allowed, const char *expected, struct rt_list *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, m, key);
    if (!v)
        return;
    const char *name = r->name ? r->name : "?";
    const char *s = voc_yaml_str(v);
    size_t n = s ? 1 : voc_yaml_seq_len(v);
    if (!s && v->type != YAML_SEQUENCE_NODE) {
        err(L, voc_yaml_line(v), "rule '%s': '%s' must be a value or a list of values", name, key);
        return;
    }
    if (n == 0) {
        err(L, voc_yaml_line(v), "rule '%s': empty list for '%s': the rule could never match", name,
            key);
        return;
    }
    out->v = calloc(n, sizeof *out->v);
    if (!out->v) {
        err(L, voc_yaml_line(v), "out of memory");
        return;
    }
    for (size_t k = 0; k < n; k++) {
        yaml_node_t *item = s ? v : voc_yaml_seq_item(&L->y, v, k);
        const char *val = voc_yaml_str(item);
        int line = voc_yaml_line(item);
        if (!val)
            err(L, line, "rule '%s': values of '%s' must be single values", name, key);
        else if (!val[0])
            err(L, line, "rule '%s': empty %s", name,
                strcmp(key, "entity") == 0 ? "entity pattern" : key);
        else if (allowed && name_index(allowed, val) < 0)
            err(L, line, "rule '%s': unknown %s '%s' (expected %s)", name, key, val, expected);
        else if (!(out->v[out->n++] = strdup(val)))
            err(L, line, "out of memory");
    }
}

static void load_match(struct loader *L, struct rt_rule *r, yaml_node_t *rule)
{
    static const char *const keys[] = {"dimension", "category", "entity", "severity_at_least",
                                       NULL};
    const char *name = r->name ? r->name : "?";
    yaml_node_t *m = voc_yaml_get(&L->y, rule, "match");
    if (!m) {
        err(L, r->line, "rule '%s': missing required key 'match'", name);
        return;
    }
    if (voc_yaml_expect_map(&L->y, m, "match", keys, L->diag) != 0) {
        L->bad = true;
        if (m->type != YAML_MAPPING_NODE)
            return;
    }
    /* A catch-all rule would hide every rule after it and the triage owner. */
    if (voc_yaml_map_len(m) == 0)
        err(L, voc_yaml_line(m), "rule '%s': empty 'match' would take every item", name);
    load_values(L, r, m, "dimension", rt_dim_names, RT_DIMS_EXPECTED, &r->dims);
    load_values(L, r, m, "category", NULL, NULL, &r->cats);
    load_values(L, r, m, "entity", NULL, NULL, &r->entities);
    yaml_node_t *sev = voc_yaml_get(&L->y, m, "severity_at_least");
    if (sev) {
        const char *s = voc_yaml_str(sev);
        r->min_sev = name_index(rt_sev_names, s);
        if (r->min_sev < 0)
            err(L, voc_yaml_line(sev), "rule '%s': unknown severity '%s' (expected %s)", name,
                s ? s : "(not a value)", RT_SEVS_EXPECTED);
    }
}

static void load_rule(struct loader *L, yaml_node_t *n)
{
    static const char *const keys[] = {"name", "match", "department", "owner", "notify", NULL};
    if (voc_yaml_expect_map(&L->y, n, "a rule", keys, L->diag) != 0) {
        L->bad = true;
        if (n->type != YAML_MAPPING_NODE)
            return;
    }
    struct voc_routing *R = L->r;
    struct rt_rule *r = &R->rules[R->nrules++];
    r->line = voc_yaml_line(n);
    r->dept = -1;
    r->min_sev = -1;
    if (voc_yaml_read_str(&L->y, n, "name", true, &r->name, L->diag) != 0)
        L->bad = true;
    int name_line = voc_yaml_line(voc_yaml_get(&L->y, n, "name"));
    /* "triage" is what an unmatched item records as its rule. */
    if (r->name && (!valid_id(r->name) || strcmp(r->name, "triage") == 0))
        err(L, name_line,
            "rule name '%s' must be 1-%d characters of a-z, 0-9, '_' and '-', "
            "and not 'triage'",
            r->name, RT_MAX_ID);
    for (size_t i = 0; r->name && i + 1 < R->nrules; i++)
        if (R->rules[i].name && strcmp(R->rules[i].name, r->name) == 0)
            err(L, name_line, "duplicate rule name '%s' (first at line %d)", r->name,
                R->rules[i].line);
    char what[RT_MAX_ID + 16];
    snprintf(what, sizeof what, "rule '%s'", r->name ? r->name : "?");
    load_match(L, r, n);
    read_dept_ref(L, n, r->line, what, &r->dept);
    read_name(L, n, "owner", what, &r->owner);
    read_name(L, n, "notify", what, &r->notify);
}

static void load_rules(struct loader *L, yaml_node_t *root)
{
    yaml_node_t *seq = voc_yaml_get(&L->y, root, "rules");
    if (!seq) {
        err(L, voc_yaml_line(root), "missing required key 'rules'");
        return;
    }
    if (voc_yaml_expect_seq(&L->y, seq, "rules", L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_seq_len(seq);
    L->r->rules = calloc(n ? n : 1, sizeof *L->r->rules);
    if (!L->r->rules) {
        err(L, voc_yaml_line(seq), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_rule(L, voc_yaml_seq_item(&L->y, seq, i));
}

static void load_triage(struct loader *L, yaml_node_t *root)
{
    static const char *const keys[] = {"department", "owner", "notify", NULL};
    struct voc_routing *R = L->r;
    yaml_node_t *t = voc_yaml_get(&L->y, root, "triage");
    if (!t) {
        err(L, voc_yaml_line(root), "missing required key 'triage'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, t, "triage", keys, L->diag) != 0) {
        L->bad = true;
        if (t->type != YAML_MAPPING_NODE)
            return;
    }
    read_dept_ref(L, t, voc_yaml_line(t), "triage", &R->triage_dept);
    read_name(L, t, "owner", "triage", &R->triage_owner);
    read_name(L, t, "notify", "triage", &R->triage_notify);
    /* The triage queue is where nobody looks by default: it must page someone. */
    if (R->triage_dept >= 0 && !R->triage_notify && !R->depts[R->triage_dept].notify)
        err(L, voc_yaml_line(t),
            "triage: no notify target (here or on department '%s'): "
            "an unmatched item must alert someone",
            R->depts[R->triage_dept].id);
}

static void load_root(struct loader *L)
{
    static const char *const keys[] = {"version", "departments", "rules", "triage", NULL};
    yaml_node_t *root = voc_yaml_root(&L->y);
    if (!root) {
        err(L, 0, "empty file: routing needs 'version', 'departments', 'rules' and 'triage'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, root, "the routing file", keys, L->diag) != 0) {
        L->bad = true;
        if (root->type != YAML_MAPPING_NODE)
            return;
    }
    if (voc_yaml_read_str(&L->y, root, "version", true, &L->r->version, L->diag) != 0)
        L->bad = true;
    else if (L->r->version && !L->r->version[0])
        err(L, voc_yaml_line(voc_yaml_get(&L->y, root, "version")), "empty version");
    load_departments(L, root);
    load_rules(L, root);
    load_triage(L, root);
}

struct voc_routing *voc_routing_load(const char *path, struct voc_diag *diag)
{
    struct loader L = {.diag = diag};
    L.r = calloc(1, sizeof *L.r);
    if (!L.r) {
        voc_diag_add(diag, path, 0, "out of memory");
        return NULL;
    }
    L.r->triage_dept = -1;
    if (voc_yaml_load(&L.y, path, diag) != 0)
        goto fail;
    load_root(&L);
    if (L.bad)
        goto fail;
    voc_yaml_free(&L.y);
    return L.r;
fail:
    voc_yaml_free(&L.y);
    voc_routing_free(L.r);
    return NULL;
}

static void list_free(struct rt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

void voc_routing_free(struct voc_routing *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ndepts; i++) {
        struct rt_dept *d = &r->depts[i];
        for (size_t k = 0; d->escalation && d->escalation[k]; k++)
            free(d->escalation[k]);
        free(d->escalation);
        free(d->id);
        free(d->name);
        free(d->owner);
        free(d->notify);
    }
    for (size_t i = 0; i < r->nrules; i++) {
        struct rt_rule *u = &r->rules[i];
        list_free(&u->dims);
        list_free(&u->cats);
        list_free(&u->entities);
        free(u->name);
        free(u->owner);
        free(u->notify);
    }
    free(r->depts);
    free(r->rules);
    free(r->version);
    free(r->triage_owner);
    free(r->triage_notify);
    free(r);
}

const char *voc_routing_version(const struct voc_routing *r)
{
    return r->version;
}

/* An absent condition holds for every item; a present one needs a value. */
static bool list_has(const struct rt_list *l, const char *s)
{
    if (l->n == 0)
        return true;
    for (size_t i = 0; s && i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static bool glob_any(const struct rt_list *l, const char *entity)
{
    if (l->n == 0)
        return true;
    /* No FNM_PATHNAME: '*' also spans the '/' of "lesson/teacher" entities. */
    for (size_t i = 0; entity && i < l->n; i++)
        if (fnmatch(l->v[i], entity, 0) == 0)
            return true;
    return false;
}

static void fill(struct voc_route *out, const struct rt_dept *d, const char *rule,
                 const char *owner, const char *notify, bool triage)
{
    out->rule = rule;
    out->department = d->id;
    out->owner = owner ? owner : d->owner;
    out->notify = notify ? notify : d->notify;
    out->escalation = (const char *const *)d->escalation;
    out->triage = triage;
}

void voc_route(const struct voc_routing *r, const char *dimension, const char *category,
               const char *entity, const char *severity, struct voc_route *out)
{
    /* An unknown severity meets no severity_at_least: better triage than a
     * wrong owner. */
    int sev = name_index(rt_sev_names, severity);
    for (size_t i = 0; i < r->nrules; i++) {
        const struct rt_rule *u = &r->rules[i];
        if (list_has(&u->dims, dimension) && list_has(&u->cats, category) &&
            glob_any(&u->entities, entity) && (u->min_sev < 0 || sev >= u->min_sev)) {
            fill(out, &r->depts[u->dept], u->name, u->owner, u->notify, false);
            return;
        }
    }
    fill(out, &r->depts[r->triage_dept], "triage", r->triage_owner, r->triage_notify, true);
}

static const char *triage_notify(const struct voc_routing *r)
{
    return r->triage_notify ? r->triage_notify : r->depts[r->triage_dept].notify;
}

const char *voc_routing_department_notify(const struct voc_routing *r, const char *department)
{
    int d = dept_index(r, department);
    if (d < 0 || d == r->triage_dept || !r->depts[d].notify)
        return triage_notify(r);
    return r->depts[d].notify;
}

const char *voc_routing_target(const struct voc_routing *r, size_t i)
{
    for (size_t k = 0; k < r->ndepts; k++)
        if (r->depts[k].notify && i-- == 0)
            return r->depts[k].notify;
    for (size_t k = 0; k < r->nrules; k++)
        if (r->rules[k].notify && i-- == 0)
            return r->rules[k].notify;
    return r->triage_notify && i == 0 ? r->triage_notify : NULL;
}
