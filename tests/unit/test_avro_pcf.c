/* Parsing Canonical Form and CRC-64-AVRO fingerprints against Avro's own test vectors
 * (../shared/vectors/avro/schema-tests.txt, read in place), plus the project's schemas. */
#include <hub/avro.h>

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static char *next_line(char **cursor)
{
        char *s = *cursor;
        if (!s || !*s)
                return NULL;
        char *nl = strchr(s, '\n');
        if (nl) {
                *nl = '\0';
                *cursor = nl + 1;
        } else {
                *cursor = s + strlen(s);
        }
        return s;
}

static bool starts(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct tcase {
        char input[4096];
        char canonical[4096];
        bool has_fp;
        int64_t fp;
};

static void check_case(const struct tcase *c, int number)
{
        hub_err_t err = {0};
        char *canon = NULL;
        int rc = hub_avro_canonical(c->input, strlen(c->input), &canon, &err);
        if (rc != 0)
                fail_msg("case %d: %s", number, err.msg);
        if (strcmp(canon, c->canonical) != 0)
                fail_msg("case %d: canonical\n got  %s\n want %s", number, canon, c->canonical);
        uint64_t fp = 0;
        assert_int_equal(hub_avro_fingerprint(c->input, strlen(c->input), &fp, &err), 0);
        assert_true(fp == hub_avro_crc64(canon, strlen(canon)));
        if (c->has_fp && (int64_t)fp != c->fp)
                fail_msg("case %d: fingerprint %" PRId64 ", want %" PRId64, number, (int64_t)fp,
                         c->fp);
        free(canon);
}

static void test_vectors(void **state)
{
        (void)state;
        const char *path = hub_test_shared_path("vectors/avro/schema-tests.txt");
        size_t len;
        char *text = (char *)hub_test_read_file(path, &len);
        assert_non_null(text);

        /* Count the cases and fingerprints with a scan independent of the parser below, so a
         * parser bug cannot skip a case and still pass. */
        int want_cases = 0, want_fps = 0;
        for (const char *s = text; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
                if (starts(s, "<<INPUT"))
                        want_cases++;
                if (starts(s, "<<fingerprint"))
                        want_fps++;
        }
        /* apache/avro share/test/data/schema-tests.txt has 34 cases, 26 with a fingerprint. */
        assert_true(want_cases >= 34);
        assert_true(want_fps >= 26);

        int cases = 0, fps = 0;
        struct tcase *c = calloc(1, sizeof(*c));
        bool open = false;
        char *cursor = text, *line;
        while ((line = next_line(&cursor))) {
                if (starts(line, "//"))
                        continue;
                if (starts(line, "<<INPUT")) {
                        if (open) {
                                check_case(c, cases);
                                cases++;
                        }
                        memset(c, 0, sizeof(*c));
                        open = true;
                        const char *rest = line + strlen("<<INPUT");
                        if (*rest == ' ') {
                                snprintf(c->input, sizeof(c->input), "%s", rest + 1);
                                continue;
                        }
                        /* A multi-line input ends at a line "INPUT". */
                        while ((line = next_line(&cursor)) && strcmp(line, "INPUT") != 0) {
                                size_t n = strlen(c->input);
                                snprintf(c->input + n, sizeof(c->input) - n, "%s\n", line);
                        }
                        assert_non_null(line);
                } else if (starts(line, "<<canonical ")) {
                        snprintf(c->canonical, sizeof(c->canonical), "%s",
                                 line + strlen("<<canonical "));
                } else if (starts(line, "<<fingerprint ")) {
                        c->has_fp = true;
                        c->fp = strtoll(line + strlen("<<fingerprint "), NULL, 10);
                        fps++;
                }
        }
        if (open) {
                check_case(c, cases);
                cases++;
        }
        print_message("avro schema-tests: %d cases, %d fingerprints passed\n", cases, fps);
        assert_int_equal(cases, want_cases);
        assert_int_equal(fps, want_fps);
        free(c);
        free(text);
}

static void test_crc64(void **state)
{
        (void)state;
        /* The spec's EMPTY is the fingerprint of nothing. */
        assert_true(hub_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
        /* "null" per the vectors: 7195948357588979594. */
        assert_true(hub_avro_crc64("\"null\"", 6) == 7195948357588979594ULL);
}

static void test_rejects(void **state)
{
        (void)state;
        static const char *const bad[] = {
            "",
            "{",
            "\"NoSuchType\"",
            "{\"type\":\"record\",\"fields\":[]}",
            "{\"type\":\"enum\",\"name\":\"E\"}",
            "{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"16\"}",
            "{\"type\":\"array\"}",
            "[\"int\",\"Missing\"]",
            ("{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":"
             "{\"type\":\"record\",\"name\":\"A\",\"fields\":[]}}]}"),
            "42",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                hub_err_t err = {0};
                char *out = NULL;
                int rc = hub_avro_canonical(bad[i], strlen(bad[i]), &out, &err);
                if (rc != -HUB_E_SCHEMA)
                        fail_msg("accepted %s (rc %d, out %s)", bad[i], rc, out ? out : "");
                assert_null(out);
                assert_int_equal(err.code, HUB_E_SCHEMA);
        }
}

/* Namespaces nest, references resolve to fullnames, attributes outside PCF disappear. */
static void test_namespaces(void **state)
{
        (void)state;
        const char *in = "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"d\","
                         "\"fields\":[{\"name\":\"e\",\"default\":\"X\",\"type\":{\"type\":\"enum\","
                         "\"name\":\"E\",\"symbols\":[\"X\"],\"default\":\"X\"}},"
                         "{\"name\":\"e2\",\"type\":\"E\"},{\"name\":\"t\",\"type\":{\"type\":"
                         "\"long\",\"logicalType\":\"timestamp-millis\"}},{\"name\":\"o\",\"type\":"
                         "{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":4}},{\"name\":\"o2\","
                         "\"type\":\"c.F\"}]}";
        const char *want = "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":\"e\","
                           "\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
                           "{\"name\":\"e2\",\"type\":\"a.b.E\"},{\"name\":\"t\",\"type\":\"long\"},"
                           "{\"name\":\"o\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\",\"size\":"
                           "4}},{\"name\":\"o2\",\"type\":\"c.F\"}]}";
        char *out = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_avro_canonical(in, strlen(in), &out, &err), 0);
        assert_string_equal(out, want);
        free(out);
}

