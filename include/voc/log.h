/* One line per event on stderr: ts=... level=... svc=... event=... key=value ...
 *
 * Callers pass printf-style key=value pairs; values that may hold spaces or
 * quotes (reasons, errors from libraries) go through %s with voc_log_q(), which
 * quotes and escapes them. The logger replaces any newline left in the line so
 * that one event is always one line. Never log a secret or raw customer text. */
#ifndef VOC_LOG_H
#define VOC_LOG_H

enum voc_log_level { VOC_LOG_DEBUG, VOC_LOG_INFO, VOC_LOG_WARN, VOC_LOG_ERROR };

/* Sets the service name printed as svc= and the lowest level printed. */
void voc_log_init(const char *service, enum voc_log_level min_level);

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int voc_log_level_parse(const char *name);

void voc_log(enum voc_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns s quoted for a log value ("..." with \" \\ \n escaped, cut at 200 bytes)
 * in one of a few rotating per-thread buffers: valid until the fourth next call
 * on the same thread. */
const char *voc_log_q(const char *s);

#define voc_debug(ev, ...) voc_log(VOC_LOG_DEBUG, ev, __VA_ARGS__)
#define voc_info(ev, ...)  voc_log(VOC_LOG_INFO, ev, __VA_ARGS__)
#define voc_warn(ev, ...)  voc_log(VOC_LOG_WARN, ev, __VA_ARGS__)
#define voc_error(ev, ...) voc_log(VOC_LOG_ERROR, ev, __VA_ARGS__)

#endif
