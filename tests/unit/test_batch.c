/* Signed batches: the happy path, audit paths, and every way a batch can be damaged or forged,
 * each rejected with its reason code. Batches are also encoded here by hand, following
 * schemas/README.md rather than the library, so the documented bytes are what the code writes;
 * and schemas/vectors/batch-v1.json is recomputed byte for byte. */
#include <hub/batch.h>

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

#define HB HUB_MERKLE_HASH_BYTES

static uint8_t pk[HUB_PK_BYTES], sk[HUB_SK_BYTES];
static uint8_t other_pk[HUB_PK_BYTES], other_sk[HUB_SK_BYTES];

static const hub_batch_header_t hdr = {
        .agency = "MOF-HQ",
        .key_id = "MOF-HQ/3",
        .producer_id = "hq-1",
        .batch_seq = 42,
        .created_at_ms = 1767225600000, /* 2026-01-01T00:00:00Z */
        .schema_fingerprint = {1, 2, 3, 4, 5, 6, 7, 8},
};

struct rec {
        const char *data;
        size_t len;
};

static const struct rec small[] = {
        {"alpha", 5},
        {"", 0},
        {"gamma-record", 12},
};
#define NSMALL 3

/* ---- a hand encoder, after schemas/README.md ---- */

struct buf {
        uint8_t d[65536];
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
                uint8_t byte = z & 0x7f;
                z >>= 7;
                if (z)
                        byte |= 0x80;
                put_raw(b, &byte, 1);
        } while (z);
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
        put_long(b, (int64_t)n);
        put_raw(b, p, n);
}

static void put_header(struct buf *b, const hub_batch_header_t *h, int64_t count)
{
        put_long(b, 1);
        put_bytes(b, h->agency, strlen(h->agency));
        put_bytes(b, h->key_id, strlen(h->key_id));
        put_bytes(b, h->producer_id, strlen(h->producer_id));
        put_long(b, h->batch_seq);
        put_long(b, h->created_at_ms);
        put_raw(b, h->schema_fingerprint, 8);
        put_long(b, count);
}

/* A whole batch: header claiming `count`, records in one block, the given signature. */
static void put_batch(struct buf *b, const hub_batch_header_t *h, int64_t count,
                      const struct rec *r, size_t n, const uint8_t sig[HUB_SIG_BYTES])
{
        b->n = 0;
        put_header(b, h, count);
        if (n) {
                put_long(b, (int64_t)n);
                for (size_t i = 0; i < n; i++)
                        put_bytes(b, r[i].data, r[i].len);
        }
        put_long(b, 0);
        put_raw(b, sig, HUB_SIG_BYTES);
}

/* ---- helpers ---- */

static unsigned char *build(const struct rec *r, size_t n, const uint8_t *key, size_t *len)
{
        hub_batch_builder_t *b;
        hub_err_t err = {0};
        if (hub_batch_builder_new(&hdr, NULL, &b, &err) != 0)
                fail_msg("builder: %s", err.msg);
        for (size_t i = 0; i < n; i++)
                if (hub_batch_builder_add(b, r[i].data, r[i].len, &err) != 0)
                        fail_msg("add: %s", err.msg);
        size_t predicted = hub_batch_builder_encoded_size(b);
        unsigned char *out;
        if (hub_batch_builder_finish(b, key, HUB_SK_BYTES, &out, len, &err) != 0)
                fail_msg("finish: %s", err.msg);
        assert_int_equal(*len, predicted);
        hub_batch_builder_free(b);
        return out;
}

/* Decode and verify with pk; returns 0 or the first failure's -HUB_E_*. */
static int check(const void *buf, size_t len, const hub_batch_limits_t *lim, hub_err_t *err)
{
        hub_batch_t *b = NULL;
        int rc = hub_batch_decode(buf, len, lim, &b, err);
        if (rc == 0) {
                rc = hub_batch_verify(b, pk, sizeof(pk), err);
                hub_batch_free(b);
        }
        return rc;
}

