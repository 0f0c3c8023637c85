/* Delivery rounds: from voc.notice to the targets' webhooks.
 *
 * A group is (target, department). It is due once its earliest pending
 * notice's next_attempt_at has come: group_wait_ms after the first one
 * arrived, or the backoff after a failed attempt. Then ONE request carries
 * every pending notice of the group that is not waiting out a backoff of
 * its own (the due ones and those that never failed), oldest first, as many
 * as the format's size limit allows (MAX_GROUP at most). Claimed notices that
 * did not fit go in the next round's request; a backlog beyond MAX_GROUP is
 * sent as each one's own group_wait ends.
 *
 * One transaction per request: the rows are locked (FOR UPDATE SKIP LOCKED,
 * under a per-group advisory lock so that two instances do not split a
 * group), the request is made while they are locked, and the attempt
 * (voc.delivery) and the notices' new state are written and committed
 * before the locks go. So no other round or instance can send a notice
 * while an attempt at it is in flight, and a 2xx is recorded before anything
 * could send it again.
 *
 * The remaining at-least-once window: if voc-notify dies, or Postgres fails,
 * after the service answered 2xx and before the COMMIT lands, the notices
 * stay pending and are sent again when the lock is released. Nothing else
 * could close it without a receiver that takes part in our transaction;
 * instead each request carries X-Voc-Delivery, a hash of its notices' event
 * ids (the same for a resend of the same notices), and the generic JSON
 * body carries each event_id, so a receiver can drop the duplicate.
 *
 * A failed attempt sets each notice's next_attempt_at to now +
 * backoff_initial_ms * 2^(attempts - 1), capped at backoff_max_ms. A notice
 * that has had max_attempts is dead-lettered (voc.deadletter, reason
 * included, original = the stored payload) and marked dead, in a sweep at
 * the start of each round; the dead letters are acknowledged by the broker
 * before the notices are marked. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "voc/deadletter.h"
#include "voc/log.h"

#define MAX_GROUP         50  /* notices per request at most */
#define SWEEP_LIMIT       100 /* notices dead-lettered per round at most */
#define DL_ACK_TIMEOUT_MS 30000

/* One request's worth of claimed notices. */
struct claim {
    PGresult *rows; /* id, event_id, payload, attempts */
    json_t **payloads;
    struct voc_notify_msg *msgs;
    size_t n;
};

struct attempt {
    int number;
    char key[17];
    long status; /* 0 = no reply */
    bool ok;
    long long duration_ms;
    char error[512];
};

/* Runs a statement; -1 with *fault and err when it did not return want. */
static int run(PGconn *conn, PGresult **out, const char *sql, int n, const char *const *params,
               ExecStatusType want, enum voc_db_fault *fault, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == want) {
        if (out)
            *out = res;
        else
            PQclear(res);
        return 0;
    }
    *fault = voc_db_fault_of(conn, res);
    if (*fault == VOC_DB_OK)
        *fault = VOC_DB_FATAL;
    voc_db_describe(conn, res, err, errlen);
    PQclear(res);
    return -1;
}

