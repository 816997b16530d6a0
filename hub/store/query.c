/* Read-only lookups behind hubctl query, entity show and status. */
#include <hub/query.h>
#include <hub/timestamp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Timestamps leave as microseconds since the epoch (see registry.c). */
#define TS_OUT(col) "(extract(epoch FROM " col ") * 1000000)::int8"

static int64_t ts_value(const PGresult *r, int row, int col)
{
        if (PQgetisnull(r, row, col))
                return HUB_TS_NONE;
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int64_t i64(const PGresult *r, int row, int col)
{
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static PGresult *run(hub_store_t *s, const char *sql, int n, const char *const *params)
{
        return PQexecParams(hub_store_conn(s), sql, n, NULL, params, NULL, NULL, 0);
}

int hub_query_migrations(hub_store_t *s, int after,
                         int (*row)(const hub_migration_row_t *m, void *arg), void *arg,
                         hub_err_t *err)
{
        char a[16];
        snprintf(a, sizeof(a), "%d", after);
        const char *params[1] = {a};
        PGresult *r = run(s,
                          "SELECT version, name, " TS_OUT("applied_at") " FROM schema_migrations "
                          "WHERE version > $1::int ORDER BY version",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the applied migrations", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_migration_row_t m = {atoi(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1),
                                         ts_value(r, i, 2)};
                rc = row(&m, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_identifier(hub_store_t *s, const char *type, const char *value, bool *found,
                         int64_t *entity_id, int64_t *surviving, hub_err_t *err)
{
        const char *params[2] = {type, value};
        /* Follow merged_into to the survivor; the depth bound keeps a corrupt cycle from
         * looping for ever. */
        PGresult *r = run(s,
                          "WITH RECURSIVE chain (id, next, depth) AS ("
                          " SELECT e.id, e.merged_into, 0 FROM identifiers i"
                          " JOIN entities e ON e.id = i.entity_id"
                          " WHERE i.type = $1 AND i.value = $2"
                          " UNION ALL"
                          " SELECT e.id, e.merged_into, c.depth + 1 FROM chain c"
                          " JOIN entities e ON e.id = c.next WHERE c.depth < 64)"
                          " SELECT (SELECT id FROM chain WHERE depth = 0),"
                          " (SELECT id FROM chain ORDER BY depth DESC LIMIT 1)",
                          2, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look the identifier up", err);
        if (!rc) {
                *found = !PQgetisnull(r, 0, 0);
                *entity_id = *found ? i64(r, 0, 0) : 0;
                *surviving = *found ? i64(r, 0, 1) : 0;
        }
        PQclear(r);
        return rc;
}

int hub_query_entity(hub_store_t *s, int64_t id, bool *found, hub_entity_row_t *out,
                     hub_err_t *err)
{
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
        const char *params[1] = {idbuf};
        PGresult *r = run(s,
                          "SELECT id, kind, version, coalesce(merged_into, 0), withdrawn, "
                          TS_OUT("created_at") ", " TS_OUT("updated_at")
                          " FROM entities WHERE id = $1::int8",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look the entity up", err);
        if (!rc) {
                *found = PQntuples(r) > 0;
                memset(out, 0, sizeof(*out));
                if (*found) {
                        out->id = i64(r, 0, 0);
                        snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(r, 0, 1));
                        out->version = i64(r, 0, 2);
                        out->merged_into = i64(r, 0, 3);
                        out->withdrawn = PQgetvalue(r, 0, 4)[0] == 't';
                        out->created_at = ts_value(r, 0, 5);
                        out->updated_at = ts_value(r, 0, 6);
                }
        }
        PQclear(r);
        return rc;
}

int hub_query_entity_identifiers(hub_store_t *s, int64_t id,
                                 int (*row)(const hub_identifier_row_t *r, void *arg), void *arg,
                                 hub_err_t *err)
{
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
        const char *params[1] = {idbuf};
        PGresult *r = run(s,
                          "SELECT type, value, " TS_OUT("first_seen") " FROM identifiers "
                          "WHERE entity_id = $1::int8 ORDER BY type, value",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the entity's identifiers", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_identifier_row_t x = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                          ts_value(r, i, 2)};
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_entity_statements(hub_store_t *s, int64_t id,
                                int (*row)(const hub_statement_row_t *r, void *arg), void *arg,
                                hub_err_t *err)
{
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
        const char *params[1] = {idbuf};
        PGresult *r = run(s,
                          "SELECT prop, value, original, valid AND flag IS NULL, coalesce(flag, reason, ''), "
                          "tier, "
                          "agency, record_id, " TS_OUT("first_seen") ", " TS_OUT("last_seen")
                          " FROM statements WHERE entity_id = $1::int8"
                          " ORDER BY prop, value, agency, record_id, id",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the entity's statements", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_statement_row_t x = {
                        .prop = PQgetvalue(r, i, 0),
                        .value = PQgetvalue(r, i, 1),
                        .original = PQgetvalue(r, i, 2),
                        .valid = PQgetvalue(r, i, 3)[0] == 't',
                        .reason = PQgetvalue(r, i, 4),
                        .tier = PQgetvalue(r, i, 5),
                        .agency = PQgetvalue(r, i, 6),
                        .record_id = PQgetvalue(r, i, 7),
                        .first_seen = ts_value(r, i, 8),
                        .last_seen = ts_value(r, i, 9),
                };
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_entity_sources(hub_store_t *s, int64_t id,
                             int (*row)(const hub_source_row_t *r, void *arg), void *arg,
                             hub_err_t *err)
{
        char idbuf[24];
        snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
        const char *params[1] = {idbuf};
        PGresult *r = run(s,
                          "SELECT r.agency, r.record_id, r.status, r.tier, b.id, b.key_id, "
                          "b.topic, b.partition, b.\"offset\", " TS_OUT("r.received_at")
                          " FROM records r JOIN batches b ON b.id = r.batch_id"
                          " WHERE r.entity_id = $1::int8 OR (r.agency, r.record_id) IN"
                          " (SELECT agency, record_id FROM statements WHERE entity_id = $1::int8)"
                          " ORDER BY r.agency, r.record_id",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the entity's sources", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_source_row_t x = {
                        .agency = PQgetvalue(r, i, 0),
                        .record_id = PQgetvalue(r, i, 1),
                        .status = PQgetvalue(r, i, 2),
                        .tier = PQgetvalue(r, i, 3),
                        .batch_id = i64(r, i, 4),
                        .key_id = PQgetvalue(r, i, 5),
                        .topic = PQgetvalue(r, i, 6),
                        .partition = atoi(PQgetvalue(r, i, 7)),
                        .offset = i64(r, i, 8),
                        .received_at = ts_value(r, i, 9),
                };
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_status_totals(hub_store_t *s, hub_status_totals_t *out, hub_err_t *err)
{
        PGresult *r = run(s,
                          "SELECT (SELECT count(*) FROM entities),"
                          " (SELECT count(*) FROM entities"
                          "  WHERE merged_into IS NULL AND NOT withdrawn),"
                          " (SELECT count(*) FROM entities WHERE merged_into IS NOT NULL),"
                          " (SELECT count(*) FROM entities WHERE withdrawn),"
                          " (SELECT count(*) FROM identifiers),"
                          " (SELECT count(*) FROM records),"
                          " (SELECT count(*) FROM batches),"
                          " (SELECT count(*) FROM rejects),"
                          " (SELECT count(*) FROM outbox WHERE sent_at IS NULL),"
                          " (SELECT " TS_OUT("min(created_at)") " FROM outbox"
                          "  WHERE sent_at IS NULL)",
                          0, NULL);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "count the hub's rows", err);
        if (!rc) {
                out->entities = i64(r, 0, 0);
                out->active = i64(r, 0, 1);
                out->merged = i64(r, 0, 2);
                out->withdrawn = i64(r, 0, 3);
                out->identifiers = i64(r, 0, 4);
                out->records = i64(r, 0, 5);
                out->batches = i64(r, 0, 6);
                out->rejects = i64(r, 0, 7);
                out->outbox_unsent = i64(r, 0, 8);
                out->outbox_oldest_unsent = ts_value(r, 0, 9);
        }
        PQclear(r);
        return rc;
}

int hub_query_status_agencies(hub_store_t *s,
                              int (*row)(const hub_agency_status_row_t *r, void *arg), void *arg,
                              hub_err_t *err)
{
        /* Grouped once per table rather than a correlated count per agency: records grows to
         * 10^8 rows and one pass over each table is the cheapest way to count it. */
        PGresult *r = run(s,
                          "WITH codes AS (SELECT code FROM agencies"
                          "  UNION SELECT agency FROM rejects WHERE agency IS NOT NULL),"
                          " rec AS (SELECT agency, count(*) AS n, max(received_at) AS last"
                          "  FROM records GROUP BY agency),"
                          " bat AS (SELECT agency, count(*) AS n FROM batches GROUP BY agency),"
                          " rej AS (SELECT agency, count(*) AS n FROM rejects GROUP BY agency)"
                          " SELECT c.code, coalesce(rec.n, 0), coalesce(bat.n, 0),"
                          " coalesce(rej.n, 0), " TS_OUT("rec.last")
                          " FROM codes c LEFT JOIN rec ON rec.agency = c.code"
                          " LEFT JOIN bat ON bat.agency = c.code"
                          " LEFT JOIN rej ON rej.agency = c.code ORDER BY c.code",
                          0, NULL);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "count records per agency", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_agency_status_row_t x = {PQgetvalue(r, i, 0), i64(r, i, 1), i64(r, i, 2),
                                             i64(r, i, 3), ts_value(r, i, 4)};
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_reject_counts(hub_store_t *s,
                            int (*row)(const hub_reject_count_row_t *r, void *arg), void *arg,
                            hub_err_t *err)
{
        PGresult *r = run(s,
                          "SELECT coalesce(agency, ''), reason, count(*) FROM rejects"
                          " GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
                          0, NULL);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "count rejects per reason", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_reject_count_row_t x = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                            i64(r, i, 2)};
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_last_rejects(hub_store_t *s, int limit,
                           int (*row)(const hub_reject_row_t *r, void *arg), void *arg,
                           hub_err_t *err)
{
        char lim[16];
        snprintf(lim, sizeof(lim), "%d", limit);
        const char *params[1] = {lim};
        PGresult *r = run(s,
                          "SELECT id, " TS_OUT("rejected_at") ", coalesce(agency, ''),"
                          " coalesce(record_id, ''), reason, message, topic, partition,"
                          " \"offset\" FROM rejects ORDER BY rejected_at DESC, id DESC"
                          " LIMIT $1::int",
                          1, params);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the latest rejects", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_reject_row_t x = {
                        .id = i64(r, i, 0),
                        .rejected_at = ts_value(r, i, 1),
                        .agency = PQgetvalue(r, i, 2),
                        .record_id = PQgetvalue(r, i, 3),
                        .reason = PQgetvalue(r, i, 4),
                        .message = PQgetvalue(r, i, 5),
                        .topic = PQgetvalue(r, i, 6),
                        .partition = atoi(PQgetvalue(r, i, 7)),
                        .offset = i64(r, i, 8),
                };
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}

int hub_query_consumer_offsets(hub_store_t *s, int (*row)(const hub_offset_row_t *r, void *arg),
                               void *arg, hub_err_t *err)
{
        PGresult *r = run(s,
                          "SELECT topic, partition, next_offset, " TS_OUT("updated_at")
                          " FROM consumer_offsets ORDER BY topic, partition",
                          0, NULL);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "read the consumer offsets", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_offset_row_t x = {PQgetvalue(r, i, 0), atoi(PQgetvalue(r, i, 1)),
                                      i64(r, i, 2), ts_value(r, i, 3)};
                rc = row(&x, arg);
        }
        PQclear(r);
        return rc;
}