static void expect(int want, const void *buf, size_t len, const hub_batch_limits_t *lim,
                   const char *what)
{
        hub_err_t err = {0};
        int rc = check(buf, len, lim, &err);
        if (rc != want)
                fail_msg("%s: got %s (%s), want %s", what, hub_err_name(rc), err.msg,
                         hub_err_name(want));
        if (want)
                assert_int_equal(err.code, -want);
}

/* ---- tests ---- */

static void test_schema_compiled_in(void **state)
{
        (void)state;
        size_t len;
        unsigned char *file = hub_test_read_file(hub_test_source_path("schemas/batch.avsc"), &len);
        assert_non_null(file);
        assert_int_equal(len, hub_batch_schema_json_len);
        assert_memory_equal(file, hub_batch_schema_json, len);
        free(file);
        /* batch.c reads fields by position; the schema must keep this order. */
        static const char *const top[] = {"header", "records", "signature"};
        static const char *const head[] = {"format_version", "agency",    "key_id",
                                           "producer_id",    "batch_seq", "created_at",
                                           "schema_fingerprint", "record_count"};
        json_t *s = json_loads(hub_batch_schema_json, 0, NULL);
        assert_non_null(s);
        json_t *fields = json_object_get(s, "fields");
        assert_int_equal(json_array_size(fields), 3);
        for (size_t i = 0; i < 3; i++)
                assert_string_equal(json_string_value(json_object_get(
                                            json_array_get(fields, i), "name")),
                                    top[i]);
        json_t *hf = json_object_get(json_object_get(json_array_get(fields, 0), "type"), "fields");
        assert_int_equal(json_array_size(hf), 8);
        for (size_t i = 0; i < 8; i++)
                assert_string_equal(json_string_value(json_object_get(json_array_get(hf, i),
                                                                      "name")),
                                    head[i]);
        json_decref(s);
}

static void test_happy_path(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);

        hub_batch_t *b;
        hub_err_t err = {0};
        if (hub_batch_decode(enc, len, NULL, &b, &err) != 0)
                fail_msg("decode: %s", err.msg);
        if (hub_batch_verify(b, pk, sizeof(pk), &err) != 0)
                fail_msg("verify: %s", err.msg);

        const hub_batch_header_t *h = hub_batch_header(b);
        assert_int_equal(h->format_version, 1);
        assert_string_equal(h->agency, hdr.agency);
        assert_string_equal(h->key_id, hdr.key_id);
        assert_string_equal(h->producer_id, hdr.producer_id);
        assert_int_equal(h->batch_seq, hdr.batch_seq);
        assert_int_equal(h->created_at_ms, hdr.created_at_ms);
        assert_memory_equal(h->schema_fingerprint, hdr.schema_fingerprint, 8);
        assert_int_equal(h->record_count, NSMALL);
        assert_int_equal(hub_batch_count(b), NSMALL);
        for (size_t i = 0; i < NSMALL; i++) {
                size_t rl;
                const uint8_t *r = hub_batch_record(b, i, &rl);
                assert_non_null(r);
                assert_int_equal(rl, small[i].len);
                assert_memory_equal(r, small[i].data, rl);
        }
        assert_null(hub_batch_record(b, NSMALL, NULL));

        /* The bytes are exactly what the README describes. */
        struct buf hand;
        put_batch(&hand, &hdr, NSMALL, small, NSMALL, hub_batch_signature(b));
        assert_int_equal(hand.n, len);
        assert_memory_equal(hand.d, enc, len);

        /* H, root and digest, recomputed from the README's definitions. */
        struct buf hb = {.n = 0};
        put_header(&hb, &hdr, NSMALL);
        size_t h_len;
        const uint8_t *hbytes = hub_batch_header_bytes(b, &h_len);
        assert_int_equal(h_len, hb.n);
        assert_memory_equal(hbytes, hb.d, h_len);
        uint8_t leaves[NSMALL * HB], root[HB], digest[32];
        for (size_t i = 0; i < NSMALL; i++)
                hub_merkle_leaf_hash(small[i].data, small[i].len, leaves + i * HB);
        hub_merkle_root(leaves, NSMALL, root);
        assert_memory_equal(root, hub_batch_root(b), HB);
        struct buf pre = {.n = 0};
        put_raw(&pre, "vn.hub.signed-batch.v1", 23); /* with its NUL */
        uint8_t be[4] = {0, 0, (uint8_t)(hb.n >> 8), (uint8_t)hb.n};
        put_raw(&pre, be, 4);
        put_raw(&pre, hb.d, hb.n);
        put_raw(&pre, root, HB);
        crypto_hash_sha256(digest, pre.d, pre.n);
        assert_memory_equal(digest, hub_batch_digest(b), 32);
        assert_int_equal(crypto_sign_verify_detached(hub_batch_signature(b), digest, 32, pk), 0);

        hub_batch_free(b);
        free(enc);
}

