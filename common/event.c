/* The event model: raw message bytes to a validated struct voc_event.
 *
 * The order of checks is the order of cost: the size before parsing, the
 * parse before the schema. Each failure leaves a reason a person can act on,
 * because that reason is what the dead-letter record carries. */
#include "voc/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[VOC_EV_TYPE_COUNT] = {"complaint", "rating", "tech_issue",
                                                          "telemetry"};

int voc_event_type_parse(const char *name)
{
    for (int i = 0; name && i < VOC_EV_TYPE_COUNT; i++)
        if (!strcmp(name, type_names[i]))
            return i;
    return -1;
}

const char *voc_event_type_name(enum voc_event_type t)
{
    return (unsigned)t < VOC_EV_TYPE_COUNT ? type_names[t] : "unknown";
}

static void set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reason(char *reason, size_t reasonlen, const char *fmt, ...)
{
    va_list ap;
    if (!reasonlen)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, reasonlen, fmt, ap);
    va_end(ap);
}

/* jansson appends " near '<input>'": drop it, it can hold raw customer text
 * or the very bytes that broke the parse. "near end of file" is kept. */
static void json_failure(const json_error_t *je, char *reason, size_t reasonlen)
{
    char text[JSON_ERROR_TEXT_LENGTH];
    snprintf(text, sizeof text, "%s", je->text);
    char *near = strstr(text, " near '");
    if (near)
        *near = '\0';
    switch (json_error_code(je)) {
    case json_error_invalid_utf8:
        set_reason(reason, reasonlen, "not valid UTF-8 at line %d column %d (byte offset %d)",
                   je->line, je->column, je->position);
        break;
    case json_error_null_character:
        set_reason(reason, reasonlen,
                   "not valid JSON at line %d column %d: \\u0000 (NUL) is not allowed in text",
                   je->line, je->column);
        break;
    default:
        set_reason(reason, reasonlen, "not valid JSON at line %d column %d: %s", je->line,
                   je->column, text);
        break;
    }
}

json_t *voc_event_decode(const void *buf, size_t len, size_t max_bytes, char *reason,
                         size_t reasonlen)
{
    json_error_t je;
    if (max_bytes && len > max_bytes) {
        set_reason(reason, reasonlen, "event is %zu bytes, the limit is %zu", len, max_bytes);
        return NULL;
    }
    const char *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == len) {
        set_reason(reason, reasonlen, "the message is empty");
        return NULL;
    }
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root)
        json_failure(&je, reason, reasonlen);
    return root;
}

static const char *kind_of(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_NULL:
        return "null";
    default:
        return "a boolean";
    }
}

/* The type echoed in a reason: short, printable, never a new line. */
static void echo(char *out, size_t size, const char *s)
{
    size_t len = strlen(s), n = len < size - 4 ? len : size - 4;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--; /* do not cut inside a UTF-8 sequence */
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    snprintf(out + n, size - n, "%s", n < len ? "..." : "");
}

/* Which schema applies: the event's own type, checked by hand first so the
 * reason for an unknown type lists the known ones. */
static int event_type(const json_t *root, char *reason, size_t reasonlen)
{
    char shown[48];
    const json_t *t = json_object_get(root, "type");
    if (!t) {
        set_reason(reason, reasonlen, "missing required field 'type'");
        return -1;
    }
    if (!json_is_string(t)) {
        set_reason(reason, reasonlen, "/type: expected a string, got %s", kind_of(t));
        return -1;
    }
    int type = voc_event_type_parse(json_string_value(t));
    if (type < 0) {
        echo(shown, sizeof shown, json_string_value(t));
        set_reason(reason, reasonlen,
                   "/type: '%s' is not an event type (known: complaint, rating, tech_issue, "
                   "telemetry)",
                   shown);
    }
    return type;
}

static const char *str_in(const json_t *root, const char *block, const char *key)
{
    const json_t *obj = block ? json_object_get(root, block) : root;
    return json_string_value(json_object_get(obj, key));
}

static long long whole(const json_t *j, long long absent)
{
    if (json_is_integer(j))
        return json_integer_value(j);
    return json_is_real(j) ? (long long)json_real_value(j) : absent;
}

/* Borrowed pointers into root; validation has already fixed every type. */
static void fill(struct voc_event *ev, const json_t *root)
{
    int flat = ev->type == VOC_EV_TELEMETRY; /* telemetry carries its ids flat */
    ev->event_id = str_in(root, NULL, "event_id");
    ev->type_name = str_in(root, NULL, "type");
    ev->occurred_at = str_in(root, NULL, "occurred_at");
    ev->source = str_in(root, NULL, "source");
    ev->channel = str_in(root, NULL, "channel");
    ev->customer_id = flat ? str_in(root, NULL, "customer_id") : str_in(root, "customer", "id");
    ev->tier = str_in(root, "customer", "tier");
    ev->classroom_id = flat ? str_in(root, NULL, "classroom_id") : str_in(root, "classroom", "id");
    ev->lesson_id = str_in(root, flat ? NULL : "classroom", "lesson_id");
    ev->teacher_id = str_in(root, flat ? NULL : "classroom", "teacher_id");
    ev->product_id = str_in(root, "product", "id");
    ev->product_name = str_in(root, "product", "name");
    ev->line = str_in(root, "network", "line");
    ev->isp = str_in(root, "network", "isp");
    ev->region = str_in(root, "network", "region");
    ev->client_app = str_in(root, "client", "app");
    ev->client_version = str_in(root, "client", "version");
    ev->client_os = str_in(root, "client", "os");
    const json_t *text = json_object_get(root, "text");
    ev->text = json_string_value(text);
    ev->text_len = ev->text ? json_string_length(text) : 0;
    const json_t *rating = json_object_get(root, "rating");
    ev->rating_score = (int)whole(json_object_get(rating, "score"), 0);
    ev->rating_aspect = str_in(rating, NULL, "aspect");
    const json_t *issue = json_object_get(root, "issue");
    ev->issue_kind = str_in(issue, NULL, "kind");
    ev->issue_severity = str_in(issue, NULL, "severity");
    ev->issue_duration_ms = whole(json_object_get(issue, "duration_ms"), -1);
}

int voc_event_parse(struct voc_event *ev, const void *buf, size_t len, size_t max_bytes,
                    const struct voc_schemas *schemas, char *reason, size_t reasonlen)
{
    char schema[32];
    memset(ev, 0, sizeof *ev);
    ev->issue_duration_ms = -1;
    if (reasonlen)
        reason[0] = '\0';
    json_t *root = voc_event_decode(buf, len, max_bytes, reason, reasonlen);
    if (!root)
        return -1;
    if (!json_is_object(root)) {
        set_reason(reason, reasonlen, "the event must be a JSON object, got %s", kind_of(root));
        goto fail;
    }
    int type = event_type(root, reason, reasonlen);
    if (type < 0)
        goto fail;
    snprintf(schema, sizeof schema, "%s.schema.json", type_names[type]);
    if (voc_schema_validate(schemas, schema, root, reason, reasonlen) != 0)
        goto fail;
    ev->root = root;
    ev->type = (enum voc_event_type)type;
    fill(ev, root);
    return 0;
fail:
    json_decref(root);
    return -1;
}

void voc_event_clear(struct voc_event *ev)
{
    json_decref(ev->root);
    memset(ev, 0, sizeof *ev);
    ev->issue_duration_ms = -1;
}
