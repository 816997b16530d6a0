/* The evidence a record gives against other entities: its merge keys held by them (strong),
 * its weak keys in theirs, the identifiers its RELATED and HINT keys name, and the
 * one-per-party identifiers that can forbid a merge. The look-ups of a record go out together
 * in one round trip (merge_lookups_send), each an index look-up by (type, value) or
 * (kind, value): their cost is the number of entities sharing a value, which the noisy guard
 * bounds, never the number of entities stored. */
#include "merge_internal.h"

#include <hub/ident.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_weak(const hub_extract_t *x, const char *kind, const char *value)
{
        for (size_t i = 0; i < x->n_weak; i++)
                if (strcmp(x->weak[i].kind, kind) == 0 && strcmp(x->weak[i].value, value) == 0)
                        return true;
        return false;
}

static bool is_ref(const char *kind)
{
        return strcmp(kind, "RELATED") == 0 || strcmp(kind, "HINT") == 0;
}

static struct other *other_of(struct ctx *c, int64_t id)
{
        for (size_t i = 0; i < c->n_o; i++)
                if (c->o[i].id == id)
                        return &c->o[i];
        if (c->n_o == c->cap_o) {
                size_t cap = c->cap_o ? 2 * c->cap_o : 8;
                struct other *o = realloc(c->o, cap * sizeof(*o));
                if (!o)
                        return NULL;
                c->o = o;
                c->cap_o = cap;
        }
        struct other *o = &c->o[c->n_o];
        memset(o, 0, sizeof(*o));
        o->id = id;
        o->ids = json_array();
        o->weak = json_array();
        if (!o->ids || !o->weak) {
                json_decref(o->ids);
                json_decref(o->weak);
                return NULL;
        }
        c->n_o++;
        return o;
}

void merge_others_clear(struct ctx *c)
{
        for (size_t i = 0; i < c->n_o; i++) {
                json_decref(c->o[i].ids);
                json_decref(c->o[i].weak);
        }
        c->n_o = 0;
}

/* Send a look-up by (first, second) pairs, its result kept in *out. */
static int send_pairs(struct ctx *c, const char *sql, const char **first, const char **second,
                      size_t n, PGresult **out, const char *what, hub_err_t *err)
{
        hub_array_text(&c->arr, first, n);
        hub_array_text(&c->arr2, second, n);
        if (c->arr.failed || c->arr2.failed)
                return MERGE_NOMEM(err);
        const char *p[2] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2)};
        return hub_pipe_send(&c->pipe, sql, 2, NULL, p, PGRES_TUPLES_OK, out, NULL, what, err);
}

size_t merge_pairs_cap(const hub_extract_t *x)
{
        return 2 * x->n_weak + 2 * x->n_keys + 1;
}

/* Shared strong identifiers: the record's merge keys held by other entities. */
size_t merge_strong_pairs(const hub_extract_t *x, const char **type, const char **value)
{
        for (size_t i = 0; i < x->n_keys; i++) {
                type[i] = x->keys[i].type;
                value[i] = x->keys[i].value;
        }
        return x->n_keys;
}

/* The record's weak keys in other entities' weak keys, and its merge keys in their RELATED and
 * HINT keys (as TYPE:value). */
int merge_weak_pairs(struct ctx *c, const hub_extract_t *x, const char **kind,
                     const char **val, size_t *n_out)
{
        size_t n = 0;
        for (size_t i = 0; i < x->n_weak; i++) {
                const hub_weak_key_t *w = &x->weak[i];
                if (is_ref(w->kind))
                        continue; /* looked up in identifiers (merge_related_pairs) */
                if (strcmp(w->kind, "BANKPHONE") == 0) {
                        kind[n] = "PHONE";
                        val[n++] = w->value;
                        continue;
                }
                kind[n] = w->kind;
                val[n++] = w->value;
                if (strcmp(w->kind, "PHONE") == 0) {
                        kind[n] = "BANKPHONE";
                        val[n++] = w->value;
                }
        }
        for (size_t i = 0; i < x->n_keys; i++) {
                char *tv = hub_arena_alloc(c->a, strlen(x->keys[i].type) +
                                                         strlen(x->keys[i].value) + 2);
                if (!tv)
                        return -HUB_E_NOMEM;
                sprintf(tv, "%s:%s", x->keys[i].type, x->keys[i].value);
                kind[n] = "RELATED";
                val[n++] = tv;
                kind[n] = "HINT";
                val[n++] = tv;
        }
        *n_out = n;
        return 0;
}

