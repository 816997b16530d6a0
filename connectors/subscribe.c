/* hub-subscribe: materialise one tier of the hub's shared database (hub.entities.<tier>) into
 * tables of the agency's own PostgreSQL, verifying the hub's signature on every message.
 *
 * Exactly once into the agency's database (DESIGN contract 5): the messages of one poll batch,
 * their effects and the next offsets are committed in ONE transaction, and the consumer starts
 * from the offsets stored there. Kafka's committed offsets are never used, so the consumer
 * assigns every partition itself and needs no consumer group (and no group ACL). */
#include <hub/entity.h>
#include <hub/kafka.h>
#include <hub/kafka_auth.h>
#include <hub/keyfile.h>
#include <hub/log.h>
#include <hub/store.h>
#include <hub/subscriber.h>

#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMP "subscribe"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
        (void)sig;
        if (stopping)
                _Exit(1); /* a second signal: stop now, the open transaction rolls back */
        stopping = 1;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: hub-subscribe --tier public|shared|restricted (--hub-key FILE |\n"
                "                     --hub-keys FILE)... [options]\n"
                "\n"
                "Consume the hub's entity topic of one tier from the beginning, verify the hub's\n"
                "signature on every message, and keep tables of your own PostgreSQL up to date:\n"
                "  hub_entities (entity_id, version, kind, tier, names, identifiers, categories,\n"
                "                sources, merged_into, updated_at, split_from)\n"
                "                                                    the latest version of each\n"
                "  hub_entity_identifiers (entity_id, type, value)   indexed by (type, value)\n"
                "  hub_subscriber_rejects                            refused messages, by reason\n"
                "  hub_subscriber_offsets, hub_entity_tombstones     bookkeeping\n"
                "A withdrawn entity is deleted; a merged one stays as a row with merged_into set\n"
                "and no identifiers; one an analyst split off names the entity in split_from,\n"
                "and the entity it left is republished without the records it took.\n"
                "Restarting resumes where the last commit ended.\n"
                "\n"
                "options:\n"
                "  --tier TIER            public, shared or restricted (topic hub.entities.TIER)\n"
                "  --hub-key FILE         a hub public key file (hub-ed25519-public-v1 ...),\n"
                "                         trusted without a window; repeat it for several\n"
                "  --hub-keys FILE        a key set: one public key line a line, each with an\n"
                "                         optional window 'from=TIME until=TIME' (RFC 3339) on\n"
                "                         the entity's signed updated_at, so the hub's key can\n"
                "                         rotate with an overlap; '#' starts a comment\n"
                "  --dsn CONNINFO         your PostgreSQL (default $HUB_SUBSCRIBER_DSN, then\n"
                "                         $HUB_PG_DSN)\n"
                "  --brokers LIST         Kafka bootstrap servers (default $HUB_KAFKA_BROKERS)\n"
                "  --topic NAME           read this topic instead of hub.entities.TIER\n"
                "  --batch N              messages per transaction (default 500)\n"
                "  -X KEY=VALUE           a librdkafka setting (not sasl.password)\n"
                HUB_KAFKA_AUTH_HELP
                "                         The consumer group is the Kafka user (else\n"
                "                         hub-subscribe): nothing is committed to it, but the\n"
                "                         broker's ACLs name it\n"
                "  --once                 exit once every partition has been read to its end\n"
                "  --exit-when-idle SECS  exit when at the end of every partition and no message\n"
                "                         came for SECS seconds\n"
                "  --log-level LEVEL      debug, info (default), warn, error\n"
                "  -h, --help             this text\n"
                "\n"
                "exit status: 0 done, 1 failure, 2 usage\n");
}

struct opts {
        const char *tier, *dsn, *brokers, *topic;
        const char *key_files[HUB_KEYSET_MAX], *keyset_files[HUB_KEYSET_MAX];
        int n_key_files, n_keyset_files;
        long batch;
        bool once;
        double idle_secs;
        const char *kafka_kv[32];
        int n_kafka;
        hub_kafka_auth_t auth;
};

struct counts {
        long messages, outcome[HUB_SUB__COUNT], rejected;
};

