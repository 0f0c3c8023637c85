-- 002_items: improvement items, their occurrences, audit trail, links, and
-- the transactional outbox. Written by voc-aggregate and vocctl.

-- One row per improvement item: a recurring problem owned by a department.
CREATE TABLE voc.item (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint      text        NOT NULL,
    dimension        text        NOT NULL
                     CHECK (dimension IN ('class', 'product', 'line', 'service', 'unclassified')),
    category         text        NOT NULL,
    entity           text,
    title            text        NOT NULL,
    state            text        NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'acknowledged', 'in_progress', 'resolved', 'verified',
                                      'closed', 'snoozed', 'wont_fix', 'regressed')),
    severity         text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    department       text        NOT NULL,
    owner            text,
    assignee         text,
    notify           text,
    escalation       text[]      NOT NULL DEFAULT '{}',
    routing_rule     text        NOT NULL,
    routing_version  text        NOT NULL,
    match_rule       text        NOT NULL,
    match_version    text        NOT NULL,
    signatures       bytea,
    occurrences      integer     NOT NULL DEFAULT 0,
    customers        integer     NOT NULL DEFAULT 0,
    vip_occurrences  integer     NOT NULL DEFAULT 0,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    samples          jsonb       NOT NULL DEFAULT '[]',
    parent_item_id   bigint      REFERENCES voc.item (id),
    merged_into      bigint      REFERENCES voc.item (id),
    resolved_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- At most one live item per fingerprint: the guard that makes item creation
-- race-free even while partitions move between voc-aggregate instances.
CREATE UNIQUE INDEX item_live_fingerprint_idx ON voc.item (fingerprint)
    WHERE state NOT IN ('resolved', 'verified', 'closed', 'wont_fix') AND merged_into IS NULL;
