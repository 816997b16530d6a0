/* hub-api's server: one request = size limits -> route (hub_api_route) -> bearer token ->
 * the endpoint's read -> the access-log row and its leaf, committed before the answer leaves.
 * A request whose access cannot be logged is answered 500 without its data: an unlogged lookup
 * must not happen.
 *
 * One internal polling thread serves every connection, so the one PostgreSQL connection is
 * never shared between threads; every read is a few indexed queries, and the access log
 * serialises appends on the log's lock anyway, so more threads would mostly wait. */
#include "server.h"

#include <hub/api.h>
#include <hub/api_store.h>
#include <hub/ident.h>
#include <hub/input.h>
#include <hub/log.h>
#include <hub/mlog_store.h>
#include <hub/provenance.h>
#include <hub/resolve.h>
#include <hub/store.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* libmicrohttpd refuses on its own (431/414, with its own body) what does not fit in this
 * per-connection memory; below it, hub-api answers 413 with a JSON error. */
#define CONNECTION_MEMORY (64 * 1024)

struct hub_api_server {
        struct MHD_Daemon *d;
        char *dsn;
        bool have_pub;
        hub_key_t pub;
        hub_store_t *s; /* used by the polling thread only */
};

/* One request, from the URI callback (before parsing) to completion. */
struct request {
        char *uri; /* as received, capped */
        size_t uri_len;
        bool answered;
};

struct answer {
        int status;
        const char *content_type;
        void *body;
        size_t len;
        int64_t entity_id;
};

static json_t *hexj(const void *p, size_t n)
{
        char s[2 * 64 + 1];
        if (n > 64)
                return json_null();
        sodium_bin2hex(s, sizeof(s), p, n);
        return json_string(s);
}

static json_t *hex_list(const uint8_t *p, size_t len)
{
        json_t *a = json_array();
        for (size_t i = 0; i + 32 <= len; i += 32)
                json_array_append_new(a, hexj(p + i, 32));
        return a;
}

static int set_error(struct answer *a, int status, const char *message)
{
        free(a->body);
        a->status = status;
        a->content_type = "application/json";
        a->body = hub_api_error_body(hub_api_status_code(status), message);
        a->len = a->body ? strlen(a->body) : 0;
        return 0;
}

/* Takes the reference to j. */
static void set_json(struct answer *a, int status, json_t *j)
{
        free(a->body);
        a->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!a->body) {
                a->body = NULL;
                set_error(a, 500, "out of memory");
                return;
        }
        a->status = status;
        a->content_type = "application/json";
        a->len = strlen(a->body);
}

/* A database error: 503 when it may pass (the connection is dropped and reopened by the next
 * request), 500 otherwise. The details go to the log, not to the client. */
static int db_error(hub_api_server_t *srv, struct answer *a, const hub_err_t *e)
{
        hub_log(HUB_LOG_ERROR, "api", e->msg, "where=%s", e->where);
        if (e->retriable) {
                hub_store_close(srv->s);
                srv->s = NULL;
        }
        set_error(a, e->retriable ? 503 : 500, "the hub's database failed; try again later");
        return 0;
}

/* ---- endpoints ---- */

