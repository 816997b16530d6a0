/* What the files of entity resolution share (merge.c drives, merge_evidence.c gathers the
 * evidence of a record, merge_apply.c applies merges, merge_links.c writes links, candidates
 * and noisy values). Internal to hub/store; merge.h is the interface. */
#ifndef HUB_STORE_MERGE_INTERNAL_H
#define HUB_STORE_MERGE_INTERNAL_H

#include "merge.h"
#include "pipe.h"
#include "sqlbuf.h"

#include <hub/resolve.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define MERGE_NOMEM(err) hub_err_set(err, HUB_E_NOMEM, false, "resolve", "out of memory")

/* 20 is int8's type oid: statements that use only some of their bigint parameters. */
#define MERGE_INT8_OID 20

/* Another entity the record gives evidence about. */
struct other {
        int64_t id;
        hub_evidence_t ev;
        json_t *ids;  /* shared strong identifiers [{type, value}] */
        json_t *weak; /* weak keys [{kind, value}] */
        hub_match_decision_t d;
};

/* The reads a record's decisions start from, sent together (merge_lookups_send). */
struct lookups {
        PGresult *canonical, *strong, *weak, *related;
};

/* Rows [from, to) of r, columns col.. col+2: (type or kind, value, entity). */
struct rowset {
        PGresult *r;
        int from, to, col;
};

struct batch; /* merge_batch.c */

struct ctx {
        hub_store_t *s;
        hub_arena_t *a;
        hub_pipe_t pipe;
        hub_sqlbuf_t arr, arr2;
        int k;
        const hub_extract_t *x;
        int64_t e; /* the record's entity, after merges */
        struct other *o;
        size_t n_o, cap_o;
        /* Ordered by entity (merge_entity_rows), of e and the others at least: */
        PGresult *ids;   /* party ids: entity, type, value */
        PGresult *facts; /* candidate facts: entity, prop, value */
        bool batch_rows; /* ids and facts belong to the batch (b), not to the record */
        bool settled; /* the record's merge already re-evaluated transposed personal ids */
        struct batch *b; /* the batch's look-ups; NULL: every record looks up its own */
        hub_merge_stats_t *stats;
};

int64_t merge_i64(const char *s);
void merge_fmt_i64(char *buf, size_t cap, int64_t v);
/* Send a statement whose result is only checked (pipelined). */
int merge_send(struct ctx *c, const char *sql, int n, const char *const *p, const char *what,
               hub_err_t *err);
/* Send a read and wait for it (and everything sent before it). */
int merge_read(struct ctx *c, const char *sql, int n, const char *const *p, PGresult **out,
               const char *what, hub_err_t *err);

/* Rows of entity id in r, ordered by an entity in column 0: [*from, *to). */
void merge_entity_rows(PGresult *r, int64_t id, int *from, int *to);

/* merge_evidence.c */
/* The pairs a record is looked up by; arrays with room for merge_pairs_cap(x) items. */
size_t merge_pairs_cap(const hub_extract_t *x);
size_t merge_strong_pairs(const hub_extract_t *x, const char **type, const char **value);
int merge_weak_pairs(struct ctx *c, const hub_extract_t *x, const char **kind,
                     const char **value, size_t *n);
int merge_related_pairs(struct ctx *c, const hub_extract_t *x, const char **type,
                        const char **value, size_t *n);
int merge_lookups_send(struct ctx *c, int64_t entity, struct lookups *l, hub_err_t *err);
void merge_lookups_clear(struct lookups *l);
int merge_evidence(struct ctx *c, const struct rowset *strong, const struct rowset *weak,
                   const struct rowset *related, hub_err_t *err);
/* Read the party ids (entity, type, value) and candidate facts (entity, prop, value) of
 * entities ids[0..n), ordered by entity, into *party and *facts: one round trip. */
int merge_send_parties(struct ctx *c, hub_sqlbuf_t *buf, const int64_t *ids, size_t n,
                       PGresult **party, PGresult **facts, hub_err_t *err);
/* The party ids and candidate facts of e and the others: read (batch_rows false) or the
 * batch's; then the conflicts. */
int merge_party_ids(struct ctx *c, hub_err_t *err);
int merge_not_same(struct ctx *c, struct other *o, hub_err_t *err);
int merge_noisy_strong(struct ctx *c, struct other *o, hub_err_t *err);
void merge_others_clear(struct ctx *c);

/* merge_links.c */
int merge_mark_noisy(struct ctx *c, const char *type, const char *value, int64_t entities,
                     hub_err_t *err);
char *merge_evidence_json(const struct other *o, const hub_extract_t *x, const char *review);
int merge_add_links(struct ctx *c, struct other *o, hub_err_t *err);
int merge_add_candidate(struct ctx *c, struct other *o, hub_err_t *err);

/* merge_batch.c */
int merge_batch_prefetch(struct ctx *c, const hub_merge_rec_t *recs, size_t n, hub_err_t *err);
/* Whether record i may use the batch's look-ups: nothing they returned for it has changed
 * since; then *strong, *weak, *related and *entity are its rows and its entity. */
bool merge_batch_rows(struct ctx *c, size_t i, struct rowset *strong, struct rowset *weak,
                      struct rowset *related, int64_t *entity);
void merge_batch_free(struct ctx *c);
/* The batch's party ids and facts become the record's (after merge_batch_rows said yes). */
void merge_batch_parties(struct ctx *c);
/* What the records resolved so far changed: an entity's rows, a looked-up value, anything. */
void merge_note_entity(struct ctx *c, int64_t id);
void merge_note_value(struct ctx *c, const char *kind, const char *value);
void merge_note_all(struct ctx *c);

/* merge_apply.c */
int merge_follow(struct ctx *c, int64_t survivor, int64_t stale, hub_err_t *err);
int merge_absorb(struct ctx *c, int64_t s, int64_t x, const char *rule, const char *ev,
                 const char *review, hub_err_t *err);
int merge_demote_transposed(struct ctx *c, int64_t s, hub_err_t *err);
int merge_update_kind(struct ctx *c, int64_t s, hub_err_t *err);
int merge_store_weak(struct ctx *c, int64_t s, hub_err_t *err);

#endif
