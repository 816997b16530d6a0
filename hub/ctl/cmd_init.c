/* hubctl init and hubctl agency: the database schema, the hub's topics, the agency registry. */
#include "ctl.h"

#include <hub/input.h>
#include <hub/kafka.h>
#include <hub/kafka_info.h>
#include <hub/mlog.h>
#include <hub/query.h>
#include <hub/registry.h>
#include <hub/timestamp.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TOPIC_PARTITIONS 3
#define KAFKA_TIMEOUT_MS 15000
/* A broker that is up answers metadata in milliseconds; an operator should not wait long to
 * learn that it is down. */
#define METADATA_TIMEOUT_MS 5000

/* Create topics that do not exist yet and report each one; a topic that exists with another
 * partition count is an error: the hub's keys are hashed over exactly TOPIC_PARTITIONS. */
static int ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n,
                         const char *const *settings, size_t n_settings, const char *what)
{
        hub_err_t err = {0};
        int existing[8] = {0};
        for (size_t i = 0; i < n && i < 8; i++) {
                if (hub_kafka_topic_partitions(rk, topics[i], &existing[i], METADATA_TIMEOUT_MS,
                                               &err))
                        return ctl_fail("%s\nhint: check --brokers or HUB_KAFKA_BROKERS, and "
                                        "that Kafka is running",
                                        err.msg);
                if (existing[i] && existing[i] != TOPIC_PARTITIONS)
                        return ctl_fail("topic %s exists with %d partitions, the hub needs %d: "
                                        "delete it or create it again by hand",
                                        topics[i], existing[i], TOPIC_PARTITIONS);
        }
        if (hub_kafka_create_topics(rk, topics, n, TOPIC_PARTITIONS, settings, n_settings,
                                    KAFKA_TIMEOUT_MS, &err))
                return ctl_fail("%s", err.msg);
        for (size_t i = 0; i < n; i++)
                printf("topic %s: %d partitions, %s (%s)\n", topics[i], TOPIC_PARTITIONS, what,
                       existing[i] ? "exists" : "created");
        return CTL_OK;
}

static int print_migration(const hub_migration_row_t *m, void *arg)
{
        (void)arg;
        printf("applied migration %04d_%s\n", m->version, m->name);
        return 0;
}

static const char init_usage[] =
        "usage: hubctl init [--dsn DSN] [--brokers LIST]\n"
        "\n"
        "Apply the database migrations not yet applied, in order, each recorded in\n"
        "schema_migrations, and create the hub's topics: hub.entities.public, .shared and\n"
        ".restricted (3 partitions, cleanup.policy=compact), hub.rejects and hub.log (the\n"
        "signed tree heads of the hub's log; 3 partitions each).\n"
        "Running it again changes nothing.\n";

int ctl_cmd_init(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl init";
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(init_usage, stdout);
                        return CTL_OK;
                }
                if (c == '?' || c == ':')
                        return ctl_bad_option(cmd, argv);
                if ((rc = ctl_common_option(ctl, c, optarg, cmd)))
                        return rc;
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        if (!ctl->brokers || !*ctl->brokers)
                return ctl_usage_error(cmd, "no Kafka brokers given: use --brokers or set "
                                            "HUB_KAFKA_BROKERS");

        hub_store_t *s = NULL;
        rd_kafka_t *rk = NULL;
        hub_err_t err = {0};
        int before = 0, after = 0, applied = 0;
        if ((rc = ctl_open_store(ctl, true, &s)))
                return rc;
        if (hub_store_schema_version(s, &before, &err) || hub_store_migrate(s, &applied, &err) ||
            hub_store_schema_version(s, &after, &err) ||
            hub_query_migrations(s, before, print_migration, NULL, &err)) {
                rc = ctl_fail("%s", err.msg);
                goto out;
        }
        if (applied)
                printf("database: schema version %d (%d migration%s applied)\n", after, applied,
                       applied == 1 ? "" : "s");
        else
                printf("database: schema version %d, up to date\n", after);

        if (ctl_open_kafka(ctl, &rk, &err)) {
                rc = ctl_fail("%s", err.msg);
                goto out;
        }
        static const char *const entity_topics[] = {"hub.entities.public", "hub.entities.shared",
                                                    "hub.entities.restricted"};
        /* Compacted: a subscriber starting from the beginning reads the latest view of every
         * entity, not its whole history. */
        static const char *const compact[] = {"cleanup.policy", "compact"};
        static const char *const rejects[] = {"hub.rejects"};
        rc = ensure_topics(rk, entity_topics, 3, compact, 1, "cleanup.policy=compact");
        if (!rc)
                rc = ensure_topics(rk, rejects, 1, NULL, 0, "cleanup.policy=delete");
        /* The signed tree heads of the hub's log: a plain topic, every head kept. */
        static const char *const log_topic[] = {HUB_MLOG_TOPIC};
        if (!rc)
                rc = ensure_topics(rk, log_topic, 1, NULL, 0, "cleanup.policy=delete");
        if (!rc)
                printf("ok: the hub is initialised\n");
