#include "views.h"

#include "sqlbuf.h"

#include <hub/entity.h>
#include <hub/resolve.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_views {
        const hub_key_t *key;
        hub_entity_codec_t *codec;
        hub_sqlbuf_t arr, buf;
};

int hub_views_new(const hub_key_t *hub_key, hub_views_t **out, hub_err_t *err)
{
        hub_views_t *v = calloc(1, sizeof(*v));
        if (!v)
                return hub_err_set(err, HUB_E_NOMEM, false, "views", "out of memory");
        v->key = hub_key;
        int rc = hub_entity_codec_new(&v->codec, err);
        if (rc) {
                free(v);
                return rc;
        }
        *out = v;
        return 0;
}

void hub_views_free(hub_views_t *v)
{
        if (!v)
                return;
        hub_entity_codec_free(v->codec);
        hub_sqlbuf_done(&v->arr);
        hub_sqlbuf_done(&v->buf);
        free(v);
}

/* Append to a JSON array unless an equal value is there: entities have few values each. */
static void add_unique(json_t *arr, json_t *item)
{
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
                if (json_equal(x, item)) {
                        json_decref(item);
                        return;
                }
        }
        json_array_append_new(arr, item);
}

enum { C_ENTITY, C_PROP, C_VALUE, C_TIER, C_AGENCY, C_RECORD, C_ACTIVE, C_VALID };

/* Rows [from, to) of q are the statements of one entity. NULL when nothing is visible in
 * tier `tier`. */
static json_t *view_json(PGresult *e, int erow, PGresult *q, int from, int to, int tier)
{
        json_t *names = json_array(), *ids = json_array(), *cats = json_array(),
               *sources = json_array();
        bool visible = false, active = false;
        for (int t = from; t < to; t++) {
                int st = hub_tier_from_name(PQgetvalue(q, t, C_TIER));
                if (!hub_tier_visible(st, tier))
                        continue;
                visible = true;
                if (strcmp(PQgetvalue(q, t, C_ACTIVE), "t") != 0)
                        continue;
                active = true;
                add_unique(sources, json_pack("{s:s, s:s}", "agency", PQgetvalue(q, t, C_AGENCY),
                                              "record_id", PQgetvalue(q, t, C_RECORD)));
                if (strcmp(PQgetvalue(q, t, C_VALID), "t") != 0)
                        continue; /* kept as evidence in statements, not published */
                const char *prop = PQgetvalue(q, t, C_PROP), *value = PQgetvalue(q, t, C_VALUE);
                if (strncmp(prop, "name:", 5) == 0)
                        add_unique(names, json_pack("{s:s, s:s}", "value", value, "kind",
                                                    prop + 5));
                else if (strncmp(prop, "identifier:", 11) == 0)
                        add_unique(ids, json_pack("{s:s, s:s, s:n, s:n}", "type", prop + 11,
                                                  "value", value, "qualifier", "label"));
                else if (strcmp(prop, "category") == 0)
                        add_unique(cats, json_string(value));
        }
        if (!visible) {
                json_decref(names);
                json_decref(ids);
                json_decref(cats);
                json_decref(sources);
                return NULL;
        }
        char eid[32], merged[32];
        snprintf(eid, sizeof(eid), "E%s", PQgetvalue(e, erow, 0));
        snprintf(merged, sizeof(merged), "E%s", PQgetvalue(e, erow, 3));
        return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:n, s:b, s:I}",
                         "entity_id", eid, "kind", PQgetvalue(e, erow, 1), "version",
                         (json_int_t)strtoll(PQgetvalue(e, erow, 2), NULL, 10), "tier",
                         hub_tier_name(tier), "names", names, "identifiers", ids, "categories",
                         cats, "sources", sources, "merged_into",
                         PQgetisnull(e, erow, 3) ? json_null() : json_string(merged),
                         "split_from", "withdrawn", !active, "updated_at",
                         (json_int_t)strtoll(PQgetvalue(e, erow, 4), NULL, 10));
}

int hub_views_write(hub_views_t *v, hub_store_t *s, const int64_t *ids, size_t n, size_t *rows,
                    hub_err_t *err)
{
        *rows = 0;
        if (!n)
                return 0;
        hub_array_int(&v->arr, ids, n);
        const char *p[1] = {hub_sqlbuf_str(&v->arr)};
        PGconn *c = hub_store_conn(s);
        PGresult *e = PQexecParams(c,
                                   "SELECT id, kind, version, merged_into,"
                                   " floor(extract(epoch FROM updated_at) * 1000)::bigint "
                                   "FROM entities WHERE id = ANY($1::bigint[]) ORDER BY id",
                                   1, NULL, p, NULL, NULL, 0);
        PGresult *q = NULL;
        int rc = hub_store_check(s, e, PGRES_TUPLES_OK, "read changed entities", err);
        if (rc)
                goto out;
        q = PQexecParams(c,
                         "SELECT s.entity_id, s.prop, s.value, s.tier, s.agency, s.record_id,"
                         " r.status = 'active', s.valid FROM statements s JOIN records r"
                         " ON r.agency = s.agency AND r.record_id = s.record_id "
                         "WHERE s.entity_id = ANY($1::bigint[]) ORDER BY s.entity_id, s.id",
                         1, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, q, PGRES_TUPLES_OK, "read statements of changed entities", err);
        if (rc)
                goto out;
        hub_sqlbuf_reset(&v->buf);
        int from = 0, nq = PQntuples(q);
        for (int erow = 0; !rc && erow < PQntuples(e); erow++) {
                const char *id = PQgetvalue(e, erow, 0);
                while (from < nq && strtoll(PQgetvalue(q, from, C_ENTITY), NULL, 10) <
                                            strtoll(id, NULL, 10))
                        from++;
                int to = from;
                while (to < nq && strcmp(PQgetvalue(q, to, C_ENTITY), id) == 0)
                        to++;
                for (int tier = 0; !rc && tier < HUB_TIER__COUNT; tier++) {
                        json_t *view = view_json(e, erow, q, from, to, tier);
                        if (!view)
                                continue;
                        unsigned char *env = NULL;
                        size_t env_len = 0;
                        rc = hub_entity_sign_json(v->codec, view, v->key, &env, &env_len, err);
                        json_decref(view);
                        if (rc) {
                                hub_err_prefix(err, "could not sign entity E%s", id);
                                break;
                        }
                        char topic[64], key[32];
                        snprintf(topic, sizeof(topic), "hub.entities.%s",
                                 hub_tier_topic_suffix(tier));
                        snprintf(key, sizeof(key), "E%s", id);
                        hub_copy_text(&v->buf, topic);
                        hub_copy_bytea(&v->buf, key, strlen(key));
                        hub_copy_bytea(&v->buf, env, env_len);
                        hub_copy_text(&v->buf, id);
                        hub_copy_text(&v->buf, PQgetvalue(e, erow, 2));
                        hub_copy_end_row(&v->buf);
                        free(env);
                        (*rows)++;
                }
                from = to;
        }
        if (!rc)
                rc = hub_copy_run(s, "COPY outbox (topic, key, payload, entity_id, version) "
                                     "FROM STDIN",
                                  &v->buf, "store entity views in the outbox", err);
out:
        PQclear(e);
        PQclear(q);
        return rc;
}
