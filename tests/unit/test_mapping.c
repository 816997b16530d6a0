/* Mapping files: parsing errors, every transform the dev data needs, each reason a row is
 * refused for, the record_id rule, and dates. */
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

static const char base[] =
        "[source]\n"
        "format = jsonl\n"
        "key = record_id\n"
        "filter = source_agency == HQ\n"
        "\n"
        "[report]\n"
        "agency = MOF-HQ\n"
        "tier = SHARED\n"
        "\n"
        "[fields]\n"
        "reported_at = reported_at\n"
        "reported_at = addresses.scheme_valid_on\n"
        "subject_type = subject_kind\n"
        "name = names.LEGAL\n"
        "tax_code = identifiers.TAX_CODE\n"
        "phones = identifiers.PHONE\n"
        "bank_accounts = identifiers.BANK_ACCOUNT value=account_no qualifier=bank_bin "
        "label=holder\n"
        "gender = gender map=gender\n"
        "dob_year = dob_year\n"
        "province_code = addresses.province_code\n"
        "province_scheme = addresses.province_scheme\n"
        "violation_categories = violation_categories\n"
        "actions = actions target=to map=agency\n"
        "legal_basis = legal_basis\n"
        "registrant = relations.REGISTRANT.name\n"
        "registrant_tax_code = relations.REGISTRANT.identifiers.TAX_CODE\n"
        "customs_no = documents.CUSTOMS_DECLARATION.number\n"
        "codes = violation_categories split=;\n"
        "_truth_entity = -\n"
        "\n"
        "[map.gender]\n"
        "F = FEMALE\n"
        "M = MALE\n"
        "[map.agency]\n"
        "CA = BCA\n";

static hub_mapping_t *load(const char *text)
{
        hub_mapping_t *m = NULL;
        hub_err_t err = {0};
        int rc = hub_mapping_parse(text, "test.ini", &m, &err);
        if (rc)
                fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, 0);
        return m;
}

static json_t *row(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        assert_non_null(j);
        return j;
}

/* Map text as a row; returns the report (or NULL) and the rc, reason and message. */
static json_t *map(hub_mapping_t *m, const char *text, int *rc, const char **reason,
                   hub_err_t *err, hub_mapping_stats_t *st)
{
        json_t *r = row(text), *report = NULL;
        *reason = NULL;
        *rc = hub_mapping_apply(m, r, &report, reason, st, err);
        json_decref(r);
        return report;
}

static void expect_parse_error(const char *text, const char *needle)
{
        hub_mapping_t *m = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_mapping_parse(text, "bad.ini", &m, &err), -HUB_E_CONFIG);
        assert_null(m);
        if (!strstr(err.msg, needle))
                fail_msg("\"%s\" does not contain \"%s\"", err.msg, needle);
}

