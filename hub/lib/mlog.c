/* The hub's Merkle log, pure parts: leaf encodings, tree heads, proof plans over stored complete
 * subtrees, the append frontier. See hub/mlog.h and schemas/README.md "The hub's log". */
#include "wire.h"

#include <hub/mlog.h>

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(HUB_SIG_BYTES == crypto_sign_BYTES, "");
static_assert(HUB_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "");

/* Strings in the digests carry a u32 length; the hub's own are far shorter. A limit keeps a
 * caller's mistake from producing a leaf nobody can store. */
#define MAX_STR (1u << 20)

const char *hub_mlog_kind_name(int kind)
{
        static const char *const names[] = {"unknown",     "record",     "key-event", "judgement",
                                            "retraction", "correction", "access"};
        return kind >= 1 && kind <= HUB_MLOG_KIND_MAX ? names[kind] : names[0];
}

/* ---- leaves ---- */

static int finish(wbuf_t *b, uint8_t **out, size_t *len, hub_err_t *err)
{
        if (b->failed) {
                free(b->p);
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        }
        *out = b->p;
        *len = b->n;
        return 0;
}

static bool str_ok(const char *s)
{
        return !s || strlen(s) <= MAX_STR;
}

int hub_mlog_leaf(int kind, const void *body, size_t body_len, uint8_t **out, size_t *len,
                  hub_err_t *err)
{
        if (kind < 1 || kind > HUB_MLOG_KIND_MAX)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "unknown leaf kind %d", kind);
        wbuf_t b = {0};
        wb_raw(&b, HUB_MLOG_LEAF_DOMAIN, sizeof(HUB_MLOG_LEAF_DOMAIN));
        wb_u8(&b, (uint8_t)kind);
        wb_raw(&b, body, body_len);
        return finish(&b, out, len, err);
}

int hub_mlog_record_leaf(const hub_mlog_record_leaf_t *r, uint8_t **out, size_t *len,
                         hub_err_t *err)
{
        if (!r->agency || !r->record_id || !str_ok(r->agency) || !str_ok(r->record_id))
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "bad record leaf fields");
        wbuf_t b = {0};
        wb_raw(&b, HUB_MLOG_LEAF_DOMAIN, sizeof(HUB_MLOG_LEAF_DOMAIN));
        wb_u8(&b, HUB_MLOG_RECORD);
        wb_str(&b, r->agency);
        wb_str(&b, r->record_id);
        wb_u32be(&b, r->batch_index);
        wb_raw(&b, r->record_sha256, 32);
        wb_raw(&b, r->batch_digest, 32);
        wb_raw(&b, r->statements_digest, 32);
        return finish(&b, out, len, err);
}

static void wb_opt_i64(wbuf_t *b, bool present, int64_t v)
{
        wb_u8(b, present ? 1 : 0);
        if (present)
                wb_u64be(b, (uint64_t)v);
}

int hub_mlog_key_event_leaf(const hub_mlog_key_event_t *e, uint8_t **out, size_t *len,
                            hub_err_t *err)
{
        if ((e->event != HUB_MLOG_KEY_REGISTER && e->event != HUB_MLOG_KEY_REVOKE) ||
            !e->agency || !e->key_id || !str_ok(e->agency) || !str_ok(e->key_id) ||
            !str_ok(e->reason))
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "bad key event fields");
        wbuf_t b = {0};
        wb_raw(&b, HUB_MLOG_LEAF_DOMAIN, sizeof(HUB_MLOG_LEAF_DOMAIN));
        wb_u8(&b, HUB_MLOG_KEY_EVENT);
        wb_u8(&b, (uint8_t)e->event);
        wb_str(&b, e->agency);
        wb_str(&b, e->key_id);
        wb_raw(&b, e->public_key, HUB_PK_BYTES);
        wb_u64be(&b, (uint64_t)e->valid_from_us);
        wb_opt_i64(&b, e->has_valid_until, e->valid_until_us);
        wb_opt_i64(&b, e->revoked, e->revoked_at_us);
        wb_str(&b, e->reason ? e->reason : "");
        wb_u64be(&b, (uint64_t)e->at_us);
        return finish(&b, out, len, err);
}

