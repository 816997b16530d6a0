/* The hub's ingest decisions as pure functions: is a key usable for a batch created at a given
 * time, is a record new, a harmless re-send or a conflict, and which entity does a record
 * attach to. No database here: hub/store/ingest.c looks the facts up, asks these functions and
 * applies their answers in one transaction, so the rules are tested without services
 * (tests/unit/test_resolve.c).
 *
 * Entity resolution: ingest.c attaches each record to the entity its normalised mergeable
 * strong identifiers point at (hub_resolve_entity: the oldest when several); then
 * hub/store/merge.c gathers the evidence between the record and every other entity and
 * hub_resolve_match() decides merge, link or candidate (hub/store/README.md). */
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
        int64_t revocation_registered_ms; /* when the hub registered the revocation */
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

/* The hub's rule for a batch it receives (hub/store/README.md, "Key windows: which time"):
 * hub_resolve_key_window() at the batch's signed created_at_ms, AND the hub's own clock at
 * receipt, received_ms, before the key's window closed there: before valid_until, and before
 * the revocation took effect at the hub, the later of revoked_at and revocation_registered_ms
 * (when the hub registered it). created_at is signed by the key itself, so a stolen key can
 * backdate it; the receipt time is the hub's and cannot be. A batch received after the window
 * closed is rejected even when it claims an earlier creation (KEY_EXPIRED, KEY_REVOKED). */
int hub_resolve_key_accept(const hub_key_window_t *w, int64_t created_at_ms, int64_t received_ms);

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

/* ---- resolution rules (issue 4; hub/store/README.md explains them with examples) ---- */

/* What a record (together with the entity it resolved to) shares with ONE other entity. Counts
 * are of distinct values; values marked noisy are not counted (the over-correlation guard). */
typedef struct hub_evidence {
        unsigned strong;     /* shared mergeable identifiers: tax code (or a branch's parent),
                              * personal id, bank account, registrable domain, shop, account */
        unsigned phone;      /* shared phones */
        unsigned handle;     /* shared handle stems (hub_resolve_handle_stems) */
        unsigned name;       /* shared name match keys (whole key) */
        unsigned name_block; /* shared name blocks (first and last token) */
        unsigned address;    /* shared address keys */
        unsigned related;    /* a related party's identifier that is the other's identifier */
        unsigned bank_phone; /* a bank account number equal to the other's phone */
        unsigned hint;       /* an identifier the other holds that a flagged value may mean
                              * (lost leading zero, adjacent transposition) */
        bool personal_id_conflict;   /* both hold personal ids and share none */
        bool personal_id_transposed; /* ... and each differs by one adjacent swap */
        bool tax_code_conflict;      /* both hold tax codes of different head offices */
        bool ambiguous;              /* the record corroborates entities that conflict */
        bool not_same;               /* an active not-same judgement covers the pair */
        bool noisy;                  /* the merge would put a strong value over the threshold */
} hub_evidence_t;

/* Link kinds, as stored in links.kind (hub_resolve_link_name). */
enum {
        HUB_LINK_SHARED_PHONE = 1 << 0,
        HUB_LINK_SHARED_ADDRESS = 1 << 1,
        HUB_LINK_RELATED_PARTY = 1 << 2,
        HUB_LINK_BANK_EQUALS_PHONE = 1 << 3,
        HUB_LINK_SIMILAR_HANDLE = 1 << 4,
        HUB_LINK__ALL = (1 << 5) - 1,
};

typedef struct hub_match_decision {
        bool merge;
        const char *rule;    /* "strong-identifier" or "corroborated" when merge */
        const char *review;  /* when merge: why an analyst should still look, else NULL */
        unsigned links;      /* HUB_LINK_* to record when not merged */
        bool candidate;      /* record a candidate pair for an analyst */
        const char *refused; /* why a merge the evidence asked for was refused, else NULL */
} hub_match_decision_t;

/* The rules, in order:
 *  1. A shared strong identifier merges ("strong-identifier").
 *  2. Without one, two kinds of weak evidence that corroborate each other merge
 *     ("corroborated"): phone + name, handle + name, or phone + handle. A phone alone, a
 *     handle alone or a name alone never merges (DOMAIN.md: phone only with a corroborating
 *     attribute; names never merge).
 *  3. A merge is refused, and a candidate recorded instead, when an active not-same judgement
 *     covers the pair, when it would make a strong value noisy, when the two hold different
 *     tax codes (two legal persons) or different personal ids (two people) - unless the
 *     personal ids are one adjacent transposition apart, a typing slip: then it merges with a
 *     review note - and, for a corroborated merge, when the record corroborates several
 *     entities that conflict with each other (ambiguous: which one is it?).
 *  4. Not merged: a shared phone, address, handle, related party or bank-account-equals-phone
 *     each give a link; a name, name block or identifier hint gives a candidate. */
void hub_resolve_match(const hub_evidence_t *ev, hub_match_decision_t *out);

/* "shared-phone", ... for one HUB_LINK_* bit; NULL otherwise. */
const char *hub_resolve_link_name(unsigned link);

/* Whether a and b (same length, digits) differ by exactly one swap of adjacent characters. */
bool hub_resolve_is_transposition(const char *a, const char *b);

/* The variants of digits s with one adjacent pair swapped (distinct from s and each other),
 * into out[0..max) of size len+1 each; returns how many. For hints: a transposed personal id
 * or a tax code whose check digit fails. */
size_t hub_resolve_transpositions(const char *s, char (*out)[16], size_t max);

/* Handle stems of a handle or a domain label (UTF-8, e.g. "thuha.authentic.vidu",
 * "mỹphẩmhoànglong-vidu"): folded like names (marks stripped, case folded, separators to one
 * space), the whole and the whole less its last token, each kept only with >= 8 characters.
 * Writes up to 2 NUL-terminated stems of up to `cap` bytes; returns how many. */
size_t hub_resolve_handle_stems(const char *handle, char (*out)[128], size_t cap);

/* Name similarity of two match keys in [0, 1]: 2 x matched tokens / all tokens, where a token
 * matches an equal token or, as an initial, one starting with it ("t" ~ "thi"). */
double hub_resolve_name_similarity(const char *key_a, const char *key_b);

/* A candidate's score in [0, 1] and its parts (the breakdown stored with it). */
typedef struct hub_candidate_facts {
        double name_similarity; /* best over the two entities' name keys, 0 when none */
        unsigned shared_weak;   /* shared phones, handles, addresses, bank=phone */
        unsigned hints;         /* identifier hints */
        int birth_year_a, birth_year_b; /* 0 when unknown */
        bool same_province;             /* a province code in the same scheme on both */
} hub_candidate_facts_t;

typedef struct hub_candidate_score {
        double name, weak, hint, birth_year, province; /* the parts; score is their sum */
        double score;                                  /* clamped to [0, 1] */
} hub_candidate_score_t;

void hub_resolve_candidate_score(const hub_candidate_facts_t *f, hub_candidate_score_t *out);

/* The display rule of names (hub/store/README.md): < 0 when name a is displayed before b.
 * Facts per distinct name: how many distinct agencies asserted its match key, whether it is
 * a LEGAL name, whether it carries diacritics, the latest reported_at of a record asserting
 * it, and the value (byte order) as the last tie-break, so the rule is a total order. */
typedef struct hub_name_rank {
        const char *value;
        unsigned agencies;
        bool legal;
        int64_t latest_ms;
        bool has_marks; /* carries Vietnamese diacritics: the better spelling to show */
} hub_name_rank_t;

int hub_resolve_name_cmp(const hub_name_rank_t *a, const hub_name_rank_t *b);

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
