/* The fault suite: hubd against the real broker and PostgreSQL (or librdkafka's mock cluster
 * where only it can stage the fault), a fault injected at seeded random points, what died
 * restarted, hubd run until idle, then one oracle after every run:
 *  - each produced (agency, record_id) stored exactly once, and nothing else stored;
 *  - in each hub.entities.<tier> topic, the latest value of every key (read from where this run
 *    began) equals the database's entity view: the outbox row of the entity's latest version,
 *    which is the entity's current version;
 *  - the stored offset of every agency partition is the last consumed offset + 1 (its end);
 *  - nothing rejected, the outbox sent.
 * It ends with one line per fault: fault=NAME runs=N produced=N stored=N lost=N duplicated=N.
 *
 * usage: fault_suite HUBD_BINARY SOURCE_ROOT FAULT
 * FAULT: failpoint-before-commit, failpoint-after-commit, failpoint-during-publish, hubd-sigkill,
 * broker-kill, postgres-kill, postgres-outage, stalled-hubd, mock-leader-loss, mock-broker-down,
 * mock-request-errors. Environment: HUB_FAULT_SEED (default: the time), HUB_FAULT_RUNS (runs per
 * fault), HUB_FAULT_PG_OUTAGE_S (postgres-outage, default 25), HUB_FAULT_RSS_LIMIT_MB (growth
 * allowed during the outage, default 64). Kills only the services that deploy/local/start.sh
 * started for this checkout, and restarts them. */
#define _DEFAULT_SOURCE /* usleep, setenv */
#include "testdb.h"
#include "testutil.h"

#include <hub/batch.h>
#include <hub/kafka.h>
#include <hub/keyfile.h>
#include <hub/report.h>
#include <hub/store.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PARTS 3 /* partitions of each agency topic */
#define PER 10  /* records per batch */

static const char *hubd_path, *source_root;
static char keyfile[256], tmpdir[128];
static hub_report_codec_t *codec;
static unsigned seed;
static int failures;

static const char *const tiers[3] = {"hub.entities.public", "hub.entities.shared",
                                     "hub.entities.restricted"};

/* One run: its own database, agency, topic and consumer group. */
struct run {
        char dsn[512], code[48], topic[96], key_id[64], group[64], regex[128];
        uint8_t pk[32], sk[64];
        const char *brokers;
        rd_kafka_mock_cluster_t *mock;
        PGconn *db;
        rd_kafka_t *producer;
        int64_t ends[3][64]; /* tier topic watermarks when the run began */
        int tier_parts[3];
        int batches;         /* produced so far */
        int hubd_no;
};

struct totals {
        long runs, produced, stored, lost, duplicated;
};

/* ---- small helpers ---- */

static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "fault: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        exit(1);
}

static void problem(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        fflush(stdout);
        va_end(ap);
        failures++;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rnd(int lo, int hi) /* inclusive */
{
        return lo + (int)(rand() % (unsigned)(hi - lo + 1));
}

static void sleep_ms(int ms)
{
        usleep((useconds_t)ms * 1000);
}

/* A query's single value, reconnecting (and retrying) while PostgreSQL restarts. */
static long long scalar(struct run *r, const char *fmt, ...)
{
        char q[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q, sizeof(q), fmt, ap);
        va_end(ap);
        for (int tries = 0;; tries++) {
                if (!r->db || PQstatus(r->db) != CONNECTION_OK) {
                        PQfinish(r->db);
                        r->db = PQconnectdb(r->dsn);
                }
                PGresult *res = PQexec(r->db, q);
                if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                        long long v = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
                        PQclear(res);
                        return v;
                }
                if (tries > 600)
                        die("%s: %s", q, PQresultErrorMessage(res));
                PQclear(res);
                PQfinish(r->db);
                r->db = NULL;
                sleep_ms(100);
        }
}

static void exec_sql(struct run *r, const char *q)
{
        PGresult *res = PQexec(r->db, q);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                die("%s: %s", q, PQresultErrorMessage(res));
        PQclear(res);
}

/* Run a deploy/local script with arguments; die unless it succeeds. */
static void local(const char *script, const char *arg)
{
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "'%s/deploy/local/%s' %s >/dev/null", source_root, script,
                 arg ? arg : "");
        if (system(cmd) != 0)
                die("%s failed", cmd);
}

/* The services to kill must be the ones deploy/local started for this checkout: the recorded
 * settings must be the ones this test was given. */
static void require_local_services(void)
{
        char cmd[600], line[600];
        snprintf(cmd, sizeof(cmd), "'%s/deploy/local/env.sh' 2>/dev/null", source_root);
        FILE *f = popen(cmd, "r");
        bool pg = false, kafka = false;
        const char *dsn = getenv("HUB_PG_DSN"), *brokers = getenv("HUB_KAFKA_BROKERS");
        while (f && fgets(line, sizeof(line), f)) {
                char want[600];
                snprintf(want, sizeof(want), "export HUB_PG_DSN='%s'\n", dsn);
                pg |= strcmp(line, want) == 0;
                snprintf(want, sizeof(want), "export HUB_KAFKA_BROKERS='%s'\n", brokers);
                kafka |= strcmp(line, want) == 0;
        }
        if (f)
                pclose(f);
        if (pg && kafka)
                return;
        printf("this fault kills and restarts the services of deploy/local/start.sh, and "
               "HUB_PG_DSN/HUB_KAFKA_BROKERS are not theirs\n");
        const char *req = getenv("HUB_REQUIRE_SERVICES");
        exit(req && strcmp(req, "1") == 0 ? 1 : HUB_TEST_SKIP);
}

