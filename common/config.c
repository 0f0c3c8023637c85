/* Loading voc.yaml into struct voc_config, with environment overrides. */
#include "voc/config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "voc/yamlcfg.h"

const char *voc_config_default_dir(void)
{
    struct stat st;
    if (stat(VOC_SOURCE_CONFIG_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return VOC_SOURCE_CONFIG_DIR;
    return "/etc/vocloop";
}

static void kv_list_free(struct voc_kv_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int kv_list_set(struct voc_kv_list *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(l->items[i].value);
            l->items[i].value = v;
            return 0;
        }
    }
    struct voc_kv *items = realloc(l->items, (l->count + 1) * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    items[l->count].key = strdup(key);
    items[l->count].value = strdup(value);
    if (!items[l->count].key || !items[l->count].value) {
        free(items[l->count].key);
        free(items[l->count].value);
        return -1;
    }
    l->count++;
    return 0;
}

/* A `kafka*:` section: a flat map of librdkafka properties, passed through. */
static int read_kafka_map(struct voc_yaml *y, yaml_node_t *root, const char *section,
                          struct voc_kv_list *out, struct voc_diag *diag)
{
    yaml_node_t *map = voc_yaml_get(y, root, section);
    if (!map)
        return 0;
    if (voc_yaml_expect_map(y, map, section, NULL, diag) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < voc_yaml_map_len(map); i++) {
        int line;
        const char *key = voc_yaml_map_key(y, map, i, &line);
        const char *value = voc_yaml_str(voc_yaml_map_value(y, map, i));
        if (!key || !value) {
            voc_diag_add(diag, y->path, line, "%s: each entry must be 'property: value'", section);
            rc = -1;
        } else if (strstr(key, "password") || strstr(key, "secret")) {
            voc_diag_add(diag, y->path, line,
                         "%s: '%s' is a secret and does not belong in a config file", section, key);
            rc = -1;
        } else if (kv_list_set(out, key, value) < 0) {
            return -1;
        }
    }
    return rc;
}

static int read_topics(struct voc_yaml *y, yaml_node_t *root, struct voc_config *cfg,
                       struct voc_diag *diag)
{
    static const char *const keys[] = {"complaint",  "rating",     "tech_issue", "telemetry",
                                       "classified", "deadletter", "item",       "notification",
                                       "outreach",   "command",    NULL};
    char **slots[] = {&cfg->topics.complaint, &cfg->topics.rating,       &cfg->topics.tech_issue,
                      &cfg->topics.telemetry, &cfg->topics.classified,   &cfg->topics.deadletter,
                      &cfg->topics.item,      &cfg->topics.notification, &cfg->topics.outreach,
                      &cfg->topics.command};
    yaml_node_t *map = voc_yaml_get(y, root, "topics");
    if (!map)
        return 0;
    int rc = voc_yaml_expect_map(y, map, "topics", keys, diag);
    for (size_t i = 0; keys[i]; i++)
        if (voc_yaml_read_str(y, map, keys[i], false, slots[i], diag) < 0)
            rc = -1;
    return rc;
}

static int read_aggregate(struct voc_yaml *y, yaml_node_t *root, struct voc_aggregate_config *a,
                          struct voc_diag *diag)
{
    static const char *const keys[] = {"group_id",
                                       "batch_size",
                                       "flush_ms",
                                       "match_threshold",
                                       "regression_window_hours",
                                       "rollup_min_classrooms",
                                       "volume_high",
                                       "volume_critical",
                                       "vip_raise",
                                       "relay_interval_ms",
                                       NULL};
    yaml_node_t *n = voc_yaml_get(y, root, "aggregate");
    if (!n)
        return 0;
    int rc = voc_yaml_expect_map(y, n, "aggregate", keys, diag);
    rc |= voc_yaml_read_str(y, n, "group_id", false, &a->group_id, diag);
    rc |= voc_yaml_read_int(y, n, "batch_size", false, 1, 100000, &a->batch_size, diag);
    rc |= voc_yaml_read_int(y, n, "flush_ms", false, 1, 60000, &a->flush_ms, diag);
    rc |=
        voc_yaml_read_double(y, n, "match_threshold", false, 0.05, 1.0, &a->match_threshold, diag);
    rc |= voc_yaml_read_int(y, n, "regression_window_hours", false, 0, 24LL * 3650,
                            &a->regression_window_h, diag);
    rc |= voc_yaml_read_int(y, n, "rollup_min_classrooms", false, 2, 100000,
                            &a->rollup_min_classrooms, diag);
    rc |= voc_yaml_read_int(y, n, "volume_high", false, 1, 10000000, &a->volume_high, diag);
    rc |= voc_yaml_read_int(y, n, "volume_critical", false, 1, 10000000, &a->volume_critical, diag);
    rc |= voc_yaml_read_int(y, n, "vip_raise", false, 1, 10000000, &a->vip_raise, diag);
    rc |=
        voc_yaml_read_int(y, n, "relay_interval_ms", false, 1, 60000, &a->relay_interval_ms, diag);
    if (rc == 0 && a->volume_critical < a->volume_high) {
        voc_diag_add(diag, y->path, voc_yaml_line(n),
                     "aggregate: volume_critical (%lld) must not be below volume_high (%lld)",
                     a->volume_critical, a->volume_high);
        rc = -1;
    }
    return rc ? -1 : 0;
}

static int read_outreach(struct voc_yaml *y, yaml_node_t *root, struct voc_config *cfg,
                         struct voc_diag *diag)
{
    static const char *const keys[] = {"group_id", "batch_size", "flush_ms", NULL};
    yaml_node_t *n = voc_yaml_get(y, root, "outreach");
    if (!n)
        return 0;
    int rc = voc_yaml_expect_map(y, n, "outreach", keys, diag);
    rc |= voc_yaml_read_str(y, n, "group_id", false, &cfg->outreach.group_id, diag);
    rc |= voc_yaml_read_int(y, n, "batch_size", false, 1, 100000, &cfg->outreach.batch_size, diag);
    rc |= voc_yaml_read_int(y, n, "flush_ms", false, 1, 60000, &cfg->outreach.flush_ms, diag);
    return rc ? -1 : 0;
}

static int read_track(struct voc_yaml *y, yaml_node_t *root, struct voc_track_config *t,
                      struct voc_diag *diag)
{
    static const char *const keys[] = {
        "group_id",       "batch_size",        "flush_ms", "scan_interval_ms",
        "low_rating_max", "relay_interval_ms", NULL};
    yaml_node_t *n = voc_yaml_get(y, root, "track");
    if (!n)
        return 0;
    int rc = voc_yaml_expect_map(y, n, "track", keys, diag);
    rc |= voc_yaml_read_str(y, n, "group_id", false, &t->group_id, diag);
    rc |= voc_yaml_read_int(y, n, "batch_size", false, 1, 100000, &t->batch_size, diag);
    rc |= voc_yaml_read_int(y, n, "flush_ms", false, 1, 60000, &t->flush_ms, diag);
    rc |=
        voc_yaml_read_int(y, n, "scan_interval_ms", false, 10, 3600000, &t->scan_interval_ms, diag);
    rc |= voc_yaml_read_int(y, n, "low_rating_max", false, 1, 5, &t->low_rating_max, diag);
    rc |=
        voc_yaml_read_int(y, n, "relay_interval_ms", false, 1, 60000, &t->relay_interval_ms, diag);
    return rc ? -1 : 0;
}

static int read_notify(struct voc_yaml *y, yaml_node_t *root, struct voc_notify_config *c,
                       struct voc_diag *diag)
{
    static const char *const keys[] = {"group_id",       "batch_size",   "flush_ms",
                                       "group_wait_ms",  "max_attempts", "backoff_initial_ms",
                                       "backoff_max_ms", "timeout_ms",   NULL};
    yaml_node_t *n = voc_yaml_get(y, root, "notify");
    if (!n)
        return 0;
    int rc = voc_yaml_expect_map(y, n, "notify", keys, diag);
    rc |= voc_yaml_read_str(y, n, "group_id", false, &c->group_id, diag);
    rc |= voc_yaml_read_int(y, n, "batch_size", false, 1, 100000, &c->batch_size, diag);
    rc |= voc_yaml_read_int(y, n, "flush_ms", false, 1, 60000, &c->flush_ms, diag);
    rc |= voc_yaml_read_int(y, n, "group_wait_ms", false, 0, 3600000, &c->group_wait_ms, diag);
    rc |= voc_yaml_read_int(y, n, "max_attempts", false, 1, 100, &c->max_attempts, diag);
    rc |= voc_yaml_read_int(y, n, "backoff_initial_ms", false, 1, 3600000, &c->backoff_initial_ms,
                            diag);
    rc |= voc_yaml_read_int(y, n, "backoff_max_ms", false, 1, 86400000, &c->backoff_max_ms, diag);
    rc |= voc_yaml_read_int(y, n, "timeout_ms", false, 100, 600000, &c->timeout_ms, diag);
    if (rc == 0 && c->backoff_max_ms < c->backoff_initial_ms) {
        voc_diag_add(diag, y->path, voc_yaml_line(n),
                     "notify: backoff_max_ms (%lld) must not be below backoff_initial_ms (%lld)",
                     c->backoff_max_ms, c->backoff_initial_ms);
        rc = -1;
    }
    return rc ? -1 : 0;
}

static int read_sections(struct voc_yaml *y, yaml_node_t *root, struct voc_config *cfg,
                         struct voc_diag *diag)
{
    static const char *const ingest_keys[] = {"group_id", "batch_size", "flush_ms",
                                              "max_event_bytes", NULL};
    static const char *const pg_keys[] = {"dsn", NULL};
    static const char *const bus_keys[] = {"brokers", "partitions", NULL};
    static const char *const log_keys[] = {"level", NULL};
    int rc = 0;
    yaml_node_t *n;
    if ((n = voc_yaml_get(y, root, "ingest"))) {
        rc |= voc_yaml_expect_map(y, n, "ingest", ingest_keys, diag);
        rc |= voc_yaml_read_str(y, n, "group_id", false, &cfg->ingest.group_id, diag);
        rc |=
            voc_yaml_read_int(y, n, "batch_size", false, 1, 100000, &cfg->ingest.batch_size, diag);
        rc |= voc_yaml_read_int(y, n, "flush_ms", false, 1, 60000, &cfg->ingest.flush_ms, diag);
        rc |= voc_yaml_read_int(y, n, "max_event_bytes", false, 256, 16 << 20,
                                &cfg->ingest.max_event_bytes, diag);
    }
    if ((n = voc_yaml_get(y, root, "postgres"))) {
        rc |= voc_yaml_expect_map(y, n, "postgres", pg_keys, diag);
        rc |= voc_yaml_read_str(y, n, "dsn", false, &cfg->postgres.dsn, diag);
    }
    if ((n = voc_yaml_get(y, root, "bus"))) {
        rc |= voc_yaml_expect_map(y, n, "bus", bus_keys, diag);
        rc |= voc_yaml_read_int(y, n, "brokers", false, 1, 9, &cfg->bus.brokers, diag);
        rc |= voc_yaml_read_int(y, n, "partitions", false, 1, 1000, &cfg->bus.partitions, diag);
    }
    if ((n = voc_yaml_get(y, root, "log"))) {
        char *level = NULL;
        rc |= voc_yaml_expect_map(y, n, "log", log_keys, diag);
        if (voc_yaml_read_str(y, n, "level", false, &level, diag) < 0) {
            rc = -1;
        } else if (level) {
            int l = voc_log_level_parse(level);
            if (l < 0) {
                voc_diag_add(diag, y->path, voc_yaml_line(voc_yaml_get(y, n, "level")),
                             "log level must be debug, info, warn or error, not '%s'", level);
                rc = -1;
            } else {
                cfg->log_level = (enum voc_log_level)l;
            }
        }
        free(level);
    }
    return rc ? -1 : 0;
}

/* A dsn may name the user, host and database, never the password. */
static int dsn_has_password(const char *dsn)
{
    if (strstr(dsn, "password"))
        return 1;
    const char *scheme = strstr(dsn, "://");
    if (!scheme)
        return 0;
    const char *at = strchr(scheme + 3, '@');
    const char *colon = strchr(scheme + 3, ':');
    return at && colon && colon < at;
}

/* Sets *slot to a copy of value; counts a failed allocation in *failed. */
static void set_str(char **slot, const char *value, int *failed)
{
    *slot = strdup(value);
    if (!*slot)
        (*failed)++;
}

static char *path_in(const char *dir, const char *file)
{
    size_t len = strlen(dir) + strlen(file) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, file);
    return p;
}

static int set_defaults(struct voc_config *cfg, const char *dir)
{
    int failed = 0;
    set_str(&cfg->dir, dir, &failed);
    set_str(&cfg->topics.complaint, "voc.complaint", &failed);
    set_str(&cfg->topics.rating, "voc.rating", &failed);
    set_str(&cfg->topics.tech_issue, "voc.tech_issue", &failed);
    set_str(&cfg->topics.telemetry, "voc.telemetry", &failed);
    set_str(&cfg->topics.classified, "voc.classified", &failed);
    set_str(&cfg->topics.deadletter, "voc.deadletter", &failed);
    set_str(&cfg->topics.item, "voc.item", &failed);
    set_str(&cfg->topics.notification, "voc.notification", &failed);
    set_str(&cfg->topics.outreach, "voc.outreach", &failed);
    set_str(&cfg->topics.command, "voc.command", &failed);
    set_str(&cfg->ingest.group_id, "voc-ingest", &failed);
    cfg->ingest.batch_size = 500;
    cfg->ingest.flush_ms = 5;
    cfg->ingest.max_event_bytes = 65536;
    set_str(&cfg->outreach.group_id, "voc-outreach", &failed);
    cfg->outreach.batch_size = 2000;
    cfg->outreach.flush_ms = 5;
    set_str(&cfg->aggregate.group_id, "voc-aggregate", &failed);
    cfg->aggregate.batch_size = 200;
    cfg->aggregate.flush_ms = 5;
    cfg->aggregate.match_threshold = 0.85;
    cfg->aggregate.regression_window_h = 720;
    cfg->aggregate.rollup_min_classrooms = 2;
    cfg->aggregate.volume_high = 10;
    cfg->aggregate.volume_critical = 50;
    cfg->aggregate.vip_raise = 3;
    cfg->aggregate.relay_interval_ms = 200;
    set_str(&cfg->track.group_id, "voc-track", &failed);
    cfg->track.batch_size = 200;
    cfg->track.flush_ms = 5;
    cfg->track.scan_interval_ms = 1000;
    cfg->track.low_rating_max = 2;
    cfg->track.relay_interval_ms = 200;
    set_str(&cfg->notify.group_id, "voc-notify", &failed);
    cfg->notify.batch_size = 200;
    cfg->notify.flush_ms = 5;
    cfg->notify.group_wait_ms = 2000;
    cfg->notify.max_attempts = 6;
    cfg->notify.backoff_initial_ms = 1000;
    cfg->notify.backoff_max_ms = 300000;
    cfg->notify.timeout_ms = 10000;
    set_str(&cfg->postgres.dsn, "", &failed);
    cfg->bus.brokers = 3;
    cfg->bus.partitions = 12;
    cfg->log_level = VOC_LOG_INFO;
    if (!(cfg->taxonomy_path = path_in(dir, "taxonomy.yaml")))
        failed++;
    if (!(cfg->routing_path = path_in(dir, "routing.yaml")))
        failed++;
    if (!(cfg->outreach_path = path_in(dir, "outreach.yaml")))
        failed++;
    if (!(cfg->sla_path = path_in(dir, "sla.yaml")))
        failed++;
    if (!(cfg->notify_path = path_in(dir, "notify.yaml")))
        failed++;
    return failed ? -1 : 0;
}

static int apply_env(struct voc_config *cfg, const char *path, struct voc_diag *diag)
{
    const char *brokers = getenv("VOC_KAFKA_BROKERS");
    if (brokers && *brokers && kv_list_set(&cfg->kafka, "bootstrap.servers", brokers) < 0)
        return -1;
    const char *dsn = getenv("VOC_PG_DSN");
    if (dsn) {
        char *copy = strdup(dsn);
        if (!copy)
            return -1;
        free(cfg->postgres.dsn);
        cfg->postgres.dsn = copy;
    } else if (dsn_has_password(cfg->postgres.dsn)) {
        voc_diag_add(diag, path, 0,
                     "postgres.dsn holds a password: put it in PGPASSWORD or ~/.pgpass instead");
        return -1;
    }
    return 0;
}

int voc_config_load(const char *dir, struct voc_config *cfg, struct voc_diag *diag)
{
    static const char *const top_keys[] = {
        "kafka", "kafka_consumer", "kafka_producer", "topics", "ingest", "aggregate", "outreach",
        "track", "notify",         "postgres",       "bus",    "log",    NULL};
    char path[4096];
    struct voc_yaml y;
    int rc = -1;
    memset(cfg, 0, sizeof *cfg);
    if (set_defaults(cfg, dir) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/voc.yaml", dir);
    if (voc_yaml_load(&y, path, diag) < 0)
        goto done;
    yaml_node_t *root = voc_yaml_root(&y);
    if (root) {
        rc = voc_yaml_expect_map(&y, root, "the top level", top_keys, diag);
        rc |= read_kafka_map(&y, root, "kafka", &cfg->kafka, diag);
        rc |= read_kafka_map(&y, root, "kafka_consumer", &cfg->kafka_consumer, diag);
        rc |= read_kafka_map(&y, root, "kafka_producer", &cfg->kafka_producer, diag);
        rc |= read_topics(&y, root, cfg, diag);
        rc |= read_sections(&y, root, cfg, diag);
        rc |= read_aggregate(&y, root, &cfg->aggregate, diag);
        rc |= read_outreach(&y, root, cfg, diag);
        rc |= read_track(&y, root, &cfg->track, diag);
        rc |= read_notify(&y, root, &cfg->notify, diag);
    } else {
        rc = 0;
    }
    if (apply_env(cfg, path, diag) < 0)
        rc = -1;
done:
    voc_yaml_free(&y);
    return rc ? -1 : 0;
}

void voc_config_free(struct voc_config *cfg)
{
    kv_list_free(&cfg->kafka);
    kv_list_free(&cfg->kafka_consumer);
    kv_list_free(&cfg->kafka_producer);
    free(cfg->dir);
    free(cfg->topics.complaint);
    free(cfg->topics.rating);
    free(cfg->topics.tech_issue);
    free(cfg->topics.telemetry);
    free(cfg->topics.classified);
    free(cfg->topics.deadletter);
    free(cfg->topics.item);
    free(cfg->topics.notification);
    free(cfg->topics.outreach);
    free(cfg->topics.command);
    free(cfg->ingest.group_id);
    free(cfg->aggregate.group_id);
    free(cfg->routing_path);
    free(cfg->outreach_path);
    free(cfg->sla_path);
    free(cfg->notify_path);
    free(cfg->track.group_id);
    free(cfg->notify.group_id);
    free(cfg->outreach.group_id);
    free(cfg->postgres.dsn);
    free(cfg->taxonomy_path);
    memset(cfg, 0, sizeof *cfg);
}

const char *voc_config_kafka_get(const struct voc_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka.count; i++)
        if (strcmp(cfg->kafka.items[i].key, key) == 0)
            return cfg->kafka.items[i].value;
    return NULL;
}
