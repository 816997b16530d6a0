/* hubd against the real broker and PostgreSQL: signed batches in, rows, rejects, offsets and
 * published entities out; re-delivery changes nothing; SIGKILL mid-ingest loses and duplicates
 * nothing. Each test uses its own agency codes (T<pid>...), database and consumer group, so runs
 * and other tests sharing the broker do not see each other's messages.
 *
 * Usage: itest_hubd HUBD_BINARY */
#define _DEFAULT_SOURCE /* usleep */
#include "testdb.h"
#include "testutil.h"

#include <hub/batch.h>
#include <hub/kafka.h>
#include <hub/keyfile.h>
#include <hub/registry.h>
#include <hub/report.h>
#include <hub/store.h>
#include <hub/timestamp.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static const char *hubd_path;
static const char *brokers;
static char keyfile[256];
static hub_report_codec_t *codec;
static int run_no;

struct agency {
        char code[32], topic[64], key_id[48];
        uint8_t pk[32], sk[64];
};

struct env {
        char dsn[512];
        char group[64];
        char regex[96];
        struct agency a, b;
        hub_store_t *s;
        int64_t ends[3][3]; /* watermarks of hub.entities.* at the start */
        int64_t rejects_end[3];
};

static const char *const tier_topics[3] = {"hub.entities.public", "hub.entities.shared",
                                           "hub.entities.restricted"};

/* ---- helpers ---- */

static rd_kafka_t *client(rd_kafka_type_t type)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_set(conf, "bootstrap.servers", brokers, &err), 0);
        if (type == RD_KAFKA_PRODUCER)
                assert_int_equal(hub_kafka_set(conf, "enable.idempotence", "true", &err), 0);
        /* hubd writes the hub's topics transactionally: a partition ends with a commit marker,
         * never delivered, so its end is the EOF event. Read committed, as subscribers do. */
        if (type == RD_KAFKA_CONSUMER) {
                assert_int_equal(hub_kafka_set(conf, "enable.partition.eof", "true", &err), 0);
                assert_int_equal(hub_kafka_set(conf, "isolation.level", "read_committed", &err),
                                 0);
        }
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        assert_non_null(rk);
        return rk;
}

static void create_topics(const char *const *topics, size_t n, bool compact)
{
        rd_kafka_t *rk = client(RD_KAFKA_PRODUCER);
        hub_err_t err = {0};
        const char *settings[] = {"cleanup.policy", "compact"};
        if (hub_kafka_create_topics(rk, topics, n, 3, compact ? settings : NULL, compact ? 1 : 0,
                                    30000, &err))
                fail_msg("create topics: %s", err.msg);
        rd_kafka_destroy(rk);
}

static int64_t end_of(rd_kafka_t *rk, const char *topic, int p)
{
        int64_t lo, hi;
        for (int tries = 0; tries < 50; tries++) {
                if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0)
                        return hi;
                usleep(200000);
        }
        fail_msg("watermarks of %s[%d]", topic, p);
        return -1;
}

static void sql(struct env *e, const char *q)
{
        hub_err_t err = {0};
        if (hub_store_exec(e->s, q, &err))
                fail_msg("%s: %s", q, err.msg);
}

static long long scalar(struct env *e, const char *q)
{
        PGresult *r = PQexec(hub_store_conn(e->s), q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", q, PQresultErrorMessage(r));
        long long v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return v;
}

static void agency_init(struct env *e, struct agency *a, const char *suffix)
{
        snprintf(a->code, sizeof(a->code), "T%ld-%d-%s", (long)getpid(), run_no, suffix);
        snprintf(a->topic, sizeof(a->topic), "agency.%s.reports", a->code);
        snprintf(a->key_id, sizeof(a->key_id), "%s/1", a->code);
        crypto_sign_keypair(a->pk, a->sk);
        char q[512], hex[65];
        sodium_bin2hex(hex, sizeof(hex), a->pk, 32);
        snprintf(q, sizeof(q), "INSERT INTO agencies (code, name) VALUES ('%s', 'test');"
                 "INSERT INTO agency_keys (agency, key_id, public_key, valid_from) VALUES "
                 "('%s', '%s', '\\x%s', '2020-01-01')",
                 a->code, a->code, a->key_id, hex);
        sql(e, q);
        const char *t[1] = {a->topic};
        create_topics(t, 1, false);
}

static void env_init(struct env *e)
{
        memset(e, 0, sizeof(*e));
        run_no++;
        hub_test_fresh_db("hubd", e->dsn, sizeof(e->dsn));
        hub_err_t err = {0};
        assert_int_equal(hub_store_open(e->dsn, &e->s, &err), 0);
        assert_int_equal(hub_store_migrate(e->s, NULL, &err), 0);
        agency_init(e, &e->a, "A");
        agency_init(e, &e->b, "B");
        snprintf(e->group, sizeof(e->group), "hubd-test-%ld-%d", (long)getpid(), run_no);
        snprintf(e->regex, sizeof(e->regex), "^agency\\.T%ld-%d-.*\\.reports$", (long)getpid(),
                 run_no);
        rd_kafka_t *rk = client(RD_KAFKA_PRODUCER);
        for (int t = 0; t < 3; t++)
                for (int p = 0; p < 3; p++)
                        e->ends[t][p] = end_of(rk, tier_topics[t], p);
        for (int p = 0; p < 3; p++)
                e->rejects_end[p] = end_of(rk, "hub.rejects", p);
        rd_kafka_destroy(rk);
}

static void env_done(struct env *e)
{
        hub_store_close(e->s);
        hub_test_drop_db(e->dsn);
}

/* A report as JSON text with the given record id, agency, tax code and tier. */
static unsigned char *report(const char *agency, const char *rid, const char *tax,
                             const char *tier, const char *name, size_t *len)
{
        json_t *ids = json_array();
        if (tax)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "TAX_CODE", "value",
                                                     tax));
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "PHONE", "value",
                                             "0912468357"));
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:o, s:[s], s:{s:s, s:[]}}",
                              "record_id", rid, "agency", agency, "reported_at",
                              (json_int_t)1749600000000, "subject_kind", "ORGANIZATION",
                              "names", "value", name, "kind", "LEGAL", "identifiers", ids,
                              "violation_categories", "HANG_GIA", "sensitivity", "tier", tier,
                              "recipients");
        assert_non_null(j);
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (hub_report_encode_json(codec, j, &out, len, &err))
                fail_msg("encode: %s", err.msg);
        json_decref(j);
        return out;
}

