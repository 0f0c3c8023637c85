-- 007_outreach_checkpoint: where voc-outreach re-reads telemetry from after a
-- restart, so that its in-memory windows are rebuilt on brokers that cannot
-- look offsets up by time (voc-bus, the mock cluster).

CREATE TABLE voc.outreach_checkpoint (
    topic         text        NOT NULL,
    partition     integer     NOT NULL CHECK (partition >= 0),
    replay_offset bigint      NOT NULL CHECK (replay_offset >= 0),
    event_ms      bigint      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

COMMENT ON TABLE voc.outreach_checkpoint IS
    'Per telemetry partition, the offset from which voc-outreach re-reads heartbeats when the '
    'partition is assigned to it (start-up, rebalance), so that its sliding windows (student, '
    'classroom and line) are rebuilt instead of starting empty. Written about once a second; '
    'the consumer starts at the earliest of this, the broker''s offset by time and the '
    'committed offset, never after the committed one. Losing a row only means a restart '
    'rebuilds less; it never issues a task twice (voc.outreach checks that).';
COMMENT ON COLUMN voc.outreach_checkpoint.topic IS 'The telemetry topic, e.g. voc.telemetry.';
COMMENT ON COLUMN voc.outreach_checkpoint.partition IS 'The Kafka partition of that topic.';
COMMENT ON COLUMN voc.outreach_checkpoint.replay_offset IS
    'Re-read from this offset: every heartbeat before it is at least the replay horizon '
    '(line.window_ms + window_ms + line.grace_ms of outreach.yaml) older than the newest one '
    'read from the partition, or, while the stream read so far is shorter than that, the '
    'first offset read.';
COMMENT ON COLUMN voc.outreach_checkpoint.event_ms IS
    'The newest heartbeat window end (ms since the epoch) among the messages before '
    'replay_offset: re-reading from replay_offset replays every heartbeat newer than this.';
COMMENT ON COLUMN voc.outreach_checkpoint.updated_at IS 'When voc-outreach last moved the row.';
