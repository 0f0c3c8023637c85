/* A real HTTP receiver on loopback for integration tests (libmicrohttpd):
 * stands in for a chat service's webhook so that a test can point a
 * VOC_WEBHOOK_* variable at it and see exactly what a binary sent.
 *
 *   struct h_http *rx = h_http_start();
 *   char url[128];
 *   setenv("VOC_WEBHOOK_WECOM_TEACHING", h_http_url(rx, "/wecom", url, sizeof url), 1);
 *   h_http_script(rx, "/wecom", 2, 500, NULL);   // 500, 500, then 200
 *   ... start the binary, produce ...
 *   ck_assert_int_eq(h_http_wait(rx, "/wecom", 3, 30000), 3);
 *   struct h_http_request r;
 *   h_http_get(rx, "/wecom", 2, &r);              // the third request
 *   ... r.status == 200, r.body, h_http_header(&r, "X-Voc-Delivery") ...
 *   h_http_request_clear(&r);
 *   h_http_stop(rx);
 *
 * Every request is recorded (method, path without the query, headers,
 * body, and the status it was answered with), in arrival order, under a
 * mutex: the server answers on its own thread while the test reads. Paths
 * are matched exactly, query strings ignored. Failures of the environment
 * abort the running Check test. */
#ifndef VOC_HARNESS_HTTP_H
#define VOC_HARNESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* What a path answers after its scripted failures, unless told otherwise:
 * accepted by every chat format's check (WeCom/DingTalk errcode 0, Feishu
 * code 0; Slack and generic JSON only look at the status). */
#define H_HTTP_OK_BODY "{\"errcode\":0,\"errmsg\":\"ok\",\"code\":0,\"msg\":\"success\"}"

#define H_HTTP_MAX_HEADERS 32

struct h_http; /* opaque */

struct h_http_request {
    char method[16];
    char path[256];
    int status; /* what the receiver answered */
    size_t nheaders;
    char *names[H_HTTP_MAX_HEADERS], *values[H_HTTP_MAX_HEADERS];
    char *body; /* NUL-terminated (binary bodies: see body_len) */
    size_t body_len;
};

/* Starts listening on 127.0.0.1 on an ephemeral port. */
struct h_http *h_http_start(void);
/* Stops the server and frees every record. NULL is fine. */
void h_http_stop(struct h_http *s);

int h_http_port(const struct h_http *s);
/* "http://127.0.0.1:<port><path>" in buf; returns buf. */
const char *h_http_url(const struct h_http *s, const char *path, char *buf, size_t len);

/* How path answers from now on: its next fail_first requests (counting from
 * this call; -1 = every request) get fail_status with a short error body,
 * then 200 with ok_body (NULL: H_HTTP_OK_BODY). Paths never scripted answer
 * 200 with H_HTTP_OK_BODY. */
void h_http_script(struct h_http *s, const char *path, int fail_first, int fail_status,
                   const char *ok_body);

/* Requests recorded for path (NULL: all paths). */
size_t h_http_count(struct h_http *s, const char *path);
/* Requests to path answered with status (e.g. 200): "delivered" ones. */
size_t h_http_count_status(struct h_http *s, const char *path, int status);
/* Polls until at least n requests to path (NULL: any) were recorded or
 * timeout_ms passed; returns the count then. */
size_t h_http_wait(struct h_http *s, const char *path, size_t n, int timeout_ms);
/* A copy of the i-th (0-based, arrival order) request to path (NULL: any);
 * false when there is none. Free it with h_http_request_clear. */
bool h_http_get(struct h_http *s, const char *path, size_t i, struct h_http_request *out);
void h_http_request_clear(struct h_http_request *r);
/* A header's value (case-insensitive name), or NULL. */
const char *h_http_header(const struct h_http_request *r, const char *name);

#endif