/* "{1,2,3}" from column col of rows [from, to): one bigint[] parameter. */
static char *id_array(const PGresult *rows, int col, size_t from, size_t to)
{
    size_t cap = 3;
    for (size_t i = from; i < to; i++)
        cap += (size_t)PQgetlength(rows, (int)i, col) + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t len = 0;
    s[len++] = '{';
    for (size_t i = from; i < to; i++) {
        if (i > from)
            s[len++] = ',';
        size_t l = (size_t)PQgetlength(rows, (int)i, col);
        memcpy(s + len, PQgetvalue(rows, (int)i, col), l);
        len += l;
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

static const char *opt_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void fill_msg(json_t *o, const char *event_id, struct voc_notify_msg *m)
{
    m->event_id = event_id;
    m->n.kind = opt_str(o, "kind") ? opt_str(o, "kind") : opt_str(o, "type");
    m->n.department = opt_str(o, "department");
    m->n.recipient = opt_str(o, "recipient");
    m->n.level = (int)json_integer_value(json_object_get(o, "level"));
    m->n.subject = opt_str(o, "subject");
    m->n.subject_id = (long long)json_integer_value(json_object_get(o, "subject_id"));
    m->n.title = opt_str(o, "title");
    m->n.severity = opt_str(o, "severity");
    m->n.due_at = opt_str(o, "due_at");
    m->n.text = opt_str(o, "text");
}

static void claim_free(struct claim *c)
{
    for (size_t i = 0; c->payloads && i < c->n; i++)
        json_decref(c->payloads[i]);
    free(c->payloads);
    free(c->msgs);
    PQclear(c->rows);
    memset(c, 0, sizeof *c);
}

/* Locks the group's sendable notices. Returns how many (0: none, or
 * another instance holds the group), -1 with *fault. */
static int claim(struct notifier *nt, const char *target, const char *department, struct claim *c,
                 enum voc_db_fault *fault, char *err, size_t errlen)
{
    char max[16], lim[16];
    PGresult *lock = NULL;
    snprintf(max, sizeof max, "%lld", nt->cfg->notify.max_attempts);
    snprintf(lim, sizeof lim, "%d", MAX_GROUP);
    const char *key[] = {target, department};
    if (run(nt->conn, &lock,
            "SELECT pg_try_advisory_xact_lock(hashtext('voc-notify'),"
            " hashtext($1 || '/' || $2))",
            2, key, PGRES_TUPLES_OK, fault, err, errlen) != 0)
        return -1;
    bool mine = strcmp(PQgetvalue(lock, 0, 0), "t") == 0;
    PQclear(lock);
    if (!mine)
        return 0;
    const char *params[] = {target, department, max, lim};
    if (run(nt->conn, &c->rows,
            "SELECT id, event_id, payload::text, attempts FROM voc.notice"
            " WHERE state = 'pending' AND target = $1 AND department = $2 AND attempts < $3::int"
            " AND (next_attempt_at <= now() OR attempts = 0)"
            " ORDER BY id LIMIT $4::int FOR UPDATE SKIP LOCKED",
            4, params, PGRES_TUPLES_OK, fault, err, errlen) != 0)
        return -1;
    c->n = (size_t)PQntuples(c->rows);
    c->payloads = calloc(c->n ? c->n : 1, sizeof(json_t *));
    c->msgs = calloc(c->n ? c->n : 1, sizeof *c->msgs);
    if (!c->payloads || !c->msgs) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        c->payloads[i] = json_loads(PQgetvalue(c->rows, (int)i, 2), 0, NULL);
        fill_msg(c->payloads[i], PQgetvalue(c->rows, (int)i, 1), &c->msgs[i]);
    }
    return (int)c->n;
}

/* FNV-1a (64 bit) over the event ids: the same notices, the same key. */
static void delivery_key(const struct voc_notify_msg *ms, size_t n, char out[17])
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = ms[i].event_id; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
        h = (h ^ '\n') * 0x100000001b3ULL;
    }
    snprintf(out, 17, "%016llx", h);
}

/* Makes the request (when the target can be reached at all) and judges it. */
static void send_body(struct notifier *nt, const char *target, const char *body, struct attempt *a)
{
    char h_key[64], h_attempt[48];
    const struct voc_notify_target *t = voc_notify_target_find(&nt->targets, target);
    size_t i = t ? (size_t)(t - nt->targets.v) : 0;
    if (!t) { /* stored before notify.yaml lost it */
        snprintf(a->error, sizeof a->error, "target '%s' is not defined in notify.yaml", target);
        return;
    }
    if (!nt->urls[i]) {
        snprintf(a->error, sizeof a->error, "%s", nt->url_errors[i]);
        return;
    }
    snprintf(h_key, sizeof h_key, "X-Voc-Delivery: %s", a->key);
    snprintf(h_attempt, sizeof h_attempt, "X-Voc-Attempt: %d", a->number);
    const char *headers[] = {h_key, h_attempt, NULL};
    struct http_reply r;
    int rc = http_post(nt->urls[i], body, headers, (long)nt->cfg->notify.timeout_ms, &r);
    a->duration_ms = r.duration_ms;
    a->status = r.status;
    if (rc != 0)
        snprintf(a->error, sizeof a->error, "%s", r.error);
    else
        a->ok = voc_notify_check_reply(t->format, r.status, r.body, a->error, sizeof a->error) == 0;
    http_scrub(a->error, sizeof a->error, nt->urls[i]);
}

