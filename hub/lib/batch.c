/* Signed batches: build and sign on the producer side, decode and verify on the hub side.
 *
 * Encoding and decoding go through avro-c with the schema compiled in from schemas/batch.avsc,
 * so the bytes follow the published schema by construction. Two things avro-c cannot do for us
 * are done here, before it allocates anything: the limits (a count of 2^30 records must be
 * refused before any array is grown) and the canonical form. Avro allows several encodings of
 * one value (a varint padded with 0x80 bytes, an array split into blocks or with byte-sized
 * blocks); accepting them would let anyone re-frame a signed batch into different bytes that
 * still verify, and the hub stores and deduplicates batches by their bytes. So the one
 * encoding avro-c writes is the only one accepted: minimal varints, records in one block. */
#include <hub/avro.h>
#include <hub/batch.h>

#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static_assert(HUB_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature size");
static_assert(HUB_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key size");
static_assert(HUB_SK_BYTES == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key size");
static_assert(HUB_BATCH_DIGEST_BYTES == crypto_hash_sha256_BYTES, "digest is SHA-256");

#define HB HUB_MERKLE_HASH_BYTES

/* Field indexes in schemas/batch.avsc; test_batch checks them against the schema. */
enum { F_HEADER, F_RECORDS, F_SIGNATURE };
enum { H_VERSION, H_AGENCY, H_KEY_ID, H_PRODUCER, H_SEQ, H_CREATED, H_FINGERPRINT, H_COUNT };

/* ---- the schema, parsed once ---- */

/* avro-c's reference counts are atomic, so one parsed schema and one generic class serve every
 * thread; parsing per batch would cost more than the signature check. Never freed: they live
 * as long as the process, like the compiled-in text they come from. */
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static avro_schema_t schema;
static avro_value_iface_t *iface;

static void schema_load(void)
{
        avro_schema_t s;
        if (avro_schema_from_json_length(hub_batch_schema_json, hub_batch_schema_json_len, &s))
                return;
        iface = avro_generic_class_from_schema(s);
        if (!iface) {
                avro_schema_decref(s);
                return;
        }
        schema = s;
}

static int schema_get(hub_err_t *err)
{
        pthread_once(&schema_once, schema_load);
        if (!iface)
                return hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                   "could not load the compiled-in batch schema");
        return 0;
}

/* ---- helpers ---- */

static const hub_batch_limits_t default_limits = {
        .max_records = HUB_BATCH_DEFAULT_MAX_RECORDS,
        .max_record_bytes = HUB_BATCH_DEFAULT_MAX_RECORD_BYTES,
        .max_batch_bytes = HUB_BATCH_DEFAULT_MAX_BATCH_BYTES,
};

static hub_batch_limits_t limits_or_defaults(const hub_batch_limits_t *l)
{
        hub_batch_limits_t r = default_limits;
        if (l && l->max_records)
                r.max_records = l->max_records;
        if (l && l->max_record_bytes)
                r.max_record_bytes = l->max_record_bytes;
        if (l && l->max_batch_bytes)
                r.max_batch_bytes = l->max_batch_bytes;
        /* record_count is an Avro int. */
        if (r.max_records > INT32_MAX)
                r.max_records = INT32_MAX;
        return r;
}

/* Bytes of the zigzag varint of v. */
static size_t varint_size(int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 1;
        while (z >= 0x80) {
                z >>= 7;
                n++;
        }
        return n;
}

static int check_id(const char *what, const char *s, size_t len, int code, hub_err_t *err)
{
        if (len == 0 || len > HUB_BATCH_MAX_ID_BYTES)
                return hub_err_set(err, code, false, __func__, "%s is %zu bytes, not 1 to %d",
                                   what, len, HUB_BATCH_MAX_ID_BYTES);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return hub_err_set(err, code, false, __func__,
                                           "%s has byte 0x%02x at %zu: only printable ASCII "
                                           "without space is allowed",
                                           what, (unsigned char)s[i], i);
        return 0;
}

void hub_batch_signed_digest(const void *h, size_t h_len, const uint8_t root[HB],
                             uint8_t out[HUB_BATCH_DIGEST_BYTES])
{
        /* The domain string with its NUL keeps this digest apart from any other SHA-256 the
         * same key might sign; the length prefix makes H || root unambiguous. */
        static const char domain[] = HUB_BATCH_DOMAIN;
        uint8_t be[4] = {(uint8_t)(h_len >> 24), (uint8_t)(h_len >> 16), (uint8_t)(h_len >> 8),
                         (uint8_t)h_len};
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const uint8_t *)domain, sizeof(domain)); /* with NUL */
        crypto_hash_sha256_update(&st, be, sizeof(be));
        if (h_len)
                crypto_hash_sha256_update(&st, h, h_len);
        crypto_hash_sha256_update(&st, root, HB);
        crypto_hash_sha256_final(&st, out);
}

