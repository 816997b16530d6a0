/* Identifiers: input checks, the dispatcher and the number-shaped types (tax code, personal id,
 * old id card, bank account, e-wallet, passport, business registration; phones are in
 * ident_phone.c).
 *
 * The rules are Vietnamese administrative ones that no library implements: the MST check digit,
 * the personal id layout, the +84 numbering plan with the 2018 renumbering. They are written out
 * here from DOMAIN.md; Unicode work (NFKC, so that full-width digits and no-break spaces read as
 * digits and spaces) is left to utf8proc. ident_net.c does hosts, URLs, shops and e-mail;
 * ident_name.c does names. */
#include "ident_internal.h"

#include <hub/ident.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define WHERE "hub_ident_normalize"

/* Avro enum symbols of IdentifierType, in order (report.avsc). */
static const char *const type_names[HUB_ID__COUNT] = {
        "OTHER", "TAX_CODE", "PERSONAL_ID", "OLD_ID_CARD", "PASSPORT",
        "BUSINESS_REG", "PHONE", "EMAIL", "DOMAIN", "URL",
        "IP_ADDRESS", "SHOP", "BANK_ACCOUNT", "E_WALLET", "SOCIAL_ACCOUNT",
};

static const char *const reason_names[HUB_IDR__COUNT] = {
        [HUB_IDR_NONE] = "NONE",
        [HUB_IDR_EMPTY] = "EMPTY",
        [HUB_IDR_TOO_LONG] = "TOO_LONG",
        [HUB_IDR_INVALID_UTF8] = "INVALID_UTF8",
        [HUB_IDR_CONTROL_CHAR] = "CONTROL_CHAR",
        [HUB_IDR_NOT_DIGITS] = "NOT_DIGITS",
        [HUB_IDR_WRONG_LENGTH] = "WRONG_LENGTH",
        [HUB_IDR_CHECK_DIGIT] = "CHECK_DIGIT",
        [HUB_IDR_ALL_ZERO] = "ALL_ZERO",
        [HUB_IDR_BRANCH_000] = "BRANCH_000",
        [HUB_IDR_PROBABLE_LOST_ZERO] = "PROBABLE_LOST_ZERO",
        [HUB_IDR_BAD_PROVINCE] = "BAD_PROVINCE",
        [HUB_IDR_BAD_CENTURY] = "BAD_CENTURY",
        [HUB_IDR_BIRTH_YEAR_MISMATCH] = "BIRTH_YEAR_MISMATCH",
        [HUB_IDR_SEX_MISMATCH] = "SEX_MISMATCH",
        [HUB_IDR_NOT_VIETNAMESE_NUMBER] = "NOT_VIETNAMESE_NUMBER",
        [HUB_IDR_UNKNOWN_LEGACY_PREFIX] = "UNKNOWN_LEGACY_PREFIX",
        [HUB_IDR_INVALID_IDNA] = "INVALID_IDNA",
        [HUB_IDR_LABEL_TOO_LONG] = "LABEL_TOO_LONG",
        [HUB_IDR_BAD_HOST] = "BAD_HOST",
        [HUB_IDR_BAD_PORT] = "BAD_PORT",
        [HUB_IDR_BAD_SCHEME] = "BAD_SCHEME",
        [HUB_IDR_PUBLIC_SUFFIX] = "PUBLIC_SUFFIX",
        [HUB_IDR_PLATFORM_PAGE] = "PLATFORM_PAGE",
        [HUB_IDR_UNKNOWN_PLATFORM] = "UNKNOWN_PLATFORM",
        [HUB_IDR_BAD_HANDLE] = "BAD_HANDLE",
        [HUB_IDR_UNKNOWN_BANK] = "UNKNOWN_BANK",
        [HUB_IDR_MISSING_QUALIFIER] = "MISSING_QUALIFIER",
        [HUB_IDR_NOT_AN_ADDRESS] = "NOT_AN_ADDRESS",
        [HUB_IDR_BAD_IP] = "BAD_IP",
        [HUB_IDR_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
        [HUB_IDR_UNKNOWN_TLD] = "UNKNOWN_TLD",
};

const char *hub_ident_type_name(int type)
{
        if (type < 0 || type >= HUB_ID__COUNT)
                return "UNKNOWN";
        return type_names[type];
}

int hub_ident_type_from_name(const char *name)
{
        if (!name)
                return -1;
        for (int i = 0; i < HUB_ID__COUNT; i++)
                if (strcmp(type_names[i], name) == 0)
                        return i;
        return -1;
}

const char *hub_ident_reason_name(int reason)
{
        if (reason < 0 || reason >= HUB_IDR__COUNT || !reason_names[reason])
                return "UNKNOWN";
        return reason_names[reason];
}

int ident_reject(hub_ident_t *out, hub_err_t *err, const char *where, int reason, const char *fmt,
                 ...)
{
        char detail[200];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        if (out)
                out->reason = reason;
        return hub_err_set(err, HUB_E_MALFORMED, false, where, "%s: %s",
                           hub_ident_reason_name(reason), detail);
}

bool ident_copy(char *dst, size_t cap, const char *src)
{
        size_t n = strlen(src);

        if (n >= cap) {
                dst[0] = '\0';
                return false;
        }
        memcpy(dst, src, n + 1);
        return true;
}

/* ---- banks ---------------------------------------------------------------------------------- */

/* DOMAIN.md's list [reported], as migration 0004 seeds the database's bank_bins: hubd loads
 * that table (hub/bins.h) and sets it with hub_ident_set_banks(); this copy serves programs
 * and tests without a database. */
static const hub_bank_t default_banks[] = {
        {"970436", "VCB", "Vietcombank"},
        {"970415", "ICB", "VietinBank|CTG"},
        {"970418", "BIDV", ""},
        {"970405", "VBA", "Agribank|AGR"},
        {"970407", "TCB", "Techcombank"},
        {"970422", "MB", "MBBank|MBB"},
        {"970416", "ACB", ""},
        {"970432", "VPB", "VPBank"},
        {"970423", "TPB", "TPBank"},
        {"970403", "STB", "Sacombank"},
        {"970437", "HDB", "HDBank"},
        {"970441", "VIB", ""},
        {"970443", "SHB", ""},
        {"971005", "VIETTELMONEY", "Viettel Money"},
        {"971011", "VNPTMONEY", "VNPT Money"},
        {"971025", "MOMO", ""},
};

static const hub_bank_table_t default_table = {default_banks,
                                               sizeof(default_banks) / sizeof(default_banks[0])};

const hub_bank_table_t *hub_ident_default_banks(void)
{
        return &default_table;
}

/* The table normalisation uses when the caller names none: hubd points it at the database's
 * list (bank_bins) and swaps it on reload. Atomic, so a reader on another thread sees either
 * table whole; the caller keeps the old one alive until no normalisation can be using it. */
static _Atomic(const hub_bank_table_t *) current_table = &default_table;

void hub_ident_set_banks(const hub_bank_table_t *table)
{
        atomic_store(&current_table, table ? table : &default_table);
}

const hub_bank_table_t *hub_ident_banks(void)
{
        return atomic_load(&current_table);
}

/* Compare a and b[0..blen) ignoring ASCII case, spaces and '-': "Viettel Money", "viettelmoney"
 * and "VIETTEL-MONEY" are one wallet. */
static bool loose_equal(const char *a, const char *b, size_t blen)
{
        size_t j = 0;

        for (;;) {
                while (*a == ' ' || *a == '-')
                        a++;
                while (j < blen && (b[j] == ' ' || b[j] == '-'))
                        j++;
                if (!*a || j == blen)
                        return !*a && j == blen;
                if (tolower((unsigned char)*a) != tolower((unsigned char)b[j]))
                        return false;
                a++;
                j++;
        }
}

const hub_bank_t *hub_ident_bank_find(const hub_bank_table_t *table, const char *key)
{
        if (!key)
                return NULL;
        if (!table)
                table = atomic_load(&current_table);
        for (size_t i = 0; i < table->n; i++) {
                const hub_bank_t *b = &table->banks[i];
                if (loose_equal(key, b->bin, strlen(b->bin)) ||
                    loose_equal(key, b->code, strlen(b->code)))
                        return b;
                for (const char *p = b->aliases; p && *p;) {
                        const char *bar = strchr(p, '|');
                        size_t n = bar ? (size_t)(bar - p) : strlen(p);
                        if (n && loose_equal(key, p, n))
                                return b;
                        p = bar ? bar + 1 : p + n;
                }
        }
        return NULL;
}

/* ---- input checks -------------------------------------------------------------------------- */

#define LIMIT_SHORT 256
#define LIMIT_URL 2048

static bool is_invisible(utf8proc_int32_t c)
{
        /* Zero-width characters and the BOM come with copy-paste from web pages and office
         * documents; they are never part of an identifier. */
        return c == 0x200B || c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF;
}

static bool is_space(utf8proc_int32_t c)
{
        return c == ' ' || c == '\t' || c == 0xA0 || c == 0x202F || c == 0x3000 ||
               is_invisible(c);
}

/* Check the raw bytes (UTF-8, no controls, limit) and copy them trimmed into buf[cap]. */
static int check_input(const char *s, size_t len, size_t limit, char *buf, size_t cap,
                       hub_ident_t *out, hub_err_t *err)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
        size_t first = len, last = 0, i = 0;

        if (len > limit)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_TOO_LONG,
                                    "value of %zu bytes exceeds the limit of %zu", len, limit);
        while (i < len) {
                utf8proc_int32_t c;
                utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
                if (n < 0)
                        return ident_reject(out, err, "hub_ident_normalize",
                                            HUB_IDR_INVALID_UTF8, "invalid UTF-8 at byte %zu", i);
                if ((c < 0x20 && c != '\t') || (c >= 0x7F && c <= 0x9F))
                        return ident_reject(out, err, "hub_ident_normalize",
                                            HUB_IDR_CONTROL_CHAR,
                                            "control character U+%04X at byte %zu", (unsigned)c,
                                            i);
                if (!is_space(c)) {
                        if (first == len)
                                first = i;
                        last = i + (size_t)n;
                }
                i += (size_t)n;
        }
        if (first == len)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_EMPTY,
                                    "value is empty");
        if (last - first >= cap)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_TOO_LONG,
                                    "value exceeds the limit of %zu bytes", cap - 1);
        memcpy(buf, s + first, last - first);
        buf[last - first] = '\0';
        return 0;
}

