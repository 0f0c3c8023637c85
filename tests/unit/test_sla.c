/* Service levels (deploy/config/sla.yaml, include/voc/sla.h): deadlines in
 * business hours that a support agent can check on a wall calendar, across
 * weekends, holidays, make-up workdays, lunch breaks, daylight saving and
 * snoozes; the shipped file loads with the policies its comments promise;
 * every broken file is refused with file:line messages.
 *
 * Every instant is written in local time with its offset and was worked out
 * by hand in the comment next to it (2026-11-27 is a Friday). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/sla_int.h" /* only for the calendar no file can describe */
#include "testsupport.h"
#include "voc/sla.h"
#include "voc/timeutil.h"

#define CONFIG  VOC_TEST_SOURCE_DIR "/deploy/config/sla.yaml"
#define BAD_DIR VOC_TEST_SOURCE_DIR "/tests/data/sla_bad"

#define MIN  60000LL
#define HOUR 3600000LL
#define DAY  86400000LL

/* The calendars of the worked examples. */
static const char test_file[] =
    "version: \"test-1\"\n"
    "calendars:\n"
    "  business: {timezone: Asia/Shanghai, hours: {mon-fri: [\"09:00-18:00\"]}}\n"
    "  business_hol: {hours: {mon-fri: [\"09:00-18:00\"]}, holidays: [\"2026-11-30\"]}\n"
    "  lunch: {hours: {mon-fri: [\"09:00-12:00\", \"13:00-18:00\"]}}\n"
    "  weekend_work: {hours: {mon-fri: [\"09:00-18:00\"]}, workdays: [\"2026-11-28\"]}\n"
    "  berlin: {timezone: Europe/Berlin, hours: {mon-fri: [\"09:00-18:00\"]}}\n"
    "  night: {timezone: Europe/Berlin, hours: {sun: [\"01:00-04:00\"]}}\n"
    "  always: {always_open: true}\n"
    "items:\n"
    "  low: {calendar: business, ack: 9h, resolve: 45h}\n"
    "  medium: {calendar: business, ack: 4h, resolve: 18h}\n"
    "  high: {calendar: lunch, ack: 1h, resolve: 9h, remind_at: 0.5, escalate: [0m, 30m]}\n"
    "  critical: {calendar: always, ack: 15m, resolve: 8h, escalate: []}\n"
    "cases:\n"
    "  department: customer_service\n"
    "  escalation: [handler, owner, cs_director]\n"
    "  followup: 4h\n"
    "  tiers:\n"
    "    standard: {calendar: business, reply: 30m}\n";

static struct voc_sla *sla;

static struct voc_sla *load_or_fail(const char *path)
{
    struct voc_diag d = {0};
    struct voc_sla *s = voc_sla_load(path, &d);
    voc_diag_print(&d, stderr);
    voc_diag_free(&d);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void setup(void)
{
    char dir[] = "/tmp/test_sla_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sla.yaml", dir);
    ts_write_file(path, test_file);
    sla = load_or_fail(path);
    ts_remove_dir(dir);
}

static void teardown(void)
{
    voc_sla_free(sla);
    sla = NULL;
}

static const struct voc_sla_calendar *cal(const char *name)
{
    const struct voc_sla_calendar *c = voc_sla_calendar_find(sla, name);
    ck_assert_msg(c != NULL, "no calendar %s", name);
    ck_assert_str_eq(voc_sla_calendar_name(c), name);
    return c;
}

static int64_t at(const char *rfc3339)
{
    int64_t ms;
    ck_assert_msg(voc_time_parse_ms(rfc3339, &ms) == 0, "bad time %s", rfc3339);
    return ms;
}

/* Compares instants as text, so a failure shows both times. */
static void expect_at(int64_t got, const char *want)
{
    char g[32], w[32];
    voc_sla_format_ms(got, g, sizeof g);
    if (strcmp(want, "infinity") == 0)
        snprintf(w, sizeof w, "infinity");
    else
        voc_sla_format_ms(at(want), w, sizeof w);
    ck_assert_str_eq(g, w);
}

