/* Corrections and retractions: see correct.h and hub/store/README.md.
 *
 * Corrections are rare next to reports, so this module favours plain per-correction queries
 * over batching: the only costs every batch pays are the agency lock and one indexed look-up
 * of pending corrections. */
#include "correct.h"

#include "sqlbuf.h"

#include <hub/avro.h>
#include <hub/extract.h>
#include <hub/mlog.h>
#include <hub/mlog_store.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One applied correction whose leaf is still to be appended. */
struct applied {
        int kind; /* HUB_MLOG_RETRACTION or HUB_MLOG_CORRECTION */
        char *agency, *record_id, *ref;
        const char *action;
        uint8_t *body;
        size_t len;
};

struct hub_correct {
        struct applied *a;
        size_t n, cap;
        hub_sqlbuf_t arr, arr2, arr3;
};

int hub_correct_new(hub_correct_t **out, hub_err_t *err)
{
        *out = calloc(1, sizeof(**out));
        return *out ? 0 : hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
}

static void clear_applied(hub_correct_t *k)
{
        for (size_t i = 0; i < k->n; i++) {
                free(k->a[i].agency);
                free(k->a[i].record_id);
                free(k->a[i].ref);
                free(k->a[i].body);
        }
        k->n = 0;
}

void hub_correct_free(hub_correct_t *k)
{
        if (!k)
                return;
        clear_applied(k);
        free(k->a);
        hub_sqlbuf_done(&k->arr);
        hub_sqlbuf_done(&k->arr2);
        hub_sqlbuf_done(&k->arr3);
        free(k);
}

size_t hub_correct_applied(const hub_correct_t *k)
{
        return k->n;
}

static PGresult *run(hub_store_t *s, const char *sql, int n, const char *const *p,
                     ExecStatusType want, const char *what, int *rc, hub_err_t *err)
{
        PGresult *q = PQexecParams(hub_store_conn(s), sql, n, NULL, p, NULL, NULL, 0);
        *rc = hub_store_check(s, q, want, what, err);
        return q;
}

int hub_correct_lock(hub_store_t *s, const char *agency, bool exclusive, hub_err_t *err)
{
        char key[96];
        snprintf(key, sizeof(key), "corrections/%s", agency);
        char lock[24];
        snprintf(lock, sizeof(lock), "%" PRId64, (int64_t)hub_avro_crc64(key, strlen(key)));
        const char *p[1] = {lock};
        int rc;
        PQclear(run(s,
                    exclusive ? "SELECT pg_advisory_xact_lock($1::bigint)"
                              : "SELECT pg_advisory_xact_lock_shared($1::bigint)",
                    1, p, PGRES_TUPLES_OK, "take the agency's correction lock", &rc, err));
        return rc;
}

int hub_correct_check(hub_store_t *s, hub_correction_t *c, size_t n, hub_err_t *err)
{
        for (size_t i = 0; i < n; i++) {
                hub_correction_t *x = &c[i];
                x->reason = NULL;
                x->message[0] = 0;
                const char *target = x->supersedes ? x->supersedes : x->retracts;
                if (x->supersedes && x->retracts) {
                        x->reason = "CORRECTION_INVALID";
                        snprintf(x->message, sizeof(x->message),
                                 "record %.100s both supersedes and retracts a record",
                                 x->record_id);
                        continue;
                }
                if (strcmp(target, x->record_id) == 0) {
                        x->reason = "CORRECTION_INVALID";
                        snprintf(x->message, sizeof(x->message),
                                 "record %.100s names itself as the record it %s",
                                 x->record_id, x->retracts ? "retracts" : "supersedes");
                        continue;
                }
                const char *slash = strchr(target, '/');
                if (x->target_in_batch || !slash || slash == target || slash - target > 64)
                        continue;
                char prefix[65];
                snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - target), target);
                const char *p[3] = {x->agency, target, prefix};
                int rc;
                PGresult *q = run(s,
                                  "SELECT EXISTS (SELECT 1 FROM records WHERE agency = $1 AND "
                                  "record_id = $2), EXISTS (SELECT 1 FROM agencies WHERE "
                                  "code = $3 AND code <> $1)",
                                  3, p, PGRES_TUPLES_OK, "look up a corrected record", &rc, err);
                if (!rc && PQgetvalue(q, 0, 0)[0] == 'f' && PQgetvalue(q, 0, 1)[0] == 't') {
                        x->reason = "NOT_OWN_RECORD";
                        snprintf(x->message, sizeof(x->message),
                                 "record %.100s of agency %.64s %s %.120s of agency %.64s: only the "
                                 "agency that sent a record may supersede or retract it",
                                 x->record_id, x->agency,
                                 x->retracts ? "retracts" : "supersedes", slash + 1, prefix);
                }
                PQclear(q);
                if (rc)
                        return rc;
        }
        return 0;
}

