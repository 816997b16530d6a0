/* Entity resolution in the ingest transaction: see merge.h and hub/store/README.md.
 *
 * One record at a time, in batch order, with a few indexed queries each: the evidence of a
 * record is looked up by (type, value) and (kind, value) keys, never by scanning entities.
 * All merging in the hub is serialised by one transaction-level advisory lock, taken after the
 * identifier locks of ingest.c (so the lock order is global: identifiers, then this one, then
 * entity rows in id order): merges are rare next to attaches, and a second hubd resolving the
 * same entities at the same time must see the first one's merges before it decides. */
#include "merge.h"

#include "sqlbuf.h"

#include <hub/ident.h>
#include <hub/resolve.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An arbitrary constant naming the resolution lock. */
#define MERGE_LOCK_KEY "7301453227301"

#define NOMEM() hub_err_set(err, HUB_E_NOMEM, false, "resolve", "out of memory")

struct other {
        int64_t id;
        hub_evidence_t ev;
        json_t *ids;  /* shared strong identifiers [{type, value}] */
        json_t *weak; /* weak keys [{kind, value}] */
        hub_match_decision_t d;
};

struct ctx {
        hub_store_t *s;
        hub_arena_t *a;
        hub_sqlbuf_t arr, arr2;
        int k;
        const hub_extract_t *x;
        int64_t e;
        struct other *o;
        size_t n_o, cap_o;
        PGresult *ids; /* party_ids(): entity, type, value */
        hub_merge_stats_t *stats;
};

static PGresult *run(struct ctx *c, const char *sql, int n, const char *const *p,
                     ExecStatusType want, const char *what, int *rc, hub_err_t *err)
{
        PGresult *r = PQexecParams(hub_store_conn(c->s), sql, n, NULL, p, NULL, NULL, 0);
        *rc = hub_store_check(c->s, r, want, what, err);
        if (*rc) {
                PQclear(r);
                return NULL;
        }
        return r;
}

