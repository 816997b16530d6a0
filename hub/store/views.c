#include "views.h"

#include "sqlbuf.h"

#include <hub/entity.h>
#include <hub/ident.h>
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

/* Append item to arr unless an item with the same key (a, b) is there. seen, a JSON object, is
 * the hash set of keys (jansson's hashtable): a view of an entity with k statements costs
 * O(k), where comparing each item with every earlier one cost O(k^2) for a growing entity. */
static void add_unique(json_t *arr, json_t *seen, const char *a, const char *b, json_t *item)
{
        size_t n = strlen(a) + strlen(b) + 2;
        char *key = malloc(n);
        if (!key || !item) {
                free(key);
                json_decref(item);
                return;
        }
        snprintf(key, n, "%s\x1f%s", a, b);
        if (json_object_get(seen, key) || json_object_set_new(seen, key, json_true()) != 0)
                json_decref(item);
        else
                json_array_append_new(arr, item);
        free(key);
}

/* Identifiers, categories and sources are listed in a stable order (by type and value, by
 * code, by agency and record id), not in the order their statements arrived, so two hubs that
 * received the same records in different orders publish the same view. */
static const char *member(const json_t *item, const char *name)
{
        const char *v = json_string_value(json_object_get(item, name));
        return v ? v : "";
}

static int cmp_members(const json_t *a, const json_t *b, const char *m1, const char *m2)
{
        int c = strcmp(member(a, m1), member(b, m1));
        return c ? c : strcmp(member(a, m2), member(b, m2));
}

static int cmp_identifier(const void *x, const void *y)
{
        return cmp_members(*(json_t *const *)x, *(json_t *const *)y, "type", "value");
}

static int cmp_source(const void *x, const void *y)
{
        return cmp_members(*(json_t *const *)x, *(json_t *const *)y, "agency", "record_id");
}

static int cmp_string(const void *x, const void *y)
{
        const char *a = json_string_value(*(json_t *const *)x),
                   *b = json_string_value(*(json_t *const *)y);
        return strcmp(a ? a : "", b ? b : "");
}

static void sort_items(json_t *arr, int (*cmp)(const void *, const void *))
{
        size_t n = json_array_size(arr);
        if (n < 2)
                return;
        json_t **items = malloc(n * sizeof(*items));
        if (!items)
                return; /* unsorted is still a correct view */
        for (size_t i = 0; i < n; i++)
                items[i] = json_incref(json_array_get(arr, i));
        qsort(items, n, sizeof(*items), cmp);
        json_array_clear(arr);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, items[i]);
        free(items);
}

enum { C_ENTITY, C_PROP, C_VALUE, C_TIER, C_AGENCY, C_RECORD, C_ACTIVE, C_VALID, C_REPORTED };

/* One distinct displayed name and the facts of the display rule (hub/store/README.md). */
struct name {
        hub_name_rank_t rank;
        const char *kind;
        char key[256];
};

#define MAX_NAMES 64

static int name_cmp(const void *a, const void *b)
{
        return hub_resolve_name_cmp(&((const struct name *)a)->rank,
                                    &((const struct name *)b)->rank);
}

/* The names of rows [from, to) visible in `tier`, ordered by the display rule: names[0] is the
 * one to show. Names group by match key for the agency count, so "CÔNG TY TNHH X" and
 * "Công ty TNHH X" support each other; within a group the spelling with diacritics, then the
 * latest, shows first. */
