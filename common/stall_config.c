/* Loading deploy/config/outreach.yaml (stall thresholds) over the defaults.
 *
 * Layout: window_ms and idle_ms at the top level, the rest in sections
 * student, classroom and line (see the shipped file for what each means).
 * Every key is optional; every problem is reported with its line. */
#include <float.h>
#include <string.h>

#include "stall_int.h"
#include "voc/yamlcfg.h"

#define DAY_MS 86400000LL

/* Reads an integer key into an int64_t or int field through a long long. */
static int read_ms(struct voc_yaml *y, yaml_node_t *map, const char *key, long long lo,
                   long long hi, int64_t *out, struct voc_diag *diag)
{
    long long v = *out;
    if (voc_yaml_read_int(y, map, key, false, lo, hi, &v, diag) < 0)
        return -1;
    *out = v;
    return 0;
}

static int read_count(struct voc_yaml *y, yaml_node_t *map, const char *key, long long lo,
                      long long hi, int *out, struct voc_diag *diag)
{
    long long v = *out;
    if (voc_yaml_read_int(y, map, key, false, lo, hi, &v, diag) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* A share in (0, 1]: read_double's ranges are closed, and "between 0 and
 * 1" would suggest that 0 is allowed. */
static int read_share(struct voc_yaml *y, yaml_node_t *map, const char *key, double *out,
                      struct voc_diag *diag)
{
    double v = *out;
    if (voc_yaml_read_double(y, map, key, false, -DBL_MAX, DBL_MAX, &v, diag) < 0)
        return -1;
    if (!(v > 0 && v <= 1)) {
        voc_diag_add(diag, y->path, voc_yaml_line(voc_yaml_get(y, map, key)),
                     "'%s' must be more than 0 and at most 1, not %g", key, v);
        return -1;
    }
    *out = v;
    return 0;
}

/* The section `name` as a mapping with only `keys`; NULL when absent or
 * broken (*rc set for broken). */
static yaml_node_t *section(struct voc_yaml *y, yaml_node_t *root, const char *name,
                            const char *const *keys, int *rc, struct voc_diag *diag)
{
    yaml_node_t *n = voc_yaml_get(y, root, name);
    if (!n)
        return NULL;
    int bad = voc_yaml_expect_map(y, n, name, keys, diag);
    if (bad)
        *rc = -1;
    return n->type == YAML_MAPPING_NODE ? n : NULL;
}

static int read_sections(struct voc_yaml *y, yaml_node_t *root, struct voc_stall_config *c,
                         struct voc_diag *diag)
{
    static const char *const student_keys[] = {"frozen_ms", "freezes", "freezes_min_frozen_ms",
                                               "cooldown_ms", NULL};
    static const char *const classroom_keys[] = {"share", "min_students", "cooldown_ms", NULL};
    static const char *const line_keys[] = {"window_ms",   "min_classrooms", "min_share",
                                            "incident_ms", "grace_ms",       "early_release",
                                            NULL};
    int rc = 0;
    yaml_node_t *n;
    /* A single freeze of ~200 ms is healthy jitter: the floors keep a
     * threshold from calling every family in the school. */
    if ((n = section(y, root, "student", student_keys, &rc, diag))) {
        rc |= read_ms(y, n, "frozen_ms", 500, DAY_MS, &c->student_frozen_ms, diag);
        rc |= read_count(y, n, "freezes", 2, 100000, &c->student_freezes, diag);
        rc |= read_ms(y, n, "freezes_min_frozen_ms", 0, DAY_MS, &c->student_freezes_min_ms, diag);
        rc |= read_ms(y, n, "cooldown_ms", 0, 7 * DAY_MS, &c->cooldown_student_ms, diag);
    }
    if ((n = section(y, root, "classroom", classroom_keys, &rc, diag))) {
        rc |= voc_yaml_read_double(y, n, "share", false, 0.01, 1.0, &c->classroom_share, diag);
        rc |= read_count(y, n, "min_students", 1, 100000, &c->classroom_min_students, diag);
        rc |= read_ms(y, n, "cooldown_ms", 0, 7 * DAY_MS, &c->cooldown_classroom_ms, diag);
    }
    /* One classroom is not a line: min_classrooms starts at 2. */
    if ((n = section(y, root, "line", line_keys, &rc, diag))) {
        rc |= read_ms(y, n, "window_ms", 1000, 7 * DAY_MS, &c->line_window_ms, diag);
        rc |= read_count(y, n, "min_classrooms", 2, 100000, &c->line_min_classrooms, diag);
        rc |= read_share(y, n, "min_share", &c->line_min_share, diag);
        rc |= read_ms(y, n, "incident_ms", 1000, 7 * DAY_MS, &c->line_incident_ms, diag);
        rc |= read_ms(y, n, "grace_ms", 0, 60000, &c->line_grace_ms, diag);
        rc |= voc_yaml_read_bool(y, n, "early_release", false, &c->line_early_release, diag);
    }
    return rc;
}

/* The line of `key` in section (or the top level when section is NULL), for
 * messages about how values relate; the section's or file's line if the key
 * is not written (it then has its default). */
static int key_line(struct voc_yaml *y, yaml_node_t *root, const char *sect, const char *key)
{
    yaml_node_t *map = sect ? voc_yaml_get(y, root, sect) : root;
    yaml_node_t *v = map ? voc_yaml_get(y, map, key) : NULL;
    return voc_yaml_line(v ? v : map ? map : root);
}

/* Relations between values; run only when each value is valid by itself. */
static int cross_check(struct voc_yaml *y, yaml_node_t *root, const struct voc_stall_config *c,
                       struct voc_diag *diag)
{
    int rc = 0;
    if (c->idle_ms < c->window_ms) {
        voc_diag_add(diag, y->path, key_line(y, root, NULL, "idle_ms"),
                     "idle_ms (%lld) must be at least window_ms (%lld): a client would be "
                     "forgotten while its window still counts",
                     (long long)c->idle_ms, (long long)c->window_ms);
        rc = -1;
    }
    if (c->student_frozen_ms > c->window_ms) {
        voc_diag_add(diag, y->path, key_line(y, root, "student", "frozen_ms"),
                     "student.frozen_ms (%lld) cannot be reached within window_ms (%lld)",
                     (long long)c->student_frozen_ms, (long long)c->window_ms);
        rc = -1;
    }
    /* At or above frozen_ms the freeze count would never decide anything.
     * Reported where the floor is written, else (a default floor over a low
     * frozen_ms) at frozen_ms. */
    if (c->student_freezes_min_ms >= c->student_frozen_ms) {
        yaml_node_t *st = voc_yaml_get(y, root, "student");
        const char *key = st && voc_yaml_get(y, st, "freezes_min_frozen_ms")
                              ? "freezes_min_frozen_ms"
                              : "frozen_ms";
        voc_diag_add(diag, y->path, key_line(y, root, "student", key),
                     "student.freezes_min_frozen_ms (%lld) must be less than student.frozen_ms "
                     "(%lld)",
                     (long long)c->student_freezes_min_ms, (long long)c->student_frozen_ms);
        rc = -1;
    }
    if (c->line_window_ms < c->window_ms) {
        voc_diag_add(diag, y->path, key_line(y, root, "line", "window_ms"),
                     "line.window_ms (%lld) must be at least window_ms (%lld)",
                     (long long)c->line_window_ms, (long long)c->window_ms);
        rc = -1;
    }
    /* A hold must end before its incident can, or a task could go out for a
     * stall that is already over and forgotten. */
    if (c->line_grace_ms >= c->window_ms) {
        voc_diag_add(diag, y->path, key_line(y, root, "line", "grace_ms"),
                     "line.grace_ms (%lld) must be shorter than window_ms (%lld)",
                     (long long)c->line_grace_ms, (long long)c->window_ms);
        rc = -1;
    }
    return rc;
}

int voc_stall_config_load(const char *path, struct voc_stall_config *cfg, struct voc_diag *diag)
{
    static const char *const top_keys[] = {"window_ms", "idle_ms", "student",
                                           "classroom", "line",    NULL};
    struct voc_yaml y;
    struct voc_stall_config c;
    voc_stall_config_defaults(&c);
    int rc = voc_yaml_load(&y, path, diag);
    yaml_node_t *root = voc_yaml_root(&y);
    if (rc == 0 && !root) {
        voc_diag_add(diag, path, 0,
                     "empty file: write the thresholds, even if they are the "
                     "defaults, so that operators can see them");
        rc = -1;
    }
    if (rc == 0) {
        rc = voc_yaml_expect_map(&y, root, "the outreach file", top_keys, diag);
        if (root->type == YAML_MAPPING_NODE) {
            rc |= read_ms(&y, root, "window_ms", 1000, DAY_MS, &c.window_ms, diag);
            rc |= read_ms(&y, root, "idle_ms", 1000, 7 * DAY_MS, &c.idle_ms, diag);
            rc |= read_sections(&y, root, &c, diag);
            if (rc == 0)
                rc = cross_check(&y, root, &c, diag);
        }
    }
    voc_yaml_free(&y);
    if (rc != 0)
        return -1;
    *cfg = c;
    return 0;
}
