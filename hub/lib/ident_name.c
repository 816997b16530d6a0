/* Names: the stored NFC form and the matching key for candidate search.
 *
 * utf8proc does the Unicode work (NFC/NFKC, mark stripping, case folding). By hand: the
 * Vietnamese Đ, which is a letter of its own and no base letter plus a mark, so mark stripping
 * leaves it alone and the key would keep "đ" while unaccented spellings have "d"; and its
 * look-alike Ð (U+00D0, the Icelandic eth) that some keyboards and fonts produce. And the legal
 * forms of organisations, which are Vietnamese abbreviations no library lists. */
#include "ident_internal.h"

#include <hub/ident.h>

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define NAME_LIMIT 1024
#define MAX_TOKENS 256

static int check_name(const char *name, const char *where, hub_err_t *err)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)name;
        size_t len;

        if (!name)
                return hub_err_set(err, HUB_E_INVAL, false, where, "name is NULL");
        len = strlen(name);
        if (len > NAME_LIMIT)
                return hub_err_set(err, HUB_E_MALFORMED, false, where,
                                   "TOO_LONG: name of %zu bytes exceeds %d", len, NAME_LIMIT);
        for (size_t i = 0; i < len;) {
                utf8proc_int32_t c;
                utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
                if (n < 0)
                        return hub_err_set(err, HUB_E_MALFORMED, false, where,
                                           "INVALID_UTF8: invalid UTF-8 at byte %zu", i);
                if ((c < 0x20 && c != '\t') || (c >= 0x7F && c <= 0x9F))
                        return hub_err_set(err, HUB_E_MALFORMED, false, where,
                                           "CONTROL_CHAR: control character at byte %zu", i);
                i += (size_t)n;
        }
        return 0;
}

static bool is_sep(utf8proc_int32_t c)
{
        utf8proc_category_t cat = utf8proc_category(c);

        /* Letters, digits and marks make words; spaces, punctuation and symbols separate them
         * ("Nguyễn T. Thu Hà", "Hoàng Long - Chi nhánh", "A&B"). */
        return !(cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO);
}

/* Copy s into out[cap], whitespace and (with punct) punctuation runs as one space, trimmed. */
static int collapse(const char *s, bool punct, char *out, size_t cap, const char *where,
                    hub_err_t *err)
{
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
        size_t k = 0;
        bool space = false;

        while (*p) {
                utf8proc_int32_t c;
                utf8proc_ssize_t n = utf8proc_iterate(p, -1, &c);
                if (n < 0)
                        return hub_err_set(err, HUB_E_MALFORMED, false, where,
                                           "INVALID_UTF8: invalid UTF-8");
                if (punct ? is_sep(c) : utf8proc_category(c) == UTF8PROC_CATEGORY_ZS || c == '\t') {
                        space = k > 0;
                } else if (!(c >= 0x200B && c <= 0x200D) && c != 0x2060 && c != 0xFEFF) {
                        if (k + (space ? 1 : 0) + (size_t)n >= cap)
                                return hub_err_set(err, HUB_E_TOO_LARGE, false, where,
                                                   "output buffer of %zu bytes is too small",
                                                   cap);
                        if (space)
                                out[k++] = ' ';
                        space = false;
                        memcpy(out + k, p, (size_t)n);
                        k += (size_t)n;
                }
                p += n;
        }
        if (cap == 0)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, where, "output buffer is empty");
        out[k] = '\0';
        return 0;
}

int hub_name_nfc(const char *name, char *out, size_t cap, hub_err_t *err)
{
        utf8proc_uint8_t *nfc = NULL;
        int r = check_name(name, __func__, err);

        if (r)
                return r;
        if (!out)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "out is NULL");
        if (utf8proc_map((const utf8proc_uint8_t *)name, 0, &nfc,
                         UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE) < 0)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "utf8proc_map failed");
        r = collapse((const char *)nfc, false, out, cap, __func__, err);
        free(nfc);
        return r;
}

/* Applied by utf8proc to each code point before decomposition. */
static utf8proc_int32_t fold_d(utf8proc_int32_t c, void *data)
{
        (void)data;
        switch (c) {
        case 0x00D0: /* Ð eth, typed for Đ */
        case 0x00F0: /* ð */
        case 0x0110: /* Đ */
        case 0x0111: /* đ */
        case 0x0189: /* Ɖ African D, the same glyph as Đ */
        case 0x0256: /* ɖ */
                return 'd';
        default:
                return c;
        }
}

