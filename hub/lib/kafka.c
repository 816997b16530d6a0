#include <hub/kafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hub_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, hub_err_t *err)
{
        char errstr[256];
        if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                return hub_err_set(err, HUB_E_CONFIG, false, "kafka", "kafka setting %s: %s", key,
                                   errstr);
        return 0;
}

/* A topic just created answers "not leader" for a moment: wait until every partition of every
 * topic has a leader, so the caller's first produce or offset query does not fail. */
static int wait_for_leaders(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms,
                            hub_err_t *err)
{
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                const struct rd_kafka_metadata *md = NULL;
                size_t ready = 0;
                if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        for (size_t i = 0; i < n; i++) {
                                for (int t = 0; t < md->topic_cnt; t++) {
                                        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                                        if (strcmp(mt->topic, topics[i]) != 0 || mt->err ||
                                            mt->partition_cnt == 0)
                                                continue;
                                        int led = 1;
                                        for (int p = 0; p < mt->partition_cnt; p++)
                                                if (mt->partitions[p].leader < 0 ||
                                                    mt->partitions[p].err)
                                                        led = 0;
                                        ready += (size_t)led;
                                }
                        }
                        rd_kafka_metadata_destroy(md);
                }
                if (ready == n)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
                if (ms > timeout_ms)
                        return hub_err_set(err, HUB_E_KAFKA, true, "kafka",
                                           "topics created but %zu of %zu have no leader after "
                                           "%d ms", n - ready, n, timeout_ms);
                nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
}

int hub_kafka_create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                            const char *const *settings, size_t n_settings, int timeout_ms,
                            hub_err_t *err)
{
        int rc = 0;
        char errstr[256];
        rd_kafka_NewTopic_t **nt = calloc(n ? n : 1, sizeof(*nt));
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_event_t *ev = NULL;
        if (!nt || !q || !opts) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                goto out;
        }
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr, sizeof(errstr));
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
        for (size_t i = 0; i < n; i++) {
                nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, 1, errstr, sizeof(errstr));
                if (!nt[i]) {
                        rc = hub_err_set(err, HUB_E_INVAL, false, __func__,
                                         "could not describe topic %s: %s", topics[i], errstr);
                        goto out;
                }
                for (size_t s = 0; s + 1 < 2 * n_settings; s += 2)
                        rd_kafka_NewTopic_set_config(nt[i], settings[s], settings[s + 1]);
        }
        rd_kafka_CreateTopics(rk, nt, n, opts, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
        if (!ev) {
                rc = hub_err_set(err, HUB_E_KAFKA, true, __func__,
                                 "no answer to CreateTopics within %d ms", timeout_ms);
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
                rc = hub_err_set(err, HUB_E_KAFKA,
                                 e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                                         e == RD_KAFKA_RESP_ERR__TRANSPORT,
                                 __func__, "could not create topics: %s",
                                 rd_kafka_event_error_string(ev));
                goto out;
        }
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
                if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        rc = hub_err_set(err, HUB_E_KAFKA, false, __func__,
                                         "could not create topic %s: %s",
                                         rd_kafka_topic_result_name(tr[i]),
                                         rd_kafka_topic_result_error_string(tr[i]));
                        goto out;
                }
        }
        rc = wait_for_leaders(rk, topics, n, timeout_ms, err);
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (nt) {
                for (size_t i = 0; i < n; i++)
                        if (nt[i])
                                rd_kafka_NewTopic_destroy(nt[i]);
                free(nt);
        }
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (q)
                rd_kafka_queue_destroy(q);
        return rc;
}