/* ---- builder ---- */

struct hub_batch_builder {
        avro_value_t value;   /* the SignedBatch being filled */
        avro_value_t records; /* its records array */
        hub_batch_limits_t limits;
        size_t count;
        uint8_t *leaves; /* count leaf hashes */
        size_t leaves_cap;
        size_t header_size;  /* H without the record_count varint */
        size_t records_size; /* sum over records of varint(len) + len */
        bool has_value;
        bool finished;
};

static size_t encoded_size(size_t header_size, size_t count, size_t records_size)
{
        size_t n = header_size + varint_size((int64_t)count);
        if (count > 0)
                n += varint_size((int64_t)count) + records_size;
        return n + 1 /* the array's final 0 */ + HUB_SIG_BYTES;
}

int hub_batch_builder_new(const hub_batch_header_t *h, const hub_batch_limits_t *limits,
                          hub_batch_builder_t **out, hub_err_t *err)
{
        if (!h || !out)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "header and out required");
        *out = NULL;
        const char *ids[3] = {h->agency, h->key_id, h->producer_id};
        static const char *const names[3] = {"agency", "key_id", "producer_id"};
        for (int i = 0; i < 3; i++) {
                if (!ids[i])
                        return hub_err_set(err, HUB_E_INVAL, false, __func__, "%s is NULL",
                                           names[i]);
                int rc = check_id(names[i], ids[i], strlen(ids[i]), HUB_E_INVAL, err);
                if (rc < 0)
                        return rc;
        }
        if (h->batch_seq < 0 || h->created_at_ms < 0)
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "batch_seq and created_at must not be negative");
        int rc = schema_get(err);
        if (rc < 0)
                return rc;

        hub_batch_builder_t *b = calloc(1, sizeof(*b));
        if (!b)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        b->limits = limits_or_defaults(limits);
        if (avro_generic_value_new(iface, &b->value) != 0) {
                free(b);
                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                   "could not create avro value: %s", avro_strerror());
        }
        b->has_value = true;

        avro_value_t hv, f;
        int bad = avro_value_get_by_index(&b->value, F_HEADER, &hv, NULL);
        bad = bad || avro_value_get_by_index(&hv, H_VERSION, &f, NULL) ||
              avro_value_set_int(&f, HUB_BATCH_FORMAT_VERSION);
        for (int i = 0; i < 3 && !bad; i++)
                bad = avro_value_get_by_index(&hv, H_AGENCY + i, &f, NULL) ||
                      avro_value_set_string(&f, ids[i]);
        bad = bad || avro_value_get_by_index(&hv, H_SEQ, &f, NULL) ||
              avro_value_set_long(&f, h->batch_seq);
        bad = bad || avro_value_get_by_index(&hv, H_CREATED, &f, NULL) ||
              avro_value_set_long(&f, h->created_at_ms);
        bad = bad || avro_value_get_by_index(&hv, H_FINGERPRINT, &f, NULL) ||
              avro_value_set_fixed(&f, (void *)h->schema_fingerprint, HUB_BATCH_FINGERPRINT_BYTES);
        bad = bad || avro_value_get_by_index(&b->value, F_RECORDS, &b->records, NULL);
        if (bad) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not fill the batch header: %s", avro_strerror());
                hub_batch_builder_free(b);
                return rc;
        }
        b->header_size = varint_size(HUB_BATCH_FORMAT_VERSION) + varint_size(h->batch_seq) +
                         varint_size(h->created_at_ms) + HUB_BATCH_FINGERPRINT_BYTES;
        for (int i = 0; i < 3; i++)
                b->header_size += varint_size((int64_t)strlen(ids[i])) + strlen(ids[i]);
        *out = b;
        return 0;
}

