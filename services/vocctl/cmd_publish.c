/* vocctl publish TOPIC|auto FILE|-: send NDJSON events, one per line.
 *
 * Lines are sent byte for byte, valid or not (that is how a person tests the
 * dead-letter path). Keys follow the design: telemetry by classroom, other
 * events by customer (so one customer's events stay in order), else event id.
 * TOPIC "auto" sends each event to the configured topic for its type. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/config.h"
#include "voc/kafka.h"
#include "voc/log.h"
#include "vocctl.h"

static const char *key_of(json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type && strcmp(type, "telemetry") == 0)
        return json_string_value(json_object_get(ev, "classroom_id"));
    const char *customer =
        json_string_value(json_object_get(json_object_get(ev, "customer"), "id"));
    return customer ? customer : json_string_value(json_object_get(ev, "event_id"));
}

static const char *topic_for_type(const struct voc_config *cfg, const char *type)
{
    if (type && strcmp(type, "rating") == 0)
        return cfg->topics.rating;
    if (type && strcmp(type, "tech_issue") == 0)
        return cfg->topics.tech_issue;
    if (type && strcmp(type, "telemetry") == 0)
        return cfg->topics.telemetry;
    return cfg->topics.complaint;
}

static int publish_line(rd_kafka_t *p, struct voc_produce_tracker *t, const struct voc_config *cfg,
                        const char *topic, const char *line, size_t len)
{
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *key = ev ? key_of(ev) : NULL;
    const char *dest = topic;
    if (strcmp(topic, "auto") == 0)
        dest = topic_for_type(cfg, ev ? json_string_value(json_object_get(ev, "type")) : NULL);
    int rc = voc_kafka_produce(p, t, dest, key, key ? strlen(key) : 0, line, len);
    json_decref(ev);
    return rc;
}

int vocctl_publish(int argc, char **argv, const char *config_dir)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vocctl publish TOPIC|auto FILE|-\n");
        return 2;
    }
    struct voc_config cfg;
    struct voc_diag diag = {0};
    int rc = voc_config_load(config_dir, &cfg, &diag);
    voc_diag_print(&diag, stderr);
    voc_diag_free(&diag);
    if (rc < 0) {
        voc_config_free(&cfg);
        return 2;
    }
    FILE *in = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "r");
    char err[512];
    rd_kafka_t *p = NULL;
    char *line = NULL;
    size_t cap = 0, sent = 0;
    struct voc_produce_tracker t = {0};
    rc = 1;
    if (!in) {
        fprintf(stderr, "vocctl publish: cannot open %s\n", argv[2]);
        goto done;
    }
    if (!(p = voc_kafka_producer_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "vocctl publish: %s\n", err);
        goto done;
    }
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (publish_line(p, &t, &cfg, argv[1], line, (size_t)len) < 0)
            break;
        sent++;
    }
    int failed = voc_kafka_wait(p, &t, 60000);
    if (failed != 0 || t.failed) {
        fprintf(stderr, "vocctl publish: %d of %zu not delivered: %s\n",
                failed < 0 ? t.pending : t.failed, sent,
                t.first_error[0] ? t.first_error : "timed out");
        goto done;
    }
    printf("published %zu events to %s\n", sent, argv[1]);
    rc = 0;
done:
    free(line);
    if (p)
        rd_kafka_destroy(p);
    if (in && in != stdin)
        fclose(in);
    voc_config_free(&cfg);
    return rc;
}
