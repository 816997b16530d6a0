/* Identifiers on the network: hosts and domains, URLs, marketplace shops and accounts, e-mail
 * addresses and IP addresses.
 *
 * libidn2 does UTS #46 (mapping, lower case, punycode) and libpsl finds the registrable domain,
 * with Debian's /usr/share/publicsuffix list when present (psl_latest) and the copy built into
 * libpsl otherwise. The URL split is hand-written: agencies send scheme-less URLs
 * ("shopee.vn/abc") and Unicode hosts, and all we need is the host, the port to drop, the first
 * path segments and one query parameter; no URL library is a dependency of the project. */
#include "ident_internal.h"

#include <hub/ident.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>

#include <idn2.h>
#include <libpsl.h>
#include <utf8proc.h>

#define WHERE "hub_ident_normalize"

/* ---- Public Suffix List -------------------------------------------------------------------- */

static const psl_ctx_t *psl;
static once_flag psl_once = ONCE_FLAG_INIT;

static void psl_load(void)
{
        /* The distribution's list follows Debian's publicsuffix updates; the built-in one is
         * frozen at libpsl's build. Loaded once and never freed: it is read-only and shared. */
        psl = psl_latest(NULL);
        if (!psl)
                psl = psl_builtin();
}

static const psl_ctx_t *psl_get(void)
{
        call_once(&psl_once, psl_load);
        return psl;
}

/* ---- hosts --------------------------------------------------------------------------------- */

static bool is_ldh(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* UTS #46 ToASCII of host[0..len) into ascii[cap]: lower case, punycode, no trailing dot, every
 * label LDH and 1-63 bytes, 253 bytes at most. */
static int host_ascii(const char *host, size_t len, char *ascii, size_t cap, hub_ident_t *out,
                      hub_err_t *err)
{
        char h[1024];
        char *a = NULL;
        size_t label = 0;
        int rc;

        if (len && host[len - 1] == '.')
                len--; /* the root's dot: "abc.vn." is "abc.vn" */
        if (len == 0)
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_HOST, "host is empty");
        if (len >= sizeof(h))
                return ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG, "host is too long");
        memcpy(h, host, len);
        h[len] = '\0';
        for (size_t i = 0; i <= len; i++) {
                unsigned char c = (unsigned char)h[i];
                if (c == '.' || c == '\0') {
                        if (label == 0)
                                return ident_reject(out, err, WHERE, HUB_IDR_BAD_HOST,
                                                    "host has an empty label");
                        label = 0;
                        continue;
                }
                label++;
                if (c == '%')
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_HOST,
                                            "host is percent-encoded");
                /* libidn2 2.3 with IDN2_USE_STD3_ASCII_RULES silently deletes characters such as
                 * '_', ' ' and '/' ("a_b.vn" becomes "ab.vn", a different domain). So STD3 is not
                 * asked of libidn2: ASCII is checked here before, and the result after. */
                if (c < 0x80 && !is_ldh((char)tolower(c)))
                        return ident_reject(out, err, WHERE, HUB_IDR_INVALID_IDNA,
                                            "character '%c' is not allowed in a host name", c);
        }
        rc = idn2_to_ascii_8z(h, &a, IDN2_NONTRANSITIONAL);
        if (rc == IDN2_TOO_BIG_LABEL)
                return ident_reject(out, err, WHERE, HUB_IDR_LABEL_TOO_LONG,
                                    "a host label exceeds 63 bytes");
        if (rc == IDN2_TOO_BIG_DOMAIN)
                return ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG,
                                    "host exceeds 253 bytes");
        if (rc == IDN2_MALLOC)
                return hub_err_set(err, HUB_E_NOMEM, false, WHERE, "libidn2: out of memory");
        if (rc != IDN2_OK)
                return ident_reject(out, err, WHERE, HUB_IDR_INVALID_IDNA, "libidn2: %s",
                                    idn2_strerror_name(rc));
        rc = 0;
        label = 0;
        for (size_t i = 0;; i++) {
                char c = a[i];
                if (c == '.' || c == '\0') {
                        if (label == 0 || a[i - 1] == '-' || a[i - label] == '-')
                                rc = ident_reject(out, err, WHERE, HUB_IDR_INVALID_IDNA,
                                                  "a host label is empty or starts or ends "
                                                  "with '-'");
                        else if (label > 63)
                                rc = ident_reject(out, err, WHERE, HUB_IDR_LABEL_TOO_LONG,
                                                  "a host label exceeds 63 bytes");
                        if (rc || c == '\0')
                                break;
                        label = 0;
                        continue;
                }
                if (!is_ldh(c)) {
                        /* U+FF3F FULLWIDTH LOW LINE maps to '_', for one */
                        rc = ident_reject(out, err, WHERE, HUB_IDR_INVALID_IDNA,
                                          "host maps to a character outside letters, digits "
                                          "and '-'");
                        break;
                }
                label++;
        }
        if (rc == 0 && strlen(a) > 253)
                rc = ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG, "host exceeds 253 bytes");
        if (rc == 0 && !ident_copy(ascii, cap, a))
                rc = ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG, "host is too long");
        idn2_free(a);
        return rc;
}

