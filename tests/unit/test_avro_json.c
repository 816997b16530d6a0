/* JSON to Avro: every rule of hub_avro_from_json, and its error for each kind of bad input. */
#include <hub/avro.h>
#include <hub/avro_json.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char schema_json[] =
        "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":["
        "{\"name\":\"id\",\"type\":\"string\"},"
        "{\"name\":\"n\",\"type\":\"int\"},"
        "{\"name\":\"big\",\"type\":\"long\"},"
        "{\"name\":\"ok\",\"type\":\"boolean\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"A\",\"B\"]}},"
        "{\"name\":\"fp\",\"type\":{\"type\":\"fixed\",\"name\":\"Fp\",\"size\":2}},"
        "{\"name\":\"raw\",\"type\":\"bytes\"},"
        "{\"name\":\"opt\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
        "{\"name\":\"sub\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"S\",\"fields\":["
        "{\"name\":\"x\",\"type\":\"double\"}]}]}"
        "]}";

struct fixture {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value;
};

static int setup(void **state)
{
        static struct fixture f;
        assert_int_equal(avro_schema_from_json_length(schema_json, strlen(schema_json),
                                                      &f.schema),
                         0);
        f.iface = avro_generic_class_from_schema(f.schema);
        assert_non_null(f.iface);
        assert_int_equal(avro_generic_value_new(f.iface, &f.value), 0);
        *state = &f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        avro_value_decref(&f->value);
        avro_value_iface_decref(f->iface);
        avro_schema_decref(f->schema);
        return 0;
}

/* Convert text into the fixture's value; returns the rc and leaves the message in *err. */
static int convert(struct fixture *f, const char *text, hub_err_t *err)
{
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        assert_non_null(j);
        avro_value_reset(&f->value);
        hub_err_clear(err);
        int rc = hub_avro_from_json(j, &f->value, err);
        json_decref(j);
        return rc;
}

static const char good[] = "{\"id\":\"r1\",\"n\":7,\"big\":9007199254740993,\"ok\":true,"
                           "\"kind\":\"B\",\"fp\":\"0aff\",\"raw\":\"\",\"opt\":\"x\","
                           "\"tags\":[\"a\",\"b\"],\"sub\":{\"x\":1.5}}";

static void test_good_value_round_trips(void **state)
{
        struct fixture *f = *state;
        hub_err_t err;
        assert_int_equal(convert(f, good, &err), 0);
        avro_value_t c, b;
        const char *s;
        size_t n;
        int32_t i = 0;
        int64_t l = 0;
        int e = 0;
        assert_int_equal(avro_value_get_by_name(&f->value, "id", &c, NULL), 0);
        assert_int_equal(avro_value_get_string(&c, &s, &n), 0);
        assert_string_equal(s, "r1");
        assert_int_equal(avro_value_get_by_name(&f->value, "n", &c, NULL), 0);
        assert_int_equal(avro_value_get_int(&c, &i), 0);
        assert_int_equal(i, 7);
        assert_int_equal(avro_value_get_by_name(&f->value, "big", &c, NULL), 0);
        assert_int_equal(avro_value_get_long(&c, &l), 0);
        assert_true(l == 9007199254740993LL);
        assert_int_equal(avro_value_get_by_name(&f->value, "kind", &c, NULL), 0);
        assert_int_equal(avro_value_get_enum(&c, &e), 0);
        assert_int_equal(e, 1);
        assert_int_equal(avro_value_get_by_name(&f->value, "fp", &c, NULL), 0);
        const void *fp;
        assert_int_equal(avro_value_get_fixed(&c, &fp, &n), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(fp, "\x0a\xff", 2);
        assert_int_equal(avro_value_get_by_name(&f->value, "opt", &c, NULL), 0);
        assert_int_equal(avro_value_get_discriminant(&c, &e), 0);
        assert_int_equal(e, 1);
        assert_int_equal(avro_value_get_by_name(&f->value, "tags", &c, NULL), 0);
        assert_int_equal(avro_value_get_size(&c, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(avro_value_get_by_name(&f->value, "sub", &c, NULL), 0);
        assert_int_equal(avro_value_get_current_branch(&c, &b), 0);
        double d = 0;
        assert_int_equal(avro_value_get_by_name(&b, "x", &c, NULL), 0);
        assert_int_equal(avro_value_get_double(&c, &d), 0);
        assert_true(d == 1.5);

        /* What we convert, avro-c encodes and our validator accepts. */
        unsigned char *bytes = NULL;
        size_t len = 0;
        assert_int_equal(hub_avro_encode(&f->value, &bytes, &len, &err), 0);
        assert_int_equal(hub_avro_validate(f->schema, bytes, len, &err), 0);
        free(bytes);
}

static void test_optional_fields_may_be_absent(void **state)
{
        struct fixture *f = *state;
        hub_err_t err;
        assert_int_equal(convert(f, "{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":false,\"kind\":\"A\","
                                    "\"fp\":\"0000\",\"raw\":\"00\"}",
                                 &err),
                         0);
        avro_value_t c;
        int e = 0;
        assert_int_equal(avro_value_get_by_name(&f->value, "opt", &c, NULL), 0);
        assert_int_equal(avro_value_get_discriminant(&c, &e), 0);
        assert_int_equal(e, 0);
}

struct bad {
        const char *json;
        const char *needle; /* must appear in the message */
};

static void test_bad_inputs_name_field_and_reason(void **state)
{
        struct fixture *f = *state;
        static const struct bad cases[] = {
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"\",\"nme\":1}",
                 "field nme: unknown field is not in the schema"},
                {"{\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\",\"raw\":\"\"}",
                 "field id: required field is missing or null"},
                {"{\"id\":\"r\",\"n\":4294967296,\"big\":1,\"ok\":true,\"kind\":\"A\","
                 "\"fp\":\"0000\",\"raw\":\"\"}",
                 "field n: expected a 32-bit integer"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"C\",\"fp\":\"0000\","
                 "\"raw\":\"\"}",
                 "field kind: \"C\" is not a symbol of Kind"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"00\","
                 "\"raw\":\"\"}",
                 "field fp: value has the wrong size"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"zz\"}",
                 "field raw: value is not an even-length hex string"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"\",\"tags\":[\"a\",3]}",
                 "field tags[1]: expected a string, got an integer"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"\",\"sub\":{\"x\":\"no\"}}",
                 "field sub.x: expected a number, got a string"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"\",\"opt\":5}",
                 "field opt: no branch of the union takes an integer"},
                {"{\"id\":\"r\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\",\"fp\":\"0000\","
                 "\"raw\":\"\",\"sub\":{\"x\":1,\"y\":2}}",
                 "field sub.y: unknown field"},
                {"{\"id\":\"a\\u0000b\",\"n\":1,\"big\":1,\"ok\":true,\"kind\":\"A\","
                 "\"fp\":\"0000\",\"raw\":\"\"}",
                 "field id: string contains a NUL character"},
                {"[1]", "field (top): expected an object, got an array"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                hub_err_t err;
                json_error_t jerr;
                json_t *j = json_loads(cases[i].json, JSON_ALLOW_NUL, &jerr);
                assert_non_null(j);
                avro_value_reset(&f->value);
                hub_err_clear(&err);
                int rc = hub_avro_from_json(j, &f->value, &err);
                json_decref(j);
                if (rc != -HUB_E_MALFORMED || !strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: rc %d, message \"%s\", want \"%s\"", i, rc,
                                 err.msg, cases[i].needle);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_value_round_trips),
                cmocka_unit_test(test_optional_fields_may_be_absent),
                cmocka_unit_test(test_bad_inputs_name_field_and_reason),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