struct batch_opts {
        const char *agency; /* header agency */
        const char *key_id;
        const uint8_t *sk;
        int64_t created_at_ms;
        bool bad_fingerprint;
};

static unsigned char *batch(const struct batch_opts *o, unsigned char **recs, size_t *lens,
                            size_t n, size_t *out_len)
{
        static int64_t seq;
        hub_batch_header_t h = {.agency = o->agency,
                                .key_id = o->key_id,
                                .producer_id = "itest",
                                .batch_seq = seq++,
                                .created_at_ms = o->created_at_ms ? o->created_at_ms
                                                                  : (int64_t)time(NULL) * 1000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
        if (o->bad_fingerprint)
                h.schema_fingerprint[0] ^= 0xff;
        hub_batch_builder_t *b = NULL;
        hub_err_t err = {0};
        unsigned char *out = NULL;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, &err), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(hub_batch_builder_add(b, recs[i], lens[i], &err), 0);
        assert_int_equal(hub_batch_builder_finish(b, o->sk, 64, &out, out_len, &err), 0);
        hub_batch_builder_free(b);
        return out;
}

static void produce(const char *topic, const void *buf, size_t len, int partition)
{
        static rd_kafka_t *p;
        if (!p)
                p = client(RD_KAFKA_PRODUCER);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                           RD_KAFKA_V_PARTITION(partition),
                                           RD_KAFKA_V_VALUE((void *)buf, len),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
        assert_int_equal(rd_kafka_flush(p, 30000), 0);
}

static const char *stderr_path; /* where hubd's stderr goes when set */

static pid_t start_hubd(struct env *e, const char *extra)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (stderr_path && !freopen(stderr_path, "w", stderr))
                        _exit(126);
                char *argv[24];
                int n = 0;
                argv[n++] = (char *)hubd_path;
                argv[n++] = (char *)"--dsn";
                argv[n++] = e->dsn;
                argv[n++] = (char *)"--brokers";
                argv[n++] = (char *)brokers;
                argv[n++] = (char *)"--group";
                argv[n++] = e->group;
                argv[n++] = (char *)"--topics";
                argv[n++] = e->regex;
                argv[n++] = (char *)"--hub-key";
                argv[n++] = keyfile;
                if (!extra || strncmp(extra, "--config", 8) != 0) {
                        argv[n++] = (char *)"--exit-when-idle";
                        argv[n++] = (char *)"3";
                }
                /* A killed member is noticed after session.timeout.ms: keep it short. */
                argv[n++] = (char *)"-X";
                argv[n++] = (char *)"session.timeout.ms=6000";
                if (extra && strncmp(extra, "--config=", 9) == 0) {
                        argv[n++] = (char *)"--config";
                        argv[n++] = (char *)extra + 9;
                } else if (extra) {
                        argv[n++] = (char *)extra;
                }
                argv[n] = NULL;
                execv(hubd_path, argv);
                _exit(127);
        }
        return pid;
}

