/* hub-publish through the real broker, as an agency runs it: the five example mappings publish
 * a data set split by agency; every batch is read back and verified (signature with the public
 * key, records decoded with the report codec, agency per topic, each record exactly once); a
 * second run sends nothing (watermark); --from-start sends the same records byte for byte.
 * Also: the exit code and stderr of a file with bad rows, a missing topic, usage.
 *
 * usage: itest_publish HUB-PUBLISH dev|sample
 *   dev     ../shared/data/agency_records.dev.jsonl (skipped when ../shared is absent)
 *   sample  tests/data/agency_sample.jsonl (the project's own, always there) */
#include <hub/batch.h>
#include <hub/kafka.h>
#include <hub/keyfile.h>
#include <hub/report.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

#define N_AG 5
#define PARTS 3

struct ag {
        const char *ini, *code, *source;
        hub_key_t key;
        char key_path[300], state_path[300], topic[100];
        int64_t ends[PARTS];
};

static struct ag ags[N_AG] = {
        {.ini = "moit-qltt.ini", .code = "MOIT-QLTT", .source = "QLTT"},
        {.ini = "mof-hq.ini", .code = "MOF-HQ", .source = "HQ"},
        {.ini = "mof-thue.ini", .code = "MOF-THUE", .source = "THUE"},
        {.ini = "mic.ini", .code = "MIC", .source = "BTTTT"},
        {.ini = "bca.ini", .code = "BCA", .source = "CA"},
};

static const char *bin, *data, *brokers;
static char dir[] = "/tmp/hub-itest-publish-XXXXXX";
static char err_text[65536];
static json_t *expected; /* record_id → source agency code, from the data file */
static rd_kafka_t *rk;   /* a consumer, also used for metadata and topic creation */
static hub_report_codec_t *codec;

/* A file in the test's folder; eight buffers in turn, so one call of run() can name several. */
static const char *path(const char *name)
{
        static char buf[8][300];
        static unsigned n;
        char *b = buf[n++ % 8];
        snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
        return b;
}

