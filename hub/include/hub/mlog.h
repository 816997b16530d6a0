/* The hub's Merkle log (DESIGN "log_leaves, log_nodes, tree_heads"): the pure parts, no
 * database. One append-only RFC 9162 tree over every accepted record, key registration or
 * revocation, judgement, retraction, correction and access-log entry; signed tree heads over it.
 * Byte layouts, digests and the order of checks: schemas/README.md, "The hub's log".
 *
 *   leaf data  = "vn.hub.log-leaf.v1" || 0x00 || u8(kind) || body(kind)
 *   leaf hash  = SHA-256(0x00 || leaf data)                         (RFC 9162)
 *   head digest = SHA-256("vn.hub.tree-head.v1" || 0x00 || u64be(size) || root
 *                         || i64be(timestamp_ms) || u32be(len(key_id)) || key_id)
 *   head signature = Ed25519(hub secret key, head digest)
 *
 * Storage (hub/store/mlog.c) keeps every complete subtree hash keyed by (level, index): the node
 * at level l, index i covers leaves [i * 2^l, (i + 1) * 2^l). Any proof element of RFC 9162 is
 * a range [a, b) that is either such a subtree or the right edge of the tree, itself at most
 * log2(n) complete subtrees; so a proof needs O(log n) stored hashes, read in one query. A plan
 * (below) says which nodes a proof needs and computes the proof from them.
 *
 * The library never calls sodium_init(): main() or the test does. */
#ifndef HUB_MLOG_H
#define HUB_MLOG_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/merkle.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_MLOG_LEAF_DOMAIN "vn.hub.log-leaf.v1"
#define HUB_MLOG_HEAD_DOMAIN "vn.hub.tree-head.v1"
#define HUB_MLOG_STATEMENTS_DOMAIN "vn.hub.statements.v1"
#define HUB_MLOG_TOPIC "hub.log"
/* Every head goes to one partition of hub.log (it has 3, like every hub topic): this key. */
#define HUB_MLOG_TOPIC_KEY "tree-head"

/* Leaf kinds: the byte after the domain. Stable for ever; bodies of 3-6 are defined by the
 * modules that append them (judgements, corrections, the access log) in schemas/README.md. */
enum hub_mlog_kind {
        HUB_MLOG_RECORD = 1,
        HUB_MLOG_KEY_EVENT = 2,
        HUB_MLOG_JUDGEMENT = 3,
        HUB_MLOG_RETRACTION = 4,
        HUB_MLOG_CORRECTION = 5,
        HUB_MLOG_ACCESS = 6,
};
#define HUB_MLOG_KIND_MAX 6

/* "record", "key-event", ...; "unknown" otherwise. */
const char *hub_mlog_kind_name(int kind);

/* ---- leaves ---- */

typedef struct hub_mlog_record_leaf {
        const char *agency;    /* the batch header's agency */
        const char *record_id; /* the record's record_id */
        uint32_t batch_index;  /* the record's index in its batch */
        uint8_t record_sha256[32];     /* SHA-256 of the record's bytes as carried */
        uint8_t batch_digest[32];      /* the batch's signed digest (hub_batch_digest) */
        uint8_t statements_digest[32]; /* hub_mlog_statements_digest of what the hub derived */
} hub_mlog_record_leaf_t;

enum { HUB_MLOG_KEY_REGISTER = 1, HUB_MLOG_KEY_REVOKE = 2 };

/* A key event, times in microseconds since the epoch (PostgreSQL's resolution). */
typedef struct hub_mlog_key_event {
        int event; /* HUB_MLOG_KEY_REGISTER or _REVOKE */
        const char *agency;
        const char *key_id;
        uint8_t public_key[HUB_PK_BYTES];
        int64_t valid_from_us;
        bool has_valid_until;
        int64_t valid_until_us;
        bool revoked;
        int64_t revoked_at_us;
        const char *reason; /* "" when none */
        int64_t at_us;      /* when the event was recorded */
} hub_mlog_key_event_t;

/* One statement as the hub derived it from a record (statements row without entity or times). */
typedef struct hub_mlog_statement {
        const char *prop, *original, *value;
        bool valid;
        const char *reason; /* NULL when none */
        const char *tier;
} hub_mlog_statement_t;

/* Leaf data of each kind; *out is malloc'd (free() it). body of hub_mlog_leaf is the kind's
 * body as documented. Errors: HUB_E_INVAL (a string over 65535 bytes, a bad kind), HUB_E_NOMEM. */
int hub_mlog_leaf(int kind, const void *body, size_t body_len, uint8_t **out, size_t *len,
                  hub_err_t *err);
int hub_mlog_record_leaf(const hub_mlog_record_leaf_t *r, uint8_t **out, size_t *len,
                         hub_err_t *err);
int hub_mlog_key_event_leaf(const hub_mlog_key_event_t *e, uint8_t **out, size_t *len,
                            hub_err_t *err);

/* SHA-256 over the domain, the count and the statements' encodings in bytewise order, so the
 * digest does not depend on the order rows come back in. s may be NULL when n is 0. */
