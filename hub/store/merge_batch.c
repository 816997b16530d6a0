/* The look-ups of a whole batch, read before its first record: a record's strong, weak and
 * related look-ups for every record in one round trip, the party ids and candidate facts of
 * every entity they found in a second. Records are still resolved one at a time in batch
 * order, each seeing what the earlier ones did: a record uses the batch's rows only when
 * nothing they hold has changed since they were read, that is when no earlier record of the
 * batch merged or followed one of the entities in its rows or its own, stored weak keys on
 * one of them (their candidate facts), stored or marked noisy one of the values it is looked
 * up by, or demoted an identifier. Otherwise it looks up live (merge_lookups_send), as every
 * record did before: the outcome is the same either way, only the round trips differ.
 *
 * Sets are JSON objects (jansson's hashtable) keyed by the decimal id or "kind<US>value". */
#include "merge_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct batch {
        size_t n;
        int64_t *entity0, *canonical; /* per record: its entity and that entity's survivor */
        PGresult *canon, *strong, *weak, *related, *ids, *facts;
        int *from[3], *to[3]; /* per record: its rows of strong, weak, related */
        const char ***keys;   /* per record: the strong and weak pairs it is looked up by */
        size_t *n_keys;
        json_t *noisy0;   /* values noisy when the batch was read */
        json_t *entities; /* entities whose rows changed since */
        json_t *values;   /* values stored or marked noisy since */
        bool all;         /* anything may have changed */
};

static char *pair_key(hub_arena_t *a, const char *kind, const char *value)
{
        size_t n = strlen(kind) + strlen(value) + 2;
        char *k = hub_arena_alloc(a, n);
        if (k)
                snprintf(k, n, "%s\x1f%s", kind, value);
        return k;
}

static bool has_entity(json_t *set, int64_t id)
{
        char k[24];
        merge_fmt_i64(k, sizeof(k), id);
        return json_object_get(set, k) != NULL;
}

void merge_note_entity(struct ctx *c, int64_t id)
{
        if (!c->b)
                return;
        char k[24];
        merge_fmt_i64(k, sizeof(k), id);
        if (json_object_set_new(c->b->entities, k, json_true()))
                c->b->all = true; /* out of memory: trust nothing read before */
}

void merge_note_value(struct ctx *c, const char *kind, const char *value)
{
        if (!c->b)
                return;
        size_t n = strlen(kind) + strlen(value) + 2;
        char *k = malloc(n);
        if (!k) {
                c->b->all = true;
                return;
        }
        snprintf(k, n, "%s\x1f%s", kind, value);
        /* A value noisy before is looked up by no one, then as now. */
        if (!json_object_get(c->b->noisy0, k) &&
            json_object_set_new(c->b->values, k, json_true()))
                c->b->all = true;
        free(k);
}

void merge_note_all(struct ctx *c)
{
        if (c->b)
                c->b->all = true;
}

void merge_batch_free(struct ctx *c)
{
        struct batch *b = c->b;
        if (!b)
                return;
        PQclear(b->canon);
        PQclear(b->strong);
        PQclear(b->weak);
        PQclear(b->related);
        PQclear(b->ids);
        PQclear(b->facts);
        json_decref(b->noisy0);
        json_decref(b->entities);
        json_decref(b->values);
        free(b);
        c->b = NULL;
}

/* The growing arrays of one look-up over the batch: record number, first, second. */
struct triples {
        int64_t *rec;
        const char **first, **second;
        size_t n, cap;
};

static int triples_add(hub_arena_t *a, struct triples *t, int64_t rec, const char **first,
                       const char **second, size_t n)
{
        if (t->n + n > t->cap) {
                size_t cap = 2 * (t->n + n) + 64;
                int64_t *r = hub_arena_alloc(a, cap * sizeof(*r));
                const char **f = hub_arena_alloc(a, cap * sizeof(*f));
                const char **s = hub_arena_alloc(a, cap * sizeof(*s));
                if (!r || !f || !s)
                        return -1;
                if (t->n) {
                        memcpy(r, t->rec, t->n * sizeof(*r));
                        memcpy(f, t->first, t->n * sizeof(*f));
                        memcpy(s, t->second, t->n * sizeof(*s));
                }
                t->rec = r;
                t->first = f;
                t->second = s;
                t->cap = cap;
        }
        for (size_t i = 0; i < n; i++) {
                t->rec[t->n] = rec;
                t->first[t->n] = first[i];
                t->second[t->n++] = second[i];
        }
        return 0;
}

static int send_triples(struct ctx *c, hub_sqlbuf_t *third, const char *sql,
                        const struct triples *t, PGresult **out, const char *what,
                        hub_err_t *err)
{
        hub_array_int(third, t->rec, t->n);
        hub_array_text(&c->arr, t->first, t->n);
        hub_array_text(&c->arr2, t->second, t->n);
        if (third->failed || c->arr.failed || c->arr2.failed)
                return MERGE_NOMEM(err);
        const char *p[3] = {hub_sqlbuf_str(third), hub_sqlbuf_str(&c->arr),
                            hub_sqlbuf_str(&c->arr2)};
        return hub_pipe_send(&c->pipe, sql, 3, NULL, p, PGRES_TUPLES_OK, out, NULL, what, err);
}

