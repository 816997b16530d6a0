/* The hub's Merkle log in PostgreSQL: appending, signing heads, proofs. See hub/mlog_store.h.
 *
 * Round trips: an append is lock + frontier read + two COPYs + one update, whatever the number
 * of leaves; a proof or a root is one query of at most ~2 log2(n) rows by primary key. */
#include "mlog_internal.h"
#include "sqlbuf.h"

#include <hub/mlog_store.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- binary results ---- */

static uint64_t be(const char *p, int n)
{
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = (v << 8) | (unsigned char)p[i];
        return v;
}

/* Fill every node of the plan from log_leaves (level 0) and log_nodes, in one query. */
static int fill_plan(hub_store_t *s, hub_mlog_plan_t *p, hub_err_t *err)
{
        const hub_mlog_node_t *nodes;
        size_t n = hub_mlog_plan_nodes(p, &nodes);
        if (!n)
                return 0;
        int64_t *l0 = malloc(n * sizeof(int64_t)), *lv = malloc(n * sizeof(int64_t)),
                *ix = malloc(n * sizeof(int64_t));
        size_t n0 = 0, nn = 0;
        hub_sqlbuf_t a = {0}, b = {0}, c = {0};
        PGresult *r = NULL;
        int rc = 0;
        if (!l0 || !lv || !ix) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                if (nodes[i].level == 0) {
                        l0[n0++] = (int64_t)nodes[i].index;
                } else {
                        lv[nn] = nodes[i].level;
                        ix[nn++] = (int64_t)nodes[i].index;
                }
        }
        hub_array_int(&a, l0, n0);
        hub_array_int(&b, lv, nn);
        hub_array_int(&c, ix, nn);
        const char *params[3] = {hub_sqlbuf_str(&a), hub_sqlbuf_str(&b), hub_sqlbuf_str(&c)};
        r = PQexecParams(hub_store_conn(s),
                         "SELECT 0::int2, idx, hash FROM log_leaves WHERE idx = ANY($1::int8[]) "
                         "UNION ALL SELECT n.level, n.idx, n.hash FROM log_nodes n JOIN "
                         "unnest($2::int2[], $3::int8[]) AS q(l, i) ON n.level = q.l AND "
                         "n.idx = q.i",
                         3, NULL, params, NULL, NULL, 1);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read log nodes", err);
        if (rc)
                goto out;
        size_t got = 0;
        for (int t = 0; t < PQntuples(r); t++) {
                hub_mlog_node_t key = {(uint8_t)be(PQgetvalue(r, t, 0), 2),
                                       be(PQgetvalue(r, t, 1), 8)};
                if (PQgetlength(r, t, 2) != 32)
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (nodes[i].level == key.level && nodes[i].index == key.index) {
                                hub_mlog_plan_set(p, i, (const uint8_t *)PQgetvalue(r, t, 2));
                                got++;
                                break;
                        }
        }
        if (got != n)
                rc = hub_err_set(err, HUB_E_DB, false, "mlog",
                                 "the log is missing %zu of the %zu nodes a proof needs", n - got,
                                 n);
out:
        PQclear(r);
        hub_sqlbuf_done(&a);
        hub_sqlbuf_done(&b);
        hub_sqlbuf_done(&c);
        free(l0);
        free(lv);
        free(ix);
        return rc;
}

/* ---- appending ---- */

struct leaf {
        int kind;
        const char *ref;
        uint8_t *data;
        size_t len;
};

static int emit_node(uint8_t level, uint64_t index, const uint8_t hash[32], void *arg)
{
        hub_sqlbuf_t *b = arg;
        hub_copy_int(b, level);
        hub_copy_int(b, (int64_t)index);
        hub_copy_bytea(b, hash, 32);
        hub_copy_end_row(b);
        return 0;
}

static int lock_size(hub_store_t *s, uint64_t *size, hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(s), "SELECT size FROM log_state FOR UPDATE");
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "lock the log", err);
        if (!rc && PQntuples(r) != 1)
                rc = hub_err_set(err, HUB_E_DB, false, "mlog", "log_state has %d rows, not 1",
                                 PQntuples(r));
        if (!rc)
                *size = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return rc;
}

