/* Outreach tasks: from detections to voc.outreach rows and outbox events. */
#include "tasks.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voc/outbox.h"

enum {
    T_ID,
    T_LEVEL,
    T_SUBJECT,
    T_CONTACT,
    T_ACTION,
    T_CUSTOMER,
    T_STUDENT,
    T_ROOM,
    T_LESSON,
    T_TEACHER,
    T_LINE,
    T_FAMILIES,
    T_EVIDENCE,
    T_FIRST_BAD,
    T_DETECTED,
    T_NVALS
};

static const char *const level_names[] = {"student", "classroom", "line"};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return strdup(buf);
}

/* Who to call and what to do first: the agent reads this, not the evidence. */
static void describe(const struct voc_stall_detection *d, struct task *t)
{
    switch (d->level) {
    case VOC_STALL_STUDENT:
        t->vals[T_CONTACT] = fmt("family %s by phone (student %s, classroom %s)",
                                 d->customer_id ? d->customer_id : "?", d->student_id,
                                 d->classroom_id ? d->classroom_id : "?");
        t->vals[T_ACTION] = fmt("Call now: video frozen %.1f s (%d freezes) in the last window. "
                                "Suggest rejoining the classroom or switching network.",
                                (double)d->frozen_ms / 1000, d->freezes);
        break;
    case VOC_STALL_CLASSROOM:
        t->vals[T_CONTACT] =
            fmt("%s of classroom %s, then its %zu families",
                d->teacher ? "teacher" : "teaching assistant", d->classroom_id, d->ncustomers);
        t->vals[T_ACTION] = fmt("%s Check the classroom's stream; message the class group.",
                                d->teacher ? "The teacher's stream is stalled."
                                           : "Many students are frozen at once.");
        break;
    case VOC_STALL_LINE:
        t->vals[T_CONTACT] = fmt("network operations for line %s; bulk list of %zu families",
                                 d->line, d->ncustomers);
        t->vals[T_ACTION] = fmt("Check line %s: %d classrooms stalled. Move them to a backup "
                                "line and notify the families in bulk, not one call each.",
                                d->line, d->stalled);
        break;
    }
}

static char *families_json(const struct voc_stall_detection *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->ncustomers; i++)
        json_array_append_new(arr, json_string(d->customers[i]));
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

int tasks_add(struct pending *p, const struct voc_stall_detection *d)
{
    if (p->ntasks == p->cap_tasks) {
        size_t cap = p->cap_tasks ? p->cap_tasks * 2 : 16;
        struct task *t = realloc(p->tasks, cap * sizeof *t);
        if (!t)
            return -1;
        p->tasks = t;
        p->cap_tasks = cap;
    }
    struct task *t = &p->tasks[p->ntasks];
    memset(t, 0, sizeof *t);
    t->vals[T_ID] = strdup(d->incident_id);
    t->vals[T_LEVEL] = strdup(level_names[d->level]);
    t->vals[T_SUBJECT] = strdup(d->subject);
    describe(d, t);
    t->vals[T_CUSTOMER] = d->level == VOC_STALL_STUDENT ? dup_or_null(d->customer_id) : NULL;
    t->vals[T_STUDENT] = dup_or_null(d->student_id);
    t->vals[T_ROOM] = dup_or_null(d->classroom_id);
    t->vals[T_LESSON] = dup_or_null(d->lesson_id);
    t->vals[T_TEACHER] = dup_or_null(d->teacher_id);
    t->vals[T_LINE] = dup_or_null(d->line);
    t->vals[T_FAMILIES] = families_json(d);
    t->vals[T_EVIDENCE] =
        fmt("{\"first_bad_ms\":%lld,\"detected_ms\":%lld,\"frozen_ms\":%lld,"
            "\"freezes\":%d,\"stalled\":%d,\"total\":%d,\"teacher\":%s}",
            (long long)d->first_bad_ms, (long long)d->detected_ms, (long long)d->frozen_ms,
            d->freezes, d->stalled, d->total, d->teacher ? "true" : "false");
    t->vals[T_FIRST_BAD] = fmt("%lld", (long long)d->first_bad_ms);
    t->vals[T_DETECTED] = fmt("%lld", (long long)d->detected_ms);
    p->ntasks++;
    if (!t->vals[T_ID] || !t->vals[T_LEVEL] || !t->vals[T_SUBJECT] || !t->vals[T_CONTACT] ||
        !t->vals[T_ACTION] || !t->vals[T_FAMILIES] || !t->vals[T_EVIDENCE] ||
        !t->vals[T_FIRST_BAD] || !t->vals[T_DETECTED])
        return -1; /* the task stays in p: tasks_clear() frees what was copied */
    return 0;
}

