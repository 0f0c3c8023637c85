/* The injectable clock (see voc/clock.h). */
#include "voc/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/log.h"
#include "voc/timeutil.h"

#define CLOCK_ENV "VOC_CLOCK_FILE"

static int64_t last_good_ms = -1;
static bool announced, complained;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool voc_clock_overridden(void)
{
    const char *path = getenv(CLOCK_ENV);
    return path && *path;
}

/* Parses the file's text: epoch milliseconds or RFC 3339, surrounding
 * whitespace allowed. Returns 0 or -1. */
static int parse_time(char *text, int64_t *ms)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    if (len == 0)
        return -1;
    bool digits = true;
    for (size_t i = 0; i < len; i++)
        digits = digits && isdigit((unsigned char)text[i]);
    if (digits) {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (errno || *end)
            return -1;
        *ms = v;
        return 0;
    }
    return voc_time_parse_ms(text, ms);
}

static int read_override(const char *path, int64_t *ms)
{
    char buf[96];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return parse_time(buf, ms);
}

int64_t voc_clock_now_ms(void)
{
    const char *path = getenv(CLOCK_ENV);
    if (!path || !*path)
        return wall_ms();
    if (!announced) {
        announced = true;
        voc_log(VOC_LOG_WARN, "clock_overridden",
                "file=%s msg=\"SLA time is read from this file, not the wall clock\"",
                voc_log_q(path));
    }
    int64_t ms;
    if (read_override(path, &ms) == 0) {
        last_good_ms = ms;
        complained = false;
        return ms;
    }
    /* Once per bad spell, not once per call. */
    if (!complained) {
        complained = true;
        voc_log(VOC_LOG_ERROR, "clock_file_unreadable", "file=%s keeping_ms=%lld", voc_log_q(path),
                (long long)last_good_ms);
    }
    return last_good_ms >= 0 ? last_good_ms : wall_ms();
}
