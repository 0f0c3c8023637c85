/* Masking of personal data before anything is stored or produced.
 *
 * Recognised: mainland China mobile numbers (1[3-9] + 9 digits, optionally
 * +86/86-prefixed, spaces or dashes between groups), resident ID-card numbers
 * (18 characters with a valid birth date and ISO 7064 check digit, or the old
 * 15-digit form), bank-card numbers (13-19 digits, grouped or not, passing the
 * Luhn check) and e-mail addresses. Full-width digits count as digits. Each
 * match is replaced by a tag: [PHONE], [ID_CARD], [BANK_CARD], [EMAIL]. */
#ifndef VOC_PII_H
#define VOC_PII_H

#include <jansson.h>
#include <stddef.h>

enum voc_pii_kind { VOC_PII_PHONE, VOC_PII_ID_CARD, VOC_PII_BANK_CARD, VOC_PII_EMAIL };

/* Masks len bytes of UTF-8 text. Returns a malloc'd NUL-terminated string
 * (caller frees) with its length in *outlen, or NULL when out of memory.
 * *count (if not NULL) receives the number of replacements made. */
char *voc_pii_mask(const char *text, size_t len, size_t *outlen, int *count);

/* Masks, in place, every string value in a JSON tree except identifiers: keys
 * named "id", "event_id", or ending in "_id", and the envelope's "type" and
 * "occurred_at". Returns the number of replacements, or -1 when out of memory. */
int voc_pii_mask_json(json_t *doc);

#endif
