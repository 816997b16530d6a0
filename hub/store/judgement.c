/* Analysts' judgements in PostgreSQL: see hub/judgement_store.h and hub/store/README.md
 * "Judgements". Merges go through merge.c (hub_merge_absorb), so a judged merge moves exactly
 * what a rule's merge moves; a split moves the named records and what only they assert. */
#include "merge.h"
#include "views.h"

#include <hub/entity.h>
#include <hub/judgement_store.h>
#include <hub/mlog.h>
#include <hub/resolve.h>
#include <hub/timestamp.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOMEM() hub_err_set(err, HUB_E_NOMEM, false, "judgement", "out of memory")
#define REFUSE(...) hub_err_set(err, HUB_E_INVAL, false, "judgement", __VA_ARGS__)

/* Run one statement; NULL (and *rc set) on error. */
static PGresult *run(hub_store_t *s, const char *sql, int n, const char *const *p,
                     ExecStatusType want, const char *what, int *rc, hub_err_t *err)
{
        PGresult *r = PQexecParams(hub_store_conn(s), sql, n, NULL, p, NULL, NULL, 0);
        *rc = hub_store_check(s, r, want, what, err);
        if (*rc) {
                PQclear(r);
                return NULL;
        }
        return r;
}

static int exec(hub_store_t *s, const char *sql, int n, const char *const *p, const char *what,
                hub_err_t *err)
{
        int rc;
        PQclear(run(s, sql, n, p, PGRES_COMMAND_OK, what, &rc, err));
        return rc;
}

static int64_t i64(const char *s)
{
        return s && *s ? strtoll(s, NULL, 10) : 0;
}

static int64_t opt_i64(PGresult *r, int row, int col)
{
        return PQgetisnull(r, row, col) ? 0 : i64(PQgetvalue(r, row, col));
}

static void fmt(char *buf, size_t cap, int64_t v)
{
        snprintf(buf, cap, "%" PRId64, v);
}

/* A hex string of bytea text output ("\x...") into out (n bytes): false when malformed. */
static bool unhex(const char *t, uint8_t *out, size_t n)
{
        if (strncmp(t, "\\x", 2) != 0 || strlen(t) != 2 + 2 * n)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                if (sscanf(t + 2 + 2 * i, "%2x", &v) != 1)
                        return false;
                out[i] = (uint8_t)v;
        }
        return true;
}

static char *hex(const uint8_t *p, size_t n)
{
        char *t = malloc(3 + 2 * n);
        if (!t)
                return NULL;
        memcpy(t, "\\x", 2);
        for (size_t i = 0; i < n; i++)
                snprintf(t + 2 + 2 * i, 3, "%02x", p[i]);
        return t;
}

/* ---- analysts' keys ---- */

static int append_leaf(hub_store_t *s, const char *ref, uint8_t *body, size_t len,
                       int64_t *idx, hub_err_t *err)
{
        int rc = hub_mlog_append(s, HUB_MLOG_JUDGEMENT, ref, body, len, idx, err);
        free(body);
        return rc;
}

int hub_analyst_key_register(hub_store_t *s, const char *name, const char *full_name,
                             const char *key_id, const uint8_t pk[HUB_PK_BYTES], hub_err_t *err)
{
        char *pkx = hex(pk, HUB_PK_BYTES);
        if (!pkx)
                return NOMEM();
        int rc = hub_store_begin(s, err);
        PGresult *r = NULL;
        if (rc)
                goto out;
        const char *p1[2] = {name, full_name ? full_name : ""};
        if ((rc = exec(s,
                       "INSERT INTO analysts (name, full_name) VALUES ($1, $2) ON CONFLICT "
                       "(name) DO UPDATE SET full_name = CASE WHEN $2 = '' THEN "
                       "analysts.full_name ELSE $2 END",
                       2, p1, "register an analyst", err)))
                goto out;
        const char *p2[3] = {name, key_id, pkx};
        r = run(s,
                "SELECT (SELECT count(*) FROM analyst_keys WHERE analyst = $1 AND key_id = $2),"
                " (SELECT coalesce(min(analyst || '/' || key_id), '') FROM analyst_keys WHERE"
                "  public_key = $3::bytea),"
                " (SELECT coalesce(min(agency || '/' || key_id), '') FROM agency_keys WHERE"
                "  public_key = $3::bytea),"
                " (extract(epoch FROM now()) * 1000000)::int8",
                3, p2, PGRES_TUPLES_OK, "look up analyst keys", &rc, err);
        if (!r)
                goto out;
        if (i64(PQgetvalue(r, 0, 0))) {
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "analyst %s already has a key %s", name, key_id);
                goto out;
        }
        if (*PQgetvalue(r, 0, 1) || *PQgetvalue(r, 0, 2)) {
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "this public key is already registered as %s: every key has "
                                 "one owner",
                                 *PQgetvalue(r, 0, 1) ? PQgetvalue(r, 0, 1) : PQgetvalue(r, 0, 2));
                goto out;
        }
        int64_t at = i64(PQgetvalue(r, 0, 3)), idx = 0;
        uint8_t *body = NULL;
        size_t len = 0;
        char ref[160], ats[24], idxs[24];
        snprintf(ref, sizeof(ref), "analyst-key/%s/%s", name, key_id);
        if ((rc = hub_judgement_key_leaf_body(HUB_JUDGEMENT_LEAF_KEY_REGISTER, name, key_id, pk,
                                              at, NULL, &body, &len, err)) ||
            (rc = append_leaf(s, ref, body, len, &idx, err)))
                goto out;
        fmt(ats, sizeof(ats), at);
        fmt(idxs, sizeof(idxs), idx);
        const char *p3[5] = {name, key_id, pkx, ats, idxs};
        if ((rc = exec(s,
                       "INSERT INTO analyst_keys (analyst, key_id, public_key, registered_at, "
                       "register_leaf) VALUES ($1, $2, $3::bytea, $4, $5)",
                       5, p3, "register an analyst key", err)))
                goto out;
        rc = hub_store_commit(s, err);
out:
        if (rc)
                hub_store_rollback(s);
        PQclear(r);
        free(pkx);
        return rc;
}

