/* A loopback HTTP receiver for integration tests (see harness_http.h).
 * libmicrohttpd answers on one internal thread; every record and script is
 * guarded by one mutex. */
#include "harness_http.h"

#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SCRIPTS 32
#define MAX_BODY    ((size_t)4 << 20)

struct script {
    char path[256];
    int fail_left; /* -1 = always */
    int fail_status;
    char *ok_body;
};

struct h_http {
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t mu;
    struct h_http_request *reqs;
    size_t nreqs, cap;
    struct script scripts[MAX_SCRIPTS];
    size_t nscripts;
};

/* One request in progress: its headers and the body as it arrives. */
struct pending {
    struct h_http_request r;
    size_t body_cap;
    bool too_big;
};

static void path_of(const char *url, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)strcspn(url, "?"), url);
}

static enum MHD_Result take_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct h_http_request *r = cls;
    if (r->nheaders < H_HTTP_MAX_HEADERS) {
        r->names[r->nheaders] = strdup(key);
        r->values[r->nheaders] = strdup(value ? value : "");
        r->nheaders++;
    }
    return MHD_YES;
}

static void append_body(struct pending *p, const char *data, size_t n)
{
    if (p->too_big || p->r.body_len + n > MAX_BODY) {
        p->too_big = true;
        return;
    }
    if (p->r.body_len + n + 1 > p->body_cap) {
        size_t cap = p->body_cap ? p->body_cap * 2 : 4096;
        while (cap < p->r.body_len + n + 1)
            cap *= 2;
        char *b = realloc(p->r.body, cap);
        if (!b) {
            p->too_big = true;
            return;
        }
        p->r.body = b;
        p->body_cap = cap;
    }
    memcpy(p->r.body + p->r.body_len, data, n);
    p->r.body_len += n;
    p->r.body[p->r.body_len] = '\0';
}

/* Decides the answer for path (under the lock); *body is borrowed. */
static int decide(struct h_http *s, const char *path, const char **body)
{
    *body = H_HTTP_OK_BODY;
    for (size_t i = 0; i < s->nscripts; i++) {
        struct script *sc = &s->scripts[i];
        if (strcmp(sc->path, path) != 0)
            continue;
        if (sc->fail_left != 0) {
            if (sc->fail_left > 0)
                sc->fail_left--;
            *body = "{\"error\":\"scripted failure\",\"errcode\":-1,\"code\":-1}";
            return sc->fail_status;
        }
        if (sc->ok_body)
            *body = sc->ok_body;
        return 200;
    }
    return 200;
}

/* Moves the finished request into the records; returns the status. */
static int finish(struct h_http *s, struct pending *p, char **reply)
{
    const char *body;
    pthread_mutex_lock(&s->mu);
    int status = p->too_big ? 413 : decide(s, p->r.path, &body);
    *reply = strdup(p->too_big ? "too big" : body);
    p->r.status = status;
    if (!p->r.body)
        p->r.body = strdup("");
    if (s->nreqs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct h_http_request *v = realloc(s->reqs, cap * sizeof *v);
        if (v) {
            s->reqs = v;
            s->cap = cap;
        }
    }
    if (s->nreqs < s->cap) {
        s->reqs[s->nreqs++] = p->r;
        memset(&p->r, 0, sizeof p->r);
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct h_http *s = cls;
    struct pending *p = *con_cls;
    if (!p) { /* headers are in: the body (if any) follows in later calls */
        if (!(p = calloc(1, sizeof *p)))
            return MHD_NO;
        snprintf(p->r.method, sizeof p->r.method, "%s", method);
        path_of(url, p->r.path, sizeof p->r.path);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, take_header, &p->r);
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append_body(p, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    char *reply = NULL;
    int status = finish(s, p, &reply);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        reply ? strlen(reply) : 0, reply ? reply : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(reply);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

void h_http_request_clear(struct h_http_request *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof *r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    struct pending *p = *con_cls;
    if (p) {
        h_http_request_clear(&p->r);
        free(p);
        *con_cls = NULL;
    }
}

struct h_http *h_http_start(void)
{
    struct h_http *s = calloc(1, sizeof *s);
    ck_assert_msg(s != NULL, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    ck_assert_msg(s->daemon != NULL, "libmicrohttpd could not listen on 127.0.0.1");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_msg(info && info->port, "libmicrohttpd did not tell its port");
    s->port = info->port;
    return s;
}

void h_http_stop(struct h_http *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    for (size_t i = 0; i < s->nreqs; i++)
        h_http_request_clear(&s->reqs[i]);
    for (size_t i = 0; i < s->nscripts; i++)
        free(s->scripts[i].ok_body);
    free(s->reqs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int h_http_port(const struct h_http *s)
{
    return s->port;
}

const char *h_http_url(const struct h_http *s, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%d%s", s->port, path);
    return buf;
}

void h_http_script(struct h_http *s, const char *path, int fail_first, int fail_status,
                   const char *ok_body)
{
    pthread_mutex_lock(&s->mu);
    struct script *sc = NULL;
    for (size_t i = 0; i < s->nscripts && !sc; i++)
        if (strcmp(s->scripts[i].path, path) == 0)
            sc = &s->scripts[i];
    if (!sc && s->nscripts < MAX_SCRIPTS)
        sc = &s->scripts[s->nscripts++];
    if (sc) {
        snprintf(sc->path, sizeof sc->path, "%s", path);
        sc->fail_left = fail_first;
        sc->fail_status = fail_status;
        free(sc->ok_body);
        sc->ok_body = ok_body ? strdup(ok_body) : NULL;
    }
    pthread_mutex_unlock(&s->mu);
    ck_assert_msg(sc != NULL, "more than %d scripted paths", MAX_SCRIPTS);
}

static bool matches(const struct h_http_request *r, const char *path, int status)
{
    return (!path || strcmp(r->path, path) == 0) && (status < 0 || r->status == status);
}

size_t h_http_count_status(struct h_http *s, const char *path, int status)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreqs; i++)
        n += matches(&s->reqs[i], path, status);
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t h_http_count(struct h_http *s, const char *path)
{
    return h_http_count_status(s, path, -1);
}

size_t h_http_wait(struct h_http *s, const char *path, size_t n, int timeout_ms)
{
    size_t have = h_http_count(s, path);
    for (int waited = 0; have < n && waited < timeout_ms; waited += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        have = h_http_count(s, path);
    }
    return have;
}

static char *dup_or_die(const char *v, size_t len)
{
    char *c = malloc(len + 1);
    ck_assert_msg(c != NULL, "out of memory");
    memcpy(c, v, len);
    c[len] = '\0';
    return c;
}

bool h_http_get(struct h_http *s, const char *path, size_t i, struct h_http_request *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    const struct h_http_request *r = NULL;
    for (size_t k = 0, seen = 0; k < s->nreqs && !r; k++)
        if (matches(&s->reqs[k], path, -1) && seen++ == i)
            r = &s->reqs[k];
    if (r) {
        *out = *r;
        out->body = dup_or_die(r->body, r->body_len);
        for (size_t h = 0; h < r->nheaders; h++) {
            out->names[h] = dup_or_die(r->names[h], strlen(r->names[h]));
            out->values[h] = dup_or_die(r->values[h], strlen(r->values[h]));
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r != NULL;
}

const char *h_http_header(const struct h_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->names[i] && strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}
