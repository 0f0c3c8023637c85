/* Stall detection as tech support and network operations would see it:
 * synthetic classrooms send heartbeats every 5 s at random (seeded) phases,
 * faults are injected at known times, and the detections are counted. Runs
 * with the shipped deploy/config/outreach.yaml unless a test says otherwise;
 * no Kafka, no PostgreSQL. Big lines, redelivery and memory are in
 * test_stall_crowd.c, the configuration file in test_stall_config.c. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voc/stall.h"
#include "testsupport.h"

#define CONFIG VOC_TEST_SOURCE_DIR "/deploy/config/outreach.yaml"

#define PERIOD   INT64_C(5000) /* ms between one client's heartbeats */
#define T0       INT64_C(1700000000000)
#define SEC      INT64_C(1000)
#define MIN      (60 * SEC)
#define MAX_CL   160
#define MAX_REC  64
#define MAX_SPAN 4

/* ---- what was emitted ---- */

struct rec {
    enum voc_stall_level level;
    bool teacher;
    char id[96], subject[32];
    char context[160];    /* "customer|classroom|lesson|teacher|line", "" for NULL */
    char customers[2048]; /* sorted, comma-separated */
    int64_t first_bad_ms, detected_ms, frozen_ms;
    int freezes, stalled, total;
};

static struct rec recs[MAX_REC];
static int nrec;

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* n strings sorted and joined with ',' into out. */
static void join_sorted(const char *const *items, size_t n, char *out, size_t cap)
{
    const char **tmp = calloc(n + 1, sizeof *tmp);
    ck_assert_ptr_nonnull(tmp);
    if (n)
        memcpy(tmp, items, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, by_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", tmp[i]);
    free(tmp);
}

#define OR_EMPTY(x) ((x) ? (x) : "")

static void on_emit(void *ctx, const struct voc_stall_detection *d)
{
    (void)ctx;
    ck_assert_int_lt(nrec, MAX_REC);
    struct rec *r = &recs[nrec++];
    *r = (struct rec){.level = d->level,
                      .teacher = d->teacher,
                      .first_bad_ms = d->first_bad_ms,
                      .detected_ms = d->detected_ms,
                      .frozen_ms = d->frozen_ms,
                      .freezes = d->freezes,
                      .stalled = d->stalled,
                      .total = d->total};
    snprintf(r->id, sizeof r->id, "%s", OR_EMPTY(d->incident_id));
    snprintf(r->subject, sizeof r->subject, "%s", OR_EMPTY(d->subject));
    snprintf(r->context, sizeof r->context, "%s|%s|%s|%s|%s", OR_EMPTY(d->customer_id),
             OR_EMPTY(d->classroom_id), OR_EMPTY(d->lesson_id), OR_EMPTY(d->teacher_id),
             OR_EMPTY(d->line));
    join_sorted(d->customers, d->ncustomers, r->customers, sizeof r->customers);
}

static int count(enum voc_stall_level level)
{
    int n = 0;
    for (int i = 0; i < nrec; i++)
        n += recs[i].level == level;
    return n;
}

/* ---- a synthetic school ---- */

enum fault { FROZEN, FREEZES };

struct span {
    int64_t from, to;
    enum fault kind;
    int64_t each_ms; /* FREEZES: the length of each freeze */
};

struct cl {
    char student[24], customer[24], classroom[16], lesson[24], teacher_id[24], line[16];
    bool teacher;
    int64_t phase;
    struct span spans[MAX_SPAN];
    int nspans;
};

struct world {
    struct voc_stall *s;
    struct cl c[MAX_CL];
    int n;
    bool jitter;
    uint64_t rng;
};

static uint64_t rnd(struct world *w, uint64_t bound)
{
    w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (w->rng >> 33) % bound;
}

static struct world *world_new(const struct voc_stall_config *cfg)
{
    struct world *w = calloc(1, sizeof *w);
    ck_assert_ptr_nonnull(w);
    w->s = voc_stall_new(cfg);
    ck_assert_ptr_nonnull(w->s);
    w->rng = 20261107;
    nrec = 0;
    return w;
}

static void world_free(struct world *w)
{
    voc_stall_free(w->s);
    free(w);
}

static struct voc_stall_config shipped_config(void)
{
    struct voc_stall_config cfg;
    struct voc_diag d = {0};
    int rc = voc_stall_config_load(CONFIG, &cfg, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
    ck_assert_int_eq(rc, 0);
    return cfg;
}

/* A client heartbeating at `phase` ms into each 5 s period (-1: random). */
static struct cl *add_client(struct world *w, const char *classroom, const char *student,
                             const char *line, bool teacher, int64_t phase)
{
    ck_assert_int_lt(w->n, MAX_CL);
    struct cl *c = &w->c[w->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->student, sizeof c->student, "%s", student);
    if (!teacher)
        snprintf(c->customer, sizeof c->customer, "fam-%s", student);
    snprintf(c->classroom, sizeof c->classroom, "%s", classroom);
    snprintf(c->lesson, sizeof c->lesson, "lesson-%s", classroom);
    snprintf(c->teacher_id, sizeof c->teacher_id, "teacher-%s", classroom);
    snprintf(c->line, sizeof c->line, "%s", line);
    c->teacher = teacher;
    c->phase = phase >= 0 ? phase : (int64_t)rnd(w, PERIOD);
    return c;
}

/* A classroom "<id>" of n students "<id>-s<i>" on `line` and its teacher
 * "<id>-t" on teacher_line, all at random phases. */
static void add_class(struct world *w, const char *id, int n, const char *line,
                      const char *teacher_line)
{
    char name[24];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s-s%d", id, i);
        add_client(w, id, name, line, false, -1);
    }
    snprintf(name, sizeof name, "%s-t", id);
    add_client(w, id, name, teacher_line, true, -1);
}

static struct cl *client(struct world *w, const char *student)
{
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->c[i].student, student) == 0)
            return &w->c[i];
    ck_abort_msg("no client %s", student);
    return NULL;
}

