/* The registry of agencies and their public keys (hubctl agency / key). The SQL lives in
 * hub/store/registry.c; the rules on codes and key ids in <hub/input.h>.
 *
 * Timestamps are microseconds since the Unix epoch, HUB_TS_NONE (<hub/timestamp.h>) for "none".
 * Listing functions call `row` once per row; the strings are valid during the call only.
 * A callback returning non-zero stops the listing, which then returns that value. */
#ifndef HUB_REGISTRY_H
#define HUB_REGISTRY_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/store.h>

#include <stdint.h>

/* Add an agency. valid_from HUB_TS_NONE means now. Errors: -HUB_E_CONFIG when the code is
 * already registered (message says so), -HUB_E_DB otherwise. */
int hub_registry_agency_add(hub_store_t *s, const char *code, const char *name,
                            int64_t valid_from, hub_err_t *err);

typedef struct hub_agency_row {
        const char *code;
        const char *name;
        int64_t valid_from;
        int64_t valid_to;      /* HUB_TS_NONE when open */
        const char *successor; /* "" when none */
        int64_t keys;          /* registered keys, revoked ones included */
} hub_agency_row_t;

int hub_registry_agencies(hub_store_t *s, int (*row)(const hub_agency_row_t *a, void *arg),
                          void *arg, hub_err_t *err);

typedef struct hub_key_registration {
        const char *agency;
        const char *key_id;
        uint8_t public_key[HUB_PK_BYTES];
        int64_t valid_from;  /* HUB_TS_NONE: now */
        int64_t valid_until; /* HUB_TS_NONE: open */
} hub_key_registration_t;

/* Register a public key. Refuses (-HUB_E_KEY, with the reason) a key id already registered for
 * the agency and a public key already registered to anyone (two owners of one key would make a
 * signature prove nothing), and (-HUB_E_CONFIG) an agency not registered. */
int hub_registry_key_register(hub_store_t *s, const hub_key_registration_t *reg, hub_err_t *err);

/* Revoke a key from `at` (HUB_TS_NONE: now): batches created before it stay valid. Refuses
 * (-HUB_E_KEY) an unknown key and one already revoked. */
int hub_registry_key_revoke(hub_store_t *s, const char *agency, const char *key_id, int64_t at,
                            const char *reason, hub_err_t *err);

typedef struct hub_key_row {
        const char *agency;
        const char *key_id;
        const uint8_t *public_key; /* HUB_PK_BYTES */
        int64_t valid_from;
        int64_t valid_until;       /* HUB_TS_NONE when open */
        int64_t revoked_at;        /* HUB_TS_NONE when not revoked */
        const char *revoked_reason; /* "" when not revoked */
        int64_t registered_at;
} hub_key_row_t;

/* Keys of one agency (agency non-NULL) or of all, by agency and key id. */
int hub_registry_keys(hub_store_t *s, const char *agency,
                      int (*row)(const hub_key_row_t *k, void *arg), void *arg, hub_err_t *err);

#endif
