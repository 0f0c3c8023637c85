/* Validating a JSON document against compiled schemas (see schema_load.c).
 *
 * Walks the document and the node graph without allocating: reasons are built
 * in the caller's buffer, the JSON pointer in a fixed buffer, and the only
 * per-thread state is one PCRE2 match block. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

/* Bounds recursion through $ref and nesting; our schemas are 4 levels deep. */
#define MAX_DEPTH 64

struct vctx {
    char *reason;
    size_t reasonlen;
    pcre2_match_data *md;
    size_t plen;
    char path[512]; /* JSON pointer of the value being checked */
};

static int fail(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vctx *v, const char *fmt, ...)
{
    if (!v->reasonlen)
        return -1;
    int n = v->plen ? snprintf(v->reason, v->reasonlen, "%s: ", v->path) : 0;
    if (n >= 0 && (size_t)n < v->reasonlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->reason + n, v->reasonlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t path_push(struct vctx *v, const char *key, size_t index)
{
    size_t saved = v->plen;
    char num[24];
    if (!key) {
        snprintf(num, sizeof num, "%zu", index);
        key = num;
    }
    voc_schema_ptr_append(v->path, sizeof v->path, key);
    v->plen = strlen(v->path);
    return saved;
}

static void path_pop(struct vctx *v, size_t saved)
{
    v->plen = saved;
    v->path[saved] = '\0';
}

/* 'text' quoted for a message: at most ~48 code points, control characters
 * escaped so a reason is always one printable line. */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t n = 0, cps = 0, i = 0;
    buf[n++] = '\'';
    for (; i < len && n + 8 < size && cps < 48; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", ch);
        else
            buf[n++] = (char)ch;
        cps += (ch & 0xc0) != 0x80;
    }
    while (i < len && i > 0 && n > 1 && ((unsigned char)s[i] & 0xc0) == 0x80) {
        n--; /* never end inside a UTF-8 sequence */
        i--;
    }
    snprintf(buf + n, size - n, "%s'", i < len ? "..." : "");
    return buf;
}

/* How a value is shown in a message: 'text', 5, 4.5, true, null, an object. */
static const char *show(char *buf, size_t size, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_STRING:
        return quote(buf, size, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(buf, size, "%lld", (long long)json_integer_value(j));
        return buf;
    case JSON_REAL:
        snprintf(buf, size, "%.15g", json_real_value(j));
        if (strtod(buf, NULL) != json_real_value(j))
            snprintf(buf, size, "%.17g", json_real_value(j));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    case JSON_OBJECT:
        return "an object";
    default:
        return "an array";
    }
}

/* JSON Schema's integer is a number with no fractional part, so 5.0 counts. */
static unsigned type_bits(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_INTEGER:
        return VOC_T_INTEGER | VOC_T_NUMBER;
    case JSON_REAL: {
        double d = json_real_value(j);
        return VOC_T_NUMBER | (d == floor(d) ? VOC_T_INTEGER : 0);
    }
    case JSON_STRING:
        return VOC_T_STRING;
    case JSON_OBJECT:
        return VOC_T_OBJECT;
    case JSON_ARRAY:
        return VOC_T_ARRAY;
    case JSON_NULL:
        return VOC_T_NULL;
    default:
        return VOC_T_BOOLEAN;
    }
}

static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

/* enum/const equality: 5 and 5.0 are the same number in JSON Schema. */
static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    return json_equal(a, b);
}

static int check(struct vctx *v, const struct voc_schema_node *n, const json_t *j, int depth);

static int check_type(struct vctx *v, const struct voc_schema_node *n, const json_t *j)
{
    char want[80] = "", got[80];
    if (!n->types || (type_bits(j) & n->types))
        return 0;
    for (size_t k = 0; k < VOC_SCHEMA_N_TYPES; k++) {
        /* "integer or number" says no more than "number". */
        if ((n->types & (1u << k)) && !(k == 2 && (n->types & VOC_T_NUMBER)))
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", *want ? " or " : "",
                     voc_schema_type_names[k]);
    }
    return fail(v, "expected %s, got %s%s", want, json_is_string(j) ? "string " : "",
                show(got, sizeof got, j));
}

static int check_enum(struct vctx *v, const struct voc_schema_node *n, const json_t *j)
{
    char list[256] = "", one[80], got[80];
    size_t i;
    const json_t *e;
    if (n->const_value && !same(j, n->const_value))
        return fail(v, "must be %s, got %s", show(one, sizeof one, n->const_value),
                    show(got, sizeof got, j));
    if (!n->enum_values)
        return 0;
    json_array_foreach(n->enum_values, i, e)
    {
        if (same(j, e))
            return 0;
    }
    json_array_foreach(n->enum_values, i, e)
    {
        const char *s = json_is_string(e) ? json_string_value(e) : show(one, sizeof one, e);
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", s);
    }
    return fail(v, "%s is not one of %s", show(got, sizeof got, j), list);
}