int hub_analyst_key_revoke(hub_store_t *s, const char *name, const char *key_id,
                           const char *reason, hub_err_t *err)
{
        int rc = hub_store_begin(s, err);
        PGresult *r = NULL;
        if (rc)
                return rc;
        const char *p[2] = {name, key_id};
        r = run(s,
                "SELECT public_key, revoked_at, (extract(epoch FROM now()) * 1000000)::int8 "
                "FROM analyst_keys WHERE analyst = $1 AND key_id = $2 FOR UPDATE",
                2, p, PGRES_TUPLES_OK, "look up an analyst key", &rc, err);
        if (!r)
                goto out;
        uint8_t pk[HUB_PK_BYTES];
        if (PQntuples(r) != 1) {
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "analyst %s has no key %s", name, key_id);
                goto out;
        }
        if (!PQgetisnull(r, 0, 1)) {
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "key %s of analyst %s is already revoked", key_id, name);
                goto out;
        }
        if (!unhex(PQgetvalue(r, 0, 0), pk, sizeof(pk))) {
                rc = hub_err_set(err, HUB_E_DB, false, "judgement", "bad stored public key");
                goto out;
        }
        int64_t at = i64(PQgetvalue(r, 0, 2)), idx = 0;
        uint8_t *body = NULL;
        size_t len = 0;
        char ref[160], ats[24], idxs[24];
        snprintf(ref, sizeof(ref), "analyst-key-revoke/%s/%s", name, key_id);
        if ((rc = hub_judgement_key_leaf_body(HUB_JUDGEMENT_LEAF_KEY_REVOKE, name, key_id, pk, at,
                                              reason, &body, &len, err)) ||
            (rc = append_leaf(s, ref, body, len, &idx, err)))
                goto out;
        fmt(ats, sizeof(ats), at);
        fmt(idxs, sizeof(idxs), idx);
        const char *p2[5] = {name, key_id, ats, reason ? reason : "", idxs};
        if ((rc = exec(s,
                       "UPDATE analyst_keys SET revoked_at = $3, revoked_reason = $4, "
                       "revoke_leaf = $5 WHERE analyst = $1 AND key_id = $2",
                       5, p2, "revoke an analyst key", err)))
                goto out;
        rc = hub_store_commit(s, err);
out:
        if (rc)
                hub_store_rollback(s);
        PQclear(r);
        return rc;
}

int hub_analyst_keys(hub_store_t *s, int (*row)(const hub_analyst_key_row_t *k, void *arg),
                     void *arg, hub_err_t *err)
{
        int rc;
        PGresult *r = run(s,
                          "SELECT k.analyst, a.full_name, k.key_id, k.public_key, "
                          "k.registered_at, k.revoked_at, k.revoked_reason FROM analyst_keys k "
                          "JOIN analysts a ON a.name = k.analyst ORDER BY 1, 3",
                          0, NULL, PGRES_TUPLES_OK, "list analyst keys", &rc, err);
        for (int t = 0; r && !rc && t < PQntuples(r); t++) {
                uint8_t pk[HUB_PK_BYTES] = {0};
                unhex(PQgetvalue(r, t, 3), pk, sizeof(pk));
                hub_analyst_key_row_t k = {PQgetvalue(r, t, 0), PQgetvalue(r, t, 1),
                                           PQgetvalue(r, t, 2), pk, i64(PQgetvalue(r, t, 4)),
                                           PQgetisnull(r, t, 5) ? HUB_TS_NONE
                                                                : i64(PQgetvalue(r, t, 5)),
                                           PQgetvalue(r, t, 6)};
                rc = row(&k, arg);
        }
        PQclear(r);
        return rc;
}

/* ---- applying judgements ---- */

struct apply {
        hub_store_t *s;
        const hub_judgement_t *j;
        hub_judgement_result_t *res;
        char id[24];          /* the judgement's row */
        int64_t changed[4];   /* entities to republish */
        size_t n_changed;
        int64_t fresh;        /* a new entity among them (starts at version 1) */
        int64_t new_entity, merge_id;
        char *moved;          /* JSON of the records a `same` took from the absorbed entity */
};

static void changed(struct apply *a, int64_t id)
{
        for (size_t i = 0; i < a->n_changed; i++)
                if (a->changed[i] == id)
                        return;
        if (a->n_changed < 4)
                a->changed[a->n_changed++] = id;
}

