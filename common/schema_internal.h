/* Shared between schema_load.c (compiling schemas) and schema.c (validating):
 * the compiled form of a schema. Not part of libvoc's public interface. */
#ifndef VOC_SCHEMA_INTERNAL_H
#define VOC_SCHEMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stddef.h>

#include "voc/schema.h"

/* JSON Schema's type names; bit k of node.types stands for the k-th. */
enum {
    VOC_T_NULL = 1 << 0,
    VOC_T_BOOLEAN = 1 << 1,
    VOC_T_INTEGER = 1 << 2,
    VOC_T_NUMBER = 1 << 3,
    VOC_T_STRING = 1 << 4,
    VOC_T_OBJECT = 1 << 5,
    VOC_T_ARRAY = 1 << 6,
};
#define VOC_SCHEMA_N_TYPES 7
extern const char *const voc_schema_type_names[VOC_SCHEMA_N_TYPES];

struct voc_schema_node;
struct voc_schema_prop {
    const char *name; /* borrowed from the schema document */
    const struct voc_schema_node *schema;
};

struct voc_schema_node {
    struct voc_schema_node *next; /* every node of one voc_schemas, for freeing */
    const json_t *src;            /* the schema value this node was compiled from */
    unsigned types;               /* VOC_T_* bits; 0 = any */
    int never;                    /* the schema `false` */
    int closed;                   /* additionalProperties: false */
    const struct voc_schema_node *ref, *items;
    struct voc_schema_prop *props; /* sorted by name, for bsearch */
    size_t nprops;
    const char **required;
    size_t nrequired;
    const json_t *enum_values, *const_value;          /* borrowed */
    long long min_len, max_len, min_items, max_items; /* -1 when absent */
    const json_t *minimum, *maximum, *ex_minimum, *ex_maximum;
    pcre2_code *pattern;
    const char *pattern_src, *description;
};

struct voc_schema_file {
    char *name;
    json_t *doc; /* owned; nodes borrow strings and values from it */
};

struct voc_schemas {
    struct voc_schema_file *files;
    const struct voc_schema_node **roots; /* parallel to files */
    size_t nfiles;
    struct voc_schema_node *nodes;
};

/* Appends one JSON-pointer segment to buf, escaping '~' and '/' (RFC 6901). */
void voc_schema_ptr_append(char *buf, size_t size, const char *seg);

#endif
