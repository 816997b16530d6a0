/* Hostile input (issue 6, item 2): oversized fields, invalid UTF-8, NUL bytes, SQL
 * metacharacters and 10 MB names, through every path an agency's bytes take — the report codec
 * (JSON → Avro bytes, untrusted bytes → value), JSON → Avro, the mapping of source rows, and the
 * identifier normalisers. Each is refused with a reason a user can read, or kept byte for byte:
 * never cut short, never altered silently. SQL metacharacters are data: free text keeps them
 * exactly (the store binds parameters), identifiers refuse them as they refuse any stray
 * character, and a record_id escapes them. */
#include <hub/avro.h>
#include <hub/avro_json.h>
#include <hub/batch.h>
#include <hub/ident.h>
#include <hub/mapping.h>
#include <hub/report.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TEN_MB (10u * 1024 * 1024)
#define SQL "Robert'); DROP TABLE records;-- \" \\ ; /* */ %"

/* A valid report, as tests/data/sample_reports.jsonl has them. */
static const char report_json[] =
        "{\"record_id\": \"MOF-HQ-00000001\", \"agency\": \"MOF-HQ\", \"reported_at\": "
        "1782950400000, \"subject_kind\": \"INDIVIDUAL\", \"names\": [{\"value\": \"Hu\\u1ef3nh "
        "Thanh B\\u00ecnh\", \"kind\": \"LEGAL\"}], \"identifiers\": [{\"type\": \"PHONE\", "
        "\"value\": \"0953903161\"}], \"violation_categories\": [\"HANG_GIA\"], \"actions\": "
        "[{\"type\": \"CONFISCATE\"}], \"legal_basis\": [], \"case_status\": \"PROCESSING\", "
        "\"violation_on\": 20635, \"sensitivity\": {\"tier\": \"SHARED\", \"recipients\": []}}";

static json_t *report(void)
{
        json_error_t e;
        json_t *j = json_loads(report_json, 0, &e);
        assert_non_null(j);
        return j;
}

/* The report with names[0].value set to `name` (len bytes, may hold NUL). */
static json_t *report_named(const char *name, size_t len)
{
        json_t *j = report();
        json_t *n = json_array_get(json_object_get(j, "names"), 0);
        json_t *s = json_stringn(name, len);
        assert_non_null(s);
        json_object_set_new(n, "value", s);
        return j;
}

static char *big(size_t n, char c)
{
        char *s = malloc(n + 1);
        assert_non_null(s);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* The first name of a decoded report, with its length. */
static const char *decoded_name(avro_value_t *v, size_t *len)
{
        avro_value_t names, n0, val;
        const char *s = NULL;
        assert_int_equal(avro_value_get_by_name(v, "names", &names, NULL), 0);
        assert_int_equal(avro_value_get_by_index(&names, 0, &n0, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&n0, "value", &val, NULL), 0);
        assert_int_equal(avro_value_get_string(&val, &s, len), 0);
        (*len)--; /* avro-c counts the NUL */
        return s;
}

/* ---- the report codec ---- */

static void test_report_nul_refused(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        json_t *j = report_named("Nguy\0en", 7);
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_equal(hub_report_encode_json(c, j, &out, &len, &err), -HUB_E_MALFORMED);
        assert_null(out);
        assert_non_null(strstr(err.msg, "names[0].value"));
        assert_non_null(strstr(err.msg, "NUL"));
        json_decref(j);
        hub_report_codec_free(c);
}

/* memmem is a GNU extension; the project builds with _POSIX_C_SOURCE only. */
static unsigned char *find(unsigned char *buf, size_t len, const char *s, size_t n)
{
        for (size_t i = 0; i + n <= len; i++)
                if (memcmp(buf + i, s, n) == 0)
                        return buf + i;
        return NULL;
}

/* Encode a report whose name is `marker`, then overwrite the marker's bytes in the encoding. */
static unsigned char *patched(hub_report_codec_t *c, const char *marker, const char *repl,
                              size_t *len)
{
        json_t *j = report_named(marker, strlen(marker));
        unsigned char *out = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_encode_json(c, j, &out, len, &err), 0);
        json_decref(j);
        unsigned char *p = find(out, *len, marker, strlen(marker));
        assert_non_null(p);
        memcpy(p, repl, strlen(marker));
        return out;
}