int tasks_join(struct pending *p, const char *event_id, const char *task_id,
               const char *customer_id, const char *reported_at)
{
    if (p->njoins == p->cap_joins) {
        size_t cap = p->cap_joins ? p->cap_joins * 2 : 16;
        struct join *j = realloc(p->joins, cap * sizeof *j);
        if (!j)
            return -1;
        p->joins = j;
        p->cap_joins = cap;
    }
    struct join *j = &p->joins[p->njoins++];
    j->vals[0] = strdup(event_id);
    j->vals[1] = strdup(task_id);
    j->vals[2] = dup_or_null(customer_id);
    j->vals[3] = strdup(reported_at);
    return j->vals[0] && j->vals[1] && j->vals[3] ? 0 : -1;
}

int tasks_update_families(struct pending *p, const char *task_id, const char *const *customers,
                          size_t n)
{
    if (p->nupdates == p->cap_updates) {
        size_t cap = p->cap_updates ? p->cap_updates * 2 : 8;
        struct families_update *u = realloc(p->updates, cap * sizeof *u);
        if (!u)
            return -1;
        p->updates = u;
        p->cap_updates = cap;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_string(customers[i]));
    struct families_update *u = &p->updates[p->nupdates++];
    u->vals[0] = strdup(task_id);
    u->vals[1] = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return u->vals[0] && u->vals[1] ? 0 : -1;
}

void tasks_free(struct pending *p)
{
    tasks_clear(p);
    free(p->tasks);
    free(p->joins);
    free(p->updates);
    memset(p, 0, sizeof *p);
}

void tasks_clear(struct pending *p)
{
    for (size_t i = 0; i < p->nupdates; i++) {
        free(p->updates[i].vals[0]);
        free(p->updates[i].vals[1]);
    }
    p->nupdates = 0;
    for (size_t i = 0; i < p->ntasks; i++)
        for (int v = 0; v < T_NVALS; v++)
            free(p->tasks[i].vals[v]);
    for (size_t i = 0; i < p->njoins; i++)
        for (int v = 0; v < 4; v++)
            free(p->joins[i].vals[v]);
    p->ntasks = p->njoins = 0;
}

/* Inserts one task unless something already covers it; returns 1 created,
 * 0 covered, -1 error. The checks run in SQL against stored tasks, so they
 * hold across restarts and replays: a cooldown per subject, no student task
 * under a live classroom task, nothing under an active line incident. */
static int insert_task(PGconn *conn, const struct voc_stall_config *sc, const struct task *t,
                       long long *id, enum voc_db_fault *fault, char *err, size_t errlen)
{
    char cooldown[24], room_cooldown[24], incident[24];
    bool classroom = strcmp(t->vals[T_LEVEL], "classroom") == 0;
    snprintf(cooldown, sizeof cooldown, "%lld",
             (long long)(classroom ? sc->cooldown_classroom_ms : sc->cooldown_student_ms));
    snprintf(room_cooldown, sizeof room_cooldown, "%lld", (long long)sc->cooldown_classroom_ms);
    snprintf(incident, sizeof incident, "%lld", (long long)sc->line_incident_ms);
    const char *vals[T_NVALS + 3];
    memcpy(vals, t->vals, sizeof t->vals);
    vals[T_NVALS] = cooldown;
    vals[T_NVALS + 1] = room_cooldown;
    vals[T_NVALS + 2] = incident;
    PGresult *r = PQexecParams(
        conn,
        "WITH at AS (SELECT to_timestamp($15::bigint / 1000.0) AS t)"
        " INSERT INTO voc.outreach (task_id, level, subject, contact, first_action, customer_id,"
        " student_id, classroom_id, lesson_id, teacher_id, line, families, evidence,"
        " first_bad_at, detected_at)"
        " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " ARRAY(SELECT jsonb_array_elements_text($12::jsonb)), $13::jsonb,"
        " to_timestamp($14::bigint / 1000.0), at.t FROM at"
        " WHERE NOT EXISTS (SELECT 1 FROM voc.outreach o WHERE o.level = $2 AND o.subject = $3"
        "   AND o.detected_at > at.t - $16::bigint * interval '1 ms')"
        " AND ($2 <> 'student' OR $8::text IS NULL OR NOT EXISTS (SELECT 1 FROM voc.outreach c"
        "   WHERE c.level = 'classroom' AND c.subject = $8"
        "   AND c.detected_at > at.t - $17::bigint * interval '1 ms'))"
        " AND ($2 = 'line' OR $11::text IS NULL OR NOT EXISTS (SELECT 1 FROM voc.outreach l"
        "   WHERE l.level = 'line' AND l.subject = $11"
        "   AND l.detected_at > at.t - $18::bigint * interval '1 ms'))"
        " ON CONFLICT (task_id) DO NOTHING RETURNING id",
        T_NVALS + 3, NULL, vals, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = PQntuples(r) == 1;
        *id = rc ? atoll(PQgetvalue(r, 0, 0)) : 0;
    } else {
        *fault = voc_db_fault_of(conn, r);
        voc_db_describe(conn, r, err, errlen);
    }
    PQclear(r);
    return rc;
}

