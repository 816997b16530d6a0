/* RFC 3339 timestamps: what operators type, parsed exactly; what they read, printed in UTC. */
#include <hub/timestamp.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int64_t parse_ok(const char *text)
{
        int64_t us = 0;
        hub_err_t err = {0};
        if (hub_timestamp_parse(text, &us, &err))
                fail_msg("%s: %s", text, err.msg);
        return us;
}

static void test_parse(void **state)
{
        (void)state;
        assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
        assert_int_equal(parse_ok("1970-01-01"), 0);
        /* 2026-01-02T00:00:00Z, checked with `date -u -d 2026-01-02 +%s`. */
        assert_int_equal(parse_ok("2026-01-02T00:00:00Z"), INT64_C(1767312000) * 1000000);
        assert_int_equal(parse_ok("2026-01-02"), INT64_C(1767312000) * 1000000);
        /* Offsets are converted: 07:00 in Hanoi is midnight UTC. */
        assert_int_equal(parse_ok("2026-01-02T07:00:00+07:00"), INT64_C(1767312000) * 1000000);
        assert_int_equal(parse_ok("2026-01-01T19:30:00-04:30"), INT64_C(1767312000) * 1000000);
        assert_int_equal(parse_ok("2026-01-02t00:00:00z"), INT64_C(1767312000) * 1000000);
        assert_int_equal(parse_ok("2026-01-02 00:00:00Z"), INT64_C(1767312000) * 1000000);
        /* Fractions: microseconds kept, beyond that truncated. */
        assert_int_equal(parse_ok("1970-01-01T00:00:00.5Z"), 500000);
        assert_int_equal(parse_ok("1970-01-01T00:00:00.123456789Z"), 123456);
        /* Leap day, and before the epoch. */
        assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800) * 1000000);
        assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1000000);
}

static void test_parse_refuses(void **state)
{
        (void)state;
        static const char *const bad[] = {
                "",                          /* nothing */
                "2026-1-2",                  /* digits missing */
                "2026-01-02T00:00:00",       /* a time without a zone is ambiguous */
                "2026-01-02T00:00Z",         /* seconds missing */
                "2026-02-29",                /* not a leap year */
                "2026-13-01",                /* no such month */
                "2026-01-02T24:00:00Z",      /* no such hour */
                "2026-01-02T23:59:60Z",      /* leap second */
                "2026-01-02T00:00:00.Z",     /* empty fraction */
                "2026-01-02T00:00:00+0700",  /* offset without ':' */
                "2026-01-02T00:00:00Z junk", /* trailing text */
                "0000-01-01",                /* year 0 */
                "yesterday",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t us = 42;
                hub_err_t err = {0};
                if (hub_timestamp_parse(bad[i], &us, &err) != -HUB_E_MALFORMED)
                        fail_msg("accepted \"%s\"", bad[i]);
                assert_non_null(strstr(err.msg, "invalid timestamp"));
                assert_int_equal(us, 42);
        }
}

static void test_format(void **state)
{
        (void)state;
        char buf[HUB_TIMESTAMP_MAX];
        assert_string_equal(hub_timestamp_format(0, buf), "1970-01-01T00:00:00Z");
        assert_string_equal(hub_timestamp_format(INT64_C(1767312000) * 1000000, buf),
                            "2026-01-02T00:00:00Z");
        assert_string_equal(hub_timestamp_format(INT64_C(1767312000) * 1000000 + 1, buf),
                            "2026-01-02T00:00:00.000001Z");
        assert_string_equal(hub_timestamp_format(-1, buf), "1969-12-31T23:59:59.999999Z");
        assert_string_equal(hub_timestamp_format(HUB_TS_NONE, buf), "-");
        /* Round trip over a spread of instants, including the far ends of the year range. */
        static const char *const texts[] = {"0001-01-01T00:00:00Z", "1999-12-31T23:59:59.999999Z",
                                            "2000-02-29T12:34:56.000100Z", "9999-12-31T23:59:59Z"};
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                assert_string_equal(hub_timestamp_format(parse_ok(texts[i]), buf), texts[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
