/* The HTTP API's tables (migration 0006_api.sql): agencies' API tokens, the access log and its
 * leaves in the hub's log, and the tier-filtered reads hub-api answers with. SQL in
 * hub/store/api.c; the pure parts in hub/api.h. */
#ifndef HUB_API_STORE_H
#define HUB_API_STORE_H

#include <hub/api.h>
#include <hub/err.h>
#include <hub/store.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- tokens ---- */

/* A new token for agency, granting `tier` (HUB_TIER_*): the token text into token (cap >=
 * HUB_API_TOKEN_LEN + 1; shown once, only its hash is stored) and its id. Errors: HUB_E_CONFIG
 * (agency not registered), HUB_E_DB. */
int hub_api_token_create(hub_store_t *s, const char *agency, int tier, char *token, size_t cap,
                         int64_t *id, hub_err_t *err);

/* Revoke token `id` from now on. Errors: HUB_E_KEY (no such token, or already revoked). */
int hub_api_token_revoke(hub_store_t *s, int64_t id, hub_err_t *err);

typedef struct hub_api_caller {
        bool found;   /* a token with this hash exists */
        bool revoked; /* ... and was revoked */
        int64_t token_id;
        char agency[65];
        int tier; /* HUB_TIER_* granted */
} hub_api_caller_t;

/* Who presents `token` (len bytes). Errors: HUB_E_DB only; an unknown token is found = false. */
int hub_api_token_check(hub_store_t *s, const char *token, size_t len, hub_api_caller_t *out,
                        hub_err_t *err);

/* ---- the access log ---- */

/* Write one access_log row and its kind 6 leaf in one transaction (BEGIN to COMMIT): a->id and
 * a->at_us are assigned here (the row's id and the database's clock). The leaf's ref is the
 * id. Errors: HUB_E_DB (nothing written), HUB_E_INVAL, HUB_E_NOMEM. */
int hub_api_access_write(hub_store_t *s, hub_api_access_t *a, hub_err_t *err);

/* For hubctl log verify: recompute the kind 6 leaf `idx` (ref, data) from its access_log row.
 * problem receives "" when they agree, else what differs. Errors: HUB_E_DB, HUB_E_NOMEM. */
int hub_api_access_verify_leaf(hub_store_t *s, uint64_t idx, const char *ref,
                               const uint8_t *data, size_t len, char *problem, size_t cap,
                               hub_err_t *err);

/* Access-log rows with no kind 6 leaf committing to them (inserted behind the hub's back):
 * row() is called with each id (at most 100). */
int hub_api_access_unlogged(hub_store_t *s, void (*row)(int64_t id, void *arg), void *arg,
                            hub_err_t *err);

/* ---- reads, filtered by tier ---- */

/* Entity `id` as an agency of tier `tier` sees it: {entity_id, kind, version, merged_into,
 * withdrawn, tier, names, identifiers, statements [{prop, value, original, valid, reason, tier,
 * agency, record_id}]} with only the statements visible in that tier (hub_tier_visible).
 * *status: 200 (*out set), 404 (no such entity), 403 (it exists but nothing about it is visible
 * in that tier). A merged entity is a redirect: its statements moved to the survivor. */
int hub_api_entity(hub_store_t *s, int64_t id, int tier, json_t **out, int *status,
                   hub_err_t *err);

/* The surviving entity holding identifier (type, value) in normal form, and whether a
 * statement visible in `tier` asserts that identifier about it. *entity 0 when none holds it. */
int hub_api_find_identifier(hub_store_t *s, const char *type, const char *value, int tier,
                            int64_t *entity, bool *visible, hub_err_t *err);

/* Surviving entities with a name whose match key (hub_name_match_key, organisation form) is
 * `key`, asserted by a statement visible in `tier`; at most cap ids into ids, by id. */
int hub_api_find_name(hub_store_t *s, const char *key, int tier, int64_t *ids, size_t cap,
                      size_t *n, hub_err_t *err);

/* The tier and entity of record agency/record_id; *found false when there is none. */
int hub_api_record(hub_store_t *s, const char *agency, const char *record_id, bool *found,
                   int *tier, int64_t *entity, hub_err_t *err);

#endif
