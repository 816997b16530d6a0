/* Merkle trees with RFC 9162 hashing (the same as RFC 6962): roots, inclusion (audit) paths
 * and consistency proofs, their generation and their verification.
 *
 *   leaf hash  = SHA-256(0x00 || data)
 *   node hash  = SHA-256(0x01 || left || right)
 *   empty tree = SHA-256("")
 *
 * Leaves are given as n leaf hashes stored back to back (n * HUB_MERKLE_HASH_BYTES bytes), so a
 * caller hashes each leaf once and may build several paths from the same array. Proofs are
 * hashes stored back to back, ordered from the leaf towards the root, as in RFC 9162 and in
 * transparency-dev/merkle.
 *
 * The library does not call sodium_init(): main() (or the test) does, once, before threads. */
#ifndef HUB_MERKLE_H
#define HUB_MERKLE_H

#include <hub/err.h>

#include <stddef.h>
#include <stdint.h>

#define HUB_MERKLE_HASH_BYTES 32

/* A proof for a tree of at most 2^64 leaves has at most 64 hashes: a buffer of
 * HUB_MERKLE_MAX_PROOF_BYTES always suffices for generation. */
#define HUB_MERKLE_MAX_PROOF 64
#define HUB_MERKLE_MAX_PROOF_BYTES (HUB_MERKLE_MAX_PROOF * HUB_MERKLE_HASH_BYTES)

/* SHA-256(0x00 || data[0..len)). */
void hub_merkle_leaf_hash(const void *data, size_t len, uint8_t out[HUB_MERKLE_HASH_BYTES]);

/* SHA-256(0x01 || left || right). out may alias left or right. */
void hub_merkle_node_hash(const uint8_t left[HUB_MERKLE_HASH_BYTES],
                          const uint8_t right[HUB_MERKLE_HASH_BYTES],
                          uint8_t out[HUB_MERKLE_HASH_BYTES]);

/* The root of the tree of n leaf hashes (leaves: n * 32 bytes). n == 0 gives SHA-256(""),
 * leaves may then be NULL. Uses a stack of at most 64 hashes, no allocation. */
void hub_merkle_root(const uint8_t *leaves, size_t n, uint8_t out[HUB_MERKLE_HASH_BYTES]);

/* The inclusion (audit) path of leaf m in the tree of the n leaf hashes (RFC 9162 §2.1.3.1).
 * Writes the path into out (out_cap bytes, HUB_MERKLE_MAX_PROOF_BYTES always suffices) and its
 * length in bytes into *out_len. Errors: HUB_E_INVAL (m >= n, out too small). */
int hub_merkle_inclusion_path(const uint8_t *leaves, size_t n, size_t m, uint8_t *out,
                              size_t out_cap, size_t *out_len, hub_err_t *err);

/* The consistency proof between the first m leaves and all n leaves (RFC 9162 §2.1.4.1),
 * for 0 < m <= n (m == n gives an empty proof). Output as for hub_merkle_inclusion_path.
 * Errors: HUB_E_INVAL (m == 0, m > n, out too small). */
int hub_merkle_consistency_proof(const uint8_t *leaves, size_t n, size_t m, uint8_t *out,
                                 size_t out_cap, size_t *out_len, hub_err_t *err);

/* Verify that leaf_hash is leaf `index` of the tree of `size` leaves whose root is `root`
 * (RFC 9162 §2.1.3.2). All inputs may come from outside, so every length is checked here:
 * leaf_hash and root must be 32 bytes, proof_len a multiple of 32 and exactly as long as the
 * path of that index in a tree of that size. 0 or -HUB_E_PROOF with the reason. */
int hub_merkle_verify_inclusion(const uint8_t *leaf_hash, size_t leaf_hash_len, uint64_t index,
                                uint64_t size, const uint8_t *proof, size_t proof_len,
                                const uint8_t *root, size_t root_len, hub_err_t *err);

/* Verify that the tree of size2 leaves with root2 extends the tree of size1 leaves with root1
 * (RFC 9162 §2.1.4.2). Rules before the RFC's algorithm, which assumes 0 < size1 < size2:
 *  - size1 > size2: rejected;
 *  - size1 == size2: the proof must be empty and the roots identical byte strings, and for
 *    size 0 equal to SHA-256(""), the only root an empty tree has (a tree is consistent with
 *    itself whatever its root says; this matches transparency-dev/merkle and its vectors);
 *  - size1 == 0 < size2: rejected, a proof from the empty tree proves nothing;
 *  - otherwise both roots must be 32 bytes and the proof non-empty, a multiple of 32 bytes and
 *    exactly as long as the algorithm consumes.
 * 0 or -HUB_E_PROOF with the reason. */
int hub_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                  size_t root1_len, const uint8_t *root2, size_t root2_len,
                                  const uint8_t *proof, size_t proof_len, hub_err_t *err);

#endif
