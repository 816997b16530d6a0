/* hub-api's pure parts (hub/api.h): the routing of every documented path and the refusal of
 * bad ones, the access log's leaf byte by byte as schemas/README.md specifies it, the logged
 * path, bearer tokens and error bodies. */
#include "testutil.h"

#include <hub/api.h>
#include <hub/mlog.h>

#include <jansson.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int route(const char *method, const char *path, const char *const *kv, size_t n,
                 hub_api_route_t *r)
{
        hub_api_arg_t args[32] = {{0}};
        for (size_t i = 0; i < n; i++)
                args[i] = (hub_api_arg_t){kv[2 * i], kv[2 * i + 1]};
        return hub_api_route(method, path, args, n, r);
}

static void test_routes(void **state)
{
        (void)state;
        hub_api_route_t r;
        const char *ident[] = {"identifier", "0312687878", "type", "TAX_CODE"};
        assert_int_equal(route("GET", "/v1/entities", ident, 2, &r), 0);
        assert_int_equal(r.endpoint, HUB_API_SEARCH);
        assert_string_equal(r.identifier, "0312687878");
        assert_string_equal(r.type, "TAX_CODE");
        const char *name[] = {"name", "Thu Hà"};
        assert_int_equal(route("GET", "/v1/entities", name, 1, &r), 0);
        assert_string_equal(r.name, "Thu Hà");
        assert_int_equal(route("GET", "/v1/entities/E42", NULL, 0, &r), 0);
        assert_int_equal(r.endpoint, HUB_API_ENTITY);
        assert_int_equal(r.entity_id, 42);
        assert_int_equal(route("HEAD", "/v1/entities/42/provenance", NULL, 0, &r), 0);
        assert_int_equal(r.endpoint, HUB_API_PROVENANCE);
        assert_int_equal(route("GET", "/v1/records/MOF-HQ/a/b/evidence", NULL, 0, &r), 0);
        assert_int_equal(r.endpoint, HUB_API_EVIDENCE);
        assert_string_equal(r.agency, "MOF-HQ");
        assert_string_equal(r.record_id, "a/b");
        assert_int_equal(route("GET", "/v1/log/head", NULL, 0, &r), 0);
        assert_int_equal(r.endpoint, HUB_API_LOG_HEAD);
        const char *inc[] = {"leaf", "3", "size", "7"};
        assert_int_equal(route("GET", "/v1/log/inclusion", inc, 2, &r), 0);
        assert_true(r.endpoint == HUB_API_LOG_INCLUSION && r.a == 3 && r.b == 7);
        const char *con[] = {"from", "7", "to", "7"};
        assert_int_equal(route("GET", "/v1/log/consistency", con, 2, &r), 0);
        assert_true(r.endpoint == HUB_API_LOG_CONSISTENCY && r.a == 7 && r.b == 7);
}

