/* The injectable clock (voc/clock.h): the wall clock unless VOC_CLOCK_FILE
 * names a file; then the file's time, RFC 3339 or epoch milliseconds, read
 * again on every call; an unreadable file keeps the last good time. Each
 * test runs in its own process (Check forks), so the clock's memory of the
 * last good time starts empty. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "testsupport.h"
#include "voc/clock.h"

static char path[256];

static void use_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/voc-clock-test-%d", (int)getpid());
    if (text)
        ts_write_file(path, text);
    else
        unlink(path);
    setenv("VOC_CLOCK_FILE", path, 1);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(without_the_variable_it_is_the_wall_clock)
{
    unsetenv("VOC_CLOCK_FILE");
    ck_assert(!voc_clock_overridden());
    int64_t before = wall_ms(), now = voc_clock_now_ms(), after = wall_ms();
    ck_assert(before <= now && now <= after);
}
END_TEST

START_TEST(the_file_sets_the_time_and_moving_it_moves_time)
{
    use_file("2026-11-27T17:50:00+08:00\n");
    ck_assert(voc_clock_overridden());
    ck_assert_int_eq(voc_clock_now_ms(), 1795773000000LL);
    ts_write_file(path, "  1795773900000 \n"); /* epoch ms, 15 minutes on */
    ck_assert_int_eq(voc_clock_now_ms(), 1795773900000LL);
    ts_write_file(path, "2026-11-30T01:05:00.250Z");
    ck_assert_int_eq(voc_clock_now_ms(), 1796000700250LL);
    unlink(path);
}
END_TEST

START_TEST(a_broken_file_keeps_the_last_good_time)
{
    use_file("1795773000000");
    ck_assert_int_eq(voc_clock_now_ms(), 1795773000000LL);
    ts_write_file(path, "next tuesday");
    ck_assert_int_eq(voc_clock_now_ms(), 1795773000000LL);
    ts_write_file(path, "2026-11-27T17:50:00"); /* no offset: not a time */
    ck_assert_int_eq(voc_clock_now_ms(), 1795773000000LL);
    unlink(path);
    ck_assert_int_eq(voc_clock_now_ms(), 1795773000000LL);
}
END_TEST

START_TEST(a_file_never_readable_falls_back_to_the_wall_clock)
{
    use_file(NULL);
    int64_t before = wall_ms(), now = voc_clock_now_ms(), after = wall_ms();
    ck_assert(before <= now && now <= after);
}
END_TEST

static Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, without_the_variable_it_is_the_wall_clock);
    tcase_add_test(tc, the_file_sets_the_time_and_moving_it_moves_time);
    tcase_add_test(tc, a_broken_file_keeps_the_last_good_time);
    tcase_add_test(tc, a_file_never_readable_falls_back_to_the_wall_clock);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ts_run_suite(clock_suite());
}
