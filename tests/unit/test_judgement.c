/* Analysts' judgements, pure parts: the signed message is exactly the documented bytes
 * (schemas/README.md "Judgements"); a signature verifies with the analyst's key only and breaks
 * on any changed field; malformed judgements are refused with what is wrong; leaf bodies are
 * laid out as documented. */
#include <hub/judgement.h>

#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static const hub_judgement_ref_t refs[2] = {{"MOF-HQ", "HQ-1"}, {"MIC", "M-7"}};

static hub_judgement_t split_j(void)
{
        return (hub_judgement_t){.kind = "split", .entity_a = 42, .records = refs,
                                 .n_records = 2, .analyst = "LAN", .key_id = "LAN/1",
                                 .reason = "two sellers", .signed_at_us = 1767225600000000};
}

/* The bytes written out by hand from the layout in schemas/README.md. */
static void test_message_bytes(void **state)
{
        (void)state;
        hub_judgement_t j = split_j();
        uint8_t *m = NULL;
        size_t n = 0;
        assert_int_equal(hub_judgement_message(&j, &m, &n, NULL), 0);
        uint8_t want[256];
        size_t w = 0;
#define RAW(p, len) (memcpy(want + w, p, len), w += len)
#define U32(v) (want[w++] = 0, want[w++] = 0, want[w++] = 0, want[w++] = (uint8_t)(v))
#define STR(s) (U32(strlen(s)), RAW(s, strlen(s)))
#define I64(v)                                                                                     \
        do {                                                                                       \
                for (int i = 0; i < 8; i++)                                                        \
                        want[w++] = (uint8_t)((uint64_t)(v) >> (56 - 8 * i));                      \
        } while (0)
        RAW("vn.hub.judgement.v1", 20); /* with its NUL */
        STR("split");
        I64(42);
        I64(0);
        U32(2);
        STR("MOF-HQ");
        STR("HQ-1");
        STR("MIC");
        STR("M-7");
        I64(0);
        STR("LAN");
        STR("LAN/1");
        STR("two sellers");
        I64(1767225600000000);
        assert_int_equal(n, w);
        assert_memory_equal(m, want, w);
        free(m);
}