/* The digits of s, skipping the separators people type inside numbers. s is NFKC already, so
 * full-width digits are ASCII and no-break spaces are spaces; dashes are not folded by NFKC, so
 * the Unicode dashes are listed. `extra` holds more ASCII separators, e.g. "()" for phones. */
int ident_take_digits(const char *s, const char *extra, char *d, size_t cap, size_t *nd,
                      const char *what, hub_ident_t *out, hub_err_t *err)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
        size_t n = 0;

        while (*p) {
                utf8proc_int32_t c;
                utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
                if (k < 0)
                        return ident_reject(out, err, what, HUB_IDR_INVALID_UTF8,
                                            "invalid UTF-8");
                if (c >= '0' && c <= '9') {
                        if (n + 1 >= cap)
                                return ident_reject(out, err, what, HUB_IDR_WRONG_LENGTH,
                                                    "more than %zu digits", cap - 1);
                        d[n++] = (char)c;
                } else if (!(c == ' ' || c == '.' || c == '-' || (c >= 0x2010 && c <= 0x2015) ||
                             c == 0x2212 || is_space(c) ||
                             (c < 0x80 && extra && c && strchr(extra, (int)c)))) {
                        return ident_reject(out, err, what, HUB_IDR_NOT_DIGITS,
                                            "character U+%04X is not a digit or a separator",
                                            (unsigned)c);
                }
                p += k;
        }
        d[n] = '\0';
        *nd = n;
        return 0;
}

