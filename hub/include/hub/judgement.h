/* Analysts' judgements (DESIGN "judgements"), the pure parts: the canonical bytes an analyst
 * signs, signing and checking them, and the body of the judgement leaves (kind 3) of the hub's
 * log. No database: hub/store/judgement.c stores and applies them (<hub/judgement_store.h>).
 * Byte layouts and how to verify: schemas/README.md, "Judgements".
 *
 *   message   = "vn.hub.judgement.v1" || 0x00 || str(kind) || i64be(entity_a)
 *               || i64be(entity_b or 0) || u32be(n) || n x (str(agency) || str(record_id))
 *               || i64be(undoes or 0) || str(analyst) || str(key_id) || str(reason)
 *               || i64be(signed_at_us)                       (str = u32be(len) || bytes)
 *   signature = Ed25519(analyst's secret key, message)
 *
 * The library never calls sodium_init(): main() or the test does. */
#ifndef HUB_JUDGEMENT_H
#define HUB_JUDGEMENT_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/keyfile.h>

#include <stddef.h>
#include <stdint.h>

#define HUB_JUDGEMENT_DOMAIN "vn.hub.judgement.v1"
/* A reason is for people: a page of text at most. */
#define HUB_JUDGEMENT_MAX_REASON 4000
#define HUB_JUDGEMENT_MAX_RECORDS 1000

/* Events of a judgement leaf: the byte after the leaf kind. */
enum {
        HUB_JUDGEMENT_LEAF_JUDGEMENT = 1,
        HUB_JUDGEMENT_LEAF_KEY_REGISTER = 2,
        HUB_JUDGEMENT_LEAF_KEY_REVOKE = 3,
};

typedef struct hub_judgement_ref {
        const char *agency;
        const char *record_id;
} hub_judgement_ref_t;

typedef struct hub_judgement {
        const char *kind;      /* "same", "not-same", "split" or "undo" */
        int64_t entity_a;      /* the entity judged (split: the one records leave) */
        int64_t entity_b;      /* same / not-same: the other one; 0 otherwise */
        const hub_judgement_ref_t *records; /* split: the records that move out */
        size_t n_records;
        int64_t undoes;        /* undo: the judgement undone; 0 otherwise */
        const char *analyst;
        const char *key_id;
        const char *reason;
        int64_t signed_at_us;  /* microseconds since the epoch */
} hub_judgement_t;

/* Check the fields (a known kind, entity_b for same/not-same only, records for split only,
 * undoes for undo only, non-empty reason of at most HUB_JUDGEMENT_MAX_REASON bytes, analyst
 * and key id of 1-64 printable characters). Errors: HUB_E_INVAL with what is wrong. */
int hub_judgement_check(const hub_judgement_t *j, hub_err_t *err);

/* The canonical message; *out malloc'd (free() it). Errors: HUB_E_INVAL, HUB_E_NOMEM. */
int hub_judgement_message(const hub_judgement_t *j, uint8_t **out, size_t *len, hub_err_t *err);

/* Sign with key (has_secret) / verify with pk. Errors: HUB_E_INVAL, HUB_E_NOMEM, HUB_E_KEY (no
 * secret), HUB_E_SIGNATURE (does not verify). */
int hub_judgement_sign(const hub_judgement_t *j, const hub_key_t *key,
                       uint8_t sig[HUB_SIG_BYTES], hub_err_t *err);
int hub_judgement_verify(const hub_judgement_t *j, const uint8_t pk[HUB_PK_BYTES],
                         const uint8_t sig[HUB_SIG_BYTES], hub_err_t *err);

/* The body of a leaf of kind HUB_MLOG_JUDGEMENT (hub_mlog_leaf makes the leaf data of it;
 * *out malloc'd) of:
 * a stored judgement: event 1 || u32be(len(message)) || message || signature || public key
 *   || i64be(id) || i64be(new_entity or 0) || i64be(merge or 0);
 * an analyst key registered: event 2 || str(analyst) || str(key_id) || public key || i64be(at);
 * an analyst key revoked: event 3 || str(analyst) || str(key_id) || public key || i64be(at)
 *   || str(reason). */
int hub_judgement_leaf_body(const hub_judgement_t *j, const uint8_t sig[HUB_SIG_BYTES],
                       const uint8_t pk[HUB_PK_BYTES], int64_t id, int64_t new_entity,
                       int64_t merge_id, uint8_t **out, size_t *len, hub_err_t *err);
int hub_judgement_key_leaf_body(int event, const char *analyst, const char *key_id,
                           const uint8_t pk[HUB_PK_BYTES], int64_t at_us, const char *reason,
                           uint8_t **out, size_t *len, hub_err_t *err);

#endif