/* The record's RELATED and HINT keys name identifiers of other entities. */
int merge_related_pairs(struct ctx *c, const hub_extract_t *x, const char **type,
                        const char **val, size_t *n_out)
{
        size_t n = 0;
        for (size_t i = 0; i < x->n_weak; i++) {
                const hub_weak_key_t *w = &x->weak[i];
                const char *colon = strchr(w->value, ':');
                if (!is_ref(w->kind) || !colon)
                        continue;
                type[n] = hub_arena_strndup(c->a, w->value, (size_t)(colon - w->value));
                val[n] = colon + 1;
                if (!type[n])
                        return -HUB_E_NOMEM;
                n++;
        }
        *n_out = n;
        return 0;
}

/* A record's look-ups, live: every entity holding a value comes back, the record's own too:
 * the guard counts the others per value (weak_rows), so no count(*) runs over them. */
static int send_lookups(struct ctx *c, struct lookups *l, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        size_t cap = merge_pairs_cap(x), n = 0;
        const char **t = hub_arena_alloc(c->a, cap * sizeof(char *));
        const char **v = hub_arena_alloc(c->a, cap * sizeof(char *));
        if (!t || !v)
                return MERGE_NOMEM(err);
        int rc = 0;
        if ((n = merge_strong_pairs(x, t, v)))
                rc = send_pairs(c,
                                "SELECT DISTINCT i.type, i.value, hub_canonical(i.entity_id) "
                                "FROM identifiers i WHERE (i.type, i.value) IN "
                                "(SELECT * FROM unnest($1::text[], $2::text[])) AND NOT EXISTS "
                                "(SELECT 1 FROM noisy_identifiers n WHERE n.type = i.type AND "
                                "n.value = i.value)",
                                t, v, n, &l->strong, "look up shared identifiers", err);
        if (!rc && merge_weak_pairs(c, x, t, v, &n))
                rc = MERGE_NOMEM(err);
        if (!rc && n)
                rc = send_pairs(c,
                                "SELECT DISTINCT m.kind, m.value, hub_canonical(m.entity_id) "
                                "FROM match_keys m WHERE (m.kind, m.value) IN "
                                "(SELECT k, v FROM unnest($1::text[], $2::text[]) AS u(k, v) "
                                "WHERE NOT EXISTS (SELECT 1 FROM noisy_identifiers n WHERE "
                                "n.type = u.k AND n.value = u.v)) ORDER BY 1, 2, 3",
                                t, v, n, &l->weak, "look up weak keys", err);
        if (!rc && merge_related_pairs(c, x, t, v, &n))
                rc = MERGE_NOMEM(err);
        if (!rc && n)
                rc = send_pairs(c,
                                "SELECT DISTINCT i.type, i.value, hub_canonical(i.entity_id) "
                                "FROM identifiers i WHERE (i.type, i.value) IN (SELECT * FROM "
                                "unnest($1::text[], $2::text[]))",
                                t, v, n, &l->related, "look up related identifiers", err);
        return rc;
}

int merge_lookups_send(struct ctx *c, int64_t entity, struct lookups *l, hub_err_t *err)
{
        char es[24];
        merge_fmt_i64(es, sizeof(es), entity);
        const char *p[1] = {es};
        /* Another transaction (or an earlier record of this batch) may have merged it. */
        int rc = hub_pipe_send(&c->pipe, "SELECT hub_canonical($1)", 1, NULL, p, PGRES_TUPLES_OK,
                               &l->canonical, NULL, "follow a merge", err);
        if (!rc)
                rc = send_lookups(c, l, err);
        return rc;
}