struct run {
        struct opts o;
        hub_store_t *store;
        hub_entity_codec_t *codec;
        hub_keyset_t keys;
        rd_kafka_t *rk;
        char topic[256];
        char tier_upper[16];
        int32_t nparts;
        int64_t *stored; /* next offset stored in the database, -1 none */
        int64_t *next;   /* next offset after what this transaction applied */
        bool *eof;
        bool in_txn;
        long in_txn_msgs;
        struct counts c;
        char auth_error[256]; /* the brokers refused our credentials: no point waiting */
};

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
        static const struct option longs[] = {
                {"tier", required_argument, NULL, 't'},
                {"hub-key", required_argument, NULL, 'k'},
                {"hub-keys", required_argument, NULL, 'K'},
                {"dsn", required_argument, NULL, 'd'},
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 'T'},
                {"batch", required_argument, NULL, 'B'},
                {"once", no_argument, NULL, 'o'},
                {"exit-when-idle", required_argument, NULL, 'i'},
                {"log-level", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                HUB_KAFKA_AUTH_LONGOPTS,
                {NULL, 0, NULL, 0},
        };
        o->batch = 500;
        o->idle_secs = -1;
        int ch;
        char *end;
        while ((ch = getopt_long(argc, argv, "hX:", longs, NULL)) != -1) {
                if (hub_kafka_auth_option(&o->auth, ch, optarg))
                        continue;
                switch (ch) {
                case 't': o->tier = optarg; break;
                case 'k':
                case 'K':
                        if ((ch == 'k' ? o->n_key_files : o->n_keyset_files) ==
                            HUB_KEYSET_MAX) {
                                fprintf(stderr, "hub-subscribe: at most %d --hub-key and "
                                                "--hub-keys each\n",
                                        HUB_KEYSET_MAX);
                                return 2;
                        }
                        if (ch == 'k')
                                o->key_files[o->n_key_files++] = optarg;
                        else
                                o->keyset_files[o->n_keyset_files++] = optarg;
                        break;
                case 'd': o->dsn = optarg; break;
                case 'b': o->brokers = optarg; break;
                case 'T': o->topic = optarg; break;
                case 'B':
                        o->batch = strtol(optarg, &end, 10);
                        if (*end || o->batch < 1 || o->batch > 100000) {
                                fprintf(stderr, "hub-subscribe: --batch must be 1-100000\n");
                                return 2;
                        }
                        break;
                case 'o': o->once = true; break;
                case 'i':
                        o->idle_secs = strtod(optarg, &end);
                        if (*end || !(o->idle_secs >= 0)) {
                                fprintf(stderr, "hub-subscribe: --exit-when-idle takes seconds "
                                                ">= 0\n");
                                return 2;
                        }
                        break;
                case 'l': {
                        int lv = hub_log_level_from_name(optarg);
                        if (lv < 0) {
                                fprintf(stderr, "hub-subscribe: unknown log level %s\n", optarg);
                                return 2;
                        }
                        hub_log_set_level(lv);
                        break;
                }
                case 'X': {
                        if (!strchr(optarg, '=') || o->n_kafka == 32) {
                                fprintf(stderr, "hub-subscribe: -X takes KEY=VALUE (at most "
                                                "32)\n");
                                return 2;
                        }
                        char name[256];
                        hub_err_t xerr = {0};
                        snprintf(name, sizeof(name), "%.*s", (int)strcspn(optarg, "="), optarg);
                        if (hub_kafka_check_cli_setting(name, &xerr)) {
                                fprintf(stderr, "hub-subscribe: %s\n", xerr.msg);
                                return 2;
                        }
                        o->kafka_kv[o->n_kafka++] = optarg;
                        break;
                }
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "hub-subscribe: unexpected argument %s\n", argv[optind]);
                return 2;
        }
        if (!o->tier || (strcmp(o->tier, "public") && strcmp(o->tier, "shared") &&
                         strcmp(o->tier, "restricted"))) {
                fprintf(stderr, "hub-subscribe: --tier must be public, shared or restricted\n");
                return 2;
        }
        if (!o->n_key_files && !o->n_keyset_files) {
                fprintf(stderr, "hub-subscribe: --hub-key FILE or --hub-keys FILE is required\n");
                return 2;
        }
        if (!o->dsn)
                o->dsn = getenv("HUB_SUBSCRIBER_DSN");
        if (!o->dsn)
                o->dsn = getenv("HUB_PG_DSN");
        if (!o->brokers)
                o->brokers = getenv("HUB_KAFKA_BROKERS");
        hub_kafka_auth_env(&o->auth);
        if (!o->dsn || !o->brokers) {
                fprintf(stderr, "hub-subscribe: %s\n",
                        !o->dsn ? "no database: give --dsn or set HUB_SUBSCRIBER_DSN"
                                : "no broker: give --brokers or set HUB_KAFKA_BROKERS");
                return 2;
        }
        return 0;
}

