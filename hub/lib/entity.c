/* Signed entities: the hub signs each tier's view of an entity; subscribers open them.
 *
 * The envelope is small and flat (an int, a string, a fixed, a bytes, a fixed), so it is
 * encoded and parsed here by hand after hub_avro_validate() has checked it against the
 * compiled-in schemas/signed_entity.avsc: going through avro-c would cost a generic value and
 * a copy of the entity bytes per message for nothing. The canonical form is enforced for the
 * same reason as in batch.c: the signature covers the values, not the framing, so a padded
 * varint would give other bytes that still verify, and a compacted topic is no place for two
 * spellings of one message. */
#include <hub/avro.h>
#include <hub/avro_json.h>
#include <hub/batch.h>
#include <hub/entity.h>

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static_assert(HUB_ENTITY_DIGEST_BYTES == crypto_hash_sha256_BYTES, "digest is SHA-256");
static_assert(HUB_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature size");
static_assert(HUB_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");

struct hub_entity_codec {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value;
        uint8_t fingerprint[HUB_ENTITY_FINGERPRINT_BYTES];
};

/* ---- the envelope schema, parsed once ---- */

/* Only hub_avro_validate() reads it; parsing it per message would cost more than the check.
 * Never freed: it lives as long as the process, like the compiled-in text. */
static pthread_once_t envelope_once = PTHREAD_ONCE_INIT;
static avro_schema_t envelope_schema;

static void envelope_load(void)
{
        avro_schema_t s;
        if (avro_schema_from_json_length(hub_signed_entity_schema_json,
                                         hub_signed_entity_schema_json_len, &s) == 0)
                envelope_schema = s;
}

/* ---- codec ---- */

void hub_entity_codec_free(hub_entity_codec_t *c)
{
        if (!c)
                return;
        if (c->iface) {
                avro_value_decref(&c->value);
                avro_value_iface_decref(c->iface);
        }
        if (c->schema)
                avro_schema_decref(c->schema);
        free(c);
}

int hub_entity_codec_new(hub_entity_codec_t **out, hub_err_t *err)
{
        pthread_once(&envelope_once, envelope_load);
        if (!envelope_schema)
                return hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                   "could not parse the compiled-in signed entity schema");
        hub_entity_codec_t *c = calloc(1, sizeof(*c));
        if (!c)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        int rc;
        uint64_t fp;
        if (avro_schema_from_json_length(hub_entity_schema_json, hub_entity_schema_json_len,
                                         &c->schema)) {
                c->schema = NULL;
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not parse the compiled-in entity schema: %s",
                                 avro_strerror());
                goto fail;
        }
        rc = hub_avro_fingerprint(hub_entity_schema_json, hub_entity_schema_json_len, &fp, err);
        if (rc)
                goto fail;
        for (int i = 0; i < HUB_ENTITY_FINGERPRINT_BYTES; i++)
                c->fingerprint[i] = (uint8_t)(fp >> (8 * i));
        c->iface = avro_generic_class_from_schema(c->schema);
        if (!c->iface || avro_generic_value_new(c->iface, &c->value)) {
                if (c->iface)
                        avro_value_iface_decref(c->iface);
                c->iface = NULL;
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                 "could not create an entity value: %s", avro_strerror());
                goto fail;
        }
        *out = c;
        return 0;
fail:
        hub_entity_codec_free(c);
        return rc;
}

const uint8_t *hub_entity_codec_fingerprint(const hub_entity_codec_t *c)
{
        return c->fingerprint;
}

avro_schema_t hub_entity_codec_schema(const hub_entity_codec_t *c)
{
        return c->schema;
}

avro_value_t *hub_entity_codec_value(hub_entity_codec_t *c)
{
        avro_value_reset(&c->value);
        return &c->value;
}

/* ---- digest and encoding ---- */

static void put_u32be(crypto_hash_sha256_state *st, size_t n)
{
        uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        crypto_hash_sha256_update(st, b, 4);
}

