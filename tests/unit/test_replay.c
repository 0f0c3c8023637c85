/* Rebuilding in-memory state after a restart: where the replay marks
 * (voc/replay.h) say a partition must be re-read from, and where the
 * consumer loop actually starts a partition (replay_from, replay_ms in
 * voc/kafka.h) against a real voc-bus, whose mock cluster cannot look
 * offsets up by time. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "voc/kafka.h"
#include "voc/replay.h"
#include "testsupport.h"

#define T0  INT64_C(1700000000000)
#define SEC INT64_C(1000)

static struct voc_replay_point point_of(const struct voc_replay_marks *m, int32_t partition)
{
    struct voc_replay_point p;
    ck_assert_int_eq(voc_replay_point(m, partition, &p), 0);
    ck_assert_int_eq(p.partition, partition);
    return p;
}

START_TEST(the_point_trails_the_newest_event_by_the_horizon)
{
    struct voc_replay_marks *m = voc_replay_new(30 * SEC, SEC);
    ck_assert_ptr_nonnull(m);
    struct voc_replay_point p;
    ck_assert_int_eq(voc_replay_point(m, 0, &p), -1); /* nothing read yet */
    /* One message every 100 ms of event time, from offset 1000. */
    for (int64_t i = 0; i <= 600; i++)
        ck_assert_int_eq(voc_replay_note(m, 0, 1000 + i, T0 + i * 100), 0);
    /* Newest at 60 s: every message before the point is at least 30 s older,
     * and the point lags the exact one by less than a mark's spacing. */
    p = point_of(m, 0);
    ck_assert_int_le(p.event_ms, T0 + 30 * SEC);
    ck_assert_int_gt(p.event_ms, T0 + 29 * SEC);
    ck_assert_int_le(p.offset, 1000 + 301);
    ck_assert_int_gt(p.offset, 1000 + 290);
    /* Other partitions are their own. */
    ck_assert_int_eq(voc_replay_point(m, 1, &p), -1);
    voc_replay_free(m);
}
END_TEST

START_TEST(a_stream_younger_than_the_horizon_replays_from_its_start)
{
    struct voc_replay_marks *m = voc_replay_new(215 * SEC, SEC);
    for (int64_t i = 0; i < 90; i++)
        ck_assert_int_eq(voc_replay_note(m, 3, 50 + i, T0 + i * SEC), 0);
    struct voc_replay_point p = point_of(m, 3);
    ck_assert_int_eq(p.offset, 50);
    ck_assert_int_eq(p.event_ms, T0);
    voc_replay_free(m);
}
END_TEST

START_TEST(out_of_order_event_times_never_skip_a_young_message)
{
    /* Clients report at their own phases: event times arrive out of order.
     * A late message at offset 400 carries an event time 40 s younger than
     * its neighbours; the point must not pass it while it is in the horizon. */
    struct voc_replay_marks *m = voc_replay_new(30 * SEC, SEC);
    for (int64_t i = 0; i < 700; i++) {
        int64_t ev = T0 + i * 100;
        if (i == 400)
            ev += 40 * SEC;
        ck_assert_int_eq(voc_replay_note(m, 0, i, ev), 0);
    }
    /* Newest: 80 s (the late one). Everything before the point is <= 50 s. */
    struct voc_replay_point p = point_of(m, 0);
    ck_assert_int_le(p.offset, 400);
    ck_assert_int_le(p.event_ms, T0 + 50 * SEC);
    /* Even once the stream's newest is 90 s, the late message (80 s) stays. */
    for (int64_t i = 700; i <= 900; i++)
        ck_assert_int_eq(voc_replay_note(m, 0, i, T0 + i * 100), 0);
    p = point_of(m, 0);
    ck_assert_int_le(p.offset, 400);
    voc_replay_free(m);
}
END_TEST

START_TEST(a_reread_starts_the_partition_afresh)
{
    struct voc_replay_marks *m = voc_replay_new(10 * SEC, SEC);
    for (int64_t i = 0; i < 300; i++)
        voc_replay_note(m, 0, i, T0 + i * 100);
    ck_assert_int_gt(point_of(m, 0).offset, 100);
    /* Rewound to 120 (a restart's replay, or a reassignment). */
    for (int64_t i = 120; i < 130; i++)
        voc_replay_note(m, 0, i, T0 + i * 100);
    ck_assert_int_eq(point_of(m, 0).offset, 120);
    voc_replay_free(m);
}
END_TEST