static int exec(struct ctx *c, const char *sql, int n, const char *const *p, const char *what,
                hub_err_t *err)
{
        int rc;
        PGresult *r = run(c, sql, n, p, PGRES_COMMAND_OK, what, &rc, err);
        PQclear(r);
        return rc;
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

static void others_clear(struct ctx *c)
{
        for (size_t i = 0; i < c->n_o; i++) {
                json_decref(c->o[i].ids);
                json_decref(c->o[i].weak);
        }
        c->n_o = 0;
}

static bool has_weak(const hub_extract_t *x, const char *kind, const char *value)
{
        for (size_t i = 0; i < x->n_weak; i++)
                if (strcmp(x->weak[i].kind, kind) == 0 && strcmp(x->weak[i].value, value) == 0)
                        return true;
        return false;
}

static int64_t i64(const char *s)
{
        return strtoll(s, NULL, 10);
}

static void fmt_i64(char *buf, size_t cap, int64_t v)
{
        snprintf(buf, cap, "%" PRId64, v);
}

static int mark_noisy(struct ctx *c, const char *type, const char *value, int64_t entities,
                      hub_err_t *err)
{
        char n[24], k[24];
        fmt_i64(n, sizeof(n), entities);
        fmt_i64(k, sizeof(k), c->k);
        const char *p[6] = {type, value, n, k, c->x->agency, c->x->record_id};
        c->stats->noisy++;
        return exec(c,
                    "INSERT INTO noisy_identifiers (type, value, entities, threshold, agency,"
                    " record_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    6, p, "mark a noisy identifier", err);
}

/* Shared strong identifiers: the record's merge keys held by other entities. */
static int strong_evidence(struct ctx *c, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        if (!x->n_keys)
                return 0;
        const char **t = hub_arena_alloc(c->a, x->n_keys * sizeof(char *));
        const char **v = hub_arena_alloc(c->a, x->n_keys * sizeof(char *));
        if (!t || !v)
                return NOMEM();
        for (size_t i = 0; i < x->n_keys; i++) {
                t[i] = x->keys[i].type;
                v[i] = x->keys[i].value;
        }
        hub_array_text(&c->arr, t, x->n_keys);
        hub_array_text(&c->arr2, v, x->n_keys);
        const char *p[2] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2)};
        int rc;
        PGresult *r = run(c,
                          "SELECT DISTINCT i.type, i.value, hub_canonical(i.entity_id) "
                          "FROM identifiers i WHERE (i.type, i.value) IN "
                          "(SELECT * FROM unnest($1::text[], $2::text[])) AND NOT EXISTS "
                          "(SELECT 1 FROM noisy_identifiers n WHERE n.type = i.type AND "
                          "n.value = i.value)",
                          2, p, PGRES_TUPLES_OK, "look up shared identifiers", &rc, err);
        if (!r)
                return rc;
        for (int row = 0; row < PQntuples(r); row++) {
                int64_t id = i64(PQgetvalue(r, row, 2));
                if (id == c->e)
                        continue;
                struct other *o = other_of(c, id);
                if (!o) {
                        PQclear(r);
                        return NOMEM();
                }
                o->ev.strong++;
                json_array_append_new(o->ids, json_pack("{s:s, s:s}", "type",
                                                        PQgetvalue(r, row, 0), "value",
                                                        PQgetvalue(r, row, 1)));
        }
        PQclear(r);
        return 0;
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

/* Weak evidence: the record's weak keys in other entities' weak keys (and its merge keys in
 * their RELATED and HINT keys); values over the threshold are marked noisy and not counted. */
static int weak_evidence(struct ctx *c, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        size_t cap = 2 * x->n_weak + 2 * x->n_keys + 1, n = 0;
        const char **kind = hub_arena_alloc(c->a, cap * sizeof(char *));
        const char **val = hub_arena_alloc(c->a, cap * sizeof(char *));
        if (!kind || !val)
                return NOMEM();
        for (size_t i = 0; i < x->n_weak; i++) {
                const hub_weak_key_t *w = &x->weak[i];
                if (strcmp(w->kind, "RELATED") == 0 || strcmp(w->kind, "HINT") == 0)
                        continue; /* looked up in identifiers */
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
                        return NOMEM();
                sprintf(tv, "%s:%s", x->keys[i].type, x->keys[i].value);
                kind[n] = "RELATED";
                val[n++] = tv;
                kind[n] = "HINT";
                val[n++] = tv;
        }
        if (!n)
                return 0;
        hub_array_text(&c->arr, kind, n);
        hub_array_text(&c->arr2, val, n);
        char e[24];
        fmt_i64(e, sizeof(e), c->e);
        const char *p[3] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2), e};
        int rc;
        /* The count of distinct entities per value comes with each row, for the guard. */
        PGresult *r = run(c,
                          "SELECT kind, value, ent, count(*) OVER (PARTITION BY kind, value) "
                          "FROM (SELECT DISTINCT m.kind, m.value, hub_canonical(m.entity_id) "
                          "AS ent FROM match_keys m WHERE (m.kind, m.value) IN "
                          "(SELECT k, v FROM unnest($1::text[], $2::text[]) AS u(k, v) WHERE "
                          "NOT EXISTS (SELECT 1 FROM noisy_identifiers n WHERE n.type = u.k "
                          "AND n.value = u.v))) d WHERE ent <> $3::bigint ORDER BY 1, 2, 3",
                          3, p, PGRES_TUPLES_OK, "look up weak keys", &rc, err);
        if (!r)
                return rc;
        for (int row = 0; row < PQntuples(r) && !rc; row++) {
                const char *k = PQgetvalue(r, row, 0), *v = PQgetvalue(r, row, 1);
                int64_t count = i64(PQgetvalue(r, row, 3));
                if (count + 1 > c->k) {
                        /* Only the first row of the value marks it. */
                        if (row == 0 || strcmp(PQgetvalue(r, row - 1, 0), k) != 0 ||
                            strcmp(PQgetvalue(r, row - 1, 1), v) != 0)
                                rc = mark_noisy(c, k, v, count + 1, err);
                        continue;
                }
                struct other *o = other_of(c, i64(PQgetvalue(r, row, 2)));
                if (!o)
                        rc = NOMEM();
                else
                        count_weak(o, x, k, v);
        }
        PQclear(r);
        if (rc)
                return rc;

        /* The record's RELATED and HINT keys name identifiers of other entities. */
        n = 0;
        for (size_t i = 0; i < x->n_weak; i++) {
                const hub_weak_key_t *w = &x->weak[i];
                if (strcmp(w->kind, "RELATED") != 0 && strcmp(w->kind, "HINT") != 0)
                        continue;
                const char *colon = strchr(w->value, ':');
                if (!colon)
                        continue;
                kind[n] = hub_arena_strndup(c->a, w->value, (size_t)(colon - w->value));
                val[n] = colon + 1;
                if (!kind[n])
                        return NOMEM();
                n++;
        }
        if (!n)
                return 0;
        hub_array_text(&c->arr, kind, n);
        hub_array_text(&c->arr2, val, n);
        const char *p2[2] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2)};
        r = run(c,
                "SELECT DISTINCT i.type, i.value, hub_canonical(i.entity_id) FROM identifiers i "
                "WHERE (i.type, i.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
                2, p2, PGRES_TUPLES_OK, "look up related identifiers", &rc, err);
        if (!r)
                return rc;
        for (int row = 0; row < PQntuples(r); row++) {
                int64_t id = i64(PQgetvalue(r, row, 2));
                if (id == c->e)
                        continue;
                char tv[HUB_IDENT_VALUE_MAX + 40];
                snprintf(tv, sizeof(tv), "%s:%s", PQgetvalue(r, row, 0), PQgetvalue(r, row, 1));
                struct other *o = other_of(c, id);
                if (!o) {
                        PQclear(r);
                        return NOMEM();
                }
                if (has_weak(x, "RELATED", tv))
                        count_weak(o, x, "RELATED", tv);
                if (has_weak(x, "HINT", tv))
                        count_weak(o, x, "HINT", tv);
        }
        PQclear(r);
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
        for (int i = 0; r && i < PQntuples(r); i++) {
                if (i64(PQgetvalue(r, i, 0)) != a)
                        continue;
                int t = strcmp(PQgetvalue(r, i, 1), "TAX_CODE") == 0;
                mine[t] = true;
                for (int j = 0; j < PQntuples(r); j++) {
                        if (i64(PQgetvalue(r, j, 0)) != b ||
                            strcmp(PQgetvalue(r, i, 1), PQgetvalue(r, j, 1)) != 0)
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
 * persons, or a typing slip? */
static int party_ids(struct ctx *c, hub_err_t *err)
{
        PQclear(c->ids);
        c->ids = NULL;
        if (!c->n_o)
                return 0;
        int64_t *ids = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(int64_t));
        if (!ids)
                return NOMEM();
        ids[0] = c->e;
        for (size_t i = 0; i < c->n_o; i++)
                ids[i + 1] = c->o[i].id;
        hub_array_int(&c->arr, ids, c->n_o + 1);
        const char *p[1] = {hub_sqlbuf_str(&c->arr)};
        int rc;
        c->ids = run(c,
                     "SELECT entity_id, type, value FROM identifiers WHERE type IN "
                     "('PERSONAL_ID', 'TAX_CODE') AND entity_id = ANY($1::bigint[])",
                     1, p, PGRES_TUPLES_OK, "look up personal ids and tax codes", &rc, err);
        if (!c->ids)
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

static int not_same(struct ctx *c, struct other *o, hub_err_t *err)
{
        char a[24], b[24];
        fmt_i64(a, sizeof(a), c->e);
        fmt_i64(b, sizeof(b), o->id);
        const char *p[2] = {a, b};
        int rc;
        PGresult *r = run(c,
                          "SELECT 1 FROM judgements WHERE kind = 'not-same' AND revoked_at IS "
                          "NULL AND entity_b IS NOT NULL AND ((hub_canonical(entity_a) = $1 "
                          "AND hub_canonical(entity_b) = $2) OR (hub_canonical(entity_a) = $2 "
                          "AND hub_canonical(entity_b) = $1)) LIMIT 1",
                          2, p, PGRES_TUPLES_OK, "look up judgements", &rc, err);
        if (!r)
                return rc;
        o->ev.not_same = PQntuples(r) > 0;
        PQclear(r);
        return 0;
}

/* Would merging through o's shared strong values put one over the threshold? A strong value
 * "appears on" its holder and on every entity it has merged into the holder. */
static int noisy_strong(struct ctx *c, struct other *o, hub_err_t *err)
{
        size_t i;
        json_t *id;
        json_array_foreach(o->ids, i, id)
        {
                json_t *probe = json_pack("{s:[O]}", "identifiers", id);
                char *js = probe ? json_dumps(probe, JSON_COMPACT) : NULL;
                json_decref(probe);
                if (!js)
                        return NOMEM();
                const char *p[1] = {js};
                int rc;
                PGresult *r = run(c,
                                  "SELECT count(*) FROM merges WHERE evidence @> $1::jsonb AND "
                                  "undone_at IS NULL",
                                  1, p, PGRES_TUPLES_OK, "count merges of an identifier", &rc,
                                  err);
                free(js);
                if (!r)
                        return rc;
                int64_t n = 2 + i64(PQgetvalue(r, 0, 0)); /* holder, the others, this one */
                PQclear(r);
                if (n > c->k) {
                        o->ev.noisy = true;
                        rc = mark_noisy(c, json_string_value(json_object_get(id, "type")),
                                        json_string_value(json_object_get(id, "value")), n,
                                        err);
                        if (rc)
                                return rc;
                }
        }
        return 0;
}

static char *evidence_json(const struct other *o, const hub_extract_t *x, const char *review)
{
        json_t *j = json_pack("{s:O, s:O, s:s, s:s}", "identifiers", o->ids, "weak", o->weak,
                              "agency", x->agency, "record_id", x->record_id);
        if (j && review)
                json_object_set_new(j, "review", json_string(review));
        /* The record's own strong identifiers: with "identifiers" (those the other entity
         * held) they show both sides a record bridged. */
        json_t *keys = json_array();
        for (size_t i = 0; j && keys && i < x->n_keys; i++)
                json_array_append_new(keys, json_pack("{s:s, s:s}", "type", x->keys[i].type,
                                                      "value", x->keys[i].value));
        if (j && keys)
                json_object_set_new(j, "record_identifiers", keys);
        else
                json_decref(keys);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(j);
        return s;
}

static int add_links(struct ctx *c, struct other *o, hub_err_t *err)
{
        char a[24], b[24];
        fmt_i64(a, sizeof(a), c->e < o->id ? c->e : o->id);
        fmt_i64(b, sizeof(b), c->e < o->id ? o->id : c->e);
        char *ev = evidence_json(o, c->x, NULL);
        if (!ev)
                return NOMEM();
        int rc = 0;
        for (unsigned bit = 1; bit <= HUB_LINK__ALL && !rc; bit <<= 1) {
                if (!(o->d.links & bit))
                        continue;
                const char *p[6] = {a, b, hub_resolve_link_name(bit), ev, c->x->agency,
                                    c->x->record_id};
                PGresult *r = run(c,
                                  "INSERT INTO links (entity_a, entity_b, kind, evidence, agency,"
                                  " record_id) VALUES ($1, $2, $3, $4, $5, $6) "
                                  "ON CONFLICT DO NOTHING",
                                  6, p, PGRES_COMMAND_OK, "store a link", &rc, err);
                if (r && strcmp(PQcmdTuples(r), "1") == 0)
                        c->stats->links++;
                PQclear(r);
        }
        free(ev);
        return rc;
}

/* The candidate's score facts from both entities' statements and names. */
static int add_candidate(struct ctx *c, struct other *o, hub_err_t *err)
{
        char a[24], b[24];
        fmt_i64(a, sizeof(a), c->e);
        fmt_i64(b, sizeof(b), o->id);
        const char *p[2] = {a, b};
        int rc;
        PGresult *r = run(c,
                          "SELECT entity_id, 'NAME', value FROM match_keys WHERE kind = 'NAME' "
                          "AND entity_id IN ($1, $2) UNION SELECT entity_id, prop, value FROM "
                          "statements WHERE prop IN ('dob_year', 'province') AND valid AND "
                          "entity_id IN ($1, $2)",
                          2, p, PGRES_TUPLES_OK, "read candidate facts", &rc, err);
        if (!r)
                return rc;
        const hub_extract_t *x = c->x;
        hub_candidate_facts_t f = {0};
        f.shared_weak = o->ev.phone + o->ev.handle + o->ev.address + o->ev.bank_phone;
        f.hints = o->ev.hint;
        f.birth_year_a = x->dob_year;
        /* Names of the entity: its stored ones and this record's (not stored yet). */
        for (int i = 0; i < PQntuples(r); i++) {
                if (i64(PQgetvalue(r, i, 0)) != o->id)
                        continue;
                const char *prop = PQgetvalue(r, i, 1), *v = PQgetvalue(r, i, 2);
                if (strcmp(prop, "NAME") == 0) {
                        for (size_t w = 0; w < x->n_weak; w++) {
                                if (strcmp(x->weak[w].kind, "NAME") != 0)
                                        continue;
                                double s = hub_resolve_name_similarity(x->weak[w].value, v);
                                if (s > f.name_similarity)
                                        f.name_similarity = s;
                        }
                        for (int j = 0; j < PQntuples(r); j++) {
                                if (i64(PQgetvalue(r, j, 0)) != c->e ||
                                    strcmp(PQgetvalue(r, j, 1), "NAME") != 0)
                                        continue;
                                double s = hub_resolve_name_similarity(PQgetvalue(r, j, 2), v);
                                if (s > f.name_similarity)
                                        f.name_similarity = s;
                        }
                } else if (strcmp(prop, "dob_year") == 0) {
                        f.birth_year_b = atoi(v);
                } else if (strcmp(prop, "province") == 0) {
                        for (int j = 0; j < PQntuples(r); j++)
                                if (i64(PQgetvalue(r, j, 0)) == c->e &&
                                    strcmp(PQgetvalue(r, j, 1), "province") == 0 &&
                                    strcmp(PQgetvalue(r, j, 2), v) == 0)
                                        f.same_province = true;
                        for (size_t s = 0; s < x->n_stmts; s++)
                                if (strcmp(x->stmts[s].prop, "province") == 0 &&
                                    strcmp(x->stmts[s].value, v) == 0)
                                        f.same_province = true;
                }
        }
        for (int i = 0; !f.birth_year_a && i < PQntuples(r); i++)
                if (i64(PQgetvalue(r, i, 0)) == c->e &&
                    strcmp(PQgetvalue(r, i, 1), "dob_year") == 0)
                        f.birth_year_a = atoi(PQgetvalue(r, i, 2));
        PQclear(r);
        hub_candidate_score_t sc;
        hub_resolve_candidate_score(&f, &sc);
        json_t *bd = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:O, s:O}", "name_similarity",
                               f.name_similarity, "name", sc.name, "shared_weak", sc.weak,
                               "identifier_hint", sc.hint, "birth_year", sc.birth_year,
                               "province", sc.province, "identifiers", o->ids, "weak", o->weak);
        if (bd && o->d.refused)
                json_object_set_new(bd, "merge_refused", json_string(o->d.refused));
        char *bds = bd ? json_dumps(bd, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(bd);
        if (!bds)
                return NOMEM();
        char score[32], lo[24], hi[24];
        snprintf(score, sizeof(score), "%.4f", sc.score);
        fmt_i64(lo, sizeof(lo), c->e < o->id ? c->e : o->id);
        fmt_i64(hi, sizeof(hi), c->e < o->id ? o->id : c->e);
        const char *p2[6] = {lo, hi, score, bds, x->agency, x->record_id};
        r = run(c,
                "INSERT INTO candidates (entity_a, entity_b, score, breakdown, agency, record_id)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (entity_a, entity_b) DO UPDATE "
                "SET score = EXCLUDED.score, breakdown = EXCLUDED.breakdown, agency = "
                "EXCLUDED.agency, record_id = EXCLUDED.record_id, updated_at = now() "
                "WHERE candidates.status = 'open'",
                6, p2, PGRES_COMMAND_OK, "store a candidate", &rc, err);
        free(bds);
        if (r)
                c->stats->candidates++;
        PQclear(r);
        return rc;
}

/* Absorb x into s (s < x): every row of x moves, its redirects follow, the merge is logged. */
static int absorb(struct ctx *c, int64_t s, int64_t xid, const char *rule, const char *ev,
                  const char *review, hub_err_t *err)
{
        char ss[24], xs[24];
        fmt_i64(ss, sizeof(ss), s);
        fmt_i64(xs, sizeof(xs), xid);
        const char *p[2] = {ss, xs};
        static const char *const moves[] = {
                /* Earlier redirects to x now point at s: merged_into is never two steps. */
                "UPDATE entities SET merged_into = $1::bigint WHERE merged_into = $2::bigint",
                "UPDATE entities SET merged_into = $1::bigint, updated_at = now() WHERE id = $2::bigint",
                "UPDATE identifiers SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
                "UPDATE statements SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
                "UPDATE records SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
                "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) SELECT kind, "
                "value, $1::bigint, agency, record_id FROM match_keys WHERE entity_id = "
                "$2::bigint ON CONFLICT DO NOTHING",
                "DELETE FROM match_keys WHERE entity_id = $2::bigint",
                /* Links and candidates between the two are now inside one entity. */
                "DELETE FROM links WHERE entity_a = $1::bigint AND entity_b = $2::bigint",
                "UPDATE candidates SET status = 'merged', updated_at = now() "
                "WHERE entity_a = $1::bigint AND entity_b = $2::bigint",
                "INSERT INTO links (entity_a, entity_b, kind, evidence, agency, record_id, "
                "created_at) SELECT least(o, $1::bigint), greatest(o, $1::bigint), kind, evidence, agency, "
                "record_id, created_at FROM (SELECT CASE WHEN entity_a = $2::bigint THEN entity_b ELSE "
                "entity_a END AS o, * FROM links WHERE entity_a = $2::bigint OR entity_b = $2::bigint) l "
                "WHERE o <> $1::bigint ON CONFLICT DO NOTHING",
                "DELETE FROM links WHERE entity_a = $2::bigint OR entity_b = $2::bigint",
                "INSERT INTO candidates (entity_a, entity_b, score, breakdown, status, agency, "
                "record_id, created_at) SELECT least(o, $1::bigint), greatest(o, $1::bigint), score, breakdown, "
                "status, agency, record_id, created_at FROM (SELECT CASE WHEN entity_a = $2::bigint "
                "THEN entity_b ELSE entity_a END AS o, * FROM candidates WHERE (entity_a = $2::bigint "
                "OR entity_b = $2::bigint)) k WHERE o <> $1::bigint ON CONFLICT DO NOTHING",
                "DELETE FROM candidates WHERE (entity_a = $2::bigint OR entity_b = $2::bigint) AND NOT "
                "(entity_a = $1::bigint AND entity_b = $2::bigint)",
        };
        /* Typed parameters: some statements use only $2. 20 is int8's type oid. */
        static const Oid types[2] = {20, 20};
        for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
                PGresult *r = PQexecParams(hub_store_conn(c->s), moves[i], 2, types, p, NULL,
                                           NULL, 0);
                int rc = hub_store_check(c->s, r, PGRES_COMMAND_OK, "merge entities", err);
                PQclear(r);
                if (rc)
                        return rc;
        }
        const char *p2[7] = {ss, xs, rule, ev, review, c->x->agency, c->x->record_id};
        c->stats->merges++;
        return exec(c,
                    "INSERT INTO merges (survivor, absorbed, rule, evidence, review, agency, "
                    "record_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    7, p2, "record a merge", err);
}

/* After a merge with a review note: of two personal ids one adjacent swap apart, the one fewer
 * records assert (then the later) stops being a merge key, and its statements are flagged. */
static int demote_transposed(struct ctx *c, int64_t s, hub_err_t *err)
{
        char ss[24];
        fmt_i64(ss, sizeof(ss), s);
        const char *p[1] = {ss};
        int rc;
        PGresult *r = run(c,
                          "SELECT i.value FROM identifiers i WHERE i.entity_id = $1 AND "
                          "i.type = 'PERSONAL_ID' ORDER BY (SELECT count(*) FROM statements st "
                          "WHERE st.entity_id = $1 AND st.prop = 'identifier:PERSONAL_ID' AND "
                          "st.value = i.value) DESC, i.first_seen, i.value",
                          1, p, PGRES_TUPLES_OK, "read personal ids", &rc, err);
        if (!r)
                return rc;
        for (int i = 1; i < PQntuples(r) && !rc; i++) {
                const char *v = PQgetvalue(r, i, 0);
                bool slip = false;
                for (int j = 0; j < i && !slip; j++)
                        slip = hub_resolve_is_transposition(PQgetvalue(r, j, 0), v);
                if (!slip)
                        continue;
                const char *p2[2] = {ss, v};
                rc = exec(c,
                          "DELETE FROM identifiers WHERE type = 'PERSONAL_ID' AND value = $2 "
                          "AND entity_id = $1",
                          2, p2, "demote a transposed personal id", err);
                if (!rc)
                        rc = exec(c,
                                  "UPDATE statements SET flag = 'SUSPECT_TRANSPOSITION' "
                                  "WHERE entity_id = $1 AND prop = "
                                  "'identifier:PERSONAL_ID' AND value = $2",
                                  2, p2, "flag a transposed personal id", err);
        }
        PQclear(r);
        return rc;
}

/* The displayed kind (hub/store/README.md): a party kind (organisation, household, person,
 * branch) over an asset kind (website, shop, account), then the most records, then the latest. */
static int update_kind(struct ctx *c, int64_t s, hub_err_t *err)
{
        char ss[24];
        fmt_i64(ss, sizeof(ss), s);
        const char *p[1] = {ss};
        return exec(c,
                    "UPDATE entities SET kind = k.subject_kind FROM (SELECT subject_kind FROM "
                    "records WHERE entity_id = $1 GROUP BY subject_kind ORDER BY subject_kind IN "
                    "('ORGANIZATION', 'HOUSEHOLD_BUSINESS', 'INDIVIDUAL', 'BRANCH') DESC, "
                    "count(*) DESC, max(reported_at) DESC NULLS LAST, subject_kind LIMIT 1) k "
                    "WHERE id = $1 AND kind <> k.subject_kind",
                    1, p, "update the entity kind", err);
}

static int store_weak(struct ctx *c, int64_t s, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        if (!x->n_weak)
                return 0;
        const char **k = hub_arena_alloc(c->a, x->n_weak * sizeof(char *));
        const char **v = hub_arena_alloc(c->a, x->n_weak * sizeof(char *));
        if (!k || !v)
                return NOMEM();
        for (size_t i = 0; i < x->n_weak; i++) {
                k[i] = x->weak[i].kind;
                v[i] = x->weak[i].value;
        }
        hub_array_text(&c->arr, k, x->n_weak);
        hub_array_text(&c->arr2, v, x->n_weak);
        char ss[24];
        fmt_i64(ss, sizeof(ss), s);
        const char *p[5] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2), ss, x->agency,
                            x->record_id};
        return exec(c,
                    "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) "
                    "SELECT k, v, $3, $4, $5 FROM unnest($1::text[], $2::text[]) AS u(k, v) "
                    "ON CONFLICT DO NOTHING",
                    5, p, "store weak keys", err);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static int resolve_one(struct ctx *c, const hub_merge_rec_t *rec, int64_t *changed,
                       size_t *n_changed, size_t cap, hub_err_t *err)
{
        char es[24];
        fmt_i64(es, sizeof(es), *rec->entity);
        const char *p[1] = {es};
        int rc;
        /* Another transaction (or an earlier record of this batch) may have merged it. */
        PGresult *r = run(c, "SELECT hub_canonical($1)", 1, p, PGRES_TUPLES_OK,
                          "follow a merge", &rc, err);
        if (!r)
                return rc;
        c->e = i64(PQgetvalue(r, 0, 0));
        PQclear(r);
        c->x = rec->x;
        if (c->e != *rec->entity) {
                /* Rows stored under an entity that a concurrent transaction merged after
                 * ingest.c looked it up follow it to the survivor. */
                char ss[24];
                fmt_i64(ss, sizeof(ss), c->e);
                const char *pm[2] = {ss, es};
                static const char *const follow[] = {
                        "UPDATE identifiers SET entity_id = $1 WHERE entity_id = $2",
                        "UPDATE statements SET entity_id = $1 WHERE entity_id = $2",
                        "UPDATE records SET entity_id = $1 WHERE entity_id = $2",
                        "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) "
                        "SELECT kind, value, $1::bigint, agency, record_id FROM match_keys "
                        "WHERE entity_id = $2::bigint ON CONFLICT DO NOTHING",
                        "DELETE FROM match_keys WHERE entity_id = $2::bigint",
                };
                /* Typed parameters: the last statement uses only $2 (20: int8). */
                static const Oid types[2] = {20, 20};
                for (size_t i = 0; i < 5; i++) {
                        r = PQexecParams(hub_store_conn(c->s), follow[i], 2, types, pm, NULL,
                                         NULL, 0);
                        rc = hub_store_check(c->s, r, PGRES_COMMAND_OK, "follow a merge", err);
                        PQclear(r);
                        if (rc)
                                return rc;
                }
        }
        others_clear(c);
        if ((rc = strong_evidence(c, err)) || (rc = weak_evidence(c, err)) ||
            (rc = party_ids(c, err)))
                return rc;
        int64_t *group = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(int64_t));
        struct other **why = hub_arena_alloc(c->a, (c->n_o + 1) * sizeof(*why));
        if (!group || !why)
                return NOMEM();
        size_t ng = 0;
        group[ng++] = c->e;
        for (size_t i = 0; i < c->n_o; i++) {
                struct other *o = &c->o[i];
                hub_match_decision_t d;
                hub_resolve_match(&o->ev, &d);
                if (d.merge || d.refused) {
                        /* Only a pair that would merge is checked against judgements and
                         * the guard; then decide again with what they said. */
                        if ((rc = not_same(c, o, err)) ||
                            (o->ev.strong && (rc = noisy_strong(c, o, err))))
                                return rc;
                        hub_resolve_match(&o->ev, &d);
                }
                o->d = d;
                if (d.merge) {
                        why[ng - 1] = o;
                        group[ng++] = o->id;
                        continue;
                }
                if (d.links && (rc = add_links(c, o, err)))
                        return rc;
                if (d.candidate && (rc = add_candidate(c, o, err)))
                        return rc;
        }
        int64_t survivor = c->e;
        if (ng > 1) {
                int64_t *sorted = hub_arena_alloc(c->a, ng * sizeof(int64_t));
                if (!sorted)
                        return NOMEM();
                memcpy(sorted, group, ng * sizeof(int64_t));
                qsort(sorted, ng, sizeof(int64_t), cmp_i64);
                survivor = sorted[0];
                /* Entity rows in id order: two transactions merging overlapping groups
                 * lock them in one order (the resolution lock makes this belt and braces). */
                hub_array_int(&c->arr, sorted, ng);
                const char *pl[1] = {hub_sqlbuf_str(&c->arr)};
                r = run(c,
                        "SELECT id FROM entities WHERE id = ANY($1::bigint[]) ORDER BY id "
                        "FOR UPDATE",
                        1, pl, PGRES_TUPLES_OK, "lock entities to merge", &rc, err);
                if (!r)
                        return rc;
                PQclear(r);
                bool review = false;
                for (size_t i = 0; i < ng; i++) {
                        if (group[i] == survivor)
                                continue;
                        /* The evidence of the pair that brought group[i] in; for the record's
                         * own entity, that of the pair that names the survivor. */
                        struct other *o = NULL;
                        if (i == 0) {
                                for (size_t j = 1; j < ng; j++)
                                        if (group[j] == survivor)
                                                o = why[j - 1];
                        } else {
                                o = why[i - 1];
                        }
                        char *ev = evidence_json(o, c->x, o->d.review);
                        if (!ev)
                                return NOMEM();
                        rc = absorb(c, survivor, group[i], o->d.rule, ev, o->d.review, err);
                        free(ev);
                        if (rc)
                                return rc;
                        review |= o->d.review != NULL;
                        if (*n_changed < cap)
                                changed[(*n_changed)++] = group[i];
                }
                if (review && (rc = demote_transposed(c, survivor, err)))
                        return rc;
        }
        *rec->entity = survivor;
        if ((rc = store_weak(c, survivor, err)))
                return rc;
        return update_kind(c, survivor, err);
}

