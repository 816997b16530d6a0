/* The ingest benchmark: generated reports (tests/tools/gen_reports.py --shape report) encoded
 * with the report codec, grouped per agency into signed batches and fed to hub_ingest_message()
 * directly, as hubd does once per Kafka message, into a fresh PostgreSQL database. The broker
 * is left out on purpose: this measures the hub's own work (decode, verify, extract, resolve,
 * store, sign the entity views), not Kafka's.
 *
 * The machine is shared and noisy, so every figure comes with a baseline measured in the same
 * run: right after each ingested batch, the same record bytes are COPY'd raw, in a transaction
 * of their own, into a table with a primary key and one index (bench_raw). Interleaving batch
 * by batch exposes both to the same noise; the ratio is the figure that means something. No
 * time is asserted: the program fails only when the hub rejects or loses a record.
 *
 * Per-record cost is reported per window of records, so that the cost once 10k entities exist
 * can be compared with the cost at the end (it should stay flat: index lookups, no scans).
 * --explain FILE writes the plans (auto_explain with ANALYZE) of every query of one batch in the
 * early window and of one near the end; those two batches are left out of the timings.
 * --hot N then adds N records naming one violator (an entity that keeps growing), which shows
 * what a change costs as an entity gets big.
 *
 * Usage: bench_ingest [options] REPORTS.jsonl  (needs HUB_PG_DSN; --help) */
#define _DEFAULT_SOURCE
#include "testdb.h"
#include "testutil.h"

#include <hub/batch.h>
#include <hub/ingest.h>
#include <hub/keyfile.h>
#include <hub/registry.h>
#include <hub/report.h>
#include <hub/store.h>
#include <hub/timestamp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_AGENCIES 16
#define EARLY_ENTITIES 10000
/* A tax code with a valid check digit, for the hot entity (fictional). */
#define HOT_TAX_CODE "0312687878"

struct agency {
        char code[HUB_BATCH_MAX_ID_BYTES + 1];
        char topic[HUB_BATCH_MAX_ID_BYTES + 32];
        char key_id[HUB_BATCH_MAX_ID_BYTES + 4];
        uint8_t pk[HUB_PK_BYTES], sk[HUB_SK_BYTES];
        int64_t offset; /* batches sent: the next offset of partition 0 of its topic */
        /* the batch being filled: Avro bytes, record ids and one identifier per record */
        unsigned char **recs;
        size_t *lens;
        char **rids, **idents;
        size_t n;
};

/* Time spent over some records, by the hub and by the raw baseline. */
struct span {
        size_t records;
        double ingest_s, raw_s;
        double cpu_s; /* this process's CPU time inside ingest: hubd's own code, not the server */
};

