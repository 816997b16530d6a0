/* hubctl as an operator runs it: the built binary as a subprocess against the real PostgreSQL
 * and the real broker, asserting exit codes, what it prints, and the rows it leaves behind.
 * usage: itest_hubctl PATH-TO-hubctl PATH-TO-hubctl_fixture.sql */
#include "testdb.h"
#include "testutil.h"

#include <hub/ident.h>
#include <hub/kafka_info.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const char *hubctl, *fixture, *brokers;
static char tmpdir[64], dsn[512];
static char *out, *err; /* stdout and stderr of the last run */

static char *slurp(const char *path)
{
        size_t len = 0;
        char *s = (char *)hub_test_read_file(path, &len);
        return s ? s : strdup("");
}

/* Run `hubctl ARGS` (a shell word list) with HUB_PG_DSN = the test's database; returns the exit
 * code and leaves stdout and stderr in out and err. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
        char args[2048], cmd[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(args, sizeof(args), fmt, ap);
        va_end(ap);
        /* The database through the environment, as an operator would set it; the test's own
         * HUB_PG_DSN stays the admin database that testdb.h creates and drops databases on. */
        snprintf(cmd, sizeof(cmd), "HUB_PG_DSN='%s' '%s' %s >'%s/out' 2>'%s/err'", dsn, hubctl,
                 args, tmpdir, tmpdir);
        int st = system(cmd);
        free(out);
        free(err);
        char p[128];
        snprintf(p, sizeof(p), "%s/out", tmpdir);
        out = slurp(p);
        snprintf(p, sizeof(p), "%s/err", tmpdir);
        err = slurp(p);
        if (!WIFEXITED(st))
                fail_msg("hubctl %s: did not exit normally", args);
        return WEXITSTATUS(st);
}

#define assert_run(code, ...)                                                                      \
        do {                                                                                       \
                int rc_ = run(__VA_ARGS__);                                                        \
                if (rc_ != (code))                                                                 \
                        fail_msg("exit %d, want %d\n--- stdout\n%s--- stderr\n%s", rc_, (code),    \
                                 out, err);                                                        \
        } while (0)

#define assert_has(text, needle)                                                                   \
        do {                                                                                       \
                if (!strstr((text), (needle)))                                                     \
                        fail_msg("missing \"%s\" in:\n%s", (needle), (text));                      \
        } while (0)

static PGconn *db(void)
{
        PGconn *c = PQconnectdb(dsn);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        return c;
}

/* The first value of a query, as text ("" when no row). */
static char *one(const char *sql)
{
        static char buf[512];
        PGconn *c = db();
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQresultErrorMessage(r));
        snprintf(buf, sizeof(buf), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
        PQclear(r);
        PQfinish(c);
        return buf;
}

static void sql(const char *text)
{
        PGconn *c = db();
        PGresult *r = PQexec(c, text);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", text, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
}

static int setup(void **state)
{
        (void)state;
        hub_test_fresh_db("ctl", dsn, sizeof(dsn));
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        hub_test_drop_db(dsn);
        return 0;
}

static rd_kafka_t *kafka(rd_kafka_type_t type)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        assert_non_null(rk);
        return rk;
}

static int partitions(rd_kafka_t *rk, const char *topic)
{
        int n = -1;
        hub_err_t e = {0};
        if (hub_kafka_topic_partitions(rk, topic, &n, 10000, &e))
                fail_msg("%s", e.msg);
        return n;
}

/* A topic's cleanup.policy, through the Admin API's DescribeConfigs. */
static char *cleanup_policy(rd_kafka_t *rk, const char *topic)
{
        static char value[64];
        rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
        assert_non_null(ev);
        assert_int_equal(rd_kafka_event_error(ev), 0);
        size_t n = 0, nc = 0;
        const rd_kafka_ConfigResource_t **rs =
                rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        assert_int_equal(n, 1);
        const rd_kafka_ConfigEntry_t **cs = rd_kafka_ConfigResource_configs(rs[0], &nc);
        value[0] = '\0';
        for (size_t i = 0; i < nc; i++)
                if (strcmp(rd_kafka_ConfigEntry_name(cs[i]), "cleanup.policy") == 0)
                        snprintf(value, sizeof(value), "%s", rd_kafka_ConfigEntry_value(cs[i]));
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_ConfigResource_destroy(res);
        return value;
}

