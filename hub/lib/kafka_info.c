#include <hub/kafka_info.h>

#include <string.h>

static bool retriable(rd_kafka_resp_err_t e)
{
        return e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
               e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
               e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
               e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
}

int hub_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int *partitions,
                               int timeout_ms, hub_err_t *err)
{
        const struct rd_kafka_metadata *md = NULL;
        /* All topics rather than only this one: asking for one topic by name would make a
         * broker with auto.create.topics.enable=true create it. */
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
        if (e)
                return hub_err_set(err, HUB_E_KAFKA, retriable(e), "kafka",
                                   "could not read the topic list from the broker: %s",
                                   rd_kafka_err2str(e));
        *partitions = 0;
        for (int t = 0; t < md->topic_cnt; t++)
                if (strcmp(md->topics[t].topic, topic) == 0 && !md->topics[t].err)
                        *partitions = md->topics[t].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return 0;
}

int hub_kafka_watermarks(rd_kafka_t *rk, const char *topic, int partition, int64_t *low,
                         int64_t *high, int timeout_ms, hub_err_t *err)
{
        rd_kafka_resp_err_t e =
                rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, timeout_ms);
        if (e)
                return hub_err_set(err, HUB_E_KAFKA, retriable(e), "kafka",
                                   "could not read the end offset of %s [%d]: %s", topic,
                                   partition, rd_kafka_err2str(e));
        return 0;
}
