/* vocctl subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand name) and the --config directory, and returns the process exit
 * code: 0 success, 1 runtime failure, 2 bad usage or bad configuration. */
#ifndef VOCCTL_H
#define VOCCTL_H

int vocctl_migrate(int argc, char **argv, const char *config_dir);  /* cmd_migrate.c */
int vocctl_publish(int argc, char **argv, const char *config_dir);  /* cmd_publish.c */
int vocctl_config(int argc, char **argv, const char *config_dir);   /* cmd_config.c */
int vocctl_event(int argc, char **argv, const char *config_dir);    /* cmd_event.c */
int vocctl_explain(int argc, char **argv, const char *config_dir);  /* cmd_explain.c */
int vocctl_routing(int argc, char **argv, const char *config_dir);  /* cmd_routing.c */
int vocctl_items(int argc, char **argv, const char *config_dir);    /* cmd_item.c */
int vocctl_item(int argc, char **argv, const char *config_dir);     /* cmd_item.c */
int vocctl_outreach(int argc, char **argv, const char *config_dir); /* cmd_outreach.c */
int vocctl_simulate(int argc, char **argv, const char *config_dir); /* cmd_simulate.c */

#endif
