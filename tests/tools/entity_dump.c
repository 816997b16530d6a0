/* entity_dump: every message of the given topics, from the first offset to the end, as one JSON
 * line each: {"topic", "partition", "offset", "key", "verified", "reason", "entity"}. An
 * envelope that hub_entity_open() accepts with the given hub public key has verified true and
 * the decoded entity; any other message (another hub's key, a forgery) has verified false and
 * the reason. The tier-leak test reads this to check every message of every tier topic.
 *
 * usage: entity_dump BROKERS HUB_PUBLIC_KEY_FILE TOPIC...
 * Kafka authentication from the environment (HUB_KAFKA_USER ..., hub/kafka_auth.h).
 * Exit: 0 done, 1 failure, 2 usage. */
#include <hub/entity.h>
#include <hub/kafka.h>
#include <hub/kafka_auth.h>
#include <hub/keyfile.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump_topic(rd_kafka_t *rk, hub_entity_codec_t *codec, const hub_key_t *key,
                      const char *topic, hub_err_t *err)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
        rd_kafka_topic_destroy(t);
        if (e || md->topics[0].err) {
                int rc = hub_err_set(err, HUB_E_KAFKA, false, "dump", "metadata of %s: %s", topic,
                                     rd_kafka_err2str(e ? e : md->topics[0].err));
                if (!e)
                        rd_kafka_metadata_destroy(md);
                return rc;
        }
        int nparts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        for (int32_t p = 0; p < nparts; p++) {
                int64_t lo = 0, hi = 0;
                e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
                if (e)
                        return hub_err_set(err, HUB_E_KAFKA, false, "dump",
                                           "offsets of %s [%d]: %s", topic, p,
                                           rd_kafka_err2str(e));
                if (hi <= lo)
                        continue;
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
                e = rd_kafka_assign(rk, l);
                rd_kafka_topic_partition_list_destroy(l);
                if (e)
                        return hub_err_set(err, HUB_E_KAFKA, false, "dump", "assign: %s",
                                           rd_kafka_err2str(e));
                int64_t next = lo;
                /* Compaction leaves gaps: read until the last offset below the end. */
                while (next < hi) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
                        if (!m)
                                return hub_err_set(err, HUB_E_KAFKA, false, "dump",
                                                   "no message from %s [%d] at %" PRId64
                                                   " within 10 s",
                                                   topic, p, next);
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                next = hi;
                                rd_kafka_message_destroy(m);
                                break;
                        }
                        if (m->err) {
                                int rc = hub_err_set(err, HUB_E_KAFKA, false, "dump", "%s",
                                                     rd_kafka_message_errstr(m));
                                rd_kafka_message_destroy(m);
                                return rc;
                        }
                        next = m->offset + 1;
                        hub_err_t oe = {0};
                        avro_value_t *v = NULL;
                        json_t *ent = NULL;
                        int orc = m->payload ? hub_entity_open(codec, m->payload, m->len, 0, key,
                                                               &v, NULL, &oe)
                                             : -HUB_E_MALFORMED;
                        if (!orc && hub_entity_to_json(v, &ent, &oe))
                                orc = -HUB_E_MALFORMED;
                        json_t *line = json_pack(
                                "{s:s, s:i, s:I, s:s#, s:b, s:s?, s:o?}", "topic", topic,
                                "partition", (int)p, "offset", (json_int_t)m->offset, "key",
                                m->key ? (const char *)m->key : "", m->key ? (int)m->key_len : 0,
                                "verified", orc == 0, "reason",
                                orc ? hub_entity_reason(orc) : NULL, "entity", ent);
                        json_dumpf(line, stdout, JSON_COMPACT);
                        fputc('\n', stdout);
                        json_decref(line);
                        rd_kafka_message_destroy(m);
                }
        }
        rd_kafka_assign(rk, NULL);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: entity_dump BROKERS HUB_PUBLIC_KEY_FILE TOPIC...\n");
                return 2;
        }
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        hub_key_t key = {0};
        hub_entity_codec_t *codec = NULL;
        rd_kafka_t *rk = NULL;
        int status = 1;
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_kafka_auth_t auth = {0};
        hub_kafka_auth_env(&auth);
        if (hub_key_load(argv[2], &key, &err) || hub_entity_codec_new(&codec, &err) ||
            hub_kafka_set(conf, "bootstrap.servers", argv[1], &err) ||
            hub_kafka_set(conf, "group.id", auth.user ? auth.user : "entity-dump", &err) ||
            hub_kafka_set(conf, "enable.auto.commit", "false", &err) ||
            hub_kafka_set(conf, "enable.partition.eof", "true", &err) ||
            hub_kafka_auth_apply(conf, &auth, &err)) {
                rd_kafka_conf_destroy(conf);
                goto out;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                hub_err_set(&err, HUB_E_KAFKA, false, "dump", "%s", errstr);
                goto out;
        }
        for (int i = 3; i < argc; i++)
                if (dump_topic(rk, codec, &key, argv[i], &err))
                        goto out;
        status = 0;
out:
        if (err.code)
                fprintf(stderr, "entity_dump: %s\n", err.msg);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        hub_entity_codec_free(codec);
        hub_key_wipe(&key);
        return status;
}
