/* Compiling the JSON Schema files into nodes (see schema.c for validating).
 *
 * Every keyword of every schema is looked at once here: any keyword outside
 * the subset of voc/schema.h is an error, $ref becomes a node pointer and
 * patterns are compiled, so validation never interprets schema text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define DRAFT_2020_12 "https://json-schema.org/draft/2020-12/schema"

const char *const voc_schema_type_names[VOC_SCHEMA_N_TYPES] = {
    "null", "boolean", "integer", "number", "string", "object", "array"};

struct compiler {
    struct voc_schemas *s;
    char *err;
    size_t errlen;
};

static int cerr(struct compiler *c, size_t fi, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cerr(struct compiler *c, size_t fi, const char *ptr, const char *fmt, ...)
{
    if (!c->errlen)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s: %s%s", c->s->files[fi].name, ptr, *ptr ? ": " : "");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Shared with schema.c, which builds the pointer of a failing value. */
void voc_schema_ptr_append(char *buf, size_t size, const char *seg)
{
    size_t n = strlen(buf);
    if (n + 1 < size)
        buf[n++] = '/';
    for (; *seg && n + 2 < size; seg++) {
        if (*seg == '~' || *seg == '/') {
            buf[n++] = '~';
            buf[n++] = *seg == '~' ? '0' : '1';
        } else {
            buf[n++] = *seg;
        }
    }
    buf[n < size ? n : size - 1] = '\0';
}

static const struct voc_schema_node *compile(struct compiler *c, size_t fi, const json_t *js,
                                             const char *ptr);

static const struct voc_schema_node *compile_child(struct compiler *c, size_t fi, const json_t *js,
                                                   const char *ptr, const char *seg1,
                                                   const char *seg2)
{
    char child[512];
    snprintf(child, sizeof child, "%s", ptr);
    voc_schema_ptr_append(child, sizeof child, seg1);
    if (seg2)
        voc_schema_ptr_append(child, sizeof child, seg2);
    return compile(c, fi, js, child);
}

/* Follows a JSON pointer (no percent-decoding: our refs never need it). */
static const json_t *resolve_pointer(const json_t *doc, const char *p)
{
    char seg[256];
    while (doc && *p == '/') {
        size_t n = 0;
        for (p++; *p && *p != '/' && n + 1 < sizeof seg; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1'))
                seg[n++] = *++p == '0' ? '~' : '/';
            else
                seg[n++] = *p;
        }
        seg[n] = '\0';
        if (json_is_object(doc)) {
            doc = json_object_get(doc, seg);
        } else if (json_is_array(doc)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            doc = *seg && !*end ? json_array_get(doc, i) : NULL;
        } else {
            doc = NULL;
        }
    }
    return *p ? NULL : doc;
}

/* "#/$defs/x" (this file) or "other.schema.json#/$defs/x". Every $id ends in
 * its file name under one base (checked at load), so resolving a relative
 * reference by file name is what resolving it against $id means. */
static int kw_ref(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                  const char *ptr)
{
    const char *ref = json_string_value(v);
    if (!ref)
        return cerr(c, fi, ptr, "$ref must be a string");
    const char *hash = strchr(ref, '#');
    size_t flen = hash ? (size_t)(hash - ref) : strlen(ref);
    const char *frag = hash ? hash + 1 : "";
    size_t ti = fi;
    if (flen) {
        for (ti = 0; ti < c->s->nfiles; ti++)
            if (strlen(c->s->files[ti].name) == flen && !strncmp(c->s->files[ti].name, ref, flen))
                break;
        if (ti == c->s->nfiles)
            return cerr(c, fi, ptr, "$ref '%s': no schema file of that name", ref);
    }
    if (*frag && *frag != '/')
        return cerr(c, fi, ptr, "$ref '%s': only JSON-pointer fragments are supported", ref);
    const json_t *target = resolve_pointer(c->s->files[ti].doc, frag);
    if (!target)
        return cerr(c, fi, ptr, "$ref '%s' points at nothing", ref);
    n->ref = compile(c, ti, target, frag);
    return n->ref ? 0 : -1;
}

