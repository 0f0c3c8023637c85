/* vocctl simulate: N classrooms x M students (+1 teacher each) sending telemetry heartbeats,
 * with injected student, teacher and line stalls at known times: the ground truth for
 * voc-outreach's tests and benchmark. See simulate.h for the time model.
 *
 * By default event time is synthetic (from --start-ms) and heartbeats go out as fast as
 * possible in event-time order: a seed always gives the same bytes. --realtime paces them to
 * the wall clock (event time = wall clock), for latency measurements. */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simulate.h"
#include "voc/config.h"
#include "voc/kafka.h"

#define ME           "vocctl simulate"
#define LINE_MAX_LEN 2048
#define BUS_KEEP     (5LL << 20)     /* bytes per partition voc-bus keeps (measured.md) */
#define POLL_EVERY   1024            /* serve delivery reports this often */
#define START_MIN_MS 946684800000LL  /* 2000-01-01: windows never reach before the epoch */
#define START_MAX_MS 4102444800000LL /* 2100-01-01 */
#define CLIENTS_MAX  10000000LL

static volatile sig_atomic_t stop_requested;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vocctl simulate [--classrooms N] [--students M] [--lines L]\n"
            "         [--interval-ms MS] [--duration-s S] [--seed X] [--start-ms EPOCH_MS]\n"
            "         [--realtime] [--stall SPEC]... [--truth FILE] [--out FILE|- | --topic T]\n"
            "\n"
            "  --classrooms N     classrooms, each with M students and 1 teacher (default 10)\n"
            "  --students M       students per classroom (default 6)\n"
            "  --lines L          network lines; classroom i is on line-<i %% L> (default 4)\n"
            "  --interval-ms MS   one heartbeat per client per MS (default 5000)\n"
            "  --duration-s S     seconds of event time (default 60)\n"
            "  --seed X           the same seed gives the same heartbeats (default 1)\n"
            "  --start-ms MS      event time of the start, epoch ms (default now)\n"
            "  --realtime         pace to the wall clock; event time = wall clock\n"
            "  --stall student:ROOM:STUDENT:AT_S:DUR_S   one student's video freezes\n"
            "  --stall teacher:ROOM:AT_S:DUR_S   the teacher and the whole classroom freeze\n"
            "  --stall line:LINE:AT_S:DUR_S      every client on the line freezes\n"
            "                     (AT_S from the start; DUR_S at least one interval)\n"
            "  --truth FILE       one JSON line per injected incident\n"
            "  --out FILE|-       NDJSON to a file or stdout instead of Kafka\n"
            "  --topic T          Kafka topic, keyed by classroom (default topics.telemetry)\n");
}

