/* What resolution records besides merges: links (relationships that are not identity),
 * candidates for an analyst with their score, and noisy values. All are writes sent without
 * waiting (the pipeline): the candidate facts were read with the party ids
 * (merge_party_ids). */
#include "merge_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int merge_mark_noisy(struct ctx *c, const char *type, const char *value, int64_t entities,
                     hub_err_t *err)
{
        char n[24], k[24];
        merge_fmt_i64(n, sizeof(n), entities);
        merge_fmt_i64(k, sizeof(k), c->k);
        const char *p[6] = {type, value, n, k, c->x->agency, c->x->record_id};
        c->stats->noisy++;
        merge_note_value(c, type, value);
        return merge_send(c,
                          "INSERT INTO noisy_identifiers (type, value, entities, threshold, "
                          "agency, record_id) VALUES ($1, $2, $3, $4, $5, $6) "
                          "ON CONFLICT DO NOTHING",
                          6, p, "mark a noisy identifier", err);
}

char *merge_evidence_json(const struct other *o, const hub_extract_t *x, const char *review)
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

/* The pair as (smaller, larger) id text: links and candidates are stored so. */
static void pair(const struct ctx *c, const struct other *o, char lo[24], char hi[24])
{
        merge_fmt_i64(lo, 24, c->e < o->id ? c->e : o->id);
        merge_fmt_i64(hi, 24, c->e < o->id ? o->id : c->e);
}

int merge_add_links(struct ctx *c, struct other *o, hub_err_t *err)
{
        char a[24], b[24];
        pair(c, o, a, b);
        char *ev = merge_evidence_json(o, c->x, NULL);
        if (!ev)
                return MERGE_NOMEM(err);
        int rc = 0;
        for (unsigned bit = 1; bit <= HUB_LINK__ALL && !rc; bit <<= 1) {
                if (!(o->d.links & bit))
                        continue;
                const char *p[6] = {a, b, hub_resolve_link_name(bit), ev, c->x->agency,
                                    c->x->record_id};
                rc = hub_pipe_send(&c->pipe,
                                   "INSERT INTO links (entity_a, entity_b, kind, evidence, "
                                   "agency, record_id) VALUES ($1, $2, $3, $4, $5, $6) "
                                   "ON CONFLICT DO NOTHING",
                                   6, NULL, p, PGRES_COMMAND_OK, NULL, &c->stats->links,
                                   "store a link", err);
        }
        free(ev);
        return rc;
}

/* The candidate's score facts from both entities' statements and names (c->facts: entity,
 * prop, value of the record's entity and every other in view). */
int merge_add_candidate(struct ctx *c, struct other *o, hub_err_t *err)
{
        PGresult *r = c->facts;
        const hub_extract_t *x = c->x;
        hub_candidate_facts_t f = {0};
        f.shared_weak = o->ev.phone + o->ev.handle + o->ev.address + o->ev.bank_phone;
        f.hints = o->ev.hint;
        f.birth_year_a = x->dob_year;
        /* Names of the entity: its stored ones and this record's (not stored yet). */
        int o0, o1, e0, e1;
        merge_entity_rows(r, o->id, &o0, &o1);
        merge_entity_rows(r, c->e, &e0, &e1);
        for (int i = o0; i < o1; i++) {
                const char *prop = PQgetvalue(r, i, 1), *v = PQgetvalue(r, i, 2);
                if (strcmp(prop, "NAME") == 0) {
                        for (size_t w = 0; w < x->n_weak; w++) {
                                if (strcmp(x->weak[w].kind, "NAME") != 0)
                                        continue;
                                double s = hub_resolve_name_similarity(x->weak[w].value, v);
                                if (s > f.name_similarity)
                                        f.name_similarity = s;
                        }
                        for (int j = e0; j < e1; j++) {
                                if (strcmp(PQgetvalue(r, j, 1), "NAME") != 0)
                                        continue;
                                double s = hub_resolve_name_similarity(PQgetvalue(r, j, 2), v);
                                if (s > f.name_similarity)
                                        f.name_similarity = s;
                        }
                } else if (strcmp(prop, "dob_year") == 0) {
                        f.birth_year_b = atoi(v);
                } else if (strcmp(prop, "province") == 0) {
                        for (int j = e0; j < e1; j++)
                                if (strcmp(PQgetvalue(r, j, 1), "province") == 0 &&
                                    strcmp(PQgetvalue(r, j, 2), v) == 0)
                                        f.same_province = true;
                        for (size_t s = 0; s < x->n_stmts; s++)
                                if (strcmp(x->stmts[s].prop, "province") == 0 &&
                                    strcmp(x->stmts[s].value, v) == 0)
                                        f.same_province = true;
                }
        }
        for (int i = e0; !f.birth_year_a && i < e1; i++)
                if (strcmp(PQgetvalue(r, i, 1), "dob_year") == 0)
                        f.birth_year_a = atoi(PQgetvalue(r, i, 2));
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
                return MERGE_NOMEM(err);
        char score[32], lo[24], hi[24];
        snprintf(score, sizeof(score), "%.4f", sc.score);
        pair(c, o, lo, hi);
        const char *p[6] = {lo, hi, score, bds, x->agency, x->record_id};
        int rc = merge_send(c,
                            "INSERT INTO candidates (entity_a, entity_b, score, breakdown, "
                            "agency, record_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
                            "(entity_a, entity_b) DO UPDATE SET score = EXCLUDED.score, "
                            "breakdown = EXCLUDED.breakdown, agency = EXCLUDED.agency, "
                            "record_id = EXCLUDED.record_id, updated_at = now() "
                            "WHERE candidates.status = 'open'",
                            6, p, "store a candidate", err);
        free(bds);
        if (!rc)
                c->stats->candidates++;
        return rc;
}