/* ---- keys a record gave its entity ---- */

struct keyset {
        const char **type, **value, **owner_agency, **owner_record;
        size_t n, cap;
};

static int keyset_add(struct keyset *k, hub_arena_t *a, const char *type, const char *value,
                      const char *agency, const char *record_id)
{
        for (size_t i = 0; i < k->n; i++)
                if (strcmp(k->type[i], type) == 0 && strcmp(k->value[i], value) == 0)
                        return 0;
        if (k->n == k->cap) {
                size_t cap = k->cap ? 2 * k->cap : 32;
                const char **t = hub_arena_alloc(a, 4 * cap * sizeof(char *));
                if (!t)
                        return -1;
                if (k->n) {
                        memcpy(t, k->type, k->n * sizeof(char *));
                        memcpy(t + cap, k->value, k->n * sizeof(char *));
                        memcpy(t + 2 * cap, k->owner_agency, k->n * sizeof(char *));
                        memcpy(t + 3 * cap, k->owner_record, k->n * sizeof(char *));
                }
                k->type = t;
                k->value = t + cap;
                k->owner_agency = t + 2 * cap;
                k->owner_record = t + 3 * cap;
                k->cap = cap;
        }
        k->type[k->n] = type;
        k->value[k->n] = value;
        k->owner_agency[k->n] = agency;
        k->owner_record[k->n] = record_id;
        k->n++;
        return 0;
}

static long keyset_find(const struct keyset *k, const char *type, const char *value)
{
        for (size_t i = 0; i < k->n; i++)
                if (strcmp(k->type[i], type) == 0 && strcmp(k->value[i], value) == 0)
                        return (long)i;
        return -1;
}

/* The target stops giving its entity the strong identifiers and weak keys no other active
 * record of the entity carries: they are deleted from identifiers and match_keys, so they no
 * longer resolve to the entity. A weak key still carried by another record is re-attributed
 * to it. The keys are derived again from the stored payloads with the same code that derived
 * them at ingest (hub_extract_report), rather than from statements, whose props do not name
 * every key (a branch's tax code also keys its head office). */
