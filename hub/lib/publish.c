/* hub-publish's loop: sources → mapping → report codec → signed batches → idempotent producer,
 * with the watermark moved by delivery reports (hub/include/hub/publish.h). */
#define _XOPEN_SOURCE 700 /* realpath() is an XSI function */
#include <hub/batch.h>
#include <hub/kafka.h>
#include <hub/kafka_auth.h>
#include <hub/publish.h>
#include <hub/report.h>
#include <hub/source.h>
#include <hub/watermark.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PENDING, DELIVERED, FAILED };

/* A batch on its way, or a marker that settles rows with no batch of their own. */
struct inflight {
        size_t file;
        hub_source_pos_t pos;
        size_t n_records;
        int state;
        char why[160];
};

struct run {
        const hub_publish_opts_t *o;
        hub_publish_stats_t *st;
        hub_report_codec_t *codec;
        hub_watermark_t *wm;
        rd_kafka_t *rk;
        char topic[HUB_BATCH_MAX_ID_BYTES + 32];
        char **paths; /* absolute paths: the watermark's keys */
        hub_batch_builder_t *b;
        int64_t batch_started_ms;
        size_t cur_file;
        struct inflight **q; /* in production order; delivered ones leave from the front */
        size_t q_len, q_cap;
        int64_t next_seq;
        json_t *seen;
        bool wm_dirty;
        int64_t last_save_ms, last_progress_ms, start_ms;
        hub_mapping_stats_t ms;
        char auth_error[256]; /* the brokers refused our credentials: no point waiting */
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notice(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(struct run *r, const char *fmt, ...)
{
        if (!r->o->notice)
                return;
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        r->o->notice(r->o->ctx, msg);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        struct run *r = opaque;
        struct inflight *f = m->_private;
        if (!f)
                return;
        if (m->err) {
                f->state = FAILED;
                snprintf(f->why, sizeof(f->why), "%s", rd_kafka_err2str(m->err));
        } else {
                f->state = DELIVERED;
                r->st->batches_delivered++;
                r->st->records_delivered += f->n_records;
        }
}

/* librdkafka's own log lines (warnings and worse) go to the caller's notice stream, so an
 * operator sees one consistent stderr; this runs on librdkafka's threads. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        struct run *r = rd_kafka_opaque(rk);
        if (level > 4 || !r || !r->o->notice)
                return;
        char msg[512];
        snprintf(msg, sizeof(msg), "kafka: %s: %s", fac, buf);
        r->o->notice(r->o->ctx, msg);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
        (void)rk;
        struct run *r = opaque;
        if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION && !r->auth_error[0])
                snprintf(r->auth_error, sizeof(r->auth_error), "%s", reason);
}

static int push(struct run *r, struct inflight *f, hub_err_t *err)
{
        if (r->q_len == r->q_cap) {
                size_t cap = r->q_cap ? 2 * r->q_cap : 64;
                struct inflight **q = realloc(r->q, cap * sizeof(*q));
                if (!q)
                        return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                r->q = q;
                r->q_cap = cap;
        }
        r->q[r->q_len++] = f;
        return 0;
}

/* Move the watermark over the delivered front of the queue; save it at most once a second
 * (or now when `force`). A failed batch stops the run: nothing after it may be marked. */
static int advance(struct run *r, bool force, hub_err_t *err)
{
        size_t n = 0;
        while (n < r->q_len && r->q[n]->state == DELIVERED) {
                struct inflight *f = r->q[n];
                if (r->wm)
                        hub_watermark_set(r->wm, r->paths[f->file], &f->pos);
                r->wm_dirty = true;
                free(f);
                n++;
        }
        if (n) {
                memmove(r->q, r->q + n, (r->q_len - n) * sizeof(*r->q));
                r->q_len -= n;
        }
        int rc = 0;
        if (r->q_len && r->q[0]->state == FAILED)
                rc = hub_err_set(err, HUB_E_KAFKA, true, "publish",
                                 "could not deliver a batch to %s: %s; the watermark stays "
                                 "before it (line %llu of %s)",
                                 r->topic, r->q[0]->why, (unsigned long long)r->q[0]->pos.line,
                                 r->paths[r->q[0]->file]);
        int64_t t = now_ms();
        if (r->wm && r->wm_dirty && (force || t - r->last_save_ms >= 1000)) {
                hub_watermark_set_next_seq(r->wm, r->next_seq);
                int src = hub_watermark_save(r->wm, rc ? NULL : err);
                if (src && !rc)
                        rc = src;
                r->wm_dirty = false;
                r->last_save_ms = t;
        }
        return rc;
}

static void progress(struct run *r, bool force)
{
        int64_t t = now_ms();
        int every = r->o->progress_ms > 0 ? r->o->progress_ms : HUB_PUBLISH_DEFAULT_PROGRESS_MS;
        if (!r->o->progress || (!force && t - r->last_progress_ms < every))
                return;
        r->last_progress_ms = t;
        r->st->elapsed_ms = (uint64_t)(t - r->start_ms);
        r->o->progress(r->o->ctx, r->st);
}

/* Settle rows up to pos without a batch: a marker that counts as delivered once every batch
 * before it is. */
static int settle(struct run *r, const hub_source_pos_t *pos, hub_err_t *err)
{
        struct inflight *f = calloc(1, sizeof(*f));
        if (!f)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        f->file = r->cur_file;
        f->pos = *pos;
        f->state = DELIVERED;
        int rc = push(r, f, err);
        if (rc)
                free(f);
        return rc;
}

/* Sign the open batch and hand it to the producer; pos is the position after its last row. */
static int flush_batch(struct run *r, const hub_source_pos_t *pos, hub_err_t *err)
{
        if (!r->b)
                return 0;
        unsigned char *bytes = NULL;
        size_t len = 0;
        size_t n = hub_batch_builder_count(r->b);
        int rc = hub_batch_builder_finish(r->b, r->o->key->sk, sizeof(r->o->key->sk), &bytes,
                                          &len, err);
        hub_batch_builder_free(r->b);
        r->b = NULL;
        if (rc)
                return rc;
        struct inflight *f = calloc(1, sizeof(*f));
        if (!f || push(r, f, err)) {
                free(f);
                free(bytes);
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        }
        f->file = r->cur_file;
        f->pos = *pos;
        f->n_records = n;
        f->state = PENDING;
        const char *agency = hub_mapping_agency(r->o->mapping);
        for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_producev(
                        r->rk, RD_KAFKA_V_TOPIC(r->topic),
                        RD_KAFKA_V_KEY(agency, strlen(agency)), RD_KAFKA_V_VALUE(bytes, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(f),
                        RD_KAFKA_V_END);
                if (!e)
                        break;
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        rd_kafka_poll(r->rk, 100);
                        continue;
                }
                free(bytes);
                f->state = FAILED;
                snprintf(f->why, sizeof(f->why), "%s", rd_kafka_err2str(e));
                return hub_err_set(err, HUB_E_KAFKA, false, "publish",
                                   "could not produce to %s: %s", r->topic, rd_kafka_err2str(e));
        }
        r->st->batches++;
        return 0;
}

static int open_batch(struct run *r, hub_err_t *err)
{
        hub_batch_header_t h = {
                .agency = hub_mapping_agency(r->o->mapping),
                .key_id = r->o->key->key_id,
                .producer_id = hub_mapping_producer_id(r->o->mapping),
                .batch_seq = r->next_seq++,
                .created_at_ms = wall_ms(),
        };
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(r->codec),
               HUB_BATCH_FINGERPRINT_BYTES);
        r->batch_started_ms = now_ms();
        return hub_batch_builder_new(&h, NULL, &r->b, err);
}

