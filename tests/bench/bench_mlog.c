/* The hub's log at scale: proof generation and verification at N leaves (1M, 10M), and the
 * append rate, each against a raw baseline measured in the same run and database.
 *
 *   build     N synthetic access leaves and every complete subtree, written with COPY
 *             (the tree computed in C with the append frontier), then indexed
 *   inclusion K inclusion proofs of random leaves in the tree of N (hub_mlog_prove_inclusion:
 *             one query of O(log N) rows) — baseline: K primary-key lookups of one leaf
 *             (SELECT hash FROM log_leaves WHERE idx = $1), the cheapest query there is
 *   consistency K consistency proofs from a random size to N
 *   verify    the K inclusion and K consistency proofs verified (pure CPU, hub/merkle.h)
 *   append    leaves appended through hub_mlog_append_many in transactions of B leaves, and
 *             one leaf per transaction — baseline: COPY of the same rows into a plain table
 *             with a primary key, B per transaction
 *
 * usage: bench_mlog [--leaves N] [--proofs K] [--batch B] [--appends M]
 * Needs HUB_PG_DSN (skips, 77, without). Prints one line per measure; no assertion on time. */
#include <hub/mlog.h>
#include <hub/mlog_store.h>
#include <hub/store.h>

#include "testdb.h"
#include "testutil.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
        fprintf(stderr, "bench_mlog: %s: %s\n", what, msg);
        exit(1);
}

static void exec(PGconn *c, const char *q)
{
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
                die(q, PQresultErrorMessage(r));
        PQclear(r);
}

/* A COPY text buffer. */
struct cbuf {
        char *p;
        size_t n, cap;
};

static void put(struct cbuf *b, const char *s, size_t n)
{
        if (b->n + n + 1 > b->cap) {
                b->cap = (b->n + n + 1) * 2;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        die("buffer", "out of memory");
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
}

static void put_hex(struct cbuf *b, const uint8_t *p, size_t n)
{
        static const char hx[] = "0123456789abcdef";
        char tmp[2];
        put(b, "\\\\x", 3);
        for (size_t i = 0; i < n; i++) {
                tmp[0] = hx[p[i] >> 4];
                tmp[1] = hx[p[i] & 15];
                put(b, tmp, 2);
        }
}

static void copy_flush(PGconn *c, const char *sql, struct cbuf *b)
{
        if (!b->n)
                return;
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COPY_IN)
                die(sql, PQresultErrorMessage(r));
        PQclear(r);
        if (PQputCopyData(c, b->p, (int)b->n) != 1 || PQputCopyEnd(c, NULL) != 1)
                die(sql, PQerrorMessage(c));
        r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die(sql, PQresultErrorMessage(r));
        PQclear(r);
        while ((r = PQgetResult(c)))
                PQclear(r);
        b->n = 0;
}

struct nodes_ctx {
        struct cbuf *b;
        uint64_t count;
};