/* The surviving entity of id (merged_into followed); 0 when there is no such entity. */
static int canonical(hub_store_t *s, int64_t id, int64_t *out, hub_err_t *err)
{
        char ids[24];
        fmt(ids, sizeof(ids), id);
        const char *p[1] = {ids};
        int rc;
        PGresult *r = run(s, "SELECT coalesce(merged_into, id) FROM entities WHERE id = $1", 1, p,
                          PGRES_TUPLES_OK, "look up an entity", &rc, err);
        if (!r)
                return rc;
        *out = PQntuples(r) ? i64(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (!*out)
                return REFUSE("no entity E%" PRId64, id);
        return 0;
}

static int lock_entities(hub_store_t *s, int64_t x, int64_t y, hub_err_t *err)
{
        char xs[24], ys[24];
        fmt(xs, sizeof(xs), x);
        fmt(ys, sizeof(ys), y);
        const char *p[2] = {xs, ys};
        int rc;
        PQclear(run(s, "SELECT id FROM entities WHERE id IN ($1, $2) ORDER BY id FOR UPDATE", 2, p,
                    PGRES_TUPLES_OK, "lock entities", &rc, err));
        return rc;
}

/* The active not-same judgement over the pair of surviving entities (other than the one being
 * stored), 0 when none. */
static int not_same_over(struct apply *a, int64_t x, int64_t y, int64_t *id, hub_err_t *err)
{
        char xs[24], ys[24];
        fmt(xs, sizeof(xs), x);
        fmt(ys, sizeof(ys), y);
        const char *p[3] = {xs, ys, a->id};
        hub_store_t *s = a->s;
        int rc;
        PGresult *r = run(s,
                          "SELECT min(id) FROM judgements WHERE kind = 'not-same' AND "
                          "revoked_at IS NULL AND entity_b IS NOT NULL AND id <> $3 AND "
                          "((hub_canonical(entity_a) = $1 AND hub_canonical(entity_b) = $2) OR "
                          "(hub_canonical(entity_a) = $2 AND hub_canonical(entity_b) = $1))",
                          3, p, PGRES_TUPLES_OK, "look up not-same judgements", &rc, err);
        if (!r)
                return rc;
        *id = opt_i64(r, 0, 0);
        PQclear(r);
        return 0;
}

static int merge(struct apply *a, int64_t x, int64_t y, const char *why, hub_err_t *err)
{
        int64_t survivor = x < y ? x : y, absorbed = x < y ? y : x;
        int rc = lock_entities(a->s, survivor, absorbed, err);
        if (rc)
                return rc;
        json_t *ev = json_pack("{s:I, s:s, s:s, s:s, s:s}", "judgement", (json_int_t)i64(a->id),
                               "kind", why, "analyst", a->j->analyst, "key_id", a->j->key_id,
                               "reason", a->j->reason);
        char *evs = ev ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(ev);
        if (!evs)
                return NOMEM();
        rc = hub_merge_absorb(a->s, survivor, absorbed, "judgement", evs, err);
        free(evs);
        if (rc)
                return rc;
        char ss[24], as[24];
        fmt(ss, sizeof(ss), survivor);
        fmt(as, sizeof(as), absorbed);
        const char *p[2] = {ss, as};
        PGresult *r = run(a->s,
                          "SELECT max(id) FROM merges WHERE survivor = $1 AND absorbed = $2", 2,
                          p, PGRES_TUPLES_OK, "read the merge", &rc, err);
        if (!r)
                return rc;
        a->merge_id = opt_i64(r, 0, 0);
        PQclear(r);
        a->res->survivor = survivor;
        a->res->absorbed = absorbed;
        changed(a, survivor);
        changed(a, absorbed);
        return 0;
}

/* Move the records refs (JSON [{agency, record_id}]) that are under `from` to `to`, with their
 * statements and the weak keys they brought; an identifier moves when the moved records assert
 * it and none of those left does (one both assert stays with `from`). */
static int move_records(hub_store_t *s, int64_t from, int64_t to, const char *refs,
                        hub_err_t *err)
{
#define M "WITH m AS (SELECT x->>'agency' AS agency, x->>'record_id' AS record_id " \
          "FROM jsonb_array_elements($3::jsonb) x) "
        static const char *const moves[] = {
                M "UPDATE records r SET entity_id = $2::bigint FROM m WHERE r.agency = m.agency "
                  "AND r.record_id = m.record_id AND r.entity_id = $1::bigint",
                M "UPDATE statements t SET entity_id = $2::bigint FROM m WHERE t.agency = "
                  "m.agency AND t.record_id = m.record_id AND t.entity_id = $1::bigint",
                M "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) SELECT "
                  "k.kind, k.value, $2::bigint, k.agency, k.record_id FROM match_keys k JOIN m "
                  "ON k.agency = m.agency AND k.record_id = m.record_id WHERE k.entity_id = "
                  "$1::bigint ON CONFLICT DO NOTHING",
                M "DELETE FROM match_keys k USING m WHERE k.entity_id = $1::bigint AND k.agency "
                  "= m.agency AND k.record_id = m.record_id",
                "UPDATE identifiers i SET entity_id = $2::bigint WHERE i.entity_id = $1::bigint "
                "AND length($3) > 0 AND EXISTS (SELECT 1 FROM statements t WHERE t.entity_id = "
                "$2::bigint AND t.prop = 'identifier:' || i.type AND t.value = i.value) AND NOT "
                "EXISTS (SELECT 1 FROM statements t WHERE t.entity_id = $1::bigint AND t.prop = "
                "'identifier:' || i.type AND t.value = i.value)",
        };
#undef M
        char fs[24], ts[24];
        fmt(fs, sizeof(fs), from);
        fmt(ts, sizeof(ts), to);
        const char *p[3] = {fs, ts, refs};
        /* Typed: some statements use only $1 and $3. 20 is int8's oid, 25 text's. */
        static const Oid types[3] = {20, 20, 25};
        for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
                PGresult *r = PQexecParams(hub_store_conn(s), moves[i], 3, types, p, NULL, NULL,
                                           0);
                int rc = hub_store_check(s, r, PGRES_COMMAND_OK, "move records between entities",
                                         err);
                PQclear(r);
                if (rc)
                        return rc;
        }
        return 0;
}

static char *refs_json(const hub_judgement_t *j)
{
        json_t *a = json_array();
        for (size_t i = 0; a && i < j->n_records; i++)
                json_array_append_new(a, json_pack("{s:s, s:s}", "agency", j->records[i].agency,
                                                   "record_id", j->records[i].record_id));
        char *t = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(a);
        return t;
}

static int apply_same(struct apply *a, hub_err_t *err)
{
        int64_t x, y, ns;
        int rc;
        if ((rc = canonical(a->s, a->j->entity_a, &x, err)) ||
            (rc = canonical(a->s, a->j->entity_b, &y, err)))
                return rc;
        if (x == y)
                return REFUSE("E%" PRId64 " and E%" PRId64 " are already one entity (E%" PRId64 ")",
                              a->j->entity_a, a->j->entity_b, x);
        if ((rc = not_same_over(a, x, y, &ns, err)))
                return rc;
        if (ns)
                return REFUSE("judgement %" PRId64 " says E%" PRId64 " and E%" PRId64
                              " are not the same: undo it first (hubctl judge undo %" PRId64 ")",
                              ns, x, y, ns);
        /* What the absorbed entity holds now is what undoing this merge gives back. */
        char as[24];
        fmt(as, sizeof(as), x < y ? y : x);
        const char *p[1] = {as};
        PGresult *r = run(a->s,
                          "SELECT coalesce(jsonb_agg(jsonb_build_object('agency', agency, "
                          "'record_id', record_id) ORDER BY agency, record_id), '[]')::text "
                          "FROM records WHERE entity_id = $1",
                          1, p, PGRES_TUPLES_OK, "read the records of an entity", &rc, err);
        if (!r)
                return rc;
        a->moved = strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!a->moved)
                return NOMEM();
        return merge(a, x, y, "same", err);
}