static json_t *ordered_names(PGresult *q, int from, int to, int tier)
{
        struct scratch {
                struct name names[MAX_NAMES];
                /* (key, agency) pairs seen, to count distinct agencies per key. */
                char seen_key[4 * MAX_NAMES][256];
                const char *seen_agency[4 * MAX_NAMES];
        } *sc = malloc(sizeof(*sc));
        if (!sc)
                return NULL;
        struct name *names = sc->names;
        char(*seen_key)[256] = sc->seen_key;
        const char **seen_agency = sc->seen_agency;
        size_t n = 0, n_seen = 0;
        for (int t = from; t < to; t++) {
                const char *prop = PQgetvalue(q, t, C_PROP), *value = PQgetvalue(q, t, C_VALUE);
                if (strncmp(prop, "name:", 5) != 0 ||
                    !hub_tier_visible(hub_tier_from_name(PQgetvalue(q, t, C_TIER)), tier) ||
                    strcmp(PQgetvalue(q, t, C_ACTIVE), "t") != 0 ||
                    strcmp(PQgetvalue(q, t, C_VALID), "t") != 0)
                        continue;
                char key[256];
                hub_err_t e = {0};
                if (hub_name_match_key(value, true, key, sizeof(key), &e) || !key[0])
                        snprintf(key, sizeof(key), "%s", value);
                int64_t ms = strtoll(PQgetvalue(q, t, C_REPORTED), NULL, 10);
                bool legal = strcmp(prop + 5, "LEGAL") == 0;
                const char *agency = PQgetvalue(q, t, C_AGENCY);
                bool pair = false;
                for (size_t i = 0; i < n_seen && !pair; i++)
                        pair = strcmp(seen_key[i], key) == 0 &&
                               strcmp(seen_agency[i], agency) == 0;
                if (!pair && n_seen < 4 * MAX_NAMES) {
                        snprintf(seen_key[n_seen], 256, "%s", key);
                        seen_agency[n_seen++] = agency;
                }
                size_t i = 0;
                while (i < n && strcmp(names[i].rank.value, value) != 0)
                        i++;
                if (i == n) {
                        if (n == MAX_NAMES)
                                continue;
                        memset(&names[n], 0, sizeof(names[n]));
                        names[n].rank.value = value;
                        names[n].kind = prop + 5;
                        snprintf(names[n].key, sizeof(names[n].key), "%s", key);
                        for (const unsigned char *c = (const unsigned char *)value; *c; c++)
                                names[n].rank.has_marks |= *c >= 0x80;
                        n++;
                }
                /* The kind shown with a spelling: LEGAL when any record says so, else the
                 * smallest kind by byte order (not the first to arrive). */
                if (legal && !names[i].rank.legal) {
                        names[i].rank.legal = true;
                        names[i].kind = "LEGAL";
                } else if (!names[i].rank.legal && strcmp(prop + 5, names[i].kind) < 0) {
                        names[i].kind = prop + 5;
                }
                if (ms > names[i].rank.latest_ms)
                        names[i].rank.latest_ms = ms;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n_seen; j++)
                        names[i].rank.agencies += strcmp(seen_key[j], names[i].key) == 0;
        qsort(names, n, sizeof(names[0]), name_cmp);
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(out, json_pack("{s:s, s:s}", "value", names[i].rank.value,
                                                     "kind", names[i].kind));
        free(sc);
        return out;
}

/* Rows [from, to) of q are the statements of one entity. NULL when nothing is visible in
 * tier `tier`. */
