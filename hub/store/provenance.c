/* Provenance of an entity and evidence bundles of records, from the hub's database: every
 * source record re-verified from the stored batch bytes (signature, audit path), its log leaf
 * recomputed, and its inclusion proved against the latest signed tree head. See
 * hub/provenance.h. */
#include "mlog_internal.h"

#include <hub/evidence.h>
#include <hub/mlog_store.h>
#include <hub/provenance.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t be(const char *p, int n)
{
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = (v << 8) | (unsigned char)p[i];
        return v;
}

static json_t *hexj(const void *p, size_t n)
{
        char *s = malloc(2 * n + 1);
        if (!s)
                return NULL;
        sodium_bin2hex(s, 2 * n + 1, p, n);
        json_t *j = json_string(s);
        free(s);
        return j;
}

static json_t *hex_list(const uint8_t *p, size_t len)
{
        json_t *a = json_array();
        for (size_t i = 0; a && i + 32 <= len; i += 32)
                json_array_append_new(a, hexj(p + i, 32));
        return a;
}

/* One source record with its batch, as stored. */
struct src {
        PGresult *r; /* owns the strings and bytes below */
        const char *status, *key_id, *topic, *received_at;
        int64_t batch_id, offset;
        int partition;
        uint32_t batch_index;
        const uint8_t *payload;
        size_t plen;
        const uint8_t *pk; /* NULL when the key is not registered */
        hub_batch_t *b;    /* NULL when the stored bytes do not decode */
};

static void src_done(struct src *x)
{
        PQclear(x->r);
        hub_batch_free(x->b);
        memset(x, 0, sizeof(*x));
}

/* 0 and *found; the batch is decoded with generous limits (what was accepted then). */
static int load_src(hub_store_t *s, const char *agency, const char *record_id, struct src *x,
                    bool *found, hub_err_t *err)
{
        memset(x, 0, sizeof(*x));
        const char *p[2] = {agency, record_id};
        x->r = PQexecParams(
                hub_store_conn(s),
                "SELECT r.payload, r.batch_index, r.status, b.id, b.key_id, b.topic, b.partition, "
                "b.\"offset\", to_char(b.received_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), b.bytes, k.public_key "
                "FROM records r JOIN batches b ON b.id = r.batch_id LEFT JOIN agency_keys k ON "
                "k.agency = b.agency AND k.key_id = b.key_id "
                "WHERE r.agency = $1 AND r.record_id = $2",
                2, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, x->r, PGRES_TUPLES_OK, "read the source record", err);
        *found = !rc && PQntuples(x->r) == 1;
        if (!*found)
                return rc;
        PGresult *r = x->r;
        x->payload = (const uint8_t *)PQgetvalue(r, 0, 0);
        x->plen = (size_t)PQgetlength(r, 0, 0);
        x->batch_index = (uint32_t)be(PQgetvalue(r, 0, 1), 4);
        x->status = PQgetvalue(r, 0, 2);
        x->batch_id = (int64_t)be(PQgetvalue(r, 0, 3), 8);
        x->key_id = PQgetvalue(r, 0, 4);
        x->topic = PQgetvalue(r, 0, 5);
        x->partition = (int)be(PQgetvalue(r, 0, 6), 4);
        x->offset = (int64_t)be(PQgetvalue(r, 0, 7), 8);
        x->received_at = PQgetvalue(r, 0, 8);
        if (!PQgetisnull(r, 0, 10) && PQgetlength(r, 0, 10) == HUB_PK_BYTES)
                x->pk = (const uint8_t *)PQgetvalue(r, 0, 10);
        hub_batch_limits_t lim = {1000000, 1u << 30, 1u << 30};
        if (hub_batch_decode(PQgetvalue(r, 0, 9), (size_t)PQgetlength(r, 0, 9), &lim, &x->b,
                             NULL))
                x->b = NULL;
        return 0;
}

static char *ref_of(const char *agency, const char *record_id)
{
        size_t n = strlen(agency) + strlen(record_id) + 2;
        char *r = malloc(n);
        if (r)
                snprintf(r, n, "%s/%s", agency, record_id);
        return r;
}

/* ---- one record, verified ---- */

/* The applied corrections and retractions naming the record (migration 0004), as JSON: who
 * superseded or retracted it, and the log leaf that commits to it. */
