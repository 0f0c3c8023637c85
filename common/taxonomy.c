/* Classification: field rules, then one Aho-Corasick pass over the normalised
 * text that scores every category, severity floor and sentiment list at once. */
#include "taxonomy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A text with more distinct keyword hits than this is scored on the first
 * ones only; real customer texts have a handful. */
#define MAX_HITS 512

const char *const voc_tax_dim_names[VOC_TAX_NDIM + 1] = {"class", "product", "line", "service",
                                                         NULL};
const char *const voc_tax_sev_names[VOC_TAX_NSEV + 1] = {"low", "medium", "high", "critical", NULL};
const char *const voc_tax_tier_names[VOC_TAX_NTIER + 1] = {"standard", "vip", "svip", NULL};

static const char *const type_names[] = {"complaint", "rating", "tech_issue", "telemetry", NULL};
static const char *const channels[] = {"app",  "web",      "phone",  "wechat", "email",
                                       "chat", "in_class", "survey", "other",  NULL};
static const char *const scores[] = {"1", "2", "3", "4", "5", NULL};
static const char *const aspects[] = {"teacher", "content", "app", "network",
                                      "service", "overall", NULL};
static const char *const kinds[] = {"video_stall", "audio_drop", "lag",   "disconnect", "login",
                                    "crash",       "payment",    "other", NULL};

#define AT(member) offsetof(struct voc_event, member)
const struct voc_tax_field voc_tax_fields[] = {
    {"text", NULL, VOC_TAX_COMPUTED},
    {"type", type_names, VOC_TAX_COMPUTED},
    {"rating.score", scores, VOC_TAX_COMPUTED},
    {"source", NULL, AT(source)},
    {"channel", channels, AT(channel)},
    {"customer.id", NULL, AT(customer_id)},
    {"customer.tier", voc_tax_tier_names, AT(tier)},
    {"classroom.id", NULL, AT(classroom_id)},
    {"classroom.lesson_id", NULL, AT(lesson_id)},
    {"classroom.teacher_id", NULL, AT(teacher_id)},
    {"product.id", NULL, AT(product_id)},
    {"product.name", NULL, AT(product_name)},
    {"network.line", NULL, AT(line)},
    {"network.isp", NULL, AT(isp)},
    {"network.region", NULL, AT(region)},
    {"client.app", NULL, AT(client_app)},
    {"client.version", NULL, AT(client_version)},
    {"client.os", NULL, AT(client_os)},
    {"rating.aspect", aspects, AT(rating_aspect)},
    {"issue.kind", kinds, AT(issue_kind)},
    {"issue.severity", voc_tax_sev_names, AT(issue_severity)},
};
const size_t voc_tax_nfields = sizeof voc_tax_fields / sizeof voc_tax_fields[0];

const char *voc_taxonomy_version(const struct voc_taxonomy *t)
{
    return t->version;
}

static void matcher_free(struct voc_tax_matcher *m)
{
    free(m->delta);
    free(m->first_term);
    free(m->dict);
    memset(m, 0, sizeof *m);
}

void voc_taxonomy_free(struct voc_taxonomy *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncats; i++)
        free(t->cats[i].id);
    for (size_t i = 0; i < t->nrules; i++) {
        struct voc_tax_rule *r = &t->rules[i];
        for (size_t j = 0; j < r->nconds; j++) {
            for (size_t k = 0; k < r->conds[j].nvalues; k++)
                free(r->conds[j].values[k]);
            free(r->conds[j].values);
        }
        free(r->conds);
        free(r->name);
    }
    for (size_t i = 0; i < t->nterms; i++)
        free(t->terms[i].text);
    matcher_free(&t->m);
    free(t->terms);
    free(t->rules);
    free(t->cats);
    free(t->version);
    free(t);
}

/* ---- the automaton ---- */

static void assign_classes(struct voc_taxonomy *t)
{
    struct voc_tax_matcher *m = &t->m;
    memset(m->cls, 0, sizeof m->cls);
    m->nclasses = 1;
    for (size_t i = 0; i < t->nterms; i++)
        for (size_t k = 0; k < t->terms[i].len; k++) {
            unsigned char b = (unsigned char)t->terms[i].text[k];
            if (!m->cls[b])
                m->cls[b] = (uint8_t)m->nclasses++;
        }
}

/* The keyword trie; 0 in delta means "no edge" because no edge enters the root. */
static void build_trie(struct voc_taxonomy *t)
{
    struct voc_tax_matcher *m = &t->m;
    m->nstates = 1;
    for (size_t i = 0; i < t->nterms; i++) {
        uint32_t s = 0;
        for (size_t k = 0; k < t->terms[i].len; k++) {
            uint32_t *edge =
                &m->delta[(size_t)s * m->nclasses + m->cls[(unsigned char)t->terms[i].text[k]]];
            if (!*edge)
                *edge = m->nstates++;
            s = *edge;
        }
        t->terms[i].next = m->first_term[s];
        m->first_term[s] = (uint32_t)i + 1;
    }
}

