/* Resolution does not depend on the order records arrive in (hub/store/README.md, "Order").
 *
 * hubd reads the agencies' topics in whatever order the broker delivers them. This test maps
 * the shared dev data (44 records of five agencies) with the agencies' own connector mappings
 * (the .ini files of connectors/examples), signs the batches with each agency's key and
 * ingests them with hub_ingest_message() (as hubd does, without the broker: the order is the
 * point here) into a fresh database per order, 30 orders:
 *
 *   - the five rotations of the agency order, each with the records of every agency in file
 *     order and reversed;
 *   - each of those with one record per batch, with one batch per agency, and interleaved
 *     (the first record of every agency, then the second, ..., one per batch).
 *
 * For every order it asserts what a user sees in PostgreSQL and in the published views:
 *   - the clusters (records grouped by their surviving entity) equal `_truth_entity`;
 *   - the links and open candidates, as pairs of clusters with their kind (or score), are the
 *     same as in the first order;
 *   - the final published view of every live entity in every tier (kind, names in display
 *     order, identifiers, categories, sources; not its id, version or time) is the same;
 *   - the transposed personal id is the one demoted, whichever record came first;
 * and, in a small case of its own, that the swapped personal id is demoted when it comes with a
 * shared tax code (no merge at all) first or last. It prints a one-line summary per order.
 *
 * Usage: itest_order (HUB_SOURCE_ROOT, HUB_SHARED_DIR, HUB_PG_DSN from the environment). */
#include "testdb.h"
#include "testutil.h"

#include <hub/batch.h>
#include <hub/entity.h>
#include <hub/ingest.h>
#include <hub/keyfile.h>
#include <hub/mapping.h>
#include <hub/report.h>
#include <hub/store.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_AGENCIES 5
#define MAX_RECS 128
#define MAX_LINES 512

static const char *const mapping_files[N_AGENCIES] = {"moit-qltt.ini", "mof-hq.ini",
                                                      "mof-thue.ini", "mic.ini", "bca.ini"};

struct agency {
        char code[32], topic[64], key_id[48];
        uint8_t pk[32], sk[64];
        unsigned char *recs[MAX_RECS];
        size_t lens[MAX_RECS];
        char *rids[MAX_RECS];
        size_t n;
};

static struct agency agencies[N_AGENCIES];
static hub_report_codec_t *codec;
static hub_entity_codec_t *ecodec;
static hub_key_t hub_key;
static json_t *truth; /* record_id -> _truth_entity */
static int failures;

/* What one order produced, each part a sorted list of lines. */
struct outcome {
        char *links[MAX_LINES], *cands[MAX_LINES], *views[MAX_LINES];
        size_t n_links, n_cands, n_views;
};

static void check(bool ok, const char *order, const char *what)
{
        if (!ok) {
                printf("FAIL %s: %s\n", order, what);
                failures++;
        }
}

static void die(const char *what, const char *why)
{
        fprintf(stderr, "itest_order: %s: %s\n", what, why);
        exit(1);
}

/* ---- data: the dev rows through the agencies' mappings ---- */