/* Per record i (0-based; column 0 holds i + 1, ascending): its rows [from[i], to[i]). */
static void ranges(PGresult *r, size_t n, int *from, int *to)
{
        int row = 0, rows = r ? PQntuples(r) : 0;
        for (size_t i = 0; i < n; i++) {
                from[i] = row;
                while (row < rows && merge_i64(PQgetvalue(r, row, 0)) == (int64_t)i + 1)
                        row++;
                to[i] = row;
        }
}

/* The pairs of every record, the first round trip: its entity's survivor, its strong, weak
 * and related rows, the values already noisy. */
static int read_lookups(struct ctx *c, const hub_merge_rec_t *recs, hub_sqlbuf_t *third,
                        hub_err_t *err)
{
        struct batch *b = c->b;
        struct triples st = {0}, wk = {0}, rel = {0}, all = {0};
        for (size_t i = 0; i < b->n; i++) {
                const hub_extract_t *x = recs[i].x;
                size_t cap = merge_pairs_cap(x), ns, nw, nr;
                const char **t = hub_arena_alloc(c->a, cap * sizeof(char *));
                const char **v = hub_arena_alloc(c->a, cap * sizeof(char *));
                b->keys[i] = hub_arena_alloc(c->a, cap * sizeof(char *));
                if (!t || !v || !b->keys[i])
                        return MERGE_NOMEM(err);
                b->entity0[i] = *recs[i].entity;
                ns = merge_strong_pairs(x, t, v);
                if (triples_add(c->a, &st, (int64_t)i + 1, t, v, ns) ||
                    triples_add(c->a, &all, 0, t, v, ns))
                        return MERGE_NOMEM(err);
                for (size_t k = 0; k < ns; k++)
                        if (!(b->keys[i][b->n_keys[i]++] = pair_key(c->a, t[k], v[k])))
                                return MERGE_NOMEM(err);
                if (merge_weak_pairs(c, x, t, v, &nw) ||
                    triples_add(c->a, &wk, (int64_t)i + 1, t, v, nw) ||
                    triples_add(c->a, &all, 0, t, v, nw))
                        return MERGE_NOMEM(err);
                for (size_t k = 0; k < nw; k++)
                        if (!(b->keys[i][b->n_keys[i]++] = pair_key(c->a, t[k], v[k])))
                                return MERGE_NOMEM(err);
                if (merge_related_pairs(c, x, t, v, &nr) ||
                    triples_add(c->a, &rel, (int64_t)i + 1, t, v, nr))
                        return MERGE_NOMEM(err);
        }
        hub_array_int(third, b->entity0, b->n);
        if (third->failed)
                return MERGE_NOMEM(err);
        const char *p[1] = {hub_sqlbuf_str(third)};
        int rc = hub_pipe_send(&c->pipe,
                               "SELECT u.i, hub_canonical(u.e) FROM unnest($1::bigint[]) WITH "
                               "ORDINALITY AS u(e, i) ORDER BY 1",
                               1, NULL, p, PGRES_TUPLES_OK, &b->canon, NULL, "follow merges",
                               err);
        if (!rc)
                rc = send_triples(c, third,
                                  "SELECT DISTINCT u.r, i.type, i.value, "
                                  "hub_canonical(i.entity_id) FROM unnest($1::bigint[], "
                                  "$2::text[], $3::text[]) AS u(r, t, v) JOIN identifiers i ON "
                                  "i.type = u.t AND i.value = u.v WHERE NOT EXISTS (SELECT 1 "
                                  "FROM noisy_identifiers n WHERE n.type = i.type AND n.value = "
                                  "i.value) ORDER BY 1, 2, 3, 4",
                                  &st, &b->strong, "look up shared identifiers", err);
        if (!rc)
                rc = send_triples(c, third,
                                  "SELECT DISTINCT u.r, m.kind, m.value, "
                                  "hub_canonical(m.entity_id) FROM unnest($1::bigint[], "
                                  "$2::text[], $3::text[]) AS u(r, k, v) JOIN match_keys m ON "
                                  "m.kind = u.k AND m.value = u.v WHERE NOT EXISTS (SELECT 1 "
                                  "FROM noisy_identifiers n WHERE n.type = u.k AND n.value = "
                                  "u.v) ORDER BY 1, 2, 3, 4",
                                  &wk, &b->weak, "look up weak keys", err);
        if (!rc)
                rc = send_triples(c, third,
                                  "SELECT DISTINCT u.r, i.type, i.value, "
                                  "hub_canonical(i.entity_id) FROM unnest($1::bigint[], "
                                  "$2::text[], $3::text[]) AS u(r, t, v) JOIN identifiers i ON "
                                  "i.type = u.t AND i.value = u.v ORDER BY 1, 2, 3, 4",
                                  &rel, &b->related, "look up related identifiers", err);
        PGresult *noisy = NULL;
        if (!rc)
                rc = send_triples(c, third,
                                  "SELECT DISTINCT n.type, n.value FROM unnest($1::bigint[], "
                                  "$2::text[], $3::text[]) AS u(r, k, v) JOIN noisy_identifiers "
                                  "n ON n.type = u.k AND n.value = u.v",
                                  &all, &noisy, "look up noisy values", err);
        if (!rc)
                rc = hub_pipe_sync(&c->pipe, err);
        if (!rc && PQntuples(b->canon) != (int)b->n)
                rc = hub_err_set(err, HUB_E_DB, false, "resolve", "could not follow merges: "
                                 "%d rows for %zu entities", PQntuples(b->canon), b->n);
        for (int i = 0; !rc && i < PQntuples(noisy); i++) {
                char *k = pair_key(c->a, PQgetvalue(noisy, i, 0), PQgetvalue(noisy, i, 1));
                if (!k || json_object_set_new(b->noisy0, k, json_true()))
                        rc = MERGE_NOMEM(err);
        }
        PQclear(noisy);
        return rc;
}