static void run_hubd(struct env *e, const char *extra)
{
        int status;
        pid_t pid = start_hubd(e, extra);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Messages on topic after ends[p], until every partition is read to its end now. */
typedef void (*msg_fn)(const rd_kafka_message_t *m, void *arg);

static size_t read_topic(const char *topic, const int64_t ends[3], msg_fn fn, void *arg)
{
        rd_kafka_t *rk = client(RD_KAFKA_CONSUMER);
        size_t n = 0;
        for (int p = 0; p < 3; p++) {
                int64_t hi = end_of(rk, topic, p);
                if (hi <= ends[p])
                        continue;
                rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
                assert_int_equal(rd_kafka_consume_start(t, p, ends[p]), 0);
                int64_t at = ends[p];
                while (at < hi) {
                        rd_kafka_message_t *m = rd_kafka_consume(t, p, 5000);
                        if (!m)
                                continue;
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                at = hi;
                        if (!m->err) {
                                fn(m, arg);
                                n++;
                                at = m->offset + 1;
                        }
                        rd_kafka_message_destroy(m);
                }
                rd_kafka_consume_stop(t, p);
                rd_kafka_topic_destroy(t);
        }
        rd_kafka_destroy(rk);
        return n;
}

static void count_msg(const rd_kafka_message_t *m, void *arg)
{
        (void)m;
        (*(size_t *)arg)++;
}

struct rejects_seen {
        const char *topic_a, *topic_b;
        json_t *list;
};

static void reject_msg(const rd_kafka_message_t *m, void *arg)
{
        struct rejects_seen *r = arg;
        json_t *j = json_loadb(m->payload, m->len, 0, NULL);
        assert_non_null(j);
        const char *topic = json_string_value(json_object_get(j, "topic"));
        if (topic && (strcmp(topic, r->topic_a) == 0 || strcmp(topic, r->topic_b) == 0))
                json_array_append(r->list, j);
        json_decref(j);
}

/* ---- tests ---- */

static void free_all(unsigned char **recs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(recs[i]);
}

static void test_accept_redeliver_publish(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        /* Three batches of four records: records 0 and 4 share a tax code (one entity); the
         * tiers vary so the views go to different topics. */
        static const char *const taxes[] = {"0312687878", "0100109106", "0301452923", NULL};
        static const char *const tiers[] = {"PUBLIC", "SHARED", "RESTRICTED"};
        unsigned char *recs[12], *batches[3];
        size_t lens[12], blens[3];
        for (int i = 0; i < 12; i++) {
                char rid[32], name[32];
                snprintf(rid, sizeof(rid), "R-%02d", i);
                snprintf(name, sizeof(name), "Công ty số %d", i);
                recs[i] = report(e.a.code, rid, taxes[i % 4], tiers[i % 3], name, &lens[i]);
        }
        struct batch_opts o = {e.a.code, e.a.key_id, e.a.sk, 0, false};
        for (int b = 0; b < 3; b++) {
                batches[b] = batch(&o, recs + 4 * b, lens + 4 * b, 4, &blens[b]);
                produce(e.a.topic, batches[b], blens[b], b);
        }
        run_hubd(&e, NULL);

        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), 12);
        assert_int_equal(scalar(&e, "SELECT count(DISTINCT record_id) FROM records"), 12);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM batches"), 3);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects"), 0);
        /* Records with tax codes 0..2 merge across batches (3 entities); the 3 without one get
         * an entity each: phones only link, never merge. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM entities"), 6);
        assert_int_equal(scalar(&e, "SELECT count(DISTINCT entity_id) FROM records WHERE "
                                    "record_id IN ('R-00', 'R-04', 'R-08')"),
                         1);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'TAX_CODE'"),
                         3);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'PHONE'"), 0);
        /* R-00 was created in batch 0 and changed by batches 1 and 2. */
        assert_int_equal(scalar(&e, "SELECT e.version FROM entities e JOIN records r ON "
                                    "r.entity_id = e.id WHERE r.record_id = 'R-00'"),
                         3);
        /* Offsets: next = last consumed + 1, one message per partition. */
        char q[256];
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM consumer_offsets o JOIN batches b ON b.topic = o.topic "
                 "AND b.partition = o.partition AND o.next_offset = b.\"offset\" + 1 "
                 "WHERE o.topic = '%s'",
                 e.a.topic);
        assert_int_equal(scalar(&e, q), 3);
        /* Outbox: every row sent; per entity and topic, versions unique. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM (SELECT entity_id, topic FROM outbox "
                                    "WHERE entity_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) "
                                    "<> count(DISTINCT version)) x"),
                         0);
        long long restricted = scalar(&e, "SELECT count(*) FROM outbox WHERE topic = "
                                          "'hub.entities.restricted'");
        /* Entity views only: tree heads of the hub's log go to hub.log through it too. */
        long long outbox_rows = scalar(&e, "SELECT count(*) FROM outbox WHERE topic LIKE "
                                           "'hub.entities.%'");
        /* Every entity has something in RESTRICTED; one row per version there. */
        assert_int_equal(restricted, scalar(&e, "SELECT sum(version) FROM entities"));
        /* Nothing RESTRICTED-only reaches the public topic: R-02 (RESTRICTED, no tax code
         * shared... ) — public rows only for entities with a PUBLIC statement. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM outbox o WHERE topic = "
                                    "'hub.entities.public' AND NOT EXISTS (SELECT 1 FROM "
                                    "statements s WHERE s.entity_id = o.entity_id AND "
                                    "s.tier = 'PUBLIC')"),
                         0);
        size_t published = 0;
        for (int t = 0; t < 3; t++)
                read_topic(tier_topics[t], e.ends[t], count_msg, &published);
        assert_int_equal(published, (size_t)outbox_rows);

        /* A replay: the same signed bytes again, on another partition (a new offset), are
         * stored nowhere and rejected whole, each with BATCH_REPLAYED and its bytes. */
        for (int b = 0; b < 3; b++)
                produce(e.a.topic, batches[b], blens[b], (b + 1) % 3);
        run_hubd(&e, NULL);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), 12);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM batches"), 3);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects"), 3);
        for (int b = 0; b < 3; b++) {
                const char *p[1] = {(const char *)batches[b]};
                int l[1] = {(int)blens[b]}, f[1] = {1};
                PGresult *r = PQexecParams(hub_store_conn(e.s),
                                           "SELECT reason, record_id IS NULL, message FROM "
                                           "rejects WHERE bytes = $1",
                                           1, NULL, p, l, f, 0);
                assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
                assert_int_equal(PQntuples(r), 1);
                assert_string_equal(PQgetvalue(r, 0, 0), "BATCH_REPLAYED");
                assert_string_equal(PQgetvalue(r, 0, 1), "t");
                assert_non_null(strstr(PQgetvalue(r, 0, 2), "already accepted from"));
                PQclear(r);
        }
        assert_int_equal(scalar(&e, "SELECT count(*) FROM outbox WHERE topic LIKE "
                                    "'hub.entities.%'"),
                         outbox_rows);
        assert_int_equal(scalar(&e, "SELECT sum(version) FROM entities"), restricted);
        snprintf(q, sizeof(q), "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = '%s'",
                 e.a.topic);
        assert_int_equal(scalar(&e, q), 6);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM outbox WHERE topic = 'hub.rejects'"),
                         3);

        free_all(recs, 12);
        free_all(batches, 3);
        env_done(&e);
}

struct expect {
        const char *reason;
        unsigned char *bytes;
        size_t len;
        int partition;
};