/* Run hub-publish with args (NULL-terminated); returns its exit status, stderr in err_text. */
static int run(const char *first, ...)
{
        const char *argv[32];
        int n = 0;
        argv[n++] = bin;
        va_list ap;
        va_start(ap, first);
        for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;
        char errp[300], outp[300];
        snprintf(errp, sizeof(errp), "%s/stderr", dir);
        snprintf(outp, sizeof(outp), "%s/stdout", dir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(e, 2);
                dup2(o, 1);
                execv(bin, (char *const *)argv);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        size_t len = 0;
        unsigned char *t = hub_test_read_file(errp, &len);
        snprintf(err_text, sizeof(err_text), "%s", t ? (char *)t : "");
        free(t);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void expect_err(const char *needle)
{
        if (!strstr(err_text, needle))
                fail_msg("stderr of hub-publish does not contain \"%s\":\n%s", needle, err_text);
}

static const char *mapping(const struct ag *a)
{
        static char buf[400];
        snprintf(buf, sizeof(buf), "%s", hub_test_source_path("connectors/examples/"));
        strncat(buf, a->ini, sizeof(buf) - strlen(buf) - 1);
        return buf;
}

static void record_ends(void)
{
        for (int i = 0; i < N_AG; i++)
                for (int p = 0; p < PARTS; p++) {
                        int64_t lo, hi;
                        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                                rk, ags[i].topic, p, &lo, &hi, 10000);
                        if (e)
                                fail_msg("end of %s[%d]: %s", ags[i].topic, p,
                                         rd_kafka_err2str(e));
                        ags[i].ends[p] = hi;
                }
}

/* Read every message between the ends recorded before and now, verify each batch, and return
 * record_id → record bytes (hex). Fails on any duplicate or unverifiable batch. */
static json_t *consume_since(int64_t before[N_AG][PARTS], size_t *n_batches)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(N_AG * PARTS);
        size_t want = 0;
        for (int i = 0; i < N_AG; i++)
                for (int p = 0; p < PARTS; p++) {
                        rd_kafka_topic_partition_list_add(l, ags[i].topic, p)->offset =
                                before[i][p];
                        want += (size_t)(ags[i].ends[p] - before[i][p]);
                }
        assert_int_equal(rd_kafka_assign(rk, l), 0);
        rd_kafka_topic_partition_list_destroy(l);
        json_t *seen = json_object();
        size_t got = 0;
        int idle = 0;
        while (got < want && idle < 60) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
                if (!m) {
                        idle++;
                        continue;
                }
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                const char *topic = rd_kafka_topic_name(m->rkt);
                struct ag *a = NULL;
                for (int i = 0; i < N_AG; i++)
                        if (strcmp(ags[i].topic, topic) == 0)
                                a = &ags[i];
                assert_non_null(a);
                if (m->offset >= a->ends[m->partition]) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                got++;
                hub_batch_t *b = NULL;
                hub_err_t err = {0};
                assert_int_equal(hub_batch_decode(m->payload, m->len, NULL, &b, &err), 0);
                const hub_batch_header_t *h = hub_batch_header(b);
                assert_string_equal(h->agency, a->code);
                assert_string_equal(h->key_id, a->key.key_id);
                if (hub_batch_verify(b, a->key.pk, sizeof(a->key.pk), &err))
                        fail_msg("batch at %s[%d]@%lld: %s", topic, (int)m->partition,
                                 (long long)m->offset, err.msg);
                assert_memory_equal(h->schema_fingerprint, hub_report_codec_fingerprint(codec),
                                    HUB_BATCH_FINGERPRINT_BYTES);
                assert_true(hub_batch_count(b) >= 1 && hub_batch_count(b) <= 4);
                for (size_t i = 0; i < hub_batch_count(b); i++) {
                        size_t len;
                        const uint8_t *rec = hub_batch_record(b, i, &len);
                        avro_value_t *v;
                        const char *rid, *agency;
                        assert_int_equal(hub_report_decode(codec, rec, len, &v, &err), 0);
                        assert_int_equal(hub_report_ids(v, &rid, &agency, &err), 0);
                        assert_string_equal(agency, a->code);
                        const char *src = json_string_value(json_object_get(expected, rid));
                        if (!src)
                                fail_msg("record %s is not in %s", rid, data);
                        assert_string_equal(src, a->source);
                        if (json_object_get(seen, rid))
                                fail_msg("record %s arrived twice", rid);
                        char *hex = malloc(2 * len + 1);
                        sodium_bin2hex(hex, 2 * len + 1, rec, len);
                        json_object_set_new(seen, rid, json_string(hex));
                        free(hex);
                }
                hub_batch_free(b);
                rd_kafka_message_destroy(m);
        }
        assert_int_equal(got, want);
        rd_kafka_assign(rk, NULL);
        *n_batches = got;
        return seen;
}

static void snapshot(int64_t out[N_AG][PARTS])
{
        for (int i = 0; i < N_AG; i++)
                memcpy(out[i], ags[i].ends, sizeof(ags[i].ends));
}

static void run_all(const char *extra, const char *needle)
{
        for (int i = 0; i < N_AG; i++) {
                struct ag *a = &ags[i];
                int rc = extra ? run("-m", mapping(a), "-k", a->key_path, "-s", a->state_path,
                                     "-n", "4", extra, data, NULL)
                               : run("-m", mapping(a), "-k", a->key_path, "-s", a->state_path,
                                     "-n", "4", data, NULL);
                if (rc != 0)
                        fail_msg("hub-publish with %s exited %d:\n%s", a->ini, rc, err_text);
                expect_err(needle);
        }
}

static void test_publish_resume_from_start(void **state)
{
        (void)state;
        int64_t before[N_AG][PARTS];
        size_t batches;
        record_ends();
        snapshot(before);
        run_all(NULL, "records published to agency.");
        record_ends();
        json_t *first = consume_since(before, &batches);
        /* every record of the data set, exactly once (duplicates failed above) */
        assert_int_equal(json_object_size(first), json_object_size(expected));
        assert_true(batches >= N_AG);

        /* again: the watermark says everything was delivered, nothing new is produced */
        snapshot(before);
        run_all(NULL, "resuming after line");
        expect_err(" 0 records published");
        record_ends();
        for (int i = 0; i < N_AG; i++)
                assert_memory_equal(before[i], ags[i].ends, sizeof(before[i]));

        /* --from-start: the same record_ids with the same bytes (the hub drops them as
         * repeats) */
        run_all("--from-start", "records published to agency.");
        record_ends();
        json_t *again = consume_since(before, &batches);
        assert_int_equal(json_object_size(again), json_object_size(expected));
        const char *rid;
        json_t *hex;
        json_object_foreach(first, rid, hex) {
                json_t *h2 = json_object_get(again, rid);
                assert_non_null(h2);
                assert_string_equal(json_string_value(hex), json_string_value(h2));
        }
        json_decref(first);
        json_decref(again);
}

