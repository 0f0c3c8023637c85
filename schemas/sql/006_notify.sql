-- 006_notify: notifications waiting for (or done with) delivery to people's
-- chat webhooks, and every delivery attempt. Written by voc-notify.

CREATE TABLE voc.notice (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text        NOT NULL UNIQUE,
    kind            text        NOT NULL,
    department      text        NOT NULL,
    target          text        NOT NULL,
    payload         jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    src_topic       text        NOT NULL,
    src_partition   integer     NOT NULL,
    src_offset      bigint      NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz
);
-- The delivery round looks for due groups among pending notices only.
CREATE INDEX notice_due_idx ON voc.notice (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notice_group_idx ON voc.notice (target, department, id) WHERE state = 'pending';

CREATE TABLE voc.delivery (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target       text        NOT NULL,
    department   text        NOT NULL,
    notice_ids   bigint[]    NOT NULL,
    attempt      integer     NOT NULL CHECK (attempt >= 1),
    delivery_key text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    duration_ms  integer     NOT NULL,
    http_status  integer,
    error        text,
    outcome      text        NOT NULL CHECK (outcome IN ('ok', 'failed'))
);
CREATE INDEX delivery_at_idx ON voc.delivery (at);
CREATE INDEX delivery_notice_idx ON voc.delivery USING gin (notice_ids);

COMMENT ON TABLE voc.notice IS
    'A notification for a department (from voc.notification, written through the outbox by '
    'voc-aggregate and voc-track), stored by voc-notify before its Kafka offset is committed and '
    'delivered from here, grouped per target and department, with retries.';
COMMENT ON COLUMN voc.notice.id IS 'Surrogate key; voc.delivery.notice_ids refers to it.';
COMMENT ON COLUMN voc.notice.event_id IS
    'The outbox event id: a redelivered message is stored once.';
COMMENT ON COLUMN voc.notice.kind IS 'What happened: item.opened, sla.reminder, sla.escalation, ...';
COMMENT ON COLUMN voc.notice.department IS 'The routing.yaml department the notification is for.';
COMMENT ON COLUMN voc.notice.target IS
    'The notify.yaml target it goes to, resolved from routing.yaml when it arrived.';
COMMENT ON COLUMN voc.notice.payload IS 'The notification as published (see include/voc/notice.h).';
COMMENT ON COLUMN voc.notice.state IS
    'pending (waiting for its group or a retry), delivered (a 2xx was recorded), dead '
    '(dead-lettered after the last attempt).';
COMMENT ON COLUMN voc.notice.attempts IS 'Delivery attempts made so far.';
COMMENT ON COLUMN voc.notice.next_attempt_at IS
    'When it may be sent: arrival + group_wait_ms, then the exponential backoff after a failure.';
COMMENT ON COLUMN voc.notice.last_error IS
    'Why the last attempt failed (HTTP status, the service''s error code, transport error); '
    'never the webhook URL.';
COMMENT ON COLUMN voc.notice.src_topic IS 'Kafka topic it was consumed from (for the dead letter).';
COMMENT ON COLUMN voc.notice.src_partition IS 'Kafka partition it was consumed from.';
COMMENT ON COLUMN voc.notice.src_offset IS 'Kafka offset it was consumed at.';
COMMENT ON COLUMN voc.notice.created_at IS 'When voc-notify stored it.';
COMMENT ON COLUMN voc.notice.delivered_at IS 'When the accepting reply was recorded.';
COMMENT ON COLUMN voc.notice.dead_at IS 'When it was dead-lettered.';

COMMENT ON TABLE voc.delivery IS
    'One delivery attempt of voc-notify: one HTTP request carrying a group of notices to a '
    'target, successful or not. Append-only.';
COMMENT ON COLUMN voc.delivery.id IS 'Surrogate key.';
COMMENT ON COLUMN voc.delivery.target IS 'The notify.yaml target.';
COMMENT ON COLUMN voc.delivery.department IS 'The department whose notices the request carried.';
COMMENT ON COLUMN voc.delivery.notice_ids IS 'voc.notice ids the request carried.';
COMMENT ON COLUMN voc.delivery.attempt IS
    'Attempt number: 1 + the most attempts any of those notices had before.';
COMMENT ON COLUMN voc.delivery.delivery_key IS
    'The X-Voc-Delivery header sent: a hash of the notices'' event ids, equal for a resend of '
    'the same notices, so a receiver can discard a duplicate.';
COMMENT ON COLUMN voc.delivery.at IS 'When the attempt was recorded (after the reply).';
COMMENT ON COLUMN voc.delivery.duration_ms IS 'How long the request took.';
COMMENT ON COLUMN voc.delivery.http_status IS 'The reply''s HTTP status; NULL when none came.';
COMMENT ON COLUMN voc.delivery.error IS
    'Why it failed (status and the service''s error code or message, a transport error, or an '
    'unset webhook variable); never the URL or its token. NULL when ok.';
COMMENT ON COLUMN voc.delivery.outcome IS 'ok (accepted: the notices are delivered) or failed.';