/* Writes the attempt and the notices' new state (inside the claim's
 * transaction). */
static int record(struct notifier *nt, const char *target, const char *department, const char *ids,
                  const struct attempt *a, enum voc_db_fault *fault, char *err, size_t errlen)
{
    char number[16], ms[32], status[16], initial[32], cap[32];
    snprintf(number, sizeof number, "%d", a->number);
    snprintf(ms, sizeof ms, "%lld", a->duration_ms);
    snprintf(status, sizeof status, "%ld", a->status);
    snprintf(initial, sizeof initial, "%lld", nt->cfg->notify.backoff_initial_ms);
    snprintf(cap, sizeof cap, "%lld", nt->cfg->notify.backoff_max_ms);
    const char *log[] = {target,
                         department,
                         ids,
                         number,
                         a->key,
                         ms,
                         a->status ? status : NULL,
                         a->ok ? NULL : a->error,
                         a->ok ? "ok" : "failed"};
    if (run(nt->conn, NULL,
            "INSERT INTO voc.delivery (target, department, notice_ids, attempt, delivery_key,"
            " duration_ms, http_status, error, outcome)"
            " VALUES ($1, $2, $3::bigint[], $4::int, $5, $6::int, $7::int, $8, $9)",
            9, log, PGRES_COMMAND_OK, fault, err, errlen) != 0)
        return -1;
    if (a->ok) {
        const char *p[] = {ids};
        return run(nt->conn, NULL,
                   "UPDATE voc.notice SET state = 'delivered', attempts = attempts + 1,"
                   " delivered_at = clock_timestamp(), last_error = NULL"
                   " WHERE id = ANY($1::bigint[])",
                   1, p, PGRES_COMMAND_OK, fault, err, errlen);
    }
    const char *p[] = {ids, a->error, initial, cap};
    return run(nt->conn, NULL,
               "UPDATE voc.notice SET attempts = attempts + 1, last_error = $2,"
               " next_attempt_at = clock_timestamp() + least($4::float8,"
               " $3::float8 * power(2, attempts)) * interval '1 millisecond'"
               " WHERE id = ANY($1::bigint[])",
               4, p, PGRES_COMMAND_OK, fault, err, errlen);
}

/* Claimed notices that did not fit the message are sent in the next round,
 * without waiting out their own group_wait. */
static int release_rest(struct notifier *nt, const struct claim *c, size_t used,
                        enum voc_db_fault *fault, char *err, size_t errlen)
{
    if (used >= c->n)
        return 0;
    char *rest = id_array(c->rows, 0, used, c->n);
    if (!rest) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p[] = {rest};
    int rc = run(nt->conn, NULL,
                 "UPDATE voc.notice SET next_attempt_at = least(next_attempt_at, now())"
                 " WHERE id = ANY($1::bigint[]) AND attempts = 0",
                 1, p, PGRES_COMMAND_OK, fault, err, errlen);
    free(rest);
    return rc;
}

static void log_attempt(const char *target, const char *department, size_t n,
                        const struct attempt *a)
{
    if (a->ok)
        voc_log(VOC_LOG_INFO, "delivered",
                "target=%s department=%s notices=%zu attempt=%d status=%ld duration_ms=%lld "
                "delivery=%s",
                target, department, n, a->number, a->status, a->duration_ms, a->key);
    else
        voc_log(VOC_LOG_WARN, "delivery_failed",
                "target=%s department=%s notices=%zu attempt=%d status=%ld duration_ms=%lld "
                "delivery=%s error=%s",
                target, department, n, a->number, a->status, a->duration_ms, a->key,
                voc_log_q(a->error));
}

