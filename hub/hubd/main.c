/* hubd: the ingest daemon. Consumes agency.<code>.reports, stores each signed batch in one
 * PostgreSQL transaction with its consumer offset (hub/ingest.h), and publishes the outbox to
 * hub.entities.<tier>, hub.rejects and hub.log with a transactional producer (hub/outbox.h):
 * one Kafka transaction per group of rows, marked sent only once it committed.
 *
 * Wiring only: settings, signals, the Kafka clients and their callbacks, the loop, retries.
 * Exit codes: 0 stopped cleanly, 1 failure, 2 usage. */
#include <hub/batch.h>
#include <hub/bins.h>
#include <hub/config.h>
#include <hub/failpoint.h>
#include <hub/ident.h>
#include <hub/ingest.h>
#include <hub/kafka.h>
#include <hub/kafka_acl.h>
#include <hub/kafka_auth.h>
#include <hub/keyfile.h>
#include <hub/log.h>
#include <hub/mlog_store.h>
#include <hub/outbox.h>
#include <hub/store.h>

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const hub_setting_t settings[] = {
        {"dsn", HUB_CFG_STRING, NULL, false, true, "HUB_PG_DSN", 0, 0,
         "PostgreSQL conninfo of the hub's database"},
        {"brokers", HUB_CFG_STRING, NULL, false, false, "HUB_KAFKA_BROKERS", 0, 0,
         "Kafka bootstrap servers"},
        {"kafka_user", HUB_CFG_STRING, NULL, false, false, "HUB_KAFKA_USER", 0, 0,
         "SASL user name at the brokers (none: no SASL)"},
        {"kafka_password_file", HUB_CFG_PATH, NULL, false, true, "HUB_KAFKA_PASSWORD_FILE", 0, 0,
         "file whose first line is the SASL password, mode 0600 (else $HUB_KAFKA_PASSWORD)"},
        {"kafka_security_protocol", HUB_CFG_STRING, NULL, false, false,
         "HUB_KAFKA_SECURITY_PROTOCOL", 0, 0,
         "security.protocol (with a user, SASL_SSL unless set)"},
        {"kafka_sasl_mechanism", HUB_CFG_STRING, NULL, false, false, "HUB_KAFKA_SASL_MECHANISM",
         0, 0, "sasl.mechanism (SCRAM-SHA-512 unless set; PLAIN for librdkafka < 2.6.1)"},
        {"group", HUB_CFG_STRING, "hubd", false, false, NULL, 0, 0,
         "consumer group shared by every hubd instance"},
        {"topics", HUB_CFG_STRING, "^agency\\..*\\.reports$", false, false, NULL, 0, 0,
         "regular expression of the agency topics to consume"},
        {"hub_key", HUB_CFG_PATH, NULL, false, true, NULL, 0, 0,
         "the hub's secret signing key file (mode 0600 or 0400)"},
        {"max_batch_bytes", HUB_CFG_INT, "1048576", true, false, NULL, 64, 1 << 30,
         "largest signed batch accepted, in bytes"},
        {"max_records", HUB_CFG_INT, "10000", true, false, NULL, 1, 1000000,
         "most records accepted in one batch"},
        {"max_record_bytes", HUB_CFG_INT, "262144", true, false, NULL, 16, 1 << 30,
         "largest record accepted, in bytes"},
        {"outbox_batch", HUB_CFG_INT, "1000", true, false, NULL, 1, 100000,
         "outbox rows read and produced per round"},
        {"log_head_interval", HUB_CFG_INT, "60", true, false, NULL, 0, 86400,
         "sign a tree head of the hub's log when it grew and this many seconds passed (0: never)"},
        {"log_head_leaves", HUB_CFG_INT, "10000", true, false, NULL, 0, 1 << 30,
         "sign a tree head of the hub's log when this many leaves were added (0: never)"},
        {"retry_max_ms", HUB_CFG_INT, "5000", true, false, NULL, 10, 600000,
         "longest wait between retries of a database error"},
        {"log_level", HUB_CFG_STRING, "info", true, false, NULL, 0, 0,
         "debug, info, warn or error"},
        {"noisy_threshold", HUB_CFG_INT, "5", false, false, NULL, 1, 1000000,
         "entities an identifier value may appear on before it is noisy and stops merging"},
        {"stall_timeout", HUB_CFG_INT, "30", false, false, NULL, 0, 86400,
         "seconds a transaction, or the publisher's connection, may sit idle before PostgreSQL "
         "ends it: fences a stalled instance and frees its locks for the others (0: never)"},
        {"publisher_id", HUB_CFG_STRING, NULL, false, false, NULL, 0, 0,
         "suffix of the outbox publisher's Kafka transactional.id (" HUB_PUBLISHER_TXN_PREFIX
         "-<this>): one per hub deployment sharing a Kafka cluster; every instance of one "
         "deployment must use the same"},
        {"exit_when_idle", HUB_CFG_INT, "0", false, false, NULL, 0, 86400,
         "exit after every assigned partition is consumed, the outbox is sent and nothing "
         "happened for this many seconds (0: run until stopped; for tests)"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

struct part {
        char *topic;
        int32_t partition;
        int64_t expected; /* consumer_offsets.next_offset as this instance knows it; -1 none */
        bool eof;
        /* A message of this partition failed and is to be read again: not stored to its end,
         * whatever end-of-partition events say (one fetched before the seek back may arrive
         * after it). */
        bool reread;
};

struct hubd {
        hub_config_t *cfg;
        int argc;
        char **argv;
        const char *config_path;
        hub_key_t key;
        hub_store_t *store;  /* ingest */
        hub_store_t *pstore; /* outbox publisher: its own connection holds the publisher lock */
        hub_ingest_t *ing;
        hub_bins_t *bins; /* the bank BIN list the normaliser uses */
        rd_kafka_t *consumer, *producer;
        struct part *parts;
        size_t n_parts;
        bool assigned_once;
        /* retries */
        int64_t backoff_until_ms, backoff_ms;
        bool paused; /* consumption paused until backoff_until_ms */
        /* outbox */
        bool publisher, outbox_maybe;
        int64_t next_claim_ms, next_outbox_scan_ms;
        int64_t *sent; /* rows of a committed Kafka transaction not yet marked sent */
        size_t n_sent, cap_sent;
        int64_t pending; /* unsent rows seen by the last scan */
        /* idleness */
        int64_t start_ms, last_activity_ms;
        /* counters */
        uint64_t batches, accepted, duplicates, rejected;
};

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
        (void)sig;
        if (stop_requested)
                _exit(1); /* a second signal: exit now */
        stop_requested = 1;
}

static void on_hup(int sig)
{
        (void)sig;
        reload_requested = 1;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
        char *help = hub_config_help(settings, N_SETTINGS);
        fprintf(f,
                "usage: hubd [options]\n"
                "\n"
                "Consume the agencies' signed batches, store them in PostgreSQL exactly once,\n"
                "and publish changed entities and rejects from the outbox.\n"
                "\n"
                "  --config FILE                      INI file of the settings below ([kafka] "
                "section: kafka.*)\n"
                "  -X, --kafka KEY=VALUE              a librdkafka setting (as kafka.KEY; secrets\n"
                "                                     such as sasl.password only from a file)\n"
                "  --once                             as --exit-when-idle 2\n"
                "  -h, --help                         show this help\n"
                "\n"
                "Settings (defaults < --config file < environment < command line):\n%s"
                "\n"
                "Signals: SIGTERM/SIGINT finish the current batch and stop (a second one exits\n"
                "at once); SIGHUP reloads the configuration file if it validates, and the bank BIN\n"
                "list (hubctl bins).\n",
                help ? help : "");
        free(help);
}

/* Build a configuration from every source, in order of precedence. 2: usage error. */
static int load_config(struct hubd *d, hub_config_t **out, hub_err_t *err)
{
        hub_config_t *c = NULL;
        int rc = hub_config_new(settings, N_SETTINGS, &c, err);
        if (!rc && d->config_path)
                rc = hub_config_load_file(c, d->config_path, err);
        if (!rc)
                rc = hub_config_load_env(c, err);
        for (int i = 1; !rc && i < d->argc; i++) {
                const char *a = d->argv[i];
                char name[128];
                const char *value = NULL;
                if (strcmp(a, "--config") == 0) {
                        i++;
                        continue;
                }
                if (strcmp(a, "--once") == 0) {
                        rc = hub_config_set(c, "exit_when_idle", "2", "--once", err);
                        continue;
                }
                if (strcmp(a, "-X") == 0 || strcmp(a, "--kafka") == 0) {
                        const char *kv = i + 1 < d->argc ? d->argv[++i] : "";
                        const char *eq = strchr(kv, '=');
                        if (!eq) {
                                rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                                 "-X needs KEY=VALUE, not \"%s\"", kv);
                                break;
                        }
                        snprintf(name, sizeof(name), "kafka.%.*s", (int)(eq - kv), kv);
                        rc = hub_kafka_check_cli_setting(name, err);
                        if (!rc)
                                rc = hub_config_set(c, name, eq + 1, "-X", err);
                        continue;
                }
                if (strncmp(a, "--", 2) != 0) {
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                         "unexpected argument \"%s\"", a);
                        break;
                }
                const char *eq = strchr(a + 2, '=');
                snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a - 2) : 120, a + 2);
                const hub_setting_t *s = hub_config_find_option(c, name);
                if (!s) {
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config", "unknown option %s",
                                         a);
                        break;
                }
                if (eq)
                        value = eq + 1;
                else if (i + 1 < d->argc)
                        value = d->argv[++i];
                else {
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                         "option %s needs a value", a);
                        break;
                }
                rc = hub_config_set(c, s->name, value, a, err);
        }
        if (!rc && hub_log_level_from_name(hub_config_get(c, "log_level")) < 0)
                rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                 "invalid value for log_level: \"%s\"",
                                 hub_config_get(c, "log_level"));
        if (rc) {
                hub_config_free(c);
                return rc;
        }
        *out = c;
        return 0;
}

