/* Dead-letter records. */
#include "voc/deadletter.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/log.h"

static char *base64_encode(const unsigned char *in, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static void utc_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

char *voc_deadletter_record(const struct voc_deadletter_src *src, const char *reason)
{
    char now[64];
    char *out = NULL;
    char *b64 = base64_encode(src->value, src->len);
    json_t *rec = json_object();
    if (!b64 || !rec)
        goto done;
    utc_now(now, sizeof now);
    json_object_set_new(rec, "reason", json_string(reason));
    json_object_set_new(rec, "topic", json_string(src->topic));
    json_object_set_new(rec, "partition", json_integer(src->partition));
    json_object_set_new(rec, "offset", json_integer(src->offset));
    json_object_set_new(rec, "received_at", json_string(now));
    json_object_set_new(rec, "service", json_string(src->service));
    json_object_set_new(rec, "original_b64", json_string(b64));
    /* json_stringn refuses invalid UTF-8: then only the base64 form is kept. */
    json_t *text = json_stringn(src->value, src->len);
    if (text)
        json_object_set_new(rec, "original_text", text);
    json_t *key = src->key ? json_stringn(src->key, src->keylen) : NULL;
    json_object_set_new(rec, "key", key ? key : json_null());
    out = json_dumps(rec, JSON_COMPACT);
done:
    json_decref(rec);
    free(b64);
    return out;
}

int voc_deadletter_produce(rd_kafka_t *producer, struct voc_produce_tracker *t, const char *topic,
                           const char *service, const rd_kafka_message_t *m, const char *reason)
{
    struct voc_deadletter_src src = {.service = service,
                                     .topic = rd_kafka_topic_name(m->rkt),
                                     .partition = m->partition,
                                     .offset = m->offset,
                                     .key = m->key,
                                     .keylen = m->key_len,
                                     .value = m->payload,
                                     .len = m->len};
    char *rec = voc_deadletter_record(&src, reason);
    if (!rec)
        return -1;
    voc_log(VOC_LOG_WARN, "deadlettered", "topic=%s partition=%d offset=%lld reason=%s", src.topic,
            (int)m->partition, (long long)m->offset, voc_log_q(reason));
    int rc = voc_kafka_produce(producer, t, topic, m->key, m->key_len, rec, strlen(rec));
    free(rec);
    return rc;
}