/* The window end of c's first heartbeat after t. */
static int64_t beat_after(const struct cl *c, int64_t t)
{
    int64_t end = T0 + c->phase;
    while (end <= t)
        end += PERIOD;
    return end;
}

static void fault(struct cl *c, int64_t from, int64_t to, enum fault kind)
{
    ck_assert_int_lt(c->nspans, MAX_SPAN);
    c->spans[c->nspans++] = (struct span){from, to, kind, 100};
}

/* One freeze of each_ms in each of c's n heartbeats after t. */
static void freezes(struct cl *c, int64_t t, int n, int64_t each_ms)
{
    int64_t from = beat_after(c, t) - PERIOD;
    fault(c, from, from + n * PERIOD, FREEZES);
    c->spans[c->nspans - 1].each_ms = each_ms;
}

/* The freeze figures of c's heartbeat covering (end - PERIOD, end]. FROZEN:
 * the video is stuck for the whole span (one freeze, its overlap); FREEZES:
 * one freeze of each_ms per heartbeat; jitter: one ~200 ms freeze in every
 * sixth heartbeat, staggered across clients. */
static void figures(const struct world *w, int idx, int64_t end, int *freezes, int64_t *frozen)
{
    const struct cl *c = &w->c[idx];
    *freezes = 0;
    *frozen = 0;
    for (int i = 0; i < c->nspans; i++) {
        const struct span *sp = &c->spans[i];
        int64_t lo = end - PERIOD > sp->from ? end - PERIOD : sp->from;
        int64_t hi = end < sp->to ? end : sp->to;
        if (hi <= lo)
            continue;
        *freezes += 1;
        *frozen += sp->kind == FROZEN ? hi - lo : sp->each_ms;
    }
    int64_t k = (end - T0) / PERIOD;
    if (w->jitter && (k + idx) % 6 == 0) {
        *freezes += 1;
        *frozen += 150 + (k * 7 + idx) % 100;
    }
}