/* Breadth-first: turns the trie into a full transition table and fills the
 * dictionary links, so the scan never has to follow failure links. */
static int link_states(struct voc_tax_matcher *m)
{
    uint32_t *fail = calloc(m->nstates, sizeof *fail);
    uint32_t *queue = malloc(m->nstates * sizeof *queue);
    size_t head = 0, tail = 0;
    if (!fail || !queue)
        goto fail;
    for (uint32_t c = 0; c < m->nclasses; c++)
        if (m->delta[c])
            queue[tail++] = m->delta[c];
    while (head < tail) {
        uint32_t r = queue[head++];
        uint32_t *row = &m->delta[(size_t)r * m->nclasses];
        const uint32_t *frow = &m->delta[(size_t)fail[r] * m->nclasses];
        for (uint32_t c = 0; c < m->nclasses; c++) {
            uint32_t u = row[c];
            if (!u) {
                row[c] = frow[c];
                continue;
            }
            fail[u] = frow[c];
            m->dict[u] = m->first_term[fail[u]] ? fail[u] : m->dict[fail[u]];
            queue[tail++] = u;
        }
    }
    free(fail);
    free(queue);
    return 0;
fail:
    free(fail);
    free(queue);
    return -1;
}

int voc_tax_matcher_build(struct voc_taxonomy *t)
{
    struct voc_tax_matcher *m = &t->m;
    size_t max_states = 1;
    for (size_t i = 0; i < t->nterms; i++)
        max_states += t->terms[i].len;
    if (max_states > UINT32_MAX / 256)
        return -1;
    assign_classes(t);
    m->delta = calloc(max_states * m->nclasses, sizeof *m->delta);
    m->first_term = calloc(max_states, sizeof *m->first_term);
    m->dict = calloc(max_states, sizeof *m->dict);
    if (!m->delta || !m->first_term || !m->dict)
        goto fail;
    build_trie(t);
    if (link_states(m) != 0)
        goto fail;
    /* Keywords share prefixes, so fewer states are used than were reserved. */
    uint32_t *fit = realloc(m->delta, (size_t)m->nstates * m->nclasses * sizeof *fit);
    if (fit)
        m->delta = fit;
    return 0;
fail:
    matcher_free(m);
    return -1;
}

/* ---- scanning ---- */

struct scan {
    int score[VOC_TAX_MAX_CATEGORIES];
    int sev_floor;
    int praise, complaint;
    uint32_t hits[MAX_HITS]; /* terms already counted: each counts once per text */
    size_t nhits;
};

static int latin_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Term k ends at text[end]; counts it if its word boundaries hold and it has
 * not been counted yet. */
static void hit(const struct voc_taxonomy *t, uint32_t k, const unsigned char *s, size_t n,
                size_t end, struct scan *sc)
{
    const struct voc_tax_term *term = &t->terms[k];
    size_t start = end + 1 - term->len;
    if (term->word_start && start > 0 && latin_alnum(s[start - 1]))
        return;
    if (term->word_end && end + 1 < n && latin_alnum(s[end + 1]))
        return;
    for (size_t i = 0; i < sc->nhits; i++)
        if (sc->hits[i] == k)
            return;
    if (sc->nhits == MAX_HITS)
        return;
    sc->hits[sc->nhits++] = k;
    switch (term->use) {
    case VOC_TAX_USE_CATEGORY:
        sc->score[term->target] += term->weight;
        break;
    case VOC_TAX_USE_SEVERITY:
        if (term->target > sc->sev_floor)
            sc->sev_floor = term->target;
        break;
    case VOC_TAX_USE_PRAISE:
        sc->praise += term->weight;
        break;
    default:
        sc->complaint += term->weight;
        break;
    }
}

static void scan_text(const struct voc_taxonomy *t, const unsigned char *s, size_t n,
                      struct scan *sc)
{
    const struct voc_tax_matcher *m = &t->m;
    uint32_t st = 0;
    for (size_t i = 0; i < n; i++) {
        st = m->delta[(size_t)st * m->nclasses + m->cls[s[i]]];
        for (uint32_t o = m->first_term[st] ? st : m->dict[st]; o; o = m->dict[o])
            for (uint32_t k = m->first_term[o]; k; k = t->terms[k - 1].next)
                hit(t, k - 1, s, n, i, sc);
    }
}

/* ---- decisions ---- */