/* ---- tax code ------------------------------------------------------------------------------ */

/* DOMAIN.md [checked]: weights 31 29 23 19 17 13 7 5 3 over digits 1-9, check = 10 - (sum mod 11),
 * and no valid code when sum mod 11 == 0. (The "11 - r" variant found online fails every real
 * code; the five real codes in DOMAIN.md are in test_ident.) */
int hub_ident_tax_code_check(const char digits[10])
{
        static const int w[9] = {31, 29, 23, 19, 17, 13, 7, 5, 3};
        int sum = 0;
        bool zero = true;

        for (int i = 0; i < 9; i++) {
                sum += (digits[i] - '0') * w[i];
                if (i >= 2 && digits[i] != '0')
                        zero = false;
        }
        if (zero)
                return HUB_IDR_ALL_ZERO;
        if (sum % 11 == 0 || 10 - sum % 11 != digits[9] - '0')
                return HUB_IDR_CHECK_DIGIT;
        return 0;
}

static int personal_id_digits(const char *d, size_t n, hub_ident_t *out, hub_err_t *err);

static int tax_reject(hub_ident_t *out, hub_err_t *err, int reason)
{
        if (reason == HUB_IDR_ALL_ZERO)
                return ident_reject(out, err, "hub_ident_normalize", reason,
                                    "tax code digits 3 to 9 are all zero");
        return ident_reject(out, err, "hub_ident_normalize", reason,
                            "tax code check digit does not match");
}

