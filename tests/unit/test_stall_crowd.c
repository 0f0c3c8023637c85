/* Stall detection at scale and at its edges, heartbeat by heartbeat: big
 * lines (the line_min_share rule), the exact edges of the freeze-count rule,
 * redelivery and memory. Clients here beat at fixed, evenly spread phases.
 * The scenarios with random phases are in test_stall.c. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "voc/stall.h"
#include "testsupport.h"

#define CONFIG  VOC_TEST_SOURCE_DIR "/deploy/config/outreach.yaml"
#define PERIOD  INT64_C(5000) /* ms between one client's heartbeats */
#define T0      INT64_C(1700000000000)
#define SEC     INT64_C(1000)
#define MIN     (60 * SEC)
#define MAX_REC 64

/* ---- what was emitted ---- */

struct rec {
    int64_t frozen_ms;
    size_t ncustomers;
    enum voc_stall_level level;
    int freezes, stalled, total;
    char subject[32];
};

static struct rec recs[MAX_REC];
static int nrec;

static void on_emit(void *ctx, const struct voc_stall_detection *d)
{
    (void)ctx;
    ck_assert_int_lt(nrec, MAX_REC);
    struct rec *r = &recs[nrec++];
    *r = (struct rec){.level = d->level,
                      .frozen_ms = d->frozen_ms,
                      .freezes = d->freezes,
                      .stalled = d->stalled,
                      .total = d->total,
                      .ncustomers = d->ncustomers};
    snprintf(r->subject, sizeof r->subject, "%s", d->subject);
}