void merge_lookups_clear(struct lookups *l)
{
        PQclear(l->canonical);
        PQclear(l->strong);
        PQclear(l->weak);
        PQclear(l->related);
        memset(l, 0, sizeof(*l));
}

static void count_weak(struct other *o, const hub_extract_t *x, const char *kind,
                       const char *value)
{
        bool known = true;
        if (strcmp(kind, "PHONE") == 0) {
                if (has_weak(x, "PHONE", value))
                        o->ev.phone++;
                if (has_weak(x, "BANKPHONE", value))
                        o->ev.bank_phone++;
        } else if (strcmp(kind, "BANKPHONE") == 0) {
                o->ev.bank_phone++;
        } else if (strcmp(kind, "HANDLE") == 0) {
                o->ev.handle++;
        } else if (strcmp(kind, "NAME") == 0) {
                o->ev.name++;
        } else if (strcmp(kind, "NAMEBLOCK") == 0) {
                o->ev.name_block++;
        } else if (strcmp(kind, "ADDRESS") == 0) {
                o->ev.address++;
        } else if (strcmp(kind, "RELATED") == 0) {
                o->ev.related++; /* the other names this record's identifier as related */
        } else if (strcmp(kind, "HINT") == 0) {
                o->ev.hint++; /* the other's flagged value may mean this record's identifier */
        } else {
                known = false;
        }
        if (known)
                json_array_append_new(o->weak,
                                      json_pack("{s:s, s:s}", "kind", kind, "value", value));
}

static bool same_value(PGresult *r, int col, int a, int b)
{
        return strcmp(PQgetvalue(r, a, col), PQgetvalue(r, b, col)) == 0 &&
               strcmp(PQgetvalue(r, a, col + 1), PQgetvalue(r, b, col + 1)) == 0;
}

/* Rows (kind, value, entity) ordered by value: values on more than the threshold of entities
 * (the record's and the others) are marked noisy and not counted. */
static int weak_rows(struct ctx *c, const struct rowset *w, hub_err_t *err)
{
        PGresult *r = w->r;
        int rc = 0, n = w->to, col = w->col;
        for (int from = w->from, to; from < n && !rc; from = to) {
                int64_t others = 0;
                for (to = from; to < n && same_value(r, col, from, to); to++)
                        others += merge_i64(PQgetvalue(r, to, col + 2)) != c->e;
                if (!others)
                        continue;
                const char *k = PQgetvalue(r, from, col), *v = PQgetvalue(r, from, col + 1);
                if (others + 1 > c->k) {
                        rc = merge_mark_noisy(c, k, v, others + 1, err);
                        continue;
                }
                for (int row = from; row < to && !rc; row++) {
                        int64_t id = merge_i64(PQgetvalue(r, row, col + 2));
                        if (id == c->e)
                                continue;
                        struct other *o = other_of(c, id);
                        if (!o)
                                rc = MERGE_NOMEM(err);
                        else
                                count_weak(o, c->x, k, v);
                }
        }
        return rc;
}

int merge_evidence(struct ctx *c, const struct rowset *strong, const struct rowset *weak,
                   const struct rowset *related, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        PGresult *r = strong->r;
        int col = strong->col;
        for (int row = strong->from; r && row < strong->to; row++) {
                int64_t id = merge_i64(PQgetvalue(r, row, col + 2));
                if (id == c->e)
                        continue;
                struct other *o = other_of(c, id);
                if (!o)
                        return MERGE_NOMEM(err);
                o->ev.strong++;
                json_array_append_new(o->ids, json_pack("{s:s, s:s}", "type",
                                                        PQgetvalue(r, row, col), "value",
                                                        PQgetvalue(r, row, col + 1)));
        }
        int rc = weak->r ? weak_rows(c, weak, err) : 0;
        if (rc)
                return rc;
        r = related->r;
        col = related->col;
        for (int row = related->from; r && row < related->to; row++) {
                int64_t id = merge_i64(PQgetvalue(r, row, col + 2));
                if (id == c->e)
                        continue;
                char tv[HUB_IDENT_VALUE_MAX + 40];
                snprintf(tv, sizeof(tv), "%s:%s", PQgetvalue(r, row, col),
                         PQgetvalue(r, row, col + 1));
                struct other *o = other_of(c, id);
                if (!o)
                        return MERGE_NOMEM(err);
                if (has_weak(x, "RELATED", tv))
                        count_weak(o, x, "RELATED", tv);
                if (has_weak(x, "HINT", tv))
                        count_weak(o, x, "HINT", tv);
        }
        return 0;
}

