/* Provenance and evidence from the hub's database (issue 5): where every fact about an entity
 * came from, each source record re-verified from the stored bytes up to a signed tree head, and
 * one record's self-contained evidence bundle (hub/evidence.h). Used by hubctl provenance and
 * hubctl evidence, and meant for the HTTP API: the documents are jansson objects. */
#ifndef HUB_PROVENANCE_H
#define HUB_PROVENANCE_H

#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/store.h>

#include <jansson.h>
#include <stdint.h>

/* The provenance of entity `id` (and of the entities merged into it) as a JSON object:
 *   entity {entity_id, kind, version, merged_into}, tree_head {log_size, root_hash,
 *   timestamp, key_id, signature: "verified" | "not checked" | "FAILED: ..."},
 *   values [{prop, value, statements [{agency, record_id, original, valid, tier}]}],
 *   records [{agency, record_id, key_id, batch_id, topic, partition, offset, received_at,
 *            batch_index, status, signature, record_in_batch, audit_path [hex], leaf_index,
 *            leaf, key_event_leaf, inclusion {tree_size, proof [hex], verified}, verified}],
 *   merges [...], judgements [...] (when those tables exist), verified (every record and the
 *   head verified).
 * hub_pub (NULL: the head's signature is not checked) is the hub's public key. *out is NULL
 * when there is no entity `id`. Errors: HUB_E_DB, HUB_E_NOMEM. */
int hub_provenance_entity(hub_store_t *s, int64_t id, const hub_key_t *hub_pub, json_t **out,
                          hub_err_t *err);

/* The evidence bundle of agency/record_id against the latest signed tree head that covers the
 * record and its key's events. *out malloc'd. Errors: HUB_E_INVAL (no such record, or not yet
 * covered by a signed head: the message says so), HUB_E_DB, HUB_E_NOMEM. */
int hub_provenance_evidence(hub_store_t *s, const char *agency, const char *record_id,
                            uint8_t **out, size_t *len, hub_err_t *err);

#endif
