/* voc-aggregate: classified complaints folded into improvement items, each
 * owned by a department, in Postgres; item events to voc.item through
 * the outbox. */
#include "agg_service.h"
#include "voc/service.h"

VOC_SERVICE_ADAPTERS(aggregate, struct aggregate)

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-aggregate",
        .summary = "Folds classified complaints into tracked, owned improvement items.",
        .group_id_at = VOC_CFG(aggregate.group_id),
        .batch_size_at = VOC_CFG(aggregate.batch_size),
        .flush_ms_at = VOC_CFG(aggregate.flush_ms),
        .topics_at = {VOC_CFG(topics.classified)},
        .ntopics = 1,
        VOC_SERVICE_HOOKS(aggregate),
    };
    return voc_service_main(&svc, argc, argv);
}
