/* Entity resolution in the ingest transaction: see merge.h and hub/store/README.md.
 *
 * One record at a time, in batch order, each with a few indexed look-ups: the evidence of a
 * record is looked up by (type, value) and (kind, value) keys, never by scanning entities.
 * The statements go out in libpq's pipeline mode (pipe.h): a record's writes are sent without
 * waiting, its look-ups together, so a record costs one round trip to the server, two when
 * other entities are in view, and a few more only for a merge (rare next to attaches).
 * Waiting for each statement, as a first version did, cost about eight round trips a record:
 * on a loaded machine the waits, not the server's work, were most of the time.
 *
 * All merging in the hub is serialised by one transaction-level advisory lock, taken after the
 * identifier locks of ingest.c (so the lock order is global: identifiers, then this one, then
 * entity rows in id order): merges are rare next to attaches, and a second hubd resolving the
 * same entities at the same time must see the first one's merges before it decides. */
#include "merge_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An arbitrary constant naming the resolution lock. */
#define MERGE_LOCK_KEY "7301453227301"

int64_t merge_i64(const char *s)
{
        return strtoll(s, NULL, 10);
}

void merge_fmt_i64(char *buf, size_t cap, int64_t v)
{
        snprintf(buf, cap, "%" PRId64, v);
}

int merge_send(struct ctx *c, const char *sql, int n, const char *const *p, const char *what,
               hub_err_t *err)
{
        return hub_pipe_send(&c->pipe, sql, n, NULL, p, PGRES_COMMAND_OK, NULL, NULL, what, err);
}

int merge_read(struct ctx *c, const char *sql, int n, const char *const *p, PGresult **out,
               const char *what, hub_err_t *err)
{
        int rc = hub_pipe_send(&c->pipe, sql, n, NULL, p, PGRES_TUPLES_OK, out, NULL, what, err);
        if (!rc)
                rc = hub_pipe_sync(&c->pipe, err);
        if (rc) {
                PQclear(*out);
                *out = NULL;
        }
        return rc;
}

