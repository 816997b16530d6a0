#include "testdb.h"
#include "testutil.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quiet(void *arg, const char *message)
{
        (void)arg;
        (void)message;
}

static void admin(const char *sql)
{
        PGconn *c = PQconnectdb(hub_test_service("HUB_PG_DSN"));
        if (PQstatus(c) != CONNECTION_OK) {
                fprintf(stderr, "could not connect to HUB_PG_DSN: %s", PQerrorMessage(c));
                exit(1);
        }
        PQsetNoticeProcessor(c, quiet, NULL);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
                exit(1);
        }
        PQclear(r);
        PQfinish(c);
}

void hub_test_fresh_db(const char *tag, char *out, size_t cap)
{
        static int n;
        char name[64], sql[160];
        snprintf(name, sizeof(name), "hub_t_%s_%ld_%d", tag, (long)getpid(), n++);
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
        admin(sql);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
        admin(sql);
        /* A later dbname= in a conninfo string overrides an earlier one. */
        snprintf(out, cap, "%s dbname=%s", hub_test_service("HUB_PG_DSN"), name);
}

void hub_test_drop_db(const char *conninfo)
{
        const char *p = strstr(conninfo, "dbname=hub_t_");
        if (!p)
                return;
        char sql[160];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", p + 7);
        admin(sql);
}