static int emit(uint8_t level, uint64_t index, const uint8_t hash[32], void *arg)
{
        struct nodes_ctx *x = arg;
        char tmp[48];
        put(x->b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%d\t%" PRIu64 "\t", level, index));
        put_hex(x->b, hash, 32);
        put(x->b, "\n", 1);
        x->count++;
        return 0;
}

static void leaf_body(uint64_t i, char *body, size_t cap, size_t *n)
{
        /* An access-log-sized body: who, what, when, result. */
        *n = (size_t)snprintf(body, cap, "agency=MOF-THUE user=u%" PRIu64 " entity=E%" PRIu64
                              " result=allowed",
                              i % 977, i % 100003);
}

static uint64_t rnd(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

int main(int argc, char **argv)
{
        uint64_t n = 1000000, k = 2000, batch = 500, appends = 20000;
        for (int i = 1; i + 1 < argc; i += 2) {
                uint64_t v = strtoull(argv[i + 1], NULL, 10);
                if (strcmp(argv[i], "--leaves") == 0)
                        n = v;
                else if (strcmp(argv[i], "--proofs") == 0)
                        k = v;
                else if (strcmp(argv[i], "--batch") == 0)
                        batch = v;
                else if (strcmp(argv[i], "--appends") == 0)
                        appends = v;
        }
        if (sodium_init() < 0)
                return 1;
        char dsn[512];
        hub_test_fresh_db("mlogbench", dsn, sizeof(dsn));
        hub_store_t *s;
        hub_err_t err = {0};
        if (hub_store_open(dsn, &s, &err) || hub_store_migrate(s, NULL, &err))
                die("store", err.msg);
        PGconn *c = hub_store_conn(s);
        exec(c, "SET synchronous_commit = off");

        /* ---- build ---- */
        double t0 = now_s();
        exec(c, "DROP INDEX log_leaves_ref");
        exec(c, "ALTER TABLE log_leaves DROP CONSTRAINT log_leaves_pkey");
        exec(c, "ALTER TABLE log_nodes DROP CONSTRAINT log_nodes_pkey");
        hub_mlog_frontier_t f;
        hub_mlog_frontier_init(&f, 0, NULL, NULL);
        struct cbuf lb = {0}, nb = {0};
        struct nodes_ctx nx = {&nb, 0};
        const uint64_t chunk = 200000;
        for (uint64_t i = 0; i < n; i++) {
                char body[128], tmp[64];
                size_t bl;
                uint8_t *data, h[32];
                size_t dl;
                leaf_body(i, body, sizeof(body), &bl);
                if (hub_mlog_leaf(HUB_MLOG_ACCESS, body, bl, &data, &dl, &err))
                        die("leaf", err.msg);
                hub_merkle_leaf_hash(data, dl, h);
                put(&lb, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64 "\t6\ta%" PRIu64 "\t",
                                               i, i));
                put_hex(&lb, data, dl);
                put(&lb, "\t", 1);
                put_hex(&lb, h, 32);
                put(&lb, "\n", 1);
                free(data);
                hub_mlog_frontier_push(&f, h, emit, &nx);
                if ((i + 1) % chunk == 0 || i + 1 == n) {
                        copy_flush(c, "COPY log_leaves (idx, kind, ref, data, hash) FROM STDIN",
                                   &lb);
                        copy_flush(c, "COPY log_nodes (level, idx, hash) FROM STDIN", &nb);
                        if ((i + 1) % (chunk * 10) == 0)
                                fprintf(stderr, "bench_mlog: %" PRIu64 " leaves written\n", i + 1);
                }
        }
        double t_copy = now_s() - t0;
        exec(c, "ALTER TABLE log_leaves ADD PRIMARY KEY (idx)");
        exec(c, "ALTER TABLE log_nodes ADD PRIMARY KEY (level, idx)");
        exec(c, "CREATE INDEX log_leaves_ref ON log_leaves (kind, ref)");
        char q[128];
        snprintf(q, sizeof(q), "UPDATE log_state SET size = %" PRIu64, n);
        exec(c, q);
        exec(c, "VACUUM ANALYZE log_leaves");
        exec(c, "VACUUM ANALYZE log_nodes");
        double t_build = now_s() - t0;
        uint8_t root[32], want[32];
        hub_mlog_frontier_root(&f, want);
        if (hub_mlog_root(s, n, root, &err) || memcmp(root, want, 32) != 0)
                die("root", "the stored tree's root differs from the computed one");
        PGresult *sz = PQexec(c, "SELECT pg_size_pretty(pg_total_relation_size('log_leaves')), "
                                 "pg_size_pretty(pg_total_relation_size('log_nodes'))");
        printf("build: %" PRIu64 " leaves and %" PRIu64 " nodes: COPY %.1f s, with indexes %.1f s "
               "(%.0f leaves/s); log_leaves %s, log_nodes %s\n",
               n, nx.count, t_copy, t_build, n / t_build, PQgetvalue(sz, 0, 0),
               PQgetvalue(sz, 0, 1));
        PQclear(sz);

        /* ---- proofs ---- */
        uint64_t seed = 0x9e3779b97f4a7c15ULL;
        uint64_t *idx = malloc(k * sizeof(uint64_t)), *from = malloc(k * sizeof(uint64_t));
        uint8_t(*proofs)[HUB_MERKLE_MAX_PROOF_BYTES] = malloc(k * HUB_MERKLE_MAX_PROOF_BYTES);
        uint8_t(*cproofs)[HUB_MERKLE_MAX_PROOF_BYTES] = malloc(k * HUB_MERKLE_MAX_PROOF_BYTES);
        size_t *plen = malloc(k * sizeof(size_t)), *clen = malloc(k * sizeof(size_t));
        if (!idx || !from || !proofs || !cproofs || !plen || !clen)
                die("proofs", "out of memory");
        for (uint64_t i = 0; i < k; i++) {
                idx[i] = rnd(&seed) % n;
                from[i] = 1 + rnd(&seed) % n;
        }
        /* Baseline first, so that neither gets a warmer cache from the other's pages alone. */
        double tb = now_s();
        for (uint64_t i = 0; i < k; i++) {
                char a[24];
                snprintf(a, sizeof(a), "%" PRIu64, idx[i]);
                const char *p[1] = {a};
                PGresult *r = PQexecParams(c, "SELECT hash FROM log_leaves WHERE idx = $1", 1,
                                           NULL, p, NULL, NULL, 1);
                if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                        die("lookup", PQresultErrorMessage(r));
                PQclear(r);
        }
        double t_lookup = (now_s() - tb) / (double)k;
        tb = now_s();
        size_t hashes = 0;
        for (uint64_t i = 0; i < k; i++) {
                if (hub_mlog_prove_inclusion(s, idx[i], n, proofs[i], HUB_MERKLE_MAX_PROOF_BYTES,
                                             &plen[i], &err))
                        die("inclusion", err.msg);
                hashes += plen[i] / 32;
        }
        double t_incl = (now_s() - tb) / (double)k;
        tb = now_s();
        size_t chashes = 0;
        for (uint64_t i = 0; i < k; i++) {
                if (hub_mlog_prove_consistency(s, from[i], n, cproofs[i],
                                               HUB_MERKLE_MAX_PROOF_BYTES, &clen[i], &err))
                        die("consistency", err.msg);
                chashes += clen[i] / 32;
        }
        double t_cons = (now_s() - tb) / (double)k;
        /* The roots of the older trees, to verify the consistency proofs against. */
        uint8_t(*old)[32] = malloc(k * 32);
        for (uint64_t i = 0; i < k && old; i++)
                if (hub_mlog_root(s, from[i], old[i], &err))
                        die("root", err.msg);
        PGresult *lr = NULL;
        tb = now_s();
        for (uint64_t i = 0; i < k; i++) {
                char a[24];
                snprintf(a, sizeof(a), "%" PRIu64, idx[i]);
                const char *p[1] = {a};
                lr = PQexecParams(c, "SELECT hash FROM log_leaves WHERE idx = $1", 1, NULL, p,
                                  NULL, NULL, 1);
                uint8_t lh[32];
                memcpy(lh, PQgetvalue(lr, 0, 0), 32);
                PQclear(lr);
                (void)lh;
        }
        double t_lookup2 = (now_s() - tb) / (double)k;
        /* Verification: pure CPU. The leaf hashes come from the lookups above (re-read). */
        uint8_t(*lhs)[32] = malloc(k * 32);
        for (uint64_t i = 0; i < k && lhs; i++) {
                char a[24];
                snprintf(a, sizeof(a), "%" PRIu64, idx[i]);
                const char *p[1] = {a};
                lr = PQexecParams(c, "SELECT hash FROM log_leaves WHERE idx = $1", 1, NULL, p,
                                  NULL, NULL, 1);
                memcpy(lhs[i], PQgetvalue(lr, 0, 0), 32);
                PQclear(lr);
        }
        tb = now_s();
        for (uint64_t i = 0; i < k; i++)
                if (hub_merkle_verify_inclusion(lhs[i], 32, idx[i], n, proofs[i], plen[i], want,
                                                32, &err))
                        die("verify inclusion", err.msg);
        double t_vi = (now_s() - tb) / (double)k;
        tb = now_s();
        for (uint64_t i = 0; i < k; i++)
                if (hub_merkle_verify_consistency(from[i], n, old[i], 32, want, 32, cproofs[i],
                                                  clen[i], &err))
                        die("verify consistency", err.msg);
        double t_vc = (now_s() - tb) / (double)k;
        double t_base = (t_lookup + t_lookup2) / 2;
        printf("inclusion proof at %" PRIu64 " leaves: %.1f us mean (%.1f hashes), %.2fx a "
               "primary-key lookup of one leaf (%.1f us)\n",
               n, t_incl * 1e6, (double)hashes / (double)k, t_incl / t_base, t_base * 1e6);
        printf("consistency proof at %" PRIu64 " leaves: %.1f us mean (%.1f hashes), %.2fx the "
               "lookup\n",
               n, t_cons * 1e6, (double)chashes / (double)k, t_cons / t_base);
        printf("verify: inclusion %.2f us, consistency %.2f us mean (CPU only)\n", t_vi * 1e6,
               t_vc * 1e6);

        /* ---- append ---- */
        exec(c, "CREATE TABLE raw_baseline (idx bigint PRIMARY KEY, kind smallint, ref text, "
                "data bytea, hash bytea)");
        char **refs = malloc(batch * sizeof(char *));
        const void **bodies = malloc(batch * sizeof(void *));
        size_t *lens = malloc(batch * sizeof(size_t));
        char (*bodybuf)[128] = malloc(batch * 128);
        char (*refbuf)[32] = malloc(batch * 32);
        if (!refs || !bodies || !lens || !bodybuf || !refbuf)
                die("append", "out of memory");
        uint64_t done = 0;
        tb = now_s();
        while (done < appends) {
                uint64_t m = appends - done < batch ? appends - done : batch;
                for (uint64_t j = 0; j < m; j++) {
                        leaf_body(n + done + j, bodybuf[j], 128, &lens[j]);
                        bodies[j] = bodybuf[j];
                        snprintf(refbuf[j], 32, "b%" PRIu64, n + done + j);
                        refs[j] = refbuf[j];
                }
                if (hub_store_begin(s, &err) ||
                    hub_mlog_append_many(s, HUB_MLOG_ACCESS, (const char *const *)refs, bodies,
                                         lens, m, NULL, &err) ||
                    hub_store_commit(s, &err))
                        die("append", err.msg);
                done += m;
        }
        double t_app = now_s() - tb;
        uint64_t singles = appends / 10 ? appends / 10 : 1;
        tb = now_s();
        for (uint64_t j = 0; j < singles; j++) {
                char body[128], ref[32];
                size_t bl;
                leaf_body(j, body, sizeof(body), &bl);
                snprintf(ref, sizeof(ref), "s%" PRIu64, j);
                if (hub_store_begin(s, &err) ||
                    hub_mlog_append(s, HUB_MLOG_ACCESS, ref, body, bl, NULL, &err) ||
                    hub_store_commit(s, &err))
                        die("append one", err.msg);
        }
        double t_one = now_s() - tb;
        /* Baseline: the same leaf rows, COPYed into a plain table, batch per transaction. */
        done = 0;
        tb = now_s();
        while (done < appends) {
                uint64_t m = appends - done < batch ? appends - done : batch;
                for (uint64_t j = 0; j < m; j++) {
                        char body[128], tmp[64];
                        size_t bl, dl;
                        uint8_t *data, h[32];
                        leaf_body(done + j, body, sizeof(body), &bl);
                        hub_mlog_leaf(HUB_MLOG_ACCESS, body, bl, &data, &dl, NULL);
                        hub_merkle_leaf_hash(data, dl, h);
                        put(&lb, tmp, (size_t)snprintf(tmp, sizeof(tmp),
                                                       "%" PRIu64 "\t6\tr%" PRIu64 "\t",
                                                       done + j, done + j));
                        put_hex(&lb, data, dl);
                        put(&lb, "\t", 1);
                        put_hex(&lb, h, 32);
                        put(&lb, "\n", 1);
                        free(data);
                }
                exec(c, "BEGIN");
                copy_flush(c, "COPY raw_baseline (idx, kind, ref, data, hash) FROM STDIN", &lb);
                exec(c, "COMMIT");
                done += m;
        }
        double t_raw = now_s() - tb;
        printf("append: %.0f leaves/s in transactions of %" PRIu64 " leaves (one leaf per "
               "transaction: %.0f leaves/s); baseline COPY of the same rows into a plain table, "
               "%" PRIu64 " per transaction: %.0f rows/s (%.2fx the log's rate)\n",
               appends / t_app, batch, singles / t_one, batch, appends / t_raw,
               (appends / t_raw) / (appends / t_app));
        hub_err_t verr = {0};
        uint64_t size;
        if (hub_mlog_size(s, &size, &verr) || size != n + appends + singles)
                die("size", "the log did not grow by every append");

        free(idx);
        free(from);
        free(proofs);
        free(cproofs);
        free(plen);
        free(clen);
        free(old);
        free(lhs);
        free(refs);
        free(bodies);
        free(lens);
        free(bodybuf);
        free(refbuf);
        free(lb.p);
        free(nb.p);
        hub_store_close(s);
        hub_test_drop_db(dsn);
        return 0;
}
