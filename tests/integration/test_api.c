/* hub-api over a real socket against the real PostgreSQL: the server is started in-process on an
 * ephemeral port, requests are written as raw HTTP (so malformed ones can be sent too), and the
 * test asserts what a client sees (status, JSON error body, bundle bytes that verify) and what
 * an auditor sees (access_log rows, `hubctl log verify` detecting a changed or deleted row).
 * usage: itest_api PATH-TO-hubctl PATH-TO-hub-api */
#include "server.h"
#include "testdb.h"
#include "testutil.h"

#include <hub/evidence.h>
#include <hub/ingest.h>
#include <hub/keyfile.h>
#include <hub/merkle.h>
#include <hub/mlog_store.h>
#include <hub/registry.h>
#include <hub/report.h>
#include <hub/timestamp.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char *hubctl, *hub_api_bin;
static char dsn[512], tmpdir[64], pubfile[128];
static hub_store_t *st;
static hub_key_t hub_key;
static hub_api_server_t *srv;
static int port;
static char tok_public[128], tok_restricted[128], tok_revoked[128];
static int64_t e_public, e_restricted;

/* ---- helpers ---- */

static char *run_out, *run_err;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
        char args[1024], cmd[2048], p[128];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(args, sizeof(args), fmt, ap);
        va_end(ap);
        snprintf(cmd, sizeof(cmd), "HUB_PG_DSN='%s' '%s' %s >'%s/out' 2>'%s/err'", dsn, hubctl,
                 args, tmpdir, tmpdir);
        int s = system(cmd);
        free(run_out);
        free(run_err);
        size_t n;
        snprintf(p, sizeof(p), "%s/out", tmpdir);
        run_out = (char *)hub_test_read_file(p, &n);
        snprintf(p, sizeof(p), "%s/err", tmpdir);
        run_err = (char *)hub_test_read_file(p, &n);
        if (!run_out)
                run_out = strdup("");
        if (!run_err)
                run_err = strdup("");
        assert_true(WIFEXITED(s));
        return WEXITSTATUS(s);
}

static long long scalar(const char *q)
{
        PGresult *r = PQexec(hub_store_conn(st), q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", q, PQresultErrorMessage(r));
        long long v = PQntuples(r) == 0 || PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return v;
}

static void sql(const char *q)
{
        hub_err_t err = {0};
        if (hub_store_exec(st, q, &err))
                fail_msg("%s: %s", q, err.msg);
}

struct reply {
        int status;
        char *head; /* status line and headers */
        char *body;
        size_t len;
};

static void reply_free(struct reply *r)
{
        free(r->head);
        free(r->body);
        memset(r, 0, sizeof(*r));
}

/* Send raw bytes, read the whole answer (the server closes: Connection: close). */
static struct reply http_raw(const char *req, size_t len)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        size_t off = 0;
        while (off < len) {
                ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
                if (w <= 0)
                        break; /* the server may answer and close before reading it all */
                off += (size_t)w;
        }
        shutdown(fd, SHUT_WR);
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap + 1);
        for (;;) {
                if (n == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap + 1);
                }
                ssize_t r = recv(fd, buf + n, cap - n, 0);
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        buf[n] = '\0';
        struct reply rp = {0};
        char *sep = strstr(buf, "\r\n\r\n"); /* headers hold no NUL */
        if (!sep || sscanf(buf, "HTTP/1.%*d %d", &rp.status) != 1)
                fail_msg("not an HTTP answer: %.200s", buf);
        rp.head = strndup(buf, (size_t)(sep - buf));
        rp.len = n - (size_t)(sep + 4 - buf);
        rp.body = malloc(rp.len + 1);
        memcpy(rp.body, sep + 4, rp.len);
        rp.body[rp.len] = '\0';
        free(buf);
        return rp;
}

static struct reply request(const char *method, const char *target, const char *token,
                            const char *extra)
{
        char *req = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&req, &len);
        fprintf(f, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, target);
        if (token)
                fprintf(f, "Authorization: Bearer %s\r\n", token);
        if (extra)
                fputs(extra, f);
        fputs("\r\n", f);
        fclose(f);
        struct reply r = http_raw(req, len);
        free(req);
        return r;
}