/* The top label must name a TLD the Public Suffix List knows (without its "*" default rule):
 * rejects "thuha.authentic" and typos such as "abc.con.vnn" before they become keys. */
static int check_tld(const char *ascii, hub_ident_t *out, hub_err_t *err)
{
        const psl_ctx_t *p = psl_get();
        const char *tld = strrchr(ascii, '.');

        tld = tld ? tld + 1 : ascii;
        if (!p)
                return hub_err_set(err, HUB_E_CONFIG, false, WHERE,
                                   "no public suffix list could be loaded");
        if (strspn(tld, "0123456789") == strlen(tld))
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_HOST,
                                    "top-level label is numeric");
        if (!psl_is_public_suffix2(p, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
                return ident_reject(out, err, WHERE, HUB_IDR_UNKNOWN_TLD,
                                    "top-level domain \"%.63s\" is unknown", tld);
        return 0;
}

/* Host into out->host (ASCII) and its registrable domain into out->value. */
static int host_key(const char *host, size_t len, hub_ident_t *out, hub_err_t *err)
{
        const char *reg;
        int r = host_ascii(host, len, out->host, sizeof(out->host), out, err);

        if (r)
                return r;
        r = check_tld(out->host, out, err);
        if (r)
                return r;
        /* The private section counts too: "foo.blogspot.com" is foo's, not Google's. */
        reg = psl_registrable_domain(psl_get(), out->host);
        if (!reg)
                return ident_reject(out, err, WHERE, HUB_IDR_PUBLIC_SUFFIX,
                                    "host is a public suffix, with no registrable domain");
        ident_copy(out->value, sizeof(out->value), reg);
        if (reg != out->host)
                out->flags |= HUB_IDF_SUBDOMAIN;
        if (strstr(out->value, "xn--"))
                out->flags |= HUB_IDF_IDN;
        out->type = HUB_ID_DOMAIN;
        out->mergeable = true;
        return 0;
}

/* ---- IP addresses -------------------------------------------------------------------------- */

static int ip_key(const char *s, size_t len, hub_ident_t *out, hub_err_t *err)
{
        unsigned char bin[16];
        char text[64];

        if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
                s++;
                len -= 2;
        }
        if (len == 0 || len >= sizeof(text))
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_IP, "not an IP address");
        memcpy(text, s, len);
        text[len] = '\0';
        if (inet_pton(AF_INET, text, bin) == 1) {
                inet_ntop(AF_INET, bin, out->value, sizeof(out->value));
        } else if (inet_pton(AF_INET6, text, bin) == 1) {
                static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                /* ::ffff:a.b.c.d is the IPv4 address as seen by a dual-stack socket. */
                if (memcmp(bin, mapped, 12) == 0)
                        inet_ntop(AF_INET, bin + 12, out->value, sizeof(out->value));
                else
                        inet_ntop(AF_INET6, bin, out->value, sizeof(out->value));
        } else {
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_IP,
                                    "not an IPv4 or IPv6 address");
        }
        out->type = HUB_ID_IP_ADDRESS;
        out->mergeable = false; /* shared hosting, NAT, CDNs: an address links, never merges */
        return 0;
}

