/* Merkle trees: every RFC 6962 conformance vector of transparency-dev/merkle, read in place
 * from ../shared/vectors/rfc6962, and generated proofs for every small tree, each of them also
 * mutated byte by byte to see it rejected. */
#include <hub/merkle.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h> /* cmocka needs these three before its header */
#include <cmocka.h>

#define HB HUB_MERKLE_HASH_BYTES

/* ---- conformance vectors ---------------------------------------------------------------- */

struct tally {
        int files;    /* regular files found under the folder */
        int cases;    /* cases read and checked */
        int accepted; /* wantErr:false cases accepted */
        int rejected; /* wantErr:true cases rejected */
        int by_parse; /* of those, rejected while turning JSON into hashes (see decode_proof) */
};

/* Base64 (standard alphabet, padded) to bytes; the vectors' "" is zero bytes. Returns a
 * malloc'd buffer (never NULL) and its length, or fails the test on bad base64: the vectors'
 * garbage is in the decoded bytes, never in the base64 itself. */
static uint8_t *b64(const char *file, const char *s, size_t *len)
{
        size_t cap = strlen(s) / 4 * 3 + 3;
        uint8_t *out = malloc(cap);
        assert_non_null(out);
        if (sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
                fail_msg("%s: bad base64 \"%s\"", file, s);
        return out;
}

static const char *str_field(const char *file, json_t *obj, const char *name)
{
        json_t *v = json_object_get(obj, name);
        if (!json_is_string(v))
                fail_msg("%s: field %s is not a string", file, name);
        return json_string_value(v);
}

/* The vectors hold sizes and indexes up to 2^64 - 1, beyond jansson's json_int_t (int64), so
 * the file is parsed with JSON_DECODE_INT_AS_REAL and each integer is read exactly from the
 * text with strtoull, then checked against jansson's (rounded) value so that the text scan
 * cannot pick up a different field. */
static const char *file_text;

static uint64_t uint_field(const char *file, json_t *obj, const char *name)
{
        json_t *v = json_object_get(obj, name);
        if (!json_is_real(v) || json_real_value(v) < 0)
                fail_msg("%s: field %s is not a non-negative number", file, name);
        char key[64];
        snprintf(key, sizeof(key), "\"%s\"", name);
        const char *p = strstr(file_text, key);
        if (!p)
                fail_msg("%s: field %s not found in the text", file, name);
        p += strlen(key);
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':')
                p++;
        if (*p < '0' || *p > '9')
                fail_msg("%s: field %s is not an unsigned integer", file, name);
        errno = 0;
        char *end;
        unsigned long long x = strtoull(p, &end, 10);
        if (errno == ERANGE || (*end >= '0' && *end <= '9') || *end == '.' || *end == 'e' ||
            *end == 'E')
                fail_msg("%s: field %s does not fit in 64 bits", file, name);
        /* Both sides round the same decimal text to the nearest double. */
        double d = json_real_value(v);
        if ((double)x != d)
                fail_msg("%s: field %s: text %llu and JSON %g disagree", file, name, x, d);
        return (uint64_t)x;
}

/* "proof": null or absent is the empty proof; a list of base64 hashes otherwise. The library
 * takes a proof as hashes back to back, so an element that is not exactly 32 bytes (the
 * vectors' "preceding-garbage" and "trailing-garbage" put an empty one in) cannot be passed on:
 * it is rejected here, as any parser of proofs must, and counted apart. Returns false then. */
static bool decode_proof(const char *file, json_t *obj, uint8_t **proof, size_t *len)
{
        json_t *arr = json_object_get(obj, "proof");
        *proof = NULL;
        *len = 0;
        if (!arr || json_is_null(arr))
                return true;
        if (!json_is_array(arr))
                fail_msg("%s: proof is neither null nor a list", file);
        size_t n = json_array_size(arr);
        *proof = calloc(n + 1, HB);
        assert_non_null(*proof);
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(arr, i);
                if (!json_is_string(e))
                        fail_msg("%s: proof[%zu] is not a string", file, i);
                size_t elen;
                uint8_t *h = b64(file, json_string_value(e), &elen);
                bool ok = elen == HB;
                if (ok)
                        memcpy(*proof + i * HB, h, HB);
                free(h);
                if (!ok)
                        return false;
        }
        *len = n * HB;
        return true;
}

