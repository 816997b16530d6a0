/* The log's pure parts: proof plans over complete subtrees give exactly the proofs of
 * hub/merkle.h for every tree up to 70 leaves; the frontier emits every complete subtree and
 * the right root; tree heads sign, encode, decode and refuse every changed bit; statements'
 * digest ignores row order; leaves are domain-separated byte strings as documented. */
#include <hub/mlog.h>

#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define MAXN 70

static uint8_t leaves[MAXN][32];

static void make_leaves(void)
{
        for (int i = 0; i < MAXN; i++) {
                char d[16];
                int n = snprintf(d, sizeof(d), "leaf %d", i);
                hub_merkle_leaf_hash(d, (size_t)n, leaves[i]);
        }
}

/* The stored node (level, index), computed the slow way. */
static void node(uint8_t level, uint64_t index, uint8_t out[32])
{
        uint64_t w = (uint64_t)1 << level;
        hub_merkle_root(&leaves[index * w][0], w, out);
}

static void fill(hub_mlog_plan_t *p, uint64_t n)
{
        const hub_mlog_node_t *nodes;
        size_t k = hub_mlog_plan_nodes(p, &nodes);
        for (size_t i = 0; i < k; i++) {
                uint8_t h[32];
                /* Only complete subtrees inside the tree may be asked for. */
                assert_true(((nodes[i].index + 1) << nodes[i].level) <= n);
                node(nodes[i].level, nodes[i].index, h);
                hub_mlog_plan_set(p, i, h);
        }
}

static int log2ceil(uint64_t n)
{
        int l = 0;
        while (((uint64_t)1 << l) < n)
                l++;
        return l;
}