static int apply_not_same(struct apply *a, hub_err_t *err)
{
        int64_t x, y, ns;
        int rc;
        if ((rc = canonical(a->s, a->j->entity_a, &x, err)) ||
            (rc = canonical(a->s, a->j->entity_b, &y, err)))
                return rc;
        if (x == y)
                return REFUSE("E%" PRId64 " and E%" PRId64 " are one entity now (E%" PRId64
                              "): not-same cannot part them; move records out with hubctl judge "
                              "split, or undo the judgement that merged them",
                              a->j->entity_a, a->j->entity_b, x);
        if ((rc = not_same_over(a, x, y, &ns, err)))
                return rc;
        if (ns)
                return REFUSE("E%" PRId64 " and E%" PRId64 " are already judged not the same "
                              "(judgement %" PRId64 ")",
                              x, y, ns);
        char lo[24], hi[24];
        fmt(lo, sizeof(lo), x < y ? x : y);
        fmt(hi, sizeof(hi), x < y ? y : x);
        const char *p[2] = {lo, hi};
        /* The candidate that waited for this decision has it. */
        return exec(a->s,
                    "UPDATE candidates SET status = 'judged', updated_at = now() WHERE "
                    "entity_a = $1 AND entity_b = $2",
                    2, p, "close a candidate", err);
}

static int apply_split(struct apply *a, hub_err_t *err)
{
        int64_t x;
        int rc = canonical(a->s, a->j->entity_a, &x, err);
        if (rc)
                return rc;
        if (x != a->j->entity_a)
                return REFUSE("E%" PRId64 " was merged into E%" PRId64 ": split E%" PRId64,
                              a->j->entity_a, x, x);
        if ((rc = lock_entities(a->s, x, x, err)))
                return rc;
        char xs[24];
        fmt(xs, sizeof(xs), x);
        for (size_t i = 0; i < a->j->n_records; i++) {
                const char *p[2] = {a->j->records[i].agency, a->j->records[i].record_id};
                PGresult *r = run(a->s,
                                  "SELECT coalesce(hub_canonical(entity_id), 0) FROM records "
                                  "WHERE agency = $1 AND record_id = $2",
                                  2, p, PGRES_TUPLES_OK, "look up a record", &rc, err);
                if (!r)
                        return rc;
                int64_t e = PQntuples(r) ? i64(PQgetvalue(r, 0, 0)) : -1;
                PQclear(r);
                if (e < 0)
                        return REFUSE("no record %s/%s", p[0], p[1]);
                if (e != x)
                        return REFUSE("record %s/%s belongs to E%" PRId64 ", not E%" PRId64,
                                      p[0], p[1], e, x);
        }
        char *refs = refs_json(a->j);
        if (!refs)
                return NOMEM();
        const char *p[2] = {xs, refs};
        PGresult *r = run(a->s,
                          "WITH m AS (SELECT x->>'agency' AS agency, x->>'record_id' AS "
                          "record_id FROM jsonb_array_elements($2::jsonb) x) SELECT "
                          "(SELECT count(*) FROM records r WHERE r.entity_id = $1 AND NOT EXISTS "
                          "(SELECT 1 FROM m WHERE m.agency = r.agency AND m.record_id = "
                          "r.record_id)), (SELECT r.subject_kind FROM records r JOIN m ON "
                          "m.agency = r.agency AND m.record_id = r.record_id GROUP BY 1 ORDER BY "
                          "count(*) DESC, 1 LIMIT 1)",
                          2, p, PGRES_TUPLES_OK, "count what a split leaves", &rc, err);
        if (!r)
                goto out;
        if (i64(PQgetvalue(r, 0, 0)) == 0) {
                rc = REFUSE("the split would leave E%" PRId64 " without records: name fewer "
                            "records (the entity keeps its id for those it keeps)",
                            x);
                goto out;
        }
        const char *p2[2] = {PQgetvalue(r, 0, 1), xs};
        PGresult *n = run(a->s,
                          "INSERT INTO entities (kind, split_from) VALUES ($1, $2) RETURNING id",
                          2, p2, PGRES_TUPLES_OK, "create the split entity", &rc, err);
        if (!n)
                goto out;
        a->new_entity = i64(PQgetvalue(n, 0, 0));
        PQclear(n);
        if ((rc = move_records(a->s, x, a->new_entity, refs, err)))
                goto out;
        a->fresh = a->new_entity;
        a->res->from = x;
        changed(a, x);
        changed(a, a->new_entity);
out:
        PQclear(r);
        free(refs);
        return rc;
}

static int apply_undo(struct apply *a, hub_err_t *err)
{
        char us[24];
        fmt(us, sizeof(us), a->j->undoes);
        const char *p[1] = {us};
        int rc;
        PGresult *t = run(a->s,
                          "SELECT j.kind, j.entity_a, j.entity_b, j.new_entity, j.merge_id, "
                          "j.moved::text, j.revoked_at IS NOT NULL, m.survivor, m.absorbed "
                          "FROM judgements j LEFT JOIN merges m ON m.id = j.merge_id "
                          "WHERE j.id = $1 FOR UPDATE OF j",
                          1, p, PGRES_TUPLES_OK, "read the judgement to undo", &rc, err);
        if (!t)
                return rc;
        if (PQntuples(t) != 1) {
                rc = REFUSE("no judgement %" PRId64, a->j->undoes);
                goto out;
        }
        const char *kind = PQgetvalue(t, 0, 0);
        if (PQgetvalue(t, 0, 6)[0] == 't') {
                rc = REFUSE("judgement %" PRId64 " is already undone", a->j->undoes);
                goto out;
        }
        if (strcmp(kind, "undo") == 0) {
                rc = REFUSE("judgement %" PRId64 " is an undo: an undo is not undone, judge "
                            "again instead",
                            a->j->undoes);
                goto out;
        }
        if (opt_i64(t, 0, 1) != a->j->entity_a || opt_i64(t, 0, 2) != a->j->entity_b) {
                rc = REFUSE("the undo names other entities than judgement %" PRId64,
                            a->j->undoes);
                goto out;
        }
        if ((rc = exec(a->s,
                       "UPDATE judgements SET revoked_at = now() WHERE id = $1", 1, p,
                       "mark the judgement undone", err)))
                goto out;
        if (strcmp(kind, "same") == 0 && !PQgetisnull(t, 0, 4)) {
                /* The merge undone: the absorbed entity comes back with the records it had. */
                int64_t absorbed = opt_i64(t, 0, 8), from;
                if ((rc = canonical(a->s, opt_i64(t, 0, 7), &from, err)) ||
                    (rc = lock_entities(a->s, from, absorbed, err)))
                        goto out;
                char ms[24], as[24], fs[24];
                fmt(ms, sizeof(ms), opt_i64(t, 0, 4));
                fmt(as, sizeof(as), absorbed);
                fmt(fs, sizeof(fs), from);
                const char *pm[1] = {ms}, *pe[2] = {as, fs};
                if ((rc = exec(a->s, "UPDATE merges SET undone_at = now() WHERE id = $1", 1, pm,
                               "mark the merge undone", err)) ||
                    (rc = exec(a->s,
                               "UPDATE entities SET merged_into = NULL, split_from = $2, "
                               "updated_at = now() WHERE id = $1",
                               2, pe, "restore the absorbed entity", err)) ||
                    (rc = move_records(a->s, from, absorbed, PQgetvalue(t, 0, 5), err)))
                        goto out;
                a->new_entity = absorbed;
                a->res->from = from;
                changed(a, from);
                changed(a, absorbed);
        } else if (strcmp(kind, "split") == 0 && !PQgetisnull(t, 0, 3)) {
                /* The split undone: the entity it made merges back into the one it left. */
                int64_t x, y;
                if ((rc = canonical(a->s, opt_i64(t, 0, 1), &x, err)) ||
                    (rc = canonical(a->s, opt_i64(t, 0, 3), &y, err)))
                        goto out;
                if (x != y)
                        rc = merge(a, x, y, "undo split", err);
        }
        /* An undone not-same only stops forbidding: the pair may merge again. */
out:
        PQclear(t);
        return rc;
}