static void check_outcome(const char *file, json_t *obj, bool parsed, int rc, hub_err_t *err,
                          struct tally *t)
{
        json_t *want = json_object_get(obj, "wantErr");
        if (!json_is_boolean(want))
                fail_msg("%s: wantErr is not a boolean", file);
        bool rejected = !parsed || rc != 0;
        if (json_is_true(want)) {
                if (!rejected)
                        fail_msg("%s (%s): mutated proof accepted", file,
                                 str_field(file, obj, "desc"));
                if (parsed && rc != -HUB_E_PROOF)
                        fail_msg("%s: rejected with %s, want PROOF_INVALID", file,
                                 hub_err_name(rc));
                t->rejected++;
                t->by_parse += !parsed;
        } else {
                if (rejected)
                        fail_msg("%s (%s): valid proof rejected: %s", file,
                                 str_field(file, obj, "desc"),
                                 parsed ? err->msg : "proof element is not 32 bytes");
                t->accepted++;
        }
        t->cases++;
}

static void run_inclusion(const char *file, json_t *obj, struct tally *t)
{
        size_t root_len, leaf_len, proof_len;
        uint8_t *root = b64(file, str_field(file, obj, "root"), &root_len);
        uint8_t *leaf = b64(file, str_field(file, obj, "leafHash"), &leaf_len);
        uint8_t *proof;
        bool parsed = decode_proof(file, obj, &proof, &proof_len);
        hub_err_t err = {0};
        int rc = 0;
        if (parsed)
                rc = hub_merkle_verify_inclusion(leaf, leaf_len, uint_field(file, obj, "leafIdx"),
                                                 uint_field(file, obj, "treeSize"), proof,
                                                 proof_len, root, root_len, &err);
        check_outcome(file, obj, parsed, rc, &err, t);
        free(proof);
        free(leaf);
        free(root);
}

static void run_consistency(const char *file, json_t *obj, struct tally *t)
{
        size_t r1_len, r2_len, proof_len;
        uint8_t *r1 = b64(file, str_field(file, obj, "root1"), &r1_len);
        uint8_t *r2 = b64(file, str_field(file, obj, "root2"), &r2_len);
        uint8_t *proof;
        bool parsed = decode_proof(file, obj, &proof, &proof_len);
        hub_err_t err = {0};
        int rc = 0;
        if (parsed)
                rc = hub_merkle_verify_consistency(uint_field(file, obj, "size1"),
                                                   uint_field(file, obj, "size2"), r1, r1_len,
                                                   r2, r2_len, proof, proof_len, &err);
        check_outcome(file, obj, parsed, rc, &err, t);
        free(proof);
        free(r2);
        free(r1);
}

typedef void (*case_fn)(const char *file, json_t *obj, struct tally *t);

/* Every regular file below dir, at any depth (inclusion/additional/<n>/ is one level deeper
 * than the others), counts as a file; every one must parse as a JSON case and be run. */
static void walk(const char *dir, case_fn fn, struct tally *t)
{
        DIR *d = opendir(dir);
        if (!d)
                fail_msg("cannot open %s", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                struct stat st;
                assert_int_equal(stat(path, &st), 0);
                if (S_ISDIR(st.st_mode)) {
                        walk(path, fn, t);
                        continue;
                }
                t->files++;
                size_t len = strlen(path);
                if (len < 5 || strcmp(path + len - 5, ".json") != 0)
                        continue; /* counted as a file, not as a case: the totals will differ */
                size_t text_len;
                char *text = (char *)hub_test_read_file(path, &text_len);
                if (!text)
                        fail_msg("cannot read %s", path);
                json_error_t jerr;
                json_t *obj = json_loadb(text, text_len, JSON_DECODE_INT_AS_REAL, &jerr);
                if (!obj)
                        fail_msg("%s: %s", path, jerr.text);
                file_text = text;
                fn(path, obj, t);
                file_text = NULL;
                json_decref(obj);
                free(text);
        }
        closedir(d);
}

static void run_folder(const char *kind, case_fn fn)
{
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", hub_test_shared_path("vectors/rfc6962"), kind);
        struct tally t = {0};
        walk(dir, fn, &t);
        printf("rfc6962 %s: %d files, %d cases: %d accepted, %d rejected (%d while parsing)\n",
               kind, t.files, t.cases, t.accepted, t.rejected, t.by_parse);
        assert_true(t.files > 0);
        assert_int_equal(t.cases, t.files);
        assert_int_equal(t.accepted + t.rejected, t.cases);
        assert_true(t.accepted > 0);
        assert_true(t.rejected > t.accepted); /* most vectors are mutations */
}

static void test_vectors_inclusion(void **state)
{
        (void)state;
        run_folder("inclusion", run_inclusion);
}

static void test_vectors_consistency(void **state)
{
        (void)state;
        run_folder("consistency", run_consistency);
}

/* ---- generated proofs ------------------------------------------------------------------- */

#define MAXN 70

/* RFC 9162's MTH written the obvious recursive way, independently of the library's stack. */
static void ref_mth(const uint8_t *leaves, size_t n, uint8_t out[HB])
{
        if (n == 0) {
                crypto_hash_sha256(out, NULL, 0);
                return;
        }
        if (n == 1) {
                memcpy(out, leaves, HB);
                return;
        }
        size_t k = 1;
        while (k * 2 < n)
                k *= 2;
        uint8_t l[HB], r[HB];
        ref_mth(leaves, k, l);
        ref_mth(leaves + k * HB, n - k, r);
        hub_merkle_node_hash(l, r, out);
}