static int64_t add(const char *c, const char *start, int64_t budget)
{
    return voc_sla_add(cal(c), at(start), budget, NULL, 0);
}

START_TEST(friday_evening_case_is_due_monday_morning)
{
    /* 17:50-18:00 on Friday is 10 min; the rest from Monday 09:00. */
    expect_at(add("business", "2026-11-27T17:50:00+08:00", 15 * MIN), "2026-11-30T09:05:00+08:00");
    expect_at(add("business", "2026-11-27T17:50:00+08:00", 30 * MIN), "2026-11-30T09:20:00+08:00");
    /* Exactly used up at closing: due Friday 18:00, not Monday 09:00. */
    expect_at(add("business", "2026-11-27T17:50:00+08:00", 10 * MIN), "2026-11-27T18:00:00+08:00");
    /* Monday 2026-11-30 a holiday: Tuesday. */
    expect_at(add("business_hol", "2026-11-27T17:50:00+08:00", 15 * MIN),
              "2026-12-01T09:05:00+08:00");
    /* Opened on Saturday (and before opening on Monday): counts from 09:00. */
    expect_at(add("business", "2026-11-28T11:00:00+08:00", 15 * MIN), "2026-11-30T09:15:00+08:00");
    expect_at(add("business", "2026-11-30T07:00:00+08:00", 15 * MIN), "2026-11-30T09:15:00+08:00");
    /* A make-up workday: Saturday 2026-11-28 opens 09:00-18:00. */
    expect_at(add("weekend_work", "2026-11-27T17:50:00+08:00", 15 * MIN),
              "2026-11-28T09:05:00+08:00");
    /* Lunch 12:00-13:00 does not count: 11:50 + 30 min = 10 before, 20 after. */
    expect_at(add("lunch", "2026-11-30T11:50:00+08:00", 30 * MIN), "2026-11-30T13:20:00+08:00");
    /* 24x7. */
    expect_at(add("always", "2026-11-28T23:50:00+08:00", 15 * MIN), "2026-11-29T00:05:00+08:00");
    /* Budget 0 is the start itself, open or not. */
    expect_at(add("business", "2026-11-28T11:00:00+08:00", 0), "2026-11-28T11:00:00+08:00");
}
END_TEST

START_TEST(budgets_of_weeks_cross_weekends_and_holidays)
{
    /* 90 h = ten 9-hour days: Mon 11-30 .. Fri 12-11, done at 18:00. */
    expect_at(add("business", "2026-11-30T09:00:00+08:00", 90 * HOUR), "2026-12-11T18:00:00+08:00");
    /* With Monday 11-30 off: Tue 12-01 .. Mon 12-14. */
    expect_at(add("business_hol", "2026-11-30T09:00:00+08:00", 90 * HOUR),
              "2026-12-14T18:00:00+08:00");
    /* Elapsed measures it back, across the weekend and the holiday. */
    ck_assert_int_eq(voc_sla_elapsed(cal("business_hol"), at("2026-11-27T17:50:00+08:00"),
                                     at("2026-12-01T09:05:00+08:00"), NULL, 0),
                     15 * MIN);
    ck_assert_int_eq(voc_sla_elapsed(cal("lunch"), at("2026-11-30T08:00:00+08:00"),
                                     at("2026-11-30T20:00:00+08:00"), NULL, 0),
                     8 * HOUR);
    ck_assert_int_eq(voc_sla_elapsed(cal("business"), at("2026-11-30T12:00:00+08:00"),
                                     at("2026-11-30T11:00:00+08:00"), NULL, 0),
                     0);
}
END_TEST