/* The task as readers of voc.outreach receive it. */
static char *task_event(const struct task *t, long long id)
{
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)id,
        "task_id", t->vals[T_ID], "level", t->vals[T_LEVEL], "subject", t->vals[T_SUBJECT],
        "contact", t->vals[T_CONTACT], "first_action", t->vals[T_ACTION], "customer_id",
        t->vals[T_CUSTOMER], "student_id", t->vals[T_STUDENT], "classroom_id", t->vals[T_ROOM],
        "lesson_id", t->vals[T_LESSON], "teacher_id", t->vals[T_TEACHER], "line", t->vals[T_LINE]);
    if (!j)
        return NULL;
    json_object_set_new(j, "families", json_loads(t->vals[T_FAMILIES], 0, NULL));
    json_object_set_new(j, "evidence", json_loads(t->vals[T_EVIDENCE], 0, NULL));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* A line incident is also a complaint about the line: voc-aggregate folds it
 * into that line's improvement item (network operations owns it). */
static char *line_complaint(const struct task *t, const char *occurred_at)
{
    char text[256];
    snprintf(text, sizeof text, "line incident %s: classrooms stalled at once", t->vals[T_LINE]);
    json_t *j =
        json_pack("{s:s, s:s, s:{s:s}, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "occurred_at",
                  occurred_at, "source", "voc-outreach", "network", "line", t->vals[T_LINE], "text",
                  text, "text_norm", text, "classification", "dimension", "line", "category",
                  "stall", "severity", "high", "sentiment", "complaint", "rule",
                  "outreach:line_incident", "taxonomy_version", "outreach");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static int announce(PGconn *conn, const struct voc_config *cfg, const struct task *t, long long id,
                    enum voc_db_fault *fault, char *err, size_t errlen)
{
    const char *key = t->vals[T_ROOM] ? t->vals[T_ROOM] : t->vals[T_LINE];
    char *ev = task_event(t, id);
    int rc = ev ? voc_outbox_add(conn, cfg->topics.outreach, key ? key : t->vals[T_SUBJECT],
                                 "outreach.task", ev, fault, err, errlen)
                : -1;
    free(ev);
    if (rc == 0 && strcmp(t->vals[T_LEVEL], "line") == 0) {
        char at[40];
        time_t secs = (time_t)(atoll(t->vals[T_DETECTED]) / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char *complaint = line_complaint(t, at);
        rc = complaint ? voc_outbox_add(conn, cfg->topics.classified, "line/stall", "tech_issue",
                                        complaint, fault, err, errlen)
                       : -1;
        free(complaint);
    }
    return rc;
}

/* Runs sql once per row of n parameters (rows are arrays of char *vals[],
 * `stride` bytes apart): the joined reports and the grown bulk lists. */
static int exec_rows(PGconn *conn, const char *sql, int n, const void *rows, size_t count,
                     size_t stride, enum voc_db_fault *fault, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        const char *const *v = (const char *const *)((const char *)rows + i * stride);
        PGresult *r = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            *fault = voc_db_fault_of(conn, r);
            voc_db_describe(conn, r, err, errlen);
        }
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

int tasks_write(PGconn *conn, const struct voc_config *cfg, const struct voc_stall_config *sc,
                struct pending *p, enum voc_db_fault *fault, char *err, size_t errlen)
{
    int created = 0;
    if (voc_db_exec(conn, "BEGIN", fault, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < p->ntasks; i++) {
        long long id;
        int rc = insert_task(conn, sc, &p->tasks[i], &id, fault, err, errlen);
        if (rc < 0 || (rc == 1 && announce(conn, cfg, &p->tasks[i], id, fault, err, errlen) < 0))
            goto fail;
        created += rc;
    }
    if (exec_rows(conn,
                  "INSERT INTO voc.outreach_report (event_id, task_id, customer_id, reported_at)"
                  " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
                  4, p->joins, p->njoins, sizeof *p->joins, fault, err, errlen) < 0 ||
        /* Bulk lists grow as more families stall during an incident. */
        exec_rows(conn,
                  "UPDATE voc.outreach SET families ="
                  " ARRAY(SELECT jsonb_array_elements_text($2::jsonb)) WHERE task_id = $1",
                  2, p->updates, p->nupdates, sizeof *p->updates, fault, err, errlen) < 0 ||
        voc_db_exec(conn, "COMMIT", fault, err, errlen) < 0)
        goto fail;
    return created;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}
