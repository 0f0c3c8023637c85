-- 005_track: what voc-track records. Commands that arrived on the
-- voc.command topic (their idempotency record and outcome), and every SLA
-- reminder and escalation it fired (the record that makes each fire exactly
-- once, across restarts and with several voc-track instances running).
--
-- voc-track keeps no deadline here: deadlines are derived on every scan from
-- the audit history (voc.item_event, voc.case, voc.case_task) and sla.yaml,
-- so a restart or a changed sla.yaml recomputes them consistently. What must
-- not be recomputed is whether a level was already announced: that is
-- voc.sla_fire, written in the same transaction as the notification.

CREATE TABLE voc.command (
    command_id  text        PRIMARY KEY,
    item_id     bigint      NOT NULL,
    verb        text        NOT NULL,
    actor       text        NOT NULL,
    payload     jsonb       NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('done', 'refused')),
    message     text,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_item_idx ON voc.command (item_id, received_at);

CREATE TABLE voc.sla_fire (
    subject     text        NOT NULL CHECK (subject IN ('item', 'case', 'case_task')),
    subject_id  bigint      NOT NULL,
    clock       text        NOT NULL CHECK (clock IN ('ack', 'resolve', 'reply', 'followup')),
    cycle       bigint      NOT NULL,
    level       smallint    NOT NULL CHECK (level >= 0),
    kind        text        NOT NULL CHECK (kind IN ('sla.reminder', 'sla.escalation')),
    recipient   text,
    department  text        NOT NULL,
    due_at      timestamptz NOT NULL,
    deadline_at timestamptz NOT NULL,
    fired_at    timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    fired_by    text        NOT NULL,
    PRIMARY KEY (subject, subject_id, clock, cycle, level)
);
-- SLA compliance reports: fires by department and time.
CREATE INDEX sla_fire_department_idx ON voc.sla_fire (department, fired_at);

-- voc-track reads an item's clock history (the latest opening and the state
-- changes after it) for every live item it checks; this keeps that to the
-- few rows that matter, however many recurrences the item has.
CREATE INDEX item_event_clock_idx ON voc.item_event (item_id, id)
    WHERE kind IN ('opened', 'regressed', 'state_changed');

COMMENT ON TABLE voc.command IS
    'Commands on improvement items that arrived on the voc.command topic (chat bots, other '
    'systems), one row per command_id: the idempotency record (a redelivered or resent command '
    'changes nothing) and the outcome. Written by voc-track in the same transaction as the change '
    'the command made. Commands that failed the schema are not here: they are in the dead-letter '
    'topic with the reason. vocctl item commands are not here either: both doors leave the same '
    'audit rows in voc.item_event.';
COMMENT ON COLUMN voc.command.command_id IS 'The sender''s unique id for the command.';
COMMENT ON COLUMN voc.command.item_id IS
    'The item the command named (not a foreign key: a command naming no item is recorded as '
    'refused).';
COMMENT ON COLUMN voc.command.verb IS
    'ack, start, resolve, verify, close, snooze, wont-fix, reopen, regress, assign or comment.';
COMMENT ON COLUMN voc.command.actor IS 'Who acted, as the audit trail names them.';
COMMENT ON COLUMN voc.command.payload IS
    'The command as received (JSON, schemas/events/command.schema.json).';
COMMENT ON COLUMN voc.command.outcome IS
    'done: the item changed (see voc.item_event); refused: the item''s state or the command''s '
    'arguments did not allow it, and nothing changed.';
COMMENT ON COLUMN voc.command.message IS
    'Why a refused command was refused, in the words vocctl would print (e.g. "item 7 is closed; '
    '''ack'' needs open or regressed"); NULL when done.';
COMMENT ON COLUMN voc.command.topic IS 'Kafka topic the command came from.';
COMMENT ON COLUMN voc.command.partition IS 'Kafka partition it came from.';
COMMENT ON COLUMN voc.command."offset" IS 'Kafka offset of its first delivery.';
COMMENT ON COLUMN voc.command.received_at IS 'When voc-track recorded it.';

COMMENT ON TABLE voc.sla_fire IS
    'Every SLA reminder and escalation voc-track announced: one row per subject, clock, cycle and '
    'level, inserted in the same transaction as its notification (voc.outbox, topic '
    'voc.notification), and only when the insert added the row. That is what makes each level '
    'fire exactly once across restarts and with several voc-track instances. A level missed while '
    'voc-track was down is fired late (catch-up), once, in level order; a clock that stopped '
    '(acknowledged, resolved, replied, task done) fires nothing more.';
COMMENT ON COLUMN voc.sla_fire.subject IS
    'What the clock belongs to: item (voc.item), case (voc.case) or case_task (voc.case_task).';
COMMENT ON COLUMN voc.sla_fire.subject_id IS 'The id of the item, case or task.';
COMMENT ON COLUMN voc.sla_fire.clock IS
    'ack (item opened or regressed -> acknowledged), resolve (-> resolved), reply (case opened -> '
    'first reply), followup (follow-up or promised task created -> done).';
COMMENT ON COLUMN voc.sla_fire.cycle IS
    'Which run of the clock: for items the voc.item_event id of the opening, regression or reopening '
    'that started it (a regressed item starts a new cycle and is escalated afresh); for cases the '
    'case id; for tasks the task id.';
COMMENT ON COLUMN voc.sla_fire.level IS
    '0 = the reminder before the deadline; 1.. = the escalation level, the position in the chain '
    '(1 = handler, then the department owner, then the VOC lead, as routing.yaml or sla.yaml list '
    'them).';
COMMENT ON COLUMN voc.sla_fire.kind IS 'The notification sent: sla.reminder (level 0) or sla.escalation.';
COMMENT ON COLUMN voc.sla_fire.recipient IS
    'Who the level addresses: the chain name resolved (handler = the assignee, or the owner while '
    'unassigned; owner = the routed owner; other names as written).';
COMMENT ON COLUMN voc.sla_fire.department IS 'The department the notification went to.';
COMMENT ON COLUMN voc.sla_fire.due_at IS
    'When the level was due, from the clock''s start, the business-hours calendar and the snoozed '
    'pauses.';
COMMENT ON COLUMN voc.sla_fire.deadline_at IS 'The clock''s deadline (the breach time).';
COMMENT ON COLUMN voc.sla_fire.fired_at IS
    'voc-track''s clock when it fired (the wall clock, or VOC_CLOCK_FILE in tests); later than '
    'due_at by the scan interval, or by the downtime for a catch-up.';
COMMENT ON COLUMN voc.sla_fire.recorded_at IS 'When the row was committed (database time).';
COMMENT ON COLUMN voc.sla_fire.fired_by IS 'The voc-track instance that fired it (host:pid).';
