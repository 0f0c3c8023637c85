/* Outreach tasks between the detector and Postgres (tasks.c). */
#ifndef VOC_OUTREACH_TASKS_H
#define VOC_OUTREACH_TASKS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/stall.h"

/* A detection or a joined report, copied out of the detector's callback. */
struct task {
    char *vals[15]; /* the insert's parameters, owned */
};

struct join {
    char *vals[4]; /* event_id, task_id, customer_id, reported_at; owned */
};

/* A classroom or line task whose bulk list of families has grown. */
struct families_update {
    char *vals[2]; /* task_id, families as a JSON array; owned */
};

struct pending {
    struct task *tasks;
    size_t ntasks, cap_tasks;
    struct join *joins;
    size_t njoins, cap_joins;
    struct families_update *updates;
    size_t nupdates, cap_updates;
};

/* Copies a detection into p. Returns 0, or -1 when out of memory. */
int tasks_add(struct pending *p, const struct voc_stall_detection *d);
/* Records that tech-issue event_id joined task_id. */
int tasks_join(struct pending *p, const char *event_id, const char *task_id,
               const char *customer_id, const char *reported_at);
/* Records the current family list of bulk task task_id. */
int tasks_update_families(struct pending *p, const char *task_id, const char *const *customers,
                          size_t n);
void tasks_clear(struct pending *p);
/* Frees what p holds (after tasks_clear: the arrays themselves). */
void tasks_free(struct pending *p);

/* Writes everything pending in one transaction: each task unless a cooldown,
 * a classroom task or a line incident already covers it (checked in SQL, so
 * a restart or a replay cannot issue a second task), with its outbox event;
 * a line incident also sends a classified event so that voc-aggregate opens
 * the line's improvement item. Returns the number of tasks created, or -1
 * with *fault and err set (nothing written). */
int tasks_write(PGconn *conn, const struct voc_config *cfg, const struct voc_stall_config *sc,
                struct pending *p, enum voc_db_fault *fault, char *err, size_t errlen);

#endif