static struct reply get(const char *target, const char *token)
{
        return request("GET", target, token, NULL);
}

/* A JSON body; fails unless it parses. */
static json_t *body_json(const struct reply *r)
{
        json_error_t je;
        json_t *j = json_loadb(r->body, r->len, 0, &je);
        if (!j)
                fail_msg("not JSON (%s): %.300s", je.text, r->body);
        return j;
}

/* An error answer: the status, a JSON body {"error": {"code", "message"}} with `code`. */
static void assert_error(struct reply r, int status, const char *code)
{
        if (r.status != status)
                fail_msg("status %d, want %d: %.300s", r.status, status, r.body);
        json_t *j = body_json(&r);
        json_t *e = json_object_get(j, "error");
        assert_string_equal(json_string_value(json_object_get(e, "code")), code);
        assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 0);
        assert_non_null(strstr(r.head, "application/json"));
        json_decref(j);
        reply_free(&r);
}

static void assert_alive(void)
{
        struct reply r = get("/v1/log/head", tok_public);
        assert_int_equal(r.status, 200);
        reply_free(&r);
}

/* ---- fixture: two agencies, two real signed batches ingested, a signed head ---- */

static hub_report_codec_t *codec;

static unsigned char *report(const char *agency, const char *rid, const char *tax,
                             const char *tier, const char *name, size_t *len)
{
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}], s:[s], "
                              "s:{s:s, s:[]}}",
                              "record_id", rid, "agency", agency, "reported_at",
                              (json_int_t)1749600000000, "subject_kind", "ORGANIZATION", "names",
                              "value", name, "kind", "LEGAL", "identifiers", "type", "TAX_CODE",
                              "value", tax, "violation_categories", "HANG_GIA", "sensitivity",
                              "tier", tier, "recipients");
        assert_non_null(j);
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (hub_report_encode_json(codec, j, &out, len, &err))
                fail_msg("encode: %s", err.msg);
        json_decref(j);
        return out;
}

static void agency(const char *code, hub_key_t *k)
{
        hub_err_t err = {0};
        char kid[80];
        snprintf(kid, sizeof(kid), "%s/1", code);
        assert_int_equal(hub_registry_agency_add(st, code, "test agency", HUB_TS_NONE, &err), 0);
        assert_int_equal(hub_key_generate(code, kid, k, &err), 0);
        hub_key_registration_t reg = {.agency = code, .key_id = k->key_id,
                                      .valid_from = 1577836800000000LL,
                                      .valid_until = HUB_TS_NONE};
        memcpy(reg.public_key, k->pk, HUB_PK_BYTES);
        if (hub_registry_key_register(st, &reg, &err))
                fail_msg("register: %s", err.msg);
}

