/* PostgreSQL access: connection, migrations, transactions and error classification.
 *
 * hub/store carries out in transactions what hub/lib decides; all SQL lives here and in
 * hub/store/migrations/. A hub_store_t is one connection: one per thread. */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include <hub/err.h>

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct hub_store hub_store_t;

/* Connect with a libpq conninfo string or URI (e.g. HUB_PG_DSN). Errors: HUB_E_DB (retriable:
 * the server may come back). *out is closed with hub_store_close(). */
int hub_store_open(const char *conninfo, hub_store_t **out, hub_err_t *err);
void hub_store_close(hub_store_t *s);

/* The underlying connection, for the modules of hub/store. */
PGconn *hub_store_conn(hub_store_t *s);

/* Apply every compiled-in migration not yet recorded in schema_migrations, each in its own
 * transaction, in order; concurrent callers serialise on an advisory lock. *applied (optional)
 * receives how many were applied now. Errors: HUB_E_DB with the migration's name. */
int hub_store_migrate(hub_store_t *s, int *applied, hub_err_t *err);

/* The highest applied migration version (0 when none), or -HUB_E_DB. */
int hub_store_schema_version(hub_store_t *s, int *version, hub_err_t *err);

/* BEGIN, COMMIT and ROLLBACK. Rollback never fails the caller (its error is ignored): it is
 * only called on a path that already failed. */
int hub_store_begin(hub_store_t *s, hub_err_t *err);
int hub_store_commit(hub_store_t *s, hub_err_t *err);
void hub_store_rollback(hub_store_t *s);

/* Run one statement without parameters or results (DDL, SET ...). */
int hub_store_exec(hub_store_t *s, const char *sql, hub_err_t *err);

/* Check a PGresult: 0 when its status is `want`; otherwise fill err with HUB_E_DB, classified
 * once here: SQLSTATE classes 08 (connection), 40 (serialization, deadlock), 53 (resources),
 * 57P (shutdown) and a lost connection are retriable; everything else is permanent. `what`
 * says what was being done. The result is NOT cleared. */
int hub_store_check(hub_store_t *s, PGresult *res, ExecStatusType want, const char *what,
                    hub_err_t *err);

/* The SQLSTATE of a result ("" when none): "23505" is a unique violation. */
const char *hub_store_sqlstate(const PGresult *res);

#endif