out:
        if (rk)
                rd_kafka_destroy(rk);
        hub_store_close(s);
        return rc;
}

/* ---- agency ---- */

static const char agency_usage[] =
        "usage: hubctl agency add CODE --name NAME [--valid-from TIMESTAMP]\n"
        "       hubctl agency list\n"
        "\n"
        "add   register an agency (code ^[A-Z0-9][A-Z0-9-]{0,63}$, e.g. MOF-HQ) valid from\n"
        "      TIMESTAMP (default now), and create its topic agency.CODE.reports (3 partitions)\n"
        "list  the registered agencies with their validity and number of keys\n"
        "\n"
        "common options: --dsn DSN, --brokers LIST, -X KEY=VALUE (see hubctl --help)\n";

static int agency_add(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"name", required_argument, NULL, 'n'},
                                                 {"valid-from", required_argument, NULL, 'f'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl agency add", *name = NULL, *from_text = NULL;
        int64_t from = HUB_TS_NONE;
        int c, rc;
        hub_err_t err = {0};
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(agency_usage, stdout);
                        return CTL_OK;
                } else if (c == 'n') {
                        name = optarg;
                } else if (c == 'f') {
                        from_text = optarg;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "an agency code is required");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
        const char *code = argv[optind];
        if (!hub_input_agency_code_ok(code))
                return ctl_usage_error(cmd, "invalid agency code \"%s\": use capital letters, "
                                            "digits and '-', at most 64, e.g. MOF-HQ", code);
        if (!name || !*name)
                return ctl_usage_error(cmd, "--name is required");
        if (from_text && hub_timestamp_parse(from_text, &from, &err))
                return ctl_usage_error(cmd, "--valid-from: %s", err.msg);
        if (!ctl->brokers || !*ctl->brokers)
                return ctl_usage_error(cmd, "no Kafka brokers given: use --brokers or set "
                                            "HUB_KAFKA_BROKERS");

        hub_store_t *s = NULL;
        rd_kafka_t *rk = NULL;
        char topic[128];
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        /* The topic first: creating it is idempotent, so when registering fails (or the agency
         * exists) running the command again repairs a missing topic. */
        snprintf(topic, sizeof(topic), "agency.%s.reports", code);
        const char *const topics[] = {topic};
        if (ctl_open_kafka(ctl, &rk, &err)) {
                rc = ctl_fail("%s", err.msg);
                goto out;
        }
        if ((rc = ensure_topics(rk, topics, 1, NULL, 0, "cleanup.policy=delete")))
                goto out;
        if (hub_registry_agency_add(s, code, name, from, &err)) {
                rc = ctl_fail("could not add agency: %s", err.msg);
                goto out;
        }
        printf("agency %s added: %s\n", code, name);
out:
        if (rk)
                rd_kafka_destroy(rk);
        hub_store_close(s);
        return rc;
}

static int print_agency(const hub_agency_row_t *a, void *arg)
{
        char from[HUB_TIMESTAMP_MAX], to[HUB_TIMESTAMP_MAX];
        int *n = arg;
        if ((*n)++ == 0)
                printf("%-16s %-27s %-27s %4s  %s\n", "CODE", "VALID_FROM", "VALID_TO", "KEYS",
                       "NAME");
        printf("%-16s %-27s %-27s %4" PRId64 "  %s%s%s\n", a->code,
               hub_timestamp_format(a->valid_from, from), hub_timestamp_format(a->valid_to, to),
               a->keys, a->name, *a->successor ? " -> successor " : "", a->successor);
        return 0;
}

static int agency_list(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl agency list";
        int c, rc, n = 0;
        hub_err_t err = {0};
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(agency_usage, stdout);
                        return CTL_OK;
                }
                if (c == '?' || c == ':')
                        return ctl_bad_option(cmd, argv);
                if ((rc = ctl_common_option(ctl, c, optarg, cmd)))
                        return rc;
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (hub_registry_agencies(s, print_agency, &n, &err))
                rc = ctl_fail("%s", err.msg);
        else if (n == 0)
                printf("no agencies registered: add one with hubctl agency add\n");
        hub_store_close(s);
        return rc;
}

int ctl_cmd_agency(ctl_t *ctl, int argc, char **argv)
{
        if (argc < 2)
                return ctl_usage_error("hubctl agency", "a subcommand is required: add or list");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(agency_usage, stdout);
                return CTL_OK;
        }
        if (strcmp(argv[1], "add") == 0)
                return agency_add(ctl, argc - 1, argv + 1);
        if (strcmp(argv[1], "list") == 0)
                return agency_list(ctl, argc - 1, argv + 1);
        return ctl_usage_error("hubctl agency", "unknown subcommand \"%s\": add or list", argv[1]);
}
