/* Untrusted Avro bytes: every known bad shape gets a clean error with the right code before
 * avro-c sees it, and a valid report still decodes. */
#include <hub/avro.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define NAME0 "Nguyen Thi Thu Ha"

static unsigned char *find(unsigned char *hay, size_t n, const char *needle)
{
        size_t k = strlen(needle);
        for (size_t i = 0; i + k <= n; i++)
                if (memcmp(hay + i, needle, k) == 0)
                        return hay + i;
        return NULL;
}

static avro_schema_t load(const char *rel)
{
        avro_schema_t s = NULL;
        hub_err_t err = {0};
        if (hub_avro_schema_load(hub_test_source_path(rel), &s, &err) != 0)
                fail_msg("%s: %s", rel, err.msg);
        return s;
}

static avro_schema_t parse(const char *json)
{
        avro_schema_t s = NULL;
        if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
                fail_msg("schema %s: %s", json, avro_strerror());
        return s;
}

static void set_str(avro_value_t *rec, const char *field, const char *v)
{
        avro_value_t f;
        assert_int_equal(avro_value_get_by_name(rec, field, &f, NULL), 0);
        assert_int_equal(avro_value_set_string(&f, v), 0);
}

/* Field of a ["null", X] union: select X and return it. */
static void opt(avro_value_t *rec, const char *field, avro_value_t *branch)
{
        avro_value_t f;
        assert_int_equal(avro_value_get_by_name(rec, field, &f, NULL), 0);
        assert_int_equal(avro_value_set_branch(&f, 1, branch), 0);
}

static void append(avro_value_t *rec, const char *field, avro_value_t *item)
{
        avro_value_t f;
        assert_int_equal(avro_value_get_by_name(rec, field, &f, NULL), 0);
        assert_int_equal(avro_value_append(&f, item, NULL), 0);
}

/* avro-c generic values know no defaults: select the null branch of every unset union. */
static void fill_nulls(avro_value_t *v)
{
        size_t n = 0;
        avro_value_t child;
        switch (avro_value_get_type(v)) {
        case AVRO_UNION: {
                int d = 0;
                assert_int_equal(avro_value_get_discriminant(v, &d), 0);
                if (d < 0)
                        assert_int_equal(avro_value_set_branch(v, 0, &child), 0);
                else if (avro_value_get_current_branch(v, &child) == 0)
                        fill_nulls(&child);
                break;
        }
        case AVRO_RECORD:
        case AVRO_ARRAY:
                assert_int_equal(avro_value_get_size(v, &n), 0);
                for (size_t i = 0; i < n; i++) {
                        assert_int_equal(avro_value_get_by_index(v, i, &child, NULL), 0);
                        fill_nulls(&child);
                }
                break;
        default:
                break;
        }
}

/* A report like QLTT-2025-0001 of the sample data, encoded with the current schema. */
static unsigned char *encode_report(avro_schema_t schema, size_t *len)
{
        avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
        avro_value_t r, v, item, f;
        assert_int_equal(avro_generic_value_new(iface, &r), 0);
        set_str(&r, "record_id", "QLTT-2025-0001");
        set_str(&r, "agency", "MOIT-QLTT");
        assert_int_equal(avro_value_get_by_name(&r, "reported_at", &f, NULL), 0);
        assert_int_equal(avro_value_set_long(&f, 1741885200000), 0);
        assert_int_equal(avro_value_get_by_name(&r, "subject_kind", &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, 1), 0); /* INDIVIDUAL */
        append(&r, "names", &item);
        set_str(&item, "value", NAME0);
        append(&r, "names", &item);
        set_str(&item, "value", "Nguyễn Thị Thu Hà");
        append(&r, "identifiers", &item);
        assert_int_equal(avro_value_get_by_name(&item, "type", &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, 2), 0); /* PERSONAL_ID */
        set_str(&item, "value", "001189004521");
        append(&r, "identifiers", &item);
        assert_int_equal(avro_value_get_by_name(&item, "type", &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, 12), 0); /* BANK_ACCOUNT */
        set_str(&item, "value", "1023456789");
        opt(&item, "qualifier", &v);
        assert_int_equal(avro_value_set_string(&v, "970436"), 0);
        opt(&r, "dob_year", &v);
        assert_int_equal(avro_value_set_int(&v, 1989), 0);
        append(&r, "addresses", &item);
        opt(&item, "province_code", &v);
        assert_int_equal(avro_value_set_string(&v, "01"), 0);
        opt(&item, "province_scheme", &v);
        assert_int_equal(avro_value_set_string(&v, "GSO63"), 0);
        append(&r, "violation_categories", &item);
        assert_int_equal(avro_value_set_enum(&item, 3), 0); /* HANG_GIA */
        append(&r, "actions", &item);
        assert_int_equal(avro_value_get_by_name(&item, "type", &f, NULL), 0);
        assert_int_equal(avro_value_set_enum(&f, 1), 0); /* FINE */
        opt(&item, "amount_vnd", &v);
        assert_int_equal(avro_value_set_long(&v, 25000000), 0);
        append(&r, "legal_basis", &item);
        assert_int_equal(avro_value_set_string(&item, "ND 98/2020/ND-CP"), 0);
        assert_int_equal(avro_value_get_by_name(&r, "sensitivity", &f, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&f, "tier", &v, NULL), 0);
        assert_int_equal(avro_value_set_enum(&v, 1), 0); /* SHARED */

        fill_nulls(&r);
        unsigned char *buf = NULL;
        hub_err_t err = {0};
        if (hub_avro_encode(&r, &buf, len, &err) != 0)
                fail_msg("encode: %s", err.msg);
        avro_value_decref(&r);
        avro_value_iface_decref(iface);
        return buf;
}

