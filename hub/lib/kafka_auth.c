#include <hub/kafka.h>
#include <hub/kafka_auth.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_or(const char *have, const char *var)
{
        if (have)
                return have;
        const char *v = getenv(var);
        return v && *v ? v : NULL;
}

bool hub_kafka_auth_option(hub_kafka_auth_t *a, int opt, const char *arg)
{
        switch (opt) {
        case HUB_KAFKA_OPT_USER: a->user = arg; return true;
        case HUB_KAFKA_OPT_PASSWORD_FILE: a->password_file = arg; return true;
        case HUB_KAFKA_OPT_PROTOCOL: a->security_protocol = arg; return true;
        case HUB_KAFKA_OPT_MECHANISM: a->mechanism = arg; return true;
        }
        return false;
}

void hub_kafka_auth_env(hub_kafka_auth_t *a)
{
        a->security_protocol = env_or(a->security_protocol, "HUB_KAFKA_SECURITY_PROTOCOL");
        a->mechanism = env_or(a->mechanism, "HUB_KAFKA_SASL_MECHANISM");
        a->user = env_or(a->user, "HUB_KAFKA_USER");
        a->password_file = env_or(a->password_file, "HUB_KAFKA_PASSWORD_FILE");
}

/* The first line of the password file into out (cap bytes with the NUL). */
static int read_password(const char *path, char *out, size_t cap, hub_err_t *err)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return hub_err_set(err, HUB_E_IO, false, "kafka",
                                   "could not open Kafka password file %s: %s", path,
                                   strerror(errno));
        struct stat st;
        int rc = 0;
        if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
                rc = hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                 "Kafka password file %s is not a regular file", path);
                goto out;
        }
        if (st.st_mode & 077) {
                rc = hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                 "Kafka password file %s is open to other users (mode %04o): "
                                 "chmod 600 it",
                                 path, (unsigned)(st.st_mode & 07777));
                goto out;
        }
        ssize_t n = read(fd, out, cap - 1);
        if (n < 0) {
                rc = hub_err_set(err, HUB_E_IO, false, "kafka",
                                 "could not read Kafka password file %s: %s", path,
                                 strerror(errno));
                goto out;
        }
        out[n] = '\0';
        bool whole_line = memchr(out, '\n', (size_t)n) != NULL;
        out[strcspn(out, "\r\n")] = '\0';
        if (!*out)
                rc = hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                 "Kafka password file %s is empty", path);
        else if (!whole_line && (size_t)n == cap - 1)
                rc = hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                 "Kafka password file %s: first line longer than %zu bytes",
                                 path, cap - 2);
out:
        close(fd);
        return rc;
}

int hub_kafka_auth_apply(rd_kafka_conf_t *conf, const hub_kafka_auth_t *a, hub_err_t *err)
{
        const char *user = a->user && *a->user ? a->user : NULL;
        if (!user) {
                if (a->password_file)
                        return hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                           "a Kafka password file was given without a user: "
                                           "set --kafka-user or HUB_KAFKA_USER");
                return a->security_protocol
                               ? hub_kafka_set(conf, "security.protocol", a->security_protocol,
                                               err)
                               : 0;
        }
        char pw[1024];
        int rc;
        if (a->password_file) {
                rc = read_password(a->password_file, pw, sizeof(pw), err);
        } else {
                const char *v = getenv("HUB_KAFKA_PASSWORD");
                if (!v || !*v)
                        return hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                           "Kafka user %s has no password: give "
                                           "--kafka-password-file or set "
                                           "HUB_KAFKA_PASSWORD_FILE or HUB_KAFKA_PASSWORD",
                                           user);
                rc = snprintf(pw, sizeof(pw), "%s", v) >= (int)sizeof(pw)
                             ? hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                           "HUB_KAFKA_PASSWORD is too long")
                             : 0;
        }
        if (!rc)
                rc = hub_kafka_set(conf, "security.protocol",
                                   a->security_protocol ? a->security_protocol
                                                        : HUB_KAFKA_DEFAULT_SASL_PROTOCOL,
                                   err);
        if (!rc)
                rc = hub_kafka_set(conf, "sasl.mechanism",
                                   a->mechanism ? a->mechanism : HUB_KAFKA_DEFAULT_SASL_MECHANISM,
                                   err);
        if (!rc)
                rc = hub_kafka_set(conf, "sasl.username", user, err);
        if (!rc)
                rc = hub_kafka_set(conf, "sasl.password", pw, err);
        sodium_memzero(pw, sizeof(pw));
        return rc;
}

int hub_kafka_check_cli_setting(const char *name, hub_err_t *err)
{
        /* librdkafka's settings that hold a secret in their value. */
        static const char *const secrets[] = {"sasl.password", "ssl.key.password",
                                              "ssl.keystore.password", "ssl.key.pem",
                                              "sasl.oauthbearer.client.secret"};
        if (strncmp(name, "kafka.", 6) == 0)
                name += 6;
        for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
                if (strcmp(name, secrets[i]) == 0)
                        return hub_err_set(err, HUB_E_CONFIG, false, "kafka",
                                           "%s may not be given on the command line (other "
                                           "users can read it there): use "
                                           "--kafka-password-file, HUB_KAFKA_PASSWORD_FILE or "
                                           "a [kafka] section of a configuration file",
                                           secrets[i]);
        return 0;
}
