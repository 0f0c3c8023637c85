/* Notification targets (deploy/config/notify.yaml) and the message bodies
 * voc-notify posts to them: a generic JSON webhook and the incoming-webhook
 * robots of WeCom, DingTalk, Feishu and Slack.
 *
 * The file names each target's format and the environment variable that
 * holds its webhook URL; the URL carries the service's secret token, so it
 * is never in the file (a value that looks like a URL or a token is refused
 * at load), never in a log line and never in voc.delivery.
 *
 * The body builders and the reply check are pure functions (no I/O), so each
 * format is tested without a network. */
#ifndef VOC_NOTIFY_H
#define VOC_NOTIFY_H

#include <stddef.h>

#include "voc/diag.h"
#include "voc/notice.h"
#include "voc/routing.h"

enum voc_notify_format {
    VOC_NOTIFY_JSON,     /* {"target","department","notices":[payloads]} */
    VOC_NOTIFY_WECOM,    /* WeCom group robot, markdown */
    VOC_NOTIFY_DINGTALK, /* DingTalk custom robot, markdown */
    VOC_NOTIFY_FEISHU,   /* Feishu / Lark custom bot, text */
    VOC_NOTIFY_SLACK     /* Slack incoming webhook, mrkdwn text */
};

/* "json", "wecom", ...: -1 when unknown. */
int voc_notify_format_parse(const char *name);
const char *voc_notify_format_name(enum voc_notify_format f);

struct voc_notify_target {
    char *name;    /* as routing.yaml's `notify` names it */
    char *url_env; /* VOC_WEBHOOK_...: the variable holding the webhook URL */
    enum voc_notify_format format;
    int line; /* where it is defined, for later diagnostics */
};

struct voc_notify_targets {
    struct voc_notify_target *v;
    size_t n;
};

/* Loads path into *out (emptied first). Every problem goes to diag as
 * file:line; returns -1 if there was any (*out is then empty). */
int voc_notify_targets_load(const char *path, struct voc_notify_targets *out,
                            struct voc_diag *diag);
void voc_notify_targets_free(struct voc_notify_targets *t);
const struct voc_notify_target *voc_notify_target_find(const struct voc_notify_targets *t,
                                                       const char *name);
/* Every target routing.yaml names must be defined in t (path: t's file, for
 * the diagnostics). Returns -1 (with diagnostics) when one is missing. */
int voc_notify_targets_check_routing(const struct voc_notify_targets *t, const char *path,
                                     const struct voc_routing *r, struct voc_diag *diag);

/* One stored notification as the formats see it: the outbox payload of
 * voc/notice.h plus the event_id the outbox relay assigned. */
struct voc_notify_msg {
    const char *event_id;
    struct voc_notice n;
};

/* The request body for one grouped message to target (of department), built
 * from the first notices of ms that fit the service's message size limit:
 * always at least one, each clipped to fit alone. *used receives how many
 * the body holds; the caller sends the others in a later message. Returns a
 * malloc'd JSON string, NULL when out of memory or n == 0. */
char *voc_notify_body_json(const char *target, const char *department,
                           const struct voc_notify_msg *ms, size_t n, size_t *used);
char *voc_notify_body_wecom(const char *department, const struct voc_notify_msg *ms, size_t n,
                            size_t *used);
char *voc_notify_body_dingtalk(const char *department, const struct voc_notify_msg *ms, size_t n,
                               size_t *used);
char *voc_notify_body_feishu(const char *department, const struct voc_notify_msg *ms, size_t n,
                             size_t *used);
char *voc_notify_body_slack(const char *department, const struct voc_notify_msg *ms, size_t n,
                            size_t *used);
/* Dispatches on f to the builders above. */
char *voc_notify_body(enum voc_notify_format f, const char *target, const char *department,
                      const struct voc_notify_msg *ms, size_t n, size_t *used);

/* Judges a reply: 0 when the message was accepted, else -1 with why in err.
 * A 2xx is required; WeCom and DingTalk must also answer {"errcode":0} and
 * Feishu {"code":0} (they report failures such as a bad keyword or rate
 * limit with HTTP 200). body may be NULL (no reply body). */
int voc_notify_check_reply(enum voc_notify_format f, long http_status, const char *body, char *err,
                           size_t errlen);

#endif