static uint8_t leaves[MAXN * HB];
static uint8_t roots[MAXN + 1][HB];

static int setup_tree(void **state)
{
        (void)state;
        for (size_t i = 0; i < MAXN; i++) {
                char data[32];
                int n = snprintf(data, sizeof(data), "leaf %zu", i);
                hub_merkle_leaf_hash(data, (size_t)n, leaves + i * HB);
        }
        for (size_t n = 0; n <= MAXN; n++)
                hub_merkle_root(leaves, n, roots[n]);
        return 0;
}

static void test_hashes_known_values(void **state)
{
        (void)state;
        uint8_t h[HB];
        char hex[2 * HB + 1];
        /* RFC 6962's empty tree and the leaf hash of the empty string, from the vectors'
         * folder 0 (47DEQ... and bjQLn...). */
        hub_merkle_root(NULL, 0, h);
        sodium_bin2hex(hex, sizeof(hex), h, HB);
        assert_string_equal(hex,
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        hub_merkle_leaf_hash("", 0, h);
        sodium_bin2hex(hex, sizeof(hex), h, HB);
        assert_string_equal(hex,
                            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        for (size_t n = 0; n <= MAXN; n++) {
                ref_mth(leaves, n, h);
                assert_memory_equal(h, roots[n], HB);
        }
}

static void test_inclusion_all_small_trees(void **state)
{
        (void)state;
        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES + HB];
        size_t len;
        long checked = 0, mutations = 0;
        for (size_t n = 1; n <= MAXN; n++) {
                for (size_t m = 0; m < n; m++) {
                        const uint8_t *leaf = leaves + m * HB;
                        assert_int_equal(hub_merkle_inclusion_path(leaves, n, m, proof,
                                                                   sizeof(proof), &len, NULL),
                                         0);
                        hub_err_t err = {0};
                        int rc = hub_merkle_verify_inclusion(leaf, HB, m, n, proof, len,
                                                             roots[n], HB, &err);
                        if (rc != 0)
                                fail_msg("n=%zu m=%zu: %s", n, m, err.msg);
                        checked++;
                        /* Every byte of the path, one bit each. */
                        for (size_t i = 0; i < len; i++) {
                                proof[i] ^= 0x01;
                                assert_int_equal(hub_merkle_verify_inclusion(leaf, HB, m, n,
                                                                             proof, len,
                                                                             roots[n], HB, NULL),
                                                 -HUB_E_PROOF);
                                proof[i] ^= 0x01;
                                mutations++;
                        }
                        /* Another leaf, index, root; one hash short or long. A larger size is
                         * not a mutation we can expect rejected: the path of leaf 0 of 3 is also
                         * a valid path in a tree of 4 whose node (2,3) hashes to leaf 2's hash.
                         * Nobody can show such leaves (0x00/0x01 prefixes), and the size comes
                         * signed with the root, which is where it is bound. */
                        const uint8_t *other = leaves + ((m + 1) % n) * HB;
                        if (n > 1)
                                assert_int_equal(hub_merkle_verify_inclusion(
                                                         other, HB, m, n, proof, len, roots[n],
                                                         HB, NULL),
                                                 -HUB_E_PROOF);
                        if (n > 1)
                                assert_int_equal(hub_merkle_verify_inclusion(
                                                         leaf, HB, (m + 1) % n, n, proof, len,
                                                         roots[n], HB, NULL),
                                                 -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_inclusion(leaf, HB, m, m, proof,
                                                                     len, roots[n], HB, NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_inclusion(leaf, HB, m, n, proof,
                                                                     len, roots[n - 1], HB,
                                                                     NULL),
                                         -HUB_E_PROOF);
                        if (len > 0)
                                assert_int_equal(hub_merkle_verify_inclusion(
                                                         leaf, HB, m, n, proof, len - HB,
                                                         roots[n], HB, NULL),
                                                 -HUB_E_PROOF);
                        memcpy(proof + len, leaf, HB);
                        assert_int_equal(hub_merkle_verify_inclusion(leaf, HB, m, n, proof,
                                                                     len + HB, roots[n], HB,
                                                                     NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_inclusion(leaf, HB, m, n, proof,
                                                                     len + 1, roots[n], HB,
                                                                     NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_inclusion(leaf, HB - 1, m, n, proof,
                                                                     len, roots[n], HB, NULL),
                                         -HUB_E_PROOF);
                }
        }
        printf("inclusion: %ld generated paths verified, %ld byte mutations rejected\n", checked,
               mutations);
        assert_int_equal(checked, MAXN * (MAXN + 1) / 2);
}

static void test_consistency_all_small_trees(void **state)
{
        (void)state;
        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES + HB];
        size_t len;
        long checked = 0, mutations = 0;
        for (size_t n = 1; n <= MAXN; n++) {
                for (size_t m = 1; m <= n; m++) {
                        assert_int_equal(hub_merkle_consistency_proof(leaves, n, m, proof,
                                                                      sizeof(proof), &len, NULL),
                                         0);
                        hub_err_t err = {0};
                        int rc = hub_merkle_verify_consistency(m, n, roots[m], HB, roots[n], HB,
                                                               proof, len, &err);
                        if (rc != 0)
                                fail_msg("m=%zu n=%zu: %s", m, n, err.msg);
                        checked++;
                        if (m == n)
                                assert_int_equal(len, 0);
                        for (size_t i = 0; i < len; i++) {
                                proof[i] ^= 0x80;
                                assert_int_equal(hub_merkle_verify_consistency(
                                                         m, n, roots[m], HB, roots[n], HB,
                                                         proof, len, NULL),
                                                 -HUB_E_PROOF);
                                proof[i] ^= 0x80;
                                mutations++;
                        }
                        /* Each root, one bit; the roots swapped; size1 0; short, long. */
                        uint8_t bad[HB];
                        memcpy(bad, roots[m], HB);
                        bad[m % HB] ^= 0x10;
                        assert_int_equal(hub_merkle_verify_consistency(m, n, bad, HB, roots[n],
                                                                       HB, proof, len, NULL),
                                         -HUB_E_PROOF);
                        memcpy(bad, roots[n], HB);
                        bad[n % HB] ^= 0x10;
                        assert_int_equal(hub_merkle_verify_consistency(m, n, roots[m], HB, bad,
                                                                       HB, proof, len, NULL),
                                         -HUB_E_PROOF);
                        if (m == n)
                                continue;
                        assert_int_equal(hub_merkle_verify_consistency(m, n, roots[n], HB,
                                                                       roots[m], HB, proof, len,
                                                                       NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_consistency(n, m, roots[n], HB,
                                                                       roots[m], HB, proof, len,
                                                                       NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_consistency(0, n, roots[0], HB,
                                                                       roots[n], HB, proof, len,
                                                                       NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_consistency(m, n, roots[m], HB,
                                                                       roots[n], HB, proof,
                                                                       len - HB, NULL),
                                         -HUB_E_PROOF);
                        memcpy(proof + len, roots[m], HB);
                        assert_int_equal(hub_merkle_verify_consistency(m, n, roots[m], HB,
                                                                       roots[n], HB, proof,
                                                                       len + HB, NULL),
                                         -HUB_E_PROOF);
                        assert_int_equal(hub_merkle_verify_consistency(m, n, roots[m], HB,
                                                                       roots[n], HB, proof,
                                                                       len - 1, NULL),
                                         -HUB_E_PROOF);
                }
        }
        printf("consistency: %ld generated proofs verified, %ld byte mutations rejected\n",
               checked, mutations);
        assert_int_equal(checked, MAXN * (MAXN + 1) / 2);
}

static void test_generation_rejects_bad_arguments(void **state)
{
        (void)state;
        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t len;
        hub_err_t err = {0};
        assert_int_equal(hub_merkle_inclusion_path(leaves, 5, 5, proof, sizeof(proof), &len,
                                                   &err),
                         -HUB_E_INVAL);
        assert_int_equal(err.code, HUB_E_INVAL);
        assert_int_equal(hub_merkle_inclusion_path(leaves, 0, 0, proof, sizeof(proof), &len,
                                                   NULL),
                         -HUB_E_INVAL);
        assert_int_equal(hub_merkle_inclusion_path(leaves, 5, 0, proof, 2 * HB, &len, NULL),
                         -HUB_E_INVAL);
        assert_int_equal(hub_merkle_consistency_proof(leaves, 5, 0, proof, sizeof(proof), &len,
                                                      NULL),
                         -HUB_E_INVAL);
        assert_int_equal(hub_merkle_consistency_proof(leaves, 5, 6, proof, sizeof(proof), &len,
                                                      NULL),
                         -HUB_E_INVAL);
}

int main(void)
{
        if (sodium_init() < 0) {
                fprintf(stderr, "sodium_init failed\n");
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors_inclusion),
                cmocka_unit_test(test_vectors_consistency),
                cmocka_unit_test(test_hashes_known_values),
                cmocka_unit_test(test_inclusion_all_small_trees),
                cmocka_unit_test(test_consistency_all_small_trees),
                cmocka_unit_test(test_generation_rejects_bad_arguments),
        };
        return cmocka_run_group_tests(tests, setup_tree, NULL);
}
