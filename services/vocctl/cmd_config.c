/* vocctl config check [DIR]: every problem in every configuration file. */
#include <stdio.h>
#include <string.h>

#include "voc/config.h"
#include "voc/notify.h"
#include "voc/routing.h"
#include "voc/sla.h"
#include "voc/stall.h"
#include "voc/taxonomy.h"
#include "vocctl.h"

int vocctl_config(int argc, char **argv, const char *config_dir)
{
    if (argc < 2 || argc > 3 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: vocctl config check [DIR]\n");
        return 2;
    }
    const char *dir = argc == 3 ? argv[2] : config_dir;
    struct voc_diag diag = {0};
    struct voc_config cfg;
    /* Check every file even when an earlier one is broken: one run, all problems. */
    int rc = voc_config_load(dir, &cfg, &diag);
    struct voc_taxonomy *tax = voc_taxonomy_load(cfg.taxonomy_path, &diag);
    struct voc_routing *routing = voc_routing_load(cfg.routing_path, &diag);
    struct voc_stall_config outreach;
    if (voc_stall_config_load(cfg.outreach_path, &outreach, &diag) < 0)
        rc = -1;
    struct voc_sla *sla = voc_sla_load(cfg.sla_path, &diag);
    if (!tax || !routing || !sla)
        rc = -1;
    struct voc_notify_targets targets;
    if (voc_notify_targets_load(cfg.notify_path, &targets, &diag) < 0 ||
        (routing &&
         voc_notify_targets_check_routing(&targets, cfg.notify_path, routing, &diag) < 0))
        rc = -1;
    voc_diag_print(&diag, stderr);
    if (rc == 0)
        printf("configuration in %s is valid (voc.yaml, taxonomy.yaml version %s, routing.yaml "
               "version %s, outreach.yaml, sla.yaml version %s, notify.yaml)\n",
               dir, voc_taxonomy_version(tax), voc_routing_version(routing), voc_sla_version(sla));
    else if (diag.count == 0)
        fprintf(stderr, "%s: configuration could not be loaded\n", dir);
    voc_taxonomy_free(tax);
    voc_routing_free(routing);
    voc_sla_free(sla);
    voc_notify_targets_free(&targets);
    voc_config_free(&cfg);
    voc_diag_free(&diag);
    return rc == 0 ? 0 : 2;
}
