/* Concurrent resolution (issue 4, item 6): ingesters resolving at the same time on real
 * PostgreSQL transactions never create two entities for one identifier, store every record
 * once, and end with one entity per cluster of records that share identifiers.
 *
 *   two_workers_shared_identifiers  two threads, two connections, hub_ingest_message() on
 *                                   batches of two agencies whose records share identifiers
 *   two_workers_bridging_merges     the same, with clusters held together only by records
 *                                   that carry two tax codes: entities made apart get merged
 *   race_same_new_identifier        eight threads released together by a barrier, each with a
 *                                   tiny batch carrying the same NEW identifier; twelve rounds
 *   two_hubd_one_group              two real hubd processes in one consumer group on two agency
 *                                   topics of four partitions each, through the real broker
 *
 * The data is built so that the right answer does not depend on the order of commits: every
 * record of a cluster carries the cluster's tax code (and some carry more identifiers that only
 * that cluster uses), or, in the bridging case, the clusters' records are connected through
 * records carrying two codes; any interleaving must end with one surviving entity per cluster.
 *
 * Usage: itest_concurrency HUBD_BINARY */
#define _DEFAULT_SOURCE /* usleep */
#include "testdb.h"
#include "testutil.h"

#include <hub/batch.h>
#include <hub/ident.h>
#include <hub/ingest.h>
#include <hub/kafka.h>
#include <hub/keyfile.h>
#include <hub/report.h>
#include <hub/store.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static const char *hubd_path;
static char keyfile[256];
static hub_key_t hub_key;
static hub_report_codec_t *codec;
static int run_no;

struct agency {
        char code[32], topic[64], key_id[48];
        uint8_t pk[32], sk[64];
};

struct env {
        char dsn[512];
        hub_store_t *s;
        struct agency a[2];
};

/* One Kafka message, as hubd would hand it to hub_ingest_message(). */
struct msg {
        const struct agency *ag;
        int32_t partition;
        int64_t offset;
        unsigned char *buf;
        size_t len;
};

/* ---- database helpers ---- */

static void sql(struct env *e, const char *q)
{
        hub_err_t err = {0};
        if (hub_store_exec(e->s, q, &err))
                fail_msg("%s: %s", q, err.msg);
}

static long long scalar(struct env *e, const char *q)
{
        PGresult *r = PQexec(hub_store_conn(e->s), q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                fail_msg("%s: %s", q, PQresultErrorMessage(r));
        long long v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return v;
}

static void agency_init(struct env *e, struct agency *a, const char *suffix)
{
        snprintf(a->code, sizeof(a->code), "C%ld-%d-%s", (long)getpid(), run_no, suffix);
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
}

static void env_init(struct env *e)
{
        memset(e, 0, sizeof(*e));
        run_no++;
        hub_test_fresh_db("conc", e->dsn, sizeof(e->dsn));
        hub_err_t err = {0};
        assert_int_equal(hub_store_open(e->dsn, &e->s, &err), 0);
        assert_int_equal(hub_store_migrate(e->s, NULL, &err), 0);
        agency_init(e, &e->a[0], "A");
        agency_init(e, &e->a[1], "B");
}

static void env_done(struct env *e)
{
        hub_store_close(e->s);
        hub_test_drop_db(e->dsn);
}

/* ---- data ---- */

/* A distinct valid tax code per n (fictional: the prefix 123 and the check digit DOMAIN.md
 * gives). */
static void tax_code(int n, char out[11])
{
        for (int attempt = 0;; attempt++) {
                snprintf(out, 11, "%09d", 123000000 + n * 16 + attempt);
                for (char d = '0'; d <= '9'; d++) {
                        out[9] = d;
                        out[10] = '\0';
                        if (hub_ident_tax_code_check(out) == 0)
                                return;
                }
        }
}

/* A report with the given identifiers: up to two TAX_CODEs and two DOMAINs (NULL: none). */
static unsigned char *report(const char *agency, const char *rid, const char *tax,
                             const char *tax2, const char *domain1, const char *domain2,
                             size_t *len)
{
        json_t *ids = json_array();
        if (tax)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "TAX_CODE", "value",
                                                     tax));
        if (tax2)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "TAX_CODE", "value",
                                                     tax2));
        if (domain1)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "DOMAIN", "value",
                                                     domain1));
        if (domain2)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "DOMAIN", "value",
                                                     domain2));
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:o, s:[s], s:{s:s, s:[]}}",
                              "record_id", rid, "agency", agency, "reported_at",
                              (json_int_t)1749600000000, "subject_kind", "ORGANIZATION",
                              "names", "value", "Công ty TNHH Đồng Thời", "kind", "LEGAL",
                              "identifiers", ids, "violation_categories", "HANG_GIA",
                              "sensitivity", "tier", "SHARED", "recipients");
        assert_non_null(j);
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (hub_report_encode_json(codec, j, &out, len, &err))
                fail_msg("encode: %s", err.msg);
        json_decref(j);
        return out;
}

