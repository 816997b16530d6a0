/* hubctl analyst / judge: analysts' keys and their signed judgements on entities. The
 * judgement is signed here with the analyst's secret key file and checked again by the store
 * with the registered public key (hub/store/judgement.c), which applies it. */
#include "ctl.h"

#include <hub/ident.h>
#include <hub/input.h>
#include <hub/judgement_store.h>
#include <hub/keyfile.h>
#include <hub/query.h>
#include <hub/timestamp.h>

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char analyst_usage[] =
        "usage: hubctl analyst add NAME --public-key-file FILE [--name FULL_NAME]\n"
        "       hubctl analyst revoke NAME KEY_ID --reason TEXT\n"
        "       hubctl analyst list\n"
        "\n"
        "Analysts sign their judgements (hubctl judge) with their own Ed25519 key. Make one with\n"
        "  hubctl key generate --owner NAME --key-id NAME/1 --out NAME.key\n"
        "(NAME is written like an agency code: upper-case letters, digits and -).\n"
        "and register its public half (NAME.key.pub) here: `add` registers the analyst when new\n"
        "and adds the key (an analyst may hold several). The key file's owner must be NAME.\n"
        "Registrations and revocations are leaves of the hub's log. A revoked key signs no new\n"
        "judgement; those it signed before stay.\n"
        "\n"
        "options:\n"
        "  --public-key-file FILE  the analyst's public key file\n"
        "  --name FULL_NAME        the analyst's full name\n"
        "  --reason TEXT           why the key is revoked\n"
        "  --dsn DSN               PostgreSQL conninfo (default $HUB_PG_DSN)\n"
        "  -h, --help              this help\n";

static const char judge_usage[] =
        "usage: hubctl judge same A B --reason TEXT --key FILE [--analyst NAME]\n"
        "       hubctl judge not-same A B --reason TEXT --key FILE [--analyst NAME]\n"
        "       hubctl judge split E<id> --records AGENCY/RECORD_ID [AGENCY/RECORD_ID...]\n"
        "                          --reason TEXT --key FILE [--analyst NAME]\n"
        "       hubctl judge undo JUDGEMENT_ID --reason TEXT --key FILE [--analyst NAME]\n"
        "       hubctl judge list [E<id> | IDENTIFIER] [--json]\n"
        "\n"
        "An analyst's decision on entities (A, B: E<id> or an identifier an entity holds),\n"
        "signed with the analyst's secret key (--key; registered with hubctl analyst add),\n"
        "verified by the hub with the registered public key, stored, committed to the hub's log\n"
        "and applied in one transaction; the entities it changes are republished to\n"
        "subscribers (hubd's publisher ships them):\n"
        "  same      merge the two entities (the older id survives; the other is published with\n"
        "            merged_into). Refused while a not-same judgement covers the pair.\n"
        "  not-same  the two are different violators: no automatic merge of the pair, ever, while\n"
        "            the judgement stands (a record carrying both gives a candidate instead).\n"
        "            Refused when they are one entity already: use split, or undo the judgement\n"
        "            that merged them.\n"
        "  split     move the named source records, with their statements, weak keys and the\n"
        "            identifiers only they assert, to a new entity published with split_from;\n"
        "            the entity keeps its id and the rest of its records.\n"
        "  undo      reverse a judgement: an undone same gives the absorbed entity back its\n"
        "            records (published with split_from); an undone split merges the new\n"
        "            entity back; an undone not-same lets the pair merge again.\n"
        "  list      judgements on an entity (or all), with who made them and whether undone.\n"
        "\n"
        "options:\n"
        "  --reason TEXT           why (required; part of what is signed)\n"
        "  --key FILE              the analyst's secret key file\n"
        "  --analyst NAME          the analyst (default: the key file's owner; must match it)\n"
        "  --records REF           split: a record AGENCY/RECORD_ID to move (repeat, or list\n"
        "                          more after it, or separate with commas)\n"
        "  --hub-key FILE          the hub's secret key, to sign the republished entities\n"
        "                          (default $HUB_HUB_KEY)\n"
        "  --json                  list: one JSON array\n"
        "  --dsn DSN               PostgreSQL conninfo (default $HUB_PG_DSN)\n"
        "  -h, --help              this help\n"
        "\n"
        "Exit codes: 0 done, 1 refused or failed (the message says why), 2 usage error.\n";

