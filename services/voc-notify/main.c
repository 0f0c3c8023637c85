/* voc-notify: delivers the notifications on voc.notification (written
 * through the outbox by voc-aggregate and voc-track) to each department's
 * chat webhook from routing.yaml and notify.yaml: grouped per department,
 * retried with backoff, every attempt in voc.delivery, dead-lettered after
 * the last. See notifier.h for the parts. */
#include <curl/curl.h>
#include <stdio.h>

#include "notifier.h"
#include "voc/service.h"

VOC_SERVICE_ADAPTERS(notifier, struct notifier)

int main(int argc, char **argv)
{
    static const struct voc_service svc = {
        .name = "voc-notify",
        .summary = "Delivers notifications to departments' chat webhooks, grouped, with retries.",
        .group_id_at = VOC_CFG(notify.group_id),
        .batch_size_at = VOC_CFG(notify.batch_size),
        .flush_ms_at = VOC_CFG(notify.flush_ms),
        .topics_at = {VOC_CFG(topics.notification)},
        .ntopics = 1,
        VOC_SERVICE_HOOKS(notifier),
    };
    return voc_service_main(&svc, argc, argv);
}
