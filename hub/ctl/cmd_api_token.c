/* hubctl api-token: the HTTP API's per-agency bearer tokens (hub/api_store.h). */
#include "ctl.h"

#include <hub/api_store.h>
#include <hub/input.h>
#include <hub/resolve.h>

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char api_token_usage[] =
        "usage: hubctl api-token create [--tier TIER] AGENCY\n"
        "       hubctl api-token revoke TOKEN_ID\n"
        "\n"
        "Bearer tokens of the HTTP API (hub-api). create prints a new random token for a\n"
        "registered agency once, on stdout (only its SHA-256 is stored, so it cannot be shown\n"
        "again), and its id on stderr. The token sees statements of TIER and of every less\n"
        "restricted tier: public (default), shared or restricted. revoke refuses the token from\n"
        "now on; requests with it are answered 401 and logged.\n"
        "\n"
        "Common options: --dsn (hubctl --help).\n";

static int parse(ctl_t *ctl, int argc, char **argv, const char *cmd, const char **tier)
{
        static const struct option longopts[] = {{"tier", required_argument, NULL, 't'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        int c, rc;
        optind = 1;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(api_token_usage, stdout);
                        return -1;
                } else if (c == 't' && tier) {
                        *tier = optarg;
                } else if (c == '?' || c == ':' || c == 't') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind + 1 != argc)
                return ctl_usage_error(cmd, optind >= argc ? "an argument is required"
                                                           : "too many arguments");
        return 0;
}

static int token_create(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl api-token create", *tier_text = "public";
        int rc = parse(ctl, argc, argv, cmd, &tier_text);
        if (rc)
                return rc < 0 ? CTL_OK : rc;
        char upper[16];
        size_t i;
        for (i = 0; tier_text[i] && i + 1 < sizeof(upper); i++)
                upper[i] = (char)toupper((unsigned char)tier_text[i]);
        upper[i] = '\0';
        int tier = hub_tier_from_name(upper);
        if (tier < 0)
                return ctl_usage_error(cmd, "--tier must be public, shared or restricted");
        const char *agency = argv[optind];
        if (!hub_input_agency_code_ok(agency))
                return ctl_usage_error(cmd, "invalid agency code \"%s\"", agency);
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        char token[HUB_API_TOKEN_LEN + 1];
        int64_t id = 0;
        hub_err_t err = {0};
        if (hub_api_token_create(s, agency, tier, token, sizeof(token), &id, &err)) {
                rc = ctl_fail("could not create the token: %s", err.msg);
        } else {
                printf("%s\n", token);
                fflush(stdout);
                fprintf(stderr, "token %" PRId64 " for %s, tier %s: keep it secret, it is not "
                        "shown again\n", id, agency, hub_tier_name(tier));
        }
        sodium_memzero(token, sizeof(token));
        hub_store_close(s);
        return rc;
}

static int token_revoke(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl api-token revoke";
        int rc = parse(ctl, argc, argv, cmd, NULL);
        if (rc)
                return rc < 0 ? CTL_OK : rc;
        char *end = NULL;
        long long id = strtoll(argv[optind], &end, 10);
        if (!*argv[optind] || *end || id <= 0)
                return ctl_usage_error(cmd, "invalid token id \"%s\"", argv[optind]);
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        hub_err_t err = {0};
        if (hub_api_token_revoke(s, id, &err))
                rc = ctl_fail("could not revoke the token: %s", err.msg);
        else
                printf("revoked API token %lld\n", id);
        hub_store_close(s);
        return rc;
}

int ctl_cmd_api_token(ctl_t *ctl, int argc, char **argv)
{
        if (argc < 2)
                return ctl_usage_error("hubctl api-token",
                                       "a subcommand is required: create or revoke");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(api_token_usage, stdout);
                return CTL_OK;
        }
        if (strcmp(argv[1], "create") == 0)
                return token_create(ctl, argc - 1, argv + 1);
        if (strcmp(argv[1], "revoke") == 0)
                return token_revoke(ctl, argc - 1, argv + 1);
        return ctl_usage_error("hubctl api-token", "unknown subcommand \"%s\"", argv[1]);
}
