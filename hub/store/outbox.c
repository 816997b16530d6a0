#include "sqlbuf.h"

#include <hub/outbox.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock that makes one connection the publisher (arbitrary, distinct from the
 * migration lock). A session lock: it is released when the publisher's connection ends,
 * crash included. */
#define PUBLISHER_LOCK "399390"

int hub_outbox_claim(hub_store_t *s, bool *is_publisher, hub_err_t *err)
{
        PGresult *q = PQexec(hub_store_conn(s),
                             "SELECT pg_try_advisory_lock(" PUBLISHER_LOCK ")");
        int rc = hub_store_check(s, q, PGRES_TUPLES_OK, "claim the outbox", err);
        if (!rc)
                *is_publisher = strcmp(PQgetvalue(q, 0, 0), "t") == 0;
        PQclear(q);
        return rc;
}

int hub_outbox_fetch(hub_store_t *s, int64_t after_id, size_t limit, hub_outbox_row_t *rows,
                     size_t *n, PGresult **res, hub_err_t *err)
{
        char after[24], lim[24];
        snprintf(after, sizeof(after), "%" PRId64, after_id);
        snprintf(lim, sizeof(lim), "%zu", limit);
        const char *p[2] = {after, lim};
        *n = 0;
        *res = PQexecParams(hub_store_conn(s),
                            "SELECT id, topic, key, payload FROM outbox "
                            "WHERE sent_at IS NULL AND id > $1::bigint ORDER BY id LIMIT $2",
                            2, NULL, p, NULL, NULL, 1);
        int rc = hub_store_check(s, *res, PGRES_TUPLES_OK, "read the outbox", err);
        if (rc) {
                PQclear(*res);
                *res = NULL;
                return rc;
        }
        for (int t = 0; t < PQntuples(*res); t++) {
                const unsigned char *idp = (const unsigned char *)PQgetvalue(*res, t, 0);
                uint64_t id = 0;
                for (int i = 0; i < 8; i++)
                        id = (id << 8) | idp[i];
                rows[t].id = (int64_t)id;
                rows[t].topic = PQgetvalue(*res, t, 1);
                rows[t].key = PQgetisnull(*res, t, 2) ? NULL : PQgetvalue(*res, t, 2);
                rows[t].key_len = (size_t)PQgetlength(*res, t, 2);
                rows[t].payload = PQgetvalue(*res, t, 3);
                rows[t].payload_len = (size_t)PQgetlength(*res, t, 3);
        }
        *n = (size_t)PQntuples(*res);
        return 0;
}

int hub_outbox_mark_sent(hub_store_t *s, const int64_t *ids, size_t n, hub_err_t *err)
{
        if (!n)
                return 0;
        hub_sqlbuf_t arr = {0};
        hub_array_int(&arr, ids, n);
        if (arr.failed) {
                hub_sqlbuf_done(&arr);
                return hub_err_set(err, HUB_E_NOMEM, false, "outbox", "out of memory");
        }
        const char *p[1] = {hub_sqlbuf_str(&arr)};
        PGresult *q = PQexecParams(hub_store_conn(s),
                                   "UPDATE outbox SET sent_at = now() "
                                   "WHERE id = ANY($1::bigint[]) AND sent_at IS NULL",
                                   1, NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, q, PGRES_COMMAND_OK, "mark outbox rows sent", err);
        PQclear(q);
        hub_sqlbuf_done(&arr);
        return rc;
}

int hub_outbox_pending(hub_store_t *s, int64_t *n, hub_err_t *err)
{
        PGresult *q = PQexec(hub_store_conn(s),
                             "SELECT count(*) FROM outbox WHERE sent_at IS NULL");
        int rc = hub_store_check(s, q, PGRES_TUPLES_OK, "count unsent outbox rows", err);
        if (!rc)
                *n = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
        PQclear(q);
        return rc;
}