static json_t *view_json(PGresult *e, int erow, PGresult *q, int from, int to, int tier,
                         bool redirect)
{
        json_t *names = ordered_names(q, from, to, tier), *ids = json_array(),
               *cats = json_array(), *sources = json_array(), *seen_sources = json_object(),
               *seen_ids = json_object(), *seen_cats = json_object();
        /* A merged entity has no statements left: it is published as a redirect to the tiers
         * that saw it before, so their subscribers follow it. */
        bool visible = redirect, active = redirect;
        for (int t = from; t < to; t++) {
                int st = hub_tier_from_name(PQgetvalue(q, t, C_TIER));
                if (!hub_tier_visible(st, tier))
                        continue;
                visible = true;
                if (strcmp(PQgetvalue(q, t, C_ACTIVE), "t") != 0)
                        continue;
                active = true;
                const char *agency = PQgetvalue(q, t, C_AGENCY),
                           *record = PQgetvalue(q, t, C_RECORD);
                add_unique(sources, seen_sources, agency, record,
                           json_pack("{s:s, s:s}", "agency", agency, "record_id", record));
                if (strcmp(PQgetvalue(q, t, C_VALID), "t") != 0)
                        continue; /* kept as evidence in statements, not published */
                const char *prop = PQgetvalue(q, t, C_PROP), *value = PQgetvalue(q, t, C_VALUE);
                if (strncmp(prop, "name:", 5) == 0)
                        continue; /* ordered_names() */
                else if (strncmp(prop, "identifier:", 11) == 0)
                        add_unique(ids, seen_ids, prop + 11, value,
                                   json_pack("{s:s, s:s, s:n, s:n}", "type", prop + 11, "value",
                                             value, "qualifier", "label"));
                else if (strcmp(prop, "category") == 0)
                        add_unique(cats, seen_cats, value, "", json_string(value));
        }
        sort_items(ids, cmp_identifier);
        sort_items(cats, cmp_string);
        sort_items(sources, cmp_source);
        json_decref(seen_sources);
        json_decref(seen_ids);
        json_decref(seen_cats);
        if (!visible) {
                json_decref(names);
                json_decref(ids);
                json_decref(cats);
                json_decref(sources);
                return NULL;
        }
        char eid[32], merged[32], split[32];
        snprintf(eid, sizeof(eid), "E%s", PQgetvalue(e, erow, 0));
        snprintf(merged, sizeof(merged), "E%s", PQgetvalue(e, erow, 3));
        snprintf(split, sizeof(split), "E%s", PQgetvalue(e, erow, 5));
        return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:I}",
                         "entity_id", eid, "kind", PQgetvalue(e, erow, 1), "version",
                         (json_int_t)strtoll(PQgetvalue(e, erow, 2), NULL, 10), "tier",
                         hub_tier_name(tier), "names", names, "identifiers", ids, "categories",
                         cats, "sources", sources, "merged_into",
                         PQgetisnull(e, erow, 3) ? json_null() : json_string(merged),
                         "split_from", PQgetisnull(e, erow, 5) ? json_null() : json_string(split),
                         "withdrawn", !active, "updated_at",
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
                                   " floor(extract(epoch FROM updated_at) * 1000)::bigint,"
                                   " split_from FROM entities WHERE id = ANY($1::bigint[]) ORDER BY id",
                                   1, NULL, p, NULL, NULL, 0);
        PGresult *q = NULL, *pub = NULL;
        int rc = hub_store_check(s, e, PGRES_TUPLES_OK, "read changed entities", err);
        if (rc)
                goto out;
        q = PQexecParams(c,
                         "SELECT s.entity_id, s.prop, s.value, s.tier, s.agency, s.record_id,"
                         " r.status = 'active', s.valid AND s.flag IS NULL,"
                         " coalesce(floor(extract(epoch FROM r.reported_at) * 1000)::bigint, 0)"
                         " FROM statements s JOIN records r"
                         " ON r.agency = s.agency AND r.record_id = s.record_id "
                         "WHERE s.entity_id = ANY($1::bigint[]) ORDER BY s.entity_id, s.id",
                         1, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, q, PGRES_TUPLES_OK, "read statements of changed entities", err);
        if (rc)
                goto out;
        /* Tiers each merged entity was published to before. */
        pub = PQexecParams(c,
                           "SELECT DISTINCT o.entity_id, o.topic FROM outbox o JOIN entities e"
                           " ON e.id = o.entity_id WHERE e.merged_into IS NOT NULL AND"
                           " o.entity_id = ANY($1::bigint[]) AND o.topic LIKE 'hub.entities.%'",
                           1, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, pub, PGRES_TUPLES_OK, "read where merged entities went", err);
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
                        bool redirect = false;
                        char topic_name[64];
                        snprintf(topic_name, sizeof(topic_name), "hub.entities.%s",
                                 hub_tier_topic_suffix(tier));
                        for (int t = 0; t < PQntuples(pub) && !redirect; t++)
                                redirect = strcmp(PQgetvalue(pub, t, 0), id) == 0 &&
                                           strcmp(PQgetvalue(pub, t, 1), topic_name) == 0;
                        if (!PQgetisnull(e, erow, 3) && !redirect)
                                continue; /* merged before any subscriber saw it */
                        json_t *view = view_json(e, erow, q, from, to, tier, redirect);
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
        PQclear(pub);
        return rc;
}
