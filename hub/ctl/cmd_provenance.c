/* hubctl provenance: where every value of an entity came from, each source record re-verified
 * from the stored bytes up to the latest signed tree head (hub_provenance_entity). */
#include "ctl.h"

#include <hub/ident.h>
#include <hub/input.h>
#include <hub/keyfile.h>
#include <hub/provenance.h>
#include <hub/query.h>

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char provenance_usage[] =
        "usage: hubctl provenance [--json] [--hub-key FILE] E<id> | IDENTIFIER\n"
        "\n"
        "Every value of the entity (given by id, or by an identifier it holds), the statements\n"
        "that assert it, and each source record: agency, key, batch, topic/partition/offset,\n"
        "received time; the agency's signature re-verified from the stored batch bytes; the\n"
        "record's audit path in its batch; its leaf in the hub's log recomputed; its inclusion\n"
        "proof against the latest signed tree head (whose signature is checked with --hub-key,\n"
        "default $HUB_HUB_KEY). Merges and judgements on the way, with who made them.\n"
        "Exits 1 when anything does not verify.\n";

static const char *str(json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));
        return s ? s : "";
}

static void print_text(json_t *d)
{
        json_t *e = json_object_get(d, "entity"), *h = json_object_get(d, "tree_head");
        printf("%s %s, version %" JSON_INTEGER_FORMAT "%s%s\n", str(e, "entity_id"),
               str(e, "kind"), json_integer_value(json_object_get(e, "version")),
               json_is_string(json_object_get(e, "merged_into")) ? ", merged into " : "",
               str(e, "merged_into"));
        if (json_is_object(h))
                printf("tree head: %" JSON_INTEGER_FORMAT " leaves, root %s, key %s, signature "
                       "%s\n",
                       json_integer_value(json_object_get(h, "log_size")), str(h, "root_hash"),
                       str(h, "key_id"), str(h, "signature"));
        else
                printf("tree head: none signed yet\n");
        printf("\nvalues:\n");
        size_t i, j;
        json_t *v, *s;
        json_array_foreach(json_object_get(d, "values"), i, v)
        {
                printf("  %s = %s\n", str(v, "prop"), str(v, "value"));
                json_array_foreach(json_object_get(v, "statements"), j, s)
                        printf("      from %s/%s (as \"%s\", %s%s%s%s%s%s)\n", str(s, "agency"),
                               str(s, "record_id"), str(s, "original"), str(s, "tier"),
                               json_is_true(json_object_get(s, "valid")) ? "" : ", invalid",
                               strcmp(str(s, "status"), "active") != 0 ? ", " : "",
                               strcmp(str(s, "status"), "active") != 0 ? str(s, "status") : "",
                               *str(s, "flag") ? ", flagged " : "", str(s, "flag"));
        }
        printf("\nsource records:\n");
        json_array_foreach(json_object_get(d, "records"), i, v)
        {
                json_t *inc = json_object_get(v, "inclusion");
                printf("  %s/%s: %s\n", str(v, "agency"), str(v, "record_id"),
                       json_is_true(json_object_get(v, "verified")) ? "VERIFIED" : "NOT VERIFIED");
                if (json_object_get(v, "error")) {
                        printf("    %s\n", str(v, "error"));
                        continue;
                }
                printf("    key %s, batch %" JSON_INTEGER_FORMAT " (%s[%" JSON_INTEGER_FORMAT
                       "] offset %" JSON_INTEGER_FORMAT "), record %" JSON_INTEGER_FORMAT
                       " of the batch, received %s, %s\n",
                       str(v, "key_id"), json_integer_value(json_object_get(v, "batch_id")),
                       str(v, "topic"), json_integer_value(json_object_get(v, "partition")),
                       json_integer_value(json_object_get(v, "offset")),
                       json_integer_value(json_object_get(v, "batch_index")),
                       str(v, "received_at"), str(v, "status"));
                size_t k;
                json_t *c;
                json_array_foreach(json_object_get(v, "corrected_by"), k, c)
                {
                        bool ret = strcmp(str(c, "action"), "retract") == 0;
                        printf("    %s by %s/%s at %s", ret ? "RETRACTED" : "SUPERSEDED",
                               str(c, "agency"), str(c, "record_id"), str(c, "applied_at"));
                        if (json_is_integer(json_object_get(c, "leaf_index")))
                                printf(" (%s leaf %" JSON_INTEGER_FORMAT ")",
                                       ret ? "retraction" : "correction",
                                       json_integer_value(json_object_get(c, "leaf_index")));
                        printf("\n");
                }
                printf("    agency signature: %s\n", str(v, "signature"));
                printf("    record in batch: %s; audit path of %zu hashes: %s\n",
                       str(v, "record_in_batch"),
                       json_array_size(json_object_get(v, "audit_path")),
                       json_is_true(json_object_get(v, "audit_path_verified")) ? "verified"
                                                                               : "FAILED");
                if (json_is_integer(json_object_get(v, "key_event_leaf")))
                        printf("    key registration: log leaf %" JSON_INTEGER_FORMAT "\n",
                               json_integer_value(json_object_get(v, "key_event_leaf")));
                printf("    log leaf %" JSON_INTEGER_FORMAT ": %s\n",
                       json_integer_value(json_object_get(v, "leaf_index")), str(v, "leaf"));
                if (json_is_true(json_object_get(inc, "verified")))
                        printf("    inclusion in the signed tree of %" JSON_INTEGER_FORMAT
                               " leaves: verified (%zu hashes)\n",
                               json_integer_value(json_object_get(inc, "tree_size")),
                               json_array_size(json_object_get(inc, "proof")));
                else
                        printf("    inclusion: NOT VERIFIED%s%s\n",
                               json_object_get(inc, "note") ? ": " : "", str(inc, "note"));
        }
        json_t *m = json_object_get(d, "merges");
        if (json_array_size(m)) {
                printf("\nmerges:\n");
                json_array_foreach(m, i, v)
                        printf("  %s absorbed %s by %s (record %s/%s) at %s%s\n",
                               str(v, "survivor"), str(v, "absorbed"), str(v, "rule"),
                               str(v, "agency"), str(v, "record_id"), str(v, "created_at"),
                               json_is_string(json_object_get(v, "undone_at")) ? ", undone" : "");
        }
        m = json_object_get(d, "judgements");
        if (json_array_size(m)) {
                printf("\njudgements:\n");
                json_array_foreach(m, i, v)
                        printf("  %s %s %s by %s (key %s) at %s%s, log leaf %s: %s\n",
                               str(v, "kind"), str(v, "entity_a"), str(v, "entity_b"),
                               str(v, "analyst"), str(v, "key_id"), str(v, "created_at"),
                               json_is_string(json_object_get(v, "revoked_at")) ? ", undone"
                                                                                : "",
                               str(v, "leaf_index"), str(v, "reason"));
        }
        printf("\n%s\n", json_is_true(json_object_get(d, "verified"))
                                 ? "verified: every source record is signed by its agency and "
                                   "included in the hub's signed log"
                                 : "NOT VERIFIED: see above");
}

