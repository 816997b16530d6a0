/* hubctl log verify: the whole stored log recomputed from the rows it commits to. See
 * hub_mlog_verify() in hub/mlog_store.h. Streams the leaves in chunks, so memory stays flat
 * whatever the log's size; each chunk costs a constant number of queries. */
#include "correct.h"
#include "mlog_internal.h"
#include "sqlbuf.h"

#include <hub/api_store.h>
#include <hub/judgement_store.h>
#include <hub/mlog_store.h>

#include <stdarg.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 5000

struct head_row {
        int64_t id;
        hub_mlog_head_t h;
};

struct verifier {
        hub_store_t *s;
        const hub_key_t *hub_pub;
        void (*problem)(const hub_mlog_problem_t *p, void *arg);
        void *arg;
        hub_mlog_verify_stats_t *st;
        hub_mlog_frontier_t f;
        /* nodes completed in the current chunk, to compare with the stored ones */
        uint8_t *lv;
        int64_t *ix;
        uint8_t (*hash)[32];
        size_t nn, capn;
        bool oom;
};

static void report(struct verifier *v, const char *what, const char *ref, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void report(struct verifier *v, const char *what, const char *ref, const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        v->st->problems++;
        hub_mlog_problem_t p = {what, ref, msg};
        if (v->problem)
                v->problem(&p, v->arg);
}

static uint64_t be(const char *p, int n)
{
        uint64_t x = 0;
        for (int i = 0; i < n; i++)
                x = (x << 8) | (unsigned char)p[i];
        return x;
}

static int emit(uint8_t level, uint64_t index, const uint8_t hash[32], void *arg)
{
        struct verifier *v = arg;
        if (v->nn == v->capn) {
                size_t cap = v->capn ? 2 * v->capn : 4096;
                uint8_t *lv = realloc(v->lv, cap);
                int64_t *ix = realloc(v->ix, cap * sizeof(int64_t));
                uint8_t(*h)[32] = realloc(v->hash, cap * 32);
                if (lv)
                        v->lv = lv;
                if (ix)
                        v->ix = ix;
                if (h)
                        v->hash = h;
                if (!lv || !ix || !h) {
                        v->oom = true;
                        return -HUB_E_NOMEM;
                }
                v->capn = cap;
        }
        v->lv[v->nn] = level;
        v->ix[v->nn] = (int64_t)index;
        memcpy(v->hash[v->nn], hash, 32);
        v->nn++;
        return 0;
}

/* Compare the nodes completed in this chunk with the stored ones. */
static int check_nodes(struct verifier *v, hub_err_t *err)
{
        if (!v->nn)
                return 0;
        hub_sqlbuf_t a = {0}, b = {0};
        int64_t *lv = malloc(v->nn * sizeof(int64_t));
        if (!lv)
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        for (size_t i = 0; i < v->nn; i++)
                lv[i] = v->lv[i];
        hub_array_int(&a, lv, v->nn);
        hub_array_int(&b, v->ix, v->nn);
        free(lv);
        const char *p[2] = {hub_sqlbuf_str(&a), hub_sqlbuf_str(&b)};
        PGresult *r = PQexecParams(hub_store_conn(v->s),
                                   "SELECT q.o, n.hash FROM unnest($1::int2[], $2::int8[]) WITH "
                                   "ORDINALITY AS q(l, i, o) LEFT JOIN log_nodes n ON n.level = "
                                   "q.l AND n.idx = q.i ORDER BY q.o",
                                   2, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "read log nodes", err);
        for (int t = 0; !rc && t < PQntuples(r); t++) {
                size_t o = (size_t)be(PQgetvalue(r, t, 0), 8) - 1;
                char ref[64];
                snprintf(ref, sizeof(ref), "log_nodes (%d, %" PRId64 ")", v->lv[o], v->ix[o]);
                v->st->nodes++;
                if (PQgetisnull(r, t, 1))
                        report(v, "node", ref, "missing");
                else if (PQgetlength(r, t, 1) != 32 ||
                         memcmp(PQgetvalue(r, t, 1), v->hash[o], 32) != 0)
                        report(v, "node", ref, "stored hash differs from the hash of its leaves");
        }
        PQclear(r);
        hub_sqlbuf_done(&a);
        hub_sqlbuf_done(&b);
        v->nn = 0;
        return rc;
}

/* ---- record leaves ---- */

struct batch_cache {
        int64_t id;
        bool ok;
        uint8_t digest[32];
        hub_batch_t *b;
};

static int load_batches(struct verifier *v, const int64_t *ids, size_t n, struct batch_cache *bc,
                        hub_err_t *err)
{
        hub_sqlbuf_t a = {0};
        hub_array_int(&a, ids, n);
        const char *p[1] = {hub_sqlbuf_str(&a)};
        PGresult *r = PQexecParams(hub_store_conn(v->s),
                                   "SELECT id, bytes FROM batches WHERE id = ANY($1::int8[])", 1,
                                   NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "read batches", err);
        for (size_t i = 0; i < n; i++)
                bc[i] = (struct batch_cache){ids[i], false, {0}, NULL};
        for (int t = 0; !rc && t < PQntuples(r); t++) {
                int64_t id = (int64_t)be(PQgetvalue(r, t, 0), 8);
                for (size_t i = 0; i < n; i++) {
                        if (bc[i].id != id)
                                continue;
                        /* Generous limits: what the hub accepted then must decode now. */
                        hub_batch_limits_t lim = {1000000, 1u << 30, 1u << 30};
                        if (hub_batch_decode(PQgetvalue(r, t, 1), (size_t)PQgetlength(r, t, 1),
                                             &lim, &bc[i].b, NULL) == 0) {
                                bc[i].ok = true;
                                memcpy(bc[i].digest, hub_batch_digest(bc[i].b), 32);
                        }
                }
        }
        PQclear(r);
        hub_sqlbuf_done(&a);
        return rc;
}

struct rec_leaf {
        uint64_t idx;
        const char *ref;
        const uint8_t *data;
        size_t len;
        char *agency, *record_id;
};

/* Recompute the record leaves of one chunk from records, batches and statements. */
static int check_records(struct verifier *v, struct rec_leaf *rl, size_t n, hub_err_t *err)
{
        if (!n)
                return 0;
        const char **ag = calloc(n, sizeof(char *)), **id = calloc(n, sizeof(char *));
        uint8_t(*sd)[32] = calloc(n, 32);
        int64_t *bids = calloc(n, sizeof(int64_t));
        struct batch_cache *bc = calloc(n, sizeof(*bc));
        hub_sqlbuf_t a = {0}, b = {0};
        PGresult *r = NULL;
        size_t nb = 0;
        int rc = 0;
        if (!ag || !id || !sd || !bids || !bc) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                ag[i] = rl[i].agency;
                id[i] = rl[i].record_id;
        }
        hub_array_text(&a, ag, n);
        hub_array_text(&b, id, n);
        const char *p[2] = {hub_sqlbuf_str(&a), hub_sqlbuf_str(&b)};
        r = PQexecParams(hub_store_conn(v->s),
                         "SELECT q.o, r.batch_id, r.batch_index, r.payload, r.payload_sha256 "
                         "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(a, i, o) "
                         "LEFT JOIN records r ON r.agency = q.a AND r.record_id = q.i "
                         "ORDER BY q.o",
                         2, NULL, p, NULL, NULL, 1);
        rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "read records", err);
        if (!rc && (size_t)PQntuples(r) != n)
                rc = hub_err_set(err, HUB_E_DB, false, "mlog", "record rows do not line up");
        if (!rc)
                rc = hub_mlog_statement_digests_internal(v->s, ag, id, n, sd, err);
        for (int t = 0; !rc && t < (int)n; t++) {
                if (PQgetisnull(r, t, 1))
                        continue;
                int64_t bid = (int64_t)be(PQgetvalue(r, t, 1), 8);
                bool seen = false;
                for (size_t j = 0; j < nb && !seen; j++)
                        seen = bids[j] == bid;
                if (!seen)
                        bids[nb++] = bid;
        }
        if (!rc)
                rc = load_batches(v, bids, nb, bc, err);
        for (size_t i = 0; !rc && i < n; i++) {
                const char *ref = rl[i].ref;
                v->st->records++;
                if (PQgetisnull(r, (int)i, 1)) {
                        report(v, "record", ref, "leaf %" PRIu64 " commits to a record that is "
                               "not stored (deleted?)", rl[i].idx);
                        continue;
                }
                int64_t bid = (int64_t)be(PQgetvalue(r, (int)i, 1), 8);
                uint32_t bi = (uint32_t)be(PQgetvalue(r, (int)i, 2), 4);
                const uint8_t *payload = (const uint8_t *)PQgetvalue(r, (int)i, 3);
                size_t plen = (size_t)PQgetlength(r, (int)i, 3);
                uint8_t sha[32];
                crypto_hash_sha256(sha, payload, plen);
                struct batch_cache *c = NULL;
                for (size_t j = 0; j < nb; j++)
                        if (bc[j].id == bid)
                                c = &bc[j];
                /* Named one by one, so an operator knows which row was changed. */
                if (PQgetlength(r, (int)i, 4) != 32 ||
                    memcmp(PQgetvalue(r, (int)i, 4), sha, 32) != 0)
                        report(v, "record", ref,
                               "payload does not match payload_sha256 (payload or hash changed)");
                if (!c || !c->ok) {
                        report(v, "record", ref, "its batch %" PRId64 " is missing or does not "
                               "decode", bid);
                        continue;
                }
                size_t blen = 0;
                const uint8_t *brec = hub_batch_record(c->b, bi, &blen);
                if (!brec || blen != plen || memcmp(brec, payload, plen) != 0)
                        report(v, "record", ref,
                               "payload differs from record %u of its signed batch %" PRId64, bi,
                               bid);
                hub_mlog_record_leaf_t want = {.agency = ag[i], .record_id = id[i],
                                               .batch_index = bi};
                /* The leaf commits to the bytes the agency signed. */
                memcpy(want.record_sha256, sha, 32);
                if (brec)
                        crypto_hash_sha256(want.record_sha256, brec, blen);
                memcpy(want.batch_digest, c->digest, 32);
                memcpy(want.statements_digest, sd[i], 32);
                uint8_t *d = NULL;
                size_t dl = 0;
                rc = hub_mlog_record_leaf(&want, &d, &dl, err);
                if (rc)
                        break;
                if (dl != rl[i].len || memcmp(d, rl[i].data, dl) != 0) {
                        /* The last 96 bytes: record hash, batch digest, statements digest. */
                        const uint8_t *tail = rl[i].len >= 96 ? rl[i].data + rl[i].len - 96
                                                              : NULL;
                        if (tail && dl == rl[i].len && memcmp(d, rl[i].data, dl - 96) == 0 &&
                            memcmp(tail, want.record_sha256, 32) == 0 &&
                            memcmp(tail + 32, want.batch_digest, 32) == 0)
                                report(v, "statements", ref,
                                       "the record's statements differ from those committed in "
                                       "leaf %" PRIu64 " (a statement row was changed, added or "
                                       "deleted)",
                                       rl[i].idx);
                        else
                                report(v, "record", ref,
                                       "the record or its batch differs from what leaf %" PRIu64
                                       " commits to",
                                       rl[i].idx);
                }
                free(d);
        }