int hub_mlog_statements_digest(const hub_mlog_statement_t *s, size_t n, uint8_t out[32],
                               hub_err_t *err);

/* The key's validity at a batch's created_at (ms), with the rules of hub_resolve_key_window:
 * 0 when valid, else -HUB_E_KEY with why. */
int hub_mlog_key_valid_at(const hub_mlog_key_event_t *e, int64_t created_at_ms, hub_err_t *err);

/* ---- tree heads ---- */

typedef struct hub_mlog_head {
        uint64_t size;
        uint8_t root[HUB_MERKLE_HASH_BYTES];
        int64_t timestamp_ms;
        char key_id[HUB_BATCH_MAX_ID_BYTES + 1];
        uint8_t signature[HUB_SIG_BYTES];
} hub_mlog_head_t;

void hub_mlog_head_digest(const hub_mlog_head_t *h, uint8_t out[32]);
/* Set key_id from the key and sign (key->has_secret). Errors: HUB_E_KEY. */
int hub_mlog_head_sign(hub_mlog_head_t *h, const hub_key_t *key, hub_err_t *err);
/* HUB_E_KEY (key_id is not the key's), HUB_E_SIGNATURE. */
int hub_mlog_head_verify(const hub_mlog_head_t *h, const hub_key_t *hub_pub, hub_err_t *err);

/* The hub.log message: Avro binary of vn.hub.v1.TreeHead (schemas/tree_head.avsc), minimal
 * varints. *out malloc'd. decode checks structure, canonical form, key_id rule, size >= 0. */
int hub_mlog_head_encode(const hub_mlog_head_t *h, uint8_t **out, size_t *len, hub_err_t *err);
int hub_mlog_head_decode(const void *buf, size_t len, hub_mlog_head_t *out, hub_err_t *err);

/* Whether a new head is due: the log grew since the last head and either every_leaves leaves
 * were added or every_ms passed since it (0 disables a rule). No head yet: due when size > 0. */
bool hub_mlog_head_due(bool have_last, uint64_t last_size, int64_t last_ms, uint64_t size,
                       int64_t now_ms, int64_t every_ms, uint64_t every_leaves);

/* ---- proofs from stored complete subtrees ---- */

typedef struct hub_mlog_node {
        uint8_t level;
        uint64_t index;
} hub_mlog_node_t;

typedef struct hub_mlog_plan hub_mlog_plan_t;

/* Plans: the inclusion path of leaf m in the tree of n leaves (m < n); the consistency proof
 * from m to n leaves (0 < m <= n); the root of n leaves (n > 0). Errors: HUB_E_INVAL, NOMEM. */
int hub_mlog_plan_inclusion(uint64_t m, uint64_t n, hub_mlog_plan_t **out, hub_err_t *err);
int hub_mlog_plan_consistency(uint64_t m, uint64_t n, hub_mlog_plan_t **out, hub_err_t *err);
int hub_mlog_plan_root(uint64_t n, hub_mlog_plan_t **out, hub_err_t *err);
void hub_mlog_plan_free(hub_mlog_plan_t *p);

/* The distinct nodes the plan needs (sorted by level, then index; level 0 = leaf hashes). */
size_t hub_mlog_plan_nodes(const hub_mlog_plan_t *p, const hub_mlog_node_t **nodes);
/* Give the hash of the plan's node i. */
void hub_mlog_plan_set(hub_mlog_plan_t *p, size_t i, const uint8_t hash[32]);
/* The proof (hashes back to back, leaf first; for a root plan the 32-byte root). Errors:
 * HUB_E_INVAL (a node not set, out too small). */
int hub_mlog_plan_result(const hub_mlog_plan_t *p, uint8_t *out, size_t cap, size_t *len,
                         hub_err_t *err);

/* ---- appending ---- */

/* The right edge of a tree: its complete subtrees, largest first. A new leaf completes the
 * subtrees it closes; each completed node (level >= 1) is handed to emit. */
typedef struct hub_mlog_frontier {
        uint64_t size;
        int n;
        uint8_t level[64];
        uint8_t hash[64][HUB_MERKLE_HASH_BYTES];
} hub_mlog_frontier_t;

/* From a root plan of `size` leaves (every node set): the nodes of the root plan are exactly
 * the frontier. size 0 needs no plan (NULL). */
int hub_mlog_frontier_init(hub_mlog_frontier_t *f, uint64_t size, const hub_mlog_plan_t *root,
                           hub_err_t *err);
int hub_mlog_frontier_push(hub_mlog_frontier_t *f, const uint8_t leaf_hash[32],
                           int (*emit)(uint8_t level, uint64_t index, const uint8_t hash[32],
                                       void *arg),
                           void *arg);
/* The root of the tree so far (SHA-256("") when empty). */
void hub_mlog_frontier_root(const hub_mlog_frontier_t *f, uint8_t out[32]);

/* The root RFC 9162 §2.1.3.2 computes from a leaf hash, its index, the tree size and its path
 * (to check a signature over it). HUB_E_PROOF when the path has the wrong length. */
int hub_mlog_root_from_path(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                            const uint8_t *path, size_t path_len, uint8_t out[32],
                            hub_err_t *err);

#endif
