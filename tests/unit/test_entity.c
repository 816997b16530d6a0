/* Signed entities: schemas/vectors/signed-entity-v1.json recomputed byte for byte, the round
 * trip, and every way an envelope can be damaged or forged, each refused with its reason.
 * Envelopes that the library would never write (another fingerprint, a signed but broken
 * entity, a padded varint) are encoded here by hand from schemas/README.md. */
#include <hub/avro.h>
#include <hub/avro_json.h>
#include <hub/entity.h>

#include "testutil.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h> /* cmocka needs these three before its header */
#include <cmocka.h>

static hub_key_t hub, hub_pub, other;
static hub_entity_codec_t *codec;
static json_t *vec;

static const char view_json[] =
        "{\"entity_id\": \"E7\", \"kind\": \"SHOP\", \"version\": 12, \"tier\": \"PUBLIC\","
        " \"names\": [{\"value\": \"shop-a\", \"kind\": \"TRADE\"}],"
        " \"identifiers\": [{\"type\": \"SHOP\", \"value\": \"shopee:123\", \"qualifier\": null,"
        " \"label\": null}], \"categories\": [\"HANG_GIA\"],"
        " \"sources\": [{\"agency\": \"MIC\", \"record_id\": \"r1\"}],"
        " \"merged_into\": null, \"split_from\": null, \"withdrawn\": false,"
        " \"updated_at\": 1767225600000}";

static int setup(void **state)
{
        (void)state;
        if (sodium_init() < 0)
                return -1;
        hub_err_t err = {0};
        if (hub_key_generate("HUB", "HUB/1", &hub, &err) ||
            hub_key_generate("HUB", "HUB/2", &other, &err))
                return -1;
        hub_pub = hub;
        hub_key_wipe(&hub_pub);
        hub_pub.has_secret = false;
        if (hub_entity_codec_new(&codec, &err))
                return -1;
        size_t len;
        unsigned char *text = hub_test_read_file(
                hub_test_source_path("schemas/vectors/signed-entity-v1.json"), &len);
        if (!text)
                return -1;
        vec = json_loadb((const char *)text, len, 0, NULL);
        free(text);
        return vec ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        hub_entity_codec_free(codec);
        json_decref(vec);
        hub_key_wipe(&hub);
        hub_key_wipe(&other);
        return 0;
}

static json_t *load(const char *text)
{
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        return j;
}

static void sign(const char *text, const hub_key_t *key, unsigned char **out, size_t *len)
{
        json_t *j = load(text);
        hub_err_t err = {0};
        int rc = hub_entity_sign_json(codec, j, key, out, len, &err);
        if (rc)
                fail_msg("sign: %s", err.msg);
        json_decref(j);
}

/* Open and return the error code (0 on success). */
static int open_code(const void *buf, size_t len, const hub_key_t *key, hub_err_t *err)
{
        avro_value_t *v;
        return hub_entity_open(codec, buf, len, 0, key, &v, NULL, err);
}

/* ---- a hand encoder, after schemas/README.md ---- */

struct buf {
        uint8_t d[4096];
        size_t n;
};

static void put_raw(struct buf *b, const void *p, size_t n)
{
        assert_true(b->n + n <= sizeof(b->d));
        if (n)
                memcpy(b->d + b->n, p, n);
        b->n += n;
}

static void put_long(struct buf *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        do {
                uint8_t c = z & 0x7f;
                z >>= 7;
                if (z)
                        c |= 0x80;
                put_raw(b, &c, 1);
        } while (z);
}

