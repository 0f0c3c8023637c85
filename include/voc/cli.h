/* The command line every vocloop service shares: --config DIR, --help,
 * --version, and exit codes 0 (success), 1 (runtime failure), 2 (bad usage or
 * bad configuration). */
#ifndef VOC_CLI_H
#define VOC_CLI_H

#include "voc/config.h"

enum { VOC_EXIT_OK = 0, VOC_EXIT_FAILURE = 1, VOC_EXIT_USAGE = 2 };

/* Parses the standard options. Returns -1 to go on (then *config_dir is set),
 * or an exit code for main() to return (after --help, --version or bad usage). */
int voc_cli_parse(int argc, char **argv, const char *name, const char *summary,
                  const char **config_dir);

/* Loads the configuration, printing every problem as file:line: message on
 * stderr. Returns 0, or VOC_EXIT_USAGE when the configuration is bad. Also
 * initialises logging with the configured level. */
int voc_cli_load_config(const char *name, const char *config_dir, struct voc_config *cfg);

#endif
