/* Service levels: looking up the policies of a loaded sla.yaml, and freeing
 * it. Loading is in sla_load*.c, the arithmetic in sla_calendar.c. */
#include <stdlib.h>
#include <string.h>

#include "sla_int.h"

const char *const sla_severity_names[SLA_NSEV + 1] = {"low", "medium", "high", "critical", NULL};
const char *const sla_tier_names[SLA_NTIER + 1] = {"standard", "vip", "svip", NULL};

static int index_of(const char *const *names, const char *s)
{
    for (int i = 0; s && names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static void calendar_free(struct voc_sla_calendar *c)
{
    for (int d = 0; d < 7; d++)
        free(c->week[d].r);
    free(c->name);
    free(c->timezone);
    free(c->holidays);
    free(c->workdays);
    free(c->at_ms);
    free(c->off_ms);
}

void voc_sla_free(struct voc_sla *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncals; i++)
        calendar_free(&s->cals[i]);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i].name);
    for (size_t i = 0; s->escalation && s->escalation[i]; i++)
        free(s->escalation[i]);
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->escalation);
    free(s->channels);
    free(s->cals);
    free(s->department);
    free(s->version);
    free(s);
}

const char *voc_sla_version(const struct voc_sla *s)
{
    return s->version;
}

const struct voc_sla_item_policy *voc_sla_item(const struct voc_sla *s, const char *severity)
{
    int i = index_of(sla_severity_names, severity);
    return i < 0 ? NULL : &s->items[i];
}

const struct voc_sla_case_policy *voc_sla_case(const struct voc_sla *s, const char *tier,
                                               const char *channel)
{
    int t = index_of(sla_tier_names, tier);
    if (t < 0)
        t = SLA_STANDARD;
    for (size_t i = 0; channel && i < s->nchannels; i++)
        if (strcmp(s->channels[i].name, channel) == 0)
            return &s->channels[i].tier[t];
    return &s->tiers[t];
}

const struct voc_sla_calendar *voc_sla_calendar_find(const struct voc_sla *s, const char *name)
{
    for (size_t i = 0; name && i < s->ncals; i++)
        if (strcmp(s->cals[i].name, name) == 0)
            return &s->cals[i];
    return NULL;
}

const char *voc_sla_calendar_name(const struct voc_sla_calendar *cal)
{
    return cal->name;
}
