-- 003_outreach: proactive-outreach tasks (voc-outreach), the tech-issue reports
-- that joined them, and the views that show whether calling first helps.

CREATE TABLE voc.outreach (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id       text        NOT NULL UNIQUE,
    level         text        NOT NULL CHECK (level IN ('student', 'classroom', 'line')),
    subject       text        NOT NULL,
    state         text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    outcome       text        CHECK (outcome IN ('reached', 'no_answer', 'resolved', 'declined',
                                                 'wrong_number', 'other')),
    contact       text        NOT NULL,
    first_action  text        NOT NULL,
    customer_id   text,
    student_id    text,
    classroom_id  text,
    lesson_id     text,
    teacher_id    text,
    line          text,
    families      text[]      NOT NULL DEFAULT '{}',
    evidence      jsonb       NOT NULL,
    first_bad_at  timestamptz NOT NULL,
    detected_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    done_by       text,
    note          text
);
-- Cooldown and inhibition checks look up recent tasks by subject and by line.
CREATE INDEX outreach_subject_idx ON voc.outreach (level, subject, detected_at);
CREATE INDEX outreach_line_idx ON voc.outreach (line, detected_at);
CREATE INDEX outreach_open_idx ON voc.outreach (created_at) WHERE state = 'open';

CREATE TABLE voc.outreach_report (
    event_id    text        PRIMARY KEY,
    task_id     text        NOT NULL,
    customer_id text,
    reported_at timestamptz NOT NULL
);
CREATE INDEX outreach_report_task_idx ON voc.outreach_report (task_id);

COMMENT ON TABLE voc.outreach IS
    'One proactive-outreach task: tech support should contact a family (student stall), a '
    'classroom (classroom stall) or network operations with a bulk list (line incident), '
    'ideally before anyone complains. Written by voc-outreach, closed with vocctl outreach done.';
COMMENT ON COLUMN voc.outreach.id IS 'Surrogate key; vocctl outreach takes it as ID.';
COMMENT ON COLUMN voc.outreach.task_id IS
    'The incident id ("student:<id>:<ms>", "classroom:<id>:<ms>", "line:<line>:<ms>"); a '
    'replay or restart cannot create the same task twice.';
COMMENT ON COLUMN voc.outreach.level IS 'student, classroom or line.';
COMMENT ON COLUMN voc.outreach.subject IS 'The student id, classroom id or network line concerned.';
COMMENT ON COLUMN voc.outreach.state IS 'open until tech support records what it did, then done.';
COMMENT ON COLUMN voc.outreach.outcome IS
    'What the contact achieved: reached, no_answer, resolved, declined, wrong_number, other.';
COMMENT ON COLUMN voc.outreach.contact IS 'Who to contact and how, e.g. "family fam-3-2 by phone".';
COMMENT ON COLUMN voc.outreach.first_action IS 'The suggested first action for the agent.';
COMMENT ON COLUMN voc.outreach.customer_id IS 'The family to call (student tasks).';
COMMENT ON COLUMN voc.outreach.student_id IS 'The stalled student (student tasks).';
COMMENT ON COLUMN voc.outreach.classroom_id IS 'The live classroom (student and classroom tasks).';
COMMENT ON COLUMN voc.outreach.lesson_id IS 'The lesson in progress.';
COMMENT ON COLUMN voc.outreach.teacher_id IS 'The classroom''s teacher.';
COMMENT ON COLUMN voc.outreach.line IS 'The network line the clients used.';
COMMENT ON COLUMN voc.outreach.families IS
    'Classroom and line tasks: every family affected (the bulk list); student tasks: empty.';
COMMENT ON COLUMN voc.outreach.evidence IS
    'The evidence window: first bad heartbeat, frozen ms and freezes, or stalled/total counts.';
COMMENT ON COLUMN voc.outreach.first_bad_at IS 'End of the first bad heartbeat window of the incident.';
COMMENT ON COLUMN voc.outreach.detected_at IS 'Stream time at which the stall was decided.';
COMMENT ON COLUMN voc.outreach.created_at IS
    'When the task was stored; created_at - first_bad_at is how fast support could act.';
COMMENT ON COLUMN voc.outreach.done_at IS 'When tech support recorded the outcome.';
COMMENT ON COLUMN voc.outreach.done_by IS 'Who recorded it.';
COMMENT ON COLUMN voc.outreach.note IS 'Free-text note from tech support.';

COMMENT ON TABLE voc.outreach_report IS
    'A tech-issue report from a family whose student was already in a detected stall: it joined '
    'that stall''s task instead of making a second one.';