int ident_ip(const char *s, hub_ident_t *out, hub_err_t *err)
{
        return ip_key(s, strlen(s), out, err);
}

/* ---- domains and URLs ---------------------------------------------------------------------- */

struct url {
        const char *host;
        size_t host_len;
        const char *path; /* from the first '/' (or empty) up to '?' or '#' */
        size_t path_len;
        const char *query; /* after '?', up to '#' */
        size_t query_len;
        bool ip_literal;
};

static int url_split(const char *s, struct url *u, hub_ident_t *out, hub_err_t *err)
{
        const char *p = s, *auth, *end, *at, *colon;
        size_t n = 0;

        memset(u, 0, sizeof(*u));
        /* scheme */
        if (isalpha((unsigned char)*p)) {
                n = 1;
                while (isalnum((unsigned char)p[n]) || p[n] == '+' || p[n] == '-' || p[n] == '.')
                        n++;
        }
        if (n && strncmp(p + n, "://", 3) == 0) {
                if (!((n == 4 && strncasecmp(p, "http", 4) == 0) ||
                      (n == 5 && strncasecmp(p, "https", 5) == 0)))
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_SCHEME,
                                            "scheme \"%.*s\" is not http or https", (int)n, p);
                p += n + 3;
        } else if (n && p[n] == ':' && !isdigit((unsigned char)p[n + 1])) {
                /* "mailto:a@b.vn", "javascript:..." (a digit would be "host:port") */
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_SCHEME,
                                    "scheme \"%.*s\" is not http or https", (int)n, p);
        } else if (p[0] == '/' && p[1] == '/') {
                p += 2;
        }
        auth = p;
        end = auth + strcspn(auth, "/?#\\");
        /* user information is not part of the host */
        for (at = end; at > auth && at[-1] != '@'; at--)
                ;
        auth = at;
        if (*auth == '[') {
                const char *rb = memchr(auth, ']', (size_t)(end - auth));
                if (!rb)
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_IP,
                                            "unterminated IPv6 literal");
                u->host = auth;
                u->host_len = (size_t)(rb - auth) + 1;
                u->ip_literal = true;
                colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
                if (rb + 1 < end && !colon)
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_HOST,
                                            "text after the IPv6 literal");
        } else {
                colon = memchr(auth, ':', (size_t)(end - auth));
                u->host = auth;
                u->host_len = colon ? (size_t)(colon - auth) : (size_t)(end - auth);
        }
        if (colon && colon + 1 < end) {
                /* The port says nothing about who owns the site: checked, then dropped. */
                unsigned long port = 0;
                for (const char *q = colon + 1; q < end; q++) {
                        if (!isdigit((unsigned char)*q) || port > 65535)
                                return ident_reject(out, err, WHERE, HUB_IDR_BAD_PORT,
                                                    "port is not a number from 1 to 65535");
                        port = port * 10 + (unsigned long)(*q - '0');
                }
                if (port == 0 || port > 65535)
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_PORT,
                                            "port is not a number from 1 to 65535");
        }
        u->path = end;
        u->path_len = strcspn(end, "?#");
        if (end[u->path_len] == '?') {
                u->query = end + u->path_len + 1;
                u->query_len = strcspn(u->query, "#");
        }
        return 0;
}

