/* hubctl key: generate key files, register, revoke and list agencies' public keys. */
#include "ctl.h"

#include <hub/input.h>
#include <hub/keyfile.h>
#include <hub/registry.h>
#include <hub/resolve.h>
#include <hub/timestamp.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char key_usage[] =
        "usage: hubctl key generate --owner CODE --key-id ID --out FILE\n"
        "       hubctl key register --agency CODE [--key-id ID] (--public-key HEX |\n"
        "                           --public-key-file FILE) [--valid-from TIMESTAMP]\n"
        "                           [--valid-until TIMESTAMP]\n"
        "       hubctl key revoke --agency CODE --key-id ID --reason TEXT [--at TIMESTAMP]\n"
        "       hubctl key list [--agency CODE]\n"
        "\n"
        "generate  make an Ed25519 key pair for an agency (or HUB, the hub's own key): the\n"
        "          secret key goes to FILE (mode 0600, never overwritten), the public key to\n"
        "          FILE.pub; the public key is printed in hex. Needs no database.\n"
        "register  register an agency's public key, valid from TIMESTAMP (default now) until\n"
        "          TIMESTAMP (default open). A key id already registered for the agency, or a\n"
        "          public key registered to anyone, is refused. --key-id defaults to the one\n"
        "          in --public-key-file.\n"
        "revoke    revoke a key from TIMESTAMP (default now; earlier for a compromise found\n"
        "          late, later to retire it): batches already accepted stay valid; a batch\n"
        "          created from TIMESTAMP on, or received once the revocation is in force\n"
        "          (from TIMESTAMP, or from now if TIMESTAMP is past), is rejected with\n"
        "          KEY_REVOKED: a stolen key can backdate a batch, the hub's clock it cannot.\n"
        "          A window's end (--valid-until) closes the key the same way (KEY_EXPIRED).\n"
        "list      keys with their validity, revocation and state now.\n"
        "\n"
        "Key ids are 1-64 printable characters without spaces, conventionally CODE/n (MOF-HQ/1).\n"
        "common options: --dsn DSN (see hubctl --help)\n";

/* Parse a subcommand's options into `vals` (indexed by the option's val - 'a'). */
struct keyopts {
        const char *owner, *agency, *key_id, *out, *pk_hex, *pk_file, *from, *until, *at,
                *reason;
};

static int parse(ctl_t *ctl, int argc, char **argv, const char *cmd, struct keyopts *o,
                 bool *help)
{
        static const struct option longopts[] = {
                {"owner", required_argument, NULL, 'o'},
                {"agency", required_argument, NULL, 'a'},
                {"key-id", required_argument, NULL, 'k'},
                {"out", required_argument, NULL, 'O'},
                {"public-key", required_argument, NULL, 'p'},
                {"public-key-file", required_argument, NULL, 'P'},
                {"valid-from", required_argument, NULL, 'f'},
                {"valid-until", required_argument, NULL, 'u'},
                {"at", required_argument, NULL, 't'},
                {"reason", required_argument, NULL, 'r'},
                CTL_COMMON_LONGOPTS,
                {NULL, 0, NULL, 0}};
        int c, rc;
        *help = false;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(key_usage, stdout);
                        *help = true;
                        return CTL_OK;
                case 'o': o->owner = optarg; break;
                case 'a': o->agency = optarg; break;
                case 'k': o->key_id = optarg; break;
                case 'O': o->out = optarg; break;
                case 'p': o->pk_hex = optarg; break;
                case 'P': o->pk_file = optarg; break;
                case 'f': o->from = optarg; break;
                case 'u': o->until = optarg; break;
                case 't': o->at = optarg; break;
                case 'r': o->reason = optarg; break;
                case '?':
                case ':':
                        return ctl_bad_option(cmd, argv);
                default:
                        if ((rc = ctl_common_option(ctl, c, optarg, cmd)))
                                return rc;
                }
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        return CTL_OK;
}

/* Options a subcommand does not take are refused rather than silently ignored. */
static int only(const char *cmd, const struct keyopts *o, const char *allowed)
{
        const struct {
                const char *v, *name;
                char letter;
        } all[] = {{o->owner, "--owner", 'o'},       {o->agency, "--agency", 'a'},
                   {o->key_id, "--key-id", 'k'},     {o->out, "--out", 'O'},
                   {o->pk_hex, "--public-key", 'p'}, {o->pk_file, "--public-key-file", 'P'},
                   {o->from, "--valid-from", 'f'},   {o->until, "--valid-until", 'u'},
                   {o->at, "--at", 't'},             {o->reason, "--reason", 'r'}};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (all[i].v && !strchr(allowed, all[i].letter))
                        return ctl_usage_error(cmd, "%s does not apply here", all[i].name);
        return CTL_OK;
}

