/* voc-bus: an embedded Kafka-protocol broker (librdkafka's mock cluster) for
 * development and tests. It keeps everything in memory and drops the oldest
 * messages of a partition beyond 5 MiB / 100,000 message sets: never use it
 * in production. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "voc/config.h"
#include "voc/kafka.h"
#include "voc/log.h"

#define BUS_MAX_BROKERS    64
#define BUS_MAX_PARTITIONS 1000

struct bus_opts {
    const char *config_dir;
    long brokers;    /* -1: take bus.brokers from the configuration */
    long partitions; /* -1: take bus.partitions from the configuration */
    const char *addr_file;
};

static volatile sig_atomic_t bus_stop;

static void bus_usage(FILE *out)
{
    fprintf(out,
            "usage: voc-bus [--config DIR] [--brokers N] [--partitions N] [--addr-file PATH]\n"
            "\n"
            "Runs an in-memory Kafka-protocol cluster for development and tests, creates\n"
            "every configured topic, prints the bootstrap address on one line (also\n"
            "written atomically to PATH, removed again on exit) and runs until SIGTERM\n"
            "or SIGINT. Not for production: a partition keeps at most 5 MiB or 100,000\n"
            "message sets and silently drops the oldest beyond that.\n"
            "\n"
            "  --config DIR      configuration directory (default %s)\n"
            "  --brokers N       number of brokers, 1..%d (default bus.brokers)\n"
            "  --partitions N    partitions per topic, 1..%d (default bus.partitions)\n"
            "  --addr-file PATH  also write the bootstrap address to PATH\n"
            "  --help, --version\n",
            voc_config_default_dir(), BUS_MAX_BROKERS, BUS_MAX_PARTITIONS);
}

static int bus_parse_count(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Returns -1 to go on, else the exit code (0 after --help/--version). */
static int bus_parse_args(int argc, char **argv, struct bus_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"brokers", required_argument, NULL, 'b'},
                                         {"partitions", required_argument, NULL, 'p'},
                                         {"addr-file", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    *o = (struct bus_opts){voc_config_default_dir(), -1, -1, NULL};
    int c;
    while ((c = getopt_long(argc, argv, "c:b:p:a:hV", opts, NULL)) != -1) {
        if (c == 'c') {
            o->config_dir = optarg;
        } else if (c == 'a') {
            o->addr_file = optarg;
        } else if (c == 'b' && bus_parse_count(optarg, BUS_MAX_BROKERS, &o->brokers) != 0) {
            fprintf(stderr, "voc-bus: --brokers must be 1..%d\n", BUS_MAX_BROKERS);
            return 2;
        } else if (c == 'p' && bus_parse_count(optarg, BUS_MAX_PARTITIONS, &o->partitions) != 0) {
            fprintf(stderr, "voc-bus: --partitions must be 1..%d\n", BUS_MAX_PARTITIONS);
            return 2;
        } else if (c == 'h') {
            bus_usage(stdout);
            return 0;
        } else if (c == 'V') {
            printf("voc-bus %s\n", VOC_VERSION);
            return 0;
        } else if (c != 'b' && c != 'p') {
            bus_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voc-bus: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Fills o->brokers/partitions from cfg where the command line left them.
 * Returns 0, or 2 (bad configuration) after saying why. */
static int bus_settle(struct bus_opts *o, const struct voc_config *cfg)
{
    if (o->brokers < 0) {
        if (cfg->bus.brokers < 1 || cfg->bus.brokers > BUS_MAX_BROKERS) {
            fprintf(stderr, "%s/voc.yaml: bus.brokers is %lld; must be 1..%d\n", cfg->dir,
                    cfg->bus.brokers, BUS_MAX_BROKERS);
            return 2;
        }
        o->brokers = (long)cfg->bus.brokers;
    }
    if (o->partitions < 0) {
        if (cfg->bus.partitions < 1 || cfg->bus.partitions > BUS_MAX_PARTITIONS) {
            fprintf(stderr, "%s/voc.yaml: bus.partitions is %lld; must be 1..%d\n", cfg->dir,
                    cfg->bus.partitions, BUS_MAX_PARTITIONS);
            return 2;
        }
        o->partitions = (long)cfg->bus.partitions;
    }
    return 0;
}

/* Write a temporary file and rename it over path, so a script polling for
 * path sees either nothing or the whole line. */
static int bus_write_addr_file(const char *path, const char *addr)
{
    char tmp[PATH_MAX];
    int fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    size_t len = strlen(addr);
    if (write(fd, addr, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
        goto fail;
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto fail;
    return 0;
fail:
    voc_error("addr_file_failed", "path=%s error=%s", voc_log_q(path), voc_log_q(strerror(errno)));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

static int bus_run(const struct bus_opts *o, const struct voc_config *cfg)
{
    const char *topics[] = {cfg->topics.complaint, cfg->topics.rating,       cfg->topics.tech_issue,
                            cfg->topics.telemetry, cfg->topics.classified,   cfg->topics.deadletter,
                            cfg->topics.item,      cfg->topics.notification, cfg->topics.outreach,
                            cfg->topics.command};
    struct bus_cluster bc;
    char err[512];
    int rc = 1;
    if (bus_cluster_start(&bc, (int)o->brokers, (int)o->partitions, topics,
                          sizeof topics / sizeof topics[0], err, sizeof err) != 0) {
        voc_error("start_failed", "error=%s", voc_log_q(err));
        return 1;
    }
    const char *addr = bus_cluster_bootstraps(&bc);
    if (o->addr_file && bus_write_addr_file(o->addr_file, addr) != 0)
        goto out;
    if (printf("%s\n", addr) < 0 || fflush(stdout) != 0)
        voc_warn("stdout_failed", "error=%s", voc_log_q(strerror(errno)));
    voc_info("ready", "bootstrap=%s brokers=%ld partitions=%ld", addr, o->brokers, o->partitions);
    while (!bus_stop)
        bus_cluster_poll(&bc, 200);
    rc = 0;
    if (o->addr_file && unlink(o->addr_file) != 0 && errno != ENOENT)
        voc_warn("addr_file_unlink_failed", "path=%s error=%s", voc_log_q(o->addr_file),
                 voc_log_q(strerror(errno)));
out:
    bus_cluster_stop(&bc);
    voc_info("stopped", "exit=%d", rc);
    return rc;
}

int main(int argc, char **argv)
{
    struct bus_opts o;
    struct voc_config cfg = {0};
    struct voc_diag diag = {0};
    voc_log_init("voc-bus", VOC_LOG_INFO);
    int rc = bus_parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (voc_config_load(o.config_dir, &cfg, &diag) != 0) {
        voc_diag_print(&diag, stderr);
        rc = 2;
        goto out;
    }
    voc_log_init("voc-bus", cfg.log_level);
    rc = bus_settle(&o, &cfg);
    if (rc != 0)
        goto out;
    /* Also ignores SIGPIPE: a reader closing our stdout must not kill the broker. */
    voc_signals_install(&bus_stop, NULL);
    rc = bus_run(&o, &cfg);
out:
    voc_config_free(&cfg);
    voc_diag_free(&diag);
    return rc;
}