static void test_rejects(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        char q[1024];
        /* Keys with windows: expired, not yet valid, revoked before the batch was made. */
        uint8_t pk_exp[32], sk_exp[64], pk_nyv[32], sk_nyv[64], pk_rev[32], sk_rev[64];
        uint8_t pk_other[32], sk_other[64];
        crypto_sign_keypair(pk_exp, sk_exp);
        crypto_sign_keypair(pk_nyv, sk_nyv);
        crypto_sign_keypair(pk_rev, sk_rev);
        crypto_sign_keypair(pk_other, sk_other);
        char h1[65], h2[65], h3[65];
        sodium_bin2hex(h1, sizeof(h1), pk_exp, 32);
        sodium_bin2hex(h2, sizeof(h2), pk_nyv, 32);
        sodium_bin2hex(h3, sizeof(h3), pk_rev, 32);
        snprintf(q, sizeof(q),
                 "INSERT INTO agency_keys (agency, key_id, public_key, valid_from, valid_until)"
                 " VALUES ('%s', 'exp', '\\x%s', '2020-01-01', '2021-01-01');"
                 "INSERT INTO agency_keys (agency, key_id, public_key, valid_from)"
                 " VALUES ('%s', 'nyv', '\\x%s', '2100-01-01');"
                 "INSERT INTO agency_keys (agency, key_id, public_key, valid_from, revoked_at)"
                 " VALUES ('%s', 'rev', '\\x%s', '2020-01-01', '2022-01-01')",
                 e.a.code, h1, e.a.code, h2, e.a.code, h3);
        sql(&e, q);

        struct expect ex[16];
        size_t n = 0;
        size_t len;
        unsigned char *r1 = report(e.a.code, "OK-1", "0312687878", "SHARED", "Một", &len);
        size_t l1 = len;
        struct batch_opts good = {e.a.code, e.a.key_id, e.a.sk, 0, false};
        /* Accepted first: OK-1, and a record with a tax code failing its check digit. */
        unsigned char *rbad = report(e.a.code, "BADTAX-1", "0312687870", "SHARED", "Hai", &len);
        size_t lbad = len;
        unsigned char *rs[2] = {r1, rbad};
        size_t ls[2] = {l1, lbad};
        size_t blen;
        unsigned char *ok = batch(&good, rs, ls, 2, &blen);
        produce(e.a.topic, ok, blen, 0);

        /* WRONG_TOPIC: agency B's valid batch on A's topic. */
        unsigned char *rb = report(e.b.code, "B-1", NULL, "SHARED", "Ba", &len);
        size_t lb = len;
        struct batch_opts bo = {e.b.code, e.b.key_id, e.b.sk, 0, false};
        ex[n] = (struct expect){"WRONG_TOPIC", batch(&bo, &rb, &lb, 1, &blen), 0, 0};
        ex[n++].len = blen;
        /* KEY_UNKNOWN */
        unsigned char *r2 = report(e.a.code, "X-2", NULL, "SHARED", "Bốn", &len);
        size_t l2 = len;
        struct batch_opts o = {e.a.code, "nobody", sk_other, 0, false};
        ex[n] = (struct expect){"KEY_UNKNOWN", batch(&o, &r2, &l2, 1, &blen), 0, 0};
        ex[n++].len = blen;
        o = (struct batch_opts){e.a.code, "exp", sk_exp, 0, false};
        ex[n] = (struct expect){"KEY_EXPIRED", batch(&o, &r2, &l2, 1, &blen), 0, 1};
        ex[n++].len = blen;
        o = (struct batch_opts){e.a.code, "nyv", sk_nyv, 0, false};
        ex[n] = (struct expect){"KEY_NOT_YET_VALID", batch(&o, &r2, &l2, 1, &blen), 0, 1};
        ex[n++].len = blen;
        o = (struct batch_opts){e.a.code, "rev", sk_rev, 0, false};
        ex[n] = (struct expect){"KEY_REVOKED", batch(&o, &r2, &l2, 1, &blen), 0, 1};
        ex[n++].len = blen;
        /* SIGNATURE_INVALID: signed with another key than the one registered. */
        o = (struct batch_opts){e.a.code, e.a.key_id, sk_other, 0, false};
        ex[n] = (struct expect){"SIGNATURE_INVALID", batch(&o, &r2, &l2, 1, &blen), 0, 2};
        ex[n++].len = blen;
        /* SCHEMA_UNKNOWN */
        o = (struct batch_opts){e.a.code, e.a.key_id, e.a.sk, 0, true};
        ex[n] = (struct expect){"SCHEMA_UNKNOWN", batch(&o, &r2, &l2, 1, &blen), 0, 2};
        ex[n++].len = blen;
        /* Garbage and truncated bytes. */
        ex[n] = (struct expect){"MALFORMED", (unsigned char *)strdup("not a batch at all"), 18,
                                2};
        n++;
        unsigned char *whole = batch(&good, &r2, &l2, 1, &blen);
        ex[n] = (struct expect){"TRUNCATED", whole, blen / 2, 2};
        n++;
        /* Oversized: hubd runs with --max-batch-bytes 4000. */
        unsigned char *big[8];
        size_t bigl[8];
        char longname[600];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        for (int i = 0; i < 8; i++) {
                char rid[16];
                snprintf(rid, sizeof(rid), "BIG-%d", i);
                big[i] = report(e.a.code, rid, NULL, "SHARED", longname, &bigl[i]);
        }
        ex[n] = (struct expect){"TOO_LARGE", batch(&good, big, bigl, 8, &blen), 0, 0};
        ex[n++].len = blen;
        for (size_t i = 0; i < n; i++)
                produce(e.a.topic, ex[i].bytes, ex[i].len, ex[i].partition);

        /* RECORD_CONFLICT (record level, after OK-1 is stored: same partition 0, later) and
         * AGENCY_MISMATCH (a record of B inside A's batch): the rest of each batch is kept. */
        unsigned char *r1b = report(e.a.code, "OK-1", "0312687878", "PUBLIC", "Một khác", &len);
        size_t l1b = len;
        unsigned char *r3 = report(e.a.code, "OK-3", NULL, "SHARED", "Năm", &len);
        size_t l3 = len;
        unsigned char *mix[3] = {r1b, rb, r3};
        size_t mixl[3] = {l1b, lb, l3};
        unsigned char *mixed = batch(&good, mix, mixl, 3, &blen);
        produce(e.a.topic, mixed, blen, 0);

        run_hubd(&e, "--max-batch-bytes=4000");

        /* Stored: OK-1, BADTAX-1, OK-3 and nothing else. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), 3);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records WHERE record_id IN "
                                    "('OK-1', 'BADTAX-1', 'OK-3')"),
                         3);
        /* OK-1 kept its first content. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records WHERE record_id = 'OK-1' AND "
                                    "tier = 'SHARED'"),
                         1);
        /* The bad tax code is kept as evidence, flagged, and never an identifier. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM statements WHERE record_id = "
                                    "'BADTAX-1' AND prop = 'identifier:TAX_CODE' AND NOT valid "
                                    "AND reason = 'CHECK_DIGIT' AND original = '0312687870'"),
                         1);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE value = "
                                    "'0312687870'"),
                         0);
        /* Every reject has its row with the original bytes... */
        for (size_t i = 0; i < n; i++) {
                PGresult *r;
                const char *p[1] = {ex[i].reason};
                r = PQexecParams(hub_store_conn(e.s),
                                 "SELECT bytes, batch_index IS NULL FROM rejects WHERE reason = $1",
                                 1, NULL, p, NULL, NULL, 1);
                assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
                if (PQntuples(r) != 1)
                        fail_msg("%s: %d rejects rows", ex[i].reason, PQntuples(r));
                assert_int_equal(PQgetlength(r, 0, 0), (int)ex[i].len);
                assert_memory_equal(PQgetvalue(r, 0, 0), ex[i].bytes, ex[i].len);
                PQclear(r);
        }
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects WHERE reason = "
                                    "'RECORD_CONFLICT' AND record_id = 'OK-1' AND batch_index = 0"),
                         1);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects WHERE reason = "
                                    "'AGENCY_MISMATCH' AND batch_index = 1"),
                         1);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects"), (long long)n + 2);
        /* ... and its hub.rejects message with the same bytes and reason. */
        struct rejects_seen seen = {e.a.topic, e.b.topic, json_array()};
        read_topic("hub.rejects", e.rejects_end, reject_msg, &seen);
        assert_int_equal(json_array_size(seen.list), n + 2);
        for (size_t i = 0; i < n; i++) {
                bool found = false;
                size_t k;
                json_t *j;
                json_array_foreach(seen.list, k, j)
                {
                        if (strcmp(json_string_value(json_object_get(j, "reason")),
                                   ex[i].reason) != 0)
                                continue;
                        const char *b64 = json_string_value(json_object_get(j, "bytes"));
                        unsigned char *bin = malloc(ex[i].len + 1);
                        size_t bl = 0;
                        assert_int_equal(sodium_base642bin(bin, ex[i].len + 1, b64, strlen(b64),
                                                           NULL, &bl, NULL,
                                                           sodium_base64_VARIANT_ORIGINAL),
                                         0);
                        found = bl == ex[i].len && memcmp(bin, ex[i].bytes, bl) == 0;
                        free(bin);
                        assert_non_null(json_object_get(j, "message"));
                }
                if (!found)
                        fail_msg("no hub.rejects message for %s", ex[i].reason);
        }
        /* Every message consumed: offsets cover all 13 messages. */
        snprintf(q, sizeof(q), "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = '%s'",
                 e.a.topic);
        assert_int_equal(scalar(&e, q), (long long)n + 2);
        json_decref(seen.list);
        for (size_t i = 0; i < n; i++)
                free(ex[i].bytes);
        free_all(big, 8);
        free(r1);
        free(rbad);
        free(rb);
        free(r2);
        free(r1b);
        free(r3);
        free(ok);
        free(mixed);
        env_done(&e);
}

