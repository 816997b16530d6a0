/* RFC 9162 Merkle trees: roots, inclusion paths and consistency proofs.
 *
 * Generation works on an array of leaf hashes and never recurses: each proof walks from the
 * root down to the leaf (at most 64 levels for any size_t), pushing the hash of the subtree it
 * does not enter, and reverses the list at the end, since RFC 9162 orders proofs leaf first.
 * Subtree hashes are recomputed per proof (O(n) hashing per proof); a batch is small, and the
 * hub's big log keeps its interior nodes in PostgreSQL instead.
 *
 * Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, so that a reader can hold
 * the code against the RFC, with the length checks the RFC leaves to the caller done first. */
#include <hub/merkle.h>

#include <assert.h>
#include <sodium.h>
#include <string.h>

#define HB HUB_MERKLE_HASH_BYTES

static_assert(HB == crypto_hash_sha256_BYTES, "RFC 9162 with SHA-256");

void hub_merkle_leaf_hash(const void *data, size_t len, uint8_t out[HB])
{
        static const uint8_t prefix = 0x00;
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, &prefix, 1);
        if (len > 0)
                crypto_hash_sha256_update(&st, data, len);
        crypto_hash_sha256_final(&st, out);
}

void hub_merkle_node_hash(const uint8_t left[HB], const uint8_t right[HB], uint8_t out[HB])
{
        /* One buffer so that out may alias an input. */
        uint8_t buf[1 + 2 * HB];
        buf[0] = 0x01;
        memcpy(buf + 1, left, HB);
        memcpy(buf + 1 + HB, right, HB);
        crypto_hash_sha256(out, buf, sizeof(buf));
}

/* The largest power of two strictly smaller than n, for n >= 2 (RFC 9162's k). */
static size_t split_point(size_t n)
{
        size_t k = 1;
        while (k < n - k)
                k <<= 1;
        return k;
}

/* MTH of n >= 1 leaf hashes. A stack of perfect subtrees, as a binary counter: after all leaves
 * are pushed it holds one subtree per set bit of n, largest first, and folding it from the
 * right gives exactly RFC 9162's split at the largest power of two. */
static void subtree_hash(const uint8_t *leaves, size_t n, uint8_t out[HB])
{
        uint8_t stack[HUB_MERKLE_MAX_PROOF + 1][HB];
        size_t sizes[HUB_MERKLE_MAX_PROOF + 1];
        size_t top = 0;

        for (size_t i = 0; i < n; i++) {
                memcpy(stack[top], leaves + i * HB, HB);
                sizes[top++] = 1;
                while (top >= 2 && sizes[top - 1] == sizes[top - 2]) {
                        hub_merkle_node_hash(stack[top - 2], stack[top - 1], stack[top - 2]);
                        sizes[top - 2] *= 2;
                        top--;
                }
        }
        while (top >= 2) {
                hub_merkle_node_hash(stack[top - 2], stack[top - 1], stack[top - 2]);
                top--;
        }
        memcpy(out, stack[0], HB);
}

void hub_merkle_root(const uint8_t *leaves, size_t n, uint8_t out[HB])
{
        if (n == 0) {
                crypto_hash_sha256(out, NULL, 0);
                return;
        }
        subtree_hash(leaves, n, out);
}

/* Write the hashes pushed root first into out, leaf first. */
static int emit(uint8_t items[][HB], size_t count, uint8_t *out, size_t out_cap, size_t *out_len,
                hub_err_t *err)
{
        if (count * HB > out_cap)
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "proof of %zu hashes does not fit in %zu bytes", count,
                                   out_cap);
        for (size_t i = 0; i < count; i++)
                memcpy(out + i * HB, items[count - 1 - i], HB);
        *out_len = count * HB;
        return 0;
}

int hub_merkle_inclusion_path(const uint8_t *leaves, size_t n, size_t m, uint8_t *out,
                              size_t out_cap, size_t *out_len, hub_err_t *err)
{
        if (m >= n)
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "leaf %zu is not in a tree of %zu leaves", m, n);
        uint8_t items[HUB_MERKLE_MAX_PROOF][HB];
        size_t count = 0, lo = 0, size = n;
        /* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k,
         *                 PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise. */
        while (size > 1) {
                size_t k = split_point(size);
                if (m < k) {
                        subtree_hash(leaves + (lo + k) * HB, size - k, items[count++]);
                        size = k;
                } else {
                        subtree_hash(leaves + lo * HB, k, items[count++]);
                        lo += k;
                        m -= k;
                        size -= k;
                }
        }
        return emit(items, count, out, out_cap, out_len, err);
}

int hub_merkle_consistency_proof(const uint8_t *leaves, size_t n, size_t m, uint8_t *out,
                                 size_t out_cap, size_t *out_len, hub_err_t *err)
{
        if (m == 0 || m > n)
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "no consistency proof from %zu to %zu leaves", m, n);
        uint8_t items[HUB_MERKLE_MAX_PROOF][HB];
        size_t count = 0, lo = 0, size = n;
        bool whole = true; /* RFC 9162's b: is D[lo:lo+size] the old tree's own root? */
        /* SUBPROOF(m, D[n], b) = {} if m == n and b, {MTH(D[n])} if m == n and not b,
         *   SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k,
         *   SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) otherwise. */
        for (;;) {
                if (m == size) {
                        if (!whole)
                                subtree_hash(leaves + lo * HB, size, items[count++]);
                        break;
                }
                size_t k = split_point(size);
                if (m <= k) {
                        subtree_hash(leaves + (lo + k) * HB, size - k, items[count++]);
                        size = k;
                } else {
                        subtree_hash(leaves + lo * HB, k, items[count++]);
                        lo += k;
                        m -= k;
                        size -= k;
                        whole = false;
                }
        }
        return emit(items, count, out, out_cap, out_len, err);
}

