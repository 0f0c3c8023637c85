/* The outreach thresholds file (deploy/config/outreach.yaml): the shipped
 * one loads with the values its comments promise, and every broken file is
 * refused with file:line messages. The detector refuses what the loader
 * refuses. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>

#include "voc/stall.h"
#include "testsupport.h"

#define CONFIG  VOC_TEST_SOURCE_DIR "/deploy/config/outreach.yaml"
#define BAD_DIR VOC_TEST_SOURCE_DIR "/tests/data/outreach_bad"

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

START_TEST(shipped_config_loads)
{
    struct voc_stall_config cfg = shipped_config();
    ck_assert_int_eq(cfg.window_ms, 30000);
    ck_assert_int_eq(cfg.student_frozen_ms, 3000);
    ck_assert_int_eq(cfg.student_freezes, 3);
    ck_assert_int_eq(cfg.student_freezes_min_ms, 2000);
    ck_assert_double_eq_tol(cfg.classroom_share, 0.5, 1e-9);
    ck_assert_int_eq(cfg.classroom_min_students, 2);
    ck_assert_int_eq(cfg.line_window_ms, 180000);
    ck_assert_int_eq(cfg.line_min_classrooms, 3);
    ck_assert_double_eq_tol(cfg.line_min_share, 0.3, 1e-9);
    ck_assert_int_eq(cfg.line_incident_ms, 900000);
    ck_assert_int_eq(cfg.line_grace_ms, 5000); /* not the built-in default: see the file */
    ck_assert_int_eq(cfg.cooldown_student_ms, 600000);
    ck_assert_int_eq(cfg.cooldown_classroom_ms, 600000);
    ck_assert_int_eq(cfg.idle_ms, 120000);
}
END_TEST

START_TEST(defaults_match_the_shipped_file_but_the_grace)
{
    struct voc_stall_config def, cfg = shipped_config();
    voc_stall_config_defaults(&def);
    ck_assert_int_eq(def.line_grace_ms, 1000);
    def.line_grace_ms = cfg.line_grace_ms;
    ck_assert_int_eq(def.window_ms, cfg.window_ms);
    ck_assert_int_eq(def.student_frozen_ms, cfg.student_frozen_ms);
    ck_assert_int_eq(def.student_freezes, cfg.student_freezes);
    ck_assert_int_eq(def.student_freezes_min_ms, cfg.student_freezes_min_ms);
    ck_assert_double_eq_tol(def.classroom_share, cfg.classroom_share, 1e-12);
    ck_assert_int_eq(def.classroom_min_students, cfg.classroom_min_students);
    ck_assert_int_eq(def.line_window_ms, cfg.line_window_ms);
    ck_assert_int_eq(def.line_min_classrooms, cfg.line_min_classrooms);
    ck_assert_double_eq_tol(def.line_min_share, cfg.line_min_share, 1e-12);
    ck_assert_int_eq(def.line_incident_ms, cfg.line_incident_ms);
    ck_assert_int_eq(def.cooldown_student_ms, cfg.cooldown_student_ms);
    ck_assert_int_eq(def.cooldown_classroom_ms, cfg.cooldown_classroom_ms);
    ck_assert_int_eq(def.idle_ms, cfg.idle_ms);
}
END_TEST

