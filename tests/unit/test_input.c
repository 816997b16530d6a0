/* Operator input: guessing an identifier's type, entity ids, agency codes and key ids. */
#include <hub/ident.h>
#include <hub/input.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The guessed types of `text` as names joined by ',', "" when none. */
static const char *guess(const char *text)
{
        static char out[128];
        int types[8];
        size_t n = hub_input_guess_ident_types(text, types, 8);
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strcat(out, ",");
                strcat(out, hub_ident_type_name(types[i]));
        }
        return out;
}

static void test_guess(void **state)
{
        (void)state;
        /* Ten digits are a tax code or a mobile number: both are tried. */
        assert_string_equal(guess("0312687878"), "TAX_CODE,PHONE");
        assert_string_equal(guess("0312-687-878"), "TAX_CODE,PHONE");
        assert_string_equal(guess(" 0912 468 357 "), "TAX_CODE,PHONE");
        assert_string_equal(guess("0399123457-001"), "TAX_CODE");
        assert_string_equal(guess("0399123457001"), "TAX_CODE");
        assert_string_equal(guess("+84 912 468 357"), "PHONE");
        assert_string_equal(guess("84912468357"), "PHONE");
        assert_string_equal(guess("(028) 3823.4567"), "PHONE");
        assert_string_equal(guess("01682468357"), "PHONE");
        assert_string_equal(guess("001189004521"), "PERSONAL_ID");
        assert_string_equal(guess("023456789"), "OLD_ID_CARD");
        assert_string_equal(guess("an.nguyen@gmail.com"), "EMAIL");
        assert_string_equal(guess("https://shopee.vn/thuha.authentic"), "URL");
        assert_string_equal(guess("shopee.vn/thuha.authentic"), "URL");
        assert_string_equal(guess("HTTP://Example.vn"), "URL");
        assert_string_equal(guess("thuha-vidu.com.vn"), "DOMAIN");
        assert_string_equal(guess("Bücher.de"), "DOMAIN");
        /* Nothing recognisable: the caller asks for --type. */
        assert_string_equal(guess("Nguyễn Văn An"), "");
        assert_string_equal(guess("12345"), "");
        assert_string_equal(guess(""), "");
        assert_string_equal(guess("@"), "");
        assert_string_equal(guess("hello"), "");
        /* cap is honoured. */
        int one[1];
        assert_int_equal(hub_input_guess_ident_types("0312687878", one, 1), 1);
        assert_int_equal(one[0], HUB_ID_TAX_CODE);
}

static void test_entity_id(void **state)
{
        (void)state;
        int64_t id = 0;
        hub_err_t err = {0};
        assert_int_equal(hub_input_parse_entity_id("E42", &id, &err), 0);
        assert_int_equal(id, 42);
        assert_int_equal(hub_input_parse_entity_id("e7", &id, &err), 0);
        assert_int_equal(id, 7);
        assert_int_equal(hub_input_parse_entity_id("9223372036854775807", &id, &err), 0);
        assert_int_equal(id, INT64_MAX);
        static const char *const bad[] = {"", "E", "E0", "E-1", "E1x", "x1", "E 1",
                                          "99999999999999999999"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (hub_input_parse_entity_id(bad[i], &id, &err) != -HUB_E_MALFORMED)
                        fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err.msg, "invalid entity id"));
}

static void test_codes(void **state)
{
        (void)state;
        assert_true(hub_input_agency_code_ok("MOF-HQ"));
        assert_true(hub_input_agency_code_ok("UBND-79"));
        assert_true(hub_input_agency_code_ok("HUB"));
        assert_false(hub_input_agency_code_ok(""));
        assert_false(hub_input_agency_code_ok("-HQ"));
        assert_false(hub_input_agency_code_ok("mof-hq"));
        assert_false(hub_input_agency_code_ok("MOF HQ"));
        assert_false(hub_input_agency_code_ok("MOF.HQ"));
        char long_code[80];
        memset(long_code, 'A', 65);
        long_code[65] = '\0';
        assert_false(hub_input_agency_code_ok(long_code));
        long_code[64] = '\0';
        assert_true(hub_input_agency_code_ok(long_code));

        assert_true(hub_input_key_id_ok("MOF-HQ/1"));
        assert_true(hub_input_key_id_ok("k"));
        assert_false(hub_input_key_id_ok(""));
        assert_false(hub_input_key_id_ok("MOF-HQ 1"));
        assert_false(hub_input_key_id_ok("khoá"));
        assert_false(hub_input_key_id_ok("a\tb"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_guess),
                cmocka_unit_test(test_entity_id),
                cmocka_unit_test(test_codes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