static int frontier_at(hub_store_t *s, uint64_t size, hub_mlog_frontier_t *f, hub_err_t *err)
{
        hub_mlog_plan_t *p = NULL;
        int rc = 0;
        if (size) {
                rc = hub_mlog_plan_root(size, &p, err);
                if (!rc)
                        rc = fill_plan(s, p, err);
        }
        if (!rc)
                rc = hub_mlog_frontier_init(f, size, p, err);
        hub_mlog_plan_free(p);
        return rc;
}

static int append_leaves(hub_store_t *s, const struct leaf *lv, size_t n, int64_t *first,
                         hub_err_t *err)
{
        uint64_t size;
        hub_mlog_frontier_t f;
        hub_sqlbuf_t leaves = {0}, nodes = {0};
        int rc = lock_size(s, &size, err);
        if (!rc)
                rc = frontier_at(s, size, &f, err);
        if (rc)
                return rc;
        for (size_t i = 0; i < n && !rc; i++) {
                uint8_t h[32];
                hub_merkle_leaf_hash(lv[i].data, lv[i].len, h);
                hub_copy_int(&leaves, (int64_t)(size + i));
                hub_copy_int(&leaves, lv[i].kind);
                hub_copy_text(&leaves, lv[i].ref);
                hub_copy_bytea(&leaves, lv[i].data, lv[i].len);
                hub_copy_bytea(&leaves, h, 32);
                hub_copy_end_row(&leaves);
                rc = hub_mlog_frontier_push(&f, h, emit_node, &nodes);
        }
        if (!rc)
                rc = hub_copy_run(s, "COPY log_leaves (idx, kind, ref, data, hash) FROM STDIN",
                                  &leaves, "append log leaves", err);
        if (!rc)
                rc = hub_copy_run(s, "COPY log_nodes (level, idx, hash) FROM STDIN", &nodes,
                                  "append log nodes", err);
        if (!rc) {
                char sz[24];
                snprintf(sz, sizeof(sz), "%" PRIu64, size + n);
                const char *p[1] = {sz};
                PGresult *r = PQexecParams(hub_store_conn(s), "UPDATE log_state SET size = $1",
                                           1, NULL, p, NULL, NULL, 0);
                rc = hub_store_check(s, r, PGRES_COMMAND_OK, "grow the log", err);
                PQclear(r);
        }
        if (!rc && first)
                *first = (int64_t)size;
        hub_sqlbuf_done(&leaves);
        hub_sqlbuf_done(&nodes);
        return rc;
}

int hub_mlog_append(hub_store_t *s, int kind, const char *ref, const void *body, size_t len,
                    int64_t *index, hub_err_t *err)
{
        struct leaf l = {kind, ref, NULL, 0};
        int rc = hub_mlog_leaf(kind, body, len, &l.data, &l.len, err);
        if (rc)
                return rc;
        rc = append_leaves(s, &l, 1, index, err);
        free(l.data);
        return rc;
}

int hub_mlog_append_many(hub_store_t *s, int kind, const char *const *refs,
                         const void *const *bodies, const size_t *lens, size_t n, int64_t *first,
                         hub_err_t *err)
{
        struct leaf *lv = calloc(n + 1, sizeof(*lv));
        int rc = lv ? 0 : hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
                lv[i].kind = kind;
                lv[i].ref = refs[i];
                rc = hub_mlog_leaf(kind, bodies[i], lens[i], &lv[i].data, &lv[i].len, err);
        }
        if (!rc)
                rc = append_leaves(s, lv, n, first, err);
        for (size_t i = 0; lv && i < n; i++)
                free(lv[i].data);
        free(lv);
        return rc;
}

