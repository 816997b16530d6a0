/* One signed batch into PostgreSQL in one transaction: see hub/ingest.h for the steps.
 *
 * Round trips per batch are constant, not per record: one query finds the stored copies of all
 * record ids, one takes the identifier locks, one looks up all merge keys, and records,
 * identifiers, statements, rejects and outbox rows each go in with one COPY. */
#include "correct.h"
#include "merge.h"
#include "sqlbuf.h"
#include "views.h"

#include <hub/arena.h>
#include <hub/avro.h>
#include <hub/extract.h>
#include <hub/failpoint.h>
#include <hub/ingest.h>
#include <hub/mlog_store.h>
#include <hub/report.h>
#include <hub/resolve.h>
#include <hub/timestamp.h>

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A new entity's placeholder id until the sequence gives real ones: larger than any real id,
 * so that hub_resolve_entity() prefers an existing (older) entity, and among new ones the
 * first created, exactly as it will with the real ids. */
#define NEWBASE (INT64_MAX / 2)

enum { R_NEW = 0, R_SAME, R_REJECT };

struct rec {
        const uint8_t *bytes;
        size_t len;
        uint8_t sha[32];
        int state;
        int dup_of; /* index of an earlier record of this batch with the same id, or -1 */
        hub_extract_t x;
        int64_t entity;
};

struct rej {
        const char *agency, *record_id;
        int batch_index; /* -1: the whole batch */
        const char *reason, *message;
        const void *bytes;
        size_t len;
};

struct hub_ingest {
        hub_store_t *store;
        hub_batch_limits_t limits;
        int noisy_threshold;
        hub_report_codec_t *codec;
        hub_views_t *views;
        hub_correct_t *correct;
        hub_arena_t *arena;
        hub_sqlbuf_t buf, arr, arr2;
        struct rej *rejs;
        size_t n_rejs, cap_rejs;
};

/* ---- a string -> int64 map sized up front, in the arena ---- */

struct smap {
        size_t cap;
        const char **keys;
        int64_t *vals;
};

static int smap_init(struct smap *m, hub_arena_t *a, size_t expected)
{
        m->cap = 16;
        while (m->cap < 2 * expected + 2)
                m->cap *= 2;
        m->keys = hub_arena_alloc(a, m->cap * sizeof(*m->keys));
        m->vals = hub_arena_alloc(a, m->cap * sizeof(*m->vals));
        if (!m->keys || !m->vals)
                return -1;
        memset(m->keys, 0, m->cap * sizeof(*m->keys));
        return 0;
}

static size_t smap_slot(const struct smap *m, const char *k)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *)k; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        size_t i = (size_t)h & (m->cap - 1);
        while (m->keys[i] && strcmp(m->keys[i], k) != 0)
                i = (i + 1) & (m->cap - 1);
        return i;
}

static int64_t *smap_get(struct smap *m, const char *k)
{
        size_t i = smap_slot(m, k);
        return m->keys[i] ? &m->vals[i] : NULL;
}

/* Insert k (kept by reference) unless present; returns its value slot. */
static int64_t *smap_put(struct smap *m, const char *k, int64_t v)
{
        size_t i = smap_slot(m, k);
        if (!m->keys[i]) {
                m->keys[i] = k;
                m->vals[i] = v;
        }
        return &m->vals[i];
}

/* ---- setup ---- */

int hub_ingest_new(hub_store_t *s, const hub_ingest_opts_t *opts, hub_ingest_t **out,
                   hub_err_t *err)
{
        if (!s || !opts || !opts->hub_key || !opts->hub_key->has_secret)
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "a store and the hub's secret key are required");
        hub_ingest_t *ing = calloc(1, sizeof(*ing));
        if (!ing)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        ing->store = s;
        ing->noisy_threshold = opts->noisy_threshold;
        hub_ingest_set_limits(ing, &opts->limits);
        int rc = hub_report_codec_new(&ing->codec, err);
        if (!rc)
                rc = hub_views_new(opts->hub_key, &ing->views, err);
        if (!rc)
                rc = hub_correct_new(&ing->correct, err);
        if (!rc && !(ing->arena = hub_arena_new()))
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        if (rc) {
                hub_ingest_free(ing);
                return rc;
        }
        *out = ing;
        return 0;
}

void hub_ingest_free(hub_ingest_t *ing)
{
        if (!ing)
                return;
        hub_report_codec_free(ing->codec);
        hub_views_free(ing->views);
        hub_correct_free(ing->correct);
        hub_arena_free(ing->arena);
        hub_sqlbuf_done(&ing->buf);
        hub_sqlbuf_done(&ing->arr);
        hub_sqlbuf_done(&ing->arr2);
        free(ing->rejs);
        free(ing);
}

void hub_ingest_set_limits(hub_ingest_t *ing, const hub_batch_limits_t *limits)
{
        ing->limits = *limits;
        if (!ing->limits.max_records)
                ing->limits.max_records = HUB_BATCH_DEFAULT_MAX_RECORDS;
        if (!ing->limits.max_record_bytes)
                ing->limits.max_record_bytes = HUB_BATCH_DEFAULT_MAX_RECORD_BYTES;
        if (!ing->limits.max_batch_bytes)
                ing->limits.max_batch_bytes = HUB_BATCH_DEFAULT_MAX_BATCH_BYTES;
}

/* ---- rejects ---- */

static int add_reject(hub_ingest_t *ing, const char *agency, const char *record_id, int index,
                      const char *reason, const char *message, const void *bytes, size_t len,
                      hub_ingest_result_t *res, hub_err_t *err)
{
        if (ing->n_rejs == ing->cap_rejs) {
                size_t cap = ing->cap_rejs ? 2 * ing->cap_rejs : 16;
                struct rej *r = realloc(ing->rejs, cap * sizeof(*r));
                if (!r)
                        return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
                ing->rejs = r;
                ing->cap_rejs = cap;
        }
        struct rej *r = &ing->rejs[ing->n_rejs];
        r->agency = agency ? hub_arena_strdup(ing->arena, agency) : NULL;
        r->record_id = record_id ? hub_arena_strdup(ing->arena, record_id) : NULL;
        r->batch_index = index;
        r->reason = reason; /* static strings */
        r->message = hub_arena_strdup(ing->arena, message);
        r->bytes = bytes;
        r->len = len;
        if ((agency && !r->agency) || (record_id && !r->record_id) || !r->message)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        ing->n_rejs++;
        if (!res->reason[0]) {
                snprintf(res->reason, sizeof(res->reason), "%s", reason);
                snprintf(res->message, sizeof(res->message), "%s", message);
        }
        return 0;
}