/* Builds, sends and records one request for the claimed notices. */
static int deliver_claim(struct notifier *nt, const char *target, const char *department,
                         struct claim *c, enum voc_db_fault *fault, char *err, size_t errlen)
{
    const struct voc_notify_target *t = voc_notify_target_find(&nt->targets, target);
    struct attempt a = {.number = 1};
    size_t used = 0;
    char *body =
        voc_notify_body(t ? t->format : VOC_NOTIFY_JSON, target, department, c->msgs, c->n, &used);
    char *ids = body ? id_array(c->rows, 0, 0, used) : NULL;
    int rc = -1;
    if (!ids) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < used; i++) {
        int before = atoi(PQgetvalue(c->rows, (int)i, 3));
        if (before + 1 > a.number)
            a.number = before + 1;
    }
    delivery_key(c->msgs, used, a.key);
    send_body(nt, target, body, &a);
    if (record(nt, target, department, ids, &a, fault, err, errlen) != 0 ||
        release_rest(nt, c, used, fault, err, errlen) != 0 ||
        voc_db_exec(nt->conn, "COMMIT", fault, err, errlen) != 0) {
        if (a.ok)
            voc_log(VOC_LOG_WARN, "delivered_unrecorded",
                    "target=%s notices=%zu delivery=%s note=\"accepted but not recorded: they will "
                    "be sent again with the same X-Voc-Delivery\"",
                    target, used, a.key);
        goto done;
    }
    log_attempt(target, department, used, &a);
    if (a.ok)
        nt->delivered += used;
    else
        nt->failed_attempts++;
    rc = 0;
done:
    free(ids);
    free(body);
    return rc;
}

/* One group: returns 1 when a request was made, 0 when there was nothing to
 * send, -1 with *fault. */
static int send_group(struct notifier *nt, const char *target, const char *department,
                      enum voc_db_fault *fault, char *err, size_t errlen)
{
    struct claim c = {0};
    if (voc_db_exec(nt->conn, "BEGIN", fault, err, errlen) != 0)
        return -1;
    int n = claim(nt, target, department, &c, fault, err, errlen);
    int rc = n;
    if (n > 0)
        rc = deliver_claim(nt, target, department, &c, fault, err, errlen) == 0 ? 1 : -1;
    else if (n == 0)
        rc = voc_db_exec(nt->conn, "COMMIT", fault, err, errlen);
    claim_free(&c);
    return rc;
}

/* Produces the dead letters of the selected rows and waits for the broker. */
static int produce_dead(struct notifier *nt, const PGresult *rows, char *err, size_t errlen)
{
    struct voc_produce_tracker t = {0};
    char reason[768];
    int rc = 0;
    for (int i = 0; i < PQntuples(rows) && rc == 0; i++) {
        const char *department = PQgetvalue(rows, i, 2), *payload = PQgetvalue(rows, i, 1);
        snprintf(reason, sizeof reason,
                 "voc-notify: delivery to target '%s' failed %s times; last error: %s",
                 PQgetvalue(rows, i, 3), PQgetvalue(rows, i, 4), PQgetvalue(rows, i, 5));
        struct voc_deadletter_src src = {.service = "voc-notify",
                                         .topic = PQgetvalue(rows, i, 6),
                                         .partition = atoi(PQgetvalue(rows, i, 7)),
                                         .offset = atoll(PQgetvalue(rows, i, 8)),
                                         .key = department,
                                         .keylen = strlen(department),
                                         .value = payload,
                                         .len = strlen(payload)};
        char *rec = voc_deadletter_record(&src, reason);
        rc = rec ? voc_kafka_produce(nt->producer, &t, nt->cfg->topics.deadletter, department,
                                     strlen(department), rec, strlen(rec))
                 : -1;
        free(rec);
        voc_log(VOC_LOG_WARN, "notice_deadlettered", "target=%s department=%s notice=%s reason=%s",
                PQgetvalue(rows, i, 3), department, PQgetvalue(rows, i, 0), voc_log_q(reason));
    }
    if (voc_kafka_wait(nt->producer, &t, DL_ACK_TIMEOUT_MS) != 0 || rc != 0) {
        snprintf(err, errlen, "dead letters not acknowledged: %s", t.first_error);
        return -1;
    }
    return 0;
}

