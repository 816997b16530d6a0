/* hubctl's commands and the wiring they share (hub/ctl only). Commands parse their arguments,
 * call hub/store and hub/lib, print, and return an exit code: the logic lives in the libraries. */
#ifndef HUB_CTL_H
#define HUB_CTL_H

#include <hub/err.h>
#include <hub/kafka_auth.h>
#include <hub/store.h>

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

#define CTL_MAX_KAFKA_SETTINGS 32

typedef struct ctl {
        const char *dsn;     /* --dsn, else $HUB_PG_DSN */
        const char *brokers; /* --brokers, else $HUB_KAFKA_BROKERS */
        const char *kafka_settings[2 * CTL_MAX_KAFKA_SETTINGS]; /* -X key=value, split */
        size_t n_kafka_settings;
        hub_kafka_auth_t auth; /* --kafka-user etc., else the environment (hub/kafka_auth.h) */
        bool verbose;
        char storage[CTL_MAX_KAFKA_SETTINGS][256];
} ctl_t;

/* Options every command accepts, to append to a command's getopt_long table. */
#define CTL_COMMON_LONGOPTS                                                                        \
        {"dsn", required_argument, NULL, 1001}, {"brokers", required_argument, NULL, 1002},        \
                {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},     \
                HUB_KAFKA_AUTH_LONGOPTS
#define CTL_COMMON_SHORTOPTS ":hvX:"

/* Handle a common option: 0 when handled, CTL_USAGE on a bad -X, -1 when `c` is not common. */
int ctl_common_option(ctl_t *ctl, int c, const char *arg, const char *cmd);

/* Report a usage error: "hubctl CMD: message" and "try hubctl CMD --help". Returns CTL_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print an error in PostgreSQL's style. Returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An unknown option or a missing argument, from getopt_long's '?' or ':'. */
int ctl_bad_option(const char *cmd, char **argv);

/* Connect to PostgreSQL and check the schema is there (unless `any_schema`): messages for an
 * absent --dsn (CTL_USAGE), an unreachable server and an uninitialised database (CTL_FAIL). */
int ctl_open_store(ctl_t *ctl, bool any_schema, hub_store_t **out);

/* A Kafka client for admin and metadata calls on --brokers: 0, or -HUB_E_CONFIG when no
 * brokers are given, -HUB_E_KAFKA. */
int ctl_open_kafka(ctl_t *ctl, rd_kafka_t **out, hub_err_t *err);

/* Apply the -X settings and the SASL settings (--kafka-user ..., else the environment) to a
 * client configuration. */
int ctl_kafka_conf(ctl_t *ctl, rd_kafka_conf_t *conf, hub_err_t *err);

int ctl_cmd_init(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_agency(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_key(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_query(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_entity(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_status(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_log(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_evidence(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_verify(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_provenance(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_identifiers(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_api_token(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_kafka(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_bins(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_analyst(ctl_t *ctl, int argc, char **argv);
int ctl_cmd_judge(ctl_t *ctl, int argc, char **argv);

#endif
