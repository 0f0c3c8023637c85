/* A list of configuration problems, each "file:line: message".
 *
 * Loaders add every problem they find rather than stopping at the first, so
 * `vocctl config check` can report them all at once. */
#ifndef VOC_DIAG_H
#define VOC_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct voc_diag {
    char **lines; /* owned; each "file:line: message" */
    size_t count;
    size_t cap;
};

/* line <= 0 means the problem concerns the file as a whole: "file: message". */
void voc_diag_add(struct voc_diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void voc_diag_print(const struct voc_diag *d, FILE *out);
void voc_diag_free(struct voc_diag *d);

#endif