static int search(hub_api_server_t *srv, const hub_api_route_t *r, int tier, struct answer *a)
{
        hub_err_t e = {0};
        json_t *matches = json_array();
        bool refused = false;
        if (r->identifier) {
                int types[8];
                size_t nt = 0;
                if (r->type) {
                        char upper[32];
                        size_t i;
                        for (i = 0; r->type[i] && i + 1 < sizeof(upper); i++)
                                upper[i] = (char)toupper((unsigned char)r->type[i]);
                        upper[i] = '\0';
                        types[0] = hub_ident_type_from_name(upper);
                        if (types[0] < 0 || types[0] == HUB_ID_OTHER) {
                                json_decref(matches);
                                set_error(a, 400, "unknown identifier type");
                                return 0;
                        }
                        nt = 1;
                } else if (!(nt = hub_input_guess_ident_types(r->identifier, types, 8))) {
                        json_decref(matches);
                        set_error(a, 400, "could not tell what kind of identifier this is: give "
                                          "the query parameter \"type\"");
                        return 0;
                }
                size_t valid = 0;
                for (size_t t = 0; t < nt; t++) {
                        hub_ident_t id;
                        if (hub_ident_normalize(types[t], r->identifier, NULL, &id, NULL))
                                continue;
                        valid++;
                        int64_t ent = 0;
                        bool vis = false;
                        const char *tname = hub_ident_type_name(id.type);
                        if (hub_api_find_identifier(srv->s, tname, id.value, tier, &ent, &vis,
                                                    &e)) {
                                json_decref(matches);
                                db_error(srv, a, &e);
                                return 0;
                        }
                        if (!ent)
                                continue;
                        if (!a->entity_id)
                                a->entity_id = ent;
                        if (!vis) {
                                refused = true;
                                continue;
                        }
                        json_t *doc = NULL;
                        int st = 0;
                        if (hub_api_entity(srv->s, ent, tier, &doc, &st, &e)) {
                                json_decref(matches);
                                db_error(srv, a, &e);
                                return 0;
                        }
                        if (st == 200)
                                json_array_append_new(matches,
                                                      json_pack("{s:s, s:s, s:o}", "type", tname,
                                                                "value", id.value, "entity", doc));
                }
                if (!valid) {
                        json_decref(matches);
                        set_error(a, 400, "not a valid identifier of the type asked or guessed");
                        return 0;
                }
        } else {
                char key[512];
                int64_t ids[50];
                size_t n = 0;
                if (hub_name_match_key(r->name, true, key, sizeof(key), NULL) || !key[0]) {
                        json_decref(matches);
                        set_error(a, 400, "the name has nothing to search on");
                        return 0;
                }
                if (hub_api_find_name(srv->s, key, tier, ids, 50, &n, &e)) {
                        json_decref(matches);
                        db_error(srv, a, &e);
                        return 0;
                }
                for (size_t i = 0; i < n; i++) {
                        json_t *doc = NULL;
                        int st = 0;
                        if (hub_api_entity(srv->s, ids[i], tier, &doc, &st, &e)) {
                                json_decref(matches);
                                db_error(srv, a, &e);
                                return 0;
                        }
                        if (st == 200)
                                json_array_append_new(matches, json_pack("{s:o}", "entity", doc));
                }
        }
        if (!json_array_size(matches) && refused) {
                json_decref(matches);
                set_error(a, 403, "the identifier is held by an entity, but not in a tier this "
                                  "agency may see");
                return 0;
        }
        set_json(a, 200, json_pack("{s:s, s:o}", "tier", hub_tier_name(tier), "matches",
                                   matches));
        return 0;
}

static int entity(hub_api_server_t *srv, const hub_api_route_t *r, int tier, struct answer *a)
{
        hub_err_t e = {0};
        json_t *doc = NULL;
        int st = 0;
        a->entity_id = r->entity_id;
        if (hub_api_entity(srv->s, r->entity_id, tier, &doc, &st, &e))
                return db_error(srv, a, &e);
        if (st == 404)
                return set_error(a, 404, "no such entity");
        if (st == 403)
                return set_error(a, 403, "nothing about this entity is in a tier this agency may "
                                         "see");
        set_json(a, 200, doc);
        return 0;
}

/* Keep what `tier` may see of a provenance document: statements of visible tiers, values left
 * with statements, records of visible tiers; merges and judgements (their evidence names
 * identifiers of any tier) only for RESTRICTED. */
static int filter_provenance(hub_store_t *s, json_t *doc, int tier, hub_err_t *e)
{
        json_t *values = json_object_get(doc, "values"), *kept = json_array();
        size_t i, j;
        json_t *v, *st;
        json_array_foreach(values, i, v)
        {
                json_t *sts = json_array();
                json_array_foreach(json_object_get(v, "statements"), j, st)
                {
                        const char *t = json_string_value(json_object_get(st, "tier"));
                        if (t && hub_tier_visible(hub_tier_from_name(t), tier))
                                json_array_append(sts, st);
                }
                if (json_array_size(sts)) {
                        json_t *nv = json_deep_copy(v);
                        json_object_set_new(nv, "statements", sts);
                        json_array_append_new(kept, nv);
                } else {
                        json_decref(sts);
                }
        }
        json_object_set_new(doc, "values", kept);
        json_t *recs = json_array();
        json_array_foreach(json_object_get(doc, "records"), i, v)
        {
                bool found = false;
                int rt = -1;
                int64_t ent = 0;
                const char *ag = json_string_value(json_object_get(v, "agency"));
                const char *id = json_string_value(json_object_get(v, "record_id"));
                if (!ag || !id)
                        continue;
                if (hub_api_record(s, ag, id, &found, &rt, &ent, e)) {
                        json_decref(recs);
                        return -1;
                }
                if (found && hub_tier_visible(rt, tier))
                        json_array_append(recs, v);
        }
        json_object_set_new(doc, "records", recs);
        if (tier != HUB_TIER_RESTRICTED) {
                json_object_del(doc, "merges");
                json_object_del(doc, "judgements");
        }
        json_object_set_new(doc, "tier", json_string(hub_tier_name(tier)));
        return 0;
}