size_t hub_batch_builder_count(const hub_batch_builder_t *b)
{
        return b ? b->count : 0;
}

size_t hub_batch_builder_encoded_size(const hub_batch_builder_t *b)
{
        return b ? encoded_size(b->header_size, b->count, b->records_size) : 0;
}

int hub_batch_builder_add(hub_batch_builder_t *b, const void *record, size_t len,
                          hub_err_t *err)
{
        if (!b || (!record && len))
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "builder and record required");
        if (b->finished)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "batch is finished already");
        if (len > b->limits.max_record_bytes)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                   "record of %zu bytes exceeds the limit of %zu", len,
                                   b->limits.max_record_bytes);
        if (b->count >= b->limits.max_records)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                   "batch holds %zu records already, the limit", b->count);
        size_t rsize = b->records_size + varint_size((int64_t)len) + len;
        size_t total = encoded_size(b->header_size, b->count + 1, rsize);
        if (total > b->limits.max_batch_bytes)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                   "record would make the batch %zu bytes, over the limit of %zu",
                                   total, b->limits.max_batch_bytes);
        if (b->count == b->leaves_cap) {
                size_t cap = b->leaves_cap ? b->leaves_cap * 2 : 64;
                if (cap > b->limits.max_records)
                        cap = b->limits.max_records;
                uint8_t *nl = realloc(b->leaves, cap * HB);
                if (!nl)
                        return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                b->leaves = nl;
                b->leaves_cap = cap;
        }
        static uint8_t empty[1];
        avro_value_t item;
        if (avro_value_append(&b->records, &item, NULL) != 0 ||
            avro_value_set_bytes(&item, len ? (void *)record : empty, len) != 0)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                   "could not append the record: %s", avro_strerror());
        hub_merkle_leaf_hash(record, len, b->leaves + b->count * HB);
        b->count++;
        b->records_size = rsize;
        return 0;
}

int hub_batch_builder_finish(hub_batch_builder_t *b, const uint8_t *sk, size_t sk_len,
                             unsigned char **out, size_t *out_len, hub_err_t *err)
{
        if (!b || !out || !out_len)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "builder and out required");
        *out = NULL;
        *out_len = 0;
        if (b->finished)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "batch is finished already");
        if (b->count == 0)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "batch has no records");
        if (!sk || sk_len != HUB_SK_BYTES)
                return hub_err_set(err, HUB_E_KEY, false, __func__,
                                   "secret key is %zu bytes, not %d", sk ? sk_len : 0,
                                   HUB_SK_BYTES);
        unsigned char *h = NULL, *enc = NULL;
        size_t h_len = 0, enc_len = 0;
        uint8_t root[HB], digest[HUB_BATCH_DIGEST_BYTES], sig[HUB_SIG_BYTES];
        avro_value_t hv, f;
        int rc;

        if (avro_value_get_by_index(&b->value, F_HEADER, &hv, NULL) ||
            avro_value_get_by_index(&hv, H_COUNT, &f, NULL) ||
            avro_value_set_int(&f, (int32_t)b->count)) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not set the record count: %s", avro_strerror());
                goto out;
        }
        rc = hub_avro_encode(&hv, &h, &h_len, err);
        if (rc < 0)
                goto out;
        hub_merkle_root(b->leaves, b->count, root);
        hub_batch_signed_digest(h, h_len, root, digest);
        crypto_sign_detached(sig, NULL, digest, sizeof(digest), sk);
        if (avro_value_get_by_index(&b->value, F_SIGNATURE, &f, NULL) ||
            avro_value_set_fixed(&f, sig, sizeof(sig))) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not set the signature: %s", avro_strerror());
                goto out;
        }
        rc = hub_avro_encode(&b->value, &enc, &enc_len, err);
        if (rc < 0)
                goto out;
        /* What we signed must be what we send: H is the batch's prefix, and the size is the
         * one promised by hub_batch_builder_encoded_size(). A mismatch is a bug, not input. */
        if (enc_len != hub_batch_builder_encoded_size(b) || enc_len < h_len ||
            memcmp(enc, h, h_len) != 0) {
                rc = hub_err_set(err, HUB_E_INVAL, false, __func__,
                                 "encoded batch of %zu bytes does not start with its header "
                                 "or differs from the predicted %zu bytes",
                                 enc_len, hub_batch_builder_encoded_size(b));
                goto out;
        }
        b->finished = true;
        *out = enc;
        *out_len = enc_len;
        enc = NULL;