static int timestamp_opt(const char *cmd, const char *name, const char *text, int64_t *out)
{
        hub_err_t err = {0};
        *out = HUB_TS_NONE;
        if (text && hub_timestamp_parse(text, out, &err))
                return ctl_usage_error(cmd, "%s: %s", name, err.msg);
        return CTL_OK;
}

static void print_hex(const uint8_t *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                printf("%02x", b[i]);
}

static int key_generate(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl key generate";
        struct keyopts o = {0};
        bool help;
        int rc = parse(ctl, argc, argv, cmd, &o, &help);
        if (rc || help || (rc = only(cmd, &o, "okO")))
                return rc;
        if (!o.owner || !o.key_id || !o.out)
                return ctl_usage_error(cmd, "--owner, --key-id and --out are required");
        if (!hub_input_agency_code_ok(o.owner))
                return ctl_usage_error(cmd, "invalid owner \"%s\": an agency code such as "
                                            "MOF-HQ, or HUB",
                                       o.owner);
        if (!hub_input_key_id_ok(o.key_id))
                return ctl_usage_error(cmd, "invalid key id \"%s\": 1-64 printable characters "
                                            "without spaces",
                                       o.key_id);
        char pub[4096];
        struct stat st;
        if (snprintf(pub, sizeof(pub), "%s.pub", o.out) >= (int)sizeof(pub))
                return ctl_usage_error(cmd, "--out: path too long");
        /* Refuse before generating anything, so a refused run leaves both files as they were;
         * the secret file is still created with O_EXCL, which settles a race. */
        if (lstat(o.out, &st) == 0)
                return ctl_fail("could not write key: %s already exists: refusing to overwrite "
                                "a key file",
                                o.out);
        if (lstat(pub, &st) == 0)
                return ctl_fail("could not write key: %s already exists: refusing to overwrite "
                                "a key file",
                                pub);
        hub_key_t key;
        hub_err_t err = {0};
        if (hub_key_generate(o.owner, o.key_id, &key, &err) ||
            hub_key_write_secret(&key, o.out, &err) || hub_key_write_public(&key, pub, &err)) {
                hub_key_wipe(&key);
                return ctl_fail("could not write key: %s", err.msg);
        }
        print_hex(key.pk, sizeof(key.pk));
        printf("\n");
        fprintf(stderr, "hubctl: wrote secret key %s (mode 0600) and public key %s for %s key %s\n",
                o.out, pub, o.owner, o.key_id);
        hub_key_wipe(&key);
        return CTL_OK;
}

static int key_register(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl key register";
        struct keyopts o = {0};
        bool help;
        int rc = parse(ctl, argc, argv, cmd, &o, &help);
        if (rc || help || (rc = only(cmd, &o, "akpPfu")))
                return rc;
        hub_key_registration_t reg = {0};
        hub_err_t err = {0};
        if (!o.agency)
                return ctl_usage_error(cmd, "--agency is required");
        if (!o.pk_hex == !o.pk_file)
                return ctl_usage_error(cmd, "give one of --public-key and --public-key-file");
        if (!hub_input_agency_code_ok(o.agency))
                return ctl_usage_error(cmd, "invalid agency code \"%s\"", o.agency);
        if ((rc = timestamp_opt(cmd, "--valid-from", o.from, &reg.valid_from)) ||
            (rc = timestamp_opt(cmd, "--valid-until", o.until, &reg.valid_until)))
                return rc;
        if (reg.valid_from != HUB_TS_NONE && reg.valid_until != HUB_TS_NONE &&
            reg.valid_until <= reg.valid_from)
                return ctl_usage_error(cmd, "--valid-until must be after --valid-from");
        hub_key_t file_key;
        if (o.pk_hex) {
                if (hub_key_parse_public_hex(o.pk_hex, reg.public_key, &err))
                        return ctl_usage_error(cmd, "--public-key: %s", err.msg);
        } else {
                if (hub_key_load(o.pk_file, &file_key, &err))
                        return ctl_fail("could not read %s: %s", o.pk_file, err.msg);
                memcpy(reg.public_key, file_key.pk, sizeof(reg.public_key));
                bool wrong_owner = strcmp(file_key.owner, o.agency) != 0;
                bool wrong_id = o.key_id && strcmp(file_key.key_id, o.key_id) != 0;
                if (!o.key_id)
                        o.key_id = file_key.key_id;
                hub_key_wipe(&file_key);
                if (wrong_owner)
                        return ctl_fail("%s holds a key of %s, not of agency %s", o.pk_file,
                                        file_key.owner, o.agency);
                if (wrong_id)
                        return ctl_fail("%s holds key %s, not %s", o.pk_file, file_key.key_id,
                                        o.key_id);
        }
        if (!o.key_id)
                return ctl_usage_error(cmd, "--key-id is required with --public-key");
        if (!hub_input_key_id_ok(o.key_id))
                return ctl_usage_error(cmd, "invalid key id \"%s\": 1-64 printable characters "
                                            "without spaces",
                                       o.key_id);
        reg.agency = o.agency;
        reg.key_id = o.key_id;
        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (hub_registry_key_register(s, &reg, &err)) {
                rc = ctl_fail("could not register key: %s", err.msg);
        } else {
                char from[HUB_TIMESTAMP_MAX], until[HUB_TIMESTAMP_MAX];
                printf("registered key %s for agency %s: ", reg.key_id, reg.agency);
                print_hex(reg.public_key, sizeof(reg.public_key));
                printf(", valid from %s until %s\n",
                       reg.valid_from == HUB_TS_NONE
                               ? "now"
                               : hub_timestamp_format(reg.valid_from, from),
                       reg.valid_until == HUB_TS_NONE
                               ? "(no end)"
                               : hub_timestamp_format(reg.valid_until, until));
        }
        hub_store_close(s);
        return rc;
}

