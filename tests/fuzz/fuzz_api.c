/* The HTTP API's request handling without a socket: hub_api_route on a method, a path and query
 * parameters, then what hub-api does with any request whatever the route said: the JSON error
 * body, the bearer token of an Authorization value, the access log's path and its leaf.
 * Input: lines; line 1 the method, line 2 the path (as libmicrohttpd hands it over, decoded),
 * every further line one query parameter "key=value" ("key" alone: no value). */
#include "fuzz.h"

#include <hub/api.h>

#include <jansson.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_strndup(data, size);
        char *lines[2 + HUB_API_MAX_ARGS + 4] = {0};
        size_t nl = 0;
        for (char *p = text; p && nl < sizeof(lines) / sizeof(lines[0]);) {
                lines[nl++] = p;
                char *e = strchr(p, '\n');
                if (e)
                        *e++ = '\0';
                p = e;
        }
        hub_api_arg_t args[HUB_API_MAX_ARGS + 4];
        size_t na = 0;
        for (size_t i = 2; i < nl; i++) {
                char *eq = strchr(lines[i], '=');
                if (eq)
                        *eq++ = '\0';
                args[na++] = (hub_api_arg_t){lines[i], eq};
        }
        hub_api_route_t r;
        memset(&r, 0x5a, sizeof(r));
        int st = hub_api_route(nl > 0 ? lines[0] : NULL, nl > 1 ? lines[1] : NULL, args, na, &r);
        if (st == 0) {
                FUZZ_CHECK(r.endpoint >= HUB_API_SEARCH && r.endpoint <= HUB_API_LOG_CONSISTENCY);
                if (r.endpoint == HUB_API_ENTITY || r.endpoint == HUB_API_PROVENANCE)
                        FUZZ_CHECK(r.entity_id > 0);
                if (r.endpoint == HUB_API_EVIDENCE)
                        FUZZ_CHECK(r.agency[0] && r.record_id[0] &&
                                   strlen(r.record_id) < sizeof(r.record_id));
                if (r.endpoint == HUB_API_SEARCH)
                        FUZZ_CHECK(!r.identifier != !r.name);
                if (r.endpoint == HUB_API_LOG_INCLUSION)
                        FUZZ_CHECK(r.a < r.b);
                if (r.endpoint == HUB_API_LOG_CONSISTENCY)
                        FUZZ_CHECK(r.a >= 1 && r.a <= r.b);
        } else {
                FUZZ_CHECK(st == 400 || st == 404 || st == 405);
                FUZZ_CHECK(r.status == st && r.code && r.message[0]);
                /* The error body is JSON a client can parse, with the same code. */
                char *body = hub_api_error_body(r.code, r.message);
                FUZZ_CHECK(body);
                json_t *j = json_loads(body, 0, NULL);
                FUZZ_CHECK(j);
                FUZZ_CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "error"),
                                                                    "code")),
                                  r.code) == 0);
                json_decref(j);
                free(body);
        }
        /* Any bytes at all may be a message, an Authorization value, a logged path. */
        char *body = hub_api_error_body("BAD_REQUEST", (const char *)text);
        FUZZ_CHECK(body);
        json_t *j = json_loads(body, 0, NULL);
        FUZZ_CHECK(j);
        json_decref(j);
        free(body);
        const char *tok = NULL;
        size_t tl = 0;
        if (hub_api_bearer(text, &tok, &tl))
                FUZZ_CHECK(tl > 0 && tok >= text && tok + tl <= text + strlen(text));
        char path[HUB_API_MAX_LOG_PATH + 8];
        hub_api_log_path((const char *)data, size, path, sizeof(path));
        FUZZ_CHECK(strlen(path) <= HUB_API_MAX_LOG_PATH);
        for (const char *p = path; *p; p++)
                FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
        hub_api_access_t acc = {.id = 1, .who = "anonymous", .method = "GET", .path = path,
                                .entity_id = (int64_t)size, .status = st ? st : 200,
                                .at_us = 1};
        uint8_t *leaf = NULL;
        size_t ll = 0;
        hub_err_t err = {0};
        FUZZ_CHECK(hub_api_access_leaf(&acc, &leaf, &ll, &err) == 0);
        FUZZ_CHECK(ll == sizeof("vn.hub.log-leaf.v1") + 1 + 8 + 4 + 9 + 4 + 3 + 4 + strlen(path) +
                                 (size ? 9 : 1) + 4 + 8);
        free(leaf);
        free(text);
        return 0;
}