static void test_dev_row(void **state)
{
        (void)state;
        hub_mapping_t *m = load(base);
        hub_mapping_stats_t st = {0};
        hub_err_t err = {0};
        const char *reason;
        int rc;
        json_t *rep = map(m,
                          "{\"record_id\": \"HQ-2025-0103\", \"source_agency\": \"HQ\","
                          " \"reported_at\": \"2025-02-25\", \"subject_type\": \"individual\","
                          " \"name\": \"Trần Văn Ðức\", \"phones\": [\"84382345678\", \"0912\"],"
                          " \"gender\": \"M\", \"dob_year\": 1992, \"province_code\": \"20\","
                          " \"province_scheme\": \"GSO63\","
                          " \"violation_categories\": [\"HANG_NHAP_LAU\"],"
                          " \"codes\": \"HANG_GIA; NOT_A_CODE\","
                          " \"bank_accounts\": [{\"bank_bin\": \"970422\", \"account_no\":"
                          " \"0382345678\", \"holder\": \"TRAN VAN DUC\"}],"
                          " \"actions\": [{\"type\": \"CONFISCATE\"}, {\"type\": \"REFER\","
                          " \"to\": \"CA\"}, {\"type\": \"FINE\", \"amount_vnd\": 8000000}],"
                          " \"legal_basis\": \"ND 98/2020/ND-CP\","
                          " \"registrant\": \"Công ty A\", \"registrant_tax_code\": \"0399555016\","
                          " \"customs_no\": \"105123456789\","
                          " \"_truth_entity\": \"E3\", \"_traps\": \"x\", \"extra\": 1}",
                          &rc, &reason, &err, &st);
        assert_int_equal(rc, HUB_MAP_RECORD);
        json_t *want = row(
                "{\"record_id\": \"HQ-2025-0103\", \"agency\": \"MOF-HQ\","
                " \"reported_at\": 1740416400000, \"subject_kind\": \"INDIVIDUAL\","
                " \"names\": [{\"value\": \"Trần Văn Ðức\", \"kind\": \"LEGAL\"}],"
                " \"identifiers\": [{\"type\": \"PHONE\", \"value\": \"84382345678\"},"
                "   {\"type\": \"PHONE\", \"value\": \"0912\"},"
                "   {\"type\": \"BANK_ACCOUNT\", \"value\": \"0382345678\", \"qualifier\": "
                "\"970422\", \"label\": \"TRAN VAN DUC\"}],"
                " \"gender\": \"MALE\", \"dob_year\": 1992,"
                " \"addresses\": [{\"province_code\": \"20\", \"province_scheme\": \"GSO63\","
                "   \"scheme_valid_on\": 20144}],"
                " \"violation_categories\": [\"HANG_NHAP_LAU\", \"HANG_GIA\", \"KHAC\"],"
                " \"actions\": [{\"type\": \"CONFISCATE\"}, {\"type\": \"REFER\", \"target\": "
                "\"BCA\"}, {\"type\": \"FINE\", \"amount_vnd\": 8000000}],"
                " \"legal_basis\": [\"ND 98/2020/ND-CP\"],"
                " \"relations\": [{\"kind\": \"REGISTRANT\", \"name\": \"Công ty A\","
                "   \"identifiers\": [{\"type\": \"TAX_CODE\", \"value\": \"0399555016\"}]}],"
                " \"documents\": [{\"kind\": \"CUSTOMS_DECLARATION\", \"number\": "
                "\"105123456789\"}],"
                " \"sensitivity\": {\"tier\": \"SHARED\", \"recipients\": []}}");
        /* identifiers come in the row's key order: phones before bank_accounts here */
        if (!json_equal(rep, want)) {
                char *a = json_dumps(rep, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);
                fail_msg("got  %s\nwant %s", a, b);
        }
        /* an unknown code became the default and was counted; unnamed fields were counted */
        assert_int_equal(st.unknown_symbols, 1);
        assert_int_equal(json_integer_value(json_object_get(hub_mapping_unknown_values(m),
                                                            "codes=NOT_A_CODE")), 1);
        assert_int_equal(st.ignored_values, 2);
        assert_int_equal(json_integer_value(json_object_get(hub_mapping_ignored_fields(m),
                                                            "_traps")), 1);
        assert_null(json_object_get(hub_mapping_ignored_fields(m), "_truth_entity"));
        /* and the codec takes it */
        hub_report_codec_t *c = NULL;
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        unsigned char *bytes = NULL;
        size_t len = 0;
        assert_int_equal(hub_report_encode_json(c, rep, &bytes, &len, &err), 0);
        free(bytes);
        hub_report_codec_free(c);
        json_decref(want);
        json_decref(rep);
        hub_mapping_free(m);
}

static void test_filter_and_constants(void **state)
{
        (void)state;
        hub_mapping_t *m = load(base);
        hub_mapping_stats_t st = {0};
        hub_err_t err = {0};
        const char *reason;
        int rc;
        json_t *rep = map(m, "{\"record_id\": \"CA-1\", \"source_agency\": \"CA\"}", &rc, &reason,
                          &err, &st);
        assert_int_equal(rc, HUB_MAP_FILTERED);
        assert_null(rep);
        assert_int_equal(st.filtered_rows, 1);
        hub_mapping_free(m);

        /* RESTRICTED with recipients; a per-row tier through a map with a fallback */
        m = load("[source]\nformat = csv\nkey = id\n[report]\nagency = BCA\ntier = RESTRICTED\n"
                 "recipients = MOF-THUE, MOF-HQ\n[fields]\nday = reported_at\n"
                 "kind = subject_kind map=k\nkind = sensitivity.tier map=t\n"
                 "[map.k]\naccount = SOCIAL_ACCOUNT\n[map.t]\nwebsite = PUBLIC\n* = RESTRICTED\n");
        assert_int_equal(hub_mapping_format(m), HUB_SOURCE_CSV);
        rep = map(m, "{\"id\": \"1\", \"day\": \"01/02/2025\", \"kind\": \"account\"}", &rc,
                  &reason, &err, &st);
        assert_int_equal(rc, HUB_MAP_RECORD);
        assert_string_equal(json_string_value(json_object_get(rep, "subject_kind")),
                            "SOCIAL_ACCOUNT");
        json_t *sens = json_object_get(rep, "sensitivity");
        assert_string_equal(json_string_value(json_object_get(sens, "tier")), "RESTRICTED");
        assert_int_equal(json_array_size(json_object_get(sens, "recipients")), 2);
        assert_int_equal(json_integer_value(json_object_get(rep, "reported_at")),
                         1738342800000); /* 2025-02-01 00:00 +07:00 */
        json_decref(rep);
        rep = map(m, "{\"id\": \"2\", \"day\": \"2025-02-01T10:00:00Z\", \"kind\": \"website\"}",
                  &rc, &reason, &err, &st);
        sens = json_object_get(rep, "sensitivity");
        assert_string_equal(json_string_value(json_object_get(sens, "tier")), "PUBLIC");
        assert_int_equal(json_array_size(json_object_get(sens, "recipients")), 0);
        assert_int_equal(json_integer_value(json_object_get(rep, "reported_at")),
                         1738404000000);
        json_decref(rep);
        hub_mapping_free(m);
}

