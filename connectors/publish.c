/* hub-publish: an agency's connector. Reads CSV or JSON Lines through a mapping file, signs
 * batches of reports with the agency's key and produces them to agency.<CODE>.reports; a
 * watermark file lets a restart resume after what was delivered. The work is in
 * hub/lib/publish.c; this file parses arguments, prints and picks the exit code.
 *
 * Exit codes: 0 every row published (or filtered out), 1 a row was refused or the run failed,
 * 2 usage. */
#include <hub/kafka_auth.h>
#include <hub/keyfile.h>
#include <hub/mapping.h>
#include <hub/publish.h>

#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KAFKA_CONF 64

static void usage(FILE *f)
{
        fprintf(f,
                "usage: hub-publish --mapping FILE --key FILE [options] SOURCE...\n"
                "\n"
                "Publish an agency's rows (CSV or JSON Lines) as signed batches of reports to\n"
                "the Kafka topic agency.<CODE>.reports, resuming after what earlier runs\n"
                "delivered. The mapping file says how rows become reports (see\n"
                "connectors/examples/README.md).\n"
                "\n"
                "  -m, --mapping FILE     mapping file (INI)\n"
                "  -k, --key FILE         the agency's secret key file (mode 0600 or 0400)\n"
                "  -b, --brokers LIST     Kafka bootstrap servers (default: $HUB_KAFKA_BROKERS)\n"
                "  -s, --state FILE       watermark file: where each source was delivered up to\n"
                "                         (without it every run starts from the beginning)\n"
                "  -n, --batch-size N     records per batch, 1-%d (default %d)\n"
                "  -l, --linger-ms MS     close a batch this long after its first record "
                "(default %d)\n"
                "      --from-start       ignore the watermark and read every source again\n"
                "      --dry-run          map and print each report as JSON; no Kafka, no key\n"
                "      --create-topic     create the agency topic if it does not exist (tests;\n"
                "                         normally \"hubctl agency add\" does)\n"
                "      --progress SECONDS progress line every SECONDS (default %d)\n"
                "  -X NAME=VALUE          a librdkafka setting, passed as is (not sasl.password)\n"
                HUB_KAFKA_AUTH_HELP
                "  -h, --help             show this help\n"
                "\n"
                "Exit status: 0 every row published or filtered out, 1 a row was refused or the\n"
                "run failed, 2 usage.\n",
                HUB_BATCH_DEFAULT_MAX_RECORDS, HUB_PUBLISH_DEFAULT_BATCH_SIZE,
                HUB_PUBLISH_DEFAULT_LINGER_MS, HUB_PUBLISH_DEFAULT_PROGRESS_MS / 1000);
}

static void on_bad_row(void *ctx, const char *file, uint64_t line, const char *reason,
                       const char *msg)
{
        (void)ctx;
        fprintf(stderr, "hub-publish: %s:%" PRIu64 ": row refused: %s: %s\n", file, line, reason,
                msg);
}

static void on_record(void *ctx, json_t *report)
{
        (void)ctx;
        json_dumpf(report, stdout, JSON_COMPACT);
        fputc('\n', stdout);
}

static void on_progress(void *ctx, const hub_publish_stats_t *st)
{
        (void)ctx;
        double s = (double)st->elapsed_ms / 1000.0;
        fprintf(stderr,
                "hub-publish: progress: %" PRIu64 " rows read, %" PRIu64 " refused, %" PRIu64
                " of %" PRIu64 " batches delivered, %.0f rows/s\n",
                st->rows_read, st->refused, st->batches_delivered, st->batches,
                s > 0 ? (double)st->rows_read / s : 0.0);
}

static void on_notice(void *ctx, const char *msg)
{
        (void)ctx;
        fprintf(stderr, "hub-publish: %s\n", msg);
}

static void print_counts(const char *what, json_t *obj)
{
        if (!json_object_size(obj))
                return;
        fprintf(stderr, "hub-publish: %s:", what);
        const char *k;
        json_t *v;
        int n = 0;
        json_object_foreach(obj, k, v) {
                if (n++ == 20) {
                        fprintf(stderr, " ...");
                        break;
                }
                fprintf(stderr, " %s (%" JSON_INTEGER_FORMAT ")", k, json_integer_value(v));
        }
        fputc('\n', stderr);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
        char *end;
        long v = strtol(s, &end, 10);
        if (!*s || *end || v < lo || v > hi)
                return -1;
        *out = v;
        return 0;
}

