#include <hub/resolution.h>

#include <stdlib.h>

int hub_resolution_noisy(hub_store_t *s, int (*cb)(const hub_noisy_row_t *row, void *arg),
                         void *arg, hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(s),
                             "SELECT type, value, entities, threshold, coalesce(agency, ''),"
                             " coalesce(record_id, ''),"
                             " (extract(epoch FROM marked_at) * 1000000)::bigint "
                             "FROM noisy_identifiers ORDER BY marked_at DESC, type, value");
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list noisy identifiers", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_noisy_row_t row = {
                        PQgetvalue(r, i, 0),
                        PQgetvalue(r, i, 1),
                        strtoll(PQgetvalue(r, i, 2), NULL, 10),
                        strtoll(PQgetvalue(r, i, 3), NULL, 10),
                        PQgetvalue(r, i, 4),
                        PQgetvalue(r, i, 5),
                        strtoll(PQgetvalue(r, i, 6), NULL, 10),
                };
                rc = cb(&row, arg);
        }
        PQclear(r);
        return rc;
}
