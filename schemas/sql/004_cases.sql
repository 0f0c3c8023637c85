-- 004_cases: customer cases ("one complaint, one handling; one question, one
-- follow-up"), their append-only audit trail and the follow-up tasks that
-- make sure a customer hears back. Written by voc-track (opening, and an
-- audit row per reminder or escalation it sends), by common/item.c (a
-- follow-up task per affected case when an item is resolved) and by vocctl
-- case (reply, callback, promise, task-done, close, comment). The rules live
-- in common/case.c and common/case_cmd.c.
--
-- "case" is a reserved word in SQL: always write the table qualified
-- (voc.case), which PostgreSQL accepts, and never bare.

CREATE TABLE voc.case (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id           text        NOT NULL UNIQUE REFERENCES voc.feedback (event_id),
    kind               text        NOT NULL CHECK (kind IN ('complaint', 'rating')),
    customer_id        text,
    tier               text        NOT NULL DEFAULT 'standard'
                       CHECK (tier IN ('standard', 'vip', 'svip')),
    channel            text,
    state              text        NOT NULL DEFAULT 'open'
                       CHECK (state IN ('open', 'replied', 'closed')),
    opened_at          timestamptz NOT NULL,
    reply_due_at       timestamptz NOT NULL,
    replied_at         timestamptz,
    replied_by         text,
    reply_note         text,
    callback_at        timestamptz,
    callback_by        text,
    callback_outcome   text
                       CHECK (callback_outcome IN ('resolved', 'unresolved', 'no_answer',
                                                   'declined')),
    callback_reason    text,
    satisfaction_after smallint    CHECK (satisfaction_after BETWEEN 1 AND 5),
    closed_at          timestamptz,
    closed_by          text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    -- The columns tell the same story as the state.
    CONSTRAINT case_replied_has_reply CHECK (state <> 'replied' OR replied_at IS NOT NULL),
    CONSTRAINT case_reply_by CHECK ((replied_at IS NULL) = (replied_by IS NULL)),
    CONSTRAINT case_callback_by CHECK ((callback_at IS NULL) = (callback_by IS NULL)),
    CONSTRAINT case_closed_at CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);
-- voc-track's reply clock: cases still waiting for their first reply, by
-- the time it was promised.
CREATE INDEX case_open_reply_due_idx ON voc.case (reply_due_at) WHERE state = 'open';
-- vocctl case list --open, and any scan of cases not yet closed.
CREATE INDEX case_live_idx ON voc.case (opened_at) WHERE state <> 'closed';
-- A customer's cases (vocctl case list --customer, callbacks).
CREATE INDEX case_customer_idx ON voc.case (customer_id, opened_at) WHERE customer_id IS NOT NULL;

CREATE TABLE voc.case_event (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint      NOT NULL REFERENCES voc.case (id),
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text        NOT NULL
            CHECK (kind IN ('opened', 'replied', 'callback', 'promised', 'task_created',
                            'task_done', 'commented', 'closed', 'reminded', 'escalated')),
    actor   text        NOT NULL,
    reason  text,
    data    jsonb
);
CREATE INDEX case_event_case_idx ON voc.case_event (case_id, at);

CREATE TABLE voc.case_task (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       bigint      NOT NULL REFERENCES voc.case (id),
    kind          text        NOT NULL CHECK (kind IN ('followup', 'progress')),
    item_id       bigint      REFERENCES voc.item (id),
    resolution_id bigint      REFERENCES voc.item_event (id),
    note          text        NOT NULL,
    due_at        timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text        NOT NULL,
    done_at       timestamptz,
    done_by       text,
    done_note     text,
    -- One follow-up per case and resolution of the item: a replay of the
    -- resolution adds nothing, a resolution after a regression adds one.
    CONSTRAINT case_task_once UNIQUE (case_id, kind, resolution_id),
    CONSTRAINT case_task_followup_has_item
        CHECK (kind <> 'followup' OR (item_id IS NOT NULL AND resolution_id IS NOT NULL)),
    CONSTRAINT case_task_progress_has_due
        CHECK (kind <> 'progress' OR (due_at IS NOT NULL AND item_id IS NULL)),
    CONSTRAINT case_task_done_by CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX case_task_case_idx ON voc.case_task (case_id);
-- voc-track's follow-up clock and "what do we still owe customers".
CREATE INDEX case_task_open_idx ON voc.case_task (created_at) WHERE done_at IS NULL;
CREATE INDEX case_task_item_idx ON voc.case_task (item_id) WHERE item_id IS NOT NULL;

COMMENT ON TABLE voc.case IS
    'One customer case per complaint and per low rating (score at or below track.low_rating_max): '
    'the promise of a first reply by reply_due_at, the reply, the callback that asks why the '
    'customer was unhappy and whether it is solved, and the follow-ups in voc.case_task. '
    'Opened by voc-track, handled with vocctl case; its history is in voc.case_event.';
COMMENT ON COLUMN voc.case.id IS 'The case number people use (vocctl case show ID).';
COMMENT ON COLUMN voc.case.event_id IS
    'The complaint or rating that opened the case (voc.feedback.event_id); one case per event, '
    'so a redelivered event opens nothing. Through voc.feedback.item_id it links the case to '
    'the improvement item the event was counted in.';
COMMENT ON COLUMN voc.case.kind IS 'complaint, or rating (a low rating).';
COMMENT ON COLUMN voc.case.customer_id IS 'The customer to answer; NULL when anonymous.';
COMMENT ON COLUMN voc.case.tier IS
    'The customer''s tier when the case opened: standard, vip or svip (anything else counts as '
    'standard); it chose the reply promise and the escalation chain in sla.yaml.';
COMMENT ON COLUMN voc.case.channel IS
    'Where the customer spoke (app, phone, chat, rating system, ...); it chose the reply promise.';
COMMENT ON COLUMN voc.case.state IS
    'open (waiting for the first reply), replied (answered; callback and follow-ups may remain), '
    'closed (nothing more owed). A resolved callback closes the case once no task is open.';
COMMENT ON COLUMN voc.case.opened_at IS 'When the customer spoke (the event''s time).';
COMMENT ON COLUMN voc.case.reply_due_at IS
    'The first reply promised at opening (tier and channel policy of sla.yaml); a case still open '
    'after it has breached its promise.';
COMMENT ON COLUMN voc.case.replied_at IS
    'When the customer got the first reply (vocctl case reply, or a callback that reached them); '
    'replied_at <= reply_due_at means the promise was kept.';
COMMENT ON COLUMN voc.case.replied_by IS 'Who replied.';
COMMENT ON COLUMN voc.case.reply_note IS 'A summary of the reply, in the agent''s words.';
COMMENT ON COLUMN voc.case.callback_at IS
    'When the latest callback was recorded (earlier attempts are in voc.case_event).';
COMMENT ON COLUMN voc.case.callback_by IS 'Who made the latest callback.';
COMMENT ON COLUMN voc.case.callback_outcome IS
    'What the latest callback found: resolved, unresolved, no_answer or declined (to talk).';
COMMENT ON COLUMN voc.case.callback_reason IS
    'The cause of the dissatisfaction as the customer gave it ("there is no dissatisfaction '
    'without a cause"); required when the customer answered (resolved or unresolved).';
COMMENT ON COLUMN voc.case.satisfaction_after IS
    'Satisfaction 1 (worst) to 5 the customer gave on the callback; NULL when not asked.';
COMMENT ON COLUMN voc.case.closed_at IS 'When the case was closed; set exactly when state = closed.';
COMMENT ON COLUMN voc.case.closed_by IS
    'Who closed it: a person (vocctl case close), or the agent whose resolved callback closed it.';
COMMENT ON COLUMN voc.case.created_at IS
    'When vocloop opened the case; created_at - opened_at is the pipeline delay.';

COMMENT ON TABLE voc.case_event IS
    'Append-only audit trail of cases: one row per change (opened, replied, callback, promised, '
    'task_created, task_done, commented, closed) and per SLA reminder or escalation voc-track sent '
    'about it (reminded, escalated; the exactly-once record of those is voc.sla_fire), with who '
    'and why. Never updated or deleted.';
COMMENT ON COLUMN voc.case_event.id IS 'Order of the changes.';
COMMENT ON COLUMN voc.case_event.case_id IS 'The case.';
COMMENT ON COLUMN voc.case_event.at IS 'When the change was committed.';
COMMENT ON COLUMN voc.case_event.kind IS
    'opened, replied, callback, promised (a progress task), task_created (a follow-up task), '
    'task_done, commented, closed; reminded and escalated (voc-track: a reply or task clock near '
    'or past its deadline).';
COMMENT ON COLUMN voc.case_event.actor IS
    'Who: a person (vocctl --by), a service (voc-track), or for task_created the person who '
    'resolved the item.';
COMMENT ON COLUMN voc.case_event.reason IS 'Why or what, in the actor''s words; may be NULL.';
COMMENT ON COLUMN voc.case_event.data IS
    'Details as JSON, by kind: opened {event_id, kind, reply_due_at}; replied/closed {from, to}; '
    'callback {outcome, satisfaction, from, to}; promised {task_id, due_at}; task_created '
    '{task_id, item_id, resolution_id}; task_done {task_id, kind}; commented: NULL; '
    'reminded/escalated {subject, subject_id, clock, level, recipient}.';

COMMENT ON TABLE voc.case_task IS
    'Things owed to a customer on their case: a follow-up (followup) telling them the problem '
    'they reported was fixed, created when the item their event was counted in is resolved; or a '
    'progress update an agent promised (progress, vocctl case promise). Open until done_at.';
COMMENT ON COLUMN voc.case_task.id IS 'The task number (vocctl case task-done ID).';
COMMENT ON COLUMN voc.case_task.case_id IS 'The case it belongs to.';
COMMENT ON COLUMN voc.case_task.kind IS 'followup (item resolved) or progress (a promised update).';
COMMENT ON COLUMN voc.case_task.item_id IS 'followup: the resolved item; NULL for progress.';
COMMENT ON COLUMN voc.case_task.resolution_id IS
    'followup: the voc.item_event row (state_changed to resolved) that created it; one task per '
    'case and resolution, so an item resolved again after a regression makes a new one.';
COMMENT ON COLUMN voc.case_task.note IS
    'What to tell the customer, e.g. "The issue you reported (''<item title>'') has been fixed".';
COMMENT ON COLUMN voc.case_task.due_at IS
    'progress: the time the update was promised by. followup: NULL, voc-track derives the '
    'deadline from created_at and sla.yaml (cases followup).';
COMMENT ON COLUMN voc.case_task.created_at IS 'When the task was created.';
COMMENT ON COLUMN voc.case_task.created_by IS
    'Who created it: the agent who promised (progress), the person who resolved the item '
    '(followup).';
COMMENT ON COLUMN voc.case_task.done_at IS 'When the customer was told; NULL while owed.';
COMMENT ON COLUMN voc.case_task.done_by IS 'Who told them.';
COMMENT ON COLUMN voc.case_task.done_note IS 'How it went, in the agent''s words.';