/* Statements digests of records (agency[i], record_id[i]), i < n, in one query. */
int hub_mlog_statement_digests_internal(hub_store_t *s, const char *const *agency,
                             const char *const *record_id, size_t n, uint8_t (*out)[32],
                             hub_err_t *err)
{
        hub_sqlbuf_t a = {0}, b = {0};
        hub_array_text(&a, agency, n);
        hub_array_text(&b, record_id, n);
        const char *p[2] = {hub_sqlbuf_str(&a), hub_sqlbuf_str(&b)};
        PGresult *r = PQexecParams(
                hub_store_conn(s),
                "SELECT q.i, s.prop, s.original, s.value, s.valid, s.reason, s.tier FROM "
                "unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(agency, record_id, i) "
                "JOIN statements s ON s.agency = q.agency AND s.record_id = q.record_id "
                "ORDER BY q.i",
                2, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read statements", err);
        int rows = rc ? 0 : PQntuples(r);
        hub_mlog_statement_t *st = calloc((size_t)rows + 1, sizeof(*st));
        if (!rc && !st)
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
        int t = 0;
        for (size_t i = 0; i < n && !rc; i++) {
                size_t k = 0;
                while (t < rows && (size_t)strtoull(PQgetvalue(r, t, 0), NULL, 10) == i + 1) {
                        st[k++] = (hub_mlog_statement_t){
                                PQgetvalue(r, t, 1), PQgetvalue(r, t, 2), PQgetvalue(r, t, 3),
                                PQgetvalue(r, t, 4)[0] == 't',
                                PQgetisnull(r, t, 5) ? NULL : PQgetvalue(r, t, 5),
                                PQgetvalue(r, t, 6)};
                        t++;
                }
                rc = hub_mlog_statements_digest(st, k, out[i], err);
        }
        free(st);
        PQclear(r);
        hub_sqlbuf_done(&a);
        hub_sqlbuf_done(&b);
        return rc;
}

int hub_mlog_record_statements_digest(hub_store_t *s, const char *agency, const char *record_id,
                                      uint8_t out[32], hub_err_t *err)
{
        uint8_t d[1][32];
        int rc = hub_mlog_statement_digests_internal(s, &agency, &record_id, 1, d, err);
        if (!rc)
                memcpy(out, d[0], 32);
        return rc;
}

int hub_mlog_append_batch(hub_store_t *s, const char *topic, int32_t partition, int64_t offset,
                          const hub_batch_t *b, hub_err_t *err)
{
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", (int)partition);
        snprintf(off, sizeof(off), "%" PRId64, offset);
        const char *p[3] = {topic, part, off};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT r.agency, r.record_id, r.batch_index, r.payload_sha256 "
                                   "FROM batches b JOIN records r ON r.batch_id = b.id WHERE "
                                   "b.topic = $1 AND b.partition = $2 AND b.\"offset\" = $3 "
                                   "ORDER BY r.batch_index",
                                   3, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the batch's records", err);
        size_t n = rc ? 0 : (size_t)PQntuples(r);
        if (!n) {
                PQclear(r);
                return rc;
        }
        const char **ag = calloc(n, sizeof(char *)), **id = calloc(n, sizeof(char *));
        uint8_t(*sd)[32] = calloc(n, 32);
        struct leaf *lv = calloc(n, sizeof(*lv));
        char **refs = calloc(n, sizeof(char *));
        if (!ag || !id || !sd || !lv || !refs) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                ag[i] = PQgetvalue(r, (int)i, 0);
                id[i] = PQgetvalue(r, (int)i, 1);
        }
        rc = hub_mlog_statement_digests_internal(s, ag, id, n, sd, err);
        for (size_t i = 0; i < n && !rc; i++) {
                hub_mlog_record_leaf_t rl = {.agency = ag[i], .record_id = id[i],
                                             .batch_index = (uint32_t)be(PQgetvalue(r, (int)i, 2),
                                                                         4)};
                memcpy(rl.record_sha256, PQgetvalue(r, (int)i, 3), 32);
                memcpy(rl.batch_digest, hub_batch_digest(b), 32);
                memcpy(rl.statements_digest, sd[i], 32);
                size_t rl_len = strlen(ag[i]) + strlen(id[i]) + 2;
                refs[i] = malloc(rl_len);
                if (!refs[i]) {
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog", "out of memory");
                        break;
                }
                snprintf(refs[i], rl_len, "%s/%s", ag[i], id[i]);
                lv[i].kind = HUB_MLOG_RECORD;
                lv[i].ref = refs[i];
                rc = hub_mlog_record_leaf(&rl, &lv[i].data, &lv[i].len, err);
        }
        if (!rc)
                rc = append_leaves(s, lv, n, NULL, err);
out:
        for (size_t i = 0; lv && refs && i < n; i++) {
                free(lv[i].data);
                free(refs[i]);
        }
        free(refs);
        free(lv);
        free(sd);
        free(ag);
        free(id);
        PQclear(r);
        return rc;
}

