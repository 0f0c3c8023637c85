/* Routing improvement items to their owning department:
 * deploy/config/routing.yaml, ordered rules, first match wins; an item no
 * rule matches goes to the triage owner, and that is itself alerted. */
#ifndef VOC_ROUTING_H
#define VOC_ROUTING_H

#include <stdbool.h>
#include <stddef.h>

#include "voc/diag.h"

struct voc_routing; /* opaque, immutable after load */

struct voc_route {
    /* Point into the routing table: valid while it lives. */
    const char *rule;              /* the matching rule's name, or "triage" */
    const char *department;        /* e.g. "network_ops" */
    const char *owner;             /* the department's owner (a person or role id) */
    const char *notify;            /* notification target name, or NULL */
    const char *const *escalation; /* NULL-terminated chain: handler -> owner -> lead */
    bool triage;                   /* no rule matched */
};

struct voc_routing *voc_routing_load(const char *path, struct voc_diag *diag);
void voc_routing_free(struct voc_routing *r);
const char *voc_routing_version(const struct voc_routing *r);

/* Where a notification for department goes (voc-notify): the department's
 * notify target; the triage department's is triage's own override when it
 * has one, as for an unmatched item. A department that is unknown or has no
 * target falls back to triage's, so someone always hears. Never NULL for a
 * loaded table. Points into r. */
const char *voc_routing_department_notify(const struct voc_routing *r, const char *department);

/* The i-th notify target the file names (departments, then rules, then
 * triage; names may repeat), NULL after the last: to check that each is
 * defined where targets are (notify.yaml). */
const char *voc_routing_target(const struct voc_routing *r, size_t i);

/* Routes an item; entity may be NULL. severity is low|medium|high|critical. */
void voc_route(const struct voc_routing *r, const char *dimension, const char *category,
               const char *entity, const char *severity, struct voc_route *out);

#endif