/* ---- hubctl analyst ---- */

static int on_key(const hub_analyst_key_row_t *k, void *arg)
{
        char reg[HUB_TIMESTAMP_MAX], rev[HUB_TIMESTAMP_MAX];
        (void)arg;
        printf("%-20s %-24s %-20s %s%s %s\n", k->analyst, k->key_id,
               hub_timestamp_format(k->registered_at, reg),
               k->revoked_at == HUB_TS_NONE ? "active" : "revoked ",
               k->revoked_at == HUB_TS_NONE ? "" : hub_timestamp_format(k->revoked_at, rev),
               k->full_name);
        return 0;
}

int ctl_cmd_analyst(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {
                {"public-key-file", required_argument, NULL, 'p'},
                {"name", required_argument, NULL, 'n'},
                {"reason", required_argument, NULL, 'r'},
                CTL_COMMON_LONGOPTS,
                {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl analyst", *pub = NULL, *full = NULL, *reason = NULL;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(analyst_usage, stdout);
                        return CTL_OK;
                } else if (c == 'p') {
                        pub = optarg;
                } else if (c == 'n') {
                        full = optarg;
                } else if (c == 'r') {
                        reason = optarg;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        /* argv[0] is "analyst"; getopt_long moved the words after the options. */
        int n = argc - optind;
        const char *sub = n > 0 ? argv[optind] : NULL;
        hub_err_t err = {0};
        hub_store_t *s = NULL;
        if (!sub)
                return ctl_usage_error(cmd, "expected add, revoke or list");
        if (strcmp(sub, "add") == 0) {
                if (n != 2 || !pub)
                        return ctl_usage_error(cmd, "add wants NAME and --public-key-file");
                hub_key_t key;
                if (hub_key_load(pub, &key, &err))
                        return ctl_fail("could not load %s: %s", pub, err.msg);
                if (key.has_secret) {
                        hub_key_wipe(&key);
                        return ctl_fail("%s is a secret key file: register the public one "
                                        "(%s.pub)",
                                        pub, pub);
                }
                if (strcmp(key.owner, argv[optind + 1]) != 0)
                        return ctl_fail("%s belongs to %s, not to analyst %s", pub, key.owner,
                                        argv[optind + 1]);
                if ((rc = ctl_open_store(ctl, false, &s)))
                        return rc;
                if (hub_analyst_key_register(s, argv[optind + 1], full, key.key_id, key.pk,
                                             &err)) {
                        hub_store_close(s);
                        return ctl_fail("could not register the key: %s", err.msg);
                }
                hub_store_close(s);
                printf("registered key %s of analyst %s\n", key.key_id, argv[optind + 1]);
                return CTL_OK;
        }
        if (strcmp(sub, "revoke") == 0) {
                if (n != 3 || !reason || !*reason)
                        return ctl_usage_error(cmd, "revoke wants NAME KEY_ID --reason TEXT");
                if ((rc = ctl_open_store(ctl, false, &s)))
                        return rc;
                if (hub_analyst_key_revoke(s, argv[optind + 1], argv[optind + 2], reason, &err)) {
                        hub_store_close(s);
                        return ctl_fail("could not revoke the key: %s", err.msg);
                }
                hub_store_close(s);
                printf("revoked key %s of analyst %s\n", argv[optind + 2], argv[optind + 1]);
                return CTL_OK;
        }
        if (strcmp(sub, "list") == 0) {
                if (n != 1)
                        return ctl_usage_error(cmd, "list takes no argument");
                if ((rc = ctl_open_store(ctl, false, &s)))
                        return rc;
                printf("%-20s %-24s %-20s %s\n", "ANALYST", "KEY", "REGISTERED", "STATE");
                rc = hub_analyst_keys(s, on_key, NULL, &err);
                hub_store_close(s);
                return rc ? ctl_fail("%s", err.msg) : CTL_OK;
        }
        return ctl_usage_error(cmd, "unknown subcommand \"%s\" (want add, revoke or list)", sub);
}

/* ---- hubctl judge ---- */

/* E<id> (followed to its survivor), or the entity holding an identifier. */
static int resolve_entity(hub_store_t *s, const char *text, int64_t *id)
{
        hub_err_t err = {0};
        bool found = false;
        if ((text[0] == 'E' || text[0] == 'e') && hub_input_parse_entity_id(text, id, NULL) == 0) {
                hub_entity_row_t row;
                if (hub_query_entity(s, *id, &found, &row, &err))
                        return ctl_fail("%s", err.msg);
                if (!found)
                        return ctl_fail("not found: no entity %s", text);
                if (row.merged_into)
                        *id = row.merged_into;
                return CTL_OK;
        }
        int types[8];
        size_t n = hub_input_guess_ident_types(text, types, 8);
        for (size_t t = 0; t < n; t++) {
                hub_ident_t ident;
                int64_t direct = 0, surviving = 0;
                if (hub_ident_normalize(types[t], text, NULL, &ident, NULL))
                        continue;
                if (hub_query_identifier(s, hub_ident_type_name(ident.type), ident.value, &found,
                                         &direct, &surviving, &err))
                        return ctl_fail("%s", err.msg);
                if (found) {
                        *id = surviving ? surviving : direct;
                        return CTL_OK;
                }
        }
        return ctl_fail("not found: no entity holds \"%s\"", text);
}

/* Add AGENCY/RECORD_ID[,...] to refs. */
static int add_refs(char *text, hub_judgement_ref_t *refs, size_t *n, size_t cap)
{
        for (char *save = NULL, *t = strtok_r(text, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
                char *slash = strchr(t, '/');
                if (!slash || slash == t || !slash[1])
                        return ctl_usage_error("hubctl judge",
                                               "a record is AGENCY/RECORD_ID, not \"%s\"", t);
                if (*n >= cap)
                        return ctl_usage_error("hubctl judge", "too many records (at most %d)",
                                               HUB_JUDGEMENT_MAX_RECORDS);
                *slash = '\0';
                refs[*n].agency = t;
                refs[*n].record_id = slash + 1;
                (*n)++;
        }
        return CTL_OK;
}

static void print_row(const hub_judgement_row_t *j, json_t *out)
{
        char at[HUB_TIMESTAMP_MAX], rv[HUB_TIMESTAMP_MAX];
        hub_timestamp_format(j->created_at, at);
        if (j->revoked_at != HUB_TS_NONE)
                hub_timestamp_format(j->revoked_at, rv);
        if (out) {
                json_t *o = json_pack(
                        "{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:s, s:s, s:s, s:o, s:I}",
                        "id", (json_int_t)j->id, "kind", j->kind, "entity_a",
                        (json_int_t)j->entity_a, "entity_b", (json_int_t)j->entity_b,
                        "new_entity", (json_int_t)j->new_entity, "undoes", (json_int_t)j->undoes,
                        "merge_id", (json_int_t)j->merge_id, "records",
                        json_loads(j->records, 0, NULL), "analyst", j->analyst, "key_id",
                        j->key_id, "reason", j->reason, "created_at", at, "undone_at",
                        j->revoked_at == HUB_TS_NONE ? json_null() : json_string(rv),
                        "leaf_index", (json_int_t)j->leaf_index);
                json_array_append_new(out, o);
                return;
        }
        printf("%" PRId64 " %s E%" PRId64, j->id, j->kind, j->entity_a);
        if (j->entity_b)
                printf(" E%" PRId64, j->entity_b);
        if (strcmp(j->records, "[]") != 0)
                printf(" records %s", j->records);
        if (j->undoes)
                printf(" (undoes %" PRId64 ")", j->undoes);
        if (j->new_entity)
                printf(" -> E%" PRId64, j->new_entity);
        printf("\n    by %s (key %s) at %s, log leaf %" PRId64 "%s%s: %s\n", j->analyst,
               j->key_id, at, j->leaf_index, j->revoked_at == HUB_TS_NONE ? "" : ", undone at ",
               j->revoked_at == HUB_TS_NONE ? "" : rv, j->reason);
}

static int on_judgement(const hub_judgement_row_t *j, void *arg)
{
        print_row(j, arg);
        return 0;
}

int ctl_cmd_judge(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {
                {"reason", required_argument, NULL, 'r'},
                {"key", required_argument, NULL, 'k'},
                {"analyst", required_argument, NULL, 'a'},
                {"records", required_argument, NULL, 'R'},
                {"hub-key", required_argument, NULL, 'H'},
                {"json", no_argument, NULL, 'j'},
                CTL_COMMON_LONGOPTS,
                {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl judge", *reason = NULL, *key_path = NULL, *analyst = NULL,
                   *hub_path = getenv("HUB_HUB_KEY");
        static hub_judgement_ref_t refs[HUB_JUDGEMENT_MAX_RECORDS];
        size_t n_refs = 0;
        bool json = false;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(judge_usage, stdout);
                        return CTL_OK;
                } else if (c == 'r') {
                        reason = optarg;
                } else if (c == 'k') {
                        key_path = optarg;
                } else if (c == 'a') {
                        analyst = optarg;
                } else if (c == 'H') {
                        hub_path = optarg;
                } else if (c == 'j') {
                        json = true;
                } else if (c == 'R') {
                        if ((rc = add_refs(optarg, refs, &n_refs, HUB_JUDGEMENT_MAX_RECORDS)))
                                return rc;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        int n = argc - optind;
        char **w = argv + optind;
        if (n < 1)
                return ctl_usage_error(cmd, "expected same, not-same, split, undo or list");
        const char *sub = w[0];
        hub_err_t err = {0};
        hub_store_t *s = NULL;
        if (strcmp(sub, "list") == 0) {
                if (n > 2)
                        return ctl_usage_error(cmd, "list takes at most one entity");
                if ((rc = ctl_open_store(ctl, false, &s)))
                        return rc;
                int64_t id = 0;
                if (n == 2 && (rc = resolve_entity(s, w[1], &id))) {
                        hub_store_close(s);
                        return rc;
                }
                json_t *out = json ? json_array() : NULL;
                rc = hub_judgement_list(s, id, on_judgement, out, &err);
                hub_store_close(s);
                if (rc) {
                        json_decref(out);
                        return ctl_fail("%s", err.msg);
                }
                if (out) {
                        char *t = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                        puts(t ? t : "[]");
                        free(t);
                        json_decref(out);
                }
                return CTL_OK;
        }
        bool pair = strcmp(sub, "same") == 0 || strcmp(sub, "not-same") == 0;
        bool split = strcmp(sub, "split") == 0, undo = strcmp(sub, "undo") == 0;
        if (!pair && !split && !undo)
                return ctl_usage_error(cmd, "unknown judgement \"%s\" (want same, not-same, "
                                            "split, undo or list)",
                                       sub);
        if (pair && n != 3)
                return ctl_usage_error(cmd, "%s wants two entities", sub);
        if (undo && n != 2)
                return ctl_usage_error(cmd, "undo wants one judgement id");
        if (split) {
                if (n < 2)
                        return ctl_usage_error(cmd, "split wants an entity and --records");
                for (int i = 2; i < n; i++)
                        if ((rc = add_refs(w[i], refs, &n_refs, HUB_JUDGEMENT_MAX_RECORDS)))
                                return rc;
                if (!n_refs)
                        return ctl_usage_error(cmd, "split wants --records AGENCY/RECORD_ID");
        } else if (n_refs) {
                return ctl_usage_error(cmd, "only split takes --records");
        }
        if (!reason || !*reason)
                return ctl_usage_error(cmd, "a judgement needs --reason");
        if (!key_path)
                return ctl_usage_error(cmd, "a judgement is signed: give the analyst's --key");
        if (!hub_path || !*hub_path)
                return ctl_usage_error(cmd, "republishing needs the hub's key: --hub-key or "
                                            "HUB_HUB_KEY");
        hub_key_t key, hub;
        if (hub_key_load(key_path, &key, &err))
                return ctl_fail("could not load the analyst's key %s: %s", key_path, err.msg);
        if (!key.has_secret) {
                hub_key_wipe(&key);
                return ctl_fail("%s is a public key: signing needs the analyst's secret key",
                                key_path);
        }
        if (analyst && strcmp(analyst, key.owner) != 0) {
                hub_key_wipe(&key);
                return ctl_fail("%s is the key of %s, not of analyst %s", key_path, key.owner,
                                analyst);
        }
        if (hub_key_load(hub_path, &hub, &err)) {
                hub_key_wipe(&key);
                return ctl_fail("could not load the hub key %s: %s", hub_path, err.msg);
        }
        hub_judgement_t j = {.kind = sub, .records = refs, .n_records = n_refs,
                             .analyst = key.owner, .key_id = key.key_id, .reason = reason,
                             .signed_at_us = hub_timestamp_now()};
        uint8_t sig[HUB_SIG_BYTES];
        hub_judgement_result_t res;
        if ((rc = ctl_open_store(ctl, false, &s)))
                goto out;
        rc = CTL_FAIL;
        if (pair) {
                if ((rc = resolve_entity(s, w[1], &j.entity_a)) ||
                    (rc = resolve_entity(s, w[2], &j.entity_b)))
                        goto out;
                rc = CTL_FAIL;
                if (j.entity_a == j.entity_b) {
                        if (strcmp(sub, "same") == 0)
                                ctl_fail("%s and %s are already one entity (E%" PRId64 ")", w[1],
                                         w[2], j.entity_a);
                        else
                                ctl_fail("%s and %s are one entity now (E%" PRId64 "): not-same "
                                         "cannot part them; move records out with hubctl judge "
                                         "split, or undo the judgement that merged them",
                                         w[1], w[2], j.entity_a);
                        goto out;
                }
        } else if (split) {
                if ((rc = resolve_entity(s, w[1], &j.entity_a)))
                        goto out;
                rc = CTL_FAIL;
        } else {
                bool found = false;
                char kind[16];
                char *end = NULL;
                long long v = strtoll(w[1], &end, 10);
                if (!end || end == w[1] || *end || v <= 0) {
                        rc = ctl_usage_error(cmd, "undo wants a judgement id (a number from "
                                                  "hubctl judge list)");
                        goto out;
                }
                j.undoes = v;
                if (hub_judgement_get(s, j.undoes, &found, kind, &j.entity_a, &j.entity_b,
                                      &err)) {
                        ctl_fail("%s", err.msg);
                        goto out;
                }
                if (!found) {
                        ctl_fail("no judgement %" PRId64, j.undoes);
                        goto out;
                }
        }
        if (hub_judgement_sign(&j, &key, sig, &err)) {
                ctl_fail("could not sign the judgement: %s", err.msg);
                goto out;
        }
        if (hub_judgement_apply(s, &hub, &j, sig, &res, &err)) {
                ctl_fail("judgement refused: %s", err.msg);
                goto out;
        }
        printf("judgement %" PRId64 " (%s) by %s stored, log leaf %" PRId64, res.id, sub,
               key.owner, res.leaf_index);
        if (res.absorbed)
                printf("; E%" PRId64 " merged into E%" PRId64, res.absorbed, res.survivor);
        if (res.new_entity)
                printf("; E%" PRId64 " split from E%" PRId64, res.new_entity, res.from);
        printf("; %zu entity view%s queued for publication\n", res.outbox,
               res.outbox == 1 ? "" : "s");
        rc = CTL_OK;
out:
        hub_key_wipe(&key);
        hub_key_wipe(&hub);
        hub_store_close(s);
        return rc;
}