static int count(enum voc_stall_level level)
{
    int n = 0;
    for (int i = 0; i < nrec; i++)
        n += recs[i].level == level;
    return n;
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

static struct voc_stall *detector(const struct voc_stall_config *cfg)
{
    struct voc_stall *s = voc_stall_new(cfg);
    ck_assert_ptr_nonnull(s);
    nrec = 0;
    return s;
}

static void beat(struct voc_stall *s, const char *student, const char *classroom, const char *line,
                 int64_t end, int freezes, int64_t frozen_ms)
{
    char customer[32];
    snprintf(customer, sizeof customer, "fam-%s", student);
    struct voc_heartbeat hb = {.student_id = student,
                               .customer_id = customer,
                               .classroom_id = classroom,
                               .lesson_id = "lesson",
                               .teacher_id = "teacher",
                               .line = line,
                               .end_ms = end,
                               .duration_ms = PERIOD,
                               .freeze_count = freezes,
                               .freeze_ms = frozen_ms};
    ck_assert_int_eq(voc_stall_heartbeat(s, &hb, on_emit, NULL), 0);
}

/* ---- a school on one line ---- */

/* Students frozen over [from, to): one, or (student < 0) a whole classroom. */
struct frozen {
    int cls, student;
    int64_t from, to;
};

/* nclass classrooms "k<c>" of `per` students "k<c>-s<i>" on `line`, beating
 * in turn across each period (a classroom's students spread over it).
 * Classrooms from `leave_from` on stop beating at leave_at. */
struct school {
    int nclass, per, leave_from;
    int64_t leave_at;
    const char *line;
    const struct frozen *frozen;
    int nfrozen;
};

static int64_t frozen_in(const struct school *sc, int cls, int st, int64_t end)
{
    int64_t ms = 0;
    for (int i = 0; i < sc->nfrozen; i++) {
        const struct frozen *f = &sc->frozen[i];
        int64_t lo = end - PERIOD > f->from ? end - PERIOD : f->from;
        int64_t hi = end < f->to ? end : f->to;
        if (f->cls == cls && (f->student < 0 || f->student == st) && hi > lo)
            ms += hi - lo;
    }
    return ms;
}

static void school_run(struct voc_stall *s, const struct school *sc, int64_t from, int64_t to)
{
    int n = sc->nclass * sc->per;
    char student[32], classroom[16];
    for (int64_t base = from - (from - T0) % PERIOD; base < to; base += PERIOD)
        for (int i = 0; i < n; i++) {
            int64_t end = base + (int64_t)i * PERIOD / n;
            int cls = i % sc->nclass, st = i / sc->nclass;
            if (end < from || end >= to ||
                (sc->leave_from && cls >= sc->leave_from && end >= sc->leave_at))
                continue;
            snprintf(classroom, sizeof classroom, "k%d", cls);
            snprintf(student, sizeof student, "k%d-s%d", cls, st);
            int64_t ms = frozen_in(sc, cls, st, end);
            beat(s, student, classroom, sc->line, end, ms > 0, ms);
        }
}

/* ---- big lines: line_min_share ---- */

/* 100 classrooms of 5 on one line; four students in four classrooms stall
 * independently within a minute: four calls, not a line incident. */
START_TEST(few_independent_stalls_on_a_big_line_are_student_tasks)
{
    static const struct frozen f[] = {{3, 0, T0 + 2 * MIN, T0 + 3 * MIN},
                                      {17, 1, T0 + 2 * MIN + 20 * SEC, T0 + 3 * MIN},
                                      {42, 2, T0 + 2 * MIN + 40 * SEC, T0 + 4 * MIN},
                                      {77, 4, T0 + 3 * MIN, T0 + 4 * MIN}};
    const struct school sc = {.nclass = 100, .per = 5, .line = "ln-big", .frozen = f, .nfrozen = 4};
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = detector(&cfg);
    school_run(s, &sc, T0, T0 + 10 * MIN);
    ck_assert_int_eq(count(VOC_STALL_STUDENT), 4);
    ck_assert_int_eq(nrec, 4);
    voc_stall_free(s);

    /* Without the share (line_min_classrooms alone) the third stall made a
     * false line incident. */
    cfg.line_min_share = 0.01;
    s = detector(&cfg);
    school_run(s, &sc, T0, T0 + 10 * MIN);
    ck_assert_int_eq(count(VOC_STALL_LINE), 1);
    voc_stall_free(s);
}
END_TEST

/* The same line failing in 40 of its 100 classrooms is one line incident
 * and no calls; in 25 (below min_share 0.3) it is 25 classroom tasks. */
START_TEST(big_line_failing_broadly_is_one_line_incident)
{
    struct frozen f[40];
    for (int i = 0; i < 40; i++)
        f[i] = (struct frozen){i, -1, T0 + 3 * MIN, T0 + 5 * MIN};
    struct school sc = {.nclass = 100, .per = 5, .line = "ln-big", .frozen = f, .nfrozen = 40};
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = detector(&cfg);
    school_run(s, &sc, T0, T0 + 10 * MIN);
    ck_assert_int_eq(nrec, 1);
    ck_assert_int_eq(recs[0].level, VOC_STALL_LINE);
    ck_assert_str_eq(recs[0].subject, "ln-big");
    ck_assert_int_eq(recs[0].total, 100); /* classrooms heard from on the line */
    ck_assert_int_ge(recs[0].stalled, 30);
    ck_assert_int_le(recs[0].stalled, 40);
    voc_stall_free(s);

    sc.nfrozen = 25;
    s = detector(&cfg);
    school_run(s, &sc, T0, T0 + 10 * MIN);
    ck_assert_int_eq(count(VOC_STALL_CLASSROOM), 25);
    ck_assert_int_eq(nrec, 25);
    voc_stall_free(s);
}
END_TEST

/* The share counts the classrooms heard from on the line within
 * line.window_ms: 16 of 20 classrooms leave; 3 of the 20 failing 30 s later
 * is not a line incident (3 classroom tasks), 3 of the 4 left failing 4 min
 * later is. */
START_TEST(share_counts_classrooms_heard_within_the_line_window)
{
    struct voc_stall_config cfg = shipped_config();
    const int64_t left = T0 + 2 * MIN, after[] = {30 * SEC, 4 * MIN};
    for (int j = 0; j < 2; j++) {
        int64_t onset = left + after[j];
        const struct frozen f[] = {
            {0, -1, onset, onset + MIN}, {1, -1, onset, onset + MIN}, {2, -1, onset, onset + MIN}};
        const struct school sc = {.nclass = 20,
                                  .per = 5,
                                  .leave_from = 4,
                                  .leave_at = left,
                                  .line = "ln-x",
                                  .frozen = f,
                                  .nfrozen = 3};
        struct voc_stall *s = detector(&cfg);
        school_run(s, &sc, T0, onset + 5 * MIN);
        if (j == 0) {
            ck_assert_int_eq(count(VOC_STALL_CLASSROOM), 3);
            ck_assert_int_eq(nrec, 3);
        } else {
            ck_assert_int_eq(nrec, 1);
            ck_assert_int_eq(recs[0].level, VOC_STALL_LINE);
            ck_assert_int_eq(recs[0].total, 4);
            ck_assert_int_eq(recs[0].stalled, 3);
            ck_assert_uint_ge(recs[0].ncustomers, 3); /* who had stalled by then */
        }
        voc_stall_free(s);
    }
}
END_TEST

/* ---- the freeze-count rule's floor ---- */

static void three_beats(struct voc_stall *s, const char *student, int64_t t, int64_t a, int64_t b,
                        int64_t c)
{
    char classroom[32];
    snprintf(classroom, sizeof classroom, "cl-%s", student);
    beat(s, student, classroom, NULL, t, 1, a);
    beat(s, student, classroom, NULL, t + PERIOD, 1, b);
    beat(s, student, classroom, NULL, t + 2 * PERIOD, 1, c);
}

START_TEST(freeze_count_needs_two_seconds_frozen)
{
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = detector(&cfg);
    three_beats(s, "a", T0, 666, 666, 667);     /* 1999 ms: jitter */
    three_beats(s, "b", T0 + 1, 667, 667, 666); /* 2000 ms: a stall */
    /* Six 340 ms freezes in 30 s: a stall at the sixth (2040 ms), not before. */
    three_beats(s, "c", T0 + 2, 340, 340, 340);
    three_beats(s, "c", T0 + 15002, 340, 340, 340);
    three_beats(s, "d", T0 + 3, 0, 990, 0); /* 3 freezes, 990 ms */
    voc_stall_advance(s, T0 + 2 * MIN, on_emit, NULL);
    ck_assert_int_eq(nrec, 2);
    ck_assert_str_eq(recs[0].subject, "b");
    ck_assert_int_eq(recs[0].freezes, 3);
    ck_assert_int_eq(recs[0].frozen_ms, 2000);
    ck_assert_str_eq(recs[1].subject, "c");
    voc_stall_free(s);

    /* 0 turns the floor off: the freeze count alone decides again. */
    cfg.student_freezes_min_ms = 0;
    s = detector(&cfg);
    three_beats(s, "a", T0, 333, 333, 333);
    three_beats(s, "e", T0 + 1, 100, 100, 100);
    voc_stall_advance(s, T0 + 2 * MIN, on_emit, NULL);
    ck_assert_int_eq(nrec, 2);
    voc_stall_free(s);
}
END_TEST

/* ---- redelivery and memory ---- */

START_TEST(redelivered_heartbeats_do_not_count_twice)
{
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = detector(&cfg);
    /* One 1.6 s freeze, delivered twice (Kafka is at-least-once). */
    beat(s, "a", "c1", "ln", T0, 1, 1600);
    beat(s, "a", "c1", "ln", T0, 1, 1600);
    /* Two distinct 1.6 s freezes: 3.2 s within the window. */
    beat(s, "b", "c2", "ln", T0 + 1, 1, 1600);
    beat(s, "b", "c2", "ln", T0 + PERIOD + 1, 1, 1600);
    /* A late heartbeat from before the window is ignored too. */
    beat(s, "a", "c1", "ln", T0 + 2 * cfg.window_ms, 0, 0);
    beat(s, "a", "c1", "ln", T0 + cfg.window_ms / 2, 1, 1600);
    voc_stall_advance(s, T0 + 10 * MIN, on_emit, NULL);
    ck_assert_int_eq(nrec, 1);
    ck_assert_str_eq(recs[0].subject, "b");
    voc_stall_free(s);
}
END_TEST

/* 10,000 students in classrooms of 10 on 50 lines, one window of beats. */
static void crowd(struct voc_stall *s, int64_t from)
{
    char student[16], classroom[16], line[16];
    for (int64_t t = from; t < from + 30 * SEC; t += PERIOD)
        for (int i = 0; i < 10000; i++) {
            snprintf(student, sizeof student, "st%d", i);
            snprintf(classroom, sizeof classroom, "cl%d", i / 10);
            snprintf(line, sizeof line, "ln%d", i % 50);
            beat(s, student, classroom, line, t + i % PERIOD, 0, 0);
        }
}

START_TEST(idle_clients_are_forgotten_but_not_their_cooldown)
{
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = detector(&cfg);
    size_t empty = voc_stall_memory(s);
    crowd(s, T0);
    size_t full = voc_stall_memory(s);
    ck_assert_uint_gt(full - empty, 1000000); /* the counting is real */
    ck_assert_uint_lt((full - empty) / 10000, 1024);

    /* A student is called, then drops out with everyone else. */
    int64_t t = T0 + MIN;
    beat(s, "x", "cx", "lx", t, 1, 4000);
    voc_stall_advance(s, t + cfg.line_grace_ms, on_emit, NULL);
    ck_assert_int_eq(nrec, 1);
    voc_stall_advance(s, t + cfg.idle_ms + SEC, on_emit, NULL);
    size_t idle = voc_stall_memory(s);
    ck_assert_uint_lt(idle - empty, (full - empty) / 2); /* the clients are gone */
    /* What the share rule needs (which classrooms were heard from on each
     * line) is kept for line.window_ms, then given back too. */
    voc_stall_advance(s, t + cfg.line_window_ms + 2 * cfg.idle_ms, on_emit, NULL);
    size_t after = voc_stall_memory(s);
    ck_assert_uint_lt(after - empty, 32768);

    /* Back, and stalled again, within the cooldown: no second call. */
    int64_t back = t + cfg.line_window_ms + 2 * cfg.idle_ms + SEC;
    ck_assert_int_lt(back, t + cfg.cooldown_student_ms);
    beat(s, "x", "cx", "lx", back, 1, 4000);
    voc_stall_advance(s, back + MIN, on_emit, NULL);
    ck_assert_int_eq(nrec, 1);
    voc_stall_free(s);
}
END_TEST

static Suite *stall_crowd_suite(void)
{
    Suite *s = suite_create("stall_crowd");
    TCase *t = tcase_create("crowd");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, few_independent_stalls_on_a_big_line_are_student_tasks);
    tcase_add_test(t, big_line_failing_broadly_is_one_line_incident);
    tcase_add_test(t, share_counts_classrooms_heard_within_the_line_window);
    tcase_add_test(t, freeze_count_needs_two_seconds_frozen);
    tcase_add_test(t, redelivered_heartbeats_do_not_count_twice);
    tcase_add_test(t, idle_clients_are_forgotten_but_not_their_cooldown);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return ts_run_suite(stall_crowd_suite());
}
