/* From a decoded report to statements and merge keys: an identifier that fails normalisation
 * is kept as a flagged statement and is never a merge key; phones link but do not merge. */
#include <hub/arena.h>
#include <hub/extract.h>
#include <hub/report.h>
#include <hub/resolve.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const hub_stmt_t *find(const hub_extract_t *x, const char *prop)
{
        for (size_t i = 0; i < x->n_stmts; i++)
                if (strcmp(x->stmts[i].prop, prop) == 0)
                        return &x->stmts[i];
        return NULL;
}

static void test_statements_and_keys(void **state)
{
        (void)state;
        hub_report_codec_t *c = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_report_codec_new(&c, &err), 0);
        json_t *j = json_loads(
                "{\"record_id\": \"R1\", \"agency\": \"MOF-THUE\", \"reported_at\": 0,"
                " \"subject_kind\": \"ORGANIZATION\","
                " \"names\": [{\"value\": \"CÔNG TY  TNHH An\", \"kind\": \"LEGAL\"}],"
                " \"identifiers\": [{\"type\": \"TAX_CODE\", \"value\": \"0312687878\"},"
                "  {\"type\": \"TAX_CODE\", \"value\": \"0312687870\"},"
                "  {\"type\": \"PHONE\", \"value\": \"0912 468 357\"}],"
                " \"violation_categories\": [\"TRON_THUE\"],"
                " \"sensitivity\": {\"tier\": \"SHARED\", \"recipients\": []}}",
                0, NULL);
        assert_non_null(j);
        unsigned char *bytes = NULL;
        size_t len = 0;
        assert_int_equal(hub_report_encode_json(c, j, &bytes, &len, &err), 0);
        avro_value_t *v;
        assert_int_equal(hub_report_decode(c, bytes, len, &v, &err), 0);
        hub_arena_t *a = hub_arena_new();
        hub_extract_t x;
        if (hub_extract_report(v, a, &x, &err))
                fail_msg("%s", err.msg);
        assert_string_equal(x.record_id, "R1");
        assert_string_equal(x.subject_kind, "ORGANIZATION");
        assert_int_equal(x.tier, HUB_TIER_SHARED);
        assert_int_equal(x.n_stmts, 5); /* name, 3 identifiers, category */
        assert_int_equal(x.n_invalid, 1);
        /* Only the valid tax code merges; the phone links; the bad one is evidence. */
        assert_int_equal(x.n_keys, 1);
        assert_string_equal(x.keys[0].type, "TAX_CODE");
        assert_string_equal(x.keys[0].value, "0312687878");
        size_t bad = 0;
        for (size_t i = 0; i < x.n_stmts; i++) {
                if (x.stmts[i].valid)
                        continue;
                bad++;
                assert_string_equal(x.stmts[i].prop, "identifier:TAX_CODE");
                assert_string_equal(x.stmts[i].original, "0312687870");
                assert_string_equal(x.stmts[i].reason, "CHECK_DIGIT");
        }
        assert_int_equal(bad, 1);
        const hub_stmt_t *phone = find(&x, "identifier:PHONE");
        assert_non_null(phone);
        assert_string_equal(phone->value, "+84912468357");
        assert_string_equal(phone->original, "0912 468 357");
        const hub_stmt_t *name = find(&x, "name:LEGAL");
        assert_non_null(name);
        assert_string_equal(name->value, "CÔNG TY TNHH An");
        assert_non_null(find(&x, "category"));
        hub_arena_free(a);
        free(bytes);
        json_decref(j);
        hub_report_codec_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_statements_and_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
