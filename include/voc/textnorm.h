/* Text normalisation for matching (never for storage: we store what the
 * customer wrote, masked). NFKC + case folding (utf8proc), Traditional to
 * Simplified Chinese (OpenCC t2s), whitespace runs collapsed to one ASCII space
 * and trimmed, control characters dropped. Deterministic: the same input gives
 * the same output on every machine, which keeps fingerprints stable. */
#ifndef VOC_TEXTNORM_H
#define VOC_TEXTNORM_H

#include <stddef.h>

struct voc_textnorm; /* opaque; holds the OpenCC converter; not thread-safe */

/* Returns NULL with err filled if OpenCC's t2s configuration cannot be opened. */
struct voc_textnorm *voc_textnorm_new(char *err, size_t errlen);
void voc_textnorm_free(struct voc_textnorm *tn);

/* Normalises len bytes of UTF-8 text. Returns a malloc'd NUL-terminated string
 * (caller frees) and its length in *outlen, or NULL on invalid UTF-8 / no memory. */
char *voc_textnorm_apply(struct voc_textnorm *tn, const char *text, size_t len, size_t *outlen);

#endif
