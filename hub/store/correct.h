/* Corrections and retractions inside the ingest transaction (hub/store/README.md, "Corrections
 * and retractions"): a record that supersedes or retracts its agency's earlier record changes
 * that record's status, releases the identifiers and weak keys only it gave its entity, and
 * has the entity republished; a target that is not stored yet keeps the correction pending
 * until it arrives. Each applied change appends a retraction or correction leaf to the hub's
 * log (schemas/README.md). Internal to hub/store. */
#ifndef HUB_STORE_CORRECT_H
#define HUB_STORE_CORRECT_H

#include <hub/arena.h>
#include <hub/err.h>
#include <hub/report.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One record of a batch that supersedes or retracts. */
typedef struct hub_correction {
        const char *agency, *record_id; /* the correcting record */
        const char *supersedes, *retracts;
        bool target_in_batch; /* the target is a record of the same batch (set by the caller) */
        /* Out of hub_correct_check: NULL when accepted, else the reason code (static) and why. */
        const char *reason;
        char message[512];
} hub_correction_t;

/* Take the agency's correction lock until the transaction ends: exclusive when the batch
 * carries corrections, shared otherwise. Every ingest of the agency's records takes it before
 * any other lock, so a correction and the target it names, ingested at once by two hubd
 * instances, see each other (one waits for the other's commit) and never deadlock. */
int hub_correct_lock(hub_store_t *s, const char *agency, bool exclusive, hub_err_t *err);

/* Decide for each correction whether it is acceptable: a record naming itself, or both
 * superseding and retracting, is CORRECTION_INVALID; a target written "<AGENCY>/<record_id>"
 * for another registered agency, and not a stored record of the agency's own, is
 * NOT_OWN_RECORD. Anything else is accepted, stored or not yet. */
int hub_correct_check(hub_store_t *s, hub_correction_t *c, size_t n, hub_err_t *err);

typedef struct hub_correct hub_correct_t;

int hub_correct_new(hub_correct_t **out, hub_err_t *err);
void hub_correct_free(hub_correct_t *c);

/* After the batch's records are stored and resolved: record the accepted corrections c[0..n)
 * (pending), then apply every pending correction of `agency` that this batch makes applicable
 * (its correcting record or its target is one of ids[0..n_ids), the records the batch stored).
 * Entities whose evidence changed are appended to changed[] (room for cap in all). codec and
 * arena decode the payloads whose keys are released. The log leaves wait for
 * hub_correct_log(). */
int hub_correct_apply(hub_correct_t *k, hub_store_t *s, hub_report_codec_t *codec,
                      hub_arena_t *arena, const char *agency, const hub_correction_t *c,
                      size_t n, const char *const *ids, size_t n_ids, int64_t *changed,
                      size_t *n_changed, size_t cap, hub_err_t *err);

/* Append the leaves of the corrections the last hub_correct_apply() applied, and note their
 * indexes: call it last in the transaction, after the batch's record leaves. */
int hub_correct_log(hub_correct_t *k, hub_store_t *s, hub_err_t *err);

/* hubctl log verify: recompute the leaf committing to correction `ref` ("<agency>/<record_id>")
 * of `kind` from the corrections and records rows; why[0] is 0 when it matches data[0..len),
 * else why says what differs. */
int hub_correct_verify_leaf(hub_store_t *s, int kind, const char *ref, const uint8_t *data,
                            size_t len, char *why, size_t cap, hub_err_t *err);

/* How many corrections the last hub_correct_apply() applied. */
size_t hub_correct_applied(const hub_correct_t *k);

#endif
