/* hubctl query and hubctl entity show: from an identifier to the entity and its evidence.
 *
 * Both build the entity as a JSON document first (jansson) and print either that document
 * (--json) or a text rendering of it, so the two outputs cannot disagree. */
#include "ctl.h"

#include <hub/ident.h>
#include <hub/input.h>
#include <hub/query.h>
#include <hub/timestamp.h>

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static json_t *ts_json(int64_t usec)
{
        char buf[HUB_TIMESTAMP_MAX];
        return usec == HUB_TS_NONE ? json_null() : json_string(hub_timestamp_format(usec, buf));
}

static json_t *eid_json(int64_t id)
{
        return id ? json_sprintf("E%" PRId64, id) : json_null();
}

/* Statement properties shown in their own sections; the rest is listed as it is. */
static bool is_name(const char *prop)
{
        return strncmp(prop, "name", 4) == 0;
}

static bool is_category(const char *prop)
{
        return strstr(prop, "categor") != NULL;
}

/* Add a statement's value with its source to `list`, once per distinct value. */
static void add_grouped(json_t *list, const hub_statement_row_t *st)
{
        json_t *item = NULL;
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
                if (strcmp(json_string_value(json_object_get(v, "value")), st->value) == 0) {
                        item = v;
                        break;
                }
        }
        if (!item) {
                item = json_pack("{s:s, s:[]}", "value", st->value, "sources");
                json_array_append_new(list, item);
        }
        json_array_append_new(json_object_get(item, "sources"),
                              json_pack("{s:s, s:s, s:s}", "agency", st->agency, "record_id",
                                        st->record_id, "tier", st->tier));
}

static int on_statement(const hub_statement_row_t *st, void *arg)
{
        json_t *e = arg;
        if (st->valid && is_name(st->prop)) {
                add_grouped(json_object_get(e, "names"), st);
        } else if (st->valid && is_category(st->prop)) {
                add_grouped(json_object_get(e, "categories"), st);
        } else {
                json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "prop", st->prop,
                                      "value", st->value, "original", st->original, "valid",
                                      st->valid, "tier", st->tier, "agency", st->agency,
                                      "record_id", st->record_id);
                if (!st->valid)
                        json_object_set_new(o, "reason", json_string(st->reason));
                json_object_set_new(o, "first_seen", ts_json(st->first_seen));
                json_object_set_new(o, "last_seen", ts_json(st->last_seen));
                json_array_append_new(json_object_get(e, "statements"), o);
        }
        return 0;
}

static int on_identifier(const hub_identifier_row_t *r, void *arg)
{
        json_t *o = json_pack("{s:s, s:s}", "type", r->type, "value", r->value);
        json_object_set_new(o, "first_seen", ts_json(r->first_seen));
        json_array_append_new(json_object_get(arg, "identifiers"), o);
        return 0;
}

static int on_source(const hub_source_row_t *r, void *arg)
{
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:i, s:I}", "agency",
                              r->agency, "record_id", r->record_id, "status", r->status, "tier",
                              r->tier, "batch_id", (json_int_t)r->batch_id, "key_id", r->key_id,
                              "topic", r->topic, "partition", r->partition, "offset",
                              (json_int_t)r->offset);
        json_object_set_new(o, "received_at", ts_json(r->received_at));
        json_array_append_new(json_object_get(arg, "sources"), o);
        return 0;
}

/* The entity as JSON into *out, NULL when there is no such entity. */
static int entity_json(hub_store_t *s, int64_t id, json_t **out, hub_err_t *err)
{
        hub_entity_row_t row;
        bool found = false;
        *out = NULL;
        int rc = hub_query_entity(s, id, &found, &row, err);
        if (rc || !found)
                return rc;
        json_t *e = json_pack("{s:o, s:s, s:I, s:s, s:o, s:b, s:o, s:o, s:[], s:[], s:[], s:[], "
                              "s:[]}",
                              "entity_id", eid_json(row.id), "kind", row.kind, "version",
                              (json_int_t)row.version, "status",
                              row.merged_into ? "merged"
                              : row.withdrawn ? "withdrawn"
                                              : "active",
                              "merged_into", eid_json(row.merged_into), "withdrawn",
                              row.withdrawn, "created_at", ts_json(row.created_at), "updated_at",
                              ts_json(row.updated_at), "names", "identifiers", "categories",
                              "statements", "sources");
        if (!e)
                return hub_err_set(err, HUB_E_NOMEM, false, "hubctl", "out of memory");
        rc = hub_query_entity_identifiers(s, id, on_identifier, e, err);
        if (!rc)
                rc = hub_query_entity_statements(s, id, on_statement, e, err);
        if (!rc)
                rc = hub_query_entity_sources(s, id, on_source, e, err);
        if (rc)
                json_decref(e);
        else
                *out = e;
        return rc;
}