static int cmp_i64(const void *x, const void *y)
{
        int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
        return (a > b) - (a < b);
}

/* A tier where entity `id` was published before but has nothing visible any more (a split
 * took every record of that tier out): views.c writes no view there, so the tier's subscribers
 * would keep the old copy, with identifiers that moved to another entity. It gets a withdrawn
 * view at the new version instead (the subscriber deletes its copy). */
static int withdraw_vanished(hub_store_t *s, const hub_key_t *hub_key, int64_t id,
                             size_t *rows, hub_err_t *err)
{
        char ids[24];
        fmt(ids, sizeof(ids), id);
        const char *p[1] = {ids};
        int rc;
        PGresult *r = run(s,
                          "SELECT DISTINCT o.topic, e.kind, e.version, e.split_from, "
                          "floor(extract(epoch FROM e.updated_at) * 1000)::bigint FROM outbox o "
                          "JOIN entities e ON e.id = o.entity_id WHERE o.entity_id = $1 AND "
                          "o.topic LIKE 'hub.entities.%' AND NOT EXISTS (SELECT 1 FROM outbox n "
                          "WHERE n.entity_id = $1 AND n.topic = o.topic AND n.version = "
                          "e.version) ORDER BY 1",
                          1, p, PGRES_TUPLES_OK, "look for tiers an entity left", &rc, err);
        if (!r)
                return rc;
        hub_entity_codec_t *codec = NULL;
        if (PQntuples(r) && (rc = hub_entity_codec_new(&codec, err)))
                goto out;
        for (int t = 0; !rc && t < PQntuples(r); t++) {
                int tier = -1;
                for (int i = 0; i < HUB_TIER__COUNT; i++)
                        if (strcmp(PQgetvalue(r, t, 0) + strlen("hub.entities."),
                                   hub_tier_topic_suffix(i)) == 0)
                                tier = i;
                if (tier < 0)
                        continue;
                char eid[32], split[32];
                snprintf(eid, sizeof(eid), "E%s", ids);
                snprintf(split, sizeof(split), "E%s", PQgetvalue(r, t, 3));
                json_t *view = json_pack(
                        "{s:s, s:s, s:I, s:s, s:[], s:[], s:[], s:[], s:n, s:o, s:b, s:I}",
                        "entity_id", eid, "kind", PQgetvalue(r, t, 1), "version",
                        (json_int_t)i64(PQgetvalue(r, t, 2)), "tier", hub_tier_name(tier),
                        "names", "identifiers", "categories", "sources", "merged_into",
                        "split_from",
                        PQgetisnull(r, t, 3) ? json_null() : json_string(split), "withdrawn",
                        1, "updated_at", (json_int_t)i64(PQgetvalue(r, t, 4)));
                unsigned char *env = NULL;
                size_t env_len = 0;
                rc = view ? hub_entity_sign_json(codec, view, hub_key, &env, &env_len, err)
                          : NOMEM();
                json_decref(view);
                if (rc)
                        break;
                const char *pv[5] = {PQgetvalue(r, t, 0), eid, (const char *)env, ids,
                                     PQgetvalue(r, t, 2)};
                int lens[5] = {0, (int)strlen(eid), (int)env_len, 0, 0};
                int fmts[5] = {0, 1, 1, 0, 0};
                PGresult *w = PQexecParams(hub_store_conn(s),
                                           "INSERT INTO outbox (topic, key, payload, entity_id, "
                                           "version) VALUES ($1, $2, $3, $4, $5)",
                                           5, NULL, pv, lens, fmts, 0);
                rc = hub_store_check(s, w, PGRES_COMMAND_OK, "queue a withdrawn view", err);
                PQclear(w);
                *rows += !rc;
                free(env);
        }
out:
        hub_entity_codec_free(codec);
        PQclear(r);
        return rc;
}

