/* The subscriber's tables in the agency's own PostgreSQL (hub/include/hub/subscriber.h).
 *
 * These tables are not the hub's: they live in another database, owned by the agency, next to
 * its own tables, so they are created with CREATE ... IF NOT EXISTS here rather than through
 * the hub's numbered migrations (which would also create the hub's 10 tables there). Their
 * names all start with hub_ to stay out of the agency's way. */
#include <hub/subscriber.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ddl[] =
        /* Any number of subscribers may start at once on one database: one creates. */
        "SELECT pg_advisory_xact_lock(hashtext('hub_subscriber_schema'));\n"
        "CREATE TABLE IF NOT EXISTS hub_entities (\n"
        "        entity_id    text PRIMARY KEY,\n"
        "        version      bigint NOT NULL,\n"
        "        kind         text NOT NULL,\n"
        "        tier         text NOT NULL,\n"
        "        names        jsonb NOT NULL,\n"
        "        identifiers  jsonb NOT NULL,\n"
        "        categories   text[] NOT NULL,\n"
        "        sources      jsonb NOT NULL,\n"
        "        merged_into  text,\n"
        "        updated_at   timestamptz NOT NULL,\n"
        "        received_at  timestamptz NOT NULL DEFAULT now()\n"
        ");\n"
        /* Added with analysts' splits: an older subscriber's table gains it in place. */
        "ALTER TABLE hub_entities ADD COLUMN IF NOT EXISTS split_from text;\n"
        "CREATE TABLE IF NOT EXISTS hub_entity_identifiers (\n"
        "        entity_id  text NOT NULL REFERENCES hub_entities ON DELETE CASCADE,\n"
        "        type       text NOT NULL,\n"
        "        value      text NOT NULL,\n"
        "        PRIMARY KEY (entity_id, type, value)\n"
        ");\n"
        "CREATE INDEX IF NOT EXISTS hub_entity_identifiers_lookup\n"
        "        ON hub_entity_identifiers (type, value);\n"
        "CREATE TABLE IF NOT EXISTS hub_entity_tombstones (\n"
        "        entity_id     text PRIMARY KEY,\n"
        "        version       bigint NOT NULL,\n"
        "        withdrawn_at  timestamptz NOT NULL\n"
        ");\n"
        "CREATE TABLE IF NOT EXISTS hub_subscriber_offsets (\n"
        "        topic        text NOT NULL,\n"
        "        partition    integer NOT NULL CHECK (partition >= 0),\n"
        "        next_offset  bigint NOT NULL CHECK (next_offset >= 0),\n"
        "        updated_at   timestamptz NOT NULL DEFAULT now(),\n"
        "        PRIMARY KEY (topic, partition)\n"
        ");\n"
        "CREATE TABLE IF NOT EXISTS hub_subscriber_rejects (\n"
        "        topic         text NOT NULL,\n"
        "        partition     integer NOT NULL,\n"
        "        kafka_offset  bigint NOT NULL,\n"
        "        reason        text NOT NULL,\n"
        "        message       text NOT NULL,\n"
        "        kafka_key     bytea,\n"
        "        payload       bytea NOT NULL,\n"
        "        rejected_at   timestamptz NOT NULL DEFAULT now(),\n"
        "        PRIMARY KEY (topic, partition, kafka_offset)\n"
        ");\n";

int hub_sub_init(hub_store_t *s, hub_err_t *err)
{
        int rc = hub_store_begin(s, err);
        if (rc)
                return rc;
        PGresult *r = PQexec(hub_store_conn(s), ddl);
        /* PQexec of several statements returns the last one's result: a CREATE. */
        rc = hub_store_check(s, r, PGRES_COMMAND_OK, "could not create the subscriber's tables",
                             err);
        PQclear(r);
        if (rc) {
                hub_store_rollback(s);
                return rc;
        }
        return hub_store_commit(s, err);
}

int hub_sub_offsets_load(hub_store_t *s, const char *topic, int32_t n, int64_t *next,
                         hub_err_t *err)
{
        for (int32_t i = 0; i < n; i++)
                next[i] = -1;
        const char *p[1] = {topic};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT partition, next_offset FROM hub_subscriber_offsets "
                                   "WHERE topic = $1",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "could not read the stored offsets",
                                 err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                long part = strtol(PQgetvalue(r, i, 0), NULL, 10);
                if (part >= 0 && part < n)
                        next[part] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        }
        PQclear(r);
        return rc;
}

