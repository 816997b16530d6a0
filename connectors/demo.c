/* hub-demo: the foundation end to end on sample data, through a real Kafka broker.
 *
 * Reads fictional agency reports (JSON Lines in the shape of schemas/report.avsc), encodes each
 * as Avro, groups them per agency into signed batches (one throw-away Ed25519 key per agency),
 * produces them to agency.<code>.reports with the idempotent producer, then reads them back as
 * the hub will: decodes every batch from untrusted bytes, checks that the topic, the batch and
 * every record name the same agency, verifies the signature and the Merkle root, and decodes
 * every record. It ends with a summary, one record proved alone by its audit path, and one
 * tampered copy refused with its reason code.
 *
 * Exit codes: 0 every record came back verified, 1 anything else, 2 usage. */
#include <hub/batch.h>
#include <hub/kafka.h>
#include <hub/merkle.h>
#include <hub/report.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_AGENCIES 32
#define PARTITIONS 3

struct agency {
        char code[HUB_BATCH_MAX_ID_BYTES + 1];
        char topic[HUB_BATCH_MAX_ID_BYTES + 32];
        char key_id[HUB_BATCH_MAX_ID_BYTES + 1];
        uint8_t pk[crypto_sign_PUBLICKEYBYTES];
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        unsigned char **records; /* encoded reports, in input order */
        size_t *lens;
        size_t n, cap;
        size_t batches_sent, batches_verified, records_verified;
};

struct demo {
        struct agency ag[MAX_AGENCIES];
        size_t n_ag;
        size_t lines, rejected;
        hub_report_codec_t *codec;
};

static void usage(FILE *f)
{
        fprintf(f,
                "usage: hub-demo [options] REPORTS.jsonl\n"
                "\n"
                "Publish agency reports as signed batches through Kafka, read them back as the\n"
                "hub does, verify every batch and record, and print a summary.\n"
                "\n"
                "  -b, --brokers LIST     Kafka bootstrap servers (default: $HUB_KAFKA_BROKERS)\n"
                "  -n, --batch-size N     records per batch, 1-%d (default 8)\n"
                "  -t, --timeout SECONDS  how long to wait for the batches to come back "
                "(default 60)\n"
                "  -h, --help             show this help\n",
                HUB_BATCH_DEFAULT_MAX_RECORDS);
}

static struct agency *agency_get(struct demo *d, const char *code)
{
        for (size_t i = 0; i < d->n_ag; i++)
                if (strcmp(d->ag[i].code, code) == 0)
                        return &d->ag[i];
        if (d->n_ag == MAX_AGENCIES || strlen(code) > HUB_BATCH_MAX_ID_BYTES)
                return NULL;
        struct agency *a = &d->ag[d->n_ag++];
        memset(a, 0, sizeof(*a));
        snprintf(a->code, sizeof(a->code), "%s", code);
        snprintf(a->topic, sizeof(a->topic), "agency.%s.reports", code);
        snprintf(a->key_id, sizeof(a->key_id), "%s/demo-1", code);
        crypto_sign_keypair(a->pk, a->sk);
        return a;
}

static int agency_push(struct agency *a, unsigned char *rec, size_t len)
{
        if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 64;
                unsigned char **r = realloc(a->records, cap * sizeof(*r));
                if (!r)
                        return -1;
                a->records = r;
                size_t *l = realloc(a->lens, cap * sizeof(*l));
                if (!l)
                        return -1;
                a->lens = l;
                a->cap = cap;
        }
        a->records[a->n] = rec;
        a->lens[a->n++] = len;
        return 0;
}

