#include "pipe.h"

#include <stdlib.h>
#include <string.h>

struct hub_pipe_entry {
        const char *what;
        ExecStatusType want;
        PGresult **keep;
        size_t *ones;
};

int hub_pipe_begin(hub_pipe_t *p, hub_store_t *s, hub_err_t *err)
{
        memset(p, 0, sizeof(*p));
        p->s = s;
        if (PQenterPipelineMode(hub_store_conn(s)) != 1)
                return hub_store_check(s, NULL, PGRES_COMMAND_OK, "enter pipeline mode", err);
        p->on = true;
        return 0;
}

int hub_pipe_send(hub_pipe_t *p, const char *sql, int n, const Oid *types,
                  const char *const *params, ExecStatusType want, PGresult **keep, size_t *ones,
                  const char *what, hub_err_t *err)
{
        if (p->n == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 32;
                struct hub_pipe_entry *q = realloc(p->q, cap * sizeof(*q));
                if (!q)
                        return hub_err_set(err, HUB_E_NOMEM, false, "store", "out of memory");
                p->q = q;
                p->cap = cap;
        }
        if (keep)
                *keep = NULL;
        if (PQsendQueryParams(hub_store_conn(p->s), sql, n, types, params, NULL, NULL, 0) != 1)
                return hub_store_check(p->s, NULL, want, what, err);
        p->q[p->n++] = (struct hub_pipe_entry){what, want, keep, ones};
        return 0;
}

/* Read the results of everything sent, up to the sync point. */
static int drain(hub_pipe_t *p, int rc, hub_err_t *err)
{
        PGconn *conn = hub_store_conn(p->s);
        if (PQpipelineSync(conn) != 1) {
                p->n = 0;
                return rc ? rc : hub_store_check(p->s, NULL, PGRES_COMMAND_OK, "send a sync", err);
        }
        for (size_t i = 0; i < p->n; i++) {
                const struct hub_pipe_entry *e = &p->q[i];
                PGresult *r = PQgetResult(conn), *more;
                /* One result per statement, then NULL (a failed one: its error, or
                 * PGRES_PIPELINE_ABORTED for the ones after it). */
                while ((more = PQgetResult(conn)))
                        PQclear(more);
                int erc = hub_store_check(p->s, r, e->want, e->what, rc ? NULL : err);
                if (erc && !rc)
                        rc = erc;
                if (!erc && e->ones && strcmp(PQcmdTuples(r), "1") == 0)
                        (*e->ones)++;
                if (!erc && e->keep) {
                        *e->keep = r;
                        r = NULL;
                }
                PQclear(r);
        }
        p->n = 0;
        PGresult *r = PQgetResult(conn);
        int src = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC
                          ? 0
                          : hub_store_check(p->s, r, PGRES_PIPELINE_SYNC, "end a pipeline",
                                            rc ? NULL : err);
        PQclear(r);
        return rc ? rc : src;
}

int hub_pipe_sync(hub_pipe_t *p, hub_err_t *err)
{
        return drain(p, 0, err);
}

int hub_pipe_end(hub_pipe_t *p, int rc, hub_err_t *err)
{
        if (p->on) {
                if (p->n)
                        rc = drain(p, rc, err);
                if (PQexitPipelineMode(hub_store_conn(p->s)) != 1 && !rc)
                        rc = hub_store_check(p->s, NULL, PGRES_COMMAND_OK, "leave pipeline mode",
                                             err);
                p->on = false;
        }
        free(p->q);
        p->q = NULL;
        p->n = p->cap = 0;
        return rc;
}