static void test_bad_rows(void **state)
{
        (void)state;
        struct ag *a = &ags[1]; /* MOF-HQ */
        FILE *f = fopen(path("bad.jsonl"), "w");
        fputs("{\"record_id\": \"HQ-T-1\", \"source_agency\": \"HQ\", \"reported_at\": "
              "\"2025-01-02\", \"subject_type\": \"robot\", \"name\": \"A\"}\n"
              "{\"record_id\": \"HQ-T-2\", \"source_agency\": \n"
              "{\"source_agency\": \"HQ\", \"reported_at\": \"2025-01-02\"}\n"
              "{\"record_id\": \"HQ-T-3\", \"source_agency\": \"HQ\", \"reported_at\": "
              "\"2025-31-12\"}\n"
              "{\"record_id\": \"HQ-T-1\", \"source_agency\": \"HQ\", \"reported_at\": "
              "\"2025-01-03\"}\n"
              "{\"record_id\": \"HQ-T-4\", \"source_agency\": \"HQ\", \"reported_at\": "
              "\"2025-01-02\", \"colour\": \"red\"}\n",
              f);
        fclose(f);
        int rc = run("-m", mapping(a), "-k", a->key_path, "-s", path("bad.state"),
                     path("bad.jsonl"), NULL);
        assert_int_equal(rc, 1);
        expect_err("bad.jsonl:2: row refused: MALFORMED: invalid JSON");
        expect_err("bad.jsonl:3: row refused: MISSING_KEY: key field record_id is absent");
        expect_err("bad.jsonl:4: row refused: BAD_VALUE: field reported_at: \"2025-31-12\" is "
                   "not a date");
        expect_err("bad.jsonl:5: row refused: DUPLICATE_KEY: record_id HQ-T-1 was already "
                   "given by an earlier row of this run (line 1)");
        expect_err("MOF-HQ: 6 rows read, 2 records published to agency.MOF-HQ.reports in 1 "
                   "batches, 4 refused, 0 filtered out");
        expect_err("published as the default: subject_type=robot (1)");
        expect_err("ignored (values): colour (1)");
        /* the bad rows were reported once; the next run starts after them */
        rc = run("-m", mapping(a), "-k", a->key_path, "-s", path("bad.state"), path("bad.jsonl"),
                 NULL);
        assert_int_equal(rc, 0);
        expect_err("0 rows read");
}

/* The CSV example: a spreadsheet export with its own column names, a version column and a
 * cell spanning two lines. */
static void test_csv_example(void **state)
{
        (void)state;
        char ini[400], csv[400];
        snprintf(ini, sizeof(ini), "%s",
                 hub_test_source_path("connectors/examples/qltt-hcm-csv.ini"));
        snprintf(csv, sizeof(csv), "%s", hub_test_source_path("connectors/examples/qltt-hcm.csv"));
        assert_int_equal(run("--dry-run", "-m", ini, csv, NULL), 0);
        size_t len;
        char *out = (char *)hub_test_read_file(path("stdout"), &len);
        assert_non_null(out);
        assert_non_null(strstr(out, "\"record_id\":\"BB-0002%2FQLTT-HCM@2\""));
        size_t lines = 0;
        for (char *p = out; (p = strchr(p, '\n')); p++)
                lines++;
        assert_int_equal(lines, 4);
        free(out);
        int rc = run("-m", ini, "-k", ags[0].key_path, "-s", path("csv.state"), csv, NULL);
        if (rc)
                fail_msg("exit %d:\n%s", rc, err_text);
        expect_err("MOIT-QLTT: 4 rows read, 4 records published to agency.MOIT-QLTT.reports");
}

