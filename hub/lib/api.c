/* The HTTP API's pure parts: routing, error bodies, tokens, the access log's leaf. See
 * hub/api.h. Routing is hand-written: libmicrohttpd hands over the decoded path and the query
 * parameters and has no router, and seven fixed routes do not justify a dependency. */
#include "wire.h"

#include <hub/api.h>
#include <hub/input.h>
#include <hub/mlog.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *hub_api_status_code(int status)
{
        switch (status) {
        case 400: return "BAD_REQUEST";
        case 401: return "UNAUTHORIZED";
        case 403: return "FORBIDDEN";
        case 404: return "NOT_FOUND";
        case 405: return "METHOD_NOT_ALLOWED";
        case 413: return "TOO_LARGE";
        case 503: return "UNAVAILABLE";
        default: return "INTERNAL";
        }
}

static int refuse(hub_api_route_t *r, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int refuse(hub_api_route_t *r, int status, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
        r->status = status;
        r->code = hub_api_status_code(status);
        return status;
}

/* The value of parameter `key`; *dup set when it is given twice (ambiguous: refused). */
static const char *arg(const hub_api_arg_t *args, size_t n, const char *key, bool *dup)
{
        const char *v = NULL;
        bool seen = false;
        for (size_t i = 0; i < n; i++) {
                if (!args[i].key || strcmp(args[i].key, key) != 0)
                        continue;
                if (seen)
                        *dup = true;
                seen = true;
                v = args[i].value ? args[i].value : "";
        }
        return v;
}

/* Only the parameters in `allowed` (NULL-terminated) may appear: a typo must not silently
 * widen a search. */
static int only(hub_api_route_t *r, const hub_api_arg_t *args, size_t n,
                const char *const *allowed)
{
        for (size_t i = 0; i < n; i++) {
                bool ok = false;
                for (const char *const *a = allowed; *a && !ok; a++)
                        ok = args[i].key && strcmp(args[i].key, *a) == 0;
                if (!ok)
                        return refuse(r, 400, "unknown query parameter \"%.40s\"",
                                      args[i].key ? args[i].key : "");
                bool dup = false;
                arg(args, n, args[i].key, &dup);
                if (dup)
                        return refuse(r, 400, "query parameter \"%.40s\" given twice",
                                      args[i].key);
        }
        return 0;
}

/* A decimal number in [min, max], no sign, no spaces. */
static bool number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
        if (!s || !*s || strlen(s) > 19)
                return false;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (v < min || v > max)
                return false;
        *out = v;
        return true;
}

static int need_number(hub_api_route_t *r, const hub_api_arg_t *args, size_t n, const char *key,
                       uint64_t min, uint64_t *out)
{
        bool dup = false;
        const char *v = arg(args, n, key, &dup);
        if (!v)
                return refuse(r, 400, "query parameter \"%s\" is required", key);
        if (!number(v, min, (uint64_t)INT64_MAX, out))
                return refuse(r, 400, "query parameter \"%s\" must be a whole number >= %" PRIu64,
                              key, min);
        return 0;
}

/* Path segments: "/v1/entities/E42/provenance" -> "v1", "entities", "E42", "provenance".
 * Empty segments ("//", a trailing "/") are refused by the caller: one resource, one path. */
#define MAX_SEG 8

static size_t split(const char *path, const char **seg, size_t *len, bool *empty)
{
        size_t n = 0;
        const char *p = path;
        *empty = false;
        if (*p != '/') {
                *empty = true;
                return 0;
        }
        while (*p == '/') {
                p++;
                const char *e = strchr(p, '/');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (l == 0)
                        *empty = true;
                if (n < MAX_SEG) {
                        seg[n] = p;
                        len[n] = l;
                }
                n++;
                p += l;
        }
        return n;
}

static bool is(const char *seg, size_t len, const char *lit)
{
        return strlen(lit) == len && memcmp(seg, lit, len) == 0;
}