/* ---- usage ---- */

static void test_usage(void **state)
{
        (void)state;
        assert_run(2, " ");
        assert_has(err, "no command given");
        assert_run(2, "frobnicate");
        assert_has(err, "unknown command \"frobnicate\"");
        assert_run(0, "--help");
        assert_has(out, "usage: hubctl");
        static const char *const helps[] = {"init", "agency", "agency add", "agency list", "key",
                                            "key generate", "key register", "key revoke",
                                            "key list", "query", "entity", "entity show",
                                            "status"};
        for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
                assert_run(0, "%s --help", helps[i]);
                assert_has(out, "usage: hubctl ");
                assert_string_equal(err, "");
        }
        assert_run(2, "status --bogus");
        assert_has(err, "hubctl status: unknown option");
        assert_has(err, "try \"hubctl status --help\"");
        assert_run(2, "agency");
        assert_run(2, "agency remove X");
        assert_run(2, "agency add");
        assert_has(err, "an agency code is required");
        assert_run(2, "agency add mof_hq --name x");
        assert_has(err, "invalid agency code \"mof_hq\"");
        assert_run(2, "agency add MOF-HQ");
        assert_has(err, "--name is required");
        assert_run(2, "agency add MOF-HQ --name x --valid-from yesterday");
        assert_has(err, "invalid timestamp \"yesterday\"");
        assert_run(2, "key generate --owner MOF-HQ --key-id 'a b' --out %s/x", tmpdir);
        assert_has(err, "invalid key id");
        assert_run(2, "key register --agency MOF-HQ --key-id K");
        assert_has(err, "give one of --public-key and --public-key-file");
        assert_run(2, "key register --agency MOF-HQ --key-id K --public-key abc");
        assert_run(2, "key register --agency MOF-HQ --key-id K --public-key %064d "
                      "--valid-from 2026-02-01 --valid-until 2026-01-01", 0);
        assert_has(err, "--valid-until must be after --valid-from");
        assert_run(2, "key revoke --agency MOF-HQ --key-id K");
        assert_has(err, "--reason are required");
        assert_run(2, "key list --reason x");
        assert_has(err, "--reason does not apply here");
        assert_run(2, "query");
        assert_run(2, "query --type NOPE 123");
        assert_has(err, "unknown identifier type \"NOPE\"");
        assert_run(2, "entity show");
        assert_run(2, "entity show X1");
        assert_has(err, "invalid entity id \"X1\"");
        assert_run(2, "--dsn '' status");
        assert_has(err, "no database given");
}

static void test_database_unreachable_or_uninitialised(void **state)
{
        (void)state;
        assert_run(1, "status");
        assert_has(err, "the database is not initialised: run hubctl init");
        assert_run(1, "agency list");
        assert_has(err, "run hubctl init");
        assert_run(1, "--dsn 'host=127.0.0.1 port=1 connect_timeout=5' status");
        assert_has(err, "could not connect to PostgreSQL");
        assert_has(err, "hint: check --dsn or HUB_PG_DSN");
}

/* ---- init ---- */