struct tok {
        const char *s;
        size_t n;
};

static bool tok_is(const struct tok *t, const char *w)
{
        return t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

/* Legal forms and their spelled-out forms, as folded words. "co" alone is a Vietnamese word
 * (cô, cỏ, có): only "co ltd" goes. TM and XNK are business lines rather than legal forms, but
 * DOMAIN.md lists them as noise, so their spelled-out forms go too, or "Cty TNHH TM X" and
 * "Công ty TNHH Thương mại X" would keep different keys. */
static const char *const legal_forms[] = {
        "cong ty", "cty", "tnhh", "trach nhiem huu han", "mtv", "mot thanh vien", "cp",
        "co phan", "jsc", "joint stock company", "joint stock", "tm", "thuong mai", "xnk",
        "xuat nhap khau", "import export", "trading", "co ltd", "company limited", "company",
        "ltd", "limited", "corp", "corporation", "dntn", "doanh nghiep tu nhan", "hkd",
        "ho kinh doanh", "chi nhanh",
};

/* How many tokens from t[i] a legal form covers; 0 when none. */
static int legal_at(const struct tok *t, int i, int n)
{
        for (size_t f = 0; f < sizeof(legal_forms) / sizeof(legal_forms[0]); f++) {
                const char *w = legal_forms[f];
                int k = 0;
                while (*w && i + k < n) {
                        size_t wl = strcspn(w, " ");
                        if (t[i + k].n != wl || memcmp(t[i + k].s, w, wl) != 0)
                                break;
                        k++;
                        w += wl;
                        if (*w == ' ')
                                w++;
                }
                if (!*w)
                        return k;
        }
        return 0;
}

int hub_name_match_key(const char *name, bool organisation, char *out, size_t cap, hub_err_t *err)
{
        utf8proc_uint8_t *folded = NULL;
        char *flat = NULL;
        struct tok t[MAX_TOKENS];
        int n = 0, r;
        size_t k = 0;

        r = check_name(name, __func__, err);
        if (r)
                return r;
        if (!out || cap == 0)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "out is NULL or empty");
        /* NFKC with marks stripped and case folded, in one pass: compatibility forms
         * (full-width letters) read as letters, old and new tone placement (Hoà/Hòa) and NFD
         * input meet once the marks are gone. */
        if (utf8proc_map_custom((const utf8proc_uint8_t *)name, 0, &folded,
                                UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                        UTF8PROC_COMPAT | UTF8PROC_STRIPMARK |
                                        UTF8PROC_CASEFOLD,
                                fold_d, NULL) < 0)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "utf8proc_map failed");
        flat = malloc(strlen((const char *)folded) + 1);
        if (!flat) {
                r = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                goto out;
        }
        r = collapse((const char *)folded, true, flat, strlen((const char *)folded) + 1, __func__,
                     err);
        if (r)
                goto out;
        for (char *p = flat; *p && n < MAX_TOKENS;) {
                size_t len = strcspn(p, " ");
                t[n].s = p;
                t[n].n = len;
                n++;
                p += len;
                p += *p == ' ';
        }
        out[0] = '\0';
        for (int i = 0; i < n; i++) {
                if (organisation) {
                        int m = legal_at(t, i, n);
                        if (m == 2 && tok_is(&t[i], "chi") && i > 0 && k > 0)
                                break; /* "X - Chi nhánh Hà Nội": the rest names the branch */
                        if (m) {
                                i += m - 1;
                                continue;
                        }
                        /* "Chi nhánh Công ty X tại Hà Nội": the same, after "tại" */
                        if (tok_is(&t[i], "tai") && n > 1 && tok_is(&t[0], "chi") &&
                            tok_is(&t[1], "nhanh") && k > 0)
                                break;
                }
                if (k + (k ? 1 : 0) + t[i].n >= cap) {
                        r = hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                        "output buffer of %zu bytes is too small", cap);
                        goto out;
                }
                if (k)
                        out[k++] = ' ';
                memcpy(out + k, t[i].s, t[i].n);
                k += t[i].n;
                out[k] = '\0';
        }
        if (organisation && k == 0 && n > 0) {
                /* Nothing but legal forms ("Công ty TNHH"): the plain key says more than "". */
                free(flat);
                flat = NULL;
                free(folded);
                return hub_name_match_key(name, false, out, cap, err);
        }
out:
        free(flat);
        free(folded);
        return r;
}