static void test_audit_paths_every_index(void **state)
{
        (void)state;
        static char data[40][8];
        struct rec r[40];
        for (size_t i = 0; i < 40; i++) {
                int n = snprintf(data[i], sizeof(data[i]), "r%zu", i);
                r[i] = (struct rec){data[i], (size_t)n};
        }
        long checked = 0;
        for (size_t n = 1; n <= 40; n++) {
                size_t len;
                unsigned char *enc = build(r, n, sk, &len);
                hub_batch_t *b;
                assert_int_equal(hub_batch_decode(enc, len, NULL, &b, NULL), 0);
                assert_int_equal(hub_batch_verify(b, pk, sizeof(pk), NULL), 0);
                const uint8_t *root = hub_batch_root(b);
                for (size_t i = 0; i < n; i++) {
                        uint8_t path[HUB_MERKLE_MAX_PROOF_BYTES];
                        size_t pl;
                        assert_int_equal(hub_batch_audit_path(b, i, path, sizeof(path), &pl,
                                                              NULL),
                                         0);
                        size_t rl;
                        const uint8_t *rec = hub_batch_record(b, i, &rl);
                        hub_err_t err = {0};
                        if (hub_batch_verify_record(rec, rl, i, n, path, pl, root, HB, &err))
                                fail_msg("n=%zu i=%zu: %s", n, i, err.msg);
                        checked++;
                        /* Another record at this index, this record at another index. */
                        const struct rec *o = &r[(i + 1) % 40];
                        assert_int_equal(hub_batch_verify_record(o->data, o->len, i, n, path, pl,
                                                                 root, HB, NULL),
                                         -HUB_E_PROOF);
                        if (n > 1)
                                assert_int_equal(hub_batch_verify_record(rec, rl, (i + 1) % n, n,
                                                                         path, pl, root, HB,
                                                                         NULL),
                                                 -HUB_E_PROOF);
                }
                assert_int_equal(hub_batch_audit_path(b, n, (uint8_t[HB * 64]){0}, HB * 64,
                                                      &(size_t){0}, NULL),
                                 -HUB_E_INVAL);
                hub_batch_free(b);
                free(enc);
        }
        assert_int_equal(checked, 40 * 41 / 2);
}

static void test_wrong_key(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        hub_batch_t *b;
        assert_int_equal(hub_batch_decode(enc, len, NULL, &b, NULL), 0);
        hub_err_t err = {0};
        assert_int_equal(hub_batch_verify(b, other_pk, sizeof(other_pk), &err), -HUB_E_SIGNATURE);
        assert_int_equal(err.code, HUB_E_SIGNATURE);
        assert_non_null(strstr(err.msg, "MOF-HQ/3"));
        /* A key of the wrong length, or no point on the curve: the registry's fault. */
        assert_int_equal(hub_batch_verify(b, pk, 31, &err), -HUB_E_KEY);
        assert_int_equal(hub_batch_verify(b, NULL, 32, &err), -HUB_E_KEY);
        uint8_t zero[HUB_PK_BYTES] = {0};
        assert_int_equal(hub_batch_verify(b, zero, sizeof(zero), &err), -HUB_E_KEY);
        hub_batch_free(b);
        free(enc);

        /* Signed by another agency's key, verified with ours. */
        enc = build(small, NSMALL, other_sk, &len);
        expect(-HUB_E_SIGNATURE, enc, len, NULL, "signed with another key");
        free(enc);
}

