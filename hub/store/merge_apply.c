/* Applying a record's outcome: merges (every row of the absorbed entity moves to the
 * survivor), the demotion of a transposed personal id, the displayed kind, and the record's
 * weak keys. Writes are sent without waiting (the pipeline); only demote_transposed reads. */
#include "merge_internal.h"

#include <stdio.h>
#include <string.h>

/* Every row of entity $2 moves to entity $1: what a merge and a stale entity share. */
static const char *const row_moves[] = {
        "UPDATE identifiers SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
        "UPDATE statements SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
        "UPDATE records SET entity_id = $1::bigint WHERE entity_id = $2::bigint",
        "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) SELECT kind, value, "
        "$1::bigint, agency, record_id FROM match_keys WHERE entity_id = $2::bigint "
        "ON CONFLICT DO NOTHING",
        "DELETE FROM match_keys WHERE entity_id = $2::bigint",
};

/* Entity redirects, links and candidates of a merge of $2 into $1. */
static const char *const merge_moves[] = {
        /* Earlier redirects to x now point at s: merged_into is never two steps. */
        "UPDATE entities SET merged_into = $1::bigint WHERE merged_into = $2::bigint",
        "UPDATE entities SET merged_into = $1::bigint, updated_at = now() WHERE id = $2::bigint",
        /* Links and candidates between the two are now inside one entity. */
        "DELETE FROM links WHERE entity_a = $1::bigint AND entity_b = $2::bigint",
        "UPDATE candidates SET status = 'merged', updated_at = now() "
        "WHERE entity_a = $1::bigint AND entity_b = $2::bigint",
        "INSERT INTO links (entity_a, entity_b, kind, evidence, agency, record_id, created_at) "
        "SELECT least(o, $1::bigint), greatest(o, $1::bigint), kind, evidence, agency, "
        "record_id, created_at FROM (SELECT CASE WHEN entity_a = $2::bigint THEN entity_b ELSE "
        "entity_a END AS o, * FROM links WHERE entity_a = $2::bigint OR entity_b = $2::bigint) l "
        "WHERE o <> $1::bigint ON CONFLICT DO NOTHING",
        "DELETE FROM links WHERE entity_a = $2::bigint OR entity_b = $2::bigint",
        "INSERT INTO candidates (entity_a, entity_b, score, breakdown, status, agency, "
        "record_id, created_at) SELECT least(o, $1::bigint), greatest(o, $1::bigint), score, "
        "breakdown, status, agency, record_id, created_at FROM (SELECT CASE WHEN entity_a = "
        "$2::bigint THEN entity_b ELSE entity_a END AS o, * FROM candidates WHERE (entity_a = "
        "$2::bigint OR entity_b = $2::bigint)) k WHERE o <> $1::bigint ON CONFLICT DO NOTHING",
        "DELETE FROM candidates WHERE (entity_a = $2::bigint OR entity_b = $2::bigint) AND NOT "
        "(entity_a = $1::bigint AND entity_b = $2::bigint)",
};

/* Send stmts[0..n) with $1 = to, $2 = from (typed: some use only $2). */
static int send_moves(struct ctx *c, const char *const *stmts, size_t n, int64_t to,
                      int64_t from, const char *what, hub_err_t *err)
{
        static const Oid types[2] = {MERGE_INT8_OID, MERGE_INT8_OID};
        char ts[24], fs[24];
        merge_fmt_i64(ts, sizeof(ts), to);
        merge_fmt_i64(fs, sizeof(fs), from);
        const char *p[2] = {ts, fs};
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++)
                rc = hub_pipe_send(&c->pipe, stmts[i], 2, types, p, PGRES_COMMAND_OK, NULL, NULL,
                                   what, err);
        return rc;
}

/* Rows stored under an entity that a concurrent transaction merged after ingest.c looked it
 * up follow it to the survivor. */