out:
        free(enc);
        free(h);
        return rc;
}

void hub_batch_builder_free(hub_batch_builder_t *b)
{
        if (!b)
                return;
        if (b->has_value)
                avro_value_decref(&b->value);
        free(b->leaves);
        free(b);
}

/* ---- decoder ---- */

struct hub_batch {
        avro_value_t value; /* owns the strings, the records and the signature */
        bool has_value;
        hub_batch_header_t header;
        uint8_t *h; /* H, copied from the input */
        size_t h_len;
        size_t count;
        const uint8_t **rec;
        size_t *rec_len;
        uint8_t *leaves;
        const uint8_t *sig;
        uint8_t root[HB];
        uint8_t digest[HUB_BATCH_DIGEST_BYTES];
};

/* A cursor over bytes that hub_avro_validate() has accepted. It still checks every bound: it
 * must be safe on its own, not only because of what ran before it. */
struct cur {
        const uint8_t *p;
        size_t len, pos;
        hub_err_t *err;
};

static int scan_long(struct cur *c, int64_t *out, const char *what)
{
        size_t at = c->pos;
        uint64_t v = 0;
        for (int i = 0;; i++) {
                if (c->pos >= c->len)
                        return hub_err_set(c->err, HUB_E_TRUNCATED, false, "hub_batch_decode",
                                           "input ends inside %s at byte %zu", what, at);
                uint8_t b = c->p[c->pos++];
                if (i == 9 && b > 1)
                        return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                           "%s at byte %zu overflows 64 bits", what, at);
                v |= (uint64_t)(b & 0x7f) << (7 * i);
                if (b & 0x80)
                        continue;
                /* A last byte of 0 after others only pads: 0x80 0x00 is a second spelling of
                 * 0x00, so it is refused (see the comment at the top). */
                if (b == 0 && i > 0)
                        return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                           "%s at byte %zu is not a minimal varint", what, at);
                break;
        }
        *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        return 0;
}

static int scan_skip(struct cur *c, int64_t n, const char *what)
{
        if (n < 0 || (uint64_t)n > c->len - c->pos)
                return hub_err_set(c->err, HUB_E_TRUNCATED, false, "hub_batch_decode",
                                   "%s at byte %zu needs %lld bytes, %zu left", what, c->pos,
                                   (long long)n, c->len - c->pos);
        c->pos += (size_t)n;
        return 0;
}