int hub_api_route(const char *method, const char *path, const hub_api_arg_t *args, size_t n,
                  hub_api_route_t *out)
{
        memset(out, 0, sizeof(*out));
        if (!method || !path)
                return refuse(out, 400, "request without a method or a path");
        const char *seg[MAX_SEG];
        size_t len[MAX_SEG];
        bool empty;
        size_t ns = split(path, seg, len, &empty);
        if (empty || ns < 2 || ns > MAX_SEG || !is(seg[0], len[0], "v1"))
                return refuse(out, 404, "no such resource: the API's paths start with /v1/ (see "
                                        "openapi.yaml)");
        if (n > HUB_API_MAX_ARGS)
                return refuse(out, 400, "too many query parameters (at most %d)",
                              HUB_API_MAX_ARGS);
        int ep = 0;
        if (is(seg[1], len[1], "entities") && ns == 2) {
                ep = HUB_API_SEARCH;
        } else if (is(seg[1], len[1], "entities") && (ns == 3 || ns == 4)) {
                if (ns == 4 && !is(seg[3], len[3], "provenance"))
                        return refuse(out, 404, "no such resource under /v1/entities/{id}");
                ep = ns == 3 ? HUB_API_ENTITY : HUB_API_PROVENANCE;
        } else if (is(seg[1], len[1], "records") && ns >= 5 &&
                   is(seg[ns - 1], len[ns - 1], "evidence")) {
                ep = HUB_API_EVIDENCE;
        } else if (is(seg[1], len[1], "log") && ns == 3) {
                if (is(seg[2], len[2], "head"))
                        ep = HUB_API_LOG_HEAD;
                else if (is(seg[2], len[2], "inclusion"))
                        ep = HUB_API_LOG_INCLUSION;
                else if (is(seg[2], len[2], "consistency"))
                        ep = HUB_API_LOG_CONSISTENCY;
        }
        if (!ep)
                return refuse(out, 404, "no such resource (see openapi.yaml for the API's paths)");
        /* The resource exists: now the method. Only reads: the API changes nothing. */
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return refuse(out, 405, "method %.16s not allowed: the API only answers GET",
                              method);
        out->endpoint = ep;
        int rc = 0;
        switch (ep) {
        case HUB_API_SEARCH: {
                static const char *const allowed[] = {"identifier", "type", "name", NULL};
                if ((rc = only(out, args, n, allowed)))
                        return rc;
                bool dup = false;
                out->identifier = arg(args, n, "identifier", &dup);
                out->type = arg(args, n, "type", &dup);
                out->name = arg(args, n, "name", &dup);
                if (!out->identifier == !out->name)
                        return refuse(out, 400, "give exactly one of the query parameters "
                                                "\"identifier\" and \"name\"");
                if (out->type && !out->identifier)
                        return refuse(out, 400, "\"type\" goes with \"identifier\"");
                const char *v = out->identifier ? out->identifier : out->name;
                if (!*v || strlen(v) > 256)
                        return refuse(out, 400, "the %s must be 1 to 256 bytes",
                                      out->identifier ? "identifier" : "name");
                if (out->type && (!*out->type || strlen(out->type) > 31))
                        return refuse(out, 400, "invalid identifier type");
                break;
        }
        case HUB_API_ENTITY:
        case HUB_API_PROVENANCE: {
                static const char *const allowed[] = {NULL};
                char id[32];
                if (len[2] >= sizeof(id) ||
                    (snprintf(id, sizeof(id), "%.*s", (int)len[2], seg[2]),
                     hub_input_parse_entity_id(id, &out->entity_id, NULL) != 0))
                        return refuse(out, 400, "invalid entity id: expected E followed by a "
                                                "positive number, such as E42");
                if ((rc = only(out, args, n, allowed)))
                        return rc;
                break;
        }
        case HUB_API_EVIDENCE: {
                static const char *const allowed[] = {NULL};
                if (len[2] >= sizeof(out->agency))
                        return refuse(out, 400, "invalid agency code");
                snprintf(out->agency, sizeof(out->agency), "%.*s", (int)len[2], seg[2]);
                if (!hub_input_agency_code_ok(out->agency))
                        return refuse(out, 400, "invalid agency code");
                /* The record id is everything between the agency and "/evidence": ids may
                 * hold '/', which the path then carries percent-encoded or as is. */
                const char *from = seg[3], *to = seg[ns - 1] - 1;
                size_t l = (size_t)(to - from);
                if (l == 0 || l >= sizeof(out->record_id) || memchr(from, '\0', l))
                        return refuse(out, 400, "invalid record id: 1 to 255 bytes");
                memcpy(out->record_id, from, l);
                out->record_id[l] = '\0';
                if ((rc = only(out, args, n, allowed)))
                        return rc;
                break;
        }
        case HUB_API_LOG_HEAD: {
                static const char *const allowed[] = {NULL};
                if ((rc = only(out, args, n, allowed)))
                        return rc;
                break;
        }
        case HUB_API_LOG_INCLUSION: {
                static const char *const allowed[] = {"leaf", "size", NULL};
                if ((rc = only(out, args, n, allowed)) ||
                    (rc = need_number(out, args, n, "leaf", 0, &out->a)) ||
                    (rc = need_number(out, args, n, "size", 1, &out->b)))
                        return rc;
                if (out->a >= out->b)
                        return refuse(out, 400, "leaf must be smaller than size");
                break;
        }
        case HUB_API_LOG_CONSISTENCY: {
                static const char *const allowed[] = {"from", "to", NULL};
                if ((rc = only(out, args, n, allowed)) ||
                    (rc = need_number(out, args, n, "from", 1, &out->a)) ||
                    (rc = need_number(out, args, n, "to", 1, &out->b)))
                        return rc;
                if (out->a > out->b)
                        return refuse(out, 400, "from must not be larger than to");
                break;
        }
        }
        return 0;
}

