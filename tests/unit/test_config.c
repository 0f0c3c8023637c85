/* voc.yaml loading: the shipped file is valid, and every kind of mistake an
 * operator makes is reported as file:line: message, all of them at once. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voc/config.h"
#include "testsupport.h"

static char dir[256];

static void write_config(const char *text)
{
    char path[512];
    snprintf(dir, sizeof dir, "/tmp/voc-config-test-%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/voc.yaml", dir);
    ts_write_file(path, text);
}

/* Loads dir and returns the diagnostics joined by newlines (static buffer). */
static const char *load_errors(struct voc_config *cfg, int *rc)
{
    static char out[4096];
    struct voc_diag d = {0};
    *rc = voc_config_load(dir, cfg, &d);
    out[0] = '\0';
    for (size_t i = 0; i < d.count; i++) {
        /* Report paths relative to the test directory. */
        const char *line = d.lines[i] + strlen(dir) + 1;
        strncat(out, line, sizeof out - strlen(out) - 2);
        strcat(out, "\n");
    }
    voc_diag_free(&d);
    return out;
}

START_TEST(shipped_config_is_valid)
{
    struct voc_config cfg;
    struct voc_diag d = {0};
    unsetenv("VOC_KAFKA_BROKERS");
    unsetenv("VOC_PG_DSN");
    ck_assert_int_eq(voc_config_load(VOC_TEST_SOURCE_DIR "/deploy/config", &cfg, &d), 0);
    ck_assert_uint_eq(d.count, 0);
    ck_assert_str_eq(cfg.topics.classified, "voc.classified");
    ck_assert_int_eq(cfg.ingest.batch_size, 500);
    ck_assert_int_eq(cfg.bus.partitions, 12);
    ck_assert_str_eq(voc_config_kafka_get(&cfg, "bootstrap.servers"), "127.0.0.1:9092");
    voc_config_free(&cfg);
}
END_TEST

START_TEST(environment_overrides_brokers_and_dsn)
{
    struct voc_config cfg;
    int rc;
    write_config("kafka:\n  bootstrap.servers: a:1\npostgres:\n  dsn: dbname=x\n");
    setenv("VOC_KAFKA_BROKERS", "b:2", 1);
    setenv("VOC_PG_DSN", "dbname=y", 1);
    load_errors(&cfg, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(voc_config_kafka_get(&cfg, "bootstrap.servers"), "b:2");
    ck_assert_str_eq(cfg.postgres.dsn, "dbname=y");
    voc_config_free(&cfg);
    unsetenv("VOC_KAFKA_BROKERS");
    unsetenv("VOC_PG_DSN");
}
END_TEST

START_TEST(every_problem_is_reported_with_its_line)
{
    struct voc_config cfg;
    int rc;
    write_config("topics:\n"
                 "  complaint: voc.complaint\n"
                 "  complain: typo\n"
                 "ingest:\n"
                 "  batch_size: many\n"
                 "  flush_ms: 0\n"
                 "log:\n"
                 "  level: loud\n"
                 "kafka:\n"
                 "  sasl.password: hunter2\n"
                 "colour: blue\n");
    const char *errs = load_errors(&cfg, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(errs,
                     "voc.yaml:11: unknown key 'colour' in the top level\n"
                     "voc.yaml:10: kafka: 'sasl.password' is a secret and does not "
                     "belong in a config file\n"
                     "voc.yaml:3: unknown key 'complain' in topics\n"
                     "voc.yaml:5: 'batch_size' must be a whole number, not 'many'\n"
                     "voc.yaml:6: 'flush_ms' must be between 1 and 60000, not 0\n"
                     "voc.yaml:8: log level must be debug, info, warn or error, not 'loud'\n");
    voc_config_free(&cfg);
}
END_TEST

START_TEST(yaml_syntax_errors_and_duplicate_keys_have_lines)
{
    struct voc_config cfg;
    int rc;
    write_config("ingest:\n  batch_size: 10\n  batch_size: 20\n");
    ck_assert_str_eq(load_errors(&cfg, &rc),
                     "voc.yaml:3: duplicate key 'batch_size' (first at line 2)\n");
    ck_assert_int_eq(rc, -1);
    voc_config_free(&cfg);
    write_config("ingest:\n  batch_size: [1, 2\nlog: {}\n");
    const char *errs = load_errors(&cfg, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(errs, "voc.yaml:3: YAML syntax:", 24) == 0, "got %s", errs);
    voc_config_free(&cfg);
}
END_TEST

START_TEST(a_password_in_the_dsn_is_refused)
{
    struct voc_config cfg;
    int rc;
    unsetenv("VOC_PG_DSN");
    write_config("postgres:\n  dsn: host=db password=secret\n");
    ck_assert_str_eq(load_errors(&cfg, &rc), "voc.yaml: postgres.dsn holds a password: put it in "
                                             "PGPASSWORD or ~/.pgpass instead\n");
    ck_assert_int_eq(rc, -1);
    voc_config_free(&cfg);
    write_config("postgres:\n  dsn: postgresql://voc:secret@db/voc\n");
    load_errors(&cfg, &rc);
    ck_assert_int_eq(rc, -1);
    voc_config_free(&cfg);
}
END_TEST

START_TEST(a_missing_file_says_so)
{
    struct voc_config cfg;
    int rc;
    snprintf(dir, sizeof dir, "/nonexistent-voc-dir");
    const char *errs = load_errors(&cfg, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(errs, "voc.yaml: cannot open: No such file or directory\n");
    voc_config_free(&cfg);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("voc.yaml");
    tcase_add_test(tc, shipped_config_is_valid);
    tcase_add_test(tc, environment_overrides_brokers_and_dsn);
    tcase_add_test(tc, every_problem_is_reported_with_its_line);
    tcase_add_test(tc, yaml_syntax_errors_and_duplicate_keys_have_lines);
    tcase_add_test(tc, a_password_in_the_dsn_is_refused);
    tcase_add_test(tc, a_missing_file_says_so);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ts_run_suite(config_suite());
}