static void test_report_bytes_refused(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        avro_value_t *v = NULL;
        size_t len;

        /* Invalid UTF-8 (a lone lead byte), a NUL and an overlong form, inside the name. */
        static const char *const bad[] = {"AB\xc3(", "AB\0D", "A\xc0\xafZ"};
        for (size_t i = 0; i < 3; i++) {
                unsigned char *b = patched(c, "ABCD", bad[i], &len);
                hub_err_clear(&err);
                assert_int_equal(hub_report_decode(c, b, len, &v, &err), -HUB_E_MALFORMED);
                assert_non_null(strstr(err.msg, "names[0].value"));
                free(b);
        }

        /* A negative length (zig-zag 0x01 = -1), the record cut short, a byte after it. The
         * name's length is the byte before the marker: 0x08 for 4 bytes. */
        unsigned char *b = patched(c, "ABCD", "ABCD", &len);
        unsigned char *p = find(b, len, "ABCD", 4);
        assert_int_equal(p[-1], 0x08);
        p[-1] = 0x01;
        hub_err_clear(&err);
        assert_int_equal(hub_report_decode(c, b, len, &v, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "negative"));
        p[-1] = 0x08;
        hub_err_clear(&err);
        assert_int_equal(hub_report_decode(c, b, len - 1, &v, &err), -HUB_E_TRUNCATED);
        unsigned char *t = malloc(len + 1);
        memcpy(t, b, len);
        t[len] = 0;
        hub_err_clear(&err);
        assert_int_equal(hub_report_decode(c, t, len + 1, &v, &err), -HUB_E_TRAILING);
        free(t);
        assert_int_equal(hub_report_decode(c, b, len, &v, &err), 0);
        free(b);
        hub_report_codec_free(c);
}

static void test_report_sql_kept_exactly(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        json_t *j = report_named(SQL, strlen(SQL));
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_equal(hub_report_encode_json(c, j, &out, &len, &err), 0);
        avro_value_t *v = NULL;
        assert_int_equal(hub_report_decode(c, out, len, &v, &err), 0);
        size_t n;
        const char *s = decoded_name(v, &n);
        assert_int_equal(n, strlen(SQL));
        assert_memory_equal(s, SQL, n);
        free(out);
        json_decref(j);
        hub_report_codec_free(c);
}

/* A 10 MB name encodes whole (nothing is cut), and then no batch takes it: the builder and the
 * hub's decoder both refuse it as too large, with the limit in the message. */
static void test_report_ten_mb_name(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        char *name = big(TEN_MB, 'A');
        json_t *j = report_named(name, TEN_MB);
        unsigned char *out = NULL;
        size_t len = 0;
        assert_int_equal(hub_report_encode_json(c, j, &out, &len, &err), 0);
        assert_true(len > TEN_MB);
        avro_value_t *v = NULL;
        assert_int_equal(hub_report_decode(c, out, len, &v, &err), 0);
        size_t n;
        const char *s = decoded_name(v, &n);
        assert_int_equal(n, TEN_MB);
        assert_memory_equal(s, name, n);

        hub_batch_header_t h = {.agency = "MOF-HQ", .key_id = "MOF-HQ/1", .producer_id = "t",
                                .batch_seq = 0, .created_at_ms = 0};
        hub_batch_builder_t *b = NULL;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, &err), 0);
        hub_err_clear(&err);
        assert_int_equal(hub_batch_builder_add(b, out, len, &err), -HUB_E_TOO_LARGE);
        assert_string_equal(hub_err_name(err.code), "TOO_LARGE");
        assert_int_equal(hub_batch_builder_count(b), 0);
        hub_batch_builder_free(b);

        hub_batch_t *batch = NULL;
        hub_err_clear(&err);
        assert_int_equal(hub_batch_decode(out, len, NULL, &batch, &err), -HUB_E_TOO_LARGE);
        assert_null(batch);
        free(out);
        json_decref(j);
        free(name);
        hub_report_codec_free(c);
}

/* ---- JSON → Avro ---- */

static void test_json_to_avro(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        avro_value_iface_t *iface = avro_generic_class_from_schema(hub_report_codec_schema(c));
        avro_value_t v;
        assert_int_equal(avro_generic_value_new(iface, &v), 0);

        /* A NUL in a string, anywhere: refused, naming the field. */
        json_t *j = report();
        json_object_set_new(j, "record_id", json_stringn("a\0b", 3));
        assert_int_equal(hub_avro_from_json(j, &v, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "record_id"));
        assert_non_null(strstr(err.msg, "NUL"));
        json_decref(j);

        /* An int out of range is refused, not wrapped. */
        j = report();
        json_object_set_new(j, "violation_on", json_integer(INT64_C(1) << 40));
        avro_value_reset(&v);
        hub_err_clear(&err);
        assert_int_equal(hub_avro_from_json(j, &v, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "violation_on"));
        json_decref(j);

        /* A field the schema lacks, e.g. a smuggled SQL fragment as a key, is refused. */
        j = report();
        json_object_set_new(j, SQL, json_string("x"));
        avro_value_reset(&v);
        hub_err_clear(&err);
        assert_int_equal(hub_avro_from_json(j, &v, &err), -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "unknown field"));
        json_decref(j);

        /* SQL metacharacters and 10 MB of text in a value are data: kept whole. */
        char *name = big(TEN_MB, 'x');
        memcpy(name, SQL, strlen(SQL));
        j = report_named(name, TEN_MB);
        avro_value_reset(&v);
        hub_err_clear(&err);
        assert_int_equal(hub_avro_from_json(j, &v, &err), 0);
        size_t n;
        const char *s = decoded_name(&v, &n);
        assert_int_equal(n, TEN_MB);
        assert_memory_equal(s, name, n);
        json_decref(j);
        free(name);

        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        hub_report_codec_free(c);
}

