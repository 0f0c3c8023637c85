/* YAML configuration access with source lines, over libyaml's document API. */
#include "voc/yamlcfg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_duplicate_keys(struct voc_yaml *y, struct voc_diag *diag)
{
    int bad = 0;
    for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top; n++) {
        if (n->type != YAML_MAPPING_NODE)
            continue;
        size_t len = voc_yaml_map_len(n);
        for (size_t i = 0; i < len; i++) {
            int line_i;
            const char *ki = voc_yaml_map_key(y, n, i, &line_i);
            for (size_t j = i + 1; ki && j < len; j++) {
                int line_j;
                const char *kj = voc_yaml_map_key(y, n, j, &line_j);
                if (kj && strcmp(ki, kj) == 0) {
                    voc_diag_add(diag, y->path, line_j, "duplicate key '%s' (first at line %d)", kj,
                                 line_i);
                    bad = 1;
                }
            }
        }
    }
    return bad ? -1 : 0;
}

int voc_yaml_load(struct voc_yaml *y, const char *path, struct voc_diag *diag)
{
    memset(y, 0, sizeof *y);
    y->path = strdup(path);
    if (!y->path)
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        voc_diag_add(diag, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    int rc = -1;
    if (!yaml_parser_initialize(&parser)) {
        voc_diag_add(diag, path, 0, "cannot initialise the YAML parser");
        goto done;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &y->doc)) {
        voc_diag_add(diag, path, (int)parser.problem_mark.line + 1, "YAML syntax: %s%s%s",
                     parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
                     parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        goto done;
    }
    y->loaded = true;
    yaml_parser_delete(&parser);
    rc = check_duplicate_keys(y, diag);
done:
    fclose(f);
    return rc;
}

void voc_yaml_free(struct voc_yaml *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    free(y->path);
    memset(y, 0, sizeof *y);
}

yaml_node_t *voc_yaml_root(struct voc_yaml *y)
{
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

int voc_yaml_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

const char *voc_yaml_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

size_t voc_yaml_map_len(const yaml_node_t *map)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return 0;
    return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

const char *voc_yaml_map_key(struct voc_yaml *y, yaml_node_t *map, size_t i, int *line)
{
    yaml_node_t *k = yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].key);
    if (line)
        *line = voc_yaml_line(k);
    return voc_yaml_str(k);
}

yaml_node_t *voc_yaml_map_value(struct voc_yaml *y, yaml_node_t *map, size_t i)
{
    return yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].value);
}

size_t voc_yaml_seq_len(const yaml_node_t *seq)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *voc_yaml_seq_item(struct voc_yaml *y, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

yaml_node_t *voc_yaml_get(struct voc_yaml *y, yaml_node_t *map, const char *key)
{
    size_t len = voc_yaml_map_len(map);
    for (size_t i = 0; i < len; i++) {
        const char *k = voc_yaml_map_key(y, map, i, NULL);
        if (k && strcmp(k, key) == 0)
            return voc_yaml_map_value(y, map, i);
    }
    return NULL;
}

int voc_yaml_expect_map(struct voc_yaml *y, yaml_node_t *n, const char *what,
                        const char *const *allowed, struct voc_diag *diag)
{
    if (!n || n->type != YAML_MAPPING_NODE) {
        voc_diag_add(diag, y->path, voc_yaml_line(n), "%s must be a mapping", what);
        return -1;
    }
    int rc = 0;
    size_t len = voc_yaml_map_len(n);
    for (size_t i = 0; allowed && i < len; i++) {
        int line;
        const char *k = voc_yaml_map_key(y, n, i, &line);
        size_t a = 0;
        while (k && allowed[a] && strcmp(allowed[a], k) != 0)
            a++;
        if (!k || !allowed[a]) {
            voc_diag_add(diag, y->path, line, "unknown key '%s' in %s", k ? k : "?", what);
            rc = -1;
        }
    }
    return rc;
}

int voc_yaml_expect_seq(struct voc_yaml *y, yaml_node_t *n, const char *what, struct voc_diag *diag)
{
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        voc_diag_add(diag, y->path, voc_yaml_line(n), "%s must be a list", what);
        return -1;
    }
    return 0;
}