/* E<id>, or an identifier held by an entity (normalised as hubctl query does). */
static int resolve_subject(hub_store_t *s, const char *text, int64_t *id)
{
        hub_err_t err = {0};
        if ((text[0] == 'E' || text[0] == 'e') && hub_input_parse_entity_id(text, id, NULL) == 0)
                return CTL_OK;
        int types[8];
        size_t n = hub_input_guess_ident_types(text, types, 8);
        for (size_t t = 0; t < n; t++) {
                hub_ident_t ident;
                bool found = false;
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

int ctl_cmd_provenance(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                                 {"hub-key", required_argument, NULL, 'k'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl provenance", *key_path = NULL;
        bool json = false;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(provenance_usage, stdout);
                        return CTL_OK;
                } else if (c == 'j') {
                        json = true;
                } else if (c == 'k') {
                        key_path = optarg;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "an entity id (E42) or an identifier is required");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
        hub_key_t hub;
        hub_err_t err = {0};
        bool have = false;
        if (!key_path)
                key_path = getenv("HUB_HUB_KEY");
        if (key_path && *key_path) {
                if (hub_key_load(key_path, &hub, &err))
                        return ctl_fail("could not load the hub key %s: %s", key_path, err.msg);
                hub_key_wipe(&hub);
                have = true;
        }
        hub_store_t *s = NULL;
        int64_t id = 0;
        json_t *doc = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if ((rc = resolve_subject(s, argv[optind], &id)))
                goto out;
        if (hub_provenance_entity(s, id, have ? &hub : NULL, &doc, &err)) {
                rc = ctl_fail("could not build the provenance of E%" PRId64 ": %s", id, err.msg);
                goto out;
        }
        if (!doc) {
                rc = ctl_fail("not found: no entity E%" PRId64, id);
                goto out;
        }
        if (json) {
                char *t = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                puts(t);
                free(t);
        } else {
                print_text(doc);
        }
        rc = json_is_true(json_object_get(doc, "verified")) ? CTL_OK : CTL_FAIL;
out:
        json_decref(doc);
        hub_store_close(s);
        return rc;
}
