/* Reading the calendars of sla.yaml: time zone, weekly open hours, holidays
 * and make-up workdays (format: the comment at the top of
 * deploy/config/sla.yaml). Every problem is reported with its line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sla_int.h"

#define MIN_MS       60000LL
#define MAX_SPAN_DAY 366 /* longest holiday range "from/to" */

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

/* A date as read, with its line for messages. */
struct dated {
    int64_t day;
    int line;
};

struct dates {
    struct dated *v;
    size_t n, cap;
};

static int day_index(const char *s, size_t len)
{
    for (int i = 0; day_names[i]; i++)
        if (len == 3 && strncmp(day_names[i], s, 3) == 0)
            return i;
    return -1;
}

/* "mon" or "mon-fri" (first <= last). */
static bool parse_days(const char *k, int *first, int *last)
{
    const char *dash = strchr(k, '-');
    *first = day_index(k, dash ? (size_t)(dash - k) : strlen(k));
    *last = dash ? day_index(dash + 1, strlen(dash + 1)) : *first;
    return *first >= 0 && *last >= *first;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "HH:MM" at s into ms after midnight; 24:00 only as an end. */
static bool parse_hhmm(const char *s, bool end, int64_t *ms)
{
    if (!digits(s, 2) || s[2] != ':' || !digits(s + 3, 2))
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
        return false;
    *ms = (h * 60 + m) * MIN_MS;
    return true;
}

static bool parse_range(const char *s, struct sla_range *r)
{
    return strlen(s) == 11 && s[5] == '-' && parse_hhmm(s, false, &r->from) &&
           parse_hhmm(s + 6, true, &r->to);
}

/* One list of "HH:MM-HH:MM" into h, sorted; overlaps refused. */
static int load_ranges(struct sla_loader *L, yaml_node_t *v, const char *what, struct sla_hours *h)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        sla_err(L, voc_yaml_line(v), "%s: the hours of a day must be a list like [\"09:00-18:00\"]",
                what);
        return -1;
    }
    size_t n = voc_yaml_seq_len(v);
    const char **text = calloc(n ? n : 1, sizeof *text);
    h->r = calloc(n ? n : 1, sizeof *h->r);
    int *line = calloc(n ? n : 1, sizeof *line);
    int rc = text && h->r && line ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        yaml_node_t *item = voc_yaml_seq_item(&L->y, v, i);
        const char *s = voc_yaml_str(item);
        struct sla_range r;
        if (!s || !parse_range(s, &r)) {
            sla_err(L, voc_yaml_line(item), "%s: '%s' is not a range like 09:00-18:00", what,
                    s ? s : "(not a value)");
            continue;
        }
        if (r.to <= r.from) {
            sla_err(L, voc_yaml_line(item),
                    "%s: %s ends before it starts (a range cannot cross midnight)", what, s);
            continue;
        }
        /* Insertion by start: days have a handful of ranges. */
        size_t k = h->n++;
        for (; k > 0 && h->r[k - 1].from > r.from; k--) {
            h->r[k] = h->r[k - 1];
            text[k] = text[k - 1];
            line[k] = line[k - 1];
        }
        h->r[k] = r;
        text[k] = s;
        line[k] = voc_yaml_line(item);
    }
    for (size_t k = 1; rc == 0 && k < h->n; k++)
        if (h->r[k].from < h->r[k - 1].to)
            sla_err(L, line[k] > line[k - 1] ? line[k] : line[k - 1], "%s: %s overlaps %s", what,
                    text[k], text[k - 1]);
    if (rc != 0)
        sla_err(L, voc_yaml_line(v), "out of memory");
    free(text);
    free(line);
    return rc;
}

static void load_hours(struct sla_loader *L, struct voc_sla_calendar *c, yaml_node_t *hours,
                       const char *what)
{
    if (voc_yaml_expect_map(&L->y, hours, "hours", NULL, L->diag) != 0) {
        L->bad = true;
        return;
    }
    int defined[7] = {0};
    for (size_t i = 0; i < voc_yaml_map_len(hours); i++) {
        int line, first, last;
        const char *k = voc_yaml_map_key(&L->y, hours, i, &line);
        if (!k || !parse_days(k, &first, &last)) {
            sla_err(L, line, "%s: '%s' is not a day (mon ... sun) or a range of days like mon-fri",
                    what, k ? k : "?");
            continue;
        }
        struct sla_hours h = {0};
        if (load_ranges(L, voc_yaml_map_value(&L->y, hours, i), what, &h) == 0) {
            for (int d = first; d <= last; d++) {
                if (defined[d]) {
                    sla_err(L, line, "%s: %s is given twice (also at line %d)", what, day_names[d],
                            defined[d]);
                    continue;
                }
                defined[d] = line;
                c->week[d].r = malloc((h.n ? h.n : 1) * sizeof *h.r);
                if (!c->week[d].r) {
                    sla_err(L, line, "out of memory");
                    break;
                }
                memcpy(c->week[d].r, h.r, h.n * sizeof *h.r);
                c->week[d].n = h.n;
            }
        }
        free(h.r);
    }
}