static void expect(avro_schema_t s, const void *buf, size_t len, int code, const char *needle)
{
        hub_err_t err = {0};
        int rc = hub_avro_validate(s, buf, len, &err);
        if (rc != -code)
                fail_msg("want %s, got rc %d (%s): %s", hub_err_name(code), rc,
                         hub_err_name(rc), err.msg);
        assert_int_equal(err.code, code);
        if (needle && !strstr(err.msg, needle))
                fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
        /* hub_avro_decode refuses the same bytes without reaching avro-c. */
        avro_value_iface_t *iface = avro_generic_class_from_schema(s);
        avro_value_t v;
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        assert_int_equal(hub_avro_decode(s, buf, len, &v, &err), -code);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
}

static void test_report_roundtrip(void **state)
{
        (void)state;
        avro_schema_t s = load("schemas/report.avsc");
        size_t len;
        unsigned char *buf = encode_report(s, &len);
        hub_err_t err = {0};
        assert_int_equal(hub_avro_validate(s, buf, len, &err), 0);

        avro_value_iface_t *iface = avro_generic_class_from_schema(s);
        avro_value_t v, f, item;
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        if (hub_avro_decode(s, buf, len, &v, &err) != 0)
                fail_msg("decode: %s", err.msg);
        const char *str;
        size_t n;
        assert_int_equal(avro_value_get_by_name(&v, "record_id", &f, NULL), 0);
        assert_int_equal(avro_value_get_string(&f, &str, &n), 0);
        assert_string_equal(str, "QLTT-2025-0001");
        assert_int_equal(avro_value_get_by_name(&v, "names", &f, NULL), 0);
        assert_int_equal(avro_value_get_by_index(&f, 1, &item, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&item, "value", &f, NULL), 0);
        assert_int_equal(avro_value_get_string(&f, &str, &n), 0);
        assert_string_equal(str, "Nguyễn Thị Thu Hà");
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        free(buf);
        avro_schema_decref(s);
}

/* Every proper prefix of a valid report fails cleanly, and always as TRUNCATED. */
static void test_every_prefix(void **state)
{
        (void)state;
        avro_schema_t s = load("schemas/report.avsc");
        size_t len;
        unsigned char *buf = encode_report(s, &len);
        assert_true(len > 60);
        for (size_t cut = 0; cut < len; cut++) {
                /* A copy of exactly `cut` bytes, so ASan sees any read past it. */
                unsigned char *p = malloc(cut ? cut : 1);
                memcpy(p, buf, cut);
                hub_err_t err = {0};
                int rc = hub_avro_validate(s, p, cut, &err);
                if (rc != -HUB_E_TRUNCATED)
                        fail_msg("prefix %zu of %zu: rc %d: %s", cut, len, rc, err.msg);
                free(p);
        }
        free(buf);
        avro_schema_decref(s);
}