START_TEST(only_moved_points_are_saved_again)
{
    struct voc_replay_marks *m = voc_replay_new(5 * SEC, SEC);
    struct voc_replay_point pts[8];
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 0);
    voc_replay_note(m, 2, 10, T0);
    voc_replay_note(m, 0, 20, T0);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 2);
    ck_assert_int_eq(pts[0].partition, 0); /* in partition order */
    ck_assert_int_eq(pts[1].partition, 2);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 1), 1); /* at most max */
    voc_replay_saved(m, pts, 1);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 1);
    ck_assert_int_eq(pts[0].partition, 2);
    voc_replay_saved(m, pts, 1);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 0);
    /* New messages within the horizon do not move the point ... */
    voc_replay_note(m, 0, 21, T0 + 2 * SEC);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 0);
    /* ... past it they do. */
    for (int64_t i = 22; i < 40; i++)
        voc_replay_note(m, 0, i, T0 + (i - 20) * SEC);
    ck_assert_uint_eq(voc_replay_moved(m, pts, 8), 1);
    ck_assert_int_gt(pts[0].offset, 20);
    voc_replay_free(m);
}
END_TEST

START_TEST(memory_follows_the_horizon_not_the_stream)
{
    /* A day of one message every 10 ms: marks are pruned as the stream
     * moves, so the point keeps trailing by the horizon. */
    struct voc_replay_marks *m = voc_replay_new(60 * SEC, SEC);
    int64_t n = INT64_C(86400) * 100;
    for (int64_t i = 0; i < n; i += 7)
        ck_assert_int_eq(voc_replay_note(m, 5, i, T0 + i * 10), 0);
    struct voc_replay_point p = point_of(m, 5);
    int64_t newest = T0 + ((n - 1) / 7 * 7) * 10;
    ck_assert_int_le(p.event_ms, newest - 60 * SEC);
    ck_assert_int_gt(p.event_ms, newest - 62 * SEC);
    /* Partitions out of range are ignored, not allocated. */
    ck_assert_int_eq(voc_replay_note(m, VOC_REPLAY_MAX_PARTITIONS, 1, T0), 0);
    ck_assert_int_eq(voc_replay_note(m, -1, 1, T0), 0);
    voc_replay_free(m);
    ck_assert_ptr_null(voc_replay_new(SEC, 0));
}
END_TEST

/* ---- the consumer loop on voc-bus ---- */

#define TOPIC "voc.telemetry"

static struct ts_bus bus;
static volatile sig_atomic_t stop;
static int64_t first_offset, checkpoint, told_committed;
static int asked;

static enum voc_batch_result take_first(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    (void)ctx;
    (void)n;
    if (first_offset < 0)
        first_offset = msgs[0]->offset;
    stop = 1;
    return VOC_BATCH_DONE;
}

/* Stores offsets up to 9 one by one, then stops: the group commits 10. */
static enum voc_batch_result take_ten(void *ctx, rd_kafka_message_t **msgs, size_t n)
{
    (void)ctx;
    (void)n;
    if (first_offset < 0)
        first_offset = msgs[0]->offset;
    if (msgs[0]->offset >= 9)
        stop = 1;
    return msgs[0]->offset <= 9 ? VOC_BATCH_DONE : VOC_BATCH_RETRY;
}

static long long a_minute(void *ctx, const char *topic)
{
    (void)ctx;
    (void)topic;
    return 60000;
}

static int64_t from_checkpoint(void *ctx, const char *topic, int32_t partition, int64_t committed)
{
    (void)ctx;
    ck_assert_str_eq(topic, TOPIC);
    ck_assert_int_eq(partition, 0);
    asked++;
    told_committed = committed;
    return checkpoint;
}

/* Runs the loop in group until the handler stops it; returns the first
 * offset handed over. */