/* Whether entities a and b hold conflicting one-per-party identifiers (rows of c->ids:
 * entity, type, value): different personal ids (*transposed when one pair is an adjacent swap)
 * or tax codes of different head offices. */
static void conflicts(const struct ctx *c, int64_t a, int64_t b, bool *pid, bool *transposed,
                      bool *tax)
{
        bool mine[2] = {false, false}, theirs[2] = {false, false}, common[2] = {false, false};
        *transposed = false;
        PGresult *r = c->ids;
        int a0, a1, b0, b1;
        merge_entity_rows(r, a, &a0, &a1);
        merge_entity_rows(r, b, &b0, &b1);
        for (int i = a0; i < a1; i++) {
                int t = strcmp(PQgetvalue(r, i, 1), "TAX_CODE") == 0;
                mine[t] = true;
                for (int j = b0; j < b1; j++) {
                        if (strcmp(PQgetvalue(r, i, 1), PQgetvalue(r, j, 1)) != 0)
                                continue;
                        theirs[t] = true;
                        const char *va = PQgetvalue(r, i, 2), *vb = PQgetvalue(r, j, 2);
                        /* A branch (13 digits) belongs to its head office (10). */
                        common[t] |= t ? strncmp(va, vb, 10) == 0 : strcmp(va, vb) == 0;
                        *transposed |= !t && hub_resolve_is_transposition(va, vb);
                }
        }
        *pid = mine[0] && theirs[0] && !common[0];
        *tax = mine[1] && theirs[1] && !common[1];
}

/* One-per-party identifiers of the entity and of every other one: two people, two legal
 * persons, or a typing slip? The candidate facts of the same entities come in the same round
 * trip (merge_add_candidate): most records with other entities in view make a candidate. */
int merge_send_parties(struct ctx *c, hub_sqlbuf_t *buf, const int64_t *ids, size_t n,
                       PGresult **party, PGresult **facts, hub_err_t *err)
{
        hub_array_int(buf, ids, n);
        if (buf->failed)
                return MERGE_NOMEM(err);
        const char *p[1] = {hub_sqlbuf_str(buf)};
        int rc = hub_pipe_send(&c->pipe,
                               "SELECT entity_id, type, value FROM identifiers WHERE type IN "
                               "('PERSONAL_ID', 'TAX_CODE') AND entity_id = ANY($1::bigint[]) "
                               "ORDER BY 1, 2, 3",
                               1, NULL, p, PGRES_TUPLES_OK, party, NULL,
                               "look up personal ids and tax codes", err);
        if (!rc)
                rc = hub_pipe_send(&c->pipe,
                                   "SELECT entity_id, 'NAME', value FROM match_keys WHERE kind = "
                                   "'NAME' AND entity_id = ANY($1::bigint[]) UNION SELECT "
                                   "entity_id, prop, value FROM statements WHERE prop IN "
                                   "('dob_year', 'province') AND valid AND entity_id = "
                                   "ANY($1::bigint[]) ORDER BY 1, 2, 3",
                                   1, NULL, p, PGRES_TUPLES_OK, facts, NULL,
                                   "read candidate facts", err);
        return rc ? rc : hub_pipe_sync(&c->pipe, err);
}