static unsigned char *sign(const struct agency *a, unsigned char **recs, const size_t *lens,
                           size_t n, size_t *out_len)
{
        static int64_t seq;
        hub_batch_header_t h = {.agency = a->code,
                                .key_id = a->key_id,
                                .producer_id = "itest-concurrency",
                                .batch_seq = seq++,
                                .created_at_ms = (int64_t)time(NULL) * 1000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
        hub_batch_builder_t *b = NULL;
        hub_err_t err = {0};
        unsigned char *out = NULL;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, &err), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(hub_batch_builder_add(b, recs[i], lens[i], &err), 0);
        assert_int_equal(hub_batch_builder_finish(b, a->sk, 64, &out, out_len, &err), 0);
        hub_batch_builder_free(b);
        return out;
}

/* The shared-identifier data set: `clusters` clusters of `per` records each. Every record of
 * cluster c carries c's tax code and a domain of its own; every other one also carries c's
 * shared domain. Record k of a cluster goes to agency k % 2 and to lane (k / 2) % lanes; each
 * lane's records of one agency are shuffled and cut into batches of `batch` records, offsets
 * counted per (agency, lane): a lane is a partition of both agency topics. Returns the
 * messages of each lane in an order that alternates agencies. */
struct lane {
        struct msg *msgs;
        size_t n;
};

static void cluster_data(struct env *e, int clusters, int per, int lanes, size_t batch,
                         bool bridge, struct lane *out)
{
        srand(20250611);
        for (int l = 0; l < lanes; l++) {
                unsigned char **recs[2];
                size_t *lens[2], n[2] = {0, 0};
                for (int g = 0; g < 2; g++) {
                        recs[g] = calloc((size_t)(clusters * per), sizeof(*recs[g]));
                        lens[g] = calloc((size_t)(clusters * per), sizeof(*lens[g]));
                }
                for (int c = 0; c < clusters; c++) {
                        char tax[11], shared[64], own[64], rid[64];
                        tax_code(c, tax);
                        snprintf(shared, sizeof(shared), "c%d-chung-vidu.vn", c);
                        for (int k = 0; k < per; k++) {
                                if ((k / 2) % lanes != l)
                                        continue;
                                int g = k % 2;
                                snprintf(own, sizeof(own), "c%d-r%d-vidu.vn", c, k);
                                snprintf(rid, sizeof(rid), "S-%d-%d", c, k);
                                /* bridge: a third of the records carry only the tax code,
                                 * a third only the shared domain, a third both: whichever
                                 * commits first, the cluster may start as two entities that a
                                 * later record merges. (Two tax codes would not do: different
                                 * head offices refuse to merge.) */
                                if (bridge)
                                        recs[g][n[g]] = report(
                                                e->a[g].code, rid, k % 3 == 1 ? NULL : tax,
                                                NULL, own, k % 3 ? shared : NULL,
                                                &lens[g][n[g]]);
                                else
                                        recs[g][n[g]] = report(e->a[g].code, rid, tax, NULL,
                                                               own, k % 2 ? shared : NULL,
                                                               &lens[g][n[g]]);
                                n[g]++;
                        }
                }
                size_t nb = (n[0] + batch - 1) / batch + (n[1] + batch - 1) / batch;
                out[l].msgs = calloc(nb, sizeof(struct msg));
                out[l].n = 0;
                size_t at[2] = {0, 0};
                int64_t off[2] = {0, 0};
                for (int g = 0; g < 2; g++) /* shuffle: commits must not follow cluster order */
                        for (size_t i = n[g]; i > 1; i--) {
                                size_t j = (size_t)rand() % i;
                                unsigned char *t = recs[g][i - 1];
                                size_t tl = lens[g][i - 1];
                                recs[g][i - 1] = recs[g][j];
                                lens[g][i - 1] = lens[g][j];
                                recs[g][j] = t;
                                lens[g][j] = tl;
                        }
                for (int g = 0; at[0] < n[0] || at[1] < n[1]; g ^= 1) {
                        if (at[g] >= n[g])
                                continue;
                        size_t k = n[g] - at[g] < batch ? n[g] - at[g] : batch;
                        struct msg *m = &out[l].msgs[out[l].n++];
                        m->ag = &e->a[g];
                        m->partition = l;
                        m->offset = off[g]++;
                        m->buf = sign(&e->a[g], recs[g] + at[g], lens[g] + at[g], k, &m->len);
                        at[g] += k;
                }
                for (int g = 0; g < 2; g++) {
                        for (size_t i = 0; i < n[g]; i++)
                                free(recs[g][i]);
                        free(recs[g]);
                        free(lens[g]);
                }
        }
}