/* Roots and proofs are public: a plain memcmp leaks nothing worth hiding. */
static bool same_hash(const uint8_t *a, const uint8_t *b)
{
        return memcmp(a, b, HB) == 0;
}

int hub_merkle_verify_inclusion(const uint8_t *leaf_hash, size_t leaf_hash_len, uint64_t index,
                                uint64_t size, const uint8_t *proof, size_t proof_len,
                                const uint8_t *root, size_t root_len, hub_err_t *err)
{
        static const char *const what = "could not verify inclusion proof";
        if (!leaf_hash || leaf_hash_len != HB)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: leaf hash is %zu bytes, not %d", what,
                                   leaf_hash ? leaf_hash_len : 0, HB);
        if (!root || root_len != HB)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: root is %zu bytes, not %d", what, root ? root_len : 0,
                                   HB);
        if ((proof_len > 0 && !proof) || proof_len % HB != 0 ||
            proof_len > HUB_MERKLE_MAX_PROOF_BYTES)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: proof of %zu bytes is not a list of at most %d hashes",
                                   what, proof_len, HUB_MERKLE_MAX_PROOF);
        /* 1. */
        if (index >= size)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: index %llu is not below tree size %llu", what,
                                   (unsigned long long)index, (unsigned long long)size);
        /* 2., 3. */
        uint64_t fn = index, sn = size - 1;
        uint8_t r[HB];
        memcpy(r, leaf_hash, HB);
        /* 4. */
        for (size_t i = 0; i < proof_len / HB; i++) {
                const uint8_t *p = proof + i * HB;
                if (sn == 0)
                        return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                           "%s: proof has %zu hashes, more than the path", what,
                                           proof_len / HB);
                if ((fn & 1) || fn == sn) {
                        hub_merkle_node_hash(p, r, r);
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
        /* 5. */
        if (sn != 0)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: proof has %zu hashes, fewer than the path", what,
                                   proof_len / HB);
        if (!same_hash(r, root))
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: computed root does not match", what);
        return 0;
}

int hub_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                  size_t root1_len, const uint8_t *root2, size_t root2_len,
                                  const uint8_t *proof, size_t proof_len, hub_err_t *err)
{
        static const char *const what = "could not verify consistency proof";
        if (!root1 || !root2)
                return hub_err_set(err, HUB_E_PROOF, false, __func__, "%s: missing root", what);
        if (size1 > size2)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: size1 %llu is greater than size2 %llu", what,
                                   (unsigned long long)size1, (unsigned long long)size2);
        if (size1 == size2) {
                if (proof_len != 0)
                        return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                           "%s: trees of equal size need an empty proof", what);
                if (root1_len != root2_len || memcmp(root1, root2, root1_len) != 0)
                        return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                           "%s: trees of equal size have different roots", what);
                if (size1 == 0) {
                        uint8_t empty[HB];
                        hub_merkle_root(NULL, 0, empty);
                        if (root1_len != HB || !same_hash(root1, empty))
                                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                                   "%s: root of the empty tree is not "
                                                   "SHA-256 of the empty string",
                                                   what);
                }
                return 0;
        }
        if (size1 == 0)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: a proof from the empty tree proves nothing", what);
        if (root1_len != HB || root2_len != HB)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: roots are %zu and %zu bytes, not %d", what, root1_len,
                                   root2_len, HB);
        if ((proof_len > 0 && !proof) || proof_len % HB != 0 ||
            proof_len > HUB_MERKLE_MAX_PROOF_BYTES)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: proof of %zu bytes is not a list of at most %d hashes",
                                   what, proof_len, HUB_MERKLE_MAX_PROOF);
        /* 1. */
        if (proof_len == 0)
                return hub_err_set(err, HUB_E_PROOF, false, __func__, "%s: empty proof", what);
        /* 2. When size1 is a power of two the old root is itself a node of the new tree, so
         * the RFC prepends it to the path; we read it as element 0 instead of copying. */
        bool prepend = (size1 & (size1 - 1)) == 0;
        size_t count = proof_len / HB + (prepend ? 1 : 0);
#define ELEM(i) (prepend ? ((i) == 0 ? root1 : proof + ((i) - 1) * HB) : proof + (i) * HB)
        /* 3., 4. */
        uint64_t fn = size1 - 1, sn = size2 - 1;
        while (fn & 1) {
                fn >>= 1;
                sn >>= 1;
        }
        /* 5. */
        uint8_t fr[HB], sr[HB];
        memcpy(fr, ELEM(0), HB);
        memcpy(sr, ELEM(0), HB);
        /* 6. */
        for (size_t i = 1; i < count; i++) {
                const uint8_t *c = ELEM(i);
                if (sn == 0)
                        return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                           "%s: proof has %zu hashes, more than needed", what,
                                           proof_len / HB);
                if ((fn & 1) || fn == sn) {
                        hub_merkle_node_hash(c, fr, fr);
                        hub_merkle_node_hash(c, sr, sr);
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        hub_merkle_node_hash(sr, c, sr);
                }
                fn >>= 1;
                sn >>= 1;
        }
#undef ELEM
        /* 7. */
        if (sn != 0)
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: proof has %zu hashes, fewer than needed", what,
                                   proof_len / HB);
        if (!same_hash(fr, root1))
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: computed first root does not match", what);
        if (!same_hash(sr, root2))
                return hub_err_set(err, HUB_E_PROOF, false, __func__,
                                   "%s: computed second root does not match", what);
        return 0;
}
