/* Shared command-line handling for the services. */
#include "voc/cli.h"

#include <getopt.h>
#include <stdio.h>

#include "voc/log.h"

static void usage(FILE *out, const char *name, const char *summary)
{
    fprintf(out,
            "usage: %s [--config DIR]\n%s\n\n"
            "  --config DIR  configuration directory (default %s)\n"
            "  --help        this text\n"
            "  --version     print the version\n",
            name, summary, voc_config_default_dir());
}

int voc_cli_parse(int argc, char **argv, const char *name, const char *summary,
                  const char **config_dir)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int c;
    *config_dir = voc_config_default_dir();
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config_dir = optarg;
            break;
        case 'h':
            usage(stdout, name, summary);
            return VOC_EXIT_OK;
        case 'V':
            printf("%s %s\n", name, VOC_VERSION);
            return VOC_EXIT_OK;
        default:
            usage(stderr, name, summary);
            return VOC_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", name, argv[optind]);
        usage(stderr, name, summary);
        return VOC_EXIT_USAGE;
    }
    return -1;
}

int voc_cli_load_config(const char *name, const char *config_dir, struct voc_config *cfg)
{
    struct voc_diag diag = {0};
    int rc = voc_config_load(config_dir, cfg, &diag);
    if (rc < 0) {
        voc_diag_print(&diag, stderr);
        if (diag.count == 0)
            fprintf(stderr, "%s: cannot load the configuration (out of memory?)\n", name);
    }
    voc_diag_free(&diag);
    if (rc < 0) {
        voc_config_free(cfg);
        return VOC_EXIT_USAGE;
    }
    voc_log_init(name, cfg->log_level);
    return 0;
}