/* The hub.rejects message: JSON, so an operator reads it with any Kafka client, carrying the
 * original bytes (base64) with where they came from, the reason code and the message. */
static char *reject_json(const hub_ingest_msg_t *m, const struct rej *r)
{
        size_t b64_len = sodium_base64_ENCODED_LEN(r->len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64_len);
        if (!b64)
                return NULL;
        sodium_bin2base64(b64, b64_len, r->bytes, r->len, sodium_base64_VARIANT_ORIGINAL);
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:s}", "reason",
                              r->reason, "message", r->message, "topic", m->topic, "partition",
                              (int)m->partition, "offset", (json_int_t)m->offset, "agency",
                              r->agency ? json_string(r->agency) : json_null(), "record_id",
                              r->record_id ? json_string(r->record_id) : json_null(),
                              "batch_index",
                              r->batch_index >= 0 ? json_integer(r->batch_index) : json_null(),
                              "bytes", b64);
        free(b64);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(j);
        return s;
}

static int write_rejects(hub_ingest_t *ing, const hub_ingest_msg_t *m, hub_ingest_result_t *res,
                         hub_err_t *err)
{
        if (!ing->n_rejs)
                return 0;
        hub_sqlbuf_t *b = &ing->buf;
        hub_sqlbuf_reset(b);
        for (size_t i = 0; i < ing->n_rejs; i++) {
                const struct rej *r = &ing->rejs[i];
                hub_copy_text(b, m->topic);
                hub_copy_int(b, m->partition);
                hub_copy_int(b, m->offset);
                hub_copy_text(b, r->agency);
                hub_copy_text(b, r->record_id);
                if (r->batch_index >= 0)
                        hub_copy_int(b, r->batch_index);
                else
                        hub_copy_null(b);
                hub_copy_text(b, r->reason);
                hub_copy_text(b, r->message);
                hub_copy_bytea(b, r->bytes, r->len);
                hub_copy_end_row(b);
        }
        int rc = hub_copy_run(ing->store,
                              "COPY rejects (topic, partition, \"offset\", agency, record_id, "
                              "batch_index, reason, message, bytes) FROM STDIN",
                              b, "store rejects", err);
        if (rc)
                return rc;
        hub_sqlbuf_reset(b);
        for (size_t i = 0; i < ing->n_rejs; i++) {
                const struct rej *r = &ing->rejs[i];
                char *json = reject_json(m, r);
                if (!json)
                        return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
                hub_copy_text(b, HUB_REJECTS_TOPIC);
                if (r->agency)
                        hub_copy_bytea(b, r->agency, strlen(r->agency));
                else
                        hub_copy_null(b);
                hub_copy_bytea(b, json, strlen(json));
                hub_copy_null(b);
                hub_copy_null(b);
                hub_copy_end_row(b);
                free(json);
                res->outbox++;
        }
        return hub_copy_run(ing->store,
                            "COPY outbox (topic, key, payload, entity_id, version) FROM STDIN", b,
                            "store reject messages", err);
}

/* ---- checks of the batch as a whole ---- */

/* Whether topic is agency.<agency>.reports. */
static bool topic_is_agency(const char *topic, const char *agency)
{
        size_t n = strlen(agency), t = strlen(topic);
        return t == n + 15 && strncmp(topic, "agency.", 7) == 0 &&
               strncmp(topic + 7, agency, n) == 0 && strcmp(topic + 7 + n, ".reports") == 0;
}

/* A bigint in PostgreSQL's binary result format (big-endian). */
static int64_t be64(const char *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = (v << 8) | (unsigned char)p[i];
        return (int64_t)v;
}

/* 0 when the key is usable and the signature verifies; 1 with *reason and msg set when the
 * batch is to be rejected; <0 on a database error. */
static int check_key(hub_ingest_t *ing, const hub_batch_t *b, const char **reason, char *msg,
                     size_t cap, hub_err_t *err)
{
        const hub_batch_header_t *h = hub_batch_header(b);
        const char *params[2] = {h->agency, h->key_id};
        /* Times in whole ms, as created_at is: the key's bounds round up; the receipt (the
         * transaction's start, the hub's clock) and the revocation's registration (its key
         * event, in us) round down, so the revocation closes the key no later than it was
         * registered. */
        PGresult *res = PQexecParams(
                hub_store_conn(ing->store),
                "SELECT k.public_key, ceil(extract(epoch FROM k.valid_from) * 1000)::bigint,"
                " ceil(extract(epoch FROM k.valid_until) * 1000)::bigint,"
                " ceil(extract(epoch FROM k.revoked_at) * 1000)::bigint,"
                " (SELECT max(e.at) / 1000 FROM key_events e WHERE e.agency = k.agency"
                "  AND e.key_id = k.key_id AND e.event = 'revoke'),"
                " floor(extract(epoch FROM now()) * 1000)::bigint "
                "FROM agency_keys k WHERE k.agency = $1 AND k.key_id = $2",
                2, NULL, params, NULL, NULL, 1);
        int rc = hub_store_check(ing->store, res, PGRES_TUPLES_OK, "look up the batch's key", err);
        if (rc)
                goto out;
        if (PQntuples(res) == 0) {
                *reason = "KEY_UNKNOWN";
                snprintf(msg, cap, "could not verify batch: key %s of agency %s is not registered",
                         h->key_id, h->agency);
                rc = 1;
                goto out;
        }
        hub_key_window_t w = {0};
        w.valid_from_ms = be64(PQgetvalue(res, 0, 1));
        if ((w.has_valid_until = !PQgetisnull(res, 0, 2)))
                w.valid_until_ms = be64(PQgetvalue(res, 0, 2));
        if ((w.revoked = !PQgetisnull(res, 0, 3)))
                w.revoked_at_ms = be64(PQgetvalue(res, 0, 3));
        if (!PQgetisnull(res, 0, 4))
                w.revocation_registered_ms = be64(PQgetvalue(res, 0, 4));
        int64_t received_ms = be64(PQgetvalue(res, 0, 5));
        int verdict = hub_resolve_key_accept(&w, h->created_at_ms, received_ms);
        if (verdict != HUB_KEYV_OK) {
                char t1[HUB_TIMESTAMP_MAX], t2[HUB_TIMESTAMP_MAX], t3[HUB_TIMESTAMP_MAX];
                int64_t at = verdict == HUB_KEYV_NOT_YET_VALID ? w.valid_from_ms
                             : verdict == HUB_KEYV_EXPIRED     ? w.valid_until_ms
                                                               : w.revoked_at_ms;
                static const char *const why[] = {"", "is not valid before", "expired at",
                                                  "was revoked at"};
                *reason = hub_resolve_key_reason(verdict);
                hub_timestamp_format(at * 1000, t1);
                hub_timestamp_format(h->created_at_ms * 1000, t2);
                hub_timestamp_format(received_ms * 1000, t3);
                int k = snprintf(msg, cap,
                                 "could not verify batch: key %s of agency %s %s %s; batch "
                                 "created at %s, received at %s",
                                 h->key_id, h->agency, why[verdict], t1, t2, t3);
                if (verdict == HUB_KEYV_REVOKED && w.revocation_registered_ms > 0 && k > 0 &&
                    (size_t)k < cap) {
                        hub_timestamp_format(w.revocation_registered_ms * 1000, t1);
                        snprintf(msg + k, cap - (size_t)k, " (revocation registered at %s)", t1);
                }
                rc = 1;
                goto out;
        }
        hub_err_t verr = {0};
        if (hub_batch_verify(b, (const uint8_t *)PQgetvalue(res, 0, 0),
                             (size_t)PQgetlength(res, 0, 0), &verr)) {
                *reason = "SIGNATURE_INVALID";
                snprintf(msg, cap, "could not verify batch with key %s: %s", h->key_id,
                         verr.msg);
                rc = 1;
        }
out:
        PQclear(res);
        return rc;
}

