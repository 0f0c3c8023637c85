/* A customer case for every complaint and every rating at or below
 * track.low_rating_max, from the classified events voc-ingest forwards
 * (voc.classified: the masked event with its "type", "customer" {id, tier},
 * "channel", "rating" {score}, "occurred_at", "event_id").
 *
 * The case promises a first reply by reply_due_at: the customer's tier and
 * channel choose the policy (sla.yaml cases:), counted in business time of
 * its calendar from when the customer spoke (occurred_at). The scan
 * (caseclock.c) derives the same deadline again from opened_at, so a
 * changed sla.yaml moves the escalations of cases already open; the stored
 * reply_due_at stays what was promised at the time.
 *
 * Events that are not JSON or lack their fields are voc-aggregate's to
 * dead-letter (it reads voc.classified too): here they are skipped. An
 * event Postgres refuses (e.g. its feedback row is missing: SQLSTATE 23503)
 * is rolled back alone and dead-lettered. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "track.h"
#include "voc/case.h"
#include "voc/deadletter.h"
#include "voc/log.h"
#include "voc/timeutil.h"

struct case_ev {
    json_t *root;
    struct voc_case_new c;
    char due[40];
};

static const char *str_at(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

/* Whether m opens a case; fills e (the caller frees e->root). */
static bool wants_case(struct track *t, const rd_kafka_message_t *m, struct case_ev *e)
{
    memset(e, 0, sizeof *e);
    e->root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, NULL);
    json_t *r = e->root;
    const char *type = str_at(r, "type", NULL);
    if (!type)
        return false;
    if (strcmp(type, "rating") == 0) {
        json_t *score = json_object_get(json_object_get(r, "rating"), "score");
        if (!json_is_number(score) ||
            json_number_value(score) > (double)t->cfg->track.low_rating_max)
            return false;
    } else if (strcmp(type, "complaint") != 0) {
        return false;
    }
    int64_t at;
    e->c = (struct voc_case_new){
        .event_id = str_at(r, "event_id", NULL),
        .kind = type,
        .customer_id = str_at(r, "customer", "id"),
        .tier = str_at(r, "customer", "tier"),
        .channel = str_at(r, "channel", NULL),
        .opened_at = str_at(r, "occurred_at", NULL),
        .reply_due_at = e->due,
        .actor = "voc-track",
    };
    if (!e->c.event_id || !e->c.opened_at || voc_time_parse_ms(e->c.opened_at, &at) < 0)
        return false;
    const struct voc_sla_case_policy *p = voc_sla_case(t->sla, e->c.tier, e->c.channel);
    int64_t due =
        p->reply.budget_ms > 0 ? voc_sla_add(p->calendar, at, p->reply.budget_ms, NULL, 0) : at;
    voc_sla_format_ms(due == INT64_MAX ? at : due, e->due, sizeof e->due);
    return true;
}

/* Opens e's case under a savepoint. 0 opened (or existed), 1 refused by
 * Postgres (rolled back, reason filled), -1 error. */
static int open_one(struct track *t, struct case_ev *e, char *reason, size_t len,
                    enum voc_db_fault *fault, char *err, size_t errlen)
{
    long long id;
    bool created;
    if (track_exec(t, "SAVEPOINT track_case", fault, err, errlen) < 0)
        return -1;
    if (voc_case_open(t->conn, &e->c, &id, &created, fault, err, errlen) == 0) {
        if (created) {
            t->cases_opened++;
            voc_log(VOC_LOG_INFO, "case_opened", "case=%lld event_id=%s reply_due=%s", id,
                    voc_log_q(e->c.event_id), e->due);
        }
        return track_exec(t, "RELEASE SAVEPOINT track_case", fault, err, errlen);
    }
    if (*fault != VOC_DB_BAD_ROW)
        return -1;
    snprintf(reason, len, "postgres refused the case: %s", err);
    *fault = VOC_DB_OK;
    return track_exec(t, "ROLLBACK TO SAVEPOINT track_case", fault, err, errlen) < 0 ? -1 : 1;
}

/* One case-opening event: the batch's transaction begins with the first. */
static int handle(struct track *t, const rd_kafka_message_t *m, struct case_ev *e, bool *begun,
                  struct voc_produce_tracker *tr, enum voc_db_fault *fault, char *err,
                  size_t errlen)
{
    char reason[600];
    if (!*begun) {
        if (track_connect(t) < 0) {
            *fault = VOC_DB_RECONNECT;
            snprintf(err, errlen, "no database connection");
            return -1;
        }
        if (track_exec(t, "BEGIN", fault, err, errlen) < 0)
            return -1;
        *begun = true;
    }
    int one = open_one(t, e, reason, sizeof reason, fault, err, errlen);
    if (one <= 0)
        return one;
    t->deadlettered++;
    return voc_deadletter_produce(t->producer, tr, t->cfg->topics.deadletter, "voc-track", m,
                                  reason) == 0
               ? 0
               : -1;
}

int track_cases(struct track *t, rd_kafka_message_t **msgs, size_t n,
                struct voc_produce_tracker *tr)
{
    char err[512] = "";
    enum voc_db_fault fault = VOC_DB_OK;
    bool begun = false;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(rd_kafka_topic_name(msgs[i]->rkt), t->cfg->topics.classified) != 0)
            continue;
        struct case_ev e;
        if (wants_case(t, msgs[i], &e))
            rc = handle(t, msgs[i], &e, &begun, tr, &fault, err, sizeof err);
        json_decref(e.root);
    }
    if (rc == 0 && begun && track_exec(t, "COMMIT", &fault, err, sizeof err) < 0)
        rc = -1;
    if (rc < 0)
        track_db_failed(t, "cases", fault, err);
    return rc;
}