static void test_trailing(void **state)
{
        (void)state;
        avro_schema_t s = load("schemas/report.avsc");
        size_t len;
        unsigned char *buf = encode_report(s, &len);
        unsigned char *p = malloc(len + 3);
        memcpy(p, buf, len);
        memcpy(p + len, "\x00\x01\x02", 3);
        expect(s, p, len + 3, HUB_E_TRAILING, "3 bytes after the end");
        free(p);
        free(buf);
        avro_schema_decref(s);
}

/* A negative length deep inside a report names the field it is in. */
static void test_negative_in_report(void **state)
{
        (void)state;
        avro_schema_t s = load("schemas/report.avsc");
        size_t len;
        unsigned char *buf = encode_report(s, &len);
        unsigned char *at = find(buf, len, NAME0);
        assert_non_null(at);
        assert_int_equal(at[-1], 2 * strlen(NAME0)); /* zigzag length, one byte */
        at[-1] = 9;                                   /* zigzag(-5) */
        expect(s, buf, len, HUB_E_MALFORMED, "field names[0].value at byte");
        expect(s, buf, len, HUB_E_MALFORMED, "string length -5 is negative");
        free(buf);
        avro_schema_decref(s);
}

static const char STR_REC[] =
    "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"}]}";
static const char BYTES_REC[] =
    "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"b\",\"type\":\"bytes\"}]}";

static void test_lengths(void **state)
{
        (void)state;
        avro_schema_t str = parse(STR_REC), bytes = parse(BYTES_REC), lng = parse("\"long\"");
        avro_schema_t in = parse("\"int\"");

        expect(str, "\x09xyz", 4, HUB_E_MALFORMED, "field s at byte 0: string length -5");
        expect(bytes, "\x01", 1, HUB_E_MALFORMED, "bytes length -1 is negative");
        /* INT64_MAX: zigzag 2^64-2 = fe ff ff ff ff ff ff ff ff 01. */
        expect(str, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, HUB_E_TOO_LARGE,
               "string length 9223372036854775807");
        /* 2^31: zigzag 2^32 = 80 80 80 80 10. */
        expect(bytes, "\x80\x80\x80\x80\x10", 5, HUB_E_TOO_LARGE, "bytes length 2147483648");
        /* A length that fits the limit but not the input. */
        expect(str, "\x0a" "ab", 3, HUB_E_TRUNCATED, "exceeds the 2 bytes left");
        /* Varints: 11 bytes is one too many; 10 with the high bits of a 65th set overflows. */
        expect(lng, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, HUB_E_MALFORMED,
               "longer than 10 bytes");
        expect(lng, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10, HUB_E_MALFORMED,
               "overflows 64 bits");
        expect(in, "\xff\xff\xff\xff\x1f", 5, HUB_E_MALFORMED, "out of int range");
        expect(in, "\x80\x80\x80\x80\x80\x00", 6, HUB_E_MALFORMED, "longer than 5 bytes");
        /* Strings are UTF-8 without NUL. */
        expect(str, "\x04\xc3\x28", 3, HUB_E_MALFORMED, "not valid UTF-8");
        expect(str, "\x06" "a\0b", 4, HUB_E_MALFORMED, "not valid UTF-8");
        expect(str, "\x06\xed\xa0\x80", 4, HUB_E_MALFORMED, "not valid UTF-8"); /* surrogate */

        hub_err_t err = {0};
        assert_int_equal(hub_avro_validate(str, "\x06\xc3\xa0z", 4, &err), 0);
        assert_int_equal(hub_avro_validate(lng, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10,
                                           &err),
                         0);
        avro_schema_decref(in);
        avro_schema_decref(lng);
        avro_schema_decref(bytes);
        avro_schema_decref(str);
}

static void test_indexes(void **state)
{
        (void)state;
        avro_schema_t u = parse("[\"null\",\"int\"]");
        avro_schema_t e = parse("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}");
        avro_schema_t fx = parse("{\"type\":\"fixed\",\"name\":\"F\",\"size\":32}");
        avro_schema_t d = parse("\"double\"");
        avro_schema_t b = parse("\"boolean\"");
        hub_err_t err = {0};

        expect(u, "\x04", 1, HUB_E_MALFORMED, "union index 2 is out of range");
        expect(u, "\x01", 1, HUB_E_MALFORMED, "union index -1 is out of range");
        assert_int_equal(hub_avro_validate(u, "\x02\x06", 2, &err), 0);
        expect(e, "\x04", 1, HUB_E_MALFORMED, "enum index 2 is out of range");
        expect(e, "\x01", 1, HUB_E_MALFORMED, "enum index -1 is out of range");
        assert_int_equal(hub_avro_validate(e, "\x02", 1, &err), 0);
        expect(fx, "0123456789", 10, HUB_E_TRUNCATED, "fixed needs 32 bytes, 10 left");
        expect(d, "1234567", 7, HUB_E_TRUNCATED, "double needs 8 bytes");
        expect(b, "\x02", 1, HUB_E_MALFORMED, "boolean byte 2");
        avro_schema_decref(b);
        avro_schema_decref(d);
        avro_schema_decref(fx);
        avro_schema_decref(e);
        avro_schema_decref(u);
}