/* The pass before allocation: limits, canonical form, the header's count against the array. */
static int scan(struct cur *c, const hub_batch_limits_t *lim, size_t *header_end)
{
        static const char *const names[3] = {"agency length", "key_id length",
                                             "producer_id length"};
        int64_t v, count;
        int rc = scan_long(c, &v, "format_version");
        for (int i = 0; i < 3 && rc == 0; i++) {
                rc = scan_long(c, &v, names[i]);
                rc = rc ? rc : scan_skip(c, v, names[i]);
        }
        rc = rc ? rc : scan_long(c, &v, "batch_seq");
        rc = rc ? rc : scan_long(c, &v, "created_at");
        rc = rc ? rc : scan_skip(c, HUB_BATCH_FINGERPRINT_BYTES, "schema_fingerprint");
        rc = rc ? rc : scan_long(c, &count, "record_count");
        if (rc < 0)
                return rc;
        *header_end = c->pos;
        if (count < 1)
                return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "record_count is %lld: a batch has at least one record",
                                   (long long)count);
        if ((uint64_t)count > lim->max_records)
                return hub_err_set(c->err, HUB_E_TOO_LARGE, false, "hub_batch_decode",
                                   "batch of %lld records exceeds the limit of %zu",
                                   (long long)count, lim->max_records);
        int64_t block;
        rc = scan_long(c, &block, "records block count");
        if (rc < 0)
                return rc;
        if (block < 0)
                return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "records use a sized block (count %lld): not the canonical "
                                   "encoding",
                                   (long long)block);
        if (block != count)
                return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "header says %lld records, the array's first block has %lld",
                                   (long long)count, (long long)block);
        for (int64_t i = 0; i < block; i++) {
                size_t at = c->pos;
                rc = scan_long(c, &v, "record length");
                if (rc < 0)
                        return rc;
                if (v >= 0 && (uint64_t)v > lim->max_record_bytes)
                        return hub_err_set(c->err, HUB_E_TOO_LARGE, false, "hub_batch_decode",
                                           "record %lld at byte %zu is %lld bytes, over the "
                                           "limit of %zu",
                                           (long long)i, at, (long long)v, lim->max_record_bytes);
                rc = scan_skip(c, v, "record");
                if (rc < 0)
                        return rc;
        }
        rc = scan_long(c, &block, "records block count");
        if (rc < 0)
                return rc;
        if (block != 0)
                return hub_err_set(c->err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "records continue in a second block: the header says %lld "
                                   "records and the canonical encoding has one block",
                                   (long long)count);
        rc = scan_skip(c, HUB_SIG_BYTES, "signature");
        if (rc < 0)
                return rc;
        if (c->pos != c->len)
                return hub_err_set(c->err, HUB_E_TRAILING, false, "hub_batch_decode",
                                   "%zu bytes after the batch", c->len - c->pos);
        return 0;
}

static int get_string(avro_value_t *hv, int index, const char *what, const char **out,
                      hub_err_t *err)
{
        avro_value_t f;
        const char *s;
        size_t size;
        if (avro_value_get_by_index(hv, (size_t)index, &f, NULL) ||
            avro_value_get_string(&f, &s, &size) || size == 0)
                return hub_err_set(err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "could not read %s: %s", what, avro_strerror());
        /* avro-c counts the NUL it appends. */
        int rc = check_id(what, s, size - 1, HUB_E_MALFORMED, err);
        if (rc < 0)
                return rc;
        *out = s;
        return 0;
}