static void test_sign_verify(void **state)
{
        (void)state;
        hub_key_t k, other;
        assert_int_equal(hub_key_generate("LAN", "LAN/1", &k, NULL), 0);
        assert_int_equal(hub_key_generate("LAN", "LAN/1", &other, NULL), 0);
        hub_judgement_t j = {.kind = "not-same", .entity_a = 1, .entity_b = 2, .analyst = "LAN",
                             .key_id = "LAN/1", .reason = "different directors",
                             .signed_at_us = 1};
        uint8_t sig[HUB_SIG_BYTES];
        assert_int_equal(hub_judgement_sign(&j, &k, sig, NULL), 0);
        assert_int_equal(hub_judgement_verify(&j, k.pk, sig, NULL), 0);
        hub_err_t err = {0};
        assert_int_equal(hub_judgement_verify(&j, other.pk, sig, &err), -HUB_E_SIGNATURE);
        assert_non_null(strstr(err.msg, "does not verify with key LAN/1 of analyst LAN"));
        /* Every field is signed. */
        hub_judgement_t c = j;
        c.kind = "same";
        assert_int_equal(hub_judgement_verify(&c, k.pk, sig, NULL), -HUB_E_SIGNATURE);
        c = j;
        c.entity_b = 3;
        assert_int_equal(hub_judgement_verify(&c, k.pk, sig, NULL), -HUB_E_SIGNATURE);
        c = j;
        c.reason = "different director";
        assert_int_equal(hub_judgement_verify(&c, k.pk, sig, NULL), -HUB_E_SIGNATURE);
        c = j;
        c.signed_at_us = 2;
        assert_int_equal(hub_judgement_verify(&c, k.pk, sig, NULL), -HUB_E_SIGNATURE);
        c = j;
        c.analyst = "MINH";
        assert_int_equal(hub_judgement_verify(&c, k.pk, sig, NULL), -HUB_E_SIGNATURE);
        for (int bit = 0; bit < 8 * HUB_SIG_BYTES; bit += 37) {
                sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_int_equal(hub_judgement_verify(&j, k.pk, sig, NULL), -HUB_E_SIGNATURE);
                sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* A public key cannot sign. */
        hub_key_t pub = k;
        pub.has_secret = false;
        assert_int_equal(hub_judgement_sign(&j, &pub, sig, NULL), -HUB_E_KEY);
        hub_key_wipe(&k);
        hub_key_wipe(&other);
}

static void refused(hub_judgement_t j, const char *why)
{
        hub_err_t err = {0};
        assert_int_equal(hub_judgement_check(&j, &err), -HUB_E_INVAL);
        if (!strstr(err.msg, why))
                fail_msg("\"%s\" does not say \"%s\"", err.msg, why);
}

static void test_check(void **state)
{
        (void)state;
        hub_judgement_t ok = split_j();
        assert_int_equal(hub_judgement_check(&ok, NULL), 0);
        hub_judgement_t j = ok;
        j.kind = "maybe";
        refused(j, "unknown judgement kind");
        j = ok;
        j.n_records = 0;
        refused(j, "a split names the records");
        j = ok;
        j.kind = "same";
        refused(j, "names two entities");
        j.entity_b = 42;
        refused(j, "two different entities");
        j.entity_b = 43;
        refused(j, "only a split names records");
        j.n_records = 0;
        assert_int_equal(hub_judgement_check(&j, NULL), 0);
        j.kind = "undo";
        refused(j, "names the judgement it undoes");
        j.undoes = 5;
        assert_int_equal(hub_judgement_check(&j, NULL), 0);
        j = ok;
        j.reason = "";
        refused(j, "needs a reason");
        char *long_reason = malloc(HUB_JUDGEMENT_MAX_REASON + 2);
        memset(long_reason, 'x', HUB_JUDGEMENT_MAX_REASON + 1);
        long_reason[HUB_JUDGEMENT_MAX_REASON + 1] = '\0';
        j.reason = long_reason;
        refused(j, "longer than");
        free(long_reason);
        j = ok;
        j.analyst = "L A N";
        refused(j, "printable");
        hub_judgement_ref_t bad[1] = {{"MOF-HQ", ""}};
        j = ok;
        j.records = bad;
        j.n_records = 1;
        refused(j, "bad record reference");
}

static void test_leaf_bodies(void **state)
{
        (void)state;
        hub_judgement_t j = split_j();
        uint8_t sig[HUB_SIG_BYTES], pk[HUB_PK_BYTES], *m = NULL, *b = NULL;
        size_t mn = 0, bn = 0;
        memset(sig, 0xA5, sizeof(sig));
        memset(pk, 0x5A, sizeof(pk));
        assert_int_equal(hub_judgement_message(&j, &m, &mn, NULL), 0);
        assert_int_equal(hub_judgement_leaf_body(&j, sig, pk, 7, 43, 0, &b, &bn, NULL), 0);
        assert_int_equal(bn, 1 + 4 + mn + 64 + 32 + 24);
        assert_int_equal(b[0], HUB_JUDGEMENT_LEAF_JUDGEMENT);
        assert_int_equal(b[4], (uint8_t)mn);
        assert_memory_equal(b + 5, m, mn);
        assert_memory_equal(b + 5 + mn, sig, 64);
        assert_memory_equal(b + 5 + mn + 64, pk, 32);
        assert_int_equal(b[5 + mn + 96 + 7], 7);
        assert_int_equal(b[5 + mn + 96 + 15], 43);
        free(b);
        free(m);
        assert_int_equal(hub_judgement_key_leaf_body(HUB_JUDGEMENT_LEAF_KEY_REGISTER, "LAN",
                                                     "LAN/1", pk, 1, NULL, &b, &bn, NULL),
                         0);
        assert_int_equal(bn, 1 + 4 + 3 + 4 + 5 + 32 + 8);
        free(b);
        assert_int_equal(hub_judgement_key_leaf_body(HUB_JUDGEMENT_LEAF_KEY_REVOKE, "LAN",
                                                     "LAN/1", pk, 1, "lost", &b, &bn, NULL),
                         0);
        assert_int_equal(bn, 1 + 4 + 3 + 4 + 5 + 32 + 8 + 4 + 4);
        assert_int_equal(b[0], HUB_JUDGEMENT_LEAF_KEY_REVOKE);
        free(b);
        assert_int_equal(hub_judgement_key_leaf_body(9, "LAN", "LAN/1", pk, 1, NULL, &b, &bn,
                                                     NULL),
                         -HUB_E_INVAL);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_message_bytes),
                cmocka_unit_test(test_sign_verify),
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_leaf_bodies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
