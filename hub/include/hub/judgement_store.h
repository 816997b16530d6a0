/* Analysts and their judgements in PostgreSQL (migration 0005_judgements.sql): registering and
 * revoking analysts' keys, storing a signed judgement after checking its signature and applying
 * it (a merge, a split, a do-not-merge, an undo) with the republication of the entities it
 * changed, listing judgements, and checking them against the hub's log (hubctl log verify).
 * The signed bytes are in <hub/judgement.h>; the rules in hub/store/README.md "Judgements". */
#ifndef HUB_JUDGEMENT_STORE_H
#define HUB_JUDGEMENT_STORE_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/judgement.h>
#include <hub/keyfile.h>
#include <hub/mlog_store.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stdint.h>

/* Register a public key for analyst `name` (added when new, with full_name). Each registration
 * is a leaf of the hub's log. Refuses (-HUB_E_KEY) a key id the analyst already has and a
 * public key registered to anyone, analyst or agency. */
int hub_analyst_key_register(hub_store_t *s, const char *name, const char *full_name,
                             const char *key_id, const uint8_t pk[HUB_PK_BYTES], hub_err_t *err);

/* Revoke an analyst's key now (a leaf of the log): judgements signed with it before stay, new
 * ones are refused. -HUB_E_KEY for an unknown key or one already revoked. */
int hub_analyst_key_revoke(hub_store_t *s, const char *name, const char *key_id,
                           const char *reason, hub_err_t *err);

typedef struct hub_analyst_key_row {
        const char *analyst, *full_name, *key_id;
        const uint8_t *public_key;
        int64_t registered_at; /* microseconds */
        int64_t revoked_at;    /* HUB_TS_NONE when not revoked */
        const char *revoked_reason;
} hub_analyst_key_row_t;

int hub_analyst_keys(hub_store_t *s, int (*row)(const hub_analyst_key_row_t *k, void *arg),
                     void *arg, hub_err_t *err);

typedef struct hub_judgement_result {
        int64_t id;         /* the stored judgement */
        int64_t leaf_index; /* its leaf in the hub's log */
        int64_t survivor;   /* same, undone split: the surviving entity; */
        int64_t absorbed;   /* and the one merged into it */
        int64_t new_entity; /* split: the new entity; undone same: the entity restored */
        int64_t from;       /* split, undone same: the entity the records left */
        size_t outbox;      /* entity views queued for publication */
} hub_judgement_result_t;

/* In one transaction: check the judgement's fields and its signature with the analyst's
 * registered key (unknown or revoked: -HUB_E_KEY; not verifying: -HUB_E_SIGNATURE; a replayed
 * signature: -HUB_E_INVAL), apply it, store it, republish the entities it changed (views signed
 * with hub_key, which holds the hub's secret key) and append its leaf to the log. A judgement
 * that cannot apply (entities already one, a pair judged not-same, a record not under the
 * entity, ...) is refused with -HUB_E_INVAL and a message that says what to do instead. */
int hub_judgement_apply(hub_store_t *s, const hub_key_t *hub_key, const hub_judgement_t *j,
                        const uint8_t sig[HUB_SIG_BYTES], hub_judgement_result_t *res,
                        hub_err_t *err);

/* The judgement `id` as stored, for an undo: its kind and entities. *found false when none. */
int hub_judgement_get(hub_store_t *s, int64_t id, bool *found, char kind[16], int64_t *entity_a,
                      int64_t *entity_b, hub_err_t *err);

typedef struct hub_judgement_row {
        int64_t id;
        const char *kind;
        int64_t entity_a, entity_b, new_entity, undoes, merge_id; /* 0 when none */
        const char *records; /* JSON array of {agency, record_id} */
        const char *analyst, *key_id, *reason;
        int64_t created_at;  /* microseconds */
        int64_t revoked_at;  /* HUB_TS_NONE when in force */
        int64_t leaf_index;  /* -1 when not logged */
} hub_judgement_row_t;

/* Judgements touching entity (0: all), in order. */
int hub_judgement_list(hub_store_t *s, int64_t entity,
                       int (*row)(const hub_judgement_row_t *j, void *arg), void *arg,
                       hub_err_t *err);

/* Check every judgement row (its signature with its analyst's key, and the leaf it is committed
 * to), every analyst key against its registration and revocation leaves, that no judgement
 * leaf lost its row and that undone judgements and their undos agree. Each difference goes to
 * problem() and adds one to *problems. hub_mlog_verify() calls it. */
int hub_judgement_verify_log(hub_store_t *s,
                             void (*problem)(const hub_mlog_problem_t *p, void *arg), void *arg,
                             uint64_t *problems, hub_err_t *err);

#endif