/* Read and encode every line; a bad line is reported with its number and reason, and counted. */
static int read_reports(struct demo *d, const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f) {
                fprintf(stderr, "hub-demo: could not open %s: %s\n", path, strerror(errno));
                return -1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        while ((got = getline(&line, &cap, f)) > 0) {
                d->lines++;
                if (got == 1 && line[0] == '\n') {
                        d->lines--;
                        continue;
                }
                json_error_t jerr;
                json_t *j = json_loadb(line, (size_t)got, 0, &jerr);
                hub_err_t err = {0};
                unsigned char *rec = NULL;
                size_t len = 0;
                const char *code = j ? json_string_value(json_object_get(j, "agency")) : NULL;
                struct agency *a = code ? agency_get(d, code) : NULL;
                if (!j)
                        fprintf(stderr, "hub-demo: %s:%zu: rejected: MALFORMED: %s\n", path,
                                d->lines, jerr.text);
                else if (!a)
                        fprintf(stderr, "hub-demo: %s:%zu: rejected: MALFORMED: no usable "
                                        "agency code\n", path, d->lines);
                else if (hub_report_encode_json(d->codec, j, &rec, &len, &err))
                        fprintf(stderr, "hub-demo: %s:%zu: rejected: %s: %s\n", path, d->lines,
                                hub_err_name(err.code), err.msg);
                else if (agency_push(a, rec, len) == 0)
                        rec = NULL;
                if (!j || !a || err.code || rec)
                        d->rejected++;
                free(rec);
                json_decref(j);
        }
        free(line);
        int failed = ferror(f);
        fclose(f);
        if (failed) {
                fprintf(stderr, "hub-demo: could not read %s\n", path);
                return -1;
        }
        return 0;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *brokers, hub_err_t *err)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int rc = hub_kafka_set(conf, "bootstrap.servers", brokers, err);
        if (!rc && type == RD_KAFKA_PRODUCER) {
                rc = hub_kafka_set(conf, "enable.idempotence", "true", err);
                if (!rc)
                        rc = hub_kafka_set(conf, "linger.ms", "5", err);
        }
        if (!rc && type == RD_KAFKA_CONSUMER) {
                char group[64];
                snprintf(group, sizeof(group), "hub-demo-%ld-%ld", (long)getpid(),
                         (long)time(NULL));
                rc = hub_kafka_set(conf, "group.id", group, err);
                if (!rc)
                        rc = hub_kafka_set(conf, "enable.auto.commit", "false", err);
        }
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                hub_err_set(err, HUB_E_KAFKA, false, "kafka", "could not create client: %s",
                            errstr);
        }
        return rk;
}

/* Where each partition of every topic ends now: the batches of this run start there, so
 * batches left by earlier runs (signed with keys this run never had) are not read back. */
static rd_kafka_topic_partition_list_t *current_ends(rd_kafka_t *rk, struct demo *d,
                                                     hub_err_t *err)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
        for (size_t i = 0; i < d->n_ag; i++) {
                for (int p = 0; p < PARTITIONS; p++) {
                        int64_t lo, hi;
                        rd_kafka_resp_err_t e;
                        /* A partition just created can answer "not leader" for a moment
                         * after its metadata already names a leader: retry for a while. */
                        for (int tries = 0;; tries++) {
                                e = rd_kafka_query_watermark_offsets(rk, d->ag[i].topic, p, &lo,
                                                                     &hi, 10000);
                                if (tries == 100 ||
                                    (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                                     e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                                     e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
                                        break;
                                nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000},
                                          NULL);
                        }
                        if (e) {
                                hub_err_set(err, HUB_E_KAFKA, true, "kafka",
                                            "could not read the end of %s[%d]: %s",
                                            d->ag[i].topic, p, rd_kafka_err2str(e));
                                rd_kafka_topic_partition_list_destroy(l);
                                return NULL;
                        }
                        rd_kafka_topic_partition_list_add(l, d->ag[i].topic, p)->offset = hi;
                }
        }
        return l;
}