static void test_refusals(void **state)
{
        (void)state;
        hub_api_route_t r;
        assert_int_equal(route("GET", "/", NULL, 0, &r), 404);
        assert_string_equal(r.code, "NOT_FOUND");
        assert_int_equal(route("GET", "v1/log/head", NULL, 0, &r), 404);
        assert_int_equal(route("GET", "/v1/log/head/", NULL, 0, &r), 404);
        assert_int_equal(route("GET", "/v1/records/MOF-HQ/evidence", NULL, 0, &r), 404);
        assert_int_equal(route("PUT", "/v1/log/head", NULL, 0, &r), 405);
        assert_string_equal(r.code, "METHOD_NOT_ALLOWED");
        assert_int_equal(route("PUT", "/v2/x", NULL, 0, &r), 404);
        assert_int_equal(route("GET", "/v1/entities/E0", NULL, 0, &r), 400);
        assert_int_equal(route("GET", "/v1/entities/E-1", NULL, 0, &r), 400);
        assert_int_equal(route("GET", "/v1/records/mof/x/evidence", NULL, 0, &r), 400);
        const char *none[] = {"x", NULL};
        assert_int_equal(route("GET", "/v1/log/head", none, 1, &r), 400);
        assert_string_equal(r.code, "BAD_REQUEST");
        const char *both[] = {"identifier", "1", "name", "x"};
        assert_int_equal(route("GET", "/v1/entities", both, 2, &r), 400);
        const char *empty[] = {"name", ""};
        assert_int_equal(route("GET", "/v1/entities", empty, 1, &r), 400);
        const char *type_only[] = {"name", "x", "type", "PHONE"};
        assert_int_equal(route("GET", "/v1/entities", type_only, 2, &r), 400);
        const char *twice[] = {"leaf", "1", "leaf", "1", "size", "3"};
        assert_int_equal(route("GET", "/v1/log/inclusion", twice, 3, &r), 400);
        const char *big[] = {"leaf", "0", "size", "99999999999999999999"};
        assert_int_equal(route("GET", "/v1/log/inclusion", big, 2, &r), 400);
        const char *sign[] = {"leaf", "+1", "size", "3"};
        assert_int_equal(route("GET", "/v1/log/inclusion", sign, 2, &r), 400);
        const char *zero[] = {"from", "0", "to", "3"};
        assert_int_equal(route("GET", "/v1/log/consistency", zero, 2, &r), 400);
        const char *many[34];
        for (int i = 0; i < 17; i++) {
                many[2 * i] = "name";
                many[2 * i + 1] = "x";
        }
        assert_int_equal(route("GET", "/v1/entities", many, 17, &r), 400);
        assert_int_equal(hub_api_route(NULL, "/v1/log/head", NULL, 0, &r), 400);
}

/* Every path of openapi.yaml is one the router knows. */
static void test_openapi_paths(void **state)
{
        (void)state;
        size_t len = 0;
        char *y = (char *)hub_test_read_file(hub_test_source_path("hub/api/openapi.yaml"), &len);
        assert_non_null(y);
        int seen = 0;
        for (char *line = strtok(y, "\n"); line; line = strtok(NULL, "\n")) {
                if (strncmp(line, "  /v1/", 6) != 0)
                        continue;
                char path[256];
                size_t o = 0;
                for (const char *p = line + 2; *p && *p != ':' && o + 8 < sizeof(path); p++) {
                        if (*p == '{') {
                                const char *e = strchr(p, '}');
                                bool agency = strncmp(p, "{agency}", 8) == 0;
                                o += (size_t)snprintf(path + o, sizeof(path) - o, "%s",
                                                      agency ? "MOF-HQ" : "E7");
                                p = e;
                        } else {
                                path[o++] = *p;
                        }
                }
                path[o] = '\0';
                const char *args[] = {"name", "x", "leaf", "0", "size", "1", "from", "1", "to",
                                      "1"};
                hub_api_route_t r;
                int n = strstr(path, "entities") && !strstr(path, "E7") ? 1
                        : strstr(path, "inclusion")                     ? 2
                        : strstr(path, "consistency")                   ? 2
                                                                        : 0;
                const char *const *a = strstr(path, "inclusion")     ? args + 2
                                       : strstr(path, "consistency") ? args + 6
                                                                     : args;
                if (route("GET", path, a, (size_t)n, &r) != 0)
                        fail_msg("%s: %s", path, r.message);
                seen++;
        }
        assert_int_equal(seen, 7);
        free(y);
}