static int republish(struct apply *a, const hub_key_t *hub_key, hub_err_t *err)
{
        if (!a->n_changed)
                return 0;
        qsort(a->changed, a->n_changed, sizeof(int64_t), cmp_i64);
        char arr[128] = "{";
        for (size_t i = 0; i < a->n_changed; i++)
                if (a->changed[i] != a->fresh)
                        snprintf(arr + strlen(arr), sizeof(arr) - strlen(arr), "%s%" PRId64,
                                 arr[1] ? "," : "", a->changed[i]);
        strcat(arr, "}");
        const char *p[1] = {arr};
        int rc = exec(a->s,
                      "UPDATE entities SET version = version + 1, updated_at = now() WHERE id "
                      "IN (SELECT id FROM entities WHERE id = ANY($1::bigint[]) ORDER BY id "
                      "FOR UPDATE)",
                      1, p, "bump entity versions", err);
        if (rc)
                return rc;
        hub_views_t *v = NULL;
        if ((rc = hub_views_new(hub_key, &v, err)))
                return rc;
        rc = hub_views_write(v, a->s, a->changed, a->n_changed, &a->res->outbox, err);
        hub_views_free(v);
        if (!rc && a->res->from)
                rc = withdraw_vanished(a->s, hub_key, a->res->from, &a->res->outbox, err);
        return rc;
}

int hub_judgement_apply(hub_store_t *s, const hub_key_t *hub_key, const hub_judgement_t *j,
                        const uint8_t sig[HUB_SIG_BYTES], hub_judgement_result_t *res,
                        hub_err_t *err)
{
        memset(res, 0, sizeof(*res));
        struct apply a = {.s = s, .j = j, .res = res};
        char *sigx = NULL, *refs = NULL;
        PGresult *r = NULL;
        int rc = hub_judgement_check(j, err);
        if (rc)
                return rc;
        if (!hub_key || !hub_key->has_secret)
                return hub_err_set(err, HUB_E_KEY, false, "judgement",
                                   "republishing the entities needs the hub's secret key");
        sigx = hex(sig, HUB_SIG_BYTES);
        refs = refs_json(j);
        if (!sigx || !refs) {
                rc = NOMEM();
                goto done;
        }
        if ((rc = hub_store_begin(s, err)))
                goto done;
        /* Judgements change entities: serialised with ingest's resolution like any merge. */
        if ((rc = hub_merge_lock(s, err)))
                goto out;
        const char *pk_p[2] = {j->analyst, j->key_id};
        r = run(s,
                "SELECT public_key, revoked_at, revoked_reason FROM analyst_keys WHERE analyst "
                "= $1 AND key_id = $2 FOR SHARE",
                2, pk_p, PGRES_TUPLES_OK, "look up the analyst's key", &rc, err);
        if (!r)
                goto out;
        uint8_t pk[HUB_PK_BYTES];
        if (PQntuples(r) != 1) {
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "could not verify the judgement: analyst %s has no registered "
                                 "key %s",
                                 j->analyst, j->key_id);
                goto out;
        }
        if (!PQgetisnull(r, 0, 1)) {
                char ts[HUB_TIMESTAMP_MAX];
                rc = hub_err_set(err, HUB_E_KEY, false, "judgement",
                                 "could not verify the judgement: key %s of analyst %s revoked "
                                 "at %s (%s)",
                                 j->key_id, j->analyst,
                                 hub_timestamp_format(i64(PQgetvalue(r, 0, 1)), ts),
                                 PQgetvalue(r, 0, 2));
                goto out;
        }
        if (!unhex(PQgetvalue(r, 0, 0), pk, sizeof(pk))) {
                rc = hub_err_set(err, HUB_E_DB, false, "judgement", "bad stored public key");
                goto out;
        }
        PQclear(r);
        r = NULL;
        if ((rc = hub_judgement_verify(j, pk, sig, err))) {
                hub_err_prefix(err, "could not verify the judgement");
                goto out;
        }
        const char *ps[1] = {sigx};
        r = run(s, "SELECT id FROM judgements WHERE signature = $1::bytea", 1, ps,
                PGRES_TUPLES_OK, "look for a replay", &rc, err);
        if (!r)
                goto out;
        if (PQntuples(r)) {
                rc = REFUSE("this signed judgement is already stored (judgement %s)",
                            PQgetvalue(r, 0, 0));
                goto out;
        }
        PQclear(r);
        char ea[24], eb[24], un[24], at[24];
        fmt(ea, sizeof(ea), j->entity_a);
        fmt(eb, sizeof(eb), j->entity_b);
        fmt(un, sizeof(un), j->undoes);
        fmt(at, sizeof(at), j->signed_at_us);
        const char *pi[10] = {j->kind,     ea,         j->entity_b ? eb : NULL,
                              j->analyst,  j->key_id,  j->reason,
                              sigx,        refs,       j->undoes ? un : NULL,
                              at};
        r = run(s,
                "INSERT INTO judgements (kind, entity_a, entity_b, analyst, key_id, reason, "
                "signature, records, undoes, signed_at) VALUES ($1, $2, $3, $4, $5, $6, "
                "$7::bytea, $8::jsonb, $9, $10) RETURNING id",
                10, pi, PGRES_TUPLES_OK, "store the judgement", &rc, err);
        if (!r)
                goto out;
        snprintf(a.id, sizeof(a.id), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        r = NULL;
        res->id = i64(a.id);
        if (strcmp(j->kind, "same") == 0)
                rc = apply_same(&a, err);
        else if (strcmp(j->kind, "not-same") == 0)
                rc = apply_not_same(&a, err);
        else if (strcmp(j->kind, "split") == 0)
                rc = apply_split(&a, err);
        else
                rc = apply_undo(&a, err);
        if (rc)
                goto out;
        if ((rc = republish(&a, hub_key, err)))
                goto out;
        uint8_t *body = NULL;
        size_t len = 0;
        char ref[48], ne[24], mi[24], li[24];
        snprintf(ref, sizeof(ref), "judgement/%s", a.id);
        if ((rc = hub_judgement_leaf_body(j, sig, pk, res->id, a.new_entity, a.merge_id, &body,
                                          &len, err)) ||
            (rc = append_leaf(s, ref, body, len, &res->leaf_index, err)))
                goto out;
        fmt(ne, sizeof(ne), a.new_entity);
        fmt(mi, sizeof(mi), a.merge_id);
        fmt(li, sizeof(li), res->leaf_index);
        const char *pu[5] = {a.id, a.new_entity ? ne : NULL, a.merge_id ? mi : NULL,
                             a.moved ? a.moved : "[]", li};
        if ((rc = exec(s,
                       "UPDATE judgements SET new_entity = $2, merge_id = $3, moved = "
                       "$4::jsonb, leaf_index = $5 WHERE id = $1",
                       5, pu, "record what the judgement did", err)))
                goto out;
        res->new_entity = a.new_entity;
        rc = hub_store_commit(s, err);
out:
        if (rc)
                hub_store_rollback(s);
done:
        PQclear(r);
        free(sigx);
        free(refs);
        free(a.moved);
        return rc;
}

