/* vocctl event check [--schema NAME] FILE|-
 *
 * Checks events the way voc-ingest will: an event goes through
 * voc_event_parse() itself, so "ok" here means ingest accepts it. A record
 * with reason + original_b64 and no type is a dead letter; --schema forces one
 * schema for every record. A .json file is one document; anything else is
 * NDJSON (one record per line), unless it is a single document spread over
 * several lines. Exit: 0 all valid, 1 any invalid, 2 bad usage or unreadable. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/event.h"
#include "voc/schema.h"
#include "vocctl.h"

#define USAGE "usage: vocctl event check [--schema NAME] FILE|- ...\n"

struct checker {
    struct voc_schemas *schemas;
    const char *forced; /* a schema file name from --schema, or NULL */
    size_t invalid;
};

/* Prints s on one line whatever it holds: event ids are producer data. */
static void print_safe(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static const char *record_schema(const struct checker *ck, const json_t *doc)
{
    if (ck->forced)
        return ck->forced;
    if (json_is_object(doc) && !json_object_get(doc, "type") && json_object_get(doc, "reason") &&
        json_object_get(doc, "original_b64"))
        return "deadletter.schema.json";
    return NULL;
}

static void check_record(struct checker *ck, const char *data, size_t len, const char *where)
{
    char reason[1024];
    struct voc_event ev = {.root = NULL};
    const char *id = NULL;
    int rc = -1;
    json_t *doc = voc_event_decode(data, len, 0, reason, sizeof reason);
    if (doc) {
        const char *schema = record_schema(ck, doc);
        if (schema) {
            rc = voc_schema_validate(ck->schemas, schema, doc, reason, sizeof reason);
            id = json_string_value(json_object_get(doc, "event_id"));
        } else {
            rc = voc_event_parse(&ev, data, len, 0, ck->schemas, reason, sizeof reason);
            id = ev.event_id;
        }
    }
    if (rc == 0) {
        fputs("ok ", stdout);
        print_safe(id ? id : where);
        putchar('\n');
    } else {
        printf("invalid %s: %s\n", where, reason);
        ck->invalid++;
    }
    voc_event_clear(&ev);
    json_decref(doc);
}

static int read_all(FILE *f, char **out, size_t *outlen)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger)
            goto fail;
        buf = bigger;
        cap *= 2;
    }
    if (ferror(f))
        goto fail;
    *out = buf;
    *outlen = len;
    return 0;
fail:
    free(buf);
    return -1;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static int one_document(const char *name, const char *data, size_t len)
{
    size_t nlen = strlen(name);
    if (nlen > 5 && !strcmp(name + nlen - 5, ".json"))
        return 1;
    /* Pretty-printed JSON on stdin or in a .txt: one value over many lines. */
    const char *nl = memchr(data, '\n', len);
    if (!nl || is_blank(nl, len - (size_t)(nl - data)))
        return 0;
    json_t *doc = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    json_decref(doc);
    return doc != NULL;
}

static void check_lines(struct checker *ck, const char *label, const char *data, size_t len)
{
    char where[512];
    size_t lineno = 0;
    for (const char *p = data, *end = data + len; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!is_blank(p, n)) {
            snprintf(where, sizeof where, "%s:%zu", label, lineno + 1);
            check_record(ck, p, n && p[n - 1] == '\r' ? n - 1 : n, where);
        }
        p += n + 1;
    }
}

/* Returns 2 when the input cannot be read, else 0 (findings go to ck). */
static int check_input(struct checker *ck, const char *name)
{
    const char *label = strcmp(name, "-") ? name : "stdin";
    FILE *f = strcmp(name, "-") ? fopen(name, "rb") : stdin;
    char *data = NULL;
    size_t len = 0;
    if (!f || read_all(f, &data, &len) != 0) {
        fprintf(stderr, "vocctl event: cannot read %s: %s\n", label, strerror(errno));
        if (f && f != stdin)
            fclose(f);
        return 2;
    }
    if (f != stdin)
        fclose(f);
    if (is_blank(data, len)) {
        printf("invalid %s: no records in it\n", label);
        ck->invalid++;
    } else if (one_document(name, data, len)) {
        check_record(ck, data, len, label);
    } else {
        check_lines(ck, label, data, len);
    }
    free(data);
    return 0;
}

/* --schema rating | rating.schema.json -> the embedded file name. */
static const char *schema_file(const char *arg)
{
    for (size_t i = 0; voc_embedded_schemas[i].name; i++) {
        const char *name = voc_embedded_schemas[i].name;
        size_t n = strlen(arg);
        if (!strcmp(name, "common.schema.json"))
            continue; /* shared definitions: it would accept anything */
        if (!strcmp(arg, name) || (!strncmp(arg, name, n) && !strcmp(name + n, ".schema.json")))
            return name;
    }
    return NULL;
}

static void list_schemas(FILE *out)
{
    fputs("known schemas:", out);
    for (size_t i = 0; voc_embedded_schemas[i].name; i++) {
        const char *name = voc_embedded_schemas[i].name;
        if (strcmp(name, "common.schema.json") != 0)
            fprintf(out, " %.*s", (int)(strlen(name) - strlen(".schema.json")), name);
    }
    fputc('\n', out);
}

int vocctl_event(int argc, char **argv, const char *config_dir)
{
    static const struct option opts[] = {{"schema", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct checker ck = {.schemas = NULL};
    char err[512];
    int c;
    (void)config_dir; /* the contract is compiled in; no configuration needed */
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    while ((c = getopt_long(argc - 1, argv + 1, "s:h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(USAGE, stdout);
            list_schemas(stdout);
            return 0;
        }
        if (c != 's' || !(ck.forced = schema_file(optarg))) {
            if (c == 's')
                fprintf(stderr, "vocctl event: unknown schema '%s'\n", optarg);
            fputs(USAGE, stderr);
            list_schemas(stderr);
            return 2;
        }
    }
    if (optind + 2 > argc) {
        fputs(USAGE, stderr);
        return 2;
    }
    ck.schemas = voc_schemas_load(err, sizeof err);
    if (!ck.schemas) {
        fprintf(stderr, "vocctl event: cannot load the schemas: %s\n", err);
        return 1;
    }
    int unreadable = 0;
    for (int i = optind + 1; i < argc; i++)
        unreadable |= check_input(&ck, argv[i]);
    voc_schemas_free(ck.schemas);
    return unreadable ? 2 : ck.invalid ? 1 : 0;
}