static int provenance(hub_api_server_t *srv, const hub_api_route_t *r, int tier,
                       struct answer *a)
{
        hub_err_t e = {0};
        json_t *doc = NULL;
        int st = 0;
        a->entity_id = r->entity_id;
        if (hub_api_entity(srv->s, r->entity_id, tier, &doc, &st, &e))
                return db_error(srv, a, &e);
        json_decref(doc);
        doc = NULL;
        if (st != 200)
                return set_error(a, st, st == 404 ? "no such entity"
                                                  : "nothing about this entity is in a tier this "
                                                    "agency may see");
        if (hub_provenance_entity(srv->s, r->entity_id, srv->have_pub ? &srv->pub : NULL, &doc,
                                  &e))
                return db_error(srv, a, &e);
        if (!doc)
                return set_error(a, 404, "no such entity");
        if (filter_provenance(srv->s, doc, tier, &e)) {
                json_decref(doc);
                return db_error(srv, a, &e);
        }
        set_json(a, 200, doc);
        return 0;
}

static int evidence(hub_api_server_t *srv, const hub_api_route_t *r, int tier, struct answer *a)
{
        hub_err_t e = {0};
        bool found = false;
        int rt = -1;
        int64_t ent = 0;
        if (hub_api_record(srv->s, r->agency, r->record_id, &found, &rt, &ent, &e))
                return db_error(srv, a, &e);
        if (!found)
                return set_error(a, 404, "no such record");
        a->entity_id = ent;
        if (!hub_tier_visible(rt, tier))
                return set_error(a, 403, "the record is in a tier this agency may not see");
        uint8_t *bundle = NULL;
        size_t len = 0;
        int rc = hub_provenance_evidence(srv->s, r->agency, r->record_id, &bundle, &len, &e);
        if (rc == -HUB_E_INVAL)
                return set_error(a, 404, e.msg);
        if (rc)
                return db_error(srv, a, &e);
        free(a->body);
        a->status = 200;
        a->content_type = "application/octet-stream";
        a->body = bundle;
        a->len = len;
        return 0;
}

static int log_head(hub_api_server_t *srv, struct answer *a)
{
        hub_err_t e = {0};
        hub_mlog_head_t h;
        bool found = false;
        if (hub_mlog_latest_head(srv->s, &h, &found, &e))
                return db_error(srv, a, &e);
        if (!found)
                return set_error(a, 404, "no tree head has been signed yet");
        set_json(a, 200, json_pack("{s:I, s:o, s:I, s:s, s:o}", "log_size", (json_int_t)h.size,
                                   "root_hash", hexj(h.root, 32), "timestamp",
                                   (json_int_t)h.timestamp_ms, "key_id", h.key_id, "signature",
                                   hexj(h.signature, HUB_SIG_BYTES)));
        return 0;
}

static int log_proof(hub_api_server_t *srv, const hub_api_route_t *r, struct answer *a)
{
        hub_err_t e = {0};
        uint64_t size = 0;
        if (hub_mlog_size(srv->s, &size, &e))
                return db_error(srv, a, &e);
        if (r->b > size) {
                char m[128];
                snprintf(m, sizeof(m), "the log holds %" PRIu64 " leaves", size);
                return set_error(a, 400, m);
        }
        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES], root_a[32], root_b[32];
        size_t pl = 0;
        int rc = r->endpoint == HUB_API_LOG_INCLUSION
                         ? hub_mlog_prove_inclusion(srv->s, r->a, r->b, proof, sizeof(proof), &pl,
                                                    &e)
                         : hub_mlog_prove_consistency(srv->s, r->a, r->b, proof, sizeof(proof),
                                                      &pl, &e);
        if (!rc)
                rc = hub_mlog_root(srv->s, r->b, root_b, &e);
        if (!rc && r->endpoint == HUB_API_LOG_CONSISTENCY)
                rc = hub_mlog_root(srv->s, r->a, root_a, &e);
        if (rc)
                return db_error(srv, a, &e);
        if (r->endpoint == HUB_API_LOG_INCLUSION)
                set_json(a, 200, json_pack("{s:I, s:I, s:o, s:o}", "leaf", (json_int_t)r->a,
                                           "size", (json_int_t)r->b, "root_hash",
                                           hexj(root_b, 32), "proof", hex_list(proof, pl)));
        else
                set_json(a, 200, json_pack("{s:I, s:I, s:o, s:o, s:o}", "from", (json_int_t)r->a,
                                           "to", (json_int_t)r->b, "from_root",
                                           hexj(root_a, 32), "to_root", hexj(root_b, 32),
                                           "proof", hex_list(proof, pl)));
        return 0;
}