char *hub_api_error_body(const char *code, const char *message)
{
        /* json_stringn would refuse invalid UTF-8; the message may quote hostile input. */
        char clean[512];
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)(message ? message : "");
             *p && o + 1 < sizeof(clean); p++)
                clean[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
        clean[o] = '\0';
        json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", code ? code : "INTERNAL",
                              "message", clean);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        return s;
}

void hub_api_token_new(char *out, size_t cap)
{
        uint8_t raw[32];
        randombytes_buf(raw, sizeof(raw));
        char hex[65];
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        snprintf(out, cap, "%s%s", HUB_API_TOKEN_PREFIX, hex);
        sodium_memzero(raw, sizeof(raw));
        sodium_memzero(hex, sizeof(hex));
}

void hub_api_token_hash(const char *token, size_t len, uint8_t out[32])
{
        crypto_hash_sha256(out, (const unsigned char *)token, len);
}

bool hub_api_bearer(const char *value, const char **token, size_t *len)
{
        if (!value || strncasecmp(value, "Bearer", 6) != 0 || value[6] != ' ')
                return false;
        const char *t = value + 6;
        while (*t == ' ')
                t++;
        size_t l = strlen(t);
        while (l && t[l - 1] == ' ')
                l--;
        if (!l || memchr(t, ' ', l))
                return false;
        *token = t;
        *len = l;
        return true;
}

int hub_api_access_leaf(const hub_api_access_t *a, uint8_t **out, size_t *len, hub_err_t *err)
{
        const char *s[3] = {a->who, a->method, a->path};
        for (int i = 0; i < 3; i++)
                if (!s[i] || strlen(s[i]) > 65535)
                        return hub_err_set(err, HUB_E_INVAL, false, "api",
                                           "bad access-log leaf fields");
        wbuf_t b = {0};
        wb_u64be(&b, (uint64_t)a->id);
        wb_str(&b, a->who);
        wb_str(&b, a->method);
        wb_str(&b, a->path);
        if (a->entity_id) {
                wb_u8(&b, 1);
                wb_u64be(&b, (uint64_t)a->entity_id);
        } else {
                wb_u8(&b, 0);
        }
        wb_u32be(&b, (uint32_t)a->status);
        wb_u64be(&b, (uint64_t)a->at_us);
        if (b.failed) {
                free(b.p);
                return hub_err_set(err, HUB_E_NOMEM, false, "api", "out of memory");
        }
        int rc = hub_mlog_leaf(HUB_MLOG_ACCESS, b.p, b.n, out, len, err);
        free(b.p);
        return rc;
}

void hub_api_log_path(const char *raw, size_t len, char *out, size_t cap)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        if (!cap)
                return;
        size_t limit = cap - 1 < HUB_API_MAX_LOG_PATH ? cap - 1 : HUB_API_MAX_LOG_PATH;
        if (limit < 8) {
                out[0] = '\0';
                return;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)raw[i];
                size_t need = c > 0x20 && c < 0x7f ? 1 : 3;
                if (o + need + 3 > limit) {
                        memcpy(out + o, "...", 3);
                        o += 3;
                        break;
                }
                if (need == 1) {
                        out[o++] = (char)c;
                } else {
                        out[o++] = '%';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        out[o] = '\0';
}
