/* Rows of an agency's export through the example mappings of connectors/examples, as
 * hub-publish maps them: the first input byte picks the mapping (byte % 6: bca, mic, mof-hq,
 * mof-thue, moit-qltt, qltt-hcm-csv), the rest is one row as JSON. "\u0000" is allowed in the
 * row's strings because a CSV cell can carry a NUL byte. A mapped row goes on through the
 * report codec; what it encodes must be bytes the hub's validator accepts. */
#include "fuzz.h"

#include <hub/avro.h>
#include <hub/mapping.h>
#include <hub/report.h>

#ifndef HUB_FUZZ_SOURCE_ROOT
#error "meson defines HUB_FUZZ_SOURCE_ROOT"
#endif

static const char *const names[] = {"bca", "mic", "mof-hq", "mof-thue", "moit-qltt",
                                    "qltt-hcm-csv"};
#define NMAPS (sizeof(names) / sizeof(names[0]))
static hub_mapping_t *maps[NMAPS];
static hub_report_codec_t *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        const char *root = getenv("HUB_SOURCE_ROOT");
        if (!root)
                root = HUB_FUZZ_SOURCE_ROOT;
        for (size_t i = 0; i < NMAPS; i++) {
                char p[4096];
                snprintf(p, sizeof(p), "%s/connectors/examples/%s.ini", root, names[i]);
                hub_err_t err = {0};
                if (hub_mapping_load(p, &maps[i], &err)) {
                        fprintf(stderr, "fuzz_mapping_apply: %s\n", err.msg);
                        abort();
                }
        }
        hub_err_t err = {0};
        FUZZ_CHECK(hub_report_codec_new(&codec, &err) == 0);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        hub_mapping_t *m = maps[data[0] % NMAPS];
        json_error_t jerr;
        json_t *row = json_loadb((const char *)data + 1, size - 1,
                                 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!row || !json_is_object(row)) {
                json_decref(row);
                return 0;
        }
        hub_mapping_stats_t stats = {0};
        json_t *report = NULL;
        const char *reason = NULL;
        hub_err_t err = {0};
        int rc = hub_mapping_apply(m, row, &report, &reason, &stats, &err);
        if (rc < 0) {
                fuzz_check_err(rc, &err);
                FUZZ_CHECK(reason != NULL);
        }
        FUZZ_CHECK((rc == HUB_MAP_RECORD) == (report != NULL));

        char id[HUB_MAPPING_MAX_RECORD_ID + 1];
        hub_err_t ierr = {0};
        int irc = hub_mapping_record_id(m, row, id, sizeof(id), &reason, &ierr);
        fuzz_check_err(irc, &ierr);
        if (irc == 0)
                FUZZ_CHECK(strlen(id) >= 1 && strlen(id) <= HUB_MAPPING_MAX_RECORD_ID);
        if (rc == HUB_MAP_RECORD) {
                /* The id the mapping put in the report is the id of the row's key. */
                FUZZ_CHECK(irc == 0);
                const char *rid = json_string_value(json_object_get(report, "record_id"));
                FUZZ_CHECK(rid && strcmp(rid, id) == 0);

                unsigned char *out = NULL;
                size_t len = 0;
                hub_err_clear(&err);
                rc = hub_report_encode_json(codec, report, &out, &len, &err);
                fuzz_check_err(rc, &err);
                if (rc == 0) {
                        hub_err_clear(&err);
                        rc = hub_avro_validate(hub_report_codec_schema(codec), out, len, &err);
                        if (rc)
                                fprintf(stderr, "mapped report encodes to bytes the hub "
                                                "refuses: %s\n", err.msg);
                        FUZZ_CHECK(rc == 0);
                }
                free(out);
        }
        json_decref(report);
        json_decref(row);
        return 0;
}