static void free_lanes(struct lane *lanes, int n)
{
        for (int l = 0; l < n; l++) {
                for (size_t i = 0; i < lanes[l].n; i++)
                        free(lanes[l].msgs[i].buf);
                free(lanes[l].msgs);
        }
}

/* ---- workers ---- */

struct worker {
        const char *dsn;
        struct msg *msgs;
        size_t n;
        size_t per_round;          /* messages between barriers (0: all at once) */
        pthread_barrier_t *barrier;
        size_t retries, accepted;
        char failure[512]; /* "" when all went well: cmocka asserts only in the main thread */
};

/* Ingest like hubd: a retriable error (a deadlock, a unique violation seen by a concurrent
 * COPY) rolls back and the same message is tried again, a few times: the identifier locks are
 * meant to make retries rare, and without them this test's races end in deadlock after
 * deadlock (seen: removing the advisory locks from ingest.c livelocks the race test). */
#define MAX_RETRIES 20

static void *work(void *arg)
{
        struct worker *w = arg;
        hub_store_t *s = NULL;
        hub_ingest_t *ing = NULL;
        hub_err_t err = {0};
        hub_ingest_opts_t opts = {.hub_key = &hub_key};
        if (hub_store_open(w->dsn, &s, &err) || hub_ingest_new(s, &opts, &ing, &err)) {
                snprintf(w->failure, sizeof(w->failure), "setup: %s", err.msg);
                hub_store_close(s);
                return NULL;
        }
        size_t per = w->per_round ? w->per_round : w->n;
        for (size_t i = 0; i < w->n; i++) {
                if (i % per == 0)
                        pthread_barrier_wait(w->barrier);
                const struct msg *m = &w->msgs[i];
                hub_ingest_msg_t im = {m->ag->topic, m->partition, m->offset, m->buf, m->len,
                                       m->offset ? m->offset : -1};
                hub_ingest_result_t res;
                int rc, tries = 0;
                while ((rc = hub_ingest_message(ing, &im, &res, &err)) != 0 && err.retriable &&
                       ++tries <= MAX_RETRIES) {
                        w->retries++;
                        usleep(10000 * (useconds_t)tries);
                }
                if (rc && !w->failure[0])
                        snprintf(w->failure, sizeof(w->failure), "%s[%d]@%lld: %s",
                                 m->ag->topic, (int)m->partition, (long long)m->offset,
                                 err.msg);
                else if (!rc && (res.rejected || res.batch_rejected) && !w->failure[0])
                        snprintf(w->failure, sizeof(w->failure), "%s[%d]@%lld rejected: %s %s",
                                 m->ag->topic, (int)m->partition, (long long)m->offset,
                                 res.reason, res.message);
                w->accepted += res.accepted;
        }
        hub_ingest_free(ing);
        hub_store_close(s);
        return NULL;
}