static int tax_code_digits(const char *d, size_t n, hub_ident_t *out, hub_err_t *err)
{
        char z[16];
        int r;

        switch (n) {
        case 10:
        case 13:
                r = hub_ident_tax_code_check(d);
                if (r)
                        return tax_reject(out, err, r);
                if (n == 13 && memcmp(d + 10, "000", 3) == 0)
                        return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_BRANCH_000,
                                            "branch suffix 000 is not a branch");
                memcpy(out->value, d, n + 1);
                if (n == 13) {
                        memcpy(out->parent, d, 10);
                        out->parent[10] = '\0';
                        out->flags |= HUB_IDF_BRANCH;
                }
                if (d[0] == '8')
                        out->flags |= HUB_IDF_PERSONAL_MST;
                out->type = HUB_ID_TAX_CODE;
                out->mergeable = true;
                return 0;
        case 12:
                /* Since 2025-07-01 the personal id is the individual's tax code (Circular
                 * 86/2024 [reported]): key it as the personal id so both reports meet. A
                 * 12-digit value not starting with 0 is no personal id but may be a branch
                 * code that lost its zero. */
                if (d[0] != '0') {
                        z[0] = '0';
                        memcpy(z + 1, d, 13);
                        if (hub_ident_tax_code_check(z) == 0 && memcmp(z + 10, "000", 3) != 0)
                                ident_copy(out->hint, sizeof(out->hint), z);
                        if (out->hint[0])
                                return ident_reject(out, err, "hub_ident_normalize",
                                                    HUB_IDR_PROBABLE_LOST_ZERO,
                                                    "12 digits: a branch tax code without its "
                                                    "leading zero?");
                }
                r = personal_id_digits(d, n, out, err);
                if (r == 0 && out->type != HUB_ID_TAX_CODE)
                        out->flags |= HUB_IDF_RETYPED;
                return r;
        case 9:
                /* Spreadsheets drop the leading zero of codes from tax offices 01-09. Fixing it
                 * silently would merge on a guess; flag it and offer the hint. */
                z[0] = '0';
                memcpy(z + 1, d, 10);
                if (hub_ident_tax_code_check(z) == 0)
                        ident_copy(out->hint, sizeof(out->hint), z);
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_PROBABLE_LOST_ZERO,
                                    "9 digits: a tax code without its leading zero?");
        case 11:
                /* a personal id (12 digits, leading 0) that lost its zero */
                if (d[0] != '0')
                        return personal_id_digits(d, n, out, err);
                __attribute__((fallthrough)); /* GCC and clang both know it */
        default:
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "tax code has %zu digits, expected 10, 12 or 13", n);
        }
}

/* ---- personal id (CCCD) and old id card (CMND) ---------------------------------------------- */

/* The 63 province codes in use until 2025-06-30 (GSO, Decision 124/2004); a personal id starts
 * with 0 and one of them, the province of birth registration [reported]. Hand-written: no
 * library carries Vietnamese administrative codes. */
static bool is_province63(int code)
{
        static const unsigned char codes[] = {
                1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25,
                26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48,
                49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75,
                77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
        };
        for (size_t i = 0; i < sizeof(codes); i++)
                if (codes[i] == code)
                        return true;
        return false;
}

/* Decode the structure of 12 ASCII digits; 0 or a reason. */
static int personal_id_decode(const char *d, hub_personal_id_info_t *info)
{
        int prov = (d[1] - '0') * 10 + (d[2] - '0');
        int cs = d[3] - '0';

        if (d[0] != '0' || !is_province63(prov))
                return HUB_IDR_BAD_PROVINCE;
        /* Century/sex digit: 0/1 male/female born 1900-1999, 2/3 for 2000-2099, 4-9 for later
         * centuries [reported]; a birth after 2099 cannot be on a card issued now. */
        if (cs > 3)
                return HUB_IDR_BAD_CENTURY;
        if (info) {
                info->province = prov;
                info->sex = cs % 2 ? HUB_SEX_FEMALE : HUB_SEX_MALE;
                info->birth_year = 1900 + 100 * (cs / 2) + (d[4] - '0') * 10 + (d[5] - '0');
        }
        return 0;
}