static void ingest(hub_ingest_t *ing, const hub_key_t *k, const char *rid, const char *tax,
                   const char *tier, const char *name, int64_t offset)
{
        size_t rl = 0, bl = 0;
        unsigned char *rec = report(k->owner, rid, tax, tier, name, &rl);
        hub_batch_header_t h = {.agency = k->owner, .key_id = k->key_id, .producer_id = "itest",
                                .batch_seq = offset, .created_at_ms = (int64_t)time(NULL) * 1000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
        hub_batch_builder_t *b = NULL;
        hub_err_t err = {0};
        unsigned char *bytes = NULL;
        assert_int_equal(hub_batch_builder_new(&h, NULL, &b, &err), 0);
        assert_int_equal(hub_batch_builder_add(b, rec, rl, &err), 0);
        assert_int_equal(hub_batch_builder_finish(b, k->sk, 64, &bytes, &bl, &err), 0);
        hub_batch_builder_free(b);
        char topic[96];
        snprintf(topic, sizeof(topic), "agency.%s.reports", k->owner);
        hub_ingest_msg_t m = {topic, 0, offset, bytes, bl, offset ? offset : -1};
        hub_ingest_result_t res;
        if (hub_ingest_message(ing, &m, &res, &err))
                fail_msg("ingest: %s", err.msg);
        if (res.accepted != 1)
                fail_msg("record not accepted: %s %s", res.reason, res.message);
        free(bytes);
        free(rec);
}

static void sign_head(void)
{
        hub_err_t err = {0};
        hub_mlog_sign_opts_t o = {.force = true};
        bool done = false;
        if (hub_mlog_sign(st, &hub_key, &o, NULL, &done, &err))
                fail_msg("sign: %s", err.msg);
}

static void create_token(const char *agency_code, const char *tier, char *out, size_t cap)
{
        if (run("api-token create --tier %s %s", tier, agency_code) != 0)
                fail_msg("api-token create: %s", run_err);
        snprintf(out, cap, "%.*s", (int)strcspn(run_out, "\n"), run_out);
        assert_int_equal(strncmp(out, "hubtok_", 7), 0);
        assert_non_null(strstr(run_err, agency_code));
}

static int setup(void **state)
{
        (void)state;
        assert_true(sodium_init() >= 0);
        hub_test_fresh_db("api", dsn, sizeof(dsn));
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/hub-itest-api-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        hub_err_t err = {0};
        assert_int_equal(hub_store_open(dsn, &st, &err), 0);
        assert_int_equal(hub_store_migrate(st, NULL, &err), 0);
        assert_int_equal(hub_report_codec_new(&codec, &err), 0);
        assert_int_equal(hub_key_generate("HUB", "HUB/1", &hub_key, &err), 0);
        snprintf(pubfile, sizeof(pubfile), "%s/hub.pub", tmpdir);
        assert_int_equal(hub_key_write_public(&hub_key, pubfile, &err), 0);
        hub_key_t hq, bca;
        agency("MOF-HQ", &hq);
        agency("BCA", &bca);
        hub_ingest_opts_t io = {.hub_key = &hub_key};
        hub_ingest_t *ing = NULL;
        assert_int_equal(hub_ingest_new(st, &io, &ing, &err), 0);
        ingest(ing, &hq, "hq-1", "0312687878", "PUBLIC", "Công ty TNHH Thu Hà", 0);
        ingest(ing, &bca, "bca-1", "0100233488", "RESTRICTED", "Công ty TNHH Bí Mật", 0);
        hub_ingest_free(ing);
        e_public = scalar("SELECT entity_id FROM identifiers WHERE value = '0312687878'");
        e_restricted = scalar("SELECT entity_id FROM identifiers WHERE value = '0100233488'");
        assert_true(e_public > 0 && e_restricted > 0 && e_public != e_restricted);
        sign_head();
        create_token("MOF-HQ", "public", tok_public, sizeof(tok_public));
        create_token("BCA", "restricted", tok_restricted, sizeof(tok_restricted));
        create_token("MOF-HQ", "shared", tok_revoked, sizeof(tok_revoked));
        hub_api_opts_t o = {.dsn = dsn, .address = "127.0.0.1", .port = 0};
        if (hub_api_server_start(&o, &srv, &err))
                fail_msg("start: %s", err.msg);
        port = hub_api_server_port(srv);
        assert_true(port > 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        hub_api_server_stop(srv);
        hub_report_codec_free(codec);
        hub_store_close(st);
        hub_test_drop_db(dsn);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                return 0;
        free(run_out);
        free(run_err);
        return 0;
}

/* ---- tests ---- */

static long long access_rows(const char *where)
{
        char q[512];
        snprintf(q, sizeof(q), "SELECT count(*) FROM access_log WHERE %s", where);
        return scalar(q);
}

static void test_endpoints(void **state)
{
        (void)state;
        char target[256], who[64];
        snprintf(who, sizeof(who), "MOF-HQ/%lld",
                 scalar("SELECT min(id) FROM api_tokens WHERE agency = 'MOF-HQ'"));
        long long before = access_rows("true");

        /* search by identifier, in any spelling the normaliser accepts */
        struct reply r = get("/v1/entities?identifier=0312-687-878", tok_public);
        assert_int_equal(r.status, 200);
        json_t *j = body_json(&r);
        json_t *m = json_array_get(json_object_get(j, "matches"), 0);
        char eid[32];
        snprintf(eid, sizeof(eid), "E%" PRId64, e_public);
        assert_string_equal(json_string_value(json_object_get(json_object_get(m, "entity"),
                                                              "entity_id")),
                            eid);
        assert_string_equal(json_string_value(json_object_get(m, "type")), "TAX_CODE");
        json_decref(j);
        reply_free(&r);

        /* search by name: another spelling of the same name (no diacritics, upper case) */
        r = get("/v1/entities?name=CONG%20TY%20TNHH%20THU%20HA", tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        assert_int_equal(json_array_size(json_object_get(j, "matches")), 1);
        json_decref(j);
        reply_free(&r);

        /* the entity */
        snprintf(target, sizeof(target), "/v1/entities/%s", eid);
        r = get(target, tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "kind")), "ORGANIZATION");
        assert_string_equal(json_string_value(json_array_get(json_object_get(j, "names"), 0)),
                            "Công ty TNHH Thu Hà");
        json_decref(j);
        reply_free(&r);

        /* its provenance: the one record, verified up to the signed head */
        snprintf(target, sizeof(target), "/v1/entities/%s/provenance", eid);
        r = get(target, tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        json_t *recs = json_object_get(j, "records");
        assert_int_equal(json_array_size(recs), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0),
                                                              "record_id")),
                            "hq-1");
        json_decref(j);
        reply_free(&r);

        /* the evidence bundle verifies offline with the hub's public key */
        r = get("/v1/records/MOF-HQ/hq-1/evidence", tok_public);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.head, "application/octet-stream"));
        hub_evidence_info_t info;
        hub_err_t err = {0};
        hub_key_t pub = hub_key;
        hub_key_wipe(&pub);
        if (hub_evidence_verify((const uint8_t *)r.body, r.len, &pub, NULL, &info, &err))
                fail_msg("bundle does not verify: %s", err.msg);
        reply_free(&r);

        /* the head, and proofs that verify against its root */
        r = get("/v1/log/head", tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        long long size = json_integer_value(json_object_get(j, "log_size"));
        assert_int_equal(size, scalar("SELECT log_size FROM tree_heads ORDER BY id DESC LIMIT 1"));
        uint8_t root[32], leaf[32], proof[32 * 64];
        size_t pl = 0;
        const char *rh = json_string_value(json_object_get(j, "root_hash"));
        assert_int_equal(sodium_hex2bin(root, 32, rh, 64, NULL, NULL, NULL), 0);
        json_decref(j);
        reply_free(&r);
        snprintf(target, sizeof(target), "/v1/log/inclusion?leaf=1&size=%lld", size);
        r = get(target, tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(j, "proof"), i, h)
        {
                assert_int_equal(sodium_hex2bin(proof + pl, 32, json_string_value(h), 64, NULL,
                                                NULL, NULL),
                                 0);
                pl += 32;
        }
        PGresult *q = PQexec(hub_store_conn(st), "SELECT hash FROM log_leaves WHERE idx = 1");
        assert_int_equal(PQntuples(q), 1);
        size_t hl = 0;
        unsigned char *hb = PQunescapeBytea((const unsigned char *)PQgetvalue(q, 0, 0), &hl);
        assert_int_equal(hl, 32);
        memcpy(leaf, hb, 32);
        PQfreemem(hb);
        PQclear(q);
        if (hub_merkle_verify_inclusion(leaf, 32, 1, (uint64_t)size, proof, pl, root, 32, &err))
                fail_msg("inclusion proof: %s", err.msg);
        json_decref(j);
        reply_free(&r);
        snprintf(target, sizeof(target), "/v1/log/consistency?from=1&to=%lld", size);
        r = get(target, tok_public);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        assert_true(json_array_size(json_object_get(j, "proof")) > 0);
        json_decref(j);
        reply_free(&r);

        /* every one of those 8 requests is in the access log, with who, status and entity */
        assert_int_equal(access_rows("true"), before + 8);
        char w[256];
        snprintf(w, sizeof(w), "who = '%s' AND status = 200 AND method = 'GET'", who);
        assert_int_equal(access_rows(w), 8);
        snprintf(w, sizeof(w), "entity_id = %" PRId64 " AND path LIKE '/v1/entities/E%%'",
                 e_public);
        assert_int_equal(access_rows(w), 2);
        /* each row is committed to the log as a kind 6 leaf */
        assert_int_equal(scalar("SELECT count(*) FROM access_log a JOIN log_leaves l ON "
                                "l.idx = a.leaf_index AND l.kind = 6 AND l.ref = a.id::text"),
                         access_rows("true"));
}