static void run_workers(struct worker *w, size_t n)
{
        pthread_t t[16];
        assert_true(n <= 16);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        for (size_t i = 0; i < n; i++)
                if (w[i].failure[0])
                        fail_msg("worker %zu: %s", i, w[i].failure);
}

/* ---- what every test checks ---- */

/* The surviving entity of a record's entity (merges, when they come, point merged_into at the
 * survivor). */
#define CANON "coalesce(e.merged_into, e.id)"

/* Every record stored once, nothing rejected; the records of each cluster (record id
 * "<prefix>-<cluster>-...") on one entity, distinct clusters on distinct entities; no second
 * entity anywhere; each entity's version counts the batches that changed it (no lost update
 * under concurrent row locks); one outbox row per entity, topic and version. */
static void check_clusters(struct env *e, const char *prefix, long long records,
                           long long clusters, long long entities, bool merges)
{
        char q[1024];
        snprintf(q, sizeof(q), "SELECT count(*) FROM records WHERE record_id LIKE '%s-%%'",
                 prefix);
        assert_int_equal(scalar(e, q), records);
        assert_int_equal(scalar(e, "SELECT count(*) FROM (SELECT DISTINCT agency, record_id "
                                   "FROM records) x"),
                         scalar(e, "SELECT count(*) FROM records"));
        assert_int_equal(scalar(e, "SELECT count(*) FROM rejects"), 0);
        /* No cluster on two entities. */
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM (SELECT split_part(r.record_id, '-', 2) FROM records r "
                 "JOIN entities e ON e.id = r.entity_id WHERE r.record_id LIKE '%s-%%' "
                 "GROUP BY 1 HAVING count(DISTINCT " CANON ") <> 1) x",
                 prefix);
        assert_int_equal(scalar(e, q), 0);
        /* No entity holding two clusters, and as many entities as clusters. */
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM (SELECT " CANON " FROM records r JOIN entities e ON "
                 "e.id = r.entity_id WHERE r.record_id LIKE '%s-%%' GROUP BY 1 HAVING "
                 "count(DISTINCT split_part(r.record_id, '-', 2)) <> 1) x",
                 prefix);
        assert_int_equal(scalar(e, q), 0);
        snprintf(q, sizeof(q),
                 "SELECT count(DISTINCT " CANON ") FROM records r JOIN entities e ON "
                 "e.id = r.entity_id WHERE r.record_id LIKE '%s-%%'",
                 prefix);
        assert_int_equal(scalar(e, q), clusters);
        assert_int_equal(scalar(e, "SELECT count(*) FROM entities WHERE merged_into IS NULL"),
                         entities);
        /* Every identifier on the entity of the records that carry it. */
        assert_int_equal(scalar(e, "SELECT count(*) FROM identifiers i WHERE NOT EXISTS "
                                   "(SELECT 1 FROM statements s JOIN records r ON r.agency = "
                                   "s.agency AND r.record_id = s.record_id WHERE s.value = "
                                   "i.value AND hub_canonical(r.entity_id) = "
                                   "hub_canonical(i.entity_id))"),
                         0);
        /* Without merges, an entity's version counts the batches of its records; a merge also
         * changes versions, so then only the survivors' records are checked (above). */
        if (!merges)
                assert_int_equal(scalar(e, "SELECT count(*) FROM entities e WHERE version <> "
                                           "(SELECT count(DISTINCT batch_id) FROM records r "
                                           "WHERE r.entity_id = e.id)"),
                                 0);
        assert_int_equal(scalar(e, "SELECT count(*) FROM (SELECT entity_id, topic FROM outbox "
                                   "WHERE entity_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) "
                                   "<> count(DISTINCT version)) x"),
                         0);
}

/* ---- tests ---- */

