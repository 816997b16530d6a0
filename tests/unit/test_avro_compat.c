/* Schema evolution: every schema in schemas/ reads every version in its history and every
 * version reads it; the check itself refuses known breaking changes (tests/data/schemas/);
 * and data written with v1 reads into the current schema through avro-c's resolver. */
#include <hub/avro.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static char *slurp(const char *path, size_t *len)
{
        char *text = (char *)hub_test_read_file(path, len);
        if (!text)
                fail_msg("cannot read %s", path);
        return text;
}

static int compat(const char *reader_path, const char *writer_path, unsigned flags,
                  hub_err_t *err)
{
        size_t rl, wl;
        char *r = slurp(reader_path, &rl), *w = slurp(writer_path, &wl);
        int rc = hub_avro_compatible(r, rl, w, wl, flags, err);
        free(w);
        free(r);
        return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_history(void **state)
{
        (void)state;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", hub_test_source_path("schemas"));
        DIR *d = opendir(dir);
        assert_non_null(d);
        int schemas = 0, versions = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!ends_with(e->d_name, ".avsc"))
                        continue;
                char cur[4200], hdir[4200];
                snprintf(cur, sizeof(cur), "%s/%s", dir, e->d_name);
                snprintf(hdir, sizeof(hdir), "%s/history/%.*s", dir,
                         (int)(strlen(e->d_name) - 5), e->d_name);
                schemas++;
                hub_err_t err = {0};
                /* Every schema reads itself, with avro-c too: a sanity check of the check. */
                if (compat(cur, cur, HUB_AVRO_COMPAT_AVROC, &err) != 0)
                        fail_msg("%s cannot read itself: %s", e->d_name, err.msg);
                DIR *h = opendir(hdir);
                if (!h) {
                        print_message("%s has no history folder %s yet\n", e->d_name, hdir);
                        continue;
                }
                int here = 0;
                struct dirent *v;
                while ((v = readdir(h))) {
                        if (!ends_with(v->d_name, ".avsc"))
                                continue;
                        char old[8500];
                        snprintf(old, sizeof(old), "%s/%s", hdir, v->d_name);
                        /* Backward: the hub (avro-c) reads data of every earlier writer. */
                        if (compat(cur, old, HUB_AVRO_COMPAT_AVROC, &err) != 0)
                                fail_msg("%s cannot read data written with history %s: %s",
                                         e->d_name, v->d_name, err.msg);
                        /* Forward: readers built on an earlier version read current data. */
                        if (compat(old, cur, 0, &err) != 0)
                                fail_msg("history %s of %s cannot read current data: %s",
                                         v->d_name, e->d_name, err.msg);
                        here++;
                        versions++;
                }
                closedir(h);
                if (here == 0)
                        fail_msg("%s has an empty history folder", e->d_name);
        }
        closedir(d);
        print_message("%d schemas, %d history versions checked both ways\n", schemas, versions);
        assert_true(schemas >= 3);
        assert_true(versions >= 3);
}

struct fixture {
        const char *file;
        int backward; /* fixture reads base: 0, or the code expected */
        int forward;  /* base reads fixture */
        int backward_avroc;
        const char *needle;
};

#define OK 0
#define NO (-HUB_E_INCOMPATIBLE)

static const struct fixture fixtures[] = {
    {"field_removed_no_default", OK, NO, OK, "field count: reader field has no default"},
    {"field_added_no_default", NO, OK, NO, "field owner: reader field has no default"},
    {"field_added_with_default", OK, OK, NO, "avro-c 1.11.1 fills no defaults"},
    {"type_changed", NO, NO, NO, "reader type string cannot read writer type int"},
    {"type_promoted", OK, NO, OK, "reader type int cannot read writer type long"},
    {"enum_symbol_removed", NO, OK, NO, "reader lacks symbol B and has no default"},
    {"enum_reordered", OK, OK, NO, "maps enums by index"},
    {"array_items_changed", NO, NO, NO, "reader type int cannot read writer type string"},
    {"record_renamed", NO, NO, NO, "cannot read writer record Thing"},
};

/* The check must be able to fail: each fixture changes base.avsc in one known way. */
static void test_fixtures(void **state)
{
        (void)state;
        char base[4200];
        snprintf(base, sizeof(base), "%s", hub_test_source_path("tests/data/schemas/base.avsc"));
        hub_err_t err = {0};
        assert_int_equal(compat(base, base, HUB_AVRO_COMPAT_AVROC, &err), 0);
        for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
                const struct fixture *f = &fixtures[i];
                char rel[256], path[4200];
                snprintf(rel, sizeof(rel), "tests/data/schemas/%s.avsc", f->file);
                snprintf(path, sizeof(path), "%s", hub_test_source_path(rel));
                bool seen = false;
                struct {
                        const char *r, *w;
                        unsigned flags;
                        int want;
                        const char *dir;
                } runs[] = {
                    {path, base, 0, f->backward, "backward"},
                    {base, path, 0, f->forward, "forward"},
                    {path, base, HUB_AVRO_COMPAT_AVROC, f->backward_avroc, "backward avro-c"},
                };
                for (size_t k = 0; k < 3; k++) {
                        hub_err_clear(&err);
                        int rc = compat(runs[k].r, runs[k].w, runs[k].flags, &err);
                        if (rc != runs[k].want)
                                fail_msg("%s %s: rc %d, want %d (%s)", f->file, runs[k].dir, rc,
                                         runs[k].want, err.msg);
                        if (rc < 0 && strstr(err.msg, f->needle))
                                seen = true;
                }
                if (!seen)
                        fail_msg("%s: no message says \"%s\" (last: %s)", f->file, f->needle,
                                 err.msg);
        }
}