static void test_sigkill_restart(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        /* 150 batches of 20 records; every 10th record repeats a tax code of an earlier batch,
         * so entities change version across batches. */
        enum { BATCHES = 150, PER = 20 };
        static const char *const taxes[] = {"0312687878", "0100109106", "0301452923"};
        struct batch_opts o = {e.a.code, e.a.key_id, e.a.sk, 0, false};
        for (int b = 0; b < BATCHES; b++) {
                unsigned char *recs[PER];
                size_t lens[PER], blen;
                for (int i = 0; i < PER; i++) {
                        char rid[32];
                        snprintf(rid, sizeof(rid), "K-%04d-%02d", b, i);
                        recs[i] = report(e.a.code, rid, i % 10 == 0 ? taxes[b % 3] : NULL,
                                         i % 2 ? "SHARED" : "PUBLIC", "Hộ kinh doanh", &lens[i]);
                }
                unsigned char *bb = batch(&o, recs, lens, PER, &blen);
                produce(e.a.topic, bb, blen, b % 3);
                free(bb);
                free_all(recs, PER);
        }
        pid_t pid = start_hubd(&e, NULL);
        /* Kill it once some batches are committed and others are not yet. */
        while (scalar(&e, "SELECT count(*) FROM batches") < 20)
                usleep(10000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        long long before = scalar(&e, "SELECT count(*) FROM records");
        assert_true(before < BATCHES * PER);
        run_hubd(&e, NULL);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), BATCHES * PER);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM batches"), BATCHES);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects"), 0);
        /* Each tax code is one entity, whose version counts the batches that touched it. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers"), 3);
        assert_int_equal(scalar(&e, "SELECT sum(e.version) FROM entities e JOIN identifiers i "
                                    "ON i.entity_id = e.id"),
                         BATCHES);
        /* Per entity and topic: one outbox row per version, versions 1..n without a gap. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM (SELECT o.entity_id, o.topic FROM "
                                    "outbox o JOIN entities e ON e.id = o.entity_id WHERE "
                                    "o.topic = 'hub.entities.restricted' GROUP BY 1, 2, "
                                    "e.version HAVING count(*) <> e.version OR "
                                    "count(DISTINCT o.version) <> e.version) x"),
                         0);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
        char q[256];
        snprintf(q, sizeof(q), "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = '%s'",
                 e.a.topic);
        assert_int_equal(scalar(&e, q), BATCHES);
        env_done(&e);
}

/* A waiting backend of hubd's (not this test's), other than `not`; 0 if none. */
static long lock_waiter(struct env *e, long not)
{
        char q[256];
        snprintf(q, sizeof(q),
                 "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                 "AND pid <> %ld",
                 not);
        return (long)scalar(e, q);
}

/* --exit-when-idle is not idle while a message whose transaction failed with a retriable error
 * waits to be read again, however long the wait. A session holds a lock that hubd's transaction
 * needs; each time hubd waits for it, its connection is terminated (SQLSTATE 57P01, retriable),
 * until the backoff between attempts is longer than the idle period. Then the lock goes, and
 * hubd must store the batch before it exits. (End-of-partition alone let it exit meanwhile.) */