static const char *str(json_t *o, const char *key)
{
        const char *v = json_string_value(json_object_get(o, key));
        return v ? v : "-";
}

static void print_header(json_t *e)
{
        printf("%s %s, version %" JSON_INTEGER_FORMAT ", %s", str(e, "entity_id"), str(e, "kind"),
               json_integer_value(json_object_get(e, "version")), str(e, "status"));
        if (json_is_string(json_object_get(e, "merged_into")))
                printf(" into %s", str(e, "merged_into"));
        printf("\n");
}

/* A short summary: what `hubctl query` prints for each match. */
static void print_summary(json_t *e)
{
        size_t i;
        json_t *v, *src;
        print_header(e);
        printf("  names:");
        json_array_foreach(json_object_get(e, "names"), i, v)
                printf("%s %s", i ? ";" : "", str(v, "value"));
        printf("%s\n  identifiers:", json_array_size(json_object_get(e, "names")) ? "" : " -");
        json_array_foreach(json_object_get(e, "identifiers"), i, v)
                printf("%s %s %s", i ? ";" : "", str(v, "type"), str(v, "value"));
        printf("%s\n  categories:",
               json_array_size(json_object_get(e, "identifiers")) ? "" : " -");
        json_array_foreach(json_object_get(e, "categories"), i, v)
                printf("%s %s", i ? "," : "", str(v, "value"));
        printf("%s\n", json_array_size(json_object_get(e, "categories")) ? "" : " -");
        json_t *sources = json_object_get(e, "sources");
        printf("  sources: %zu record%s", json_array_size(sources),
               json_array_size(sources) == 1 ? "" : "s");
        /* Records per agency; sources come sorted by agency. */
        const char *prev = NULL;
        size_t n = 0;
        bool first = true;
        json_array_foreach(sources, i, src)
        {
                const char *agency = str(src, "agency");
                if (prev && strcmp(prev, agency) != 0) {
                        printf("%s %s %zu", first ? " from" : ",", prev, n);
                        first = false;
                        n = 0;
                }
                prev = agency;
                n++;
        }
        if (prev)
                printf("%s %s %zu", first ? " from" : ",", prev, n);
        printf("\n");
}

static void print_entity(json_t *e)
{
        size_t i, k;
        json_t *v, *src;
        print_header(e);
        printf("  created %s, updated %s\n", str(e, "created_at"), str(e, "updated_at"));
        const char *sections[] = {"names", "categories"};
        for (size_t s = 0; s < 2; s++) {
                printf("%s:%s\n", sections[s],
                       json_array_size(json_object_get(e, sections[s])) ? "" : " none");
                json_array_foreach(json_object_get(e, sections[s]), i, v)
                {
                        printf("  %s  (", str(v, "value"));
                        json_array_foreach(json_object_get(v, "sources"), k, src)
                                printf("%s%s %s, %s", k ? "; " : "", str(src, "agency"),
                                       str(src, "record_id"), str(src, "tier"));
                        printf(")\n");
                }
        }
        printf("identifiers:%s\n", json_array_size(json_object_get(e, "identifiers")) ? "" : " none");
        json_array_foreach(json_object_get(e, "identifiers"), i, v)
                printf("  %-14s %s  (first seen %s)\n", str(v, "type"), str(v, "value"),
                       str(v, "first_seen"));
        if (json_array_size(json_object_get(e, "statements"))) {
                printf("other statements:\n");
                json_array_foreach(json_object_get(e, "statements"), i, v)
                {
                        printf("  %s = %s  (%s %s, %s)", str(v, "prop"), str(v, "value"),
                               str(v, "agency"), str(v, "record_id"), str(v, "tier"));
                        if (!json_is_true(json_object_get(v, "valid")))
                                printf("  INVALID %s: reported as \"%s\"", str(v, "reason"),
                                       str(v, "original"));
                        printf("\n");
                }
        }
        printf("sources:%s\n", json_array_size(json_object_get(e, "sources")) ? "" : " none");
        json_array_foreach(json_object_get(e, "sources"), i, v)
                printf("  %s %s  %s %s  batch %" JSON_INTEGER_FORMAT
                       " (key %s)  %s [%" JSON_INTEGER_FORMAT "] @%" JSON_INTEGER_FORMAT
                       "  received %s\n",
                       str(v, "agency"), str(v, "record_id"), str(v, "status"), str(v, "tier"),
                       json_integer_value(json_object_get(v, "batch_id")), str(v, "key_id"),
                       str(v, "topic"), json_integer_value(json_object_get(v, "partition")),
                       json_integer_value(json_object_get(v, "offset")), str(v, "received_at"));
}