static int release_keys(hub_store_t *s, hub_report_codec_t *codec,
                        hub_arena_t *a, const char *agency, const char *target, const char *eid,
                        hub_err_t *err)
{
        const char *p[3] = {eid, agency, target};
        PGresult *q = PQexecParams(hub_store_conn(s),
                                   "SELECT agency, record_id, payload, agency = $2 AND "
                                   "record_id = $3 FROM records WHERE (entity_id = $1 AND "
                                   "status = 'active' AND retracts IS NULL) OR (agency = $2 "
                                   "AND record_id = $3)",
                                   3, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, q, PGRES_TUPLES_OK, "read the records of an entity", err);
        struct keyset gone = {0}, kept = {0}, gone_w = {0}, kept_w = {0};
        for (int t = 0; !rc && t < PQntuples(q); t++) {
                char *ra = hub_arena_strdup(a, PQgetvalue(q, t, 0));
                char *rr = hub_arena_strdup(a, PQgetvalue(q, t, 1));
                bool is_target = PQgetvalue(q, t, 3)[0] == 1;
                avro_value_t *v;
                hub_extract_t x;
                if (!ra || !rr) {
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
                        break;
                }
                rc = hub_report_decode(codec, PQgetvalue(q, t, 2), (size_t)PQgetlength(q, t, 2),
                                       &v, err);
                if (!rc)
                        rc = hub_extract_report(v, a, &x, err);
                if (rc == -HUB_E_NOMEM)
                        break;
                if (rc) {
                        /* Stored records were decoded by this codec when accepted; one that
                         * does not decode now is a fault of the database, not of the batch. */
                        char why[256];
                        snprintf(why, sizeof(why), "%s", err ? err->msg : "?");
                        rc = hub_err_set(err, HUB_E_DB, false, "correct",
                                         "stored record %s/%s does not decode: %s", ra, rr,
                                         why);
                        break;
                }
                struct keyset *ks = is_target ? &gone : &kept, *ws = is_target ? &gone_w : &kept_w;
                for (size_t j = 0; j < x.n_keys && !rc; j++)
                        rc = keyset_add(ks, a, x.keys[j].type, x.keys[j].value, ra, rr);
                for (size_t j = 0; j < x.n_weak && !rc; j++)
                        rc = keyset_add(ws, a, x.weak[j].kind, x.weak[j].value, ra, rr);
                if (rc)
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
        }
        PQclear(q);
        for (size_t i = 0; !rc && i < gone.n; i++) {
                if (keyset_find(&kept, gone.type[i], gone.value[i]) >= 0)
                        continue;
                const char *d[3] = {gone.type[i], gone.value[i], eid};
                PQclear(run(s,
                            "DELETE FROM identifiers WHERE type = $1 AND value = $2 AND "
                            "entity_id = $3",
                            3, d, PGRES_COMMAND_OK, "release an identifier", &rc, err));
        }
        for (size_t i = 0; !rc && i < gone_w.n; i++) {
                long o = keyset_find(&kept_w, gone_w.type[i], gone_w.value[i]);
                if (o < 0) {
                        const char *d[3] = {gone_w.type[i], gone_w.value[i], eid};
                        PQclear(run(s,
                                    "DELETE FROM match_keys WHERE kind = $1 AND value = $2 AND "
                                    "entity_id = $3",
                                    3, d, PGRES_COMMAND_OK, "release a weak key", &rc, err));
                } else {
                        const char *d[7] = {gone_w.type[i], gone_w.value[i], eid,
                                            kept_w.owner_agency[o], kept_w.owner_record[o],
                                            agency, target};
                        PQclear(run(s,
                                    "UPDATE match_keys SET agency = $4, record_id = $5 WHERE "
                                    "kind = $1 AND value = $2 AND entity_id = $3 AND "
                                    "agency = $6 AND record_id = $7",
                                    7, d, PGRES_COMMAND_OK, "re-attribute a weak key", &rc,
                                    err));
                }
        }
        return rc;
}

/* ---- applying ---- */

static void put_str(uint8_t **p, const char *s)
{
        size_t n = strlen(s);
        (*p)[0] = (uint8_t)(n >> 24);
        (*p)[1] = (uint8_t)(n >> 16);
        (*p)[2] = (uint8_t)(n >> 8);
        (*p)[3] = (uint8_t)n;
        memcpy(*p + 4, s, n);
        *p += 4 + n;
}

/* The leaf body (schemas/README.md, "The hub's log"): str(agency) || str(record_id) ||
 * str(target) || target_sha256 || record_sha256, from the hex digests PostgreSQL gives.
 * *body is malloc'd; NULL with *len 0 when out of memory, 1 when a digest is not 32 bytes. */