static int extract(hub_batch_t *b, hub_err_t *err)
{
        avro_value_t hv, f, arr;
        int32_t i32;
        const void *p;
        size_t size;
        if (avro_value_get_by_index(&b->value, F_HEADER, &hv, NULL) ||
            avro_value_get_by_index(&hv, H_VERSION, &f, NULL) || avro_value_get_int(&f, &i32))
                goto broken;
        b->header.format_version = i32;
        int rc = get_string(&hv, H_AGENCY, "agency", &b->header.agency, err);
        rc = rc ? rc : get_string(&hv, H_KEY_ID, "key_id", &b->header.key_id, err);
        rc = rc ? rc : get_string(&hv, H_PRODUCER, "producer_id", &b->header.producer_id, err);
        if (rc < 0)
                return rc;
        if (avro_value_get_by_index(&hv, H_SEQ, &f, NULL) ||
            avro_value_get_long(&f, &b->header.batch_seq) ||
            avro_value_get_by_index(&hv, H_CREATED, &f, NULL) ||
            avro_value_get_long(&f, &b->header.created_at_ms) ||
            avro_value_get_by_index(&hv, H_FINGERPRINT, &f, NULL) ||
            avro_value_get_fixed(&f, &p, &size) || size != HUB_BATCH_FINGERPRINT_BYTES ||
            avro_value_get_by_index(&hv, H_COUNT, &f, NULL) ||
            avro_value_get_int(&f, &b->header.record_count))
                goto broken;
        memcpy(b->header.schema_fingerprint, p, HUB_BATCH_FINGERPRINT_BYTES);
        if (b->header.batch_seq < 0 || b->header.created_at_ms < 0)
                return hub_err_set(err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "batch_seq %lld or created_at %lld is negative",
                                   (long long)b->header.batch_seq,
                                   (long long)b->header.created_at_ms);

        if (avro_value_get_by_index(&b->value, F_RECORDS, &arr, NULL) ||
            avro_value_get_size(&arr, &b->count))
                goto broken;
        /* scan() saw the same count; avro-c read the same bytes. */
        if (b->count != (size_t)b->header.record_count)
                return hub_err_set(err, HUB_E_MALFORMED, false, "hub_batch_decode",
                                   "header says %d records, the array has %zu",
                                   b->header.record_count, b->count);
        b->rec = calloc(b->count, sizeof(*b->rec));
        b->rec_len = calloc(b->count, sizeof(*b->rec_len));
        b->leaves = calloc(b->count, HB);
        if (!b->rec || !b->rec_len || !b->leaves)
                return hub_err_set(err, HUB_E_NOMEM, false, "hub_batch_decode", "out of memory");
        for (size_t i = 0; i < b->count; i++) {
                avro_value_t item;
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    avro_value_get_bytes(&item, &p, &size))
                        goto broken;
                b->rec[i] = p;
                b->rec_len[i] = size;
                hub_merkle_leaf_hash(p, size, b->leaves + i * HB);
        }
        if (avro_value_get_by_index(&b->value, F_SIGNATURE, &f, NULL) ||
            avro_value_get_fixed(&f, &p, &size) || size != HUB_SIG_BYTES)
                goto broken;
        b->sig = p;
        return 0;
broken:
        return hub_err_set(err, HUB_E_MALFORMED, false, "hub_batch_decode",
                           "could not read the decoded batch: %s", avro_strerror());
}

int hub_batch_decode(const void *buf, size_t len, const hub_batch_limits_t *limits,
                     hub_batch_t **out, hub_err_t *err)
{
        if (!out || (!buf && len))
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "buf and out required");
        *out = NULL;
        hub_batch_limits_t lim = limits_or_defaults(limits);
        /* 1. Size, before looking at any byte. */
        if (len > lim.max_batch_bytes)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                   "batch of %zu bytes exceeds the limit of %zu", len,
                                   lim.max_batch_bytes);
        /* 2. The format version, first on the wire, so that a later layout is named as such
         * rather than reported as garbage by the v1 schema. */
        struct cur c = {.p = buf, .len = len, .pos = 0, .err = err};
        int64_t version;
        int rc = scan_long(&c, &version, "format_version");
        if (rc < 0)
                return rc;
        if (version != HUB_BATCH_FORMAT_VERSION)
                return hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                   "unsupported batch format version %lld, this hub reads %d",
                                   (long long)version, HUB_BATCH_FORMAT_VERSION);
        rc = schema_get(err);
        if (rc < 0)
                return rc;
        /* 3. Avro structure: every length and count within the input, nothing allocated. */
        rc = hub_avro_validate(schema, buf, len, err);
        if (rc < 0) {
                hub_err_prefix(err, "could not decode batch");
                return rc;
        }
        /* 4. Canonical form, limits, the header's record count against the array. */
        c.pos = 0;
        size_t header_end;
        rc = scan(&c, &lim, &header_end);
        if (rc < 0)
                return rc;

        /* 5. Only now allocate, and let avro-c read the bytes. hub_avro_decode() validates a
         * second time; a walk without allocation is cheap beside the signature check, and it
         * keeps avro-c behind the one entry point that guards it. */
        hub_batch_t *b = calloc(1, sizeof(*b));
        if (!b)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        if (avro_generic_value_new(iface, &b->value) != 0) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                 "could not create avro value: %s", avro_strerror());
                goto fail;
        }
        b->has_value = true;
        rc = hub_avro_decode(schema, buf, len, &b->value, err);
        if (rc < 0)
                goto fail;
        rc = extract(b, err);
        if (rc < 0)
                goto fail;
        b->h_len = header_end;
        b->h = malloc(header_end);
        if (!b->h) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                goto fail;
        }
        memcpy(b->h, buf, header_end);
        hub_merkle_root(b->leaves, b->count, b->root);
        hub_batch_signed_digest(b->h, b->h_len, b->root, b->digest);
        *out = b;
        return 0;