static int64_t run(const char *group, struct voc_batch_handler h)
{
    char err[512] = "";
    struct voc_kv common[] = {{"bootstrap.servers", bus.brokers}};
    /* voc-bus's groups wait out a departed member's session before the
     * next join: keep it short. */
    struct voc_kv cons[] = {{"auto.offset.reset", "earliest"},
                            {"session.timeout.ms", "6000"},
                            {"heartbeat.interval.ms", "1000"},
                            {"fetch.wait.max.ms", "10"}};
    struct voc_config cfg = {.kafka = {common, 1}, .kafka_consumer = {cons, 4}};
    const char *topics[] = {TOPIC};
    rd_kafka_t *rk = voc_kafka_consumer_new(&cfg, group, topics, 1, err, sizeof err);
    ck_assert_msg(rk != NULL, "consumer: %s", err);
    struct voc_consumer_opts opts = {.batch_size = 1, .flush_ms = 10, .max_backoff_ms = 50};
    stop = 0;
    first_offset = -1;
    asked = 0;
    ck_assert_int_eq(voc_consumer_run(rk, &opts, &h, &stop), 0);
    rd_kafka_destroy(rk);
    return first_offset;
}

static void bus_up(void)
{
    ts_bus_start(&bus, 1);
    char err[512] = "";
    struct voc_kv common[] = {{"bootstrap.servers", bus.brokers}};
    struct voc_config cfg = {.kafka = {common, 1}};
    rd_kafka_t *p = voc_kafka_producer_new(&cfg, err, sizeof err);
    ck_assert_msg(p != NULL, "producer: %s", err);
    struct voc_produce_tracker t = {0};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(voc_kafka_produce(p, &t, TOPIC, "k", 1, "v", 1), 0);
    ck_assert_int_eq(voc_kafka_wait(p, &t, 10000), 0);
    rd_kafka_destroy(p);
}

static void bus_down(void)
{
    ts_bus_stop(&bus);
}

START_TEST(a_checkpoint_rewinds_where_the_broker_cannot_look_up_by_time)
{
    struct voc_batch_handler plain = {.process = take_ten};
    ck_assert_int_eq(run("g-replay", plain), 0); /* commits 10 */
    /* Asked for a minute back, voc-bus answers nothing; the checkpoint does. */
    checkpoint = 4;
    struct voc_batch_handler h = {
        .process = take_first, .replay_ms = a_minute, .replay_from = from_checkpoint};
    ck_assert_int_eq(run("g-replay", h), 4);
    ck_assert_int_eq(asked, 1);
    ck_assert_int_eq(told_committed, 10);
    /* That run stored 5. A checkpoint past the committed offset never skips
     * forward; none at all leaves the committed offset. */
    checkpoint = 15;
    ck_assert_int_eq(run("g-replay", h), 5);
    checkpoint = -1;
    ck_assert_int_eq(run("g-replay", h), 6);
    ck_assert_int_eq(told_committed, 6);
}
END_TEST

START_TEST(a_group_without_commits_is_left_to_auto_offset_reset)
{
    checkpoint = 3;
    struct voc_batch_handler h = {.process = take_first, .replay_from = from_checkpoint};
    ck_assert_int_eq(run("g-fresh", h), 0);
    ck_assert_int_eq(asked, 0);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *marks = tcase_create("marks");
    tcase_add_test(marks, the_point_trails_the_newest_event_by_the_horizon);
    tcase_add_test(marks, a_stream_younger_than_the_horizon_replays_from_its_start);
    tcase_add_test(marks, out_of_order_event_times_never_skip_a_young_message);
    tcase_add_test(marks, a_reread_starts_the_partition_afresh);
    tcase_add_test(marks, only_moved_points_are_saved_again);
    tcase_add_test(marks, memory_follows_the_horizon_not_the_stream);
    suite_add_tcase(s, marks);
    TCase *loop = tcase_create("consumer loop");
    tcase_set_timeout(loop, 120);
    tcase_add_unchecked_fixture(loop, bus_up, bus_down);
    tcase_add_test(loop, a_checkpoint_rewinds_where_the_broker_cannot_look_up_by_time);
    tcase_add_test(loop, a_group_without_commits_is_left_to_auto_offset_reset);
    suite_add_tcase(s, loop);
    return s;
}

int main(void)
{
    return ts_run_suite(replay_suite());
}