static int kw_type(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                   const char *ptr)
{
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !(json_is_array(v) && count > 0))
        return cerr(c, fi, ptr, "type must be a type name or a non-empty array of them");
    for (size_t i = 0; i < count; i++) {
        const char *t = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
        size_t k = 0;
        while (k < VOC_SCHEMA_N_TYPES && (!t || strcmp(t, voc_schema_type_names[k]) != 0))
            k++;
        if (k == VOC_SCHEMA_N_TYPES)
            return cerr(c, fi, ptr, "type: unknown type name '%s'", t ? t : "(not a string)");
        n->types |= 1u << k;
    }
    return 0;
}

static int prop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct voc_schema_prop *)a)->name,
                  ((const struct voc_schema_prop *)b)->name);
}

static int kw_properties(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                         const char *ptr)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v))
        return cerr(c, fi, ptr, "properties must be an object");
    n->props = calloc(json_object_size(v) + 1, sizeof *n->props);
    if (!n->props)
        return cerr(c, fi, ptr, "out of memory");
    json_object_foreach((json_t *)v, key, val)
    {
        const struct voc_schema_node *child = compile_child(c, fi, val, ptr, "properties", key);
        if (!child)
            return -1;
        n->props[n->nprops++] = (struct voc_schema_prop){key, child};
    }
    qsort(n->props, n->nprops, sizeof *n->props, prop_cmp);
    return 0;
}

static int kw_required(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                       const char *ptr)
{
    if (!json_is_array(v))
        return cerr(c, fi, ptr, "required must be an array of names");
    n->required = calloc(json_array_size(v) + 1, sizeof *n->required);
    if (!n->required)
        return cerr(c, fi, ptr, "out of memory");
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *name = json_string_value(json_array_get(v, i));
        if (!name)
            return cerr(c, fi, ptr, "required must be an array of names");
        n->required[n->nrequired++] = name;
    }
    return 0;
}

static int kw_defs(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                   const char *ptr)
{
    const char *key;
    json_t *val;
    (void)n;
    if (!json_is_object(v))
        return cerr(c, fi, ptr, "$defs must be an object");
    /* Compiled even when unreferenced, so a bad keyword anywhere is refused. */
    json_object_foreach((json_t *)v, key, val)
    {
        if (!compile_child(c, fi, val, ptr, "$defs", key))
            return -1;
    }
    return 0;
}

static int kw_pattern(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                      const char *ptr)
{
    int code;
    PCRE2_SIZE at;
    n->pattern_src = json_string_value(v);
    if (!n->pattern_src)
        return cerr(c, fi, ptr, "pattern must be a string");
    /* DOLLAR_ENDONLY: in ECMA-262, as JSON Schema specifies, $ is the end of
     * the string, never "before a final newline". */
    n->pattern = pcre2_compile((PCRE2_SPTR)n->pattern_src, PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
    if (!n->pattern) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return cerr(c, fi, ptr, "pattern at offset %zu: %s", (size_t)at, (const char *)msg);
    }
    /* JIT is an optimisation: without it (e.g. no executable memory) we still match. */
    (void)pcre2_jit_compile(n->pattern, PCRE2_JIT_COMPLETE);
    return 0;
}

static int kw_count(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                    const char *ptr, const char *kw)
{
    long long *slot = !strcmp(kw, "minLength")   ? &n->min_len
                      : !strcmp(kw, "maxLength") ? &n->max_len
                      : !strcmp(kw, "minItems")  ? &n->min_items
                                                 : &n->max_items;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return cerr(c, fi, ptr, "%s must be a non-negative integer", kw);
    *slot = json_integer_value(v);
    return 0;
}