static void test_idle_waits_for_reread(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        PGconn *locker = PQconnectdb(e.dsn);
        assert_int_equal(PQstatus(locker), CONNECTION_OK);
        /* EXCLUSIVE: hubd may read its stored offsets, not write them. */
        PGresult *r = PQexec(locker, "BEGIN; LOCK TABLE consumer_offsets IN EXCLUSIVE MODE");
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        enum { PER = 5 };
        unsigned char *recs[PER];
        size_t lens[PER], blen;
        for (int i = 0; i < PER; i++) {
                char rid[32];
                snprintf(rid, sizeof(rid), "W-%02d", i);
                recs[i] = report(e.a.code, rid, NULL, "PUBLIC", "Cửa hàng", &lens[i]);
        }
        struct batch_opts o = {e.a.code, e.a.key_id, e.a.sk, 0, false};
        unsigned char *bb = batch(&o, recs, lens, PER, &blen);
        produce(e.a.topic, bb, blen, 0);
        free(bb);
        free_all(recs, PER);
        /* --exit-when-idle 3; backoffs 0.1, 0.2, ... 6.4 s: the last ones outlast it. */
        pid_t pid = start_hubd(&e, "--retry-max-ms=8000");
        long last = 0;
        for (int k = 0; k < 7; k++) {
                long waiter;
                while (!(waiter = lock_waiter(&e, last))) {
                        int status;
                        if (waitpid(pid, &status, WNOHANG) == pid)
                                fail_msg("hubd exited (status %d) after %d failed attempts, "
                                         "its batch not stored",
                                         status, k);
                        usleep(20000);
                }
                char q[128];
                snprintf(q, sizeof(q), "SELECT pg_terminate_backend(%ld)::int", waiter);
                assert_int_equal(scalar(&e, q), 1);
                last = waiter;
        }
        r = PQexec(locker, "COMMIT");
        PQclear(r);
        PQfinish(locker);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), PER);
        char q[256];
        snprintf(q, sizeof(q), "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = '%s'",
                 e.a.topic);
        assert_int_equal(scalar(&e, q), 1);
        env_done(&e);
}

static bool file_has(const char *path, const char *text)
{
        size_t len;
        char *buf = (char *)hub_test_read_file(path, &len);
        bool found = buf && strstr(buf, text);
        free(buf);
        return found;
}

/* --exit-when-idle means every partition of the subscription stored to its end, not only the
 * partitions this instance holds now (another member, or one killed a moment ago whose session
 * has not expired, may hold the rest). A plain consumer of the test joins hubd's group first and
 * keeps half of the partitions without storing anything: hubd must not exit until it has taken
 * them over and stored them, after that consumer leaves. (Before, it exited with them unread.) */
static void test_idle_whole_subscription(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        enum { BATCHES = 12, PER = 5 };
        struct batch_opts o = {e.a.code, e.a.key_id, e.a.sk, 0, false};
        for (int b = 0; b < BATCHES; b++) {
                unsigned char *recs[PER];
                size_t lens[PER], blen;
                for (int i = 0; i < PER; i++) {
                        char rid[32];
                        snprintf(rid, sizeof(rid), "S-%02d-%d", b, i);
                        recs[i] = report(e.a.code, rid, NULL, "PUBLIC", "Cửa hàng", &lens[i]);
                }
                unsigned char *bb = batch(&o, recs, lens, PER, &blen);
                produce(e.a.topic, bb, blen, b % 3);
                free(bb);
                free_all(recs, PER);
        }
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_set(conf, "bootstrap.servers", brokers, &err), 0);
        assert_int_equal(hub_kafka_set(conf, "group.id", e.group, &err), 0);
        assert_int_equal(hub_kafka_set(conf, "partition.assignment.strategy", "roundrobin", &err),
                         0);
        assert_int_equal(hub_kafka_set(conf, "enable.auto.commit", "false", &err), 0);
        rd_kafka_t *other = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        assert_non_null(other);
        rd_kafka_poll_set_consumer(other);
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, e.regex, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(other, sub), 0);
        rd_kafka_topic_partition_list_destroy(sub);
        rd_kafka_topic_partition_list_t *mine = NULL;
        for (;;) { /* joined, with every partition */
                rd_kafka_message_t *m = rd_kafka_consumer_poll(other, 100);
                if (m)
                        rd_kafka_message_destroy(m);
                assert_int_equal(rd_kafka_assignment(other, &mine), 0);
                int n = mine->cnt;
                rd_kafka_topic_partition_list_destroy(mine);
                if (n == 6)
                        break;
        }
        char log[128];
        snprintf(log, sizeof(log), "/tmp/itest_hubd_whole_%ld.log", (long)getpid());
        stderr_path = log;
        pid_t pid = start_hubd(&e, NULL);
        stderr_path = NULL;
        /* Until hubd has done its share and waits for the rest. */
        while (!file_has(log, "not idle: a partition this instance does not hold")) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(other, 100);
                if (m)
                        rd_kafka_message_destroy(m);
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        fail_msg("hubd exited (status %d) with %lld of %d records stored", status,
                                 scalar(&e, "SELECT count(*) FROM records"), BATCHES * PER);
        }
        rd_kafka_consumer_close(other);
        rd_kafka_destroy(other);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records"), BATCHES * PER);
        unlink(log);
        env_done(&e);
}

/* SIGHUP with a broken file keeps the old configuration; with a valid one reloads it; SIGTERM
 * stops cleanly with exit code 0. */
