/* JSON to Avro (hub_avro_from_json), the path of every JSON Lines row a connector encodes and of
 * every entity view hubd signs. The first input byte picks the schema (byte % 3: report, entity,
 * signed entity envelope), the rest is the JSON text ("\u0000" allowed, so a NUL reaches the
 * converter). What converts must encode into bytes the hub's validator accepts: a value the
 * hub would refuse must be refused here, with a reason, not published. */
#include "fuzz.h"

#include <hub/avro.h>
#include <hub/avro_json.h>
#include <hub/entity.h>
#include <hub/report.h>

static avro_schema_t schemas[3];
static avro_value_iface_t *ifaces[3];
static avro_value_t values[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        const char *texts[3] = {hub_report_schema_json, hub_entity_schema_json,
                                hub_signed_entity_schema_json};
        for (int i = 0; i < 3; i++) {
                FUZZ_CHECK(avro_schema_from_json_length(texts[i], strlen(texts[i]),
                                                        &schemas[i]) == 0);
                ifaces[i] = avro_generic_class_from_schema(schemas[i]);
                FUZZ_CHECK(ifaces[i] && avro_generic_value_new(ifaces[i], &values[i]) == 0);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        int sel = data[0] % 3;
        json_error_t jerr;
        json_t *j = json_loadb((const char *)data + 1, size - 1,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j)
                return 0;
        avro_value_t *v = &values[sel];
        avro_value_reset(v);
        hub_err_t err = {0};
        int rc = hub_avro_from_json(j, v, &err);
        fuzz_check_err(rc, &err);
        if (rc == 0) {
                unsigned char *out = NULL;
                size_t len = 0;
                rc = hub_avro_encode(v, &out, &len, &err);
                fuzz_check_err(rc, &err);
                if (rc == 0) {
                        hub_err_clear(&err);
                        rc = hub_avro_validate(schemas[sel], out, len, &err);
                        if (rc)
                                fprintf(stderr, "converted JSON encodes to bytes the hub "
                                                "refuses: %s\n", err.msg);
                        FUZZ_CHECK(rc == 0);
                }
                free(out);
        }
        json_decref(j);
        return 0;
}