static int leaf_body(const char *agency, const char *record_id, const char *target,
                     const char *target_sha_hex, const char *sha_hex, uint8_t **body,
                     size_t *len)
{
        *len = 12 + strlen(agency) + strlen(record_id) + strlen(target) + 64;
        if (!(*body = malloc(*len)))
                return -1;
        uint8_t *p = *body;
        put_str(&p, agency);
        put_str(&p, record_id);
        put_str(&p, target);
        size_t a = 0, b = 0;
        if (sodium_hex2bin(p, 32, target_sha_hex, strlen(target_sha_hex), NULL, &a, NULL) ||
            sodium_hex2bin(p + 32, 32, sha_hex, strlen(sha_hex), NULL, &b, NULL) || a != 32 ||
            b != 32) {
                free(*body);
                *body = NULL;
                return 1;
        }
        return 0;
}

static int remember(hub_correct_t *k, bool retract, const char *agency, const char *record_id,
                    const char *target, const char *target_sha_hex, const char *sha_hex,
                    hub_err_t *err)
{
        if (k->n == k->cap) {
                size_t cap = k->cap ? 2 * k->cap : 8;
                struct applied *a = realloc(k->a, cap * sizeof(*a));
                if (!a)
                        return hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
                k->a = a;
                k->cap = cap;
        }
        struct applied *x = &k->a[k->n];
        memset(x, 0, sizeof(*x));
        size_t ref_len = strlen(agency) + strlen(record_id) + 2;
        x->kind = retract ? HUB_MLOG_RETRACTION : HUB_MLOG_CORRECTION;
        x->action = retract ? "retract" : "supersede";
        x->agency = strdup(agency);
        x->record_id = strdup(record_id);
        x->ref = malloc(ref_len);
        int bad = leaf_body(agency, record_id, target, target_sha_hex, sha_hex, &x->body, &x->len);
        if (!x->agency || !x->record_id || !x->ref || bad < 0) {
                free(x->agency);
                free(x->record_id);
                free(x->ref);
                free(x->body);
                return hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
        }
        snprintf(x->ref, ref_len, "%s/%s", agency, record_id);
        if (bad) {
                free(x->agency);
                free(x->record_id);
                free(x->ref);
                free(x->body);
                return hub_err_set(err, HUB_E_DB, false, "correct",
                                   "stored record digest of %s/%s is not 32 bytes", agency,
                                   target);
        }
        k->n++;
        return 0;
}

static int record_pending(hub_correct_t *k, hub_store_t *s, const char *agency,
                          const hub_correction_t *c, size_t n, hub_err_t *err)
{
        const char **rid = malloc((n + 1) * 3 * sizeof(char *));
        if (!rid)
                return hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
        const char **act = rid + n + 1, **tgt = rid + 2 * (n + 1);
        for (size_t i = 0; i < n; i++) {
                rid[i] = c[i].record_id;
                act[i] = c[i].retracts ? "retract" : "supersede";
                tgt[i] = c[i].retracts ? c[i].retracts : c[i].supersedes;
        }
        hub_array_text(&k->arr, rid, n);
        hub_array_text(&k->arr2, act, n);
        hub_array_text(&k->arr3, tgt, n);
        free(rid);
        const char *p[4] = {agency, hub_sqlbuf_str(&k->arr), hub_sqlbuf_str(&k->arr2),
                            hub_sqlbuf_str(&k->arr3)};
        int rc;
        PQclear(run(s,
                    "INSERT INTO corrections (agency, record_id, action, target) "
                    "SELECT $1, r, a, t FROM unnest($2::text[], $3::text[], $4::text[]) "
                    "AS u (r, a, t) ON CONFLICT DO NOTHING",
                    4, p, PGRES_COMMAND_OK, "store corrections", &rc, err));
        return rc;
}