static const char *field_value(const struct voc_event *ev, int f, const char *norm_text)
{
    size_t off = voc_tax_fields[f].offset;
    if (off != VOC_TAX_COMPUTED)
        return *(const char *const *)((const char *)ev + off);
    switch (f) {
    case VOC_TAX_FIELD_TEXT:
        return norm_text && *norm_text ? norm_text : NULL;
    case VOC_TAX_FIELD_TYPE:
        if (ev->type_name)
            return ev->type_name;
        return (unsigned)ev->type < VOC_EV_TYPE_COUNT ? type_names[ev->type] : NULL;
    default:
        return ev->rating_score >= 1 && ev->rating_score <= 5 ? scores[ev->rating_score - 1] : NULL;
    }
}

static int rule_matches(const struct voc_tax_rule *r, const struct voc_event *ev,
                        const char *norm_text)
{
    for (size_t i = 0; i < r->nconds; i++) {
        const struct voc_tax_cond *c = &r->conds[i];
        const char *v = field_value(ev, c->field, norm_text);
        if (c->mode == VOC_TAX_PRESENT || c->mode == VOC_TAX_ABSENT) {
            if ((v != NULL) != (c->mode == VOC_TAX_PRESENT))
                return 0;
            continue;
        }
        size_t k = 0;
        while (v && k < c->nvalues && strcmp(c->values[k], v) != 0)
            k++;
        if (!v || k == c->nvalues)
            return 0;
    }
    return 1;
}

/* Highest score at or above its own threshold; ties go to the earlier category. */
static int best_category(const struct voc_taxonomy *t, const struct scan *sc)
{
    int best = -1;
    for (size_t i = 0; i < t->ncats; i++) {
        int s = sc->score[i];
        if (s >= t->cats[i].threshold && (best < 0 || s > sc->score[best]))
            best = (int)i;
    }
    return best;
}

static int sev_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static const char *sentiment(const struct voc_taxonomy *t, const struct voc_event *ev,
                             const struct scan *sc)
{
    if (ev->type == VOC_EV_RATING) {
        if (ev->rating_score >= 1 && ev->rating_score <= t->rating_complaint_max)
            return "complaint";
        if (ev->rating_score >= t->rating_praise_min)
            return "praise";
        return "neutral";
    }
    if (ev->type == VOC_EV_COMPLAINT || ev->type == VOC_EV_TECH_ISSUE)
        return sc->praise > 0 && sc->praise - sc->complaint >= t->praise_margin ? "praise"
                                                                                : "complaint";
    return "neutral";
}

/* Floors (severity keywords, the reporter's issue.severity) first, then the
 * tier raise; praise is never urgent. */
static int final_severity(const struct voc_taxonomy *t, const struct voc_event *ev,
                          const struct scan *sc, int sev, const char *senti)
{
    if (strcmp(senti, "praise") == 0)
        return VOC_TAX_LOW;
    if (sc->sev_floor > sev)
        sev = sc->sev_floor;
    int issue = sev_index(ev->issue_severity, voc_tax_sev_names, VOC_TAX_NSEV);
    if (t->issue_floor && issue > sev)
        sev = issue;
    int tier = sev_index(ev->tier, voc_tax_tier_names, VOC_TAX_NTIER);
    if (tier > 0)
        sev += t->tier_raise[tier];
    if (sev < VOC_TAX_LOW)
        return VOC_TAX_LOW;
    return sev < VOC_TAX_CRITICAL ? sev : VOC_TAX_CRITICAL;
}

void voc_classify(const struct voc_taxonomy *t, const struct voc_event *ev, const char *norm_text,
                  struct voc_classification *out)
{
    struct scan sc;
    /* Only what this taxonomy uses: the struct is sized for the largest one. */
    memset(sc.score, 0, t->ncats * sizeof sc.score[0]);
    sc.sev_floor = -1;
    sc.praise = sc.complaint = 0;
    sc.nhits = 0;
    if (norm_text && *norm_text)
        scan_text(t, (const unsigned char *)norm_text, strlen(norm_text), &sc);
    int cat = -1, sev = t->sev_default;
    for (size_t i = 0; i < t->nrules && cat < 0; i++) {
        const struct voc_tax_rule *r = &t->rules[i];
        if (!rule_matches(r, ev, norm_text))
            continue;
        cat = r->category;
        sev = r->sev >= 0 ? r->sev : t->cats[cat].sev;
        snprintf(out->rule, sizeof out->rule, "field:%s", r->name);
    }
    if (cat < 0 && (cat = best_category(t, &sc)) >= 0) {
        sev = t->cats[cat].sev;
        snprintf(out->rule, sizeof out->rule, "keyword:%s(score=%d)", t->cats[cat].id,
                 sc.score[cat]);
    }
    if (cat < 0)
        snprintf(out->rule, sizeof out->rule, "none");
    out->dimension = cat >= 0 ? voc_tax_dim_names[t->cats[cat].dim] : "unclassified";
    out->category = cat >= 0 ? t->cats[cat].id : "unclassified";
    out->sentiment = sentiment(t, ev, &sc);
    out->severity = voc_tax_sev_names[final_severity(t, ev, &sc, sev, out->sentiment)];
}
