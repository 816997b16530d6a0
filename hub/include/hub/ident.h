/* Identifiers: validation and normal forms (the dedup keys), as /work/shared/DOMAIN.md specifies.
 *
 * Pure functions: no database, no network, no printing. The caller keeps the reported value next
 * to the normal form; this module never rewrites what an agency sent, it derives a key from it.
 *
 * Every rejection has a stable reason (HUB_IDR_*, named by hub_ident_reason_name), stored in
 * out->reason and written at the start of err->msg ("CHECK_DIGIT: ..."); the call then returns
 * -HUB_E_MALFORMED. Messages never repeat the value: ids and phones are personal data and
 * err->msg ends up in logs.
 *
 * Libraries do the standard parts: utf8proc (NFC/NFKC, case folding, mark stripping), libidn2
 * (UTS #46 to punycode), libpsl (registrable domain). Hand-written code covers only what no
 * library knows: the Vietnamese tax code check digit, personal id structure, the +84 numbering
 * plan and its 2018 renumbering, marketplace URLs and the bank BIN table. */
#ifndef HUB_IDENT_H
#define HUB_IDENT_H

#include <hub/err.h>

#include <stdbool.h>
#include <stddef.h>

/* Identifier types: the same numbers and order as the IdentifierType enum of schemas/report.avsc
 * (an Avro enum value is its index), so a decoded report's enum index is a HUB_ID_* directly.
 * test_ident checks this against the schema file. */
enum {
        HUB_ID_OTHER = 0,
        HUB_ID_TAX_CODE = 1,
        HUB_ID_PERSONAL_ID = 2,
        HUB_ID_OLD_ID_CARD = 3,
        HUB_ID_PASSPORT = 4,
        HUB_ID_BUSINESS_REG = 5,
        HUB_ID_PHONE = 6,
        HUB_ID_EMAIL = 7,
        HUB_ID_DOMAIN = 8,
        HUB_ID_URL = 9,
        HUB_ID_IP_ADDRESS = 10,
        HUB_ID_SHOP = 11,
        HUB_ID_BANK_ACCOUNT = 12,
        HUB_ID_E_WALLET = 13,
        HUB_ID_SOCIAL_ACCOUNT = 14,
        HUB_ID__COUNT
};

/* Rejection reasons. Stable: they reach hub.rejects and metrics by name; append, never
 * renumber. */
enum {
        HUB_IDR_NONE = 0,
        HUB_IDR_EMPTY,                 /* nothing but spaces and separators */
        HUB_IDR_TOO_LONG,              /* over the input limit of the type, or a name over 253 */
        HUB_IDR_INVALID_UTF8,          /* not UTF-8 */
        HUB_IDR_CONTROL_CHAR,          /* NUL or another control character */
        HUB_IDR_NOT_DIGITS,            /* a character that is neither a digit nor a separator */
        HUB_IDR_WRONG_LENGTH,          /* digit count fits no format of the type */
        HUB_IDR_CHECK_DIGIT,           /* tax code check digit fails, or Σ mod 11 == 0 */
        HUB_IDR_ALL_ZERO,              /* tax code digits 3-9 all zero */
        HUB_IDR_BRANCH_000,            /* 13-digit tax code with branch suffix 000 */
        HUB_IDR_PROBABLE_LOST_ZERO,    /* one digit short and a leading 0 would fit: never fixed */
        HUB_IDR_BAD_PROVINCE,          /* personal id prefix is not 0 + a 63-province code */
        HUB_IDR_BAD_CENTURY,           /* personal id century digit for a birth after 2099 */
        HUB_IDR_BIRTH_YEAR_MISMATCH,   /* personal id year differs from a given birth year */
        HUB_IDR_SEX_MISMATCH,          /* personal id sex digit differs from a given sex */
        HUB_IDR_NOT_VIETNAMESE_NUMBER, /* not a +84 number, or no such Vietnamese prefix */
        HUB_IDR_UNKNOWN_LEGACY_PREFIX, /* 11-digit 01xx mobile prefix not in the 2018 table */
        HUB_IDR_INVALID_IDNA,          /* libidn2 rejects the host, or it is not LDH after IDNA */
        HUB_IDR_LABEL_TOO_LONG,        /* a host label over 63 bytes */
        HUB_IDR_BAD_HOST,              /* empty host, empty label, '%' or a numeric top label */
        HUB_IDR_BAD_PORT,              /* a port that is not 1-65535 */
        HUB_IDR_BAD_SCHEME,            /* a URL scheme other than http or https */
        HUB_IDR_PUBLIC_SUFFIX,         /* the host is a public suffix: no registrable domain */
        HUB_IDR_PLATFORM_PAGE,         /* a marketplace URL that names no shop or account */
        HUB_IDR_UNKNOWN_PLATFORM,      /* SHOP/SOCIAL_ACCOUNT on a platform we do not know */
        HUB_IDR_BAD_HANDLE,            /* a handle with characters no platform allows */
        HUB_IDR_UNKNOWN_BANK,          /* the qualifier is no BIN or code in the bank table */
        HUB_IDR_MISSING_QUALIFIER,     /* a type that needs a qualifier (bank, platform) has none */
        HUB_IDR_NOT_AN_ADDRESS,        /* e-mail without '@', with an empty or invalid part */
        HUB_IDR_BAD_IP,                /* not an IPv4 or IPv6 address */
        HUB_IDR_UNKNOWN_TYPE,          /* a type number outside HUB_ID_* */
        HUB_IDR_UNKNOWN_TLD,           /* the top-level label is in no Public Suffix List rule */
        HUB_IDR__COUNT
};