static void test_signals(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        char cfg[128], log[128], arg[160];
        snprintf(cfg, sizeof(cfg), "/tmp/itest_hubd_%ld.ini", (long)getpid());
        snprintf(log, sizeof(log), "/tmp/itest_hubd_%ld.log", (long)getpid());
        snprintf(arg, sizeof(arg), "--config=%s", cfg);
        FILE *f = fopen(cfg, "w");
        assert_non_null(f);
        fputs("log_level = info\nmax_records = 100\n", f);
        fclose(f);
        stderr_path = log;
        pid_t pid = start_hubd(&e, arg);
        stderr_path = NULL;
        while (!file_has(log, "partition assigned"))
                usleep(50000);
        f = fopen(cfg, "w");
        fputs("max_records = many\n", f);
        fclose(f);
        kill(pid, SIGHUP);
        while (!file_has(log, "kept_old_configuration"))
                usleep(50000);
        assert_true(file_has(log, "invalid value for max_records"));
        f = fopen(cfg, "w");
        fputs("max_records = 50\n", f);
        fclose(f);
        kill(pid, SIGHUP);
        while (!file_has(log, "configuration reloaded"))
                usleep(50000);
        kill(pid, SIGTERM);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(file_has(log, "msg=\"stopped\""));
        unlink(cfg);
        unlink(log);
        env_done(&e);
}

/* ---- keys: rotation, revocation, replay (issue "Under fire", item 4) ---- */

/* A report that supersedes (corrects) an earlier record of the agency. */
static unsigned char *correction(const char *agency, const char *rid, const char *supersedes,
                                 const char *name, size_t *len)
{
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:[s], "
                              "s:{s:s, s:[]}, s:s}",
                              "record_id", rid, "agency", agency, "reported_at",
                              (json_int_t)1749600000000, "subject_kind", "ORGANIZATION",
                              "names", "value", name, "kind", "LEGAL", "identifiers", "type",
                              "PHONE", "value", "0912468357", "violation_categories",
                              "HANG_GIA", "sensitivity", "tier", "SHARED", "recipients",
                              "supersedes", supersedes);
        assert_non_null(j);
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (hub_report_encode_json(codec, j, &out, len, &err))
                fail_msg("encode: %s", err.msg);
        json_decref(j);
        return out;
}

/* Register key_id for e's agency A through the registry (as hubctl does: key events in the
 * log); times in ms since the epoch, 0 for none. */
static void register_key(struct env *e, const char *key_id, const uint8_t pk[32], int64_t from,
                         int64_t until)
{
        hub_key_registration_t reg = {.agency = e->a.code,
                                      .key_id = key_id,
                                      .valid_from = from * 1000,
                                      .valid_until = until ? until * 1000 : HUB_TS_NONE};
        memcpy(reg.public_key, pk, 32);
        hub_err_t err = {0};
        if (hub_registry_key_register(e->s, &reg, &err))
                fail_msg("register %s: %s", key_id, err.msg);
}

/* One batch of one fresh record signed by key_id/sk, created at created_ms, sent to A. */
struct sent {
        char rid[32];
        unsigned char *bytes;
        size_t len;
};

static void send_one(struct env *e, struct sent *out, const char *rid, const char *key_id,
                     const uint8_t *sk, int64_t created_ms)
{
        size_t len;
        snprintf(out->rid, sizeof(out->rid), "%s", rid);
        unsigned char *r = report(e->a.code, rid, NULL, "SHARED", rid, &len);
        struct batch_opts o = {e->a.code, key_id, sk, created_ms, false};
        out->bytes = batch(&o, &r, &len, 1, &out->len);
        free(r);
        produce(e->a.topic, out->bytes, out->len, 0);
}