static void feed(struct world *w, int idx, int64_t end)
{
    const struct cl *c = &w->c[idx];
    struct voc_heartbeat hb = {
        .student_id = c->student,
        .customer_id = c->customer[0] ? c->customer : NULL,
        .classroom_id = c->classroom,
        .lesson_id = c->lesson,
        .teacher_id = c->teacher_id,
        .line = c->line[0] ? c->line : NULL,
        .teacher = c->teacher,
        .end_ms = end,
        .duration_ms = PERIOD,
    };
    figures(w, idx, end, &hb.freeze_count, &hb.freeze_ms);
    ck_assert_int_eq(voc_stall_heartbeat(w->s, &hb, on_emit, NULL), 0);
}

/* Every heartbeat of every client with a window end in [from, to), in time
 * order, as the classroom key partitioning would deliver them. */
static void run(struct world *w, int64_t from, int64_t to)
{
    int order[MAX_CL] = {0};
    for (int i = 0; i < w->n; i++) {
        int j = i;
        while (j > 0 && w->c[order[j - 1]].phase > w->c[i].phase) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (int64_t base = from - (from - T0) % PERIOD; base < to; base += PERIOD)
        for (int i = 0; i < w->n; i++) {
            int64_t end = base + w->c[order[i]].phase;
            if (end >= from && end < to)
                feed(w, order[i], end);
        }
}

static const char *find(struct world *w, const char *student)
{
    const struct cl *c = client(w, student);
    return voc_stall_find_incident(w->s, c->customer, c->classroom);
}

static void customers_of(struct world *w, const char *incident, char *out, size_t cap)
{
    const char *const *items;
    size_t n = voc_stall_incident_customers(w->s, incident, &items);
    join_sorted(items, n, out, cap);
}

/* ---- a stalled student ---- */

START_TEST(one_stalled_student_is_one_task_after_the_grace)
{
    struct voc_stall_config cfg = shipped_config();
    cfg.line_early_release = false; /* the grace alone; early release below */
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-a");
    add_class(w, "c2", 6, "ln-a", "ln-a");
    struct cl *v = client(w, "c1-s3");
    int64_t onset = T0 + 2 * MIN;
    fault(v, onset, onset + MIN, FROZEN);
    int64_t first_bad = beat_after(v, onset);
    /* Frozen since onset: 3 s of it are in the window at the first beat
     * at least 3 s after onset. */
    int64_t crossing = beat_after(v, onset + 3 * SEC - 1);
    int64_t release = crossing + cfg.line_grace_ms;

    run(w, T0, release);
    ck_assert_int_eq(nrec, 0); /* held for the grace */
    voc_stall_advance(w->s, release, on_emit, NULL);
    ck_assert_int_eq(nrec, 1);
    const struct rec *r = &recs[0];
    char want[96];
    snprintf(want, sizeof want, "student:c1-s3:%lld", (long long)first_bad);
    ck_assert_int_eq(r->level, VOC_STALL_STUDENT);
    ck_assert_str_eq(r->id, want);
    ck_assert_str_eq(r->subject, "c1-s3");
    ck_assert_str_eq(r->context, "fam-c1-s3|c1|lesson-c1|teacher-c1|ln-a");
    ck_assert_int_eq(r->first_bad_ms, first_bad);
    ck_assert_int_eq(r->detected_ms, release);
    ck_assert_int_ge(r->frozen_ms, 3000);

    /* The stall goes on for a minute and ends: still one call. */
    run(w, release, onset + 10 * MIN);
    ck_assert_int_eq(nrec, 1);
    world_free(w);
}
END_TEST

/* The freeze-count rule needs student.freezes_min_frozen_ms (2 s) of frozen
 * time too: a healthy client's jitter (one 220-300 ms freeze in ~5% of
 * heartbeats) sometimes puts three or four short freezes in a window. The
 * frozen-time rule (3 s) is unchanged. Exact edges: test_stall_crowd.c. */
START_TEST(three_freezes_with_a_second_frozen_are_a_stall_short_ones_are_not)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-t");
    add_class(w, "c2", 6, "ln-b", "ln-t");
    struct cl *v = client(w, "c1-s1");
    freezes(v, T0 + MIN, 3, 700);                     /* 2.1 s: a stall */
    freezes(client(w, "c2-s4"), T0 + MIN, 2, 1400);   /* 2 freezes, 2.8 s: not */
    freezes(client(w, "c1-s2"), T0 + MIN, 3, 300);    /* 0.9 s: jitter */
    freezes(client(w, "c2-t"), T0 + 2 * MIN, 3, 290); /* a teacher's jitter: no classroom stall */
    run(w, T0, T0 + 5 * MIN);
    ck_assert_int_eq(nrec, 1);
    ck_assert_str_eq(recs[0].subject, "c1-s1");
    ck_assert_int_eq(recs[0].freezes, 3);
    ck_assert_int_eq(recs[0].frozen_ms, 2100);
    ck_assert_int_eq(recs[0].first_bad_ms, beat_after(v, T0 + MIN));
    ck_assert_ptr_null(find(w, "c1-s2"));
    world_free(w);
}
END_TEST