static int produce_all(rd_kafka_t *rk, struct demo *d, size_t batch_size, hub_err_t *err)
{
        for (size_t i = 0; i < d->n_ag; i++) {
                struct agency *a = &d->ag[i];
                for (size_t start = 0; start < a->n; start += batch_size) {
                        hub_batch_header_t h = {
                                .agency = a->code,
                                .key_id = a->key_id,
                                .producer_id = "hub-demo",
                                .batch_seq = (int64_t)a->batches_sent,
                                .created_at_ms = (int64_t)time(NULL) * 1000,
                        };
                        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(d->codec), 8);
                        hub_batch_builder_t *b = NULL;
                        unsigned char *out = NULL;
                        size_t out_len = 0;
                        int rc = hub_batch_builder_new(&h, NULL, &b, err);
                        for (size_t r = start; !rc && r < a->n && r < start + batch_size; r++)
                                rc = hub_batch_builder_add(b, a->records[r], a->lens[r], err);
                        if (!rc)
                                rc = hub_batch_builder_finish(b, a->sk, sizeof(a->sk), &out,
                                                              &out_len, err);
                        hub_batch_builder_free(b);
                        if (rc)
                                return rc;
                        rd_kafka_resp_err_t e = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(a->topic),
                                RD_KAFKA_V_KEY(a->code, strlen(a->code)),
                                RD_KAFKA_V_VALUE(out, out_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
                        if (e) {
                                free(out);
                                return hub_err_set(err, HUB_E_KAFKA, true, "kafka",
                                                   "could not produce to %s: %s", a->topic,
                                                   rd_kafka_err2str(e));
                        }
                        a->batches_sent++;
                }
        }
        rd_kafka_resp_err_t e = rd_kafka_flush(rk, 30000);
        if (e)
                return hub_err_set(err, HUB_E_KAFKA, true, "kafka",
                                   "could not deliver every batch within 30 s: %s",
                                   rd_kafka_err2str(e));
        return 0;
}

struct kept {
        unsigned char *bytes;
        size_t len;
        struct agency *a;
};

/* Verify one batch as the hub will; returns 0 and counts it, or reports why it is refused. */
static int check_batch(struct demo *d, const char *topic, const void *buf, size_t len,
                       struct agency **who, hub_err_t *err)
{
        hub_batch_t *b = NULL;
        int rc = hub_batch_decode(buf, len, NULL, &b, err);
        if (rc)
                return rc;
        const hub_batch_header_t *h = hub_batch_header(b);
        struct agency *a = NULL;
        for (size_t i = 0; i < d->n_ag; i++)
                if (strcmp(d->ag[i].code, h->agency) == 0)
                        a = &d->ag[i];
        if (!a || strcmp(a->topic, topic) != 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "verify",
                                 "batch of agency %s arrived on topic %s", h->agency, topic);
                goto out;
        }
        if (strcmp(h->key_id, a->key_id) != 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "verify", "unknown key %s", h->key_id);
                goto out;
        }
        rc = hub_batch_verify(b, a->pk, sizeof(a->pk), err);
        if (rc)
                goto out;
        if (memcmp(h->schema_fingerprint, hub_report_codec_fingerprint(d->codec), 8) != 0) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, "verify", "unknown writer schema");
                goto out;
        }
        for (size_t i = 0; i < hub_batch_count(b); i++) {
                size_t rlen;
                const uint8_t *rec = hub_batch_record(b, i, &rlen);
                avro_value_t *v;
                const char *rid, *agency;
                rc = hub_report_decode(d->codec, rec, rlen, &v, err);
                if (!rc)
                        rc = hub_report_ids(v, &rid, &agency, err);
                if (!rc && strcmp(agency, a->code) != 0)
                        rc = hub_err_set(err, HUB_E_KEY, false, "verify",
                                         "record %s of agency %s in a batch of %s", rid, agency,
                                         a->code);
                if (rc) {
                        hub_err_prefix(err, "record %zu", i);
                        goto out;
                }
        }
        if (who)
                *who = a;
out:
        hub_batch_free(b);
        return rc;
}

