/* Smoke test of the real services started by deploy/local/start.sh: proves that Kafka and
 * PostgreSQL answer and do what the hub relies on, before any hub code is involved, so that a
 * failure here points at the environment and not at the hub.
 *
 * Kafka: create a uniquely named topic through the Admin API (auto-creation is off, as in
 * production), produce one unique payload with an idempotent producer (acks=all), read it back
 * through a consumer group and commit its offset, then delete the topic.
 * PostgreSQL: server version 15 or newer, and bytes survive a round trip through a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "testutil.h"

/* Generous: the first request after a broker start may wait for the controller and for the
 * __consumer_offsets topic to be created. */
#define TIMEOUT_MS 60000

static const char *brokers;
static const char *pg_dsn;

/* A name or payload no earlier run can have used: pid + wall clock in nanoseconds. */
static void unique_name(char *buf, size_t size, const char *prefix)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(buf, size, "%s-%ld-%lld%09ld", prefix, (long)getpid(), (long long)ts.tv_sec,
                 ts.tv_nsec);
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client handle with bootstrap.servers set plus the given key/value pairs (NULL-terminated).
 * Fails the test on any bad setting. */
static rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, ...)
{
        char errstr[512];
        va_list ap;
        if (!conf)
                conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)))
                fail_msg("bootstrap.servers: %s", errstr);
        va_start(ap, conf);
        for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
                const char *v = va_arg(ap, const char *);
                if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                        va_end(ap);
                        fail_msg("kafka setting %s=%s: %s", k, v, errstr);
                }
        }
        va_end(ap);
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("could not create kafka client: %s", errstr);
        return rk;
}

/* Wait for the one result event of an Admin API call; fails the test on timeout. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what)
{
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);
        if (!ev)
                fail_msg("%s: no answer from %s within %d ms", what, brokers, TIMEOUT_MS + 5000);
        if (rd_kafka_event_error(ev))
                fail_msg("%s: %s", what, rd_kafka_event_error_string(ev));
        return ev;
}

static void create_topic(rd_kafka_t *admin, const char *topic)
{
        char errstr[512];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
        if (!nt)
                fail_msg("NewTopic %s: %s", topic, errstr);
        rd_kafka_AdminOptions_t *opts =
                rd_kafka_AdminOptions_new(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        /* Wait until the topic exists on the broker, not just until the controller accepted it,
         * so the producer below does not race the topic into existence. */
        if (rd_kafka_AdminOptions_set_operation_timeout(opts, TIMEOUT_MS, errstr, sizeof(errstr)))
                fail_msg("operation timeout: %s", errstr);
        rd_kafka_queue_t *q = rd_kafka_queue_new(admin);
        rd_kafka_CreateTopics(admin, &nt, 1, opts, q);
        rd_kafka_event_t *ev = admin_wait(q, "CreateTopics");

        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        if (!res)
                fail_msg("CreateTopics: unexpected event %s", rd_kafka_event_name(ev));
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        if (n != 1)
                fail_msg("CreateTopics: %zu results for one topic", n);
        if (rd_kafka_topic_result_error(tr[0]))
                fail_msg("could not create topic %s: %s", topic,
                         rd_kafka_topic_result_error_string(tr[0]));
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_NewTopic_destroy(nt);
}

static void delete_topic(rd_kafka_t *admin, const char *topic)
{
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(admin);
        rd_kafka_DeleteTopics(admin, &dt, 1, NULL, q);
        rd_kafka_event_t *ev = admin_wait(q, "DeleteTopics");
        const rd_kafka_DeleteTopics_result_t *res = rd_kafka_event_DeleteTopics_result(ev);
        if (!res)
                fail_msg("DeleteTopics: unexpected event %s", rd_kafka_event_name(ev));
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_DeleteTopics_result_topics(res, &n);
        if (n != 1 || rd_kafka_topic_result_error(tr[0]))
                fail_msg("could not delete topic %s: %s", topic,
                         n == 1 ? rd_kafka_topic_result_error_string(tr[0]) : "no result");
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_DeleteTopic_destroy(dt);
}

struct delivery {
        int done;
        rd_kafka_resp_err_t err;
        int32_t partition;
        int64_t offset;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        struct delivery *d = opaque;
        d->done++;
        d->err = m->err;
        d->partition = m->partition;
        d->offset = m->offset;
}

static void produce_one(const char *topic, const char *payload, size_t len)
{
        struct delivery d = {0};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &d);
        /* The settings the hub's publisher uses: idempotence implies acks=all; saying acks=all
         * too makes the intent explicit and fails loudly if a librdkafka ever disagrees. */
        rd_kafka_t *p = kafka_new(RD_KAFKA_PRODUCER, conf, "enable.idempotence", "true", "acks",
                                  "all", "message.timeout.ms", "60000", NULL);
        rd_kafka_resp_err_t err = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY("smoke", 5),
                RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_END);
        if (err)
                fail_msg("could not enqueue message to %s: %s", topic, rd_kafka_err2str(err));
        err = rd_kafka_flush(p, TIMEOUT_MS + 5000);
        if (err)
                fail_msg("flush to %s: %s", topic, rd_kafka_err2str(err));
        if (d.done != 1)
                fail_msg("expected one delivery report, got %d", d.done);
        if (d.err)
                fail_msg("message to %s not delivered: %s", topic, rd_kafka_err2str(d.err));
        assert_int_equal(d.partition, 0);
        assert_true(d.offset >= 0);
        rd_kafka_destroy(p);
}

/* Read through a consumer group (as hubd does) from the start of the new topic; fails unless
 * exactly the produced bytes arrive, and unless committing the offset succeeds. */