static void load_data(void)
{
        const char *dev = hub_test_shared_path("data/agency_records.dev.jsonl");
        char devpath[1024];
        snprintf(devpath, sizeof(devpath), "%s", dev);
        truth = json_object();
        for (int g = 0; g < N_AGENCIES; g++) {
                char sub[128];
                snprintf(sub, sizeof(sub), "connectors/examples/%s", mapping_files[g]);
                hub_mapping_t *m = NULL;
                hub_err_t err = {0};
                if (hub_mapping_load(hub_test_source_path(sub), &m, &err))
                        die(sub, err.msg);
                struct agency *a = &agencies[g];
                snprintf(a->code, sizeof(a->code), "%.31s", hub_mapping_agency(m));
                snprintf(a->topic, sizeof(a->topic), "agency.%.31s.reports", a->code);
                snprintf(a->key_id, sizeof(a->key_id), "%.31s/1", a->code);
                crypto_sign_keypair(a->pk, a->sk);
                FILE *f = fopen(devpath, "r");
                if (!f)
                        die(devpath, "cannot open");
                char line[16384];
                while (fgets(line, sizeof(line), f)) {
                        json_error_t je;
                        json_t *row = json_loads(line, 0, &je);
                        if (!row)
                                continue;
                        const char *rid = json_string_value(json_object_get(row, "record_id"));
                        const char *t = json_string_value(json_object_get(row, "_truth_entity"));
                        if (rid && t)
                                json_object_set_new(truth, rid, json_string(t));
                        json_t *rep = NULL;
                        const char *reason = NULL;
                        int rc = hub_mapping_apply(m, row, &rep, &reason, NULL, &err);
                        if (rc < 0)
                                die(rid ? rid : "row", err.msg);
                        if (rc == HUB_MAP_RECORD) {
                                if (a->n == MAX_RECS)
                                        die(a->code, "too many records");
                                if (hub_report_encode_json(codec, rep, &a->recs[a->n],
                                                           &a->lens[a->n], &err))
                                        die(rid ? rid : "row", err.msg);
                                a->rids[a->n++] = strdup(json_string_value(
                                        json_object_get(rep, "record_id")));
                                json_decref(rep);
                        }
                        json_decref(row);
                }
                fclose(f);
                hub_mapping_free(m);
        }
}

/* ---- one order ---- */

struct order {
        char name[64];
        int rotation;  /* the first agency */
        bool reversed; /* each agency's records last to first */
        enum { BY_ONE, BY_AGENCY, INTERLEAVED } mode; /* one record per batch, one batch per
                                                        agency, one record of each in turn */
};

static PGresult *query(PGconn *c, const char *q)
{
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
                die(q, PQresultErrorMessage(r));
        return r;
}

