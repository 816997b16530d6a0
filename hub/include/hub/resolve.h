/* The hub's ingest decisions as pure functions: is a key usable for a batch created at a given
 * time, is a record new, a harmless re-send or a conflict, and which entity does a record
 * attach to. No database here: hub/store/ingest.c looks the facts up, asks these functions and
 * applies their answers in one transaction, so the rules are tested without services
 * (tests/unit/test_resolve.c).
 *
 * Entity resolution in this version is deliberately minimal (issue 3): exact match on
 * normalised mergeable strong identifiers only. Names never merge. When one record's
 * identifiers point at two or more existing entities, the record attaches to the oldest and the
 * others are left as they are: merging entities (merged_into, judgements, candidates) is a
 * later issue, and hub_resolve_entity() reports the ones left so the caller can log them. */
#ifndef HUB_RESOLVE_H
#define HUB_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- keys ---- */

/* A registered key's validity, in milliseconds since the Unix epoch. */
typedef struct hub_key_window {
        int64_t valid_from_ms;
        bool has_valid_until;
        int64_t valid_until_ms; /* exclusive */
        bool revoked;
        int64_t revoked_at_ms; /* effective from this instant: earlier batches stay valid */
} hub_key_window_t;

enum {
        HUB_KEYV_OK = 0,
        HUB_KEYV_NOT_YET_VALID, /* created_at < valid_from */
        HUB_KEYV_EXPIRED,       /* created_at >= valid_until */
        HUB_KEYV_REVOKED,       /* revoked_at <= created_at */
};

/* Whether a batch created at created_at_ms may be verified with a key of window w. Revocation
 * is checked first: a revoked key is reported as revoked even outside its window, since that
 * is what an operator needs to know. */
int hub_resolve_key_window(const hub_key_window_t *w, int64_t created_at_ms);

/* The stable reject reason of a HUB_KEYV_* value: "KEY_NOT_YET_VALID", "KEY_EXPIRED",
 * "KEY_REVOKED"; "OK" for HUB_KEYV_OK. */
const char *hub_resolve_key_reason(int verdict);

/* ---- records ---- */

enum {
        HUB_REC_NEW = 0,  /* never seen: store it */
        HUB_REC_SAME,     /* seen with the same bytes: a re-send, nothing to do */
        HUB_REC_CONFLICT, /* seen with other bytes: reject RECORD_CONFLICT (DESIGN contract 3) */
};

/* Compare a record with what is stored under its (agency, record_id): stored_sha256 is NULL
 * when nothing is. Hashes are SHA-256 of the record's bytes as carried. */
int hub_resolve_record(const uint8_t *stored_sha256, const uint8_t new_sha256[32]);

/* ---- entities ---- */

enum {
        HUB_RESOLVE_NEW = 0, /* no mergeable identifier matched: a new entity */
        HUB_RESOLVE_ATTACH,  /* attach to entity_id */
};

typedef struct hub_resolve_decision {
        int action;
        int64_t entity_id; /* for HUB_RESOLVE_ATTACH */
        size_t n_left;     /* other distinct entities the identifiers matched, left unmerged */
} hub_resolve_decision_t;

/* Decide from the entity ids that the record's mergeable identifiers already map to (in any
 * order, repeats allowed; ids are the surviving ids, merged_into already followed). Entity ids
 * grow with creation time, so the oldest is the smallest. */
void hub_resolve_entity(const int64_t *matches, size_t n, hub_resolve_decision_t *out);

/* ---- tiers ---- */

/* Tiers by increasing restriction. A statement of tier t is visible in t and every more
 * restricted tier: PUBLIC in all three, SHARED in SHARED and RESTRICTED, RESTRICTED in
 * RESTRICTED only. */
enum { HUB_TIER_PUBLIC = 0, HUB_TIER_SHARED = 1, HUB_TIER_RESTRICTED = 2, HUB_TIER__COUNT };

/* "PUBLIC", "SHARED", "RESTRICTED" (the report.avsc symbols); NULL outside the range. */
const char *hub_tier_name(int tier);
/* Lower-case topic suffix: "public", ...; NULL outside the range. */
const char *hub_tier_topic_suffix(int tier);
/* HUB_TIER_* of a symbol, -1 when unknown. */
int hub_tier_from_name(const char *name);
/* Whether a statement of tier `stmt` is visible in the view of tier `view`. */
bool hub_tier_visible(int stmt, int view);

#endif