static void test_two_workers_shared_identifiers(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        enum { CLUSTERS = 150, PER = 8, LANES = 2 };
        struct lane lanes[LANES];
        cluster_data(&e, CLUSTERS, PER, LANES, 6, false, lanes);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, LANES);
        struct worker w[LANES];
        for (int l = 0; l < LANES; l++)
                w[l] = (struct worker){.dsn = e.dsn, .msgs = lanes[l].msgs, .n = lanes[l].n,
                                       .barrier = &bar};
        run_workers(w, LANES);
        pthread_barrier_destroy(&bar);
        print_message("two workers: %zu + %zu batches, %zu retries\n", lanes[0].n, lanes[1].n,
                      w[0].retries + w[1].retries);
        assert_int_equal(w[0].accepted + w[1].accepted, CLUSTERS * PER);
        check_clusters(&e, "S", CLUSTERS * PER, CLUSTERS, CLUSTERS, false);
        /* Each cluster's tax code and shared domain are identifiers of its one entity. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'TAX_CODE'"),
                         CLUSTERS);
        assert_int_equal(scalar(&e, "SELECT count(DISTINCT entity_id) FROM identifiers"),
                         CLUSTERS);
        free_lanes(lanes, LANES);
        env_done(&e);
}

/* Clusters held together by records carrying both the tax code and the domain: two workers
 * may each create an entity, one for the code and one for the domain, before a record with
 * both arrives, which must merge them.
 * Every record still ends on its cluster's one surviving entity. */
static void test_two_workers_bridging_merges(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        enum { CLUSTERS = 120, PER = 9, LANES = 2 };
        struct lane lanes[LANES];
        cluster_data(&e, CLUSTERS, PER, LANES, 3, true, lanes);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, LANES);
        struct worker w[LANES];
        for (int l = 0; l < LANES; l++)
                w[l] = (struct worker){.dsn = e.dsn, .msgs = lanes[l].msgs, .n = lanes[l].n,
                                       .barrier = &bar};
        run_workers(w, LANES);
        pthread_barrier_destroy(&bar);
        long long merged = scalar(&e, "SELECT count(*) FROM entities WHERE merged_into IS NOT "
                                      "NULL");
        print_message("bridging: %zu + %zu batches, %zu retries, %lld entities merged\n",
                      lanes[0].n, lanes[1].n, w[0].retries + w[1].retries, merged);
        check_clusters(&e, "S", CLUSTERS * PER, CLUSTERS, CLUSTERS, true);
        /* The tax code and the domains of every cluster point at its survivor. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'TAX_CODE'"),
                         CLUSTERS);
        assert_int_equal(scalar(&e, "SELECT count(DISTINCT hub_canonical(entity_id)) FROM "
                                    "identifiers"),
                         CLUSTERS);
        free_lanes(lanes, LANES);
        env_done(&e);
}

static void test_race_same_new_identifier(void **state)
{
        (void)state;
        struct env e;
        env_init(&e);
        enum { THREADS = 8, ROUNDS = 12 };
        /* Round r: every thread has one batch of two records, R-r-t-0 with the round's new
         * tax code (odd threads add the round's domain, in the other order of identifiers),
         * and R-r-t-1 with a tax code of its own: 1 + THREADS entities per round. */
        struct msg msgs[THREADS][ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
                char tax[11], dom[64];
                tax_code(1000 + r, tax);
                snprintf(dom, sizeof(dom), "vong%d-vidu.vn", r);
                for (int t = 0; t < THREADS; t++) {
                        char rid[2][32], own[11];
                        unsigned char *recs[2];
                        size_t lens[2];
                        tax_code(2000 + r * THREADS + t, own);
                        /* Cluster of R-r-t-0 is the round ("R-r"), of R-r-t-1 its own. */
                        snprintf(rid[0], sizeof(rid[0]), "R-%d-%d-0", r, t);
                        snprintf(rid[1], sizeof(rid[1]), "Q-%d_%d-1", r, t);
                        const struct agency *ag = &e.a[t % 2];
                        recs[0] = report(ag->code, rid[0], tax, NULL, t % 2 ? dom : NULL, NULL,
                                         &lens[0]);
                        recs[1] = report(ag->code, rid[1], own, NULL, NULL, NULL, &lens[1]);
                        struct msg *m = &msgs[t][r];
                        m->ag = ag;
                        m->partition = t; /* each thread owns a partition of its topic */
                        m->offset = r;
                        m->buf = sign(ag, recs, lens, 2, &m->len);
                        free(recs[0]);
                        free(recs[1]);
                }
        }
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, THREADS);
        struct worker w[THREADS];
        for (int t = 0; t < THREADS; t++)
                w[t] = (struct worker){.dsn = e.dsn, .msgs = msgs[t], .n = ROUNDS,
                                       .per_round = 1, .barrier = &bar};
        run_workers(w, THREADS);
        pthread_barrier_destroy(&bar);
        size_t retries = 0;
        for (int t = 0; t < THREADS; t++)
                retries += w[t].retries;
        print_message("race: %d rounds of %d simultaneous batches, %zu retries\n", ROUNDS,
                      THREADS, retries);
        /* Each round's records on one entity: "R-<r>-..." clusters by round. */
        check_clusters(&e, "R", THREADS * ROUNDS, ROUNDS, ROUNDS * (1 + THREADS), false);
        check_clusters(&e, "Q", THREADS * ROUNDS, THREADS * ROUNDS, ROUNDS * (1 + THREADS),
                       false);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'DOMAIN'"),
                         ROUNDS);
        /* The round's domain belongs to the round's entity. */
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers d JOIN records r ON "
                                    "r.entity_id = d.entity_id WHERE d.type = 'DOMAIN' AND "
                                    "r.record_id LIKE 'R-%' AND d.value <> 'vong' || "
                                    "split_part(r.record_id, '-', 2) || '-vidu.vn'"),
                         0);
        for (int t = 0; t < THREADS; t++)
                for (int r = 0; r < ROUNDS; r++)
                        free(msgs[t][r].buf);
        env_done(&e);
}