/* ---- Kafka ---- */

static rd_kafka_t *client(const char *brokers, rd_kafka_type_t type)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        if (hub_kafka_set(conf, "bootstrap.servers", brokers, &err))
                die("%s", err.msg);
        if (type == RD_KAFKA_PRODUCER) {
                /* Every batch must reach the broker, however long it is down. */
                hub_kafka_set(conf, "enable.idempotence", "true", &err);
                hub_kafka_set(conf, "message.timeout.ms", "0", &err);
        }
        if (type == RD_KAFKA_CONSUMER) {
                /* The hub's topics are written transactionally and end with a commit marker
                 * that is never delivered: the end of a partition is its EOF event. Read
                 * committed (librdkafka's default, stated here): what a subscriber reads. */
                hub_kafka_set(conf, "enable.partition.eof", "true", &err);
                hub_kafka_set(conf, "isolation.level", "read_committed", &err);
        }
        hub_kafka_set(conf, "log_level", "2", &err); /* the faults make it noisy on purpose */
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                die("%s", errstr);
        return rk;
}

static int64_t end_of(rd_kafka_t *rk, const char *topic, int p)
{
        int64_t lo, hi;
        for (int tries = 0; tries < 100; tries++) {
                if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0)
                        return hi;
                sleep_ms(200);
        }
        die("could not read the watermarks of %s[%d]", topic, p);
        return -1;
}

static int partitions_of(rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int n = -1;
        for (int tries = 0; n <= 0 && tries < 50; tries++) {
                if (rd_kafka_metadata(rk, 0, t, &md, 5000) == 0) {
                        if (md->topic_cnt == 1 && !md->topics[0].err)
                                n = md->topics[0].partition_cnt;
                        rd_kafka_metadata_destroy(md);
                }
                if (n <= 0)
                        sleep_ms(200);
        }
        rd_kafka_topic_destroy(t);
        if (n <= 0 || n > 64)
                die("no usable metadata for %s", topic);
        return n;
}

static void create_topics(const char *brokers, const char *const *topics, size_t n, bool compact)
{
        rd_kafka_t *rk = client(brokers, RD_KAFKA_PRODUCER);
        hub_err_t err = {0};
        const char *settings[] = {"cleanup.policy", "compact"};
        if (hub_kafka_create_topics(rk, topics, n, PARTS, compact ? settings : NULL,
                                    compact ? 1 : 0, 30000, &err))
                die("create topics: %s", err.msg);
        rd_kafka_destroy(rk);
}

/* ---- records and batches ---- */

static unsigned char *report(struct run *r, int idx, size_t *len)
{
        static const char *const tier_names[3] = {"PUBLIC", "SHARED", "RESTRICTED"};
        /* Twelve tax codes shared by every third record: entities change version across
         * batches and partitions. */
        static const char *const taxes[] = {"0312687878", "0100109106", "0301452923",
                                            "0100100079", "0100686174", "0302712571",
                                            "0304735637", "0309532909", "0310171837",
                                            "0313153436", "0314587632", "0101243150"};
        char rid[48], name[64];
        snprintf(rid, sizeof(rid), "F-%06d", idx);
        snprintf(name, sizeof(name), "Hộ kinh doanh %d", idx % 17);
        json_t *ids = json_array();
        if (idx % 3 == 0)
                json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "TAX_CODE", "value",
                                                     taxes[(idx / 3) % 12]));
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:o, s:[s], s:{s:s, s:[]}}",
                              "record_id", rid, "agency", r->code, "reported_at",
                              (json_int_t)1749600000000, "subject_kind", "ORGANIZATION",
                              "names", "value", name, "kind", "LEGAL", "identifiers", ids,
                              "violation_categories", "HANG_GIA", "sensitivity", "tier",
                              tier_names[idx % 3], "recipients");
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (!j || hub_report_encode_json(codec, j, &out, len, &err))
                die("encode report: %s", err.msg);
        json_decref(j);
        return out;
}