static void bad_row(struct run *r, uint64_t line, const char *reason, const char *msg)
{
        r->st->refused++;
        if (r->o->bad_row)
                r->o->bad_row(r->o->ctx, r->o->files[r->cur_file], line, reason, msg);
}

/* One mapped row: encode, check, add to the open batch (closing it first when full). */
static int add_record(struct run *r, json_t *report, uint64_t line,
                      const hub_source_pos_t *before, hub_err_t *err)
{
        const char *rid = json_string_value(json_object_get(report, "record_id"));
        if (json_object_get(r->seen, rid)) {
                char msg[300];
                snprintf(msg, sizeof(msg), "record_id %s was already given by an earlier row "
                         "of this run (%s)", rid,
                         json_string_value(json_object_get(r->seen, rid)));
                bad_row(r, line, HUB_REASON_DUPLICATE_KEY, msg);
                return 0;
        }
        unsigned char *bytes = NULL;
        size_t len = 0;
        hub_err_t rerr = {0};
        if (hub_report_encode_json(r->codec, report, &bytes, &len, &rerr)) {
                bad_row(r, line, HUB_REASON_ENCODE, rerr.msg);
                return 0;
        }
        char where[64];
        snprintf(where, sizeof(where), "line %llu", (unsigned long long)line);
        json_object_set_new(r->seen, rid, json_string(where));
        if (len > HUB_BATCH_DEFAULT_MAX_RECORD_BYTES) {
                char msg[120];
                snprintf(msg, sizeof(msg), "the record is %zu bytes, more than the %d a batch "
                         "takes", len, HUB_BATCH_DEFAULT_MAX_RECORD_BYTES);
                bad_row(r, line, HUB_REASON_TOO_LARGE, msg);
                free(bytes);
                return 0;
        }
        if (r->o->record)
                r->o->record(r->o->ctx, report);
        r->st->records++;
        if (r->o->dry_run) {
                free(bytes);
                return 0;
        }
        size_t max = r->o->batch_size ? r->o->batch_size : HUB_PUBLISH_DEFAULT_BATCH_SIZE;
        int rc = 0;
        if (r->b && hub_batch_builder_count(r->b) >= max)
                rc = flush_batch(r, before, err);
        if (!rc && !r->b)
                rc = open_batch(r, err);
        if (!rc) {
                hub_err_t aerr = {0};
                rc = hub_batch_builder_add(r->b, bytes, len, &aerr);
                if (rc == -HUB_E_TOO_LARGE) { /* the batch's byte limit: the next one */
                        rc = flush_batch(r, before, err);
                        if (!rc)
                                rc = open_batch(r, err);
                        if (!rc)
                                rc = hub_batch_builder_add(r->b, bytes, len, err);
                } else if (rc) {
                        *err = aerr;
                }
        }
        free(bytes);
        return rc;
}

