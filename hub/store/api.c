/* The HTTP API's SQL: tokens, the access log with its leaves, tier-filtered reads. See
 * hub/api_store.h and migrations/0006_api.sql. */
#include <hub/api_store.h>
#include <hub/ident.h>
#include <hub/mlog_store.h>
#include <hub/query.h>
#include <hub/resolve.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t be(const char *p, int n)
{
        uint64_t x = 0;
        for (int i = 0; i < n; i++)
                x = (x << 8) | (unsigned char)p[i];
        return x;
}

/* The tiers visible in `tier`, as a PostgreSQL text[] literal. */
static void tiers_literal(int tier, char out[64])
{
        size_t o = 0;
        out[o++] = '{';
        for (int t = 0; t < HUB_TIER__COUNT; t++) {
                if (!hub_tier_visible(t, tier))
                        continue;
                o += (size_t)snprintf(out + o, 64 - o, "%s%s", o > 1 ? "," : "", hub_tier_name(t));
        }
        snprintf(out + o, 64 - o, "}");
}

/* ---- tokens ---- */

int hub_api_token_create(hub_store_t *s, const char *agency, int tier, char *token, size_t cap,
                         int64_t *id, hub_err_t *err)
{
        if (cap < HUB_API_TOKEN_LEN + 1 || !hub_tier_name(tier))
                return hub_err_set(err, HUB_E_INVAL, false, "api", "bad token arguments");
        uint8_t hash[32];
        hub_api_token_new(token, cap);
        hub_api_token_hash(token, strlen(token), hash);
        const char *p[3] = {agency, hub_tier_name(tier), (const char *)hash};
        int lens[3] = {0, 0, 32}, fmts[3] = {0, 0, 1};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "INSERT INTO api_tokens (agency, tier, hash) VALUES ($1, $2, "
                                   "$3) RETURNING id",
                                   3, NULL, p, lens, fmts, 0);
        int rc;
        if (strcmp(hub_store_sqlstate(r), "23503") == 0)
                rc = hub_err_set(err, HUB_E_CONFIG, false, "api", "agency %s is not registered",
                                 agency);
        else
                rc = hub_store_check(s, r, PGRES_TUPLES_OK, "create an API token", err);
        if (!rc && id)
                *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (rc)
                sodium_memzero(token, cap);
        PQclear(r);
        return rc;
}

int hub_api_token_revoke(hub_store_t *s, int64_t id, hub_err_t *err)
{
        char ids[24];
        snprintf(ids, sizeof(ids), "%" PRId64, id);
        const char *p[1] = {ids};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "WITH u AS (UPDATE api_tokens SET revoked_at = now() WHERE "
                                   "id = $1::int8 AND revoked_at IS NULL RETURNING id) SELECT "
                                   "(SELECT count(*) FROM u), (SELECT count(*) FROM api_tokens "
                                   "WHERE id = $1::int8)",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "revoke an API token", err);
        if (!rc && strcmp(PQgetvalue(r, 0, 1), "0") == 0)
                rc = hub_err_set(err, HUB_E_KEY, false, "api", "no API token %" PRId64, id);
        else if (!rc && strcmp(PQgetvalue(r, 0, 0), "0") == 0)
                rc = hub_err_set(err, HUB_E_KEY, false, "api", "API token %" PRId64
                                 " is already revoked", id);
        PQclear(r);
        return rc;
}

int hub_api_token_check(hub_store_t *s, const char *token, size_t len, hub_api_caller_t *out,
                        hub_err_t *err)
{
        memset(out, 0, sizeof(*out));
        uint8_t hash[32];
        hub_api_token_hash(token, len, hash);
        const char *p[1] = {(const char *)hash};
        int lens[1] = {32}, fmts[1] = {1};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT id, agency, tier, revoked_at IS NOT NULL AND "
                                   "revoked_at <= now() FROM api_tokens WHERE hash = $1",
                                   1, NULL, p, lens, fmts, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look up an API token", err);
        if (!rc && PQntuples(r) == 1) {
                out->found = true;
                out->token_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
                snprintf(out->agency, sizeof(out->agency), "%s", PQgetvalue(r, 0, 1));
                out->tier = hub_tier_from_name(PQgetvalue(r, 0, 2));
                out->revoked = PQgetvalue(r, 0, 3)[0] == 't';
                if (out->tier < 0) /* fail closed */
                        out->revoked = true;
        }
        PQclear(r);
        return rc;
}

/* ---- the access log ---- */

