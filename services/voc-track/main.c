/* voc-track: the SLA clock (reminders, escalation up each item's chain,
 * auto-verify and close, snooze wake-up), commands from the voc.command
 * topic, and a customer case for every complaint and low rating. */
#include "track_service.h"
#include "voc/service.h"

VOC_SERVICE_ADAPTERS(track, struct track)

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-track",
        .summary = "Runs the SLA clock on items and cases, item commands from voc.command, and "
                   "opens a case per complaint and low rating.",
        .group_id_at = VOC_CFG(track.group_id),
        .batch_size_at = VOC_CFG(track.batch_size),
        .flush_ms_at = VOC_CFG(track.flush_ms),
        .topics_at = {VOC_CFG(topics.command), VOC_CFG(topics.classified)},
        .ntopics = 2,
        VOC_SERVICE_HOOKS(track),
    };
    return voc_service_main(&svc, argc, argv);
}
