/* From one decoded report to what the hub stores about it: the record's own columns, its
 * statements (every property value with the value as reported and its normal form) and the
 * merge keys (normalised, mergeable strong identifiers) that entity resolution matches on.
 *
 * Pure: no database. Identifiers are normalised by hub/ident.h; one that fails is NOT a reason
 * to reject the record: it becomes a statement with valid = false and the reason, kept as
 * evidence, and never a merge key. Names are stored in NFC; names never merge.
 *
 * Every property the hub uses becomes a statement: names ("name:<KIND>"), identifiers
 * ("identifier:<TYPE>"), categories, "dob_year", "gender", "address", "province"
 * ("<scheme>:<code>"), and related parties ("relation:<KIND>:name", "relation:<KIND>:<TYPE>",
 * "relation:<KIND>:role"). A REGISTRANT or OWNER relation names the subject's owner, who is the
 * violator the hub resolves (a website belongs to its registrant's entity): its name and
 * identifiers are the subject's own. Any other relation (a director's company, a forwarder's
 * client) gives RELATED weak keys: a link, never a merge. A branch tax code also gives its
 * head office's code as a merge key (the same legal person). */
#ifndef HUB_EXTRACT_H
#define HUB_EXTRACT_H

#include <hub/arena.h>
#include <hub/err.h>

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_stmt {
        const char *prop;     /* "name:LEGAL", "identifier:TAX_CODE", "category" */
        const char *original; /* as reported */
        const char *value;    /* normal form (NFC name, identifier key, category symbol) */
        bool valid;
        const char *reason; /* NULL when valid, else e.g. "CHECK_DIGIT" */
} hub_stmt_t;

typedef struct hub_merge_key {
        const char *type; /* identifier type name of the key (after retyping), e.g. "TAX_CODE" */
        const char *value;
} hub_merge_key_t;

/* A weak key (match_keys.kind/value, hub/store/migrations/0002_resolution.sql): evidence for
 * links and candidates, and for a merge only when two kinds corroborate (hub_resolve_match). */
typedef struct hub_weak_key {
        const char *kind; /* "PHONE", "BANKPHONE", "HANDLE", "NAME", "NAMEBLOCK", "ADDRESS",
                           * "RELATED", "HINT" (static storage) */
        const char *value;
} hub_weak_key_t;

typedef struct hub_extract {
        const char *record_id;
        const char *agency;
        const char *subject_kind; /* SubjectKind symbol */
        int tier;                 /* HUB_TIER_* */
        const char **recipients;
        size_t n_recipients;
        const char *supersedes; /* NULL when absent */
        const char *retracts;
        int64_t reported_at_ms;
        hub_stmt_t *stmts;
        size_t n_stmts;
        hub_merge_key_t *keys; /* distinct */
        size_t n_keys;
        size_t n_invalid; /* identifiers kept with valid = false */
        hub_weak_key_t *weak; /* distinct */
        size_t n_weak;
        int dob_year; /* 0 when not reported */
} hub_extract_t;

/* Fill *out from a value of the compiled-in report schema. Strings are copied into arena.
 * Errors: HUB_E_MALFORMED (a value that the schema allows but the hub does not: empty or
 * over-long record_id, unknown tier), HUB_E_NOMEM. */
int hub_extract_report(avro_value_t *report, hub_arena_t *arena, hub_extract_t *out,
                       hub_err_t *err);

#endif