/* Every single-bit flip anywhere in the batch is rejected, and where the region is known the
 * reason is too: a flip inside a record's bytes or the signature leaves a well-formed batch
 * whose signature fails. */
static void test_every_bit_flip(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        struct buf hb = {.n = 0};
        put_header(&hb, &hdr, NSMALL);
        /* Record payloads: after H, the block count, each length varint. */
        bool payload[256] = {false};
        assert_true(len <= sizeof(payload));
        size_t pos = hb.n + 1;
        for (size_t i = 0; i < NSMALL; i++) {
                pos += 1;
                for (size_t k = 0; k < small[i].len; k++)
                        payload[pos + k] = true;
                pos += small[i].len;
        }
        pos += 1;
        assert_int_equal(pos + HUB_SIG_BYTES, len);

        int counts[HUB_E__COUNT] = {0};
        for (size_t bit = 0; bit < len * 8; bit++) {
                enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                hub_err_t err = {0};
                int rc = check(enc, len, NULL, &err);
                enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                if (rc == 0)
                        fail_msg("flip of bit %zu (byte %zu) accepted", bit % 8, bit / 8);
                assert_true(rc == -HUB_E_SIGNATURE || rc == -HUB_E_MALFORMED ||
                            rc == -HUB_E_TRUNCATED || rc == -HUB_E_TRAILING ||
                            rc == -HUB_E_TOO_LARGE);
                assert_int_equal(err.code, -rc);
                if (payload[bit / 8] || bit / 8 >= pos)
                        assert_int_equal(rc, -HUB_E_SIGNATURE);
                counts[-rc]++;
        }
        printf("%zu bit flips of a %zu-byte batch rejected:", len * 8, len);
        for (int c = 0; c < HUB_E__COUNT; c++)
                if (counts[c])
                        printf(" %s=%d", hub_err_name(c), counts[c]);
        printf("\n");
        assert_int_equal(check(enc, len, NULL, NULL), 0);
        free(enc);
}

/* Records added, removed, reordered or replaced, re-encoded with the original signature. */
static void test_records_tampered(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        const uint8_t *sig = enc + len - HUB_SIG_BYTES;
        struct buf t;

        put_batch(&t, &hdr, NSMALL, small, NSMALL, sig);
        expect(0, t.d, t.n, NULL, "re-encoded unchanged");

        const struct rec reordered[] = {small[2], small[0], small[1]};
        put_batch(&t, &hdr, NSMALL, reordered, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "reordered");
        const struct rec swapped[] = {small[0], small[2], small[1]};
        put_batch(&t, &hdr, NSMALL, swapped, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "two swapped");

        const struct rec added[] = {small[0], small[1], small[2], {"delta", 5}};
        put_batch(&t, &hdr, 4, added, 4, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "added, count updated");
        put_batch(&t, &hdr, NSMALL, added, 4, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "added, count not updated");

        put_batch(&t, &hdr, 2, small, 2, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "last removed, count updated");
        put_batch(&t, &hdr, 2, small + 1, 2, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "first removed, count updated");
        put_batch(&t, &hdr, NSMALL, small, 2, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "removed, count not updated");

        const struct rec replaced[] = {small[0], {"beta", 4}, small[2]};
        put_batch(&t, &hdr, NSMALL, replaced, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "replaced");
        const struct rec duplicated[] = {small[0], small[0], small[2]};
        put_batch(&t, &hdr, NSMALL, duplicated, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "duplicated");

        /* Another header under the same records and signature. */
        hub_batch_header_t h2 = hdr;
        h2.batch_seq = 43;
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "replayed under another sequence number");
        h2 = hdr;
        h2.key_id = "MOF-HQ/4";
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_SIGNATURE, t.d, t.n, NULL, "another key id");
        free(enc);
}

