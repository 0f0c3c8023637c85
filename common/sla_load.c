/* Loading deploy/config/sla.yaml (format: the comment at the top of that
 * file): the item policies by severity and the customer-case policies by
 * tier and channel. Calendars are read by sla_load_cal.c. Every problem in
 * the file is reported with its line, so one `vocctl config check` run shows
 * them all. */
#include <ctype.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sla_int.h"

#define MAX_DURATION_MS (366 * SLA_DAY_MS)

/* When a policy gives no escalate: level 1 at the deadline, then hourly. */
static const int64_t default_escalate[] = {0, 3600000};
#define NDEFAULT_ESCALATE 2

/* The channels of the event contracts (schemas/events/common.schema.json). */
static const char *const channel_names[] = {"app",  "web",      "phone",  "wechat", "email",
                                            "chat", "in_class", "survey", "other",  NULL};

void sla_err(struct sla_loader *L, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    voc_diag_add(L->diag, L->y.path, line, "%s", msg);
    L->bad = true;
}

bool sla_valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SLA_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

static int index_of(const char *const *names, const char *s)
{
    for (int i = 0; s && names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* Records p in s->owned, to be freed with s; NULL p is out of memory. */
static void *keep(struct sla_loader *L, void *p, int line)
{
    struct voc_sla *s = L->s;
    if (p && s->nowned == s->capowned) {
        size_t ncap = s->capowned ? s->capowned * 2 : 16;
        void **nv = realloc(s->owned, ncap * sizeof *nv);
        if (!nv) {
            free(p);
            p = NULL;
        } else {
            s->owned = nv;
            s->capowned = ncap;
        }
    }
    if (!p) {
        sla_err(L, line, "out of memory");
        return NULL;
    }
    s->owned[s->nowned++] = p;
    return p;
}

/* "90s", "15m", "4h", "2d", sums like "1h30m", or 0. Returns 0, -1 not a
 * duration, -2 negative, -3 too long. */
static int parse_duration(const char *s, int64_t *ms)
{
    if (s[0] == '-')
        return -2;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0;
        for (; isdigit((unsigned char)*p); p++)
            if ((v = v * 10 + (*p - '0')) > MAX_DURATION_MS)
                return -3;
        int64_t unit = *p == 's' ? 1000 : *p == 'm' ? 60000 : *p == 'h' ? 3600000 : 0;
        unit = *p == 'd' ? SLA_DAY_MS : unit;
        if (!unit)
            return -1;
        p++;
        if (v > MAX_DURATION_MS / unit || (total += v * unit) > MAX_DURATION_MS)
            return -3;
    }
    *ms = total;
    return 0;
}

static bool read_duration(struct sla_loader *L, yaml_node_t *v, const char *path, int64_t *out)
{
    const char *s = voc_yaml_str(v);
    int rc = s ? parse_duration(s, out) : -1;
    if (rc == -1)
        sla_err(L, voc_yaml_line(v), "%s: '%s' is not a duration like 90s, 15m, 4h, 2d or 1h30m",
                path, s ? s : "(not a value)");
    else if (rc == -2)
        sla_err(L, voc_yaml_line(v), "%s: '%s' is negative", path, s);
    else if (rc == -3)
        sla_err(L, voc_yaml_line(v), "%s: '%s' is longer than 366d", path, s);
    return rc == 0;
}

/* map[key] as a duration: 1 read, 0 absent, -1 bad (reported). */
static int opt_duration(struct sla_loader *L, yaml_node_t *map, const char *path, const char *key,
                        int64_t *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, key);
    if (!v)
        return 0;
    char where[160];
    snprintf(where, sizeof where, "%s.%s", path, key);
    return read_duration(L, v, where, out) ? 1 : -1;
}

static int opt_calendar(struct sla_loader *L, yaml_node_t *map, const char *path,
                        const struct voc_sla_calendar **out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, "calendar");
    if (!v)
        return 0;
    const char *s = voc_yaml_str(v);
    const struct voc_sla_calendar *c = voc_sla_calendar_find(L->s, s);
    if (!c) {
        sla_err(L, voc_yaml_line(v), "%s: unknown calendar '%s'", path, s ? s : "(not a value)");
        return -1;
    }
    *out = c;
    return 1;
}

static int opt_remind(struct sla_loader *L, yaml_node_t *map, const char *path, double *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, "remind_at");
    double d = 0;
    if (!v)
        return 0;
    if (voc_yaml_read_double(&L->y, map, "remind_at", true, -DBL_MAX, DBL_MAX, &d, L->diag) != 0) {
        L->bad = true;
        return -1;
    }
    /* 1 would remind at the deadline itself, when escalation starts. */
    if (!(d >= 0 && d < 1)) {
        sla_err(L, voc_yaml_line(v), "%s: remind_at must be at least 0 and less than 1, not %g",
                path, d);
        return -1;
    }
    *out = d;
    return 1;
}