START_TEST(daylight_saving_follows_the_office_clock)
{
    /* Berlin: Friday 2026-03-27 17:50 CET (+01:00); summer time starts on
     * Sunday the 29th; Monday 09:05 is CEST (+02:00), 07:05Z. */
    expect_at(add("berlin", "2026-03-27T17:50:00+01:00", 15 * MIN), "2026-03-30T07:05:00Z");
    ck_assert_int_eq(voc_sla_elapsed(cal("berlin"), at("2026-03-27T17:50:00+01:00"),
                                     at("2026-03-30T09:05:00+02:00"), NULL, 0),
                     15 * MIN);
    /* Open Sunday 01:00-04:00 local. On 2026-03-29 the clock jumps from
     * 02:00 to 03:00: 00:00-01:00Z then 01:00-02:00Z, 2 h. */
    ck_assert_int_eq(voc_sla_elapsed(cal("night"), at("2026-03-28T23:00:00Z"),
                                     at("2026-03-29T22:00:00Z"), NULL, 0),
                     2 * HOUR);
    /* 90 min from 01:00 CET: an hour to the jump, then 03:00-03:30 CEST. */
    expect_at(add("night", "2026-03-29T01:00:00+01:00", 90 * MIN), "2026-03-29T03:30:00+02:00");
    /* On 2026-10-25 03:00 CEST falls back to 02:00 CET: 01:00-03:00 CEST is
     * 23:00-01:00Z, then 02:00-04:00 CET is 01:00-03:00Z: 4 h. */
    ck_assert_int_eq(voc_sla_elapsed(cal("night"), at("2026-10-24T22:00:00Z"),
                                     at("2026-10-25T23:00:00Z"), NULL, 0),
                     4 * HOUR);
    expect_at(add("night", "2026-10-25T01:00:00+02:00", 3 * HOUR), "2026-10-25T03:00:00+01:00");
}
END_TEST

static int64_t add_paused(const char *start, int64_t budget, const struct voc_sla_pause *p,
                          size_t n)
{
    return voc_sla_add(cal("business"), at(start), budget, p, n);
}

START_TEST(snoozes_stop_the_clock)
{
    /* Monday 2026-11-30, 1 h from 09:00, snoozed 09:30-10:00: 10:30. */
    struct voc_sla_pause p[3] = {
        {at("2026-11-30T09:30:00+08:00"), at("2026-11-30T10:00:00+08:00")}};
    expect_at(add_paused("2026-11-30T09:00:00+08:00", HOUR, p, 1), "2026-11-30T10:30:00+08:00");
    /* Overlapping snoozes in any order: 09:30-10:15 in all, so 10:45. */
    p[1] = p[0];
    p[0] = (struct voc_sla_pause){at("2026-11-30T09:45:00+08:00"), at("2026-11-30T10:15:00+08:00")};
    expect_at(add_paused("2026-11-30T09:00:00+08:00", HOUR, p, 2), "2026-11-30T10:45:00+08:00");
    /* An empty span (to <= from) is no snooze. */
    p[2] = (struct voc_sla_pause){at("2026-11-30T09:10:00+08:00"), at("2026-11-30T09:00:00+08:00")};
    expect_at(add_paused("2026-11-30T09:00:00+08:00", HOUR, p, 3), "2026-11-30T10:45:00+08:00");
    /* Snoozed when opened (08:00-09:20): the hour runs from 09:20. */
    p[0] = (struct voc_sla_pause){at("2026-11-30T08:00:00+08:00"), at("2026-11-30T09:20:00+08:00")};
    expect_at(add_paused("2026-11-30T08:30:00+08:00", HOUR, p, 1), "2026-11-30T10:20:00+08:00");
    /* Snoozed from Monday 17:00 to Tuesday 10:00: 16:30-17:00, then 10:00-10:30. */
    p[0] = (struct voc_sla_pause){at("2026-11-30T17:00:00+08:00"), at("2026-12-01T10:00:00+08:00")};
    expect_at(add_paused("2026-11-30T16:30:00+08:00", HOUR, p, 1), "2026-12-01T10:30:00+08:00");
    /* Still snoozed (no end): never due. */
    p[0] = (struct voc_sla_pause){at("2026-11-30T09:30:00+08:00"), INT64_MAX};
    ck_assert_int_eq(add_paused("2026-11-30T09:00:00+08:00", HOUR, p, 1), INT64_MAX);
    /* Elapsed leaves snoozes out: 09:00-12:00 less 09:30-10:00. */
    p[0] = (struct voc_sla_pause){at("2026-11-30T09:30:00+08:00"), at("2026-11-30T10:00:00+08:00")};
    ck_assert_int_eq(voc_sla_elapsed(cal("business"), at("2026-11-30T09:00:00+08:00"),
                                     at("2026-11-30T12:00:00+08:00"), p, 1),
                     150 * MIN);
}
END_TEST