START_TEST(healthy_jitter_never_makes_a_task)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    char id[16];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "c%d", i);
        add_class(w, id, 6, i % 2 ? "ln-a" : "ln-b", "ln-t");
    }
    w->jitter = true; /* every client: one ~200 ms freeze in every window */
    run(w, T0, T0 + 30 * MIN);
    ck_assert_int_eq(nrec, 0);
    ck_assert_ptr_null(find(w, "c7-s2"));
    world_free(w);
}
END_TEST

/* ---- classrooms ---- */

START_TEST(stalled_teacher_is_one_classroom_task_and_no_student_task)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-t");
    add_class(w, "c2", 6, "ln-a", "ln-t");
    int64_t onset = T0 + 2 * MIN;
    fault(client(w, "c1-t"), onset, onset + MIN, FROZEN);
    /* A student stalling during the classroom stall is part of it. */
    fault(client(w, "c1-s2"), onset + 20 * SEC, onset + 50 * SEC, FROZEN);
    /* The teacher stalls again within the classroom cooldown. */
    fault(client(w, "c1-t"), onset + 4 * MIN, onset + 5 * MIN, FROZEN);

    run(w, T0, onset + 30 * SEC);
    ck_assert_int_eq(nrec, 1);
    const struct rec *r = &recs[0];
    ck_assert_int_eq(r->level, VOC_STALL_CLASSROOM);
    ck_assert_str_eq(r->subject, "c1");
    ck_assert(r->teacher);
    ck_assert_str_eq(r->context, "|c1|lesson-c1|teacher-c1|ln-t");
    ck_assert_int_eq(r->total, 6);
    ck_assert_str_eq(r->customers, "fam-c1-s0,fam-c1-s1,fam-c1-s2,fam-c1-s3,fam-c1-s4,fam-c1-s5");
    ck_assert_int_eq(r->first_bad_ms, beat_after(client(w, "c1-t"), onset));
    /* A family of that classroom reporting a problem joins its task. */
    ck_assert_str_eq(find(w, "c1-s0"), r->id);
    ck_assert_str_eq(find(w, "c1-s2"), r->id);
    ck_assert_ptr_null(find(w, "c2-s0"));

    run(w, onset + 30 * SEC, onset + 10 * MIN);
    ck_assert_int_eq(count(VOC_STALL_CLASSROOM), 1);
    ck_assert_int_eq(count(VOC_STALL_STUDENT), 0);
    ck_assert_int_eq(nrec, 1);
    world_free(w);
}
END_TEST

/* Freeze-free heartbeats from classmates and other classrooms on the line,
 * ending after the moment the student was certainly frozen, show the stall
 * is the student's own: the call goes out long before the grace ends. */
