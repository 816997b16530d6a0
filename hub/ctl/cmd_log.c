/* hubctl log (verify, monitor, sign, head), hubctl evidence, hubctl verify, hubctl provenance:
 * the hub's Merkle log and the proofs built on it (issue 5). The logic lives in hub/store
 * (mlog_store.h, provenance.h) and hub/lib (mlog.h, evidence.h); this file parses, wires and
 * prints. */
#include "ctl.h"

#include <hub/evidence.h>
#include <hub/ident.h>
#include <hub/input.h>
#include <hub/kafka.h>
#include <hub/kafka_info.h>
#include <hub/keyfile.h>
#include <hub/mlog_store.h>
#include <hub/provenance.h>
#include <hub/query.h>
#include <hub/timestamp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --hub-key FILE, else $HUB_HUB_KEY: a public (or secret) key file of the hub. */
static int load_hub_key(const char *cmd, const char *path, bool required, hub_key_t *k,
                        bool *have)
{
        hub_err_t err = {0};
        *have = false;
        if (!path || !*path)
                path = getenv("HUB_HUB_KEY");
        if (!path || !*path) {
                if (required)
                        return ctl_usage_error(cmd, "the hub's public key is required: use "
                                                    "--hub-key FILE or set HUB_HUB_KEY");
                return CTL_OK;
        }
        if (hub_key_load(path, k, &err))
                return ctl_fail("could not load the hub key %s: %s", path, err.msg);
        hub_key_wipe(k); /* only the public half is needed */
        *have = true;
        return CTL_OK;
}

static void hex32(const uint8_t *p, char out[65])
{
        sodium_bin2hex(out, 65, p, 32);
}

static int parse_common(ctl_t *ctl, int c, const char *cmd, char **argv, const char *usage)
{
        if (c == 'h') {
                fputs(usage, stdout);
                return -1;
        }
        if (c == '?' || c == ':')
                return ctl_bad_option(cmd, argv);
        return ctl_common_option(ctl, c, optarg, cmd);
}

/* ---- log verify ---- */

static void on_problem(const hub_mlog_problem_t *p, void *arg)
{
        (void)arg;
        printf("FAILED %-16s %s: %s\n", p->what, p->ref, p->msg);
}

static void on_progress(uint64_t done, uint64_t total, void *arg)
{
        (void)arg;
        fprintf(stderr, "hubctl log verify: %" PRIu64 " of %" PRIu64 " leaves checked\n", done,
                total);
}

static const char log_usage[] =
        "usage: hubctl log verify --hub-key FILE\n"
        "       hubctl log monitor --hub-key FILE [--follow] [--from-offset N]\n"
        "       hubctl log sign --hub-key SECRET_FILE\n"
        "       hubctl log head [--json]\n"
        "\n"
        "verify   recompute the whole stored log: every leaf from the rows it commits to\n"
        "         (records and their signed batches, statements, key events, agency keys),\n"
        "         every stored node, the root of every stored tree head, every head's\n"
        "         signature, and a consistency proof between consecutive heads. Prints each\n"
        "         difference (FAILED <what> <row>: why) and exits 1 if there is any\n"
        "monitor  read the tree heads published to hub.log, in order: each must be signed by the\n"
        "         hub key, and consistent with the one before (RFC 9162 proof from the hub's\n"
        "         database, --dsn). Exits 1 at the first unsigned or inconsistent head; without\n"
        "         --follow it stops at the end of the topic; --from-offset N starts there\n"
        "         (the heads before it are trusted)\n"
        "sign     sign a tree head now if the log grew since the last one (hubd does this every\n"
        "         log_head_interval seconds or log_head_leaves leaves)\n"
        "head     the latest signed tree head\n"
        "\n"
        "--hub-key defaults to $HUB_HUB_KEY. Common options: --dsn, --brokers, -X (hubctl --help).\n";

