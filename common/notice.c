/* Notifications for people, through the outbox (see voc/notice.h). */
#include "voc/notice.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "voc/outbox.h"

static int set_str(json_t *o, const char *key, const char *value)
{
    return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

int voc_notice_add(PGconn *conn, const char *topic, const struct voc_notice *n,
                   enum voc_db_fault *fault, char *err, size_t errlen)
{
    int rc = -1;
    char *payload = NULL;
    json_t *o = json_object();
    if (!o)
        goto oom;
    if (set_str(o, "kind", n->kind) || set_str(o, "department", n->department) ||
        set_str(o, "recipient", n->recipient) || set_str(o, "subject", n->subject) ||
        set_str(o, "title", n->title) || set_str(o, "severity", n->severity) ||
        set_str(o, "due_at", n->due_at) || set_str(o, "text", n->text) ||
        json_object_set_new(o, "subject_id", json_integer(n->subject_id)) ||
        (n->level > 0 && json_object_set_new(o, "level", json_integer(n->level))))
        goto oom;
    if (!(payload = json_dumps(o, JSON_COMPACT)))
        goto oom;
    rc = voc_outbox_add(conn, topic, n->department, n->kind, payload, fault, err, errlen);
    goto done;
oom:
    if (fault)
        *fault = VOC_DB_FATAL;
    snprintf(err, errlen, "notice: out of memory");
done:
    free(payload);
    json_decref(o);
    return rc;
}