static unsigned char *sign(const struct agency *a, unsigned char **recs, const size_t *lens,
                           size_t n, size_t *out_len)
{
        static int64_t seq;
        hub_batch_header_t h = {.agency = a->code,
                                .key_id = a->key_id,
                                .producer_id = "itest-order",
                                .batch_seq = seq++,
                                .created_at_ms = (int64_t)time(NULL) * 1000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
        hub_batch_builder_t *b = NULL;
        hub_err_t err = {0};
        unsigned char *out = NULL;
        if (hub_batch_builder_new(&h, NULL, &b, &err))
                die("batch", err.msg);
        for (size_t i = 0; i < n; i++)
                if (hub_batch_builder_add(b, recs[i], lens[i], &err))
                        die("batch add", err.msg);
        if (hub_batch_builder_finish(b, a->sk, 64, &out, out_len, &err))
                die("batch sign", err.msg);
        hub_batch_builder_free(b);
        return out;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The truth label of canonical entity id (every record of it has the same label when the
 * clusters are right; otherwise the labels joined). */
static const char *label_of(json_t *labels, const char *id)
{
        const char *l = json_string_value(json_object_get(labels, id));
        return l ? l : "?";
}

/* "<a><sep><b> <c>", malloc'd. */
static char *fmt(const char *a, char sep, const char *b, const char *c)
{
        size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
        char *s = malloc(n);
        if (!s)
                die("memory", "out of memory");
        snprintf(s, n, "%s%c%s %s", a, sep, b, c);
        return s;
}

/* The pair of labels in a stable order. */
static void pair(json_t *labels, const char *x, const char *y, const char **a, const char **b)
{
        *a = label_of(labels, x);
        *b = label_of(labels, y);
        if (strcmp(*a, *b) > 0) {
                const char *t = *a;
                *a = *b;
                *b = t;
        }
}

static PGconn *base; /* the service's maintenance database */
static char template_name[96];

/* The template: migrated, the five agencies and their keys registered. */
static void make_template(char *dsn, size_t cap)
{
        hub_test_fresh_db("order_tmpl", dsn, cap);
        const char *p = strstr(dsn, "dbname=hub_t_");
        snprintf(template_name, sizeof(template_name), "%s", p ? p + 7 : "");
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        if (hub_store_open(dsn, &s, &err) || hub_store_migrate(s, NULL, &err))
                die("store", err.msg);
        for (int g = 0; g < N_AGENCIES; g++) {
                char q[512], hex[65];
                sodium_bin2hex(hex, sizeof(hex), agencies[g].pk, 32);
                snprintf(q, sizeof(q),
                         "INSERT INTO agencies (code, name) VALUES ('%.31s', 'test');"
                         "INSERT INTO agency_keys (agency, key_id, public_key, valid_from) "
                         "VALUES ('%.31s', '%.47s', '\\x%s', '2020-01-01')",
                         agencies[g].code, agencies[g].code, agencies[g].key_id, hex);
                PQclear(query(hub_store_conn(s), q));
        }
        hub_store_close(s);
}

static void run_order(const struct order *o, struct outcome *out)
{
        /* A copy of the migrated template with the agencies: CREATE DATABASE ... TEMPLATE is
         * much faster than running the migrations 30 times. */
        static int n_db;
        char name[96], dsn[640], q[256];
        snprintf(name, sizeof(name), "hub_t_order_%ld_%d", (long)getpid(), n_db++);
        snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", name);
        PQclear(query(base, q));
        snprintf(q, sizeof(q), "CREATE DATABASE %s TEMPLATE %s", name, template_name);
        PQclear(query(base, q));
        snprintf(dsn, sizeof(dsn), "%s dbname=%s", hub_test_service("HUB_PG_DSN"), name);
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        if (hub_store_open(dsn, &s, &err))
                die("store", err.msg);
        PGconn *c = hub_store_conn(s);
        hub_ingest_t *ing = NULL;
        hub_ingest_opts_t opts = {.hub_key = &hub_key};
        if (hub_ingest_new(s, &opts, &ing, &err))
                die("ingest", err.msg);
        size_t accepted = 0, most = 0;
        int64_t off[N_AGENCIES] = {0};
        for (int g = 0; g < N_AGENCIES; g++)
                most = agencies[g].n > most ? agencies[g].n : most;
        /* by 1 and by agency: agency after agency; interleaved: record i of every agency in
         * turn, then record i + 1. */
        size_t rounds = o->mode == INTERLEAVED ? most : 1;
        for (size_t round = 0; round < rounds; round++)
                for (int k = 0; k < N_AGENCIES; k++) {
                        int g = (o->rotation + k) % N_AGENCIES;
                        struct agency *a = &agencies[g];
                        unsigned char *recs[MAX_RECS];
                        size_t lens[MAX_RECS];
                        for (size_t i = 0; i < a->n; i++) {
                                size_t j = o->reversed ? a->n - 1 - i : i;
                                recs[i] = a->recs[j];
                                lens[i] = a->lens[j];
                        }
                        size_t from = o->mode == INTERLEAVED ? round : 0,
                               to = o->mode == INTERLEAVED ? round + 1 : a->n,
                               per = o->mode == BY_AGENCY ? a->n : 1;
                        for (size_t i = from; i < to && i < a->n; i += per, off[g]++) {
                                size_t len = 0;
                                unsigned char *buf = sign(a, recs + i, lens + i, per, &len);
                                hub_ingest_msg_t m = {a->topic, 0, off[g], buf, len,
                                                      off[g] ? off[g] : -1};
                                hub_ingest_result_t res;
                                if (hub_ingest_message(ing, &m, &res, &err))
                                        die(o->name, err.msg);
                                if (res.rejected || res.batch_rejected)
                                        die(o->name, res.message);
                                accepted += res.accepted;
                                free(buf);
                        }
                }
        hub_ingest_free(ing);

        /* Clusters: canonical entity -> records. */
        PGresult *r = query(c, "SELECT hub_canonical(entity_id)::text, record_id FROM records "
                               "ORDER BY 1, 2");
        json_t *labels = json_object(), *members = json_object();
        for (int i = 0; i < PQntuples(r); i++) {
                const char *e = PQgetvalue(r, i, 0), *rid = PQgetvalue(r, i, 1);
                const char *t = json_string_value(json_object_get(truth, rid));
                json_t *m = json_object_get(members, e);
                if (!m)
                        json_object_set_new(members, e, m = json_array());
                json_array_append_new(m, json_string(t ? t : "?"));
        }
        int clusters = PQntuples(r) ? (int)json_object_size(members) : 0;
        bool clusters_ok = (size_t)PQntuples(r) == json_object_size(truth);
        json_t *seen_truth = json_object();
        const char *e;
        json_t *m;
        json_object_foreach(members, e, m) {
                const char *first = json_string_value(json_array_get(m, 0));
                for (size_t i = 1; i < json_array_size(m); i++)
                        if (strcmp(first, json_string_value(json_array_get(m, i))) != 0) {
                                printf("  %s: E%s mixes %s and %s\n", o->name, e, first,
                                       json_string_value(json_array_get(m, i)));
                                clusters_ok = false;
                        }
                if (json_object_get(seen_truth, first)) {
                        printf("  %s: %s is split over several entities\n", o->name, first);
                        clusters_ok = false;
                }
                json_object_set_new(seen_truth, first, json_true());
                json_object_set_new(labels, e, json_string(first));
        }
        {
                /* Every true entity has its one cluster. */
                json_t *all = json_object();
                const char *k;
                json_t *v;
                json_object_foreach(truth, k, v) json_object_set(all, json_string_value(v), v);
                clusters_ok &= json_object_size(all) == json_object_size(seen_truth);
                json_decref(all);
        }
        PQclear(r);
        check(clusters_ok, o->name, "clusters differ from _truth_entity");

        r = query(c, "SELECT entity_a::text, entity_b::text, kind FROM links");
        for (int i = 0; i < PQntuples(r) && out->n_links < MAX_LINES; i++) {
                const char *a, *b;
                pair(labels, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &a, &b);
                out->links[out->n_links++] = fmt(a, '-', b, PQgetvalue(r, i, 2));
        }
        PQclear(r);
        r = query(c, "SELECT entity_a::text, entity_b::text, round(score::numeric, 3)::text "
                     "FROM candidates WHERE status = 'open'");
        for (int i = 0; i < PQntuples(r) && out->n_cands < MAX_LINES; i++) {
                const char *a, *b;
                pair(labels, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &a, &b);
                out->cands[out->n_cands++] = fmt(a, '-', b, PQgetvalue(r, i, 2));
        }
        PQclear(r);

        /* The last view of every live entity in every tier. */
        r = query(c, "SELECT DISTINCT ON (o.topic, o.entity_id) o.topic, o.entity_id::text, "
                     "o.payload FROM outbox o JOIN entities e ON e.id = o.entity_id "
                     "WHERE o.topic LIKE 'hub.entities.%' AND e.merged_into IS NULL "
                     "ORDER BY o.topic, o.entity_id, o.id DESC");
        for (int i = 0; i < PQntuples(r) && out->n_views < MAX_LINES; i++) {
                size_t len = 0;
                unsigned char *bytes =
                        PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &len);
                avro_value_t *v = NULL;
                json_t *j = NULL;
                if (hub_entity_open(ecodec, bytes, len, 0, &hub_key, &v, NULL, &err) ||
                    hub_entity_to_json(v, &j, &err))
                        die("open a published view", err.msg);
                PQfreemem(bytes);
                json_object_del(j, "entity_id");
                json_object_del(j, "version");
                json_object_del(j, "updated_at");
                char *dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
                out->views[out->n_views++] =
                        fmt(PQgetvalue(r, i, 0), ' ',
                            label_of(labels, PQgetvalue(r, i, 1)), dump);
                free(dump);
                json_decref(j);
        }
        PQclear(r);
        qsort(out->links, out->n_links, sizeof(char *), cmp_str);
        qsort(out->cands, out->n_cands, sizeof(char *), cmp_str);
        qsort(out->views, out->n_views, sizeof(char *), cmp_str);

        /* The transposed personal id is the demoted one. */
        r = query(c, "SELECT (SELECT count(*) FROM identifiers WHERE value = '079078006824'),"
                     " (SELECT count(*) FROM identifiers WHERE type = 'PERSONAL_ID' AND"
                     "  value = '079078006842'),"
                     " (SELECT count(*) FROM statements WHERE value = '079078006824' AND"
                     "  flag = 'SUSPECT_TRANSPOSITION'),"
                     " (SELECT count(*) FROM statements WHERE value = '079078006842' AND"
                     "  flag IS NOT NULL)");
        check(strcmp(PQgetvalue(r, 0, 0), "0") == 0 && strcmp(PQgetvalue(r, 0, 1), "1") == 0 &&
                      strcmp(PQgetvalue(r, 0, 2), "0") != 0 &&
                      strcmp(PQgetvalue(r, 0, 3), "0") == 0,
              o->name, "079078006824 is not the demoted personal id");
        if (strcmp(PQgetvalue(r, 0, 0), "0") != 0 || strcmp(PQgetvalue(r, 0, 3), "0") != 0) {
                PGresult *d = query(c, "SELECT string_agg(s.value || ' ' || s.record_id || ' ' "
                                       "|| coalesce(s.flag, '-') || ' E' || s.entity_id || ' ' || "
                                       "coalesce((SELECT 'id E' || entity_id FROM identifiers i "
                                       "WHERE i.value = s.value AND i.type = 'PERSONAL_ID'), "
                                       "'no id'), '; ' ORDER BY s.id) FROM statements s WHERE "
                                       "s.value IN ('079078006824', '079078006842')");
                printf("  %s: %s\n", o->name, PQgetvalue(d, 0, 0));
                PQclear(d);
        }
        PQclear(r);

        r = query(c, "SELECT (SELECT count(*) FROM merges), (SELECT count(*) FROM entities), "
                     "(SELECT string_agg(n::text, '/' ORDER BY topic) FROM (SELECT topic, "
                     "count(DISTINCT entity_id) n FROM outbox WHERE topic LIKE 'hub.entities.%' "
                     "GROUP BY topic) t)");
        /* Live entities per tier (the views, sorted by topic) against every entity id ever
         * published there (redirects of entities made apart and merged later included). */
        char live[64] = "";
        for (size_t i = 0, k = 0; i < out->n_views; i = k) {
                const char *sp = strchr(out->views[i], ' ');
                size_t tl = sp ? (size_t)(sp - out->views[i]) : 0;
                for (k = i; k < out->n_views && strncmp(out->views[k], out->views[i], tl) == 0 &&
                            out->views[k][tl] == ' ';
                     k++)
                        ;
                size_t used = strlen(live);
                snprintf(live + used, sizeof(live) - used, "%s%zu", used ? "/" : "", k - i);
        }
        printf("%-30s records %zu entities %d (made %s, merges %s) links %zu candidates %zu; "
               "per tier live %s, ever published %s%s\n",
               o->name, accepted, clusters, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0),
               out->n_links, out->n_cands, live, PQgetvalue(r, 0, 2),
               clusters_ok ? "" : " CLUSTERS WRONG");
        PQclear(r);
        json_decref(labels);
        json_decref(members);
        json_decref(seen_truth);
        hub_store_close(s);
        hub_test_drop_db(dsn);
}

