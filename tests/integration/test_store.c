/* hub/store against the real PostgreSQL: migrations apply once, in order, and are recorded;
 * errors are classified. */
#include "testdb.h"
#include "testutil.h"

#include <hub/store.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char dsn[512];

static int count_rows(hub_store_t *s, const char *sql)
{
        PGresult *r = PQexec(hub_store_conn(s), sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        int n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        return n;
}

static void test_migrate_applies_once(void **state)
{
        (void)state;
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_store_open(dsn, &s, &err), 0);
        int version = -1, applied = -1;
        assert_int_equal(hub_store_schema_version(s, &version, &err), 0);
        assert_int_equal(version, 0);
        if (hub_store_migrate(s, &applied, &err))
                fail_msg("migrate: %s", err.msg);
        assert_true(applied >= 1);
        int first = applied;
        assert_int_equal(hub_store_schema_version(s, &version, &err), 0);
        assert_true(version >= applied); /* the numbers may skip one (embed_migrations.py) */
        assert_int_equal(hub_store_migrate(s, &applied, &err), 0);
        assert_int_equal(applied, 0);
        assert_int_equal(count_rows(s, "SELECT count(*) FROM schema_migrations"), first);
        /* The tables of the data model are there and empty. */
        static const char *const tables[] = {"agencies", "agency_keys", "consumer_offsets",
                                             "batches", "records", "entities", "identifiers",
                                             "statements", "outbox", "rejects"};
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
                char sql[128];
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
                assert_int_equal(count_rows(s, sql), 0);
        }
        hub_store_close(s);
}

static void test_errors_are_classified(void **state)
{
        (void)state;
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_store_open(dsn, &s, &err), 0);
        assert_int_equal(hub_store_migrate(s, NULL, &err), 0);
        assert_int_equal(hub_store_exec(s, "INSERT INTO agencies (code, name) VALUES ('X', 'x')",
                                        &err),
                         0);
        /* A duplicate is permanent, with its SQLSTATE in the message. */
        assert_int_equal(hub_store_exec(s, "INSERT INTO agencies (code, name) VALUES ('X', 'x')",
                                        &err),
                         -HUB_E_DB);
        assert_false(err.retriable);
        assert_non_null(strstr(err.msg, "[23505]"));
        /* A bad agency code is refused by the table itself. */
        assert_int_equal(hub_store_exec(s, "INSERT INTO agencies (code, name) VALUES ('a b', 'x')",
                                        &err),
                         -HUB_E_DB);
        assert_non_null(strstr(err.msg, "[23514]"));
        /* A connection that cannot be made is retriable: the server may come back. */
        hub_store_t *bad = NULL;
        assert_int_equal(hub_store_open("host=127.0.0.1 port=1 connect_timeout=2", &bad, &err),
                         -HUB_E_DB);
        assert_true(err.retriable);
        assert_null(bad);
        hub_store_close(s);
}

int main(void)
{
        hub_test_fresh_db("store", dsn, sizeof(dsn));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_migrate_applies_once),
                cmocka_unit_test(test_errors_are_classified),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        hub_test_drop_db(dsn);
        return rc;
}
