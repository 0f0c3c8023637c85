/* Collected configuration problems. */
#include "voc/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void voc_diag_add(struct voc_diag *d, const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    char full[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(full, sizeof full, "%s:%d: %s", file, line, msg);
    else
        snprintf(full, sizeof full, "%s: %s", file, msg);
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **lines = realloc(d->lines, cap * sizeof *lines);
        if (!lines)
            return; /* Out of memory: the caller still sees count > 0 if any was kept. */
        d->lines = lines;
        d->cap = cap;
    }
    char *copy = strdup(full);
    if (copy)
        d->lines[d->count++] = copy;
}

void voc_diag_print(const struct voc_diag *d, FILE *out)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(out, "%s\n", d->lines[i]);
}

void voc_diag_free(struct voc_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->count = d->cap = 0;
}
