/* vocctl simulate: the clients and the heartbeats they send (schemas/events/
 * telemetry.schema.json). The JSON is printed directly rather than built with jansson: the
 * simulator has to outrun the consumers it benchmarks, and the shape is fixed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simulate.h"

#define FPS            15
#define SAMPLES_PER_MS 48   /* 48 kHz audio */
#define JITTER_SHARE   0.05 /* healthy windows with one short freeze */

/* splitmix64's finaliser: a good 64-bit mix, so every heartbeat can derive its randomness
 * from (seed, client, k) alone instead of from a sequence that pacing could reorder. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct rng {
    uint64_t s;
};

/* Uniform in [0, 1). */
static double uniform(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return (double)(mix(r->s) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static int between(struct rng *r, int lo, int hi)
{
    return lo + (int)(uniform(r) * (double)(hi - lo + 1));
}

static double between_f(struct rng *r, double lo, double hi)
{
    return lo + uniform(r) * (hi - lo);
}

/* The client's number in the run: unique, stable for a given --students. */
static uint64_t client_gid(const struct sim_opts *o, const struct sim_client *c)
{
    int j = c->student < 0 ? o->students : c->student;
    return (uint64_t)c->room * (uint64_t)(o->students + 1) + (uint64_t)j;
}

static int by_phase(const void *a, const void *b)
{
    const struct sim_client *x = a, *y = b;
    if (x->phase_ms != y->phase_ms)
        return x->phase_ms < y->phase_ms ? -1 : 1;
    if (x->room != y->room)
        return x->room < y->room ? -1 : 1;
    return (x->student > y->student) - (x->student < y->student);
}

int sim_clients_new(const struct sim_opts *o, struct sim_client **out, size_t *n)
{
    size_t per_room = (size_t)o->students + 1;
    size_t total = (size_t)o->classrooms * per_room;
    struct sim_client *c = calloc(total, sizeof *c);
    if (!c)
        return -1;
    for (size_t i = 0; i < total; i++) {
        c[i].room = (int32_t)(i / per_room);
        c[i].student = (int32_t)(i % per_room) == o->students ? -1 : (int32_t)(i % per_room);
        struct rng r = {mix(~o->seed ^ mix(client_gid(o, &c[i])))};
        c[i].phase_ms = (int64_t)(uniform(&r) * (double)o->interval_ms);
    }
    qsort(c, total, sizeof *c, by_phase);
    *out = c;
    *n = total;
    return 0;
}

uint64_t sim_total_heartbeats(const struct sim_opts *o, const struct sim_client *c, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].phase_ms < o->duration_ms)
            total += (uint64_t)((o->duration_ms - 1 - c[i].phase_ms) / o->interval_ms) + 1;
    return total;
}

static bool stall_covers(const struct sim_opts *o, const struct sim_stall *st,
                         const struct sim_client *c)
{
    switch (st->level) {
    case SIM_STUDENT:
        return c->room == st->room && c->student == st->student;
    case SIM_CLASSROOM:
        return c->room == st->room; /* the teacher and everyone watching the frozen teacher */
    case SIM_LINE:
        return c->room % o->lines == st->line;
    }
    return false;
}

/* Whether the window sent at run time e has its midpoint e - I/2 inside a stall on c. */
static bool window_stalled(const struct sim_opts *o, const struct sim_client *c, int64_t e)
{
    int64_t mid2 = 2 * e - o->interval_ms; /* twice the midpoint: no rounding */
    for (size_t i = 0; i < o->nstalls; i++) {
        const struct sim_stall *st = &o->stalls[i];
        if (mid2 >= 2 * st->at_ms && mid2 < 2 * (st->at_ms + st->dur_ms) && stall_covers(o, st, c))
            return true;
    }
    return false;
}

struct figures {
    int frames, freezes, freeze_ms, concealed, samples;
    double jitter_buffer_ms, rtt_ms, loss;
};

/* Receive-side figures for one window of I ms. Healthy: ~15 fps, and in ~5% of windows one
 * short freeze (220-300 ms: at 15 fps the shortest gap W3C webrtc-stats counts as a freeze is max(3
 * x 67, 67 + 150) = 217 ms; what a busy Wi-Fi does). Stalled: 2-4 freezes covering 60-90% of the
 * window (3-4.5 s of 5 s), few frames, high loss and RTT. */
