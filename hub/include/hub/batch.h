/* Signed batches (DESIGN contract 1): one Kafka message carrying many records of one writer
 * schema, one Ed25519 signature over a domain-separated digest of the header and of the
 * RFC 9162 Merkle root of the records. Byte layout, digest and the order of a verifier's checks
 * are specified in schemas/README.md, with test vectors in schemas/vectors/batch-v1.json.
 *
 *   digest = SHA-256("vn.hub.signed-batch.v1" || 0x00 || u32be(len(H)) || H || root)
 *   H      = the Avro binary encoding of the header record, exactly as carried in the batch
 *   root   = RFC 9162 Merkle root, leaf i = the bytes of records[i] exactly as carried
 *   signature = Ed25519(secret key, digest)
 *
 * Producer: hub_batch_builder_new(), _add() per record, _finish() to sign and encode.
 * Hub: hub_batch_decode() (bytes from Kafka, hostile: limits first, then structure), then look
 * up the key named by the header's agency and key_id and hub_batch_verify(). Nothing in a
 * decoded batch is to be trusted before hub_batch_verify() returns 0.
 *
 * The schema (schemas/batch.avsc) is compiled into the library: no file is read at run time.
 * The library never calls sodium_init(): main() or the test does, once, before threads. */
#ifndef HUB_BATCH_H
#define HUB_BATCH_H

#include <hub/err.h>
#include <hub/merkle.h>

#include <stddef.h>
#include <stdint.h>

#define HUB_BATCH_FORMAT_VERSION 1
#define HUB_BATCH_DOMAIN "vn.hub.signed-batch.v1"
#define HUB_BATCH_DIGEST_BYTES 32
#define HUB_BATCH_FINGERPRINT_BYTES 8
/* agency, key_id and producer_id: 1 to 64 bytes of printable ASCII without space (0x21-0x7e):
 * they end up in topic names, log lines and database keys. */
#define HUB_BATCH_MAX_ID_BYTES 64

/* Ed25519 sizes, checked against libsodium's in batch.c. */
#define HUB_SIG_BYTES 64
#define HUB_PK_BYTES 32
#define HUB_SK_BYTES 64 /* libsodium's form: 32-byte seed || 32-byte public key */

/* Defaults of hub_batch_limits_t. 1 MiB is Kafka's default message.max.bytes. */
#define HUB_BATCH_DEFAULT_MAX_RECORDS 10000
#define HUB_BATCH_DEFAULT_MAX_RECORD_BYTES (256 * 1024)
#define HUB_BATCH_DEFAULT_MAX_BATCH_BYTES (1024 * 1024)

/* The schema JSON compiled in from schemas/batch.avsc (NUL-terminated; _len excludes it). */
extern const char hub_batch_schema_json[];
extern const size_t hub_batch_schema_json_len;

typedef struct hub_batch_header {
        int32_t format_version; /* out only: the builder writes HUB_BATCH_FORMAT_VERSION */
        const char *agency;     /* see HUB_BATCH_MAX_ID_BYTES */
        const char *key_id;
        const char *producer_id;
        int64_t batch_seq;     /* >= 0 */
        int64_t created_at_ms; /* >= 0, milliseconds since the Unix epoch */
        uint8_t schema_fingerprint[HUB_BATCH_FINGERPRINT_BYTES]; /* little-endian CRC-64-AVRO */
        int32_t record_count; /* out only: the builder counts the records added */
} hub_batch_header_t;

/* Zero in a field means its default. A limit applies to the builder as to the decoder, so a
 * producer cannot build what the hub will refuse. */
typedef struct hub_batch_limits {
        size_t max_records;      /* records per batch */
        size_t max_record_bytes; /* bytes of one record */
        size_t max_batch_bytes;  /* bytes of the whole encoded batch */
} hub_batch_limits_t;

typedef struct hub_batch_builder hub_batch_builder_t;
typedef struct hub_batch hub_batch_t;

/* ---- producing ---- */

/* A builder for one batch with the given header (strings are copied) and limits (NULL: the
 * defaults). *out is freed with hub_batch_builder_free().
 * Errors: HUB_E_INVAL (a header field breaks the rules above), HUB_E_NOMEM, HUB_E_SCHEMA. */
int hub_batch_builder_new(const hub_batch_header_t *header, const hub_batch_limits_t *limits,
                          hub_batch_builder_t **out, hub_err_t *err);