static void test_init_twice(void **state)
{
        (void)state;
        assert_run(0, "init");
        assert_has(out, "applied migration 0001_init\n");
        assert_has(out, "database: schema version ");
        assert_has(out, "topic hub.entities.public: 3 partitions, cleanup.policy=compact");
        assert_has(out, "topic hub.rejects: 3 partitions, cleanup.policy=delete");
        assert_has(out, "ok: the hub is initialised\n");
        char migrations[32];
        snprintf(migrations, sizeof(migrations), "%s", one("SELECT count(*) FROM schema_migrations"));
        assert_true(atoi(migrations) >= 1);
        assert_string_equal(one("SELECT name FROM schema_migrations WHERE version = 1"), "init");

        rd_kafka_t *rk = kafka(RD_KAFKA_PRODUCER);
        static const char *const entity_topics[] = {"hub.entities.public", "hub.entities.shared",
                                                    "hub.entities.restricted"};
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(partitions(rk, entity_topics[i]), 3);
                assert_string_equal(cleanup_policy(rk, entity_topics[i]), "compact");
        }
        assert_int_equal(partitions(rk, "hub.rejects"), 3);
        assert_string_equal(cleanup_policy(rk, "hub.rejects"), "delete");
        rd_kafka_destroy(rk);

        /* Again: nothing applied, nothing created, the same rows. */
        assert_run(0, "init");
        assert_has(out, "up to date");
        assert_null(strstr(out, "applied migration"));
        assert_has(out, "topic hub.entities.shared: 3 partitions, cleanup.policy=compact (exists)");
        assert_has(out, "topic hub.rejects: 3 partitions, cleanup.policy=delete (exists)");
        assert_string_equal(one("SELECT count(*) FROM schema_migrations"), migrations);

        /* Without a broker the database part is still done, and the failure is named. */
        assert_run(1, "--brokers 127.0.0.1:1 init");
        assert_has(out, "up to date");
        assert_has(err, "hint: check --brokers or HUB_KAFKA_BROKERS");
}

/* ---- agencies ---- */

static void test_agency(void **state)
{
        (void)state;
        assert_run(0, "init");
        assert_run(0, "agency list");
        assert_has(out, "no agencies registered");
        assert_run(0, "agency add MOF-HQ --name 'Cục Hải quan' --valid-from 2025-03-01T00:00:00+07:00");
        assert_has(out, "topic agency.MOF-HQ.reports: 3 partitions");
        assert_has(out, "agency MOF-HQ added: Cục Hải quan\n");
        assert_string_equal(one("SELECT name || '|' || (valid_from AT TIME ZONE 'UTC') FROM agencies "
                                "WHERE code = 'MOF-HQ'"),
                            "Cục Hải quan|2025-02-28 17:00:00");
        rd_kafka_t *rk = kafka(RD_KAFKA_PRODUCER);
        assert_int_equal(partitions(rk, "agency.MOF-HQ.reports"), 3);
        assert_string_equal(cleanup_policy(rk, "agency.MOF-HQ.reports"), "delete");
        rd_kafka_destroy(rk);

        assert_run(1, "agency add MOF-HQ --name 'Other'");
        assert_has(err, "could not add agency: agency MOF-HQ is already registered");
        assert_string_equal(one("SELECT name FROM agencies WHERE code = 'MOF-HQ'"), "Cục Hải quan");

        assert_run(0, "agency add MIC --name 'Bộ Thông tin và Truyền thông'");
        assert_run(0, "agency list");
        assert_has(out, "CODE ");
        assert_has(out, "MIC ");
        assert_has(out, "MOF-HQ           2025-02-28T17:00:00Z");
        assert_true(strstr(out, "MIC ") < strstr(out, "MOF-HQ "));
}

/* ---- keys ---- */

