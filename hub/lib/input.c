#include <hub/ident.h>
#include <hub/input.h>

#include <ctype.h>
#include <string.h>

static bool add(int *types, size_t cap, size_t *n, int type)
{
        if (*n < cap)
                types[(*n)++] = type;
        return true;
}

size_t hub_input_guess_ident_types(const char *text, int *types, size_t cap)
{
        size_t n = 0;
        if (!text || !types)
                return 0;
        while (*text == ' ' || *text == '\t')
                text++;
        size_t len = strlen(text);
        while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
                len--;
        if (!len)
                return 0;
        const char *at = memchr(text, '@', len);
        const char *slash = memchr(text, '/', len);
        bool scheme = false;
        for (size_t i = 0; i + 2 < len && (isalnum((unsigned char)text[i]) || text[i] == '+' ||
                                           text[i] == '.' || text[i] == '-');
             i++)
                if (text[i + 1] == ':' && text[i + 2] == '/') {
                        scheme = true;
                        break;
                }
        if (at && at > text && at + 1 < text + len && (!slash || slash > at) && !scheme) {
                add(types, cap, &n, HUB_ID_EMAIL);
                return n;
        }
        if (scheme || (slash && slash > text)) {
                add(types, cap, &n, HUB_ID_URL);
                return n;
        }
        /* Digits with the separators people type inside numbers: spaces, dots, dashes,
         * parentheses. A leading '+' marks an international phone number. */
        size_t ndig = 0, nother = 0;
        bool plus = text[0] == '+', letters = false, dot = false, space = false;
        char first_digit = 0;
        for (size_t i = plus ? 1 : 0; i < len; i++) {
                unsigned char c = (unsigned char)text[i];
                if (isdigit(c)) {
                        if (!ndig++)
                                first_digit = (char)c;
                } else if (c == '.') {
                        dot = true;
                } else if (c == ' ' || c == '-' || c == '(' || c == ')') {
                        space = space || c == ' ';
                } else {
                        nother++;
                        letters = letters || isalpha(c) || c >= 0x80;
                }
        }
        if (nother == 0 && ndig > 0) {
                if (plus || (ndig == 11 && strncmp(text, "84", 2) == 0)) {
                        add(types, cap, &n, HUB_ID_PHONE);
                } else if (ndig == 10) {
                        add(types, cap, &n, HUB_ID_TAX_CODE);
                        add(types, cap, &n, HUB_ID_PHONE);
                } else if (ndig == 13) {
                        add(types, cap, &n, HUB_ID_TAX_CODE);
                } else if (ndig == 12) {
                        add(types, cap, &n, HUB_ID_PERSONAL_ID);
                } else if (ndig == 9) {
                        add(types, cap, &n, HUB_ID_OLD_ID_CARD);
                } else if (ndig == 11 && first_digit == '0') {
                        add(types, cap, &n, HUB_ID_PHONE);
                }
                return n;
        }
        if (letters && dot && !space && text[0] != '.' && text[len - 1] != '.')
                add(types, cap, &n, HUB_ID_DOMAIN);
        return n;
}

int hub_input_parse_entity_id(const char *text, int64_t *id, hub_err_t *err)
{
        const char *p = text;
        if (!p || !id)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "text and id are required");
        if (*p == 'E' || *p == 'e')
                p++;
        int64_t v = 0;
        size_t n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
                int d = *p - '0';
                if (v > (INT64_MAX - d) / 10)
                        return hub_err_set(err, HUB_E_MALFORMED, false, "input",
                                           "invalid entity id \"%.40s\": too large", text);
                v = v * 10 + d;
        }
        if (*p || n == 0 || v == 0)
                return hub_err_set(err, HUB_E_MALFORMED, false, "input",
                                   "invalid entity id \"%.40s\": expected E followed by a "
                                   "positive number, such as E42", text);
        *id = v;
        return 0;
}

bool hub_input_agency_code_ok(const char *code)
{
        if (!code || !code[0] || code[0] == '-')
                return false;
        size_t n = 0;
        for (const char *p = code; *p; p++, n++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return false;
        return n <= 64;
}

bool hub_input_key_id_ok(const char *key_id)
{
        if (!key_id || !key_id[0])
                return false;
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)key_id; *p; p++, n++)
                if (*p < 0x21 || *p > 0x7e)
                        return false;
        return n <= 64;
}