/* Append one record (the Avro binary encoding of one report; copied). HUB_E_TOO_LARGE when
 * the record alone exceeds max_record_bytes, or when it would take the batch past max_records
 * or max_batch_bytes: then the builder is unchanged, so a connector finishes this batch and
 * adds the record to the next one. HUB_E_INVAL after _finish(). */
int hub_batch_builder_add(hub_batch_builder_t *b, const void *record, size_t len,
                          hub_err_t *err);

/* Records added so far, and the exact size the encoded batch would have if finished now. */
size_t hub_batch_builder_count(const hub_batch_builder_t *b);
size_t hub_batch_builder_encoded_size(const hub_batch_builder_t *b);

/* Sign with sk (HUB_SK_BYTES, libsodium's crypto_sign secret key) and encode. *out is
 * malloc'd: free() it. The library keeps no copy of sk; the caller wipes it with
 * sodium_memzero() when done. A builder is finished once.
 * Errors: HUB_E_INVAL (no records, finished already), HUB_E_KEY (sk_len), HUB_E_NOMEM. */
int hub_batch_builder_finish(hub_batch_builder_t *b, const uint8_t *sk, size_t sk_len,
                             unsigned char **out, size_t *out_len, hub_err_t *err);

void hub_batch_builder_free(hub_batch_builder_t *b);

/* ---- receiving ---- */

/* Decode an encoded batch from an untrusted source, checking in this order (schemas/README.md
 * "How to verify"): size against max_batch_bytes, format version, Avro structure, canonical
 * encoding, record count and sizes against the limits and against the header, identifiers.
 * Nothing is allocated before the limits are checked. The bytes are copied: buf may be freed
 * afterwards. *out is freed with hub_batch_free(). The signature is NOT checked here.
 * Errors: HUB_E_TOO_LARGE, HUB_E_TRUNCATED, HUB_E_TRAILING, HUB_E_MALFORMED, HUB_E_NOMEM. */
int hub_batch_decode(const void *buf, size_t len, const hub_batch_limits_t *limits,
                     hub_batch_t **out, hub_err_t *err);

/* Verify the signature with the agency's public key pk (HUB_PK_BYTES). Choosing pk (the key
 * registered for the header's agency and key_id, valid at created_at, not revoked) is the
 * caller's job. Errors: HUB_E_KEY (pk is not 32 bytes or not a valid Ed25519 point),
 * HUB_E_SIGNATURE (any other failure: wrong key, or any byte of header or record changed). */
int hub_batch_verify(const hub_batch_t *b, const uint8_t *pk, size_t pk_len, hub_err_t *err);

void hub_batch_free(hub_batch_t *b);

/* The header; its strings live as long as the batch. */
const hub_batch_header_t *hub_batch_header(const hub_batch_t *b);

/* Number of records, and record i (NULL if i is out of range) with its length in *len. The
 * bytes live as long as the batch. */
size_t hub_batch_count(const hub_batch_t *b);
const uint8_t *hub_batch_record(const hub_batch_t *b, size_t i, size_t *len);

/* H (the header's encoding, as carried), the Merkle root, the signed digest, the signature. */
const uint8_t *hub_batch_header_bytes(const hub_batch_t *b, size_t *len);
const uint8_t *hub_batch_root(const hub_batch_t *b);
const uint8_t *hub_batch_digest(const hub_batch_t *b);
const uint8_t *hub_batch_signature(const hub_batch_t *b);

/* The audit path of record i, as for hub_merkle_inclusion_path (HUB_MERKLE_MAX_PROOF_BYTES
 * always suffices). With H, the signature and the record, it proves the record on its own. */
int hub_batch_audit_path(const hub_batch_t *b, size_t i, uint8_t *out, size_t out_cap,
                         size_t *out_len, hub_err_t *err);

/* ---- proving one record without the batch ---- */

/* The digest that is signed, from H and the Merkle root. */
void hub_batch_signed_digest(const void *h, size_t h_len,
                             const uint8_t root[HUB_MERKLE_HASH_BYTES],
                             uint8_t out[HUB_BATCH_DIGEST_BYTES]);

/* Check that record (its bytes as carried) is record `index` of a batch of `count` records
 * whose Merkle root is `root`, by its audit path. Whoever relies on it must also check the
 * signature over hub_batch_signed_digest(H, root) and take count from H. HUB_E_PROOF if not. */
int hub_batch_verify_record(const void *record, size_t len, uint64_t index, uint64_t count,
                            const uint8_t *path, size_t path_len, const uint8_t *root,
                            size_t root_len, hub_err_t *err);

#endif
