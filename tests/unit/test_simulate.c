/* vocctl simulate, through the built binary: the classroom simulator is the ground truth of
 * voc-outreach's tests and benchmark, so its stalls must be exactly where it says they are
 * (and nowhere else), its heartbeats must pass the telemetry schema, and a seed must always
 * give the same stream. */
#include <check.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "testsupport.h"

#define VOCCTL   VOC_TEST_BINARY_DIR "/vocctl"
#define START_MS 1763900000000LL /* 2025-11-23T12:13:20Z */
#define INTERVAL 5000

static char dir[64];
static char path_buf[4][600];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/voc-test-simulate-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    ts_remove_dir(dir);
}

/* A file in the scratch directory (slot keeps up to four names alive at once). */
static const char *scratch(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
    return path_buf[slot];
}

/* Runs `vocctl simulate ARGS` with stderr into the scratch file "stderr"; returns the exit
 * code. A --start-ms is added unless args has one, so runs are reproducible. */
static int simulate(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' simulate %s %s 2>'%s/stderr' >/dev/null", VOCCTL, args,
             strstr(args, "--start-ms") || strstr(args, "--realtime") ? ""
                                                                      : "--start-ms 1763900000000",
             dir);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

static char *stderr_text(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/stderr", dir);
    return ts_read_file(path, NULL);
}

/* Runs simulate, which must succeed. */
static void simulate_ok(const char *args)
{
    int rc = simulate(args);
    char *err = stderr_text();
    ck_assert_msg(rc == 0, "simulate %s: exit %d: %s", args, rc, err);
    free(err);
}

/* The heartbeats of an NDJSON file, in file order. */
struct hbs {
    json_t **v;
    size_t n;
};

static struct hbs load(const char *path)
{
    size_t len;
    char *text = ts_read_file(path, &len);
    struct hbs h = {calloc(len / 100 + 1, sizeof(json_t *)), 0};
    ck_assert_ptr_nonnull(h.v);
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "%s: last line has no newline", path);
        json_error_t e;
        h.v[h.n] = json_loadb(line, (size_t)(nl - line), 0, &e);
        ck_assert_msg(h.v[h.n] != NULL, "%s:%zu: %s", path, h.n + 1, e.text);
        h.n++;
    }
    free(text);
    return h;
}

static void unload(struct hbs *h)
{
    for (size_t i = 0; i < h->n; i++)
        json_decref(h->v[i]);
    free(h->v);
}

static const char *str(json_t *o, const char *block, const char *key)
{
    const char *s = json_string_value(json_object_get(block ? json_object_get(o, block) : o, key));
    ck_assert_msg(s != NULL, "missing %s%s%s", block ? block : "", block ? "." : "", key);
    return s;
}

