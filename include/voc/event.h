/* The event model: one customer event parsed and validated once.
 *
 * voc_event_parse() takes the raw Kafka message bytes, rejects what is not a
 * valid event with a reason a person can read (that reason is what goes to the
 * dead-letter topic), and otherwise fills a struct voc_event whose string
 * fields point into the parsed JSON: they live exactly as long as ev->root. */
#ifndef VOC_EVENT_H
#define VOC_EVENT_H

#include <jansson.h>
#include <stddef.h>

#include "voc/schema.h"

enum voc_event_type {
    VOC_EV_COMPLAINT,
    VOC_EV_RATING,
    VOC_EV_TECH_ISSUE,
    VOC_EV_TELEMETRY,
    VOC_EV_TYPE_COUNT
};

struct voc_event {
    json_t *root; /* owned; NULL after voc_event_clear() */
    enum voc_event_type type;
    /* Envelope. Optional fields are NULL when absent. */
    const char *event_id;
    const char *type_name; /* "complaint", "rating", "tech_issue", "telemetry" */
    const char *occurred_at;
    const char *source;
    const char *channel;
    const char *customer_id, *tier;
    const char *classroom_id, *lesson_id, *teacher_id;
    const char *product_id, *product_name;
    const char *line, *isp, *region; /* network */
    const char *client_app, *client_version, *client_os;
    const char *text; /* what the customer wrote, as sent (not yet masked) */
    size_t text_len;
    /* rating events */
    int rating_score; /* 1..5, 0 when absent */
    const char *rating_aspect;
    /* tech_issue events */
    const char *issue_kind, *issue_severity;
    long long issue_duration_ms; /* -1 when absent */
};

/* Parses and validates len bytes. Returns 0 and fills ev, or -1 with a reason
 * ("not valid JSON at line 1 column 17: ...", "not valid UTF-8 at line 1
 * column 6 (byte offset 6)", "event is 70000 bytes, the limit is 65536",
 * "/customer/tier: 'gold' is not one of standard, vip, svip") and ev->root NULL.
 * max_bytes = 0 means no size limit. For telemetry, customer_id, classroom_id,
 * lesson_id and teacher_id come from the event's flat fields. */
int voc_event_parse(struct voc_event *ev, const void *buf, size_t len, size_t max_bytes,
                    const struct voc_schemas *schemas, char *reason, size_t reasonlen);
void voc_event_clear(struct voc_event *ev);

/* The first steps of voc_event_parse() alone: the size limit, then JSON (any
 * value; duplicate keys refused), with the same reasons. For tools that check
 * records that are not events (dead letters). Returns an owned value, or NULL
 * with a reason. */
json_t *voc_event_decode(const void *buf, size_t len, size_t max_bytes, char *reason,
                         size_t reasonlen);

/* "complaint" -> VOC_EV_COMPLAINT; returns -1 for unknown names. */
int voc_event_type_parse(const char *name);
const char *voc_event_type_name(enum voc_event_type t);

#endif