static int kw_bound(struct compiler *c, size_t fi, struct voc_schema_node *n, const json_t *v,
                    const char *ptr, const char *kw)
{
    if (!json_is_number(v))
        return cerr(c, fi, ptr, "%s must be a number", kw);
    if (!strcmp(kw, "minimum"))
        n->minimum = v;
    else if (!strcmp(kw, "maximum"))
        n->maximum = v;
    else if (!strcmp(kw, "exclusiveMinimum"))
        n->ex_minimum = v;
    else
        n->ex_maximum = v;
    return 0;
}

static int kw_keyword(struct compiler *c, size_t fi, struct voc_schema_node *n, const char *kw,
                      const json_t *v, const char *ptr)
{
    if (!strcmp(kw, "$schema"))
        return json_is_string(v) && !strcmp(json_string_value(v), DRAFT_2020_12)
                   ? 0
                   : cerr(c, fi, ptr, "$schema must be \"" DRAFT_2020_12 "\"");
    if (!strcmp(kw, "$id"))
        return json_is_string(v) && !*ptr ? 0 : cerr(c, fi, ptr, "$id only at a file's root");
    if (!strcmp(kw, "title") || !strcmp(kw, "$comment") || !strcmp(kw, "format"))
        return json_is_string(v) ? 0 : cerr(c, fi, ptr, "%s must be a string", kw);
    if (!strcmp(kw, "description")) {
        n->description = json_string_value(v);
        return n->description ? 0 : cerr(c, fi, ptr, "description must be a string");
    }
    if (!strcmp(kw, "examples"))
        return json_is_array(v) ? 0 : cerr(c, fi, ptr, "examples must be an array");
    if (!strcmp(kw, "$defs"))
        return kw_defs(c, fi, n, v, ptr);
    if (!strcmp(kw, "$ref"))
        return kw_ref(c, fi, n, v, ptr);
    if (!strcmp(kw, "type"))
        return kw_type(c, fi, n, v, ptr);
    if (!strcmp(kw, "properties"))
        return kw_properties(c, fi, n, v, ptr);
    if (!strcmp(kw, "required"))
        return kw_required(c, fi, n, v, ptr);
    if (!strcmp(kw, "additionalProperties")) {
        n->closed = json_is_false(v);
        return json_is_boolean(v) ? 0
                                  : cerr(c, fi, ptr, "additionalProperties must be true or false");
    }
    if (!strcmp(kw, "enum")) {
        n->enum_values = v;
        return json_array_size(v) ? 0 : cerr(c, fi, ptr, "enum must be a non-empty array");
    }
    if (!strcmp(kw, "const")) {
        n->const_value = v;
        return 0;
    }
    if (!strcmp(kw, "pattern"))
        return kw_pattern(c, fi, n, v, ptr);
    if (!strcmp(kw, "minLength") || !strcmp(kw, "maxLength") || !strcmp(kw, "minItems") ||
        !strcmp(kw, "maxItems"))
        return kw_count(c, fi, n, v, ptr, kw);
    if (!strcmp(kw, "minimum") || !strcmp(kw, "maximum") || !strcmp(kw, "exclusiveMinimum") ||
        !strcmp(kw, "exclusiveMaximum"))
        return kw_bound(c, fi, n, v, ptr, kw);
    if (!strcmp(kw, "items")) {
        n->items = compile_child(c, fi, v, ptr, "items", NULL);
        return n->items ? 0 : -1;
    }
    return cerr(c, fi, ptr, "unsupported keyword '%s'", kw);
}

/* Memoised on the schema value, so a $ref target shared by many properties is
 * one node and reference cycles terminate. */
static const struct voc_schema_node *compile(struct compiler *c, size_t fi, const json_t *js,
                                             const char *ptr)
{
    for (struct voc_schema_node *m = c->s->nodes; m; m = m->next)
        if (m->src == js)
            return m;
    if (!json_is_object(js) && !json_is_boolean(js)) {
        cerr(c, fi, ptr, "a schema must be an object or a boolean");
        return NULL;
    }
    struct voc_schema_node *n = calloc(1, sizeof *n);
    if (!n) {
        cerr(c, fi, ptr, "out of memory");
        return NULL;
    }
    n->src = js;
    n->min_len = n->max_len = n->min_items = n->max_items = -1;
    n->never = json_is_false(js);
    n->next = c->s->nodes;
    c->s->nodes = n;
    const char *kw;
    json_t *v;
    json_object_foreach((json_t *)js, kw, v)
    {
        if (kw_keyword(c, fi, n, kw, v, ptr) != 0)
            return NULL;
    }
    return n;
}

