/* Improvement items: states, the audit trail, and the commands people run on
 * them. Every change is one transaction with its voc.item_event audit row and
 * its outbox event (topic voc.item). Shared by voc-aggregate, vocctl and, later,
 * voc-track, so every entry point obeys the same rules. */
#ifndef VOC_ITEM_H
#define VOC_ITEM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "voc/db.h"

/* open, acknowledged, in_progress, resolved, verified, closed, snoozed,
 * wont_fix, regressed. "Active" states take new occurrences; the others
 * (resolved, verified, closed, wont_fix) only regressions. */
bool voc_item_state_valid(const char *state);
bool voc_item_state_active(const char *state);
/* Whether a person may move an item from one state to another. */
bool voc_item_transition_allowed(const char *from, const char *to);

/* Appends an audit row inside the caller's transaction. kind is one of
 * opened, recurred, merged, unmerged, routed, reassigned, state_changed,
 * regressed, severity_changed, linked. data_json may be NULL. */
int voc_item_audit(PGconn *conn, long long item_id, const char *kind, const char *actor,
                   const char *reason, const char *data_json, enum voc_db_fault *fault, char *err,
                   size_t errlen);

/* Writes the item's current row as an "item.<what>" event to the outbox
 * (topic voc.item, key = item id) inside the caller's transaction. */
int voc_item_publish(PGconn *conn, long long item_id, const char *what, enum voc_db_fault *fault,
                     char *err, size_t errlen);

/* Recomputes occurrences, customers (distinct known customer ids),
 * vip_occurrences (tier vip or svip), first_seen and last_seen from
 * voc.item_occurrence, inside the caller's transaction. An item left with no
 * occurrences keeps its first/last seen. */
int voc_item_recount(PGconn *conn, long long item_id, enum voc_db_fault *fault, char *err,
                     size_t errlen);

/* The verbs both doors (vocctl item, the voc.command topic) accept, and the
 * state each leads to: ack, start, resolve, verify, close, snooze, wont-fix,
 * reopen, regress. NULL when unknown. */
const char *voc_item_verb_state(const char *verb);
/* The verb that leads to state (the reverse of the above), or NULL. */
const char *voc_item_state_verb(const char *state);

/* Commands return VOC_ITEM_DONE, VOC_ITEM_REFUSED (err says why in words an
 * owner understands, e.g. "item 7 is closed; 'ack' needs open or regressed";
 * nothing was written) or VOC_ITEM_ERROR (database failure: err and *fault). */
enum { VOC_ITEM_DONE = 0, VOC_ITEM_REFUSED = 1, VOC_ITEM_ERROR = -1 };

/* One command on one item (merge: on two). */
struct voc_item_cmd {
    const char *verb;     /* a state verb above, or assign, comment, merge, unmerge */
    long long item_id;    /* merge: the item merged away (FROM) */
    long long into_id;    /* merge: the item that absorbs it (INTO) */
    const char *assignee; /* assign: the person now handling the item */
    const char *until;    /* snooze: a timestamptz, or NULL */
    int more;             /* snooze: wake after this many more occurrences, or 0 */
    const char *actor;    /* who: required */
    const char *note;     /* why: stored as the audit reason; required by comment */
};

/* What a command did, for the caller to report. */
struct voc_item_outcome {
    char from_state[16]; /* the state before (state verbs) */
    long long moved;     /* merge/unmerge: occurrences moved */
};

/* Runs cmd inside the caller's open transaction: locks the row(s), checks,
 * changes them, writes the audit row(s) and outbox event(s). On REFUSED
 * nothing was written; on ERROR the caller must roll back. out may be NULL.
 * For callers that must make more than the command atomic (e.g. recording a
 * voc.command id for idempotency). */
int voc_item_apply(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                   enum voc_db_fault *fault, char *err, size_t errlen);
/* voc_item_apply in a transaction of its own (BEGIN ... COMMIT). */
int voc_item_run(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                 enum voc_db_fault *fault, char *err, size_t errlen);

/* Convenience forms of voc_item_run, one transaction each. set_state sets
 * resolved_at on entering resolved and clears it on entering open or
 * regressed. merge moves FROM's occurrences and feedback to INTO, recounts
 * both, sets FROM.merged_into and an item_link; unmerge moves exactly those
 * events back (recorded in the merge's audit data). */
int voc_item_set_state(PGconn *conn, long long item_id, const char *to_state, const char *actor,
                       const char *note, enum voc_db_fault *fault, char *err, size_t errlen);
int voc_item_assign(PGconn *conn, long long item_id, const char *assignee, const char *actor,
                    const char *note, enum voc_db_fault *fault, char *err, size_t errlen);
int voc_item_comment(PGconn *conn, long long item_id, const char *actor, const char *note,
                     enum voc_db_fault *fault, char *err, size_t errlen);
int voc_item_merge(PGconn *conn, long long from_id, long long into_id, const char *actor,
                   const char *note, enum voc_db_fault *fault, char *err, size_t errlen);
int voc_item_unmerge(PGconn *conn, long long from_id, const char *actor, const char *note,
                     enum voc_db_fault *fault, char *err, size_t errlen);

#endif