/* The host of s: an IP literal, or a name through host_key. */
static int url_host(const struct url *u, hub_ident_t *out, hub_err_t *err)
{
        char tmp[64];
        unsigned char bin[16];

        if (u->ip_literal)
                return ip_key(u->host, u->host_len, out, err);
        if (u->host_len < sizeof(tmp)) {
                memcpy(tmp, u->host, u->host_len);
                tmp[u->host_len] = '\0';
                if (u->host_len && tmp[u->host_len - 1] == '.')
                        tmp[u->host_len - 1] = '\0';
                if (inet_pton(AF_INET, tmp, bin) == 1)
                        return ip_key(tmp, strlen(tmp), out, err);
        }
        return host_key(u->host, u->host_len, out, err);
}

int ident_domain(const char *s, hub_ident_t *out, hub_err_t *err)
{
        struct url u;
        int r;

        /* "any" form: a bare host, or a URL from which the host is taken. */
        r = url_split(s, &u, out, err);
        if (r)
                return r;
        return url_host(&u, out, err);
}

/* ---- marketplaces and social networks ------------------------------------------------------ */

enum { P_SHOPEE, P_LAZADA, P_TIKI, P_SENDO, P_TIKTOK, P_FACEBOOK, P_ZALO, P_YOUTUBE,
       P_INSTAGRAM, P_TELEGRAM, P_SHORTENER };

static const struct platform {
        const char *name;    /* the key's prefix */
        const char *aliases; /* qualifier spellings, '|'-separated, lower case */
        const char *domains; /* registrable domains, '|'-separated */
        const char *shorts;  /* hosts or registrable domains of short links that need a fetch */
        int kind;            /* HUB_ID_SHOP or HUB_ID_SOCIAL_ACCOUNT */
} platforms[] = {
        [P_SHOPEE] = {"shopee", "shopee|shopee.vn", "shopee.vn|shp.ee|shope.ee",
                      "s.shopee.vn|shp.ee|shope.ee", HUB_ID_SHOP},
        [P_LAZADA] = {"lazada", "lazada|lazada.vn", "lazada.vn", "s.lazada.vn|c.lazada.vn",
                      HUB_ID_SHOP},
        [P_TIKI] = {"tiki", "tiki|tiki.vn", "tiki.vn|ti.ki", "ti.ki", HUB_ID_SHOP},
        [P_SENDO] = {"sendo", "sendo|sendo.vn", "sendo.vn", "", HUB_ID_SHOP},
        [P_TIKTOK] = {"tiktok", "tiktok|tiktok shop|tiktokshop|tiktok.com", "tiktok.com",
                      "vt.tiktok.com|vm.tiktok.com", HUB_ID_SOCIAL_ACCOUNT},
        [P_FACEBOOK] = {"facebook", "facebook|fb|facebook.com",
                        "facebook.com|fb.com|fb.me|fb.watch", "fb.me|fb.watch",
                        HUB_ID_SOCIAL_ACCOUNT},
        /* Sites where every user shares the registrable domain: without a rule here the key
         * would be "zalo.me" or "bit.ly" and merge everyone on them. */
        [P_ZALO] = {"zalo", "zalo|zalo.me", "zalo.me", "", HUB_ID_SOCIAL_ACCOUNT},
        [P_YOUTUBE] = {"youtube", "youtube|youtube.com", "youtube.com|youtu.be", "youtu.be",
                       HUB_ID_SOCIAL_ACCOUNT},
        [P_INSTAGRAM] = {"instagram", "instagram|instagram.com", "instagram.com", "",
                         HUB_ID_SOCIAL_ACCOUNT},
        [P_TELEGRAM] = {"telegram", "telegram|t.me", "t.me|telegram.me", "",
                        HUB_ID_SOCIAL_ACCOUNT},
        [P_SHORTENER] = {"link", "", "bit.ly|tinyurl.com|goo.gl|t.co|rb.gy|cutt.ly|is.gd|ow.ly|"
                         "shorturl.at|tiny.cc|s.id|linktr.ee",
                         "bit.ly|tinyurl.com|goo.gl|t.co|rb.gy|cutt.ly|is.gd|ow.ly|shorturl.at|"
                         "tiny.cc|s.id|linktr.ee",
                         HUB_ID_URL},
};

