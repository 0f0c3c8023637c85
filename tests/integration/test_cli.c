/* The command-line contract every binary shares: --help and --version exit 0,
 * bad usage exits 2, and a broken configuration stops start-up with exit 2
 * and file:line: message on stderr, before anything connects anywhere. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Runs a shell command; returns its exit code and its stdout+stderr in out. */
static int run(const char *cmd, char *out, size_t outlen)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *const binaries[] = {"voc-bus",   "voc-ingest", "voc-aggregate", "voc-outreach",
                                       "voc-track", "voc-notify", "vocctl"};

START_TEST(help_version_and_bad_usage)
{
    char cmd[1024], out[8192];
    const char *bin = binaries[_i];
    snprintf(cmd, sizeof cmd, "%s/%s --help", VOC_TEST_BINARY_DIR, bin);
    ck_assert_int_eq(run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "usage:") && strstr(out, "--config"), "%s --help: %s", bin, out);
    snprintf(cmd, sizeof cmd, "%s/%s --version", VOC_TEST_BINARY_DIR, bin);
    ck_assert_int_eq(run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, VOC_VERSION) != NULL, "%s --version: %s", bin, out);
    snprintf(cmd, sizeof cmd, "%s/%s --no-such-option", VOC_TEST_BINARY_DIR, bin);
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
}
END_TEST

static void make_bad_config(char *dir, size_t len)
{
    char cmd[1024];
    snprintf(dir, len, "/tmp/voc-cli-test-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s/deploy/config %s", dir, VOC_TEST_SOURCE_DIR,
             dir);
    ck_assert_int_eq(system(cmd), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/voc.yaml", dir);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("retention: forever\n", f); /* not a known key */
    fclose(f);
}

START_TEST(services_refuse_a_bad_config_with_file_and_line)
{
    char dir[256], cmd[1024], out[8192];
    make_bad_config(dir, sizeof dir);
    const char *bin = binaries[_i];
    snprintf(cmd, sizeof cmd, "%s/%s --config %s%s", VOC_TEST_BINARY_DIR, bin, dir,
             strcmp(bin, "vocctl") == 0 ? " config check" : "");
    ck_assert_int_eq(run(cmd, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "/voc.yaml:") && strstr(out, ": unknown key 'retention'"),
                  "%s printed: %s", bin, out);
}
END_TEST

START_TEST(config_check_accepts_the_shipped_config)
{
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "%s/vocctl config check %s/deploy/config", VOC_TEST_BINARY_DIR,
             VOC_TEST_SOURCE_DIR);
    ck_assert_int_eq(run(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "is valid"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("binaries");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, help_version_and_bad_usage, 0, 5);
    tcase_add_loop_test(tc, services_refuse_a_bad_config_with_file_and_line, 0, 5);
    tcase_add_test(tc, config_check_accepts_the_shipped_config);
    suite_add_tcase(s, tc);
    return h_run_suite(s);
}