static int corrected_by(hub_store_t *s, const char *agency, const char *record_id, json_t *into,
                        hub_err_t *err)
{
        const char *p[2] = {agency, record_id};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT action, record_id, leaf_index, to_char(applied_at AT "
                                   "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
                                   "corrections WHERE agency = $1 AND target = $2 AND status = 'applied' "
                                   "ORDER BY applied_at, record_id",
                                   2, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read corrections of a record", err);
        for (int t = 0; !rc && t < PQntuples(r); t++)
                json_array_append_new(
                        into, json_pack("{s:s, s:s, s:s, s:o, s:s}", "action",
                                        PQgetvalue(r, t, 0), "agency", agency, "record_id",
                                        PQgetvalue(r, t, 1), "leaf_index",
                                        PQgetisnull(r, t, 2)
                                                ? json_null()
                                                : json_integer(strtoll(PQgetvalue(r, t, 2),
                                                                       NULL, 10)),
                                        "applied_at", PQgetvalue(r, t, 3)));
        PQclear(r);
        return rc;
}

static json_t *verify_record(hub_store_t *s, const char *agency, const char *record_id,
                             const hub_mlog_head_t *head, bool have_head, bool *ok,
                             hub_err_t *err, int *rc)
{
        struct src x;
        bool found = false;
        *ok = false;
        *rc = load_src(s, agency, record_id, &x, &found, err);
        if (*rc)
                return NULL;
        json_t *j = json_pack("{s:s, s:s}", "agency", agency, "record_id", record_id);
        if (!found) {
                json_object_set_new(j, "error", json_string("the record is not stored"));
                src_done(&x);
                return j;
        }
        json_object_set_new(j, "key_id", json_string(x.key_id));
        json_object_set_new(j, "batch_id", json_integer(x.batch_id));
        json_object_set_new(j, "topic", json_string(x.topic));
        json_object_set_new(j, "partition", json_integer(x.partition));
        json_object_set_new(j, "offset", json_integer(x.offset));
        json_object_set_new(j, "received_at", json_string(x.received_at));
        json_object_set_new(j, "batch_index", json_integer(x.batch_index));
        json_object_set_new(j, "status", json_string(x.status));
        if (strcmp(x.status, "active") != 0) {
                json_t *by = json_array();
                json_object_set_new(j, "corrected_by", by);
                *rc = corrected_by(s, agency, record_id, by, err);
                if (*rc) {
                        src_done(&x);
                        return j;
                }
        }
        bool sig_ok = false, in_batch = false, path_ok = false, leaf_ok = false, incl = false;
        hub_err_t e = {0};
        /* The agency's signature, from the stored bytes, with the registered key. */
        if (!x.b)
                json_object_set_new(j, "signature",
                                    json_string("FAILED: the stored batch does not decode"));
        else if (!x.pk)
                json_object_set_new(j, "signature",
                                    json_string("FAILED: the batch's key is not registered"));
        else if (hub_batch_verify(x.b, x.pk, HUB_PK_BYTES, &e)) {
                char m[300];
                snprintf(m, sizeof(m), "FAILED: %s", e.msg);
                json_object_set_new(j, "signature", json_string(m));
        } else {
                sig_ok = true;
                json_object_set_new(j, "signature", json_string("verified"));
        }
        /* The stored record is the batch's record, and its audit path leads to the root. */
        uint8_t path[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t path_len = 0, blen = 0;
        const uint8_t *brec = x.b ? hub_batch_record(x.b, x.batch_index, &blen) : NULL;
        in_batch = brec && blen == x.plen && memcmp(brec, x.payload, blen) == 0;
        json_object_set_new(j, "record_in_batch",
                            json_string(in_batch ? "verified"
                                                 : "FAILED: the stored record differs from "
                                                   "the batch's"));
        if (x.b && !hub_batch_audit_path(x.b, x.batch_index, path, sizeof(path), &path_len, NULL))
                path_ok = hub_batch_verify_record(x.payload, x.plen, x.batch_index,
                                                  hub_batch_count(x.b), path, path_len,
                                                  hub_batch_root(x.b), 32, NULL) == 0;
        json_object_set_new(j, "audit_path", hex_list(path, path_len));
        json_object_set_new(j, "audit_path_verified", json_boolean(path_ok));
        /* Its leaf in the log: present, and what the rows hash to now. */
        char *ref = ref_of(agency, record_id);
        int64_t idx = -1;
        uint8_t *data = NULL, lh[32];
        size_t dl = 0;
        bool lfound = false;
        *rc = ref ? hub_mlog_find_leaf(s, HUB_MLOG_RECORD, ref, &idx, &data, &dl, lh, &lfound,
                                       err)
                  : hub_err_set(err, HUB_E_NOMEM, false, "provenance", "out of memory");
        free(ref);
        if (*rc)
                goto out;
        if (!lfound) {
                json_object_set_new(j, "leaf", json_string("FAILED: not in the log"));
        } else {
                json_object_set_new(j, "leaf_index", json_integer(idx));
                hub_mlog_record_leaf_t rl = {.agency = agency, .record_id = record_id,
                                             .batch_index = x.batch_index};
                crypto_hash_sha256(rl.record_sha256, x.payload, x.plen);
                if (x.b)
                        memcpy(rl.batch_digest, hub_batch_digest(x.b), 32);
                *rc = hub_mlog_record_statements_digest(s, agency, record_id,
                                                        rl.statements_digest, err);
                uint8_t *want = NULL;
                size_t wl = 0;
                if (!*rc)
                        *rc = hub_mlog_record_leaf(&rl, &want, &wl, err);
                if (*rc)
                        goto out;
                uint8_t wh[32];
                hub_merkle_leaf_hash(want, wl, wh);
                leaf_ok = wl == dl && memcmp(want, data, dl) == 0 && memcmp(wh, lh, 32) == 0;
                free(want);
                json_object_set_new(j, "leaf",
                                    json_string(leaf_ok ? "verified: record, batch and statements "
                                                          "hash to the logged leaf"
                                                        : "FAILED: the record, its batch or its "
                                                          "statements changed since logged"));
                json_object_set_new(j, "leaf_hash", hexj(lh, 32));
        }
        /* Inclusion in the latest signed tree. */
        json_t *inc = json_object();
        if (lfound && have_head && (uint64_t)idx < head->size) {
                uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES];
                size_t pl = 0;
                *rc = hub_mlog_prove_inclusion(s, (uint64_t)idx, head->size, proof, sizeof(proof),
                                               &pl, err);
                if (*rc) {
                        json_decref(inc);
                        goto out;
                }
                incl = hub_merkle_verify_inclusion(lh, 32, (uint64_t)idx, head->size, proof, pl,
                                                   head->root, 32, NULL) == 0;
                json_object_set_new(inc, "tree_size", json_integer((json_int_t)head->size));
                json_object_set_new(inc, "proof", hex_list(proof, pl));
                json_object_set_new(inc, "verified", json_boolean(incl));
        } else {
                json_object_set_new(inc, "verified", json_false());
                json_object_set_new(inc, "note",
                                    json_string(lfound ? "not yet covered by a signed tree head"
                                                       : "no leaf"));
        }
        json_object_set_new(j, "inclusion", inc);
        /* The key's registration in the log. */
        {
                const char *p[2] = {agency, x.key_id};
                PGresult *k = PQexecParams(hub_store_conn(s),
                                           "SELECT leaf_index FROM key_events WHERE agency = $1 "
                                           "AND key_id = $2 AND event = 'register' ORDER BY id "
                                           "LIMIT 1",
                                           2, NULL, p, NULL, NULL, 0);
                *rc = hub_store_check(s, k, PGRES_TUPLES_OK, "read the key event", err);
                if (!*rc)
                        json_object_set_new(j, "key_event_leaf",
                                            PQntuples(k) ? json_integer(strtoll(
                                                                   PQgetvalue(k, 0, 0), NULL, 10))
                                                         : json_null());
                PQclear(k);
        }
        *ok = sig_ok && in_batch && path_ok && leaf_ok && incl;
        json_object_set_new(j, "verified", json_boolean(*ok));
out:
        free(data);
        src_done(&x);
        return j;
}

/* ---- the entity ---- */

static bool table_exists(hub_store_t *s, const char *name)
{
        const char *p[1] = {name};
        PGresult *r = PQexecParams(hub_store_conn(s), "SELECT to_regclass($1) IS NOT NULL", 1,
                                   NULL, p, NULL, NULL, 0);
        bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                   PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        return yes;
}

/* Rows of a query as JSON objects (every column as text, NULL as null). */
static int rows_json(hub_store_t *s, const char *sql, const char *id, json_t *into,
                     hub_err_t *err)
{
        const char *p[1] = {id};
        PGresult *r = PQexecParams(hub_store_conn(s), sql, 1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read merges or judgements", err);
        for (int t = 0; !rc && t < PQntuples(r); t++) {
                json_t *o = json_object();
                for (int c = 0; c < PQnfields(r); c++)
                        json_object_set_new(o, PQfname(r, c),
                                            PQgetisnull(r, t, c) ? json_null()
                                                                 : json_string(PQgetvalue(r, t, c)));
                json_array_append_new(into, o);
        }
        PQclear(r);
        return rc;
}

int hub_provenance_entity(hub_store_t *s, int64_t id, const hub_key_t *hub_pub, json_t **out,
                          hub_err_t *err)
{
        char ids[24];
        snprintf(ids, sizeof(ids), "%" PRId64, id);
        const char *p[1] = {ids};
        *out = NULL;
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT kind, version, merged_into FROM entities WHERE id = $1",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the entity", err);
        if (rc || PQntuples(r) == 0) {
                PQclear(r);
                return rc;
        }
        char eid[32];
        snprintf(eid, sizeof(eid), "E%" PRId64, id);
        json_t *doc = json_object();
        json_t *ent = json_pack("{s:s, s:s, s:I}", "entity_id", eid, "kind", PQgetvalue(r, 0, 0),
                                "version", (json_int_t)strtoll(PQgetvalue(r, 0, 1), NULL, 10));
        if (!PQgetisnull(r, 0, 2)) {
                char m[32];
                snprintf(m, sizeof(m), "E%s", PQgetvalue(r, 0, 2));
                json_object_set_new(ent, "merged_into", json_string(m));
        } else {
                json_object_set_new(ent, "merged_into", json_null());
        }
        json_object_set_new(doc, "entity", ent);
        PQclear(r);

        /* The latest signed head, checked with the hub's key when given. */
        hub_mlog_head_t head;
        bool have = false, all_ok = true;
        rc = hub_mlog_latest_head(s, &head, &have, err);
        if (rc)
                goto fail;
        if (have) {
                json_t *h = json_pack("{s:I, s:o, s:I, s:s}", "log_size", (json_int_t)head.size,
                                      "root_hash", hexj(head.root, 32), "timestamp",
                                      (json_int_t)head.timestamp_ms, "key_id", head.key_id);
                hub_err_t e = {0};
                if (!hub_pub) {
                        json_object_set_new(h, "signature", json_string("not checked"));
                } else if (hub_mlog_head_verify(&head, hub_pub, &e)) {
                        char m[300];
                        snprintf(m, sizeof(m), "FAILED: %s", e.msg);
                        json_object_set_new(h, "signature", json_string(m));
                        all_ok = false;
                } else {
                        json_object_set_new(h, "signature", json_string("verified"));
                }
                json_object_set_new(doc, "tree_head", h);
        } else {
                json_object_set_new(doc, "tree_head", json_null());
                all_ok = false;
        }

        /* Values and their statements, over the entity and those merged into it. */
        r = PQexecParams(hub_store_conn(s),
                         "SELECT s.prop, s.value, s.agency, s.record_id, s.original, s.valid, "
                         "s.tier, (SELECT r.status FROM records r WHERE r.agency = s.agency AND "
                         "r.record_id = s.record_id), s.flag FROM statements s WHERE s.entity_id IN (SELECT id FROM entities "
                         "WHERE id = $1 OR merged_into = $1) ORDER BY s.prop, s.value, s.agency, "
                         "s.record_id, s.id",
                         1, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the statements", err);
        if (rc)
                goto fail;
        json_t *values = json_array(), *cur = NULL;
        json_t *seen = json_object(); /* "agency/record_id" -> true, in first-seen order */
        json_t *order = json_array();
        for (int t = 0; t < PQntuples(r); t++) {
                const char *prop = PQgetvalue(r, t, 0), *value = PQgetvalue(r, t, 1);
                if (!cur || strcmp(json_string_value(json_object_get(cur, "prop")), prop) != 0 ||
                    strcmp(json_string_value(json_object_get(cur, "value")), value) != 0) {
                        cur = json_pack("{s:s, s:s, s:[]}", "prop", prop, "value", value,
                                        "statements");
                        json_array_append_new(values, cur);
                }
                /* flag: resolution's later opinion of the value (migration 0007), not part
                 * of the committed statement; null when none. */
                json_array_append_new(
                        json_object_get(cur, "statements"),
                        json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s?}", "agency",
                                  PQgetvalue(r, t, 2), "record_id", PQgetvalue(r, t, 3),
                                  "original", PQgetvalue(r, t, 4), "valid",
                                  PQgetvalue(r, t, 5)[0] == 't', "tier", PQgetvalue(r, t, 6),
                                  "status", PQgetvalue(r, t, 7),
                                  "flag", PQgetisnull(r, t, 8) ? NULL : PQgetvalue(r, t, 8)));
                char *ref = ref_of(PQgetvalue(r, t, 2), PQgetvalue(r, t, 3));
                if (ref && !json_object_get(seen, ref)) {
                        json_object_set_new(seen, ref, json_true());
                        json_array_append_new(order, json_pack("[s, s]", PQgetvalue(r, t, 2),
                                                               PQgetvalue(r, t, 3)));
                }
                free(ref);
        }
        PQclear(r);
        r = NULL;
        json_object_set_new(doc, "values", values);
        json_decref(seen);

        /* Every source record, verified. */
        json_t *recs = json_array();
        json_object_set_new(doc, "records", recs);
        size_t i;
        json_t *pair;
        json_array_foreach(order, i, pair)
        {
                bool ok = false;
                json_t *rj = verify_record(s, json_string_value(json_array_get(pair, 0)),
                                           json_string_value(json_array_get(pair, 1)), &head,
                                           have, &ok, err, &rc);
                if (rj)
                        json_array_append_new(recs, rj);
                if (rc) {
                        json_decref(order);
                        goto fail;
                }
                all_ok = all_ok && ok;
        }
        json_decref(order);

        /* Merges and judgements on the way, with who made them (issue 4's tables). */
        if (table_exists(s, "merges")) {
                json_t *m = json_array();
                json_object_set_new(doc, "merges", m);
                rc = rows_json(s,
                               "SELECT 'E' || survivor AS survivor, 'E' || absorbed AS absorbed, "
                               "rule, evidence::text AS evidence, review, agency, record_id, "
                               "created_at::text AS created_at, undone_at::text AS undone_at "
                               "FROM merges WHERE survivor = $1 OR absorbed = $1 OR survivor IN "
                               "(SELECT id FROM entities WHERE merged_into = $1) ORDER BY id",
                               ids, m, err);
                if (rc)
                        goto fail;
        }
        if (table_exists(s, "judgements")) {
                json_t *m = json_array();
                json_object_set_new(doc, "judgements", m);
                rc = rows_json(s,
                               "SELECT id::text AS id, kind, 'E' || entity_a AS entity_a, "
                               "'E' || entity_b AS entity_b, 'E' || new_entity AS new_entity, "
                               "analyst, key_id, reason, created_at::text AS created_at, "
                               "revoked_at::text AS revoked_at, leaf_index::text AS leaf_index "
                               "FROM judgements WHERE entity_a = $1 OR entity_b = $1 OR "
                               "new_entity = $1 ORDER BY id",
                               ids, m, err);
                if (rc)
                        goto fail;
        }
        json_object_set_new(doc, "verified", json_boolean(all_ok && json_array_size(recs) > 0));
        *out = doc;
        return 0;
fail:
        PQclear(r);
        json_decref(doc);
        return rc;
}