/* The second round trip: party ids and candidate facts of every entity in view. */
static int read_parties(struct ctx *c, hub_sqlbuf_t *third, hub_err_t *err)
{
        struct batch *b = c->b;
        PGresult *rs[3] = {b->strong, b->weak, b->related};
        size_t n = b->n;
        for (int k = 0; k < 3; k++)
                n += (size_t)PQntuples(rs[k]);
        int64_t *ids = hub_arena_alloc(c->a, (n + 1) * sizeof(int64_t));
        if (!ids)
                return MERGE_NOMEM(err);
        size_t m = 0;
        for (size_t i = 0; i < b->n; i++)
                ids[m++] = b->canonical[i] = merge_i64(PQgetvalue(b->canon, (int)i, 1));
        for (int k = 0; k < 3; k++)
                for (int row = 0; row < PQntuples(rs[k]); row++)
                        ids[m++] = merge_i64(PQgetvalue(rs[k], row, 3));
        return merge_send_parties(c, third, ids, m, &b->ids, &b->facts, err);
}

int merge_batch_prefetch(struct ctx *c, const hub_merge_rec_t *recs, size_t n, hub_err_t *err)
{
        struct batch *b = calloc(1, sizeof(*b));
        if (!b)
                return MERGE_NOMEM(err);
        c->b = b;
        b->n = n;
        b->entity0 = hub_arena_alloc(c->a, n * sizeof(int64_t));
        b->canonical = hub_arena_alloc(c->a, n * sizeof(int64_t));
        b->keys = hub_arena_alloc(c->a, n * sizeof(*b->keys));
        b->n_keys = hub_arena_alloc(c->a, n * sizeof(size_t));
        for (int k = 0; k < 3; k++) {
                b->from[k] = hub_arena_alloc(c->a, n * sizeof(int));
                b->to[k] = hub_arena_alloc(c->a, n * sizeof(int));
                if (!b->from[k] || !b->to[k])
                        return MERGE_NOMEM(err);
        }
        b->noisy0 = json_object();
        b->entities = json_object();
        b->values = json_object();
        if (!b->entity0 || !b->canonical || !b->keys || !b->n_keys || !b->noisy0 ||
            !b->entities || !b->values)
                return MERGE_NOMEM(err);
        memset(b->n_keys, 0, n * sizeof(size_t));
        hub_sqlbuf_t third = {0};
        int rc = read_lookups(c, recs, &third, err);
        if (!rc)
                rc = read_parties(c, &third, err);
        hub_sqlbuf_done(&third);
        if (rc)
                return rc;
        ranges(b->strong, n, b->from[0], b->to[0]);
        ranges(b->weak, n, b->from[1], b->to[1]);
        ranges(b->related, n, b->from[2], b->to[2]);
        return 0;
}

bool merge_batch_rows(struct ctx *c, size_t i, struct rowset *strong, struct rowset *weak,
                      struct rowset *related, int64_t *entity)
{
        struct batch *b = c->b;
        if (!b || b->all || b->canonical[i] != b->entity0[i] ||
            has_entity(b->entities, b->canonical[i]))
                return false;
        PGresult *rs[3] = {b->strong, b->weak, b->related};
        for (int k = 0; k < 3; k++)
                for (int row = b->from[k][i]; row < b->to[k][i]; row++)
                        if (has_entity(b->entities, merge_i64(PQgetvalue(rs[k], row, 3))))
                                return false;
        for (size_t k = 0; k < b->n_keys[i]; k++)
                if (json_object_get(b->values, b->keys[i][k]))
                        return false;
        struct rowset *out[3] = {strong, weak, related};
        for (int k = 0; k < 3; k++)
                *out[k] = (struct rowset){rs[k], b->from[k][i], b->to[k][i], 1};
        *entity = b->canonical[i];
        return true;
}

/* The batch's party ids and facts, for a record that uses its rows. */
void merge_batch_parties(struct ctx *c)
{
        c->ids = c->b->ids;
        c->facts = c->b->facts;
        c->batch_rows = true;
}
