/* vocctl simulate: the classroom simulator shared between cmd_simulate.c (options, pacing,
 * output), simulate_spec.c (--stall specs, the --truth file) and simulate_gen.c (clients and
 * the heartbeats they send).
 *
 * Time model. Every client sends one heartbeat per interval I at its own phase p in [0, I):
 * its k-th heartbeat is sent at run time e = p + k*I (ms after the start, while e < duration)
 * and covers the window [e - I, e). A window counts as stalled when its midpoint e - I/2 lies
 * inside an injected stall [at, at + dur): at least half of it overlaps the stall, which is
 * what a frozen picture for that long looks like in the receive-side counters. Every value of
 * a heartbeat is a pure function of (seed, client, k), so a seed always gives the same
 * stream whatever the order or the pacing. */
#ifndef VOCCTL_SIMULATE_H
#define VOCCTL_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Also declared by vocctl.h once main.c registers the subcommand. */
int vocctl_simulate(int argc, char **argv, const char *config_dir);

enum sim_level { SIM_STUDENT, SIM_CLASSROOM, SIM_LINE };

/* One injected incident: a student, a teacher (the whole classroom) or a line. */
struct sim_stall {
    enum sim_level level;
    int room;       /* SIM_STUDENT, SIM_CLASSROOM */
    int student;    /* SIM_STUDENT */
    int line;       /* SIM_LINE */
    int64_t at_ms;  /* from the start of the run */
    int64_t dur_ms; /* > 0 */
};

struct sim_opts {
    int classrooms, students, lines;
    int64_t interval_ms, duration_ms;
    uint64_t seed;
    int64_t start_ms; /* epoch ms of run time 0 */
    bool start_given, realtime;
    struct sim_stall *stalls; /* owned; parsed from the specs once all options are known */
    size_t nstalls;
    const char **specs; /* owned array; the strings belong to argv */
    size_t nspecs;
    const char *truth, *out, *topic;
};

/* A heartbeating client. student == -1 is the classroom's teacher. */
struct sim_client {
    int32_t room, student;
    int64_t phase_ms;
};

/* ---- simulate_spec.c ---- */

/* Parses one --stall spec against o's classrooms, students, lines, interval and duration.
 * Returns 0, or -1 with a message saying what is wrong in err. */
int sim_stall_parse(const struct sim_opts *o, const char *spec, struct sim_stall *out, char *err,
                    size_t errlen);
/* Writes one JSON line per stall to path: {level, subject, start_ms, end_ms, families}. */
int sim_truth_write(const struct sim_opts *o, const char *path, char *err, size_t errlen);

/* ---- simulate_gen.c ---- */

/* Every client of the run (classroom by classroom, each with its students, then its teacher),
 * sorted by phase so that emitting them round after round is event-time order. The caller
 * free()s *out. Returns 0, or -1 when out of memory. */
int sim_clients_new(const struct sim_opts *o, struct sim_client **out, size_t *n);
/* Heartbeats the run sends (clients whose phase is past the end send none). */
uint64_t sim_total_heartbeats(const struct sim_opts *o, const struct sim_client *c, size_t n);
/* Formats client c's k-th heartbeat as one JSON line (no newline) into buf. Returns its
 * length, or -1 if cap is too small. */
int sim_heartbeat(const struct sim_opts *o, const struct sim_client *c, int64_t k, char *buf,
                  size_t cap);
/* "room-<i>", the heartbeat's Kafka key. */
int sim_room_id(int room, char *buf, size_t cap);

#endif