struct item {
        uint8_t *p;
        size_t n;
};

static int cmp_item(const void *x, const void *y)
{
        const struct item *a = x, *b = y;
        size_t n = a->n < b->n ? a->n : b->n;
        int c = n ? memcmp(a->p, b->p, n) : 0;
        if (c)
                return c;
        return a->n < b->n ? -1 : a->n > b->n;
}

int hub_mlog_statements_digest(const hub_mlog_statement_t *s, size_t n, uint8_t out[32],
                               hub_err_t *err)
{
        struct item *items = calloc(n + 1, sizeof(*items));
        int rc = 0;
        if (!items)
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
                wbuf_t b = {0};
                if (!str_ok(s[i].prop) || !str_ok(s[i].original) || !str_ok(s[i].value) ||
                    !str_ok(s[i].reason) || !str_ok(s[i].tier)) {
                        rc = hub_err_set(err, HUB_E_INVAL, false, "mlog", "statement too long");
                        break;
                }
                wb_str(&b, s[i].prop);
                wb_str(&b, s[i].original);
                wb_str(&b, s[i].value);
                wb_u8(&b, s[i].valid ? 1 : 0);
                wb_u8(&b, s[i].reason ? 1 : 0);
                if (s[i].reason)
                        wb_str(&b, s[i].reason);
                wb_str(&b, s[i].tier);
                if (b.failed) {
                        free(b.p);
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                }
                items[i] = (struct item){b.p, b.n};
        }
        if (!rc) {
                qsort(items, n, sizeof(*items), cmp_item);
                crypto_hash_sha256_state st;
                uint8_t cnt[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                                  (uint8_t)n};
                crypto_hash_sha256_init(&st);
                crypto_hash_sha256_update(&st, (const uint8_t *)HUB_MLOG_STATEMENTS_DOMAIN,
                                          sizeof(HUB_MLOG_STATEMENTS_DOMAIN));
                crypto_hash_sha256_update(&st, cnt, 4);
                for (size_t i = 0; i < n; i++)
                        crypto_hash_sha256_update(&st, items[i].p, items[i].n);
                crypto_hash_sha256_final(&st, out);
        }
        for (size_t i = 0; i < n; i++)
                free(items[i].p);
        free(items);
        return rc;
}

int hub_mlog_key_valid_at(const hub_mlog_key_event_t *e, int64_t created_at_ms, hub_err_t *err)
{
        /* The same rules as hub_resolve_key_window, in microseconds: ingest compares
         * ceil(t_us / 1000) with created_at_ms, which is t_us <= created_at_ms * 1000. */
        int64_t t = created_at_ms * 1000;
        if (e->revoked && e->revoked_at_us <= t)
                return hub_err_set(err, HUB_E_KEY, false, "mlog",
                                   "key %s was revoked at %" PRId64 " us, before the batch (%" PRId64
                                   " ms)",
                                   e->key_id, e->revoked_at_us, created_at_ms);
        if (t < e->valid_from_us)
                return hub_err_set(err, HUB_E_KEY, false, "mlog",
                                   "key %s is not valid before %" PRId64 " us, batch created at %" PRId64
                                   " ms",
                                   e->key_id, e->valid_from_us, created_at_ms);
        if (e->has_valid_until && t >= e->valid_until_us)
                return hub_err_set(err, HUB_E_KEY, false, "mlog",
                                   "key %s expired at %" PRId64 " us, batch created at %" PRId64
                                   " ms",
                                   e->key_id, e->valid_until_us, created_at_ms);
        return 0;
}

/* ---- tree heads ---- */

