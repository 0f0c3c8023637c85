/* Notifications for people: what voc-aggregate and voc-track want a
 * department to hear (a new item, a reminder, an escalation, a follow-up).
 * Written to the outbox (topic voc.notification, key = department) inside
 * the caller's transaction, so a notice exists exactly when the change that
 * caused it committed; voc-notify delivers it to the department's target
 * from routing.yaml. */
#ifndef VOC_NOTICE_H
#define VOC_NOTICE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "voc/db.h"

struct voc_notice {
    const char *kind;       /* item.opened, item.regressed, sla.reminder, sla.breach,
                               sla.escalation, case.followup, ... (the event "type") */
    const char *department; /* routing.yaml department id: decides the target */
    const char *recipient;  /* the person or role addressed at this level, or NULL */
    int level;              /* escalation level (1 = first in the chain), 0 when none */
    const char *subject;    /* "item", "case" or "case_task" */
    long long subject_id;
    const char *title;    /* one line a person reads first */
    const char *severity; /* low|medium|high|critical, or NULL */
    const char *due_at;   /* the deadline concerned (RFC 3339), or NULL */
    const char *text;     /* a few lines more, or NULL */
};

/* Adds n to the outbox on topic (the configured notification topic).
 * Returns 0, or -1 with err and *fault. Payload: every field above by name
 * (NULLs omitted); level only when above 0. */
int voc_notice_add(PGconn *conn, const char *topic, const struct voc_notice *n,
                   enum voc_db_fault *fault, char *err, size_t errlen);

#endif