static void test_refusals(void **state)
{
        (void)state;
        /* an agency whose topic nobody created */
        char code[32], ini[600], kid[64];
        snprintf(code, sizeof(code), "NOTOPIC-%ld", (long)getpid());
        snprintf(kid, sizeof(kid), "%s/1", code);
        snprintf(ini, sizeof(ini),
                 "[source]\nformat = jsonl\nkey = record_id\n[report]\nagency = %s\n"
                 "tier = SHARED\n[fields]\nreported_at = reported_at\n",
                 code);
        FILE *f = fopen(path("notopic.ini"), "w");
        fputs(ini, f);
        fclose(f);
        hub_key_t k;
        hub_err_t err = {0};
        assert_int_equal(hub_key_generate(code, kid, &k, &err), 0);
        assert_int_equal(hub_key_write_secret(&k, path("notopic.key"), &err), 0);
        int rc = run("-m", path("notopic.ini"), "-k", path("notopic.key"), data, NULL);
        assert_int_equal(rc, 1);
        expect_err("does not exist: the hub's operators create it with \"hubctl agency add");

        /* another agency's key */
        rc = run("-m", mapping(&ags[0]), "-k", path("notopic.key"), data, NULL);
        assert_int_equal(rc, 1);
        expect_err("but the mapping publishes for MOIT-QLTT");

        /* a secret key others can read */
        assert_int_equal(chmod(path("notopic.key"), 0644), 0);
        rc = run("-m", path("notopic.ini"), "-k", path("notopic.key"), data, NULL);
        assert_int_equal(rc, 1);
        expect_err("accessible by group or others");

        /* usage */
        assert_int_equal(run("--batch-size", "0", NULL), 2);
        assert_int_equal(run("-m", path("notopic.ini"), NULL), 2);
        expect_err("name at least one source file");
        assert_int_equal(run("--help", NULL), 0);
}

static int setup(void **state)
{
        (void)state;
        if (!mkdtemp(dir))
                return -1;
        hub_err_t err = {0};
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char group[64];
        snprintf(group, sizeof(group), "itest-publish-%ld", (long)getpid());
        if (hub_kafka_set(conf, "bootstrap.servers", brokers, &err) ||
            hub_kafka_set(conf, "group.id", group, &err) ||
            hub_kafka_set(conf, "enable.auto.commit", "false", &err))
                return -1;
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk || hub_report_codec_new(&codec, &err))
                return -1;
        const char *topics[N_AG];
        for (int i = 0; i < N_AG; i++) {
                struct ag *a = &ags[i];
                char kid[80];
                snprintf(a->topic, sizeof(a->topic), "agency.%s.reports", a->code);
                snprintf(kid, sizeof(kid), "%s/itest-%ld", a->code, (long)getpid());
                snprintf(a->key_path, sizeof(a->key_path), "%s/%s.key", dir, a->code);
                snprintf(a->state_path, sizeof(a->state_path), "%s/%s.state", dir, a->code);
                if (hub_key_generate(a->code, kid, &a->key, &err) ||
                    hub_key_write_secret(&a->key, a->key_path, &err))
                        return -1;
                topics[i] = a->topic;
        }
        /* as "hubctl agency add" would; an existing topic is fine */
        if (hub_kafka_create_topics(rk, topics, N_AG, PARTS, NULL, 0, 30000, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                return -1;
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        hub_report_codec_free(codec);
        json_decref(expected);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 3 || (strcmp(argv[2], "dev") && strcmp(argv[2], "sample"))) {
                fprintf(stderr, "usage: itest_publish HUB-PUBLISH dev|sample\n");
                return 2;
        }
        bin = argv[1];
        brokers = hub_test_service("HUB_KAFKA_BROKERS");
        static char data_buf[4096];
        snprintf(data_buf, sizeof(data_buf), "%s",
                 strcmp(argv[2], "dev") == 0
                         ? hub_test_shared_path("data/agency_records.dev.jsonl")
                         : hub_test_source_path("tests/data/agency_sample.jsonl"));
        data = data_buf;
        if (sodium_init() < 0)
                return 1;
        expected = json_object();
        FILE *f = fopen(data, "r");
        if (!f) {
                fprintf(stderr, "cannot open %s\n", data);
                return 1;
        }
        json_error_t jerr;
        json_t *row;
        while ((row = json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr))) {
                json_object_set(expected, json_string_value(json_object_get(row, "record_id")),
                                json_object_get(row, "source_agency"));
                json_decref(row);
        }
        fclose(f);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_publish_resume_from_start),
                cmocka_unit_test(test_bad_rows),
                cmocka_unit_test(test_csv_example),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