static hub_batch_limits_t limits_of(const hub_config_t *c)
{
        hub_batch_limits_t l = {
                .max_records = (size_t)hub_config_int(c, "max_records"),
                .max_record_bytes = (size_t)hub_config_int(c, "max_record_bytes"),
                .max_batch_bytes = (size_t)hub_config_int(c, "max_batch_bytes"),
        };
        return l;
}

/* The bank BIN list from the database (hub/bins.h) for the normaliser. Ingest runs on this
 * thread, between messages, so the old list is no longer in use when it is freed. */
static int load_bins(struct hubd *d)
{
        hub_bins_t *b = NULL;
        hub_err_t err = {0};
        if (hub_bins_load(d->store, &b, &err)) {
                hub_log(HUB_LOG_WARN, "bins", err.msg, "action=kept_old_list");
                return -1;
        }
        hub_ident_set_banks(hub_bins_table(b));
        hub_bins_free(d->bins);
        d->bins = b;
        hub_log(HUB_LOG_INFO, "bins", "bank BIN list loaded", "banks=%zu",
                hub_bins_table(b)->n);
        return 0;
}

static void reload(struct hubd *d)
{
        hub_err_t err = {0};
        load_bins(d);
        hub_config_t *c = NULL;
        if (load_config(d, &c, &err)) {
                hub_log(HUB_LOG_WARN, "config", err.msg, "action=kept_old_configuration");
                return;
        }
        const char *fixed = hub_config_changed_fixed(d->cfg, c);
        if (fixed) {
                char msg[200];
                snprintf(msg, sizeof(msg),
                         "could not reload: setting %s changes only with a restart", fixed);
                hub_log(HUB_LOG_WARN, "config", msg, "action=kept_old_configuration");
                hub_config_free(c);
                return;
        }
        hub_config_free(d->cfg);
        d->cfg = c;
        hub_log_set_level(hub_log_level_from_name(hub_config_get(c, "log_level")));
        hub_batch_limits_t l = limits_of(c);
        hub_ingest_set_limits(d->ing, &l);
        hub_log(HUB_LOG_INFO, "config", "configuration reloaded", NULL);
}