int hub_mlog_key_event(hub_store_t *s, const char *event, const char *agency, const char *key_id,
                       hub_err_t *err)
{
        hub_mlog_key_event_t e = {0};
        e.event = strcmp(event, "revoke") == 0 ? HUB_MLOG_KEY_REVOKE : HUB_MLOG_KEY_REGISTER;
        e.agency = agency;
        e.key_id = key_id;
        uint64_t size;
        int rc = lock_size(s, &size, err);
        if (rc)
                return rc;
        const char *p[2] = {agency, key_id};
#define US(c) "(extract(epoch FROM " c ") * 1000000)::int8"
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT public_key, " US("valid_from") ", " US(
                                           "valid_until") ", " US("revoked_at") ", "
                                   "coalesce(revoked_reason, ''), " US("now()")
                                   " FROM agency_keys WHERE agency = $1 AND key_id = $2",
                                   2, NULL, p, NULL, NULL, 0);
#undef US
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the key for its event", err);
        if (!rc && PQntuples(r) != 1)
                rc = hub_err_set(err, HUB_E_KEY, false, "mlog", "key %s of %s not found", key_id,
                                 agency);
        if (rc) {
                PQclear(r);
                return rc;
        }
        size_t pkl = 0;
        unsigned char *pk = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &pkl);
        if (!pk || pkl != HUB_PK_BYTES) {
                PQfreemem(pk);
                PQclear(r);
                return hub_err_set(err, HUB_E_KEY, false, "mlog", "stored key is not 32 bytes");
        }
        memcpy(e.public_key, pk, HUB_PK_BYTES);
        PQfreemem(pk);
        e.valid_from_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        if ((e.has_valid_until = !PQgetisnull(r, 0, 2)))
                e.valid_until_us = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        if ((e.revoked = !PQgetisnull(r, 0, 3)))
                e.revoked_at_us = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        e.reason = PQgetvalue(r, 0, 4);
        e.at_us = strtoll(PQgetvalue(r, 0, 5), NULL, 10);

        char hex[2 * HUB_PK_BYTES + 3] = "\\x", idx[24];
        for (int i = 0; i < HUB_PK_BYTES; i++)
                snprintf(hex + 2 + 2 * i, 3, "%02x", e.public_key[i]);
        snprintf(idx, sizeof(idx), "%" PRIu64, size);
        const char *ins[10] = {event, agency, key_id, hex,
                               PQgetvalue(r, 0, 1), PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
                               PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3), e.reason,
                               PQgetvalue(r, 0, 5), idx};
        PGresult *q = PQexecParams(hub_store_conn(s),
                                   "INSERT INTO key_events (event, agency, key_id, public_key, "
                                   "valid_from, valid_until, revoked_at, reason, at, leaf_index) "
                                   "VALUES ($1, $2, $3, $4::bytea, $5, $6, $7, $8, $9, $10) "
                                   "RETURNING id",
                                   10, NULL, ins, NULL, NULL, 0);
        rc = hub_store_check(s, q, PGRES_TUPLES_OK, "record the key event", err);
        struct leaf l = {HUB_MLOG_KEY_EVENT, rc ? NULL : PQgetvalue(q, 0, 0), NULL, 0};
        int64_t at = -1;
        if (!rc)
                rc = hub_mlog_key_event_leaf(&e, &l.data, &l.len, err);
        if (!rc)
                rc = append_leaves(s, &l, 1, &at, err);
        if (!rc && (uint64_t)at != size)
                rc = hub_err_set(err, HUB_E_DB, false, "mlog", "key event leaf moved");
        free(l.data);
        PQclear(q);
        PQclear(r);
        return rc;
}