int main(int argc, char **argv)
{
        enum { OPT_FROM_START = 256, OPT_DRY_RUN, OPT_CREATE_TOPIC, OPT_PROGRESS };
        static const struct option opts[] = {
                {"mapping", required_argument, NULL, 'm'},
                {"key", required_argument, NULL, 'k'},
                {"brokers", required_argument, NULL, 'b'},
                {"state", required_argument, NULL, 's'},
                {"batch-size", required_argument, NULL, 'n'},
                {"linger-ms", required_argument, NULL, 'l'},
                {"from-start", no_argument, NULL, OPT_FROM_START},
                {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                {"create-topic", no_argument, NULL, OPT_CREATE_TOPIC},
                {"progress", required_argument, NULL, OPT_PROGRESS},
                {"help", no_argument, NULL, 'h'},
                HUB_KAFKA_AUTH_LONGOPTS,
                {NULL, 0, NULL, 0},
        };
        const char *mapping_path = NULL, *key_path = NULL, *kconf[2 * MAX_KAFKA_CONF];
        char *kbuf[MAX_KAFKA_CONF];
        size_t n_kconf = 0;
        hub_publish_opts_t o = {.brokers = getenv("HUB_KAFKA_BROKERS")};
        long v;
        int c, status = 1;
        while ((c = getopt_long(argc, argv, "m:k:b:s:n:l:X:h", opts, NULL)) != -1) {
                if (hub_kafka_auth_option(&o.auth, c, optarg))
                        continue;
                switch (c) {
                case 'm':
                        mapping_path = optarg;
                        break;
                case 'k':
                        key_path = optarg;
                        break;
                case 'b':
                        o.brokers = optarg;
                        break;
                case 's':
                        o.state_path = optarg;
                        break;
                case 'n':
                        if (parse_long(optarg, 1, HUB_BATCH_DEFAULT_MAX_RECORDS, &v)) {
                                fprintf(stderr, "hub-publish: --batch-size must be 1-%d\n",
                                        HUB_BATCH_DEFAULT_MAX_RECORDS);
                                return 2;
                        }
                        o.batch_size = (size_t)v;
                        break;
                case 'l':
                        if (parse_long(optarg, 1, 600000, &v)) {
                                fprintf(stderr, "hub-publish: --linger-ms must be 1-600000\n");
                                return 2;
                        }
                        o.linger_ms = (int)v;
                        break;
                case OPT_PROGRESS:
                        if (parse_long(optarg, 1, 86400, &v)) {
                                fprintf(stderr, "hub-publish: --progress must be 1-86400 "
                                                "seconds\n");
                                return 2;
                        }
                        o.progress_ms = (int)v * 1000;
                        break;
                case 'X': {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || n_kconf == MAX_KAFKA_CONF) {
                                fprintf(stderr, "hub-publish: -X takes NAME=VALUE (at most "
                                                "%d)\n", MAX_KAFKA_CONF);
                                return 2;
                        }
                        kbuf[n_kconf] = optarg;
                        kconf[2 * n_kconf] = optarg;
                        *eq = '\0';
                        hub_err_t xerr = {0};
                        if (hub_kafka_check_cli_setting(optarg, &xerr)) {
                                fprintf(stderr, "hub-publish: %s\n", xerr.msg);
                                return 2;
                        }
                        kconf[2 * n_kconf + 1] = eq + 1;
                        n_kconf++;
                        break;
                }
                case OPT_FROM_START:
                        o.from_start = true;
                        break;
                case OPT_DRY_RUN:
                        o.dry_run = true;
                        break;
                case OPT_CREATE_TOPIC:
                        o.create_topic = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        (void)kbuf;
        if (!mapping_path || optind == argc || (!key_path && !o.dry_run)) {
                fprintf(stderr, "hub-publish: %s\n",
                        !mapping_path  ? "--mapping is required"
                        : optind == argc ? "name at least one source file"
                                         : "--key is required (or use --dry-run)");
                usage(stderr);
                return 2;
        }
        if (!o.dry_run && (!o.brokers || !*o.brokers)) {
                fprintf(stderr, "hub-publish: no Kafka brokers: pass --brokers or set "
                                "HUB_KAFKA_BROKERS (deploy/local/env.sh)\n");
                return 2;
        }
        if (sodium_init() < 0) {
                fprintf(stderr, "hub-publish: libsodium failed to initialise\n");
                return 1;
        }
        hub_kafka_auth_env(&o.auth);
        o.files = (const char *const *)&argv[optind];
        o.n_files = (size_t)(argc - optind);
        o.kafka_conf = kconf;
        o.n_kafka_conf = n_kconf;
        o.bad_row = on_bad_row;
        o.progress = on_progress;
        o.notice = on_notice;
        if (o.dry_run)
                o.record = on_record;

        hub_err_t err = {0};
        hub_mapping_t *m = NULL;
        hub_key_t key = {0};
        hub_publish_stats_t st;
        if (hub_mapping_load(mapping_path, &m, &err))
                goto out;
        o.mapping = m;
        if (!o.dry_run) {
                if (hub_key_load(key_path, &key, &err))
                        goto out;
                o.key = &key;
                if (!o.state_path)
                        fprintf(stderr, "hub-publish: no --state file: this run starts from "
                                        "the beginning and remembers nothing\n");
        }
        int rc = hub_publish_run(&o, &st, &err);
        if (rc && !st.rows_read)
                goto out; /* nothing happened: the error says why */
        char what[160];
        if (o.dry_run)
                snprintf(what, sizeof(what), "%" PRIu64 " records mapped (dry run, nothing sent)",
                         st.records);
        else
                snprintf(what, sizeof(what),
                         "%" PRIu64 " records published to agency.%s.reports in %" PRIu64
                         " batches", st.records_delivered, hub_mapping_agency(m),
                         st.batches_delivered);
        fprintf(stderr,
                "hub-publish: %s: %" PRIu64 " rows read, %s, %" PRIu64 " refused, %" PRIu64
                " filtered out, %.1f s\n",
                hub_mapping_agency(m), st.rows_read, what, st.refused, st.filtered,
                (double)st.elapsed_ms / 1000.0);
        print_counts("values no symbol matched, published as the default",
                     hub_mapping_unknown_values(m));
        print_counts("fields the mapping does not name, ignored (values)",
                     hub_mapping_ignored_fields(m));
        if (rc)
                goto out;
        status = st.refused ? 1 : 0;
out:
        if (err.code)
                fprintf(stderr, "hub-publish: %s\n", err.msg);
        hub_key_wipe(&key);
        hub_mapping_free(m);
        return status;
}