/* ---- Kafka ---- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        (void)rk;
        /* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug */
        int l = level <= 3 ? HUB_LOG_ERROR : level == 4 ? HUB_LOG_WARN
                                           : level <= 6 ? HUB_LOG_INFO
                                                        : HUB_LOG_DEBUG;
        hub_log(l, "kafka", buf, "facility=%s", fac);
}

static struct part *find_part(struct hubd *d, const char *topic, int32_t partition)
{
        for (size_t i = 0; i < d->n_parts; i++)
                if (d->parts[i].partition == partition && strcmp(d->parts[i].topic, topic) == 0)
                        return &d->parts[i];
        return NULL;
}

static void clear_parts(struct hubd *d)
{
        for (size_t i = 0; i < d->n_parts; i++)
                free(d->parts[i].topic);
        free(d->parts);
        d->parts = NULL;
        d->n_parts = 0;
}

/* Pause or resume fetching from every assigned partition: while the database fails, nothing is
 * fetched (memory stays bounded, the broker is not asked again and again), and what was fetched
 * already is sought back to. */
static void set_paused(struct hubd *d, bool pause)
{
        rd_kafka_topic_partition_list_t *l = NULL;
        if (rd_kafka_assignment(d->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l) {
                rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(d->consumer, l)
                                              : rd_kafka_resume_partitions(d->consumer, l);
                if (e)
                        hub_log(HUB_LOG_WARN, "ingest", rd_kafka_err2str(e),
                                "action=%s", pause ? "pause" : "resume");
                rd_kafka_topic_partition_list_destroy(l);
        }
        if (pause != d->paused)
                hub_log(HUB_LOG_INFO, "ingest",
                        pause ? "consumption paused: waiting for the database"
                              : "consumption resumed",
                        NULL);
        d->paused = pause;
}

/* Stored offsets of the partitions in l, retried until the database answers or we stop:
 * without them nothing may be consumed. */
static int read_offsets(struct hubd *d, rd_kafka_topic_partition_list_t *l)
{
        int64_t wait = 100;
        for (;;) {
                hub_err_t err = {0};
                int rc = 0;
                for (int i = 0; !rc && i < l->cnt; i++) {
                        int64_t next;
                        rc = hub_ingest_offsets(d->store, l->elems[i].topic,
                                                &l->elems[i].partition, 1, &next, &err);
                        l->elems[i].offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
                }
                if (!rc)
                        return 0;
                hub_log(HUB_LOG_WARN, "ingest", err.msg, "action=retry wait_ms=%" PRId64, wait);
                if (stop_requested)
                        return -1;
                struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000};
                nanosleep(&ts, NULL);
                if (PQstatus(hub_store_conn(d->store)) != CONNECTION_OK)
                        PQreset(hub_store_conn(d->store));
                wait = wait * 2 > 5000 ? 5000 : wait * 2;
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
        struct hubd *d = opaque;
        if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                clear_parts(d);
                if (read_offsets(d, l)) {
                        rd_kafka_assign(rk, NULL);
                        return;
                }
                d->parts = calloc((size_t)l->cnt + 1, sizeof(*d->parts));
                for (int i = 0; d->parts && i < l->cnt; i++) {
                        struct part *p = &d->parts[d->n_parts++];
                        p->topic = strdup(l->elems[i].topic);
                        p->partition = l->elems[i].partition;
                        p->expected = l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
                        hub_log(HUB_LOG_INFO, "ingest", "partition assigned",
                                "topic=%s partition=%d next_offset=%" PRId64, p->topic,
                                (int)p->partition, p->expected);
                }
                rd_kafka_assign(rk, l);
                /* A partition paused before stays paused through a new assignment: pause or
                 * resume the new one as the backoff says (only then: a resume restarts fetching). */
                if (d->paused || now_ms() < d->backoff_until_ms)
                        set_paused(d, now_ms() < d->backoff_until_ms);
                d->assigned_once = true;
                d->last_activity_ms = now_ms();
        } else {
                /* Revoked, or lost: nothing is in flight here (the callback runs inside poll,
                 * between messages), and a stale commit is fenced by the conditional offset
                 * update anyway. */
                if (rd_kafka_assignment_lost(rk))
                        hub_log(HUB_LOG_WARN, "ingest", "partition assignment lost", NULL);
                else
                        hub_log(HUB_LOG_INFO, "ingest", "partitions revoked", "count=%d",
                                l->cnt);
                rd_kafka_assign(rk, NULL);
                clear_parts(d);
        }
}