/* ---- reading ---- */

int hub_mlog_size(hub_store_t *s, uint64_t *size, hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(s), "SELECT size FROM log_state");
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the log size", err);
        if (!rc && PQntuples(r) != 1)
                rc = hub_err_set(err, HUB_E_DB, false, "mlog", "log_state has %d rows, not 1",
                                 PQntuples(r));
        if (!rc)
                *size = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return rc;
}

int hub_mlog_root(hub_store_t *s, uint64_t n, uint8_t out[32], hub_err_t *err)
{
        if (n == 0) {
                crypto_hash_sha256(out, NULL, 0);
                return 0;
        }
        hub_mlog_plan_t *p = NULL;
        size_t len;
        int rc = hub_mlog_plan_root(n, &p, err);
        if (!rc)
                rc = fill_plan(s, p, err);
        if (!rc)
                rc = hub_mlog_plan_result(p, out, 32, &len, err);
        hub_mlog_plan_free(p);
        return rc;
}

static int prove(hub_store_t *s, hub_mlog_plan_t *p, int rc, uint8_t *out, size_t cap,
                 size_t *len, hub_err_t *err)
{
        if (!rc)
                rc = fill_plan(s, p, err);
        if (!rc)
                rc = hub_mlog_plan_result(p, out, cap, len, err);
        hub_mlog_plan_free(p);
        return rc;
}

int hub_mlog_prove_inclusion(hub_store_t *s, uint64_t index, uint64_t size, uint8_t *out,
                             size_t cap, size_t *len, hub_err_t *err)
{
        hub_mlog_plan_t *p = NULL;
        int rc = hub_mlog_plan_inclusion(index, size, &p, err);
        return prove(s, p, rc, out, cap, len, err);
}

int hub_mlog_prove_consistency(hub_store_t *s, uint64_t m, uint64_t n, uint8_t *out, size_t cap,
                               size_t *len, hub_err_t *err)
{
        hub_mlog_plan_t *p = NULL;
        int rc = hub_mlog_plan_consistency(m, n, &p, err);
        return prove(s, p, rc, out, cap, len, err);
}

static void head_from_row(const PGresult *r, int t, hub_mlog_head_t *h)
{
        /* Binary: log_size, root_hash, timestamp_ms, key_id, signature. */
        memset(h, 0, sizeof(*h));
        h->size = be(PQgetvalue(r, t, 0), 8);
        if (PQgetlength(r, t, 1) == 32)
                memcpy(h->root, PQgetvalue(r, t, 1), 32);
        h->timestamp_ms = (int64_t)be(PQgetvalue(r, t, 2), 8);
        snprintf(h->key_id, sizeof(h->key_id), "%.*s", PQgetlength(r, t, 3), PQgetvalue(r, t, 3));
        if (PQgetlength(r, t, 4) == HUB_SIG_BYTES)
                memcpy(h->signature, PQgetvalue(r, t, 4), HUB_SIG_BYTES);
}

int hub_mlog_latest_head(hub_store_t *s, hub_mlog_head_t *h, bool *found, hub_err_t *err)
{
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT log_size, root_hash, timestamp_ms, key_id, signature "
                                   "FROM tree_heads ORDER BY id DESC LIMIT 1",
                                   0, NULL, NULL, NULL, NULL, 1);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the latest tree head", err);
        *found = !rc && PQntuples(r) == 1;
        if (*found)
                head_from_row(r, 0, h);
        PQclear(r);
        return rc;
}