static int check_string(struct vctx *v, const struct voc_schema_node *n, const json_t *j)
{
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    char buf[256];
    if (n->min_len >= 0 || n->max_len >= 0) {
        long long cps = 0; /* code points: count the bytes that start one */
        for (size_t i = 0; i < len; i++)
            cps += ((unsigned char)s[i] & 0xc0) != 0x80;
        const char *plural = cps == 1 ? "" : "s";
        if (n->min_len >= 0 && cps < n->min_len)
            return fail(v, "too short: %lld character%s, the minimum is %lld", cps, plural,
                        n->min_len);
        if (n->max_len >= 0 && cps > n->max_len)
            return fail(v, "too long: %lld character%s, the maximum is %lld", cps, plural,
                        n->max_len);
    }
    if (!n->pattern)
        return 0;
    if (!v->md)
        return fail(v, "cannot match the pattern: out of memory");
    int rc = pcre2_match(n->pattern, (PCRE2_SPTR)s, len, 0, 0, v->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* long input: the interpreter copes */
        rc = pcre2_match(n->pattern, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT, v->md, NULL);
    if (rc >= 0)
        return 0;
    quote(buf, sizeof buf, s, len);
    if (rc != PCRE2_ERROR_NOMATCH)
        return fail(v, "%s could not be matched against the pattern (PCRE2 error %d)", buf, rc);
    if (n->description)
        return fail(v, "%s is not %s", buf, n->description);
    return fail(v, "%s does not match the pattern %s", buf, n->pattern_src);
}

static int check_number(struct vctx *v, const struct voc_schema_node *n, const json_t *j)
{
    char a[40], b[40];
    if (n->minimum && num_cmp(j, n->minimum) < 0)
        return fail(v, "%s is less than the minimum %s", show(a, sizeof a, j),
                    show(b, sizeof b, n->minimum));
    if (n->maximum && num_cmp(j, n->maximum) > 0)
        return fail(v, "%s is greater than the maximum %s", show(a, sizeof a, j),
                    show(b, sizeof b, n->maximum));
    if (n->ex_minimum && num_cmp(j, n->ex_minimum) <= 0)
        return fail(v, "%s must be greater than %s", show(a, sizeof a, j),
                    show(b, sizeof b, n->ex_minimum));
    if (n->ex_maximum && num_cmp(j, n->ex_maximum) >= 0)
        return fail(v, "%s must be less than %s", show(a, sizeof a, j),
                    show(b, sizeof b, n->ex_maximum));
    return 0;
}

static const struct voc_schema_node *find_prop(const struct voc_schema_node *n, const char *key)
{
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, n->props[mid].name);
        if (!c)
            return n->props[mid].schema;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int check_object(struct vctx *v, const struct voc_schema_node *n, const json_t *j, int depth)
{
    const char *key;
    json_t *val;
    char buf[256];
    for (size_t i = 0; i < n->nrequired; i++)
        if (!json_object_get(j, n->required[i]))
            return fail(v, "missing required field '%s'", n->required[i]);
    json_object_foreach((json_t *)j, key, val)
    {
        const struct voc_schema_node *p = find_prop(n, key);
        if (!p) {
            if (n->closed)
                return fail(v, "unknown field %s", quote(buf, sizeof buf, key, strlen(key)));
            continue;
        }
        size_t saved = path_push(v, key, 0);
        int rc = check(v, p, val, depth + 1);
        path_pop(v, saved);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_array(struct vctx *v, const struct voc_schema_node *n, const json_t *j, int depth)
{
    long long size = (long long)json_array_size(j);
    if (n->min_items >= 0 && size < n->min_items)
        return fail(v, "%lld item%s, the minimum is %lld", size, size == 1 ? "" : "s",
                    n->min_items);
    if (n->max_items >= 0 && size > n->max_items)
        return fail(v, "%lld item%s, the maximum is %lld", size, size == 1 ? "" : "s",
                    n->max_items);
    for (size_t i = 0; n->items && i < (size_t)size; i++) {
        size_t saved = path_push(v, NULL, i);
        int rc = check(v, n->items, json_array_get(j, i), depth + 1);
        path_pop(v, saved);
        if (rc)
            return rc;
    }
    return 0;
}

static int check(struct vctx *v, const struct voc_schema_node *n, const json_t *j, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(v, "nested too deeply to check (schema recursion)");
    if (n->never)
        return fail(v, "not allowed here");
    if (n->ref && check(v, n->ref, j, depth + 1) != 0)
        return -1;
    if (check_type(v, n, j) != 0 || check_enum(v, n, j) != 0)
        return -1;
    switch (json_typeof(j)) {
    case JSON_STRING:
        return check_string(v, n, j);
    case JSON_INTEGER:
    case JSON_REAL:
        return check_number(v, n, j);
    case JSON_OBJECT:
        return check_object(v, n, j, depth);
    case JSON_ARRAY:
        return check_array(v, n, j, depth);
    default:
        return 0;
    }
}

/* One match block per thread, made on first use and freed at thread exit:
 * validation may run on several threads over one shared voc_schemas. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static int md_key_ok;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_init(void)
{
    md_key_ok = pthread_key_create(&md_key, md_free) == 0;
}

static pcre2_match_data *thread_match_data(void)
{
    pthread_once(&md_once, md_init);
    if (!md_key_ok)
        return NULL;
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md) {
        md = pcre2_match_data_create(1, NULL); /* match or not: one pair is enough */
        if (md && pthread_setspecific(md_key, md) != 0) {
            pcre2_match_data_free(md);
            md = NULL;
        }
    }
    return md;
}

int voc_schema_validate(const struct voc_schemas *s, const char *name, const json_t *doc,
                        char *reason, size_t reasonlen)
{
    struct vctx v = {.reason = reason, .reasonlen = reasonlen, .md = thread_match_data()};
    v.path[0] = '\0';
    if (reasonlen)
        reason[0] = '\0';
    for (size_t i = 0; s && name && i < s->nfiles; i++)
        if (!strcmp(s->files[i].name, name))
            return doc ? check(&v, s->roots[i], doc, 0) : fail(&v, "no document");
    return fail(&v, "no schema named '%s'", name ? name : "(null)");
}