int hub_judgement_get(hub_store_t *s, int64_t id, bool *found, char kind[16], int64_t *entity_a,
                      int64_t *entity_b, hub_err_t *err)
{
        char ids[24];
        fmt(ids, sizeof(ids), id);
        const char *p[1] = {ids};
        int rc;
        PGresult *r = run(s, "SELECT kind, entity_a, entity_b FROM judgements WHERE id = $1", 1,
                          p, PGRES_TUPLES_OK, "read a judgement", &rc, err);
        if (!r)
                return rc;
        *found = PQntuples(r) == 1;
        if (*found) {
                snprintf(kind, 16, "%s", PQgetvalue(r, 0, 0));
                *entity_a = opt_i64(r, 0, 1);
                *entity_b = opt_i64(r, 0, 2);
        }
        PQclear(r);
        return 0;
}

int hub_judgement_list(hub_store_t *s, int64_t entity,
                       int (*row)(const hub_judgement_row_t *j, void *arg), void *arg,
                       hub_err_t *err)
{
        char es[24];
        fmt(es, sizeof(es), entity);
        const char *p[1] = {es};
        int rc;
        PGresult *r = run(s,
                          "SELECT id, kind, entity_a, entity_b, new_entity, undoes, merge_id, "
                          "records::text, analyst, key_id, reason, "
                          "(extract(epoch FROM created_at) * 1000000)::int8, "
                          "(extract(epoch FROM revoked_at) * 1000000)::int8, leaf_index "
                          "FROM judgements WHERE $1::bigint = 0 OR $1 IN (entity_a, entity_b, "
                          "new_entity) OR $1 IN (hub_canonical(entity_a), "
                          "hub_canonical(entity_b)) ORDER BY id",
                          1, p, PGRES_TUPLES_OK, "list judgements", &rc, err);
        for (int t = 0; r && !rc && t < PQntuples(r); t++) {
                hub_judgement_row_t j = {
                        i64(PQgetvalue(r, t, 0)),
                        PQgetvalue(r, t, 1),
                        opt_i64(r, t, 2),
                        opt_i64(r, t, 3),
                        opt_i64(r, t, 4),
                        opt_i64(r, t, 5),
                        opt_i64(r, t, 6),
                        PQgetvalue(r, t, 7),
                        PQgetvalue(r, t, 8),
                        PQgetvalue(r, t, 9),
                        PQgetvalue(r, t, 10),
                        i64(PQgetvalue(r, t, 11)),
                        PQgetisnull(r, t, 12) ? HUB_TS_NONE : i64(PQgetvalue(r, t, 12)),
                        PQgetisnull(r, t, 13) ? -1 : i64(PQgetvalue(r, t, 13)),
                };
                rc = row(&j, arg);
        }
        PQclear(r);
        return rc;
}

/* ---- checking against the log ---- */

struct check {
        hub_store_t *s;
        void (*problem)(const hub_mlog_problem_t *p, void *arg);
        void *arg;
        uint64_t *problems;
};

static void report(struct check *c, const char *what, const char *ref, const char *msg)
{
        (*c->problems)++;
        hub_mlog_problem_t p = {what, ref, msg};
        if (c->problem)
                c->problem(&p, c->arg);
}

/* Whether the leaf at idx holds exactly kind 3 with this body. */
static int leaf_matches(struct check *c, int64_t idx, const uint8_t *body, size_t len,
                        bool *ok, hub_err_t *err)
{
        uint8_t *data = NULL;
        size_t n = 0;
        int rc = hub_mlog_leaf(HUB_MLOG_JUDGEMENT, body, len, &data, &n, err);
        if (rc)
                return rc;
        char is[24];
        fmt(is, sizeof(is), idx);
        const char *p[1] = {is};
        PGresult *r = PQexecParams(hub_store_conn(c->s),
                                   "SELECT data FROM log_leaves WHERE idx = $1 AND kind = 3", 1,
                                   NULL, p, NULL, NULL, 1);
        rc = hub_store_check(c->s, r, PGRES_TUPLES_OK, "read a judgement leaf", err);
        *ok = !rc && PQntuples(r) == 1 && (size_t)PQgetlength(r, 0, 0) == n &&
              memcmp(PQgetvalue(r, 0, 0), data, n) == 0;
        PQclear(r);
        free(data);
        return rc;
}