static bool in_list(const char *list, const char *s, size_t len)
{
        for (const char *p = list; *p;) {
                size_t n = strcspn(p, "|");
                if (n == len && strncasecmp(p, s, n) == 0)
                        return true;
                p += n + (p[n] == '|');
        }
        return false;
}

/* Path segments, without empty ones ("//", trailing '/'). */
#define MAX_SEGS 4
struct segs {
        const char *s[MAX_SEGS];
        size_t len[MAX_SEGS];
        int n;
};

static void split_path(const char *path, size_t len, struct segs *g)
{
        size_t i = 0;

        g->n = 0;
        while (i < len && g->n < MAX_SEGS) {
                size_t j = i;
                while (j < len && path[j] != '/' && path[j] != '\\')
                        j++;
                if (j > i) {
                        g->s[g->n] = path + i;
                        g->len[g->n] = j - i;
                        g->n++;
                }
                i = j + 1;
        }
}

static bool seg_is(const struct segs *g, int i, const char *word)
{
        return i < g->n && g->len[i] == strlen(word) && strncasecmp(g->s[i], word, g->len[i]) == 0;
}

static bool all_digits(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* Write "<platform>:<prefix><handle>" into out->value. The handle is percent-decoded, must be
 * ASCII letters, digits, '.', '_' or '-' (what every platform here allows in a handle), and is
 * lower-cased: Shopee, Lazada, Tiki, Sendo, TikTok and Facebook handles are case-insensitive. */
static int put_handle(const struct platform *pf, const char *prefix, const char *h, size_t n,
                      hub_ident_t *out, hub_err_t *err)
{
        char buf[128];
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                int c = (unsigned char)h[i];
                if (c == '%' && i + 2 < n && isxdigit((unsigned char)h[i + 1]) &&
                    isxdigit((unsigned char)h[i + 2])) {
                        char hex[3] = {h[i + 1], h[i + 2], '\0'};
                        c = (int)strtol(hex, NULL, 16);
                        i += 2;
                }
                if (k == 0 && c == '@')
                        continue; /* TikTok's "@handle" */
                if (!(isalnum(c) && c < 0x80) && c != '.' && c != '_' && c != '-')
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_HANDLE,
                                            "%s handle holds a character other than letters, "
                                            "digits, '.', '_' and '-'",
                                            pf->name);
                if (k + 1 >= sizeof(buf))
                        return ident_reject(out, err, WHERE, HUB_IDR_BAD_HANDLE,
                                            "%s handle is too long", pf->name);
                buf[k++] = (char)tolower(c);
        }
        buf[k] = '\0';
        if (k == 0)
                return ident_reject(out, err, WHERE, HUB_IDR_BAD_HANDLE, "%s handle is empty",
                                    pf->name);
        snprintf(out->value, sizeof(out->value), "%s:%s%s", pf->name, prefix, buf);
        out->type = pf->kind;
        out->mergeable = true;
        return 0;
}

/* A short link stays as it is (host and case-sensitive path, no query): resolving it needs a
 * network call this pure module does not make, and two short links for one shop differ, so the
 * key never merges. */
static int put_short(const struct platform *pf, const struct url *u, hub_ident_t *out,
                     hub_err_t *err)
{
        size_t plen = u->path_len;

        while (plen && u->path[plen - 1] == '/')
                plen--;
        if ((size_t)snprintf(out->value, sizeof(out->value), "%s:short/%s%.*s", pf->name,
                             out->host, (int)plen, u->path) >= sizeof(out->value))
                return ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG, "short link too long");
        out->type = pf->kind;
        out->mergeable = false;
        out->flags |= HUB_IDF_SHORT_LINK;
        return 0;
}

