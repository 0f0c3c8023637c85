/* vocctl simulate: --stall specs and the --truth file (the injected incidents, which the
 * detector's precision and recall are measured against). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"

#define MAX_FIELDS 6

/* A subject given as its id ("room-3") or as the bare index ("3"). Returns the index, or -1
 * when s is neither or the index is not below limit. */
static int parse_index(const char *s, const char *prefix, int limit)
{
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) == 0)
        s += plen;
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v >= limit)
        return -1;
    return (int)v;
}

/* The student's index in room: "s-<room>-<j>" (which must name that room) or "<j>". */
static int parse_student(const char *s, int room, int limit)
{
    if (strncmp(s, "s-", 2) != 0)
        return parse_index(s, "", limit);
    char want[32];
    snprintf(want, sizeof want, "s-%d-", room);
    if (strncmp(s, want, strlen(want)) != 0)
        return -1;
    return parse_index(s + strlen(want), "", limit);
}

/* Seconds (decimals allowed) to ms; positive requires > 0, else >= 0. */
static int parse_seconds(const char *s, bool positive, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0 || (positive && v <= 0) || v > 1e9)
        return -1;
    *ms = llround(v * 1000.0);
    return positive && *ms == 0 ? -1 : 0;
}

/* Splits a copy of spec at ':' into at most MAX_FIELDS fields; returns how many (MAX_FIELDS
 * + 1 when there are more). */
static int split(char *copy, char **fields)
{
    int n = 0;
    char *s = copy;
    for (;;) {
        if (n == MAX_FIELDS)
            return MAX_FIELDS + 1;
        fields[n++] = s;
        char *colon = strchr(s, ':');
        if (!colon)
            return n;
        *colon = '\0';
        s = colon + 1;
    }
}

/* The subject fields of a spec (everything before AT_S). */
static int parse_subject(const struct sim_opts *o, char **f, struct sim_stall *st, char *err,
                         size_t errlen)
{
    if (st->level == SIM_LINE) {
        st->line = parse_index(f[1], "line-", o->lines);
        if (st->line < 0) {
            snprintf(err, errlen, "no line '%s' (line-0..line-%d)", f[1], o->lines - 1);
            return -1;
        }
        /* Classroom i is on line i % L: with fewer classrooms than lines some carry nobody. */
        if (st->line >= o->classrooms) {
            snprintf(err, errlen, "no classroom is on line-%d (%d classrooms)", st->line,
                     o->classrooms);
            return -1;
        }
        return 0;
    }
    st->room = parse_index(f[1], "room-", o->classrooms);
    if (st->room < 0) {
        snprintf(err, errlen, "no classroom '%s' (room-0..room-%d)", f[1], o->classrooms - 1);
        return -1;
    }
    if (st->level == SIM_STUDENT) {
        st->student = parse_student(f[2], st->room, o->students);
        if (st->student < 0) {
            snprintf(err, errlen, "no student '%s' in room-%d (s-%d-0..s-%d-%d)", f[2], st->room,
                     st->room, st->room, o->students - 1);
            return -1;
        }
    }
    return 0;
}

/* AT_S and DUR_S, and whether the stall fits the run and shows in every window it covers. */
static int parse_times(const struct sim_opts *o, const char *at, const char *dur,
                       struct sim_stall *st, char *err, size_t errlen)
{
    if (parse_seconds(at, false, &st->at_ms) != 0) {
        snprintf(err, errlen, "AT_S '%s' is not a number of seconds >= 0", at);
        return -1;
    }
    if (parse_seconds(dur, true, &st->dur_ms) != 0) {
        snprintf(err, errlen, "DUR_S '%s' is not a number of seconds > 0", dur);
        return -1;
    }
    /* Shorter than one window, some clients' window midpoints would miss it: the truth would
     * name an incident that part of the data does not show. */
    if (st->dur_ms < o->interval_ms) {
        snprintf(err, errlen,
                 "DUR_S %s is shorter than one heartbeat interval (%lld ms): not every client "
                 "would report a stalled window",
                 dur, (long long)o->interval_ms);
        return -1;
    }
    if (st->at_ms + st->dur_ms > o->duration_ms) {
        snprintf(err, errlen, "it ends at %.3f s, after the run (--duration-s %.3f)",
                 (double)(st->at_ms + st->dur_ms) / 1000.0, (double)o->duration_ms / 1000.0);
        return -1;
    }
    return 0;
}