/* The leaf of schemas/README.md, written out by hand. */
static void test_access_leaf(void **state)
{
        (void)state;
        hub_api_access_t a = {.id = 258, .who = "BCA/3", .method = "GET", .path = "/v1/log/head",
                              .entity_id = 42, .status = 403, .at_us = 1767225600000000LL};
        uint8_t *d = NULL;
        size_t n = 0;
        assert_int_equal(hub_api_access_leaf(&a, &d, &n, NULL), 0);
        uint8_t want[128];
        size_t o = 0;
        memcpy(want, "vn.hub.log-leaf.v1", 19); /* with its 00 */
        o = 19;
        want[o++] = 6;
        const uint8_t id[8] = {0, 0, 0, 0, 0, 0, 1, 2};
        memcpy(want + o, id, 8);
        o += 8;
        const char *s[3] = {"BCA/3", "GET", "/v1/log/head"};
        for (int i = 0; i < 3; i++) {
                size_t l = strlen(s[i]);
                const uint8_t len[4] = {0, 0, 0, (uint8_t)l};
                memcpy(want + o, len, 4);
                memcpy(want + o + 4, s[i], l);
                o += 4 + l;
        }
        const uint8_t ent[9] = {1, 0, 0, 0, 0, 0, 0, 0, 42};
        memcpy(want + o, ent, 9);
        o += 9;
        const uint8_t st[4] = {0, 0, 0x01, 0x93};
        memcpy(want + o, st, 4);
        o += 4;
        const uint8_t at[8] = {0x00, 0x06, 0x47, 0x48, 0x46, 0x20, 0x40, 0x00}; /* 2026-01-01 */
        memcpy(want + o, at, 8);
        o += 8;
        assert_int_equal(n, o);
        assert_memory_equal(d, want, o);
        free(d);
        a.entity_id = 0;
        assert_int_equal(hub_api_access_leaf(&a, &d, &n, NULL), 0);
        assert_int_equal(n, o - 8);
        assert_int_equal(d[19 + 1 + 8 + 9 + 7 + 16], 0); /* absent entity: one 00 byte */
        free(d);
}

static void test_log_path_and_tokens(void **state)
{
        (void)state;
        char out[HUB_API_MAX_LOG_PATH + 8];
        hub_api_log_path("/v1/x?a=%20b\xff\n ", 15, out, sizeof(out));
        assert_string_equal(out, "/v1/x?a=%20b%FF%0A%20");
        char *big = malloc(5000);
        memset(big, 'a', 5000);
        hub_api_log_path(big, 5000, out, sizeof(out));
        assert_true(strlen(out) <= HUB_API_MAX_LOG_PATH);
        assert_string_equal(out + strlen(out) - 3, "...");
        free(big);

        const char *t = NULL;
        size_t l = 0;
        assert_true(hub_api_bearer("Bearer abc", &t, &l));
        assert_true(l == 3 && memcmp(t, "abc", 3) == 0);
        assert_true(hub_api_bearer("bearer   abc  ", &t, &l) && l == 3);
        assert_false(hub_api_bearer("Basic abc", &t, &l));
        assert_false(hub_api_bearer("Bearer", &t, &l));
        assert_false(hub_api_bearer("Bearer ", &t, &l));
        assert_false(hub_api_bearer("Bearer a b", &t, &l));
        assert_false(hub_api_bearer("Bearerabc", &t, &l));

        char a[HUB_API_TOKEN_LEN + 1], b[HUB_API_TOKEN_LEN + 1];
        hub_api_token_new(a, sizeof(a));
        hub_api_token_new(b, sizeof(b));
        assert_int_equal(strlen(a), HUB_API_TOKEN_LEN);
        assert_int_equal(strncmp(a, HUB_API_TOKEN_PREFIX, 7), 0);
        assert_string_not_equal(a, b);

        char *body = hub_api_error_body("FORBIDDEN", "tier \xff\"x\"");
        json_t *j = json_loads(body, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"),
                                                              "code")),
                            "FORBIDDEN");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"),
                                                              "message")),
                            "tier ?\"x\"");
        json_decref(j);
        free(body);
        assert_string_equal(hub_api_status_code(413), "TOO_LARGE");
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_routes),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_openapi_paths),
                cmocka_unit_test(test_access_leaf),
                cmocka_unit_test(test_log_path_and_tokens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
