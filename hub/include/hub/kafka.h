/* Small helpers over librdkafka shared by the programs: configuration with our errors, and
 * topic creation through the Admin API (the broker runs with auto.create.topics.enable=false,
 * so every topic is created on purpose, with its partitions and settings). */
#ifndef HUB_KAFKA_H
#define HUB_KAFKA_H

#include <hub/err.h>

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Set key=value on conf; HUB_E_CONFIG with librdkafka's reason when refused. */
int hub_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, hub_err_t *err);

/* Create the topics (an existing topic is fine) with `partitions` partitions each and the
 * given topic settings (name, value pairs; NULL when none), waiting up to timeout_ms.
 * Errors: HUB_E_KAFKA (retriable when the broker timed out or is unreachable). */
int hub_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                            const char *const *settings, size_t n_settings, int timeout_ms,
                            hub_err_t *err);

#endif
