/* hubctl: the hub's admin and query command line. */
#include "ctl.h"

#include <hub/kafka.h>

#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
        "usage: hubctl [OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "Administer the hub and look violators up.\n"
        "\n"
        "commands:\n"
        "  init                    apply database migrations, create the hub's Kafka topics\n"
        "  agency add|list         the registry of agencies (and their report topics)\n"
        "  key generate|register|revoke|list\n"
        "                          agencies' signing keys\n"
        "  query IDENTIFIER        find the entity holding an identifier (normalised first)\n"
        "  entity show E<id>       an entity with its names, identifiers and sources\n"
        "  status                  counts, rejects, outbox backlog and consumer lag\n"
        "  identifiers noisy       values the over-correlation guard stopped merging on\n"
        "  bins list|add|remove    the bank BIN list bank accounts are checked against\n"
        "  analyst add|revoke|list analysts and their signing keys\n"
        "  judge same|not-same|split|undo|list\n"
        "                          analysts' signed judgements on entities\n"
        "  provenance E<id>|ID     every value's sources, verified up to a signed tree head\n"
        "  evidence AGENCY/ID      write a record's offline-verifiable evidence bundle\n"
        "  verify BUNDLE           check an evidence bundle offline (public keys only)\n"
        "  log verify|monitor|sign|head\n"
        "                          the hub's Merkle log and its signed tree heads\n"
        "  api-token create|revoke the HTTP API's per-agency bearer tokens (hub-api)\n"
        "  kafka acl plan|apply    the brokers' ACLs for the hub, the agencies, the subscribers\n"
        "\n"
        "options (accepted before or after the command):\n"
        "  --dsn DSN               PostgreSQL conninfo (default $HUB_PG_DSN)\n"
        "  --brokers LIST          Kafka bootstrap servers (default $HUB_KAFKA_BROKERS)\n"
        "  -X KEY=VALUE            a librdkafka setting (e.g. -X ssl.ca.location=FILE; not\n"
        "                          sasl.password)\n"
        "  --kafka-user NAME       SASL user name (default $HUB_KAFKA_USER; none: no SASL)\n"
        "  --kafka-password-file FILE\n"
        "                          its first line is the SASL password, mode 0600 (default\n"
        "                          $HUB_KAFKA_PASSWORD_FILE, else $HUB_KAFKA_PASSWORD)\n"
        "  --kafka-security-protocol P, --kafka-sasl-mechanism M\n"
        "                          default $HUB_KAFKA_SECURITY_PROTOCOL (else SASL_SSL with a\n"
        "                          user), $HUB_KAFKA_SASL_MECHANISM (else SCRAM-SHA-512)\n"
        "  -v, --verbose           show librdkafka's log\n"
        "  -h, --help              this help; `hubctl COMMAND --help` for a command's\n"
        "\n"
        "Timestamps are RFC 3339 (2026-01-02T00:00:00Z, 2026-01-02T07:00:00+07:00 or 2026-01-02)\n"
        "and are printed in UTC. Exit codes: 0 ok, 1 failure, 2 usage error.\n";

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "%s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\ntry \"%s --help\" for more information\n", cmd);
        return CTL_USAGE;
}

int ctl_fail(const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "hubctl: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return CTL_FAIL;
}

int ctl_bad_option(const char *cmd, char **argv)
{
        /* getopt_long leaves the offending word just before optind. */
        const char *word = optind > 0 ? argv[optind - 1] : "?";
        if (optopt && optopt < 256 && (word[0] != '-' || word[1] == '-' || !strchr(word, optopt)))
                return ctl_usage_error(cmd, "unknown option -%c", optopt);
        return ctl_usage_error(cmd, "unknown option or missing argument: %s", word);
}

int ctl_common_option(ctl_t *ctl, int c, const char *arg, const char *cmd)
{
        if (hub_kafka_auth_option(&ctl->auth, c, arg))
                return 0;
        switch (c) {
        case 1001:
                ctl->dsn = arg;
                return 0;
        case 1002:
                ctl->brokers = arg;
                return 0;
        case 'v':
                ctl->verbose = true;
                return 0;
        case 'X': {
                const char *eq = strchr(arg, '=');
                size_t n = ctl->n_kafka_settings;
                if (!eq || eq == arg)
                        return ctl_usage_error(cmd, "-X wants KEY=VALUE, not \"%s\"", arg);
                char name[256];
                hub_err_t xerr = {0};
                snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
                if (hub_kafka_check_cli_setting(name, &xerr))
                        return ctl_usage_error(cmd, "%s", xerr.msg);
                if (n >= CTL_MAX_KAFKA_SETTINGS || strlen(arg) >= sizeof(ctl->storage[0]))
                        return ctl_usage_error(cmd, "too many or too long -X settings");
                snprintf(ctl->storage[n], sizeof(ctl->storage[n]), "%s", arg);
                ctl->storage[n][eq - arg] = '\0';
                ctl->kafka_settings[2 * n] = ctl->storage[n];
                ctl->kafka_settings[2 * n + 1] = ctl->storage[n] + (eq - arg) + 1;
                ctl->n_kafka_settings++;
                return 0;
        }
        }
        return -1;
}

