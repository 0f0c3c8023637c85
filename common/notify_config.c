/* Loading deploy/config/notify.yaml (format: see the comment at the top of
 * that file): notification targets by name, each with its message format and
 * the environment variable holding its webhook URL. Every problem is
 * reported with its line, so one `vocctl config check` run shows them all.
 *
 * Webhook URLs embed the service's secret (WeCom's key=, DingTalk's
 * access_token=, Feishu's hook id, Slack's /services/T/B/secret), and a
 * configuration file ends up in git, tickets and screenshots. So the file
 * holds only the variable's name, and any value in it that looks like a URL
 * or a token is refused, without quoting the value back. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/notify.h"
#include "voc/yamlcfg.h"

#define NT_MAX_ID     64 /* as routing.yaml's ids */
#define NT_ENV_PREFIX "VOC_WEBHOOK_"
/* Shorter strings are not worth calling tokens: names, formats. */
#define NT_TOKEN_MIN 20

static const char *const nt_format_names[] = {"json", "wecom", "dingtalk", "feishu", "slack", NULL};

int voc_notify_format_parse(const char *name)
{
    for (int i = 0; name && nt_format_names[i]; i++)
        if (strcmp(nt_format_names[i], name) == 0)
            return i;
    return -1;
}

const char *voc_notify_format_name(enum voc_notify_format f)
{
    return (unsigned)f < sizeof nt_format_names / sizeof *nt_format_names - 1 ? nt_format_names[f]
                                                                              : "?";
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NT_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* An environment variable name in the VOC_WEBHOOK_ namespace: a target
 * cannot be pointed at another secret (PGPASSWORD) and post it to a chat. */
static bool valid_env(const char *s)
{
    size_t p = strlen(NT_ENV_PREFIX);
    if (strncmp(s, NT_ENV_PREFIX, p) != 0 || !s[p])
        return false;
    for (const char *c = s + p; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

/* A heuristic for pasted secrets: a long run of base64/hex characters with
 * digits and letters mixed in, which no name or format in this file has
 * (ids are lower case, variable names upper case). */
static bool looks_like_token(const char *s)
{
    size_t n = strlen(s);
    bool digit = false, lower = false, upper = false, hex_only = true;
    if (n < NT_TOKEN_MIN)
        return false;
    for (const char *c = s; *c; c++) {
        bool d = *c >= '0' && *c <= '9', l = *c >= 'a' && *c <= 'z', u = *c >= 'A' && *c <= 'Z';
        if (!d && !l && !u && !strchr("+/=_-", *c))
            return false;
        digit |= d;
        lower |= l;
        upper |= u;
        hex_only &= d || (*c >= 'a' && *c <= 'f');
    }
    return digit && ((lower && upper) || (hex_only && n >= 32));
}

/* Every scalar of the document (keys too), in document order. */
static int refuse_secrets(struct voc_yaml *y, struct voc_diag *diag)
{
    int rc = 0;
    for (yaml_node_t *n = y->doc.nodes.start; n && n < y->doc.nodes.top; n++) {
        const char *s = voc_yaml_str(n);
        if (!s)
            continue;
        if (strstr(s, "://")) {
            voc_diag_add(diag, y->path, voc_yaml_line(n),
                         "a URL does not belong in notify.yaml: webhook URLs carry their secret "
                         "token; put it in the environment variable named by url_env");
            rc = -1;
        } else if (looks_like_token(s)) {
            voc_diag_add(diag, y->path, voc_yaml_line(n),
                         "this value looks like a secret token: secrets belong in the "
                         "environment (url_env), never in notify.yaml");
            rc = -1;
        }
    }
    return rc;
}

static int load_target(struct voc_yaml *y, yaml_node_t *map, size_t i, struct voc_notify_target *t,
                       struct voc_diag *diag)
{
    static const char *const keys[] = {"format", "url_env", NULL};
    char what[NT_MAX_ID + 16];
    char *format = NULL;
    const char *name = voc_yaml_map_key(y, map, i, &t->line);
    yaml_node_t *v = voc_yaml_map_value(y, map, i);
    int rc = 0;
    if (!(t->name = strdup(name ? name : "")))
        return -1;
    if (!valid_id(t->name)) {
        voc_diag_add(diag, y->path, t->line,
                     "target name '%s' must be 1-%d characters of a-z, 0-9, '_' and '-'", t->name,
                     NT_MAX_ID);
        rc = -1;
    }
    snprintf(what, sizeof what, "target '%s'", t->name);
    if (voc_yaml_expect_map(y, v, what, keys, diag) != 0) {
        rc = -1;
        if (v->type != YAML_MAPPING_NODE)
            return rc;
    }
    for (size_t k = 0; keys[k]; k++)
        if (!voc_yaml_get(y, v, keys[k])) {
            voc_diag_add(diag, y->path, t->line, "%s: missing required key '%s'", what, keys[k]);
            rc = -1;
        }
    if (voc_yaml_read_str(y, v, "format", false, &format, diag) != 0 ||
        voc_yaml_read_str(y, v, "url_env", false, &t->url_env, diag) != 0)
        rc = -1;
    int f = voc_notify_format_parse(format);
    if (format && f < 0) {
        voc_diag_add(diag, y->path, voc_yaml_line(voc_yaml_get(y, v, "format")),
                     "%s: unknown format '%s' (expected json, wecom, dingtalk, feishu or slack)",
                     what, format);
        rc = -1;
    }
    t->format = f < 0 ? VOC_NOTIFY_JSON : (enum voc_notify_format)f;
    if (t->url_env && !valid_env(t->url_env)) {
        voc_diag_add(diag, y->path, voc_yaml_line(voc_yaml_get(y, v, "url_env")),
                     "%s: url_env must name a variable " NT_ENV_PREFIX "<A-Z 0-9 _>", what);
        rc = -1;
    }
    free(format);
    return rc;
}

static int load_targets(struct voc_yaml *y, struct voc_notify_targets *out, struct voc_diag *diag)
{
    static const char *const top[] = {"targets", NULL};
    yaml_node_t *root = voc_yaml_root(y);
    if (!root) {
        voc_diag_add(diag, y->path, 0, "empty file: notify.yaml needs 'targets'");
        return -1;
    }
    int rc = voc_yaml_expect_map(y, root, "notify.yaml", top, diag);
    yaml_node_t *map = voc_yaml_get(y, root, "targets");
    if (!map) {
        voc_diag_add(diag, y->path, voc_yaml_line(root), "missing required key 'targets'");
        return -1;
    }
    if (voc_yaml_expect_map(y, map, "targets", NULL, diag) != 0)
        return -1;
    size_t n = voc_yaml_map_len(map);
    if (!(out->v = calloc(n ? n : 1, sizeof *out->v))) {
        voc_diag_add(diag, y->path, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        rc |= load_target(y, map, i, &out->v[out->n], diag);
        out->n++;
    }
    return rc ? -1 : 0;
}

int voc_notify_targets_load(const char *path, struct voc_notify_targets *out, struct voc_diag *diag)
{
    struct voc_yaml y;
    memset(out, 0, sizeof *out);
    int rc = voc_yaml_load(&y, path, diag);
    if (rc == 0) {
        rc = refuse_secrets(&y, diag);
        rc |= load_targets(&y, out, diag);
    }
    voc_yaml_free(&y);
    if (rc != 0)
        voc_notify_targets_free(out);
    return rc ? -1 : 0;
}

void voc_notify_targets_free(struct voc_notify_targets *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].url_env);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

const struct voc_notify_target *voc_notify_target_find(const struct voc_notify_targets *t,
                                                       const char *name)
{
    for (size_t i = 0; name && i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return &t->v[i];
    return NULL;
}

int voc_notify_targets_check_routing(const struct voc_notify_targets *t, const char *path,
                                     const struct voc_routing *r, struct voc_diag *diag)
{
    int rc = 0;
    const char *name;
    for (size_t i = 0; (name = voc_routing_target(r, i)); i++) {
        bool reported = false;
        for (size_t k = 0; k < i && !reported; k++)
            reported = strcmp(voc_routing_target(r, k), name) == 0;
        if (!reported && !voc_notify_target_find(t, name)) {
            voc_diag_add(diag, path, 0,
                         "no target '%s', which routing.yaml names: its notifications would "
                         "have nowhere to go",
                         name);
            rc = -1;
        }
    }
    return rc;
}