/* ---- evidence ---- */

int hub_provenance_evidence(hub_store_t *s, const char *agency, const char *record_id,
                            uint8_t **out, size_t *len, hub_err_t *err)
{
        struct src x;
        bool found = false, lfound = false, have = false;
        hub_evidence_t *e = calloc(1, sizeof(*e));
        uint8_t *data = NULL, lh[32];
        size_t dl = 0;
        int64_t idx = -1;
        PGresult *k = NULL;
        char *ref = ref_of(agency, record_id);
        int rc = e && ref ? 0 : hub_err_set(err, HUB_E_NOMEM, false, "evidence", "out of memory");
        memset(&x, 0, sizeof(x));
        if (!rc)
                rc = load_src(s, agency, record_id, &x, &found, err);
        if (!rc && !found)
                rc = hub_err_set(err, HUB_E_INVAL, false, "evidence",
                                 "no record %s of agency %s is stored", record_id, agency);
        if (!rc && !x.b)
                rc = hub_err_set(err, HUB_E_DB, false, "evidence",
                                 "the stored batch of %s/%s does not decode", agency, record_id);
        if (!rc)
                rc = hub_mlog_find_leaf(s, HUB_MLOG_RECORD, ref, &idx, &data, &dl, lh, &lfound,
                                        err);
        if (!rc && (!lfound || dl < 96))
                rc = hub_err_set(err, HUB_E_INVAL, false, "evidence",
                                 "record %s/%s is not in the log", agency, record_id);
        if (!rc)
                rc = hub_mlog_latest_head(s, &e->head, &have, err);
        if (!rc && (!have || e->head.size <= (uint64_t)idx))
                rc = hub_err_set(err, HUB_E_INVAL, false, "evidence",
                                 "record %s/%s (leaf %" PRId64 ") is not yet covered by a signed "
                                 "tree head: wait for hubd to sign one, or run hubctl log sign",
                                 agency, record_id, idx);
        if (rc)
                goto out;
        e->record = x.payload;
        e->record_len = x.plen;
        e->record_index = x.batch_index;
        e->header = hub_batch_header_bytes(x.b, &e->header_len);
        memcpy(e->batch_signature, hub_batch_signature(x.b), HUB_SIG_BYTES);
        /* What the log committed to, not what the table says now. */
        memcpy(e->statements_digest, data + dl - 32, 32);
        e->record_leaf_index = (uint64_t)idx;
        rc = hub_batch_audit_path(x.b, x.batch_index, e->batch_path, sizeof(e->batch_path),
                                  &e->batch_path_len, err);
        if (!rc)
                rc = hub_mlog_prove_inclusion(s, (uint64_t)idx, e->head.size, e->record_proof,
                                              sizeof(e->record_proof), &e->record_proof_len, err);
        if (rc)
                goto out;
        char sz[24];
        snprintf(sz, sizeof(sz), "%" PRIu64, e->head.size);
        const char *p[3] = {agency, x.key_id, sz};
        k = PQexecParams(hub_store_conn(s),
                         "SELECT event, agency, key_id, public_key, valid_from, valid_until, "
                         "revoked_at, reason, at, leaf_index FROM key_events WHERE agency = $1 "
                         "AND key_id = $2 AND leaf_index < $3::int8 ORDER BY leaf_index LIMIT 16",
                         3, NULL, p, NULL, NULL, 1);
        rc = hub_store_check(s, k, PGRES_TUPLES_OK, "read the key's events", err);
        if (!rc && PQntuples(k) == 0)
                rc = hub_err_set(err, HUB_E_INVAL, false, "evidence",
                                 "key %s of %s has no logged registration under the latest "
                                 "tree head",
                                 x.key_id, agency);
        for (int t = 0; !rc && t < PQntuples(k); t++) {
                hub_evidence_event_t *ev = &e->events[e->n_events++];
                ev->e.event = strcmp(PQgetvalue(k, t, 0), "revoke") == 0 ? HUB_MLOG_KEY_REVOKE
                                                                         : HUB_MLOG_KEY_REGISTER;
                snprintf(ev->agency_buf, sizeof(ev->agency_buf), "%s", PQgetvalue(k, t, 1));
                snprintf(ev->key_id_buf, sizeof(ev->key_id_buf), "%s", PQgetvalue(k, t, 2));
                ev->e.agency = ev->agency_buf;
                ev->e.key_id = ev->key_id_buf;
                if (PQgetlength(k, t, 3) == HUB_PK_BYTES)
                        memcpy(ev->e.public_key, PQgetvalue(k, t, 3), HUB_PK_BYTES);
                ev->e.valid_from_us = (int64_t)be(PQgetvalue(k, t, 4), 8);
                if ((ev->e.has_valid_until = !PQgetisnull(k, t, 5)))
                        ev->e.valid_until_us = (int64_t)be(PQgetvalue(k, t, 5), 8);
                if ((ev->e.revoked = !PQgetisnull(k, t, 6)))
                        ev->e.revoked_at_us = (int64_t)be(PQgetvalue(k, t, 6), 8);
                ev->e.reason = PQgetvalue(k, t, 7);
                ev->e.at_us = (int64_t)be(PQgetvalue(k, t, 8), 8);
                ev->leaf_index = be(PQgetvalue(k, t, 9), 8);
                rc = hub_mlog_prove_inclusion(s, ev->leaf_index, e->head.size, ev->proof,
                                              sizeof(ev->proof), &ev->proof_len, err);
        }
        if (!rc)
                rc = hub_evidence_encode(e, out, len, err);
out:
        PQclear(k);
        free(data);
        free(ref);
        src_done(&x);
        free(e);
        return rc;
}