int ctl_open_store(ctl_t *ctl, bool any_schema, hub_store_t **out)
{
        hub_err_t err = {0};
        if (!ctl->dsn || !*ctl->dsn)
                return ctl_usage_error("hubctl", "no database given: use --dsn or set HUB_PG_DSN");
        if (hub_store_open(ctl->dsn, out, &err))
                return ctl_fail("%s\nhint: check --dsn or HUB_PG_DSN, and that PostgreSQL is "
                                "running",
                                err.msg);
        int version = 0;
        if (hub_store_schema_version(*out, &version, &err)) {
                hub_store_close(*out);
                *out = NULL;
                return ctl_fail("%s", err.msg);
        }
        if (!any_schema && version == 0) {
                hub_store_close(*out);
                *out = NULL;
                return ctl_fail("the database is not initialised: run hubctl init");
        }
        return CTL_OK;
}

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        ctl_t *ctl = rd_kafka_opaque(rk);
        if (ctl && ctl->verbose)
                fprintf(stderr, "ts=- level=%d comp=kafka fac=%s msg=\"%s\"\n", level, fac, buf);
}

int ctl_kafka_conf(ctl_t *ctl, rd_kafka_conf_t *conf, hub_err_t *err)
{
        int rc = 0;
        for (size_t i = 0; !rc && i < ctl->n_kafka_settings; i++)
                rc = hub_kafka_set(conf, ctl->kafka_settings[2 * i],
                                   ctl->kafka_settings[2 * i + 1], err);
        hub_kafka_auth_env(&ctl->auth);
        if (!rc)
                rc = hub_kafka_auth_apply(conf, &ctl->auth, err);
        return rc;
}

int ctl_open_kafka(ctl_t *ctl, rd_kafka_t **out, hub_err_t *err)
{
        char errstr[512];
        if (!ctl->brokers || !*ctl->brokers)
                return hub_err_set(err, HUB_E_CONFIG, false, "hubctl",
                                    "no Kafka brokers given: use --brokers or set "
                                    "HUB_KAFKA_BROKERS");
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int rc = hub_kafka_set(conf, "bootstrap.servers", ctl->brokers, err);
        /* Fail fast when the broker is down: an operator is waiting at the terminal. */
        if (!rc)
                rc = hub_kafka_set(conf, "socket.connection.setup.timeout.ms", "5000", err);
        if (!rc)
                rc = ctl_kafka_conf(ctl, conf, err);
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return rc;
        }
        rd_kafka_conf_set_opaque(conf, ctl);
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        *out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!*out) {
                rd_kafka_conf_destroy(conf);
                return hub_err_set(err, HUB_E_KAFKA, false, "hubctl",
                                    "could not create a Kafka client: %s", errstr);
        }
        return 0;
}

static const struct {
        const char *name;
        int (*run)(ctl_t *ctl, int argc, char **argv);
} commands[] = {
        {"init", ctl_cmd_init},   {"agency", ctl_cmd_agency}, {"key", ctl_cmd_key},
        {"query", ctl_cmd_query}, {"entity", ctl_cmd_entity}, {"status", ctl_cmd_status},
        {"log", ctl_cmd_log},     {"evidence", ctl_cmd_evidence}, {"verify", ctl_cmd_verify},
        {"provenance", ctl_cmd_provenance},
        {"identifiers", ctl_cmd_identifiers},
        {"api-token", ctl_cmd_api_token},
        {"kafka", ctl_cmd_kafka},
        {"bins", ctl_cmd_bins},
        {"analyst", ctl_cmd_analyst},
        {"judge", ctl_cmd_judge},
};

int main(int argc, char **argv)
{
        static ctl_t ctl;
        static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
        ctl.dsn = getenv("HUB_PG_DSN");
        ctl.brokers = getenv("HUB_KAFKA_BROKERS");
        if (sodium_init() < 0)
                return ctl_fail("could not initialise libsodium");
        int c;
        opterr = 0;
        /* '+': stop at the command word; the command parses the rest with its own options. */
        while ((c = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(usage_text, stdout);
                        return CTL_OK;
                }
                if (c == '?' || c == ':')
                        return ctl_bad_option("hubctl", argv);
                int rc = ctl_common_option(&ctl, c, optarg, "hubctl");
                if (rc)
                        return rc;
        }
        if (optind >= argc)
                return ctl_usage_error("hubctl", "no command given");
        const char *cmd = argv[optind];
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(cmd, commands[i].name) == 0) {
                        int sub_argc = argc - optind;
                        char **sub_argv = argv + optind;
                        optind = 0; /* glibc: 0 starts a fresh scan, resetting its state */
                        return commands[i].run(&ctl, sub_argc, sub_argv);
                }
        }
        if (strcmp(cmd, "help") == 0) {
                fputs(usage_text, stdout);
                return CTL_OK;
        }
        return ctl_usage_error("hubctl", "unknown command \"%s\"", cmd);
}