static int opt_escalate(struct sla_loader *L, yaml_node_t *map, const char *path,
                        const int64_t **out, size_t *nout)
{
    yaml_node_t *v = voc_yaml_get(&L->y, map, "escalate");
    if (!v)
        return 0;
    if (voc_yaml_expect_seq(&L->y, v, "escalate", L->diag) != 0) {
        L->bad = true;
        return -1;
    }
    size_t n = voc_yaml_seq_len(v);
    int64_t *e = keep(L, calloc(n ? n : 1, sizeof *e), voc_yaml_line(v));
    if (!e)
        return -1;
    char where[160];
    snprintf(where, sizeof where, "%s.escalate", path);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = voc_yaml_seq_item(&L->y, v, i);
        if (!read_duration(L, item, where, &e[i])) {
            ok = false;
        } else if (e[i] == 0 && i > 0) {
            sla_err(L, voc_yaml_line(item),
                    "%s: only the first interval may be 0 (later ones "
                    "would fire two levels at once)",
                    where);
            ok = false;
        }
    }
    if (ok && n == 1 && e[0] == 0)
        sla_err(L, voc_yaml_line(v),
                "%s: [0] alone repeats 0 and fires the whole chain at the "
                "deadline; give the interval between levels, like [0m, 30m]",
                where);
    *out = e;
    *nout = n;
    return ok ? 1 : -1;
}

static void load_item(struct sla_loader *L, yaml_node_t *items, int sev)
{
    static const char *const keys[] = {"calendar", "ack",          "resolve",     "remind_at",
                                       "escalate", "verify_after", "close_after", NULL};
    const char *name = sla_severity_names[sev];
    yaml_node_t *v = voc_yaml_get(&L->y, items, name);
    char path[64];
    snprintf(path, sizeof path, "items.%s", name);
    if (!v) {
        sla_err(L, voc_yaml_line(items), "items: missing severity '%s'", name);
        return;
    }
    if (voc_yaml_expect_map(&L->y, v, path, keys, L->diag) != 0) {
        L->bad = true;
        if (v->type != YAML_MAPPING_NODE)
            return;
    }
    struct voc_sla_item_policy *p = &L->s->items[sev];
    struct voc_sla_clock c = {.escalate_ms = default_escalate, .nescalate = NDEFAULT_ESCALATE};
    int64_t ack = 0, resolve = 0;
    int got_cal = opt_calendar(L, v, path, &p->calendar);
    int got_ack = opt_duration(L, v, path, "ack", &ack);
    int got_resolve = opt_duration(L, v, path, "resolve", &resolve);
    opt_remind(L, v, path, &c.remind_at);
    opt_escalate(L, v, path, &c.escalate_ms, &c.nescalate);
    opt_duration(L, v, path, "verify_after", &p->verify_quiet_ms);
    opt_duration(L, v, path, "close_after", &p->close_after_ms);
    const char *missing = !got_cal       ? "calendar"
                          : !got_ack     ? "ack"
                          : !got_resolve ? "resolve"
                                         : NULL;
    if (missing)
        sla_err(L, voc_yaml_line(v), "%s: missing required key '%s'", path, missing);
    yaml_node_t *ack_node = voc_yaml_get(&L->y, v, "ack");
    if (got_ack > 0 && got_resolve > 0 && ack > 0 && resolve > 0 && ack > resolve)
        sla_err(L, voc_yaml_line(ack_node), "%s: ack (%s) is longer than resolve (%s)", path,
                voc_yaml_str(ack_node), voc_yaml_str(voc_yaml_get(&L->y, v, "resolve")));
    p->ack = c;
    p->ack.budget_ms = ack;
    p->resolve = c;
    p->resolve.budget_ms = resolve;
}

