/* The pure ingest decisions: key validity windows, record re-sends and conflicts, entity
 * attachment by exact identifier match, tier visibility. */
#include <hub/resolve.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_key_window(void **state)
{
        (void)state;
        hub_key_window_t w = {.valid_from_ms = 1000, .has_valid_until = true,
                              .valid_until_ms = 2000};
        assert_int_equal(hub_resolve_key_window(&w, 999), HUB_KEYV_NOT_YET_VALID);
        assert_int_equal(hub_resolve_key_window(&w, 1000), HUB_KEYV_OK); /* inclusive start */
        assert_int_equal(hub_resolve_key_window(&w, 1999), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_window(&w, 2000), HUB_KEYV_EXPIRED); /* exclusive end */
        w.has_valid_until = false;
        assert_int_equal(hub_resolve_key_window(&w, INT64_MAX), HUB_KEYV_OK);
        /* Revocation is effective from its instant: earlier batches stay valid. */
        w.revoked = true;
        w.revoked_at_ms = 1500;
        assert_int_equal(hub_resolve_key_window(&w, 1499), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_window(&w, 1500), HUB_KEYV_REVOKED);
        /* A revoked key is reported as revoked even after its window. */
        w.has_valid_until = true;
        assert_int_equal(hub_resolve_key_window(&w, 5000), HUB_KEYV_REVOKED);
        assert_string_equal(hub_resolve_key_reason(HUB_KEYV_REVOKED), "KEY_REVOKED");
        assert_string_equal(hub_resolve_key_reason(HUB_KEYV_EXPIRED), "KEY_EXPIRED");
        assert_string_equal(hub_resolve_key_reason(HUB_KEYV_NOT_YET_VALID), "KEY_NOT_YET_VALID");
}

/* The hub's rule: the signed creation time inside the window AND the hub's receipt before the
 * window closed at the hub. Each assertion fails if one half of the rule is dropped. */
static void test_key_accept(void **state)
{
        (void)state;
        /* Rotation: the old key 1000..2000, the new one from 1500: both inside the overlap. */
        hub_key_window_t old = {.valid_from_ms = 1000, .has_valid_until = true,
                                .valid_until_ms = 2000};
        hub_key_window_t new = {.valid_from_ms = 1500};
        assert_int_equal(hub_resolve_key_accept(&old, 1600, 1700), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_accept(&new, 1600, 1700), HUB_KEYV_OK);
        /* After the overlap only the new key: by signed time, and by receipt (backdated). */
        assert_int_equal(hub_resolve_key_accept(&old, 2000, 2000), HUB_KEYV_EXPIRED);
        assert_int_equal(hub_resolve_key_accept(&old, 1999, 2000), HUB_KEYV_EXPIRED);
        assert_int_equal(hub_resolve_key_accept(&old, 1999, 1999), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_accept(&new, 2500, 2600), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_accept(&new, 1499, 1600), HUB_KEYV_NOT_YET_VALID);
        /* Revocation registered at 3000, effective from 2500 (backdated: a compromise found
         * late). Received before 3000: created before 2500 stays valid, after is revoked.
         * Received from 3000 on: everything is refused, whatever created_at claims. */
        hub_key_window_t k = {.valid_from_ms = 1000, .revoked = true, .revoked_at_ms = 2500,
                              .revocation_registered_ms = 3000};
        assert_int_equal(hub_resolve_key_accept(&k, 2499, 2999), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_accept(&k, 2500, 2999), HUB_KEYV_REVOKED);
        assert_int_equal(hub_resolve_key_accept(&k, 2000, 3000), HUB_KEYV_REVOKED);
        /* Revocation scheduled ahead (registered 3000, effective 4000): batches created
         * before 4000 and received before it are valid; the receipt at 4000 closes it. */
        k.revoked_at_ms = 4000;
        assert_int_equal(hub_resolve_key_accept(&k, 3500, 3600), HUB_KEYV_OK);
        assert_int_equal(hub_resolve_key_accept(&k, 4000, 3600), HUB_KEYV_REVOKED);
        assert_int_equal(hub_resolve_key_accept(&k, 3500, 4000), HUB_KEYV_REVOKED);
}

static void test_record(void **state)
{
        (void)state;
        uint8_t a[32], b[32];
        memset(a, 1, sizeof(a));
        memset(b, 1, sizeof(b));
        assert_int_equal(hub_resolve_record(NULL, a), HUB_REC_NEW);
        assert_int_equal(hub_resolve_record(b, a), HUB_REC_SAME);
        b[31] ^= 1;
        assert_int_equal(hub_resolve_record(b, a), HUB_REC_CONFLICT);
}

static void test_entity(void **state)
{
        (void)state;
        hub_resolve_decision_t d;
        hub_resolve_entity(NULL, 0, &d);
        assert_int_equal(d.action, HUB_RESOLVE_NEW);
        const int64_t one[] = {7, 7};
        hub_resolve_entity(one, 2, &d);
        assert_int_equal(d.action, HUB_RESOLVE_ATTACH);
        assert_int_equal(d.entity_id, 7);
        assert_int_equal(d.n_left, 0);
        /* Two entities: the oldest (smallest id) wins, the other is left for a later merge. */
        const int64_t two[] = {12, 5, 12, 9};
        hub_resolve_entity(two, 4, &d);
        assert_int_equal(d.action, HUB_RESOLVE_ATTACH);
        assert_int_equal(d.entity_id, 5);
        assert_int_equal(d.n_left, 2);
}

static void test_tiers(void **state)
{
        (void)state;
        assert_true(hub_tier_visible(HUB_TIER_PUBLIC, HUB_TIER_PUBLIC));
        assert_true(hub_tier_visible(HUB_TIER_PUBLIC, HUB_TIER_RESTRICTED));
        assert_false(hub_tier_visible(HUB_TIER_SHARED, HUB_TIER_PUBLIC));
        assert_true(hub_tier_visible(HUB_TIER_SHARED, HUB_TIER_SHARED));
        assert_false(hub_tier_visible(HUB_TIER_RESTRICTED, HUB_TIER_SHARED));
        assert_true(hub_tier_visible(HUB_TIER_RESTRICTED, HUB_TIER_RESTRICTED));
        assert_int_equal(hub_tier_from_name("SHARED"), HUB_TIER_SHARED);
        assert_int_equal(hub_tier_from_name("shared"), -1);
        assert_string_equal(hub_tier_topic_suffix(HUB_TIER_RESTRICTED), "restricted");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_window),
                cmocka_unit_test(test_key_accept),
                cmocka_unit_test(test_record),
                cmocka_unit_test(test_entity),
                cmocka_unit_test(test_tiers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