/* Produce n more signed batches of PER records, spread over the partitions; not flushed. */
static void produce(struct run *r, int n)
{
        for (int b = 0; b < n; b++, r->batches++) {
                hub_batch_header_t h = {.agency = r->code,
                                        .key_id = r->key_id,
                                        .producer_id = "fault",
                                        .batch_seq = r->batches,
                                        .created_at_ms = (int64_t)time(NULL) * 1000};
                memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
                hub_batch_builder_t *bb = NULL;
                hub_err_t err = {0};
                unsigned char *out = NULL;
                size_t len;
                if (hub_batch_builder_new(&h, NULL, &bb, &err))
                        die("batch: %s", err.msg);
                for (int i = 0; i < PER; i++) {
                        size_t rl;
                        unsigned char *rec = report(r, r->batches * PER + i, &rl);
                        if (hub_batch_builder_add(bb, rec, rl, &err))
                                die("batch: %s", err.msg);
                        free(rec);
                }
                if (hub_batch_builder_finish(bb, r->sk, 64, &out, &len, &err))
                        die("batch: %s", err.msg);
                hub_batch_builder_free(bb);
                rd_kafka_resp_err_t e;
                while ((e = rd_kafka_producev(r->producer, RD_KAFKA_V_TOPIC(r->topic),
                                              RD_KAFKA_V_PARTITION(r->batches % PARTS),
                                              RD_KAFKA_V_VALUE(out, len),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(r->producer, 100);
                if (e)
                        die("produce: %s", rd_kafka_err2str(e));
                free(out);
                rd_kafka_poll(r->producer, 0);
        }
}

static void flush(struct run *r)
{
        while (rd_kafka_flush(r->producer, 10000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
                printf("  waiting for the broker to take %d batches\n",
                       rd_kafka_outq_len(r->producer));
}

/* ---- a run ---- */

static void run_init(struct run *r, const char *fault, int n, const char *brokers,
                     rd_kafka_mock_cluster_t *mock)
{
        memset(r, 0, sizeof(*r));
        r->brokers = brokers;
        r->mock = mock;
        hub_test_fresh_db("fault", r->dsn, sizeof(r->dsn));
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        if (hub_store_open(r->dsn, &s, &err) || hub_store_migrate(s, NULL, &err))
                die("%s", err.msg);
        hub_store_close(s);
        r->db = PQconnectdb(r->dsn);
        /* Agency codes, topic and group of this run alone. */
        snprintf(r->code, sizeof(r->code), "F%ld-%s-%d", (long)getpid(), fault, n);
        for (char *c = r->code; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 'a' + 'A');
        snprintf(r->topic, sizeof(r->topic), "agency.%s.reports", r->code);
        snprintf(r->key_id, sizeof(r->key_id), "%s/1", r->code);
        snprintf(r->group, sizeof(r->group), "fault-%ld-%s-%d", (long)getpid(), fault, n);
        snprintf(r->regex, sizeof(r->regex), "^agency\\.%s\\.reports$", r->code);
        crypto_sign_keypair(r->pk, r->sk);
        char q[512], hex[65];
        sodium_bin2hex(hex, sizeof(hex), r->pk, 32);
        snprintf(q, sizeof(q),
                 "INSERT INTO agencies (code, name) VALUES ('%s', 'fault');"
                 "INSERT INTO agency_keys (agency, key_id, public_key, valid_from) VALUES "
                 "('%s', '%s', '\\x%s', '2020-01-01')",
                 r->code, r->code, r->key_id, hex);
        exec_sql(r, q);
        if (mock) {
                if (rd_kafka_mock_topic_create(mock, r->topic, PARTS, 3))
                        die("mock topic %s", r->topic);
        } else {
                const char *t[1] = {r->topic};
                create_topics(brokers, t, 1, false);
        }
        r->producer = client(brokers, RD_KAFKA_PRODUCER);
        for (int t = 0; t < 3; t++) {
                r->tier_parts[t] = partitions_of(r->producer, tiers[t]);
                for (int p = 0; p < r->tier_parts[t]; p++)
                        r->ends[t][p] = end_of(r->producer, tiers[t], p);
        }
}

/* The run's agency topic goes when the run is done: hubd instances of other tests that
 * subscribe to every agency topic (the main job) must not find the suite's messages. */
static void delete_topic(struct run *r)
{
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(r->topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(r->producer);
        rd_kafka_DeleteTopics(r->producer, &dt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        const rd_kafka_DeleteTopics_result_t *res = ev ? rd_kafka_event_DeleteTopics_result(ev)
                                                       : NULL;
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = res ? rd_kafka_DeleteTopics_result_topics(res, &n)
                                                 : NULL;
        if (!n || rd_kafka_topic_result_error(tr[0]))
                printf("  could not delete topic %s: %s\n", r->topic,
                       n ? rd_kafka_topic_result_error_string(tr[0]) : "no answer");
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_DeleteTopic_destroy(dt);
}

static void run_done(struct run *r)
{
        if (!r->mock)
                delete_topic(r);
        rd_kafka_destroy(r->producer);
        PQfinish(r->db);
        hub_test_drop_db(r->dsn);
}

static void log_path(struct run *r, int no, char *out, size_t cap)
{
        snprintf(out, cap, "%s/%s.hubd%d.log", tmpdir, r->group, no);
}

/* Start hubd (its stderr to a file of its own); failpoint "NAME:N" or NULL; extra: one more
 * argument pair or NULL. Returns its pid; *no is its log number. */
static pid_t hubd_start(struct run *r, const char *failpoint, const char *level, int *no)
{
        char log[256];
        int n = r->hubd_no++;
        log_path(r, n, log, sizeof(log));
        if (no)
                *no = n;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                if (!freopen(log, "w", stderr))
                        _exit(126);
                if (failpoint)
                        setenv("HUB_FAILPOINT", failpoint, 1);
                else
                        unsetenv("HUB_FAILPOINT");
                execl(hubd_path, hubd_path, "--dsn", r->dsn, "--brokers", r->brokers, "--group",
                      r->group, "--topics", r->regex, "--hub-key", keyfile, "--exit-when-idle",
                      "2", "--log-level", level ? level : "info", "--retry-max-ms", "1000",
                      "--stall-timeout", "5", "-X", "session.timeout.ms=6000", "-X",
                      "log_level=4", (char *)NULL);
                _exit(127);
        }
        return pid;
}

static void show_log(struct run *r, int no)
{
        char log[256], cmd[400];
        log_path(r, no, log, sizeof(log));
        snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' | sed 's/^/  | /'", log);
        if (system(cmd) != 0)
                printf("  (no log)\n");
}

/* Wait for hubd; true when it stopped cleanly (exit 0). */
static bool hubd_wait(struct run *r, pid_t pid, int no, const char *what)
{
        int status;
        if (waitpid(pid, &status, 0) != pid)
                die("waitpid");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return true;
        problem("%s: hubd %s %d", what, WIFEXITED(status) ? "exited" : "killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        show_log(r, no);
        return false;
}

/* Whether hubd was killed by SIGKILL (a failpoint, or us). */
static bool hubd_killed(pid_t pid)
{
        int status;
        if (waitpid(pid, &status, 0) != pid)
                die("waitpid");
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* hubd until idle, as the recovery after a fault. */
static void hubd_until_idle(struct run *r, const char *what)
{
        int no;
        pid_t pid = hubd_start(r, NULL, NULL, &no);
        hubd_wait(r, pid, no, what);
}

static long long stored_batches(struct run *r)
{
        return scalar(r, "SELECT count(*) FROM batches");
}

/* Wait until hubd has stored at least n batches (or died). */
static void wait_stored(struct run *r, pid_t pid, long long n)
{
        while (stored_batches(r) < n) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        die("hubd ended before storing %lld batches", n);
                sleep_ms(20);
        }
}

/* ---- the oracle ---- */

struct kv {
        char *topic;
        unsigned char *key, *val;
        size_t klen, vlen;
        unsigned char (*seen)[32]; /* hashes of every value published under the key */
        size_t n_seen;
};

static bool oracle(struct run *r, const char *fault, struct totals *t)
{
        int before = failures;
        long long produced = (long long)r->batches * PER;
        /* Exactly once: every produced id stored, none twice, nothing else. */
        long long rows = scalar(r, "SELECT count(*) FROM records");
        long long distinct =
                scalar(r, "SELECT count(*) FROM (SELECT DISTINCT agency, record_id FROM records) x");
        long long mine = scalar(r,
                                "SELECT count(DISTINCT record_id) FROM records WHERE agency = '%s' "
                                "AND record_id ~ '^F-[0-9]{6}$' AND substr(record_id, 3)::int < %lld",
                                r->code, produced);
        long long dup_batches = scalar(r, "SELECT count(*) - count(DISTINCT (topic, partition, "
                                          "\"offset\")) FROM batches");
        long long lost = produced - mine;
        long long duplicated = (rows - distinct) + dup_batches;
        if (lost || duplicated || rows != produced)
                problem("%s: produced %lld, stored %lld rows (%lld distinct, %lld of ours), "
                        "batches stored twice %lld",
                        fault, produced, rows, distinct, mine, dup_batches);
        long long rejects = scalar(r, "SELECT count(*) FROM rejects");
        if (rejects)
                problem("%s: %lld rejects", fault, rejects);
        /* Stored offsets = last consumed + 1 = the end of each partition. */
        for (int p = 0; p < PARTS; p++) {
                long long next = scalar(r,
                                        "SELECT coalesce(max(next_offset), 0) FROM "
                                        "consumer_offsets WHERE topic = '%s' AND partition = %d",
                                        r->topic, p);
                int64_t end = end_of(r->producer, r->topic, p);
                if (next != end)
                        problem("%s: stored offset of %s[%d] is %lld, its end %lld", fault,
                                r->topic, p, next, (long long)end);
        }
        long long unsent = scalar(r, "SELECT count(*) FROM outbox WHERE sent_at IS NULL");
        if (unsent)
                problem("%s: %lld outbox rows unsent", fault, unsent);
        /* The published versions are the entities' current versions. */
        long long stale = scalar(r, "SELECT count(*) FROM entities e WHERE e.version <> "
                                    "(SELECT max(o.version) FROM outbox o WHERE o.entity_id = e.id "
                                    "AND o.topic LIKE 'hub.entities.%%')");
        if (stale)
                problem("%s: %lld entities whose latest outbox version is not current", fault,
                        stale);
        /* Latest value per key in each tier topic since the run began = the outbox row of the
         * latest version of that (topic, entity). */
        size_t nkv = 0, cap = 0;
        struct kv *kvs = NULL;
        rd_kafka_t *rk = client(r->brokers, RD_KAFKA_CONSUMER);
        for (int ti = 0; ti < 3; ti++) {
                for (int p = 0; p < r->tier_parts[ti]; p++) {
                        int64_t hi = end_of(rk, tiers[ti], p), at = r->ends[ti][p];
                        if (hi <= at)
                                continue;
                        rd_kafka_topic_t *tp = rd_kafka_topic_new(rk, tiers[ti], NULL);
                        if (rd_kafka_consume_start(tp, p, at))
                                die("consume_start");
                        while (at < hi) {
                                rd_kafka_message_t *m = rd_kafka_consume(tp, p, 5000);
                                if (!m)
                                        continue;
                                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        at = hi;
                                if (!m->err) {
                                        at = m->offset + 1;
                                        size_t i = 0;
                                        while (i < nkv &&
                                               !(strcmp(kvs[i].topic, tiers[ti]) == 0 &&
                                                 kvs[i].klen == m->key_len &&
                                                 memcmp(kvs[i].key, m->key, m->key_len) == 0))
                                                i++;
                                        if (i == nkv) {
                                                if (nkv == cap) {
                                                        cap = cap ? 2 * cap : 256;
                                                        kvs = realloc(kvs, cap * sizeof(*kvs));
                                                }
                                                kvs[nkv].topic = (char *)tiers[ti];
                                                kvs[nkv].key = malloc(m->key_len + 1);
                                                memcpy(kvs[nkv].key, m->key, m->key_len);
                                                kvs[nkv].klen = m->key_len;
                                                kvs[nkv].val = NULL;
                                                kvs[nkv].seen = NULL;
                                                kvs[nkv].n_seen = 0;
                                                nkv++;
                                        }
                                        free(kvs[i].val);
                                        kvs[i].val = malloc(m->len + 1);
                                        memcpy(kvs[i].val, m->payload, m->len);
                                        kvs[i].vlen = m->len;
                                        kvs[i].seen = realloc(kvs[i].seen,
                                                              (kvs[i].n_seen + 1) * 32);
                                        crypto_generichash(kvs[i].seen[kvs[i].n_seen++], 32,
                                                           m->payload, m->len, NULL, 0);
                                }
                                rd_kafka_message_destroy(m);
                        }
                        rd_kafka_consume_stop(tp, p);
                        rd_kafka_topic_destroy(tp);
                }
        }
        rd_kafka_destroy(rk);
        PGresult *res = PQexecParams(
                r->db,
                "SELECT DISTINCT ON (topic, key) topic, key, payload FROM outbox "
                "WHERE topic LIKE 'hub.entities.%' ORDER BY topic, key, version DESC, id DESC",
                0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                die("outbox: %s", PQresultErrorMessage(res));
        int views = PQntuples(res), differ = 0, missing = 0, stale_keys = 0;
        for (int i = 0; i < views; i++) {
                const char *topic = PQgetvalue(res, i, 0);
                size_t klen = (size_t)PQgetlength(res, i, 1), vlen = (size_t)PQgetlength(res, i, 2);
                const char *key = PQgetvalue(res, i, 1), *val = PQgetvalue(res, i, 2);
                size_t j = 0;
                while (j < nkv && !(strcmp(kvs[j].topic, topic) == 0 && kvs[j].klen == klen &&
                                    memcmp(kvs[j].key, key, klen) == 0))
                        j++;
                if (j == nkv) {
                        missing++;
                } else if (kvs[j].vlen != vlen || memcmp(kvs[j].val, val, vlen) != 0) {
                        unsigned char h[32];
                        crypto_generichash(h, 32, (const unsigned char *)val, vlen, NULL, 0);
                        bool published = false;
                        for (size_t k = 0; k < kvs[j].n_seen; k++)
                                published |= memcmp(kvs[j].seen[k], h, 32) == 0;
                        if (published)
                                stale_keys++;
                        else
                                differ++;
                }
        }
        PQclear(res);
        if (missing || differ || (size_t)views != nkv)
                problem("%s: entity views: %d in the database, %zu keys published, %d missing, "
                        "%d with another latest value",
                        fault, views, nkv, missing, differ);
        /* The latest version was published, but an older copy came after it (a stalled
         * instance's late delivery): compaction would keep the older one. */
        if (stale_keys)
                problem("%s: %d keys end with an older version than the database's entity view "
                        "(their latest version was published before it)",
                        fault, stale_keys);
        for (size_t i = 0; i < nkv; i++) {
                free(kvs[i].seen);
                free(kvs[i].key);
                free(kvs[i].val);
        }
        free(kvs);
        t->runs++;
        t->produced += produced;
        t->stored += distinct;
        t->lost += lost;
        t->duplicated += duplicated;
        printf("  run %ld: produced=%lld stored=%lld lost=%lld duplicated=%lld entity_keys=%d "
               "%s\n",
               t->runs, produced, distinct, lost, duplicated, views,
               failures == before ? "ok" : "FAILED");
        fflush(stdout);
        return failures == before;
}

/* ---- the faults ---- */

/* hubd killed at a deterministic failpoint, twice per run at random hits, then run to idle. */
static void fault_failpoint(struct run *r, const char *point)
{
        produce(r, 24);
        flush(r);
        for (int k = 0; k < 2; k++) {
                /* before-commit and after-commit are hit once per batch; during-publish once per
                 * outbox row delivered (several per batch). */
                char fp[64];
                snprintf(fp, sizeof(fp), "%s:%d", point, rnd(1, 10));
                printf("  HUB_FAILPOINT=%s\n", fp);
                int no;
                pid_t pid = hubd_start(r, fp, NULL, &no);
                if (!hubd_killed(pid)) {
                        problem("hubd was not killed at failpoint %s", fp);
                        show_log(r, no);
                }
                produce(r, 6);
                flush(r);
        }
        hubd_until_idle(r, "after the failpoints");
}

/* hubd SIGKILLed at random times while batches keep coming. */
static void fault_hubd_sigkill(struct run *r)
{
        produce(r, 20);
        flush(r);
        for (int k = 0; k < 3; k++) {
                pid_t pid = hubd_start(r, NULL, NULL, NULL);
                int64_t until = now_ms() + rnd(1500, 4000);
                while (now_ms() < until) {
                        produce(r, 1);
                        sleep_ms(100);
                }
                printf("  SIGKILL hubd after %lld batches stored\n", stored_batches(r));
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        flush(r);
        hubd_until_idle(r, "after SIGKILLs");
}

/* hubd until everything produced is stored: the one that survived the fault, then, if it
 * became idle before the last batches reached the broker, once more. */
static void finish(struct run *r, pid_t pid, int no, const char *what)
{
        flush(r);
        if (hubd_wait(r, pid, no, what))
                hubd_until_idle(r, what);
}

/* The broker SIGKILLed during ingest and restarted; batches produced while it is down. */
static void fault_broker_kill(struct run *r)
{
        produce(r, 30);
        flush(r);
        int no;
        pid_t pid = hubd_start(r, NULL, NULL, &no);
        wait_stored(r, pid, rnd(1, 20));
        printf("  SIGKILL the broker after %lld batches stored\n", stored_batches(r));
        local("kill.sh", "kafka");
        produce(r, 10);
        sleep_ms(rnd(0, 3000));
        local("start.sh", NULL);
        finish(r, pid, no, "after the broker restart");
}

/* PostgreSQL stopped with -m immediate during ingest and restarted. */
static void fault_postgres_kill(struct run *r)
{
        produce(r, 30);
        flush(r);
        int no;
        pid_t pid = hubd_start(r, NULL, NULL, &no);
        wait_stored(r, pid, rnd(1, 20));
        printf("  pg_ctl stop -m immediate after %lld batches stored\n", stored_batches(r));
        PQfinish(r->db);
        r->db = NULL;
        local("kill.sh", "postgres");
        produce(r, 10);
        sleep_ms(rnd(0, 3000));
        local("start.sh", NULL);
        finish(r, pid, no, "after the PostgreSQL restart");
}

static long rss_kb(pid_t pid)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
        FILE *f = fopen(path, "r");
        long kb = -1;
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "VmRSS:", 6) == 0)
                        kb = atol(line + 6);
        if (f)
                fclose(f);
        return kb;
}

static bool log_has(struct run *r, int no, const char *text, long from)
{
        char path[256];
        log_path(r, no, path, sizeof(path));
        size_t len;
        char *buf = (char *)hub_test_read_file(path, &len);
        bool found = buf && (size_t)from <= len && strstr(buf + from, text);
        free(buf);
        return found;
}

/* PostgreSQL away for a while under load: hubd waits (says so), stays bounded, resumes. */
static void fault_postgres_outage(struct run *r)
{
        const char *s = getenv("HUB_FAULT_PG_OUTAGE_S");
        const char *l = getenv("HUB_FAULT_RSS_LIMIT_MB");
        int outage = s ? atoi(s) : 25, limit_mb = l ? atoi(l) : 64;
        produce(r, 20);
        flush(r);
        int no;
        pid_t pid = hubd_start(r, NULL, NULL, &no);
        wait_stored(r, pid, rnd(1, 15));
        long long offsets = scalar(r, "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets");
        PQfinish(r->db);
        r->db = NULL;
        local("kill.sh", "postgres");
        long rss0 = rss_kb(pid), rss_max = rss0;
        printf("  PostgreSQL down for %d s at offset sum %lld; hubd VmRSS %ld kB\n", outage,
               offsets, rss0);
        /* Load meanwhile: 100 batches (1000 records) it must hold back, not buffer. */
        int64_t until = now_ms() + outage * 1000;
        for (int i = 0; now_ms() < until; i++) {
                if (i < 100)
                        produce(r, 1);
                long kb = rss_kb(pid);
                if (kb < 0) {
                        problem("hubd ended while PostgreSQL was down");
                        show_log(r, no);
                        break;
                }
                if (kb > rss_max)
                        rss_max = kb;
                sleep_ms(200);
        }
        flush(r);
        printf("  hubd VmRSS at most %ld kB during the outage (+%ld kB, limit +%d MB)\n", rss_max,
               rss_max - rss0, limit_mb);
        if (rss_max - rss0 > (long)limit_mb * 1024)
                problem("hubd grew by %ld kB while PostgreSQL was down", rss_max - rss0);
        if (!log_has(r, no, "action=retry", 0) ||
            !log_has(r, no, "consumption paused: waiting for the database", 0))
                problem("hubd's log does not say it paused to wait for the database");
        local("start.sh", NULL);
        finish(r, pid, no, "after the PostgreSQL outage");
        long long now = scalar(r, "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets");
        if (now <= offsets)
                problem("nothing stored after PostgreSQL came back");
}

/* A hubd stalled (SIGSTOP) past its session timeout while a second one takes its partitions
 * and stores everything; after SIGCONT the stale one must commit nothing until it is given
 * partitions again.
 *
 * Outbox rows that the stalled instance had handed to its producer must not reach the topics
 * after the second instance published newer versions: B's init_transactions() fences A's
 * producer (same transactional.id), so A's late sends and commit fail and A stops publishing.
 * The oracle fails on any key whose last value is older than the database's entity view. */
static void fault_stalled(struct run *r)
{
        produce(r, 40);
        flush(r);
        int a_no;
        pid_t a = hubd_start(r, NULL, "debug", &a_no);
        wait_stored(r, a, rnd(1, 25));
        kill(a, SIGSTOP);
        printf("  SIGSTOP hubd A after %lld batches stored\n", stored_batches(r));
        produce(r, 10);
        flush(r);
        int b_no;
        pid_t b = hubd_start(r, NULL, NULL, &b_no);
        hubd_wait(r, b, b_no, "the second instance");
        char path[256];
        log_path(r, a_no, path, sizeof(path));
        size_t len = 0;
        free(hub_test_read_file(path, &len));
        printf("  B stored everything (%lld batches); SIGCONT A\n", stored_batches(r));
        kill(a, SIGCONT);
        hubd_wait(r, a, a_no, "the stalled instance");
        /* What A logged after SIGCONT and before its next assignment. */
        size_t all;
        char *buf = (char *)hub_test_read_file(path, &all);
        char *after = buf && len <= all ? buf + len : NULL;
        char *next = after ? strstr(after, "partition assigned") : NULL;
        if (next)
                *next = 0;
        if (after && strstr(after, "batch stored"))
                problem("the stalled instance stored a batch after SIGCONT without an assignment");
        int fenced = 0;
        for (char *p = after; p && (p = strstr(p, "another instance consumed it")); p++)
                fenced++;
        bool lost = after && (strstr(after, "assignment lost") || strstr(after, "revoked"));
        int txn_fenced = 0;
        for (char *p = after; p && (p = strstr(p, "action=stop_publishing")); p++)
                txn_fenced++;
        printf("  A after SIGCONT: %d fenced commits, %d fenced outbox transactions, "
               "assignment %s\n",
               fenced, txn_fenced, lost ? "lost/revoked" : "not reported lost");
        free(buf);
}

/* ---- mock cluster ---- */

static rd_kafka_t *mock_owner;

static rd_kafka_mock_cluster_t *mock_new(const char **bootstraps)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
        mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!mock_owner)
                die("%s", errstr);
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mock_owner, 3);
        if (!mc)
                die("could not start the mock cluster");
        for (int t = 0; t < 3; t++)
                rd_kafka_mock_topic_create(mc, tiers[t], PARTS, 3);
        rd_kafka_mock_topic_create(mc, "hub.rejects", PARTS, 3);
        rd_kafka_mock_topic_create(mc, "hub.log", 1, 3);
        *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
        return mc;
}

static void mock_free(rd_kafka_mock_cluster_t *mc)
{
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mock_owner);
}

enum mock_fault { LEADER_LOSS, BROKER_DOWN, REQUEST_ERRORS };

static void fault_mock(struct run *r, enum mock_fault f)
{
        produce(r, 20);
        flush(r);
        int no;
        pid_t pid = hubd_start(r, NULL, NULL, &no);
        wait_stored(r, pid, rnd(1, 10));
        for (int k = 0; k < 4; k++) {
                produce(r, 4);
                switch (f) {
                case LEADER_LOSS: {
                        /* Leaders of the agency and tier partitions move to another broker. */
                        for (int p = 0; p < PARTS; p++) {
                                rd_kafka_mock_partition_set_leader(r->mock, r->topic, p,
                                                                   rnd(1, 3));
                                rd_kafka_mock_partition_set_leader(r->mock, tiers[rnd(0, 2)], p,
                                                                   rnd(1, 3));
                        }
                        printf("  leaders moved\n");
                        break;
                }
                case BROKER_DOWN: {
                        int b = rnd(1, 3), ms = rnd(300, 2000);
                        printf("  broker %d down for %d ms\n", b, ms);
                        rd_kafka_mock_broker_set_down(r->mock, b);
                        sleep_ms(ms);
                        rd_kafka_mock_broker_set_up(r->mock, b);
                        break;
                }
                case REQUEST_ERRORS: {
                        /* API keys: Produce 0, Fetch 1, OffsetCommit 8. */
                        int n = rnd(1, 4);
                        printf("  %d errors each on Fetch, Produce and OffsetCommit\n", n);
                        for (int i = 0; i < n; i++) {
                                rd_kafka_mock_push_request_errors(
                                        r->mock, 1, 1, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
                                rd_kafka_mock_push_request_errors(
                                        r->mock, 0, 1, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
                                rd_kafka_mock_push_request_errors(
                                        r->mock, 8, 1, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
                        }
                        break;
                }
                }
                sleep_ms(rnd(200, 1500));
        }
        finish(r, pid, no, "after the mock cluster's faults");
}

/* ---- main ---- */

static const char *const faults[] = {
        "failpoint-before-commit", "failpoint-after-commit", "failpoint-during-publish",
        "hubd-sigkill",            "broker-kill",            "postgres-kill",
        "postgres-outage",         "stalled-hubd",           "mock-leader-loss",
        "mock-broker-down",        "mock-request-errors",
};

static int default_runs(const char *f)
{
        if (strcmp(f, "postgres-outage") == 0 || strcmp(f, "stalled-hubd") == 0)
                return 1;
        return 2;
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: fault_suite HUBD_BINARY SOURCE_ROOT FAULT\n");
                return 2;
        }
        hubd_path = argv[1];
        source_root = argv[2];
        const char *fault = argv[3];
        bool known = false;
        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
                known |= strcmp(fault, faults[i]) == 0;
        if (!known) {
                fprintf(stderr, "fault_suite: unknown fault %s\n", fault);
                return 2;
        }
        const char *brokers = hub_test_service("HUB_KAFKA_BROKERS");
        hub_test_service("HUB_PG_DSN");
        bool mock = strncmp(fault, "mock-", 5) == 0;
        if (strcmp(fault, "broker-kill") == 0 || strncmp(fault, "postgres-", 9) == 0)
                require_local_services();
        const char *s = getenv("HUB_FAULT_SEED");
        seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
        srand(seed);
        const char *rs = getenv("HUB_FAULT_RUNS");
        int runs = rs ? atoi(rs) : default_runs(fault);
        printf("fault=%s seed=%u runs=%d (HUB_FAULT_SEED=%u reproduces it)\n", fault, seed, runs,
               seed);
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        if (hub_report_codec_new(&codec, &err))
                die("%s", err.msg);
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/hub-fault-%ld", (long)getpid());
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", tmpdir);
        if (system(cmd) != 0)
                die("mkdir %s", tmpdir);
        snprintf(keyfile, sizeof(keyfile), "%s/hub.key", tmpdir);
        hub_key_t key;
        if (hub_key_generate("HUB", "HUB/1", &key, &err) ||
            hub_key_write_secret(&key, keyfile, &err))
                die("%s", err.msg);
        hub_key_wipe(&key);
        if (!mock) {
                create_topics(brokers, tiers, 3, true);
                const char *other[] = {"hub.rejects", "hub.log"};
                create_topics(brokers, other, 2, false);
        }

        struct totals t = {0};
        for (int n = 0; n < runs; n++) {
                struct run r;
                rd_kafka_mock_cluster_t *mc = NULL;
                const char *bs = brokers;
                if (mock)
                        mc = mock_new(&bs);
                run_init(&r, fault, n, bs, mc);
                if (strncmp(fault, "failpoint-", 10) == 0)
                        fault_failpoint(&r, fault + 10);
                else if (strcmp(fault, "hubd-sigkill") == 0)
                        fault_hubd_sigkill(&r);
                else if (strcmp(fault, "broker-kill") == 0)
                        fault_broker_kill(&r);
                else if (strcmp(fault, "postgres-kill") == 0)
                        fault_postgres_kill(&r);
                else if (strcmp(fault, "postgres-outage") == 0)
                        fault_postgres_outage(&r);
                else if (strcmp(fault, "stalled-hubd") == 0)
                        fault_stalled(&r);
                else if (strcmp(fault, "mock-leader-loss") == 0)
                        fault_mock(&r, LEADER_LOSS);
                else if (strcmp(fault, "mock-broker-down") == 0)
                        fault_mock(&r, BROKER_DOWN);
                else
                        fault_mock(&r, REQUEST_ERRORS);
                oracle(&r, fault, &t);
                run_done(&r);
                if (mc)
                        mock_free(mc);
        }
        printf("fault=%s runs=%ld produced=%ld stored=%ld lost=%ld duplicated=%ld\n", fault,
               t.runs, t.produced, t.stored, t.lost, t.duplicated);
        if (!failures) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", tmpdir);
        } else {
                printf("hubd logs kept in %s\n", tmpdir);
        }
        hub_report_codec_free(codec);
        return failures ? 1 : 0;
}
