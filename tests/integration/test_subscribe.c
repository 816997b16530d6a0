/* hub-subscribe against the real broker and a fresh PostgreSQL database: the test signs entity
 * messages with a hub key of its own, produces them to a tier topic, runs the program as a user
 * would, and checks the tables it leaves in "the agency's" database.
 *
 * usage: itest_subscribe PATH-TO-hub-subscribe */
#include "testdb.h"
#include "testutil.h"

#include <hub/entity.h>
#include <hub/kafka.h>
#include <hub/keyfile.h>

#include <fcntl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

static const char *prog, *brokers;
static hub_key_t hub, other;
static char pubfile[256], tmpdir[128];
static hub_entity_codec_t *codec;
static int topic_seq;

/* ---- Kafka ---- */

static rd_kafka_t *producer(void)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_set(conf, "bootstrap.servers", brokers, &err), 0);
        assert_int_equal(hub_kafka_set(conf, "enable.idempotence", "true", &err), 0);
        assert_int_equal(hub_kafka_set(conf, "linger.ms", "5", &err), 0);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("producer: %s", errstr);
        return rk;
}

static void new_topic(rd_kafka_t *rk, char *topic, size_t cap)
{
        snprintf(topic, cap, "test.subscribe.%d.%d", (int)getpid(), topic_seq++);
        const char *const topics[1] = {topic};
        const char *const settings[2] = {"cleanup.policy", "compact"};
        hub_err_t err = {0};
        if (hub_kafka_create_topics(rk, topics, 1, 3, settings, 1, 30000, &err))
                fail_msg("create topic: %s", err.msg);
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const void *val,
                    size_t len)
{
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(key, strlen(key)),
                                     RD_KAFKA_V_VALUE((void *)val, len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 100);
        assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void flush(rd_kafka_t *rk)
{
        assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* An entity view of the SHARED tier: id E<n>, one tax code that changes with the version so a
 * stale copy would be visible in hub_entity_identifiers. */
static json_t *view(int n, long version, bool withdrawn, const char *merged_into)
{
        char id[32], tax[32];
        snprintf(id, sizeof(id), "E%d", n);
        snprintf(tax, sizeof(tax), "%05d%05ld", n, version);
        return json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:[s],"
                         " s:[{s:s, s:s}], s:s?, s:n, s:b, s:I}",
                         "entity_id", id, "kind", "ORGANIZATION", "version", (json_int_t)version,
                         "tier", "SHARED", "names", "value", "Cong ty Vi Du", "kind", "LEGAL",
                         "identifiers", "type", "TAX_CODE", "value", tax, "categories",
                         "HANG_GIA", "sources", "agency", "MOF-HQ", "record_id", "r1",
                         "merged_into", merged_into, "split_from", "withdrawn", withdrawn,
                         "updated_at", (json_int_t)1767225600000 + version);
}

static void send_view(rd_kafka_t *rk, const char *topic, json_t *v, const hub_key_t *key)
{
        unsigned char *env;
        size_t len;
        hub_err_t err = {0};
        if (hub_entity_sign_json(codec, v, key, &env, &len, &err))
                fail_msg("sign: %s", err.msg);
        produce(rk, topic, json_string_value(json_object_get(v, "entity_id")), env, len);
        free(env);
        json_decref(v);
}

/* ---- the program ---- */

static pid_t spawn(const char *topic, const char *dsn, const char *batch, const char *log)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execl(prog, prog, "--tier", "shared", "--topic", topic, "--hub-key", pubfile,
                      "--dsn", dsn, "--brokers", brokers, "--batch", batch, "--once",
                      (char *)NULL);
                _exit(127);
        }
        return pid;
}

static int run(const char *topic, const char *dsn, const char *log)
{
        int st;
        pid_t pid = spawn(topic, dsn, "500", log);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
        size_t len;
        return (char *)hub_test_read_file(path, &len);
}

/* ---- the database ---- */

static char *query1(PGconn *c, const char *sql)
{
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(c));
        char *s = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
        PQclear(r);
        return s;
}

static long count(PGconn *c, const char *sql)
{
        char *s = query1(c, sql);
        long n = strtol(s, NULL, 10);
        free(s);
        return n;
}

