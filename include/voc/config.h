/* The service configuration: <dir>/voc.yaml, plus environment overrides.
 *
 *   VOC_KAFKA_BROKERS  overrides kafka: bootstrap.servers
 *   VOC_PG_DSN         overrides postgres: dsn (libpq's PG* variables apply too)
 *
 * Secrets never live in the file: a dsn with a password is refused (use
 * PGPASSWORD or ~/.pgpass). */
#ifndef VOC_CONFIG_H
#define VOC_CONFIG_H

#include <stddef.h>

#include "voc/diag.h"
#include "voc/log.h"

/* A librdkafka property, passed through as written. */
struct voc_kv {
    char *key;
    char *value;
};

struct voc_kv_list {
    struct voc_kv *items;
    size_t count;
};

struct voc_topics {
    char *complaint, *rating, *tech_issue, *telemetry, *classified, *deadletter;
    char *item, *notification, *outreach, *command; /* downstream of the outbox */
};

/* voc-aggregate: folding classified complaints into improvement items. */
struct voc_aggregate_config {
    char *group_id;
    long long batch_size, flush_ms;
    double match_threshold;          /* near-duplicate similarity to join an item */
    long long regression_window_h;   /* a resolved item reopens within this window */
    long long rollup_min_classrooms; /* classroom items on one line that make a line item */
    long long volume_high;           /* occurrences that make an item at least high */
    long long volume_critical;       /* ... at least critical */
    long long vip_raise;             /* VIP occurrences that raise severity one level */
    long long relay_interval_ms;     /* how often the outbox relay runs when idle */
};

/* voc-track's plumbing; policies and calendars live in sla.yaml. */
struct voc_track_config {
    char *group_id;
    long long batch_size, flush_ms;
    long long scan_interval_ms;  /* how often the SLA clock looks at open items and cases */
    long long low_rating_max;    /* a rating at or below this opens a customer case */
    long long relay_interval_ms; /* outbox relay cadence */
};

/* voc-notify's plumbing; targets live in notify.yaml, departments' targets in
 * routing.yaml. */
struct voc_notify_config {
    char *group_id;
    long long batch_size, flush_ms;
    long long group_wait_ms;      /* gather a department's notifications this long, send one */
    long long max_attempts;       /* then the notification is dead-lettered */
    long long backoff_initial_ms; /* first retry delay; doubles per attempt ... */
    long long backoff_max_ms;     /* ... up to this */
    long long timeout_ms;         /* one HTTP request, connect included */
};

struct voc_config {
    char *dir;                         /* the configuration directory it was loaded from */
    struct voc_kv_list kafka;          /* every client (incl. bootstrap.servers) */
    struct voc_kv_list kafka_consumer; /* consumers only */
    struct voc_kv_list kafka_producer; /* producers only */
    struct voc_topics topics;
    struct {
        char *group_id;
        long long batch_size;      /* events per database transaction */
        long long flush_ms;        /* flush a partial batch after this long */
        long long max_event_bytes; /* bigger messages are dead-lettered */
    } ingest;
    struct voc_aggregate_config aggregate;
    struct {
        char *group_id;
        long long batch_size, flush_ms;
    } outreach;                      /* voc-outreach's plumbing; thresholds live in outreach.yaml */
    struct voc_track_config track;   /* voc-track: SLA clock, commands, cases */
    struct voc_notify_config notify; /* voc-notify: webhook delivery */
    struct {
        char *dsn; /* libpq conninfo; "" = PG* environment */
    } postgres;
    struct {
        long long brokers;
        long long partitions;
    } bus;
    enum voc_log_level log_level;
    char *taxonomy_path; /* <dir>/taxonomy.yaml */
    char *routing_path;  /* <dir>/routing.yaml */
    char *outreach_path; /* <dir>/outreach.yaml */
    char *sla_path;      /* <dir>/sla.yaml */
    char *notify_path;   /* <dir>/notify.yaml */
};

/* The default --config directory: the source tree's deploy/config when it
 * exists (a developer's build), else /etc/vocloop. */
const char *voc_config_default_dir(void);

/* Loads <dir>/voc.yaml. Every problem goes to diag; returns -1 if any. */
int voc_config_load(const char *dir, struct voc_config *cfg, struct voc_diag *diag);
void voc_config_free(struct voc_config *cfg);

/* Returns the value of a kafka property (from the common map), or NULL. */
const char *voc_config_kafka_get(const struct voc_config *cfg, const char *key);

#endif
