/* Business-time arithmetic on a calendar: the open pieces of the UTC time
 * line, walked forward piece by piece (an open range of a day, cut where the
 * zone's offset changes or a pause starts), never minute by minute. A piece
 * is open when the office clock, in the calendar's zone, shows open hours of
 * that local day: a spring-forward gap inside open hours is an hour less, a
 * fall-back overlap an hour more, as the people at work live it. */
#include <stdio.h>
#include <time.h>

#include "sla_int.h"

/* Far enough for any real deadline, near enough that day arithmetic in ms
 * cannot overflow: from here on, never. */
#define SLA_T_MAX (INT64_MAX / 4)

static const struct sla_hours closed_day = {NULL, 0};

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* Howard Hinnant's days_from_civil. */
int64_t sla_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool in_sorted(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Holidays close the whole day; make-up workdays open with Monday's hours. */
static const struct sla_hours *day_hours(const struct voc_sla_calendar *c, int64_t day)
{
    if (in_sorted(c->holidays, c->nholidays, day))
        return &closed_day;
    if (in_sorted(c->workdays, c->nworkdays, day))
        return &c->week[0];
    int64_t wd = (day % 7 + 7 + 3) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
    return &c->week[wd];
}

static bool has_hours(const struct voc_sla_calendar *c)
{
    for (int i = 0; i < 7; i++)
        if (c->week[i].n)
            return true;
    return false;
}

/* Index of the offset period holding t. */
static size_t zone_index(const struct voc_sla_calendar *c, int64_t t)
{
    size_t lo = 0, hi = c->nzone; /* at_ms[0] = INT64_MIN <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->at_ms[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The first open instant in [t, zend) under offset off, *end the end of its
 * piece (at most zend); INT64_MAX when the period has none. */
static int64_t open_in_period(const struct voc_sla_calendar *c, int64_t t, int64_t off,
                              int64_t zend, int64_t *end)
{
    int64_t local = t + off;
    for (int64_t day = floordiv(local, SLA_DAY_MS);; day++) {
        int64_t base = day * SLA_DAY_MS;
        if (base >= SLA_T_MAX || base - off >= zend)
            return INT64_MAX;
        const struct sla_hours *h = day_hours(c, day);
        for (size_t i = 0; i < h->n; i++) {
            int64_t lo = base + h->r[i].from, hi = base + h->r[i].to;
            if (hi <= local)
                continue;
            int64_t s = (lo > local ? lo : local) - off;
            if (s >= zend)
                return INT64_MAX;
            *end = hi - off < zend ? hi - off : zend;
            return s;
        }
    }
}

/* The first open instant at or after t and the end of its piece; INT64_MAX
 * when there is none. Terminates: with any weekly hours, an open day comes
 * within a week of the last listed holiday. */
static int64_t next_open(const struct voc_sla_calendar *c, int64_t t, int64_t *end)
{
    if (c->always_open) {
        *end = INT64_MAX;
        return t;
    }
    if (!has_hours(c) || c->nzone == 0)
        return INT64_MAX;
    if (t < -SLA_T_MAX)
        t = -SLA_T_MAX;
    while (t < SLA_T_MAX) {
        size_t z = zone_index(c, t);
        int64_t zend = z + 1 < c->nzone ? c->at_ms[z + 1] : SLA_T_MAX;
        int64_t s = open_in_period(c, t, c->off_ms[z], zend, end);
        if (s != INT64_MAX)
            return s;
        t = zend;
    }
    return INT64_MAX;
}

/* t, or the end of the pauses covering it (chains of overlapping pauses
 * included). */
static int64_t pause_skip(const struct voc_sla_pause *p, size_t n, int64_t t)
{
    bool moved = true;
    while (moved && t != INT64_MAX) {
        moved = false;
        for (size_t i = 0; i < n; i++)
            if (p[i].from_ms <= t && t < p[i].to_ms) {
                t = p[i].to_ms;
                moved = true;
            }
    }
    return t;
}

/* The first pause start after t (INT64_MAX if none). */
static int64_t pause_next(const struct voc_sla_pause *p, size_t n, int64_t t)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (p[i].from_ms > t && p[i].from_ms < p[i].to_ms && p[i].from_ms < next)
            next = p[i].from_ms;
    return next;
}

/* The first instant at or after t when the clock runs, and *end the end of
 * that running piece; INT64_MAX when the clock never runs again. */
static int64_t running_from(const struct voc_sla_calendar *c, int64_t t,
                            const struct voc_sla_pause *p, size_t np, int64_t *end)
{
    for (;;) {
        int64_t e, s = next_open(c, t, &e);
        if (s == INT64_MAX)
            return INT64_MAX;
        int64_t after = pause_skip(p, np, s);
        if (after == s) {
            int64_t ps = pause_next(p, np, s);
            *end = ps < e ? ps : e;
            return s;
        }
        if (after == INT64_MAX)
            return INT64_MAX;
        t = after;
    }
}

int64_t voc_sla_add(const struct voc_sla_calendar *cal, int64_t start_ms, int64_t budget_ms,
                    const struct voc_sla_pause *pauses, size_t npauses)
{
    if (budget_ms <= 0 || start_ms == INT64_MAX)
        return start_ms;
    int64_t t = start_ms, left = budget_ms;
    for (;;) {
        int64_t end, s = running_from(cal, t, pauses, npauses, &end);
        if (s == INT64_MAX)
            return INT64_MAX;
        if (end == INT64_MAX || end - s >= left)
            return s > INT64_MAX - left ? INT64_MAX : s + left;
        left -= end - s;
        t = end;
    }
}

int64_t voc_sla_elapsed(const struct voc_sla_calendar *cal, int64_t from_ms, int64_t to_ms,
                        const struct voc_sla_pause *pauses, size_t npauses)
{
    /* Clamped so that the sum cannot overflow. */
    int64_t sum = 0, t = from_ms < -SLA_T_MAX ? -SLA_T_MAX : from_ms;
    if (to_ms > SLA_T_MAX)
        to_ms = SLA_T_MAX;
    while (t < to_ms) {
        int64_t end, s = running_from(cal, t, pauses, npauses, &end);
        if (s >= to_ms)
            break;
        if (end > to_ms)
            end = to_ms;
        sum += end - s;
        t = end;
    }
    return sum;
}

void voc_sla_clock_due(const struct voc_sla_calendar *cal, const struct voc_sla_clock *clock,
                       int64_t start_ms, const struct voc_sla_pause *pauses, size_t npauses,
                       size_t nlevels, int64_t *out)
{
    for (size_t i = 0; i < 2 + nlevels; i++)
        out[i] = INT64_MAX;
    if (clock->budget_ms <= 0)
        return;
    if (clock->remind_at > 0) {
        /* Truncated to the ms, so every reader derives the same instant. */
        int64_t share = (int64_t)((double)clock->budget_ms * clock->remind_at);
        out[0] = voc_sla_add(cal, start_ms, share, pauses, npauses);
    }
    int64_t at = voc_sla_add(cal, start_ms, clock->budget_ms, pauses, npauses);
    out[1] = at;
    for (size_t l = 0; l < nlevels && clock->nescalate > 0 && at != INT64_MAX; l++) {
        size_t k = l < clock->nescalate ? l : clock->nescalate - 1;
        at = voc_sla_add(cal, at, clock->escalate_ms[k], pauses, npauses);
        out[2 + l] = at;
    }
}

void voc_sla_format_ms(int64_t ms, char *buf, size_t len)
{
    int64_t sec = floordiv(ms, 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    /* PostgreSQL's timestamptz reads "infinity": what a never-due deadline is. */
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(buf, len, "%s", ms > 0 ? "infinity" : "-infinity");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