void hub_entity_signed_digest(const char *key_id, size_t key_id_len,
                              const uint8_t fingerprint[HUB_ENTITY_FINGERPRINT_BYTES],
                              const void *entity, size_t entity_len,
                              uint8_t out[HUB_ENTITY_DIGEST_BYTES])
{
        static const char domain[] = HUB_ENTITY_DOMAIN; /* hashed with its NUL: the 0x00 */
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const unsigned char *)domain, sizeof(domain));
        put_u32be(&st, key_id_len);
        crypto_hash_sha256_update(&st, (const unsigned char *)key_id, key_id_len);
        crypto_hash_sha256_update(&st, fingerprint, HUB_ENTITY_FINGERPRINT_BYTES);
        put_u32be(&st, entity_len);
        crypto_hash_sha256_update(&st, entity, entity_len);
        crypto_hash_sha256_final(&st, out);
}

/* Zigzag varint of v, minimal (as avro-c writes it); returns its length (at most 10). */
static size_t put_varint(uint8_t *p, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;
        while (z >= 0x80) {
                p[n++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        p[n++] = (uint8_t)z;
        return n;
}

/* Same rule as batch header identifiers (and key files): 1-64 printable ASCII bytes without
 * space, because key ids end up in log lines and database keys. */
static bool valid_id(const char *s, size_t n)
{
        if (n == 0 || n > HUB_BATCH_MAX_ID_BYTES)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x21 || s[i] > 0x7e)
                        return false;
        return true;
}

int hub_entity_sign_bytes(hub_entity_codec_t *c, const void *entity, size_t entity_len,
                          const hub_key_t *hub_key, unsigned char **out, size_t *out_len,
                          hub_err_t *err)
{
        if (!hub_key || !hub_key->has_secret)
                return hub_err_set(err, HUB_E_KEY, false, __func__,
                                   "could not sign entity: no secret key");
        size_t kl = strnlen(hub_key->key_id, sizeof(hub_key->key_id));
        if (!valid_id(hub_key->key_id, kl))
                return hub_err_set(err, HUB_E_KEY, false, __func__,
                                   "could not sign entity: key id must be 1-64 printable "
                                   "characters without spaces");
        int rc = hub_avro_validate(c->schema, entity, entity_len, err);
        if (rc) {
                hub_err_prefix(err, "could not sign entity");
                return rc;
        }
        /* 1 + (10 + key id) + 8 + (10 + entity) + 64, bounded before adding. */
        if (entity_len > HUB_ENTITY_DEFAULT_MAX_BYTES ||
            1 + 10 + kl + HUB_ENTITY_FINGERPRINT_BYTES + 10 + entity_len + HUB_SIG_BYTES >
                    HUB_ENTITY_DEFAULT_MAX_BYTES)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                   "could not sign entity: %zu bytes exceed the envelope limit",
                                   entity_len);
        size_t cap = 1 + 10 + kl + HUB_ENTITY_FINGERPRINT_BYTES + 10 + entity_len + HUB_SIG_BYTES;
        uint8_t *b = malloc(cap);
        if (!b)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        size_t n = put_varint(b, HUB_ENTITY_FORMAT_VERSION);
        n += put_varint(b + n, (int64_t)kl);
        memcpy(b + n, hub_key->key_id, kl);
        n += kl;
        memcpy(b + n, c->fingerprint, HUB_ENTITY_FINGERPRINT_BYTES);
        n += HUB_ENTITY_FINGERPRINT_BYTES;
        n += put_varint(b + n, (int64_t)entity_len);
        if (entity_len)
                memcpy(b + n, entity, entity_len);
        n += entity_len;
        uint8_t digest[HUB_ENTITY_DIGEST_BYTES];
        hub_entity_signed_digest(hub_key->key_id, kl, c->fingerprint, entity, entity_len, digest);
        crypto_sign_detached(b + n, NULL, digest, sizeof(digest), hub_key->sk);
        n += HUB_SIG_BYTES;
        *out = b;
        *out_len = n;
        return 0;
}

int hub_entity_sign_value(hub_entity_codec_t *c, avro_value_t *view, const hub_key_t *hub_key,
                          unsigned char **out, size_t *out_len, hub_err_t *err)
{
        unsigned char *ent = NULL;
        size_t ent_len = 0;
        int rc = hub_avro_encode(view, &ent, &ent_len, err);
        if (rc)
                return rc;
        rc = hub_entity_sign_bytes(c, ent, ent_len, hub_key, out, out_len, err);
        free(ent);
        return rc;
}

