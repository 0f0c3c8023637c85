/* voc-ingest: complaints, ratings and tech issues from Kafka into
 * voc.feedback, validated, masked and classified; forwarded to
 * voc.classified; invalid input to voc.deadletter. */
#include "ingest.h"
#include "voc/service.h"

VOC_SERVICE_ADAPTERS(ingest, struct ingest)

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-ingest",
        .summary = "Consumes customer events into Postgres, classified by dimension.",
        .group_id_at = VOC_CFG(ingest.group_id),
        .batch_size_at = VOC_CFG(ingest.batch_size),
        .flush_ms_at = VOC_CFG(ingest.flush_ms),
        .topics_at = {VOC_CFG(topics.complaint), VOC_CFG(topics.rating),
                      VOC_CFG(topics.tech_issue)},
        .ntopics = 3,
        VOC_SERVICE_HOOKS(ingest),
    };
    return voc_service_main(&svc, argc, argv);
}