int hub_api_access_write(hub_store_t *s, hub_api_access_t *a, hub_err_t *err)
{
        PGconn *c = hub_store_conn(s);
        uint8_t *leaf = NULL;
        size_t leaf_len = 0;
        PGresult *r = NULL;
        int rc = hub_store_begin(s, err);
        if (rc)
                return rc;
        r = PQexec(c, "SELECT nextval('access_log_id_seq'), (extract(epoch FROM "
                      "clock_timestamp()) * 1000000)::int8");
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "number an access-log row", err);
        if (rc)
                goto out;
        a->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        a->at_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        r = NULL;
        char ref[24];
        snprintf(ref, sizeof(ref), "%" PRId64, a->id);
        int64_t idx = 0;
        if ((rc = hub_api_access_leaf(a, &leaf, &leaf_len, err)) ||
            (rc = hub_mlog_append(s, HUB_MLOG_ACCESS, ref, leaf + sizeof(HUB_MLOG_LEAF_DOMAIN) + 1,
                                  leaf_len - sizeof(HUB_MLOG_LEAF_DOMAIN) - 1, &idx, err)))
                goto out;
        char ent[24], st[16], at[24], ix[24];
        snprintf(ent, sizeof(ent), "%" PRId64, a->entity_id);
        snprintf(st, sizeof(st), "%d", a->status);
        snprintf(at, sizeof(at), "%" PRId64, a->at_us);
        snprintf(ix, sizeof(ix), "%" PRId64, idx);
        const char *p[8] = {ref, a->who, a->method, a->path, a->entity_id ? ent : NULL, st, at,
                            ix};
        r = PQexecParams(c,
                         "INSERT INTO access_log (id, who, method, path, entity_id, status, at, "
                         "leaf_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         8, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_COMMAND_OK, "write the access log", err);
        if (!rc)
                rc = hub_store_commit(s, err);
out:
        if (rc)
                hub_store_rollback(s);
        PQclear(r);
        free(leaf);
        return rc;
}

int hub_api_access_verify_leaf(hub_store_t *s, uint64_t idx, const char *ref,
                               const uint8_t *data, size_t len, char *problem, size_t cap,
                               hub_err_t *err)
{
        const char *p[1] = {ref};
        problem[0] = '\0';
        char *end = NULL;
        strtoll(ref, &end, 10);
        if (!*ref || *end) {
                snprintf(problem, cap, "leaf %" PRIu64 " has a bad access-log reference", idx);
                return 0;
        }
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT id, who, method, path, entity_id, status, at, "
                                   "leaf_index FROM access_log WHERE id = $1::int8",
                                   1, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read an access-log row", err);
        if (!rc && PQntuples(r) != 1) {
                snprintf(problem, cap, "leaf %" PRIu64 " commits to an access-log row that is "
                         "not stored (deleted?)", idx);
        } else if (!rc) {
                char *who = strndup(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1));
                char *method = strndup(PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
                char *path = strndup(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3));
                hub_api_access_t a = {
                        .id = (int64_t)be(PQgetvalue(r, 0, 0), 8),
                        .who = who,
                        .method = method,
                        .path = path,
                        .entity_id = PQgetisnull(r, 0, 4) ? 0
                                                          : (int64_t)be(PQgetvalue(r, 0, 4), 8),
                        .status = (int)be(PQgetvalue(r, 0, 5), 4),
                        .at_us = (int64_t)be(PQgetvalue(r, 0, 6), 8),
                };
                uint8_t *d = NULL;
                size_t dl = 0;
                if (!who || !method || !path)
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "api", "out of memory");
                if (!rc)
                        rc = hub_api_access_leaf(&a, &d, &dl, err);
                if (!rc && (dl != len || memcmp(d, data, len) != 0))
                        snprintf(problem, cap, "the row (%s %s %s, status %d) differs from what "
                                 "leaf %" PRIu64 " commits to", who, method, path, a.status, idx);
                else if (!rc && be(PQgetvalue(r, 0, 7), 8) != idx)
                        snprintf(problem, cap, "leaf_index is not %" PRIu64, idx);
                free(d);
                free(who);
                free(method);
                free(path);
        }
        PQclear(r);
        return rc;
}

int hub_api_access_unlogged(hub_store_t *s, void (*row)(int64_t id, void *arg), void *arg,
                            hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(s),
                             "SELECT a.id FROM access_log a WHERE NOT EXISTS (SELECT 1 FROM "
                             "log_leaves l WHERE l.kind = 6 AND l.ref = a.id::text) ORDER BY 1 "
                             "LIMIT 100");
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look for unlogged access-log rows", err);
        for (int t = 0; !rc && t < PQntuples(r); t++)
                row(strtoll(PQgetvalue(r, t, 0), NULL, 10), arg);
        PQclear(r);
        return rc;
}

/* ---- reads ---- */

struct entity_doc {
        int tier;
        json_t *statements, *names, *identifiers;
        size_t all;
};

static bool prefixed(const char *prop, const char *word)
{
        size_t n = strlen(word);
        return strncmp(prop, word, n) == 0 && (prop[n] == '\0' || prop[n] == ':');
}

static void add_unique(json_t *list, json_t *item)
{
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (json_equal(v, item))
        {
                json_decref(item);
                return;
        }
        json_array_append_new(list, item);
}

