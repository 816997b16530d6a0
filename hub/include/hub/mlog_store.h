/* The hub's Merkle log in PostgreSQL (migration 0003_log.sql): appending leaves, signing tree
 * heads, proving inclusion and consistency from stored complete subtrees, and checking the
 * whole stored log (hubctl log verify). The pure parts (encodings, plans) are in hub/mlog.h.
 *
 * Appending locks log_state until the caller's transaction ends, so call the append functions
 * last in a transaction: concurrent ingests wait only for each other's commit. */
#ifndef HUB_MLOG_STORE_H
#define HUB_MLOG_STORE_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/mlog.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stdint.h>

/* ---- appending, inside the caller's transaction ---- */

/* Append one leaf of `kind` with the kind's documented body (hub/mlog.h); ref names the row it
 * commits to. *index (optional) receives its leaf index. For the judgement, retraction,
 * correction and access-log modules. Errors: HUB_E_INVAL, HUB_E_NOMEM, HUB_E_DB. */
int hub_mlog_append(hub_store_t *s, int kind, const char *ref, const void *body, size_t len,
                    int64_t *index, hub_err_t *err);

/* Append n leaves of one kind at once (bodies[i] of lens[i] bytes, refs[i]): one lock, two
 * COPYs. *first (optional) receives the index of the first. */
int hub_mlog_append_many(hub_store_t *s, int kind, const char *const *refs,
                         const void *const *bodies, const size_t *lens, size_t n, int64_t *first,
                         hub_err_t *err);

/* Append a record leaf for every record stored from the batch that arrived at
 * topic/partition/offset (the ingest transaction calls this once per message, after its rows
 * are written; nothing to do when it stored no record). */
int hub_mlog_append_batch(hub_store_t *s, const char *topic, int32_t partition, int64_t offset,
                          const hub_batch_t *b, hub_err_t *err);

/* Record a key event ("register" or "revoke") of agency/key_id as agency_keys now holds it:
 * a key_events row and its leaf (hub/store/registry.c calls it in the key's transaction). */
int hub_mlog_key_event(hub_store_t *s, const char *event, const char *agency, const char *key_id,
                       hub_err_t *err);

/* ---- tree heads, in their own transaction ---- */

typedef struct hub_mlog_sign_opts {
        int64_t every_ms;      /* sign when the log grew and this long passed (0: never) */
        uint64_t every_leaves; /* sign when this many leaves were added (0: never) */
        bool force;            /* sign whenever the log grew since the last head */
} hub_mlog_sign_opts_t;

/* Sign a head of the current log when due (hub_mlog_head_due, or force), store it in
 * tree_heads and queue it for hub.log in the outbox. *signed_now says whether it did; *head
 * (optional) receives the new head. */
int hub_mlog_sign(hub_store_t *s, const hub_key_t *key, const hub_mlog_sign_opts_t *o,
                  hub_mlog_head_t *head, bool *signed_now, hub_err_t *err);

/* ---- reading ---- */

int hub_mlog_size(hub_store_t *s, uint64_t *size, hub_err_t *err);

/* The latest stored head; *found false when none. */
int hub_mlog_latest_head(hub_store_t *s, hub_mlog_head_t *h, bool *found, hub_err_t *err);

/* The root of the first n leaves (SHA-256("") for 0). */
int hub_mlog_root(hub_store_t *s, uint64_t n, uint8_t out[32], hub_err_t *err);

/* Proofs from stored nodes, one query each (out: HUB_MERKLE_MAX_PROOF_BYTES suffices). */
int hub_mlog_prove_inclusion(hub_store_t *s, uint64_t index, uint64_t size, uint8_t *out,
                             size_t cap, size_t *len, hub_err_t *err);
int hub_mlog_prove_consistency(hub_store_t *s, uint64_t m, uint64_t n, uint8_t *out, size_t cap,
                               size_t *len, hub_err_t *err);

/* The leaf committing to (kind, ref): its index, data (malloc'd, free() it; NULL to skip) and
 * hash. *found false when there is none. */
int hub_mlog_find_leaf(hub_store_t *s, int kind, const char *ref, int64_t *index, uint8_t **data,
                       size_t *len, uint8_t hash[32], bool *found, hub_err_t *err);

/* The statements digest of one record as the statements table holds it now. */
int hub_mlog_record_statements_digest(hub_store_t *s, const char *agency, const char *record_id,
                                      uint8_t out[32], hub_err_t *err);

/* ---- checking the stored log (hubctl log verify) ---- */

typedef struct hub_mlog_problem {
        const char *what; /* "record", "statements", "key-event", "agency-key", "retraction",
                             "correction", "leaf", "node", "tree-head", "consistency",
                             "unlogged-record", "access", "unlogged-access" */
        const char *ref;  /* the row: "MOF-HQ/rec-1", "key_events 3", "tree_heads 7", ... */
        const char *msg;
} hub_mlog_problem_t;

typedef struct hub_mlog_verify_stats {
        uint64_t leaves, nodes, heads, records, key_events, other_leaves;
        uint64_t problems;
} hub_mlog_verify_stats_t;

/* Recompute every leaf from the rows it commits to (records' payloads and their batches'
 * bytes, statements, key events, and agency_keys against its last event), every stored node
 * from the leaves, the root at every stored head's size, every head's signature with hub_pub,
 * and a consistency proof between consecutive heads; report each difference to problem()
 * (which may return non-zero to stop). progress (optional) is called every 100000 leaves.
 * Returns 0 when it could run (problems are counted in stats), or an error. */
int hub_mlog_verify(hub_store_t *s, const hub_key_t *hub_pub,
                    void (*problem)(const hub_mlog_problem_t *p, void *arg),
                    void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg,
                    hub_mlog_verify_stats_t *stats, hub_err_t *err);

#endif