START_TEST(a_student_cleared_by_classmates_is_called_before_the_grace)
{
    struct voc_stall_config cfg = shipped_config();
    ck_assert(cfg.line_early_release);
    struct world *w = world_new(&cfg);
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", i);
        add_class(w, id, 10, "ln-a", "ln-a");
    }
    struct cl *v = client(w, "c1-s3");
    int64_t onset = T0 + 2 * MIN;
    fault(v, onset, onset + MIN, FROZEN);
    int64_t crossing = beat_after(v, onset + 3 * SEC - 1);
    run(w, T0, crossing + cfg.line_grace_ms - 1);
    ck_assert_int_eq(nrec, 1);
    ck_assert_int_eq(recs[0].level, VOC_STALL_STUDENT);
    ck_assert_str_eq(recs[0].subject, "c1-s3");
    ck_assert_int_lt(recs[0].detected_ms, crossing + 2 * SEC);
    run(w, crossing + cfg.line_grace_ms - 1, onset + 10 * MIN);
    ck_assert_int_eq(nrec, 1);
    world_free(w);
}
END_TEST

START_TEST(half_a_classroom_stalled_is_one_classroom_task)
{
    struct voc_stall_config cfg = shipped_config();
    /* Early release may call the first of a part-classroom stall before the
     * share rule forms (the trade-off in common/stall_clear.c): the rule
     * itself is what this test is about. */
    cfg.line_early_release = false;
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-t");
    add_class(w, "c2", 6, "ln-b", "ln-t");
    int64_t onset = T0 + 2 * MIN;
    for (int i = 0; i < 3; i++) { /* 3 of 6 in c1: the share (0.5) is met */
        char id[16];
        snprintf(id, sizeof id, "c1-s%d", i);
        fault(client(w, id), onset, onset + MIN, FROZEN);
    }
    /* 2 of 6 in c2 is not half: each gets their own call. */
    fault(client(w, "c2-s0"), onset, onset + MIN, FROZEN);
    fault(client(w, "c2-s1"), onset, onset + MIN, FROZEN);
    run(w, T0, onset + 10 * MIN);
    ck_assert_int_eq(count(VOC_STALL_CLASSROOM), 1);
    ck_assert_int_eq(count(VOC_STALL_STUDENT), 2);
    ck_assert_int_eq(count(VOC_STALL_LINE), 0);
    for (int i = 0; i < nrec; i++) {
        const struct rec *r = &recs[i];
        if (r->level == VOC_STALL_CLASSROOM) {
            ck_assert_str_eq(r->subject, "c1");
            ck_assert(!r->teacher);
            ck_assert_int_eq(r->stalled, 3);
            ck_assert_int_eq(r->total, 6);
            ck_assert_str_eq(r->customers, "fam-c1-s0,fam-c1-s1,fam-c1-s2");
        } else {
            ck_assert_ptr_nonnull(strstr(r->context, "|c2|"));
        }
    }
    world_free(w);
}
END_TEST

/* ---- a failing line ---- */

#define ALL_30                                                                                     \
    "fam-c1-s0,fam-c1-s1,fam-c1-s2,fam-c1-s3,fam-c1-s4,fam-c1-s5,"                                 \
    "fam-c2-s0,fam-c2-s1,fam-c2-s2,fam-c2-s3,fam-c2-s4,fam-c2-s5,"                                 \
    "fam-c3-s0,fam-c3-s1,fam-c3-s2,fam-c3-s3,fam-c3-s4,fam-c3-s5,"                                 \
    "fam-c4-s0,fam-c4-s1,fam-c4-s2,fam-c4-s3,fam-c4-s4,fam-c4-s5,"                                 \
    "fam-c5-s0,fam-c5-s1,fam-c5-s2,fam-c5-s3,fam-c5-s4,fam-c5-s5"

/* Five classrooms of six on ct-north (teachers in the studio on idc) and a
 * healthy classroom on cm-south; at onset every ct-north student freezes
 * within 2 s, for two minutes. Returns onset. */