/* A transposed personal id that arrives through a shared tax code, with no merge at all: the
 * three records of one household business all carry its tax code; one carries a personal id
 * with two digits swapped and is reported last. Whichever record comes first, the swapped id
 * ends demoted (one record against two) and the right one kept and unflagged. */
static unsigned char *pid_report(const char *rid, int64_t reported_ms, const char *pid,
                                 size_t *len)
{
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}],"
                              " s:[s], s:{s:s, s:[]}}",
                              "record_id", rid, "agency", agencies[0].code, "reported_at",
                              (json_int_t)reported_ms, "subject_kind", "HOUSEHOLD_BUSINESS",
                              "names", "value", "Hộ kinh doanh Thứ Tự", "kind", "LEGAL",
                              "identifiers", "type", "TAX_CODE", "value", "0399123457", "type",
                              "PERSONAL_ID", "value", pid, "violation_categories", "HANG_GIA",
                              "sensitivity", "tier", "SHARED", "recipients");
        unsigned char *out = NULL;
        hub_err_t err = {0};
        if (!j || hub_report_encode_json(codec, j, &out, len, &err))
                die("encode", j ? err.msg : "json_pack");
        json_decref(j);
        return out;
}

static void run_transposition(bool reversed)
{
        static const char *const rids[3] = {"T-1", "T-2", "T-3"};
        static const int64_t at[3] = {1740787200000, 1743465600000, 1756684800000};
        static const char *const pids[3] = {"001190012345", "001190012345", "001190012354"};
        char name[96], dsn[640], q[256];
        snprintf(name, sizeof(name), "hub_t_order_%ld_pid%d", (long)getpid(), reversed);
        snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", name);
        PQclear(query(base, q));
        snprintf(q, sizeof(q), "CREATE DATABASE %s TEMPLATE %s", name, template_name);
        PQclear(query(base, q));
        snprintf(dsn, sizeof(dsn), "%s dbname=%s", hub_test_service("HUB_PG_DSN"), name);
        hub_store_t *s = NULL;
        hub_ingest_t *ing = NULL;
        hub_err_t err = {0};
        hub_ingest_opts_t opts = {.hub_key = &hub_key};
        if (hub_store_open(dsn, &s, &err) || hub_ingest_new(s, &opts, &ing, &err))
                die("store", err.msg);
        for (int k = 0; k < 3; k++) {
                int i = reversed ? 2 - k : k;
                size_t rlen = 0, len = 0;
                unsigned char *rec = pid_report(rids[i], at[i], pids[i], &rlen);
                unsigned char *buf = sign(&agencies[0], &rec, &rlen, 1, &len);
                hub_ingest_msg_t m = {agencies[0].topic, 0, k, buf, len, k ? k : -1};
                hub_ingest_result_t res;
                if (hub_ingest_message(ing, &m, &res, &err))
                        die("transposition", err.msg);
                if (res.rejected || res.batch_rejected)
                        die("transposition", res.message);
                free(rec);
                free(buf);
        }
        hub_ingest_free(ing);
        PGresult *r = query(hub_store_conn(s),
                            "SELECT (SELECT string_agg(value, ',' ORDER BY value) FROM identifiers"
                            " WHERE type = 'PERSONAL_ID'), (SELECT string_agg(value || ':' || "
                            "coalesce(flag, '-'), ',' ORDER BY value, record_id) FROM statements "
                            "WHERE prop = 'identifier:PERSONAL_ID'), (SELECT count(*) FROM "
                            "entities WHERE merged_into IS NULL)");
        const char *name_o = reversed ? "transposition, swapped id first" :
                                        "transposition, swapped id last";
        printf("%-30s personal ids %s; statements %s; entities %s\n", name_o,
               PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
        check(strcmp(PQgetvalue(r, 0, 0), "001190012345") == 0 &&
                      strcmp(PQgetvalue(r, 0, 1), "001190012345:-,001190012345:-,"
                                                  "001190012354:SUSPECT_TRANSPOSITION") == 0 &&
                      strcmp(PQgetvalue(r, 0, 2), "1") == 0,
              name_o, "the swapped personal id is not the one demoted");
        PQclear(r);
        hub_store_close(s);
        hub_test_drop_db(dsn);
}

/* Lines of a that b lacks, printed with a prefix. */
static size_t only_in(char **a, size_t na, char **b, size_t nb, const char *prefix)
{
        size_t n = 0, shown = 0;
        for (size_t i = 0; i < na; i++) {
                bool found = false;
                for (size_t j = 0; j < nb && !found; j++)
                        found = strcmp(a[i], b[j]) == 0;
                if (!found && shown++ < 4)
                        printf("    %s %.600s\n", prefix, a[i]);
                n += !found;
        }
        return n;
}

static void compare(const char *what, const char *name, char **first, size_t nf, char **got,
                    size_t ng)
{
        bool same = nf == ng;
        for (size_t i = 0; same && i < nf; i++)
                same = strcmp(first[i], got[i]) == 0;
        if (same)
                return;
        printf("  %s: %s differ from the first order's\n", name, what);
        only_in(first, nf, got, ng, "-");
        only_in(got, ng, first, nf, "+");
        check(false, name, what);
}

static void free_outcome(struct outcome *o)
{
        for (size_t i = 0; i < o->n_links; i++)
                free(o->links[i]);
        for (size_t i = 0; i < o->n_cands; i++)
                free(o->cands[i]);
        for (size_t i = 0; i < o->n_views; i++)
                free(o->views[i]);
}

int main(void)
{
        hub_test_service("HUB_PG_DSN");
        hub_err_t err = {0};
        if (sodium_init() < 0)
                die("libsodium", "cannot initialise");
        if (hub_report_codec_new(&codec, &err) || hub_entity_codec_new(&ecodec, &err) ||
            hub_key_generate("HUB", "HUB/1", &hub_key, &err))
                die("setup", err.msg);
        load_data();
        size_t total = 0;
        for (int g = 0; g < N_AGENCIES; g++)
                total += agencies[g].n;
        json_t *labels = json_object();
        const char *rid;
        json_t *label;
        json_object_foreach(truth, rid, label) json_object_set(labels, json_string_value(label),
                                                               label);
        printf("%zu records of %d agencies, %zu true entities\n", total, N_AGENCIES,
               json_object_size(labels));
        json_decref(labels);
        if (total != json_object_size(truth))
                die("dev data", "the mappings do not cover every record");

        base = PQconnectdb(hub_test_service("HUB_PG_DSN"));
        if (PQstatus(base) != CONNECTION_OK)
                die("PostgreSQL", PQerrorMessage(base));
        char template_dsn[640];
        make_template(template_dsn, sizeof(template_dsn));
        static struct outcome first, got;
        int n_orders = 0;
        static const char *const modes[] = {" by 1", " by agency", " interleaved"};
        for (int mode = BY_ONE; mode <= INTERLEAVED; mode++)
                for (int rev = 0; rev <= 1; rev++)
                        for (int rot = 0; rot < N_AGENCIES; rot++) {
                                struct order o = {.rotation = rot, .reversed = rev,
                                                  .mode = mode};
                                snprintf(o.name, sizeof(o.name), "%.31s%s%s",
                                         agencies[rot].code, rev ? " reversed" : "",
                                         modes[mode]);
                                struct outcome *out = n_orders ? &got : &first;
                                memset(out, 0, sizeof(*out));
                                run_order(&o, out);
                                if (n_orders++) {
                                        compare("links", o.name, first.links, first.n_links,
                                                got.links, got.n_links);
                                        compare("open candidates", o.name, first.cands,
                                                first.n_cands, got.cands, got.n_cands);
                                        compare("published views", o.name, first.views,
                                                first.n_views, got.views, got.n_views);
                                        free_outcome(&got);
                                }
                        }
        free_outcome(&first);
        run_transposition(false);
        run_transposition(true);
        PQfinish(base);
        hub_test_drop_db(template_dsn);
        for (int g = 0; g < N_AGENCIES; g++)
                for (size_t i = 0; i < agencies[g].n; i++) {
                        free(agencies[g].recs[i]);
                        free(agencies[g].rids[i]);
                }
        json_decref(truth);
        hub_entity_codec_free(ecodec);
        hub_report_codec_free(codec);
        hub_key_wipe(&hub_key);
        if (failures) {
                printf("FAIL: %d check(s) failed over %d orders\n", failures, n_orders);
                return 1;
        }
        printf("ok: %d orders, the same clusters, links, candidates and views; the swapped "
               "personal id demoted in either order\n", n_orders);
        return 0;
}