static void test_authentication(void **state)
{
        (void)state;
        long long before = access_rows("status = 401");
        assert_error(get("/v1/log/head", NULL), 401, "UNAUTHORIZED");
        assert_error(get("/v1/log/head", "hubtok_0000"), 401, "UNAUTHORIZED");
        assert_error(request("GET", "/v1/log/head", NULL, "Authorization: Basic YTpi\r\n"), 401,
                     "UNAUTHORIZED");
        /* a revoked token: refused from the revocation on */
        struct reply r = get("/v1/log/head", tok_revoked);
        assert_int_equal(r.status, 200);
        reply_free(&r);
        long long id = scalar("SELECT max(id) FROM api_tokens WHERE agency = 'MOF-HQ'");
        assert_int_equal(run("api-token revoke %lld", id), 0);
        assert_int_not_equal(run("api-token revoke %lld", id), 0);
        assert_non_null(strstr(run_err, "already revoked"));
        assert_error(get("/v1/log/head", tok_revoked), 401, "UNAUTHORIZED");
        assert_int_equal(access_rows("status = 401"), before + 4);
        assert_int_equal(access_rows("status = 401 AND who = 'anonymous'"), 3);
        char w[128];
        snprintf(w, sizeof(w), "status = 401 AND who = 'MOF-HQ/%lld'", id);
        assert_int_equal(access_rows(w), 1);
        /* an agency that is not registered gets no token */
        assert_int_not_equal(run("api-token create NOPE"), 0);
        assert_non_null(strstr(run_err, "not registered"));
}

