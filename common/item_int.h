/* Internals of the item commands, shared by item.c (states, audit, outbox,
 * the single-item commands), item_merge.c (merge, unmerge) and the case
 * modules (case.c, case_cmd.c: statements, audit rows, JSON). Not installed,
 * not public. */
#ifndef VOC_ITEM_INT_H
#define VOC_ITEM_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "voc/item.h"

/* The row of an item a command holds locked until the transaction ends. */
struct voc_item_row {
    long long id;
    char state[16];
    long long merged_into; /* 0: not merged */
    long long merged_in;   /* some item merged into this one, or 0 */
    long long occurrences;
    char *assignee; /* malloc'd; NULL when unassigned */
};

/* Runs a parameterised statement; returns its result, or NULL with *fault
 * and a one-line err naming `what`. */
PGresult *voc_item_query(PGconn *conn, const char *what, const char *sql, int n,
                         const char *const *params, enum voc_db_fault *fault, char *err,
                         size_t errlen);
/* The same for a statement whose result the caller does not need: 0 or -1. */
int voc_item_exec(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
                  enum voc_db_fault *fault, char *err, size_t errlen);

/* Inserts an audit row: sql takes ($1 subject id, $2 kind, $3 actor,
 * $4 reason, $5 data as JSON text) and returns the new row's id, stored in
 * *row_id (may be NULL). Kind and actor are required; `what` ("item audit",
 * "case audit") names the trail in err. The item and case trails share it. */
int voc_item_audit_row(PGconn *conn, const char *what, const char *sql, long long subject_id,
                       const char *kind, const char *actor, const char *reason,
                       const char *data_json, long long *row_id, enum voc_db_fault *fault,
                       char *err, size_t errlen);

/* Locks item id (SELECT ... FOR UPDATE) into *r. VOC_ITEM_REFUSED for a
 * missing item and, unless merged_ok, for one merged into another. *r is
 * always initialised; release it with voc_item_row_clear. */
int voc_item_lock(PGconn *conn, long long id, bool merged_ok, struct voc_item_row *r,
                  enum voc_db_fault *fault, char *err, size_t errlen);
void voc_item_row_clear(struct voc_item_row *r);

/* VOC_ITEM_REFUSED (err names the other item) when making item id live again
 * would give its fingerprint a second live item. `doing` completes
 * "item N cannot ...". */
int voc_item_check_live(PGconn *conn, long long id, const char *doing, enum voc_db_fault *fault,
                        char *err, size_t errlen);

/* The audit row and the outbox event every command ends with. */
int voc_item_record(PGconn *conn, long long id, const char *kind, const char *what,
                    const struct voc_item_cmd *cmd, const char *data_json, enum voc_db_fault *fault,
                    char *err, size_t errlen);

/* Compact JSON of obj (consumed); NULL when out of memory or not encodable. */
char *voc_item_dumps(json_t *obj);
/* Fills err for a failed voc_item_dumps; returns VOC_ITEM_ERROR. */
int voc_item_oom(enum voc_db_fault *fault, char *err, size_t errlen);

/* merge and unmerge (item_merge.c), inside the caller's transaction. */
int voc_item_merge_in(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                      enum voc_db_fault *fault, char *err, size_t errlen);
int voc_item_unmerge_in(PGconn *conn, const struct voc_item_cmd *cmd, struct voc_item_outcome *out,
                        enum voc_db_fault *fault, char *err, size_t errlen);

#endif