static int read_party_ids(struct ctx *c, hub_err_t *err)
{
        int64_t *ids = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(int64_t));
        if (!ids)
                return MERGE_NOMEM(err);
        ids[0] = c->e;
        for (size_t i = 0; i < c->n_o; i++)
                ids[i + 1] = c->o[i].id;
        return merge_send_parties(c, &c->arr, ids, c->n_o + 1, &c->ids, &c->facts, err);
}

int merge_party_ids(struct ctx *c, hub_err_t *err)
{
        if (!c->n_o)
                return 0;
        int rc = c->batch_rows ? 0 : read_party_ids(c, err);
        if (rc)
                return rc;
        for (size_t i = 0; i < c->n_o; i++) {
                struct other *o = &c->o[i];
                conflicts(c, c->e, o->id, &o->ev.personal_id_conflict,
                          &o->ev.personal_id_transposed, &o->ev.tax_code_conflict);
        }
        /* A record that would merge two entities that cannot be one: it merges with
         * neither on weak evidence. */
        hub_match_decision_t d;
        bool ambiguous = false;
        for (size_t i = 0; i < c->n_o; i++) {
                hub_resolve_match(&c->o[i].ev, &d);
                if (!d.merge)
                        continue;
                for (size_t j = i + 1; j < c->n_o; j++) {
                        hub_resolve_match(&c->o[j].ev, &d);
                        if (!d.merge)
                                continue;
                        bool pid, tr, tax;
                        conflicts(c, c->o[i].id, c->o[j].id, &pid, &tr, &tax);
                        if ((pid && !tr) || tax)
                                ambiguous = true;
                }
        }
        /* Then it merges with none of them on weak evidence: which one would it be? */
        for (size_t i = 0; ambiguous && i < c->n_o; i++)
                c->o[i].ev.ambiguous = true;
        return 0;
}

int merge_not_same(struct ctx *c, struct other *o, hub_err_t *err)
{
        char a[24], b[24];
        merge_fmt_i64(a, sizeof(a), c->e);
        merge_fmt_i64(b, sizeof(b), o->id);
        const char *p[2] = {a, b};
        PGresult *r = NULL;
        int rc = merge_read(c,
                            "SELECT 1 FROM judgements WHERE kind = 'not-same' AND revoked_at IS "
                            "NULL AND entity_b IS NOT NULL AND ((hub_canonical(entity_a) = $1 "
                            "AND hub_canonical(entity_b) = $2) OR (hub_canonical(entity_a) = $2 "
                            "AND hub_canonical(entity_b) = $1)) LIMIT 1",
                            2, p, &r, "look up judgements", err);
        if (rc)
                return rc;
        o->ev.not_same = PQntuples(r) > 0;
        PQclear(r);
        return 0;
}

/* Would merging through o's shared strong values put one over the threshold? A strong value
 * "appears on" its holder and on every entity it has merged into the holder. */
int merge_noisy_strong(struct ctx *c, struct other *o, hub_err_t *err)
{
        size_t i;
        json_t *id;
        json_array_foreach(o->ids, i, id)
        {
                json_t *probe = json_pack("{s:[O]}", "identifiers", id);
                char *js = probe ? json_dumps(probe, JSON_COMPACT) : NULL;
                json_decref(probe);
                if (!js)
                        return MERGE_NOMEM(err);
                const char *p[1] = {js};
                PGresult *r = NULL;
                int rc = merge_read(c,
                                    "SELECT count(*) FROM merges WHERE evidence @> $1::jsonb AND "
                                    "undone_at IS NULL",
                                    1, p, &r, "count merges of an identifier", err);
                free(js);
                if (rc)
                        return rc;
                int64_t n = 2 + merge_i64(PQgetvalue(r, 0, 0)); /* holder, the others, this */
                PQclear(r);
                if (n > c->k) {
                        o->ev.noisy = true;
                        rc = merge_mark_noisy(c, json_string_value(json_object_get(id, "type")),
                                              json_string_value(json_object_get(id, "value")),
                                              n, err);
                        if (rc)
                                return rc;
                }
        }
        return 0;
}
