/* Customer cases: one complaint (or low rating), one handling. A case is
 * opened for every complaint and every rating at or below track.low_rating_max,
 * promises a first reply by a time its tier and channel decide (sla.yaml),
 * and records the reply and the callback ("there is no dissatisfaction
 * without a cause": the reason, whether it was resolved, satisfaction
 * after). Follow-up tasks tell a customer that what they reported was fixed
 * (created when an item their complaint joined is resolved) or keep a
 * progress promise. Every change is one transaction with its voc.case_event
 * audit row. Shared by voc-track (opening, deadlines) and vocctl case. */
#ifndef VOC_CASE_H
#define VOC_CASE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "voc/db.h"

/* A case to open, from one accepted feedback event. */
struct voc_case_new {
    const char *event_id;     /* voc.feedback.event_id: one case per event */
    const char *kind;         /* "complaint" or "rating" */
    const char *customer_id;  /* may be NULL (anonymous) */
    const char *tier;         /* standard|vip|svip, NULL = standard */
    const char *channel;      /* may be NULL */
    const char *opened_at;    /* RFC 3339: when the customer spoke (the event's time) */
    const char *reply_due_at; /* RFC 3339: the promised first reply, from sla.yaml */
};

/* Opens the case inside the caller's transaction unless one exists for the
 * event (a redelivery): *case_id receives the id either way, *created whether
 * it is new. Writes the "opened" audit row. Returns 0 or -1 (err, *fault). */
int voc_case_open(PGconn *conn, const struct voc_case_new *c, long long *case_id, bool *created,
                  enum voc_db_fault *fault, char *err, size_t errlen);

/* Called inside the transaction that moves item_id to resolved
 * (common/item.c): one follow-up task, kind "followup", on the open or
 * replied case of every customer whose complaint joined the item (through
 * voc.feedback.item_id), at most one per case and resolution (resolution_id:
 * the audit row of that transition). *created receives how many. */
int voc_case_followups_for_item(PGconn *conn, long long item_id, long long resolution_id,
                                int *created, enum voc_db_fault *fault, char *err, size_t errlen);

/* Results as in voc/item.h: DONE, REFUSED (nothing written, err says why in
 * words a support agent understands), ERROR (database; roll back). */
enum { VOC_CASE_DONE = 0, VOC_CASE_REFUSED = 1, VOC_CASE_ERROR = -1 };

/* One command on one case, the same for every door. */
struct voc_case_cmd {
    const char *verb; /* reply, callback, promise, task-done, close, comment */
    long long case_id;
    long long task_id;   /* task-done */
    const char *actor;   /* required */
    const char *note;    /* reply text summary, comment, or the promise */
    const char *outcome; /* callback: resolved|unresolved|no_answer|declined */
    const char *reason;  /* callback: the cause the customer gave */
    int satisfaction;    /* callback: 1..5, 0 = not asked */
    const char *due_at;  /* promise: RFC 3339 time the update is promised by */
};

/* Runs cmd in a transaction of its own. */
int voc_case_run(PGconn *conn, const struct voc_case_cmd *cmd, enum voc_db_fault *fault, char *err,
                 size_t errlen);

#endif