static int dump(json_t *doc)
{
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text)
                return ctl_fail("out of memory");
        puts(text);
        free(text);
        return CTL_OK;
}

/* ---- query ---- */

static const char query_usage[] =
        "usage: hubctl query [--type TYPE] [--qualifier Q] [--json] IDENTIFIER\n"
        "\n"
        "Find the entity that holds IDENTIFIER. The identifier is normalised first, as the hub\n"
        "does with what agencies report, so any spelling of it works: 0312-687-878 and\n"
        "0312687878, 0912 468 357 and +84912468357, https://www.Example.vn/x and example.vn.\n"
        "Without --type the kind is guessed from its shape; ten digits are tried both as a tax\n"
        "code and as a phone number. Merged entities are followed to the surviving one.\n"
        "\n"
        "  --type TYPE       TAX_CODE, PERSONAL_ID, OLD_ID_CARD, PASSPORT, BUSINESS_REG, PHONE,\n"
        "                    EMAIL, DOMAIN, URL, IP_ADDRESS, SHOP, BANK_ACCOUNT, E_WALLET,\n"
        "                    SOCIAL_ACCOUNT\n"
        "  --qualifier Q     bank BIN or code (BANK_ACCOUNT, E_WALLET), platform (SHOP,\n"
        "                    SOCIAL_ACCOUNT), country (PASSPORT)\n"
        "  --json            print JSON\n"
        "\n"
        "Exit codes: 0 found, 1 not found or not a valid identifier (the reason is printed),\n"
        "2 usage error.\n";