static void figures_for(struct rng *r, int64_t interval_ms, bool stalled, struct figures *f)
{
    int nominal = (int)(interval_ms * FPS / 1000);
    f->samples = (int)(interval_ms * SAMPLES_PER_MS);
    f->freezes = 0;
    f->freeze_ms = 0;
    if (stalled) {
        f->freezes = between(r, 2, 4);
        f->freeze_ms = (int)((double)interval_ms * between_f(r, 0.6, 0.9));
        double playing_s = (double)(interval_ms - f->freeze_ms) / 1000.0;
        f->frames = (int)(playing_s * FPS * between_f(r, 0.5, 0.9));
        f->jitter_buffer_ms = between_f(r, 150, 400);
        f->rtt_ms = between_f(r, 150, 400);
        f->loss = between_f(r, 0.05, 0.2);
        f->concealed = (int)(f->samples * between_f(r, 0.05, 0.15));
        return;
    }
    f->frames = nominal - between(r, 0, 2);
    if (uniform(r) < JITTER_SHARE) {
        f->freezes = 1;
        f->freeze_ms = between(r, 220, 300);
        f->frames -= f->freeze_ms * FPS / 1000;
    }
    f->jitter_buffer_ms = between_f(r, 40, 90);
    f->rtt_ms = between_f(r, 20, 80);
    f->loss = between_f(r, 0, 0.01);
    f->concealed = (int)(f->samples * between_f(r, 0, 0.002));
}

/* RFC 3339 in UTC with milliseconds. */
static void rfc3339(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || tm.tm_year > 8099 || tm.tm_year < -1899) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z"); /* not reachable: --start-ms is bounded */
        return;
    }
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int sim_room_id(int room, char *buf, size_t cap)
{
    return snprintf(buf, cap, "room-%d", room);
}

int sim_heartbeat(const struct sim_opts *o, const struct sim_client *c, int64_t k, char *buf,
                  size_t cap)
{
    int64_t e = c->phase_ms + k * o->interval_ms;
    int64_t end = o->start_ms + e, start = end - o->interval_ms;
    struct rng r = {mix(o->seed ^ mix(client_gid(o, c) ^ mix((uint64_t)k)))};
    struct figures f;
    figures_for(&r, o->interval_ms, window_stalled(o, c, e), &f);
    char who[48], family[48], at[32], from[32];
    if (c->student < 0) {
        snprintf(who, sizeof who, "t-%d", c->room);
        snprintf(family, sizeof family, "staff");
    } else {
        snprintf(who, sizeof who, "s-%d-%d", c->room, c->student);
        snprintf(family, sizeof family, "fam-%d-%d", c->room, c->student);
    }
    rfc3339(end, at);
    rfc3339(start, from);
    int n = snprintf(
        buf, cap,
        "{\"event_id\":\"hb-%s-%lld\",\"type\":\"telemetry\",\"occurred_at\":\"%s\","
        "\"source\":\"vocctl-simulate\",\"student_id\":\"%s\",\"customer_id\":\"%s\","
        "\"classroom_id\":\"room-%d\",\"lesson_id\":\"lesson-%d\",\"teacher_id\":\"t-%d\","
        "\"role\":\"%s\",\"window\":{\"start\":\"%s\",\"duration_ms\":%lld},"
        "\"video\":{\"frames_decoded\":%d,\"freeze_count\":%d,\"total_freezes_duration_ms\":%d,"
        "\"pause_count\":0,\"jitter_buffer_delay_ms\":%.1f,\"rtt_ms\":%.1f,\"packet_loss\":%.4f},"
        "\"audio\":{\"concealed_samples\":%d,\"total_samples\":%d},"
        "\"network\":{\"line\":\"line-%d\"},\"client\":{\"app\":\"classroom-sim\","
        "\"version\":\"%s\"}}",
        who, (long long)start, at, who, family, c->room, c->room, c->room,
        c->student < 0 ? "teacher" : "student", from, (long long)o->interval_ms, f.frames,
        f.freezes, f.freeze_ms, f.jitter_buffer_ms, f.rtt_ms, f.loss, f.concealed, f.samples,
        c->room % o->lines, VOC_VERSION);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