static void test_count_disagrees(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        struct buf hb = {.n = 0};
        put_header(&hb, &hdr, NSMALL);
        /* record_count is H's last byte: 2 * 3 zigzagged. */
        assert_int_equal(enc[hb.n - 1], 6);
        for (uint8_t c = 0; c < 0x40; c += 2) {
                if (c == 6)
                        continue;
                enc[hb.n - 1] = c;
                expect(-HUB_E_MALFORMED, enc, len, NULL, "record_count changed");
        }
        enc[hb.n - 1] = 6;
        /* The array's own count changed instead: the items no longer fit the bytes. */
        enc[hb.n] = 4;
        expect(-HUB_E_MALFORMED, enc, len, NULL, "block count changed");
        free(enc);
}

/* Same records, same header, same signature, other Avro framing: Avro would read the same
 * value, so the signature would verify; only the canonical-form rule stops the re-framing. */
static void test_non_canonical_rejected(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        const uint8_t *sig = enc + len - HUB_SIG_BYTES;
        struct buf t = {.n = 0};

        /* Two blocks: 2 records, then 1. */
        put_header(&t, &hdr, NSMALL);
        put_long(&t, 2);
        put_bytes(&t, small[0].data, small[0].len);
        put_bytes(&t, small[1].data, small[1].len);
        put_long(&t, 1);
        put_bytes(&t, small[2].data, small[2].len);
        put_long(&t, 0);
        put_raw(&t, sig, HUB_SIG_BYTES);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "two blocks");

        /* A sized block: negative count, then the block's byte size. */
        t.n = 0;
        put_header(&t, &hdr, NSMALL);
        put_long(&t, -NSMALL);
        put_long(&t, 1 + 5 + 1 + 1 + 12);
        for (size_t i = 0; i < NSMALL; i++)
                put_bytes(&t, small[i].data, small[i].len);
        put_long(&t, 0);
        put_raw(&t, sig, HUB_SIG_BYTES);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "sized block");

        /* A padded varint for the first record's length: 0x8a 0x00 instead of 0x0a. */
        t.n = 0;
        put_header(&t, &hdr, NSMALL);
        put_long(&t, NSMALL);
        put_raw(&t, (const uint8_t[]){0x8a, 0x00}, 2);
        put_raw(&t, small[0].data, small[0].len);
        for (size_t i = 1; i < NSMALL; i++)
                put_bytes(&t, small[i].data, small[i].len);
        put_long(&t, 0);
        put_raw(&t, sig, HUB_SIG_BYTES);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "padded varint");
        free(enc);
}

static void test_truncated_every_prefix(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        for (size_t n = 0; n < len; n++) {
                /* A copy of exactly n bytes, so ASan sees any read past the end. */
                unsigned char *p = malloc(n ? n : 1);
                assert_non_null(p);
                memcpy(p, enc, n);
                hub_err_t err = {0};
                int rc = check(p, n, NULL, &err);
                if (rc != -HUB_E_TRUNCATED)
                        fail_msg("prefix of %zu bytes: %s (%s)", n, hub_err_name(rc), err.msg);
                free(p);
        }
        free(enc);
}

static void test_trailing_garbage(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        unsigned char *p = malloc(len + 64);
        assert_non_null(p);
        memcpy(p, enc, len);
        for (size_t extra = 1; extra <= 64; extra++) {
                memset(p + len, (int)extra, extra);
                expect(-HUB_E_TRAILING, p, len + extra, NULL, "trailing bytes");
        }
        free(p);
        free(enc);
}

static void test_version_and_identifiers(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        hub_err_t err = {0};
        hub_batch_t *b = NULL;
        enc[0] = 4; /* version 2 */
        assert_int_equal(hub_batch_decode(enc, len, NULL, &b, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "unsupported batch format version 2"));
        assert_null(b);
        free(enc);

        /* Identifiers the builder refuses are refused on the wire too. */
        static const uint8_t sig[HUB_SIG_BYTES];
        struct buf t;
        hub_batch_header_t h2 = hdr;
        h2.agency = "MOF HQ";
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "agency with a space");
        h2.agency = "";
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "empty agency");
        h2 = hdr;
        h2.producer_id = "0123456789012345678901234567890123456789012345678901234567890123456";
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "long producer id");
        h2 = hdr;
        h2.batch_seq = -1;
        put_batch(&t, &h2, NSMALL, small, NSMALL, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "negative sequence");
        put_batch(&t, &hdr, 0, NULL, 0, sig);
        expect(-HUB_E_MALFORMED, t.d, t.n, NULL, "no records");
}

