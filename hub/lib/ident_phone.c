/* Phone numbers: E.164 for the Vietnamese numbering plan.
 *
 * Hand-written: libphonenumber is C++ and validates against today's plan only, with no mapping
 * for the 2018 renumbering of 11-digit mobiles that old records in every agency still carry; the
 * plan itself is small (mobiles: 9 national digits; fixed lines since 2017: 10, from a 2). */
#include "ident_internal.h"

#include <hub/ident.h>

#include <stdio.h>
#include <string.h>

/* 2018-19 renumbering of 11-digit mobiles [reported, DOMAIN.md]: old 3-digit national prefix
 * (without the trunk 0) to the new 2-digit one; the last 7 digits are kept. */
static const struct {
        char old[4];
        char now[3];
} renumbering[] = {
        {"120", "70"}, {"121", "79"}, {"122", "77"}, {"126", "76"}, {"128", "78"},
        {"123", "83"}, {"124", "84"}, {"125", "85"}, {"127", "81"}, {"129", "82"},
        {"162", "32"}, {"163", "33"}, {"164", "34"}, {"165", "35"}, {"166", "36"},
        {"167", "37"}, {"168", "38"}, {"169", "39"}, {"186", "56"}, {"188", "58"},
        {"199", "59"},
};

/* 10-digit mobile prefixes in use (without the trunk 0): Viettel 32-39, 86, 96-98; MobiFone
 * 70, 76-79, 89, 90, 93; VinaPhone 81-85, 88, 91, 94; Vietnamobile 52, 56, 58, 92; Gmobile 59,
 * 99; Reddi 55; iTel 87. 95 is kept for the closed S-Fone range still found in old records. */
static bool is_mobile_prefix(const char *nat)
{
        int p = (nat[0] - '0') * 10 + (nat[1] - '0');

        return (p >= 32 && p <= 39) || p == 52 || p == 55 || p == 56 || p == 58 || p == 59 ||
               p == 70 || (p >= 76 && p <= 79) || (p >= 81 && p <= 89) || (p >= 90 && p <= 99);
}

/* Classify a national significant number (no trunk 0) into out->value; 0 or a reason. */
static int phone_national(const char *nat, size_t n, hub_ident_t *out)
{
        char buf[16];

        if (n == 10 && nat[0] == '1' && strncmp(nat, "1800", 4) != 0 &&
            strncmp(nat, "1900", 4) != 0) {
                size_t i;
                for (i = 0; i < sizeof(renumbering) / sizeof(renumbering[0]); i++)
                        if (memcmp(nat, renumbering[i].old, 3) == 0)
                                break;
                if (i == sizeof(renumbering) / sizeof(renumbering[0]))
                        return HUB_IDR_UNKNOWN_LEGACY_PREFIX;
                memcpy(buf, renumbering[i].now, 2);
                memcpy(buf + 2, nat + 3, 8);
                nat = buf;
                n = 9;
                out->flags |= HUB_IDF_RENUMBERED;
        }
        if (n == 9 && is_mobile_prefix(nat)) {
                /* mobile */
        } else if (n == 10 && nat[0] == '2') {
                /* Fixed lines since 2017: 2 + area code, 10 digits in all (24/28 + 8 digits for
                 * Hanoi and Ho Chi Minh City, 2xx + 7 elsewhere), not 9 as for mobiles. */
                out->flags |= HUB_IDF_LANDLINE;
        } else if ((n == 8 || n == 10) &&
                   (strncmp(nat, "1800", 4) == 0 || strncmp(nat, "1900", 4) == 0)) {
                /* toll-free and premium service numbers: dialled without a trunk 0 */
        } else if (n < 8 || n > 10) {
                return HUB_IDR_WRONG_LENGTH;
        } else {
                return HUB_IDR_NOT_VIETNAMESE_NUMBER;
        }
        snprintf(out->value, sizeof(out->value), "+84%.*s", (int)n, nat);
        out->type = HUB_ID_PHONE;
        out->mergeable = false;
        return 0;
}

int ident_phone(const char *s, hub_ident_t *out, hub_err_t *err)
{
        char d[32];
        const char *nat;
        size_t n, nn;
        bool plus, cc = true;
        int r;

        /* A leading '+' (possibly inside "(+84)") says the country code follows. */
        plus = s[strspn(s, " (")] == '+';
        r = ident_take_digits(s + strspn(s, " (") + (plus ? 1 : 0), "()/", d, sizeof(d), &n,
                        "hub_ident_normalize", out, err);
        if (r)
                return r;
        if (n == 0)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_EMPTY,
                                    "phone has no digits");
        if (plus && strncmp(d, "84", 2) != 0)
                return ident_reject(out, err, "hub_ident_normalize",
                                    HUB_IDR_NOT_VIETNAMESE_NUMBER,
                                    "country code is not +84");
        if (plus) {
                nat = d + 2;
        } else if (strncmp(d, "0084", 4) == 0) {
                nat = d + 4;
        } else if (d[0] == '0') {
                nat = d + 1;
                cc = false;
        } else if (strncmp(d, "84", 2) == 0 && (n == 11 || n == 12)) {
                /* 84 without '+': 9 or 10 national digits follow. 9 digits starting with 84 are
                 * a VinaPhone 084 number without its zero, handled below. */
                nat = d + 2;
        } else if (strncmp(d, "1800", 4) == 0 || strncmp(d, "1900", 4) == 0) {
                nat = d;
                cc = false;
        } else {
                /* A national number without its trunk 0, as spreadsheets store it. */
                hub_ident_t tmp = {0};
                if (phone_national(d, n, &tmp) == 0)
                        ident_copy(out->hint, sizeof(out->hint), tmp.value);
                if (out->hint[0])
                        return ident_reject(out, err, "hub_ident_normalize",
                                            HUB_IDR_PROBABLE_LOST_ZERO,
                                            "%zu digits without a 0 or +84 prefix", n);
                return ident_reject(out, err, "hub_ident_normalize",
                                    HUB_IDR_NOT_VIETNAMESE_NUMBER,
                                    "no 0, 84 or +84 prefix and no Vietnamese number shape");
        }
        /* "+84 (0) 912..." and "+84 0912...": a trunk 0 after the country code is common. */
        if (cc && nat[0] == '0')
                nat++;
        nn = strlen(nat);
        r = phone_national(nat, nn, out);
        if (r == HUB_IDR_UNKNOWN_LEGACY_PREFIX)
                return ident_reject(out, err, "hub_ident_normalize", r,
                                    "11-digit prefix 0%.3s is not in the 2018 renumbering", nat);
        if (r == HUB_IDR_WRONG_LENGTH)
                return ident_reject(out, err, "hub_ident_normalize", r,
                                    "national number has %zu digits, expected 9 or 10", nn);
        if (r)
                return ident_reject(out, err, "hub_ident_normalize", r,
                                    "prefix 0%.2s is not a Vietnamese mobile, fixed or service "
                                    "number",
                                    nat);
        return 0;
}