static void log_rk(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        (void)rk;
        hub_log(level <= 3 ? HUB_LOG_ERROR : level <= 4 ? HUB_LOG_WARN : HUB_LOG_DEBUG,
                "kafka", buf, "facility=%s", fac);
}

static void on_kafka_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
        (void)rk;
        struct run *r = opaque;
        if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION && !r->auth_error[0])
                snprintf(r->auth_error, sizeof(r->auth_error), "%s", reason);
}

static int kafka_open(struct run *r, hub_err_t *err)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int rc;
        rd_kafka_conf_set_log_cb(conf, log_rk);
        if ((rc = hub_kafka_set(conf, "bootstrap.servers", r->o.brokers, err)) ||
            (rc = hub_kafka_set(conf, "enable.partition.eof", "true", err)) ||
            (rc = hub_kafka_set(conf, "enable.auto.commit", "false", err)) ||
            (rc = hub_kafka_set(conf, "enable.auto.offset.store", "false", err)) ||
            /* A stored offset below the log start (compaction deleted it) resumes at the
             * start: everything before it was superseded anyway. */
            (rc = hub_kafka_set(conf, "auto.offset.reset", "earliest", err)) ||
            (rc = hub_kafka_set(conf, "client.id", "hub-subscribe", err)) ||
            /* librdkafka's consumer refuses assign() without a group id, though nothing is
             * ever committed to the group (-X group.id=... to match a broker ACL). */
            (rc = hub_kafka_set(conf, "group.id",
                                r->o.auth.user && *r->o.auth.user ? r->o.auth.user
                                                                  : "hub-subscribe",
                                err)))
                goto fail;
        for (int i = 0; i < r->o.n_kafka; i++) {
                char kv[512];
                snprintf(kv, sizeof(kv), "%s", r->o.kafka_kv[i]);
                char *eq = strchr(kv, '=');
                *eq = '\0';
                if ((rc = hub_kafka_set(conf, kv, eq + 1, err)))
                        goto fail;
        }
        if ((rc = hub_kafka_auth_apply(conf, &r->o.auth, err)))
                goto fail;
        /* hubd writes the hub's topics transactionally; what a fenced publisher left in an
         * aborted transaction is never read (librdkafka's default, not left to -X). */
        if ((rc = hub_kafka_set(conf, "isolation.level", "read_committed", err)))
                goto fail;
        rd_kafka_conf_set_error_cb(conf, on_kafka_error);
        rd_kafka_conf_set_opaque(conf, r);
        r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!r->rk) {
                rc = hub_err_set(err, HUB_E_KAFKA, false, "kafka",
                                 "could not create the consumer: %s", errstr);
                goto fail;
        }
        return 0;
fail:
        rd_kafka_conf_destroy(conf);
        return rc;
}

/* Partition count of the topic; a missing topic is an error, not a wait: the hub creates its
 * topics at `hubctl init`, so a misspelt --topic should fail fast. */