/* ---- mapping of source rows ---- */

static const char mapping_text[] = "[source]\n"
                                   "format = csv\n"
                                   "key = id\n"
                                   "[report]\n"
                                   "agency = MOF-HQ\n"
                                   "tier = SHARED\n"
                                   "[fields]\n"
                                   "date = reported_at\n"
                                   "kind = subject_kind\n"
                                   "name = names.LEGAL\n"
                                   "mst = identifiers.TAX_CODE\n"
                                   "phones = identifiers.PHONE split=;\n";

/* A CSV row as hub_source_next() gives it (strings; a cell can hold a NUL byte). */
static json_t *csv_row(const char *id, size_t id_len, const char *name, size_t name_len)
{
        json_t *r = json_object();
        json_object_set_new(r, "id", json_stringn(id, id_len));
        json_object_set_new(r, "date", json_string("2025-03-05"));
        json_object_set_new(r, "kind", json_string("ORGANIZATION"));
        json_object_set_new(r, "name", json_stringn(name, name_len));
        json_object_set_new(r, "mst", json_string("0312687878"));
        return r;
}

static int apply(hub_mapping_t *m, json_t *row, json_t **rep, const char **reason,
                 hub_err_t *err)
{
        *rep = NULL;
        *reason = NULL;
        hub_err_clear(err);
        int rc = hub_mapping_apply(m, row, rep, reason, NULL, err);
        json_decref(row);
        return rc;
}

static void test_mapping_nul(void **state)
{
        (void)state;
        hub_mapping_t *m = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_mapping_parse(mapping_text, "hostile.ini", &m, &err), 0);
        json_t *rep;
        const char *reason;

        /* A NUL in a value: refused (it would cut "Shop\0 Other" to "Shop"). */
        int rc = apply(m, csv_row("1", 1, "Shop\0 Other", 11), &rep, &reason, &err);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_VALUE);
        assert_non_null(strstr(err.msg, "name"));
        assert_non_null(strstr(err.msg, "NUL"));
        assert_null(rep);

        /* A NUL in a list that is split: refused as well. */
        json_t *row = csv_row("1", 1, "Shop", 4);
        json_object_set_new(row, "phones", json_stringn("0912468357;09\0" "1", 15));
        rc = apply(m, row, &rep, &reason, &err);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_VALUE);
        assert_non_null(strstr(err.msg, "phones"));

        /* A NUL in the key: two keys must never give one record_id, so it is refused. */
        rc = apply(m, csv_row("A\0x", 3, "Shop", 4), &rep, &reason, &err);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_KEY);
        assert_non_null(strstr(err.msg, "NUL"));
        char id[HUB_MAPPING_MAX_RECORD_ID + 1];
        json_t *r = csv_row("A\0y", 3, "Shop", 4);
        hub_err_clear(&err);
        assert_int_equal(hub_mapping_record_id(m, r, id, sizeof(id), &reason, &err),
                         -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_KEY);
        json_decref(r);
        hub_mapping_free(m);
}

static void test_mapping_sql_and_size(void **state)
{
        (void)state;
        hub_mapping_t *m = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_mapping_parse(mapping_text, "hostile.ini", &m, &err), 0);
        json_t *rep;
        const char *reason;

        /* SQL in the key is escaped into the record_id (injective, no quote survives); SQL in
         * a name is kept byte for byte. */
        int rc = apply(m, csv_row("1';--", 5, SQL, strlen(SQL)), &rep, &reason, &err);
        assert_int_equal(rc, HUB_MAP_RECORD);
        assert_string_equal(json_string_value(json_object_get(rep, "record_id")), "1%27%3B--");
        json_t *n = json_array_get(json_object_get(rep, "names"), 0);
        assert_string_equal(json_string_value(json_object_get(n, "value")), SQL);
        json_decref(rep);

        /* A key longer than a record_id may be: refused, not cut. */
        char *k = big(HUB_MAPPING_MAX_RECORD_ID + 1, 'k');
        rc = apply(m, csv_row(k, strlen(k), "Shop", 4), &rep, &reason, &err);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_KEY);
        free(k);

        /* A 10 MB name is mapped whole; the batch limit then refuses the record (above). */
        char *name = big(TEN_MB, 'N');
        rc = apply(m, csv_row("2", 1, name, TEN_MB), &rep, &reason, &err);
        assert_int_equal(rc, HUB_MAP_RECORD);
        n = json_array_get(json_object_get(rep, "names"), 0);
        assert_int_equal(json_string_length(json_object_get(n, "value")), TEN_MB);
        json_decref(rep);
        free(name);
        hub_mapping_free(m);
}