/* An integer option in [lo, hi]; prints what is wrong otherwise. */
static int parse_ll(const char *name, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, ME ": --%s must be an integer in %lld..%lld, not '%s'\n", name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int add_spec(struct sim_opts *o, const char *spec)
{
    const char **grown = realloc(o->specs, (o->nspecs + 1) * sizeof *grown);
    if (!grown)
        return -1;
    o->specs = grown;
    o->specs[o->nspecs++] = spec;
    return 0;
}

enum { OPT_ROOMS = 1, OPT_STUDENTS, OPT_LINES, OPT_INTERVAL, OPT_DURATION, OPT_SEED, OPT_START };

/* A numeric option: its name and bounds. */
static int parse_number(struct sim_opts *o, int c, const char *arg)
{
    long long v = 0;
    switch (c) {
    case OPT_ROOMS:
        return parse_ll("classrooms", arg, 1, 1000000, &v) ? -1 : (o->classrooms = (int)v, 0);
    case OPT_STUDENTS:
        return parse_ll("students", arg, 1, 10000, &v) ? -1 : (o->students = (int)v, 0);
    case OPT_LINES:
        return parse_ll("lines", arg, 1, 100000, &v) ? -1 : (o->lines = (int)v, 0);
    case OPT_INTERVAL:
        return parse_ll("interval-ms", arg, 100, 600000, &v) ? -1 : (o->interval_ms = v, 0);
    case OPT_DURATION:
        if (parse_ll("duration-s", arg, 1, 31LL * 86400, &v))
            return -1;
        o->duration_ms = v * 1000;
        return 0;
    case OPT_SEED:
        if (parse_ll("seed", arg, 0, 0x7fffffffffffffffLL, &v))
            return -1;
        o->seed = (uint64_t)v;
        return 0;
    case OPT_START:
        o->start_given = true;
        return parse_ll("start-ms", arg, START_MIN_MS, START_MAX_MS, &v) ? -1
                                                                         : (o->start_ms = v, 0);
    }
    return -1;
}

/* Returns 0; -1 after --help; 1 or 2 (usage) having said why. */
static int parse_options(int argc, char **argv, struct sim_opts *o)
{
    static const struct option opts[] = {{"classrooms", required_argument, NULL, OPT_ROOMS},
                                         {"students", required_argument, NULL, OPT_STUDENTS},
                                         {"lines", required_argument, NULL, OPT_LINES},
                                         {"interval-ms", required_argument, NULL, OPT_INTERVAL},
                                         {"duration-s", required_argument, NULL, OPT_DURATION},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"start-ms", required_argument, NULL, OPT_START},
                                         {"realtime", no_argument, NULL, 'r'},
                                         {"stall", required_argument, NULL, 's'},
                                         {"truth", required_argument, NULL, 't'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"topic", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'r') {
            o->realtime = true;
        } else if (c == 's') {
            if (add_spec(o, optarg) != 0) {
                fprintf(stderr, ME ": out of memory\n");
                return 1;
            }
        } else if (c == 't' || c == 'o' || c == 'T') {
            *(c == 't' ? &o->truth : c == 'o' ? &o->out : &o->topic) = optarg;
        } else if (c == 'h' || c == '?') {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? -1 : 2;
        } else if (parse_number(o, c, optarg) != 0) {
            return 2; /* parse_ll said which option and why */
        }
    }
    if (optind < argc) {
        fprintf(stderr, ME ": unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->out && o->topic) {
        fprintf(stderr, ME ": --out and --topic exclude each other\n");
        return 2;
    }
    if (o->realtime && o->start_given) {
        fprintf(stderr, ME ": --start-ms conflicts with --realtime (event time is the clock)\n");
        return 2;
    }
    if ((long long)o->classrooms * (o->students + 1) > CLIENTS_MAX) {
        fprintf(stderr, ME ": more than %lld clients\n", CLIENTS_MAX);
        return 2;
    }
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses every --stall spec now that the run's shape is known; 2 on the first bad one. */
static int parse_stalls(struct sim_opts *o)
{
    char err[512];
    if (o->nspecs == 0)
        return 0;
    o->stalls = calloc(o->nspecs, sizeof *o->stalls);
    if (!o->stalls)
        return 1;
    for (size_t i = 0; i < o->nspecs; i++) {
        if (sim_stall_parse(o, o->specs[i], &o->stalls[o->nstalls], err, sizeof err) != 0) {
            fprintf(stderr, ME ": %s\n", err);
            return 2;
        }
        o->nstalls++;
    }
    return 0;
}

/* Where heartbeats go: a file (NDJSON) or a Kafka topic. */
struct sink {
    FILE *f;
    bool owns_f;
    rd_kafka_t *producer;
    struct voc_produce_tracker tracker;
    struct voc_config cfg;
    bool cfg_loaded;
    const char *topic; /* belongs to cfg or argv */
    char name[256];    /* for the report, after the sink is closed */
    uint64_t sent;
    bool io_failed; /* a write error was reported: closing does not repeat it */
};

static void io_error(struct sink *s)
{
    if (!s->io_failed)
        perror(s->name);
    s->io_failed = true;
}

static int sink_open_file(struct sink *s, const char *path)
{
    snprintf(s->name, sizeof s->name, "%s", path);
    if (strcmp(path, "-") == 0) {
        s->f = stdout;
        return 0;
    }
    s->f = fopen(path, "w");
    if (!s->f) {
        perror(path);
        return -1;
    }
    s->owns_f = true;
    /* Big stdio buffer: one write(2) per ~2,000 heartbeats. */
    return setvbuf(s->f, NULL, _IOFBF, 1 << 20) == 0 ? 0 : -1;
}

static int sink_open_kafka(struct sink *s, const char *config_dir, const char *topic)
{
    struct voc_diag diag = {0};
    char err[512];
    int rc = voc_config_load(config_dir, &s->cfg, &diag);
    s->cfg_loaded = true;
    voc_diag_print(&diag, stderr);
    voc_diag_free(&diag);
    if (rc < 0)
        return -1;
    s->topic = topic ? topic : s->cfg.topics.telemetry;
    snprintf(s->name, sizeof s->name, "topic %s", s->topic);
    s->producer = voc_kafka_producer_new(&s->cfg, err, sizeof err);
    if (!s->producer) {
        fprintf(stderr, ME ": %s\n", err);
        return -1;
    }
    return 0;
}

static int sink_put(struct sink *s, const char *key, const char *line, size_t len)
{
    if (s->f) {
        if (fwrite(line, 1, len, s->f) != len || putc('\n', s->f) == EOF) {
            io_error(s);
            return -1;
        }
    } else {
        if (voc_kafka_produce(s->producer, &s->tracker, s->topic, key, strlen(key), line, len) !=
                0 ||
            s->tracker.failed) {
            fprintf(stderr, ME ": %s: %s\n", s->topic, s->tracker.first_error);
            return -1;
        }
        if (s->sent % POLL_EVERY == 0)
            rd_kafka_poll(s->producer, 0);
    }
    s->sent++;
    return 0;
}

/* Waits until the wall clock reaches at_ms, serving delivery reports meanwhile and making
 * what was written visible to a reader. */
static int sink_wait_until(struct sink *s, int64_t at_ms)
{
    for (int64_t now = wall_ms(); now < at_ms && !stop_requested; now = wall_ms()) {
        int64_t wait = at_ms - now;
        if (s->producer) {
            rd_kafka_poll(s->producer, (int)wait);
        } else {
            if (fflush(s->f) != 0) {
                io_error(s);
                return -1;
            }
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* Flushes (waits for every delivery) and releases; 0 when everything arrived. Closing a
 * closed sink does nothing. */
static int sink_close(struct sink *s)
{
    int rc = 0;
    if (s->producer) {
        /* On a timeout the wait purges what is left, and each purged message counts as
         * failed: tracker.failed is then every heartbeat that did not arrive. */
        if (voc_kafka_wait(s->producer, &s->tracker, 60000) != 0) {
            fprintf(stderr, ME ": %d of %llu heartbeats not delivered to %s: %s\n",
                    s->tracker.failed, (unsigned long long)s->sent, s->topic,
                    s->tracker.first_error[0] ? s->tracker.first_error : "timed out");
            rc = -1;
        }
        rd_kafka_destroy(s->producer);
        s->producer = NULL;
    }
    if (s->f && (fflush(s->f) != 0 || ferror(s->f))) {
        io_error(s);
        rc = -1;
    }
    if (s->owns_f && fclose(s->f) != 0) {
        io_error(s);
        rc = -1;
    }
    s->f = NULL;
    s->owns_f = false;
    if (s->cfg_loaded)
        voc_config_free(&s->cfg);
    s->cfg_loaded = false;
    return rc;
}

/* The topic's partition count from the broker (which creates the topic if it must), or 0. */
static int topic_partitions(rd_kafka_t *producer, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = 0;
    if (rkt && rd_kafka_metadata(producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return n;
}

/* voc-bus keeps only the newest 5 MiB of a partition and drops older data silently
 * (measured.md): a consumer more than that behind a fast producer loses heartbeats. Heartbeats
 * are keyed by classroom, so count them per partition the way the default partitioner
 * (consistent_random: CRC32 of the key) spreads classrooms, and warn about the fullest. */
static void warn_bus_capacity(const struct sim_opts *o, const struct sim_client *c, size_t n,
                              struct sink *s)
{
    int parts = topic_partitions(s->producer, s->topic);
    char line[LINE_MAX_LEN], key[32];
    int len = sim_heartbeat(o, &c[0], 0, line, sizeof line);
    uint64_t *per = parts > 0 ? calloc((size_t)parts, sizeof *per) : NULL;
    if (!per || len <= 0) {
        free(per);
        return;
    }
    uint64_t most = 0;
    for (size_t i = 0; i < n; i++) {
        int klen = sim_room_id(c[i].room, key, sizeof key);
        int32_t p =
            rd_kafka_msg_partitioner_consistent_random(NULL, key, (size_t)klen, parts, NULL, NULL);
        per[p] += sim_total_heartbeats(o, &c[i], 1);
        most = per[p] > most ? per[p] : most;
    }
    free(per);
    if (most * (uint64_t)(len + 1) > (uint64_t)BUS_KEEP)
        fprintf(stderr,
                ME ": warning: up to %llu heartbeats (~%.1f MiB) go to one of the %d partitions "
                   "of %s; voc-bus keeps only the newest 5 MiB per partition and silently drops "
                   "the rest, so its consumers must keep up while this runs (or use --realtime, "
                   "fewer clients or a shorter --duration-s). A real Kafka keeps them.\n",
                (unsigned long long)most, (double)most * (len + 1) / (1 << 20), parts, s->topic);
}

/* Sends every heartbeat in event-time order: round k holds each client's k-th heartbeat, and
 * within a round clients go in phase order (all phases are below one interval). */
static int emit_all(const struct sim_opts *o, const struct sim_client *c, size_t n, struct sink *s)
{
    char line[LINE_MAX_LEN], key[32];
    for (int64_t k = 0; k * o->interval_ms < o->duration_ms && !stop_requested; k++) {
        for (size_t i = 0; i < n && !stop_requested; i++) {
            int64_t e = c[i].phase_ms + k * o->interval_ms;
            if (e >= o->duration_ms)
                break; /* later clients have later phases */
            if (o->realtime && sink_wait_until(s, o->start_ms + e) != 0)
                return -1;
            int len = sim_heartbeat(o, &c[i], k, line, sizeof line);
            if (len < 0 || sim_room_id(c[i].room, key, sizeof key) < 0) {
                fprintf(stderr, ME ": heartbeat longer than %d bytes\n", LINE_MAX_LEN);
                return -1;
            }
            if (sink_put(s, key, line, (size_t)len) != 0)
                return -1;
        }
    }
    return 0;
}

static void report(const struct sim_opts *o, const struct sink *s, size_t clients, double secs)
{
    fprintf(stderr,
            ME ": %s%llu heartbeats from %zu clients (%d classrooms) over %.0f s of event time "
               "to %s in %.2f s: %.0f heartbeats/s\n",
            stop_requested ? "stopped early: " : "",
            (unsigned long long)(s->sent - (uint64_t)s->tracker.failed), clients, o->classrooms,
            (double)o->duration_ms / 1000.0, s->name, secs,
            secs > 0 ? (double)(s->sent - (uint64_t)s->tracker.failed) / secs : 0.0);
}

/* Opens the sink, writes the truth, sends, reports. Returns the exit code. */
static int simulate(struct sim_opts *o, const char *config_dir)
{
    struct sim_client *clients = NULL;
    size_t n = 0;
    struct sink s = {0};
    char err[512];
    int rc = 1;
    if (sim_clients_new(o, &clients, &n) != 0) {
        fprintf(stderr, ME ": out of memory for %d classrooms\n", o->classrooms);
        return 1;
    }
    if (o->out ? sink_open_file(&s, o->out) : sink_open_kafka(&s, config_dir, o->topic))
        goto done;
    if (s.producer && !o->realtime)
        warn_bus_capacity(o, clients, n, &s);
    if (o->realtime)
        o->start_ms = wall_ms(); /* after the slow part: the first heartbeats are not late */
    if (o->truth && sim_truth_write(o, o->truth, err, sizeof err) != 0) {
        fprintf(stderr, ME ": %s\n", err);
        goto done;
    }
    voc_signals_install(&stop_requested, NULL);
    double t0 = mono_s();
    rc = emit_all(o, clients, n, &s) == 0 ? 0 : 1;
    /* Delivery counts: the rate is what reached the broker (or the file). */
    if (sink_close(&s) != 0)
        rc = 1;
    report(o, &s, n, mono_s() - t0);
done:
    sink_close(&s);
    free(clients);
    return rc;
}

int vocctl_simulate(int argc, char **argv, const char *config_dir)
{
    struct sim_opts o = {.classrooms = 10,
                         .students = 6,
                         .lines = 4,
                         .interval_ms = 5000,
                         .duration_ms = 60000,
                         .seed = 1};
    int rc = parse_options(argc, argv, &o);
    if (rc == 0 && !o.start_given)
        o.start_ms = wall_ms();
    if (rc == 0)
        rc = parse_stalls(&o);
    if (rc == 0)
        rc = simulate(&o, config_dir);
    free(o.specs);
    free(o.stalls);
    return rc < 0 ? 0 : rc;
}