/* ---- libmicrohttpd glue ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
        (void)cls;
        (void)c;
        struct request *rq = calloc(1, sizeof(*rq));
        if (!rq)
                return NULL;
        rq->uri_len = uri ? strlen(uri) : 0;
        rq->uri = strndup(uri ? uri : "", HUB_API_MAX_LOG_PATH + 8);
        if (!rq->uri) {
                free(rq);
                return NULL;
        }
        return rq;
}

/* Write the access-log row and its leaf. -1 when it could not be written. */
static int log_access(hub_api_server_t *srv, const struct request *rq, const char *who,
                      const char *method, int64_t entity_id, int status)
{
        char path[HUB_API_MAX_LOG_PATH + 8], meth[32];
        hub_api_log_path(rq->uri, strlen(rq->uri), path, sizeof(path));
        hub_api_log_path(method ? method : "", method ? strlen(method) : 0, meth, sizeof(meth));
        hub_api_access_t acc = {.who = who, .method = meth, .path = path,
                                .entity_id = entity_id, .status = status};
        hub_err_t e = {0};
        if (!srv->s && hub_store_open(srv->dsn, &srv->s, &e))
                srv->s = NULL;
        if (!srv->s || hub_api_access_write(srv->s, &acc, &e)) {
                hub_log(HUB_LOG_ERROR, "api", "could not write the access log", "status=%d",
                        status);
                if (srv->s && e.retriable) {
                        hub_store_close(srv->s);
                        srv->s = NULL;
                }
                return -1;
        }
        hub_log(HUB_LOG_INFO, "api", "request", "who=%s status=%d access=%" PRId64, who, status,
                acc.id);
        return 0;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
        (void)c;
        hub_api_server_t *srv = cls;
        struct request *rq = *con_cls;
        /* A request whose line was read but which libmicrohttpd refused itself (headers over
         * its memory, a malformed header) never reached on_request: log it too. The status
         * it sent is not reported to the application; 400 stands for all of them. */
        if (rq && !rq->answered && toe == MHD_REQUEST_TERMINATED_WITH_ERROR)
                log_access(srv, rq, "anonymous", "-", 0, 400);
        if (rq) {
                free(rq->uri);
                free(rq);
        }
        *con_cls = NULL;
}

struct collect {
        hub_api_arg_t args[HUB_API_MAX_ARGS + 1];
        size_t n;
        size_t header_bytes;
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
        (void)kind;
        struct collect *c = cls;
        if (c->n < HUB_API_MAX_ARGS + 1)
                c->args[c->n] = (hub_api_arg_t){key, value};
        c->n++;
        return MHD_YES;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
        (void)kind;
        struct collect *c = cls;
        c->header_bytes += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
        return MHD_YES;
}