int hub_entity_sign_json(hub_entity_codec_t *c, json_t *view, const hub_key_t *hub_key,
                         unsigned char **out, size_t *out_len, hub_err_t *err)
{
        avro_value_t *v = hub_entity_codec_value(c);
        int rc = hub_avro_from_json(view, v, err);
        if (rc) {
                hub_err_prefix(err, "could not sign entity");
                return rc;
        }
        return hub_entity_sign_value(c, v, hub_key, out, out_len, err);
}

/* ---- opening ---- */

struct cursor {
        const uint8_t *p;
        size_t n, off;
};

/* A varint the validator already accepted; refuse a non-minimal spelling (a last byte of 00
 * after others), the one freedom the validator leaves. */
static int get_varint(struct cursor *cur, int64_t *v, const char *what, hub_err_t *err)
{
        uint64_t z = 0;
        size_t start = cur->off;
        for (int shift = 0; cur->off < cur->n && shift < 70; shift += 7) {
                uint8_t b = cur->p[cur->off++];
                z |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        if (b == 0 && cur->off - start > 1)
                                return hub_err_set(err, HUB_E_MALFORMED, false, "entity",
                                                   "%s at byte %zu: varint is not minimal", what,
                                                   start);
                        *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                        return 0;
                }
        }
        /* Unreachable after hub_avro_validate(); kept so this parser never trusts it. */
        return hub_err_set(err, HUB_E_TRUNCATED, false, "entity", "%s at byte %zu: bad varint",
                           what, start);
}

static int get_span(struct cursor *cur, size_t len, const uint8_t **p, const char *what,
                    hub_err_t *err)
{
        if (len > cur->n - cur->off)
                return hub_err_set(err, HUB_E_TRUNCATED, false, "entity",
                                   "%s at byte %zu: %zu bytes past the end", what, cur->off,
                                   len - (cur->n - cur->off));
        *p = cur->p + cur->off;
        cur->off += len;
        return 0;
}

static int open_keyset(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                       const hub_keyset_t *keys, avro_value_t **value,
                       hub_entity_envelope_t *env, const char **reason, hub_err_t *err);

int hub_entity_open(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                    const hub_key_t *hub_key, avro_value_t **value, hub_entity_envelope_t *env,
                    hub_err_t *err)
{
        if (!hub_key)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "no hub key given");
        /* One key, no window: only its public half is copied. */
        hub_keyset_t ks = {0};
        int rc = hub_keyset_add(&ks, hub_key, HUB_KEYSET_OPEN_FROM, HUB_KEYSET_OPEN_UNTIL, err);
        if (!rc)
                rc = hub_entity_open_keyset(c, buf, len, max_bytes, &ks, value, env, NULL, err);
        return rc;
}

static int key_reject(const char **reason, const char *code, int rc)
{
        if (reason)
                *reason = code;
        return rc;
}

int hub_entity_open_keyset(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                           const hub_keyset_t *keys, avro_value_t **value,
                           hub_entity_envelope_t *env, const char **reason, hub_err_t *err)
{
        int rc = open_keyset(c, buf, len, max_bytes, keys, value, env, reason, err);
        if (rc && reason && !*reason)
                *reason = hub_entity_reason(rc);
        return rc;
}