/* ---- two hubd processes ---- */

static rd_kafka_t *client(const char *brokers, rd_kafka_type_t type)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_set(conf, "bootstrap.servers", brokers, &err), 0);
        if (type == RD_KAFKA_PRODUCER)
                assert_int_equal(hub_kafka_set(conf, "enable.idempotence", "true", &err), 0);
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        assert_non_null(rk);
        return rk;
}

static void create_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions,
                          bool compact)
{
        hub_err_t err = {0};
        const char *settings[] = {"cleanup.policy", "compact"};
        if (hub_kafka_create_topics(rk, topics, n, partitions, compact ? settings : NULL,
                                    compact ? 1 : 0, 30000, &err))
                fail_msg("create topics: %s", err.msg);
}

static pid_t start_hubd(struct env *e, const char *brokers, const char *group,
                        const char *regex, const char *log)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (!freopen(log, "w", stderr))
                        _exit(126);
                execl(hubd_path, hubd_path, "--dsn", e->dsn, "--brokers", brokers, "--group",
                      group, "--topics", regex, "--hub-key", keyfile, "-X",
                      "session.timeout.ms=6000", (char *)NULL);
                _exit(127);
        }
        return pid;
}

static bool file_has(const char *path, const char *text)
{
        size_t len;
        char *buf = (char *)hub_test_read_file(path, &len);
        bool found = buf && strstr(buf, text);
        free(buf);
        return found;
}

/* The batches= count of hubd's "stopped" line. */
static long stopped_batches(const char *path)
{
        size_t len;
        char *buf = (char *)hub_test_read_file(path, &len);
        char *p = buf ? strstr(buf, "msg=\"stopped\"") : NULL;
        p = p ? strstr(p, "batches=") : NULL;
        long n = p ? atol(p + 8) : -1;
        free(buf);
        return n;
}