static int topic_partitions(struct run *r, hub_err_t *err)
{
        rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, r->topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TRANSPORT;
        /* A broker that is still starting answers after a few seconds: retry for ~30 s. */
        for (int i = 0; i < 150 && !stopping && !r->auth_error[0]; i++) {
                /* Short steps, so that refused credentials end the wait at once. */
                e = rd_kafka_metadata(r->rk, 0, t, &md, 1000);
                rd_kafka_poll(r->rk, 0); /* serves on_kafka_error() */
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].partition_cnt > 0)
                        break;
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                        rd_kafka_metadata_destroy(md);
                        rd_kafka_topic_destroy(t);
                        return hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                           "TOPIC_AUTHORIZATION_FAILED: Kafka user %s may not "
                                           "read topic %s (the broker's ACLs let a subscriber "
                                           "read its own tiers only)",
                                           r->o.auth.user ? r->o.auth.user : "ANONYMOUS",
                                           r->topic);
                }
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                        rd_kafka_metadata_destroy(md);
                        rd_kafka_topic_destroy(t);
                        return hub_err_set(err, HUB_E_KAFKA, false, "kafka",
                                           "topic %s does not exist", r->topic);
                }
                if (md)
                        rd_kafka_metadata_destroy(md);
                md = NULL;
        }
        rd_kafka_topic_destroy(t);
        if (r->auth_error[0]) {
                if (md)
                        rd_kafka_metadata_destroy(md);
                return hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                   "the Kafka brokers refused the credentials of user %s: %s",
                                   r->o.auth.user ? r->o.auth.user : "(none)", r->auth_error);
        }
        if (!md)
                return hub_err_set(err, HUB_E_KAFKA, true, "kafka",
                                   "could not read the metadata of topic %s: %s", r->topic,
                                   rd_kafka_err2str(e));
        r->nparts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return 0;
}

static int assign_from_stored(struct run *r, hub_err_t *err)
{
        int rc = hub_sub_offsets_load(r->store, r->topic, r->nparts, r->stored, err);
        if (rc)
                return rc;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts);
        for (int32_t p = 0; p < r->nparts; p++) {
                r->next[p] = r->stored[p];
                r->eof[p] = false;
                rd_kafka_topic_partition_list_add(l, r->topic, p)->offset =
                        r->stored[p] >= 0 ? r->stored[p] : RD_KAFKA_OFFSET_BEGINNING;
                hub_log(HUB_LOG_INFO, COMP, "partition assigned",
                        "topic=%s partition=%" PRId32 " next_offset=%" PRId64, r->topic, p,
                        r->stored[p]);
        }
        rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e)
                return hub_err_set(err, HUB_E_KAFKA, false, "kafka", "could not assign: %s",
                                   rd_kafka_err2str(e));
        return 0;
}

static int commit_batch(struct run *r, hub_err_t *err)
{
        if (!r->in_txn)
                return 0;
        int rc = 0;
        for (int32_t p = 0; p < r->nparts && !rc; p++)
                if (r->next[p] != r->stored[p])
                        rc = hub_sub_offset_save(r->store, r->topic, p, r->stored[p],
                                                 r->next[p], err);
        if (!rc)
                rc = hub_store_commit(r->store, err);
        if (rc) {
                hub_store_rollback(r->store);
                r->in_txn = false;
                return rc;
        }
        for (int32_t p = 0; p < r->nparts; p++)
                r->stored[p] = r->next[p];
        r->in_txn = false;
        r->in_txn_msgs = 0;
        return 0;
}

/* Verify and apply one message inside the open transaction. A message that fails any check
 * is recorded as a reject (and counted), never applied; only a database error fails. */