/* ---- records ---- */

static int decode_records(hub_ingest_t *ing, const hub_batch_t *b, struct rec *recs, size_t n,
                          struct smap *ids, hub_ingest_result_t *res, hub_err_t *err)
{
        const char *agency = hub_batch_header(b)->agency;
        char msg[512];
        for (size_t i = 0; i < n; i++) {
                struct rec *r = &recs[i];
                r->bytes = hub_batch_record(b, i, &r->len);
                r->dup_of = -1;
                crypto_hash_sha256(r->sha, r->bytes, r->len);
                avro_value_t *v;
                hub_err_t rerr = {0};
                int rc = hub_report_decode(ing->codec, r->bytes, r->len, &v, &rerr);
                if (!rc)
                        rc = hub_extract_report(v, ing->arena, &r->x, &rerr);
                if (rc == -HUB_E_NOMEM || rc == -HUB_E_CONFIG) {
                        *err = rerr;
                        return rc;
                }
                if (rc) {
                        snprintf(msg, sizeof(msg), "record %zu: %s", i, rerr.msg);
                        r->state = R_REJECT;
                        rc = add_reject(ing, agency, NULL, (int)i, hub_err_name(rc), msg,
                                        r->bytes, r->len, res, err);
                        if (rc)
                                return rc;
                        continue;
                }
                if (strcmp(r->x.agency, agency) != 0) {
                        snprintf(msg, sizeof(msg),
                                 "record %s names agency %s in a batch of agency %s",
                                 r->x.record_id, r->x.agency, agency);
                        r->state = R_REJECT;
                        rc = add_reject(ing, agency, r->x.record_id, (int)i, "AGENCY_MISMATCH",
                                        msg, r->bytes, r->len, res, err);
                        if (rc)
                                return rc;
                        continue;
                }
                int64_t *first = smap_put(ids, r->x.record_id, (int64_t)i);
                if (*first != (int64_t)i)
                        r->dup_of = (int)*first;
                res->invalid_identifiers += r->x.n_invalid;
        }
        return 0;
}

/* Compare every record with the copy stored under its id (one query), and with an earlier
 * record of this batch under the same id. The same query finds a replay: a record stored from
 * a batch with this very signature. Ed25519 signatures are deterministic and libsodium accepts
 * only canonical ones, so one key's signature names one digest: the signature identifies the
 * batch (header and Merkle root) as the digest would, and a batch that was stored has at least
 * one record, so the records' primary key finds it without another index. *replay_of is set
 * to where the batch was first read ("topic[partition]@offset"), or stays NULL. */
static int dedup(hub_ingest_t *ing, const hub_batch_t *b, struct rec *recs, size_t n,
                 struct smap *ids, const char **replay_of, hub_ingest_result_t *res,
                 hub_err_t *err)
{
        const char *agency = hub_batch_header(b)->agency;
        const char **names = hub_arena_alloc(ing->arena, (n ? n : 1) * sizeof(char *));
        size_t k = 0;
        if (!names)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        for (size_t i = 0; i < n; i++)
                if (recs[i].state == R_NEW && recs[i].dup_of < 0)
                        names[k++] = recs[i].x.record_id;
        const uint8_t **stored = hub_arena_alloc(ing->arena, (n ? n : 1) * sizeof(uint8_t *));
        if (!stored)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        memset(stored, 0, n * sizeof(uint8_t *));
        PGresult *q = NULL;
        if (k) {
                hub_array_text(&ing->arr, names, k);
                const char *params[3] = {agency, hub_sqlbuf_str(&ing->arr),
                                         (const char *)hub_batch_signature(b)};
                int lens[3] = {0, 0, HUB_SIG_BYTES}, fmts[3] = {0, 0, 1};
                q = PQexecParams(hub_store_conn(ing->store),
                                 "SELECT r.record_id, r.payload_sha256, CASE WHEN b.signature = "
                                 "$3::bytea THEN format('%s[%s]@%s', b.topic, b.partition, "
                                 "b.\"offset\") END FROM records r JOIN batches b ON b.id = "
                                 "r.batch_id WHERE r.agency = $1 AND r.record_id = "
                                 "ANY($2::text[])",
                                 3, NULL, params, lens, fmts, 1);
                int rc = hub_store_check(ing->store, q, PGRES_TUPLES_OK,
                                         "look up stored records", err);
                if (rc) {
                        PQclear(q);
                        return rc;
                }
                for (int t = 0; t < PQntuples(q); t++) {
                        int64_t *i = smap_get(ids, PQgetvalue(q, t, 0));
                        if (i && PQgetlength(q, t, 1) == 32)
                                stored[*i] = (const uint8_t *)PQgetvalue(q, t, 1);
                        if (!PQgetisnull(q, t, 2) && !*replay_of) {
                                *replay_of = hub_arena_strdup(ing->arena, PQgetvalue(q, t, 2));
                                if (!*replay_of) {
                                        PQclear(q);
                                        return hub_err_set(err, HUB_E_NOMEM, false, "ingest",
                                                           "out of memory");
                                }
                        }
                }
                if (*replay_of) {
                        PQclear(q);
                        return 0;
                }
        }
        int rc = 0;
        char msg[512];
        for (size_t i = 0; i < n && !rc; i++) {
                struct rec *r = &recs[i];
                if (r->state != R_NEW)
                        continue;
                int verdict;
                if (r->dup_of >= 0) {
                        const struct rec *f = &recs[r->dup_of];
                        verdict = hub_resolve_record(stored[r->dup_of] ? stored[r->dup_of]
                                                                       : f->sha,
                                                     r->sha);
                } else {
                        verdict = hub_resolve_record(stored[i], r->sha);
                }
                if (verdict == HUB_REC_SAME) {
                        r->state = R_SAME;
                        res->duplicates++;
                } else if (verdict == HUB_REC_CONFLICT) {
                        r->state = R_REJECT;
                        snprintf(msg, sizeof(msg),
                                 "record %s of agency %s was already received with other "
                                 "content",
                                 r->x.record_id, agency);
                        rc = add_reject(ing, agency, r->x.record_id, (int)i, "RECORD_CONFLICT",
                                        msg, r->bytes, r->len, res, err);
                }
        }
        PQclear(q);
        return rc;
}

