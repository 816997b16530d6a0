/* hub-api: the audited HTTP query API for ministry systems and auditors (hub/api/openapi.yaml).
 * Wiring only: settings, signals, the server (server.c). Exit codes: 0 stopped cleanly,
 * 1 failure, 2 usage. */
#include "server.h"

#include <hub/config.h>
#include <hub/keyfile.h>
#include <hub/log.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const hub_setting_t settings[] = {
        {"dsn", HUB_CFG_STRING, NULL, false, true, "HUB_PG_DSN", 0, 0,
         "PostgreSQL conninfo of the hub's database"},
        {"listen_address", HUB_CFG_STRING, "127.0.0.1", false, false, "HUB_API_LISTEN_ADDRESS",
         0, 0,
         "IPv4 address to listen on (0.0.0.0: every interface)"},
        {"port", HUB_CFG_INT, "8080", false, false, "HUB_API_PORT", 0, 65535,
         "TCP port to listen on (0: any free port, printed at start)"},
        {"timeout", HUB_CFG_INT, "30", false, false, "HUB_API_TIMEOUT", 1, 3600,
         "seconds an idle or slow connection is kept"},
        {"max_connections", HUB_CFG_INT, "64", false, false, "HUB_API_MAX_CONNECTIONS", 1, 10000,
         "concurrent connections"},
        {"hub_key", HUB_CFG_PATH, NULL, false, false, "HUB_HUB_KEY", 0, 0,
         "the hub's public key file (provenance checks tree-head signatures)"},
        {"log_level", HUB_CFG_STRING, "info", false, false, NULL, 0, 0,
         "debug, info, warn or error"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
        (void)sig;
        if (stop_requested)
                _exit(1);
        stop_requested = 1;
}

static void usage(FILE *f)
{
        char *help = hub_config_help(settings, N_SETTINGS);
        fprintf(f,
                "usage: hub-api [options]\n"
                "\n"
                "Answer agencies' and auditors' queries over HTTP (JSON): entities by identifier\n"
                "or name, an entity, its provenance, a record's evidence bundle, the latest\n"
                "signed tree head, inclusion and consistency proofs. Every request needs an\n"
                "agency's API token (hubctl api-token create) and sees only that agency's\n"
                "tiers; every request, allowed or denied, is written to the access log and\n"
                "committed to the hub's Merkle log. API: hub/api/openapi.yaml.\n"
                "\n"
                "  --config FILE                      INI file of the settings below\n"
                "  -h, --help                         show this help\n"
                "\n"
                "Settings (defaults < --config file < environment < command line):\n%s"
                "\n"
                "Signals: SIGTERM/SIGINT stop (a second one exits at once).\n",
                help ? help : "");
        free(help);
}

static int load_config(int argc, char **argv, hub_config_t **out, hub_err_t *err)
{
        hub_config_t *c = NULL;
        const char *file = NULL;
        for (int i = 1; i + 1 < argc; i++)
                if (strcmp(argv[i], "--config") == 0)
                        file = argv[i + 1];
        int rc = hub_config_new(settings, N_SETTINGS, &c, err);
        if (!rc && file)
                rc = hub_config_load_file(c, file, err);
        if (!rc)
                rc = hub_config_load_env(c, err);
        for (int i = 1; !rc && i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--config") == 0) {
                        i++;
                        continue;
                }
                if (strncmp(a, "--", 2) != 0) {
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                         "unexpected argument \"%s\"", a);
                        break;
                }
                char name[128];
                const char *eq = strchr(a + 2, '=');
                snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a - 2) : 120, a + 2);
                const hub_setting_t *s = hub_config_find_option(c, name);
                if (!s) {
                        rc = hub_err_set(err, HUB_E_CONFIG, false, "config", "unknown option %s",
                                         a);
                        break;
                }
                const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
                if (!value) {
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
        if (!rc && !hub_config_get(c, "dsn"))
                rc = hub_err_set(err, HUB_E_CONFIG, false, "config",
                                 "the database is required: --dsn or HUB_PG_DSN");
        if (rc) {
                hub_config_free(c);
                return rc;
        }
        *out = c;
        return 0;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        usage(stdout);
                        return 0;
                }
        }
        if (sodium_init() < 0) {
                fprintf(stderr, "hub-api: could not initialise libsodium\n");
                return 1;
        }
        hub_err_t err = {0};
        hub_config_t *c = NULL;
        if (load_config(argc, argv, &c, &err)) {
                fprintf(stderr, "hub-api: %s\ntry \"hub-api --help\" for more information\n",
                        err.msg);
                return 2;
        }
        hub_log_set_level(hub_log_level_from_name(hub_config_get(c, "log_level")));
        hub_key_t pub;
        bool have_pub = false;
        const char *key_path = hub_config_get(c, "hub_key");
        if (key_path && *key_path) {
                if (hub_key_load(key_path, &pub, &err)) {
                        fprintf(stderr, "hub-api: could not load the hub key %s: %s\n", key_path,
                                err.msg);
                        hub_config_free(c);
                        return 1;
                }
                hub_key_wipe(&pub);
                have_pub = true;
        }
        struct sigaction sa = {0};
        sa.sa_handler = on_stop;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        hub_api_opts_t o = {.dsn = hub_config_get(c, "dsn"),
                            .address = hub_config_get(c, "listen_address"),
                            .port = (int)hub_config_int(c, "port"),
                            .timeout_s = (unsigned)hub_config_int(c, "timeout"),
                            .max_connections = (unsigned)hub_config_int(c, "max_connections"),
                            .hub_pub = have_pub ? &pub : NULL};
        hub_api_server_t *srv = NULL;
        if (hub_api_server_start(&o, &srv, &err)) {
                fprintf(stderr, "hub-api: %s\n", err.msg);
                hub_config_free(c);
                return 1;
        }
        hub_log(HUB_LOG_INFO, "api", "listening", "address=%s port=%d", o.address,
                hub_api_server_port(srv));
        while (!stop_requested)
                pause();
        hub_log(HUB_LOG_INFO, "api", "stopping", NULL);
        hub_api_server_stop(srv);
        hub_config_free(c);
        return 0;
}