/* Dead-letters and marks dead the notices that had their last attempt. */
static int sweep_dead(struct notifier *nt, enum voc_db_fault *fault, char *err, size_t errlen)
{
    char max[16], lim[16];
    PGresult *rows = NULL;
    char *ids = NULL;
    snprintf(max, sizeof max, "%lld", nt->cfg->notify.max_attempts);
    snprintf(lim, sizeof lim, "%d", SWEEP_LIMIT);
    const char *params[] = {max, lim};
    if (voc_db_exec(nt->conn, "BEGIN", fault, err, errlen) != 0 ||
        run(nt->conn, &rows,
            "SELECT id, payload::text, department, target, attempts, coalesce(last_error, ''),"
            " src_topic, src_partition, src_offset FROM voc.notice"
            " WHERE state = 'pending' AND attempts >= $1::int"
            " ORDER BY id LIMIT $2::int FOR UPDATE SKIP LOCKED",
            2, params, PGRES_TUPLES_OK, fault, err, errlen) != 0)
        goto fail;
    int n = PQntuples(rows);
    if (n > 0) {
        if (produce_dead(nt, rows, err, errlen) != 0) {
            *fault = VOC_DB_RETRY;
            goto fail;
        }
        if (!(ids = id_array(rows, 0, 0, (size_t)n))) {
            *fault = VOC_DB_RETRY;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        const char *p[] = {ids};
        if (run(nt->conn, NULL,
                "UPDATE voc.notice SET state = 'dead', dead_at = clock_timestamp()"
                " WHERE id = ANY($1::bigint[])",
                1, p, PGRES_COMMAND_OK, fault, err, errlen) != 0)
            goto fail;
    }
    if (voc_db_exec(nt->conn, "COMMIT", fault, err, errlen) != 0)
        goto fail;
    nt->dead += (unsigned long long)n;
    free(ids);
    PQclear(rows);
    return 0;
fail:
    free(ids);
    PQclear(rows);
    return -1;
}

int deliver_round(struct notifier *nt, int max_groups)
{
    char err[512] = "", max[16], lim[16];
    enum voc_db_fault fault = VOC_DB_RECONNECT;
    PGresult *groups = NULL;
    int sent = 0;
    snprintf(max, sizeof max, "%lld", nt->cfg->notify.max_attempts);
    snprintf(lim, sizeof lim, "%d", max_groups);
    const char *params[] = {max, lim};
    if (notifier_connect(nt, err, sizeof err) != 0 || sweep_dead(nt, &fault, err, sizeof err) != 0)
        goto fail;
    if (run(nt->conn, &groups,
            "SELECT target, department FROM voc.notice"
            " WHERE state = 'pending' AND attempts < $1::int GROUP BY target, department"
            " HAVING min(next_attempt_at) <= now() ORDER BY min(next_attempt_at) LIMIT $2::int",
            2, params, PGRES_TUPLES_OK, &fault, err, sizeof err) != 0)
        goto fail;
    for (int i = 0; i < PQntuples(groups); i++) {
        int rc = send_group(nt, PQgetvalue(groups, i, 0), PQgetvalue(groups, i, 1), &fault, err,
                            sizeof err);
        if (rc < 0)
            goto fail;
        sent += rc;
    }
    PQclear(groups);
    return sent;
fail:
    PQclear(groups);
    voc_log(fault == VOC_DB_FATAL ? VOC_LOG_ERROR : VOC_LOG_WARN, "delivery_round_failed",
            "fault=%d error=%s", (int)fault, voc_log_q(err));
    notifier_db_failed(nt, fault);
    return -1;
}