static char *merge_key(hub_arena_t *a, const hub_merge_key_t *k)
{
        size_t t = strlen(k->type), v = strlen(k->value);
        char *s = hub_arena_alloc(a, t + v + 2);
        if (s) {
                memcpy(s, k->type, t);
                s[t] = '\x1f';
                memcpy(s + t + 1, k->value, v + 1);
        }
        return s;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

struct claim {
        const char *type, *value;
        int64_t *entity; /* the key's slot in the key map, final after id assignment */
};

/* Lock, look up and resolve the merge keys of the new records; assign every new record an
 * entity (existing, or a placeholder >= NEWBASE). *claims receives the keys this batch stores
 * in identifiers. *n_new counts the placeholders. */
static int resolve(hub_ingest_t *ing, struct rec *recs, size_t n, struct claim **claims,
                   size_t *n_claims, size_t *n_new, hub_ingest_result_t *res, hub_err_t *err)
{
        hub_arena_t *a = ing->arena;
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
                if (recs[i].state == R_NEW)
                        total += recs[i].x.n_keys;
        struct smap keys;
        const char **ktype = hub_arena_alloc(a, (total + 1) * sizeof(char *));
        const char **kval = hub_arena_alloc(a, (total + 1) * sizeof(char *));
        int64_t *locks = hub_arena_alloc(a, (total + 1) * sizeof(int64_t));
        char **kstr = hub_arena_alloc(a, (total + 1) * sizeof(char *));
        *claims = hub_arena_alloc(a, (total + 1) * sizeof(struct claim));
        int64_t *matches = hub_arena_alloc(a, (total + 1) * sizeof(int64_t));
        if (smap_init(&keys, a, total) || !ktype || !kval || !locks || !kstr || !*claims ||
            !matches)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        size_t nk = 0;
        for (size_t i = 0; i < n; i++) {
                if (recs[i].state != R_NEW)
                        continue;
                for (size_t j = 0; j < recs[i].x.n_keys; j++) {
                        char *s = merge_key(a, &recs[i].x.keys[j]);
                        if (!s)
                                return hub_err_set(err, HUB_E_NOMEM, false, "ingest",
                                                   "out of memory");
                        if (smap_get(&keys, s))
                                continue;
                        smap_put(&keys, s, 0);
                        kstr[nk] = s;
                        ktype[nk] = recs[i].x.keys[j].type;
                        kval[nk] = recs[i].x.keys[j].value;
                        locks[nk] = (int64_t)hub_avro_crc64(s, strlen(s));
                        nk++;
                }
        }
        int rc = 0;
        if (nk) {
                /* Locks in one global order, so two instances never deadlock on them; they
                 * make "look up, then create" atomic per identifier across instances. */
                qsort(locks, nk, sizeof(*locks), cmp_i64);
                hub_array_int(&ing->arr, locks, nk);
                const char *p1[1] = {hub_sqlbuf_str(&ing->arr)};
                PGresult *q = PQexecParams(hub_store_conn(ing->store),
                                           "SELECT count(pg_advisory_xact_lock(k)) "
                                           "FROM unnest($1::bigint[]) AS k",
                                           1, NULL, p1, NULL, NULL, 0);
                rc = hub_store_check(ing->store, q, PGRES_TUPLES_OK, "lock identifiers", err);
                PQclear(q);
                if (rc)
                        return rc;
                hub_array_text(&ing->arr, ktype, nk);
                hub_array_text(&ing->arr2, kval, nk);
                const char *p2[2] = {hub_sqlbuf_str(&ing->arr), hub_sqlbuf_str(&ing->arr2)};
                q = PQexecParams(hub_store_conn(ing->store),
                                 "SELECT i.type, i.value, coalesce(e.merged_into, e.id) "
                                 "FROM identifiers i JOIN entities e ON e.id = i.entity_id "
                                 "WHERE (i.type, i.value) IN "
                                 "(SELECT * FROM unnest($1::text[], $2::text[]))",
                                 2, NULL, p2, NULL, NULL, 0);
                rc = hub_store_check(ing->store, q, PGRES_TUPLES_OK, "look up identifiers",
                                     err);
                if (rc) {
                        PQclear(q);
                        return rc;
                }
                for (int t = 0; t < PQntuples(q); t++) {
                        hub_merge_key_t k = {PQgetvalue(q, t, 0), PQgetvalue(q, t, 1)};
                        char *s = merge_key(a, &k);
                        int64_t *slot = s ? smap_get(&keys, s) : NULL;
                        if (slot)
                                *slot = strtoll(PQgetvalue(q, t, 2), NULL, 10);
                }
                PQclear(q);
        }
        /* In record order, so that within one batch the first record of a new identifier
         * creates its entity and the later ones attach to it. */
        *n_new = 0;
        *n_claims = 0;
        for (size_t i = 0; i < n; i++) {
                struct rec *r = &recs[i];
                if (r->state != R_NEW)
                        continue;
                if (r->x.retracts) {
                        r->entity = 0; /* filed under its target's entity when applied */
                        continue;
                }
                size_t nm = 0;
                for (size_t j = 0; j < r->x.n_keys; j++) {
                        char *s = merge_key(a, &r->x.keys[j]);
                        int64_t *slot = s ? smap_get(&keys, s) : NULL;
                        if (slot && *slot > 0)
                                matches[nm++] = *slot;
                }
                hub_resolve_decision_t d;
                hub_resolve_entity(matches, nm, &d);
                r->entity = d.action == HUB_RESOLVE_NEW ? NEWBASE + (int64_t)(*n_new)++
                                                         : d.entity_id;
                /* Entities also matched are left unmerged: merging is a later issue. */
                res->left_unmerged += d.n_left;
                for (size_t j = 0; j < r->x.n_keys; j++) {
                        char *s = merge_key(a, &r->x.keys[j]);
                        int64_t *slot = s ? smap_get(&keys, s) : NULL;
                        if (!slot || *slot > 0)
                                continue;
                        *slot = r->entity;
                        (*claims)[(*n_claims)++] = (struct claim){r->x.keys[j].type,
                                                                  r->x.keys[j].value, slot};
                }
        }
        return 0;
}

/* Real ids for the placeholders, from the sequence in one query; they grow like the
 * placeholders, so "oldest" means the same. */
static int assign_ids(hub_ingest_t *ing, struct rec *recs, size_t n, struct claim *claims,
                      size_t n_claims, size_t n_new, int64_t **ids, hub_err_t *err)
{
        *ids = hub_arena_alloc(ing->arena, (n_new + 1) * sizeof(int64_t));
        if (!*ids)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        if (!n_new)
                return 0;
        char count[24];
        snprintf(count, sizeof(count), "%zu", n_new);
        const char *p[1] = {count};
        PGresult *q = PQexecParams(hub_store_conn(ing->store),
                                   "SELECT nextval('entities_id_seq') FROM generate_series(1, $1)",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(ing->store, q, PGRES_TUPLES_OK, "allocate entity ids", err);
        if (!rc && (size_t)PQntuples(q) != n_new)
                rc = hub_err_set(err, HUB_E_DB, false, "ingest", "allocated %d entity ids, not %zu",
                                 PQntuples(q), n_new);
        for (size_t i = 0; !rc && i < n_new; i++)
                (*ids)[i] = strtoll(PQgetvalue(q, (int)i, 0), NULL, 10);
        PQclear(q);
        if (rc)
                return rc;
        qsort(*ids, n_new, sizeof(int64_t), cmp_i64);
        for (size_t i = 0; i < n; i++)
                if (recs[i].state == R_NEW && recs[i].entity >= NEWBASE)
                        recs[i].entity = (*ids)[recs[i].entity - NEWBASE];
        for (size_t i = 0; i < n_claims; i++)
                if (*claims[i].entity >= NEWBASE)
                        *claims[i].entity = (*ids)[*claims[i].entity - NEWBASE];
        return 0;
}

static void copy_timestamp_ms(hub_sqlbuf_t *b, int64_t ms)
{
        /* COPY reads timestamptz from text: seconds since the epoch via an ISO string. */
        char tmp[48];
        time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int64_t frac = ms - (int64_t)sec * 1000;
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t k = strftime(tmp, sizeof(tmp), "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(tmp + k, sizeof(tmp) - k, ".%03d+00", (int)frac);
        hub_copy_text(b, tmp);
}

static int store_batch_row(hub_ingest_t *ing, const hub_ingest_msg_t *m, const hub_batch_t *b,
                           int64_t *batch_id, hub_err_t *err)
{
        const hub_batch_header_t *h = hub_batch_header(b);
        char seq[24], created[24], count[16], part[16], off[24];
        snprintf(seq, sizeof(seq), "%" PRId64, h->batch_seq);
        snprintf(created, sizeof(created), "%" PRId64, h->created_at_ms);
        snprintf(count, sizeof(count), "%zu", hub_batch_count(b));
        snprintf(part, sizeof(part), "%d", (int)m->partition);
        snprintf(off, sizeof(off), "%" PRId64, m->offset);
        const char *v[13] = {h->agency,
                             h->key_id,
                             h->producer_id,
                             seq,
                             created,
                             (const char *)h->schema_fingerprint,
                             count,
                             (const char *)hub_batch_root(b),
                             (const char *)hub_batch_signature(b),
                             m->buf,
                             m->topic,
                             part,
                             off};
        int len[13] = {0, 0, 0, 0, 0, 8, 0, 32, 64, (int)m->len, 0, 0, 0};
        int fmt[13] = {0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0};
        PGresult *q = PQexecParams(
                hub_store_conn(ing->store),
                "INSERT INTO batches (agency, key_id, producer_id, batch_seq, created_at,"
                " schema_fingerprint, record_count, merkle_root, signature, bytes, topic,"
                " partition, \"offset\") VALUES ($1, $2, $3, $4, to_timestamp($5::bigint / "
                "1000.0), $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                13, NULL, v, len, fmt, 0);
        int rc = hub_store_check(ing->store, q, PGRES_TUPLES_OK, "store the batch", err);
        if (!rc)
                *batch_id = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
        PQclear(q);
        return rc;
}

static int store_rows(hub_ingest_t *ing, const hub_ingest_msg_t *m, const hub_batch_t *b,
                      struct rec *recs, size_t n, struct claim *claims, size_t n_claims,
                      const int64_t *new_ids, size_t n_new, hub_err_t *err)
{
        int64_t batch_id;
        int rc = store_batch_row(ing, m, b, &batch_id, err);
        if (rc)
                return rc;
        hub_sqlbuf_t *buf = &ing->buf;
        /* New entities take the kind of the record that created them. */
        hub_sqlbuf_reset(buf);
        for (size_t k = 0; k < n_new; k++) {
                for (size_t i = 0; i < n; i++) {
                        if (recs[i].state == R_NEW && recs[i].entity == new_ids[k]) {
                                hub_copy_int(buf, new_ids[k]);
                                hub_copy_text(buf, recs[i].x.subject_kind);
                                hub_copy_end_row(buf);
                                break;
                        }
                }
        }
        rc = hub_copy_run(ing->store, "COPY entities (id, kind) FROM STDIN", buf,
                          "store new entities", err);
        if (rc)
                return rc;
        hub_sqlbuf_reset(buf);
        for (size_t i = 0; i < n; i++) {
                const struct rec *r = &recs[i];
                if (r->state != R_NEW)
                        continue;
                hub_copy_text(buf, r->x.agency);
                hub_copy_text(buf, r->x.record_id);
                hub_copy_int(buf, batch_id);
                hub_copy_int(buf, (int64_t)i);
                hub_copy_bytea(buf, r->bytes, r->len);
                hub_copy_bytea(buf, r->sha, 32);
                hub_copy_text(buf, r->x.subject_kind);
                hub_copy_text(buf, hub_tier_name(r->x.tier));
                hub_copy_text_array(buf, r->x.recipients, r->x.n_recipients);
                hub_copy_text(buf, r->x.supersedes);
                hub_copy_text(buf, r->x.retracts);
                copy_timestamp_ms(buf, r->x.reported_at_ms);
                if (r->entity)
                        hub_copy_int(buf, r->entity);
                else
                        hub_copy_null(buf);
                hub_copy_end_row(buf);
        }
        rc = hub_copy_run(ing->store,
                          "COPY records (agency, record_id, batch_id, batch_index, payload,"
                          " payload_sha256, subject_kind, tier, recipients, supersedes, retracts,"
                          " reported_at, entity_id) FROM STDIN",
                          buf, "store records", err);
        if (rc)
                return rc;
        hub_sqlbuf_reset(buf);
        for (size_t i = 0; i < n_claims; i++) {
                hub_copy_text(buf, claims[i].type);
                hub_copy_text(buf, claims[i].value);
                hub_copy_int(buf, *claims[i].entity);
                hub_copy_end_row(buf);
        }
        rc = hub_copy_run(ing->store, "COPY identifiers (type, value, entity_id) FROM STDIN", buf,
                          "store identifiers", err);
        if (rc)
                return rc;
        hub_sqlbuf_reset(buf);
        for (size_t i = 0; i < n; i++) {
                const struct rec *r = &recs[i];
                if (r->state != R_NEW)
                        continue;
                for (size_t j = 0; j < r->x.n_stmts; j++) {
                        const hub_stmt_t *s = &r->x.stmts[j];
                        hub_copy_int(buf, r->entity);
                        hub_copy_text(buf, r->x.agency);
                        hub_copy_text(buf, r->x.record_id);
                        hub_copy_text(buf, s->prop);
                        hub_copy_text(buf, s->original);
                        hub_copy_text(buf, s->value);
                        hub_copy_bool(buf, s->valid);
                        hub_copy_text(buf, s->reason);
                        hub_copy_text(buf, hub_tier_name(r->x.tier));
                        hub_copy_end_row(buf);
                }
        }
        return hub_copy_run(ing->store,
                            "COPY statements (entity_id, agency, record_id, prop, original, value,"
                            " valid, reason, tier) FROM STDIN",
                            buf, "store statements", err);
}

/* Corrections and retractions among the new records (hub/store/correct.h): take the agency's
 * correction lock, refuse those that may not apply, and strip retractions of what they would
 * assert (a retraction withdraws its target; its own content is kept only as evidence). */
static int check_corrections(hub_ingest_t *ing, const char *agency, struct rec *recs, size_t n,
                             struct smap *ids, hub_ingest_result_t *res, hub_err_t *err)
{
        size_t nc = 0, n_new = 0;
        for (size_t i = 0; i < n; i++) {
                n_new += recs[i].state == R_NEW;
                nc += recs[i].state == R_NEW && (recs[i].x.supersedes || recs[i].x.retracts);
        }
        if (!n_new)
                return 0; /* nothing is stored: no lock needed */
        int rc = hub_correct_lock(ing->store, agency, nc > 0, err);
        if (rc || !nc)
                return rc;
        hub_correction_t *c = hub_arena_alloc(ing->arena, nc * sizeof(*c));
        size_t *at = hub_arena_alloc(ing->arena, nc * sizeof(*at));
        if (!c || !at)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                const struct rec *r = &recs[i];
                if (r->state != R_NEW || (!r->x.supersedes && !r->x.retracts))
                        continue;
                const char *target = r->x.supersedes ? r->x.supersedes : r->x.retracts;
                memset(&c[k], 0, sizeof(c[k]));
                c[k].agency = r->x.agency;
                c[k].record_id = r->x.record_id;
                c[k].supersedes = r->x.supersedes;
                c[k].retracts = r->x.retracts;
                c[k].target_in_batch = smap_get(ids, target) != NULL;
                at[k++] = i;
        }
        rc = hub_correct_check(ing->store, c, nc, err);
        for (size_t j = 0; !rc && j < nc; j++) {
                struct rec *r = &recs[at[j]];
                if (c[j].reason) {
                        r->state = R_REJECT;
                        rc = add_reject(ing, agency, r->x.record_id, (int)at[j], c[j].reason,
                                        c[j].message, r->bytes, r->len, res, err);
                } else if (r->x.retracts) {
                        r->x.n_keys = 0;
                        r->x.n_stmts = 0;
                        r->x.n_weak = 0;
                }
        }
        return rc;
}

/* Record the batch's corrections and apply those it makes applicable (hub_correct_apply). */
static int apply_corrections(hub_ingest_t *ing, const char *agency, struct rec *recs, size_t n,
                             int64_t *changed, size_t *n_changed, size_t cap, hub_err_t *err)
{
        hub_correction_t *c = hub_arena_alloc(ing->arena, (n + 1) * sizeof(*c));
        const char **ids = hub_arena_alloc(ing->arena, (n + 1) * sizeof(char *));
        if (!c || !ids)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        size_t nc = 0, n_ids = 0;
        for (size_t i = 0; i < n; i++) {
                const struct rec *r = &recs[i];
                if (r->state != R_NEW || r->dup_of >= 0)
                        continue;
                ids[n_ids++] = r->x.record_id;
                if (!r->x.supersedes && !r->x.retracts)
                        continue;
                memset(&c[nc], 0, sizeof(c[nc]));
                c[nc].agency = r->x.agency;
                c[nc].record_id = r->x.record_id;
                c[nc].supersedes = r->x.supersedes;
                c[nc].retracts = r->x.retracts;
                nc++;
        }
        return hub_correct_apply(ing->correct, ing->store, ing->codec, ing->arena, agency, c, nc,
                                 ids, n_ids, changed, n_changed, cap, err);
}

static int bump_versions(hub_ingest_t *ing, const int64_t *ids, size_t n, hub_err_t *err)
{
        if (!n)
                return 0;
        hub_array_int(&ing->arr, ids, n);
        const char *p[1] = {hub_sqlbuf_str(&ing->arr)};
        /* Ordered row locks: two instances changing the same entities lock them in one order.
         * A withdrawn entity that gained an active record (a merge into it) is withdrawn no
         * more; the CASE keeps the look-up to withdrawn entities. */
        PGresult *q = PQexecParams(hub_store_conn(ing->store),
                                   "UPDATE entities SET version = version + 1, updated_at = now(),"
                                   " withdrawn = CASE WHEN withdrawn AND merged_into IS NULL THEN"
                                   " NOT EXISTS (SELECT 1 FROM records r WHERE r.entity_id ="
                                   " entities.id AND r.status = 'active' AND r.retracts IS NULL)"
                                   " ELSE withdrawn END "
                                   "WHERE id IN (SELECT id FROM entities WHERE id = "
                                   "ANY($1::bigint[]) ORDER BY id FOR UPDATE)",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(ing->store, q, PGRES_COMMAND_OK, "bump entity versions", err);
        PQclear(q);
        return rc;
}

static int ingest_records(hub_ingest_t *ing, const hub_ingest_msg_t *m, const hub_batch_t *b,
                          hub_ingest_result_t *res, hub_err_t *err)
{
        hub_arena_t *a = ing->arena;
        size_t n = hub_batch_count(b);
        struct rec *recs = hub_arena_alloc(a, n * sizeof(*recs));
        struct smap ids;
        if (!recs || smap_init(&ids, a, n))
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        memset(recs, 0, n * sizeof(*recs));
        const char *agency = hub_batch_header(b)->agency;
        const char *replay_of = NULL;
        int rc = decode_records(ing, b, recs, n, &ids, res, err);
        if (!rc)
                rc = dedup(ing, b, recs, n, &ids, &replay_of, res, err);
        if (!rc && !replay_of)
                rc = check_corrections(ing, agency, recs, n, &ids, res, err);
        if (rc)
                return rc;
        if (replay_of) {
                /* A replay is refused whole: its records are stored once already, and a
                 * replay after a correction must not bring the corrected copy back. */
                char msg[512];
                const hub_batch_header_t *h = hub_batch_header(b);
                snprintf(msg, sizeof(msg),
                         "batch %s/%" PRId64 " of agency %s (key %s) was already accepted from "
                         "%s: a replay",
                         h->producer_id, h->batch_seq, h->agency, h->key_id, replay_of);
                ing->n_rejs = 0;
                res->reason[0] = '\0';
                res->duplicates = 0;
                res->invalid_identifiers = 0;
                res->batch_rejected = true;
                res->rejected = n;
                return add_reject(ing, h->agency, NULL, -1, "BATCH_REPLAYED", msg, m->buf, m->len,
                                  res, err);
        }
        size_t n_accept = 0;
        for (size_t i = 0; i < n; i++)
                n_accept += recs[i].state == R_NEW;
        res->rejected = ing->n_rejs;
        if (!n_accept)
                return 0; /* nothing new: a re-send changes nothing, not even batches */
        struct claim *claims;
        size_t n_claims = 0, n_new = 0;
        int64_t *new_ids = NULL;
        rc = resolve(ing, recs, n, &claims, &n_claims, &n_new, res, err);
        if (!rc)
                rc = assign_ids(ing, recs, n, claims, n_claims, n_new, &new_ids, err);
        if (!rc)
                rc = store_rows(ing, m, b, recs, n, claims, n_claims, new_ids, n_new, err);
        if (rc)
                return rc;
        /* Changed entities: the new ones, those records attached to, corrected targets',
         * and those merges absorbed (republished with merged_into). A record seldom merges
         * more than a few entities; past the room here an absorbed one is republished by the
         * next change of its survivor's group only, so the room is generous. */
        size_t cap = 16 * n + 16, n_changed = 0;
        int64_t *changed = hub_arena_alloc(a, cap * sizeof(int64_t));
        hub_merge_rec_t *mr = hub_arena_alloc(a, n * sizeof(*mr));
        if (!changed || !mr)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        size_t n_mr = 0;
        for (size_t i = 0; i < n; i++)
                if (recs[i].state == R_NEW && recs[i].entity)
                        mr[n_mr++] = (hub_merge_rec_t){&recs[i].x, &recs[i].entity};
        rc = hub_merge_resolve(ing->store, a, mr, n_mr, ing->noisy_threshold, changed,
                               &n_changed, cap - 2 * n - 1, NULL, err);
        if (rc)
                return rc;
        for (size_t i = 0; i < n; i++)
                if (recs[i].state == R_NEW && recs[i].entity)
                        changed[n_changed++] = recs[i].entity;
        rc = apply_corrections(ing, agency, recs, n, changed, &n_changed, cap, err);
        if (rc)
                return rc;
        qsort(changed, n_changed, sizeof(int64_t), cmp_i64);
        size_t u = 0;
        for (size_t i = 0; i < n_changed; i++)
                if (!u || changed[u - 1] != changed[i])
                        changed[u++] = changed[i];
        n_changed = u;
        /* Existing entities go up one version; new ones start at 1. */
        int64_t *existing = hub_arena_alloc(a, (n_changed + 1) * sizeof(int64_t));
        size_t n_existing = 0;
        if (!existing)
                return hub_err_set(err, HUB_E_NOMEM, false, "ingest", "out of memory");
        for (size_t i = 0; i < n_changed; i++) {
                bool fresh = bsearch(&changed[i], new_ids, n_new, sizeof(int64_t), cmp_i64);
                if (!fresh)
                        existing[n_existing++] = changed[i];
        }
        rc = bump_versions(ing, existing, n_existing, err);
        size_t rows = 0;
        if (!rc)
                rc = hub_views_write(ing->views, ing->store, changed, n_changed, &rows, err);
        if (!rc)
                rc = hub_mlog_append_batch(ing->store, m->topic, m->partition, m->offset, b, err);
        if (!rc)
                rc = hub_correct_log(ing->correct, ing->store, err);
        res->accepted = n_accept;
        res->entities = n_changed;
        res->outbox += rows;
        return rc;
}

/* The whole message, inside the caller's transaction, offsets excepted. */
static int ingest_tx(hub_ingest_t *ing, const hub_ingest_msg_t *m, hub_ingest_result_t *res,
                     hub_err_t *err)
{
        hub_batch_t *b = NULL;
        hub_err_t e = {0};
        char msg[512];
        const char *reason = NULL;
        int rc = hub_batch_decode(m->buf, m->len, &ing->limits, &b, &e);
        if (rc) {
                if (rc == -HUB_E_NOMEM) {
                        *err = e;
                        return rc;
                }
                snprintf(msg, sizeof(msg), "%s", e.msg);
                reason = hub_err_name(rc);
                rc = add_reject(ing, NULL, NULL, -1, reason, msg, m->buf, m->len, res, err);
                goto batch_rejected;
        }
        const hub_batch_header_t *h = hub_batch_header(b);
        if (!topic_is_agency(m->topic, h->agency)) {
                snprintf(msg, sizeof(msg), "batch of agency %s arrived on topic %s", h->agency,
                         m->topic);
                reason = "WRONG_TOPIC";
                rc = add_reject(ing, h->agency, NULL, -1, reason, msg, m->buf, m->len, res, err);
                goto batch_rejected;
        }
        rc = check_key(ing, b, &reason, msg, sizeof(msg), err);
        if (rc < 0)
                goto out;
        if (rc == 0 && memcmp(h->schema_fingerprint, hub_report_codec_fingerprint(ing->codec),
                              HUB_BATCH_FINGERPRINT_BYTES) != 0) {
                char hex[2 * HUB_BATCH_FINGERPRINT_BYTES + 1];
                sodium_bin2hex(hex, sizeof(hex), h->schema_fingerprint,
                               HUB_BATCH_FINGERPRINT_BYTES);
                snprintf(msg, sizeof(msg), "unknown writer schema fingerprint %s", hex);
                reason = "SCHEMA_UNKNOWN";
                rc = 1;
        }
        if (rc == 1) {
                rc = add_reject(ing, h->agency, NULL, -1, reason, msg, m->buf, m->len, res, err);
                goto batch_rejected;
        }
        rc = ingest_records(ing, m, b, res, err);
        goto out;
batch_rejected:
        res->batch_rejected = true;
        res->rejected = b ? hub_batch_count(b) : 0;
out:
        if (!rc)
                rc = write_rejects(ing, m, res, err);
        hub_batch_free(b);
        return rc;
}

static int store_offset(hub_ingest_t *ing, const hub_ingest_msg_t *m, hub_ingest_result_t *res,
                        hub_err_t *err)
{
        char part[16], next[24], expected[24];
        snprintf(part, sizeof(part), "%d", (int)m->partition);
        snprintf(next, sizeof(next), "%" PRId64, m->offset + 1);
        snprintf(expected, sizeof(expected), "%" PRId64, m->expected_next);
        const char *p[4] = {m->topic, part, next, expected};
        /* Conditional on what this instance last saw: a stale instance, whose partition has
         * moved to another one meanwhile, changes nothing and learns it is fenced. */
        PGresult *q = PQexecParams(
                hub_store_conn(ing->store),
                m->expected_next < 0
                        ? "INSERT INTO consumer_offsets (topic, partition, next_offset) "
                          "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
                        : "UPDATE consumer_offsets SET next_offset = $3, updated_at = now() "
                          "WHERE topic = $1 AND partition = $2 AND next_offset = $4",
                m->expected_next < 0 ? 3 : 4, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(ing->store, q, PGRES_COMMAND_OK, "store the consumer offset",
                                 err);
        if (!rc && strcmp(PQcmdTuples(q), "1") != 0) {
                res->fenced = true;
                rc = hub_err_set(err, HUB_E_DB, false, "ingest",
                                 "stored offset of %s[%d] is no longer %" PRId64
                                 ": another instance consumed it",
                                 m->topic, (int)m->partition, m->expected_next);
        }
        PQclear(q);
        return rc;
}

static void reset(hub_ingest_t *ing, hub_ingest_result_t *res)
{
        hub_arena_reset(ing->arena);
        ing->n_rejs = 0;
        memset(res, 0, sizeof(*res));
}

int hub_ingest_message(hub_ingest_t *ing, const hub_ingest_msg_t *m, hub_ingest_result_t *res,
                       hub_err_t *err)
{
        reset(ing, res);
        int rc = hub_store_begin(ing->store, err);
        if (!rc)
                rc = ingest_tx(ing, m, res, err);
        if (!rc)
                rc = store_offset(ing, m, res, err);
        if (!rc)
                hub_failpoint("before-commit");
        if (!rc)
                rc = hub_store_commit(ing->store, err);
        if (!rc || (err && err->retriable) || res->fenced || rc != -HUB_E_DB) {
                if (rc)
                        hub_store_rollback(ing->store);
                return rc;
        }
        /* A permanent database error for this message (a row the schema refuses): roll back
         * and record the whole message as rejected, so the partition moves on. */
        hub_store_rollback(ing->store);
        char msg[512];
        snprintf(msg, sizeof(msg), "could not store batch: %s", err ? err->msg : "?");
        reset(ing, res);
        rc = hub_store_begin(ing->store, err);
        if (!rc)
                rc = add_reject(ing, NULL, NULL, -1, hub_err_name(HUB_E_DB), msg, m->buf, m->len,
                                res, err);
        res->batch_rejected = true;
        if (!rc)
                rc = write_rejects(ing, m, res, err);
        if (!rc)
                rc = store_offset(ing, m, res, err);
        if (!rc)
                rc = hub_store_commit(ing->store, err);
        if (rc)
                hub_store_rollback(ing->store);
        return rc;
}

int hub_ingest_offsets(hub_store_t *s, const char *topic, const int32_t *parts, size_t n,
                       int64_t *next, hub_err_t *err)
{
        for (size_t i = 0; i < n; i++)
                next[i] = -1;
        const char *p[1] = {topic};
        PGresult *q = PQexecParams(hub_store_conn(s),
                                   "SELECT partition, next_offset FROM consumer_offsets "
                                   "WHERE topic = $1",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, q, PGRES_TUPLES_OK, "read stored offsets", err);
        for (int t = 0; !rc && t < PQntuples(q); t++) {
                int32_t part = (int32_t)atoi(PQgetvalue(q, t, 0));
                for (size_t i = 0; i < n; i++)
                        if (parts[i] == part)
                                next[i] = strtoll(PQgetvalue(q, t, 1), NULL, 10);
        }
        PQclear(q);
        return rc;
}