static int on_statement(const hub_statement_row_t *st, void *arg)
{
        struct entity_doc *d = arg;
        d->all++;
        if (!hub_tier_visible(hub_tier_from_name(st->tier), d->tier))
                return 0;
        json_array_append_new(
                d->statements,
                json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s, s:s, s:s}", "prop", st->prop, "value",
                          st->value, "original", st->original, "valid", st->valid, "reason",
                          st->reason[0] ? st->reason : NULL, "tier", st->tier, "agency",
                          st->agency, "record_id", st->record_id));
        if (!st->valid)
                return 0;
        if (prefixed(st->prop, "name"))
                add_unique(d->names, json_string(st->value));
        else if (prefixed(st->prop, "identifier"))
                add_unique(d->identifiers,
                           json_pack("{s:s, s:s}", "type",
                                     st->prop[10] == ':' ? st->prop + 11 : "", "value",
                                     st->value));
        return 0;
}

int hub_api_entity(hub_store_t *s, int64_t id, int tier, json_t **out, int *status,
                   hub_err_t *err)
{
        hub_entity_row_t e;
        bool found = false;
        *out = NULL;
        int rc = hub_query_entity(s, id, &found, &e, err);
        if (rc)
                return rc;
        if (!found) {
                *status = 404;
                return 0;
        }
        struct entity_doc d = {tier, json_array(), json_array(), json_array(), 0};
        rc = hub_query_entity_statements(s, id, on_statement, &d, err);
        if (!rc && d.all > 0 && json_array_size(d.statements) == 0) {
                *status = 403;
        } else if (!rc) {
                *status = 200;
                *out = json_pack("{s:o, s:s, s:I, s:o, s:b, s:s, s:o, s:o, s:o}", "entity_id",
                                 json_sprintf("E%" PRId64, e.id), "kind", e.kind, "version",
                                 (json_int_t)e.version, "merged_into",
                                 e.merged_into ? json_sprintf("E%" PRId64, e.merged_into)
                                               : json_null(),
                                 "withdrawn", e.withdrawn, "tier", hub_tier_name(tier), "names",
                                 d.names, "identifiers", d.identifiers, "statements",
                                 d.statements);
                d.names = d.identifiers = d.statements = NULL;
                if (!*out)
                        rc = hub_err_set(err, HUB_E_NOMEM, false, "api", "out of memory");
        }
        json_decref(d.statements);
        json_decref(d.names);
        json_decref(d.identifiers);
        return rc;
}

int hub_api_find_identifier(hub_store_t *s, const char *type, const char *value, int tier,
                            int64_t *entity, bool *visible, hub_err_t *err)
{
        bool found = false;
        int64_t direct = 0, surviving = 0;
        *entity = 0;
        *visible = false;
        int rc = hub_query_identifier(s, type, value, &found, &direct, &surviving, err);
        if (rc || !found)
                return rc;
        *entity = surviving ? surviving : direct;
        char ids[24], tiers[64], prop[64];
        snprintf(ids, sizeof(ids), "%" PRId64, *entity);
        snprintf(prop, sizeof(prop), "identifier:%s", type);
        tiers_literal(tier, tiers);
        const char *p[4] = {ids, prop, value, tiers};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT 1 FROM statements WHERE entity_id = $1::int8 AND prop "
                                   "= $2 AND value = $3 AND valid AND flag IS NULL AND tier = ANY($4::text[]) "
                                   "LIMIT 1",
                                   4, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "check an identifier's tier", err);
        *visible = !rc && PQntuples(r) == 1;
        PQclear(r);
        return rc;
}

int hub_api_find_name(hub_store_t *s, const char *key, int tier, int64_t *ids, size_t cap,
                      size_t *n, hub_err_t *err)
{
        char tiers[64];
        tiers_literal(tier, tiers);
        const char *p[2] = {key, tiers};
        *n = 0;
        /* match_keys narrows to the entities that ever had the key; the statements visible in
         * the tier must then carry a name with that key themselves. */
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT DISTINCT hub_canonical(s.entity_id), s.value FROM "
                                   "statements s WHERE s.entity_id IN (SELECT entity_id FROM "
                                   "match_keys WHERE kind = 'NAME' AND value = $1) AND (s.prop = "
                                   "'name' OR s.prop LIKE 'name:%') AND s.valid AND s.tier = "
                                   "ANY($2::text[]) ORDER BY 1 LIMIT 5000",
                                   2, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "search names", err);
        for (int t = 0; !rc && t < PQntuples(r) && *n < cap; t++) {
                int64_t id = strtoll(PQgetvalue(r, t, 0), NULL, 10);
                char k[512];
                if (*n && ids[*n - 1] == id)
                        continue;
                if (hub_name_match_key(PQgetvalue(r, t, 1), true, k, sizeof(k), NULL) == 0 &&
                    strcmp(k, key) == 0)
                        ids[(*n)++] = id;
        }
        PQclear(r);
        return rc;
}

int hub_api_record(hub_store_t *s, const char *agency, const char *record_id, bool *found,
                   int *tier, int64_t *entity, hub_err_t *err)
{
        const char *p[2] = {agency, record_id};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT tier, coalesce(hub_canonical(entity_id), 0) FROM "
                                   "records WHERE agency = $1 AND record_id = $2",
                                   2, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read a record", err);
        *found = !rc && PQntuples(r) == 1;
        if (*found) {
                *tier = hub_tier_from_name(PQgetvalue(r, 0, 0));
                *entity = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        }
        PQclear(r);
        return rc;
}
