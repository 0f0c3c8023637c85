/* The moves voc-track makes on items by itself, through the same state
 * machine as people (common/item.c), each in its own transaction with its
 * audit row (actor voc-track) and voc.item event:
 *   verify  a resolved item that saw no recurrence for its severity's
 *           verify_quiet window (a recurrence inside the regression window
 *           makes voc-aggregate regress it instead: back to the owner, with
 *           an item.regressed notification and fresh SLA clocks);
 *   close   a verified item after close_after;
 *   wake    a snoozed item whose --until time has come or whose occurrence
 *           count reached the snooze's wake_at_occurrences: back to open,
 *           and its clocks run again (a snooze only pauses them).
 * Two instances may decide the same move: the second is refused ("already
 * verified") and that is fine. */
#include <stdio.h>

#include "track.h"
#include "voc/item.h"
#include "voc/log.h"

int track_item_move(struct track *t, long long item_id, enum track_move move, const char *why)
{
    static const char *const to[] = {"verified", "closed", "open"};
    static const char *const ev[] = {"item_verified", "item_closed", "item_woken"};
    char err[512];
    enum voc_db_fault fault = VOC_DB_OK;
    int rc =
        voc_item_set_state(t->conn, item_id, to[move], "voc-track", why, &fault, err, sizeof err);
    if (rc == VOC_ITEM_ERROR) {
        track_db_failed(t, "item_move", fault, err);
        return -1;
    }
    if (rc == VOC_ITEM_REFUSED) {
        voc_log(VOC_LOG_DEBUG, "item_move_refused", "item=%lld to=%s reason=%s", item_id, to[move],
                voc_log_q(err));
        return 0;
    }
    voc_log(VOC_LOG_INFO, ev[move], "item=%lld why=%s", item_id, voc_log_q(why));
    if (move == TRACK_VERIFY)
        t->verified++;
    else if (move == TRACK_CLOSE)
        t->closed++;
    else
        t->woken++;
    return 0;
}