static void assert_query(PGconn *c, const char *sql, const char *want)
{
        char *got = query1(c, sql);
        if (strcmp(got, want) != 0)
                fail_msg("%s\n got: %s\nwant: %s", sql, got, want);
        free(got);
}

/* Everything the agency would see, as one string. */
static char *snapshot(PGconn *c)
{
        char *a = query1(c, "SELECT coalesce(string_agg(entity_id || ' v' || version || ' ' || "
                            "kind || ' ' || tier || ' ' || coalesce(merged_into, '-') || ' ' || "
                            "names::text || identifiers::text || categories::text || "
                            "sources::text || updated_at::text, E'\\n' ORDER BY entity_id), '') "
                            "FROM hub_entities");
        char *b = query1(c, "SELECT coalesce(string_agg(entity_id || ' ' || type || ' ' || "
                            "value, ',' ORDER BY entity_id, type, value), '') "
                            "FROM hub_entity_identifiers");
        char *d = query1(c, "SELECT coalesce(string_agg(partition || ':' || kafka_offset || "
                            "' ' || reason, ',' ORDER BY partition, kafka_offset), '') "
                            "FROM hub_subscriber_rejects");
        char *s = malloc(strlen(a) + strlen(b) + strlen(d) + 3);
        sprintf(s, "%s|%s|%s", a, b, d);
        free(a);
        free(b);
        free(d);
        return s;
}

/* ---- tests ---- */

static void test_materialise(void **state)
{
        (void)state;
        char dsn[512], topic[128], log[256];
        hub_test_fresh_db("subscribe", dsn, sizeof(dsn));
        snprintf(log, sizeof(log), "%s/materialise.log", tmpdir);
        rd_kafka_t *rk = producer();
        new_topic(rk, topic, sizeof(topic));

        send_view(rk, topic, view(1, 1, false, NULL), &hub);
        send_view(rk, topic, view(2, 1, false, NULL), &hub);
        send_view(rk, topic, view(1, 2, false, NULL), &hub);
        send_view(rk, topic, view(1, 2, false, NULL), &hub); /* duplicate */
        send_view(rk, topic, view(1, 1, false, NULL), &hub); /* stale */
        send_view(rk, topic, view(3, 1, false, NULL), &hub);
        send_view(rk, topic, view(3, 2, true, NULL), &hub);  /* withdrawn */
        send_view(rk, topic, view(3, 1, false, NULL), &hub); /* stale after withdrawal */
        send_view(rk, topic, view(6, 1, false, NULL), &hub);
        send_view(rk, topic, view(6, 4, false, "E2"), &hub); /* merged into E2 */
        /* Forged: the right key id, another key. */
        hub_key_t imposter = other;
        snprintf(imposter.key_id, sizeof(imposter.key_id), "%s", hub.key_id);
        send_view(rk, topic, view(4, 1, false, NULL), &imposter);
        /* A key the subscriber does not know. */
        send_view(rk, topic, view(5, 1, false, NULL), &other);
        produce(rk, topic, "E7", "garbage", 7);
        /* A properly signed view of another tier. */
        json_t *pub = view(8, 1, false, NULL);
        json_object_set_new(pub, "tier", json_string("PUBLIC"));
        send_view(rk, topic, pub, &hub);
        flush(rk);

        assert_int_equal(run(topic, dsn, log), 0);
        char *out = slurp(log);
        assert_non_null(strstr(out, "14 messages: 4 new, 1 updated, 1 redirected, 1 deleted, "
                                    "3 ignored (duplicate or older), 4 rejected"));
        free(out);

        PGconn *c = PQconnectdb(dsn);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        assert_query(c, "SELECT string_agg(entity_id || ':' || version || ':' || "
                        "coalesce(merged_into, '-'), ' ' ORDER BY entity_id) FROM hub_entities",
                     "E1:2:- E2:1:- E6:4:E2");
        /* Identifiers of the latest version only; none for the redirect. */
        assert_query(c, "SELECT string_agg(entity_id || ':' || type || ':' || value, ' ' "
                        "ORDER BY entity_id) FROM hub_entity_identifiers",
                     "E1:TAX_CODE:0000100002 E2:TAX_CODE:0000200001");
        /* An agency's lookup by identifier. */
        assert_query(c, "SELECT e.entity_id FROM hub_entity_identifiers i JOIN hub_entities e "
                        "USING (entity_id) WHERE i.type = 'TAX_CODE' AND i.value = '0000200001'",
                     "E2");
        assert_query(c, "SELECT string_agg(reason, ' ' ORDER BY reason) "
                        "FROM hub_subscriber_rejects",
                     "KEY_UNKNOWN MALFORMED SIGNATURE_INVALID WRONG_TOPIC");
        assert_query(c, "SELECT categories::text || ' ' || tier || ' ' || (names->0->>'value') "
                        "FROM hub_entities WHERE entity_id = 'E1'",
                     "{HANG_GIA} SHARED Cong ty Vi Du");
        assert_int_equal(count(c, "SELECT sum(next_offset) FROM hub_subscriber_offsets"), 14);

        /* Running again changes nothing: the offsets are in the database. */
        char *before = snapshot(c);
        assert_int_equal(run(topic, dsn, log), 0);
        out = slurp(log);
        assert_non_null(strstr(out, "0 messages: 0 new"));
        free(out);
        char *after = snapshot(c);
        assert_string_equal(before, after);
        free(before);
        free(after);

        /* A newer version is applied on the next run, and a withdrawn entity can come back
         * only with a version above its withdrawal. */
        send_view(rk, topic, view(1, 3, false, NULL), &hub);
        send_view(rk, topic, view(3, 3, false, NULL), &hub);
        flush(rk);
        assert_int_equal(run(topic, dsn, log), 0);
        assert_query(c, "SELECT string_agg(entity_id || ':' || version, ' ' ORDER BY entity_id) "
                        "FROM hub_entities",
                     "E1:3 E2:1 E3:3 E6:4");
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entity_tombstones"), 0);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_subscriber_rejects"), 4);
        PQfinish(c);
        rd_kafka_destroy(rk);
        hub_test_drop_db(dsn);
}