CREATE INDEX item_fingerprint_idx ON voc.item (fingerprint, resolved_at);
CREATE INDEX item_department_state_idx ON voc.item (department, state);
CREATE INDEX item_merged_into_idx ON voc.item (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX item_parent_idx ON voc.item (parent_item_id) WHERE parent_item_id IS NOT NULL;

-- LSH band hashes of each item's MinHash signature: near-duplicate candidates
-- are found by equality on (band, hash), never by scanning items.
CREATE TABLE voc.item_band (
    item_id bigint   NOT NULL REFERENCES voc.item (id) ON DELETE CASCADE,
    band    smallint NOT NULL,
    hash    bigint   NOT NULL,
    PRIMARY KEY (item_id, band, hash)
);
CREATE INDEX item_band_lookup_idx ON voc.item_band (band, hash);

-- Which item each event was counted in: the idempotency record of
-- voc-aggregate (an event is counted once, however often it is delivered).
CREATE TABLE voc.item_occurrence (
    event_id    text        PRIMARY KEY,
    item_id     bigint      NOT NULL REFERENCES voc.item (id),
    customer_id text,
    tier        text,
    occurred_at timestamptz NOT NULL,
    match       text        NOT NULL,
    similarity  real,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX item_occurrence_item_idx ON voc.item_occurrence (item_id, occurred_at);

-- Append-only audit trail: every change to an item, who made it and why.
CREATE TABLE voc.item_event (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id bigint      NOT NULL REFERENCES voc.item (id),
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text        NOT NULL
            CHECK (kind IN ('opened', 'recurred', 'merged', 'unmerged', 'routed', 'reassigned',
                            'state_changed', 'regressed', 'severity_changed', 'linked',
                            'commented')),
    actor   text        NOT NULL,
    reason  text,
    data    jsonb
);
CREATE INDEX item_event_item_idx ON voc.item_event (item_id, at);

-- Links between items: a classroom item under its line item, a new item
-- opened after the regression window of a resolved one, a merge.
CREATE TABLE voc.item_link (
    from_item  bigint      NOT NULL REFERENCES voc.item (id),
    to_item    bigint      NOT NULL REFERENCES voc.item (id),
    kind       text        NOT NULL CHECK (kind IN ('child_of', 'regression_of', 'merged_into')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_item, to_item, kind)
);

-- Events to publish after commit (design principle 1).
CREATE TABLE voc.outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    topic        text        NOT NULL,
    key          text,
    type         text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_idx ON voc.outbox (id) WHERE published_at IS NULL;

ALTER TABLE voc.feedback ADD COLUMN item_id bigint REFERENCES voc.item (id);
CREATE INDEX feedback_item_idx ON voc.feedback (item_id) WHERE item_id IS NOT NULL;

COMMENT ON TABLE voc.item IS
    'One row per improvement item: a problem many customers reported, folded from their events '
    'by voc-aggregate and owned by a department until it is closed. Its history is in '
    'voc.item_event, the events counted in it in voc.item_occurrence (and voc.feedback.item_id). '
    'An item merged into another (merged_into set) is kept for the record but no longer counts.';
COMMENT ON COLUMN voc.item.id IS 'The item number people use (vocctl item show ID).';
COMMENT ON COLUMN voc.item.fingerprint IS
    'Grouping key: dimension, category and normalised primary entity. At most one live item '
    '(not resolved, verified, closed or wont_fix, and not merged) has a given fingerprint.';
COMMENT ON COLUMN voc.item.dimension IS
    'Who owns the problem: class, product, line, service, or unclassified (as in voc.feedback).';
COMMENT ON COLUMN voc.item.category IS 'Taxonomy category within the dimension.';
COMMENT ON COLUMN voc.item.entity IS
    'The primary entity the item is about: network line (line), product id (product), '
    'lesson or teacher (class), channel (service); NULL when the events named none.';
COMMENT ON COLUMN voc.item.title IS 'Short description, taken from the most representative text.';
COMMENT ON COLUMN voc.item.state IS
    'Lifecycle: open, acknowledged, in_progress, resolved, verified, closed; snoozed (parked until '
    'a time or more occurrences), wont_fix (declined), regressed (came back after resolution).';
COMMENT ON COLUMN voc.item.severity IS
    'low, medium, high or critical; set from volume, customer tier and keywords, and raised as the '
    'item grows.';
COMMENT ON COLUMN voc.item.department IS
    'The owning department, from the first matching rule of routing.yaml (or the triage owner).';
COMMENT ON COLUMN voc.item.owner IS 'The department''s accountable owner when the item was routed.';
COMMENT ON COLUMN voc.item.assignee IS
    'The person handling the item now (vocctl item assign); NULL until someone is assigned.';
COMMENT ON COLUMN voc.item.notify IS
    'Notification target name from routing.yaml (chat webhook) for this item''s messages.';
COMMENT ON COLUMN voc.item.escalation IS
    'Escalation chain in order (handler, department owner, VOC lead) used after an SLA breach.';
COMMENT ON COLUMN voc.item.routing_rule IS
    'Name of the routing.yaml rule that chose the department, or triage when none matched.';
COMMENT ON COLUMN voc.item.routing_version IS 'Version of routing.yaml that routed the item.';
COMMENT ON COLUMN voc.item.match_rule IS
    'How events are matched to this item: the exact fingerprint or near-duplicate text rule.';
COMMENT ON COLUMN voc.item.match_version IS
    'Version of the matching configuration (rules, threshold) that opened the item.';
COMMENT ON COLUMN voc.item.signatures IS
    'Up to five MinHash signatures of member texts, concatenated (binary, internal to the '
    'near-duplicate matcher): the founder and members that joined while differing from it.';
COMMENT ON COLUMN voc.item.occurrences IS
    'Events counted in the item (rows of voc.item_occurrence); replays do not add to it.';
COMMENT ON COLUMN voc.item.customers IS 'Distinct known customers among the occurrences.';
COMMENT ON COLUMN voc.item.vip_occurrences IS
    'Occurrences from vip or svip customers; vip_occurrences / occurrences is the VIP share.';
COMMENT ON COLUMN voc.item.first_seen IS 'When the earliest counted event happened.';
COMMENT ON COLUMN voc.item.last_seen IS 'When the latest counted event happened.';
COMMENT ON COLUMN voc.item.samples IS
    'A few representative customer texts (JSON array, PII-masked) for people reading the item.';
COMMENT ON COLUMN voc.item.parent_item_id IS
    'The item this one is rolled up under (e.g. a classroom item under its network line item).';
COMMENT ON COLUMN voc.item.merged_into IS
    'Set when a person merged this item into another (vocctl item merge); its events moved there. '
    'Cleared by vocctl item unmerge.';
COMMENT ON COLUMN voc.item.resolved_at IS
    'When the item was last declared resolved; NULL while it is live again (reopened, regressed). '
    'Occurrences after this time within the regression window reopen the item.';
COMMENT ON COLUMN voc.item.created_at IS 'When the item was opened.';
COMMENT ON COLUMN voc.item.updated_at IS 'When anything about the item last changed.';

COMMENT ON TABLE voc.item_band IS
    'Locality-sensitive hash bands of each item''s MinHash signature: the index the matcher uses '
    'to find near-duplicate candidates without scanning items. Internal; not for reports.';
COMMENT ON COLUMN voc.item_band.item_id IS 'The item.';
COMMENT ON COLUMN voc.item_band.band IS 'Band number within the signature.';
COMMENT ON COLUMN voc.item_band.hash IS 'Hash of the signature''s values in that band.';

COMMENT ON TABLE voc.item_occurrence IS
    'One row per event counted in an item: the item''s counts are computed from these rows, and '
    'an event is counted once however often it is delivered.';
COMMENT ON COLUMN voc.item_occurrence.event_id IS
    'The event (voc.feedback.event_id); unique, so an event belongs to one item at a time.';
COMMENT ON COLUMN voc.item_occurrence.item_id IS
    'The item it is counted in (moves to the surviving item on a merge).';
COMMENT ON COLUMN voc.item_occurrence.customer_id IS 'The customer who reported it, if known.';
COMMENT ON COLUMN voc.item_occurrence.tier IS 'The customer''s tier at the time (e.g. vip, svip).';
COMMENT ON COLUMN voc.item_occurrence.occurred_at IS 'When the event happened (from the source).';
COMMENT ON COLUMN voc.item_occurrence.match IS
    'Which rule put the event in this item: the exact fingerprint or near-duplicate text.';
COMMENT ON COLUMN voc.item_occurrence.similarity IS
    'Text similarity to the item (0..1) for a near-duplicate match; NULL for an exact match.';
COMMENT ON COLUMN voc.item_occurrence.created_at IS 'When the event was counted.';

COMMENT ON TABLE voc.item_event IS
    'Append-only audit trail of items: one row per change (opened, recurred, merged, routed, '
    'reassigned, state change, regression, ...) with who did it and why. SLA deadlines are derived '
    'from it. Never updated or deleted.';
COMMENT ON COLUMN voc.item_event.id IS 'Order of the changes.';
COMMENT ON COLUMN voc.item_event.item_id IS 'The item changed.';
COMMENT ON COLUMN voc.item_event.at IS 'When the change was committed.';
COMMENT ON COLUMN voc.item_event.kind IS
    'What happened: opened, recurred, merged, unmerged, routed, reassigned, state_changed, '
    'regressed, severity_changed, linked or commented.';
COMMENT ON COLUMN voc.item_event.actor IS
    'Who made the change: a person (vocctl --by) or a service (e.g. voc-aggregate).';
COMMENT ON COLUMN voc.item_event.reason IS 'Why, in the actor''s words (vocctl --note); may be NULL.';
COMMENT ON COLUMN voc.item_event.data IS
    'Details as JSON, by kind: state_changed {from, to} (snooze adds until / wake_at_occurrences), '
    'reassigned {from, to}, merged {into, event_ids, feedback_event_ids} on the merged item and '
    '{from, moved} on the surviving one; unmerged likewise.';

COMMENT ON TABLE voc.item_link IS
    'Relations between items: a classroom item rolled up under its line item (child_of), a new '
    'item opened after a resolved one''s regression window (regression_of), a merge (merged_into).';
COMMENT ON COLUMN voc.item_link.from_item IS 'The item the relation starts from.';
COMMENT ON COLUMN voc.item_link.to_item IS 'The related item (parent, earlier item, surviving item).';
COMMENT ON COLUMN voc.item_link.kind IS 'child_of, regression_of or merged_into.';
COMMENT ON COLUMN voc.item_link.created_at IS 'When the relation was made.';

COMMENT ON TABLE voc.outbox IS
    'Events to send to Kafka, written in the same transaction as the change that causes them and '
    'published by a relay after commit, so a crash loses none. Readers deduplicate on event_id: '
    'a crash after sending and before marking sends the same event again.';
COMMENT ON COLUMN voc.outbox.id IS 'Publication order.';
COMMENT ON COLUMN voc.outbox.event_id IS
    'Unique id of the event, added to the published message as "event_id".';
COMMENT ON COLUMN voc.outbox.topic IS 'Kafka topic to publish to (e.g. voc.item).';
COMMENT ON COLUMN voc.outbox.key IS
    'Kafka message key (e.g. the item id), which keeps one item''s events in order.';
COMMENT ON COLUMN voc.outbox.type IS
    'Event type, e.g. item.opened, item.acknowledged; added to the message as "type".';
COMMENT ON COLUMN voc.outbox.payload IS 'The message body (JSON object), e.g. the item row.';
COMMENT ON COLUMN voc.outbox.created_at IS 'When the change that caused the event committed.';
COMMENT ON COLUMN voc.outbox.published_at IS
    'When the broker acknowledged the event; NULL while it waits to be sent.';

COMMENT ON COLUMN voc.feedback.item_id IS
    'The improvement item this event was counted in (see voc.item); NULL until voc-aggregate has '
    'grouped it. Moves with its occurrence when items are merged or unmerged.';