static int consume_all(rd_kafka_t *rk, struct demo *d, rd_kafka_topic_partition_list_t *from,
                       int timeout_s, struct kept *first)
{
        size_t want = 0, got = 0, refused = 0;
        for (size_t i = 0; i < d->n_ag; i++)
                want += d->ag[i].batches_sent;
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, from);
        if (e) {
                fprintf(stderr, "hub-demo: could not assign partitions: %s\n",
                        rd_kafka_err2str(e));
                return -1;
        }
        time_t deadline = time(NULL) + timeout_s;
        while (got + refused < want && time(NULL) < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
                if (!m)
                        continue;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "hub-demo: consumer: %s\n",
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                const char *topic = rd_kafka_topic_name(m->rkt);
                hub_err_t err = {0};
                struct agency *a = NULL;
                if (check_batch(d, topic, m->payload, m->len, &a, &err) == 0) {
                        a->batches_verified++;
                        got++;
                        size_t n = 0;
                        hub_batch_t *b = NULL;
                        if (hub_batch_decode(m->payload, m->len, NULL, &b, NULL) == 0)
                                n = hub_batch_count(b);
                        hub_batch_free(b);
                        a->records_verified += n;
                        if (!first->bytes && (first->bytes = malloc(m->len))) {
                                memcpy(first->bytes, m->payload, m->len);
                                first->len = m->len;
                                first->a = a;
                        }
                } else {
                        refused++;
                        fprintf(stderr,
                                "hub-demo: batch at %s[%" PRId32 "]@%" PRId64
                                " refused: %s: %s\n",
                                topic, m->partition, m->offset, hub_err_name(err.code), err.msg);
                }
                rd_kafka_message_destroy(m);
        }
        if (got + refused < want)
                fprintf(stderr, "hub-demo: only %zu of %zu batches came back within %d s\n",
                        got + refused, want, timeout_s);
        return got == want && refused == 0 ? 0 : -1;
}