static void test_blocks(void **state)
{
        (void)state;
        avro_schema_t nulls = parse("{\"type\":\"array\",\"items\":\"null\"}");
        avro_schema_t ints = parse("{\"type\":\"array\",\"items\":\"int\"}");
        avro_schema_t map = parse("{\"type\":\"map\",\"values\":\"int\"}");
        hub_err_t err = {0};

        /* 2^62 nulls take no bytes at all: refused by count, not by looping. */
        expect(nulls, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01\x00", 11, HUB_E_TOO_LARGE,
               "exceeds the limit");
        /* Many small blocks of nulls add up to the same limit. */
        unsigned char many[4 * 300 + 1];
        size_t n = 0;
        for (int i = 0; i < 300; i++) {
                memcpy(many + n, "\xfe\xff\x7f", 3); /* 1048575 nulls */
                n += 3;
        }
        many[n++] = 0;
        expect(nulls, many, n, HUB_E_TOO_LARGE, "exceeds the limit");
        /* Negative count: -2 items, then a byte size that is bogus in three ways. */
        expect(ints, "\x03\x01\x02\x04\x00", 5, HUB_E_MALFORMED, "block size -1 is negative");
        expect(ints, "\x03\x64\x02\x04\x00", 5, HUB_E_TRUNCATED, "block size 50 exceeds");
        expect(ints, "\x03\x02\x02\x04\x00", 5, HUB_E_MALFORMED, "does not match");
        assert_int_equal(hub_avro_validate(ints, "\x03\x04\x02\x04\x00", 5, &err), 0);
        /* INT64_MIN as a count has no absolute value. */
        expect(ints, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, HUB_E_MALFORMED,
               "out of range");
        /* More ints than bytes left. */
        expect(ints, "\x14\x02\x04\x00", 4, HUB_E_TRUNCATED, "needs at least");
        /* Map keys are strings: a negative key length is caught with its item index. */
        expect(map, "\x04\x02k\x02\x03", 5, HUB_E_MALFORMED, "field [1] at byte 4");
        assert_int_equal(hub_avro_validate(map, "\x02\x02k\x02\x00", 5, &err), 0);
        avro_schema_decref(map);
        avro_schema_decref(ints);
        avro_schema_decref(nulls);
}

/* A recursive schema: nesting is bounded whatever the input says. */
static void test_depth(void **state)
{
        (void)state;
        avro_schema_t s = parse("{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":"
                                "\"next\",\"type\":[\"null\",\"N\"]}]}");
        unsigned char buf[1000];
        memset(buf, 0x02, sizeof(buf)); /* branch N, again and again */
        buf[sizeof(buf) - 1] = 0;
        expect(s, buf, sizeof(buf), HUB_E_TOO_LARGE, "nested deeper than");
        hub_err_t err = {0};
        assert_int_equal(hub_avro_validate(s, buf + sizeof(buf) - 11, 11, &err), 0);
        avro_schema_decref(s);
}

static void test_load_errors(void **state)
{
        (void)state;
        avro_schema_t s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_avro_schema_load("/nonexistent/x.avsc", &s, &err), -HUB_E_IO);
        assert_null(s);
        assert_int_equal(hub_avro_schema_load(hub_test_source_path("meson.build"), &s,
                                              &err),
                         -HUB_E_SCHEMA);
        assert_null(s);
        assert_int_equal(hub_avro_validate(NULL, "", 0, &err), -HUB_E_INVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_report_roundtrip), cmocka_unit_test(test_every_prefix),
            cmocka_unit_test(test_trailing),         cmocka_unit_test(test_negative_in_report),
            cmocka_unit_test(test_lengths),          cmocka_unit_test(test_indexes),
            cmocka_unit_test(test_blocks),           cmocka_unit_test(test_depth),
            cmocka_unit_test(test_load_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