/* Flags on an accepted identifier. */
enum {
        HUB_IDF_BRANCH = 1 << 0,        /* a 13-digit branch tax code; parent holds the 10 digits */
        HUB_IDF_RENUMBERED = 1 << 1,    /* an 11-digit mobile mapped by the 2018 renumbering */
        HUB_IDF_SHORT_LINK = 1 << 2,    /* a short link needing a network call: kept, unmergeable */
        HUB_IDF_RETYPED = 1 << 3,       /* out->type differs from the type asked for (see below) */
        HUB_IDF_LANDLINE = 1 << 4,      /* a fixed-line phone (area code 2xx) */
        HUB_IDF_SUBDOMAIN = 1 << 5,     /* host had labels above the registrable domain */
        HUB_IDF_IDN = 1 << 6,           /* the key holds an xn-- label */
        HUB_IDF_PERSONAL_MST = 1 << 7,  /* a 10-digit tax code starting with 8: an individual's */
};

#define HUB_IDENT_VALUE_MAX 256

typedef struct hub_ident {
        /* The type of the key, which is not always the type asked for (HUB_IDF_RETYPED):
         * - TAX_CODE of 12 digits is a personal id (personal tax code since 2025-07-01), so
         *   PERSONAL_ID, and so is an OLD_ID_CARD of 12 digits (12-digit cards from 2012 carry
         *   the citizen number);
         * - BUSINESS_REG that is a valid 10/13-digit tax code is TAX_CODE (the enterprise code
         *   is the tax code);
         * - URL, SHOP or SOCIAL_ACCOUNT give SHOP for a marketplace shop (Shopee, Lazada, Tiki,
         *   Sendo), SOCIAL_ACCOUNT for a TikTok, Facebook, Zalo, YouTube, Instagram or
         *   Telegram account, URL (unmergeable, HUB_IDF_SHORT_LINK) for a generic shortener
         *   such as bit.ly, DOMAIN for any other website and IP_ADDRESS for a numeric host. */
        int type;
        /* The normal form, the dedup key together with type, e.g. "0312687878",
         * "0399123457001", "001189004521", "+84912468357", "abc.com.vn", "shopee:thuha.authentic",
         * "facebook:id/1000123", "970436:0123456789", "an.nguyen@gmail.com". */
        char value[HUB_IDENT_VALUE_MAX];
        /* The whole host for DOMAIN/URL/SHOP (lower case, punycode), the decoded short link for a
         * SHOP with HUB_IDF_SHORT_LINK; else "". For display and links, never a key. */
        char host[HUB_IDENT_VALUE_MAX];
        /* A branch tax code's head office, 10 digits; else "". */
        char parent[16];
        /* On PROBABLE_LOST_ZERO, the zero-prefixed value when it would pass: a suggestion for an
         * analyst, never applied here. Else "". */
        char hint[16];
        /* True for identifiers strong enough to merge two entities (tax code, personal id, old id
         * card, passport with a country, registrable domain, shop, account, bank account).
         * False for phones, e-mails and IPs (shared by couriers, accountants, hosting: they only
         * link) and for short links (unresolved). */
        bool mergeable;
        unsigned flags;  /* HUB_IDF_* */
        int reason;      /* HUB_IDR_NONE when accepted, else why it was rejected */
} hub_ident_t;

/* Reference data for bank and e-wallet qualifiers: the NAPAS/VietQR BIN list. The hub keeps it
 * in the database; a compiled-in default (DOMAIN.md's list) serves until it does. */
typedef struct hub_bank {
        const char *bin;     /* 6 digits */
        const char *code;    /* short code, e.g. "VCB" */
        const char *aliases; /* more names, separated by '|', compared case-insensitively */
} hub_bank_t;

typedef struct hub_bank_table {
        const hub_bank_t *banks;
        size_t n;
} hub_bank_table_t;

/* The compiled-in table. Static storage, never freed. */
const hub_bank_table_t *hub_ident_default_banks(void);