static int log_verify(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"hub-key", required_argument, NULL, 'k'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl log verify", *key_path = NULL;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'k') {
                        key_path = optarg;
                        continue;
                }
                if ((rc = parse_common(ctl, c, cmd, argv, log_usage)))
                        return rc < 0 ? CTL_OK : rc;
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        hub_key_t hub;
        bool have;
        if ((rc = load_hub_key(cmd, key_path, true, &hub, &have)))
                return rc;
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        hub_mlog_verify_stats_t st;
        hub_err_t err = {0};
        if (hub_mlog_verify(s, &hub, on_problem, on_progress, NULL, &st, &err)) {
                rc = ctl_fail("could not verify the log: %s", err.msg);
        } else {
                printf("%s: %" PRIu64 " leaves (%" PRIu64 " records, %" PRIu64
                       " key events, %" PRIu64 " other), %" PRIu64 " nodes, %" PRIu64
                       " tree heads checked, %" PRIu64 " problem%s\n",
                       st.problems ? "FAILED" : "ok", st.leaves, st.records, st.key_events,
                       st.other_leaves, st.nodes, st.heads, st.problems,
                       st.problems == 1 ? "" : "s");
                rc = st.problems ? CTL_FAIL : CTL_OK;
        }
        hub_store_close(s);
        return rc;
}

/* ---- log sign / head ---- */

static void print_head(const hub_mlog_head_t *h, bool json)
{
        char root[65], ts[HUB_TIMESTAMP_MAX];
        hex32(h->root, root);
        if (json) {
                char sig[2 * HUB_SIG_BYTES + 1];
                sodium_bin2hex(sig, sizeof(sig), h->signature, HUB_SIG_BYTES);
                json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:s}", "log_size",
                                      (json_int_t)h->size, "root_hash", root, "timestamp",
                                      (json_int_t)h->timestamp_ms, "key_id", h->key_id,
                                      "signature", sig);
                char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                puts(t);
                free(t);
                json_decref(j);
                return;
        }
        printf("tree head: %" PRIu64 " leaves, root %s, signed %s by %s\n", h->size, root,
               hub_timestamp_format(h->timestamp_ms * 1000, ts), h->key_id);
}

static int log_sign(ctl_t *ctl, int argc, char **argv, bool sign)
{
        static const struct option longopts[] = {{"hub-key", required_argument, NULL, 'k'},
                                                 {"json", no_argument, NULL, 'j'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = sign ? "hubctl log sign" : "hubctl log head", *key_path = NULL;
        bool json = false;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'k') {
                        key_path = optarg;
                        continue;
                }
                if (c == 'j') {
                        json = true;
                        continue;
                }
                if ((rc = parse_common(ctl, c, cmd, argv, log_usage)))
                        return rc < 0 ? CTL_OK : rc;
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        hub_key_t key = {0};
        hub_err_t err = {0};
        if (sign && !key_path)
                return ctl_usage_error(cmd, "--hub-key SECRET_FILE is required");
        if (sign && (hub_key_load(key_path, &key, &err) || !key.has_secret))
                return ctl_fail("could not load the hub's secret key %s: %s", key_path,
                                err.code ? err.msg : "not a secret key file");
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s))) {
                hub_key_wipe(&key);
                return rc;
        }
        hub_mlog_head_t h;
        bool done = false;
        if (sign) {
                hub_mlog_sign_opts_t o = {.force = true};
                if (hub_mlog_sign(s, &key, &o, &h, &done, &err))
                        rc = ctl_fail("could not sign a tree head: %s", err.msg);
                else if (done)
                        print_head(&h, json);
                else
                        printf("no new leaves since the last tree head: nothing signed\n");
        } else {
                if (hub_mlog_latest_head(s, &h, &done, &err))
                        rc = ctl_fail("%s", err.msg);
                else if (!done)
                        rc = ctl_fail("no tree head has been signed yet");
                else
                        print_head(&h, json);
        }
        hub_key_wipe(&key);
        hub_store_close(s);
        return rc;
}

/* ---- log monitor ---- */

static volatile sig_atomic_t monitor_stop;

static void on_signal(int sig)
{
        (void)sig;
        monitor_stop = 1;
}

struct monitor {
        hub_key_t hub;
        hub_store_t *s; /* for consistency proofs; NULL: none asked */
        bool have_prev;
        hub_mlog_head_t prev;
        uint64_t heads;
};