static int personal_id_digits(const char *d, size_t n, hub_ident_t *out, hub_err_t *err)
{
        char z[16];
        int r;

        if (n == 11 && d[0] != '0') {
                z[0] = '0';
                memcpy(z + 1, d, 12);
                if (personal_id_decode(z, NULL) == 0)
                        ident_copy(out->hint, sizeof(out->hint), z);
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_PROBABLE_LOST_ZERO,
                                    "11 digits: a personal id without its leading zero?");
        }
        if (n != 12)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "personal id has %zu digits, expected 12%s", n,
                                    n == 9 ? " (9 digits is an old id card)" : "");
        r = personal_id_decode(d, NULL);
        if (r == HUB_IDR_BAD_PROVINCE)
                return ident_reject(out, err, "hub_ident_normalize", r,
                                    "personal id prefix %.3s is not a province code", d);
        if (r)
                return ident_reject(out, err, "hub_ident_normalize", r,
                                    "personal id century digit %c means a birth after 2099",
                                    d[3]);
        /* No check digit exists: a transposition still passes. Nothing more to verify here. */
        memcpy(out->value, d, 13);
        out->type = HUB_ID_PERSONAL_ID;
        out->mergeable = true;
        return 0;
}

int hub_ident_personal_id_check(const char *id, int dob_year, int sex,
                                hub_personal_id_info_t *info, int *reason, hub_err_t *err)
{
        hub_personal_id_info_t tmp;
        int r = 0;

        if (!id)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "id is NULL");
        if (strlen(id) != 12 || strspn(id, "0123456789") != 12)
                r = HUB_IDR_WRONG_LENGTH;
        else
                r = personal_id_decode(id, &tmp);
        if (r == 0 && dob_year > 0 && dob_year != tmp.birth_year)
                r = HUB_IDR_BIRTH_YEAR_MISMATCH;
        if (r == 0 && (sex == HUB_SEX_FEMALE || sex == HUB_SEX_MALE) && sex != tmp.sex)
                r = HUB_IDR_SEX_MISMATCH;
        if (reason)
                *reason = r;
        if (r)
                return hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                   "%s: personal id does not match its structure or the given "
                                   "birth year and sex",
                                   hub_ident_reason_name(r));
        if (info)
                *info = tmp;
        return 0;
}

static int old_id_digits(const char *d, size_t n, hub_ident_t *out, hub_err_t *err)
{
        int r;

        if (n == 12) {
                /* 12-digit cards issued from 2012 carry the citizen number [reported]. */
                r = personal_id_digits(d, n, out, err);
                if (r == 0)
                        out->flags |= HUB_IDF_RETYPED;
                return r;
        }
        if (n == 8) {
                char z[16] = "0";
                memcpy(z + 1, d, 9);
                ident_copy(out->hint, sizeof(out->hint), z);
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_PROBABLE_LOST_ZERO,
                                    "8 digits: an old id card without its leading zero?");
        }
        if (n != 9)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "old id card has %zu digits, expected 9", n);
        if (strspn(d, "0") == 9)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_ALL_ZERO,
                                    "old id card is all zeros");
        /* Its own type: a CMND number cannot be converted to a CCCD number. */
        memcpy(out->value, d, 10);
        out->type = HUB_ID_OLD_ID_CARD;
        out->mergeable = true;
        return 0;
}

/* ---- bank accounts, e-wallets, passports, business registration ------------------------------ */