static int answer_request(hub_api_server_t *srv, struct MHD_Connection *conn, const char *url,
                           const char *method, struct request *rq, struct answer *a,
                           char *who, size_t who_cap)
{
        struct collect col = {0};
        hub_err_t e = {0};
        snprintf(who, who_cap, "anonymous");
        MHD_get_connection_values(conn, MHD_HEADER_KIND, on_header, &col);
        if (rq->uri_len > HUB_API_MAX_URL)
                return set_error(a, 413, "the request's URL is too long");
        if (col.header_bytes > HUB_API_MAX_HEADERS)
                return set_error(a, 413, "the request's headers are too large");
        /* Who asks comes first, so that even a malformed request is logged with its caller;
         * an unauthenticated one learns nothing about the API beyond the 401. */
        if (!srv->s && hub_store_open(srv->dsn, &srv->s, &e)) {
                hub_log(HUB_LOG_ERROR, "api", e.msg, NULL);
                srv->s = NULL;
                return set_error(a, 503, "the hub's database is not reachable; try again later");
        }
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        const char *token = NULL;
        size_t tlen = 0;
        hub_api_caller_t caller;
        if (!auth)
                return set_error(a, 401, "an API token is required: Authorization: Bearer TOKEN");
        if (!hub_api_bearer(auth, &token, &tlen))
                return set_error(a, 401, "the Authorization header must be \"Bearer TOKEN\"");
        if (hub_api_token_check(srv->s, token, tlen, &caller, &e))
                return db_error(srv, a, &e);
        if (!caller.found)
                return set_error(a, 401, "unknown API token");
        snprintf(who, who_cap, "%s/%" PRId64, caller.agency, caller.token_id);
        if (caller.revoked)
                return set_error(a, 401, "the API token was revoked");
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, &col);
        hub_api_route_t r;
        if (hub_api_route(method, url, col.args,
                          col.n > HUB_API_MAX_ARGS ? HUB_API_MAX_ARGS + 1 : col.n, &r))
                return set_error(a, r.status, r.message);
        switch (r.endpoint) {
        case HUB_API_SEARCH: return search(srv, &r, caller.tier, a);
        case HUB_API_ENTITY: return entity(srv, &r, caller.tier, a);
        case HUB_API_PROVENANCE: return provenance(srv, &r, caller.tier, a);
        case HUB_API_EVIDENCE: return evidence(srv, &r, caller.tier, a);
        case HUB_API_LOG_HEAD: return log_head(srv, a);
        default: return log_proof(srv, &r, a);
        }
        return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
        (void)version;
        (void)upload_data;
        hub_api_server_t *srv = cls;
        struct request *rq = *con_cls;
        if (!rq)
                return MHD_NO; /* out of memory in on_uri: drop the connection */
        if (rq->answered) {
                *upload_data_size = 0; /* a body we do not read */
                return MHD_YES;
        }
        rq->answered = true;
        struct answer a = {0};
        char who[128];
        answer_request(srv, conn, url ? url : "", method ? method : "", rq, &a, who,
                       sizeof(who));
        /* Log before answering: an access that cannot be logged is not answered. */
        if (log_access(srv, rq, who, method, a.entity_id, a.status))
                set_error(&a, srv->s ? 500 : 503, "the access could not be logged, so it is "
                                                  "not answered");
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(a.len, a.body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(a.body);
                return MHD_NO;
        }
        a.body = NULL;
        MHD_add_response_header(resp, "Content-Type", a.content_type);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        if (a.status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"hub\"");
        if (a.status == 405)
                MHD_add_response_header(resp, "Allow", "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned)a.status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        (void)cls;
        char msg[256];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        hub_log(HUB_LOG_WARN, "http", msg, NULL);
}

int hub_api_server_start(const hub_api_opts_t *o, hub_api_server_t **out, hub_err_t *err)
{
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)o->port);
        if (o->port < 0 || o->port > 65535 ||
            inet_pton(AF_INET, o->address ? o->address : "127.0.0.1", &sa.sin_addr) != 1)
                return hub_err_set(err, HUB_E_CONFIG, false, "api",
                                   "invalid listen address or port: %s:%d",
                                   o->address ? o->address : "", o->port);
        hub_api_server_t *srv = calloc(1, sizeof(*srv));
        if (!srv || !(srv->dsn = strdup(o->dsn ? o->dsn : ""))) {
                free(srv);
                return hub_err_set(err, HUB_E_NOMEM, false, "api", "out of memory");
        }
        if (o->hub_pub) {
                srv->pub = *o->hub_pub;
                hub_key_wipe(&srv->pub);
                srv->have_pub = true;
        }
        srv->d = MHD_start_daemon(
                MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, srv,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)(o->timeout_s ? o->timeout_s : 30), MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)(o->max_connections ? o->max_connections : 64),
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done,
                srv, MHD_OPTION_END);
        if (!srv->d) {
                free(srv->dsn);
                free(srv);
                return hub_err_set(err, HUB_E_IO, false, "api", "could not listen on %s:%d",
                                   o->address ? o->address : "127.0.0.1", o->port);
        }
        *out = srv;
        return 0;
}

int hub_api_server_port(const hub_api_server_t *srv)
{
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
        return i ? i->port : -1;
}

void hub_api_server_stop(hub_api_server_t *srv)
{
        if (!srv)
                return;
        MHD_stop_daemon(srv->d);
        hub_store_close(srv->s);
        free(srv->dsn);
        sodium_memzero(&srv->pub, sizeof(srv->pub));
        free(srv);
}