static int open_keyset(hub_entity_codec_t *c, const void *buf, size_t len, size_t max_bytes,
                       const hub_keyset_t *keys, avro_value_t **value,
                       hub_entity_envelope_t *env, const char **reason, hub_err_t *err)
{
        int rc;
        if (reason)
                *reason = NULL;
        if (!max_bytes)
                max_bytes = HUB_ENTITY_DEFAULT_MAX_BYTES;
        if (!keys || !keys->n)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "no hub key given");
        /* 1. Size, before anything is read. */
        if (len > max_bytes)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, "entity",
                                   "signed entity of %zu bytes exceeds the limit of %zu", len,
                                   max_bytes);
        /* 2. Version: 02 is format 1; anything else may follow another layout. */
        if (len == 0)
                return hub_err_set(err, HUB_E_TRUNCATED, false, "entity",
                                   "signed entity is empty");
        if (((const uint8_t *)buf)[0] != 2 * HUB_ENTITY_FORMAT_VERSION)
                return hub_err_set(err, HUB_E_MALFORMED, false, "entity",
                                   "unsupported signed entity format version (first byte %02x)",
                                   ((const uint8_t *)buf)[0]);
        /* 3. Structure, no length trusted. */
        rc = hub_avro_validate(envelope_schema, buf, len, err);
        if (rc) {
                hub_err_prefix(err, "malformed signed entity");
                return rc;
        }
        /* 4. Canonical form and key id rules. */
        struct cursor cur = {.p = buf, .n = len};
        hub_entity_envelope_t e = {0};
        int64_t version, kl, el;
        const uint8_t *kp = NULL;
        if ((rc = get_varint(&cur, &version, "format_version", err)) ||
            (rc = get_varint(&cur, &kl, "key_id length", err)) ||
            (rc = get_span(&cur, (size_t)kl, &kp, "key_id", err)) ||
            (rc = get_span(&cur, HUB_ENTITY_FINGERPRINT_BYTES, &e.fingerprint,
                           "schema_fingerprint", err)) ||
            (rc = get_varint(&cur, &el, "entity length", err)) ||
            (rc = get_span(&cur, (size_t)el, &e.entity, "entity", err)) ||
            (rc = get_span(&cur, HUB_SIG_BYTES, &e.signature, "signature", err)))
                return rc;
        e.key_id = (const char *)kp;
        e.key_id_len = (size_t)kl;
        e.entity_len = (size_t)el;
        if (!valid_id(e.key_id, e.key_id_len))
                return hub_err_set(err, HUB_E_MALFORMED, false, "entity",
                                   "key_id must be 1-64 printable characters without spaces");
        /* 5. Key: one this subscriber trusts, by its id. */
        const hub_keyset_entry_t *k = hub_keyset_find(keys, e.key_id, e.key_id_len);
        if (!k)
                return hub_err_set(err, HUB_E_KEY, false, "entity",
                                   "signed with key %.*s, not with a hub key this subscriber "
                                   "trusts (%s%s)",
                                   (int)e.key_id_len, e.key_id, keys->keys[0].key_id,
                                   keys->n > 1 ? ", ..." : "");
        /* 6. Signature over key id, fingerprint and entity bytes. */
        uint8_t digest[HUB_ENTITY_DIGEST_BYTES];
        hub_entity_signed_digest(e.key_id, e.key_id_len, e.fingerprint, e.entity, e.entity_len,
                                 digest);
        if (crypto_sign_verify_detached(e.signature, digest, sizeof(digest), k->pk) != 0)
                return hub_err_set(err, HUB_E_SIGNATURE, false, "entity",
                                   "signature does not verify with hub key %s", k->key_id);
        /* 7. Writer schema: only the compiled-in one today (schemas/history/entity has no other
         * version yet); an older writer would be read through a resolved writer here. */
        if (memcmp(e.fingerprint, c->fingerprint, HUB_ENTITY_FINGERPRINT_BYTES) != 0)
                return hub_err_set(err, HUB_E_SCHEMA, false, "entity",
                                   "unknown entity schema fingerprint");
        /* 8. The entity's own bytes: signed by the hub, still validated before avro-c. */
        rc = hub_avro_decode(c->schema, e.entity, e.entity_len, &c->value, err);
        if (rc) {
                hub_err_prefix(err, "malformed entity");
                return rc;
        }
        /* 9. The key's window, at the time the hub signed into the entity. */
        if (k->valid_from_ms != HUB_KEYSET_OPEN_FROM ||
            k->valid_until_ms != HUB_KEYSET_OPEN_UNTIL) {
                avro_value_t f;
                int64_t at = 0;
                if (avro_value_get_by_name(&c->value, "updated_at", &f, NULL) ||
                    avro_value_get_long(&f, &at))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "entity",
                                           "entity without updated_at");
                if (at < k->valid_from_ms)
                        return key_reject(reason, "KEY_NOT_YET_VALID",
                                          hub_err_set(err, HUB_E_KEY, false, "entity",
                                                      "hub key %s is not valid before %" PRId64
                                                      " ms; entity updated at %" PRId64 " ms",
                                                      k->key_id, k->valid_from_ms, at));
                if (at >= k->valid_until_ms)
                        return key_reject(reason, "KEY_EXPIRED",
                                          hub_err_set(err, HUB_E_KEY, false, "entity",
                                                      "hub key %s expired at %" PRId64
                                                      " ms; entity updated at %" PRId64 " ms",
                                                      k->key_id, k->valid_until_ms, at));
        }
        *value = &c->value;
        if (env)
                *env = e;
        return 0;
}