/* Data written with the first version reads into the current schema through avro-c's
 * resolved writer (the value is the writer's shape wrapping a current-schema value). */
static void test_v1_into_current(void **state)
{
        (void)state;
        avro_schema_t v1 = NULL, cur = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_avro_schema_load(hub_test_source_path("schemas/history/report/v1.avsc"),
                                              &v1, &err),
                         0);
        assert_int_equal(hub_avro_schema_load(hub_test_source_path("schemas/report.avsc"), &cur,
                                              &err),
                         0);
        avro_value_iface_t *wiface = avro_generic_class_from_schema(v1);
        avro_value_t w, f, item, branch;
        assert_int_equal(avro_generic_value_new(wiface, &w), 0);
        assert_int_equal(avro_value_get_by_name(&w, "record_id", &f, NULL), 0);
        assert_int_equal(avro_value_set_string(&f, "CA-2025-0401"), 0);
        assert_int_equal(avro_value_get_by_name(&w, "agency", &f, NULL), 0);
        assert_int_equal(avro_value_set_string(&f, "BCA"), 0);
        assert_int_equal(avro_value_get_by_name(&w, "reported_at", &f, NULL), 0);
        assert_int_equal(avro_value_set_long(&f, 1741453200000), 0);
        assert_int_equal(avro_value_get_by_name(&w, "identifiers", &f, NULL), 0);
        assert_int_equal(avro_value_append(&f, &item, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&item, "type", &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, 12), 0); /* BANK_ACCOUNT */
        assert_int_equal(avro_value_get_by_name(&item, "value", &f, NULL), 0);
        assert_int_equal(avro_value_set_string(&f, "0382345678"), 0);
        assert_int_equal(avro_value_get_by_name(&item, "qualifier", &f, NULL), 0);
        assert_int_equal(avro_value_set_branch(&f, 1, &branch), 0);
        assert_int_equal(avro_value_set_string(&branch, "970422"), 0);
        assert_int_equal(avro_value_get_by_name(&item, "label", &f, NULL), 0);
        assert_int_equal(avro_value_set_branch(&f, 0, &branch), 0);
        /* Every other optional field: null. */
        static const char *const nullable[] = {"dob_year",     "gender",      "goods",
                                               "case_status",  "case_status_text",
                                               "violation_on", "decided_on",  "period",
                                               "revenue_vnd",  "supersedes",  "retracts"};
        for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++) {
                assert_int_equal(avro_value_get_by_name(&w, nullable[i], &f, NULL), 0);
                assert_int_equal(avro_value_set_branch(&f, 0, &branch), 0);
        }
        unsigned char *buf = NULL;
        size_t len = 0;
        if (hub_avro_encode(&w, &buf, &len, &err) != 0)
                fail_msg("encode with v1: %s", err.msg);

        avro_value_iface_t *riface = avro_generic_class_from_schema(cur);
        avro_value_iface_t *resolver = avro_resolved_writer_new(v1, cur);
        assert_non_null(resolver);
        avro_value_t dest, wrapped;
        assert_int_equal(avro_generic_value_new(riface, &dest), 0);
        assert_int_equal(avro_resolved_writer_new_value(resolver, &wrapped), 0);
        avro_resolved_writer_set_dest(&wrapped, &dest);
        if (hub_avro_decode(v1, buf, len, &wrapped, &err) != 0)
                fail_msg("decode v1 into current: %s", err.msg);

        const char *s;
        size_t n;
        int sym = 0;
        assert_int_equal(avro_value_get_by_name(&dest, "record_id", &f, NULL), 0);
        assert_int_equal(avro_value_get_string(&f, &s, &n), 0);
        assert_string_equal(s, "CA-2025-0401");
        assert_int_equal(avro_value_get_by_name(&dest, "identifiers", &f, NULL), 0);
        assert_int_equal(avro_value_get_by_index(&f, 0, &item, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&item, "type", &f, NULL), 0);
        assert_int_equal(avro_value_get_enum(&f, &sym), 0);
        assert_string_equal(avro_schema_enum_get(avro_value_get_schema(&f), sym), "BANK_ACCOUNT");
        assert_int_equal(avro_value_get_by_name(&item, "qualifier", &f, NULL), 0);
        assert_int_equal(avro_value_get_current_branch(&f, &branch), 0);
        assert_int_equal(avro_value_get_string(&branch, &s, &n), 0);
        assert_string_equal(s, "970422");

        avro_value_decref(&wrapped);
        avro_value_decref(&dest);
        avro_value_iface_decref(resolver);
        avro_value_iface_decref(riface);
        free(buf);
        avro_value_decref(&w);
        avro_value_iface_decref(wiface);
        avro_schema_decref(cur);
        avro_schema_decref(v1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_history),
            cmocka_unit_test(test_fixtures),
            cmocka_unit_test(test_v1_into_current),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
