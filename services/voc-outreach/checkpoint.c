/* voc.outreach_checkpoint: written about once a second from the replay
 * marks (voc/replay.h), read when partitions are assigned. */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The points' partitions (which 0), offsets (1) or event times (2) as a
 * Postgres array literal, malloc'd; NULL when out of memory. */
static char *pg_array(const struct voc_replay_point *p, size_t n, int which)
{
    size_t cap = 2 + n * 21, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    buf[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        int64_t v = which == 0 ? p[i].partition : which == 1 ? p[i].offset : p[i].event_ms;
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? "," : "", v);
    }
    snprintf(buf + len, cap - len, "}");
    return buf;
}

int checkpoint_save(PGconn *conn, const char *topic, const struct voc_replay_point *points,
                    size_t n, enum voc_db_fault *fault, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    int rc = -1;
    char *parts = pg_array(points, n, 0), *offsets = pg_array(points, n, 1),
         *events = pg_array(points, n, 2);
    if (!parts || !offsets || !events) {
        *fault = VOC_DB_RETRY;
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    const char *vals[] = {topic, parts, offsets, events};
    PGresult *r = PQexecParams(
        conn,
        "INSERT INTO voc.outreach_checkpoint (topic, partition, replay_offset, event_ms,"
        " updated_at)"
        " SELECT $1, u.p, u.o, u.e, now()"
        " FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS u(p, o, e)"
        " ON CONFLICT (topic, partition) DO UPDATE SET replay_offset = EXCLUDED.replay_offset,"
        " event_ms = EXCLUDED.event_ms, updated_at = EXCLUDED.updated_at",
        4, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        rc = 0;
    } else {
        *fault = voc_db_fault_of(conn, r);
        voc_db_describe(conn, r, err, errlen);
    }
    PQclear(r);
done:
    free(parts);
    free(offsets);
    free(events);
    return rc;
}

int checkpoint_load(PGconn *conn, const char *topic, int32_t partition, int64_t *offset,
                    enum voc_db_fault *fault, char *err, size_t errlen)
{
    char part[16];
    snprintf(part, sizeof part, "%" PRId32, partition);
    const char *vals[] = {topic, part};
    PGresult *r = PQexecParams(conn,
                               "SELECT replay_offset FROM voc.outreach_checkpoint"
                               " WHERE topic = $1 AND partition = $2::int",
                               2, NULL, vals, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = PQntuples(r) == 1;
        if (rc)
            *offset = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        *fault = voc_db_fault_of(conn, r);
        voc_db_describe(conn, r, err, errlen);
    }
    PQclear(r);
    return rc;
}