static long long num(json_t *o, const char *block, const char *key)
{
    json_t *v = json_object_get(json_object_get(o, block), key);
    ck_assert_msg(json_is_integer(v), "%s.%s is not an integer", block, key);
    return json_integer_value(v);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" to epoch ms. */
static long long epoch_ms(const char *s)
{
    struct tm tm = {0};
    int ms = 0;
    ck_assert_msg(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                         &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7,
                  "not a UTC time with ms: %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

/* The window's midpoint, ms from the start of the run. */
static long long mid(json_t *hb)
{
    return epoch_ms(str(hb, "window", "start")) + num(hb, "window", "duration_ms") / 2 - START_MS;
}

/* Classifies a window, failing the test if it is neither clearly healthy nor clearly stalled. */
static bool stalled(json_t *hb)
{
    long long count = num(hb, "video", "freeze_count");
    long long frozen = num(hb, "video", "total_freezes_duration_ms");
    long long dur = num(hb, "window", "duration_ms");
    if (count <= 1 && frozen <= 300)
        return false;
    ck_assert_msg(count >= 2 && count <= 4 && frozen >= dur * 6 / 10 && frozen <= dur * 9 / 10,
                  "%s: %lld freezes, %lld ms frozen: neither healthy nor stalled",
                  str(hb, NULL, "event_id"), count, frozen);
    return true;
}

/* Asserts that exactly the heartbeats for which expect() holds are stalled; returns how many
 * were, so a test can check the stall showed at all. */
typedef bool (*expect_fn)(json_t *hb);

static size_t check_stalls(const char *path, expect_fn expect)
{
    struct hbs h = load(path);
    size_t n = 0;
    ck_assert_uint_gt(h.n, 0);
    for (size_t i = 0; i < h.n; i++) {
        bool want = expect(h.v[i]), got = stalled(h.v[i]);
        ck_assert_msg(want == got, "%s (window midpoint %lld ms): stalled %d, expected %d",
                      str(h.v[i], NULL, "event_id"), mid(h.v[i]), got, want);
        n += got;
    }
    unload(&h);
    return n;
}

static bool within(json_t *hb, long long from_s, long long to_s)
{
    long long m = mid(hb);
    return m >= from_s * 1000 && m < to_s * 1000;
}

START_TEST(a_seed_gives_the_same_stream)
{
    const char *a = scratch(0, "a.ndjson"), *b = scratch(1, "b.ndjson");
    const char *c = scratch(2, "c.ndjson");
    char args[1024];
    snprintf(args, sizeof args,
             "--classrooms 5 --students 3 --seed 7 --stall line:1:10:10 --out %s", a);
    simulate_ok(args);
    snprintf(args, sizeof args,
             "--classrooms 5 --students 3 --seed 7 --stall line:1:10:10 --out %s", b);
    simulate_ok(args);
    snprintf(args, sizeof args,
             "--classrooms 5 --students 3 --seed 8 --stall line:1:10:10 --out %s", c);
    simulate_ok(args);
    size_t la, lb, lc;
    char *ta = ts_read_file(a, &la), *tb = ts_read_file(b, &lb), *tc = ts_read_file(c, &lc);
    ck_assert_msg(la == lb && memcmp(ta, tb, la) == 0, "seed 7 twice: the files differ");
    ck_assert_msg(la != lc || memcmp(ta, tc, la) != 0, "seeds 7 and 8 gave the same file");
    free(ta);
    free(tb);
    free(tc);
}
END_TEST

/* 20 clients x 60 s / 5 s: 12 heartbeats each, one interval apart, ids unique, in
 * event-time order, keyed fields as documented. */
START_TEST(every_client_beats_once_per_interval)
{
    const char *f = scratch(0, "all.ndjson");
    char args[1024];
    snprintf(args, sizeof args, "--classrooms 5 --students 3 --lines 2 --out %s", f);
    simulate_ok(args);
    struct hbs h = load(f);
    ck_assert_uint_eq(h.n, 240); /* 5 rooms x 4 clients x 12 */
    json_t *ids = json_object(), *last = json_object();
    long long prev = 0;
    for (size_t i = 0; i < h.n; i++) {
        json_t *hb = h.v[i];
        long long at = epoch_ms(str(hb, NULL, "occurred_at"));
        ck_assert_msg(at >= prev, "heartbeat %zu is out of event-time order", i);
        ck_assert_msg(at >= START_MS && at < START_MS + 60000, "heartbeat %zu outside the run", i);
        prev = at;
        ck_assert_int_eq(at - epoch_ms(str(hb, "window", "start")), INTERVAL);
        ck_assert_int_eq(json_object_set_new(ids, str(hb, NULL, "event_id"), json_true()), 0);
        const char *who = str(hb, NULL, "student_id");
        json_t *before = json_object_get(last, who);
        if (before)
            ck_assert_int_eq(at - json_integer_value(before), INTERVAL);
        json_object_set_new(last, who, json_integer(at));
        int room = atoi(str(hb, NULL, "classroom_id") + strlen("room-"));
        char want[64];
        snprintf(want, sizeof want, "line-%d", room % 2);
        ck_assert_str_eq(str(hb, "network", "line"), want);
        snprintf(want, sizeof want, "t-%d", room);
        ck_assert_str_eq(str(hb, NULL, "teacher_id"), want);
        if (strcmp(str(hb, NULL, "role"), "teacher") == 0) {
            ck_assert_str_eq(who, want);
            ck_assert_str_eq(str(hb, NULL, "customer_id"), "staff");
        } else {
            /* s-<i>-<j> belongs to family fam-<i>-<j>. */
            ck_assert_str_eq(str(hb, NULL, "customer_id") + strlen("fam-"), who + strlen("s-"));
        }
    }
    ck_assert_uint_eq(json_object_size(ids), h.n);
    ck_assert_uint_eq(json_object_size(last), 20);
    json_decref(ids);
    json_decref(last);
    unload(&h);
}
END_TEST

START_TEST(every_heartbeat_passes_the_schema)
{
    const char *f = scratch(0, "valid.ndjson");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "--classrooms 8 --students 4 --lines 3 --duration-s 120 --stall student:0:1:10:20 "
             "--stall teacher:room-3:30:15 --stall line:line-2:60:30 --out %s",
             f);
    simulate_ok(cmd);
    snprintf(cmd, sizeof cmd, "'%s' event check '%s' >'%s/check' 2>&1", VOCCTL, f, dir);
    int st = system(cmd);
    char *out = ts_read_file(scratch(1, "check"), NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "event check: %s", out);
    free(out);
}
END_TEST

static bool student_1_2(json_t *hb)
{
    return strcmp(str(hb, NULL, "student_id"), "s-1-2") == 0 && within(hb, 20, 35);
}

START_TEST(a_student_stall_is_that_student_during_the_stall)
{
    const char *f = scratch(0, "student.ndjson");
    char args[1024];
    snprintf(args, sizeof args,
             "--classrooms 4 --students 3 --lines 2 --seed 3 --stall student:room-1:s-1-2:20:15 "
             "--out %s",
             f);
    simulate_ok(args);
    /* 15 s of stall, one window midpoint every 5 s. */
    ck_assert_uint_eq(check_stalls(f, student_1_2), 3);
}
END_TEST

static bool room_2(json_t *hb)
{
    return strcmp(str(hb, NULL, "classroom_id"), "room-2") == 0 && within(hb, 10, 20);
}

START_TEST(a_teacher_stall_freezes_the_whole_classroom)
{
    const char *f = scratch(0, "teacher.ndjson");
    char args[1024];
    snprintf(args, sizeof args,
             "--classrooms 4 --students 3 --lines 2 --stall teacher:2:10:10 --out %s", f);
    simulate_ok(args);
    /* The teacher and three students, two windows each. */
    ck_assert_uint_eq(check_stalls(f, room_2), 8);
}
END_TEST

static bool line_1(json_t *hb)
{
    return strcmp(str(hb, "network", "line"), "line-1") == 0 && within(hb, 30, 50);
}

START_TEST(a_line_stall_freezes_every_client_on_the_line_and_nobody_else)
{
    const char *f = scratch(0, "line.ndjson");
    char args[1024];
    snprintf(args, sizeof args,
             "--classrooms 7 --students 2 --lines 3 --stall line:line-1:30:20 --out %s", f);
    simulate_ok(args);
    /* Rooms 1 and 4 (3 clients each), four windows per client. */
    ck_assert_uint_eq(check_stalls(f, line_1), 24);
}
END_TEST

static bool never(json_t *hb)
{
    (void)hb;
    return false;
}

/* Normal jitter: one short freeze (220-300 ms) in about 5% of windows, never more. */
START_TEST(healthy_windows_carry_normal_jitter)
{
    const char *f = scratch(0, "healthy.ndjson");
    char args[1024];
    snprintf(args, sizeof args, "--classrooms 50 --students 6 --duration-s 300 --out %s", f);
    simulate_ok(args);
    ck_assert_uint_eq(check_stalls(f, never), 0);
    struct hbs h = load(f);
    ck_assert_uint_eq(h.n, 21000); /* 350 clients x 60 windows */
    size_t jitter = 0;
    for (size_t i = 0; i < h.n; i++) {
        long long count = num(h.v[i], "video", "freeze_count");
        long long frozen = num(h.v[i], "video", "total_freezes_duration_ms");
        long long frames = num(h.v[i], "video", "frames_decoded");
        ck_assert_msg(count == 0 ? frozen == 0 : count == 1 && frozen >= 220 && frozen <= 300,
                      "window %zu: %lld freezes, %lld ms", i, count, frozen);
        ck_assert_msg(frames >= 65 && frames <= 75, "window %zu: %lld frames", i, frames);
        jitter += count;
    }
    double share = (double)jitter / (double)h.n;
    ck_assert_msg(share > 0.04 && share < 0.06, "jitter in %.3f of windows", share);
    unload(&h);
}
END_TEST

START_TEST(the_truth_file_lists_every_incident)
{
    const char *truth = scratch(0, "truth.ndjson");
    char args[1024];
    snprintf(args, sizeof args,
             "--classrooms 5 --students 2 --lines 2 --stall student:1:1:5:10 "
             "--stall teacher:room-3:0:5 --stall line:line-0:10:20.5 --truth %s --out %s",
             truth, scratch(1, "out.ndjson"));
    simulate_ok(args);
    char *text = ts_read_file(truth, NULL);
    ck_assert_str_eq(text,
                     "{\"level\":\"student\",\"subject\":\"s-1-1\",\"start_ms\":1763900005000,"
                     "\"end_ms\":1763900015000,\"families\":[\"fam-1-1\"]}\n"
                     "{\"level\":\"classroom\",\"subject\":\"room-3\",\"start_ms\":1763900000000,"
                     "\"end_ms\":1763900005000,\"families\":[\"fam-3-0\",\"fam-3-1\"]}\n"
                     "{\"level\":\"line\",\"subject\":\"line-0\",\"start_ms\":1763900010000,"
                     "\"end_ms\":1763900030500,\"families\":[\"fam-0-0\",\"fam-0-1\",\"fam-2-0\","
                     "\"fam-2-1\",\"fam-4-0\",\"fam-4-1\"]}\n");
    free(text);
}
END_TEST

/* Each bad spec exits 2 and says what is wrong with it. */
static const struct {
    const char *args, *says;
} bad[] = {
    {"--stall bogus:1:2:3",
     "--stall 'bogus:1:2:3': unknown kind 'bogus' (student, teacher or line)"},
    {"--stall student:1:5:10",
     "--stall 'student:1:5:10': expected student:ROOM:STUDENT:AT_S:DUR_S"},
    {"--stall teacher:1:2:3:4", "expected teacher:ROOM:AT_S:DUR_S"},
    {"--stall line:0:5", "expected line:LINE:AT_S:DUR_S"},
    {"--stall student:room-9:0:5:10", "no classroom 'room-9' (room-0..room-4)"},
    {"--stall teacher:x:5:10", "no classroom 'x' (room-0..room-4)"},
    {"--stall student:1:s-2-0:5:10", "no student 's-2-0' in room-1 (s-1-0..s-1-1)"},
    {"--stall student:1:7:5:10", "no student '7' in room-1"},
    {"--stall line:line-5:0:10", "no line 'line-5' (line-0..line-1)"},
    {"--lines 9 --stall line:line-7:0:10", "no classroom is on line-7 (5 classrooms)"},
    {"--stall line:0:abc:10", "AT_S 'abc' is not a number of seconds >= 0"},
    {"--stall line:0:-1:10", "AT_S '-1' is not a number of seconds >= 0"},
    {"--stall line:0:5:0", "DUR_S '0' is not a number of seconds > 0"},
    {"--stall teacher:1:5:", "DUR_S '' is not a number of seconds > 0"},
    {"--stall line:0:5:2", "DUR_S 2 is shorter than one heartbeat interval (5000 ms)"},
    {"--stall line:0:50:20", "it ends at 70.000 s, after the run (--duration-s 60.000)"},
    {"--classrooms 0", "--classrooms must be an integer in 1..1000000, not '0'"},
    {"--interval-ms 5s", "--interval-ms must be an integer"},
    {"--out a --topic b", "--out and --topic exclude each other"},
    {"--realtime --start-ms 1763900000000", "--start-ms conflicts with --realtime"},
    {"stray", "unexpected argument 'stray'"},
};

START_TEST(bad_usage_exits_2_and_says_why)
{
    char args[1024];
    snprintf(args, sizeof args, "--classrooms 5 --students 2 --lines 2 --out %s %s",
             scratch(0, "never.ndjson"), bad[_i].args);
    if (strstr(bad[_i].args, "--out"))
        snprintf(args, sizeof args, "%s", bad[_i].args);
    ck_assert_int_eq(simulate(args), 2);
    char *err = stderr_text();
    ck_assert_msg(strstr(err, bad[_i].says), "%s: said '%s', wanted '%s'", bad[_i].args, err,
                  bad[_i].says);
    free(err);
}
END_TEST

/* Reads n messages of topic from partitions [0, parts) from the beginning. */
static void read_topic(const char *brokers, const char *topic, int parts, json_t *got, size_t n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == 0);
    ck_assert(rd_kafka_conf_set(conf, "group.id", "test-simulate", err, sizeof err) == 0);
    ck_assert(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err) == 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    ck_assert_msg(rk != NULL, "consumer: %s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    for (int waited = 0; json_array_size(got) < n && waited < 30000; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err) {
            json_t *hb = json_loadb(m->payload, m->len, 0, NULL);
            ck_assert_ptr_nonnull(hb);
            /* Keyed by classroom, so one consumer owns a classroom's heartbeats. */
            ck_assert_int_eq(m->key_len, strlen(str(hb, NULL, "classroom_id")));
            ck_assert(memcmp(m->key, str(hb, NULL, "classroom_id"), m->key_len) == 0);
            json_decref(hb);
            json_array_append_new(got, json_stringn(m->payload, m->len));
        }
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings of arr, sorted; free() the array (the strings stay arr's). */
static const char **sorted(json_t *arr)
{
    size_t n = json_array_size(arr);
    const char **v = calloc(n + 1, sizeof(const char *));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(arr, i));
    qsort(v, n, sizeof(const char *), by_text);
    return v;
}

/* The topic receives exactly the heartbeats --out writes for the same seed. */
START_TEST(the_topic_gets_the_same_heartbeats_keyed_by_classroom)
{
    struct ts_bus b;
    ts_bus_start(&b, 3);
    ck_assert_int_eq(setenv("VOC_KAFKA_BROKERS", b.brokers, 1), 0);
    const char *f = scratch(0, "file.ndjson");
    char args[1024];
    snprintf(args, sizeof args, "--classrooms 5 --students 3 --duration-s 30 --out %s", f);
    simulate_ok(args);
    simulate_ok("--classrooms 5 --students 3 --duration-s 30 --topic voc.telemetry");
    char *said = stderr_text();
    ck_assert_msg(strstr(said, "120 heartbeats from 20 clients"), "report: %s", said);
    free(said);
    json_t *got = json_array();
    read_topic(b.brokers, "voc.telemetry", 3, got, 120);
    ts_bus_stop(&b);
    /* Compare the bytes: sort both sides (partitions interleave freely). */
    char *text = ts_read_file(f, NULL);
    json_t *lines = json_array();
    for (char *s = text, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1)
        json_array_append_new(lines, json_stringn(s, (size_t)(nl - s)));
    free(text);
    size_t n = json_array_size(lines);
    ck_assert_uint_eq(n, 120);
    ck_assert_uint_eq(json_array_size(got), n);
    const char **x = sorted(lines), **y = sorted(got);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(y[i], x[i]);
    free(x);
    free(y);
    json_decref(lines);
    json_decref(got);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("simulate");
    TCase *tc = tcase_create("file");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_seed_gives_the_same_stream);
    tcase_add_test(tc, every_client_beats_once_per_interval);
    tcase_add_test(tc, every_heartbeat_passes_the_schema);
    tcase_add_test(tc, a_student_stall_is_that_student_during_the_stall);
    tcase_add_test(tc, a_teacher_stall_freezes_the_whole_classroom);
    tcase_add_test(tc, a_line_stall_freezes_every_client_on_the_line_and_nobody_else);
    tcase_add_test(tc, healthy_windows_carry_normal_jitter);
    tcase_add_test(tc, the_truth_file_lists_every_incident);
    tcase_add_loop_test(tc, bad_usage_exits_2_and_says_why, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, tc);
    TCase *bus = tcase_create("bus");
    tcase_add_unchecked_fixture(bus, setup, teardown);
    tcase_set_timeout(bus, 60);
    tcase_add_test(bus, the_topic_gets_the_same_heartbeats_keyed_by_classroom);
    suite_add_tcase(s, bus);
    return s;
}

int main(void)
{
    return ts_run_suite(suite());
}