void hub_mlog_head_digest(const hub_mlog_head_t *h, uint8_t out[32])
{
        /* At most 19 + 1 + 8 + 32 + 8 + 4 + 64 bytes: on the stack, no allocation. */
        uint8_t in[160];
        size_t n = 0, kl = strnlen(h->key_id, HUB_BATCH_MAX_ID_BYTES);
        memcpy(in, HUB_MLOG_HEAD_DOMAIN, sizeof(HUB_MLOG_HEAD_DOMAIN));
        n += sizeof(HUB_MLOG_HEAD_DOMAIN);
        for (int i = 0; i < 8; i++)
                in[n++] = (uint8_t)(h->size >> (56 - 8 * i));
        memcpy(in + n, h->root, 32);
        n += 32;
        for (int i = 0; i < 8; i++)
                in[n++] = (uint8_t)((uint64_t)h->timestamp_ms >> (56 - 8 * i));
        for (int i = 0; i < 4; i++)
                in[n++] = (uint8_t)((uint32_t)kl >> (24 - 8 * i));
        memcpy(in + n, h->key_id, kl);
        n += kl;
        crypto_hash_sha256(out, in, n);
}

static bool key_id_ok(const char *s, size_t n)
{
        if (n < 1 || n > HUB_BATCH_MAX_ID_BYTES)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return false;
        return true;
}

int hub_mlog_head_sign(hub_mlog_head_t *h, const hub_key_t *key, hub_err_t *err)
{
        if (!key || !key->has_secret || !key_id_ok(key->key_id, strlen(key->key_id)))
                return hub_err_set(err, HUB_E_KEY, false, "mlog",
                                   "signing a tree head needs the hub's secret key");
        uint8_t d[32];
        snprintf(h->key_id, sizeof(h->key_id), "%s", key->key_id);
        hub_mlog_head_digest(h, d);
        crypto_sign_detached(h->signature, NULL, d, sizeof(d), key->sk);
        return 0;
}

int hub_mlog_head_verify(const hub_mlog_head_t *h, const hub_key_t *hub_pub, hub_err_t *err)
{
        if (strcmp(h->key_id, hub_pub->key_id) != 0)
                return hub_err_set(err, HUB_E_KEY, false, "mlog",
                                   "tree head is signed with key %s, not with %s", h->key_id,
                                   hub_pub->key_id);
        uint8_t d[32];
        hub_mlog_head_digest(h, d);
        if (crypto_sign_verify_detached(h->signature, d, sizeof(d), hub_pub->pk) != 0)
                return hub_err_set(err, HUB_E_SIGNATURE, false, "mlog",
                                   "tree head signature does not verify with key %s",
                                   hub_pub->key_id);
        return 0;
}

int hub_mlog_head_encode(const hub_mlog_head_t *h, uint8_t **out, size_t *len, hub_err_t *err)
{
        if (h->size > INT64_MAX)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "tree size out of range");
        wbuf_t b = {0};
        wb_long(&b, (int64_t)h->size);
        wb_raw(&b, h->root, 32);
        wb_long(&b, h->timestamp_ms);
        wb_abytes(&b, h->key_id, strlen(h->key_id));
        wb_raw(&b, h->signature, HUB_SIG_BYTES);
        return finish(&b, out, len, err);
}

int hub_mlog_head_decode(const void *buf, size_t len, hub_mlog_head_t *out, hub_err_t *err)
{
        rbuf_t r = {buf, len, 0, 0, 0};
        memset(out, 0, sizeof(*out));
        int64_t size = rb_long(&r);
        const uint8_t *root = rb_raw(&r, 32);
        int64_t ts = rb_long(&r);
        size_t kl = 0;
        const uint8_t *kid = rb_abytes(&r, &kl);
        const uint8_t *sig = rb_raw(&r, HUB_SIG_BYTES);
        if (r.err)
                return hub_err_set(err, r.err, false, "mlog", "tree head: %s at byte %zu",
                                   r.err == HUB_E_TRUNCATED ? "input ends early"
                                                            : "not the canonical encoding",
                                   r.err_at);
        if (r.i != len)
                return hub_err_set(err, HUB_E_TRAILING, false, "mlog",
                                   "tree head: %zu bytes after the signature", len - r.i);
        if (size < 0 || !key_id_ok((const char *)kid, kl))
                return hub_err_set(err, HUB_E_MALFORMED, false, "mlog",
                                   "tree head: negative size or invalid key_id");
        out->size = (uint64_t)size;
        memcpy(out->root, root, 32);
        out->timestamp_ms = ts;
        memcpy(out->key_id, kid, kl);
        out->key_id[kl] = '\0';
        memcpy(out->signature, sig, HUB_SIG_BYTES);
        return 0;
}