int merge_follow(struct ctx *c, int64_t survivor, int64_t stale, hub_err_t *err)
{
        merge_note_all(c);
        return send_moves(c, row_moves, sizeof(row_moves) / sizeof(row_moves[0]), survivor,
                          stale, "follow a merge", err);
}

/* Absorb x into s (s < x): every row of x moves, its redirects follow, the merge is logged. */
int merge_absorb(struct ctx *c, int64_t s, int64_t x, const char *rule, const char *ev,
                 const char *review, hub_err_t *err)
{
        merge_note_entity(c, s);
        merge_note_entity(c, x);
        int rc = send_moves(c, merge_moves, 2, s, x, "merge entities", err);
        if (!rc)
                rc = send_moves(c, row_moves, sizeof(row_moves) / sizeof(row_moves[0]), s, x,
                                "merge entities", err);
        if (!rc)
                rc = send_moves(c, merge_moves + 2,
                                sizeof(merge_moves) / sizeof(merge_moves[0]) - 2, s, x,
                                "merge entities", err);
        if (rc)
                return rc;
        char ss[24], xs[24];
        merge_fmt_i64(ss, sizeof(ss), s);
        merge_fmt_i64(xs, sizeof(xs), x);
        const char *p[7] = {ss, xs, rule, ev, review, c->x->agency, c->x->record_id};
        c->stats->merges++;
        return merge_send(c,
                          "INSERT INTO merges (survivor, absorbed, rule, evidence, review, "
                          "agency, record_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          7, p, "record a merge", err);
}

/* Of an entity's personal ids one adjacent swap apart, which one is the typing slip
 * (hub/store/README.md, "Transposed personal ids"): ranked by the distinct records asserting
 * each, then the earliest `reported_at` among them, then byte order; a value one swap from a
 * better-ranked kept value is demoted (no longer an identifier, its statements flagged
 * SUSPECT_TRANSPOSITION: statements.flag, never valid/reason, which the record's log leaf
 * committed). The rest are kept: a value demoted earlier, when the facts had not yet come in, is
 * restored (its flag cleared, its identifier row back unless another entity holds it). Evaluated
 * again from all statements whenever a record with a personal id reaches the entity or a merge
 * carried a review note, so the outcome does not depend on which record came first. */
int merge_demote_transposed(struct ctx *c, int64_t s, hub_err_t *err)
{
        char ss[24];
        merge_fmt_i64(ss, sizeof(ss), s);
        const char *p[1] = {ss};
        PGresult *r = NULL;
        int rc = merge_read(c,
                            "SELECT st.value, bool_or(st.flag IS NOT NULL), "
                            "NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.type = 'PERSONAL_ID' "
                            "AND i.value = st.value AND i.entity_id = $1) "
                            "FROM statements st JOIN records r ON r.agency = st.agency AND "
                            "r.record_id = st.record_id WHERE st.entity_id = $1 AND st.prop = "
                            "'identifier:PERSONAL_ID' AND st.valid GROUP BY st.value "
                            "ORDER BY count(DISTINCT (st.agency, st.record_id)) DESC, "
                            "min(r.reported_at) NULLS LAST, st.value",
                            1, p, &r, "read personal ids", err);
        if (rc)
                return rc;
        int n = PQntuples(r);
        bool *demoted = n > 1 ? hub_arena_alloc(c->a, (size_t)n * sizeof(bool)) : NULL;
        if (n > 1 && !demoted) {
                PQclear(r);
                return MERGE_NOMEM(err);
        }
        for (int i = 0; n > 1 && i < n && !rc; i++) {
                const char *v = PQgetvalue(r, i, 0);
                bool flagged = PQgetvalue(r, i, 1)[0] == 't',
                     no_id = PQgetvalue(r, i, 2)[0] == 't';
                demoted[i] = false;
                for (int j = 0; j < i && !demoted[i]; j++)
                        demoted[i] = !demoted[j] &&
                                     hub_resolve_is_transposition(PQgetvalue(r, j, 0), v);
                const char *p2[2] = {ss, v};
                if (demoted[i] && (!no_id || !flagged)) {
                        merge_note_entity(c, s);
                        merge_note_value(c, "PERSONAL_ID", v);
                        rc = merge_send(c,
                                        "DELETE FROM identifiers WHERE type = 'PERSONAL_ID' AND "
                                        "value = $2 AND entity_id = $1",
                                        2, p2, "demote a transposed personal id", err);
                        if (!rc)
                                rc = merge_send(c,
                                                "UPDATE statements SET flag = "
                                                "'SUSPECT_TRANSPOSITION' WHERE entity_id = $1 AND "
                                                "prop = 'identifier:PERSONAL_ID' AND value = $2 "
                                                "AND flag IS NULL",
                                                2, p2, "flag a transposed personal id", err);
                } else if (!demoted[i] && flagged) {
                        merge_note_entity(c, s);
                        merge_note_value(c, "PERSONAL_ID", v);
                        rc = merge_send(c,
                                        "UPDATE statements SET flag = NULL WHERE entity_id = $1 "
                                        "AND prop = 'identifier:PERSONAL_ID' AND value = $2 AND "
                                        "flag = 'SUSPECT_TRANSPOSITION'",
                                        2, p2, "restore a personal id", err);
                        if (!rc && no_id)
                                rc = merge_send(c,
                                                "INSERT INTO identifiers (type, value, entity_id) "
                                                "VALUES ('PERSONAL_ID', $2, $1) "
                                                "ON CONFLICT DO NOTHING",
                                                2, p2, "restore a personal id", err);
                }
        }
        PQclear(r);
        return rc;
}

/* The displayed kind (hub/store/README.md): a party kind (organisation, household, person,
 * branch) over an asset kind (website, shop, account), then the most records, then the latest. */
int merge_update_kind(struct ctx *c, int64_t s, hub_err_t *err)
{
        char ss[24];
        merge_fmt_i64(ss, sizeof(ss), s);
        const char *p[1] = {ss};
        return merge_send(c,
                          "UPDATE entities SET kind = k.subject_kind FROM (SELECT subject_kind "
                          "FROM records WHERE entity_id = $1 GROUP BY subject_kind ORDER BY "
                          "subject_kind IN ('ORGANIZATION', 'HOUSEHOLD_BUSINESS', 'INDIVIDUAL', "
                          "'BRANCH') DESC, count(*) DESC, max(reported_at) DESC NULLS LAST, "
                          "subject_kind LIMIT 1) k WHERE id = $1 AND kind <> k.subject_kind",
                          1, p, "update the entity kind", err);
}

int merge_store_weak(struct ctx *c, int64_t s, hub_err_t *err)
{
        const hub_extract_t *x = c->x;
        if (!x->n_weak)
                return 0;
        const char **k = hub_arena_alloc(c->a, x->n_weak * sizeof(char *));
        const char **v = hub_arena_alloc(c->a, x->n_weak * sizeof(char *));
        if (!k || !v)
                return MERGE_NOMEM(err);
        merge_note_entity(c, s);
        for (size_t i = 0; i < x->n_weak; i++) {
                k[i] = x->weak[i].kind;
                v[i] = x->weak[i].value;
                merge_note_value(c, k[i], v[i]);
        }
        hub_array_text(&c->arr, k, x->n_weak);
        hub_array_text(&c->arr2, v, x->n_weak);
        if (c->arr.failed || c->arr2.failed)
                return MERGE_NOMEM(err);
        char ss[24];
        merge_fmt_i64(ss, sizeof(ss), s);
        const char *p[5] = {hub_sqlbuf_str(&c->arr), hub_sqlbuf_str(&c->arr2), ss, x->agency,
                            x->record_id};
        return merge_send(c,
                          "INSERT INTO match_keys (kind, value, entity_id, agency, record_id) "
                          "SELECT k, v, $3, $4, $5 FROM unnest($1::text[], $2::text[]) AS u(k, v) "
                          "ON CONFLICT DO NOTHING",
                          5, p, "store weak keys", err);
}