/* Delivery of one outbox row, inside the current transaction: a failure makes the transaction
 * fail to commit (publish() then aborts it), so nothing is marked here. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        if (m->err) {
                hub_log(HUB_LOG_WARN, "outbox", rd_kafka_err2str(m->err),
                        "outbox_id=%" PRId64 " topic=%s", (int64_t)(intptr_t)m->_private,
                        rd_kafka_topic_name(m->rkt));
                return;
        }
        hub_failpoint("during-publish");
}

static rd_kafka_t *make_client(struct hubd *d, rd_kafka_type_t type, hub_err_t *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const hub_config_t *c = d->cfg;
        int rc = hub_kafka_set(conf, "bootstrap.servers", hub_config_get(c, "brokers"), err);
        if (!rc && type == RD_KAFKA_CONSUMER) {
                static const char *const kv[][2] = {
                        {"partition.assignment.strategy", "roundrobin"},
                        {"auto.offset.reset", "earliest"},
                        {"enable.partition.eof", "true"},
                        {"topic.metadata.refresh.interval.ms", "5000"},
                };
                rc = hub_kafka_set(conf, "group.id", hub_config_get(c, "group"), err);
                for (size_t i = 0; !rc && i < sizeof(kv) / sizeof(kv[0]); i++)
                        rc = hub_kafka_set(conf, kv[i][0], kv[i][1], err);
        }
        if (!rc && type == RD_KAFKA_PRODUCER)
                rc = hub_kafka_set(conf, "linger.ms", "5", err);
        for (size_t i = 0; !rc && i < hub_config_kafka_count(c); i++) {
                const char *k, *v;
                hub_config_kafka_pair(c, i, &k, &v);
                /* A setting for the other kind of client is not an error. */
                char errstr[256];
                if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) == RD_KAFKA_CONF_INVALID)
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                         "invalid kafka.%s: %s", k, errstr);
        }
        if (!rc) {
                hub_kafka_auth_t a = {
                        .security_protocol = hub_config_get(c, "kafka_security_protocol"),
                        .mechanism = hub_config_get(c, "kafka_sasl_mechanism"),
                        .user = hub_config_get(c, "kafka_user"),
                        .password_file = hub_config_get(c, "kafka_password_file"),
                };
                rc = hub_kafka_auth_apply(conf, &a, err);
        }
        /* What exactly-once rests on is not left to the pass-through settings. */
        if (!rc && type == RD_KAFKA_CONSUMER) {
                rc = hub_kafka_set(conf, "enable.auto.commit", "false", err);
                if (!rc)
                        rc = hub_kafka_set(conf, "enable.auto.offset.store", "false", err);
                rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        }
        if (!rc && type == RD_KAFKA_PRODUCER) {
                /* One transactional.id per deployment: init_transactions() of the instance that
                 * takes the publisher lock fences every older producer with the same id, so a
                 * stalled instance cannot deliver what it had queued after a newer version. */
                const char *suffix = hub_config_get(c, "publisher_id");
                char tid[256];
                snprintf(tid, sizeof(tid), "%s%s%s", HUB_PUBLISHER_TXN_PREFIX,
                         suffix && *suffix ? "-" : "", suffix && *suffix ? suffix : "");
                rc = hub_kafka_set(conf, "enable.idempotence", "true", err);
                if (!rc)
                        rc = hub_kafka_set(conf, "transactional.id", tid, err);
                rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        }
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rd_kafka_conf_set_opaque(conf, d);
        char errstr[512];
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                hub_err_set(err, HUB_E_KAFKA, false, "kafka", "could not create client: %s",
                            errstr);
        }
        return rk;
}

/* ---- ingest ---- */

