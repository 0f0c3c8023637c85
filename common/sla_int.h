/* Internals of the SLA module, shared by its files: sla.c (lookups),
 * sla_load.c and sla_load_cal.c (reading sla.yaml), sla_zone.c (a time
 * zone's UTC offsets) and sla_calendar.c (business-time arithmetic). */
#ifndef VOC_SLA_INT_H
#define VOC_SLA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "voc/sla.h"
#include "voc/yamlcfg.h"

#define SLA_DAY_MS  86400000LL
#define SLA_MAX_ID  64
#define SLA_ZONEDIR "/usr/share/zoneinfo"

/* An open range of a day: ms after local midnight, from < to <= SLA_DAY_MS. */
struct sla_range {
    int64_t from, to;
};

struct sla_hours {
    struct sla_range *r; /* sorted, not overlapping */
    size_t n;
};

struct voc_sla_calendar {
    char *name;
    int line;
    bool always_open;
    char *timezone;
    struct sla_hours week[7]; /* Monday first */
    /* Local dates as day numbers (days since 1970-01-01), sorted. */
    int64_t *holidays, *workdays;
    size_t nholidays, nworkdays;
    /* The zone's UTC offset (local = utc + off): off_ms[i] holds from at_ms[i]
     * (at_ms[0] = INT64_MIN) up to at_ms[i + 1]. */
    int64_t *at_ms, *off_ms;
    size_t nzone;
};

enum { SLA_LOW, SLA_MEDIUM, SLA_HIGH, SLA_CRITICAL, SLA_NSEV };
enum { SLA_STANDARD, SLA_VIP, SLA_SVIP, SLA_NTIER };

extern const char *const sla_severity_names[SLA_NSEV + 1]; /* NULL-terminated */
extern const char *const sla_tier_names[SLA_NTIER + 1];

/* The case policies of one channel, per tier. */
struct sla_channel {
    char *name;
    struct voc_sla_case_policy tier[SLA_NTIER];
};

struct voc_sla {
    char *version;
    struct voc_sla_calendar *cals;
    size_t ncals;
    struct voc_sla_item_policy items[SLA_NSEV];
    struct voc_sla_case_policy tiers[SLA_NTIER];
    struct sla_channel *channels;
    size_t nchannels;
    char **escalation; /* cases' chain, NULL-terminated */
    char *department;
    void **owned; /* escalation interval arrays, shared between policies */
    size_t nowned, capowned;
};

/* One run of the loader. */
struct sla_loader {
    struct voc_yaml y;
    struct voc_diag *diag;
    struct voc_sla *s;
    bool bad;
};

void sla_err(struct sla_loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool sla_valid_id(const char *s);
/* Reads root.calendars into L->s->cals (sla_load_cal.c). */
void sla_load_calendars(struct sla_loader *L, yaml_node_t *root);

/* Day number of a proleptic Gregorian date (1970-01-01 = 0). */
int64_t sla_days_from_civil(int64_t y, int m, int d);
/* Checks that zone names a TZif file under SLA_ZONEDIR and fills cal's
 * offset table from it. Returns 0, or -1 with *why set to a static reason. */
int sla_zone_build(struct voc_sla_calendar *cal, const char *zone, const char **why);

#endif