/* Each $id must be <common base>/<file name>: then C's by-name resolution and a
 * URI-based validator's resolution of "common.schema.json#..." coincide. */
static int check_ids(struct compiler *c)
{
    const char *base = NULL;
    size_t baselen = 0;
    for (size_t i = 0; i < c->s->nfiles; i++) {
        const char *id = json_string_value(json_object_get(c->s->files[i].doc, "$id"));
        if (!id)
            continue;
        const char *slash = strrchr(id, '/');
        if (!slash || strcmp(slash + 1, c->s->files[i].name) != 0)
            return cerr(c, i, "", "$id '%s' must end in '/%s'", id, c->s->files[i].name);
        if (base && ((size_t)(slash - id) != baselen || strncmp(id, base, baselen) != 0))
            return cerr(c, i, "", "$id '%s' is not under the same base as '%.*s'", id, (int)baselen,
                        base);
        base = id;
        baselen = (size_t)(slash - id);
    }
    return 0;
}

static int load_file(struct compiler *c, size_t i, const struct voc_embedded_schema *e)
{
    json_error_t je;
    struct voc_schema_file *f = &c->s->files[i];
    f->name = strdup(e->name);
    if (!f->name)
        return -1;
    for (size_t k = 0; k < i; k++)
        if (!strcmp(c->s->files[k].name, f->name))
            return cerr(c, i, "", "two schemas with this name");
    f->doc = json_loads(e->text, JSON_REJECT_DUPLICATES, &je);
    if (!f->doc)
        return cerr(c, i, "", "line %d column %d: not valid JSON: %s", je.line, je.column, je.text);
    return json_is_object(f->doc) ? 0 : cerr(c, i, "", "the root must be an object");
}

struct voc_schemas *voc_schemas_load_from(const struct voc_embedded_schema *list, char *err,
                                          size_t errlen)
{
    struct compiler c = {.err = err, .errlen = errlen};
    size_t n = 0;
    while (list[n].name)
        n++;
    if (errlen)
        snprintf(err, errlen, "out of memory");
    c.s = calloc(1, sizeof *c.s);
    if (!c.s)
        return NULL;
    c.s->files = calloc(n + 1, sizeof *c.s->files);
    c.s->roots = calloc(n + 1, sizeof(const struct voc_schema_node *));
    if (!c.s->files || !c.s->roots)
        goto fail;
    for (; c.s->nfiles < n; c.s->nfiles++)
        if (load_file(&c, c.s->nfiles, &list[c.s->nfiles]) != 0)
            goto fail;
    if (check_ids(&c) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        c.s->roots[i] = compile(&c, i, c.s->files[i].doc, "");
        if (!c.s->roots[i])
            goto fail;
    }
    if (errlen)
        err[0] = '\0';
    return c.s;
fail:
    /* load_file may have failed half-way: count the file it was filling. */
    if (c.s->files && c.s->nfiles < n)
        c.s->nfiles++;
    voc_schemas_free(c.s);
    return NULL;
}

struct voc_schemas *voc_schemas_load(char *err, size_t errlen)
{
    return voc_schemas_load_from(voc_embedded_schemas, err, errlen);
}

void voc_schemas_free(struct voc_schemas *s)
{
    if (!s)
        return;
    while (s->nodes) {
        struct voc_schema_node *n = s->nodes;
        s->nodes = n->next;
        free(n->props);
        free(n->required);
        pcre2_code_free(n->pattern);
        free(n);
    }
    for (size_t i = 0; s->files && i < s->nfiles; i++) {
        free(s->files[i].name);
        json_decref(s->files[i].doc);
    }
    free(s->files);
    free(s->roots);
    free(s);
}
