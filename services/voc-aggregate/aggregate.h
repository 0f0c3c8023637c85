/* voc-aggregate: classified complaints folded into improvement items.
 *
 * aggregate.c  the batch handler: parse, one transaction per batch, relay
 * itemdb.c     the SQL: find, open, join, regress, recount, route, titles
 * rollup.c     classroom items on one network line under one line item */
#ifndef VOC_AGGREGATE_H
#define VOC_AGGREGATE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "voc/config.h"
#include "voc/db.h"
#include "voc/match.h"
#include "voc/routing.h"

/* One classified event, fields borrowed from root. */
struct agg_event {
    json_t *root;
    const char *event_id, *occurred_at, *customer_id, *tier, *channel;
    const char *classroom_id, *lesson_id, *teacher_id, *product_id, *line;
    const char *text, *text_norm;
    const char *dimension, *category, *severity, *sentiment;
};

/* An item the batch touched, with what the batch did to it. */
struct agg_touched {
    long long id;
    int max_severity; /* highest event severity seen, 0..3 */
    int added;        /* occurrences added by this batch */
    bool opened;      /* opened by this batch */
};

/* What the SQL helpers need; errors set fault and err. */
struct agg_db {
    PGconn *conn;
    const struct voc_aggregate_config *cfg;
    const struct voc_routing *routing;
    const char *notice_topic; /* voc.notification: item.opened / item.regressed notices */
    enum voc_db_fault fault;
    char err[512];
};

int agg_severity_rank(const char *severity); /* low 0 .. critical 3; -1 unknown */

/* Runs a parameterised statement; returns its result when the status is
 * `want`, else NULL with db->fault and db->err set. */
PGresult *agg_q(struct agg_db *db, const char *sql, int n, const char *const *vals,
                ExecStatusType want);
int agg_exec(struct agg_db *db, const char *sql, int n, const char *const *vals);
/* Maps a voc_item_* return code (which sets db->fault/err itself) to 0/-1. */
int agg_item_call(struct agg_db *db, int rc);
/* Audits a change by voc-aggregate; the data is built by json_pack(fmt, ...)
 * (fmt NULL: no data), so no value can break the JSON. 0 or -1. */
int agg_audit(struct agg_db *db, long long id, const char *kind, const char *reason,
              const char *fmt, ...);
/* Writes the item's "item.<what>" event to the outbox. 0 or -1. */
int agg_publish(struct agg_db *db, long long id, const char *what);
/* Tells the item's department (addressed to its owner) that the item was
 * opened (kind "item.opened") or came back after resolution
 * ("item.regressed"), in the batch's transaction. 0 or -1. */
int agg_notice(struct agg_db *db, long long id, const char *kind);
const char *agg_severity_name(int rank);

/* itemdb.c. Each returns 0, or -1 with db->fault/err set. */
int itemdb_counted(struct agg_db *db, const char *const *event_ids, int n, bool *counted);
/* Finds the item ev belongs to (0: open a new one, linked to *link_to when
 * that is not 0), reopening a resolved item when the regression rule says so. */
int itemdb_match(struct agg_db *db, const struct agg_event *ev, const char *fingerprint,
                 const struct voc_signature *sig, long long *item_id, long long *link_to,
                 const char **how, double *similarity);
int itemdb_open(struct agg_db *db, const struct agg_event *ev, const char *fingerprint,
                const char *entity, const struct voc_signature *sig, const char *match_rule,
                long long link_to, long long *item_id);
/* Adds sig as a member of a text item (while it has fewer than five), so
 * later paraphrases close to this one find the item too. */
int itemdb_add_member(struct agg_db *db, long long item_id, const struct agg_event *ev,
                      const struct voc_signature *sig);
int itemdb_add_occurrence(struct agg_db *db, long long item_id, const struct agg_event *ev,
                          const char *how, double similarity);
/* settle.c: after the batch's occurrences, per touched item: counts,
 * severity, re-routing, title, audit and outbox events, roll-up. */
/* *parent receives the item's line item (id 0 if none), to be settled too. */
int itemdb_settle(struct agg_db *db, const struct agg_touched *t, struct agg_touched *parent);

/* rollup.c: links classroom items of one line under a line item. */
/* When enough classroom items of child's line are live: finds or opens the
 * line item (*opened says which) and links them under it. *parent stays 0
 * below the threshold. */
int rollup_line_item(struct agg_db *db, long long child_id, long long *parent, bool *opened);
int rollup_recount_parent(struct agg_db *db, long long parent_id);

#endif