static void load_items(struct sla_loader *L, yaml_node_t *root)
{
    yaml_node_t *items = voc_yaml_get(&L->y, root, "items");
    if (!items) {
        sla_err(L, voc_yaml_line(root), "missing required key 'items'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, items, "items", sla_severity_names, L->diag) != 0) {
        L->bad = true;
        if (items->type != YAML_MAPPING_NODE)
            return;
    }
    for (int sev = 0; sev < SLA_NSEV; sev++)
        load_item(L, items, sev);
}

/* What a tier or channel entry says; the rest it inherits. */
struct case_spec {
    const struct voc_sla_calendar *cal;
    int64_t reply, followup;
    double remind;
    const int64_t *esc;
    size_t nesc;
    int has_cal, has_reply, has_followup, has_remind, has_esc; /* > 0 when given and valid */
};

static void read_case_spec(struct sla_loader *L, yaml_node_t *map, const char *path,
                           struct case_spec *sp)
{
    sp->has_cal = opt_calendar(L, map, path, &sp->cal);
    sp->has_reply = opt_duration(L, map, path, "reply", &sp->reply);
    sp->has_followup = opt_duration(L, map, path, "followup", &sp->followup);
    sp->has_remind = opt_remind(L, map, path, &sp->remind);
    sp->has_esc = opt_escalate(L, map, path, &sp->esc, &sp->nesc);
}

static void apply_spec(const struct case_spec *sp, struct voc_sla_case_policy *p)
{
    if (sp->has_cal > 0)
        p->calendar = sp->cal;
    if (sp->has_reply > 0)
        p->reply.budget_ms = sp->reply;
    if (sp->has_followup > 0)
        p->followup.budget_ms = sp->followup;
    if (sp->has_remind > 0)
        p->reply.remind_at = p->followup.remind_at = sp->remind;
    if (sp->has_esc > 0) {
        p->reply.escalate_ms = p->followup.escalate_ms = sp->esc;
        p->reply.nescalate = p->followup.nescalate = sp->nesc;
    }
}

static void load_tiers(struct sla_loader *L, yaml_node_t *cases, struct voc_sla_case_policy *base)
{
    static const char *const keys[] = {"calendar",  "reply",    "followup",
                                       "remind_at", "escalate", NULL};
    yaml_node_t *tiers = voc_yaml_get(&L->y, cases, "tiers");
    if (!tiers) {
        sla_err(L, voc_yaml_line(cases), "cases: missing required key 'tiers'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, tiers, "cases.tiers", sla_tier_names, L->diag) != 0) {
        L->bad = true;
        if (tiers->type != YAML_MAPPING_NODE)
            return;
    }
    for (int t = 0; t < SLA_NTIER; t++) {
        char path[64];
        snprintf(path, sizeof path, "cases.tiers.%s", sla_tier_names[t]);
        yaml_node_t *v = voc_yaml_get(&L->y, tiers, sla_tier_names[t]);
        /* vip and svip start from standard, which starts from cases. */
        L->s->tiers[t] = t == SLA_STANDARD ? *base : L->s->tiers[SLA_STANDARD];
        if (!v) {
            if (t == SLA_STANDARD)
                sla_err(L, voc_yaml_line(tiers), "cases.tiers: missing tier 'standard'");
            continue;
        }
        if (voc_yaml_expect_map(&L->y, v, path, keys, L->diag) != 0) {
            L->bad = true;
            if (v->type != YAML_MAPPING_NODE)
                continue;
        }
        struct case_spec sp = {0};
        read_case_spec(L, v, path, &sp);
        if (t == SLA_STANDARD && (!sp.has_cal || !sp.has_reply))
            sla_err(L, voc_yaml_line(v), "%s: missing required key '%s'", path,
                    !sp.has_cal ? "calendar" : "reply");
        apply_spec(&sp, &L->s->tiers[t]);
    }
}

static void load_channel(struct sla_loader *L, yaml_node_t *channels, size_t i)
{
    static const char *const keys[] = {"calendar", "reply", "followup", "remind_at", "escalate",
                                       "standard", "vip",   "svip",     NULL};
    static const char *const tier_keys[] = {"calendar",  "reply",    "followup",
                                            "remind_at", "escalate", NULL};
    int line;
    const char *name = voc_yaml_map_key(&L->y, channels, i, &line);
    yaml_node_t *v = voc_yaml_map_value(&L->y, channels, i);
    char path[96];
    snprintf(path, sizeof path, "cases.channels.%.32s", name ? name : "?");
    if (!name || index_of(channel_names, name) < 0) {
        sla_err(L, line,
                "%s: unknown channel (expected app, web, phone, wechat, email, chat, in_class, "
                "survey or other)",
                path);
        return;
    }
    if (voc_yaml_expect_map(&L->y, v, path, keys, L->diag) != 0) {
        L->bad = true;
        if (v->type != YAML_MAPPING_NODE)
            return;
    }
    struct sla_channel *ch = &L->s->channels[L->s->nchannels++];
    if (!(ch->name = strdup(name)))
        sla_err(L, line, "out of memory");
    struct case_spec all = {0};
    read_case_spec(L, v, path, &all);
    for (int t = 0; t < SLA_NTIER; t++) {
        ch->tier[t] = L->s->tiers[t];
        apply_spec(&all, &ch->tier[t]);
        yaml_node_t *tv = voc_yaml_get(&L->y, v, sla_tier_names[t]);
        if (!tv)
            continue;
        char tpath[128];
        snprintf(tpath, sizeof tpath, "%s.%s", path, sla_tier_names[t]);
        if (voc_yaml_expect_map(&L->y, tv, tpath, tier_keys, L->diag) != 0) {
            L->bad = true;
            if (tv->type != YAML_MAPPING_NODE)
                continue;
        }
        struct case_spec one = {0};
        read_case_spec(L, tv, tpath, &one);
        apply_spec(&one, &ch->tier[t]);
    }
}

static void load_channels(struct sla_loader *L, yaml_node_t *cases)
{
    yaml_node_t *map = voc_yaml_get(&L->y, cases, "channels");
    if (!map)
        return;
    if (voc_yaml_expect_map(&L->y, map, "cases.channels", NULL, L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_map_len(map);
    if (!(L->s->channels = calloc(n ? n : 1, sizeof *L->s->channels))) {
        sla_err(L, voc_yaml_line(map), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_channel(L, map, i);
}

static void load_chain(struct sla_loader *L, yaml_node_t *cases)
{
    yaml_node_t *seq = voc_yaml_get(&L->y, cases, "escalation");
    if (!seq)
        sla_err(L, voc_yaml_line(cases), "cases: missing required key 'escalation'");
    if (voc_yaml_read_names(&L->y, cases, "escalation", "cases.escalation",
                            "cases.escalation: entries", &L->s->escalation, L->diag) != 0)
        L->bad = true;
    else if (seq && !L->s->escalation[0])
        sla_err(L, voc_yaml_line(seq), "cases.escalation: empty: a late reply must reach someone");
}

static void load_cases(struct sla_loader *L, yaml_node_t *root)
{
    static const char *const keys[] = {"department", "escalation", "followup",
                                       "tiers",      "channels",   NULL};
    yaml_node_t *cases = voc_yaml_get(&L->y, root, "cases");
    if (!cases) {
        sla_err(L, voc_yaml_line(root), "missing required key 'cases'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, cases, "cases", keys, L->diag) != 0) {
        L->bad = true;
        if (cases->type != YAML_MAPPING_NODE)
            return;
    }
    if (voc_yaml_read_str(&L->y, cases, "department", true, &L->s->department, L->diag) != 0)
        L->bad = true;
    else if (!sla_valid_id(L->s->department))
        sla_err(L, voc_yaml_line(voc_yaml_get(&L->y, cases, "department")),
                "cases.department '%s' is not a department id of routing.yaml", L->s->department);
    load_chain(L, cases);
    struct voc_sla_case_policy base = {
        .reply = {.escalate_ms = default_escalate, .nescalate = NDEFAULT_ESCALATE},
        .followup = {.escalate_ms = default_escalate, .nescalate = NDEFAULT_ESCALATE},
        .escalation = (const char *const *)L->s->escalation,
        .department = L->s->department,
    };
    if (opt_duration(L, cases, "cases", "followup", &base.followup.budget_ms) == 0)
        sla_err(L, voc_yaml_line(cases), "cases: missing required key 'followup'");
    load_tiers(L, cases, &base);
    load_channels(L, cases);
}

static void load_root(struct sla_loader *L)
{
    static const char *const keys[] = {"version", "calendars", "items", "cases", NULL};
    yaml_node_t *root = voc_yaml_root(&L->y);
    if (!root) {
        sla_err(L, 0,
                "empty file: service levels need 'version', 'calendars', 'items' and "
                "'cases'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, root, "the sla file", keys, L->diag) != 0) {
        L->bad = true;
        if (root->type != YAML_MAPPING_NODE)
            return;
    }
    if (voc_yaml_read_str(&L->y, root, "version", true, &L->s->version, L->diag) != 0)
        L->bad = true;
    else if (!L->s->version[0])
        sla_err(L, voc_yaml_line(voc_yaml_get(&L->y, root, "version")), "empty version");
    sla_load_calendars(L, root);
    load_items(L, root);
    load_cases(L, root);
}

struct voc_sla *voc_sla_load(const char *path, struct voc_diag *diag)
{
    struct sla_loader L = {.diag = diag};
    if (!(L.s = calloc(1, sizeof *L.s))) {
        voc_diag_add(diag, path, 0, "out of memory");
        return NULL;
    }
    if (voc_yaml_load(&L.y, path, diag) != 0)
        goto fail;
    load_root(&L);
    if (L.bad)
        goto fail;
    voc_yaml_free(&L.y);
    return L.s;
fail:
    voc_yaml_free(&L.y);
    voc_sla_free(L.s);
    return NULL;
}