const char *hub_entity_reason(int code)
{
        if (code < 0)
                code = -code;
        if (code == HUB_E_KEY)
                return "KEY_UNKNOWN";
        if (code == HUB_E_SCHEMA)
                return "SCHEMA_UNKNOWN";
        return hub_err_name(code);
}

/* ---- entity value to JSON ---- */

static json_t *to_json(avro_value_t *v, int depth);

static json_t *hex_json(const void *p, size_t n)
{
        char *h = malloc(2 * n + 1);
        if (!h)
                return NULL;
        sodium_bin2hex(h, 2 * n + 1, p, n);
        json_t *j = json_string(h);
        free(h);
        return j;
}

static json_t *record_json(avro_value_t *v, int depth)
{
        size_t n;
        if (avro_value_get_size(v, &n))
                return NULL;
        json_t *o = json_object();
        for (size_t i = 0; o && i < n; i++) {
                avro_value_t f;
                const char *name;
                json_t *fj;
                if (avro_value_get_by_index(v, i, &f, &name) || !(fj = to_json(&f, depth + 1)) ||
                    json_object_set_new(o, name, fj)) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static json_t *array_json(avro_value_t *v, int depth)
{
        size_t n;
        if (avro_value_get_size(v, &n))
                return NULL;
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
                avro_value_t it;
                json_t *ij;
                if (avro_value_get_by_index(v, i, &it, NULL) || !(ij = to_json(&it, depth + 1)) ||
                    json_array_append_new(a, ij)) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *map_json(avro_value_t *v, int depth)
{
        size_t n;
        if (avro_value_get_size(v, &n))
                return NULL;
        json_t *o = json_object();
        for (size_t i = 0; o && i < n; i++) {
                avro_value_t it;
                const char *key;
                json_t *ij;
                if (avro_value_get_by_index(v, i, &it, &key) || !(ij = to_json(&it, depth + 1)) ||
                    json_object_set_new(o, key, ij)) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static json_t *to_json(avro_value_t *v, int depth)
{
        if (depth > HUB_AVRO_MAX_DEPTH)
                return NULL;
        switch (avro_value_get_type(v)) {
        case AVRO_NULL:
                return json_null();
        case AVRO_BOOLEAN: {
                int b;
                return avro_value_get_boolean(v, &b) ? NULL : json_boolean(b);
        }
        case AVRO_INT32: {
                int32_t i;
                return avro_value_get_int(v, &i) ? NULL : json_integer(i);
        }
        case AVRO_INT64: {
                int64_t l;
                return avro_value_get_long(v, &l) ? NULL : json_integer(l);
        }
        case AVRO_FLOAT: {
                float f;
                return avro_value_get_float(v, &f) ? NULL : json_real(f);
        }
        case AVRO_DOUBLE: {
                double d;
                return avro_value_get_double(v, &d) ? NULL : json_real(d);
        }
        case AVRO_STRING: {
                const char *s;
                size_t n; /* includes avro-c's NUL */
                if (avro_value_get_string(v, &s, &n))
                        return NULL;
                return json_stringn(s, n ? n - 1 : 0);
        }
        case AVRO_BYTES: {
                const void *p;
                size_t n;
                return avro_value_get_bytes(v, &p, &n) ? NULL : hex_json(p, n);
        }
        case AVRO_FIXED: {
                const void *p;
                size_t n;
                return avro_value_get_fixed(v, &p, &n) ? NULL : hex_json(p, n);
        }
        case AVRO_ENUM: {
                int i;
                if (avro_value_get_enum(v, &i))
                        return NULL;
                const char *sym = avro_schema_enum_get(avro_value_get_schema(v), i);
                return sym ? json_string(sym) : NULL;
        }
        case AVRO_RECORD:
                return record_json(v, depth);
        case AVRO_ARRAY:
                return array_json(v, depth);
        case AVRO_MAP:
                return map_json(v, depth);
        case AVRO_UNION: {
                avro_value_t b;
                if (avro_value_get_current_branch(v, &b))
                        return NULL;
                return to_json(&b, depth + 1);
        }
        default:
                return NULL;
        }
}

int hub_entity_to_json(avro_value_t *value, json_t **out, hub_err_t *err)
{
        json_t *j = to_json(value, 0);
        if (!j)
                return hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                   "could not convert entity to JSON: %s", avro_strerror());
        *out = j;
        return 0;
}