static void test_plans_match_merkle(void **state)
{
        (void)state;
        make_leaves();
        uint8_t want[HUB_MERKLE_MAX_PROOF_BYTES], got[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t wl, gl;
        for (uint64_t n = 1; n <= MAXN; n++) {
                hub_mlog_plan_t *p;
                assert_int_equal(hub_mlog_plan_root(n, &p, NULL), 0);
                fill(p, n);
                assert_int_equal(hub_mlog_plan_result(p, got, sizeof(got), &gl, NULL), 0);
                hub_merkle_root(&leaves[0][0], n, want);
                assert_int_equal(gl, 32);
                assert_memory_equal(got, want, 32);
                hub_mlog_plan_free(p);
                for (uint64_t m = 0; m < n; m++) {
                        assert_int_equal(hub_mlog_plan_inclusion(m, n, &p, NULL), 0);
                        const hub_mlog_node_t *nodes;
                        /* O(log n) reads: at most two per level. */
                        assert_true(hub_mlog_plan_nodes(p, &nodes) <= (size_t)(2 * log2ceil(n) + 1));
                        fill(p, n);
                        assert_int_equal(hub_mlog_plan_result(p, got, sizeof(got), &gl, NULL), 0);
                        assert_int_equal(hub_merkle_inclusion_path(&leaves[0][0], n, m, want,
                                                                   sizeof(want), &wl, NULL),
                                         0);
                        assert_int_equal(gl, wl);
                        assert_memory_equal(got, want, wl);
                        uint8_t root[32], r2[32];
                        hub_merkle_root(&leaves[0][0], n, root);
                        assert_int_equal(hub_mlog_root_from_path(leaves[m], m, n, got, gl, r2,
                                                                 NULL),
                                         0);
                        assert_memory_equal(r2, root, 32);
                        if (gl)
                                assert_int_not_equal(hub_mlog_root_from_path(leaves[m], m, n,
                                                                             got, gl - 32, r2,
                                                                             NULL),
                                                     0);
                        hub_mlog_plan_free(p);
                }
                for (uint64_t m = 1; m <= n; m++) {
                        assert_int_equal(hub_mlog_plan_consistency(m, n, &p, NULL), 0);
                        const hub_mlog_node_t *nodes;
                        assert_true(hub_mlog_plan_nodes(p, &nodes) <= (size_t)(3 * log2ceil(n) + 2));
                        fill(p, n);
                        assert_int_equal(hub_mlog_plan_result(p, got, sizeof(got), &gl, NULL), 0);
                        assert_int_equal(hub_merkle_consistency_proof(&leaves[0][0], n, m, want,
                                                                      sizeof(want), &wl, NULL),
                                         0);
                        assert_int_equal(gl, wl);
                        assert_memory_equal(got, want, wl);
                        hub_mlog_plan_free(p);
                }
        }
        hub_mlog_plan_t *p = NULL;
        assert_int_equal(hub_mlog_plan_inclusion(3, 3, &p, NULL), -HUB_E_INVAL);
        assert_int_equal(hub_mlog_plan_consistency(0, 3, &p, NULL), -HUB_E_INVAL);
        assert_int_equal(hub_mlog_plan_consistency(4, 3, &p, NULL), -HUB_E_INVAL);
        assert_int_equal(hub_mlog_plan_root(0, &p, NULL), -HUB_E_INVAL);
        /* A node left unset is an error, not a wrong proof. */
        assert_int_equal(hub_mlog_plan_inclusion(1, 5, &p, NULL), 0);
        uint8_t buf[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t bl;
        assert_int_equal(hub_mlog_plan_result(p, buf, sizeof(buf), &bl, NULL), -HUB_E_INVAL);
        hub_mlog_plan_free(p);
}

struct emitted {
        int count;
        uint64_t size;
};

static int check_emit(uint8_t level, uint64_t index, const uint8_t hash[32], void *arg)
{
        struct emitted *e = arg;
        uint8_t want[32];
        assert_true(level >= 1);
        /* The node closes exactly at the leaf just pushed. */
        assert_int_equal(((index + 1) << level), e->size + 1);
        node(level, index, want);
        assert_memory_equal(hash, want, 32);
        e->count++;
        return 0;
}

static void test_frontier(void **state)
{
        (void)state;
        make_leaves();
        for (uint64_t start = 0; start < 40; start++) {
                hub_mlog_frontier_t f;
                hub_mlog_plan_t *p = NULL;
                if (start) {
                        assert_int_equal(hub_mlog_plan_root(start, &p, NULL), 0);
                        fill(p, start);
                }
                assert_int_equal(hub_mlog_frontier_init(&f, start, p, NULL), 0);
                hub_mlog_plan_free(p);
                struct emitted e = {0, start};
                for (uint64_t i = start; i < MAXN; i++) {
                        e.size = i;
                        assert_int_equal(hub_mlog_frontier_push(&f, leaves[i], check_emit, &e),
                                         0);
                        uint8_t got[32], want[32];
                        hub_mlog_frontier_root(&f, got);
                        hub_merkle_root(&leaves[0][0], i + 1, want);
                        assert_memory_equal(got, want, 32);
                }
                /* Every node of level >= 1 completed after `start`, once. */
                int want = 0;
                for (int l = 1; l < 8; l++)
                        want += (int)(MAXN >> l) - (int)(start >> l);
                assert_int_equal(e.count, want);
        }
        hub_mlog_frontier_t f;
        uint8_t empty[32], want[32];
        assert_int_equal(hub_mlog_frontier_init(&f, 0, NULL, NULL), 0);
        hub_mlog_frontier_root(&f, empty);
        crypto_hash_sha256(want, NULL, 0);
        assert_memory_equal(empty, want, 32);
}

static void test_head(void **state)
{
        (void)state;
        hub_key_t k, pub;
        assert_int_equal(hub_key_generate("HUB", "HUB/1", &k, NULL), 0);
        pub = k;
        hub_key_wipe(&pub);
        pub.has_secret = false;
        hub_mlog_head_t h = {.size = 123456789, .timestamp_ms = 1767225600000};
        memset(h.root, 0xab, 32);
        assert_int_equal(hub_mlog_head_sign(&h, &k, NULL), 0);
        assert_string_equal(h.key_id, "HUB/1");
        assert_int_equal(hub_mlog_head_verify(&h, &pub, NULL), 0);
        uint8_t *enc;
        size_t len;
        assert_int_equal(hub_mlog_head_encode(&h, &enc, &len, NULL), 0);
        assert_int_equal(len, 4 + 32 + 6 + 6 + 64);
        hub_mlog_head_t d;
        assert_int_equal(hub_mlog_head_decode(enc, len, &d, NULL), 0);
        assert_int_equal(d.size, h.size);
        assert_int_equal(d.timestamp_ms, h.timestamp_ms);
        assert_int_equal(hub_mlog_head_verify(&d, &pub, NULL), 0);
        /* Every flipped bit: refused by the decoder or by the signature. */
        for (size_t i = 0; i < len; i++)
                for (int bit = 0; bit < 8; bit++) {
                        enc[i] ^= (uint8_t)(1 << bit);
                        hub_err_t err = {0};
                        bool refused = hub_mlog_head_decode(enc, len, &d, &err) != 0 ||
                                       hub_mlog_head_verify(&d, &pub, &err) != 0;
                        assert_true(refused);
                        enc[i] ^= (uint8_t)(1 << bit);
                }
        assert_int_equal(hub_mlog_head_decode(enc, len - 1, &d, NULL), -HUB_E_TRUNCATED);
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, enc, len);
        longer[len] = 0;
        assert_int_equal(hub_mlog_head_decode(longer, len + 1, &d, NULL), -HUB_E_TRAILING);
        free(longer);
        free(enc);
        /* A head of another key is refused by name. */
        hub_key_t other;
        assert_int_equal(hub_key_generate("HUB", "HUB/2", &other, NULL), 0);
        hub_err_t err = {0};
        assert_int_equal(hub_mlog_head_verify(&h, &other, &err), -HUB_E_KEY);
        assert_non_null(strstr(err.msg, "HUB/1"));
        hub_key_wipe(&k);
        hub_key_wipe(&other);
}

static void test_due(void **state)
{
        (void)state;
        assert_false(hub_mlog_head_due(false, 0, 0, 0, 1000, 60000, 100));
        assert_true(hub_mlog_head_due(false, 0, 0, 1, 1000, 60000, 100));
        assert_false(hub_mlog_head_due(true, 10, 0, 10, 999999, 60000, 100));
        assert_false(hub_mlog_head_due(true, 10, 0, 11, 59999, 60000, 100));
        assert_true(hub_mlog_head_due(true, 10, 0, 11, 60000, 60000, 100));
        assert_true(hub_mlog_head_due(true, 10, 0, 110, 1, 60000, 100));
        assert_false(hub_mlog_head_due(true, 10, 0, 109, 1, 0, 100));
}

static void test_leaves(void **state)
{
        (void)state;
        hub_mlog_record_leaf_t r = {.agency = "MOF-HQ", .record_id = "hq-1", .batch_index = 2};
        memset(r.record_sha256, 1, 32);
        memset(r.batch_digest, 2, 32);
        memset(r.statements_digest, 3, 32);
        uint8_t *d;
        size_t n;
        assert_int_equal(hub_mlog_record_leaf(&r, &d, &n, NULL), 0);
        /* domain 18 + NUL, kind, 4+6, 4+4, 4, 3 x 32 */
        assert_int_equal(n, 19 + 1 + 10 + 8 + 4 + 96);
        assert_memory_equal(d, "vn.hub.log-leaf.v1\0\x01\0\0\0\x06MOF-HQ\0\0\0\x04hq-1\0\0\0\x02",
                            19 + 1 + 10 + 8 + 4);
        free(d);
        hub_mlog_key_event_t e = {.event = HUB_MLOG_KEY_REGISTER, .agency = "BCA",
                                  .key_id = "BCA/1", .valid_from_us = 1, .reason = ""};
        assert_int_equal(hub_mlog_key_event_leaf(&e, &d, &n, NULL), 0);
        assert_int_equal(n, 19 + 1 + 1 + 7 + 9 + 32 + 8 + 1 + 1 + 4 + 8);
        assert_int_equal(d[19], HUB_MLOG_KEY_EVENT);
        free(d);
        assert_int_equal(hub_mlog_leaf(7, "x", 1, &d, &n, NULL), -HUB_E_INVAL);
        assert_int_equal(hub_mlog_leaf(HUB_MLOG_ACCESS, "x", 1, &d, &n, NULL), 0);
        assert_int_equal(n, 21);
        assert_int_equal(d[19], 6);
        free(d);
        assert_string_equal(hub_mlog_kind_name(2), "key-event");

        hub_mlog_statement_t s[3] = {
                {"name", "Cty A", "cty a", true, NULL, "PUBLIC"},
                {"tax_code", "0101", "0101", false, "TOO_SHORT", "SHARED"},
                {"name", "Cty A", "cty a", true, NULL, "SHARED"},
        };
        hub_mlog_statement_t t[3] = {s[2], s[0], s[1]};
        uint8_t a[32], b[32], c[32];
        assert_int_equal(hub_mlog_statements_digest(s, 3, a, NULL), 0);
        assert_int_equal(hub_mlog_statements_digest(t, 3, b, NULL), 0);
        assert_memory_equal(a, b, 32);
        t[0].tier = "RESTRICTED";
        assert_int_equal(hub_mlog_statements_digest(t, 3, c, NULL), 0);
        assert_memory_not_equal(a, c, 32);
        assert_int_equal(hub_mlog_statements_digest(NULL, 0, c, NULL), 0);
        assert_memory_not_equal(a, c, 32);

        hub_mlog_key_event_t w = {.key_id = "K", .valid_from_us = 1000000,
                                  .has_valid_until = true, .valid_until_us = 2000000,
                                  .revoked = true, .revoked_at_us = 1500000};
        assert_int_equal(hub_mlog_key_valid_at(&w, 999, NULL), -HUB_E_KEY);
        assert_int_equal(hub_mlog_key_valid_at(&w, 1000, NULL), 0);
        assert_int_equal(hub_mlog_key_valid_at(&w, 1499, NULL), 0);
        assert_int_equal(hub_mlog_key_valid_at(&w, 1500, NULL), -HUB_E_KEY);
        w.revoked = false;
        assert_int_equal(hub_mlog_key_valid_at(&w, 1999, NULL), 0);
        assert_int_equal(hub_mlog_key_valid_at(&w, 2000, NULL), -HUB_E_KEY);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plans_match_merkle), cmocka_unit_test(test_frontier),
                cmocka_unit_test(test_head),               cmocka_unit_test(test_due),
                cmocka_unit_test(test_leaves),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