bool hub_mlog_head_due(bool have_last, uint64_t last_size, int64_t last_ms, uint64_t size,
                       int64_t now_ms, int64_t every_ms, uint64_t every_leaves)
{
        if (!have_last)
                return size > 0;
        if (size <= last_size)
                return false;
        if (every_leaves && size - last_size >= every_leaves)
                return true;
        return every_ms && now_ms - last_ms >= every_ms;
}

/* ---- plans ---- */

struct range {
        uint64_t a, b;
};

struct hub_mlog_plan {
        struct range *r;
        size_t nr, capr;
        hub_mlog_node_t *nodes;
        uint8_t (*hash)[32];
        bool *set;
        size_t nn, capn;
        bool oom;
};

static bool is_pow2(uint64_t x)
{
        return x && !(x & (x - 1));
}

/* The largest power of two smaller than n (n > 1). */
static uint64_t split(uint64_t n)
{
        return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static void add_node(hub_mlog_plan_t *p, uint8_t level, uint64_t index)
{
        if (p->nn == p->capn) {
                size_t cap = p->capn ? 2 * p->capn : 16;
                hub_mlog_node_t *n = realloc(p->nodes, cap * sizeof(*n));
                if (!n) {
                        p->oom = true;
                        return;
                }
                p->nodes = n;
                p->capn = cap;
        }
        p->nodes[p->nn++] = (hub_mlog_node_t){level, index};
}

/* The stored nodes MTH(D[a:b]) is made of: the range itself when it is a complete aligned
 * subtree, else its RFC 9162 split. Every range a proof has is aligned that way, so this stays
 * at O(log n) nodes; an unaligned one would still be correct, only dearer. */
static void collect(hub_mlog_plan_t *p, uint64_t a, uint64_t b)
{
        uint64_t n = b - a;
        if (is_pow2(n) && a % n == 0) {
                add_node(p, (uint8_t)__builtin_ctzll(n), a / n);
                return;
        }
        uint64_t k = split(n);
        collect(p, a, a + k);
        collect(p, a + k, b);
}

static void add_range(hub_mlog_plan_t *p, uint64_t a, uint64_t b)
{
        if (p->nr == p->capr) {
                size_t cap = p->capr ? 2 * p->capr : 16;
                struct range *r = realloc(p->r, cap * sizeof(*r));
                if (!r) {
                        p->oom = true;
                        return;
                }
                p->r = r;
                p->capr = cap;
        }
        p->r[p->nr++] = (struct range){a, b};
        collect(p, a, b);
}

static int cmp_node(const void *x, const void *y)
{
        const hub_mlog_node_t *a = x, *b = y;
        if (a->level != b->level)
                return a->level < b->level ? -1 : 1;
        return a->index < b->index ? -1 : a->index > b->index;
}

static int plan_done(hub_mlog_plan_t *p, hub_mlog_plan_t **out, hub_err_t *err)
{
        if (!p->oom && p->nn) {
                qsort(p->nodes, p->nn, sizeof(*p->nodes), cmp_node);
                size_t u = 0;
                for (size_t i = 0; i < p->nn; i++)
                        if (!u || cmp_node(&p->nodes[u - 1], &p->nodes[i]) != 0)
                                p->nodes[u++] = p->nodes[i];
                p->nn = u;
        }
        if (!p->oom) {
                p->hash = calloc(p->nn + 1, 32);
                p->set = calloc(p->nn + 1, sizeof(bool));
                p->oom = !p->hash || !p->set;
        }
        if (p->oom) {
                hub_mlog_plan_free(p);
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        }
        *out = p;
        return 0;
}

static void path(hub_mlog_plan_t *p, uint64_t m, uint64_t a, uint64_t b)
{
        if (b - a <= 1)
                return;
        uint64_t k = split(b - a);
        if (m < a + k) {
                path(p, m, a, a + k);
                add_range(p, a + k, b);
        } else {
                path(p, m, a + k, b);
                add_range(p, a, a + k);
        }
}

static void subproof(hub_mlog_plan_t *p, uint64_t m, uint64_t a, uint64_t b, bool whole)
{
        uint64_t n = b - a;
        if (m == n) {
                if (!whole)
                        add_range(p, a, b);
                return;
        }
        uint64_t k = split(n);
        if (m <= k) {
                subproof(p, m, a, a + k, whole);
                add_range(p, a + k, b);
        } else {
                subproof(p, m - k, a + k, b, false);
                add_range(p, a, a + k);
        }
}

int hub_mlog_plan_inclusion(uint64_t m, uint64_t n, hub_mlog_plan_t **out, hub_err_t *err)
{
        if (m >= n)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog",
                                   "leaf %" PRIu64 " is not in a tree of %" PRIu64 " leaves", m,
                                   n);
        hub_mlog_plan_t *p = calloc(1, sizeof(*p));
        if (!p)
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        path(p, m, 0, n);
        return plan_done(p, out, err);
}