out:
        for (size_t i = 0; bc && i < nb; i++)
                hub_batch_free(bc[i].b);
        free(bc);
        free(bids);
        free(sd);
        free(ag);
        free(id);
        PQclear(r);
        hub_sqlbuf_done(&a);
        hub_sqlbuf_done(&b);
        return rc;
}

/* ---- key events ---- */

static int check_key_event(struct verifier *v, uint64_t idx, const char *ref, const uint8_t *data,
                           size_t len, hub_err_t *err)
{
        const char *p[1] = {ref};
        char where[64];
        snprintf(where, sizeof(where), "key_events %s", ref);
        PGresult *r = PQexecParams(hub_store_conn(v->s),
                                   "SELECT event, agency, key_id, public_key, valid_from, "
                                   "valid_until, revoked_at, reason, at, leaf_index FROM "
                                   "key_events WHERE id = $1::int8",
                                   1, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "read a key event", err);
        v->st->key_events++;
        if (!rc && PQntuples(r) != 1)
                report(v, "key-event", where, "leaf %" PRIu64 " commits to a key event that is "
                       "not stored", idx);
        if (!rc && PQntuples(r) == 1) {
                char *agency = strndup(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
                char *key_id = strndup(PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
                char *reason = strndup(PQgetvalue(r, 0, 7), (size_t)PQgetlength(r, 0, 7));
                hub_mlog_key_event_t e = {0};
                e.event = PQgetlength(r, 0, 0) == 6 &&
                                          memcmp(PQgetvalue(r, 0, 0), "revoke", 6) == 0
                                  ? HUB_MLOG_KEY_REVOKE
                                  : HUB_MLOG_KEY_REGISTER;
                e.agency = agency;
                e.key_id = key_id;
                if (PQgetlength(r, 0, 3) == HUB_PK_BYTES)
                        memcpy(e.public_key, PQgetvalue(r, 0, 3), HUB_PK_BYTES);
                e.valid_from_us = (int64_t)be(PQgetvalue(r, 0, 4), 8);
                if ((e.has_valid_until = !PQgetisnull(r, 0, 5)))
                        e.valid_until_us = (int64_t)be(PQgetvalue(r, 0, 5), 8);
                if ((e.revoked = !PQgetisnull(r, 0, 6)))
                        e.revoked_at_us = (int64_t)be(PQgetvalue(r, 0, 6), 8);
                e.reason = reason;
                e.at_us = (int64_t)be(PQgetvalue(r, 0, 8), 8);
                uint8_t *d = NULL;
                size_t dl = 0;
                if (!agency || !key_id || !reason)
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                if (!rc)
                        rc = hub_mlog_key_event_leaf(&e, &d, &dl, err);
                if (!rc && (dl != len || memcmp(d, data, len) != 0))
                        report(v, "key-event", where,
                               "the row (%s %s) differs from what leaf %" PRIu64 " commits to",
                               agency, key_id, idx);
                if (!rc && be(PQgetvalue(r, 0, 9), 8) != idx)
                        report(v, "key-event", where, "leaf_index is not %" PRIu64, idx);
                free(d);
                free(agency);
                free(key_id);
                free(reason);
        }
        PQclear(r);
        return rc;
}

/* Every agency_keys row against its latest logged event. */
static int check_agency_keys(struct verifier *v, hub_err_t *err)
{
        PGresult *r = PQexec(
                hub_store_conn(v->s),
                "SELECT k.agency, k.key_id, e.id IS NULL, "
                " e.public_key IS DISTINCT FROM k.public_key, "
                " e.valid_from IS DISTINCT FROM (extract(epoch FROM k.valid_from) * 1000000)::int8, "
                " e.valid_until IS DISTINCT FROM (extract(epoch FROM k.valid_until) * 1000000)::int8, "
                " e.revoked_at IS DISTINCT FROM (extract(epoch FROM k.revoked_at) * 1000000)::int8 "
                "FROM agency_keys k LEFT JOIN LATERAL (SELECT * FROM key_events e WHERE "
                "e.agency = k.agency AND e.key_id = k.key_id ORDER BY e.id DESC LIMIT 1) e ON true "
                "ORDER BY 1, 2");
        int rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "read agency keys", err);
        for (int t = 0; !rc && t < PQntuples(r); t++) {
                char ref[160];
                snprintf(ref, sizeof(ref), "agency_keys %s %s", PQgetvalue(r, t, 0),
                         PQgetvalue(r, t, 1));
                static const char *const what[] = {"", "", "has no logged event",
                                                   "public_key differs from its logged event",
                                                   "valid_from differs from its logged event",
                                                   "valid_until differs from its logged event",
                                                   "revoked_at differs from its logged event"};
                for (int c = 2; c <= 6; c++) {
                        if (PQgetvalue(r, t, c)[0] == 't') {
                                report(v, "agency-key", ref, "%s", what[c]);
                                if (c == 2)
                                        break;
                        }
                }
        }
        PQclear(r);
        return rc;
}

static int check_unlogged(struct verifier *v, hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(v->s),
                             "SELECT r.agency || '/' || r.record_id FROM records r WHERE NOT "
                             "EXISTS (SELECT 1 FROM log_leaves l WHERE l.kind = 1 AND l.ref = "
                             "r.agency || '/' || r.record_id) ORDER BY 1 LIMIT 100");
        int rc = hub_store_check(v->s, r, PGRES_TUPLES_OK, "look for unlogged records", err);
        for (int t = 0; !rc && t < PQntuples(r); t++)
                report(v, "unlogged-record", PQgetvalue(r, t, 0),
                       "stored but not committed to the log (inserted behind the hub's back?)");
        PQclear(r);
        return rc;
}