static int key_revoke(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl key revoke";
        struct keyopts o = {0};
        bool help;
        int64_t at;
        int rc = parse(ctl, argc, argv, cmd, &o, &help);
        if (rc || help || (rc = only(cmd, &o, "aktr")))
                return rc;
        if (!o.agency || !o.key_id || !o.reason || !*o.reason)
                return ctl_usage_error(cmd, "--agency, --key-id and --reason are required");
        if ((rc = timestamp_opt(cmd, "--at", o.at, &at)))
                return rc;
        if (at == HUB_TS_NONE)
                at = hub_timestamp_now();
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (hub_registry_key_revoke(s, o.agency, o.key_id, at, o.reason, &err)) {
                rc = ctl_fail("could not revoke key: %s", err.msg);
        } else {
                char ts[HUB_TIMESTAMP_MAX];
                printf("revoked key %s of agency %s from %s: %s\n", o.key_id, o.agency,
                       hub_timestamp_format(at, ts), o.reason);
        }
        hub_store_close(s);
        return rc;
}

static int print_key(const hub_key_row_t *k, void *arg)
{
        int *n = arg;
        char from[HUB_TIMESTAMP_MAX], until[HUB_TIMESTAMP_MAX], rev[HUB_TIMESTAMP_MAX];
        hub_key_window_t w = {
                .valid_from_ms = k->valid_from / 1000,
                .has_valid_until = k->valid_until != HUB_TS_NONE,
                .valid_until_ms = k->valid_until / 1000,
                .revoked = k->revoked_at != HUB_TS_NONE,
                .revoked_at_ms = k->revoked_at / 1000,
        };
        int verdict = hub_resolve_key_window(&w, hub_timestamp_now() / 1000);
        if ((*n)++ == 0)
                printf("%-14s %-16s %-17s %-27s %-27s %-27s %-64s %s\n", "AGENCY", "KEY_ID",
                       "STATE", "VALID_FROM", "VALID_UNTIL", "REVOKED_AT", "PUBLIC_KEY",
                       "REVOKED_REASON");
        printf("%-14s %-16s %-17s %-27s %-27s %-27s ", k->agency, k->key_id,
               verdict == HUB_KEYV_OK ? "VALID" : hub_resolve_key_reason(verdict),
               hub_timestamp_format(k->valid_from, from),
               hub_timestamp_format(k->valid_until, until),
               hub_timestamp_format(k->revoked_at, rev));
        print_hex(k->public_key, HUB_PK_BYTES);
        printf(" %s\n", *k->revoked_reason ? k->revoked_reason : "-");
        return 0;
}

static int key_list(ctl_t *ctl, int argc, char **argv)
{
        const char *cmd = "hubctl key list";
        struct keyopts o = {0};
        bool help;
        int n = 0;
        int rc = parse(ctl, argc, argv, cmd, &o, &help);
        if (rc || help || (rc = only(cmd, &o, "a")))
                return rc;
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (hub_registry_keys(s, o.agency, print_key, &n, &err))
                rc = ctl_fail("%s", err.msg);
        else if (n == 0)
                printf("no keys registered%s%s\n", o.agency ? " for agency " : "",
                       o.agency ? o.agency : "");
        hub_store_close(s);
        return rc;
}

int ctl_cmd_key(ctl_t *ctl, int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(ctl_t *, int, char **);
        } subs[] = {{"generate", key_generate},
                    {"register", key_register},
                    {"revoke", key_revoke},
                    {"list", key_list}};
        if (argc < 2)
                return ctl_usage_error("hubctl key", "a subcommand is required: generate, "
                                                     "register, revoke or list");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(key_usage, stdout);
                return CTL_OK;
        }
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
                if (strcmp(argv[1], subs[i].name) == 0)
                        return subs[i].run(ctl, argc - 1, argv + 1);
        return ctl_usage_error("hubctl key", "unknown subcommand \"%s\"", argv[1]);
}