/* The value of query parameter `name`, or NULL. */
static const char *query_param(const struct url *u, const char *name, size_t *len)
{
        size_t nl = strlen(name);

        for (size_t i = 0; i < u->query_len;) {
                size_t n = 0;
                while (i + n < u->query_len && u->query[i + n] != '&')
                        n++;
                if (n > nl && strncmp(u->query + i, name, nl) == 0 && u->query[i + nl] == '=') {
                        *len = n - nl - 1;
                        return u->query + i + nl + 1;
                }
                i += n + 1;
        }
        return NULL;
}

static int platform_page(const struct platform *pf, hub_ident_t *out, hub_err_t *err)
{
        return ident_reject(out, err, WHERE, HUB_IDR_PLATFORM_PAGE,
                            "%s URL names no shop or account", pf->name);
}

/* Pages of the site itself, never a shop or an account name. */
static const char shopee_pages[] = "search|cart|user|buyer|mall|m|flash_sale|daily_discover|"
                                   "universal-link|verify|checkout|login|signup|seller|"
                                   "collections";
static const char facebook_pages[] = "watch|marketplace|photo.php|story.php|permalink.php|events|"
                                     "login|login.php|home.php|hashtag|photo|photos|reel|reels|"
                                     "search|sharer|sharer.php|dialog|plugins|l.php|help|"
                                     "policies|privacy|settings|stories|gaming|business|ads|"
                                     "videos|posts";

static int shop_key(int p, const struct url *u, hub_ident_t *out, hub_err_t *err)
{
        const struct platform *pf = &platforms[p];
        struct segs g;
        const char *dot;

        split_path(u->path, u->path_len, &g);
        switch (p) {
        case P_SHOPEE:
                if ((seg_is(&g, 0, "shop") || seg_is(&g, 0, "product")) && g.n > 1 &&
                    all_digits(g.s[1], g.len[1]))
                        return put_handle(pf, "shopid/", g.s[1], g.len[1], out, err);
                if (g.n == 0 || in_list(shopee_pages, g.s[0], g.len[0]) || seg_is(&g, 0, "shop") ||
                    seg_is(&g, 0, "product"))
                        return platform_page(pf, out, err);
                /* An item page "<title>-i.<shopid>.<itemid>" names its shop by number. */
                for (const char *q = g.s[0] + g.len[0]; q - 3 > g.s[0]; q--) {
                        if (strncmp(q - 3, "-i.", 3) == 0) {
                                dot = memchr(q, '.', (size_t)(g.s[0] + g.len[0] - q));
                                if (dot && all_digits(q, (size_t)(dot - q)))
                                        return put_handle(pf, "shopid/", q, (size_t)(dot - q),
                                                          out, err);
                                break;
                        }
                }
                return put_handle(pf, "", g.s[0], g.len[0], out, err);
        case P_LAZADA:
        case P_SENDO:
                if (seg_is(&g, 0, "shop") && g.n > 1)
                        return put_handle(pf, "", g.s[1], g.len[1], out, err);
                return platform_page(pf, out, err);
        case P_TIKI:
                if (seg_is(&g, 0, "cua-hang") && g.n > 1)
                        return put_handle(pf, "", g.s[1], g.len[1], out, err);
                return platform_page(pf, out, err);
        case P_TIKTOK:
                if (seg_is(&g, 0, "t") && g.n > 1)
                        return put_short(pf, u, out, err);
                /* "@handle", or "%40handle" from a URL copied out of an address bar */
                if (g.n > 0 && ((g.len[0] > 1 && g.s[0][0] == '@') ||
                                (g.len[0] > 3 && strncmp(g.s[0], "%40", 3) == 0)))
                        return put_handle(pf, "", g.s[0], g.len[0], out, err);
                return platform_page(pf, out, err);
        case P_ZALO:
        case P_INSTAGRAM:
        case P_TELEGRAM:
                /* zalo.me/<phone or official account id>, instagram.com/<user>,
                 * t.me/<channel>: the first segment, unless it is a page of the site */
                if (g.n == 0 || in_list("p|reel|reels|explore|stories|s|joinchat|share|pc|"
                                        "accounts|about",
                                        g.s[0], g.len[0]))
                        return platform_page(pf, out, err);
                return put_handle(pf, "", g.s[0], g.len[0], out, err);
        case P_YOUTUBE:
                if (g.n > 0 && ((g.len[0] > 1 && g.s[0][0] == '@') ||
                                (g.len[0] > 3 && strncmp(g.s[0], "%40", 3) == 0)))
                        return put_handle(pf, "", g.s[0], g.len[0], out, err);
                return platform_page(pf, out, err);
        case P_SHORTENER:
                return put_short(pf, u, out, err);
        default: /* P_FACEBOOK */
                if (seg_is(&g, 0, "share") && g.n > 1)
                        return put_short(pf, u, out, err);
                if (seg_is(&g, 0, "profile.php")) {
                        size_t n;
                        const char *id = query_param(u, "id", &n);
                        if (id && all_digits(id, n))
                                return put_handle(pf, "id/", id, n, out, err);
                        return platform_page(pf, out, err);
                }
                if (seg_is(&g, 0, "groups") && g.n > 1)
                        return all_digits(g.s[1], g.len[1])
                                       ? put_handle(pf, "groups/id/", g.s[1], g.len[1], out, err)
                                       : put_handle(pf, "groups/", g.s[1], g.len[1], out, err);
                /* pages/<name>/<id> and people/<name>/<id>: the number is the account */
                if ((seg_is(&g, 0, "pages") || seg_is(&g, 0, "people")) && g.n > 2 &&
                    all_digits(g.s[2], g.len[2]))
                        return put_handle(pf, "id/", g.s[2], g.len[2], out, err);
                if (g.n == 0 || seg_is(&g, 0, "pages") || seg_is(&g, 0, "people") ||
                    seg_is(&g, 0, "groups") || in_list(facebook_pages, g.s[0], g.len[0]))
                        return platform_page(pf, out, err);
                if (all_digits(g.s[0], g.len[0]))
                        return put_handle(pf, "id/", g.s[0], g.len[0], out, err);
                return put_handle(pf, "", g.s[0], g.len[0], out, err);
        }
}