struct bad_case {
        const char *row;
        const char *reason;
        const char *needle;
};

static void test_refused_rows(void **state)
{
        (void)state;
        static const struct bad_case cases[] = {
                {"[1, 2]", HUB_REASON_MALFORMED, "not a JSON object"},
                {"{\"source_agency\": \"HQ\", \"reported_at\": \"2025-01-01\"}",
                 HUB_REASON_MISSING_KEY, "key field record_id is absent"},
                {"{\"record_id\": \"\", \"source_agency\": \"HQ\"}", HUB_REASON_MISSING_KEY,
                 "empty"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\"}", HUB_REASON_MISSING_VALUE,
                 "reported_at"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-02-30\"}",
                 HUB_REASON_BAD_VALUE, "field reported_at: \"2025-02-30\" is not a date"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"dob_year\": \"nineteen\"}",
                 HUB_REASON_BAD_VALUE, "field dob_year: \"nineteen\" is not a whole number"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"gender\": [\"F\"]}",
                 HUB_REASON_BAD_VALUE, "expected one value for gender, got a list"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"bank_accounts\": [{\"holder\": \"A\"}]}",
                 HUB_REASON_BAD_VALUE, "an element has no \"account_no\""},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"actions\": [{\"amount_vnd\": 5}]}",
                 HUB_REASON_BAD_VALUE, "an action has no type"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"actions\": [{\"type\": \"FINE\", \"amount_vnd\": \"lots\"}]}",
                 HUB_REASON_BAD_VALUE, "is not a whole number"},
                {"{\"record_id\": \"x\", \"source_agency\": \"HQ\", \"reported_at\": "
                 "\"2025-01-01\", \"phones\": [{\"no\": 1}]}",
                 HUB_REASON_BAD_VALUE, "field phones: an element has no \"value\""},
        };
        hub_mapping_t *m = load(base);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                hub_err_t err = {0};
                const char *reason;
                int rc;
                json_t *rep = map(m, cases[i].row, &rc, &reason, &err, NULL);
                assert_null(rep);
                assert_int_equal(rc, -HUB_E_MALFORMED);
                assert_non_null(reason);
                assert_string_equal(reason, cases[i].reason);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err.msg,
                                 cases[i].needle);
        }
        hub_mapping_free(m);
}

static void test_record_id(void **state)
{
        (void)state;
        char id[HUB_MAPPING_MAX_RECORD_ID + 1];
        const char *reason;
        hub_err_t err = {0};
        hub_mapping_t *m = load("[source]\nformat = csv\nkey = office, no\nversion = rev\n"
                                "[report]\nagency = MIC\ntier = PUBLIC\n"
                                "[fields]\nday = reported_at\n");
        json_t *r = row("{\"office\": \"Hà Nội/2\", \"no\": 17, \"rev\": \"a b%\"}");
        assert_int_equal(hub_mapping_record_id(m, r, id, sizeof(id), &reason, &err), 0);
        assert_string_equal(id, "H%C3%A0%20N%E1%BB%99i%2F2/17@a%20b%25");
        /* the same row gives the same id (re-sending is a no-op at the hub) */
        char again[sizeof(id)];
        assert_int_equal(hub_mapping_record_id(m, r, again, sizeof(again), &reason, &err), 0);
        assert_string_equal(id, again);
        json_decref(r);
        /* a missing version is a missing key */
        r = row("{\"office\": \"HN\", \"no\": \"1\"}");
        assert_int_equal(hub_mapping_record_id(m, r, id, sizeof(id), &reason, &err),
                         -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_MISSING_KEY);
        assert_non_null(strstr(err.msg, "version field rev"));
        json_decref(r);
        /* longer than the hub's 200 characters */
        char longv[160];
        memset(longv, '/', sizeof(longv) - 1);
        longv[sizeof(longv) - 1] = '\0';
        r = json_pack("{s:s, s:s, s:s}", "office", longv, "no", "1", "rev", "1");
        assert_int_equal(hub_mapping_record_id(m, r, id, sizeof(id), &reason, &err),
                         -HUB_E_MALFORMED);
        assert_string_equal(reason, HUB_REASON_BAD_KEY);
        json_decref(r);
        hub_mapping_free(m);
}