/* 0 when the head is fine, CTL_FAIL (printed) when not. */
static int check_head(struct monitor *m, const void *buf, size_t len, int64_t offset)
{
        hub_mlog_head_t h;
        hub_err_t err = {0};
        if (hub_mlog_head_decode(buf, len, &h, &err))
                return ctl_fail("hub.log offset %" PRId64 ": not a tree head: %s", offset,
                                err.msg);
        if (hub_mlog_head_verify(&h, &m->hub, &err))
                return ctl_fail("hub.log offset %" PRId64 ": unsigned head (size %" PRIu64
                                "): %s",
                                offset, h.size, err.msg);
        if (m->have_prev) {
                const hub_mlog_head_t *p = &m->prev;
                if (h.size < p->size || h.timestamp_ms < p->timestamp_ms)
                        return ctl_fail("hub.log offset %" PRId64 ": head of %" PRIu64
                                        " leaves after one of %" PRIu64 ": the log went back",
                                        offset, h.size, p->size);
                if (p->size > 0) {
                        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES];
                        size_t pl = 0;
                        if (h.size > p->size && !m->s)
                                return ctl_fail("a consistency proof is needed: give --dsn");
                        if (h.size > p->size &&
                            hub_mlog_prove_consistency(m->s, p->size, h.size, proof,
                                                       sizeof(proof), &pl, &err))
                                return ctl_fail("hub.log offset %" PRId64
                                                ": no consistency proof from %" PRIu64
                                                " to %" PRIu64 ": %s",
                                                offset, p->size, h.size, err.msg);
                        if (hub_merkle_verify_consistency(p->size, h.size, p->root, 32, h.root,
                                                          32, proof, pl, &err))
                                return ctl_fail("hub.log offset %" PRId64 ": head of %" PRIu64
                                                " leaves is not consistent with the head of %" PRIu64
                                                ": %s",
                                                offset, h.size, p->size, err.msg);
                }
        }
        char root[65];
        hex32(h.root, root);
        printf("ok: head %" PRIu64 " leaves, root %s, offset %" PRId64 "%s\n", h.size, root,
               offset, m->have_prev ? ", consistent with the previous head" : "");
        fflush(stdout);
        m->prev = h;
        m->have_prev = true;
        m->heads++;
        return 0;
}

static int log_monitor(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"hub-key", required_argument, NULL, 'k'},
                                                 {"follow", no_argument, NULL, 'f'},
                                                 {"from-offset", required_argument, NULL, 'o'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl log monitor", *key_path = NULL;
        bool follow = false, have;
        int64_t from = 0;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'k') {
                        key_path = optarg;
                        continue;
                }
                if (c == 'f') {
                        follow = true;
                        continue;
                }
                if (c == 'o') {
                        char *end;
                        from = strtoll(optarg, &end, 10);
                        if (*end || from < 0)
                                return ctl_usage_error(cmd, "--from-offset wants an offset >= 0");
                        continue;
                }
                if ((rc = parse_common(ctl, c, cmd, argv, log_usage)))
                        return rc < 0 ? CTL_OK : rc;
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        struct monitor m = {0};
        if ((rc = load_hub_key(cmd, key_path, true, &m.hub, &have)))
                return rc;
        if (ctl->dsn && *ctl->dsn && (rc = ctl_open_store(ctl, false, &m.s)))
                return rc;
        hub_err_t err = {0};
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_partition_list_t *l = NULL;
        int parts = 0;
        if (!ctl->brokers || !*ctl->brokers) {
                rc = ctl_usage_error(cmd, "no Kafka brokers given: use --brokers or set "
                                          "HUB_KAFKA_BROKERS");
                goto out;
        }
        {
                rd_kafka_conf_t *conf = rd_kafka_conf_new();
                char errstr[256];
                if (hub_kafka_set(conf, "bootstrap.servers", ctl->brokers, &err) ||
                    hub_kafka_set(conf, "group.id", "hubctl-log-monitor", &err) ||
                    hub_kafka_set(conf, "enable.auto.commit", "false", &err) ||
                    hub_kafka_set(conf, "enable.partition.eof", "true", &err)) {
                        rd_kafka_conf_destroy(conf);
                        rc = ctl_fail("%s", err.msg);
                        goto out;
                }
                if (ctl_kafka_conf(ctl, conf, &err)) {
                        rd_kafka_conf_destroy(conf);
                        rc = ctl_fail("%s", err.msg);
                        goto out;
                }
                rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
                if (!rk) {
                        rd_kafka_conf_destroy(conf);
                        rc = ctl_fail("could not create a Kafka consumer: %s", errstr);
                        goto out;
                }
        }
        if (hub_kafka_topic_partitions(rk, HUB_MLOG_TOPIC, &parts, 5000, &err) || parts == 0) {
                rc = ctl_fail("topic %s: %s", HUB_MLOG_TOPIC,
                              err.code ? err.msg : "does not exist: run hubctl init");
                goto out;
        }
        /* Every partition from the beginning, no group offsets: a monitor checks everything.
         * hubd writes every head with one key, so they are in one partition, in order. */
        l = rd_kafka_topic_partition_list_new(parts);
        int64_t *high = calloc((size_t)parts, sizeof(int64_t));
        bool *done = calloc((size_t)parts, sizeof(bool));
        for (int p = 0; p < parts && high && done; p++) {
                int64_t low;
                if (hub_kafka_watermarks(rk, HUB_MLOG_TOPIC, p, &low, &high[p], 5000, &err)) {
                        rc = ctl_fail("%s", err.msg);
                        break;
                }
                rd_kafka_topic_partition_list_add(l, HUB_MLOG_TOPIC, p)->offset =
                        from > low ? from : RD_KAFKA_OFFSET_BEGINNING;
                done[p] = high[p] <= (from > low ? from : low);
        }
        if (!high || !done)
                rc = ctl_fail("out of memory");
        if (!rc)
                rd_kafka_assign(rk, l);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!rc && !monitor_stop) {
                bool all = true;
                for (int p = 0; p < parts; p++)
                        all = all && done[p];
                if (all && !follow)
                        break;
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
                if (!msg)
                        continue;
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (msg->partition < parts)
                                done[msg->partition] = true;
                } else if (msg->err) {
                        fprintf(stderr, "hubctl log monitor: %s\n", rd_kafka_message_errstr(msg));
                } else {
                        rc = check_head(&m, msg->payload, msg->len, msg->offset);
                        if (msg->partition < parts && msg->offset + 1 >= high[msg->partition])
                                done[msg->partition] = true;
                }
                rd_kafka_message_destroy(msg);
        }
        if (!rc)
                printf("ok: %" PRIu64 " tree head%s, each signed and consistent with the one "
                       "before\n",
                       m.heads, m.heads == 1 ? "" : "s");
        free(high);
        free(done);