static void stop_hubd(pid_t pid)
{
        int status;
        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_two_hubd_one_group(void **state)
{
        (void)state;
        const char *brokers = hub_test_service("HUB_KAFKA_BROKERS");
        struct env e;
        env_init(&e);
        enum { CLUSTERS = 200, PER = 8, PARTS = 4 };
        rd_kafka_t *p = client(brokers, RD_KAFKA_PRODUCER);
        const char *hub_topics[] = {"hub.entities.public", "hub.entities.shared",
                                    "hub.entities.restricted"};
        create_topics(p, hub_topics, 3, 3, true);
        /* hub.log too: hubd publishes its signed tree heads there (hubctl init creates it). */
        const char *rejects[] = {"hub.rejects", "hub.log"};
        create_topics(p, rejects, 2, 3, false);
        const char *mine[] = {e.a[0].topic, e.a[1].topic};
        create_topics(p, mine, 2, PARTS, false);
        /* The records of every cluster spread over both agencies and all partitions. */
        struct lane lanes[PARTS];
        cluster_data(&e, CLUSTERS, PER, PARTS, 4, false, lanes);

        char group[64], regex[96], log[2][128];
        snprintf(group, sizeof(group), "conc-%ld-%d", (long)getpid(), run_no);
        snprintf(regex, sizeof(regex), "^agency\\.C%ld-%d-.*\\.reports$", (long)getpid(),
                 run_no);
        pid_t pid[2];
        for (int i = 0; i < 2; i++) {
                snprintf(log[i], sizeof(log[i]), "/tmp/itest_conc_%ld_%d.log", (long)getpid(), i);
                pid[i] = start_hubd(&e, brokers, group, regex, log[i]);
        }
        /* Produce once both members hold partitions, so that both resolve at the same time. */
        for (int tries = 0; !(file_has(log[0], "partition assigned") &&
                              file_has(log[1], "partition assigned"));
             tries++) {
                if (tries > 600)
                        fail_msg("the two hubd did not both get partitions in 60 s");
                usleep(100000);
        }
        for (int l = 0; l < PARTS; l++)
                for (size_t i = 0; i < lanes[l].n; i++) {
                        const struct msg *m = &lanes[l].msgs[i];
                        assert_int_equal(rd_kafka_producev(
                                                 p, RD_KAFKA_V_TOPIC(m->ag->topic),
                                                 RD_KAFKA_V_PARTITION(m->partition),
                                                 RD_KAFKA_V_VALUE(m->buf, m->len),
                                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                 RD_KAFKA_V_END),
                                         0);
                }
        assert_int_equal(rd_kafka_flush(p, 30000), 0);
        rd_kafka_destroy(p);
        for (int tries = 0; scalar(&e, "SELECT count(*) FROM records") < CLUSTERS * PER;
             tries++) {
                if (tries > 1800)
                        fail_msg("records not all stored after 180 s");
                usleep(100000);
        }
        stop_hubd(pid[0]);
        stop_hubd(pid[1]);
        long b0 = stopped_batches(log[0]), b1 = stopped_batches(log[1]);
        print_message("two hubd: %ld + %ld batches\n", b0, b1);
        /* Both instances took part... */
        assert_true(b0 > 0);
        assert_true(b1 > 0);
        /* ... and every message was stored exactly once: offsets at the end of each of the
         * 2 x PARTS partitions, one batches row per message. */
        size_t messages = 0;
        for (int l = 0; l < PARTS; l++)
                messages += lanes[l].n;
        assert_int_equal(scalar(&e, "SELECT count(*) FROM batches"), (long long)messages);
        assert_int_equal(scalar(&e, "SELECT sum(next_offset) FROM consumer_offsets"),
                         (long long)messages);
        check_clusters(&e, "S", CLUSTERS * PER, CLUSTERS, CLUSTERS, false);
        assert_int_equal(scalar(&e, "SELECT count(*) FROM identifiers WHERE type = 'TAX_CODE'"),
                         CLUSTERS);
        unlink(log[0]);
        unlink(log[1]);
        free_lanes(lanes, PARTS);
        env_done(&e);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: itest_concurrency HUBD_BINARY\n");
                return 2;
        }
        hubd_path = argv[1];
        hub_test_service("HUB_PG_DSN");
        hub_test_service("HUB_KAFKA_BROKERS");
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        if (hub_report_codec_new(&codec, &err))
                return 1;
        snprintf(keyfile, sizeof(keyfile), "/tmp/itest_conc_%ld.key", (long)getpid());
        unlink(keyfile);
        if (hub_key_generate("HUB", "HUB/1", &hub_key, &err) ||
            hub_key_write_secret(&hub_key, keyfile, &err))
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_workers_shared_identifiers),
                cmocka_unit_test(test_two_workers_bridging_merges),
                cmocka_unit_test(test_race_same_new_identifier),
                cmocka_unit_test(test_two_hubd_one_group),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(keyfile);
        hub_key_wipe(&hub_key);
        hub_report_codec_free(codec);
        return rc;
}