/* "YYYY-MM-DD", a real date from 1970 to 9999. */
static bool parse_date(const char *s, int64_t *day)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return false;
    int y = atoi(s), m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return false;
    *day = sla_days_from_civil(y, m, d);
    return true;
}

/* "YYYY-MM-DD" or an inclusive range "YYYY-MM-DD/YYYY-MM-DD". */
static bool parse_dates(const char *s, int64_t *from, int64_t *to)
{
    size_t n = strlen(s);
    if (n == 10)
        return parse_date(s, from) && (*to = *from, true);
    return n == 21 && s[10] == '/' && parse_date(s, from) && parse_date(s + 11, to) &&
           *to >= *from && *to - *from < MAX_SPAN_DAY;
}

static int cmp_dated(const void *a, const void *b)
{
    const struct dated *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static void day_text(int64_t day, char *buf, size_t len)
{
    voc_sla_format_ms(day * SLA_DAY_MS, buf, len);
    if (len > 10)
        buf[10] = '\0';
}

static void load_dates(struct sla_loader *L, yaml_node_t *cal, const char *key, const char *what,
                       struct dates *out)
{
    yaml_node_t *v = voc_yaml_get(&L->y, cal, key);
    if (!v || voc_yaml_expect_seq(&L->y, v, key, L->diag) != 0) {
        L->bad |= v != NULL;
        return;
    }
    for (size_t i = 0; i < voc_yaml_seq_len(v); i++) {
        yaml_node_t *item = voc_yaml_seq_item(&L->y, v, i);
        const char *s = voc_yaml_str(item);
        int64_t from, to;
        if (!s || !parse_dates(s, &from, &to)) {
            sla_err(L, voc_yaml_line(item),
                    "%s: '%s' in %s is not a date like 2026-10-01 or a range like "
                    "2026-10-01/2026-10-07 (at most %d days)",
                    what, s ? s : "(not a value)", key, MAX_SPAN_DAY);
            continue;
        }
        for (int64_t d = from; d <= to; d++) {
            if (out->n == out->cap) {
                size_t ncap = out->cap ? out->cap * 2 : 32;
                struct dated *nv = realloc(out->v, ncap * sizeof *nv);
                if (!nv) {
                    sla_err(L, voc_yaml_line(item), "out of memory");
                    return;
                }
                out->v = nv;
                out->cap = ncap;
            }
            out->v[out->n++] = (struct dated){d, voc_yaml_line(item)};
        }
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_dated);
    for (size_t i = 1; i < out->n; i++)
        if (out->v[i].day == out->v[i - 1].day) {
            char buf[32];
            day_text(out->v[i].day, buf, sizeof buf);
            sla_err(L, out->v[i].line, "%s: %s is listed twice in %s (also at line %d)", what, buf,
                    key, out->v[i - 1].line);
        }
}

/* A make-up workday must be a day that would otherwise be closed, and not a
 * holiday as well: either would be a typo that moves deadlines. */
static void check_workdays(struct sla_loader *L, const struct voc_sla_calendar *c,
                           const struct dates *hol, const struct dates *work, const char *what)
{
    for (size_t i = 0; i < work->n; i++) {
        char buf[32];
        int64_t day = work->v[i].day;
        int wd = (int)((day % 7 + 7 + 3) % 7);
        day_text(day, buf, sizeof buf);
        bool holiday = false;
        for (size_t k = 0; k < hol->n && !holiday; k++)
            holiday = hol->v[k].day == day;
        if (holiday)
            sla_err(L, work->v[i].line, "%s: %s is both a holiday and a workday", what, buf);
        else if (c->week[wd].n)
            sla_err(L, work->v[i].line,
                    "%s: workday %s is a %s, which has open hours already: a make-up workday is a "
                    "day otherwise closed",
                    what, buf, day_names[wd]);
        else if (!c->week[0].n)
            sla_err(L, work->v[i].line,
                    "%s: workday %s would open with Monday's hours, and mon has none", what, buf);
    }
}

static int64_t *day_numbers(struct sla_loader *L, const struct dates *d, int line, size_t *n)
{
    int64_t *v = malloc((d->n ? d->n : 1) * sizeof *v);
    if (!v) {
        sla_err(L, line, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++)
        v[i] = d->v[i].day;
    *n = d->n;
    return v;
}

/* Hours, holidays and workdays of a calendar that is not always open. */
static void load_business(struct sla_loader *L, struct voc_sla_calendar *c, yaml_node_t *v,
                          const char *what)
{
    yaml_node_t *hours = voc_yaml_get(&L->y, v, "hours");
    if (hours)
        load_hours(L, c, hours, what);
    bool open = false;
    for (int d = 0; d < 7; d++)
        open |= c->week[d].n > 0;
    if (!open)
        sla_err(L, c->line,
                "%s has no open hours: every deadline on it would never come (give hours, or "
                "always_open: true)",
                what);
    struct dates hol = {0}, work = {0};
    load_dates(L, v, "holidays", what, &hol);
    load_dates(L, v, "workdays", what, &work);
    check_workdays(L, c, &hol, &work, what);
    c->holidays = day_numbers(L, &hol, c->line, &c->nholidays);
    c->workdays = day_numbers(L, &work, c->line, &c->nworkdays);
    free(hol.v);
    free(work.v);
}

static void load_zone(struct sla_loader *L, struct voc_sla_calendar *c, yaml_node_t *v,
                      const char *what)
{
    if (voc_yaml_read_str(&L->y, v, "timezone", false, &c->timezone, L->diag) != 0) {
        L->bad = true;
        return;
    }
    if (!c->timezone && !(c->timezone = strdup("Asia/Shanghai"))) {
        sla_err(L, c->line, "out of memory");
        return;
    }
    const char *why;
    yaml_node_t *tz = voc_yaml_get(&L->y, v, "timezone");
    if (sla_zone_build(c, c->timezone, &why) != 0)
        sla_err(L, voc_yaml_line(tz ? tz : v), "%s: unknown time zone '%s' (%s)", what, c->timezone,
                why);
}

static void load_calendar(struct sla_loader *L, struct voc_sla_calendar *c, yaml_node_t *map,
                          size_t i)
{
    static const char *const keys[] = {"timezone", "always_open", "hours",
                                       "holidays", "workdays",    NULL};
    static const char *const business_keys[] = {"hours", "holidays", "workdays", NULL};
    const char *id = voc_yaml_map_key(&L->y, map, i, &c->line);
    yaml_node_t *v = voc_yaml_map_value(&L->y, map, i);
    char what[SLA_MAX_ID + 16];
    snprintf(what, sizeof what, "calendar '%.*s'", SLA_MAX_ID, id ? id : "?");
    if (!(c->name = strdup(id ? id : "")))
        sla_err(L, c->line, "out of memory");
    else if (!sla_valid_id(c->name))
        sla_err(L, c->line, "calendar name '%s' must be 1-%d characters of a-z, 0-9, '_' and '-'",
                c->name, SLA_MAX_ID);
    if (voc_yaml_expect_map(&L->y, v, what, keys, L->diag) != 0) {
        L->bad = true;
        if (v->type != YAML_MAPPING_NODE)
            return;
    }
    if (voc_yaml_read_bool(&L->y, v, "always_open", false, &c->always_open, L->diag) != 0)
        L->bad = true;
    if (!c->always_open || voc_yaml_get(&L->y, v, "timezone"))
        load_zone(L, c, v, what);
    if (!c->always_open) {
        load_business(L, c, v, what);
        return;
    }
    for (int k = 0; business_keys[k]; k++) {
        yaml_node_t *n = voc_yaml_get(&L->y, v, business_keys[k]);
        if (n)
            sla_err(L, voc_yaml_line(n), "%s: '%s' means nothing when always_open is true", what,
                    business_keys[k]);
    }
}

void sla_load_calendars(struct sla_loader *L, yaml_node_t *root)
{
    yaml_node_t *map = voc_yaml_get(&L->y, root, "calendars");
    if (!map) {
        sla_err(L, voc_yaml_line(root), "missing required key 'calendars'");
        return;
    }
    if (voc_yaml_expect_map(&L->y, map, "calendars", NULL, L->diag) != 0) {
        L->bad = true;
        return;
    }
    size_t n = voc_yaml_map_len(map);
    if (n == 0) {
        sla_err(L, voc_yaml_line(map), "no calendars: every policy names one");
        return;
    }
    if (!(L->s->cals = calloc(n, sizeof *L->s->cals))) {
        sla_err(L, voc_yaml_line(map), "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_calendar(L, &L->s->cals[L->s->ncals++], map, i);
}