/* Every schema of the project has a canonical form that keeps its fullnames, drops docs and
 * defaults, and that avro-c parses back. */
static void test_project_schemas(void **state)
{
        (void)state;
        static const char *const names[] = {"report", "entity", "tree_head"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char rel[128];
                snprintf(rel, sizeof(rel), "schemas/%s.avsc", names[i]);
                size_t len;
                char *text = (char *)hub_test_read_file(hub_test_source_path(rel), &len);
                assert_non_null(text);
                char *canon = NULL;
                hub_err_t err = {0};
                if (hub_avro_canonical(text, len, &canon, &err) != 0)
                        fail_msg("%s: %s", rel, err.msg);
                assert_non_null(strstr(canon, "\"name\":\"vn.hub.v1."));
                assert_null(strstr(canon, "\"doc\""));
                assert_null(strstr(canon, "\"default\""));
                avro_schema_t s = NULL;
                if (avro_schema_from_json_length(canon, strlen(canon), &s) != 0)
                        fail_msg("%s: avro-c cannot parse the canonical form: %s", rel,
                                 avro_strerror());
                avro_schema_decref(s);
                uint64_t fp;
                assert_int_equal(hub_avro_fingerprint(text, len, &fp, &err), 0);
                print_message("%s fingerprint %016" PRIx64 "\n", rel, fp);
                free(canon);
                free(text);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_crc64),
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_rejects),
            cmocka_unit_test(test_namespaces),
            cmocka_unit_test(test_project_schemas),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