static int one_file(struct run *r, size_t i, hub_err_t *err)
{
        const hub_publish_opts_t *o = r->o;
        hub_source_t *src = NULL;
        r->cur_file = i;
        int rc = hub_source_open(o->files[i], hub_mapping_format(o->mapping),
                                 hub_mapping_csv_delimiter(o->mapping), &src, err);
        if (rc)
                return rc;
        hub_source_pos_t pos, before;
        if (r->wm && !o->from_start && hub_watermark_get(r->wm, r->paths[i], &pos)) {
                rc = hub_source_resume(src, &pos, err);
                if (rc < 0)
                        goto out;
                if (rc == 1) {
                        r->st->files_resumed++;
                        notice(r, "%s: resuming after line %llu (delivered before)", o->files[i],
                               (unsigned long long)pos.line);
                } else {
                        notice(r, "%s: the file is not the one the watermark describes (its "
                                  "first %llu bytes differ); reading it from the start",
                               o->files[i], (unsigned long long)pos.offset);
                }
        }
        hub_source_pos(src, &before);
        for (;;) {
                json_t *row = NULL, *report = NULL;
                uint64_t line = 0;
                const char *reason = NULL;
                hub_err_t rerr = {0};
                rc = hub_source_next(src, &row, &line, &reason, &rerr);
                if (rc == HUB_SOURCE_EOF) {
                        rc = 0;
                        break;
                }
                if (rc < 0) {
                        *err = rerr;
                        goto out;
                }
                r->st->rows_read++;
                if (rc == HUB_SOURCE_BAD) {
                        bad_row(r, line, reason, rerr.msg);
                        rc = 0;
                } else {
                        rc = hub_mapping_apply(o->mapping, row, &report, &reason, &r->ms, &rerr);
                        if (rc == HUB_MAP_RECORD)
                                rc = add_record(r, report, line, &before, err);
                        else if (rc == HUB_MAP_FILTERED)
                                rc = 0;
                        else {
                                bad_row(r, line, reason, rerr.msg);
                                rc = 0;
                        }
                }
                json_decref(row);
                json_decref(report);
                if (rc)
                        goto out;
                hub_source_pos(src, &before);
                if (r->rk) {
                        rd_kafka_poll(r->rk, 0);
                        int linger = o->linger_ms > 0 ? o->linger_ms
                                                      : HUB_PUBLISH_DEFAULT_LINGER_MS;
                        if (r->b && now_ms() - r->batch_started_ms >= linger)
                                rc = flush_batch(r, &before, err);
                        if (!rc)
                                rc = advance(r, false, err);
                        if (rc)
                                goto out;
                }
                progress(r, false);
        }
        /* Batches never span files: the end of a file is a position of its own. */
        if (!o->dry_run) {
                if (r->b)
                        rc = flush_batch(r, &before, err);
                else
                        rc = settle(r, &before, err);
        }
out:
        hub_source_close(src);
        return rc;
}

