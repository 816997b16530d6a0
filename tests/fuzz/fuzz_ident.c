/* Every identifier normaliser of hub/include/hub/ident.h on any bytes. Input layout:
 *   byte 0   what to call, byte % 22: 0-14 hub_ident_normalize_n() with that HUB_ID_* type,
 *            15 a type outside the enum, 16/17 hub_name_match_key() (person/organisation),
 *            18 hub_name_nfc(), 19 hub_ident_personal_id_check(), 20 hub_ident_bank_find(),
 *            21 hub_ident_tax_code_check() when the value starts with ten digits;
 *   byte 1   qualifier length q (0: no qualifier);
 *   q bytes  the qualifier (bank, platform, country), NUL-terminated by the harness;
 *   the rest the value, with any byte (a NUL included) for the _n call. */
#include "fuzz.h"

#include <hub/ident.h>

#include <stdbool.h>

enum { SEL_OUT_OF_RANGE = 15, SEL_KEY_PERSON, SEL_KEY_ORG, SEL_NFC, SEL_PID, SEL_BANK, SEL_MST,
       SEL__COUNT };

static void check_text(int rc, const hub_err_t *err, const char *out, size_t cap)
{
        fuzz_check_err(rc, err);
        if (rc == 0)
                FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        int sel = data[0] % SEL__COUNT;
        size_t q = data[1];
        if (q > size - 2)
                return 0;
        char *qual = q ? fuzz_strndup(data + 2, q) : NULL;
        const uint8_t *v = data + 2 + q;
        size_t vlen = size - 2 - q;
        char *vs = fuzz_strndup(v, vlen); /* for the calls that take a C string */
        hub_err_t err = {0};
        int rc;

        if (sel <= SEL_OUT_OF_RANGE) {
                int type = sel == SEL_OUT_OF_RANGE ? (q & 1 ? -1 : HUB_ID__COUNT) : sel;
                hub_ident_t id;
                rc = hub_ident_normalize_n(NULL, type, (const char *)v, vlen, qual, &id, &err);
                fuzz_check_err(rc, &err);
                FUZZ_CHECK(rc == 0 || rc == -HUB_E_MALFORMED || rc == -HUB_E_NOMEM);
                FUZZ_CHECK(memchr(id.value, '\0', sizeof(id.value)) != NULL);
                FUZZ_CHECK(memchr(id.host, '\0', sizeof(id.host)) != NULL);
                FUZZ_CHECK(memchr(id.parent, '\0', sizeof(id.parent)) != NULL);
                FUZZ_CHECK(memchr(id.hint, '\0', sizeof(id.hint)) != NULL);
                if (rc == 0) {
                        /* An accepted identifier has a key, a known type and no reason. */
                        FUZZ_CHECK(id.reason == HUB_IDR_NONE);
                        FUZZ_CHECK(id.value[0] != '\0');
                        FUZZ_CHECK(id.type >= 0 && id.type < HUB_ID__COUNT);
                        FUZZ_CHECK(sel != SEL_OUT_OF_RANGE);
                        FUZZ_CHECK((id.type != type) == !!(id.flags & HUB_IDF_RETYPED));
                } else if (rc == -HUB_E_MALFORMED) {
                        /* A refusal has a stable reason, and the message starts with it. */
                        FUZZ_CHECK(id.reason > HUB_IDR_NONE && id.reason < HUB_IDR__COUNT);
                        const char *name = hub_ident_reason_name(id.reason);
                        FUZZ_CHECK(strncmp(err.msg, name, strlen(name)) == 0);
                }
                /* The C-string form agrees with the counted form when there is no NUL. */
                if (sel != SEL_OUT_OF_RANGE && strlen(vs) == vlen && !qual) {
                        hub_ident_t id2;
                        hub_err_t err2 = {0};
                        int rc2 = hub_ident_normalize(type, vs, NULL, &id2, &err2);
                        FUZZ_CHECK(rc2 == rc);
                        FUZZ_CHECK(strcmp(id2.value, id.value) == 0);
                }
        } else if (sel == SEL_KEY_PERSON || sel == SEL_KEY_ORG) {
                /* The qualifier length doubles as the output capacity, to test "too small". */
                char out[2048];
                size_t cap = q ? q : sizeof(out);
                rc = hub_name_match_key(vs, sel == SEL_KEY_ORG, out, cap, &err);
                check_text(rc, &err, out, cap);
        } else if (sel == SEL_NFC) {
                char out[2048];
                size_t cap = q ? q : sizeof(out);
                rc = hub_name_nfc(vs, out, cap, &err);
                check_text(rc, &err, out, cap);
        } else if (sel == SEL_PID) {
                hub_personal_id_info_t info;
                int reason = 0;
                int year = qual ? atoi(qual) : 0;
                rc = hub_ident_personal_id_check(vs, year, (int)(q % 4), &info, &reason, &err);
                fuzz_check_err(rc, &err);
                if (rc)
                        FUZZ_CHECK(reason > HUB_IDR_NONE && reason < HUB_IDR__COUNT);
        } else if (sel == SEL_BANK) {
                const hub_bank_t *b = hub_ident_bank_find(NULL, vs);
                FUZZ_CHECK(!b || (b->bin && b->code));
        } else if (vlen >= 10 && strspn(vs, "0123456789") >= 10) {
                /* Its contract is ten ASCII digits: hub_ident_normalize_n checks them first. */
                rc = hub_ident_tax_code_check(vs);
                FUZZ_CHECK(rc == 0 || rc == HUB_IDR_CHECK_DIGIT || rc == HUB_IDR_ALL_ZERO);
        }
        free(vs);
        free(qual);
        return 0;
}
