/* Time stamps as the event contracts write them (RFC 3339 with an offset). */
#ifndef VOC_TIMEUTIL_H
#define VOC_TIMEUTIL_H

#include <stdint.h>

/* Parses "2026-11-23T19:47:10.250+08:00" (or Z) into milliseconds since the
 * epoch. Returns 0, or -1 when s is not such a time. */
int voc_time_parse_ms(const char *s, int64_t *ms);

#endif
