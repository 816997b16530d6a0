/* What the broker knows about topics: partition counts and watermarks, for hubctl init (does a
 * topic already exist, with the right partitions?) and status (consumer lag). */
#ifndef HUB_KAFKA_INFO_H
#define HUB_KAFKA_INFO_H

#include <hub/err.h>

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* The number of partitions of `topic`, 0 when the broker does not have it. Errors: HUB_E_KAFKA
 * (retriable) when the broker cannot be reached within timeout_ms. */
int hub_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int *partitions,
                               int timeout_ms, hub_err_t *err);

/* The low and high watermarks of one partition (high = the offset the next message will get). */
int hub_kafka_watermarks(rd_kafka_t *rk, const char *topic, int partition, int64_t *low,
                         int64_t *high, int timeout_ms, hub_err_t *err);

#endif