int sim_stall_parse(const struct sim_opts *o, const char *spec, struct sim_stall *out, char *err,
                    size_t errlen)
{
    static const struct {
        const char *kind, *shape;
        enum sim_level level;
        int fields;
    } kinds[] = {{"student", "student:ROOM:STUDENT:AT_S:DUR_S", SIM_STUDENT, 5},
                 {"teacher", "teacher:ROOM:AT_S:DUR_S", SIM_CLASSROOM, 4},
                 {"line", "line:LINE:AT_S:DUR_S", SIM_LINE, 4}};
    char copy[256], *f[MAX_FIELDS + 1], why[256];
    if (strlen(spec) >= sizeof copy) {
        snprintf(err, errlen, "--stall: spec longer than %zu bytes", sizeof copy - 1);
        return -1;
    }
    memcpy(copy, spec, strlen(spec) + 1);
    int n = split(copy, f);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(f[0], kinds[i].kind) != 0)
            continue;
        out->level = kinds[i].level;
        if (n != kinds[i].fields)
            snprintf(why, sizeof why, "expected %s", kinds[i].shape);
        else if (parse_subject(o, f, out, why, sizeof why) == 0 &&
                 parse_times(o, f[n - 2], f[n - 1], out, why, sizeof why) == 0)
            return 0;
        snprintf(err, errlen, "--stall '%s': %s", spec, why);
        return -1;
    }
    snprintf(err, errlen, "--stall '%s': unknown kind '%s' (student, teacher or line)", spec, f[0]);
    return -1;
}

/* Appends family fam-<room>-<j> for every j in [from, to). */
static int add_families(json_t *arr, int room, int from, int to)
{
    char id[48];
    for (int j = from; j < to; j++) {
        snprintf(id, sizeof id, "fam-%d-%d", room, j);
        if (json_array_append_new(arr, json_string(id)) != 0)
            return -1;
    }
    return 0;
}

/* The subject's id and the families a call would reach (the teacher's "staff" is no family). */
static json_t *truth_record(const struct sim_opts *o, const struct sim_stall *st)
{
    static const char *const levels[] = {"student", "classroom", "line"};
    char subject[48];
    json_t *fams = json_array();
    int rc = fams ? 0 : -1;
    if (st->level == SIM_STUDENT) {
        snprintf(subject, sizeof subject, "s-%d-%d", st->room, st->student);
        rc = rc ? rc : add_families(fams, st->room, st->student, st->student + 1);
    } else if (st->level == SIM_CLASSROOM) {
        snprintf(subject, sizeof subject, "room-%d", st->room);
        rc = rc ? rc : add_families(fams, st->room, 0, o->students);
    } else {
        snprintf(subject, sizeof subject, "line-%d", st->line);
        for (int r = st->line; rc == 0 && r < o->classrooms; r += o->lines)
            rc = add_families(fams, r, 0, o->students);
    }
    if (rc != 0) {
        json_decref(fams);
        return NULL;
    }
    json_int_t start = (json_int_t)o->start_ms + st->at_ms, end = start + st->dur_ms;
    /* "o" hands fams over to the record, also when packing fails. */
    return json_pack("{s:s, s:s, s:I, s:I, s:o}", "level", levels[st->level], "subject", subject,
                     "start_ms", start, "end_ms", end, "families", fams);
}

int sim_truth_write(const struct sim_opts *o, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->nstalls; i++) {
        json_t *rec = truth_record(o, &o->stalls[i]);
        rc = rec && json_dumpf(rec, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0 &&
                     fputc('\n', f) != EOF
                 ? 0
                 : -1;
        json_decref(rec);
    }
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(err, errlen, "cannot write %s: %s", path, errno ? strerror(errno) : "no memory");
    return rc;
}