START_TEST(clock_due_gives_reminder_deadline_and_levels)
{
    int64_t out[5];
    static const int64_t esc[] = {0, 30 * MIN};
    struct voc_sla_clock c = {30 * MIN, 0.5, esc, 2};
    /* Friday 17:50 + 30 min: reminder at 15 min (Mon 09:05), deadline and
     * level 1 Mon 09:20, level 2 30 min later, level 3 again 30 min. */
    voc_sla_clock_due(cal("business"), &c, at("2026-11-27T17:50:00+08:00"), NULL, 0, 3, out);
    expect_at(out[0], "2026-11-30T09:05:00+08:00");
    expect_at(out[1], "2026-11-30T09:20:00+08:00");
    expect_at(out[2], "2026-11-30T09:20:00+08:00");
    expect_at(out[3], "2026-11-30T09:50:00+08:00");
    expect_at(out[4], "2026-11-30T10:20:00+08:00");
    /* Due at Friday's closing: level 2 only after Monday's first 30 min. */
    c.budget_ms = 10 * MIN;
    voc_sla_clock_due(cal("business"), &c, at("2026-11-27T17:50:00+08:00"), NULL, 0, 2, out);
    expect_at(out[0], "2026-11-27T17:55:00+08:00");
    expect_at(out[1], "2026-11-27T18:00:00+08:00");
    expect_at(out[2], "2026-11-27T18:00:00+08:00");
    expect_at(out[3], "2026-11-30T09:30:00+08:00");
    /* Snoozed for good from Monday 09:10: the 09:05 reminder still goes,
     * but no deadline and no levels ever come. */
    struct voc_sla_pause p = {at("2026-11-30T09:10:00+08:00"), INT64_MAX};
    c.budget_ms = 30 * MIN;
    voc_sla_clock_due(cal("business"), &c, at("2026-11-27T17:50:00+08:00"), &p, 1, 3, out);
    expect_at(out[0], "2026-11-30T09:05:00+08:00");
    for (int i = 1; i < 5; i++)
        ck_assert_int_eq(out[i], INT64_MAX);
    /* No reminder share: none. No intervals: a deadline but no levels. */
    c.remind_at = 0;
    c.nescalate = 0;
    voc_sla_clock_due(cal("business"), &c, at("2026-11-27T17:50:00+08:00"), NULL, 0, 2, out);
    ck_assert_int_eq(out[0], INT64_MAX);
    expect_at(out[1], "2026-11-30T09:20:00+08:00");
    ck_assert_int_eq(out[2], INT64_MAX);
    ck_assert_int_eq(out[3], INT64_MAX);
    /* Budget 0: no clock at all. */
    c.budget_ms = 0;
    voc_sla_clock_due(cal("business"), &c, at("2026-11-27T17:50:00+08:00"), NULL, 0, 2, out);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(out[i], INT64_MAX);
}
END_TEST