static void test_limits(void **state)
{
        (void)state;
        size_t len;
        unsigned char *enc = build(small, NSMALL, sk, &len);
        expect(0, enc, len, &(hub_batch_limits_t){.max_batch_bytes = len}, "at batch limit");
        expect(-HUB_E_TOO_LARGE, enc, len, &(hub_batch_limits_t){.max_batch_bytes = len - 1},
               "batch bytes");
        expect(0, enc, len, &(hub_batch_limits_t){.max_records = NSMALL}, "at record limit");
        expect(-HUB_E_TOO_LARGE, enc, len, &(hub_batch_limits_t){.max_records = NSMALL - 1},
               "records");
        expect(0, enc, len, &(hub_batch_limits_t){.max_record_bytes = 12}, "at size limit");
        expect(-HUB_E_TOO_LARGE, enc, len, &(hub_batch_limits_t){.max_record_bytes = 11},
               "record bytes");
        free(enc);

        /* A header claiming 2^30 records over a few bytes: refused before any allocation. */
        static const uint8_t sig[HUB_SIG_BYTES];
        struct buf t = {.n = 0};
        put_header(&t, &hdr, INT32_MAX);
        put_long(&t, INT32_MAX);
        put_bytes(&t, "x", 1);
        put_long(&t, 0);
        put_raw(&t, sig, sizeof(sig));
        hub_err_t err = {0};
        int rc = check(t.d, t.n, NULL, &err);
        assert_true(rc == -HUB_E_TOO_LARGE || rc == -HUB_E_TRUNCATED);

        /* The builder keeps the same limits, and a refused record leaves it unchanged. */
        hub_batch_builder_t *b;
        assert_int_equal(hub_batch_builder_new(&hdr,
                                               &(hub_batch_limits_t){.max_records = 2,
                                                                     .max_record_bytes = 12},
                                               &b, NULL),
                         0);
        assert_int_equal(hub_batch_builder_add(b, "0123456789abc", 13, &err), -HUB_E_TOO_LARGE);
        assert_int_equal(hub_batch_builder_add(b, "a", 1, NULL), 0);
        assert_int_equal(hub_batch_builder_add(b, "b", 1, NULL), 0);
        assert_int_equal(hub_batch_builder_add(b, "c", 1, &err), -HUB_E_TOO_LARGE);
        assert_int_equal(hub_batch_builder_count(b), 2);
        unsigned char *out;
        size_t out_len;
        assert_int_equal(hub_batch_builder_finish(b, sk, sizeof(sk), &out, &out_len, NULL), 0);
        expect(0, out, out_len, NULL, "built at the limits");
        free(out);
        hub_batch_builder_free(b);

        size_t size0;
        assert_int_equal(hub_batch_builder_new(&hdr, NULL, &b, NULL), 0);
        assert_int_equal(hub_batch_builder_add(b, "a", 1, NULL), 0);
        size0 = hub_batch_builder_encoded_size(b);
        hub_batch_builder_free(b);
        assert_int_equal(hub_batch_builder_new(&hdr,
                                               &(hub_batch_limits_t){.max_batch_bytes = size0},
                                               &b, NULL),
                         0);
        assert_int_equal(hub_batch_builder_add(b, "a", 1, NULL), 0);
        assert_int_equal(hub_batch_builder_add(b, "", 0, &err), -HUB_E_TOO_LARGE);
        assert_int_equal(hub_batch_builder_encoded_size(b), size0);
        hub_batch_builder_free(b);
}

