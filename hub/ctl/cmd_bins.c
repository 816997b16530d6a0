/* hubctl bins list|add|remove: the bank BIN list hubd checks bank accounts against. */
#include "ctl.h"

#include <hub/bins.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
        "usage: hubctl bins list [--json]\n"
        "       hubctl bins add BIN CODE [--alias NAME]...\n"
        "       hubctl bins remove BIN|CODE\n"
        "\n"
        "The NAPAS/VietQR BIN list of banks and e-wallets: a BANK_ACCOUNT or E_WALLET identifier\n"
        "whose bank (BIN, code or alias) is not in it is kept as evidence but invalid\n"
        "(UNKNOWN_BANK) and never merges. hubd reads the list at start and on SIGHUP: send it\n"
        "SIGHUP after a change.\n"
        "\n"
        "add      add a bank, or replace the code and aliases of its BIN; BIN is 6 digits,\n"
        "         CODE 1-32 of A-Z and 0-9 (e.g. VCB)\n"
        "remove   remove the bank with that BIN or code\n"
        "\n"
        "options:\n"
        "  --alias NAME            another name of the bank (repeatable), e.g. Vietcombank\n"
        "  --json                  list as one JSON array\n"
        "  --dsn DSN               PostgreSQL conninfo (default $HUB_PG_DSN)\n"
        "  -h, --help              this help\n";

static int list(hub_store_t *s, bool as_json)
{
        hub_bins_t *b = NULL;
        hub_err_t err = {0};
        if (hub_bins_load(s, &b, &err))
                return ctl_fail("%s", err.msg);
        const hub_bank_table_t *t = hub_bins_table(b);
        if (as_json) {
                json_t *a = json_array();
                for (size_t i = 0; i < t->n; i++)
                        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "bin",
                                                           t->banks[i].bin, "code",
                                                           t->banks[i].code, "aliases",
                                                           t->banks[i].aliases));
                char *out = json_dumps(a, JSON_INDENT(2));
                puts(out ? out : "[]");
                free(out);
                json_decref(a);
        } else {
                printf("%-6s  %-14s %s\n", "BIN", "CODE", "ALIASES");
                for (size_t i = 0; i < t->n; i++)
                        printf("%-6s  %-14s %s\n", t->banks[i].bin, t->banks[i].code,
                               t->banks[i].aliases);
                printf("(%zu banks)\n", t->n);
        }
        hub_bins_free(b);
        return CTL_OK;
}

int ctl_cmd_bins(ctl_t *ctl, int argc, char **argv)
{
        static const char cmd[] = "hubctl bins";
        static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                                 {"alias", required_argument, NULL, 'a'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        bool as_json = false;
        char aliases[1024] = "";
        size_t n_alias = 0;
        int c;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(usage_text, stdout);
                        return CTL_OK;
                }
                if (c == 'j') {
                        as_json = true;
                        continue;
                }
                if (c == 'a') {
                        if (!optarg[0] || strchr(optarg, '|'))
                                return ctl_usage_error(cmd, "an alias is a non-empty name "
                                                            "without '|'");
                        size_t used = strlen(aliases);
                        if (used + strlen(optarg) + 2 > sizeof(aliases))
                                return ctl_usage_error(cmd, "too many aliases");
                        snprintf(aliases + used, sizeof(aliases) - used, "%s%s",
                                 n_alias++ ? "|" : "", optarg);
                        continue;
                }
                if (c == '?' || c == ':')
                        return ctl_bad_option(cmd, argv);
                int rc = ctl_common_option(ctl, c, optarg, cmd);
                if (rc)
                        return rc;
        }
        int nargs = argc - optind;
        const char *sub = nargs > 0 ? argv[optind] : "";
        if (strcmp(sub, "list") == 0 ? nargs != 1
            : strcmp(sub, "add") == 0 ? nargs != 3
            : strcmp(sub, "remove") == 0 ? nargs != 2
                                          : true)
                return ctl_usage_error(cmd, "expected: list, add BIN CODE or remove BIN|CODE");
        if (n_alias && strcmp(sub, "add") != 0)
                return ctl_usage_error(cmd, "--alias goes with add");
        hub_store_t *s = NULL;
        int rc = ctl_open_store(ctl, false, &s);
        if (rc)
                return rc;
        hub_err_t err = {0};
        if (strcmp(sub, "list") == 0) {
                rc = list(s, as_json);
        } else if (strcmp(sub, "add") == 0) {
                bool replaced = false;
                if (hub_bins_add(s, argv[optind + 1], argv[optind + 2], aliases, &replaced,
                                 &err))
                        rc = err.code == HUB_E_INVAL ? ctl_usage_error(cmd, "%s", err.msg)
                                                     : ctl_fail("%s", err.msg);
                else
                        printf("%s bank %s %s; send hubd SIGHUP to use it\n",
                               replaced ? "replaced" : "added", argv[optind + 1],
                               argv[optind + 2]);
        } else {
                bool found = false;
                if (hub_bins_remove(s, argv[optind + 1], &found, &err))
                        rc = ctl_fail("%s", err.msg);
                else if (!found)
                        rc = ctl_fail("no bank with BIN or code %s", argv[optind + 1]);
                else
                        printf("removed bank %s; send hubd SIGHUP to stop accepting it\n",
                               argv[optind + 1]);
        }
        hub_store_close(s);
        return rc;
}