START_TEST(policies_resolve_to_their_calendars)
{
    ck_assert_str_eq(voc_sla_version(sla), "test-1");
    const struct voc_sla_item_policy *high = voc_sla_item(sla, "high");
    ck_assert_ptr_nonnull(high);
    ck_assert_str_eq(voc_sla_calendar_name(high->calendar), "lunch");
    ck_assert_int_eq(high->ack.budget_ms, HOUR);
    ck_assert_int_eq(high->resolve.budget_ms, 9 * HOUR);
    ck_assert_int_eq(high->ack.nescalate, 2);
    ck_assert_int_eq(high->resolve.escalate_ms[1], 30 * MIN);
    /* Defaults: no reminder, level 1 at the deadline then hourly, never
     * verified or closed by the clock. */
    const struct voc_sla_item_policy *low = voc_sla_item(sla, "low");
    ck_assert(low->ack.remind_at == 0);
    ck_assert_int_eq(low->ack.nescalate, 2);
    ck_assert_int_eq(low->ack.escalate_ms[0], 0);
    ck_assert_int_eq(low->ack.escalate_ms[1], HOUR);
    ck_assert_int_eq(low->verify_quiet_ms, 0);
    ck_assert_int_eq(low->close_after_ms, 0);
    ck_assert_int_eq(voc_sla_item(sla, "critical")->ack.nescalate, 0);
    ck_assert_ptr_null(voc_sla_item(sla, "urgent"));
    ck_assert_ptr_null(voc_sla_item(sla, NULL));
    /* vip and svip, not written, are standard; any tier or channel works. */
    const struct voc_sla_case_policy *std = voc_sla_case(sla, NULL, NULL);
    ck_assert_ptr_eq(std, voc_sla_case(sla, "standard", "phone"));
    ck_assert_int_eq(voc_sla_case(sla, "vip", NULL)->reply.budget_ms, 30 * MIN);
    ck_assert_int_eq(voc_sla_case(sla, "gold", "pigeon")->reply.budget_ms, 30 * MIN);
    ck_assert_int_eq(std->followup.budget_ms, 4 * HOUR);
    ck_assert_str_eq(std->department, "customer_service");
    ck_assert_str_eq(std->escalation[2], "cs_director");
    ck_assert_ptr_null(std->escalation[3]);
    ck_assert_ptr_null(voc_sla_calendar_find(sla, "nope"));
}
END_TEST

/* xorshift64*: the same "random" cases on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void check_inverse(const struct voc_sla_calendar *c, uint64_t *seed)
{
    int64_t base = at("2026-01-01T00:00:00Z"), two_years = 730 * DAY;
    for (int i = 0; i < 2000; i++) {
        int64_t start = base + (int64_t)(rnd(seed) % (uint64_t)two_years);
        int64_t budget = (int64_t)(rnd(seed) % (uint64_t)(21 * DAY));
        struct voc_sla_pause p[3];
        size_t np = rnd(seed) % 4;
        for (size_t k = 0; k < np; k++) {
            p[k].from_ms = start + (int64_t)(rnd(seed) % (uint64_t)(14 * DAY)) - 7 * DAY;
            p[k].to_ms = p[k].from_ms + (int64_t)(rnd(seed) % (uint64_t)(3 * DAY));
        }
        int64_t due = voc_sla_add(c, start, budget, p, np);
        ck_assert_int_ge(due, start);
        ck_assert_msg(voc_sla_elapsed(c, start, due, p, np) == budget,
                      "%s: start %lld budget %lld due %lld", voc_sla_calendar_name(c),
                      (long long)start, (long long)budget, (long long)due);
        /* The first such instant: a millisecond earlier, one ms is missing. */
        if (budget > 0)
            ck_assert_int_eq(voc_sla_elapsed(c, start, due - 1, p, np), budget - 1);
        ck_assert_int_le(due, voc_sla_add(c, start, budget + 1000, p, np));
    }
}

