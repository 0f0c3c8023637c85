/* vocctl: the command line for owners, analysts and operators. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "voc/config.h"
#include "voc/log.h"
#include "vocctl.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv, const char *config_dir);
    const char *usage;
} commands[] = {
    {"migrate", vocctl_migrate, "migrate                 apply pending SQL migrations"},
    {"publish", vocctl_publish, "publish TOPIC FILE|-    send NDJSON events, one per line"},
    {"config", vocctl_config, "config check [DIR]      report every configuration problem"},
    {"event", vocctl_event, "event check FILE|-      validate events against the schemas"},
    {"explain-match", vocctl_explain,
     "explain-match A B       show why two texts would (not) group into one item"},
    {"routing", vocctl_routing, "routing apply           re-route live items with routing.yaml"},
    {"items", vocctl_items, "items [filters]         list improvement items"},
    {"item", vocctl_item, "item show|ack|resolve|merge|... ID   act on one item"},
    {"outreach", vocctl_outreach, "outreach list|done ...  proactive-outreach tasks"},
    {"case", vocctl_case, "case list|show|reply|callback|... customer cases and follow-ups"},
    {"simulate", vocctl_simulate,
     "simulate [options]      classroom telemetry with injected stalls"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: vocctl [--config DIR] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\n--config DIR defaults to %s\n", voc_config_default_dir());
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config_dir = voc_config_default_dir();
    int c;
    voc_log_init("vocctl", VOC_LOG_WARN);
    /* "+" stops at the first non-option so each subcommand parses its own. */
    while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("vocctl %s\n", VOC_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 1; /* reset getopt for the subcommand's own parsing */
            return commands[i].run(sub_argc, sub_argv, config_dir);
        }
    }
    fprintf(stderr, "vocctl: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
}