int hub_merge_resolve(hub_store_t *s, hub_arena_t *a, const hub_merge_rec_t *recs, size_t n,
                      int noisy_threshold, int64_t *changed, size_t *n_changed, size_t cap,
                      hub_merge_stats_t *stats, hub_err_t *err)
{
        hub_merge_stats_t dummy;
        struct ctx c = {.s = s, .a = a, .k = noisy_threshold > 0 ? noisy_threshold
                                                                  : HUB_MERGE_DEFAULT_NOISY,
                        .stats = stats ? stats : &dummy};
        memset(c.stats, 0, sizeof(*c.stats));
        int rc = 0;
        if (n) {
                const char *p[1] = {MERGE_LOCK_KEY};
                PGresult *r = run(&c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p,
                                  PGRES_TUPLES_OK, "take the resolution lock", &rc, err);
                PQclear(r);
        }
        for (size_t i = 0; i < n && !rc; i++)
                rc = resolve_one(&c, &recs[i], changed, n_changed, cap, err);
        others_clear(&c);
        free(c.o);
        PQclear(c.ids);
        hub_sqlbuf_done(&c.arr);
        hub_sqlbuf_done(&c.arr2);
        return rc;
}

int hub_merge_lock(hub_store_t *s, hub_err_t *err)
{
        struct ctx c = {.s = s};
        const char *p[1] = {MERGE_LOCK_KEY};
        int rc;
        PQclear(run(&c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, p, PGRES_TUPLES_OK,
                    "take the resolution lock", &rc, err));
        return rc;
}

int hub_merge_absorb(hub_store_t *s, int64_t survivor, int64_t absorbed, const char *rule,
                     const char *evidence, hub_err_t *err)
{
        hub_merge_stats_t st = {0};
        hub_extract_t x = {0}; /* no record: agency and record_id stay NULL */
        struct ctx c = {.s = s, .x = &x, .stats = &st};
        return absorb(&c, survivor, absorbed, rule, evidence, NULL, err);
}