void merge_entity_rows(PGresult *r, int64_t id, int *from, int *to)
{
        int lo = 0, hi = r ? PQntuples(r) : 0;
        while (lo < hi) { /* the first row of an entity >= id */
                int mid = lo + (hi - lo) / 2;
                if (merge_i64(PQgetvalue(r, mid, 0)) < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *from = *to = lo;
        while (r && *to < PQntuples(r) && merge_i64(PQgetvalue(r, *to, 0)) == id)
                (*to)++;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

/* Decide against every other entity in view: group[] receives the record's entity and those
 * it merges with (why[i - 1]: the pair that brought group[i] in); links and candidates are
 * written. */
static int decide(struct ctx *c, int64_t *group, struct other **why, size_t *ng,
                  hub_err_t *err)
{
        int rc = 0;
        group[(*ng)++] = c->e;
        for (size_t i = 0; i < c->n_o && !rc; i++) {
                struct other *o = &c->o[i];
                hub_match_decision_t d;
                hub_resolve_match(&o->ev, &d);
                if (d.merge || d.refused) {
                        /* Only a pair that would merge is checked against judgements and
                         * the guard; then decide again with what they said. */
                        if ((rc = merge_not_same(c, o, err)) ||
                            (o->ev.strong && (rc = merge_noisy_strong(c, o, err))))
                                return rc;
                        hub_resolve_match(&o->ev, &d);
                }
                o->d = d;
                if (d.merge) {
                        why[*ng - 1] = o;
                        group[(*ng)++] = o->id;
                        continue;
                }
                if (d.links)
                        rc = merge_add_links(c, o, err);
                if (!rc && d.candidate)
                        rc = merge_add_candidate(c, o, err);
        }
        return rc;
}

/* Merge group[0..ng) into its oldest entity, *survivor. */
static int merge_group(struct ctx *c, const int64_t *group, struct other *const *why,
                       size_t ng, int64_t *survivor, int64_t *changed, size_t *n_changed,
                       size_t cap, hub_err_t *err)
{
        int64_t *sorted = hub_arena_alloc(c->a, ng * sizeof(int64_t));
        if (!sorted)
                return MERGE_NOMEM(err);
        memcpy(sorted, group, ng * sizeof(int64_t));
        qsort(sorted, ng, sizeof(int64_t), cmp_i64);
        *survivor = sorted[0];
        /* Entity rows in id order: two transactions merging overlapping groups lock them in
         * one order (the resolution lock makes this belt and braces). */
        hub_array_int(&c->arr, sorted, ng);
        if (c->arr.failed)
                return MERGE_NOMEM(err);
        const char *pl[1] = {hub_sqlbuf_str(&c->arr)};
        int rc = hub_pipe_send(&c->pipe,
                               "SELECT id FROM entities WHERE id = ANY($1::bigint[]) ORDER BY id "
                               "FOR UPDATE",
                               1, NULL, pl, PGRES_TUPLES_OK, NULL, NULL,
                               "lock entities to merge", err);
        if (rc)
                return rc;
        bool review = false;
        for (size_t i = 0; i < ng; i++) {
                if (group[i] == *survivor)
                        continue;
                /* The evidence of the pair that brought group[i] in; for the record's own
                 * entity, that of the pair that names the survivor. */
                struct other *o = NULL;
                if (i == 0) {
                        for (size_t j = 1; j < ng; j++)
                                if (group[j] == *survivor)
                                        o = why[j - 1];
                } else {
                        o = why[i - 1];
                }
                char *ev = merge_evidence_json(o, c->x, o->d.review);
                if (!ev)
                        return MERGE_NOMEM(err);
                rc = merge_absorb(c, *survivor, group[i], o->d.rule, ev, o->d.review, err);
                free(ev);
                if (rc)
                        return rc;
                review |= o->d.review != NULL;
                if (*n_changed < cap)
                        changed[(*n_changed)++] = group[i];
        }
        c->settled = review;
        return review ? merge_demote_transposed(c, *survivor, err) : 0;
}

/* The record's rows: the batch's when nothing in them changed, else read now. */
static int lookups(struct ctx *c, size_t i, const hub_merge_rec_t *rec, struct lookups *l,
                   struct rowset *strong, struct rowset *weak, struct rowset *related,
                   hub_err_t *err)
{
        if (!c->batch_rows) {
                PQclear(c->ids);
                PQclear(c->facts);
        }
        c->ids = c->facts = NULL;
        c->batch_rows = false;
        if (merge_batch_rows(c, i, strong, weak, related, &c->e)) {
                merge_batch_parties(c);
                return 0;
        }
        int rc = merge_lookups_send(c, *rec->entity, l, err);
        if (!rc)
                rc = hub_pipe_sync(&c->pipe, err);
        if (rc)
                return rc;
        c->e = merge_i64(PQgetvalue(l->canonical, 0, 0));
        PGresult *rs[3] = {l->strong, l->weak, l->related};
        struct rowset *out[3] = {strong, weak, related};
        for (int k = 0; k < 3; k++)
                *out[k] = (struct rowset){rs[k], 0, rs[k] ? PQntuples(rs[k]) : 0, 0};
        return c->e != *rec->entity ? merge_follow(c, c->e, *rec->entity, err) : 0;
}

/* Whether the record's personal ids meet a transposition of one of them among the party ids
 * read for its entity and the others (c->ids: entity, type, value): only then can the record
 * change which id is the slip. A record repeating an id with no transposed twin among them
 * (the kept one, its demoted twin being no identifier) only adds weight to what is decided
 * already; skipping it spares a round trip per record. Rows unknown: assume it does. */
static bool meets_transposition(const struct ctx *c)
{
        const hub_extract_t *x = c->x;
        for (size_t i = 0; i < x->n_keys; i++) {
                if (strcmp(x->keys[i].type, "PERSONAL_ID") != 0)
                        continue;
                if (!c->ids)
                        return true;
                for (int r = 0; r < PQntuples(c->ids); r++)
                        if (strcmp(PQgetvalue(c->ids, r, 1), "PERSONAL_ID") == 0 &&
                            hub_resolve_is_transposition(x->keys[i].value,
                                                         PQgetvalue(c->ids, r, 2)))
                                return true;
        }
        return false;
}

static int resolve_one(struct ctx *c, size_t i, const hub_merge_rec_t *rec, int64_t *changed,
                       size_t *n_changed, size_t cap, hub_err_t *err)
{
        struct lookups l = {0};
        struct rowset strong, weak, related;
        c->x = rec->x;
        merge_others_clear(c);
        int rc = lookups(c, i, rec, &l, &strong, &weak, &related, err);
        if (!rc)
                rc = merge_evidence(c, &strong, &weak, &related, err);
        merge_lookups_clear(&l);
        if (!rc)
                rc = merge_party_ids(c, err);
        if (rc)
                return rc;
        int64_t *group = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(int64_t));
        struct other **why = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(*why));
        if (!group || !why)
                return MERGE_NOMEM(err);
        size_t ng = 0;
        int64_t survivor = c->e;
        rc = decide(c, group, why, &ng, err);
        if (!rc && ng > 1)
                rc = merge_group(c, group, why, ng, &survivor, changed, n_changed, cap, err);
        if (rc)
                return rc;
        *rec->entity = survivor;
        if ((rc = merge_store_weak(c, survivor, err)))
                return rc;
        /* A personal id reaching an entity may change which of its ids is the slip (the merge
         * above already settled it when it carried a review note). */
        if (!c->settled && meets_transposition(c))
                rc = merge_demote_transposed(c, survivor, err);
        c->settled = false;
        if (rc)
                return rc;
        return merge_update_kind(c, survivor, err);
}

/* Writes in flight past which the pipeline is waited for: it bounds what the client and the
 * server hold, and how late a failed write is reported. */
#define MERGE_MAX_IN_FLIGHT 256

int hub_merge_resolve(hub_store_t *s, hub_arena_t *a, const hub_merge_rec_t *recs, size_t n,
                      int noisy_threshold, int64_t *changed, size_t *n_changed, size_t cap,
                      hub_merge_stats_t *stats, hub_err_t *err)
{
        hub_merge_stats_t dummy;
        struct ctx c = {.s = s, .a = a, .k = noisy_threshold > 0 ? noisy_threshold
                                                                  : HUB_MERGE_DEFAULT_NOISY,
                        .stats = stats ? stats : &dummy};
        memset(c.stats, 0, sizeof(*c.stats));
        if (!n)
                return 0;
        int rc = hub_pipe_begin(&c.pipe, s, err);
        if (rc)
                return rc;
        const char *p[1] = {MERGE_LOCK_KEY};
        rc = hub_pipe_send(&c.pipe, "SELECT pg_advisory_xact_lock($1::bigint)", 1, NULL, p,
                           PGRES_TUPLES_OK, NULL, NULL, "take the resolution lock", err);
        if (!rc)
                rc = merge_batch_prefetch(&c, recs, n, err);
        for (size_t i = 0; i < n && !rc; i++) {
                rc = resolve_one(&c, i, &recs[i], changed, n_changed, cap, err);
                if (!rc && c.pipe.n > MERGE_MAX_IN_FLIGHT)
                        rc = hub_pipe_sync(&c.pipe, err);
        }
        rc = hub_pipe_end(&c.pipe, rc, err);
        merge_others_clear(&c);
        free(c.o);
        if (!c.batch_rows) {
                PQclear(c.ids);
                PQclear(c.facts);
        }
        merge_batch_free(&c);
        hub_sqlbuf_done(&c.arr);
        hub_sqlbuf_done(&c.arr2);
        return rc;
}

int hub_merge_lock(hub_store_t *s, hub_err_t *err)
{
        const char *p[1] = {MERGE_LOCK_KEY};
        PGresult *r = PQexecParams(hub_store_conn(s), "SELECT pg_advisory_xact_lock($1::bigint)",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "take the resolution lock", err);
        PQclear(r);
        return rc;
}

int hub_merge_absorb(hub_store_t *s, int64_t survivor, int64_t absorbed, const char *rule,
                     const char *evidence, hub_err_t *err)
{
        hub_merge_stats_t st = {0};
        hub_extract_t x = {0}; /* no record: agency and record_id stay NULL */
        struct ctx c = {.s = s, .x = &x, .stats = &st};
        int rc = hub_pipe_begin(&c.pipe, s, err);
        if (rc)
                return rc;
        rc = merge_absorb(&c, survivor, absorbed, rule, evidence, NULL, err);
        return hub_pipe_end(&c.pipe, rc, err);
}