static void seek_back(struct hubd *d, const rd_kafka_message_t *m)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset =
                m->offset;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(d->consumer, l, 5000);
        if (e) {
                hub_log(HUB_LOG_WARN, "ingest", rd_kafka_error_string(e), "action=seek");
                rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

static void start_backoff(struct hubd *d)
{
        int64_t cap = hub_config_int(d->cfg, "retry_max_ms");
        d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : 100;
        if (d->backoff_ms > cap)
                d->backoff_ms = cap;
        d->backoff_until_ms = now_ms() + d->backoff_ms;
}

static void handle_message(struct hubd *d, rd_kafka_message_t *m)
{
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                struct part *p = find_part(d, topic, m->partition);
                if (!p)
                        return;
                p->eof = true;
                /* The end as fetched, and stored up to it: nothing left to read again (after a
                 * fence, the other instance may have stored it all). */
                if (p->reread && p->expected >= 0 && p->expected >= m->offset)
                        p->reread = false;
                return;
        }
        if (m->err) {
                hub_log(HUB_LOG_WARN, "kafka", rd_kafka_message_errstr(m), "topic=%s", topic);
                return;
        }
        struct part *p = find_part(d, topic, m->partition);
        if (!p)
                return; /* from a revoked assignment */
        p->eof = false;
        d->last_activity_ms = now_ms();
        if (p->expected >= 0 && m->offset < p->expected)
                return; /* already stored (a fetch from before a seek) */
        if (now_ms() < d->backoff_until_ms) {
                /* Waiting out a database error: come back to this message later. */
                p->reread = true;
                seek_back(d, m);
                return;
        }
        hub_ingest_msg_t im = {topic, m->partition, m->offset, m->payload, m->len, p->expected};
        hub_ingest_result_t res;
        hub_err_t err = {0};
        int rc = hub_ingest_message(d->ing, &im, &res, &err);
        if (rc == 0) {
                hub_failpoint("after-commit");
                d->backoff_ms = 0;
                p->expected = m->offset + 1;
                p->reread = false;
                d->batches++;
                d->accepted += res.accepted;
                d->duplicates += res.duplicates;
                d->rejected += res.rejected;
                d->outbox_maybe = true;
                if (res.reason[0])
                        hub_log(HUB_LOG_WARN, "ingest", res.message,
                                "reason=%s topic=%s partition=%d offset=%" PRId64
                                " batch_rejected=%d rejected=%zu accepted=%zu",
                                res.reason, topic, (int)m->partition, m->offset,
                                res.batch_rejected, res.rejected, res.accepted);
                hub_log(HUB_LOG_DEBUG, "ingest", "batch stored",
                        "topic=%s partition=%d offset=%" PRId64 " accepted=%zu duplicates=%zu "
                        "rejected=%zu entities=%zu outbox=%zu invalid_identifiers=%zu "
                        "left_unmerged=%zu",
                        topic, (int)m->partition, m->offset, res.accepted, res.duplicates,
                        res.rejected, res.entities, res.outbox, res.invalid_identifiers,
                        res.left_unmerged);
                return;
        }
        p->reread = true;
        if (res.fenced) {
                int64_t next = -1;
                hub_err_t e2 = {0};
                hub_log(HUB_LOG_WARN, "ingest", err.msg, "action=reread_offset");
                if (hub_ingest_offsets(d->store, topic, &p->partition, 1, &next, &e2) == 0) {
                        p->expected = next;
                        rd_kafka_message_t copy = *m;
                        copy.offset = next >= 0 ? next : m->offset;
                        seek_back(d, &copy);
                } else {
                        start_backoff(d);
                        seek_back(d, m);
                }
                return;
        }
        /* Retriable, or a failure even to record a reject: never skip the message. Roll back
         * (done), wait, reconnect if needed, and read it again. */
        start_backoff(d);
        hub_log(err.retriable ? HUB_LOG_WARN : HUB_LOG_ERROR, "ingest", err.msg,
                "action=retry topic=%s partition=%d offset=%" PRId64 " wait_ms=%" PRId64, topic,
                (int)m->partition, m->offset, d->backoff_ms);
        if (PQstatus(hub_store_conn(d->store)) != CONNECTION_OK)
                PQreset(hub_store_conn(d->store));
        /* Pause first: pausing sets the next fetch to after the last message handed out (this
         * one), the seek then sets it back to this message. */
        set_paused(d, true);
        seek_back(d, m);
}

/* ---- outbox ---- */

#define TXN_TIMEOUT_MS 60000