static void test_killed_and_restarted(void **state)
{
        (void)state;
        char dsn[512], topic[128], log[256];
        hub_test_fresh_db("subkill", dsn, sizeof(dsn));
        snprintf(log, sizeof(log), "%s/kill.log", tmpdir);
        rd_kafka_t *rk = producer();
        new_topic(rk, topic, sizeof(topic));
        /* 400 entities x 5 versions, version-major: every entity changes all through the
         * stream; every tenth is withdrawn at the end. */
        const int n = 400, versions = 5;
        for (int v = 1; v <= versions; v++)
                for (int e = 1; e <= n; e++)
                        send_view(rk, topic, view(e, v, v == versions && e % 10 == 0, NULL),
                                  &hub);
        flush(rk);
        const long total = (long)n * versions;

        PGconn *c = PQconnectdb(dsn);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        /* Small transactions, killed once some have committed and (most likely) before all. */
        pid_t pid = spawn(topic, dsn, "10", log);
        long seen = 0;
        int st = 0;
        for (;;) {
                if (waitpid(pid, &st, WNOHANG) == pid) {
                        pid = 0;
                        break;
                }
                /* Fails until the subscriber has created its tables: then seen stays 0. */
                PGresult *r = PQexec(c, "SELECT coalesce(sum(next_offset), 0) "
                                        "FROM hub_subscriber_offsets");
                if (PQresultStatus(r) == PGRES_TUPLES_OK)
                        seen = strtol(PQgetvalue(r, 0, 0), NULL, 10);
                PQclear(r);
                if (seen >= 100)
                        break;
                nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
        }
        if (pid) {
                kill(pid, SIGKILL);
                assert_int_equal(waitpid(pid, &st, 0), pid);
                assert_true(WIFSIGNALED(st));
                print_message("killed after %ld of %ld messages were committed\n", seen, total);
        } else {
                print_message("the subscriber finished before it could be killed\n");
        }

        assert_int_equal(run(topic, dsn, log), 0);
        assert_int_equal(count(c, "SELECT sum(next_offset) FROM hub_subscriber_offsets"), total);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entities"), n - n / 10);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entities WHERE version <> 5"), 0);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entity_identifiers i JOIN "
                                  "hub_entities e USING (entity_id) WHERE i.value <> "
                                  "lpad(substr(e.entity_id, 2), 5, '0') || '00005'"),
                         0);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entity_identifiers"), n - n / 10);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_entity_tombstones"), n / 10);
        assert_int_equal(count(c, "SELECT count(*) FROM hub_subscriber_rejects"), 0);

        /* The same tables as a subscriber that was never interrupted. */
        char dsn2[512];
        hub_test_fresh_db("subref", dsn2, sizeof(dsn2));
        assert_int_equal(run(topic, dsn2, log), 0);
        PGconn *c2 = PQconnectdb(dsn2);
        assert_int_equal(PQstatus(c2), CONNECTION_OK);
        char *a = snapshot(c), *b = snapshot(c2);
        /* received_at differs by design; the snapshot does not include it. */
        assert_string_equal(a, b);
        free(a);
        free(b);
        PQfinish(c2);
        PQfinish(c);
        rd_kafka_destroy(rk);
        hub_test_drop_db(dsn2);
        hub_test_drop_db(dsn);
}