static void unlogged_access(int64_t id, void *arg)
{
        char ref[48];
        snprintf(ref, sizeof(ref), "access_log %" PRId64, id);
        report(arg, "unlogged-access", ref,
               "stored but not committed to the log (inserted behind the hub's back?)");
}

/* ---- heads ---- */

static int load_heads(hub_store_t *s, struct head_row **out, size_t *n, hub_err_t *err)
{
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT log_size, root_hash, timestamp_ms, key_id, signature, "
                                   "id FROM tree_heads ORDER BY id",
                                   0, NULL, NULL, NULL, NULL, 1);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read tree heads", err);
        *n = rc ? 0 : (size_t)PQntuples(r);
        *out = calloc(*n + 1, sizeof(**out));
        if (!rc && !*out)
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        for (size_t i = 0; !rc && i < *n; i++) {
                hub_mlog_head_t *h = &(*out)[i].h;
                memset(h, 0, sizeof(*h));
                h->size = be(PQgetvalue(r, (int)i, 0), 8);
                if (PQgetlength(r, (int)i, 1) == 32)
                        memcpy(h->root, PQgetvalue(r, (int)i, 1), 32);
                h->timestamp_ms = (int64_t)be(PQgetvalue(r, (int)i, 2), 8);
                snprintf(h->key_id, sizeof(h->key_id), "%.*s", PQgetlength(r, (int)i, 3),
                         PQgetvalue(r, (int)i, 3));
                if (PQgetlength(r, (int)i, 4) == HUB_SIG_BYTES)
                        memcpy(h->signature, PQgetvalue(r, (int)i, 4), HUB_SIG_BYTES);
                (*out)[i].id = (int64_t)be(PQgetvalue(r, (int)i, 5), 8);
        }
        PQclear(r);
        return rc;
}