static int bank_account(const hub_ident_opts_t *opts, int type, const char *s,
                        const char *qualifier, hub_ident_t *out, hub_err_t *err)
{
        const hub_bank_t *bank;
        char acct[32];
        size_t n = 0;

        if (!qualifier || !*qualifier)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_MISSING_QUALIFIER,
                                    "%s needs the bank BIN or code as qualifier",
                                    hub_ident_type_name(type));
        bank = hub_ident_bank_find(opts ? opts->banks : NULL, qualifier);
        if (!bank)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_UNKNOWN_BANK,
                                    "no bank with BIN or code \"%.40s\"", qualifier);
        if (type == HUB_ID_E_WALLET && s[strspn(s, " (")] == '+') {
                /* Wallets are opened on a phone number; "+84 912..." and "0912..." must give one
                 * key, so a wallet id in international form becomes the national 0 form. */
                hub_ident_t ph = {0};
                int r = ident_phone(s, &ph, err);
                if (r) {
                        out->reason = ph.reason;
                        return r;
                }
                acct[0] = '0';
                ident_copy(acct + 1, sizeof(acct) - 1, ph.value + 3);
                n = strlen(acct);
        } else {
                /* Digits, and letters for the virtual accounts some banks issue (upper-cased:
                 * no bank distinguishes case); spaces, dots and dashes are layout. */
                for (const char *p = s; *p; p++) {
                        unsigned char c = (unsigned char)*p;
                        if (c == ' ' || c == '.' || c == '-' || c == '\t')
                                continue;
                        if (!isalnum(c) || c >= 0x80)
                                return ident_reject(out, err, "hub_ident_normalize",
                                                    HUB_IDR_NOT_DIGITS,
                                                    "account number holds '%c'",
                                                    c < 0x80 ? c : '?');
                        if (n + 1 >= sizeof(acct))
                                break;
                        acct[n++] = (char)toupper(c);
                }
                acct[n] = '\0';
        }
        /* NAPAS carries up to 19 characters; under 4 is no account anywhere. */
        if (n < 4 || n > 19)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "account number of %zu characters, expected 4 to 19", n);
        snprintf(out->value, sizeof(out->value), "%s:%s", bank->bin, acct);
        out->type = type;
        out->mergeable = true;
        return 0;
}

static int passport(const char *s, const char *qualifier, hub_ident_t *out, hub_err_t *err)
{
        char num[32], cc[8] = "";
        size_t n = 0;

        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == ' ' || c == '-' || c == '.')
                        continue;
                if (!isalnum(c) || c >= 0x80)
                        return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_NOT_DIGITS,
                                            "passport number holds a character other than "
                                            "letters and digits");
                if (n + 1 >= sizeof(num))
                        break;
                num[n++] = (char)toupper(c);
        }
        num[n] = '\0';
        if (n < 6 || n > 20)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "passport number of %zu characters", n);
        if (qualifier && *qualifier) {
                /* ISO 3166 alpha-2 or alpha-3 reported: one spelling for Vietnam, the rest kept
                 * upper-cased as given. */
                if (loose_equal(qualifier, "VNM", 3) || loose_equal(qualifier, "Viet Nam", 8))
                        strcpy(cc, "VN");
                else
                        for (size_t i = 0; i < sizeof(cc) - 1 && qualifier[i]; i++)
                                cc[i] = (char)toupper((unsigned char)qualifier[i]);
        }
        /* A passport number is unique only within its issuing country: without one it links. */
        snprintf(out->value, sizeof(out->value), "%s%s%s", cc, cc[0] ? ":" : "", num);
        out->type = HUB_ID_PASSPORT;
        out->mergeable = cc[0] != '\0';
        return 0;
}

static int business_reg(const char *s, hub_ident_t *out, hub_err_t *err)
{
        char d[32];
        size_t n;

        /* Since the 2010 enterprise reform the enterprise code is the tax code: when it reads as
         * one, key it as one. Household business certificates have other shapes (letters and a
         * district prefix) and are kept upper-cased as an unmergeable key. */
        if (ident_take_digits(s, NULL, d, sizeof(d), &n, WHERE, out, NULL) == 0 &&
            (n == 10 || n == 13)) {
                int r = tax_code_digits(d, n, out, err);
                if (r == 0)
                        out->flags |= HUB_IDF_RETYPED;
                return r;
        }
        out->reason = 0;
        n = 0;
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == ' ' || c == '.' || c == '-')
                        continue;
                if (!isalnum(c) || c >= 0x80)
                        return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_NOT_DIGITS,
                                            "registration number holds a character other than "
                                            "letters and digits");
                if (n + 1 >= sizeof(out->value))
                        break;
                out->value[n++] = (char)toupper(c);
        }
        out->value[n] = '\0';
        if (n < 6 || n > 20)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_WRONG_LENGTH,
                                    "registration number of %zu characters", n);
        out->type = HUB_ID_BUSINESS_REG;
        out->mergeable = false;
        return 0;
}

/* ---- dispatcher ---------------------------------------------------------------------------- */