static int handle(struct run *r, rd_kafka_message_t *m, hub_err_t *err)
{
        hub_err_t why = {0};
        avro_value_t *v;
        json_t *j = NULL;
        const char *reason = NULL;
        int rc = hub_entity_open_keyset(r->codec, m->payload, m->payload ? m->len : 0, 0,
                                        &r->keys, &v, NULL, &reason, &why);
        if (rc) {
        } else if ((rc = hub_entity_to_json(v, &j, &why))) {
                reason = hub_err_name(rc);
        } else {
                const char *id = json_string_value(json_object_get(j, "entity_id"));
                const char *tier = json_string_value(json_object_get(j, "tier"));
                /* The compaction key must be the entity id, or compaction would drop other
                 * entities' messages; and a view of another tier must never land in this
                 * tier's tables (restricted fields in a public subscriber's database). */
                if (!m->key || !id || m->key_len != strlen(id) ||
                    memcmp(m->key, id, m->key_len) != 0) {
                        reason = "KEY_MISMATCH";
                        hub_err_set(&why, HUB_E_MALFORMED, false, COMP,
                                    "kafka key is not the entity id %s", id ? id : "");
                } else if (!tier || strcmp(tier, r->tier_upper) != 0) {
                        reason = "WRONG_TOPIC";
                        hub_err_set(&why, HUB_E_MALFORMED, false, COMP,
                                    "entity %s of tier %s on the topic of tier %s", id,
                                    tier ? tier : "?", r->tier_upper);
                }
        }
        if (!reason) {
                enum hub_sub_outcome out;
                rc = hub_sub_apply(r->store, j, &out, err);
                json_decref(j);
                j = NULL;
                if (rc == -HUB_E_MALFORMED) {
                        /* Signed by the hub yet unusable: a reject, not a failure. */
                        why = *err;
                        reason = hub_err_name(rc);
                } else if (rc) {
                        return rc;
                } else {
                        r->c.outcome[out]++;
                        return 0;
                }
        }
        json_decref(j);
        r->c.rejected++;
        hub_log(HUB_LOG_WARN, COMP, why.msg,
                "topic=%s partition=%" PRId32 " offset=%" PRId64 " reason=%s", r->topic,
                m->partition, m->offset, reason);
        return hub_sub_reject(r->store, r->topic, m->partition, m->offset, reason, why.msg,
                              m->key, m->key ? m->key_len : 0, m->payload,
                              m->payload ? m->len : 0, err);
}

static void summary(struct run *r, const char *msg)
{
        hub_log(HUB_LOG_INFO, COMP, msg,
                "topic=%s messages=%ld inserted=%ld updated=%ld redirected=%ld deleted=%ld "
                "ignored=%ld rejected=%ld",
                r->topic, r->c.messages, r->c.outcome[HUB_SUB_INSERTED],
                r->c.outcome[HUB_SUB_UPDATED], r->c.outcome[HUB_SUB_REDIRECTED],
                r->c.outcome[HUB_SUB_DELETED], r->c.outcome[HUB_SUB_IGNORED], r->c.rejected);
}

static bool all_eof(const struct run *r)
{
        for (int32_t p = 0; p < r->nparts; p++)
                if (!r->eof[p])
                        return false;
        return true;
}

static int loop(struct run *r, hub_err_t *err)
{
        double last_msg = now_s(), last_progress = last_msg;
        int rc = 0;
        while (!stopping) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, r->in_txn ? 50 : 500);
                double t = now_s();
                if (t - last_progress >= 10) {
                        summary(r, "progress");
                        last_progress = t;
                }
                if (!m) {
                        /* Nothing more right now: commit what this batch holds. */
                        if ((rc = commit_batch(r, err)))
                                return rc;
                        if (all_eof(r) && (r->o.once ||
                                           (r->o.idle_secs >= 0 &&
                                            t - last_msg >= r->o.idle_secs)))
                                break;
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->partition >= 0 && m->partition < r->nparts)
                                r->eof[m->partition] = true;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err) {
                        bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL ||
                                     m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
                        hub_log(fatal ? HUB_LOG_ERROR : HUB_LOG_WARN, COMP,
                                rd_kafka_message_errstr(m), "topic=%s", r->topic);
                        rd_kafka_message_destroy(m);
                        if (fatal)
                                return hub_err_set(err, HUB_E_KAFKA, false, "kafka",
                                                   "could not consume %s", r->topic);
                        continue;
                }
                int32_t p = m->partition;
                if (p < 0 || p >= r->nparts || (r->next[p] >= 0 && m->offset < r->next[p])) {
                        /* Already applied in this transaction or before: cannot happen with
                         * assign(), but never apply a message twice. */
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (!r->in_txn) {
                        if ((rc = hub_store_begin(r->store, err))) {
                                rd_kafka_message_destroy(m);
                                return rc;
                        }
                        r->in_txn = true;
                }
                rc = handle(r, m, err);
                if (rc) {
                        hub_store_rollback(r->store);
                        r->in_txn = false;
                        rd_kafka_message_destroy(m);
                        return rc;
                }
                r->next[p] = m->offset + 1;
                r->eof[p] = false;
                r->c.messages++;
                last_msg = t;
                rd_kafka_message_destroy(m);
                if (++r->in_txn_msgs >= r->o.batch && (rc = commit_batch(r, err)))
                        return rc;
        }
        /* SIGTERM/SIGINT: finish the batch in hand and stop. */
        return commit_batch(r, err);
}