int hub_sub_offset_save(hub_store_t *s, const char *topic, int32_t partition, int64_t expected,
                        int64_t next, hub_err_t *err)
{
        char ps[16], es[24], ns[24];
        snprintf(ps, sizeof(ps), "%" PRId32, partition);
        snprintf(es, sizeof(es), "%" PRId64, expected);
        snprintf(ns, sizeof(ns), "%" PRId64, next);
        const char *p[4] = {topic, ps, ns, es};
        PGresult *r;
        if (expected < 0)
                r = PQexecParams(hub_store_conn(s),
                                 "INSERT INTO hub_subscriber_offsets (topic, partition, "
                                 "next_offset) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                 3, NULL, p, NULL, NULL, 0);
        else
                r = PQexecParams(hub_store_conn(s),
                                 "UPDATE hub_subscriber_offsets SET next_offset = $3, "
                                 "updated_at = now() WHERE topic = $1 AND partition = $2 "
                                 "AND next_offset = $4",
                                 4, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_COMMAND_OK, "could not store the offset", err);
        if (!rc && strcmp(PQcmdTuples(r), "1") != 0)
                rc = hub_err_set(err, HUB_E_DB, false, __func__,
                                 "offset of %s partition %" PRId32 " moved under us (expected %"
                                 PRId64 "): another subscriber writes this database",
                                 topic, partition, expected);
        PQclear(r);
        return rc;
}

/* ---- applying an entity ---- */

static int field_error(hub_err_t *err, const char *name)
{
        return hub_err_set(err, HUB_E_MALFORMED, false, "subscriber",
                           "entity field %s is missing or has the wrong type", name);
}

static const char *str_field(json_t *e, const char *name)
{
        return json_string_value(json_object_get(e, name));
}

/* A JSON value as text for a jsonb parameter; malloc'd. */
static char *dump(json_t *e, const char *name)
{
        json_t *v = json_object_get(e, name);
        return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static int exec(hub_store_t *s, const char *sql, int n, const char *const *p, ExecStatusType want,
                const char *what, PGresult **out, hub_err_t *err)
{
        PGresult *r = PQexecParams(hub_store_conn(s), sql, n, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, want, what, err);
        if (rc || !out)
                PQclear(r);
        else
                *out = r;
        return rc;
}

static int apply_withdrawn(hub_store_t *s, const char *const *p, enum hub_sub_outcome *outcome,
                           hub_err_t *err)
{
        /* Above both the held version and an earlier tombstone, or nothing happens. */
        PGresult *r = NULL;
        int rc = exec(s,
                      "INSERT INTO hub_entity_tombstones (entity_id, version, withdrawn_at) "
                      "SELECT $1, $2, timestamptz 'epoch' + $3::bigint * interval '1 millisecond' "
                      "WHERE NOT EXISTS (SELECT 1 FROM hub_entities e WHERE e.entity_id = $1 "
                      "AND e.version >= $2) "
                      "ON CONFLICT (entity_id) DO UPDATE SET version = EXCLUDED.version, "
                      "withdrawn_at = EXCLUDED.withdrawn_at "
                      "WHERE hub_entity_tombstones.version < EXCLUDED.version RETURNING 1",
                      3, p, PGRES_TUPLES_OK, "could not record a withdrawn entity", &r, err);
        if (rc)
                return rc;
        bool newer = PQntuples(r) == 1;
        PQclear(r);
        if (!newer) {
                *outcome = HUB_SUB_IGNORED;
                return 0;
        }
        /* Identifiers go with it (ON DELETE CASCADE). */
        rc = exec(s, "DELETE FROM hub_entities WHERE entity_id = $1", 1, p, PGRES_COMMAND_OK,
                  "could not delete a withdrawn entity", NULL, err);
        if (!rc)
                *outcome = HUB_SUB_DELETED;
        return rc;
}

int hub_sub_apply(hub_store_t *s, json_t *e, enum hub_sub_outcome *outcome, hub_err_t *err)
{
        const char *id = str_field(e, "entity_id"), *kind = str_field(e, "kind"),
                   *tier = str_field(e, "tier"), *merged = str_field(e, "merged_into"),
                   *split = str_field(e, "split_from");
        json_t *jv = json_object_get(e, "version"), *ju = json_object_get(e, "updated_at"),
               *jw = json_object_get(e, "withdrawn");
        if (!id)
                return field_error(err, "entity_id");
        if (!kind || !tier)
                return field_error(err, !kind ? "kind" : "tier");
        if (!json_is_integer(jv) || !json_is_integer(ju) || !json_is_boolean(jw))
                return field_error(err, !json_is_integer(jv)   ? "version"
                                        : !json_is_integer(ju) ? "updated_at"
                                                               : "withdrawn");
        char vs[24], us[24];
        snprintf(vs, sizeof(vs), "%" JSON_INTEGER_FORMAT, json_integer_value(jv));
        snprintf(us, sizeof(us), "%" JSON_INTEGER_FORMAT, json_integer_value(ju));
        if (json_is_true(jw)) {
                const char *p[3] = {id, vs, us};
                return apply_withdrawn(s, p, outcome, err);
        }
        char *names = dump(e, "names"), *idents = dump(e, "identifiers"),
             *cats = dump(e, "categories"), *srcs = dump(e, "sources");
        int rc;
        PGresult *r = NULL;
        if (!names || !idents || !cats || !srcs) {
                rc = field_error(err, "names, identifiers, categories or sources");
                goto out;
        }
        const char *p[11] = {id, vs, kind, tier, names, idents, cats, srcs, merged, us, split};
        rc = exec(s,
                  "INSERT INTO hub_entities (entity_id, version, kind, tier, names, "
                  "identifiers, categories, sources, merged_into, updated_at, split_from) "
                  "SELECT $1, $2, $3, $4, $5::jsonb, $6::jsonb, "
                  "ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), $8::jsonb, $9, "
                  "timestamptz 'epoch' + $10::bigint * interval '1 millisecond', $11 "
                  "WHERE NOT EXISTS (SELECT 1 FROM hub_entity_tombstones t "
                  "WHERE t.entity_id = $1 AND t.version >= $2) "
                  "ON CONFLICT (entity_id) DO UPDATE SET version = EXCLUDED.version, "
                  "kind = EXCLUDED.kind, tier = EXCLUDED.tier, names = EXCLUDED.names, "
                  "identifiers = EXCLUDED.identifiers, categories = EXCLUDED.categories, "
                  "sources = EXCLUDED.sources, merged_into = EXCLUDED.merged_into, "
                  "split_from = EXCLUDED.split_from, "
                  "updated_at = EXCLUDED.updated_at, received_at = now() "
                  "WHERE hub_entities.version < EXCLUDED.version "
                  "RETURNING (xmax = 0)",
                  11, p, PGRES_TUPLES_OK, "could not upsert an entity", &r, err);
        if (rc)
                goto out;
        if (PQntuples(r) != 1) {
                *outcome = HUB_SUB_IGNORED;
                goto out;
        }
        bool inserted = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        r = NULL;
        /* A re-activated entity leaves its tombstone; its identifiers are replaced whole. */
        if ((rc = exec(s, "DELETE FROM hub_entity_tombstones WHERE entity_id = $1", 1, p,
                       PGRES_COMMAND_OK, "could not clear a tombstone", NULL, err)) ||
            (!inserted &&
             (rc = exec(s, "DELETE FROM hub_entity_identifiers WHERE entity_id = $1", 1, p,
                        PGRES_COMMAND_OK, "could not replace identifiers", NULL, err))))
                goto out;
        if (merged) {
                /* A redirect: the survivor carries the identifiers now, so a lookup by
                 * identifier finds the survivor only. */
                *outcome = HUB_SUB_REDIRECTED;
                goto out;
        }
        const char *q[2] = {id, idents};
        rc = exec(s,
                  "INSERT INTO hub_entity_identifiers (entity_id, type, value) "
                  "SELECT DISTINCT $1, x->>'type', x->>'value' "
                  "FROM jsonb_array_elements($2::jsonb) x "
                  "WHERE x->>'type' IS NOT NULL AND x->>'value' IS NOT NULL",
                  2, q, PGRES_COMMAND_OK, "could not store identifiers", NULL, err);
        if (!rc)
                *outcome = inserted ? HUB_SUB_INSERTED : HUB_SUB_UPDATED;
out:
        PQclear(r);
        free(names);
        free(idents);
        free(cats);
        free(srcs);
        return rc;
}

int hub_sub_reject(hub_store_t *s, const char *topic, int32_t partition, int64_t offset,
                   const char *reason, const char *message, const void *key, size_t key_len,
                   const void *payload, size_t len, hub_err_t *err)
{
        char ps[16], os[24];
        snprintf(ps, sizeof(ps), "%" PRId32, partition);
        snprintf(os, sizeof(os), "%" PRId64, offset);
        static const char empty[1] = "";
        const char *p[7] = {topic, ps, os, reason, message, key ? key : NULL,
                            payload ? payload : empty};
        int lens[7] = {0, 0, 0, 0, 0, (int)key_len, (int)len};
        int fmts[7] = {0, 0, 0, 0, 0, 1, 1};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "INSERT INTO hub_subscriber_rejects (topic, partition, "
                                   "kafka_offset, reason, message, kafka_key, payload) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                                   7, NULL, p, lens, fmts, 0);
        int rc = hub_store_check(s, r, PGRES_COMMAND_OK, "could not record a rejected message",
                                 err);
        PQclear(r);
        return rc;
}
