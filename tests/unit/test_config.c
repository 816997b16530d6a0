/* Settings table: defaults < INI file < environment < explicit set, validation by type,
 * kafka.* pass-through, reload rules and the --help text. */
#include "testutil.h"

#include <hub/config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const hub_setting_t table[] = {
        {"dsn", HUB_CFG_STRING, NULL, false, true, "HUB_TEST_CFG_DSN", 0, 0, "libpq conninfo"},
        {"max_records", HUB_CFG_INT, "100", true, false, NULL, 1, 1000, "records per batch"},
        {"verbose", HUB_CFG_BOOL, "false", true, false, NULL, 0, 0, "say more"},
        {"hub_key", HUB_CFG_PATH, NULL, false, true, NULL, 0, 0, "signing key file"},
};
#define N (sizeof(table) / sizeof(table[0]))

static char *write_tmp(const char *text)
{
        static char path[64];
        snprintf(path, sizeof(path), "/tmp/test_config_%ld.ini", (long)getpid());
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return path;
}

static void test_precedence(void **state)
{
        (void)state;
        hub_config_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_config_new(table, N, &c, &err), 0);
        assert_int_equal(hub_config_int(c, "max_records"), 100);
        assert_null(hub_config_get(c, "dsn"));
        char *path = write_tmp("max_records = 200\nverbose = yes\n"
                               "[kafka]\nfetch.wait.max.ms = 50\n");
        assert_int_equal(hub_config_load_file(c, path, &err), 0);
        assert_int_equal(hub_config_int(c, "max_records"), 200);
        assert_true(hub_config_bool(c, "verbose"));
        setenv("HUB_MAX_RECORDS", "300", 1);
        setenv("HUB_TEST_CFG_DSN", "dbname=x", 1);
        assert_int_equal(hub_config_load_env(c, &err), 0);
        unsetenv("HUB_MAX_RECORDS");
        assert_int_equal(hub_config_int(c, "max_records"), 300);
        assert_string_equal(hub_config_get(c, "dsn"), "dbname=x");
        assert_int_equal(hub_config_set(c, "max_records", "400", "--max-records", &err), 0);
        assert_int_equal(hub_config_int(c, "max_records"), 400);
        assert_int_equal(hub_config_kafka_count(c), 1);
        const char *k, *v;
        hub_config_kafka_pair(c, 0, &k, &v);
        assert_string_equal(k, "fetch.wait.max.ms");
        assert_string_equal(v, "50");
        unlink(path);
        hub_config_free(c);
}

static void test_invalid(void **state)
{
        (void)state;
        hub_config_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_config_new(table, N, &c, &err), 0);
        assert_int_equal(hub_config_set(c, "max_records", "0", "--max-records", &err),
                         -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "max_records"));
        assert_int_equal(hub_config_set(c, "max_records", "12x", "--max-records", &err),
                         -HUB_E_CONFIG);
        assert_int_equal(hub_config_set(c, "nope", "1", "--nope", &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "unknown setting nope"));
        /* A bad file names its line and keeps nothing from a line that failed. */
        char *path = write_tmp("verbose = true\nmax_records = lots\n");
        assert_int_equal(hub_config_load_file(c, path, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "line 2"));
        assert_int_equal(hub_config_int(c, "max_records"), 100);
        assert_int_equal(hub_config_load_file(c, "/nonexistent/x.ini", &err), -HUB_E_IO);
        unlink(path);
        hub_config_free(c);
}

static void test_reload_and_help(void **state)
{
        (void)state;
        hub_config_t *a = NULL, *b = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_config_new(table, N, &a, &err), 0);
        assert_int_equal(hub_config_new(table, N, &b, &err), 0);
        assert_int_equal(hub_config_set(b, "max_records", "5", "test", &err), 0);
        assert_null(hub_config_changed_fixed(a, b)); /* reloadable */
        assert_int_equal(hub_config_set(b, "dsn", "dbname=y", "test", &err), 0);
        assert_string_equal(hub_config_changed_fixed(a, b), "dsn");
        char *help = hub_config_help(table, N);
        assert_non_null(help);
        assert_non_null(strstr(help, "--max-records N"));
        assert_non_null(strstr(help, "default 100; env HUB_MAX_RECORDS; reloadable"));
        assert_non_null(strstr(help, "env HUB_TEST_CFG_DSN; secret"));
        free(help);
        const hub_setting_t *s = hub_config_find_option(a, "hub-key");
        assert_non_null(s);
        assert_string_equal(s->name, "hub_key");
        hub_config_free(a);
        hub_config_free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_reload_and_help),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
