/* hubctl identifiers noisy: the values the over-correlation guard stopped merging on. */
#include "ctl.h"

#include <hub/resolution.h>
#include <hub/timestamp.h>

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
        "usage: hubctl identifiers noisy [--json]\n"
        "\n"
        "List the identifier values (and weak keys: phones, names, handles) that appeared on more\n"
        "entities than hubd's noisy_threshold: they no longer merge, link or make candidates.\n"
        "\n"
        "options:\n"
        "  --json                  one JSON array instead of a table\n"
        "  --dsn DSN               PostgreSQL conninfo (default $HUB_PG_DSN)\n"
        "  -h, --help              this help\n";

static int on_row(const hub_noisy_row_t *r, void *arg)
{
        char ts[HUB_TIMESTAMP_MAX];
        json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "type",
                                             r->type, "value", r->value, "entities",
                                             (json_int_t)r->entities, "threshold",
                                             (json_int_t)r->threshold, "agency", r->agency,
                                             "record_id", r->record_id, "marked_at",
                                             hub_timestamp_format(r->marked_at, ts)));
        return 0;
}

int ctl_cmd_identifiers(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        bool as_json = false;
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
                if (c == '?' || c == ':')
                        return ctl_bad_option("hubctl identifiers", argv);
                int rc = ctl_common_option(ctl, c, optarg, "hubctl identifiers");
                if (rc)
                        return rc;
        }
        if (optind >= argc || strcmp(argv[optind], "noisy") != 0 || optind + 1 != argc)
                return ctl_usage_error("hubctl identifiers", "expected: noisy");
        hub_store_t *s = NULL;
        int rc = ctl_open_store(ctl, false, &s);
        if (rc)
                return rc;
        json_t *rows = json_array();
        hub_err_t err = {0};
        if (hub_resolution_noisy(s, on_row, rows, &err)) {
                json_decref(rows);
                hub_store_close(s);
                return ctl_fail("%s", err.msg);
        }
        hub_store_close(s);
        if (as_json) {
                char *out = json_dumps(rows, JSON_INDENT(2));
                puts(out ? out : "[]");
                free(out);
        } else {
                printf("%-12s %-32s %8s %9s  %-24s %s\n", "TYPE", "VALUE", "ENTITIES",
                       "THRESHOLD", "MARKED_AT", "RECORD");
                size_t i;
                json_t *r;
                json_array_foreach(rows, i, r)
                        printf("%-12s %-32s %8" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
                               "  %-24s %s %s\n",
                               json_string_value(json_object_get(r, "type")),
                               json_string_value(json_object_get(r, "value")),
                               json_integer_value(json_object_get(r, "entities")),
                               json_integer_value(json_object_get(r, "threshold")),
                               json_string_value(json_object_get(r, "marked_at")),
                               json_string_value(json_object_get(r, "agency")),
                               json_string_value(json_object_get(r, "record_id")));
                printf("(%zu noisy)\n", json_array_size(rows));
        }
        json_decref(rows);
        return CTL_OK;
}
