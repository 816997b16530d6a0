#include "migrations.h"

#include <hub/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_store {
        PGconn *conn;
};

/* Notices (e.g. "relation already exists, skipping") are not errors; library code never
 * prints, so they are dropped here. */
static void ignore_notice(void *arg, const char *message)
{
        (void)arg;
        (void)message;
}

int hub_store_open(const char *conninfo, hub_store_t **out, hub_err_t *err)
{
        if (!conninfo || !out)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "conninfo is required");
        hub_store_t *s = calloc(1, sizeof(*s));
        if (!s)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        s->conn = PQconnectdb(conninfo);
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
                int rc = hub_err_set(err, HUB_E_DB, true, "store",
                                     "could not connect to PostgreSQL: %s",
                                     s->conn ? PQerrorMessage(s->conn) : "out of memory");
                /* libpq's messages end in a newline; ours do not. */
                if (err) {
                        size_t n = strlen(err->msg);
                        while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
                                err->msg[--n] = '\0';
                }
                hub_store_close(s);
                return rc;
        }
        PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
        *out = s;
        return 0;
}

void hub_store_close(hub_store_t *s)
{
        if (!s)
                return;
        if (s->conn)
                PQfinish(s->conn);
        free(s);
}

PGconn *hub_store_conn(hub_store_t *s)
{
        return s->conn;
}

const char *hub_store_sqlstate(const PGresult *res)
{
        const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        return st ? st : "";
}

int hub_store_check(hub_store_t *s, PGresult *res, ExecStatusType want, const char *what,
                    hub_err_t *err)
{
        if (res && PQresultStatus(res) == want)
                return 0;
        const char *st = hub_store_sqlstate(res);
        bool retriable = !res || PQstatus(s->conn) != CONNECTION_OK ||
                         strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 ||
                         strncmp(st, "53", 2) == 0 || strncmp(st, "57P", 3) == 0;
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);
        if (!msg || !*msg)
                msg = "unexpected result status";
        int rc = hub_err_set(err, HUB_E_DB, retriable, "store", "could not %s: %s%s%s", what,
                             *st ? "[" : "", st, *st ? "] " : "");
        if (err) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof(err->msg) - n, "%s", msg);
                n = strlen(err->msg);
                while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
                        err->msg[--n] = '\0';
        }
        return rc;
}

int hub_store_exec(hub_store_t *s, const char *sql, hub_err_t *err)
{
        PGresult *res = PQexec(s->conn, sql);
        int rc = hub_store_check(s, res, PGRES_COMMAND_OK, "run statement", err);
        PQclear(res);
        return rc;
}

int hub_store_begin(hub_store_t *s, hub_err_t *err)
{
        return hub_store_exec(s, "BEGIN", err);
}

int hub_store_commit(hub_store_t *s, hub_err_t *err)
{
        return hub_store_exec(s, "COMMIT", err);
}

void hub_store_rollback(hub_store_t *s)
{
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

int hub_store_schema_version(hub_store_t *s, int *version, hub_err_t *err)
{
        PGresult *res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        if (PQresultStatus(res) != PGRES_TUPLES_OK &&
            strcmp(hub_store_sqlstate(res), "42P01") == 0) { /* undefined_table: none applied */
                PQclear(res);
                *version = 0;
                return 0;
        }
        int rc = hub_store_check(s, res, PGRES_TUPLES_OK, "read the schema version", err);
        if (!rc)
                *version = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        return rc;
}

/* An arbitrary constant naming the migration lock, so that two `hubctl init` at once (or an
 * init racing a daemon's start-up check) apply each migration once. */
#define MIGRATION_LOCK 399389
#define HUB_STR2(x) #x
#define HUB_STR(x) HUB_STR2(x)

int hub_store_migrate(hub_store_t *s, int *applied, hub_err_t *err)
{
        int n = 0, rc;
        char what[160];
        if (applied)
                *applied = 0;
        PGresult *lock = PQexec(s->conn, "SELECT pg_advisory_lock(" HUB_STR(MIGRATION_LOCK) ")");
        rc = hub_store_check(s, lock, PGRES_TUPLES_OK, "take the migration lock", err);
        PQclear(lock);
        if (rc)
                return rc;
        rc = hub_store_exec(s,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version integer PRIMARY KEY, name text NOT NULL,"
                            " applied_at timestamptz NOT NULL DEFAULT now())",
                            err);
        int current = 0;
        if (!rc)
                rc = hub_store_schema_version(s, &current, err);
        for (const struct hub_migration *m = hub_migrations; !rc && m->version; m++) {
                if (m->version <= current)
                        continue;
                snprintf(what, sizeof(what), "apply migration %04d_%s", m->version, m->name);
                rc = hub_store_begin(s, err);
                if (rc)
                        break;
                PGresult *res = PQexec(s->conn, m->sql);
                rc = hub_store_check(s, res, PGRES_COMMAND_OK, what, err);
                PQclear(res);
                if (!rc) {
                        char version[16];
                        snprintf(version, sizeof(version), "%d", m->version);
                        const char *params[2] = {version, m->name};
                        res = PQexecParams(s->conn,
                                           "INSERT INTO schema_migrations (version, name) "
                                           "VALUES ($1, $2)",
                                           2, NULL, params, NULL, NULL, 0);
                        rc = hub_store_check(s, res, PGRES_COMMAND_OK, what, err);
                        PQclear(res);
                }
                if (!rc)
                        rc = hub_store_commit(s, err);
                if (rc)
                        hub_store_rollback(s);
                else
                        n++;
        }
        PQclear(PQexec(s->conn, "SELECT pg_advisory_unlock(" HUB_STR(MIGRATION_LOCK) ")"));
        if (applied)
                *applied = n;
        return rc;
}