static int check_judgements(struct check *c, hub_err_t *err)
{
        int rc;
        PGresult *r = run(c->s,
                          "SELECT j.id, j.kind, j.entity_a, j.entity_b, j.records::text, "
                          "j.undoes, j.analyst, j.key_id, j.reason, j.signed_at, j.signature, "
                          "j.new_entity, j.merge_id, j.leaf_index, k.public_key, "
                          "j.revoked_at IS NOT NULL, EXISTS (SELECT 1 FROM judgements u WHERE "
                          "u.kind = 'undo' AND u.undoes = j.id) FROM judgements j LEFT JOIN "
                          "analyst_keys k ON k.analyst = j.analyst AND k.key_id = j.key_id "
                          "ORDER BY j.id",
                          0, NULL, PGRES_TUPLES_OK, "read judgements", &rc, err);
        for (int t = 0; r && !rc && t < PQntuples(r); t++) {
                char ref[48], msg[256];
                snprintf(ref, sizeof(ref), "judgements %s", PQgetvalue(r, t, 0));
                json_t *recs = json_loads(PQgetvalue(r, t, 4), 0, NULL);
                size_t n = json_array_size(recs);
                hub_judgement_ref_t *rv = calloc(n + 1, sizeof(*rv));
                if (!rv) {
                        json_decref(recs);
                        rc = NOMEM();
                        break;
                }
                for (size_t i = 0; i < n; i++) {
                        json_t *o = json_array_get(recs, i);
                        rv[i].agency = json_string_value(json_object_get(o, "agency"));
                        rv[i].record_id = json_string_value(json_object_get(o, "record_id"));
                }
                hub_judgement_t j = {PQgetvalue(r, t, 1), opt_i64(r, t, 2), opt_i64(r, t, 3), rv,
                                     n, opt_i64(r, t, 5), PQgetvalue(r, t, 6),
                                     PQgetvalue(r, t, 7), PQgetvalue(r, t, 8),
                                     opt_i64(r, t, 9)};
                uint8_t sig[HUB_SIG_BYTES], pk[HUB_PK_BYTES];
                hub_err_t e = {0};
                bool have_sig = unhex(PQgetvalue(r, t, 10), sig, sizeof(sig));
                bool have_pk = unhex(PQgetvalue(r, t, 14), pk, sizeof(pk));
                if (!have_pk) {
                        report(c, "judgement", ref, "signed with a key no analyst has");
                } else if (!have_sig || hub_judgement_verify(&j, pk, sig, &e)) {
                        snprintf(msg, sizeof(msg), "the row does not verify with key %s of "
                                 "analyst %s: changed after it was signed",
                                 j.key_id, j.analyst);
                        report(c, "judgement", ref, msg);
                }
                if (PQgetisnull(r, t, 13)) {
                        report(c, "judgement", ref, "not committed to the log");
                } else if (have_pk && have_sig) {
                        uint8_t *body = NULL;
                        size_t len = 0;
                        bool ok = false;
                        e = (hub_err_t){0};
                        if (hub_judgement_leaf_body(&j, sig, pk, i64(PQgetvalue(r, t, 0)),
                                                    opt_i64(r, t, 11), opt_i64(r, t, 12), &body,
                                                    &len, &e) == 0)
                                rc = leaf_matches(c, i64(PQgetvalue(r, t, 13)), body, len, &ok,
                                                  err);
                        free(body);
                        if (!rc && !ok) {
                                snprintf(msg, sizeof(msg),
                                         "the row differs from what leaf %s commits to",
                                         PQgetvalue(r, t, 13));
                                report(c, "judgement", ref, msg);
                        }
                }
                if ((PQgetvalue(r, t, 15)[0] == 't') != (PQgetvalue(r, t, 16)[0] == 't'))
                        report(c, "judgement", ref,
                               PQgetvalue(r, t, 15)[0] == 't'
                                       ? "marked undone, but no undo judgement undoes it"
                                       : "an undo judgement undoes it, but it is not marked "
                                         "undone");
                free(rv);
                json_decref(recs);
        }
        PQclear(r);
        return rc;
}

static int check_keys(struct check *c, hub_err_t *err)
{
        int rc;
        PGresult *r = run(c->s,
                          "SELECT analyst, key_id, public_key, registered_at, register_leaf, "
                          "revoked_at, revoked_reason, revoke_leaf FROM analyst_keys ORDER BY "
                          "1, 2",
                          0, NULL, PGRES_TUPLES_OK, "read analyst keys", &rc, err);
        for (int t = 0; r && !rc && t < PQntuples(r); t++) {
                char ref[160];
                snprintf(ref, sizeof(ref), "analyst_keys %s %s", PQgetvalue(r, t, 0),
                         PQgetvalue(r, t, 1));
                uint8_t pk[HUB_PK_BYTES] = {0};
                unhex(PQgetvalue(r, t, 2), pk, sizeof(pk));
                for (int ev = HUB_JUDGEMENT_LEAF_KEY_REGISTER;
                     !rc && ev <= HUB_JUDGEMENT_LEAF_KEY_REVOKE; ev++) {
                        bool reg = ev == HUB_JUDGEMENT_LEAF_KEY_REGISTER;
                        int at_col = reg ? 3 : 5, leaf_col = reg ? 4 : 7;
                        if (!reg && PQgetisnull(r, t, 5) && PQgetisnull(r, t, 7))
                                continue;
                        if (!reg && (PQgetisnull(r, t, 5) || PQgetisnull(r, t, 7))) {
                                report(c, "analyst-key", ref,
                                       "revoked_at differs from its logged revocation");
                                continue;
                        }
                        uint8_t *body = NULL;
                        size_t len = 0;
                        bool ok = false;
                        hub_err_t e = {0};
                        if (hub_judgement_key_leaf_body(ev, PQgetvalue(r, t, 0),
                                                        PQgetvalue(r, t, 1), pk,
                                                        i64(PQgetvalue(r, t, at_col)),
                                                        PQgetvalue(r, t, 6), &body, &len,
                                                        &e) == 0)
                                rc = leaf_matches(c, i64(PQgetvalue(r, t, leaf_col)), body, len,
                                                  &ok, err);
                        free(body);
                        if (!rc && !ok)
                                report(c, "analyst-key", ref,
                                       reg ? "the row differs from its logged registration"
                                           : "the row differs from its logged revocation");
                }
        }
        PQclear(r);
        return rc;
}

static int check_orphans(struct check *c, hub_err_t *err)
{
        int rc;
        PGresult *r = run(c->s,
                          "SELECT idx, ref FROM log_leaves l WHERE kind = 3 AND NOT EXISTS "
                          "(SELECT 1 FROM judgements j WHERE j.leaf_index = l.idx) AND NOT "
                          "EXISTS (SELECT 1 FROM analyst_keys k WHERE l.idx IN "
                          "(k.register_leaf, k.revoke_leaf)) ORDER BY idx LIMIT 100",
                          0, NULL, PGRES_TUPLES_OK, "look for judgement leaves without rows",
                          &rc, err);
        for (int t = 0; r && t < PQntuples(r); t++) {
                char ref[48];
                snprintf(ref, sizeof(ref), "log_leaves %s", PQgetvalue(r, t, 0));
                char msg[256];
                snprintf(msg, sizeof(msg), "commits to %s, which is not stored (row deleted?)",
                         PQgetvalue(r, t, 1));
                report(c, "judgement", ref, msg);
        }
        PQclear(r);
        return rc;
}

int hub_judgement_verify_log(hub_store_t *s,
                             void (*problem)(const hub_mlog_problem_t *p, void *arg), void *arg,
                             uint64_t *problems, hub_err_t *err)
{
        struct check c = {s, problem, arg, problems};
        int rc = check_judgements(&c, err);
        if (!rc)
                rc = check_keys(&c, err);
        if (!rc)
                rc = check_orphans(&c, err);
        return rc;
}