static void test_key_generate(void **state)
{
        (void)state;
        char path[128], pub[140];
        snprintf(path, sizeof(path), "%s/hq1.key", tmpdir);
        snprintf(pub, sizeof(pub), "%s.pub", path);
        unlink(path);
        unlink(pub);
        assert_run(0, "key generate --owner MOF-HQ --key-id MOF-HQ/1 --out %s", path);
        assert_int_equal(strlen(out), 65);
        assert_int_equal(strspn(out, "0123456789abcdef"), 64);
        assert_has(err, "wrote secret key");
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        char *p = slurp(pub), *s = slurp(path), *hex = strndup(out, 64);
        assert_has(p, "hub-ed25519-public-v1 MOF-HQ MOF-HQ/1 ");
        assert_has(p, hex);
        assert_has(s, "hub-ed25519-secret-v1 MOF-HQ MOF-HQ/1 ");

        /* Never overwritten, neither the secret nor the public file. */
        assert_run(1, "key generate --owner MOF-HQ --key-id MOF-HQ/2 --out %s", path);
        assert_has(err, "already exists: refusing to overwrite");
        char *s2 = slurp(path), *p2 = slurp(pub);
        assert_string_equal(s, s2);
        assert_string_equal(p, p2);
        unlink(path);
        assert_run(1, "key generate --owner MOF-HQ --key-id MOF-HQ/2 --out %s", path);
        assert_has(err, ".pub already exists");
        free(p);
        free(s);
        free(s2);
        free(p2);
        free(hex);
        unlink(pub);
}

static char *generate(const char *name, const char *owner, const char *key_id)
{
        static char hex[2][65];
        static int n;
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        unlink(path);
        strcat(path, ".pub");
        unlink(path);
        path[strlen(path) - 4] = '\0';
        assert_run(0, "key generate --owner %s --key-id %s --out %s", owner, key_id, path);
        char *h = hex[n++ % 2];
        snprintf(h, 65, "%s", out);
        return h;
}

static void test_key_register_revoke_list(void **state)
{
        (void)state;
        assert_run(0, "init");
        assert_run(0, "agency add MOF-HQ --name HQ");
        assert_run(0, "agency add MIC --name MIC");
        char hex[65];
        snprintf(hex, sizeof(hex), "%s", generate("hq1", "MOF-HQ", "MOF-HQ/1"));

        assert_run(0, "key register --agency MOF-HQ --public-key-file %s/hq1.pub "
                      "--valid-from 2025-01-01T00:00:00Z --valid-until 2099-01-01T07:00:00+07:00",
                   tmpdir);
        assert_has(out, "registered key MOF-HQ/1 for agency MOF-HQ: ");
        assert_has(out, hex);
        assert_has(out, "valid from 2025-01-01T00:00:00Z until 2099-01-01T00:00:00Z");
        char want[256];
        snprintf(want, sizeof(want), "MOF-HQ/1|%s|2025-01-01 00:00:00|2099-01-01 00:00:00|true", hex);
        assert_string_equal(one("SELECT key_id || '|' || encode(public_key, 'hex') || '|' || "
                                "(valid_from AT TIME ZONE 'UTC') || '|' || (valid_until AT TIME "
                                "ZONE 'UTC') || '|' || (revoked_at IS NULL) FROM agency_keys"),
                            want);

        /* Refused: the same key id again, the same public key for another agency, an agency
         * not registered, a key file of another owner. */
        assert_run(1, "key register --agency MOF-HQ --key-id MOF-HQ/1 --public-key %s",
                   generate("other", "MOF-HQ", "MOF-HQ/1"));
        assert_has(err, "could not register key: key MOF-HQ/1 is already registered for agency "
                        "MOF-HQ");
        assert_run(1, "key register --agency MIC --key-id MIC/1 --public-key %s", hex);
        assert_has(err, "this public key is already registered as MOF-HQ key MOF-HQ/1");
        assert_run(1, "key register --agency BCA --key-id BCA/1 --public-key %s",
                   generate("bca", "BCA", "BCA/1"));
        assert_has(err, "agency BCA is not registered");
        assert_run(1, "key register --agency MIC --public-key-file %s/bca.pub", tmpdir);
        assert_has(err, "holds a key of BCA, not of agency MIC");
        assert_string_equal(one("SELECT count(*) FROM agency_keys"), "1");

        /* A key of the future and one that has expired. */
        assert_run(0, "key register --agency MIC --key-id MIC/2 --public-key %s "
                      "--valid-from 2099-01-01",
                   generate("mic2", "MIC", "MIC/2"));
        assert_run(0, "key register --agency MIC --key-id MIC/1 --public-key %s "
                      "--valid-from 2020-01-01 --valid-until 2021-01-01",
                   generate("mic1", "MIC", "MIC/1"));

        /* Revocation, from a given time. */
        assert_run(0, "key revoke --agency MOF-HQ --key-id MOF-HQ/1 --at 2025-06-01T07:00:00+07:00 "
                      "--reason 'laptop stolen'");
        assert_has(out, "revoked key MOF-HQ/1 of agency MOF-HQ from 2025-06-01T00:00:00Z: laptop "
                        "stolen");
        assert_string_equal(one("SELECT (revoked_at AT TIME ZONE 'UTC') || '|' || revoked_reason "
                                "FROM agency_keys WHERE key_id = 'MOF-HQ/1'"),
                            "2025-06-01 00:00:00|laptop stolen");
        assert_run(1, "key revoke --agency MOF-HQ --key-id MOF-HQ/1 --reason again");
        assert_has(err, "was already revoked at 2025-06-01T00:00:00Z");
        assert_run(1, "key revoke --agency MOF-HQ --key-id MOF-HQ/9 --reason x");
        assert_has(err, "key MOF-HQ/9 is not registered for agency MOF-HQ");

        assert_run(0, "key list");
        assert_has(out, "STATE");
        const char *hq = strstr(out, "MOF-HQ         MOF-HQ/1");
        assert_non_null(hq);
        assert_has(hq, "KEY_REVOKED");
        assert_has(hq, "laptop stolen");
        assert_has(out, "MIC/1            KEY_EXPIRED");
        assert_has(out, "MIC/2            KEY_NOT_YET_VALID");
        assert_run(0, "key list --agency MIC");
        assert_null(strstr(out, "MOF-HQ/1"));
        assert_has(out, "MIC/1");
        assert_run(0, "key list --agency BCA");
        assert_has(out, "no keys registered for agency BCA");
}