static int cmp_head_size(const void *x, const void *y)
{
        const struct head_row *a = *(struct head_row *const *)x, *b = *(struct head_row *const *)y;
        return a->h.size < b->h.size ? -1 : a->h.size > b->h.size;
}

int hub_mlog_verify(hub_store_t *s, const hub_key_t *hub_pub,
                    void (*problem)(const hub_mlog_problem_t *p, void *arg),
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg,
                    hub_mlog_verify_stats_t *stats, hub_err_t *err)
{
        struct verifier v = {.s = s, .hub_pub = hub_pub, .problem = problem, .arg = arg,
                             .st = stats};
        memset(stats, 0, sizeof(*stats));
        struct head_row *heads = NULL, **by_size = NULL;
        size_t nh = 0, next_head = 0, nr = 0;
        uint64_t size = 0;
        struct rec_leaf *rl = calloc(CHUNK, sizeof(*rl));
        PGresult *r = NULL;
        int rc = rl ? 0 : hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        if (!rc)
                rc = hub_mlog_size(s, &size, err);
        if (!rc)
                rc = load_heads(s, &heads, &nh, err);
        if (rc)
                goto out;
        stats->heads = nh;
        by_size = calloc(nh + 1, sizeof(*by_size));
        if (!by_size) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                goto out;
        }
        /* Signatures, order, and consistency between consecutive heads. */
        for (size_t i = 0; i < nh; i++) {
                char ref[48];
                hub_err_t e = {0};
                by_size[i] = &heads[i];
                snprintf(ref, sizeof(ref), "tree_heads %" PRId64, heads[i].id);
                if (hub_pub && hub_mlog_head_verify(&heads[i].h, hub_pub, &e))
                        report(&v, "tree-head", ref, "%s", e.msg);
                if (heads[i].h.size > size)
                        report(&v, "tree-head", ref,
                               "covers %" PRIu64 " leaves but the log holds %" PRIu64
                               " (leaves removed?)",
                               heads[i].h.size, size);
                if (i == 0)
                        continue;
                const hub_mlog_head_t *a = &heads[i - 1].h, *b = &heads[i].h;
                if (b->size < a->size || b->timestamp_ms < a->timestamp_ms) {
                        report(&v, "consistency", ref,
                               "smaller or older than the head before it (size %" PRIu64
                               " after %" PRIu64 ")",
                               b->size, a->size);
                        continue;
                }
                if (a->size == 0 || b->size > size)
                        continue;
                uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES];
                size_t pl = 0;
                e = (hub_err_t){0};
                if (hub_mlog_prove_consistency(s, a->size, b->size, proof, sizeof(proof), &pl,
                                               &e) ||
                    hub_merkle_verify_consistency(a->size, b->size, a->root, 32, b->root, 32,
                                                  proof, pl, &e))
                        report(&v, "consistency", ref,
                               "not consistent with tree_heads %" PRId64 ": %s", heads[i - 1].id,
                               e.msg);
        }
        qsort(by_size, nh, sizeof(*by_size), cmp_head_size);
        hub_mlog_frontier_init(&v.f, 0, NULL, NULL);
        while (next_head < nh && by_size[next_head]->h.size == 0) {
                uint8_t root[32];
                hub_mlog_frontier_root(&v.f, root);
                if (memcmp(root, by_size[next_head]->h.root, 32) != 0) {
                        char ref[48];
                        snprintf(ref, sizeof(ref), "tree_heads %" PRId64, by_size[next_head]->id);
                        report(&v, "tree-head", ref, "root of the empty log is wrong");
                }
                next_head++;
        }
        for (uint64_t start = 0; start < size; start += CHUNK) {
                char a[24], b[24];
                snprintf(a, sizeof(a), "%" PRIu64, start);
                snprintf(b, sizeof(b), "%" PRIu64, start + CHUNK);
                const char *p[2] = {a, b};
                r = PQexecParams(hub_store_conn(s),
                                 "SELECT idx, kind, ref, data, hash FROM log_leaves WHERE idx >= "
                                 "$1 AND idx < $2 ORDER BY idx",
                                 2, NULL, p, NULL, NULL, 1);
                rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read log leaves", err);
                if (rc)
                        goto out;
                nr = 0;
                uint64_t want = start;
                for (int t = 0; t < PQntuples(r); t++) {
                        uint64_t idx = be(PQgetvalue(r, t, 0), 8);
                        int kind = (int)be(PQgetvalue(r, t, 1), 2);
                        const char *ref = PQgetvalue(r, t, 2);
                        const uint8_t *data = (const uint8_t *)PQgetvalue(r, t, 3);
                        size_t len = (size_t)PQgetlength(r, t, 3);
                        char lref[48];
                        snprintf(lref, sizeof(lref), "log_leaves %" PRIu64, idx);
                        if (idx != want) {
                                report(&v, "leaf", lref, "leaves %" PRIu64 "..%" PRIu64
                                       " are missing", want, idx - 1);
                                rc = -HUB_E_DB;
                                hub_err_set(err, HUB_E_DB, false, "mlog",
                                            "the log has a gap at leaf %" PRIu64
                                            ": nothing after it can be checked", want);
                                goto out;
                        }
                        want++;
                        stats->leaves++;
                        uint8_t h[32];
                        hub_merkle_leaf_hash(data, len, h);
                        if (PQgetlength(r, t, 4) != 32 || memcmp(h, PQgetvalue(r, t, 4), 32) != 0)
                                report(&v, "leaf", lref, "stored hash is not the hash of its data");
                        size_t dom = sizeof(HUB_MLOG_LEAF_DOMAIN);
                        if (len <= dom || memcmp(data, HUB_MLOG_LEAF_DOMAIN, dom) != 0 ||
                            data[dom] != kind)
                                report(&v, "leaf", lref, "data is not a leaf of kind %d", kind);
                        /* The tree is rebuilt from the data: a changed hash column cannot hide
                         * a changed leaf. */
                        rc = hub_mlog_frontier_push(&v.f, h, emit, &v);
                        if (rc) {
                                hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                                goto out;
                        }
                        if (kind == HUB_MLOG_RECORD) {
                                const char *slash = strchr(ref, '/');
                                if (!slash) {
                                        report(&v, "leaf", lref, "bad record reference");
                                } else {
                                        rl[nr] = (struct rec_leaf){idx, ref, data, len,
                                                                   strndup(ref, (size_t)(slash - ref)),
                                                                   strdup(slash + 1)};
                                        nr++;
                                }
                        } else if (kind == HUB_MLOG_KEY_EVENT) {
                                rc = check_key_event(&v, idx, ref, data, len, err);
                        } else if (kind == HUB_MLOG_ACCESS) {
                                char why[512], aref[48];
                                stats->other_leaves++;
                                snprintf(aref, sizeof(aref), "access_log %.24s", ref);
                                rc = hub_api_access_verify_leaf(s, idx, ref, data, len, why,
                                                                sizeof(why), err);
                                if (!rc && why[0])
                                        report(&v, "access", aref, "%s", why);
                        } else if (kind == HUB_MLOG_RETRACTION || kind == HUB_MLOG_CORRECTION) {
                                char why[300];
                                stats->other_leaves++;
                                rc = hub_correct_verify_leaf(s, kind, ref, data, len, why,
                                                             sizeof(why), err);
                                if (!rc && why[0])
                                        report(&v, hub_mlog_kind_name(kind), lref, "%s", why);
                        } else {
                                stats->other_leaves++;
                        }
                        if (rc)
                                goto out;
                        while (next_head < nh && by_size[next_head]->h.size == v.f.size) {
                                uint8_t root[32];
                                char hr[48];
                                hub_mlog_frontier_root(&v.f, root);
                                snprintf(hr, sizeof(hr), "tree_heads %" PRId64,
                                         by_size[next_head]->id);
                                if (memcmp(root, by_size[next_head]->h.root, 32) != 0)
                                        report(&v, "tree-head", hr,
                                               "its root differs from the root of the first %" PRIu64
                                               " stored leaves",
                                               v.f.size);
                                next_head++;
                        }
                }
                if (want != (start + CHUNK < size ? start + CHUNK : size)) {
                        report(&v, "leaf", "log_leaves", "leaves from %" PRIu64 " are missing",
                               want);
                        rc = hub_err_set(err, HUB_E_DB, false, "mlog",
                                         "the log has a gap at leaf %" PRIu64, want);
                        goto out;
                }
                rc = check_records(&v, rl, nr, err);
                for (size_t i = 0; i < nr; i++) {
                        free(rl[i].agency);
                        free(rl[i].record_id);
                }
                nr = 0;
                if (!rc)
                        rc = check_nodes(&v, err);
                PQclear(r);
                r = NULL;
                if (rc)
                        goto out;
                if (progress && (start / CHUNK) % 20 == 19)
                        progress(start + CHUNK, size, arg);
        }
        {
                /* Nothing stored beyond the tree: extra nodes or leaves are noise at best. */
                PGresult *c = PQexec(hub_store_conn(s),
                                     "SELECT (SELECT count(*) FROM log_nodes), (SELECT count(*) "
                                     "FROM log_leaves)");
                rc = hub_store_check(s, c, PGRES_TUPLES_OK, "count log rows", err);
                if (!rc) {
                        uint64_t want = 0;
                        for (int l = 1; l < 64; l++)
                                want += size >> l;
                        if (strtoull(PQgetvalue(c, 0, 0), NULL, 10) != want)
                                report(&v, "node", "log_nodes", "%s nodes stored, %" PRIu64
                                       " expected", PQgetvalue(c, 0, 0), want);
                        if (strtoull(PQgetvalue(c, 0, 1), NULL, 10) != size)
                                report(&v, "leaf", "log_leaves", "%s leaves stored, log_state "
                                       "says %" PRIu64, PQgetvalue(c, 0, 1), size);
                }
                PQclear(c);
        }
        if (!rc)
                rc = check_agency_keys(&v, err);
        if (!rc)
                rc = check_unlogged(&v, err);
        if (!rc)
                rc = hub_api_access_unlogged(s, unlogged_access, &v, err);
        if (!rc)
                rc = hub_judgement_verify_log(s, problem, arg, &stats->problems, err);
out:
        for (size_t i = 0; rl && i < nr; i++) {
                free(rl[i].agency);
                free(rl[i].record_id);
        }
        PQclear(r);
        free(rl);
        free(heads);
        free(by_size);
        free(v.lv);
        free(v.ix);
        free(v.hash);
        return rc;
}