static void test_parse_errors(void **state)
{
        (void)state;
        expect_parse_error("[source]\nformat = xml\n", "bad.ini:2: format must be jsonl or csv");
        expect_parse_error("[source]\nformat = jsonl\nkey = id\n[report]\nagency = MIC\n"
                           "tier = SHARED\n\n; comment\n[fields]\nday = reported_on\n",
                           "bad.ini:10: unknown report target \"reported_on\"");
        expect_parse_error("[fields]\nt = identifiers.FAX\n",
                           "\"FAX\" is not a IdentifierType symbol");
        expect_parse_error("[fields]\nt = names.LEGAL frobnicate\n", "unknown option");
        expect_parse_error("[report]\nagency = mof-hq\n", "is not an agency code");
        expect_parse_error("[extra]\na = b\n", "unknown section [extra]");
        expect_parse_error("[source]\nformat = jsonl\nkey = id\n[report]\nagency = MIC\n"
                           "tier = SHARED\n[fields]\nday = reported_at\ng = gender map=nope\n",
                           "there is no [map.nope] section");
        expect_parse_error("[source]\nformat = jsonl\nkey = id\n[report]\nagency = MIC\n"
                           "tier = SHARED\n[fields]\nname = names.LEGAL\n",
                           "no field maps to reported_at");
        expect_parse_error("[source]\nformat = jsonl\nkey = id\n[report]\nagency = MIC\n"
                           "tier = PUBLIC\nrecipients = BCA\n[fields]\nd = reported_at\n",
                           "recipients are only for tier RESTRICTED");
        expect_parse_error("[source]\nformat = jsonl\n[report]\nagency = MIC\ntier = PUBLIC\n"
                           "[fields]\nd = reported_at\n", "key is missing");
        expect_parse_error("not an ini line\n", "bad.ini:1: syntax error");
}

static void test_dates(void **state)
{
        (void)state;
        int32_t d;
        int64_t ms;
        assert_int_equal(hub_mapping_parse_date("1970-01-01", &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(hub_mapping_parse_date("2024-02-29", &d), 0);
        assert_int_equal(d, 19782);
        assert_int_equal(hub_mapping_parse_date("29/02/2024", &d), 0);
        assert_int_equal(d, 19782);
        assert_int_equal(hub_mapping_parse_date("2025-02-29", &d), -1);
        assert_int_equal(hub_mapping_parse_date("2025-13-01", &d), -1);
        assert_int_equal(hub_mapping_parse_date("2025-1-01", &d), -1);
        assert_int_equal(hub_mapping_parse_date("2025-01-01x", &d), -1);
        assert_int_equal(hub_mapping_parse_timestamp("2025-03-14", 7 * 3600000, &ms), 0);
        assert_int_equal(ms, 1741885200000); /* 2025-03-13T17:00:00Z */
        assert_int_equal(hub_mapping_parse_timestamp("2025-03-14T08:30:15.5+07:00", 0, &ms), 0);
        assert_int_equal(ms, 1741915815500);
        assert_int_equal(hub_mapping_parse_timestamp("2025-03-14 01:30Z", 7 * 3600000, &ms), 0);
        assert_int_equal(ms, 1741915800000);
        assert_int_equal(hub_mapping_parse_timestamp("2025-03-14T25:00", 0, &ms), -1);
        assert_int_equal(hub_mapping_parse_timestamp("2025-03-14T10:00+7", 0, &ms), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dev_row),
                cmocka_unit_test(test_filter_and_constants),
                cmocka_unit_test(test_refused_rows),
                cmocka_unit_test(test_record_id),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_dates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
