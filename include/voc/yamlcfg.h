/* Reading YAML configuration files with line numbers for every error.
 *
 * A file is loaded whole into a libyaml document; nodes are addressed by
 * pointer and keep their source line, so every loader can report
 * "file:line: message" through a struct voc_diag. Typed getters add a
 * diagnostic and return -1 when a value has the wrong type or range. */
#ifndef VOC_YAMLCFG_H
#define VOC_YAMLCFG_H

#include <stdbool.h>
#include <yaml.h>

#include "voc/diag.h"

struct voc_yaml {
    char *path; /* owned copy of the file name used in diagnostics */
    yaml_document_t doc;
    bool loaded;
};

/* Loads path. On a syntax error, or a mapping with a repeated key, adds a
 * diagnostic and returns -1 (the document is then empty but safe to free). */
int voc_yaml_load(struct voc_yaml *y, const char *path, struct voc_diag *diag);
void voc_yaml_free(struct voc_yaml *y);

/* The root node, or NULL for an empty file. */
yaml_node_t *voc_yaml_root(struct voc_yaml *y);
/* 1-based source line of a node. */
int voc_yaml_line(const yaml_node_t *n);

/* Mapping lookup; NULL when absent or when map is not a mapping. */
yaml_node_t *voc_yaml_get(struct voc_yaml *y, yaml_node_t *map, const char *key);
/* Scalar text of a node, or NULL when it is not a scalar. */
const char *voc_yaml_str(const yaml_node_t *n);

/* Iteration over a mapping's pairs and a sequence's items. */
size_t voc_yaml_map_len(const yaml_node_t *map);
const char *voc_yaml_map_key(struct voc_yaml *y, yaml_node_t *map, size_t i, int *line);
yaml_node_t *voc_yaml_map_value(struct voc_yaml *y, yaml_node_t *map, size_t i);
size_t voc_yaml_seq_len(const yaml_node_t *seq);
yaml_node_t *voc_yaml_seq_item(struct voc_yaml *y, yaml_node_t *seq, size_t i);

/* Checks node is a mapping (diagnostic "what must be a mapping" otherwise) and
 * that every key is in the NULL-terminated allowed list ("unknown key 'x'"). */
int voc_yaml_expect_map(struct voc_yaml *y, yaml_node_t *n, const char *what,
                        const char *const *allowed, struct voc_diag *diag);
/* Checks node is a sequence. */
int voc_yaml_expect_seq(struct voc_yaml *y, yaml_node_t *n, const char *what,
                        struct voc_diag *diag);

/* Typed reads of map[key]. When the key is absent the output is left as it is
 * (the caller's default) and 0 is returned; required=true makes absence an error. */
int voc_yaml_read_str(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                      char **out, struct voc_diag *diag); /* *out is malloc'd; old value freed */
int voc_yaml_read_int(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                      long long min, long long max, long long *out, struct voc_diag *diag);
int voc_yaml_read_double(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                         double min, double max, double *out, struct voc_diag *diag);
int voc_yaml_read_bool(struct voc_yaml *y, yaml_node_t *map, const char *key, bool required,
                       bool *out, struct voc_diag *diag);

/* Reads map[key], a list of non-empty strings (names, e.g. an escalation
 * chain), into *out: a NULL-terminated malloc'd array of malloc'd copies. An
 * absent key gives an empty list (whether that is allowed is the caller's
 * rule); a bad entry is left out. `what` names the list ("<what> must be a
 * list"), `entries` its entries ("<entries> must be non-empty names"). Returns
 * 0, or -1 after a diagnostic for each problem; *out is NULL only when out of
 * memory. */
int voc_yaml_read_names(struct voc_yaml *y, yaml_node_t *map, const char *key, const char *what,
                        const char *entries, char ***out, struct voc_diag *diag);

#endif