static void test_tiers(void **state)
{
        (void)state;
        char target[128], w[128];
        long long before = access_rows("status = 403");
        snprintf(target, sizeof(target), "/v1/entities/E%" PRId64, e_restricted);
        assert_error(get(target, tok_public), 403, "FORBIDDEN");
        snprintf(target, sizeof(target), "/v1/entities/E%" PRId64 "/provenance", e_restricted);
        assert_error(get(target, tok_public), 403, "FORBIDDEN");
        assert_error(get("/v1/entities?identifier=0100233488", tok_public), 403, "FORBIDDEN");
        assert_error(get("/v1/records/BCA/bca-1/evidence", tok_public), 403, "FORBIDDEN");
        /* a name of a restricted entity is not found at all by a public agency */
        struct reply r = get("/v1/entities?name=C%C3%B4ng%20ty%20TNHH%20B%C3%AD%20M%E1%BA%ADt",
                             tok_public);
        assert_int_equal(r.status, 200);
        json_t *j = body_json(&r);
        assert_int_equal(json_array_size(json_object_get(j, "matches")), 0);
        json_decref(j);
        reply_free(&r);
        assert_int_equal(access_rows("status = 403"), before + 4);
        snprintf(w, sizeof(w), "status = 403 AND entity_id = %" PRId64, e_restricted);
        assert_int_equal(access_rows(w), 4);
        /* the restricted agency sees it, and sees the public entity too */
        snprintf(target, sizeof(target), "/v1/entities/E%" PRId64, e_restricted);
        r = get(target, tok_restricted);
        assert_int_equal(r.status, 200);
        j = body_json(&r);
        assert_string_equal(json_string_value(json_object_get(j, "tier")), "RESTRICTED");
        json_decref(j);
        reply_free(&r);
        r = get("/v1/records/BCA/bca-1/evidence", tok_restricted);
        assert_int_equal(r.status, 200);
        reply_free(&r);
        snprintf(target, sizeof(target), "/v1/entities/E%" PRId64, e_public);
        r = get(target, tok_restricted);
        assert_int_equal(r.status, 200);
        reply_free(&r);
}

