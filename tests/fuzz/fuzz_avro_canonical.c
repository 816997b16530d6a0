/* Schema text to Parsing Canonical Form and CRC-64-AVRO fingerprint (hub_avro_canonical,
 * hub_avro_fingerprint), written by hand over jansson because avro-c 1.11.1 has neither; the
 * text comes from schema files and registries. The canonical form of a canonical form is
 * itself, and the fingerprint is the CRC of the canonical form. The first byte is skipped when
 * it is 0x01 and then also asks hub_avro_compatible() whether the schema reads itself. */
#include "fuzz.h"

#include <hub/avro.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        bool compat = size > 0 && data[0] == 0x01;
        if (compat) {
                data++;
                size--;
        }
        const char *json = (const char *)data;
        char *pcf = NULL;
        hub_err_t err = {0};
        int rc = hub_avro_canonical(json, size, &pcf, &err);
        fuzz_check_err(rc, &err);
        uint64_t fp = 0;
        hub_err_t ferr = {0};
        int frc = hub_avro_fingerprint(json, size, &fp, &ferr);
        fuzz_check_err(frc, &ferr);
        FUZZ_CHECK(frc == rc);
        if (rc == 0) {
                FUZZ_CHECK(pcf != NULL);
                size_t n = strlen(pcf);
                FUZZ_CHECK(fp == hub_avro_crc64(pcf, n));
                char *again = NULL;
                hub_err_clear(&err);
                rc = hub_avro_canonical(pcf, n, &again, &err);
                if (rc)
                        fprintf(stderr, "canonical form %s refused: %s\n", pcf, err.msg);
                FUZZ_CHECK(rc == 0);
                if (strcmp(again, pcf) != 0)
                        fprintf(stderr, "canonical form not stable:\n%s\n%s\n", pcf, again);
                FUZZ_CHECK(strcmp(again, pcf) == 0);
                free(again);
                if (compat) {
                        hub_err_clear(&err);
                        rc = hub_avro_compatible(json, size, json, size, 0, &err);
                        fuzz_check_err(rc, &err);
                }
        }
        free(pcf);
        return 0;
}