/* ---- query and entity show ---- */

static void load_fixture(void)
{
        assert_run(0, "init");
        assert_run(0, "agency add MOF-HQ --name HQ");
        assert_run(0, "agency add MOIT-QLTT --name QLTT");
        assert_run(0, "key register --agency MOF-HQ --key-id MOF-HQ/1 --public-key %s",
                   generate("fx1", "MOF-HQ", "MOF-HQ/1"));
        assert_run(0, "key register --agency MOIT-QLTT --key-id MOIT-QLTT/1 --public-key %s",
                   generate("fx2", "MOIT-QLTT", "MOIT-QLTT/1"));
        char *text = slurp(fixture);
        sql(text);
        free(text);
}

/* The fixture's identifiers are in the normal form ident.h gives: if it ever changes, the
 * fixture must follow, or the query test would prove nothing. */
static void test_fixture_normal_forms(void **state)
{
        (void)state;
        static const struct {
                int type;
                const char *value, *normal;
        } cases[] = {{HUB_ID_TAX_CODE, "0312687878", "0312687878"},
                     {HUB_ID_PHONE, "0912468357", "+84912468357"},
                     {HUB_ID_DOMAIN, "thuha-vidu.com.vn", "thuha-vidu.com.vn"}};
        for (size_t i = 0; i < 3; i++) {
                hub_ident_t id;
                hub_err_t e = {0};
                assert_int_equal(hub_ident_normalize(cases[i].type, cases[i].value, NULL, &id, &e),
                                 0);
                assert_string_equal(id.value, cases[i].normal);
        }
}

