/* Message bodies for notification targets (see voc/notify.h), one builder
 * per format, and the judgement of a target's reply.
 *
 * A grouped chat message reads as a header ("VoC · network_ops: 3
 * notifications") and one entry per notice: severity, kind and subject,
 * the title, who is addressed at which escalation level, the deadline, and a
 * few lines of text. Fields are clipped (titles 256 bytes, text 400) so one
 * entry always fits, and entries are added while the service's size limit
 * allows; the rest go in the next message, so nothing is marked delivered
 * that a person could not see.
 *
 * Titles and texts come from complaints: mention syntax in them must not
 * page a whole group. Slack's control characters (& < >) are escaped as
 * Slack documents; for WeCom, DingTalk and Feishu, whose <@user> / <at>
 * tags mention people, < and > become their full-width forms. */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/notify.h"

#define TITLE_MAX 256
#define TEXT_MAX  400
#define NAME_MAX  64
/* Content limits: WeCom markdown allows 4096 bytes; DingTalk and Feishu cap
 * the request near 20 KB; Slack truncates long texts. Room is kept for the
 * header and the JSON around the content. */
#define WECOM_BUDGET    3800
#define DINGTALK_BUDGET 15000
#define FEISHU_BUDGET   15000
#define SLACK_BUDGET    15000