static void test_usage(void **state)
{
        (void)state;
        char log[256];
        snprintf(log, sizeof(log), "%s/usage.log", tmpdir);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "'%s' --tier nope --hub-key x >'%s' 2>&1", prog, log);
        int st = system(cmd);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 2);
        snprintf(cmd, sizeof(cmd), "'%s' --help >'%s' 2>&1", prog, log);
        st = system(cmd);
        assert_int_equal(WEXITSTATUS(st), 0);
        char *out = slurp(log);
        assert_non_null(strstr(out, "hub_entity_identifiers"));
        free(out);
        /* A missing topic is a failure with a message, not a hang. */
        snprintf(cmd, sizeof(cmd),
                 "'%s' --tier shared --topic test.subscribe.absent --hub-key '%s' "
                 "--brokers '%s' --once >'%s' 2>&1",
                 prog, pubfile, brokers, log);
        st = system(cmd);
        assert_int_equal(WEXITSTATUS(st), 1);
        out = slurp(log);
        assert_non_null(strstr(out, "topic test.subscribe.absent does not exist"));
        free(out);
}

/* ---- the hub's key rotates: a key set with windows ---- */

/* hub-subscribe --once with key options (each "--hub-key"/"--hub-keys" and its file). */
static int run_with_keys(const char *topic, const char *dsn, const char *log,
                         const char *const *key_args, int n)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                const char *argv[32];
                int k = 0;
                const char *fixed[] = {prog, "--tier", "shared", "--topic", topic, "--dsn", dsn,
                                       "--brokers", brokers, "--once"};
                for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                        argv[k++] = fixed[i];
                for (int i = 0; i < n; i++)
                        argv[k++] = key_args[i];
                argv[k] = NULL;
                execv(prog, (char *const *)argv);
                _exit(127);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void send_at(rd_kafka_t *rk, const char *topic, int n, long long updated_ms,
                    const hub_key_t *key)
{
        json_t *v = view(n, 1, false, NULL);
        json_object_set_new(v, "updated_at", json_integer(updated_ms));
        send_view(rk, topic, v, key);
}