static void put_u32be(struct buf *b, size_t n)
{
        uint8_t c[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        put_raw(b, c, 4);
}

/* An envelope of format 1 from its parts, signed with sk over the README's digest. */
static void hand_envelope(struct buf *out, const char *key_id, const uint8_t fp[8],
                          const void *entity, size_t entity_len, const uint8_t *sk)
{
        struct buf di = {0};
        put_raw(&di, HUB_ENTITY_DOMAIN, strlen(HUB_ENTITY_DOMAIN) + 1);
        put_u32be(&di, strlen(key_id));
        put_raw(&di, key_id, strlen(key_id));
        put_raw(&di, fp, 8);
        put_u32be(&di, entity_len);
        put_raw(&di, entity, entity_len);
        uint8_t digest[32], sig[64];
        crypto_hash_sha256(digest, di.d, di.n);
        crypto_sign_detached(sig, NULL, digest, 32, sk);
        out->n = 0;
        put_long(out, 1);
        put_long(out, (int64_t)strlen(key_id));
        put_raw(out, key_id, strlen(key_id));
        put_raw(out, fp, 8);
        put_long(out, (int64_t)entity_len);
        put_raw(out, entity, entity_len);
        put_raw(out, sig, 64);
}

static size_t unhex(const char *h, uint8_t **out)
{
        size_t n = strlen(h) / 2, got;
        *out = malloc(n + 1);
        assert_non_null(*out);
        assert_int_equal(sodium_hex2bin(*out, n + 1, h, strlen(h), NULL, &got, NULL), 0);
        assert_int_equal(got, n);
        return n;
}

static void assert_hex(const char *field, const void *p, size_t n)
{
        char *h = malloc(2 * n + 1);
        assert_non_null(h);
        sodium_bin2hex(h, 2 * n + 1, p, n);
        const char *want = json_string_value(json_object_get(vec, field));
        assert_non_null(want);
        if (strcmp(h, want) != 0)
                fail_msg("%s differs from the vector:\n got %s\nwant %s", field, h, want);
        free(h);
}

/* ---- tests ---- */

static void test_vector(void **state)
{
        (void)state;
        uint8_t *seed;
        assert_int_equal(unhex(json_string_value(json_object_get(vec, "seed")), &seed), 32);
        hub_key_t k = {.owner = "HUB", .has_secret = true};
        snprintf(k.key_id, sizeof(k.key_id), "%s",
                 json_string_value(json_object_get(vec, "key_id")));
        crypto_sign_seed_keypair(k.pk, k.sk, seed);
        free(seed);
        assert_hex("public_key", k.pk, 32);
        assert_hex("schema_fingerprint", hub_entity_codec_fingerprint(codec), 8);

        hub_err_t err = {0};
        unsigned char *env;
        size_t env_len;
        assert_int_equal(hub_entity_sign_json(codec, json_object_get(vec, "entity_json"), &k,
                                              &env, &env_len, &err), 0);
        assert_hex("envelope", env, env_len);

        avro_value_t *v;
        hub_entity_envelope_t e;
        assert_int_equal(hub_entity_open(codec, env, env_len, 0, &k, &v, &e, &err), 0);
        assert_hex("entity", e.entity, e.entity_len);
        assert_hex("signature", e.signature, 64);
        uint8_t digest[32];
        hub_entity_signed_digest(e.key_id, e.key_id_len, e.fingerprint, e.entity, e.entity_len,
                                 digest);
        assert_hex("digest", digest, 32);

        /* The digest input as the README lists it, hashed independently of the library. */
        uint8_t *di;
        size_t dl = unhex(json_string_value(json_object_get(vec, "digest_input")), &di);
        uint8_t d2[32];
        crypto_hash_sha256(d2, di, dl);
        assert_memory_equal(d2, digest, 32);
        free(di);

        /* And the envelope encoded by hand from the README's table equals the library's. */
        struct buf hand = {0};
        hand_envelope(&hand, k.key_id, hub_entity_codec_fingerprint(codec), e.entity,
                      e.entity_len, k.sk);
        assert_int_equal(hand.n, env_len);
        assert_memory_equal(hand.d, env, env_len);

        /* The decoded value converts back to the vector's JSON. */
        json_t *back;
        assert_int_equal(hub_entity_to_json(v, &back, &err), 0);
        assert_true(json_equal(back, json_object_get(vec, "entity_json")));
        json_decref(back);
        free(env);
        hub_key_wipe(&k);
}

static void test_round_trip(void **state)
{
        (void)state;
        unsigned char *env;
        size_t len;
        sign(view_json, &hub, &env, &len);
        hub_err_t err = {0};
        avro_value_t *v;
        hub_entity_envelope_t e;
        /* A public-only key opens it. */
        int rc = hub_entity_open(codec, env, len, 0, &hub_pub, &v, &e, &err);
        if (rc)
                fail_msg("open: %s", err.msg);
        assert_int_equal(e.key_id_len, 5);
        assert_memory_equal(e.key_id, "HUB/1", 5);
        json_t *back, *want = load(view_json);
        assert_int_equal(hub_entity_to_json(v, &back, &err), 0);
        assert_true(json_equal(back, want));
        json_decref(back);
        json_decref(want);

        /* sign_bytes of the carried entity gives the same envelope (Ed25519 is deterministic). */
        unsigned char *env2;
        size_t len2;
        assert_int_equal(hub_entity_sign_bytes(codec, e.entity, e.entity_len, &hub, &env2, &len2,
                                               &err), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(env2, env, len);
        free(env2);
        free(env);
}

static void test_every_bit_flip_refused(void **state)
{
        (void)state;
        unsigned char *env;
        size_t len;
        sign(view_json, &hub, &env, &len);
        int counts[HUB_E__COUNT] = {0};
        for (size_t i = 0; i < len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        env[i] ^= (uint8_t)(1u << bit);
                        hub_err_t err = {0};
                        int rc = open_code(env, len, &hub_pub, &err);
                        if (rc == 0)
                                fail_msg("flip of byte %zu bit %d was accepted", i, bit);
                        assert_int_equal(err.code, -rc);
                        counts[-rc]++;
                        env[i] ^= (uint8_t)(1u << bit);
                }
        }
        /* The signature catches every flip in the fingerprint, the entity and itself. */
        assert_true(counts[HUB_E_SIGNATURE] >= (int)(8 * (len - 8)) / 2);
        assert_int_equal(open_code(env, len, &hub_pub, NULL), 0);
        free(env);
}

static void test_wrong_key(void **state)
{
        (void)state;
        unsigned char *env;
        size_t len;
        sign(view_json, &hub, &env, &len);
        hub_err_t err = {0};
        /* Another key with the id the subscriber expects: the signature fails. */
        hub_key_t imposter = other;
        snprintf(imposter.key_id, sizeof(imposter.key_id), "HUB/1");
        int rc = open_code(env, len, &imposter, &err);
        assert_int_equal(rc, -HUB_E_SIGNATURE);
        assert_string_equal(hub_entity_reason(rc), "SIGNATURE_INVALID");
        /* Signed by HUB/2 while the subscriber trusts HUB/1: the key is unknown to it. */
        free(env);
        sign(view_json, &other, &env, &len);
        rc = open_code(env, len, &hub_pub, &err);
        assert_int_equal(rc, -HUB_E_KEY);
        assert_string_equal(hub_entity_reason(rc), "KEY_UNKNOWN");
        assert_non_null(strstr(err.msg, "HUB/2"));
        free(env);
        /* Signing needs the secret half. */
        json_t *j = load(view_json);
        assert_int_equal(hub_entity_sign_json(codec, j, &hub_pub, &env, &len, &err), -HUB_E_KEY);
        json_decref(j);
}

static void test_truncation_and_trailing(void **state)
{
        (void)state;
        unsigned char *env;
        size_t len;
        sign(view_json, &hub, &env, &len);
        for (size_t n = 0; n < len; n++) {
                hub_err_t err = {0};
                int rc = open_code(env, n, &hub_pub, &err);
                if (rc == 0)
                        fail_msg("envelope cut to %zu of %zu bytes was accepted", n, len);
                assert_true(rc == -HUB_E_TRUNCATED || rc == -HUB_E_MALFORMED);
        }
        unsigned char *longer = malloc(len + 1);
        memcpy(longer, env, len);
        longer[len] = 0;
        assert_int_equal(open_code(longer, len + 1, &hub_pub, NULL), -HUB_E_TRAILING);
        /* Over the size limit, refused before reading. */
        avro_value_t *v;
        hub_err_t err = {0};
        assert_int_equal(hub_entity_open(codec, env, len, len - 1, &hub_pub, &v, NULL, &err),
                         -HUB_E_TOO_LARGE);
        free(longer);
        free(env);
}

static void test_hand_made(void **state)
{
        (void)state;
        unsigned char *ent;
        size_t ent_len;
        hub_err_t err = {0};
        json_t *j = load(view_json);
        avro_value_t *v = hub_entity_codec_value(codec);
        assert_int_equal(hub_avro_from_json(j, v, &err), 0);
        assert_int_equal(hub_avro_encode(v, &ent, &ent_len, &err), 0);
        json_decref(j);
        const uint8_t *fp = hub_entity_codec_fingerprint(codec);
        struct buf b = {0};

        /* The hand encoder agrees with the library: accepted. */
        hand_envelope(&b, "HUB/1", fp, ent, ent_len, hub.sk);
        assert_int_equal(open_code(b.d, b.n, &hub_pub, &err), 0);

        /* Properly signed, but with a writer schema this build does not know. */
        const uint8_t fp2[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        hand_envelope(&b, "HUB/1", fp2, ent, ent_len, hub.sk);
        int rc = open_code(b.d, b.n, &hub_pub, &err);
        assert_int_equal(rc, -HUB_E_SCHEMA);
        assert_string_equal(hub_entity_reason(rc), "SCHEMA_UNKNOWN");

        /* Properly signed garbage in place of the entity. */
        const uint8_t junk[] = {0x06, 'E', '7', 0x7f, 0x7f};
        hand_envelope(&b, "HUB/1", fp, junk, sizeof(junk), hub.sk);
        assert_int_equal(open_code(b.d, b.n, &hub_pub, &err), -HUB_E_MALFORMED);

        /* A key id with a space: refused as malformed before the key is looked at. */
        hand_envelope(&b, "HUB 1", fp, ent, ent_len, hub.sk);
        assert_int_equal(open_code(b.d, b.n, &hub_pub, &err), -HUB_E_MALFORMED);

        /* Format version 2. */
        hand_envelope(&b, "HUB/1", fp, ent, ent_len, hub.sk);
        b.d[0] = 0x04;
        assert_int_equal(open_code(b.d, b.n, &hub_pub, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "version"));

        /* A padded varint (key_id length 05 as 85 00): same values, same signature, other bytes
         * — refused, so one entity has one encoding. */
        hand_envelope(&b, "HUB/1", fp, ent, ent_len, hub.sk);
        struct buf p = {0};
        put_raw(&p, b.d, 1);
        const uint8_t padded[] = {0x8a, 0x00};
        put_raw(&p, padded, 2);
        put_raw(&p, b.d + 2, b.n - 2);
        rc = open_code(p.d, p.n, &hub_pub, &err);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "minimal"));

        /* sign_bytes refuses to sign what does not follow the schema. */
        unsigned char *out;
        size_t out_len;
        assert_int_equal(hub_entity_sign_bytes(codec, junk, sizeof(junk), &hub, &out, &out_len,
                                               &err),
                         -HUB_E_MALFORMED);
        free(ent);
}

static void test_sign_refuses_unknown_field(void **state)
{
        (void)state;
        json_t *j = load(view_json);
        json_object_set_new(j, "colour", json_string("red"));
        unsigned char *out;
        size_t len;
        hub_err_t err = {0};
        assert_int_equal(hub_entity_sign_json(codec, j, &hub, &out, &len, &err),
                         -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "colour"));
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vector),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_every_bit_flip_refused),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_truncation_and_trailing),
                cmocka_unit_test(test_hand_made),
                cmocka_unit_test(test_sign_refuses_unknown_field),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
