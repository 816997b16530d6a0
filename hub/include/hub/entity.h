/* Entities as the hub publishes them (DESIGN contracts 5 and 7): one tier's view of one resolved
 * violator (schemas/entity.avsc, compiled into libhub), wrapped in a SignedEntity envelope
 * (schemas/signed_entity.avsc) signed by the hub's Ed25519 key. Every message on the compacted
 * topics hub.entities.<tier> is one envelope; its Kafka key is the entity_id.
 *
 *   envelope = Avro binary of SignedEntity = 02 || key_id || fingerprint || entity || signature
 *   digest   = SHA-256("vn.hub.signed-entity.v1" || 0x00 || u32be(len(key_id)) || key_id
 *                      || fingerprint || u32be(len(entity)) || entity)
 *   signature = Ed25519(hub secret key, digest)
 *
 * Byte layout and the order of a verifier's checks: schemas/README.md, "The signed entity";
 * vectors in schemas/vectors/signed-entity-v1.json.
 *
 * hubd: hub_entity_sign_json() or hub_entity_sign_value() per entity view.
 * Subscribers: hub_entity_open() per message (bytes from Kafka, hostile), which checks
 * everything, signature included, before it hands out the decoded value.
 *
 * A codec holds one avro-c value that it reuses for every entity (avro-c's advice for speed),
 * so it is not shared between threads: make one per thread. The library never calls
 * sodium_init(): main() or the test does, once, before threads. */
#ifndef HUB_ENTITY_H
#define HUB_ENTITY_H

#include <hub/err.h>
#include <hub/keyfile.h>

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_ENTITY_FORMAT_VERSION 1
#define HUB_ENTITY_DOMAIN "vn.hub.signed-entity.v1"
#define HUB_ENTITY_DIGEST_BYTES 32
#define HUB_ENTITY_FINGERPRINT_BYTES 8
/* 1 MiB is Kafka's default message.max.bytes: a bigger envelope could not have been sent. */
#define HUB_ENTITY_DEFAULT_MAX_BYTES (1024 * 1024)

/* The schema JSON compiled in from schemas/entity.avsc and schemas/signed_entity.avsc
 * (NUL-terminated; _len excludes the NUL). */
extern const char hub_entity_schema_json[];
extern const size_t hub_entity_schema_json_len;
extern const char hub_signed_entity_schema_json[];
extern const size_t hub_signed_entity_schema_json_len;

typedef struct hub_entity_codec hub_entity_codec_t;

/* What hub_entity_open() learned about the envelope besides the entity (pointers into the
 * caller's buffer: valid as long as it is). */
typedef struct hub_entity_envelope {
        const char *key_id; /* NOT NUL-terminated: key_id_len bytes */
        size_t key_id_len;
        const uint8_t *fingerprint; /* HUB_ENTITY_FINGERPRINT_BYTES */
        const uint8_t *entity;      /* the Avro bytes of the entity as carried */
        size_t entity_len;
        const uint8_t *signature; /* HUB_SIG_BYTES */
} hub_entity_envelope_t;

/* A codec for the compiled-in entity schema. Free with hub_entity_codec_free() (NULL is fine).
 * Errors: HUB_E_SCHEMA, HUB_E_NOMEM. */
int hub_entity_codec_new(hub_entity_codec_t **out, hub_err_t *err);
void hub_entity_codec_free(hub_entity_codec_t *c);

/* The entity schema's CRC-64-AVRO fingerprint, little-endian as carried in the envelope. */
const uint8_t *hub_entity_codec_fingerprint(const hub_entity_codec_t *c);
avro_schema_t hub_entity_codec_schema(const hub_entity_codec_t *c);

/* A fresh value of the entity schema, reset, owned by the codec (valid until the next call on
 * the codec), for a caller that fills an entity field by field before
 * hub_entity_sign_value(). */
avro_value_t *hub_entity_codec_value(hub_entity_codec_t *c);

/* ---- signing (the hub) ---- */