int hub_correct_apply(hub_correct_t *k, hub_store_t *s, hub_report_codec_t *codec,
                      hub_arena_t *arena, const char *agency, const hub_correction_t *c,
                      size_t n, const char *const *ids, size_t n_ids, int64_t *changed,
                      size_t *n_changed, size_t cap, hub_err_t *err)
{
        clear_applied(k);
        int rc = n ? record_pending(k, s, agency, c, n, err) : 0;
        if (rc || !n_ids)
                return rc;
        hub_array_text(&k->arr, ids, n_ids);
        const char *p[2] = {agency, hub_sqlbuf_str(&k->arr)};
        /* In the order the correcting records were stored, so that two corrections of one
         * record apply as they were sent. */
        PGresult *q = run(s,
                          "SELECT c.record_id, c.action, c.target, t.entity_id,"
                          " encode(t.payload_sha256, 'hex'), encode(cr.payload_sha256, 'hex') "
                          "FROM corrections c"
                          " JOIN records t ON t.agency = c.agency AND t.record_id = c.target"
                          " JOIN records cr ON cr.agency = c.agency AND cr.record_id = c.record_id "
                          "WHERE c.agency = $1 AND c.status = 'pending' AND"
                          " (c.record_id = ANY($2::text[]) OR c.target = ANY($2::text[])) "
                          "ORDER BY cr.batch_id, cr.batch_index, c.action "
                          "FOR UPDATE OF c",
                          2, p, PGRES_TUPLES_OK, "look up applicable corrections", &rc, err);
        int64_t *touched = NULL;
        size_t n_touched = 0;
        if (!rc && PQntuples(q) &&
            !(touched = hub_arena_alloc(arena, (size_t)PQntuples(q) * sizeof(int64_t))))
                rc = hub_err_set(err, HUB_E_NOMEM, false, "correct", "out of memory");
        for (int t = 0; !rc && t < PQntuples(q); t++) {
                const char *rid = PQgetvalue(q, t, 0), *action = PQgetvalue(q, t, 1),
                           *target = PQgetvalue(q, t, 2);
                bool retract = strcmp(action, "retract") == 0;
                bool has_entity = !PQgetisnull(q, t, 3);
                const char *eid = has_entity ? PQgetvalue(q, t, 3) : NULL;
                const char *u1[3] = {agency, target, retract ? "retracted" : "superseded"};
                /* A retraction is final: superseding a retracted record leaves it retracted. */
                PQclear(run(s,
                            "UPDATE records SET status = $3 WHERE agency = $1 AND "
                            "record_id = $2 AND (status = 'active' OR $3 = 'retracted')",
                            3, u1, PGRES_COMMAND_OK, "mark a corrected record", &rc, err));
                if (!rc && retract) {
                        /* The retraction asserts nothing: it is filed under its target's
                         * entity, so the entity's provenance shows it. */
                        const char *u2[3] = {agency, rid, eid};
                        PQclear(run(s,
                                    "UPDATE records SET entity_id = $3::bigint WHERE "
                                    "agency = $1 AND record_id = $2",
                                    3, u2, PGRES_COMMAND_OK, "file a retraction", &rc, err));
                }
                if (!rc) {
                        const char *u3[3] = {agency, rid, action};
                        PQclear(run(s,
                                    "UPDATE corrections SET status = 'applied', applied_at = "
                                    "now() WHERE agency = $1 AND record_id = $2 AND action = $3",
                                    3, u3, PGRES_COMMAND_OK, "mark a correction applied", &rc,
                                    err));
                }
                if (!rc && has_entity)
                        rc = release_keys(s, codec, arena, agency, target, eid, err);
                if (!rc)
                        rc = remember(k, retract, agency, rid, target, PQgetvalue(q, t, 4),
                                      PQgetvalue(q, t, 5), err);
                if (!rc && has_entity) {
                        int64_t id = strtoll(eid, NULL, 10);
                        touched[n_touched++] = id;
                        if (*n_changed < cap)
                                changed[(*n_changed)++] = id;
                }
        }
        PQclear(q);
        if (rc || !n_touched)
                return rc;
        /* An entity left without an active record that asserts anything is withdrawn (its
         * view, derived from statements, says so too: views.c). */
        hub_array_int(&k->arr, touched, n_touched);
        const char *w[1] = {hub_sqlbuf_str(&k->arr)};
        PQclear(run(s,
                    "UPDATE entities e SET withdrawn = NOT EXISTS (SELECT 1 FROM records r "
                    "WHERE r.entity_id = e.id AND r.status = 'active' AND r.retracts IS NULL) "
                    "WHERE e.id = ANY($1::bigint[]) AND e.merged_into IS NULL",
                    1, w, PGRES_COMMAND_OK, "withdraw entities without evidence", &rc, err));
        return rc;
}

