/* voc-outreach: classroom stalls detected from telemetry in real time, and one
 * task per incident for tech support (voc.outreach), before the family
 * complains. */
#include "outreach.h"
#include "voc/service.h"

VOC_SERVICE_ADAPTERS(outreach, struct outreach)

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-outreach",
        .summary = "Detects classroom stalls from telemetry and hands tech support one task each.",
        .group_id_at = VOC_CFG(outreach.group_id),
        .batch_size_at = VOC_CFG(outreach.batch_size),
        .flush_ms_at = VOC_CFG(outreach.flush_ms),
        .topics_at = {VOC_CFG(topics.telemetry), VOC_CFG(topics.tech_issue)},
        .ntopics = 2,
        VOC_SERVICE_HOOKS(outreach),
    };
    return voc_service_main(&svc, argc, argv);
}
