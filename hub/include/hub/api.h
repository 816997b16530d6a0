/* The HTTP query API (hub-api, hub/api/): the pure parts, no database, no sockets. Routing and
 * parsing of a request (what the fuzz harness drives), the error body, API tokens, and the
 * access log's leaf (kind 6 of the hub's log, schemas/README.md). hub/api/openapi.yaml
 * documents the endpoints. */
#ifndef HUB_API_H
#define HUB_API_H

#include <hub/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of a request, checked before anything else reads it. */
#define HUB_API_MAX_URL 4096     /* path and query string, in bytes */
#define HUB_API_MAX_HEADERS 8192 /* all header names and values, in bytes */
#define HUB_API_MAX_ARGS 16      /* query parameters */
#define HUB_API_MAX_LOG_PATH 1024 /* bytes of the path kept in the access log */

enum hub_api_endpoint {
        HUB_API_SEARCH = 1,      /* GET /v1/entities?identifier=..[&type=..] | ?name=.. */
        HUB_API_ENTITY,          /* GET /v1/entities/{id} */
        HUB_API_PROVENANCE,      /* GET /v1/entities/{id}/provenance */
        HUB_API_EVIDENCE,        /* GET /v1/records/{agency}/{record_id}/evidence */
        HUB_API_LOG_HEAD,        /* GET /v1/log/head */
        HUB_API_LOG_INCLUSION,   /* GET /v1/log/inclusion?leaf=..&size=.. */
        HUB_API_LOG_CONSISTENCY, /* GET /v1/log/consistency?from=..&to=.. */
};

/* One query parameter as received (percent-decoded, NUL-terminated); value may be NULL for
 * "?flag" without "=". */
typedef struct hub_api_arg {
        const char *key;
        const char *value;
} hub_api_arg_t;

typedef struct hub_api_route {
        int endpoint;
        int64_t entity_id;       /* ENTITY, PROVENANCE */
        char agency[65];         /* EVIDENCE */
        char record_id[256];     /* EVIDENCE */
        const char *identifier;  /* SEARCH: points into the args */
        const char *type;        /* SEARCH: NULL when not given */
        const char *name;        /* SEARCH */
        uint64_t a, b;           /* INCLUSION: leaf, size; CONSISTENCY: from, to */
        /* When refused: the HTTP status, a stable code and a message for people. */
        int status;
        const char *code;
        char message[200];
} hub_api_route_t;

/* Route one request: method and path as received (path without the query string, already
 * percent-decoded, not NUL-safe data: both NUL-terminated) and its n query parameters. 0 when
 * it names an endpoint with valid parameters (*out filled); otherwise the HTTP status (400,
 * 404, 405) with out->code and out->message set. Never reads beyond the strings given. */
int hub_api_route(const char *method, const char *path, const hub_api_arg_t *args, size_t n,
                  hub_api_route_t *out);

/* The stable error code of an HTTP status: 400 BAD_REQUEST, 401 UNAUTHORIZED, 403 FORBIDDEN,
 * 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 413 TOO_LARGE, 500 INTERNAL, 503 UNAVAILABLE. */
const char *hub_api_status_code(int status);

/* {"error": {"code": code, "message": message}} as compact JSON text (malloc'd; NULL when out
 * of memory). message may hold any bytes: invalid UTF-8 is replaced. */
char *hub_api_error_body(const char *code, const char *message);

/* ---- tokens ---- */

#define HUB_API_TOKEN_PREFIX "hubtok_"
#define HUB_API_TOKEN_LEN (sizeof(HUB_API_TOKEN_PREFIX) - 1 + 64) /* prefix + 32 bytes in hex */

/* A new random token (libsodium's randombytes) into out (>= HUB_API_TOKEN_LEN + 1 bytes). */
void hub_api_token_new(char *out, size_t cap);
/* SHA-256 of the token text: what the database keeps. */
void hub_api_token_hash(const char *token, size_t len, uint8_t out[32]);
/* The token of an Authorization header value "Bearer <token>" (case-insensitive scheme, one
 * space or more): a pointer into value and its length; false when the header is not that. */
bool hub_api_bearer(const char *value, const char **token, size_t *len);

/* ---- the access log ---- */

typedef struct hub_api_access {
        int64_t id;        /* access_log.id */
        const char *who;   /* "<agency>/<token id>" or "anonymous" */
        const char *method;
        const char *path;  /* as hub_api_log_path wrote it */
        int64_t entity_id; /* 0 when the request concerned no entity */
        int status;        /* HTTP status answered */
        int64_t at_us;     /* microseconds since the epoch */
} hub_api_access_t;

/* The leaf data (kind 6, hub/mlog.h) of an access-log row:
 *   u64be(id) || str(who) || str(method) || str(path) || opt_i64(entity_id) || u32be(status)
 *   || i64be(at_us)
 * *out malloc'd. Errors: HUB_E_INVAL (a string over 65535 bytes), HUB_E_NOMEM. */
int hub_api_access_leaf(const hub_api_access_t *a, uint8_t **out, size_t *len, hub_err_t *err);

/* The path and query string as the access log keeps them: as received on the wire (still
 * percent-encoded), printable ASCII kept and every other byte as %XX, cut at
 * HUB_API_MAX_LOG_PATH bytes (then ending in "..."), so any request, even a hostile one, has a
 * row that PostgreSQL's text accepts. */
void hub_api_log_path(const char *raw, size_t len, char *out, size_t cap);

#endif