static int platform_of_domain(const char *reg)
{
        for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++)
                if (in_list(platforms[i].domains, reg, strlen(reg)))
                        return (int)i;
        return -1;
}

int ident_url(int type, const char *s, const char *qualifier, hub_ident_t *out, hub_err_t *err)
{
        struct url u;
        int p, r;

        if ((type == HUB_ID_SHOP || type == HUB_ID_SOCIAL_ACCOUNT) && !strstr(s, "://") &&
            !strchr(s, '/')) {
                /* A bare handle: the qualifier names the platform. */
                if (!qualifier || !*qualifier)
                        return ident_reject(out, err, WHERE, HUB_IDR_MISSING_QUALIFIER,
                                            "a handle without a URL needs the platform as "
                                            "qualifier");
                for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++)
                        if (in_list(platforms[i].aliases, qualifier, strlen(qualifier)))
                                return put_handle(&platforms[i], "", s, strlen(s), out, err);
                return ident_reject(out, err, WHERE, HUB_IDR_UNKNOWN_PLATFORM,
                                    "platform \"%.40s\" is unknown", qualifier);
        }
        r = url_split(s, &u, out, err);
        if (r == 0)
                r = url_host(&u, out, err);
        if (r || out->type == HUB_ID_IP_ADDRESS)
                return r;
        p = platform_of_domain(out->value);
        if (p < 0)
                return 0; /* any other site: its registrable domain, as a DOMAIN key */
        out->flags &= ~(unsigned)(HUB_IDF_SUBDOMAIN | HUB_IDF_IDN);
        if (in_list(platforms[p].shorts, out->host, strlen(out->host)) ||
            in_list(platforms[p].shorts, out->value, strlen(out->value)))
                return put_short(&platforms[p], &u, out, err);
        /* Sellers' centres and the TikTok Shop storefront carry no handle in the path. */
        if (strncmp(out->host, "shop.", 5) == 0 || strncmp(out->host, "seller", 6) == 0 ||
            strncmp(out->host, "banhang.", 8) == 0)
                return platform_page(&platforms[p], out, err);
        return shop_key(p, &u, out, err);
}

