/* A time zone's UTC offsets, as a table of transitions built once at load.
 *
 * The C library is the only tz reader we have, and it reads the zone named
 * by the process-wide TZ variable. So the loader sets TZ to the zone's file,
 * asks localtime_r for the offset day by day from 1970 to 2100 (bisecting to
 * the second where it changes), and restores TZ. That happens only inside
 * voc_sla_load, which runs at start-up or on SIGHUP in the main thread of a
 * service (voc-track is single-threaded; librdkafka's threads read no local
 * time). After load every computation uses the table only: pure, fast and
 * safe from any thread, and daylight saving comes out of the zone's real
 * rules. Times before 1970 get the 1970 offset, after 2100 the 2100 one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sla_int.h"

#define ZONE_FROM_S 0LL          /* 1970-01-01T00:00:00Z */
#define ZONE_TO_S   4102444800LL /* 2100-01-01T00:00:00Z */
#define STEP_S      86400LL

/* Names as in the tz database: letters, digits, '/', '_', '-', '+', and no
 * way out of the zone directory. */
static bool zone_name_ok(const char *z)
{
    if (!z[0] || z[0] == '/' || strstr(z, "..") || strlen(z) > 128)
        return false;
    for (const char *p = z; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '-' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

/* A regular file starting with the TZif magic: anything else would make the
 * C library fall back to UTC without a word. */
static bool zone_file_ok(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[4];
    bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

static long offset_at(long long s)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return tm.tm_gmtoff;
}

static int push(struct voc_sla_calendar *c, size_t *cap, int64_t at_ms, int64_t off_ms)
{
    if (c->nzone == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        int64_t *a = realloc(c->at_ms, ncap * sizeof *a);
        if (!a)
            return -1;
        c->at_ms = a;
        int64_t *o = realloc(c->off_ms, ncap * sizeof *o);
        if (!o)
            return -1;
        c->off_ms = o;
        *cap = ncap;
    }
    c->at_ms[c->nzone] = at_ms;
    c->off_ms[c->nzone++] = off_ms;
    return 0;
}

/* The table, under the TZ the caller has set. */
static int scan(struct voc_sla_calendar *c)
{
    size_t cap = 0;
    long cur = offset_at(ZONE_FROM_S);
    if (push(c, &cap, INT64_MIN, (int64_t)cur * 1000) != 0)
        return -1;
    for (long long t = ZONE_FROM_S + STEP_S; t <= ZONE_TO_S; t += STEP_S) {
        long off = offset_at(t);
        if (off == cur)
            continue;
        /* The first second with the new offset, in (t - STEP_S, t]. */
        long long lo = t - STEP_S, hi = t;
        while (hi - lo > 1) {
            long long mid = lo + (hi - lo) / 2;
            if (offset_at(mid) == cur)
                lo = mid;
            else
                hi = mid;
        }
        if (push(c, &cap, hi * 1000, (int64_t)off * 1000) != 0)
            return -1;
        cur = off;
    }
    return 0;
}

int sla_zone_build(struct voc_sla_calendar *cal, const char *zone, const char **why)
{
    char path[256], tz[260];
    if (!zone_name_ok(zone)) {
        *why = "not a time zone name";
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", SLA_ZONEDIR, zone);
    if (!zone_file_ok(path)) {
        *why = "no such zone under " SLA_ZONEDIR;
        return -1;
    }
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved) {
        *why = "out of memory";
        return -1;
    }
    /* ":path" makes the C library read exactly the file checked above. */
    snprintf(tz, sizeof tz, ":%s", path);
    int rc = setenv("TZ", tz, 1);
    if (rc == 0) {
        tzset();
        rc = scan(cal);
    }
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    if (rc != 0)
        *why = "out of memory";
    return rc;
}