static void test_query(void **state)
{
        (void)state;
        load_fixture();
        /* One tax code, written four ways. */
        static const char *const tax[] = {"0312687878", "0312-687-878", "'0312 687 878'",
                                          "--type tax_code 0312.687.878"};
        for (size_t i = 0; i < 4; i++) {
                assert_run(0, "query %s", tax[i]);
                assert_has(out, "TAX_CODE 0312687878: E1\n");
                assert_has(out, "E1 ORGANIZATION, version 3, active\n");
                assert_has(out, "  names: CÔNG TY TNHH THU HÀ\n");
                assert_has(out, "  identifiers: PHONE +84912468357; TAX_CODE 0312687878\n");
                assert_has(out, "  categories: HANG_GIA\n");
                assert_has(out, "  sources: 2 records from MOF-HQ 1, MOIT-QLTT 1\n");
        }
        /* One phone number, written four ways (ten digits: a tax code reading fails its check
         * digit and is not mentioned). */
        static const char *const phone[] = {"0912468357", "'+84 912 468 357'", "84912468357",
                                            "'(091) 246-8357'"};
        for (size_t i = 0; i < 4; i++) {
                assert_run(0, "query %s", phone[i]);
                assert_has(out, "PHONE +84912468357: E1\n");
                assert_string_equal(err, "");
        }
        /* A domain held by an entity merged into E1. */
        assert_run(0, "query https://WWW.Thuha-Vidu.com.vn/lien-he?x=1");
        assert_has(out, "DOMAIN thuha-vidu.com.vn: E2, merged into E1\n");
        assert_has(out, "E1 ORGANIZATION");
        /* JSON for machines. */
        assert_run(0, "query --json 0312687878");
        json_error_t je;
        json_t *doc = json_loads(out, 0, &je);
        assert_non_null(doc);
        json_t *m = json_array_get(json_object_get(doc, "matches"), 0);
        assert_string_equal(json_string_value(json_object_get(m, "entity_id")), "E1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(m, "entity"), "kind")),
                            "ORGANIZATION");
        json_decref(doc);

        /* Not found, and invalid, each with its reason, exit 1. */
        assert_run(1, "query nobody@example.com");
        assert_has(err, "not found: no entity has EMAIL nobody@example.com");
        assert_string_equal(out, "");
        assert_run(1, "query 0312687877");
        assert_has(err, "not a valid TAX_CODE: CHECK_DIGIT");
        assert_run(1, "query --type PHONE 12");
        assert_has(err, "not a valid PHONE: ");
        assert_run(1, "query 'Nguyễn Văn An'");
        assert_has(err, "could not tell what kind of identifier");
}