/* Prove one record alone by its audit path, and show that a tampered copy is refused. */
static int show_proofs(struct demo *d, const struct kept *k)
{
        hub_batch_t *b = NULL;
        hub_err_t err = {0};
        if (hub_batch_decode(k->bytes, k->len, NULL, &b, &err))
                return -1;
        size_t n = hub_batch_count(b), i = n / 2, rlen, plen;
        const uint8_t *rec = hub_batch_record(b, i, &rlen);
        uint8_t path[HUB_MERKLE_MAX_PROOF_BYTES];
        char root_hex[2 * HUB_MERKLE_HASH_BYTES + 1];
        sodium_bin2hex(root_hex, sizeof(root_hex), hub_batch_root(b), HUB_MERKLE_HASH_BYTES);
        int rc = hub_batch_audit_path(b, i, path, sizeof(path), &plen, &err);
        if (!rc)
                rc = hub_batch_verify_record(rec, rlen, i, n, path, plen, hub_batch_root(b),
                                             HUB_MERKLE_HASH_BYTES, &err);
        if (rc) {
                fprintf(stderr, "hub-demo: audit path of record %zu failed: %s\n", i, err.msg);
                hub_batch_free(b);
                return -1;
        }
        printf("batch %" PRId64 " of %s: %zu records, Merkle root %s\n",
               hub_batch_header(b)->batch_seq, k->a->code, n, root_hex);
        printf("record %zu proved alone by its audit path (%zu hashes) against that root\n", i,
               plen / HUB_MERKLE_HASH_BYTES);

        /* Flip one bit in the middle of that record's bytes, found in a copy of the batch
         * exactly as carried. */
        unsigned char *bad = malloc(k->len);
        int refused = 0;
        if (bad) {
                memcpy(bad, k->bytes, k->len);
                for (size_t p = 0; p + rlen <= k->len; p++)
                        if (memcmp(k->bytes + p, rec, rlen) == 0) {
                                bad[p + rlen / 2] ^= 0x01;
                                break;
                        }
                hub_err_t terr = {0};
                struct agency *who = NULL;
                if (check_batch(d, k->a->topic, bad, k->len, &who, &terr) != 0) {
                        refused = 1;
                        printf("a copy with one bit flipped is refused: %s: %s\n",
                               hub_err_name(terr.code), terr.msg);
                }
                free(bad);
        }
        hub_batch_free(b);
        if (!refused)
                fprintf(stderr, "hub-demo: a tampered batch was accepted\n");
        return refused ? 0 : -1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"batch-size", required_argument, NULL, 'n'},
                {"timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *brokers = getenv("HUB_KAFKA_BROKERS");
        long batch_size = 8, timeout_s = 60;
        int c;
        char *end;
        while ((c = getopt_long(argc, argv, "b:n:t:h", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        brokers = optarg;
                        break;
                case 'n':
                        batch_size = strtol(optarg, &end, 10);
                        if (*end || batch_size < 1 || batch_size > HUB_BATCH_DEFAULT_MAX_RECORDS) {
                                fprintf(stderr, "hub-demo: --batch-size must be 1-%d\n",
                                        HUB_BATCH_DEFAULT_MAX_RECORDS);
                                return 2;
                        }
                        break;
                case 't':
                        timeout_s = strtol(optarg, &end, 10);
                        if (*end || timeout_s < 1 || timeout_s > 3600) {
                                fprintf(stderr, "hub-demo: --timeout must be 1-3600 seconds\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return 2;
        }
        if (!brokers || !*brokers) {
                fprintf(stderr, "hub-demo: no Kafka brokers: pass --brokers or set "
                                "HUB_KAFKA_BROKERS (deploy/local/env.sh)\n");
                return 2;
        }
        if (sodium_init() < 0) {
                fprintf(stderr, "hub-demo: libsodium failed to initialise\n");
                return 1;
        }

        static struct demo d;
        struct kept first = {0};
        hub_err_t err = {0};
        rd_kafka_t *prod = NULL, *cons = NULL;
        rd_kafka_topic_partition_list_t *from = NULL;
        int ok = 0;
        if (hub_report_codec_new(&d.codec, &err))
                goto out;
        if (read_reports(&d, argv[optind]))
                goto out;
        if (d.n_ag == 0) {
                fprintf(stderr, "hub-demo: %s holds no usable report\n", argv[optind]);
                goto out;
        }
        prod = client(RD_KAFKA_PRODUCER, brokers, &err);
        cons = prod ? client(RD_KAFKA_CONSUMER, brokers, &err) : NULL;
        if (!cons)
                goto out;
        const char *topics[MAX_AGENCIES];
        for (size_t i = 0; i < d.n_ag; i++)
                topics[i] = d.ag[i].topic;
        if (hub_kafka_create_topics(prod, topics, d.n_ag, PARTITIONS, NULL, 0, 15000, &err))
                goto out;
        from = current_ends(cons, &d, &err);
        if (!from)
                goto out;
        if (produce_all(prod, &d, (size_t)batch_size, &err))
                goto out;
        int consumed = consume_all(cons, &d, from, (int)timeout_s, &first);

        printf("%zu reports read from %s, %zu rejected\n", d.lines, argv[optind], d.rejected);
        printf("%-12s %8s %8s %10s %10s\n", "agency", "records", "batches", "verified",
               "records ok");
        size_t total = 0, total_ok = 0;
        for (size_t i = 0; i < d.n_ag; i++) {
                struct agency *a = &d.ag[i];
                printf("%-12s %8zu %8zu %10zu %10zu\n", a->code, a->n, a->batches_sent,
                       a->batches_verified, a->records_verified);
                total += a->n;
                total_ok += a->records_verified;
        }
        ok = consumed == 0 && total == total_ok && d.rejected == 0 && first.bytes &&
             show_proofs(&d, &first) == 0;
        printf("%s: %zu of %zu records published, received and verified\n",
               ok ? "ok" : "FAILED", total_ok, total);
out:
        if (err.code)
                fprintf(stderr, "hub-demo: %s: %s\n", hub_err_name(err.code), err.msg);
        if (from)
                rd_kafka_topic_partition_list_destroy(from);
        if (cons) {
                rd_kafka_consumer_close(cons);
                rd_kafka_destroy(cons);
        }
        if (prod)
                rd_kafka_destroy(prod);
        for (size_t i = 0; i < d.n_ag; i++) {
                for (size_t r = 0; r < d.ag[i].n; r++)
                        free(d.ag[i].records[r]);
                free(d.ag[i].records);
                free(d.ag[i].lens);
                sodium_memzero(d.ag[i].sk, sizeof(d.ag[i].sk));
        }
        free(first.bytes);
        hub_report_codec_free(d.codec);
        return ok ? 0 : 1;
}
