/* Records as the hub meets them inside a verified batch: untrusted Avro bytes of the report
 * schema. hub_avro_validate() alone and hub_report_decode() (validate, then avro-c) must agree,
 * and whatever decodes must encode again into bytes the validator accepts. */
#include "fuzz.h"

#include <hub/avro.h>
#include <hub/report.h>

static hub_report_codec_t *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        hub_err_t err = {0};
        FUZZ_CHECK(hub_report_codec_new(&codec, &err) == 0);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        avro_schema_t schema = hub_report_codec_schema(codec);
        hub_err_t verr = {0};
        int vrc = hub_avro_validate(schema, data, size, &verr);
        fuzz_check_err(vrc, &verr);

        hub_err_t err = {0};
        avro_value_t *value = NULL;
        int rc = hub_report_decode(codec, data, size, &value, &err);
        fuzz_check_err(rc, &err);
        /* Bytes the validator refused never reach avro-c. */
        if (vrc)
                FUZZ_CHECK(rc == vrc);
        if (rc)
                return 0;
        FUZZ_CHECK(value != NULL);

        const char *record_id, *agency;
        hub_err_clear(&err);
        FUZZ_CHECK(hub_report_ids(value, &record_id, &agency, &err) == 0);
        FUZZ_CHECK(record_id && agency);

        unsigned char *out = NULL;
        size_t len = 0;
        hub_err_clear(&err);
        rc = hub_avro_encode(value, &out, &len, &err);
        fuzz_check_err(rc, &err);
        if (rc == 0) {
                hub_err_clear(&err);
                rc = hub_avro_validate(schema, out, len, &err);
                if (rc)
                        fprintf(stderr, "re-encoded report refused: %s\n", err.msg);
                FUZZ_CHECK(rc == 0);
        }
        free(out);
        return 0;
}