int hub_mlog_plan_consistency(uint64_t m, uint64_t n, hub_mlog_plan_t **out, hub_err_t *err)
{
        if (m == 0 || m > n)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog",
                                   "no consistency proof from %" PRIu64 " to %" PRIu64 " leaves",
                                   m, n);
        hub_mlog_plan_t *p = calloc(1, sizeof(*p));
        if (!p)
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        if (m < n)
                subproof(p, m, 0, n, true);
        return plan_done(p, out, err);
}

int hub_mlog_plan_root(uint64_t n, hub_mlog_plan_t **out, hub_err_t *err)
{
        if (n == 0)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "the empty tree has no nodes");
        hub_mlog_plan_t *p = calloc(1, sizeof(*p));
        if (!p)
                return hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        add_range(p, 0, n);
        return plan_done(p, out, err);
}

void hub_mlog_plan_free(hub_mlog_plan_t *p)
{
        if (!p)
                return;
        free(p->r);
        free(p->nodes);
        free(p->hash);
        free(p->set);
        free(p);
}

size_t hub_mlog_plan_nodes(const hub_mlog_plan_t *p, const hub_mlog_node_t **nodes)
{
        *nodes = p->nodes;
        return p->nn;
}

void hub_mlog_plan_set(hub_mlog_plan_t *p, size_t i, const uint8_t hash[32])
{
        if (i < p->nn) {
                memcpy(p->hash[i], hash, 32);
                p->set[i] = true;
        }
}

static const uint8_t *lookup(const hub_mlog_plan_t *p, uint8_t level, uint64_t index)
{
        hub_mlog_node_t key = {level, index};
        const hub_mlog_node_t *f = bsearch(&key, p->nodes, p->nn, sizeof(key), cmp_node);
        if (!f)
                return NULL;
        size_t i = (size_t)(f - p->nodes);
        return p->set[i] ? p->hash[i] : NULL;
}

static bool mth(const hub_mlog_plan_t *p, uint64_t a, uint64_t b, uint8_t out[32])
{
        uint64_t n = b - a;
        if (is_pow2(n) && a % n == 0) {
                const uint8_t *h = lookup(p, (uint8_t)__builtin_ctzll(n), a / n);
                if (h)
                        memcpy(out, h, 32);
                return h != NULL;
        }
        uint8_t l[32], r[32];
        uint64_t k = split(n);
        if (!mth(p, a, a + k, l) || !mth(p, a + k, b, r))
                return false;
        hub_merkle_node_hash(l, r, out);
        return true;
}

