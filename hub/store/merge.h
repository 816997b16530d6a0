/* Entity resolution inside the ingest transaction, after the records of a batch are stored
 * under the entity their strong identifiers pointed at (hub/store/ingest.c): for each new
 * record, gather the evidence it gives against every other entity (shared strong identifiers,
 * weak keys, related parties, identifier hints), ask hub_resolve_match() (hub/lib/resolve.c)
 * and apply the answer: merges (survivor = the oldest; identifiers, statements, records, weak
 * keys, links and candidates move to it; a `merges` row keeps the evidence), links,
 * candidates, noisy values. Then store the record's weak keys. Internal to hub/store;
 * hub/store/README.md documents the rules. */
#ifndef HUB_STORE_MERGE_H
#define HUB_STORE_MERGE_H

#include <hub/arena.h>
#include <hub/err.h>
#include <hub/extract.h>
#include <hub/store.h>

#include <stddef.h>
#include <stdint.h>

/* The over-correlation guard's default: a value on more than this many unrelated entities is
 * noisy. */
#define HUB_MERGE_DEFAULT_NOISY 5

typedef struct hub_merge_rec {
        const hub_extract_t *x;
        int64_t *entity; /* in: the entity it was stored under; out: its entity after merges */
} hub_merge_rec_t;

typedef struct hub_merge_stats {
        size_t merges, links, candidates, noisy;
} hub_merge_stats_t;

/* Resolve recs[0..n) in order, in the caller's transaction. Entities absorbed by a merge are
 * added to changed[] (room for *n_changed + n_cap more is the caller's: 4 per record is
 * enough, see merge.c) so that they are republished with merged_into set. noisy_threshold 0
 * means HUB_MERGE_DEFAULT_NOISY. */
int hub_merge_resolve(hub_store_t *s, hub_arena_t *a, const hub_merge_rec_t *recs, size_t n,
                      int noisy_threshold, int64_t *changed, size_t *n_changed, size_t cap,
                      hub_merge_stats_t *stats, hub_err_t *err);

/* For analysts' judgements (hub/store/judgement.c), in the caller's transaction: take the
 * resolution lock; absorb entity `absorbed` into `survivor` (survivor < absorbed, both locked
 * by the caller) exactly as a rule's merge does, recorded in merges by `rule` with `evidence`
 * (JSON) and no record. */
int hub_merge_lock(hub_store_t *s, hub_err_t *err);
int hub_merge_absorb(hub_store_t *s, int64_t survivor, int64_t absorbed, const char *rule,
                     const char *evidence, hub_err_t *err);

#endif