/* A configuration the detector cannot honour is refused there too. */
START_TEST(detector_refuses_what_the_loader_refuses)
{
    struct voc_stall_config cfg = shipped_config();
    struct voc_stall *s = voc_stall_new(&cfg);
    ck_assert_ptr_nonnull(s);
    voc_stall_free(s);

    struct voc_stall_config bad = cfg;
    bad.line_grace_ms = cfg.window_ms;
    ck_assert_ptr_null(voc_stall_new(&bad));
    bad = cfg;
    bad.line_min_share = 0;
    ck_assert_ptr_null(voc_stall_new(&bad));
    bad.line_min_share = 1.01;
    ck_assert_ptr_null(voc_stall_new(&bad));
    bad = cfg;
    bad.student_freezes_min_ms = cfg.student_frozen_ms;
    ck_assert_ptr_null(voc_stall_new(&bad));
    bad.student_freezes_min_ms = -1;
    ck_assert_ptr_null(voc_stall_new(&bad));

    /* The edges that are allowed. */
    bad = cfg;
    bad.line_min_share = 1;
    bad.student_freezes_min_ms = 0;
    ck_assert_ptr_nonnull(s = voc_stall_new(&bad));
    voc_stall_free(s);
    bad.student_freezes_min_ms = cfg.student_frozen_ms - 1;
    ck_assert_ptr_nonnull(s = voc_stall_new(&bad));
    voc_stall_free(s);
}
END_TEST

static const struct ts_bad_file bad[] = {
    {"unknown_keys.yaml",
     {"2: unknown key 'idle' in the outreach file", "5: unknown key 'freeze_count' in student",
      "7: unknown key 'grace' in line"}},
    {"bad_values.yaml",
     {"1: 'window_ms' must be a whole number, not '30s'",
      "3: 'frozen_ms' must be between 500 and 86400000, not 200",
      "4: 'freezes' must be a whole number, not 'three'",
      "6: 'share' must be between 0.01 and 1, not 1.5",
      "7: 'min_students' must be between 1 and 100000, not 0",
      "9: 'min_classrooms' must be between 2 and 100000, not 1"}},
    {"bad_floor_share.yaml",
     {"2: 'freezes_min_frozen_ms' must be a whole number, not '1s'",
      "4: 'min_share' must be more than 0 and at most 1, not 0"}},
    {"floor_share_out_of_range.yaml",
     {"2: 'freezes_min_frozen_ms' must be between 0 and 86400000, not -1",
      "4: 'min_share' must be more than 0 and at most 1, not 1.5"}},
    {"inconsistent.yaml",
     {("2: idle_ms (10000) must be at least window_ms (20000): a client would be forgotten while "
       "its window still counts"),
      "4: student.frozen_ms (25000) cannot be reached within window_ms (20000)",
      "5: student.freezes_min_frozen_ms (30000) must be less than student.frozen_ms (25000)",
      "7: line.window_ms (15000) must be at least window_ms (20000)",
      "8: line.grace_ms (20000) must be shorter than window_ms (20000)"}},
    {"low_frozen_ms.yaml",
     {"3: student.freezes_min_frozen_ms (2000) must be less than student.frozen_ms (800)"}},
    {"not_a_mapping.yaml",
     {"2: student must be a mapping", "4: classroom must be a mapping",
      "5: line must be a mapping"}},
    {"syntax_error.yaml",
     {"5: YAML syntax: did not find expected ',' or '}' while parsing a flow mapping"}},
    {"duplicate_key.yaml", {"5: duplicate key 'frozen_ms' (first at line 3)"}},
    {"empty.yaml",
     {" empty file: write the thresholds, even if they are the defaults, so that operators can "
      "see them"}},
};
#define NBAD (sizeof bad / sizeof bad[0])

static bool stall_config_loads(const char *path, struct voc_diag *d)
{
    struct voc_stall_config cfg;
    return voc_stall_config_load(path, &cfg, d) == 0;
}

START_TEST(broken_outreach_files_are_refused)
{
    ts_expect_refused(BAD_DIR, &bad[_i], stall_config_loads);
}
END_TEST

static Suite *stall_config_suite(void)
{
    Suite *s = suite_create("stall_config");
    TCase *c = tcase_create("config");
    tcase_add_test(c, shipped_config_loads);
    tcase_add_test(c, defaults_match_the_shipped_file_but_the_grace);
    tcase_add_test(c, detector_refuses_what_the_loader_refuses);
    tcase_add_loop_test(c, broken_outreach_files_are_refused, 0, (int)NBAD);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return ts_run_suite(stall_config_suite());
}