/* The table used when a caller passes none (NULL table or opts): the compiled-in one until a
 * program sets another (hubd: the database's bank_bins, hub/bins.h). table is kept by
 * reference and must outlive its use; NULL restores the compiled-in table. */
void hub_ident_set_banks(const hub_bank_table_t *table);
const hub_bank_table_t *hub_ident_banks(void);

/* The bank whose BIN, code or alias equals `key` (ASCII case-insensitive, spaces and '-' ignored);
 * NULL when none. table NULL means hub_ident_banks(). */
const hub_bank_t *hub_ident_bank_find(const hub_bank_table_t *table, const char *key);

typedef struct hub_ident_opts {
        const hub_bank_table_t *banks; /* NULL: hub_ident_default_banks() */
} hub_ident_opts_t;

/* Normalise `original` (len bytes, may hold a NUL, which is rejected) reported with `type` and
 * optional `qualifier` (bank BIN or code for BANK_ACCOUNT and E_WALLET, platform for SHOP and
 * SOCIAL_ACCOUNT when the value is a bare handle, country for PASSPORT).
 * Fills *out (always cleared first). Returns 0; -HUB_E_MALFORMED with out->reason set when the
 * value is rejected; -HUB_E_INVAL for NULL arguments; -HUB_E_NOMEM; -HUB_E_CONFIG when no Public
 * Suffix List can be loaded. opts may be NULL.
 * Input limits: 2048 bytes for URL, SHOP and SOCIAL_ACCOUNT (tracking parameters are long), 256
 * for the others. Thread-safe: the PSL is loaded once (call_once). */
int hub_ident_normalize_n(const hub_ident_opts_t *opts, int type, const char *original, size_t len,
                          const char *qualifier, hub_ident_t *out, hub_err_t *err);

/* The same for a NUL-terminated value, with default options. */
int hub_ident_normalize(int type, const char *original, const char *qualifier, hub_ident_t *out,
                        hub_err_t *err);

/* "TAX_CODE" for HUB_ID_TAX_CODE (the report.avsc symbols); "UNKNOWN" outside the range. */
const char *hub_ident_type_name(int type);
/* The HUB_ID_* whose name is `name` (exact, upper case); -1 when none. */
int hub_ident_type_from_name(const char *name);

/* "CHECK_DIGIT" for HUB_IDR_CHECK_DIGIT, "NONE" for 0; "UNKNOWN" outside the range. */
const char *hub_ident_reason_name(int reason);

/* The MST check digit rule alone, for ten ASCII digits: 0 when it holds, else the reason
 * (HUB_IDR_CHECK_DIGIT or HUB_IDR_ALL_ZERO). */
int hub_ident_tax_code_check(const char digits[10]);

/* Sex as in report.avsc's Gender enum. */
enum { HUB_SEX_UNKNOWN = 0, HUB_SEX_FEMALE = 1, HUB_SEX_MALE = 2, HUB_SEX_OTHER = 3 };

typedef struct hub_personal_id_info {
        int province;   /* old 63-province code of birth registration, e.g. 1, 79 */
        int sex;        /* HUB_SEX_FEMALE or HUB_SEX_MALE */
        int birth_year; /* e.g. 1989 */
} hub_personal_id_info_t;

/* Decode a normalised 12-digit personal id (out->value of PERSONAL_ID) and check it against a
 * reported birth year and sex (0 / HUB_SEX_UNKNOWN to skip either). Returns 0, or
 * -HUB_E_MALFORMED with *reason (optional) set to BIRTH_YEAR_MISMATCH, SEX_MISMATCH, or the
 * structural reasons. info may be NULL. */
int hub_ident_personal_id_check(const char *id, int dob_year, int sex,
                                hub_personal_id_info_t *info, int *reason, hub_err_t *err);

/* Names. The stored form is NFC (hub_name_nfc); the matching key (hub_name_match_key) is:
 * NFC, Ð/ð (U+00D0/U+00F0, eth, often typed for Đ) and Đ/đ to d, combining marks stripped, case
 * folded, punctuation to space, spaces collapsed and trimmed. With organisation, legal-form
 * tokens (công ty, cty, tnhh, cp, cổ phần, jsc, tm, thương mại, xnk, xuất nhập khẩu, mtv, ...)
 * are dropped, and "chi nhánh" and everything after it (the branch's own name) when it does not
 * start the name. A key is for candidate search only: never a merge.
 * out receives a NUL-terminated string; -HUB_E_TOO_LARGE when cap is too small,
 * -HUB_E_MALFORMED for invalid UTF-8, control characters or over 1024 bytes of input. */
int hub_name_match_key(const char *name, bool organisation, char *out, size_t cap, hub_err_t *err);

/* NFC form of a name, trimmed, inner whitespace runs collapsed to one space, for storage. */
int hub_name_nfc(const char *name, char *out, size_t cap, hub_err_t *err);

#endif