/* Sign one entity view given as JSON in the shape of schemas/entity.avsc (the rules of
 * hub_avro_from_json: enums as symbols, unions as the plain value, unknown keys refused) with
 * the hub's key (has_secret must be set). *out is the encoded envelope, malloc'd: free() it.
 * Errors: HUB_E_MALFORMED naming the field, HUB_E_KEY (no secret, bad key_id), HUB_E_NOMEM,
 * HUB_E_TOO_LARGE (the envelope would exceed HUB_ENTITY_DEFAULT_MAX_BYTES). */
int hub_entity_sign_json(hub_entity_codec_t *c, json_t *view, const hub_key_t *hub_key,
                         unsigned char **out, size_t *out_len, hub_err_t *err);

/* The same for a value of the codec's schema (e.g. from hub_entity_codec_value()). */
int hub_entity_sign_value(hub_entity_codec_t *c, avro_value_t *view, const hub_key_t *hub_key,
                          unsigned char **out, size_t *out_len, hub_err_t *err);

/* The same for entity bytes already encoded with the codec's schema; they are validated
 * against it first, so the hub never signs what a subscriber would refuse. */
int hub_entity_sign_bytes(hub_entity_codec_t *c, const void *entity, size_t entity_len,
                          const hub_key_t *hub_key, unsigned char **out, size_t *out_len,
                          hub_err_t *err);

/* The signed digest, from its parts (schemas/README.md). */
void hub_entity_signed_digest(const char *key_id, size_t key_id_len,
                              const uint8_t fingerprint[HUB_ENTITY_FINGERPRINT_BYTES],
                              const void *entity, size_t entity_len,
                              uint8_t out[HUB_ENTITY_DIGEST_BYTES]);

/* ---- verifying (subscribers) ---- */

/* Open one envelope from an untrusted source, checking in this order (schemas/README.md "How
 * to verify a signed entity"): size, format version, Avro structure (hub_avro_validate, before
 * any parsing by avro-c), canonical encoding and key_id rules; key_id equal to
 * hub_key->key_id; the signature with hub_key->pk; the writer fingerprint; then the entity's
 * bytes against that schema. Only then is *value set: it points into the codec and stays
 * valid until the next call on it. env (optional) receives the envelope's parts.
 * max_bytes 0 means HUB_ENTITY_DEFAULT_MAX_BYTES.
 * Errors, each with a stable reason (hub_entity_reason()):
 *   HUB_E_TOO_LARGE, HUB_E_TRUNCATED, HUB_E_TRAILING, HUB_E_MALFORMED — the bytes;
 *   HUB_E_KEY — KEY_UNKNOWN: signed with another key id than the configured hub key;
 *   HUB_E_SIGNATURE — SIGNATURE_INVALID: any changed bit of key id, fingerprint or entity;
 *   HUB_E_SCHEMA — SCHEMA_UNKNOWN: a writer fingerprint this build does not know. */
int hub_entity_open(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                    const hub_key_t *hub_key, avro_value_t **value, hub_entity_envelope_t *env,
                    hub_err_t *err);

/* The same with a set of hub keys (so that the hub's key can rotate with an overlap): step 5
 * picks the key by the envelope's key_id (none in the set: KEY_UNKNOWN), step 6 verifies with
 * it, and after step 8 the entity's signed updated_at must lie in that key's window
 * [valid_from, valid_until) — before it KEY_NOT_YET_VALID, from its end KEY_EXPIRED (both
 * HUB_E_KEY). On failure *reason (optional) gets the stable reason code. */
int hub_entity_open_keyset(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                           const hub_keyset_t *keys, avro_value_t **value,
                           hub_entity_envelope_t *env, const char **reason, hub_err_t *err);

/* The stable reason code of an hub_entity_open() failure (negative or positive code):
 * KEY_UNKNOWN for HUB_E_KEY, SCHEMA_UNKNOWN for HUB_E_SCHEMA, hub_err_name() otherwise. */
const char *hub_entity_reason(int code);

/* ---- reading a decoded entity ---- */

/* An entity value as JSON in the shape of schemas/entity.avsc (the inverse of
 * hub_avro_from_json: enums as symbols, unions as the plain value or null, long as integer).
 * *out is a new reference: json_decref() it. Errors: HUB_E_MALFORMED, HUB_E_NOMEM. */
int hub_entity_to_json(avro_value_t *value, json_t **out, hub_err_t *err);

#endif