COMMENT ON COLUMN voc.outreach_report.event_id IS 'The tech_issue event id.';
COMMENT ON COLUMN voc.outreach_report.task_id IS 'The outreach task (incident) it joined.';
COMMENT ON COLUMN voc.outreach_report.customer_id IS 'The reporting family.';
COMMENT ON COLUMN voc.outreach_report.reported_at IS 'When the family reported it (occurred_at).';

-- Per day and line: what was detected, how fast, and what came of it.
CREATE VIEW voc.outreach_daily AS
SELECT date_trunc('day', o.detected_at)::date AS day,
       o.line,
       count(*) FILTER (WHERE o.level = 'student')   AS student_tasks,
       count(*) FILTER (WHERE o.level = 'classroom') AS classroom_tasks,
       count(*) FILTER (WHERE o.level = 'line')      AS line_incidents,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM o.created_at - o.first_bad_at))  AS median_seconds_to_task,
       count(*) FILTER (WHERE o.outcome IN ('reached', 'resolved'))     AS reached,
       count(*) FILTER (WHERE o.outcome = 'no_answer')                  AS no_answer,
       count(*) FILTER (WHERE o.state = 'open')                         AS still_open,
       (SELECT count(*) FROM voc.outreach_report r
         WHERE r.task_id = ANY (array_agg(o.task_id)))                  AS joined_reports
  FROM voc.outreach o
 GROUP BY 1, 2;

COMMENT ON VIEW voc.outreach_daily IS
    'Proactive outreach per day and network line: tasks by level, median seconds from the first '
    'bad heartbeat to the task, outcomes, and tech-issue reports that joined a task.';
COMMENT ON COLUMN voc.outreach_daily.day IS 'The day of detection (server time zone).';
COMMENT ON COLUMN voc.outreach_daily.line IS 'The network line.';
COMMENT ON COLUMN voc.outreach_daily.student_tasks IS 'Student-level tasks.';
COMMENT ON COLUMN voc.outreach_daily.classroom_tasks IS 'Classroom-level tasks.';
COMMENT ON COLUMN voc.outreach_daily.line_incidents IS 'Line incidents (one bulk task each).';
COMMENT ON COLUMN voc.outreach_daily.median_seconds_to_task IS
    'Median seconds from the first bad heartbeat window to the stored task.';
COMMENT ON COLUMN voc.outreach_daily.reached IS 'Tasks whose outcome was reached or resolved.';
COMMENT ON COLUMN voc.outreach_daily.no_answer IS 'Tasks whose outcome was no_answer.';
COMMENT ON COLUMN voc.outreach_daily.still_open IS 'Tasks nobody has closed yet.';
COMMENT ON COLUMN voc.outreach_daily.joined_reports IS 'Tech-issue reports that joined these tasks.';

-- The effect of being proactive: complaints within 24 h from families that
-- stalled and were reached, against those that stalled and were not.
CREATE VIEW voc.outreach_effect AS
WITH fam AS (
    SELECT o.id, o.line, o.detected_at, o.outcome IN ('reached', 'resolved') AS reached,
           unnest(CASE WHEN o.level = 'student' THEN ARRAY[o.customer_id] ELSE o.families END)
               AS customer_id
      FROM voc.outreach o
), judged AS (
    SELECT f.*, EXISTS (SELECT 1 FROM voc.feedback fb
                         WHERE fb.customer_id = f.customer_id AND fb.sentiment = 'complaint'
                           AND fb.occurred_at >= f.detected_at
                           AND fb.occurred_at < f.detected_at + interval '24 hours') AS complained
      FROM fam f WHERE f.customer_id IS NOT NULL
)
SELECT date_trunc('day', detected_at)::date AS day, line,
       count(DISTINCT customer_id) FILTER (WHERE reached)                    AS families_reached,
       count(DISTINCT customer_id) FILTER (WHERE reached AND complained)     AS reached_complained,
       count(DISTINCT customer_id) FILTER (WHERE NOT reached)                AS families_not_reached,
       count(DISTINCT customer_id) FILTER (WHERE NOT reached AND complained) AS not_reached_complained
  FROM judged
 GROUP BY 1, 2;

COMMENT ON VIEW voc.outreach_effect IS
    'Per day and line: stalled families reached by tech support versus not, and how many of each '
    'complained within 24 hours of the detection.';
COMMENT ON COLUMN voc.outreach_effect.day IS 'The day of detection.';
COMMENT ON COLUMN voc.outreach_effect.line IS 'The network line.';
COMMENT ON COLUMN voc.outreach_effect.families_reached IS 'Stalled families whose task was reached or resolved.';
COMMENT ON COLUMN voc.outreach_effect.reached_complained IS '... of whom complained within 24 h.';
COMMENT ON COLUMN voc.outreach_effect.families_not_reached IS 'Stalled families not (yet) reached.';
COMMENT ON COLUMN voc.outreach_effect.not_reached_complained IS '... of whom complained within 24 h.';