static void test_entity_show(void **state)
{
        (void)state;
        load_fixture();
        assert_run(0, "entity show E1");
        assert_has(out, "E1 ORGANIZATION, version 3, active\n");
        assert_has(out, "  created 2026-02-01T00:00:01Z, updated 2026-02-02T00:00:01Z\n");
        assert_has(out, "names:\n  CÔNG TY TNHH THU HÀ  (MOF-HQ hq-0001, PUBLIC; MOIT-QLTT "
                        "qltt-0042, SHARED)\n");
        assert_has(out, "categories:\n  HANG_GIA  (MOIT-QLTT qltt-0042, SHARED)\n");
        assert_has(out, "  TAX_CODE       0312687878");
        assert_has(out, "  PHONE          +84912468357");
        assert_has(out, "identifier = 0312687877  (MOIT-QLTT qltt-0042, SHARED)  INVALID "
                        "CHECK_DIGIT");
        assert_has(out, "  MOF-HQ hq-0001  active PUBLIC  batch 7 (key MOF-HQ/1)  "
                        "agency.MOF-HQ.reports [1] @5  received 2026-02-01T00:00:01Z\n");
        assert_has(out, "  MOIT-QLTT qltt-0042  active SHARED  batch 8 (key MOIT-QLTT/1)  "
                        "agency.MOIT-QLTT.reports [0] @3  received 2026-02-02T00:00:01Z\n");
        assert_run(0, "entity show 2");
        assert_has(out, "E2 ORGANIZATION, version 2, merged into E1\n");
        assert_has(out, "sources: none\n");

        assert_run(0, "entity show --json e1");
        json_error_t je;
        json_t *e = json_loads(out, 0, &je);
        if (!e)
                fail_msg("not JSON: %s\n%s", je.text, out);
        assert_string_equal(json_string_value(json_object_get(e, "entity_id")), "E1");
        assert_int_equal(json_integer_value(json_object_get(e, "version")), 3);
        assert_true(json_is_null(json_object_get(e, "merged_into")));
        assert_int_equal(json_array_size(json_object_get(e, "identifiers")), 2);
        json_t *names = json_object_get(e, "names");
        assert_int_equal(json_array_size(names), 1);
        assert_int_equal(json_array_size(json_object_get(json_array_get(names, 0), "sources")), 2);
        json_t *src = json_object_get(e, "sources");
        assert_int_equal(json_array_size(src), 2);
        json_t *s0 = json_array_get(src, 0);
        assert_string_equal(json_string_value(json_object_get(s0, "topic")),
                            "agency.MOF-HQ.reports");
        assert_int_equal(json_integer_value(json_object_get(s0, "partition")), 1);
        assert_int_equal(json_integer_value(json_object_get(s0, "offset")), 5);
        assert_int_equal(json_integer_value(json_object_get(s0, "batch_id")), 7);
        json_t *st = json_array_get(json_object_get(e, "statements"), 0);
        assert_false(json_is_true(json_object_get(st, "valid")));
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "CHECK_DIGIT");
        json_decref(e);

        assert_run(1, "entity show E99");
        assert_has(err, "not found: no entity E99");
}

/* ---- status ---- */

static void test_status_empty(void **state)
{
        (void)state;
        assert_run(0, "init");
        assert_run(0, "status");
        assert_has(out, "entities: 0 active (0 in all, 0 merged, 0 withdrawn), 0 identifiers\n");
        assert_has(out, "records: 0 accepted in 0 batches, 0 rejected\n");
        assert_has(out, "outbox: 0 unsent\n");
        assert_has(out, "agencies: none registered");
        assert_has(out, "consumer lag (kafka ");
        assert_has(out, "0 messages behind");
        assert_has(out, "last errors: none\n");
}