/* "" when the batch's record was stored, else the reason its batch was rejected with. */
static void expect_outcome(struct env *e, const struct sent *x, const char *reason)
{
        const char *p[2] = {x->rid, (const char *)x->bytes};
        int l[2] = {0, (int)x->len}, f[2] = {0, 1};
        PGresult *r = PQexecParams(hub_store_conn(e->s),
                                   "SELECT (SELECT count(*) FROM records WHERE record_id = $1), "
                                   "(SELECT string_agg(reason, ',') FROM rejects WHERE bytes = $2)",
                                   2, NULL, p, l, f, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        const char *stored = PQgetvalue(r, 0, 0), *got = PQgetvalue(r, 0, 1);
        if (!*reason && (strcmp(stored, "1") != 0 || *got))
                fail_msg("%s: want accepted, stored %s, rejected \"%s\"", x->rid, stored, got);
        if (*reason && (strcmp(stored, "0") != 0 || strcmp(got, reason) != 0))
                fail_msg("%s: want %s, stored %s, rejected \"%s\"", x->rid, reason, stored, got);
        PQclear(r);
}

static void test_key_rotation(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        const int64_t now = hub_timestamp_now() / 1000, H = 3600 * 1000;
        uint8_t pk_old[32], sk_old[64], pk_new[32], sk_new[64], pk_ret[32], sk_ret[64];
        crypto_sign_keypair(pk_old, sk_old);
        crypto_sign_keypair(pk_new, sk_new);
        crypto_sign_keypair(pk_ret, sk_ret);
        /* Rotation in progress: old until now + 1 h, new from now - 1 h: the overlap is now. */
        register_key(&e, "old", pk_old, now - 2 * H, now + H);
        register_key(&e, "new", pk_new, now - H, 0);
        /* A rotation already over: retired's window closed an hour ago. */
        register_key(&e, "retired", pk_ret, now - 3 * H, now - H);
        struct sent x[6];
        send_one(&e, &x[0], "ROT-old-in-overlap", "old", sk_old, now - H / 2);
        send_one(&e, &x[1], "ROT-new-in-overlap", "new", sk_new, now - H / 2);
        send_one(&e, &x[2], "ROT-old-after", "old", sk_old, now + 2 * H);
        send_one(&e, &x[3], "ROT-new-after", "new", sk_new, now + 2 * H);
        /* Signed inside retired's window, but received after it closed: a backdate. */
        send_one(&e, &x[4], "ROT-retired-backdated", "retired", sk_ret, now - 2 * H);
        send_one(&e, &x[5], "ROT-new-before", "new", sk_new, now - 2 * H);
        run_hubd(&e, NULL);
        expect_outcome(&e, &x[0], "");
        expect_outcome(&e, &x[1], "");
        expect_outcome(&e, &x[2], "KEY_EXPIRED");
        expect_outcome(&e, &x[3], "");
        expect_outcome(&e, &x[4], "KEY_EXPIRED");
        expect_outcome(&e, &x[5], "KEY_NOT_YET_VALID");
        for (int i = 0; i < 6; i++)
                free(x[i].bytes);
        env_done(&e);
}

static void test_key_revocation_and_replay(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        const int64_t now = hub_timestamp_now() / 1000, H = 3600 * 1000;
        uint8_t pk_rv[32], sk_rv[64], pk_sch[32], sk_sch[64];
        crypto_sign_keypair(pk_rv, sk_rv);
        crypto_sign_keypair(pk_sch, sk_sch);
        register_key(&e, "rv", pk_rv, now - 3 * H, 0);
        register_key(&e, "sch", pk_sch, now - 3 * H, 0);
        /* Accepted while the key is good; then a correction of it. */
        struct sent before, c1;
        send_one(&e, &before, "REV-before", "rv", sk_rv, now - 2 * H);
        send_one(&e, &c1, "COR-1", e.a.key_id, e.a.sk, now - 2 * H);
        run_hubd(&e, NULL);
        expect_outcome(&e, &before, "");
        expect_outcome(&e, &c1, "");
        size_t len;
        unsigned char *r2 = correction(e.a.code, "COR-2", "COR-1", "Sửa", &len);
        struct batch_opts o = {e.a.code, e.a.key_id, e.a.sk, now - H, false};
        size_t c2len;
        unsigned char *c2 = batch(&o, &r2, &len, 1, &c2len);
        produce(e.a.topic, c2, c2len, 1);
        run_hubd(&e, NULL);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records WHERE record_id = 'COR-1' AND "
                                    "status = 'superseded'"),
                         1);

        /* rv is found compromised: revoked from an hour ago (backdated), registered now.
         * sch is retired ahead: revoked from an hour from now. */
        hub_err_t err = {0};
        assert_int_equal(hub_registry_key_revoke(e.s, e.a.code, "rv", (now - H) * 1000,
                                                 "compromised", &err),
                         0);
        assert_int_equal(hub_registry_key_revoke(e.s, e.a.code, "sch", (now + H) * 1000,
                                                 "retired", &err),
                         0);
        struct sent x[4];
        /* Created before the revocation time, but received after it was registered. */
        send_one(&e, &x[0], "REV-backdated", "rv", sk_rv, now - 2 * H);
        send_one(&e, &x[1], "REV-after", "rv", sk_rv, now - H / 2);
        /* The scheduled revocation: signed before its time and received before it, valid;
         * signed after it, revoked. */
        send_one(&e, &x[2], "SCH-before", "sch", sk_sch, now - H / 2);
        send_one(&e, &x[3], "SCH-after", "sch", sk_sch, now + 2 * H);
        /* The replay of the corrected record's batch, on another partition. */
        produce(e.a.topic, c1.bytes, c1.len, 2);
        run_hubd(&e, NULL);
        expect_outcome(&e, &x[0], "KEY_REVOKED");
        expect_outcome(&e, &x[1], "KEY_REVOKED");
        expect_outcome(&e, &x[2], "");
        expect_outcome(&e, &x[3], "KEY_REVOKED");
        /* The batch accepted before the revocation stays valid. */
        expect_outcome(&e, &before, "");
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records WHERE record_id = "
                                    "'REV-before' AND status = 'active'"),
                         1);
        /* The replay is refused and the correction stands. */
        {
                const char *p[1] = {(const char *)c1.bytes};
                int l[1] = {(int)c1.len}, f[1] = {1};
                PGresult *r = PQexecParams(hub_store_conn(e.s),
                                           "SELECT reason, message FROM rejects WHERE bytes = $1",
                                           1, NULL, p, l, f, 0);
                assert_int_equal(PQntuples(r), 1);
                assert_string_equal(PQgetvalue(r, 0, 0), "BATCH_REPLAYED");
                PQclear(r);
        }
        assert_int_equal(scalar(&e, "SELECT count(*) FROM records WHERE record_id = 'COR-1' AND "
                                    "status = 'superseded'"),
                         1);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM batches"), 4);
        /* The message names the revocation's registration, for the operator. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM rejects WHERE reason = 'KEY_REVOKED' "
                                    "AND message LIKE '%revocation registered at%'"),
                         3);
        free(before.bytes);
        free(c1.bytes);
        free(c2);
        free(r2);
        for (int i = 0; i < 4; i++)
                free(x[i].bytes);
        env_done(&e);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: itest_hubd HUBD_BINARY\n");
                return 2;
        }
        hubd_path = argv[1];
        brokers = hub_test_service("HUB_KAFKA_BROKERS");
        hub_test_service("HUB_PG_DSN");
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        if (hub_report_codec_new(&codec, &err))
                return 1;
        const char *hub_topics[] = {tier_topics[0], tier_topics[1], tier_topics[2]};
        create_topics(hub_topics, 3, true);
        /* hub.log too: hubd publishes its signed tree heads there (hubctl init creates it). */
        const char *rejects[] = {"hub.rejects", "hub.log"};
        create_topics(rejects, 2, false);
        hub_key_t key;
        snprintf(keyfile, sizeof(keyfile), "/tmp/itest_hubd_%ld.key", (long)getpid());
        unlink(keyfile);
        if (hub_key_generate("HUB", "HUB/1", &key, &err) ||
            hub_key_write_secret(&key, keyfile, &err))
                return 1;
        hub_key_wipe(&key);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accept_redeliver_publish),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_sigkill_restart),
                cmocka_unit_test(test_idle_waits_for_reread),
                cmocka_unit_test(test_idle_whole_subscription),
                cmocka_unit_test(test_signals),
                cmocka_unit_test(test_key_rotation),
                cmocka_unit_test(test_key_revocation_and_replay),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(keyfile);
        hub_report_codec_free(codec);
        return rc;
}