out:
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        hub_store_close(m.s);
        return rc;
}

int ctl_cmd_log(ctl_t *ctl, int argc, char **argv)
{
        if (argc < 2)
                return ctl_usage_error("hubctl log", "a subcommand is required: verify, monitor, "
                                                     "sign or head");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(log_usage, stdout);
                return CTL_OK;
        }
        if (strcmp(argv[1], "verify") == 0)
                return log_verify(ctl, argc - 1, argv + 1);
        if (strcmp(argv[1], "monitor") == 0)
                return log_monitor(ctl, argc - 1, argv + 1);
        if (strcmp(argv[1], "sign") == 0)
                return log_sign(ctl, argc - 1, argv + 1, true);
        if (strcmp(argv[1], "head") == 0)
                return log_sign(ctl, argc - 1, argv + 1, false);
        return ctl_usage_error("hubctl log", "unknown subcommand \"%s\": verify, monitor, sign or "
                                             "head",
                               argv[1]);
}

/* ---- evidence ---- */

static const char evidence_usage[] =
        "usage: hubctl evidence AGENCY/RECORD_ID --out FILE\n"
        "\n"
        "Write the evidence bundle of one record (schemas/README.md, \"The evidence bundle\"):\n"
        "the record's bytes, its batch header, its audit path and the agency's signature, the\n"
        "key's logged registration (and revocation) with inclusion proofs, the record's\n"
        "inclusion proof, and the latest signed tree head. Check it anywhere, offline, with\n"
        "hubctl verify FILE --hub-key HUB.pub.\n";

int ctl_cmd_evidence(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl evidence", *out = NULL;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'o') {
                        out = optarg;
                        continue;
                }
                if ((rc = parse_common(ctl, c, cmd, argv, evidence_usage)))
                        return rc < 0 ? CTL_OK : rc;
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "a record is required, as AGENCY/RECORD_ID");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
        if (!out)
                return ctl_usage_error(cmd, "--out FILE is required");
        const char *arg = argv[optind], *slash = strchr(arg, '/');
        char agency[HUB_BATCH_MAX_ID_BYTES + 1];
        if (!slash || slash == arg || (size_t)(slash - arg) >= sizeof(agency) || !slash[1])
                return ctl_usage_error(cmd, "\"%s\" is not AGENCY/RECORD_ID", arg);
        snprintf(agency, sizeof(agency), "%.*s", (int)(slash - arg), arg);
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        uint8_t *b = NULL;
        size_t len = 0;
        hub_err_t err = {0};
        if (hub_provenance_evidence(s, agency, slash + 1, &b, &len, &err)) {
                rc = ctl_fail("could not build the evidence of %s: %s", arg, err.msg);
                goto out;
        }
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
                rc = ctl_fail("could not write %s: %s", out, strerror(errno));
                goto out;
        }
        printf("evidence of %s written to %s (%zu bytes)\n", arg, out, len);