/* ---- e-mail -------------------------------------------------------------------------------- */

static utf8proc_int32_t lower_cp(utf8proc_int32_t c, void *data)
{
        (void)data;
        return utf8proc_tolower(c);
}

/* Local part rule: lower-cased, nothing else. RFC 5321 lets a server treat the local part
 * case-sensitively, but no provider in use does, and agencies copy addresses from forms in any
 * case; dots and "+tags" are kept, because only some providers ignore them and dropping them
 * elsewhere would merge two mailboxes. Quoted local parts are not accepted: no provider issues
 * them. E-mail links entities but never merges them (an accountant's address is on many firms). */
int ident_email(const char *s, hub_ident_t *out, hub_err_t *err)
{
        const char *at, *local;
        size_t llen;
        utf8proc_uint8_t *low = NULL;
        char dom[256];
        int r;

        if (strncasecmp(s, "mailto:", 7) == 0)
                s += 7;
        at = strrchr(s, '@');
        if (!at || at == s || !at[1])
                return ident_reject(out, err, WHERE, HUB_IDR_NOT_AN_ADDRESS,
                                    "no local part, '@' and domain");
        local = s;
        llen = (size_t)(at - s);
        if (llen > 64)
                return ident_reject(out, err, WHERE, HUB_IDR_NOT_AN_ADDRESS,
                                    "local part exceeds 64 bytes");
        for (size_t i = 0; i < llen; i++) {
                unsigned char c = (unsigned char)local[i];
                if (c >= 0x80 || isalnum(c))
                        continue;
                if (c == '.' && i > 0 && i + 1 < llen && local[i + 1] != '.')
                        continue;
                if (c != '.' && strchr("!#$%&'*+-/=?^_`{|}~", c))
                        continue;
                return ident_reject(out, err, WHERE, HUB_IDR_NOT_AN_ADDRESS,
                                    "local part holds '%c' or a misplaced '.'", c);
        }
        if (strchr(at + 1, '[') || strchr(at + 1, ':'))
                return ident_reject(out, err, WHERE, HUB_IDR_NOT_AN_ADDRESS,
                                    "address literal or port in the domain");
        r = host_ascii(at + 1, strlen(at + 1), dom, sizeof(dom), out, err);
        if (r)
                return r;
        if (!strchr(dom, '.'))
                return ident_reject(out, err, WHERE, HUB_IDR_NOT_AN_ADDRESS,
                                    "domain has a single label");
        r = check_tld(dom, out, err);
        if (r)
                return r;
        {
                char lp[65];
                memcpy(lp, local, llen);
                lp[llen] = '\0';
                if (utf8proc_map_custom((const utf8proc_uint8_t *)lp, 0, &low,
                                        UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE,
                                        lower_cp, NULL) < 0)
                        return ident_reject(out, err, WHERE, HUB_IDR_INVALID_UTF8,
                                            "local part is not valid UTF-8");
        }
        if ((size_t)snprintf(out->value, sizeof(out->value), "%s@%s", (const char *)low, dom) >=
            sizeof(out->value))
                r = ident_reject(out, err, WHERE, HUB_IDR_TOO_LONG, "address too long");
        free(low);
        if (r)
                return r;
        ident_copy(out->host, sizeof(out->host), dom);
        out->type = HUB_ID_EMAIL;
        out->mergeable = false;
        return 0;
}