/* ---- identifiers ---- */

static void expect_reason(int type, const char *v, size_t len, const char *qual, int reason)
{
        hub_ident_t id;
        hub_err_t err = {0};
        int rc = hub_ident_normalize_n(NULL, type, v, len, qual, &id, &err);
        if (id.reason != reason)
                fprintf(stderr, "%s: got %s (%s)\n", hub_ident_type_name(type),
                        hub_ident_reason_name(id.reason), err.msg);
        assert_int_equal(rc, -HUB_E_MALFORMED);
        assert_int_equal(id.reason, reason);
        assert_string_equal(id.value, "");
        const char *name = hub_ident_reason_name(reason);
        assert_memory_equal(err.msg, name, strlen(name));
}

static void test_identifiers(void **state)
{
        (void)state;
        for (int t = 0; t < HUB_ID__COUNT; t++) {
                /* 10 MB, a NUL, invalid UTF-8: every type refuses each with its reason. */
                char *huge = big(TEN_MB, '1');
                expect_reason(t, huge, TEN_MB, NULL, HUB_IDR_TOO_LONG);
                free(huge);
                expect_reason(t, "0312\0" "687878", 11, "VCB", HUB_IDR_CONTROL_CHAR);
                expect_reason(t, "0312\xff" "687878", 11, "VCB", HUB_IDR_INVALID_UTF8);
        }
        /* SQL metacharacters: refused by what each type allows. */
        static const char sql[] = "0312687878'; DROP TABLE identifiers;--";
        expect_reason(HUB_ID_TAX_CODE, sql, strlen(sql), NULL, HUB_IDR_NOT_DIGITS);
        expect_reason(HUB_ID_PHONE, sql, strlen(sql), NULL, HUB_IDR_NOT_DIGITS);
        expect_reason(HUB_ID_BANK_ACCOUNT, sql, strlen(sql), "VCB", HUB_IDR_NOT_DIGITS);
        expect_reason(HUB_ID_EMAIL, "a'--@x.vn; DROP TABLE x", 23, NULL,
                      HUB_IDR_INVALID_IDNA);
        hub_ident_t id;
        hub_err_t err = {0};
        assert_int_equal(hub_ident_normalize(HUB_ID_DOMAIN, "abc.vn';--", NULL, &id, &err),
                         -HUB_E_MALFORMED);
        assert_int_not_equal(id.reason, HUB_IDR_NONE);
}

static void test_names(void **state)
{
        (void)state;
        char out[4096];
        hub_err_t err = {0};
        char *huge = big(TEN_MB, 'a');
        assert_int_equal(hub_name_match_key(huge, false, out, sizeof(out), &err),
                         -HUB_E_MALFORMED);
        assert_true(hub_name_nfc(huge, out, sizeof(out), &err) < 0);
        free(huge);
        hub_err_clear(&err);
        assert_int_equal(hub_name_match_key("Nguy\xc3(n", false, out, sizeof(out), &err),
                         -HUB_E_MALFORMED);
        hub_err_clear(&err);
        assert_true(hub_name_nfc("Nguy\xc3(n", out, sizeof(out), &err) < 0);
        hub_err_clear(&err);
        assert_int_equal(hub_name_match_key("An\x01", false, out, sizeof(out), &err),
                         -HUB_E_MALFORMED);
        /* Too small an output is an error, never a cut key. */
        hub_err_clear(&err);
        assert_int_equal(hub_name_match_key("Nguyen Van An", false, out, 5, &err),
                         -HUB_E_TOO_LARGE);
        hub_err_clear(&err);
        assert_true(hub_name_nfc("Nguyen Van An", out, 5, &err) < 0);
        /* SQL metacharacters in a name are data: kept by the stored form. */
        hub_err_clear(&err);
        assert_int_equal(hub_name_nfc("O'Brien; DROP--", out, sizeof(out), &err), 0);
        assert_string_equal(out, "O'Brien; DROP--");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report_nul_refused),
                cmocka_unit_test(test_report_bytes_refused),
                cmocka_unit_test(test_report_sql_kept_exactly),
                cmocka_unit_test(test_report_ten_mb_name),
                cmocka_unit_test(test_json_to_avro),
                cmocka_unit_test(test_mapping_nul),
                cmocka_unit_test(test_mapping_sql_and_size),
                cmocka_unit_test(test_identifiers),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