int hub_mlog_find_leaf(hub_store_t *s, int kind, const char *ref, int64_t *index, uint8_t **data,
                       size_t *len, uint8_t hash[32], bool *found, hub_err_t *err)
{
        char k[8];
        snprintf(k, sizeof(k), "%d", kind);
        const char *p[2] = {k, ref};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT idx, data, hash FROM log_leaves WHERE kind = $1 AND "
                                   "ref = $2 ORDER BY idx LIMIT 1",
                                   2, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "find the leaf", err);
        *found = !rc && PQntuples(r) == 1;
        if (*found) {
                *index = (int64_t)be(PQgetvalue(r, 0, 0), 8);
                if (hash && PQgetlength(r, 0, 2) == 32)
                        memcpy(hash, PQgetvalue(r, 0, 2), 32);
                if (data) {
                        *len = (size_t)PQgetlength(r, 0, 1);
                        *data = malloc(*len + 1);
                        if (!*data)
                                rc = hub_err_set(err, HUB_E_NOMEM, false, "mlog",
                                                 "out of memory");
                        else
                                memcpy(*data, PQgetvalue(r, 0, 1), *len);
                }
        }
        PQclear(r);
        return rc;
}

/* ---- signing ---- */

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sign_tx(hub_store_t *s, const hub_key_t *key, const hub_mlog_sign_opts_t *o,
                   hub_mlog_head_t *out, bool *signed_now, hub_err_t *err)
{
        uint64_t size;
        int rc = lock_size(s, &size, err);
        if (rc)
                return rc;
        hub_mlog_head_t last;
        bool have = false;
        rc = hub_mlog_latest_head(s, &last, &have, err);
        if (rc)
                return rc;
        int64_t now = wall_ms();
        bool due = o->force ? (!have ? size > 0 : size > last.size)
                            : hub_mlog_head_due(have, have ? last.size : 0,
                                                have ? last.timestamp_ms : 0, size, now,
                                                o->every_ms, o->every_leaves);
        if (!due)
                return 0;
        hub_mlog_head_t h = {.size = size};
        /* Heads never go back in time, whichever hubd signs or whatever its clock says. */
        h.timestamp_ms = have && last.timestamp_ms > now ? last.timestamp_ms : now;
        rc = hub_mlog_root(s, size, h.root, err);
        if (!rc)
                rc = hub_mlog_head_sign(&h, key, err);
        uint8_t *msg = NULL;
        size_t len = 0;
        if (!rc)
                rc = hub_mlog_head_encode(&h, &msg, &len, err);
        if (rc)
                return rc;
        char sz[24], ts[24];
        snprintf(sz, sizeof(sz), "%" PRIu64, h.size);
        snprintf(ts, sizeof(ts), "%" PRId64, h.timestamp_ms);
        const char *v[5] = {sz, (const char *)h.root, ts, h.key_id, (const char *)h.signature};
        int lens[5] = {0, 32, 0, 0, HUB_SIG_BYTES};
        int fmts[5] = {0, 1, 0, 0, 1};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "INSERT INTO tree_heads (log_size, root_hash, timestamp_ms, "
                                   "key_id, signature) VALUES ($1, $2, $3, $4, $5)",
                                   5, NULL, v, lens, fmts, 0);
        rc = hub_store_check(s, r, PGRES_COMMAND_OK, "store the tree head", err);
        PQclear(r);
        if (!rc) {
                const char *ov[3] = {HUB_MLOG_TOPIC, HUB_MLOG_TOPIC_KEY, (const char *)msg};
                int ol[3] = {0, (int)strlen(HUB_MLOG_TOPIC_KEY), (int)len};
                int of[3] = {0, 1, 1};
                r = PQexecParams(hub_store_conn(s),
                                 "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)",
                                 3, NULL, ov, ol, of, 0);
                rc = hub_store_check(s, r, PGRES_COMMAND_OK, "queue the tree head", err);
                PQclear(r);
        }
        free(msg);
        if (!rc) {
                *signed_now = true;
                if (out)
                        *out = h;
        }
        return rc;
}

int hub_mlog_sign(hub_store_t *s, const hub_key_t *key, const hub_mlog_sign_opts_t *o,
                  hub_mlog_head_t *head, bool *signed_now, hub_err_t *err)
{
        *signed_now = false;
        int rc = hub_store_begin(s, err);
        if (rc)
                return rc;
        rc = sign_tx(s, key, o, head, signed_now, err);
        if (!rc)
                rc = hub_store_commit(s, err);
        if (rc) {
                hub_store_rollback(s);
                *signed_now = false;
        }
        return rc;
}
