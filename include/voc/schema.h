/* JSON Schema validation of events against the contracts in schemas/events/.
 *
 * The schema files are compiled into libvoc (cmake/embed_schemas.cmake) and
 * interpreted here, so the C side enforces exactly what the schema text says.
 * Supported keywords (the subset our schemas use; loading a schema with any
 * other keyword fails, so the two can never silently drift): $schema, $id,
 * $defs, $ref (local "#/$defs/x" and "other.schema.json#/$defs/x"), title,
 * description, examples, $comment, type, properties, required,
 * additionalProperties (bool), enum, const, minLength, maxLength (code points),
 * pattern (PCRE2, UTF mode), minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, items, minItems, maxItems, format (annotation only). */
#ifndef VOC_SCHEMA_H
#define VOC_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

struct voc_embedded_schema {
    const char *name; /* file name, e.g. "complaint.schema.json" */
    const char *text;
};
/* Generated at build time; terminated by {NULL, NULL}. */
extern const struct voc_embedded_schema voc_embedded_schemas[];

struct voc_schemas; /* opaque: compiled schemas */

/* Compiles every embedded schema. Returns NULL and fills err on failure. */
struct voc_schemas *voc_schemas_load(char *err, size_t errlen);
/* The same for a given table (terminated by {NULL, NULL}), e.g. a test's own
 * schemas. The table's strings need not outlive the call. */
struct voc_schemas *voc_schemas_load_from(const struct voc_embedded_schema *list, char *err,
                                          size_t errlen);
void voc_schemas_free(struct voc_schemas *s);

/* Validates doc against the schema in file `name` (e.g. "rating.schema.json").
 * Returns 0 when valid; -1 with a readable reason such as
 * "/rating/score: 7 is greater than the maximum 5" when not. */
int voc_schema_validate(const struct voc_schemas *s, const char *name, const json_t *doc,
                        char *reason, size_t reasonlen);

#endif
