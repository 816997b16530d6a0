/* The subscriber's side of DESIGN contract 5: the shared database materialised into tables of
 * the agency's OWN PostgreSQL (not the hub's), so the agency can query violators with SQL.
 *
 * Tables (created if absent by hub_sub_init(); columns in hub/store/subscriber.c):
 *   hub_entities            one row per entity id the tier shows: the latest version's view;
 *                           a merged entity stays as a redirect row (merged_into set, no
 *                           identifiers), a withdrawn one is deleted
 *   hub_entity_identifiers  (entity_id, type, value) of live entities, indexed by (type, value)
 *   hub_entity_tombstones   (entity_id, version) of withdrawn entities, so that an older copy
 *                           arriving later cannot bring a withdrawn entity back
 *   hub_subscriber_offsets  (topic, partition, next_offset): where to resume
 *   hub_subscriber_rejects  one row per refused message, with its reason code and bytes
 *
 * Every function here runs inside the caller's transaction: the caller applies a poll batch of
 * messages, saves the offsets and commits once, so each message reaches the tables exactly
 * once however the subscriber stops. */
#ifndef HUB_SUBSCRIBER_H
#define HUB_SUBSCRIBER_H

#include <hub/err.h>
#include <hub/store.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What applying one entity view did. */
enum hub_sub_outcome {
        HUB_SUB_INSERTED = 0, /* a new entity */
        HUB_SUB_UPDATED,      /* a newer version replaced the one held */
        HUB_SUB_REDIRECTED,   /* a newer version says merged_into: kept as a redirect row */
        HUB_SUB_DELETED,      /* a newer version says withdrawn: entity and identifiers gone */
        HUB_SUB_IGNORED,      /* a duplicate or an older version: nothing changed */
        HUB_SUB__COUNT
};

/* Create the tables and indexes if absent (serialised by an advisory lock, in its own
 * transaction). Errors: HUB_E_DB. */
int hub_sub_init(hub_store_t *s, hub_err_t *err);

/* The stored next offsets of partitions 0..n-1 of topic: next[i] = -1 when none is stored.
 * Errors: HUB_E_DB. */
int hub_sub_offsets_load(hub_store_t *s, const char *topic, int32_t n, int64_t *next,
                         hub_err_t *err);

/* Store next as the next offset of (topic, partition), on condition that the stored one is
 * still `expected` (-1: none stored): a second subscriber writing the same database is fenced
 * off instead of both applying the same messages. Errors: HUB_E_DB ("moved under us" when the
 * condition fails: not retriable). */
int hub_sub_offset_save(hub_store_t *s, const char *topic, int32_t partition, int64_t expected,
                        int64_t next, hub_err_t *err);

/* Apply one verified entity view (JSON as hub_entity_to_json() gives it): upsert by entity_id
 * only when its version is above the one held (and above a tombstone's), delete when withdrawn,
 * keep a redirect row when merged_into is set. *outcome says which. Errors: HUB_E_MALFORMED
 * (a field is missing or has the wrong JSON type), HUB_E_DB. */
int hub_sub_apply(hub_store_t *s, json_t *entity, enum hub_sub_outcome *outcome,
                  hub_err_t *err);

/* Record a refused message (idempotent per topic, partition, offset). key may be NULL. */
int hub_sub_reject(hub_store_t *s, const char *topic, int32_t partition, int64_t offset,
                   const char *reason, const char *message, const void *key, size_t key_len,
                   const void *payload, size_t len, hub_err_t *err);

#endif
