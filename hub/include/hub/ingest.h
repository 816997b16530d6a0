/* Ingest: one Kafka message from agency.<code>.reports (one signed batch) into PostgreSQL in
 * ONE transaction (DESIGN contracts 3, 4, 5, 8):
 *
 *   decode (limits) -> topic's agency = header's agency -> key registered and valid at
 *   created_at -> signature -> writer schema known -> per record: decode, agency, dedup by
 *   (agency, record_id), extract statements and merge keys (hub/extract.h) -> lock the merge
 *   keys -> resolve entities (hub/resolve.h) -> write batch, records, identifiers, statements
 *   (COPY) -> bump entity versions -> outbox rows (signed entity views per tier, rejects) ->
 *   rejects rows -> consumer_offsets (conditional on the expected previous value) -> COMMIT.
 *
 * A rejected batch or record is written as a rejects row and a hub.rejects outbox row in the
 * same transaction, and the offset still advances: bad input never stops the hub and is never
 * dropped silently. A retriable database error rolls everything back (the caller retries the
 * same message); any other database error rolls back and the whole message is then recorded
 * as a reject (reason DB) in a second transaction, so one poisonous message cannot wedge a
 * partition. */
#ifndef HUB_INGEST_H
#define HUB_INGEST_H

#include <hub/batch.h>
#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_REJECTS_TOPIC "hub.rejects"

typedef struct hub_ingest hub_ingest_t;

typedef struct hub_ingest_opts {
        hub_batch_limits_t limits; /* zero fields: the defaults */
        const hub_key_t *hub_key;  /* signs the entity views (has_secret); kept by reference */
        int noisy_threshold;       /* over-correlation guard K; 0: the default (5) */
} hub_ingest_opts_t;

typedef struct hub_ingest_msg {
        const char *topic;
        int32_t partition;
        int64_t offset;
        const void *buf; /* the message value, untrusted */
        size_t len;
        int64_t expected_next; /* consumer_offsets.next_offset as last seen; -1: no row yet */
} hub_ingest_msg_t;

typedef struct hub_ingest_result {
        size_t accepted;   /* records stored */
        size_t duplicates; /* records already stored with the same bytes */
        size_t rejected;   /* records rejected (all of them when the batch is) */
        bool batch_rejected;
        char reason[40];   /* the first reject reason, "" when none */
        char message[256]; /* its message */
        size_t invalid_identifiers;
        size_t entities; /* entities created or changed */
        size_t outbox;   /* outbox rows written */
        size_t left_unmerged; /* entities a record also matched but was not attached to */
        bool fenced; /* consumer_offsets had moved on: another instance owns the partition */
} hub_ingest_result_t;

/* An ingester on connection s (not owned). Errors: HUB_E_NOMEM, HUB_E_SCHEMA, HUB_E_INVAL. */
int hub_ingest_new(hub_store_t *s, const hub_ingest_opts_t *opts, hub_ingest_t **out,
                   hub_err_t *err);
void hub_ingest_free(hub_ingest_t *ing);

/* New limits for the next messages (a reloaded configuration). */
void hub_ingest_set_limits(hub_ingest_t *ing, const hub_batch_limits_t *limits);

/* Ingest one message, BEGIN to COMMIT. 0: committed (accepted, duplicate or rejected: see
 * *res). Errors, after a rollback: HUB_E_DB retriable (retry the same message later), HUB_E_DB
 * with res->fenced (re-read the stored offset and seek there), other codes when even the
 * reject could not be written. */
int hub_ingest_message(hub_ingest_t *ing, const hub_ingest_msg_t *m, hub_ingest_result_t *res,
                       hub_err_t *err);

/* The stored next offsets of partitions parts[0..n) of topic: next[i] = -1 when none. */
int hub_ingest_offsets(hub_store_t *s, const char *topic, const int32_t *parts, size_t n,
                       int64_t *next, hub_err_t *err);

#endif