START_TEST(elapsed_measures_back_what_add_adds)
{
    static const char *const names[] = {"business_hol", "lunch", "weekend_work",
                                        "berlin",       "night", "always"};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        check_inverse(cal(names[i]), &seed);
    struct voc_sla *shipped = load_or_fail(CONFIG);
    check_inverse(voc_sla_calendar_find(shipped, "business"), &seed);
    voc_sla_free(shipped);
}
END_TEST

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(long_budgets_and_closed_calendars_end_quickly)
{
    /* 366 days of business time is 976 nine-hour days: almost four years. */
    int64_t start = at("2026-11-30T09:00:00+08:00"), budget = 366 * DAY;
    int64_t due = voc_sla_add(cal("business_hol"), start, budget, NULL, 0);
    ck_assert_int_gt(due, at("2030-06-01T00:00:00Z"));
    ck_assert_int_eq(voc_sla_elapsed(cal("business_hol"), start, due, NULL, 0), budget);
    /* voc-track recomputes every open item every scan: 10,000 deadlines of
     * up to three weeks (about 8 calendar weeks each) well within a second. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t seed = 42;
    for (int i = 0; i < 10000; i++)
        voc_sla_add(cal("lunch"), start + (int64_t)(rnd(&seed) % (uint64_t)(365 * DAY)),
                    (int64_t)(rnd(&seed) % (uint64_t)(21 * DAY)), NULL, 0);
    double secs = seconds_since(&t0);
    fprintf(stderr, "10000 deadlines in %.3f s\n", secs);
    ck_assert_msg(secs < 1.0, "10000 deadlines took %.3f s", secs);
    /* A calendar with no open time at all (the loader refuses one; built
     * by hand here) is never due, at once. */
    struct voc_sla_calendar closed;
    memset(&closed, 0, sizeof closed);
    ck_assert_int_eq(voc_sla_add(&closed, start, MIN, NULL, 0), INT64_MAX);
    ck_assert_int_eq(voc_sla_elapsed(&closed, start, start + budget, NULL, 0), 0);
}
END_TEST

