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
    const char *actor;        /* added: who opens it, for the audit row; NULL = "voc-track" */
};

/* Opens the case inside the caller's transaction unless one exists for the
 * event (a redelivery): *case_id receives the id either way, *created whether
 * it is new. Writes the "opened" audit row. Returns 0 or -1 (err, *fault).
 * A tier other than vip or svip (any case) is stored as standard. */
int voc_case_open(PGconn *conn, const struct voc_case_new *c, long long *case_id, bool *created,
                  enum voc_db_fault *fault, char *err, size_t errlen);

/* Called inside the transaction that moves item_id to resolved
 * (common/item.c): one follow-up task, kind "followup", on the open or
 * replied case of every customer whose complaint joined the item (through
 * voc.feedback.item_id), at most one per case and resolution (resolution_id:
 * the audit row of that transition). *created receives how many. */
int voc_case_followups_for_item(PGconn *conn, long long item_id, long long resolution_id,
                                int *created, enum voc_db_fault *fault, char *err, size_t errlen);

/* Added: appends an audit row (voc.case_event) inside the caller's
 * transaction, for what voc-track records itself: kind "reminded" or
 * "escalated" (opened, replied, callback, promised, task_created, task_done,
 * commented and closed are written by the functions here). data_json may be
 * NULL. *event_id (may be NULL) receives the new row's id. Returns 0 or -1
 * (err, *fault). */
int voc_case_audit(PGconn *conn, long long case_id, const char *kind, const char *actor,
                   const char *reason, const char *data_json, long long *event_id,
                   enum voc_db_fault *fault, char *err, size_t errlen);

/* Results as in voc/item.h: DONE, REFUSED (nothing written, err says why in
 * words a support agent understands), ERROR (database; roll back). */
enum { VOC_CASE_DONE = 0, VOC_CASE_REFUSED = 1, VOC_CASE_ERROR = -1 };

/* One command on one case, the same for every door. The rules:
 *   reply      open -> replied (replied_at/by, reply_note = note)
 *   callback   open or replied. Records outcome, reason, satisfaction in the
 *              case's callback_* columns (the latest; every attempt is in the
 *              audit). resolved/unresolved need a reason (the customer
 *              answered: "no dissatisfaction without a cause"); satisfaction
 *              only goes with them. A callback that reached the customer
 *              (anything but no_answer) on an open case is its first reply
 *              too (open -> replied). A resolved outcome closes the case
 *              when no task is open; otherwise it stays replied.
 *   promise    open or replied: a "progress" task due at due_at (future).
 *   task-done  task_id (case_id 0, or the task's case): marks an open task
 *              done; if the case's latest callback said resolved and no task
 *              is left open, the case closes.
 *   close      open or replied, and no task open (tell the customer first).
 *   comment    any state; note required.
 * Refusals name the case, its state and what the verb needs, e.g.
 * "case 12 is closed; 'reply' needs open". */
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

/* True when verb is one of struct voc_case_cmd's verbs: lets a door refuse an
 * unknown one before connecting. */
bool voc_case_verb_known(const char *verb);

/* What a command did, for the caller to report (added). */
struct voc_case_outcome {
    long long case_id;   /* the case acted on (task-done: the task's case) */
    char from_state[16]; /* the case's state before */
    char to_state[16];   /* and after */
    long long task_id;   /* promise: the new task; task-done: the task */
};

/* Runs cmd in a transaction of its own. */
int voc_case_run(PGconn *conn, const struct voc_case_cmd *cmd, enum voc_db_fault *fault, char *err,
                 size_t errlen);
/* Added: voc_case_run that also says what it did (out may be NULL). */
int voc_case_run_out(PGconn *conn, const struct voc_case_cmd *cmd, struct voc_case_outcome *out,
                     enum voc_db_fault *fault, char *err, size_t errlen);
/* Added: cmd inside the caller's open transaction (locks, checks, writes, the
 * audit rows). On REFUSED nothing was written; on ERROR roll back. For a
 * caller that makes more than the command atomic (voc.command idempotency). */
int voc_case_apply(PGconn *conn, const struct voc_case_cmd *cmd, struct voc_case_outcome *out,
                   enum voc_db_fault *fault, char *err, size_t errlen);

#endif
