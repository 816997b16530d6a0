/* How a program authenticates to the Kafka brokers: SASL/SCRAM with a user name and a password
 * read from a file or the environment, never from the command line (a command line is visible
 * to every user of the machine through ps and /proc).
 *
 * Every program takes the same settings (hubd through its settings table, the others through
 * options of the same names), each defaulting to an environment variable:
 *   --kafka-user NAME              HUB_KAFKA_USER              sasl.username
 *   --kafka-password-file FILE     HUB_KAFKA_PASSWORD_FILE     sasl.password (first line)
 *                                  HUB_KAFKA_PASSWORD          sasl.password, without a file
 *   --kafka-security-protocol P    HUB_KAFKA_SECURITY_PROTOCOL security.protocol
 *   --kafka-sasl-mechanism M       HUB_KAFKA_SASL_MECHANISM    sasl.mechanism
 * With a user, the protocol defaults to SASL_SSL and the mechanism to SCRAM-SHA-512; without
 * one nothing is set (a PLAINTEXT listener, or whatever -X settings say). */
#ifndef HUB_KAFKA_AUTH_H
#define HUB_KAFKA_AUTH_H

#include <hub/err.h>

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#define HUB_KAFKA_DEFAULT_SASL_PROTOCOL "SASL_SSL"
#define HUB_KAFKA_DEFAULT_SASL_MECHANISM "SCRAM-SHA-512"

/* The options of the programs that parse their own (hubd's come from its settings table). */
#define HUB_KAFKA_AUTH_HELP                                                                        \
        "      --kafka-user NAME  SASL user name (default $HUB_KAFKA_USER; none: no SASL)\n"       \
        "      --kafka-password-file FILE\n"                                                       \
        "                         its first line is the SASL password; mode 0600 (default\n"       \
        "                         $HUB_KAFKA_PASSWORD_FILE, else $HUB_KAFKA_PASSWORD); never\n"    \
        "                         on the command line\n"                                          \
        "      --kafka-security-protocol P\n"                                                      \
        "                         default $HUB_KAFKA_SECURITY_PROTOCOL, else SASL_SSL with a\n"    \
        "                         user\n"                                                         \
        "      --kafka-sasl-mechanism M\n"                                                         \
        "                         default $HUB_KAFKA_SASL_MECHANISM, else SCRAM-SHA-512 (PLAIN\n"  \
        "                         with librdkafka < 2.6.1 and Kafka 4, over TLS only)\n"

/* getopt_long entries for those options, returning HUB_KAFKA_OPT_* (values above any short
 * option or other long-option code of the programs). */
enum {
        HUB_KAFKA_OPT_USER = 3001,
        HUB_KAFKA_OPT_PASSWORD_FILE,
        HUB_KAFKA_OPT_PROTOCOL,
        HUB_KAFKA_OPT_MECHANISM,
};
#define HUB_KAFKA_AUTH_LONGOPTS                                                                    \
        {"kafka-user", required_argument, NULL, HUB_KAFKA_OPT_USER},                               \
                {"kafka-password-file", required_argument, NULL, HUB_KAFKA_OPT_PASSWORD_FILE},     \
                {"kafka-security-protocol", required_argument, NULL, HUB_KAFKA_OPT_PROTOCOL},      \
                {"kafka-sasl-mechanism", required_argument, NULL, HUB_KAFKA_OPT_MECHANISM}

typedef struct hub_kafka_auth {
        const char *security_protocol; /* NULL: SASL_SSL with a user, else left alone */
        const char *mechanism;         /* NULL: SCRAM-SHA-512 */
        const char *user;              /* NULL or "": no SASL */
        const char *password_file;     /* NULL: $HUB_KAFKA_PASSWORD */
} hub_kafka_auth_t;

/* Take one of the options above: true when `opt` was one (arg is kept, not copied). */
bool hub_kafka_auth_option(hub_kafka_auth_t *a, int opt, const char *arg);

/* Fill the fields still NULL from the environment variables above (empty ones are ignored).
 * The pointers are the environment's: valid while it is not changed. */
void hub_kafka_auth_env(hub_kafka_auth_t *a);

/* Apply *a to conf: security.protocol, sasl.mechanism, sasl.username and sasl.password.
 * The password file must be a regular file readable by its owner only (like the key files);
 * its first line is the password (a final newline is not part of it).
 * Errors: HUB_E_CONFIG (a user without a password, a password without a user, a refused
 * setting, a file open to others), HUB_E_IO (the file cannot be read). */
int hub_kafka_auth_apply(rd_kafka_conf_t *conf, const hub_kafka_auth_t *a, hub_err_t *err);

/* Whether a librdkafka setting given on the command line (-X) is acceptable: secrets
 * (sasl.password, ssl.key.password, ...) are refused with a message naming the file or
 * environment variable to use instead. 0 or HUB_E_CONFIG. */
int hub_kafka_check_cli_setting(const char *name, hub_err_t *err);

#endif