START_TEST(format_ms_writes_utc_with_milliseconds)
{
    char buf[32];
    voc_sla_format_ms(at("2026-11-23T09:02:03.004+08:00"), buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-11-23T01:02:03.004Z");
    voc_sla_format_ms(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    voc_sla_format_ms(INT64_MAX, buf, sizeof buf);
    ck_assert_str_eq(buf, "infinity");
}
END_TEST

START_TEST(shipped_file_loads_with_its_policies)
{
    struct voc_sla *s = load_or_fail(CONFIG);
    ck_assert_str_eq(voc_sla_version(s), "2026.11-1");
    const struct voc_sla_item_policy *crit = voc_sla_item(s, "critical");
    ck_assert_str_eq(voc_sla_calendar_name(crit->calendar), "always");
    ck_assert_int_eq(crit->ack.budget_ms, 15 * MIN);
    ck_assert_int_eq(crit->resolve.budget_ms, 8 * HOUR);
    ck_assert_int_eq(crit->ack.nescalate, 3);
    ck_assert_int_eq(crit->verify_quiet_ms, 72 * HOUR);
    ck_assert_int_eq(crit->close_after_ms, 24 * HOUR);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(
            voc_sla_calendar_name(
                voc_sla_item(s, (const char *[]){"low", "medium", "high"}[i])->calendar),
            "business");
    /* Cases: 30 min standard, 15 VIP in business hours, SVIP 15 min 24x7;
     * e-mail 4 h for every tier, surveys 9 h but 1 h for SVIP. */
    const struct voc_sla_case_policy *std = voc_sla_case(s, "standard", "app");
    ck_assert_int_eq(std->reply.budget_ms, 30 * MIN);
    ck_assert_str_eq(voc_sla_calendar_name(std->calendar), "business");
    ck_assert_str_eq(std->department, "customer_service");
    ck_assert_str_eq(std->escalation[3], "voc_lead");
    ck_assert_int_eq(voc_sla_case(s, "vip", "wechat")->reply.budget_ms, 15 * MIN);
    ck_assert_str_eq(voc_sla_calendar_name(voc_sla_case(s, "vip", NULL)->calendar), "business");
    ck_assert_str_eq(voc_sla_calendar_name(voc_sla_case(s, "svip", NULL)->calendar), "always");
    ck_assert_int_eq(voc_sla_case(s, "vip", "email")->reply.budget_ms, 4 * HOUR);
    ck_assert_int_eq(voc_sla_case(s, "vip", "survey")->reply.budget_ms, 9 * HOUR);
    ck_assert_int_eq(voc_sla_case(s, "svip", "survey")->reply.budget_ms, HOUR);
    ck_assert_int_eq(voc_sla_case(s, "svip", "survey")->followup.budget_ms, 4 * HOUR);
    /* Its holidays: 30 min left on Wednesday 09-30, then the National Day
     * week; Saturday 10-10 is a make-up workday. */
    const struct voc_sla_calendar *b = voc_sla_calendar_find(s, "business");
    expect_at(voc_sla_add(b, at("2026-09-30T17:30:00+08:00"), HOUR, NULL, 0),
              "2026-10-08T09:30:00+08:00");
    expect_at(voc_sla_add(b, at("2026-10-09T17:30:00+08:00"), HOUR, NULL, 0),
              "2026-10-10T09:30:00+08:00");
    voc_sla_free(s);
}
END_TEST

static const struct ts_bad_file bad[] = {
    {"unknown_keys.yaml",
     {"2: unknown key 'owner' in the sla file", "4: unknown key 'tz' in calendar 'business'",
      "11: unknown key 'urgent' in items", "7: unknown key 'resolv' in items.low",
      "18: unknown key 'gold' in cases.tiers",
      "20: unknown key 'sla' in cases.channels.email.vip"}},
    {"bad_durations.yaml",
     {"6: items.low.ack: '9 hours' is not a duration like 90s, 15m, 4h, 2d or 1h30m",
      "7: items.medium.resolve: '-18h' is negative",
      "8: items.high.resolve: '400d' is longer than 366d",
      "9: items.critical.ack: '15' is not a duration like 90s, 15m, 4h, 2d or 1h30m",
      ("9: items.critical.escalate: only the first interval may be 0 (later ones would fire two "
       "levels at once)"),
      ("15: cases.tiers.standard.escalate: [0] alone repeats 0 and fires the whole chain at the "
       "deadline; give the interval between levels, like [0m, 30m]")}},
    {"bad_hours.yaml",
     {"5: calendar 'business': '9:00-18:00' is not a range like 09:00-18:00",
      "6: calendar 'business': 18:00-09:00 ends before it starts (a range cannot cross midnight)",
      "7: calendar 'business': 11:00-14:00 overlaps 09:00-12:00",
      "8: calendar 'business': fri is given twice (also at line 5)",
      "9: calendar 'business': 'funday' is not a day (mon ... sun) or a range of days like mon-fri",
      "10: calendar 'evening': '24:00-24:00' is not a range like 09:00-18:00"}},
    {"zones.yaml",
     {("3: calendar 'mars': unknown time zone 'Mars/Olympus_Mons' (no such zone under "
       "/usr/share/zoneinfo)"),
      "4: calendar 'sneaky': unknown time zone '../../etc/passwd' (not a time zone name)",
      "6: calendar 'region': unknown time zone 'Asia' (no such zone under /usr/share/zoneinfo)",
      ("7: calendar 'always': unknown time zone 'Nowhere' (no such zone under "
       "/usr/share/zoneinfo)")}},
    {"references.yaml",
     {"5: items.low: unknown calendar 'weekdays'", "6: items.medium: missing required key 'ack'",
      "5: items: missing severity 'high'", "7: items.critical: unknown calendar 'always'",
      "13: cases.tiers.standard: missing required key 'calendar'",
      "14: cases.tiers.svip: unknown calendar 'always'"}},
    {"remind_at.yaml",
     {"6: items.low: remind_at must be at least 0 and less than 1, not 1",
      "7: items.medium: remind_at must be at least 0 and less than 1, not -0.1",
      "8: 'remind_at' must be a number, not 'half'",
      "8: items.high: ack (10h) is longer than resolve (9h)",
      "15: cases.tiers.standard: remind_at must be at least 0 and less than 1, not 1.5"}},
    {"no_open_time.yaml",
     {("4: calendar 'closed' has no open hours: every deadline on it would never come (give "
       "hours, or always_open: true)"),
      ("5: calendar 'nothing' has no open hours: every deadline on it would never come (give "
       "hours, or always_open: true)"),
      "6: calendar 'always': 'hours' means nothing when always_open is true"}},
    {"dates.yaml",
     {("5: calendar 'business': '2026-02-30' in holidays is not a date like 2026-10-01 or a range "
       "like 2026-10-01/2026-10-07 (at most 366 days)"),
      ("5: calendar 'business': '2026-10-09/2026-10-01' in holidays is not a date like 2026-10-01 "
       "or a range like 2026-10-01/2026-10-07 (at most 366 days)"),
      "5: calendar 'business': 2026-10-03 is listed twice in holidays (also at line 5)",
      ("6: calendar 'business': workday 2026-10-12 is a mon, which has open hours already: a "
       "make-up workday is a day otherwise closed"),
      "6: calendar 'business': 2026-12-25 is both a holiday and a workday",
      ("7: calendar 'weekend': workday 2026-10-12 would open with Monday's hours, and mon has "
       "none")}},
    {"cases.yaml",
     {"11: cases.department 'Customer Service' is not a department id of routing.yaml",
      "12: cases.escalation: empty: a late reply must reach someone",
      "11: cases: missing required key 'followup'", "14: cases.tiers: missing tier 'standard'",
      ("16: cases.channels.app_store: unknown channel (expected app, web, phone, wechat, email, "
       "chat, in_class, survey or other)")}},
    {"missing.yaml",
     {"1: empty version", "1: missing required key 'calendars'", "1: missing required key 'items'",
      "1: missing required key 'cases'"}},
    {"empty.yaml",
     {" empty file: service levels need 'version', 'calendars', 'items' and 'cases'"}},
    {"syntax_error.yaml",
     {"4: YAML syntax: did not find expected ',' or '}' while parsing a flow mapping"}},
};
#define NBAD (sizeof bad / sizeof bad[0])

static bool sla_loads(const char *path, struct voc_diag *d)
{
    struct voc_sla *s = voc_sla_load(path, d);
    voc_sla_free(s);
    return s != NULL;
}

START_TEST(broken_sla_files_are_refused)
{
    ts_expect_refused(BAD_DIR, &bad[_i], sla_loads);
}
END_TEST

static Suite *sla_suite(void)
{
    Suite *s = suite_create("sla");
    TCase *c = tcase_create("arithmetic");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_set_timeout(c, 60);
    tcase_add_test(c, friday_evening_case_is_due_monday_morning);
    tcase_add_test(c, budgets_of_weeks_cross_weekends_and_holidays);
    tcase_add_test(c, daylight_saving_follows_the_office_clock);
    tcase_add_test(c, snoozes_stop_the_clock);
    tcase_add_test(c, clock_due_gives_reminder_deadline_and_levels);
    tcase_add_test(c, policies_resolve_to_their_calendars);
    tcase_add_test(c, elapsed_measures_back_what_add_adds);
    tcase_add_test(c, long_budgets_and_closed_calendars_end_quickly);
    tcase_add_test(c, format_ms_writes_utc_with_milliseconds);
    suite_add_tcase(s, c);
    TCase *f = tcase_create("file");
    tcase_set_timeout(f, 60);
    tcase_add_test(f, shipped_file_loads_with_its_policies);
    tcase_add_loop_test(f, broken_sla_files_are_refused, 0, (int)NBAD);
    suite_add_tcase(s, f);
    return s;
}

int main(void)
{
    return ts_run_suite(sla_suite());
}
