/* vocctl subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand name) and the --config directory, and returns the process exit
 * code: 0 success, 1 runtime failure, 2 bad usage or bad configuration. */
#ifndef VOCCTL_H
#define VOCCTL_H

#include <libpq-fe.h>
#include <stdbool.h>

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
int vocctl_case(int argc, char **argv, const char *config_dir);     /* cmd_case.c */

/* Shared helpers (util.c). */

/* Loads the configuration and connects. NULL with *rc set (2: bad
 * configuration, 1: no database) after saying why ("vocctl <cmd>: ..."). */
PGconn *vocctl_connect(const char *config_dir, const char *cmd, int *rc);
/* A positive decimal id: 0, or -1 when s is anything else. */
int vocctl_parse_id(const char *s, long long *out);
/* Prints s (UTF-8) with control characters blanked, padded to `width`
 * terminal columns (CJK text takes two per character). */
void vocctl_put_cell(const char *s, int width);
/* The columns vocctl_put_cell(s, 0) takes. */
int vocctl_cell_width(const char *s);
/* Prints the first ncol (at most 32) columns of res under heads, aligned,
 * every cell through vocctl_put_cell. */
void vocctl_print_table(const PGresult *res, const char *const *heads, int ncol);
/* Runs a listing query and prints it: with json, the one value the query
 * returns (a JSON document); else a table under heads. Returns the exit code
 * (1 after "vocctl <cmd>: <error>" when the query fails). */
int vocctl_print_query(PGconn *conn, const char *cmd, const char *sql, int nparams,
                       const char *const *params, bool json, const char *const *heads, int ncol);

#endif