static void test_hub_key_rotation(void **state)
{
        (void)state;
        char dsn[512], dsn2[512], topic[128], log[256], set[256], pub2[256];
        hub_test_fresh_db("subscribe", dsn, sizeof(dsn));
        hub_test_fresh_db("subscribe", dsn2, sizeof(dsn2));
        snprintf(log, sizeof(log), "%s/rotation.log", tmpdir);
        snprintf(set, sizeof(set), "%s/hub-keys", tmpdir);
        snprintf(pub2, sizeof(pub2), "%s/hub2.pub", tmpdir);
        hub_key_t hub2;
        hub_err_t err = {0};
        assert_int_equal(hub_key_generate("HUB", "HUB/2", &hub2, &err), 0);
        assert_int_equal(hub_key_write_public(&hub2, pub2, &err), 0);
        /* HUB/1 until 1 February, HUB/2 from 15 January: the overlap is the second half of
         * January, on the time the hub signed into each entity (updated_at). */
        char h1[65], h2[65];
        sodium_bin2hex(h1, sizeof(h1), hub.pk, 32);
        sodium_bin2hex(h2, sizeof(h2), hub2.pk, 32);
        FILE *f = fopen(set, "w");
        assert_non_null(f);
        fprintf(f, "# the hub's keys\n"
                   "hub-ed25519-public-v1 HUB HUB/1 %s until=2026-02-01T00:00:00Z\n\n"
                   "hub-ed25519-public-v1 HUB HUB/2 %s from=2026-01-15\n",
                h1, h2);
        fclose(f);
        const long long jan10 = 1768003200000LL, jan20 = 1768867200000LL,
                        feb10 = 1770681600000LL;
        rd_kafka_t *rk = producer();
        new_topic(rk, topic, sizeof(topic));
        send_at(rk, topic, 21, jan10, &hub);  /* old key, before the overlap */
        send_at(rk, topic, 22, jan20, &hub);  /* old key, in the overlap */
        send_at(rk, topic, 23, jan20, &hub2); /* new key, in the overlap */
        send_at(rk, topic, 24, feb10, &hub);  /* old key after its window: KEY_EXPIRED */
        send_at(rk, topic, 25, feb10, &hub2); /* new key after the overlap */
        send_at(rk, topic, 26, jan10, &hub2); /* new key before its window */
        send_at(rk, topic, 27, jan20, &other); /* a key not in the set */
        /* HUB/2's id with another key: the set's key, not the id, decides. */
        hub_key_t imposter = other;
        snprintf(imposter.key_id, sizeof(imposter.key_id), "HUB/2");
        send_at(rk, topic, 28, jan20, &imposter);
        flush(rk);

        const char *with_set[] = {"--hub-keys", set};
        assert_int_equal(run_with_keys(topic, dsn, log, with_set, 2), 0);
        PGconn *c = PQconnectdb(dsn);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        assert_query(c, "SELECT string_agg(entity_id, ' ' ORDER BY entity_id) FROM hub_entities",
                     "E21 E22 E23 E25");
        assert_query(c, "SELECT string_agg(reason, ' ' ORDER BY reason) "
                        "FROM hub_subscriber_rejects",
                     "KEY_EXPIRED KEY_NOT_YET_VALID KEY_UNKNOWN SIGNATURE_INVALID");
        PQfinish(c);
        char *out = slurp(log);
        assert_non_null(strstr(out, "hub_keys=HUB/1,HUB/2"));
        free(out);

        /* Two plain --hub-key files: both keys trusted, without windows. */
        const char *two[] = {"--hub-key", pubfile, "--hub-key", pub2};
        assert_int_equal(run_with_keys(topic, dsn2, log, two, 4), 0);
        c = PQconnectdb(dsn2);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        assert_query(c, "SELECT string_agg(entity_id, ' ' ORDER BY entity_id) FROM hub_entities",
                     "E21 E22 E23 E24 E25 E26");
        assert_query(c, "SELECT string_agg(reason, ' ' ORDER BY reason) "
                        "FROM hub_subscriber_rejects",
                     "KEY_UNKNOWN SIGNATURE_INVALID");
        PQfinish(c);

        /* A key set that is not one is refused at start-up, naming the file and line. */
        f = fopen(set, "w");
        assert_non_null(f);
        fprintf(f, "hub-ed25519-public-v1 HUB HUB/1 %s until=2026-02-01T00:00:00Z\n"
                   "hub-ed25519-public-v1 HUB HUB/2 %s from=soon\n",
                h1, h2);
        fclose(f);
        assert_int_equal(run_with_keys(topic, dsn2, log, with_set, 2), 1);
        out = slurp(log);
        assert_non_null(strstr(out, "line 2"));
        assert_non_null(strstr(out, set));
        free(out);

        hub_key_wipe(&hub2);
        rd_kafka_destroy(rk);
        hub_test_drop_db(dsn);
        hub_test_drop_db(dsn2);
}

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "usage: itest_subscribe PATH-TO-hub-subscribe\n");
                return 1;
        }
        prog = argv[1];
        hub_test_service("HUB_PG_DSN");
        brokers = hub_test_service("HUB_KAFKA_BROKERS");
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/itest_subscribe.XXXXXX");
        if (!mkdtemp(tmpdir) || hub_key_generate("HUB", "HUB/1", &hub, &err) ||
            hub_key_generate("HUB", "HUB/9", &other, &err) ||
            hub_entity_codec_new(&codec, &err))
                return 1;
        snprintf(pubfile, sizeof(pubfile), "%s/hub.pub", tmpdir);
        if (hub_key_write_public(&hub, pubfile, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usage),
                cmocka_unit_test(test_materialise),
                cmocka_unit_test(test_killed_and_restarted),
                cmocka_unit_test(test_hub_key_rotation),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        hub_entity_codec_free(codec);
        return rc;
}