struct sb {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Length of s cut to at most max bytes on a UTF-8 character boundary. */
static size_t utf8_clip(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* Appends untrusted text, clipped to max bytes ("…" marks a cut), on one
 * line, with mention syntax neutralised for format f. */
static void sb_text(struct sb *b, enum voc_notify_format f, const char *s, size_t max)
{
    size_t n = utf8_clip(s, max);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r' || c == '\t')
            sb_put(b, " ", 1);
        else if (f == VOC_NOTIFY_SLACK && c == '&')
            sb_str(b, "&amp;");
        else if (f == VOC_NOTIFY_SLACK && c == '<')
            sb_str(b, "&lt;");
        else if (f == VOC_NOTIFY_SLACK && c == '>')
            sb_str(b, "&gt;");
        else if (c == '<')
            sb_str(b, "\xEF\xBC\x9C"); /* U+FF1C */
        else if (c == '>')
            sb_str(b, "\xEF\xBC\x9E"); /* U+FF1E */
        else
            sb_put(b, &c, 1);
    }
    if (n < strlen(s))
        sb_str(b, "\xE2\x80\xA6"); /* U+2026 */
}

/* Bold in each markup; Feishu's text messages have none. */
static void sb_bold(struct sb *b, enum voc_notify_format f, const char *s, size_t max)
{
    const char *mark = f == VOC_NOTIFY_SLACK ? "*" : f == VOC_NOTIFY_FEISHU ? "" : "**";
    sb_str(b, mark);
    sb_text(b, f, s, max);
    sb_str(b, mark);
}

/* DingTalk's markdown joins single newlines into one paragraph. */
static const char *newline(enum voc_notify_format f)
{
    return f == VOC_NOTIFY_DINGTALK ? "\n\n" : "\n";
}

static void entry(struct sb *b, enum voc_notify_format f, const struct voc_notify_msg *m)
{
    const struct voc_notice *n = &m->n;
    const char *nl = newline(f);
    bool loud = n->severity && (!strcmp(n->severity, "high") || !strcmp(n->severity, "critical"));
    if (n->severity && f == VOC_NOTIFY_WECOM)
        sb_printf(b, "<font color=\"%s\">[", loud ? "warning" : "comment");
    else if (n->severity)
        sb_str(b, "[");
    if (n->severity) {
        sb_text(b, f, n->severity, NAME_MAX);
        sb_str(b, f == VOC_NOTIFY_WECOM ? "]</font> " : "] ");
    }
    sb_bold(b, f, n->kind ? n->kind : "notification", NAME_MAX);
    if (n->subject) {
        sb_str(b, " \xC2\xB7 "); /* middle dot */
        sb_text(b, f, n->subject, NAME_MAX);
        sb_printf(b, " #%lld", n->subject_id);
    }
    sb_str(b, nl);
    sb_text(b, f, n->title ? n->title : "(no title)", TITLE_MAX);
    sb_str(b, nl);
    if (n->recipient || n->due_at) {
        if (n->recipient) {
            sb_str(b, "\xE2\x86\x92 "); /* arrow */
            sb_text(b, f, n->recipient, NAME_MAX);
            if (n->level > 0)
                sb_printf(b, " (level %d)", n->level);
            sb_str(b, n->due_at ? ", " : "");
        }
        if (n->due_at) {
            sb_str(b, "due ");
            sb_text(b, f, n->due_at, NAME_MAX);
        }
        sb_str(b, nl);
    }
    if (n->text) {
        sb_str(b, f == VOC_NOTIFY_FEISHU ? "  " : "> ");
        sb_text(b, f, n->text, TEXT_MAX);
        sb_str(b, nl);
    }
}

/* The header and as many entries as fit in budget bytes (at least one). */
static void render(struct sb *out, enum voc_notify_format f, const char *department,
                   const struct voc_notify_msg *ms, size_t n, size_t budget, size_t *used)
{
    struct sb body = {0};
    size_t k = 0;
    for (; k < n; k++) {
        size_t before = body.len;
        if (k > 0)
            sb_str(&body, newline(f));
        entry(&body, f, &ms[k]);
        if (k > 0 && body.len > budget) {
            body.len = before;
            break;
        }
    }
    sb_str(out, f == VOC_NOTIFY_WECOM || f == VOC_NOTIFY_DINGTALK ? "### " : "");
    sb_str(out, "VoC \xC2\xB7 ");
    sb_text(out, f, department, NAME_MAX);
    sb_printf(out, ": %zu notification%s%s", k, k == 1 ? "" : "s", newline(f));
    sb_put(out, body.s ? body.s : "", body.len);
    out->oom |= body.oom;
    free(body.s);
    *used = k;
}

/* json_pack's result as a compact string; NULL when either failed. */
static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int set_opt(json_t *o, const char *key, const char *value)
{
    return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

static json_t *notice_object(const struct voc_notify_msg *m)
{
    const struct voc_notice *n = &m->n;
    json_t *o = json_object();
    if (!o || set_opt(o, "event_id", m->event_id) || set_opt(o, "kind", n->kind) ||
        set_opt(o, "department", n->department) || set_opt(o, "recipient", n->recipient) ||
        set_opt(o, "subject", n->subject) || set_opt(o, "title", n->title) ||
        set_opt(o, "severity", n->severity) || set_opt(o, "due_at", n->due_at) ||
        set_opt(o, "text", n->text) ||
        json_object_set_new(o, "subject_id", json_integer(n->subject_id)) ||
        (n->level > 0 && json_object_set_new(o, "level", json_integer(n->level)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Every notice, whole: receivers of the generic format are programs, which
 * deduplicate on event_id. */
char *voc_notify_body_json(const char *target, const char *department,
                           const struct voc_notify_msg *ms, size_t n, size_t *used)
{
    *used = 0;
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, notice_object(&ms[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    if (!list || n == 0) {
        json_decref(list);
        return NULL;
    }
    *used = n;
    return dump(json_pack("{s:s, s:s, s:I, s:o}", "target", target, "department", department,
                          "count", (json_int_t)n, "notices", list));
}

/* The rendered content, or NULL (out of memory, nothing to send). */
static char *content(enum voc_notify_format f, const char *department,
                     const struct voc_notify_msg *ms, size_t n, size_t budget, size_t *used)
{
    struct sb b = {0};
    *used = 0;
    if (n == 0)
        return NULL;
    render(&b, f, department, ms, n, budget, used);
    if (b.oom) {
        free(b.s);
        *used = 0;
        return NULL;
    }
    return b.s;
}

/* {"msgtype":"markdown","markdown":{"content":...}} (WeCom group robot). */
char *voc_notify_body_wecom(const char *department, const struct voc_notify_msg *ms, size_t n,
                            size_t *used)
{
    char *c = content(VOC_NOTIFY_WECOM, department, ms, n, WECOM_BUDGET, used);
    char *s = c ? dump(json_pack("{s:s, s:{s:s}}", "msgtype", "markdown", "markdown", "content", c))
                : NULL;
    free(c);
    return s;
}

/* {"msgtype":"markdown","markdown":{"title","text"}} (DingTalk robot); the
 * title is what the notification preview shows. */
char *voc_notify_body_dingtalk(const char *department, const struct voc_notify_msg *ms, size_t n,
                               size_t *used)
{
    char title[128];
    char *c = content(VOC_NOTIFY_DINGTALK, department, ms, n, DINGTALK_BUDGET, used);
    snprintf(title, sizeof title, "VoC: %zu notification%s", *used, *used == 1 ? "" : "s");
    char *s = c ? dump(json_pack("{s:s, s:{s:s, s:s}}", "msgtype", "markdown", "markdown", "title",
                                 title, "text", c))
                : NULL;
    free(c);
    return s;
}

/* {"msg_type":"text","content":{"text":...}} (Feishu / Lark custom bot). */
char *voc_notify_body_feishu(const char *department, const struct voc_notify_msg *ms, size_t n,
                             size_t *used)
{
    char *c = content(VOC_NOTIFY_FEISHU, department, ms, n, FEISHU_BUDGET, used);
    char *s =
        c ? dump(json_pack("{s:s, s:{s:s}}", "msg_type", "text", "content", "text", c)) : NULL;
    free(c);
    return s;
}

/* {"text":...} in mrkdwn (Slack incoming webhook). */
char *voc_notify_body_slack(const char *department, const struct voc_notify_msg *ms, size_t n,
                            size_t *used)
{
    char *c = content(VOC_NOTIFY_SLACK, department, ms, n, SLACK_BUDGET, used);
    char *s = c ? dump(json_pack("{s:s}", "text", c)) : NULL;
    free(c);
    return s;
}

char *voc_notify_body(enum voc_notify_format f, const char *target, const char *department,
                      const struct voc_notify_msg *ms, size_t n, size_t *used)
{
    switch (f) {
    case VOC_NOTIFY_WECOM:
        return voc_notify_body_wecom(department, ms, n, used);
    case VOC_NOTIFY_DINGTALK:
        return voc_notify_body_dingtalk(department, ms, n, used);
    case VOC_NOTIFY_FEISHU:
        return voc_notify_body_feishu(department, ms, n, used);
    case VOC_NOTIFY_SLACK:
        return voc_notify_body_slack(department, ms, n, used);
    case VOC_NOTIFY_JSON:
    default:
        return voc_notify_body_json(target, department, ms, n, used);
    }
}

/* A short, one-line excerpt of a reply for the delivery log. */
static void excerpt(const char *body, char *out, size_t len)
{
    size_t n = body ? utf8_clip(body, len > 100 ? 100 : len - 1) : 0;
    snprintf(out, len, "%.*s", (int)n, body ? body : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int voc_notify_check_reply(enum voc_notify_format f, long http_status, const char *body, char *err,
                           size_t errlen)
{
    char brief[128];
    excerpt(body, brief, sizeof brief);
    if (http_status < 200 || http_status > 299) {
        snprintf(err, errlen, "HTTP %ld%s%s", http_status, brief[0] ? ": " : "", brief);
        return -1;
    }
    if (f == VOC_NOTIFY_JSON || f == VOC_NOTIFY_SLACK)
        return 0;
    const char *code_key = f == VOC_NOTIFY_FEISHU ? "code" : "errcode";
    const char *msg_key = f == VOC_NOTIFY_FEISHU ? "msg" : "errmsg";
    json_t *r = body ? json_loads(body, 0, NULL) : NULL;
    json_t *code = json_object_get(r, code_key);
    if (f == VOC_NOTIFY_FEISHU && !code) /* older Feishu bots answer StatusCode */
        code = json_object_get(r, "StatusCode");
    int rc = 0;
    if (!json_is_integer(code)) {
        snprintf(err, errlen, "HTTP %ld without '%s' in the reply: %s", http_status, code_key,
                 brief[0] ? brief : "(empty)");
        rc = -1;
    } else if (json_integer_value(code) != 0) {
        excerpt(json_string_value(json_object_get(r, msg_key)), brief, sizeof brief);
        snprintf(err, errlen, "%s=%lld %s=%s", code_key, (long long)json_integer_value(code),
                 msg_key, brief);
        rc = -1;
    }
    json_decref(r);
    return rc;
}