static void test_malformed(void **state)
{
        (void)state;
        long long before = access_rows("true");
        assert_error(get("/v2/entities", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1/entities/E1/nothing", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1//log/head", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1/entities/E999999", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1/records/MOF-HQ/nope/evidence", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1/entities/Exyz", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/entities/E99999999999999999999999", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/entities", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/entities?identifier=1&name=x", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/entities?identifier=0312687878&bogus=1", tok_public), 400,
                     "BAD_REQUEST");
        assert_error(get("/v1/entities?identifier=x&type=NOPE", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/log/inclusion?leaf=abc&size=1", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/log/inclusion?leaf=5&size=2", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/log/inclusion?leaf=0&size=99999999", tok_public), 400,
                     "BAD_REQUEST");
        assert_error(get("/v1/log/inclusion?leaf=-1&size=2", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/log/consistency?from=3&to=2", tok_public), 400, "BAD_REQUEST");
        assert_error(get("/v1/log/consistency?from=1&from=1&to=2", tok_public), 400,
                     "BAD_REQUEST");
        assert_error(get("/v1/records/not%20an%20agency/x/evidence", tok_public), 400,
                     "BAD_REQUEST");
        assert_error(get("/v1/entities/%00%ff%fe", tok_public), 404, "NOT_FOUND");
        assert_error(get("/v1/entities/E1%ff", tok_public), 400, "BAD_REQUEST");
        assert_error(request("POST", "/v1/log/head", tok_public,
                             "Content-Length: 5\r\n\r\nhello"),
                     405, "METHOD_NOT_ALLOWED");
        assert_error(request("DELETE", "/v1/entities/E1", tok_public, NULL), 405,
                     "METHOD_NOT_ALLOWED");
        /* a URL and headers over the limits: 413, and the server goes on */
        char *big = malloc(6000);
        memset(big, 'a', 5999);
        big[5999] = '\0';
        memcpy(big, "/v1/entities?name=", 18);
        assert_error(get(big, tok_public), 413, "TOO_LARGE");
        char *hdr = malloc(12000);
        snprintf(hdr, 12000, "X-Padding: %0*d\r\n", 10000, 0);
        assert_error(request("GET", "/v1/log/head", tok_public, hdr), 413, "TOO_LARGE");
        free(hdr);
        free(big);
        struct reply r = request("GET", "/v1/entities/\xff\x01", tok_public, NULL);
        assert_true(r.status >= 400);
        reply_free(&r);
        assert_int_equal(access_rows("true"), before + 25);
        /* a request is logged as received; hostile bytes escaped, a huge path cut */
        assert_int_equal(access_rows("path = '/v1/entities/%00%ff%fe' AND status = 404"), 1);
        assert_int_equal(access_rows("path = '/v1/entities/%FF%01'"), 1);
        assert_int_equal(access_rows("status = 413 AND length(path) <= 1024 AND path LIKE "
                                     "'%...'"),
                         1);
        /* headers beyond a connection's memory are refused by libmicrohttpd itself, and the
         * refusal is still in the access log (the row is written before the socket closes) */
        long long mhd = access_rows("method = '-' AND status = 400");
        hdr = malloc(80000);
        snprintf(hdr, 80000, "X-Padding: %0*d\r\n", 70000, 0);
        r = request("GET", "/v1/log/head?huge", tok_public, hdr);
        free(hdr);
        assert_true(r.status >= 400 && r.status < 500);
        reply_free(&r);
        assert_int_equal(access_rows("method = '-' AND status = 400 AND path = "
                                     "'/v1/log/head?huge'"),
                         mhd + 1);
        /* garbage that is not HTTP at all is libmicrohttpd's to refuse; nothing crashes */
        r = http_raw("\x01\x02 garbage\r\n\r\n", 14);
        assert_true(r.status >= 400);
        reply_free(&r);
        assert_alive();
}

/* The hub-api program itself: settings from the command line, a request, a clean stop. */
static void test_program(void **state)
{
        (void)state;
        char cmd[1024], p[128];
        snprintf(cmd, sizeof(cmd), "'%s' --help >'%s/help'", hub_api_bin, tmpdir);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof(p), "%s/help", tmpdir);
        size_t n = 0;
        char *help = (char *)hub_test_read_file(p, &n);
        assert_non_null(strstr(help, "--listen-address"));
        free(help);
        snprintf(cmd, sizeof(cmd), "'%s' --bogus 2>/dev/null", hub_api_bin);
        int rc = system(cmd);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);

        snprintf(p, sizeof(p), "%s/api.log", tmpdir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (!freopen(p, "w", stderr))
                        _exit(127);
                execl(hub_api_bin, hub_api_bin, "--dsn", dsn, "--port", "0", "--listen-address",
                      "127.0.0.1", (char *)NULL);
                _exit(127);
        }
        /* Wait for its "listening" line, which names the port it was given. */
        int saved = port, got = 0;
        for (int i = 0; i < 200 && !got; i++) {
                char *log = (char *)hub_test_read_file(p, &n);
                const char *at = log ? strstr(log, "port=") : NULL;
                if (at)
                        got = atoi(at + 5);
                free(log);
                if (!got)
                        nanosleep(&(struct timespec){0, 50000000}, NULL);
        }
        if (!got)
                fail_msg("hub-api did not start");
        port = got;
        assert_alive();
        port = saved;
        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(waitpid(pid, &rc, 0), pid);
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}

static void test_tamper(void **state)
{
        (void)state;
        sign_head();
        if (run("log verify --hub-key '%s'", pubfile) != 0)
                fail_msg("clean log does not verify:\n%s%s", run_out, run_err);
        /* an operator turns a refusal into a success */
        long long id = scalar("SELECT min(id) FROM access_log WHERE status = 403");
        char q[256];
        snprintf(q, sizeof(q), "UPDATE access_log SET status = 200 WHERE id = %lld", id);
        sql(q);
        assert_int_equal(run("log verify --hub-key '%s'", pubfile), 1);
        char want[64];
        snprintf(want, sizeof(want), "access_log %lld", id);
        if (!strstr(run_out, want) && !strstr(run_err, want))
                fail_msg("no problem named %s:\n%s%s", want, run_out, run_err);
        snprintf(q, sizeof(q), "UPDATE access_log SET status = 403 WHERE id = %lld", id);
        sql(q);
        assert_int_equal(run("log verify --hub-key '%s'", pubfile), 0);
        /* ... erases a lookup */
        snprintf(q, sizeof(q), "DELETE FROM access_log WHERE id = %lld", id);
        sql(q);
        assert_int_equal(run("log verify --hub-key '%s'", pubfile), 1);
        if (!strstr(run_out, "not stored") && !strstr(run_err, "not stored"))
                fail_msg("deletion not reported:\n%s%s", run_out, run_err);
        /* ... or forges one */
        sql("INSERT INTO access_log (who, method, path, status, at, leaf_index) VALUES "
            "('anonymous', 'GET', '/v1/log/head', 200, 0, 999999)");
        assert_int_equal(run("log verify --hub-key '%s'", pubfile), 1);
        if (!strstr(run_out, "unlogged-access") && !strstr(run_err, "unlogged-access"))
                fail_msg("forged row not reported:\n%s%s", run_out, run_err);
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: itest_api PATH-TO-hubctl PATH-TO-hub-api\n");
                return 2;
        }
        hubctl = argv[1];
        hub_api_bin = argv[2];
        hub_test_service("HUB_PG_DSN");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_authentication),
                cmocka_unit_test(test_tiers),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_program),
                cmocka_unit_test(test_tamper),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
