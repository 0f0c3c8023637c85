/* Structured logging: key=value lines on stderr. */
#include "voc/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_service = "voc";
static enum voc_log_level log_min = VOC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void voc_log_init(const char *service, enum voc_log_level min_level)
{
    log_service = service;
    log_min = min_level;
}

int voc_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void voc_log(enum voc_log_level level, const char *event, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s event=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], log_service, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* One fputs of the whole line keeps concurrent writers from interleaving. */
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == ' ')
        line[len - 1] = '\0';
    fprintf(stderr, "%s\n", line);
}

const char *voc_log_q(const char *s)
{
    /* Per thread: librdkafka calls our log callback from its own threads. */
    static _Thread_local char bufs[4][256];
    static _Thread_local unsigned next;
    char *out = bufs[next++ % 4];
    size_t o = 0;
    out[o++] = '"';
    for (; s && *s && o < 240; s++) {
        char c = *s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            out[o++] = c;
        }
    }
    if (s && *s) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