static int64_t failing_line(struct world *w)
{
    char id[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof id, "c%d", i);
        add_class(w, id, 6, "ct-north", "idc");
    }
    add_class(w, "c9", 6, "cm-south", "idc");
    int64_t onset = T0 + 3 * MIN;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->c[i].line, "ct-north") == 0) {
            int64_t at = onset + (int64_t)rnd(w, 2000);
            fault(&w->c[i], at, onset + 2 * MIN, FROZEN);
        }
    return onset;
}

/* Whether every name in the comma-separated list is in the one of all. */
static bool subset(const char *list, const char *all)
{
    char name[64];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        ck_assert_uint_lt(n, sizeof name - 2);
        snprintf(name, sizeof name, ",%.*s,", (int)n, p);
        char wrapped[2048];
        snprintf(wrapped, sizeof wrapped, ",%s,", all);
        if (!strstr(wrapped, name))
            return false;
        p += n + (p[n] == ',');
    }
    return true;
}

START_TEST(failing_line_is_one_line_incident_and_no_calls)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    int64_t onset = failing_line(w);
    run(w, T0, onset + 5 * MIN);
    ck_assert_int_eq(count(VOC_STALL_LINE), 1);
    ck_assert_int_eq(count(VOC_STALL_STUDENT), 0);
    ck_assert_int_eq(count(VOC_STALL_CLASSROOM), 0);
    const struct rec *r = &recs[0];
    ck_assert_str_eq(r->subject, "ct-north");
    ck_assert_str_eq(r->context, "||||ct-north");
    ck_assert_int_ge(r->stalled, cfg.line_min_classrooms);
    ck_assert_int_eq(r->total, 5);
    /* Decided within one heartbeat period of the first freeze. */
    ck_assert_int_lt(r->detected_ms, onset + 2 * SEC + 3 * SEC + PERIOD);
    /* The emitted list holds whoever had stalled by then; everyone who
     * stalled after joins the incident's list, not a new task. */
    ck_assert_int_gt(strlen(r->customers), 0);
    ck_assert_msg(subset(r->customers, ALL_30), "%s", r->customers);
    char all[2048];
    customers_of(w, r->id, all, sizeof all);
    ck_assert_str_eq(all, ALL_30);
    ck_assert_str_eq(find(w, "c3-s4"), r->id);
    ck_assert_ptr_null(find(w, "c9-s0"));
    world_free(w);
}
END_TEST

START_TEST(line_inhibition_lasts_incident_ms_then_ends)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    int64_t onset = failing_line(w);
    add_client(w, "c1", "c1-late", "ct-north", false, -1);
    run(w, T0, onset + MIN);
    ck_assert_int_eq(nrec, 1);
    char line_id[96];
    snprintf(line_id, sizeof line_id, "%s", recs[0].id);
    int64_t fired = recs[0].detected_ms;
    int64_t ends = fired + cfg.line_incident_ms;

    /* Shortly before the end, a new stall on the line joins the incident. */
    fault(client(w, "c1-late"), ends - 2 * MIN, ends - MIN, FROZEN);
    run(w, onset + MIN, ends - MIN);
    ck_assert_int_eq(nrec, 1);
    ck_assert_str_eq(find(w, "c1-late"), line_id);
    char all[2048];
    customers_of(w, line_id, all, sizeof all);
    ck_assert_str_eq(all, "fam-c1-late," ALL_30);

    /* After the end, one student's stall on the line is a call again. */
    fault(client(w, "c2-s0"), ends + MIN, ends + 2 * MIN, FROZEN);
    run(w, ends - MIN, ends + 5 * MIN);
    ck_assert_int_eq(nrec, 2);
    ck_assert_int_eq(recs[1].level, VOC_STALL_STUDENT);
    ck_assert_str_eq(recs[1].subject, "c2-s0");
    ck_assert_int_eq(count(VOC_STALL_LINE), 1);
    world_free(w);
}
END_TEST

/* ---- cooldowns and joining ---- */