fail:
        hub_batch_free(b);
        return rc;
}

int hub_batch_verify(const hub_batch_t *b, const uint8_t *pk, size_t pk_len, hub_err_t *err)
{
        if (!b)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "batch required");
        if (!pk || pk_len != HUB_PK_BYTES)
                return hub_err_set(err, HUB_E_KEY, false, __func__,
                                   "could not verify batch: public key is %zu bytes, not %d",
                                   pk ? pk_len : 0, HUB_PK_BYTES);
        /* libsodium refuses such keys inside verify too; asking first tells a broken key
         * registration (KEY) apart from a forged or damaged batch (SIGNATURE). */
        if (!crypto_core_ed25519_is_valid_point(pk))
                return hub_err_set(err, HUB_E_KEY, false, __func__,
                                   "could not verify batch: key %s/%s is not a valid Ed25519 "
                                   "public key",
                                   b->header.agency, b->header.key_id);
        if (crypto_sign_verify_detached(b->sig, b->digest, sizeof(b->digest), pk) != 0)
                return hub_err_set(err, HUB_E_SIGNATURE, false, __func__,
                                   "could not verify batch %s/%s/%lld: signature does not match "
                                   "key %s",
                                   b->header.agency, b->header.producer_id,
                                   (long long)b->header.batch_seq, b->header.key_id);
        return 0;
}

void hub_batch_free(hub_batch_t *b)
{
        if (!b)
                return;
        if (b->has_value)
                avro_value_decref(&b->value);
        free(b->h);
        free(b->rec);
        free(b->rec_len);
        free(b->leaves);
        free(b);
}

const hub_batch_header_t *hub_batch_header(const hub_batch_t *b)
{
        return &b->header;
}

size_t hub_batch_count(const hub_batch_t *b)
{
        return b->count;
}

const uint8_t *hub_batch_record(const hub_batch_t *b, size_t i, size_t *len)
{
        if (i >= b->count)
                return NULL;
        if (len)
                *len = b->rec_len[i];
        return b->rec[i];
}

const uint8_t *hub_batch_header_bytes(const hub_batch_t *b, size_t *len)
{
        if (len)
                *len = b->h_len;
        return b->h;
}

const uint8_t *hub_batch_root(const hub_batch_t *b)
{
        return b->root;
}

const uint8_t *hub_batch_digest(const hub_batch_t *b)
{
        return b->digest;
}

const uint8_t *hub_batch_signature(const hub_batch_t *b)
{
        return b->sig;
}

int hub_batch_audit_path(const hub_batch_t *b, size_t i, uint8_t *out, size_t out_cap,
                         size_t *out_len, hub_err_t *err)
{
        if (!b || !out || !out_len)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "batch and out required");
        return hub_merkle_inclusion_path(b->leaves, b->count, i, out, out_cap, out_len, err);
}

int hub_batch_verify_record(const void *record, size_t len, uint64_t index, uint64_t count,
                            const uint8_t *path, size_t path_len, const uint8_t *root,
                            size_t root_len, hub_err_t *err)
{
        if (!record && len)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "record required");
        uint8_t leaf[HB];
        hub_merkle_leaf_hash(record, len, leaf);
        return hub_merkle_verify_inclusion(leaf, sizeof(leaf), index, count, path, path_len, root,
                                           root_len, err);
}
