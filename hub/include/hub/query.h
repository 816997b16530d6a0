/* Read-only lookups for operators and auditors (hubctl query, entity show, status, init's
 * report). The SQL lives in hub/store/query.c.
 *
 * Timestamps are microseconds since the Unix epoch, HUB_TS_NONE (<hub/timestamp.h>) for NULL.
 * Listing functions call `row` once per row; its strings are valid during the call only, and a
 * non-zero return stops the listing, which then returns that value. */
#ifndef HUB_QUERY_H
#define HUB_QUERY_H

#include <hub/err.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stdint.h>

/* ---- schema ---- */

typedef struct hub_migration_row {
        int version;
        const char *name;
        int64_t applied_at;
} hub_migration_row_t;

/* Applied migrations with version > after, in order. */
int hub_query_migrations(hub_store_t *s, int after,
                         int (*row)(const hub_migration_row_t *m, void *arg), void *arg,
                         hub_err_t *err);

/* ---- identifiers and entities ---- */

/* The entity holding identifier (type, value) in normal form: *entity_id is the id stored with
 * the identifier, *surviving the entity it was finally merged into (merged_into followed,
 * equal to *entity_id when not merged). *found false when no row matches. */
int hub_query_identifier(hub_store_t *s, const char *type, const char *value, bool *found,
                         int64_t *entity_id, int64_t *surviving, hub_err_t *err);

typedef struct hub_entity_row {
        int64_t id;
        char kind[32];
        int64_t version;
        int64_t merged_into; /* 0 when not merged */
        bool withdrawn;
        int64_t created_at;
        int64_t updated_at;
} hub_entity_row_t;

int hub_query_entity(hub_store_t *s, int64_t id, bool *found, hub_entity_row_t *out,
                     hub_err_t *err);

typedef struct hub_identifier_row {
        const char *type;
        const char *value;
        int64_t first_seen;
} hub_identifier_row_t;

/* The identifiers keyed to the entity, by type and value. */
int hub_query_entity_identifiers(hub_store_t *s, int64_t id,
                                 int (*row)(const hub_identifier_row_t *r, void *arg), void *arg,
                                 hub_err_t *err);

typedef struct hub_statement_row {
        const char *prop;
        const char *value;
        const char *original;
        bool valid;
        const char *reason; /* "" when valid */
        const char *tier;
        const char *agency;
        const char *record_id;
        int64_t first_seen;
        int64_t last_seen;
} hub_statement_row_t;

/* The statements about the entity, by property, value, agency and record. */
int hub_query_entity_statements(hub_store_t *s, int64_t id,
                                int (*row)(const hub_statement_row_t *r, void *arg), void *arg,
                                hub_err_t *err);

typedef struct hub_source_row {
        const char *agency;
        const char *record_id;
        const char *status;
        const char *tier;
        int64_t batch_id;
        const char *key_id;
        const char *topic;
        int partition;
        int64_t offset;
        int64_t received_at;
} hub_source_row_t;

/* The records the entity derives from (records.entity_id, or a statement about it), with the
 * batch and Kafka position each came in, by agency and record id. */
int hub_query_entity_sources(hub_store_t *s, int64_t id,
                             int (*row)(const hub_source_row_t *r, void *arg), void *arg,
                             hub_err_t *err);

/* ---- status ---- */

typedef struct hub_status_totals {
        int64_t entities;  /* all rows */
        int64_t active;    /* not merged, not withdrawn */
        int64_t merged;
        int64_t withdrawn;
        int64_t identifiers;
        int64_t records;
        int64_t batches;
        int64_t rejects;
        int64_t outbox_unsent;
        int64_t outbox_oldest_unsent; /* created_at, HUB_TS_NONE when none */
} hub_status_totals_t;

int hub_query_status_totals(hub_store_t *s, hub_status_totals_t *out, hub_err_t *err);

typedef struct hub_agency_status_row {
        const char *agency;
        int64_t records;
        int64_t batches;
        int64_t rejects;
        int64_t last_received; /* HUB_TS_NONE when nothing yet */
} hub_agency_status_row_t;

/* Every registered agency, and any agency named only by rejects, by code. */
int hub_query_status_agencies(hub_store_t *s,
                              int (*row)(const hub_agency_status_row_t *r, void *arg), void *arg,
                              hub_err_t *err);

typedef struct hub_reject_count_row {
        const char *agency; /* "" when the reject could not be attributed (garbage bytes) */
        const char *reason;
        int64_t count;
} hub_reject_count_row_t;

int hub_query_reject_counts(hub_store_t *s,
                            int (*row)(const hub_reject_count_row_t *r, void *arg), void *arg,
                            hub_err_t *err);

typedef struct hub_reject_row {
        int64_t id;
        int64_t rejected_at;
        const char *agency;    /* "" when unknown */
        const char *record_id; /* "" for a whole batch */
        const char *reason;
        const char *message;
        const char *topic;
        int partition;
        int64_t offset;
} hub_reject_row_t;

/* The latest `limit` rejects, newest first. */
int hub_query_last_rejects(hub_store_t *s, int limit,
                           int (*row)(const hub_reject_row_t *r, void *arg), void *arg,
                           hub_err_t *err);

typedef struct hub_offset_row {
        const char *topic;
        int partition;
        int64_t next_offset;
        int64_t updated_at;
} hub_offset_row_t;

/* The stored consumer offsets, by topic and partition. */
int hub_query_consumer_offsets(hub_store_t *s, int (*row)(const hub_offset_row_t *r, void *arg),
                               void *arg, hub_err_t *err);

#endif