int hub_correct_log(hub_correct_t *k, hub_store_t *s, hub_err_t *err)
{
        int rc = 0;
        for (size_t i = 0; !rc && i < k->n; i++) {
                const struct applied *x = &k->a[i];
                int64_t idx;
                rc = hub_mlog_append(s, x->kind, x->ref, x->body, x->len, &idx, err);
                if (rc)
                        break;
                char leaf[24];
                snprintf(leaf, sizeof(leaf), "%" PRId64, idx);
                const char *p[4] = {x->agency, x->record_id, x->action, leaf};
                PQclear(run(s,
                            "UPDATE corrections SET leaf_index = $4 WHERE agency = $1 AND "
                            "record_id = $2 AND action = $3",
                            4, p, PGRES_COMMAND_OK, "note a correction's log leaf", &rc, err));
        }
        clear_applied(k);
        return rc;
}

int hub_correct_verify_leaf(hub_store_t *s, int kind, const char *ref, const uint8_t *data,
                            size_t len, char *why, size_t cap, hub_err_t *err)
{
        why[0] = 0;
        const char *p[2] = {ref, kind == HUB_MLOG_RETRACTION ? "retract" : "supersede"};
        int rc;
        PGresult *q = run(s,
                          "SELECT c.agency, c.record_id, c.target, c.status,"
                          " encode(t.payload_sha256, 'hex'), encode(cr.payload_sha256, 'hex'),"
                          " t.status FROM corrections c"
                          " JOIN records cr ON cr.agency = c.agency AND cr.record_id = c.record_id"
                          " LEFT JOIN records t ON t.agency = c.agency AND t.record_id = c.target "
                          "WHERE c.agency || '/' || c.record_id = $1 AND c.action = $2",
                          2, p, PGRES_TUPLES_OK, "read a logged correction", &rc, err);
        if (rc) {
                PQclear(q);
                return rc;
        }
        uint8_t *body = NULL, *want = NULL;
        size_t bl = 0, wl = 0;
        if (PQntuples(q) != 1) {
                snprintf(why, cap, "no %s correction %s is stored", p[1], ref);
        } else if (strcmp(PQgetvalue(q, 0, 3), "applied") != 0 || PQgetisnull(q, 0, 4)) {
                snprintf(why, cap, "correction %s is logged but not applied", ref);
        } else if (kind == HUB_MLOG_RETRACTION ? strcmp(PQgetvalue(q, 0, 6), "retracted") != 0
                                               : strcmp(PQgetvalue(q, 0, 6), "active") == 0) {
                snprintf(why, cap, "its target %s is %s", PQgetvalue(q, 0, 2),
                         PQgetvalue(q, 0, 6));
        } else {
                int b = leaf_body(PQgetvalue(q, 0, 0), PQgetvalue(q, 0, 1), PQgetvalue(q, 0, 2),
                                  PQgetvalue(q, 0, 4), PQgetvalue(q, 0, 5), &body, &bl);
                if (b < 0 || (!b && (rc = hub_mlog_leaf(kind, body, bl, &want, &wl, err))))
                        rc = rc ? rc
                                : hub_err_set(err, HUB_E_NOMEM, false, "correct",
                                              "out of memory");
                else if (b || wl != len || memcmp(want, data, len) != 0)
                        snprintf(why, cap,
                                 "the correction, its target or their records changed since "
                                 "logged");
        }
        free(body);
        free(want);
        PQclear(q);
        return rc;
}