static int check_topic(struct run *r, hub_err_t *err)
{
        rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, r->topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
        /* In short steps, so that refused credentials end the wait at once. */
        for (int i = 0; i < 15 && !r->auth_error[0] &&
                        (e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT);
             i++) {
                e = rd_kafka_metadata(r->rk, 0, t, &md, 1000);
                rd_kafka_poll(r->rk, 0); /* serves on_error() */
        }
        rd_kafka_topic_destroy(t);
        if (r->auth_error[0]) {
                if (!e)
                        rd_kafka_metadata_destroy(md);
                return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                   "the Kafka brokers refused the credentials of user %s: %s",
                                   r->o->auth.user ? r->o->auth.user : "(none)", r->auth_error);
        }
        if (e)
                return hub_err_set(err, HUB_E_KAFKA, true, "publish",
                                   "could not reach the Kafka brokers %s: %s", r->o->brokers,
                                   rd_kafka_err2str(e));
        rd_kafka_resp_err_t te = md->topic_cnt == 1 ? md->topics[0].err
                                                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        rd_kafka_metadata_destroy(md);
        if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && r->o->create_topic) {
                const char *topics[1] = {r->topic};
                return hub_kafka_create_topics(r->rk, topics, 1, HUB_PUBLISH_PARTITIONS, NULL, 0,
                                               15000, err);
        }
        if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                   "topic %s does not exist: the hub's operators create it with "
                                   "\"hubctl agency add %s\"",
                                   r->topic, hub_mapping_agency(r->o->mapping));
        if (te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                   "TOPIC_AUTHORIZATION_FAILED: Kafka user %s may not write topic "
                                   "%s (the broker's ACLs let an agency write its own topic "
                                   "only: check --kafka-user and the mapping's agency)",
                                   r->o->auth.user ? r->o->auth.user : "ANONYMOUS", r->topic);
        if (te)
                return hub_err_set(err, HUB_E_KAFKA, false, "publish",
                                   "topic %s cannot be used: %s", r->topic, rd_kafka_err2str(te));
        return 0;
}

static int make_producer(struct run *r, hub_err_t *err)
{
        const hub_publish_opts_t *o = r->o;
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int rc = hub_kafka_set(conf, "bootstrap.servers", o->brokers, err);
        /* The idempotent producer: retries never duplicate or reorder a batch within a
         * partition, and it implies acks=all (named anyway, so nobody lowers it by -X). */
        if (!rc)
                rc = hub_kafka_set(conf, "enable.idempotence", "true", err);
        if (!rc)
                rc = hub_kafka_set(conf, "acks", "all", err);
        if (!rc)
                rc = hub_kafka_set(conf, "linger.ms", "5", err);
        for (size_t i = 0; !rc && i < o->n_kafka_conf; i++)
                rc = hub_kafka_set(conf, o->kafka_conf[2 * i], o->kafka_conf[2 * i + 1], err);
        if (!rc)
                rc = hub_kafka_auth_apply(conf, &o->auth, err);
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return rc;
        }
        rd_kafka_conf_set_error_cb(conf, on_error);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_log_cb(conf, on_log);
        rd_kafka_conf_set_opaque(conf, r);
        r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!r->rk) {
                rd_kafka_conf_destroy(conf);
                return hub_err_set(err, HUB_E_KAFKA, false, "publish",
                                   "could not create the producer: %s", errstr);
        }
        return 0;
}

