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
        PGresult *ids;   /* party ids of e and the others: entity, type, value */
        PGresult *facts; /* candidate facts of e and the others: entity, prop, value */
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

/* merge_evidence.c */
int merge_lookups_send(struct ctx *c, int64_t entity, struct lookups *l, hub_err_t *err);
void merge_lookups_clear(struct lookups *l);
int merge_evidence(struct ctx *c, const struct lookups *l, hub_err_t *err);
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

/* merge_apply.c */
int merge_follow(struct ctx *c, int64_t survivor, int64_t stale, hub_err_t *err);
int merge_absorb(struct ctx *c, int64_t s, int64_t x, const char *rule, const char *ev,
                 const char *review, hub_err_t *err);
int merge_demote_transposed(struct ctx *c, int64_t s, hub_err_t *err);
int merge_update_kind(struct ctx *c, int64_t s, hub_err_t *err);
int merge_store_weak(struct ctx *c, int64_t s, hub_err_t *err);

#endif
