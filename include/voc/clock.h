/* The time every SLA decision is taken at. Deadlines, reminders, escalations
 * and auto-verify compare against voc_clock_now_ms(), never against a sleep:
 * a service polls at its own (real-time) cadence and asks the clock what
 * time it is, so a test can move time forward without waiting for it.
 *
 * Production: the wall clock (CLOCK_REALTIME).
 * Override: when the environment variable VOC_CLOCK_FILE names a file, the
 * file holds the current time, either RFC 3339 ("2026-11-27T09:05:00+08:00")
 * or milliseconds since the epoch ("1795748700000"), and is read again on
 * every call, so rewriting it (atomically: write a temporary file, rename it)
 * moves time for a running service. A file that cannot be read or parsed
 * keeps the last good time (time never jumps back to the wall clock in the
 * middle of a test); before any good read the wall clock is used. The first
 * call logs event=clock_overridden once. */
#ifndef VOC_CLOCK_H
#define VOC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC), as described above. */
int64_t voc_clock_now_ms(void);

/* Whether VOC_CLOCK_FILE overrides the wall clock (for start-up logs). */
bool voc_clock_overridden(void);

#endif