struct bench {
        size_t max_records, batch_size, window, hot, hot_batch;
        const char *explain_path;
        bool keep;
        char dsn[512];
        hub_store_t *store; /* the hub's connection */
        PGconn *obs;        /* the baseline's and the observer's connection */
        hub_ingest_t *ing;
        hub_report_codec_t *codec;
        hub_key_t hub_key;
        struct agency ag[MAX_AGENCIES];
        size_t n_ag;
        size_t expected; /* records the run will feed */
        /* results */
        struct span total, win, early, late, hot_total, hot_early, hot_late;
        int64_t win_entities; /* entities when the current window started */
        int64_t early_entities, late_entities;
        size_t early_at, late_at, fed;
        bool have_early;
        size_t batches, accepted, duplicates, rejected, explained;
        double prep_s;
        FILE *explain;
        int explain_stage; /* 0: early batch to come, 1: late batch to come, 2: done */
        bool explaining;
        struct plan {
                char text[96];
                double ms;
                size_t count;
        } plans[64];
        size_t n_plans, fk_checks;
        double fk_ms;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("bench_ingest: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

static double now_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void exec_obs(struct bench *b, const char *sql)
{
        PGresult *r = PQexec(b->obs, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
                die("%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
}

static long long scalar(struct bench *b, const char *sql)
{
        PGresult *r = PQexec(b->obs, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                die("%s: %s", sql, PQresultErrorMessage(r));
        long long v = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        return v;
}

/* Entities so far, without counting rows: the sequence hands out one id per new entity (no
 * transaction rolls back in this run). */
static int64_t entities_now(struct bench *b)
{
        return scalar(b, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                         "FROM entities_id_seq");
}

/* ---- setup ---- */

static struct agency *agency_of(struct bench *b, const char *code)
{
        for (size_t i = 0; i < b->n_ag; i++)
                if (strcmp(b->ag[i].code, code) == 0)
                        return &b->ag[i];
        if (b->n_ag == MAX_AGENCIES)
                die("more than %d agencies in the input", MAX_AGENCIES);
        struct agency *a = &b->ag[b->n_ag++];
        memset(a, 0, sizeof(*a));
        snprintf(a->code, sizeof(a->code), "%s", code);
        snprintf(a->topic, sizeof(a->topic), "agency.%s.reports", code);
        snprintf(a->key_id, sizeof(a->key_id), "%s/1", code);
        crypto_sign_keypair(a->pk, a->sk);
        a->recs = calloc(b->batch_size, sizeof(*a->recs));
        a->lens = calloc(b->batch_size, sizeof(*a->lens));
        a->rids = calloc(b->batch_size, sizeof(*a->rids));
        a->idents = calloc(b->batch_size, sizeof(*a->idents));
        if (!a->recs || !a->lens || !a->rids || !a->idents)
                die("out of memory");
        hub_err_t err = {0};
        if (hub_registry_agency_add(b->store, code, "bench agency", HUB_TS_NONE, &err))
                die("could not add agency %s: %s", code, err.msg);
        hub_key_registration_t reg = {.agency = code, .key_id = a->key_id,
                                      .valid_from = INT64_C(1577836800000000), /* 2020 */
                                      .valid_until = HUB_TS_NONE};
        memcpy(reg.public_key, a->pk, HUB_PK_BYTES);
        if (hub_registry_key_register(b->store, &reg, &err))
                die("could not register the key of %s: %s", code, err.msg);
        return a;
}

static void setup(struct bench *b)
{
        hub_test_fresh_db("bench", b->dsn, sizeof(b->dsn));
        hub_err_t err = {0};
        if (hub_store_open(b->dsn, &b->store, &err) || hub_store_migrate(b->store, NULL, &err))
                die("could not prepare the database: %s", err.msg);
        b->obs = PQconnectdb(b->dsn);
        if (PQstatus(b->obs) != CONNECTION_OK)
                die("could not connect: %s", PQerrorMessage(b->obs));
        /* The baseline: the same bytes, a primary key and one index on a random-looking value
         * (the record's first identifier), as the hub's identifiers index is. */
        exec_obs(b, "CREATE TABLE bench_raw (agency text NOT NULL, record_id text NOT NULL,"
                    " ident text, payload bytea NOT NULL, PRIMARY KEY (agency, record_id));"
                    "CREATE INDEX bench_raw_ident ON bench_raw (ident)");
        if (hub_key_generate("HUB", "HUB/1", &b->hub_key, &err))
                die("could not make the hub's key: %s", err.msg);
        hub_ingest_opts_t opts = {.hub_key = &b->hub_key};
        if (hub_report_codec_new(&b->codec, &err) || hub_ingest_new(b->store, &opts, &b->ing, &err))
                die("could not make the ingester: %s", err.msg);
}

/* ---- explain ---- */

/* One auto_explain notice: "duration: X ms  plan:\nQuery Text: ...\n<plan>". The foreign-key
 * checks PostgreSQL runs per inserted row are summed, not written: thousands per batch. */
static void plan_notice(void *arg, const char *message)
{
        struct bench *b = arg;
        if (!b->explaining || !b->explain)
                return;
        const char *d = strstr(message, "duration: ");
        const char *q = strstr(message, "Query Text: ");
        double ms = d ? atof(d + 10) : 0.0;
        if (strstr(message, "FOR KEY SHARE OF x")) {
                b->fk_checks++;
                b->fk_ms += ms;
                return;
        }
        fputs(message, b->explain);
        if (!q)
                return;
        /* Summed per query text: a per-record query shows as one line with its count. */
        char text[sizeof(b->plans[0].text)];
        q += 12;
        size_t n = strcspn(q, "\n");
        snprintf(text, sizeof(text), "%.*s", (int)(n < 90 ? n : 90), q);
        size_t i = 0;
        while (i < b->n_plans && strcmp(b->plans[i].text, text) != 0)
                i++;
        if (i == sizeof(b->plans) / sizeof(b->plans[0]))
                i--; /* the last line collects the rest */
        else if (i == b->n_plans)
                memcpy(b->plans[b->n_plans++].text, text, sizeof(text));
        b->plans[i].ms += ms;
        b->plans[i].count++;
}

static void explain_begin(struct bench *b, const char *label)
{
        hub_err_t err = {0};
        fprintf(b->explain, "\n==== %s ====\n", label);
        b->n_plans = 0;
        memset(b->plans, 0, sizeof(b->plans));
        b->fk_checks = 0;
        b->fk_ms = 0.0;
        PQsetNoticeProcessor(hub_store_conn(b->store), plan_notice, b);
        if (hub_store_exec(b->store,
                           "LOAD 'auto_explain'; SET auto_explain.log_level = notice;"
                           " SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;"
                           " SET auto_explain.log_min_duration = 0",
                           &err))
                die("could not enable auto_explain: %s", err.msg);
        b->explaining = true;
}

/* The explained batch's queries, slowest first, on stdout. */
static int by_ms(const void *x, const void *y)
{
        double a = ((const struct plan *)x)->ms, c = ((const struct plan *)y)->ms;
        return (a < c) - (a > c);
}

static void explain_end(struct bench *b, const char *label, size_t records, double total_s)
{
        hub_err_t err = {0};
        if (hub_store_exec(b->store, "SET auto_explain.log_min_duration = -1", &err))
                die("could not disable auto_explain: %s", err.msg);
        b->explaining = false;
        fflush(b->explain);
        qsort(b->plans, b->n_plans, sizeof(b->plans[0]), by_ms);
        double sum = b->fk_ms;
        size_t queries = 0;
        for (size_t i = 0; i < b->n_plans; i++) {
                sum += b->plans[i].ms;
                queries += b->plans[i].count;
        }
        printf("explained %s: records=%zu entities=%" PRId64 " batch_ms=%.1f (with ANALYZE) "
               "queries=%zu queries_ms=%.1f foreign_key_checks=%zu fk_ms=%.1f\n",
               label, records, entities_now(b), total_s * 1e3, queries, sum, b->fk_checks,
               b->fk_ms);
        for (size_t i = 0; i < b->n_plans && i < 10; i++)
                printf("  %9.1f ms %5zux  %s\n", b->plans[i].ms, b->plans[i].count,
                       b->plans[i].text);
        fflush(stdout);
}

/* ---- one batch ---- */

static void append_hex(char **p, const unsigned char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        char *q = *p;
        *q++ = '\\';
        *q++ = '\\';
        *q++ = 'x';
        for (size_t i = 0; i < n; i++) {
                *q++ = hex[s[i] >> 4];
                *q++ = hex[s[i] & 15];
        }
        *p = q;
}

/* Text that needs no COPY escaping (generated record ids and identifiers have no tab,
 * newline or backslash; checked when read). */
static void append_str(char **p, const char *s, char end)
{
        size_t n = strlen(s);
        memcpy(*p, s, n);
        (*p)[n] = end;
        *p += n + 1;
}

/* The baseline for one batch: its records COPY'd raw in one transaction. */
static double raw_copy(struct bench *b, const struct agency *a)
{
        double t0 = now_s();
        size_t cap = 1;
        for (size_t i = 0; i < a->n; i++)
                cap += strlen(a->code) + strlen(a->rids[i]) + strlen(a->idents[i]) +
                       2 * a->lens[i] + 8;
        char *buf = malloc(cap), *p = buf;
        if (!buf)
                die("out of memory");
        for (size_t i = 0; i < a->n; i++) {
                append_str(&p, a->code, '\t');
                append_str(&p, a->rids[i], '\t');
                append_str(&p, a->idents[i], '\t');
                append_hex(&p, a->recs[i], a->lens[i]);
                *p++ = '\n';
        }
        exec_obs(b, "BEGIN");
        PGresult *r = PQexec(b->obs, "COPY bench_raw (agency, record_id, ident, payload) "
                                     "FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN)
                die("raw copy: %s", PQresultErrorMessage(r));
        PQclear(r);
        if (PQputCopyData(b->obs, buf, (int)(p - buf)) != 1 || PQputCopyEnd(b->obs, NULL) != 1)
                die("raw copy: %s", PQerrorMessage(b->obs));
        r = PQgetResult(b->obs);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die("raw copy: %s", PQresultErrorMessage(r));
        PQclear(r);
        while ((r = PQgetResult(b->obs)))
                PQclear(r);
        exec_obs(b, "COMMIT");
        free(buf);
        return now_s() - t0;
}

static unsigned char *sign_batch(struct bench *b, struct agency *a, size_t *len)
{
        hub_batch_header_t h = {.agency = a->code,
                                .key_id = a->key_id,
                                .producer_id = "bench",
                                .batch_seq = a->offset,
                                .created_at_ms = (int64_t)time(NULL) * 1000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(b->codec),
               HUB_BATCH_FINGERPRINT_BYTES);
        hub_batch_builder_t *bb = NULL;
        hub_err_t err = {0};
        unsigned char *out = NULL;
        if (hub_batch_builder_new(&h, NULL, &bb, &err))
                die("batch: %s", err.msg);
        for (size_t i = 0; i < a->n; i++)
                if (hub_batch_builder_add(bb, a->recs[i], a->lens[i], &err))
                        die("batch: %s", err.msg);
        if (hub_batch_builder_finish(bb, a->sk, HUB_SK_BYTES, &out, len, &err))
                die("batch: %s", err.msg);
        hub_batch_builder_free(bb);
        return out;
}

static void add_span(struct span *s, size_t records, double ingest_s, double raw_s,
                     double cpu)
{
        s->records += records;
        s->ingest_s += ingest_s;
        s->raw_s += raw_s;
        s->cpu_s += cpu;
}

static double per_rec_us(double s, size_t records)
{
        return records ? s * 1e6 / (double)records : 0.0;
}

static void print_window(struct bench *b, int64_t entities)
{
        const struct span *w = &b->win;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("window records=%zu entities=%" PRId64 " ingest_us_per_record=%.1f "
               "raw_us_per_record=%.1f ratio=%.2f hub_cpu_us_per_record=%.1f rss_kb=%ld\n",
               b->fed, entities, per_rec_us(w->ingest_s, w->records),
               per_rec_us(w->raw_s, w->records), w->raw_s > 0 ? w->ingest_s / w->raw_s : 0.0,
               per_rec_us(w->cpu_s, w->records), ru.ru_maxrss);
        fflush(stdout);
}

/* After each batch: close the window when it is full, keep the early and the late one. */
static void window_tick(struct bench *b)
{
        if (b->win.records < b->window)
                return;
        int64_t entities = entities_now(b);
        print_window(b, entities);
        if (!b->have_early && b->win_entities >= EARLY_ENTITIES) {
                b->early = b->win;
                b->early_entities = b->win_entities;
                b->early_at = b->fed;
                b->have_early = true;
        }
        b->late = b->win;
        b->late_entities = b->win_entities;
        b->late_at = b->fed;
        memset(&b->win, 0, sizeof(b->win));
        b->win_entities = entities;
}

/* Sign agency a's pending records, ingest them as one Kafka message would be, then the
 * baseline. hot: part of the --hot phase (timed apart). */
static void flush(struct bench *b, struct agency *a, bool hot)
{
        if (!a->n)
                return;
        double p0 = now_s();
        size_t len;
        unsigned char *buf = sign_batch(b, a, &len);
        b->prep_s += now_s() - p0;
        hub_ingest_msg_t m = {a->topic, 0, a->offset, buf, len, a->offset ? a->offset : -1};
        hub_ingest_result_t res;
        hub_err_t err = {0};
        bool explain = false;
        if (b->explain && !hot && b->explain_stage == 0 && b->have_early) {
                explain_begin(b, "a batch just after the early window");
                explain = true;
        } else if (b->explain && !hot && b->explain_stage == 1 &&
                   b->fed + a->n + b->window / 2 >= b->expected) {
                explain_begin(b, "a batch near the end");
                explain = true;
        }
        double c0 = cpu_s(), t0 = now_s();
        int rc = hub_ingest_message(b->ing, &m, &res, &err);
        double t1 = now_s(), cpu = cpu_s() - c0;
        if (explain) {
                explain_end(b, b->explain_stage ? "late" : "early", a->n, t1 - t0);
                b->explain_stage++;
                b->explained += a->n;
        }
        if (rc)
                die("ingest of batch %" PRId64 " of %s failed: %s", a->offset, a->code, err.msg);
        if (res.batch_rejected || res.rejected)
                die("batch %" PRId64 " of %s: %zu records rejected: %s %s", a->offset, a->code,
                    res.rejected, res.reason, res.message);
        a->offset++;
        b->batches++;
        b->accepted += res.accepted;
        b->duplicates += res.duplicates;
        double raw = raw_copy(b, a);
        if (!explain) {
                struct span *s = hot ? &b->hot_total : &b->total;
                add_span(s, a->n, t1 - t0, raw, cpu);
                if (!hot)
                        add_span(&b->win, a->n, t1 - t0, raw, cpu);
        }
        if (hot) {
                size_t at = b->hot_total.records;
                if (at <= b->hot / 10)
                        b->hot_early = b->hot_total;
                if (!explain && at > b->hot - b->hot / 10)
                        add_span(&b->hot_late, a->n, t1 - t0, raw, cpu);
        }
        b->fed += a->n;
        free(buf);
        for (size_t i = 0; i < a->n; i++) {
                free(a->recs[i]);
                free(a->rids[i]);
                free(a->idents[i]);
        }
        a->n = 0;
        if (!hot)
                window_tick(b);
}

/* ---- input ---- */

static bool plain(const char *s)
{
        return s && !strpbrk(s, "\t\n\\");
}

static void add_record(struct bench *b, json_t *j, bool hot)
{
        const char *code = json_string_value(json_object_get(j, "agency"));
        const char *rid = json_string_value(json_object_get(j, "record_id"));
        json_t *id0 = json_array_get(json_object_get(j, "identifiers"), 0);
        const char *ident = id0 ? json_string_value(json_object_get(id0, "value")) : "";
        if (!plain(code) || !plain(rid) || !plain(ident))
                die("record without agency or record_id, or with a tab or backslash in them");
        struct agency *a = agency_of(b, code);
        double p0 = now_s();
        hub_err_t err = {0};
        if (hub_report_encode_json(b->codec, j, &a->recs[a->n], &a->lens[a->n], &err))
                die("record %s: %s", rid, err.msg);
        b->prep_s += now_s() - p0;
        a->rids[a->n] = strdup(rid);
        a->idents[a->n] = strdup(ident);
        if (!a->rids[a->n] || !a->idents[a->n])
                die("out of memory");
        if (++a->n == (hot ? b->hot_batch : b->batch_size))
                flush(b, a, hot);
}

static size_t count_lines(const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                die("could not open %s: %s", path, strerror(errno));
        size_t n = 0;
        int c;
        while ((c = getc_unlocked(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static void feed(struct bench *b, const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                die("could not open %s: %s", path, strerror(errno));
        char *line = NULL;
        size_t cap = 0, n = 0;
        ssize_t len;
        while (n < b->expected && (len = getline(&line, &cap, f)) > 0) {
                json_error_t je;
                json_t *j = json_loadb(line, (size_t)len, 0, &je);
                if (!j)
                        die("%s:%zu: %s", path, n + 1, je.text);
                add_record(b, j, false);
                json_decref(j);
                n++;
        }
        free(line);
        fclose(f);
        for (size_t i = 0; i < b->n_ag; i++)
                flush(b, &b->ag[i], false);
        if (b->win.records >= b->window / 2)
                window_tick(b);
}

/* N records that all carry one tax code: one entity that grows by hot_batch records per
 * batch. Same shape as the generated reports, from the first agency of the input. */
static void feed_hot(struct bench *b)
{
        if (!b->hot || !b->n_ag)
                return;
        for (size_t i = 0; i < b->hot; i++) {
                char rid[64], phone[32];
                snprintf(rid, sizeof(rid), "HOT-%08zu", i);
                snprintf(phone, sizeof(phone), "09%08zu", i);
                json_t *j = json_pack(
                        "{s:s, s:s, s:I, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}],"
                        " s:[s], s:{s:s, s:[]}}",
                        "record_id", rid, "agency", b->ag[0].code, "reported_at",
                        (json_int_t)1749600000000, "subject_kind", "ORGANIZATION", "names",
                        "value", "Công ty TNHH Hàng Hiệu Nóng", "kind", "LEGAL", "identifiers",
                        "type", "TAX_CODE", "value", HOT_TAX_CODE, "type", "PHONE", "value",
                        phone, "violation_categories", "HANG_GIA", "sensitivity", "tier",
                        "SHARED", "recipients");
                if (!j)
                        die("out of memory");
                add_record(b, j, true);
                json_decref(j);
        }
        flush(b, &b->ag[0], true);
}

/* ---- report ---- */

static long proc_hwm_kb(int pid)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        FILE *f = fopen(path, "r");
        long kb = -1;
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "VmHWM:", 6) == 0)
                        kb = atol(line + 6);
        if (f)
                fclose(f);
        return kb;
}

static void print_span(const char *name, const struct span *s)
{
        printf("%s records=%zu ingest_s=%.2f raw_copy_s=%.2f ingest_records_per_s=%.0f "
               "raw_records_per_s=%.0f ingest_us_per_record=%.1f raw_us_per_record=%.1f "
               "ratio=%.2f hub_cpu_us_per_record=%.1f\n",
               name, s->records, s->ingest_s, s->raw_s,
               s->ingest_s > 0 ? (double)s->records / s->ingest_s : 0.0,
               s->raw_s > 0 ? (double)s->records / s->raw_s : 0.0,
               per_rec_us(s->ingest_s, s->records), per_rec_us(s->raw_s, s->records),
               s->raw_s > 0 ? s->ingest_s / s->raw_s : 0.0, per_rec_us(s->cpu_s, s->records));
}

static void report(struct bench *b)
{
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long pg_kb = proc_hwm_kb(PQbackendPID(hub_store_conn(b->store)));
        PGresult *r = PQexec(b->obs, "SELECT current_setting('fsync'), "
                                     "current_setting('shared_buffers'), "
                                     "pg_size_pretty(pg_database_size(current_database()))");
        printf("\nsummary\n");
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
                printf("postgres fsync=%s shared_buffers=%s database_size=\"%s\"\n",
                       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
        PQclear(r);
        printf("fed records=%zu batches=%zu batch_size=%zu accepted=%zu duplicates=%zu "
               "explained_untimed=%zu\n",
               b->fed, b->batches, b->batch_size, b->accepted, b->duplicates, b->explained);
        printf("stored entities=%lld identifiers=%lld statements=%lld outbox=%lld\n",
               scalar(b, "SELECT count(*) FROM entities"),
               scalar(b, "SELECT count(*) FROM identifiers"),
               scalar(b, "SELECT count(*) FROM statements"),
               scalar(b, "SELECT count(*) FROM outbox"));
        print_span("overall", &b->total);
        if (b->have_early) {
                printf("early_window at_entities=%" PRId64 " ending_at_record=%zu ",
                       b->early_entities, b->early_at);
                print_span("", &b->early);
                printf("late_window at_entities=%" PRId64 " ending_at_record=%zu ",
                       b->late_entities, b->late_at);
                print_span("", &b->late);
                double ie = per_rec_us(b->early.ingest_s, b->early.records),
                       il = per_rec_us(b->late.ingest_s, b->late.records),
                       re = per_rec_us(b->early.raw_s, b->early.records),
                       rl = per_rec_us(b->late.raw_s, b->late.records);
                printf("late_vs_early ingest=%.2f raw=%.2f ratio_to_raw_early=%.2f "
                       "ratio_to_raw_late=%.2f\n",
                       ie > 0 ? il / ie : 0.0, re > 0 ? rl / re : 0.0, re > 0 ? ie / re : 0.0,
                       rl > 0 ? il / rl : 0.0);
        } else {
                printf("early_window none: fewer than %d entities before the last window\n",
                       EARLY_ENTITIES);
        }
        if (b->hot) {
                print_span("hot_overall", &b->hot_total);
                print_span("hot_first_tenth", &b->hot_early);
                print_span("hot_last_tenth", &b->hot_late);
                printf("hot_entity records=%lld statements=%lld\n",
                       scalar(b, "SELECT count(*) FROM records r JOIN identifiers i ON "
                                 "i.entity_id = r.entity_id WHERE i.type = 'TAX_CODE' AND "
                                 "i.value = '" HOT_TAX_CODE "'"),
                       scalar(b, "SELECT count(*) FROM statements s JOIN identifiers i ON "
                                 "i.entity_id = s.entity_id WHERE i.type = 'TAX_CODE' AND "
                                 "i.value = '" HOT_TAX_CODE "'"));
        }
        printf("prepare_s=%.2f (encode and sign, the connectors' share, not in the ratios)\n",
               b->prep_s);
        printf("peak_rss_kb bench=%ld postgres_backend=%ld\n", ru.ru_maxrss, pg_kb);
}

static void usage(FILE *f)
{
        fputs("usage: bench_ingest [options] REPORTS.jsonl\n"
              "Ingest generated reports (gen_reports.py --shape report) into a fresh database\n"
              "on HUB_PG_DSN through hub_ingest_message, with a raw COPY baseline.\n"
              "  --records N      records to read (default: the whole file)\n"
              "  --batch N        records per signed batch (default 500)\n"
              "  --window N       records per timing window (default: max(5000, N/50))\n"
              "  --hot N          then N records of one growing entity (default 0)\n"
              "  --hot-batch N    records per batch in the hot phase (default 50)\n"
              "  --explain FILE   plans of the queries of one early and one late batch\n"
              "  --keep           keep the database (its conninfo is printed)\n",
              f);
}

int main(int argc, char **argv)
{
        static struct bench bench;
        struct bench *b = &bench;
        b->batch_size = 500;
        b->hot_batch = 50;
        static const struct option opts[] = {
                {"records", required_argument, NULL, 'n'},
                {"batch", required_argument, NULL, 'b'},
                {"window", required_argument, NULL, 'w'},
                {"hot", required_argument, NULL, 'H'},
                {"hot-batch", required_argument, NULL, 'B'},
                {"explain", required_argument, NULL, 'e'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'n': b->max_records = strtoull(optarg, NULL, 10); break;
                case 'b': b->batch_size = strtoull(optarg, NULL, 10); break;
                case 'w': b->window = strtoull(optarg, NULL, 10); break;
                case 'H': b->hot = strtoull(optarg, NULL, 10); break;
                case 'B': b->hot_batch = strtoull(optarg, NULL, 10); break;
                case 'e': b->explain_path = optarg; break;
                case 'k': b->keep = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc - 1 || !b->batch_size || !b->hot_batch) {
                usage(stderr);
                return 2;
        }
        if (b->hot_batch > b->batch_size)
                b->batch_size = b->hot_batch; /* the per-agency buffers hold either */
        if (sodium_init() < 0)
                die("could not initialise libsodium");
        const char *path = argv[optind];
        b->expected = count_lines(path);
        if (b->max_records && b->max_records < b->expected)
                b->expected = b->max_records;
        if (!b->window)
                b->window = b->expected / 50 > 5000 ? b->expected / 50 : 5000;
        if (b->explain_path && !(b->explain = fopen(b->explain_path, "w")))
                die("could not write %s: %s", b->explain_path, strerror(errno));
        setup(b);
        printf("bench_ingest records=%zu batch=%zu window=%zu hot=%zu database=%s\n",
               b->expected, b->batch_size, b->window, b->hot, strstr(b->dsn, "dbname="));
        fflush(stdout);
        feed(b, path);
        feed_hot(b);
        report(b);
        long long stored = scalar(b, "SELECT count(*) FROM records");
        long long rejects = scalar(b, "SELECT count(*) FROM rejects");
        int rc = 0;
        if (stored != (long long)(b->fed) || rejects) {
                fprintf(stderr, "bench_ingest: %lld records stored, %zu fed, %lld rejects\n",
                        stored, b->fed, rejects);
                rc = 1;
        }
        hub_ingest_free(b->ing);
        hub_report_codec_free(b->codec);
        hub_store_close(b->store);
        PQfinish(b->obs);
        hub_key_wipe(&b->hub_key);
        for (size_t i = 0; i < b->n_ag; i++) {
                sodium_memzero(b->ag[i].sk, sizeof(b->ag[i].sk));
                free(b->ag[i].recs);
                free(b->ag[i].lens);
                free(b->ag[i].rids);
                free(b->ag[i].idents);
        }
        if (b->explain)
                fclose(b->explain);
        if (b->keep)
                printf("kept database: %s\n", b->dsn);
        else
                hub_test_drop_db(b->dsn);
        return rc;
}