static void test_builder_rejects(void **state)
{
        (void)state;
        hub_batch_builder_t *b = NULL;
        hub_batch_header_t h = hdr;
        h.agency = "MOF HQ";
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), -HUB_E_INVAL);
        h.agency = "";
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), -HUB_E_INVAL);
        h.agency = NULL;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), -HUB_E_INVAL);
        h = hdr;
        h.key_id = "MOF-HQ/\xc3\xa9";
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), -HUB_E_INVAL);
        h = hdr;
        h.created_at_ms = -1;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), -HUB_E_INVAL);
        assert_null(b);

        unsigned char *out;
        size_t len;
        assert_int_equal(hub_batch_builder_new(&hdr, NULL, &b, NULL), 0);
        assert_int_equal(hub_batch_builder_finish(b, sk, sizeof(sk), &out, &len, NULL),
                         -HUB_E_INVAL);
        assert_int_equal(hub_batch_builder_add(b, "a", 1, NULL), 0);
        assert_int_equal(hub_batch_builder_finish(b, sk, 32, &out, &len, NULL), -HUB_E_KEY);
        assert_int_equal(hub_batch_builder_finish(b, sk, sizeof(sk), &out, &len, NULL), 0);
        free(out);
        assert_int_equal(hub_batch_builder_finish(b, sk, sizeof(sk), &out, &len, NULL),
                         -HUB_E_INVAL);
        assert_int_equal(hub_batch_builder_add(b, "b", 1, NULL), -HUB_E_INVAL);
        hub_batch_builder_free(b);
        hub_batch_builder_free(NULL);
        hub_batch_free(NULL);
}

/* ---- schemas/vectors/batch-v1.json, recomputed ---- */

static uint8_t *hex_field(json_t *obj, const char *name, size_t *len)
{
        json_t *v = json_object_get(obj, name);
        if (!json_is_string(v))
                fail_msg("batch-v1.json: %s is not a string", name);
        const char *s = json_string_value(v);
        uint8_t *out = malloc(strlen(s) / 2 + 1);
        assert_non_null(out);
        if (sodium_hex2bin(out, strlen(s) / 2 + 1, s, strlen(s), NULL, len, NULL) != 0 ||
            *len * 2 != strlen(s))
                fail_msg("batch-v1.json: %s is not hex", name);
        return out;
}

static void expect_hex(json_t *obj, const char *name, const void *got, size_t got_len)
{
        size_t len;
        uint8_t *want = hex_field(obj, name, &len);
        if (len != got_len || memcmp(want, got, len) != 0)
                fail_msg("batch-v1.json: %s differs from what the code computes", name);
        free(want);
}