out:
        free(b);
        hub_store_close(s);
        return rc;
}

/* ---- verify ---- */

static const char verify_usage[] =
        "usage: hubctl verify BUNDLE --hub-key FILE [--agency-key FILE] [--json]\n"
        "\n"
        "Check an evidence bundle offline, with public keys only: the tree head's signature,\n"
        "the key's logged events and their inclusion, the key's validity, the agency's\n"
        "signature over the record, and the record's inclusion in the signed tree. On any\n"
        "change it says which check failed (bundle, tree-head-signature, key-event-inclusion,\n"
        "key-events, agency-key, key-validity, agency-signature, record-identity,\n"
        "record-inclusion) and exits 1. Needs no database and no broker.\n";

int ctl_cmd_verify(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"hub-key", required_argument, NULL, 'k'},
                                                 {"agency-key", required_argument, NULL, 'a'},
                                                 {"json", no_argument, NULL, 'j'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl verify", *key_path = NULL, *agency_path = NULL;
        bool json = false, have;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'k')
                        key_path = optarg;
                else if (c == 'a')
                        agency_path = optarg;
                else if (c == 'j')
                        json = true;
                else if ((rc = parse_common(ctl, c, cmd, argv, verify_usage)))
                        return rc < 0 ? CTL_OK : rc;
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "a bundle file is required");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
        hub_key_t hub, agency;
        hub_err_t err = {0};
        if ((rc = load_hub_key(cmd, key_path, true, &hub, &have)))
                return rc;
        if (agency_path && hub_key_load(agency_path, &agency, &err))
                return ctl_fail("could not load the agency key %s: %s", agency_path, err.msg);
        if (agency_path)
                hub_key_wipe(&agency);
        FILE *f = fopen(argv[optind], "rb");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0) {
                if (f)
                        fclose(f);
                return ctl_fail("could not read %s: %s", argv[optind], strerror(errno));
        }
        if (st.st_size > HUB_EVIDENCE_MAX_BYTES) {
                fclose(f);
                return ctl_fail("bundle %s is too large (%lld bytes)", argv[optind],
                                (long long)st.st_size);
        }
        uint8_t *b = malloc((size_t)st.st_size + 1);
        size_t len = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        if (!b)
                return ctl_fail("out of memory");
        hub_evidence_info_t info;
        rc = hub_evidence_verify(b, len, &hub, agency_path ? &agency : NULL, &info, &err);
        free(b);
        char ts[HUB_TIMESTAMP_MAX], hts[HUB_TIMESTAMP_MAX];
        if (json) {
                json_t *j = json_pack("{s:b, s:o, s:s}", "verified", rc == 0, "failed_check",
                                      info.failed ? json_string(info.failed) : json_null(),
                                      "message", rc ? err.msg : "");
                if (!rc) {
                        json_object_set_new(j, "agency", json_string(info.agency));
                        json_object_set_new(j, "record_id", json_string(info.record_id));
                        json_object_set_new(j, "key_id", json_string(info.key_id));
                        json_object_set_new(j, "leaf_index",
                                            json_integer((json_int_t)info.leaf_index));
                        json_object_set_new(j, "tree_size",
                                            json_integer((json_int_t)info.head.size));
                }
                char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                puts(t);
                free(t);
                json_decref(j);
                return rc ? CTL_FAIL : CTL_OK;
        }
        if (rc)
                return ctl_fail("evidence does not verify: check %s failed: %s", info.failed,
                                err.msg);
        printf("ok: record %s/%s\n"
               "  signed by %s key %s in a batch created %s (record %" PRIu64 " of %" PRIu64
               ")\n"
               "  the key's registration%s is in the hub's log (%zu event%s)\n"
               "  committed as leaf %" PRIu64 " of the tree of %" PRIu64
               " leaves, head signed %s by %s\n",
               info.agency, info.record_id, info.agency, info.key_id,
               hub_timestamp_format(info.created_at_ms * 1000, ts), info.record_index,
               info.record_count, info.revoked_later ? " and later revocation" : "",
               info.n_events, info.n_events == 1 ? "" : "s", info.leaf_index, info.head.size,
               hub_timestamp_format(info.head.timestamp_ms * 1000, hts), info.head.key_id);
        return CTL_OK;
}