int main(int argc, char **argv)
{
        struct run r = {0};
        int status = parse_args(argc, argv, &r.o);
        if (status)
                return status;
        status = 1;
        hub_err_t err = {0};
        if (sodium_init() < 0) {
                fprintf(stderr, "hub-subscribe: could not initialise libsodium\n");
                return 1;
        }
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        snprintf(r.topic, sizeof(r.topic), "%s", r.o.topic ? r.o.topic : "");
        if (!r.o.topic)
                snprintf(r.topic, sizeof(r.topic), "hub.entities.%s", r.o.tier);
        for (size_t i = 0; r.o.tier[i] && i < sizeof(r.tier_upper) - 1; i++)
                r.tier_upper[i] = (char)(r.o.tier[i] - 'a' + 'A');

        for (int i = 0; i < r.o.n_key_files; i++) {
                hub_key_t k;
                int krc = hub_key_load(r.o.key_files[i], &k, &err);
                if (!krc)
                        krc = hub_keyset_add(&r.keys, &k, HUB_KEYSET_OPEN_FROM,
                                             HUB_KEYSET_OPEN_UNTIL, &err);
                hub_key_wipe(&k); /* only the public half is kept */
                if (krc) {
                        fprintf(stderr, "hub-subscribe: could not load hub key %s: %s\n",
                                r.o.key_files[i], err.msg);
                        goto out;
                }
        }
        for (int i = 0; i < r.o.n_keyset_files; i++) {
                if (hub_keyset_load(&r.keys, r.o.keyset_files[i], &err)) {
                        fprintf(stderr, "hub-subscribe: could not load the hub key set: %s\n",
                                err.msg);
                        goto out;
                }
        }
        char key_ids[HUB_KEYSET_MAX * (HUB_BATCH_MAX_ID_BYTES + 1) + 1] = "";
        for (size_t i = 0, o = 0; i < r.keys.n; i++)
                o += (size_t)snprintf(key_ids + o, sizeof(key_ids) - o, "%s%s", i ? "," : "",
                                      r.keys.keys[i].key_id);
        if (hub_entity_codec_new(&r.codec, &err) || hub_store_open(r.o.dsn, &r.store, &err) ||
            hub_sub_init(r.store, &err) || kafka_open(&r, &err) || topic_partitions(&r, &err))
                goto fail;
        r.stored = calloc((size_t)r.nparts, sizeof(*r.stored));
        r.next = calloc((size_t)r.nparts, sizeof(*r.next));
        r.eof = calloc((size_t)r.nparts, sizeof(*r.eof));
        if (!r.stored || !r.next || !r.eof) {
                hub_err_set(&err, HUB_E_NOMEM, false, "main", "out of memory");
                goto fail;
        }
        hub_log(HUB_LOG_INFO, COMP, "starting", "topic=%s partitions=%" PRId32 " hub_keys=%s",
                r.topic, r.nparts, key_ids);
        if (assign_from_stored(&r, &err) || loop(&r, &err))
                goto fail;
        summary(&r, stopping ? "stopped" : "done");
        printf("hub-subscribe: %s: %ld messages: %ld new, %ld updated, %ld redirected, "
               "%ld deleted, %ld ignored (duplicate or older), %ld rejected\n",
               r.topic, r.c.messages, r.c.outcome[HUB_SUB_INSERTED],
               r.c.outcome[HUB_SUB_UPDATED], r.c.outcome[HUB_SUB_REDIRECTED],
               r.c.outcome[HUB_SUB_DELETED], r.c.outcome[HUB_SUB_IGNORED], r.c.rejected);
        status = 0;
        goto out;
fail:
        fprintf(stderr, "hub-subscribe: %s\n", err.msg);
out:
        if (r.rk) {
                rd_kafka_consumer_close(r.rk);
                rd_kafka_destroy(r.rk);
        }
        hub_store_close(r.store);
        hub_entity_codec_free(r.codec);
        free(r.stored);
        free(r.next);
        free(r.eof);
        return status;
}