static void test_vectors(void **state)
{
        (void)state;
        json_error_t jerr;
        json_t *v = json_load_file(hub_test_source_path("schemas/vectors/batch-v1.json"), 0,
                                   &jerr);
        if (!v)
                fail_msg("schemas/vectors/batch-v1.json: %s", jerr.text);
        size_t n;
        uint8_t *seed = hex_field(v, "seed", &n);
        assert_int_equal(n, crypto_sign_SEEDBYTES);
        uint8_t vpk[HUB_PK_BYTES], vsk[HUB_SK_BYTES];
        crypto_sign_seed_keypair(vpk, vsk, seed);
        sodium_memzero(seed, n);
        free(seed);
        expect_hex(v, "public_key", vpk, sizeof(vpk));

        json_t *jh = json_object_get(v, "header");
        uint8_t *fp = hex_field(jh, "schema_fingerprint", &n);
        assert_int_equal(n, 8);
        hub_batch_header_t h = {
                .agency = json_string_value(json_object_get(jh, "agency")),
                .key_id = json_string_value(json_object_get(jh, "key_id")),
                .producer_id = json_string_value(json_object_get(jh, "producer_id")),
                .batch_seq = json_integer_value(json_object_get(jh, "batch_seq")),
                .created_at_ms = json_integer_value(json_object_get(jh, "created_at")),
        };
        memcpy(h.schema_fingerprint, fp, 8);
        free(fp);
        assert_int_equal(json_integer_value(json_object_get(jh, "format_version")), 1);

        json_t *recs = json_object_get(v, "records");
        size_t count = json_array_size(recs);
        assert_true(count > 0);
        assert_int_equal(json_integer_value(json_object_get(jh, "record_count")), count);
        hub_batch_builder_t *b;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, NULL), 0);
        for (size_t i = 0; i < count; i++) {
                size_t rl;
                json_t *wrap = json_pack("{sO}", "r", json_array_get(recs, i));
                uint8_t *r = hex_field(wrap, "r", &rl);
                assert_int_equal(hub_batch_builder_add(b, r, rl, NULL), 0);
                free(r);
                json_decref(wrap);
        }
        unsigned char *enc;
        size_t len;
        assert_int_equal(hub_batch_builder_finish(b, vsk, sizeof(vsk), &enc, &len, NULL), 0);
        sodium_memzero(vsk, sizeof(vsk));
        hub_batch_builder_free(b);
        /* Ed25519 is deterministic: the same key and digest give the same signature, so the
         * whole batch must come out byte for byte. */
        expect_hex(v, "batch", enc, len);

        hub_batch_t *d;
        assert_int_equal(hub_batch_decode(enc, len, NULL, &d, NULL), 0);
        assert_int_equal(hub_batch_verify(d, vpk, sizeof(vpk), NULL), 0);
        size_t h_len;
        const uint8_t *hb = hub_batch_header_bytes(d, &h_len);
        expect_hex(v, "header_bytes", hb, h_len);
        expect_hex(v, "merkle_root", hub_batch_root(d), HB);
        expect_hex(v, "digest", hub_batch_digest(d), 32);
        expect_hex(v, "signature", hub_batch_signature(d), HUB_SIG_BYTES);

        json_t *ap = json_object_get(v, "audit_path");
        size_t idx = (size_t)json_integer_value(json_object_get(ap, "index"));
        uint8_t path[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t pl;
        assert_int_equal(hub_batch_audit_path(d, idx, path, sizeof(path), &pl, NULL), 0);
        json_t *hashes = json_object_get(ap, "path");
        assert_int_equal(json_array_size(hashes) * HB, pl);
        for (size_t i = 0; i < json_array_size(hashes); i++) {
                json_t *wrap = json_pack("{sO}", "h", json_array_get(hashes, i));
                expect_hex(wrap, "h", path + i * HB, HB);
                json_decref(wrap);
        }
        uint8_t leaf[HB];
        size_t rl;
        const uint8_t *r = hub_batch_record(d, idx, &rl);
        hub_merkle_leaf_hash(r, rl, leaf);
        expect_hex(ap, "leaf_hash", leaf, HB);
        assert_int_equal(hub_batch_verify_record(r, rl, idx, count, path, pl, hub_batch_root(d),
                                                 HB, NULL),
                         0);
        hub_batch_free(d);
        free(enc);
        json_decref(v);
}

static int setup(void **state)
{
        (void)state;
        uint8_t seed[32];
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)i;
        crypto_sign_seed_keypair(pk, sk, seed);
        seed[0] ^= 0xff;
        crypto_sign_seed_keypair(other_pk, other_sk, seed);
        sodium_memzero(seed, sizeof(seed));
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        sodium_memzero(sk, sizeof(sk));
        sodium_memzero(other_sk, sizeof(other_sk));
        return 0;
}

int main(void)
{
        if (sodium_init() < 0) {
                fprintf(stderr, "sodium_init failed\n");
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_schema_compiled_in),
                cmocka_unit_test(test_happy_path),
                cmocka_unit_test(test_audit_paths_every_index),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_every_bit_flip),
                cmocka_unit_test(test_records_tampered),
                cmocka_unit_test(test_count_disagrees),
                cmocka_unit_test(test_non_canonical_rejected),
                cmocka_unit_test(test_truncated_every_prefix),
                cmocka_unit_test(test_trailing_garbage),
                cmocka_unit_test(test_version_and_identifiers),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_builder_rejects),
                cmocka_unit_test(test_vectors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
