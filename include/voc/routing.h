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

/* Routes an item; entity may be NULL. severity is low|medium|high|critical. */
void voc_route(const struct voc_routing *r, const char *dimension, const char *category,
               const char *entity, const char *severity, struct voc_route *out);

#endif