static void drop_producer(struct hubd *d)
{
        if (d->producer) {
                rd_kafka_purge(d->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_destroy(d->producer);
                d->producer = NULL;
        }
}

/* Stop publishing: the producer is destroyed with what it still holds, the publisher lock goes
 * with the publisher's connection, and the rows of the current transaction stay unsent in the
 * outbox for the instance that publishes now. */
static void give_up_publishing(struct hubd *d)
{
        drop_producer(d);
        d->n_sent = 0;
        d->publisher = false;
        PQreset(hub_store_conn(d->pstore));
}

/* A transaction failed. Fatal (fenced: another instance initialised the same transactional.id
 * since, so it publishes now): stop publishing and mark nothing. Otherwise abort it; its rows
 * are sent again in the next one. */
static void txn_failed(struct hubd *d, const char *what, bool fatal, const char *why)
{
        if (fatal) {
                hub_log(HUB_LOG_ERROR, "outbox", why,
                        "action=stop_publishing step=%s reason=fenced: another instance "
                        "publishes the outbox now; nothing of this transaction is marked sent",
                        what);
                give_up_publishing(d);
                return;
        }
        hub_log(HUB_LOG_WARN, "outbox", why, "action=abort_and_retry step=%s", what);
        rd_kafka_error_t *e = rd_kafka_abort_transaction(d->producer, TXN_TIMEOUT_MS);
        if (e) {
                hub_log(HUB_LOG_WARN, "outbox", rd_kafka_error_string(e),
                        "action=restart_publisher step=abort");
                rd_kafka_error_destroy(e);
                give_up_publishing(d);
        }
        d->outbox_maybe = false;
        d->next_outbox_scan_ms = now_ms() + 1000; /* give the broker a moment */
}

/* A new producer for the publisher that just took the lock; init_transactions() fences every
 * older producer of the deployment's transactional.id and aborts what it left open. */
static int start_producer(struct hubd *d)
{
        hub_err_t err = {0};
        drop_producer(d); /* one of an earlier turn as the publisher */
        if (!(d->producer = make_client(d, RD_KAFKA_PRODUCER, &err))) {
                hub_log(HUB_LOG_ERROR, "outbox", err.msg, "action=retry");
                return -1;
        }
        rd_kafka_error_t *e = rd_kafka_init_transactions(d->producer, TXN_TIMEOUT_MS);
        if (e) {
                hub_log(HUB_LOG_WARN, "outbox", rd_kafka_error_string(e),
                        "action=retry step=init_transactions");
                rd_kafka_error_destroy(e);
                rd_kafka_destroy(d->producer);
                d->producer = NULL;
                return -1;
        }
        return 0;
}

static void mark_sent(struct hubd *d)
{
        hub_err_t err = {0};
        if (hub_outbox_mark_sent(d->pstore, d->sent, d->n_sent, &err) == 0) {
                d->n_sent = 0;
                return;
        }
        /* Committed but not marked: sent again (the same versions) by whoever publishes next. */
        hub_log(HUB_LOG_WARN, "outbox", err.msg, "action=retry");
        if (PQstatus(hub_store_conn(d->pstore)) != CONNECTION_OK) {
                PQreset(hub_store_conn(d->pstore));
                d->publisher = false; /* the lock went with the connection */
                d->n_sent = 0;
        }
}

/* Send the next group of unsent outbox rows, in id order, in one Kafka transaction, and mark
 * them sent once it committed. A crash between the commit and the marking sends them again
 * in a later transaction: the same versions, which subscribers and the compacted topics
 * tolerate. */
static void publish(struct hubd *d)
{
        hub_err_t err = {0};
        int64_t t = now_ms();
        if (d->producer)
                rd_kafka_poll(d->producer, 0);
        if (d->n_sent)
                mark_sent(d);
        if (!d->publisher) {
                if (t < d->next_claim_ms)
                        return;
                d->next_claim_ms = t + 2000;
                if (hub_outbox_claim(d->pstore, &d->publisher, &err)) {
                        hub_log(HUB_LOG_WARN, "outbox", err.msg, "action=retry");
                        if (PQstatus(hub_store_conn(d->pstore)) != CONNECTION_OK)
                                PQreset(hub_store_conn(d->pstore));
                        return;
                }
                if (!d->publisher)
                        return;
                if (start_producer(d)) {
                        d->publisher = false;
                        PQreset(hub_store_conn(d->pstore)); /* hand the lock back */
                        return;
                }
                hub_log(HUB_LOG_INFO, "outbox", "publishing the outbox", NULL);
                d->outbox_maybe = true;
        }
        if (d->n_sent || (!d->outbox_maybe && t < d->next_outbox_scan_ms))
                return;
        size_t limit = (size_t)hub_config_int(d->cfg, "outbox_batch");
        hub_outbox_row_t *rows = calloc(limit, sizeof(*rows));
        int64_t *ids = calloc(limit, sizeof(*ids));
        PGresult *res = NULL;
        size_t n = 0;
        if (!rows || !ids) {
                free(rows);
                free(ids);
                return;
        }
        if (hub_outbox_fetch(d->pstore, 0, limit, rows, &n, &res, &err)) {
                hub_log(HUB_LOG_WARN, "outbox", err.msg, "action=retry");
                if (PQstatus(hub_store_conn(d->pstore)) != CONNECTION_OK) {
                        PQreset(hub_store_conn(d->pstore));
                        d->publisher = false;
                }
                free(rows);
                free(ids);
                return;
        }
        d->outbox_maybe = n == limit;
        d->next_outbox_scan_ms = t + 1000;
        d->pending = (int64_t)n;
        rd_kafka_error_t *e = n ? rd_kafka_begin_transaction(d->producer) : NULL;
        if (e) {
                txn_failed(d, "begin", rd_kafka_error_is_fatal(e), rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                n = 0;
        }
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t pe = rd_kafka_producev(
                        d->producer, RD_KAFKA_V_TOPIC(rows[i].topic),
                        RD_KAFKA_V_KEY(rows[i].key, rows[i].key ? rows[i].key_len : 0),
                        RD_KAFKA_V_VALUE((void *)rows[i].payload, rows[i].payload_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE((void *)(intptr_t)rows[i].id), RD_KAFKA_V_END);
                if (pe) {
                        char why[512];
                        bool fatal = rd_kafka_fatal_error(d->producer, why, sizeof(why)) != 0;
                        txn_failed(d, "produce", fatal, fatal ? why : rd_kafka_err2str(pe));
                        n = 0;
                        break;
                }
                ids[i] = rows[i].id;
        }
        PQclear(res);
        free(rows);
        if (n) {
                e = rd_kafka_commit_transaction(d->producer, TXN_TIMEOUT_MS);
                if (e) {
                        txn_failed(d, "commit", rd_kafka_error_is_fatal(e),
                                   rd_kafka_error_string(e));
                        rd_kafka_error_destroy(e);
                } else {
                        if (n > d->cap_sent) {
                                free(d->sent);
                                d->sent = ids;
                                d->cap_sent = limit;
                                ids = NULL;
                        } else {
                                memcpy(d->sent, ids, n * sizeof(*ids));
                        }
                        d->n_sent = n;
                        mark_sent(d);
                }
        }
        free(ids);
}

/* Whether every partition of the subscription that this instance does not hold is stored to
 * its end (by another member of the group, or by an earlier run). Without it, a run could end
 * holding part of the subscription only: while a killed member's session has not expired yet, or
 * before a regex subscription's next metadata refresh adds a new topic. Asks the broker and the
 * database, so it runs only once the assigned partitions are done. A partition that ends with a
 * transaction marker (the agencies' producers do not write transactionally; only hubd's outbox
 * publisher does, to the hub.* topics) would never count as stored while another member holds
 * it. */
static bool others_stored(struct hubd *d)
{
        const char *topics = hub_config_get(d->cfg, "topics");
        bool is_regex = topics[0] == '^';
        regex_t re;
        if (is_regex && regcomp(&re, topics, REG_EXTENDED | REG_NOSUB) != 0)
                return true; /* librdkafka accepted it; nothing better to check with */
        const struct rd_kafka_metadata *md = NULL;
        bool ok = rd_kafka_metadata(d->consumer, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int t = 0; ok && md && t < md->topic_cnt; t++) {
                const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                if (mt->err || (is_regex ? regexec(&re, mt->topic, 0, NULL, 0) != 0
                                         : strcmp(mt->topic, topics) != 0))
                        continue;
                for (int i = 0; ok && i < mt->partition_cnt; i++) {
                        int32_t part = mt->partitions[i].id;
                        if (find_part(d, mt->topic, part))
                                continue;
                        int64_t lo = 0, hi = 0, next = -1;
                        hub_err_t err = {0};
                        if (rd_kafka_query_watermark_offsets(d->consumer, mt->topic, part, &lo,
                                                             &hi, 5000) ||
                            hub_ingest_offsets(d->store, mt->topic, &part, 1, &next, &err)) {
                                ok = false;
                                break;
                        }
                        if ((next >= 0 ? next : lo) < hi) {
                                hub_log(HUB_LOG_INFO, "hubd",
                                        "not idle: a partition this instance does not hold is "
                                        "not stored to its end",
                                        "topic=%s partition=%d next_offset=%" PRId64
                                        " end=%" PRId64,
                                        mt->topic, (int)part, next, hi);
                                ok = false;
                        }
                }
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        if (is_regex)
                regfree(&re);
        return ok;
}

static bool idle(struct hubd *d, int64_t idle_ms)
{
        int64_t t = now_ms();
        if (!d->assigned_once || t - d->last_activity_ms < idle_ms || t - d->start_ms < idle_ms)
                return false;
        /* Every assigned partition consumed to its end and stored to it: messages are stored
         * in order, and one that failed is marked until it is stored. */
        for (size_t i = 0; i < d->n_parts; i++)
                if (!d->parts[i].eof || d->parts[i].reread)
                        return false;
        if (d->n_sent || !d->publisher)
                return false;
        int64_t pending = 0;
        hub_err_t err = {0};
        if (hub_outbox_pending(d->pstore, &pending, &err) || pending)
                return false;
        if (!others_stored(d)) {
                d->last_activity_ms = t; /* look again after another idle period */
                return false;
        }
        return true;
}

/* ---- tree heads ---- */

/* Sign a head of the hub's log when due (hub/mlog_store.h), looking at most once a second; and
 * at the end of a run whenever the log grew, so that a stopped hub leaves no leaf unsigned. The
 * head goes out through the outbox to hub.log. */
static void sign_heads(struct hubd *d, bool final)
{
        static int64_t next_ms;
        int64_t t = now_ms();
        if (!final && t < next_ms)
                return;
        next_ms = t + 1000;
        hub_mlog_sign_opts_t o = {hub_config_int(d->cfg, "log_head_interval") * 1000,
                                  (uint64_t)hub_config_int(d->cfg, "log_head_leaves"), final};
        hub_mlog_head_t h;
        bool done = false;
        hub_err_t err = {0};
        if (hub_mlog_sign(d->store, &d->key, &o, &h, &done, &err)) {
                hub_log(HUB_LOG_WARN, "log", err.msg, "action=retry");
        } else if (done) {
                d->outbox_maybe = true;
                hub_log(HUB_LOG_INFO, "log", "tree head signed", "log_size=%" PRIu64, h.size);
        }
}

/* ---- main ---- */

static int run(struct hubd *d)
{
        hub_err_t err = {0};
        const char *path = hub_config_get(d->cfg, "hub_key");
        const char *dsn = hub_config_get(d->cfg, "dsn");
        const char *brokers = hub_config_get(d->cfg, "brokers");
        if (!path || !dsn || !brokers) {
                fprintf(stderr, "hubd: %s is required (see --help)\n",
                        !path ? "--hub-key" : !dsn ? "--dsn or HUB_PG_DSN"
                                                    : "--brokers or HUB_KAFKA_BROKERS");
                return 2;
        }
        if (hub_key_load(path, &d->key, &err) || !d->key.has_secret) {
                fprintf(stderr, "hubd: could not load the hub key %s: %s\n", path,
                        err.code ? err.msg : "not a secret key file");
                return 1;
        }
        /* PostgreSQL ends a transaction left idle this long: a hubd stopped mid-batch (SIGSTOP,
         * a long pause) then holds no row locks that block the instance that took its
         * partitions, and cannot commit once it runs again. The publisher's connection, busy at
         * least every two seconds while hubd runs, is also ended when idle this long, which
         * frees the publisher lock of a stalled instance. Through PGOPTIONS, read when a
         * connection is made, so that it also holds after a reconnection; an options= in the
         * conninfo takes precedence. */
        long long stall = hub_config_int(d->cfg, "stall_timeout") * 1000;
        const char *prev = getenv("PGOPTIONS");
        char *saved = prev ? strdup(prev) : NULL, pgopt[512];
        if (stall > 0) {
                snprintf(pgopt, sizeof(pgopt), "%s%s-c idle_in_transaction_session_timeout=%lld",
                         saved ? saved : "", saved ? " " : "", stall);
                setenv("PGOPTIONS", pgopt, 1);
        }
        int rc = hub_store_open(dsn, &d->store, &err);
        if (!rc && stall > 0) {
                snprintf(pgopt, sizeof(pgopt),
                         "%s%s-c idle_in_transaction_session_timeout=%lld "
                         "-c idle_session_timeout=%lld",
                         saved ? saved : "", saved ? " " : "", stall, stall);
                setenv("PGOPTIONS", pgopt, 1);
        }
        if (!rc)
                rc = hub_store_open(dsn, &d->pstore, &err);
        if (saved)
                setenv("PGOPTIONS", saved, 1);
        else
                unsetenv("PGOPTIONS");
        free(saved);
        int applied = 0;
        hub_ingest_opts_t opts = {limits_of(d->cfg), &d->key,
                                  (int)hub_config_int(d->cfg, "noisy_threshold")};
        if (rc ||
            hub_store_migrate(d->store, &applied, &err) ||
            hub_ingest_new(d->store, &opts, &d->ing, &err)) {
                fprintf(stderr, "hubd: %s\n", err.msg);
                return 1;
        }
        if (load_bins(d)) {
                fprintf(stderr, "hubd: could not load the bank BIN list\n");
                return 1;
        }
        /* The producer is made when this instance takes the publisher lock (publish()). */
        if (!(d->consumer = make_client(d, RD_KAFKA_CONSUMER, &err))) {
                fprintf(stderr, "hubd: %s\n", err.msg);
                return 1;
        }
        rd_kafka_poll_set_consumer(d->consumer);
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, hub_config_get(d->cfg, "topics"),
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(d->consumer, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e) {
                fprintf(stderr, "hubd: could not subscribe: %s\n", rd_kafka_err2str(e));
                return 1;
        }
        hub_log(HUB_LOG_INFO, "hubd", "started", "group=%s migrations_applied=%d key_id=%s",
                hub_config_get(d->cfg, "group"), applied, d->key.key_id);
        d->start_ms = d->last_activity_ms = now_ms();
        int64_t idle_ms = hub_config_int(d->cfg, "exit_when_idle") * 1000;
        int64_t next_progress = now_ms() + 10000;
        while (!stop_requested) {
                if (reload_requested) {
                        reload_requested = 0;
                        reload(d);
                }
                if (d->paused && now_ms() >= d->backoff_until_ms)
                        set_paused(d, false);
                rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, 50);
                if (m) {
                        handle_message(d, m);
                        rd_kafka_message_destroy(m);
                }
                publish(d);
                sign_heads(d, false);
                if (now_ms() >= next_progress) {
                        next_progress = now_ms() + 10000;
                        hub_log(HUB_LOG_INFO, "hubd", "progress",
                                "batches=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64
                                " rejected=%" PRIu64,
                                d->batches, d->accepted, d->duplicates, d->rejected);
                }
                if (idle_ms && idle(d, idle_ms)) {
                        hub_log(HUB_LOG_INFO, "hubd", "idle: every partition consumed and the "
                                                      "outbox sent", NULL);
                        break;
                }
        }
        /* Stop: the current batch is committed (handle_message returned); leave the group, then
         * send what the outbox holds. What is not sent now is sent by the next run. */
        rd_kafka_consumer_close(d->consumer);
        sign_heads(d, true);
        int64_t deadline = now_ms() + 10000;
        d->outbox_maybe = true;
        while (now_ms() < deadline && stop_requested < 2) {
                publish(d);
                if (d->producer)
                        rd_kafka_poll(d->producer, 50);
                else
                        nanosleep(&(struct timespec){0, 50000000}, NULL);
                if (d->publisher && !d->outbox_maybe && !d->n_sent)
                        break;
        }
        hub_log(HUB_LOG_INFO, "hubd", "stopped",
                "batches=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64
                " rejected=%" PRIu64,
                d->batches, d->accepted, d->duplicates, d->rejected);
        return 0;
}

int main(int argc, char **argv)
{
        struct hubd d = {0};
        d.argc = argc;
        d.argv = argv;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        usage(stdout);
                        return 0;
                }
                if (strcmp(argv[i], "--config") == 0) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "hubd: --config needs a file\n");
                                return 2;
                        }
                        d.config_path = argv[++i];
                }
        }
        hub_err_t err = {0};
        if (load_config(&d, &d.cfg, &err)) {
                fprintf(stderr, "hubd: %s\n", err.msg);
                return err.code == HUB_E_IO ? 1 : 2;
        }
        hub_log_set_level(hub_log_level_from_name(hub_config_get(d.cfg, "log_level")));
        if (sodium_init() < 0) {
                fprintf(stderr, "hubd: could not initialise libsodium\n");
                return 1;
        }
        struct sigaction sa = {0};
        sa.sa_handler = on_stop;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sa.sa_handler = on_hup;
        sigaction(SIGHUP, &sa, NULL);

        int rc = run(&d);

        if (d.consumer)
                rd_kafka_destroy(d.consumer);
        if (d.producer)
                rd_kafka_destroy(d.producer);
        hub_ingest_free(d.ing);
        hub_ident_set_banks(NULL);
        hub_bins_free(d.bins);
        hub_store_close(d.store);
        hub_store_close(d.pstore);
        hub_key_wipe(&d.key);
        clear_parts(&d);
        free(d.sent);
        hub_config_free(d.cfg);
        return rc;
}