START_TEST(cooldown_stops_a_second_call_until_it_ends)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-t");
    struct cl *v = client(w, "c1-s0");
    int64_t onset = T0 + MIN;
    fault(v, onset, onset + 5 * MIN, FROZEN);           /* one long stall */
    fault(v, onset + 7 * MIN, onset + 8 * MIN, FROZEN); /* and again, 2 min later */
    run(w, T0, onset + 7 * MIN + 30 * SEC);
    ck_assert_int_eq(nrec, 1);
    char first[96];
    snprintf(first, sizeof first, "%s", recs[0].id);
    ck_assert_str_eq(find(w, "c1-s0"), first); /* the report joins the first task */
    run(w, onset + 7 * MIN + 30 * SEC, onset + 10 * MIN);
    ck_assert_int_eq(nrec, 1);

    /* A new stall after the cooldown is a new incident and a new call. */
    int64_t again = recs[0].detected_ms + cfg.cooldown_student_ms + MIN;
    fault(v, again, again + MIN, FROZEN);
    run(w, onset + 10 * MIN, again + 3 * MIN);
    ck_assert_int_eq(nrec, 2);
    ck_assert_int_eq(recs[1].first_bad_ms, beat_after(v, again));
    ck_assert_str_ne(recs[1].id, first);
    world_free(w);
}
END_TEST

START_TEST(tech_issue_report_joins_the_stall)
{
    struct voc_stall_config cfg = shipped_config();
    struct world *w = world_new(&cfg);
    add_class(w, "c1", 6, "ln-a", "ln-t");
    struct cl *v = client(w, "c1-s5");
    int64_t onset = T0 + MIN;
    fault(v, onset, onset + MIN, FROZEN);
    int64_t first_bad = beat_after(v, onset);
    int64_t crossing = beat_after(v, onset + 3 * SEC - 1);
    char want[96];
    snprintf(want, sizeof want, "student:c1-s5:%lld", (long long)first_bad);

    run(w, T0, first_bad + 1); /* frozen, but not yet a stall */
    ck_assert_ptr_null(find(w, "c1-s5"));
    run(w, first_bad + 1, crossing + 1); /* held: no task yet, but joinable */
    ck_assert_int_eq(nrec, 0);
    ck_assert_str_eq(find(w, "c1-s5"), want);
    run(w, crossing + 1, onset + MIN); /* emitted */
    ck_assert_int_eq(nrec, 1);
    ck_assert_str_eq(find(w, "c1-s5"), want);
    ck_assert_ptr_null(find(w, "c1-s0"));
    ck_assert_ptr_null(voc_stall_find_incident(w->s, "fam-c1-s5", "c2"));
    ck_assert_ptr_null(voc_stall_find_incident(w->s, NULL, "c1"));
    /* Over once a whole window passes without a crossing. */
    run(w, onset + MIN, onset + MIN + 2 * cfg.window_ms + PERIOD);
    ck_assert_ptr_null(find(w, "c1-s5"));
    world_free(w);
}
END_TEST

static Suite *stall_suite(void)
{
    Suite *s = suite_create("stall");
    TCase *t = tcase_create("detect");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, one_stalled_student_is_one_task_after_the_grace);
    tcase_add_test(t, a_student_cleared_by_classmates_is_called_before_the_grace);
    tcase_add_test(t, three_freezes_with_a_second_frozen_are_a_stall_short_ones_are_not);
    tcase_add_test(t, healthy_jitter_never_makes_a_task);
    tcase_add_test(t, stalled_teacher_is_one_classroom_task_and_no_student_task);
    tcase_add_test(t, half_a_classroom_stalled_is_one_classroom_task);
    tcase_add_test(t, failing_line_is_one_line_incident_and_no_calls);
    tcase_add_test(t, line_inhibition_lasts_incident_ms_then_ends);
    tcase_add_test(t, cooldown_stops_a_second_call_until_it_ends);
    tcase_add_test(t, tech_issue_report_joins_the_stall);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return ts_run_suite(stall_suite());
}
