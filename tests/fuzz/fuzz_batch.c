/* Signed batches as they arrive from Kafka: hub_batch_decode() on any bytes, and for what
 * decodes, everything the hub does next — the signature with a fixed key (the key of
 * schemas/vectors/batch-v1.json, so the seeds verify), every record and its audit path. */
#include "fuzz.h"

#include <hub/batch.h>
#include <hub/merkle.h>

#include <sodium.h>

static uint8_t pk[HUB_PK_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        FUZZ_CHECK(sodium_init() >= 0);
        uint8_t seed[32], sk[HUB_SK_BYTES];
        fuzz_unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", seed, 32);
        crypto_sign_seed_keypair(pk, sk, seed);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        hub_batch_t *b = NULL;
        hub_err_t err = {0};
        int rc = hub_batch_decode(data, size, NULL, &b, &err);
        fuzz_check_err(rc, &err);
        if (rc) {
                FUZZ_CHECK(b == NULL);
                return 0;
        }
        const hub_batch_header_t *h = hub_batch_header(b);
        FUZZ_CHECK(h && h->agency && h->key_id && h->producer_id);
        FUZZ_CHECK(strlen(h->agency) >= 1 && strlen(h->agency) <= HUB_BATCH_MAX_ID_BYTES);
        FUZZ_CHECK(strlen(h->key_id) >= 1 && strlen(h->key_id) <= HUB_BATCH_MAX_ID_BYTES);
        size_t n = hub_batch_count(b);
        FUZZ_CHECK(n == (size_t)h->record_count);
        FUZZ_CHECK(n >= 1 && n <= HUB_BATCH_DEFAULT_MAX_RECORDS);

        hub_err_clear(&err);
        rc = hub_batch_verify(b, pk, sizeof(pk), &err);
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(rc == 0 || rc == -HUB_E_SIGNATURE);

        size_t hlen;
        const uint8_t *hbytes = hub_batch_header_bytes(b, &hlen);
        uint8_t digest[HUB_BATCH_DIGEST_BYTES];
        hub_batch_signed_digest(hbytes, hlen, hub_batch_root(b), digest);
        FUZZ_CHECK(memcmp(digest, hub_batch_digest(b), sizeof(digest)) == 0);

        /* Every record proves itself by its audit path against the root; the one after the
         * last does not exist. Only the first few: a path costs log(n) hashes per record. */
        for (size_t i = 0; i < n && i < 64; i++) {
                size_t len;
                const uint8_t *rec = hub_batch_record(b, i, &len);
                FUZZ_CHECK(rec != NULL || len == 0);
                uint8_t path[HUB_MERKLE_MAX_PROOF_BYTES];
                size_t plen;
                hub_err_clear(&err);
                FUZZ_CHECK(hub_batch_audit_path(b, i, path, sizeof(path), &plen, &err) == 0);
                FUZZ_CHECK(hub_batch_verify_record(rec, len, i, n, path, plen, hub_batch_root(b),
                                                   HUB_MERKLE_HASH_BYTES, &err) == 0);
        }
        size_t len;
        FUZZ_CHECK(hub_batch_record(b, n, &len) == NULL);
        hub_batch_free(b);
        return 0;
}