static int digit_type(int type, const char *nfkc, hub_ident_t *out, hub_err_t *err)
{
        char d[32];
        size_t n;
        int r = ident_take_digits(nfkc, NULL, d, sizeof(d), &n, WHERE, out, err);

        if (r)
                return r;
        if (n == 0)
                return ident_reject(out, err, "hub_ident_normalize", HUB_IDR_EMPTY,
                                    "value has no digits");
        switch (type) {
        case HUB_ID_TAX_CODE:
                return tax_code_digits(d, n, out, err);
        case HUB_ID_PERSONAL_ID:
                return personal_id_digits(d, n, out, err);
        default:
                return old_id_digits(d, n, out, err);
        }
}

int hub_ident_normalize_n(const hub_ident_opts_t *opts, int type, const char *original, size_t len,
                          const char *qualifier, hub_ident_t *out, hub_err_t *err)
{
        char buf[LIMIT_URL + 1];
        char *nfkc = NULL;
        size_t limit;
        int r;

        if (!out || (!original && len))
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "NULL argument");
        memset(out, 0, sizeof(*out));
        if (type < 0 || type >= HUB_ID__COUNT)
                return ident_reject(out, err, __func__, HUB_IDR_UNKNOWN_TYPE,
                                    "identifier type %d is unknown", type);
        limit = (type == HUB_ID_URL || type == HUB_ID_SHOP || type == HUB_ID_SOCIAL_ACCOUNT)
                        ? LIMIT_URL
                        : LIMIT_SHORT;
        r = check_input(original ? original : "", len, limit, buf, sizeof(buf), out, err);
        if (r)
                return r;

        switch (type) {
        case HUB_ID_TAX_CODE:
        case HUB_ID_PERSONAL_ID:
        case HUB_ID_OLD_ID_CARD:
        case HUB_ID_PHONE:
        case HUB_ID_BANK_ACCOUNT:
        case HUB_ID_E_WALLET:
        case HUB_ID_PASSPORT:
        case HUB_ID_BUSINESS_REG:
                /* NFKC first: full-width digits (from East Asian input methods) become ASCII and
                 * no-break spaces become spaces, so the hand-written parsers see ASCII. */
                nfkc = (char *)utf8proc_NFKC((const utf8proc_uint8_t *)buf);
                if (!nfkc)
                        return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                           "could not normalise to NFKC");
                break;
        default:
                break;
        }

        switch (type) {
        case HUB_ID_TAX_CODE:
        case HUB_ID_PERSONAL_ID:
        case HUB_ID_OLD_ID_CARD:
                r = digit_type(type, nfkc, out, err);
                break;
        case HUB_ID_PHONE:
                r = ident_phone(nfkc, out, err);
                break;
        case HUB_ID_BANK_ACCOUNT:
        case HUB_ID_E_WALLET:
                r = bank_account(opts, type, nfkc, qualifier, out, err);
                break;
        case HUB_ID_PASSPORT:
                r = passport(nfkc, qualifier, out, err);
                break;
        case HUB_ID_BUSINESS_REG:
                r = business_reg(nfkc, out, err);
                break;
        case HUB_ID_EMAIL:
                r = ident_email(buf, out, err);
                break;
        case HUB_ID_DOMAIN:
                r = ident_domain(buf, out, err);
                break;
        case HUB_ID_URL:
        case HUB_ID_SHOP:
        case HUB_ID_SOCIAL_ACCOUNT:
                r = ident_url(type, buf, qualifier, out, err);
                break;
        case HUB_ID_IP_ADDRESS:
                r = ident_ip(buf, out, err);
                break;
        default:
                /* OTHER: no rule known, so the key is the NFC text and never merges. */
                r = hub_name_nfc(buf, out->value, sizeof(out->value), err);
                if (r == -HUB_E_TOO_LARGE)
                        r = ident_reject(out, err, __func__, HUB_IDR_TOO_LONG, "value too long");
                out->type = HUB_ID_OTHER;
                out->mergeable = false;
                break;
        }
        free(nfkc);
        if (r == 0 && out->type != type)
                out->flags |= HUB_IDF_RETYPED;
        if (r) {
                /* A rejection leaves no half-made key behind, only the reason and the hint. */
                char hint[sizeof(out->hint)];
                int reason = out->reason;
                memcpy(hint, out->hint, sizeof(hint));
                memset(out, 0, sizeof(*out));
                out->reason = reason;
                memcpy(out->hint, hint, sizeof(hint));
        }
        return r;
}

int hub_ident_normalize(int type, const char *original, const char *qualifier, hub_ident_t *out,
                        hub_err_t *err)
{
        return hub_ident_normalize_n(NULL, type, original, original ? strlen(original) : 0,
                                     qualifier, out, err);
}
