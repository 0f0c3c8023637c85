/* One webhook request with libcurl (easy interface, one handle per request:
 * notifications are few, and a fresh handle carries no state between
 * targets).
 *
 * The URL is a secret. libcurl is told nothing that would print it
 * (no CURLOPT_VERBOSE), redirects are not followed (a redirect would carry
 * the body, and maybe the token, to another host), only http and https are
 * allowed, and any error text that could hold the URL is scrubbed before it
 * reaches a log line or voc.delivery. CURLOPT_NOSIGNAL: the process has
 * signal handlers and librdkafka threads; no SIGALRM for DNS timeouts. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notifier.h"

#define REDACTED "[redacted]"

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keeps the start of the reply body (enough for an error code), drops the rest. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct http_reply *r = ctx;
    size_t n = size * nmemb, have = strlen(r->body), room = sizeof r->body - 1 - have;
    memcpy(r->body + have, data, n < room ? n : room);
    r->body[have + (n < room ? n : room)] = '\0';
    return n;
}

static void replace_all(char *text, size_t size, const char *needle, size_t nlen)
{
    char *at;
    size_t rlen = strlen(REDACTED);
    while (nlen > 0 && (at = strstr(text, needle))) {
        size_t tail = strlen(at + nlen);
        if (rlen > nlen && strlen(text) + rlen - nlen + 1 > size) {
            *at = '\0'; /* no room to replace: cut the text before the secret */
            return;
        }
        memmove(at + rlen, at + nlen, tail + 1);
        memcpy(at, REDACTED, rlen);
    }
}

void http_scrub(char *text, size_t size, const char *url)
{
    if (!url || !*url)
        return;
    replace_all(text, size, url, strlen(url));
    const char *host = strstr(url, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;
    if (!path)
        path = host ? strchr(host + 3, '?') : NULL;
    if (path && strlen(path) > 1)
        replace_all(text, size, path, strlen(path));
}

static struct curl_slist *header_list(const char *const *headers)
{
    struct curl_slist *list =
        curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    /* No "Expect: 100-continue" round trip before the body. */
    list = list ? curl_slist_append(list, "Expect:") : NULL;
    for (size_t i = 0; list && headers && headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

static int configure(CURL *h, const char *url, const char *body, struct curl_slist *hdrs,
                     long timeout_ms, struct http_reply *out, char *errbuf)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_URL, url);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_USERAGENT, "vocloop-notify/" VOC_VERSION);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (!c)
        c = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c)
        snprintf(out->error, sizeof out->error, "curl setup: %s", curl_easy_strerror(c));
    return c ? -1 : 0;
}

int http_post(const char *url, const char *body, const char *const *headers, long timeout_ms,
              struct http_reply *out)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = -1;
    memset(out, 0, sizeof *out);
    long long start = mono_ms();
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = header_list(headers);
    if (!h || !hdrs) {
        snprintf(out->error, sizeof out->error, "out of memory");
        goto done;
    }
    if (configure(h, url, body, hdrs, timeout_ms, out, errbuf) != 0)
        goto done;
    CURLcode c = curl_easy_perform(h);
    if (c != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(c));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    rc = 0;
done:
    out->duration_ms = mono_ms() - start;
    http_scrub(out->error, sizeof out->error, url);
    http_scrub(out->body, sizeof out->body, url);
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}