int hub_mlog_plan_result(const hub_mlog_plan_t *p, uint8_t *out, size_t cap, size_t *len,
                         hub_err_t *err)
{
        if (p->nr * 32 > cap)
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "proof buffer too small");
        for (size_t i = 0; i < p->nr; i++)
                if (!mth(p, p->r[i].a, p->r[i].b, out + 32 * i))
                        return hub_err_set(err, HUB_E_INVAL, false, "mlog",
                                           "a node of [%" PRIu64 ", %" PRIu64 ") is missing",
                                           p->r[i].a, p->r[i].b);
        *len = p->nr * 32;
        return 0;
}

/* ---- appending ---- */

int hub_mlog_frontier_init(hub_mlog_frontier_t *f, uint64_t size, const hub_mlog_plan_t *root,
                           hub_err_t *err)
{
        memset(f, 0, sizeof(*f));
        f->size = size;
        if (size == 0)
                return 0;
        if (!root || root->nn != (size_t)__builtin_popcountll(size))
                return hub_err_set(err, HUB_E_INVAL, false, "mlog", "not a root plan of %" PRIu64,
                                   size);
        /* The plan is sorted by level ascending: the frontier is largest (leftmost) first. */
        for (size_t i = root->nn; i-- > 0;) {
                if (!root->set[i])
                        return hub_err_set(err, HUB_E_INVAL, false, "mlog",
                                           "frontier node at level %d missing",
                                           root->nodes[i].level);
                f->level[f->n] = root->nodes[i].level;
                memcpy(f->hash[f->n], root->hash[i], 32);
                f->n++;
        }
        return 0;
}

int hub_mlog_frontier_push(hub_mlog_frontier_t *f, const uint8_t leaf_hash[32],
                           int (*emit)(uint8_t level, uint64_t index, const uint8_t hash[32],
                                       void *arg),
                           void *arg)
{
        uint64_t i = f->size;
        f->level[f->n] = 0;
        memcpy(f->hash[f->n], leaf_hash, 32);
        f->n++;
        while (f->n >= 2 && f->level[f->n - 1] == f->level[f->n - 2]) {
                hub_merkle_node_hash(f->hash[f->n - 2], f->hash[f->n - 1], f->hash[f->n - 2]);
                f->level[f->n - 2]++;
                f->n--;
                uint8_t l = f->level[f->n - 1];
                if (emit) {
                        int rc = emit(l, i >> l, f->hash[f->n - 1], arg);
                        if (rc)
                                return rc;
                }
        }
        f->size++;
        return 0;
}

void hub_mlog_frontier_root(const hub_mlog_frontier_t *f, uint8_t out[32])
{
        if (f->n == 0) {
                crypto_hash_sha256(out, NULL, 0);
                return;
        }
        memcpy(out, f->hash[f->n - 1], 32);
        for (int j = f->n - 2; j >= 0; j--)
                hub_merkle_node_hash(f->hash[j], out, out);
}

int hub_mlog_root_from_path(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                            const uint8_t *proof, size_t proof_len, uint8_t out[32],
                            hub_err_t *err)
{
        if (index >= size || proof_len % 32)
                return hub_err_set(err, HUB_E_PROOF, false, "mlog",
                                   "index %" PRIu64 " of %" PRIu64 " or path length %zu invalid",
                                   index, size, proof_len);
        uint64_t fn = index, sn = size - 1;
        uint8_t r[32];
        memcpy(r, leaf_hash, 32);
        for (size_t i = 0; i < proof_len / 32; i++) {
                const uint8_t *p = proof + 32 * i;
                if (sn == 0)
                        return hub_err_set(err, HUB_E_PROOF, false, "mlog", "path too long");
                if ((fn & 1) || fn == sn) {
                        hub_merkle_node_hash(p, r, r);
                        if (!(fn & 1))
                                while (!(fn & 1) && fn != 0) {
                                        fn >>= 1;
                                        sn >>= 1;
                                }
                } else {
                        hub_merkle_node_hash(r, p, r);
                }
                fn >>= 1;
                sn >>= 1;
        }
        if (sn != 0)
                return hub_err_set(err, HUB_E_PROOF, false, "mlog", "path too short");
        memcpy(out, r, 32);
        return 0;
}