int hub_publish_run(const hub_publish_opts_t *o, hub_publish_stats_t *st, hub_err_t *err)
{
        struct run r = {.o = o, .st = st};
        memset(st, 0, sizeof(*st));
        r.start_ms = r.last_progress_ms = now_ms();
        const char *agency = hub_mapping_agency(o->mapping);
        int rc = 0;
        if (!o->dry_run) {
                if (!o->key || !o->key->has_secret)
                        return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                           "publishing needs the agency's secret key file");
                if (strcmp(o->key->owner, agency) != 0)
                        return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                           "the key file is %s's key, but the mapping publishes "
                                           "for %s", o->key->owner, agency);
                const char *kid = hub_mapping_key_id(o->mapping);
                if (kid && strcmp(kid, o->key->key_id) != 0)
                        return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                           "the key file holds key %s, but the mapping names %s",
                                           o->key->key_id, kid);
                if (!o->brokers || !*o->brokers)
                        return hub_err_set(err, HUB_E_CONFIG, false, "publish",
                                           "no Kafka brokers given");
        }
        snprintf(r.topic, sizeof(r.topic), "agency.%s.reports", agency);
        r.seen = json_object();
        r.paths = calloc(o->n_files ? o->n_files : 1, sizeof(*r.paths));
        if (!r.seen || !r.paths) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < o->n_files; i++) {
                r.paths[i] = realpath(o->files[i], NULL);
                if (!r.paths[i]) {
                        rc = hub_err_set(err, HUB_E_IO, false, "publish",
                                         "could not open %s: %s", o->files[i], strerror(errno));
                        goto out;
                }
        }
        rc = hub_report_codec_new(&r.codec, err);
        if (rc)
                goto out;
        if (!o->dry_run) {
                if (o->state_path) {
                        rc = hub_watermark_load(o->state_path, agency,
                                                hub_mapping_producer_id(o->mapping), &r.wm, err);
                        if (rc)
                                goto out;
                        r.next_seq = hub_watermark_next_seq(r.wm);
                        if (o->from_start)
                                hub_watermark_clear_files(r.wm);
                }
                rc = make_producer(&r, err);
                if (!rc)
                        rc = check_topic(&r, err);
                if (rc)
                        goto out;
        }
        for (size_t i = 0; !rc && i < o->n_files; i++)
                rc = one_file(&r, i, err);
        if (r.rk) {
                /* Wait for every delivery report (librdkafka gives each message one, at the
                 * latest after message.timeout.ms), moving the watermark as they come. */
                while (rd_kafka_outq_len(r.rk) > 0) {
                        rd_kafka_flush(r.rk, 500);
                        int arc = advance(&r, false, rc ? NULL : err);
                        if (!rc)
                                rc = arc;
                        progress(&r, false);
                }
                int arc = advance(&r, true, rc ? NULL : err);
                if (!rc)
                        rc = arc;
                if (!rc && r.q_len)
                        rc = hub_err_set(err, HUB_E_KAFKA, true, "publish",
                                         "%zu batches were never acknowledged", r.q_len);
        }
out:
        st->unknown_symbols = r.ms.unknown_symbols;
        st->ignored_values = r.ms.ignored_values;
        st->filtered = r.ms.filtered_rows;
        st->elapsed_ms = (uint64_t)(now_ms() - r.start_ms);
        if (r.b)
                hub_batch_builder_free(r.b);
        if (r.rk)
                rd_kafka_destroy(r.rk);
        for (size_t i = 0; i < r.q_len; i++)
                free(r.q[i]);
        free(r.q);
        for (size_t i = 0; r.paths && i < o->n_files; i++)
                free(r.paths[i]);
        free(r.paths);
        json_decref(r.seen);
        hub_watermark_free(r.wm);
        hub_report_codec_free(r.codec);
        return rc;
}