int ctl_cmd_query(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"type", required_argument, NULL, 't'},
                                                 {"qualifier", required_argument, NULL, 'q'},
                                                 {"json", no_argument, NULL, 'j'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl query", *type_text = NULL, *qualifier = NULL;
        bool as_json = false;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(query_usage, stdout);
                        return CTL_OK;
                } else if (c == 't') {
                        type_text = optarg;
                } else if (c == 'q') {
                        qualifier = optarg;
                } else if (c == 'j') {
                        as_json = true;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "an identifier is required");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "one identifier at a time: unexpected \"%s\" (quote "
                                            "an identifier that holds spaces)",
                                       argv[optind + 1]);
        const char *input = argv[optind];
        int types[8];
        size_t n_types = 0;
        if (type_text) {
                char upper[32];
                size_t i;
                for (i = 0; type_text[i] && i + 1 < sizeof(upper); i++)
                        upper[i] = (char)toupper((unsigned char)type_text[i]);
                upper[i] = '\0';
                types[0] = hub_ident_type_from_name(upper);
                if (types[0] < 0 || types[0] == HUB_ID_OTHER)
                        return ctl_usage_error(cmd, "unknown identifier type \"%s\"", type_text);
                n_types = 1;
        } else {
                n_types = hub_input_guess_ident_types(input, types, 8);
                if (!n_types)
                        return ctl_fail("could not tell what kind of identifier \"%s\" is: give "
                                        "--type",
                                        input);
        }

        hub_store_t *s = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        /* Queries of personal data are to be logged (Decree 13/2023: access_log, a later
         * issue); this is where the entry goes once the table exists. */
        json_t *doc = json_pack("{s:s, s:[], s:[], s:[]}", "input", input, "matches",
                                "not_found", "invalid");
        json_t *matches = json_object_get(doc, "matches");
        hub_ident_t tried[8];
        size_t n_tried = 0;
        for (size_t t = 0; t < n_types && !rc; t++) {
                hub_ident_t id;
                hub_err_t err = {0};
                int nrc = hub_ident_normalize(types[t], input, qualifier, &id, &err);
                if (nrc == -HUB_E_MALFORMED) {
                        json_array_append_new(
                                json_object_get(doc, "invalid"),
                                json_pack("{s:s, s:s, s:s}", "type", hub_ident_type_name(types[t]),
                                          "reason", hub_ident_reason_name(id.reason), "message",
                                          err.msg));
                        continue;
                }
                if (nrc) {
                        rc = ctl_fail("could not normalise the identifier: %s", err.msg);
                        break;
                }
                bool dup = false;
                for (size_t k = 0; k < n_tried; k++)
                        dup = dup || (tried[k].type == id.type &&
                                      strcmp(tried[k].value, id.value) == 0);
                if (dup)
                        continue;
                tried[n_tried++] = id;
                bool found = false;
                int64_t direct = 0, surviving = 0;
                const char *tname = hub_ident_type_name(id.type);
                json_t *entity = NULL;
                if (hub_query_identifier(s, tname, id.value, &found, &direct, &surviving, &err) ||
                    (found && entity_json(s, surviving, &entity, &err))) {
                        rc = ctl_fail("%s", err.msg);
                        break;
                }
                if (!found) {
                        json_array_append_new(json_object_get(doc, "not_found"),
                                              json_pack("{s:s, s:s}", "type", tname, "value",
                                                        id.value));
                        continue;
                }
                json_t *m = json_pack("{s:s, s:s, s:o, s:o}", "type", tname, "value", id.value,
                                      "entity_id", eid_json(direct), "surviving_id",
                                      eid_json(surviving));
                json_object_set_new(m, "entity", entity ? entity : json_null());
                json_array_append_new(matches, m);
        }
        if (!rc && as_json)
                rc = dump(doc);
        if (!rc && !as_json) {
                size_t i;
                json_t *v;
                json_array_foreach(matches, i, v)
                {
                        printf("%s%s %s: %s", i ? "\n" : "", str(v, "type"), str(v, "value"),
                               str(v, "entity_id"));
                        if (strcmp(str(v, "entity_id"), str(v, "surviving_id")) != 0)
                                printf(", merged into %s", str(v, "surviving_id"));
                        printf("\n");
                        if (json_is_object(json_object_get(v, "entity")))
                                print_summary(json_object_get(v, "entity"));
                }
        }
        if (!rc && !json_array_size(matches)) {
                size_t i;
                json_t *v;
                json_array_foreach(json_object_get(doc, "not_found"), i, v)
                        ctl_fail("not found: no entity has %s %s", str(v, "type"), str(v, "value"));
                /* When some reading of the input was valid, the others' reasons are noise. */
                if (!json_array_size(json_object_get(doc, "not_found")))
                        json_array_foreach(json_object_get(doc, "invalid"), i, v)
                                ctl_fail("not a valid %s: %s", str(v, "type"), str(v, "message"));
                rc = CTL_FAIL;
        }
        json_decref(doc);
        hub_store_close(s);
        return rc;
}

/* ---- entity show ---- */

static const char entity_usage[] =
        "usage: hubctl entity show [--json] E<id>\n"
        "\n"
        "An entity: kind, version, status, names, identifiers, violation categories, the other\n"
        "statements about it (invalid identifiers kept as evidence, with their reason), and the\n"
        "records it derives from with the batch, key, topic, partition and offset each came in.\n"
        "\n"
        "  --json    print JSON\n";

int ctl_cmd_entity(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {
                {"json", no_argument, NULL, 'j'}, CTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl entity show";
        bool as_json = false;
        int c, rc;
        if (argc < 2)
                return ctl_usage_error("hubctl entity", "a subcommand is required: show");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(entity_usage, stdout);
                return CTL_OK;
        }
        if (strcmp(argv[1], "show") != 0)
                return ctl_usage_error("hubctl entity", "unknown subcommand \"%s\": show",
                                       argv[1]);
        argc--;
        argv++;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(entity_usage, stdout);
                        return CTL_OK;
                } else if (c == 'j') {
                        as_json = true;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind >= argc)
                return ctl_usage_error(cmd, "an entity id is required, such as E42");
        if (optind + 1 < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind + 1]);
        int64_t id;
        hub_err_t err = {0};
        if (hub_input_parse_entity_id(argv[optind], &id, &err))
                return ctl_usage_error(cmd, "%s", err.msg);
        hub_store_t *s = NULL;
        json_t *e = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (entity_json(s, id, &e, &err))
                rc = ctl_fail("%s", err.msg);
        else if (!e)
                rc = ctl_fail("not found: no entity E%" PRId64, id);
        else if (as_json)
                rc = dump(e);
        else
                print_entity(e);
        json_decref(e);
        hub_store_close(s);
        return rc;
}
