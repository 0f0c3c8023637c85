-- 001_init: the feedback table, one row per accepted customer event.
--
-- Applied by voc_db_migrate() (vocctl migrate) inside one transaction, after
-- the runner has created schema voc and voc.schema_migrations. Migration files
-- must not contain BEGIN/COMMIT of their own.

CREATE TABLE voc.feedback (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         text        NOT NULL UNIQUE CHECK (event_id <> ''),
    type             text        NOT NULL CHECK (type IN ('complaint', 'rating', 'tech_issue')),
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    channel          text,
    customer_id      text,
    tier             text,
    classroom_id     text,
    lesson_id        text,
    teacher_id       text,
    product_id       text,
    line             text,
    rating           smallint    CHECK (rating BETWEEN 1 AND 5),
    text             text,
    dimension        text        NOT NULL
                     CHECK (dimension IN ('class', 'product', 'line', 'service', 'unclassified')),
    category         text        NOT NULL,
    severity         text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    sentiment        text        NOT NULL CHECK (sentiment IN ('praise', 'neutral', 'complaint')),
    rule             text        NOT NULL,
    taxonomy_version text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL CHECK (source_partition >= 0),
    source_offset    bigint      NOT NULL CHECK (source_offset >= 0),
    payload          jsonb       NOT NULL,
    -- Only rating events carry a score.
    CONSTRAINT feedback_rating_only_for_ratings CHECK (rating IS NULL OR type = 'rating')
);

-- Trends and reports slice by time first.
CREATE INDEX feedback_occurred_at_idx ON voc.feedback (occurred_at);
-- "All line/stall complaints this week": the per-department lists.
CREATE INDEX feedback_dimension_category_occurred_at_idx
    ON voc.feedback (dimension, category, occurred_at);
-- A customer's history, for callbacks and case follow-up.
CREATE INDEX feedback_customer_id_idx ON voc.feedback (customer_id, occurred_at)
    WHERE customer_id IS NOT NULL;

COMMENT ON SCHEMA voc IS
    'vocloop: voice-of-customer events, their classification, improvement items and SLAs.';
COMMENT ON TABLE voc.schema_migrations IS
    'One row per SQL migration applied by vocctl migrate; the highest version is the schema version.';
COMMENT ON COLUMN voc.schema_migrations.version IS 'The NNN of the migration file NNN_name.sql.';
COMMENT ON COLUMN voc.schema_migrations.name IS 'The migration file name.';
COMMENT ON COLUMN voc.schema_migrations.applied_at IS 'When the migration was committed.';

COMMENT ON TABLE voc.feedback IS
    'One row per accepted customer event (complaint, rating, tech issue) with its classification. '
    'Written by voc-ingest, idempotent on event_id: replaying a topic adds nothing. '
    'Text and payload are PII-masked. Events that failed validation are not here but on the '
    'dead-letter topic.';
COMMENT ON COLUMN voc.feedback.id IS
    'Surrogate key in insertion order; use event_id to refer to an event across systems.';
COMMENT ON COLUMN voc.feedback.event_id IS
    'The producer''s unique id for the event (the idempotency key).';
COMMENT ON COLUMN voc.feedback.type IS 'Event type: complaint, rating or tech_issue.';
COMMENT ON COLUMN voc.feedback.occurred_at IS
    'When the customer said it or the issue happened, as reported by the source.';
COMMENT ON COLUMN voc.feedback.received_at IS
    'When vocloop stored the row; received_at - occurred_at is the pipeline delay.';
COMMENT ON COLUMN voc.feedback.channel IS
    'Where the event came from (e.g. app, phone, chat, rating system); SLAs differ by channel.';
COMMENT ON COLUMN voc.feedback.customer_id IS 'The customer (family account) id, if known.';
COMMENT ON COLUMN voc.feedback.tier IS 'The customer''s service tier at the time (e.g. vip); SLAs differ by tier.';
COMMENT ON COLUMN voc.feedback.classroom_id IS 'The live classroom concerned, if any.';
COMMENT ON COLUMN voc.feedback.lesson_id IS 'The lesson concerned, if any.';
COMMENT ON COLUMN voc.feedback.teacher_id IS 'The teacher concerned, if any.';
COMMENT ON COLUMN voc.feedback.product_id IS 'The product or course concerned, if any.';
COMMENT ON COLUMN voc.feedback.line IS 'The network line (route/ISP/region label) the client used, if known.';
COMMENT ON COLUMN voc.feedback.rating IS 'Rating score 1 (worst) to 5 (best); set for rating events only.';
COMMENT ON COLUMN voc.feedback.text IS
    'What the customer wrote, with phone, ID-card, bank-card numbers and e-mail addresses '
    'replaced by [PHONE], [ID_CARD], [BANK_CARD], [EMAIL].';
COMMENT ON COLUMN voc.feedback.dimension IS
    'Who owns the problem: class (teaching), product (product & R&D), line (network operations), '
    'service (customer service), or unclassified (no rule matched: triage queue).';
COMMENT ON COLUMN voc.feedback.category IS
    'Category id from the taxonomy file within the dimension, or unclassified.';
COMMENT ON COLUMN voc.feedback.severity IS 'low, medium, high or critical, as classified.';
COMMENT ON COLUMN voc.feedback.sentiment IS 'praise, neutral or complaint, as classified.';
COMMENT ON COLUMN voc.feedback.rule IS
    'What decided the classification: field:<rule>, keyword:<category>(score=N), or none.';
COMMENT ON COLUMN voc.feedback.taxonomy_version IS
    'The taxonomy file version that classified the row; compare rows across taxonomy changes with care.';
COMMENT ON COLUMN voc.feedback.source_topic IS 'Kafka topic the event was read from.';
COMMENT ON COLUMN voc.feedback.source_partition IS 'Kafka partition the event was read from.';
COMMENT ON COLUMN voc.feedback.source_offset IS
    'Kafka offset of the event (first accepted copy; replays do not update it).';
COMMENT ON COLUMN voc.feedback.payload IS 'The whole event as received, PII-masked.';