/* Finds map[key] as a scalar. Returns 1 found, 0 absent (error if required), -1 bad. */
static int scalar_at(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                     const char **text, int *line, struct voc_diag *diag)
{
    yaml_node_t *v = voc_yaml_get(y, map, key);
    if (!v) {
        if (required) {
            voc_diag_add(diag, y->path, voc_yaml_line(map), "missing required key '%s'", key);
            return -1;
        }
        return 0;
    }
    *line = voc_yaml_line(v);
    *text = voc_yaml_str(v);
    if (!*text) {
        voc_diag_add(diag, y->path, *line, "'%s' must be a single value", key);
        return -1;
    }
    return 1;
}

int voc_yaml_read_str(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                      char **out, struct voc_diag *diag)
{
    const char *text;
    int line;
    int found = scalar_at(y, map, key, required, &text, &line, diag);
    if (found <= 0)
        return found;
    char *copy = strdup(text);
    if (!copy)
        return -1;
    free(*out);
    *out = copy;
    return 0;
}

int voc_yaml_read_int(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                      long long min, long long max, long long *out, struct voc_diag *diag)
{
    const char *text;
    int line;
    int found = scalar_at(y, map, key, required, &text, &line, diag);
    if (found <= 0)
        return found;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end) {
        voc_diag_add(diag, y->path, line, "'%s' must be a whole number, not '%s'", key, text);
        return -1;
    }
    if (v < min || v > max) {
        voc_diag_add(diag, y->path, line, "'%s' must be between %lld and %lld, not %lld", key, min,
                     max, v);
        return -1;
    }
    *out = v;
    return 0;
}

int voc_yaml_read_double(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                         double min, double max, double *out, struct voc_diag *diag)
{
    const char *text;
    int line;
    int found = scalar_at(y, map, key, required, &text, &line, diag);
    if (found <= 0)
        return found;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        voc_diag_add(diag, y->path, line, "'%s' must be a number, not '%s'", key, text);
        return -1;
    }
    if (v < min || v > max) {
        voc_diag_add(diag, y->path, line, "'%s' must be between %g and %g, not %g", key, min, max,
                     v);
        return -1;
    }
    *out = v;
    return 0;
}

int voc_yaml_read_bool(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                       bool *out, struct voc_diag *diag)
{
    const char *text;
    int line;
    int found = scalar_at(y, map, key, required, &text, &line, diag);
    if (found <= 0)
        return found;
    if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "on") == 0) {
        *out = true;
    } else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "off") == 0) {
        *out = false;
    } else {
        voc_diag_add(diag, y->path, line, "'%s' must be true or false, not '%s'", key, text);
        return -1;
    }
    return 0;
}

int voc_yaml_read_names(struct voc_yaml *y, yaml_node_t *map, const char *key, const char *what,
                        const char *entries, char ***out, struct voc_diag *diag)
{
    yaml_node_t *seq = voc_yaml_get(y, map, key);
    size_t n = 0;
    int rc = 0;
    if (seq && voc_yaml_expect_seq(y, seq, what, diag) != 0)
        rc = -1;
    else
        n = voc_yaml_seq_len(seq);
    if (!(*out = calloc(n + 1, sizeof **out))) {
        voc_diag_add(diag, y->path, voc_yaml_line(map), "out of memory");
        return -1;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        yaml_node_t *item = voc_yaml_seq_item(y, seq, i);
        const char *s = voc_yaml_str(item);
        if (!s || !s[0]) {
            voc_diag_add(diag, y->path, voc_yaml_line(item), "%s must be non-empty names", entries);
            rc = -1;
        } else if (!((*out)[k++] = strdup(s))) {
            voc_diag_add(diag, y->path, voc_yaml_line(item), "out of memory");
            rc = -1;
        }
    }
    return rc;
}