static void consume_one(const char *topic, const char *payload, size_t len)
{
        char group[128];
        unique_name(group, sizeof(group), "hub-smoke-group");
        rd_kafka_t *c = kafka_new(RD_KAFKA_CONSUMER, NULL, "group.id", group,
                                  "auto.offset.reset", "earliest", "enable.auto.commit", "false",
                                  "partition.assignment.strategy", "range", NULL);
        rd_kafka_poll_set_consumer(c);
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(c, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (err)
                fail_msg("subscribe %s: %s", topic, rd_kafka_err2str(err));

        int64_t deadline = now_ms() + TIMEOUT_MS;
        rd_kafka_message_t *m = NULL;
        while (!m) {
                if (now_ms() > deadline)
                        fail_msg("no message from %s within %d ms", topic, TIMEOUT_MS);
                m = rd_kafka_consumer_poll(c, 500);
                if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        rd_kafka_message_destroy(m);
                        m = NULL;
                } else if (m && m->err) {
                        fail_msg("consume from %s: %s", topic, rd_kafka_message_errstr(m));
                }
        }
        assert_string_equal(rd_kafka_topic_name(m->rkt), topic);
        assert_int_equal(m->len, len);
        assert_memory_equal(m->payload, payload, len);
        err = rd_kafka_commit_message(c, m, 0);
        if (err)
                fail_msg("commit offset of %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_message_destroy(m);
        err = rd_kafka_consumer_close(c);
        if (err)
                fail_msg("consumer close: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(c);
}

static void test_kafka_roundtrip(void **state)
{
        (void)state;
        char topic[128], payload[160];
        unique_name(topic, sizeof(topic), "hub-smoke");
        unique_name(payload, sizeof(payload), "smoke payload \x01\xff");
        size_t len = strlen(payload);

        rd_kafka_t *admin = kafka_new(RD_KAFKA_PRODUCER, NULL, NULL);
        /* A broker that is not there would otherwise surface as a 60 s admin timeout. */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 0, NULL, &md, 15000);
        if (err)
                fail_msg("kafka at %s does not answer a metadata request: %s", brokers,
                         rd_kafka_err2str(err));
        rd_kafka_metadata_destroy(md);
        create_topic(admin, topic);
        produce_one(topic, payload, len);
        consume_one(topic, payload, len);
        delete_topic(admin, topic);
        rd_kafka_destroy(admin);
}

/* Run one statement; fails the test with PostgreSQL's message unless it returns `want`. */
static PGresult *pg_run(PGconn *conn, ExecStatusType want, const char *sql, int nparams,
                        const char *const *values, const int *lengths, const int *formats,
                        int result_format)
{
        PGresult *r = PQexecParams(conn, sql, nparams, NULL, values, lengths, formats,
                                   result_format);
        if (PQresultStatus(r) != want)
                fail_msg("%s: %s", sql, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        return r;
}

static void test_pg_roundtrip(void **state)
{
        (void)state;
        PGconn *conn = PQconnectdb(pg_dsn);
        if (PQstatus(conn) != CONNECTION_OK)
                fail_msg("could not connect to PostgreSQL (%s): %s", pg_dsn, PQerrorMessage(conn));

        PGresult *r = pg_run(conn, PGRES_TUPLES_OK, "SHOW server_version_num", 0, NULL, NULL,
                             NULL, 0);
        long version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (version < 150000)
                fail_msg("PostgreSQL %ld is too old: the hub needs 15 or newer", version);
        PQclear(r);

        r = pg_run(conn, PGRES_TUPLES_OK, "SELECT current_database()", 0, NULL, NULL, NULL, 0);
        assert_string_equal(PQgetvalue(r, 0, 0), "hub");
        PQclear(r);

        PQclear(pg_run(conn, PGRES_COMMAND_OK,
                       "CREATE TEMP TABLE smoke (id int PRIMARY KEY, payload bytea NOT NULL)", 0,
                       NULL, NULL, NULL, 0));

        /* Binary parameters and results, as the store sends record bytes: a NUL and a 0xff
         * byte would be lost by any text conversion on the way. */
        char payload[160];
        unique_name(payload + 2, sizeof(payload) - 2, "smoke");
        payload[0] = '\0';
        payload[1] = (char)0xff;
        int len = (int)(2 + strlen(payload + 2));
        const char *values[1] = {payload};
        const int lengths[1] = {len}, formats[1] = {1};
        PQclear(pg_run(conn, PGRES_COMMAND_OK, "INSERT INTO smoke VALUES (1, $1)", 1, values,
                       lengths, formats, 0));

        r = pg_run(conn, PGRES_TUPLES_OK, "SELECT payload FROM smoke WHERE id = 1", 0, NULL, NULL,
                   NULL, 1);
        assert_int_equal(PQntuples(r), 1);
        assert_int_equal(PQgetlength(r, 0, 0), len);
        assert_memory_equal(PQgetvalue(r, 0, 0), payload, (size_t)len);
        PQclear(r);

        /* The primary key holds: a second row with the same id must be refused. */
        r = PQexecParams(conn, "INSERT INTO smoke VALUES (1, $1)", 1, NULL, values, lengths,
                         formats, 0);
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
        assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505");
        PQclear(r);
        PQfinish(conn);
}

int main(void)
{
        brokers = hub_test_service("HUB_KAFKA_BROKERS");
        pg_dsn = hub_test_service("HUB_PG_DSN");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pg_roundtrip),
                cmocka_unit_test(test_kafka_roundtrip),
        };
        return cmocka_run_group_tests_name("smoke", tests, NULL, NULL);
}