static void test_status_filled(void **state)
{
        (void)state;
        load_fixture();
        /* Two messages on partition 0 of MOF-HQ's topic beyond the offset stored for it. */
        rd_kafka_t *rk = kafka(RD_KAFKA_PRODUCER);
        int64_t low = 0, high = 0;
        hub_err_t e = {0};
        assert_int_equal(hub_kafka_watermarks(rk, "agency.MOF-HQ.reports", 0, &low, &high, 10000,
                                              &e),
                         0);
        char x[] = "x";
        for (int i = 0; i < 2; i++)
                assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("agency.MOF-HQ.reports"),
                                                   RD_KAFKA_V_PARTITION(0),
                                                   RD_KAFKA_V_VALUE(x, 1), RD_KAFKA_V_END),
                                 0);
        assert_int_equal(rd_kafka_flush(rk, 15000), 0);
        rd_kafka_destroy(rk);
        char q[512];
        snprintf(q, sizeof(q),
                 "INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES "
                 "('agency.MOF-HQ.reports', 0, %lld)",
                 (long long)high);
        sql(q);
        sql("INSERT INTO rejects (topic, partition, \"offset\", agency, record_id, reason, "
            "message, bytes, rejected_at) VALUES "
            "('agency.MOF-HQ.reports', 2, 10, 'MOF-HQ', NULL, 'KEY_REVOKED', "
            "'key MOF-HQ/1 revoked at 2025-06-01T00:00:00Z', '\\x01', '2026-03-01T00:00:00Z'),"
            "('agency.MOF-HQ.reports', 2, 11, 'MOF-HQ', 'hq-9', 'KEY_REVOKED', 'again', '\\x01', "
            "'2026-03-02T00:00:00Z'),"
            "('agency.MOIT-QLTT.reports', 1, 4, NULL, NULL, 'MALFORMED', 'not a batch', '\\x00', "
            "'2026-03-03T00:00:00Z')");
        sql("INSERT INTO outbox (topic, key, payload, entity_id, version, created_at) VALUES "
            "('hub.entities.public', 'E1', '\\x00', 1, 3, '2026-02-02T00:00:02Z'),"
            "('hub.entities.shared', 'E1', '\\x00', 1, 3, '2026-02-02T00:00:02Z')");
        sql("UPDATE outbox SET sent_at = now() WHERE topic = 'hub.entities.public'");

        assert_run(0, "status");
        assert_has(out, "entities: 1 active (2 in all, 1 merged, 0 withdrawn), 3 identifiers\n");
        assert_has(out, "records: 2 accepted in 2 batches, 3 rejected\n");
        assert_has(out, "outbox: 1 unsent, oldest from 2026-02-02T00:00:02Z\n");
        const char *hq = strstr(out, "\nMOF-HQ ");
        assert_non_null(hq);
        assert_has(hq, "KEY_REVOKED=2");
        assert_has(out, "2026-02-01T00:00:01Z");
        assert_has(out, "rejected, agency unknown: MALFORMED=1\n");
        char want[160];
        snprintf(want, sizeof(want), "agency.MOF-HQ.reports            [0] stored %lld, end %lld, "
                                     "lag 2\n",
                 (long long)high, (long long)high + 2);
        assert_has(out, want);
        /* Newest first, with reason and message. */
        const char *last = strstr(out, "last errors:\n");
        assert_non_null(last);
        assert_has(last, "2026-03-03T00:00:00Z ? MALFORMED agency.MOIT-QLTT.reports [1] @4: not a "
                         "batch\n");
        assert_has(last, "2026-03-02T00:00:00Z MOF-HQ KEY_REVOKED record hq-9 "
                         "agency.MOF-HQ.reports [2] @11: again\n");
        assert_true(strstr(last, "MALFORMED") < strstr(last, "hq-9"));

        assert_run(0, "status --json --errors 1");
        json_error_t je;
        json_t *doc = json_loads(out, 0, &je);
        assert_non_null(doc);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "totals"),
                                                            "records")),
                         2);
        assert_int_equal(json_array_size(json_object_get(doc, "last_errors")), 1);
        json_t *k = json_object_get(doc, "kafka");
        assert_true(json_is_true(json_object_get(k, "reachable")));
        assert_true(json_integer_value(json_object_get(k, "total_lag")) >= 2);
        json_decref(doc);

        /* Kafka down: said so, and the database part is still shown. */
        assert_run(0, "--brokers 127.0.0.1:1 status");
        assert_has(out, "consumer lag (kafka 127.0.0.1:1): unknown: ");
        assert_has(out, "records: 2 accepted in 2 batches, 3 rejected\n");
        assert_has(out, "last errors:\n");
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: itest_hubctl PATH-TO-hubctl FIXTURE.sql\n");
                return 1;
        }
        hubctl = argv[1];
        fixture = argv[2];
        hub_test_service("HUB_PG_DSN");
        brokers = hub_test_service("HUB_KAFKA_BROKERS");
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/itest_hubctl.XXXXXX");
        if (!mkdtemp(tmpdir))
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_database_unreachable_or_uninitialised, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_init_twice, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agency, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_generate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_register_revoke_list, setup, teardown),
                cmocka_unit_test(test_fixture_normal_forms),
                cmocka_unit_test_setup_teardown(test_query, setup, teardown),
                cmocka_unit_test_setup_teardown(test_entity_show, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_filled, setup, teardown),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        free(out);
        free(err);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", tmpdir);
        return rc;
}
