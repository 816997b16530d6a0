/* hubctl status: what the hub holds, what it refused, what it still owes, how far behind it is.
 *
 * Built as one JSON document (--json prints it) and rendered as text from that document. The
 * database part never depends on Kafka: when the broker cannot be reached, the lag section says
 * so and the rest is shown. */
#include "ctl.h"

#include <hub/kafka_info.h>
#include <hub/query.h>
#include <hub/timestamp.h>

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_TIMEOUT_MS 5000

static json_t *ts_json(int64_t usec)
{
        char buf[HUB_TIMESTAMP_MAX];
        return usec == HUB_TS_NONE ? json_null() : json_string(hub_timestamp_format(usec, buf));
}

static int on_agency(const hub_agency_status_row_t *r, void *arg)
{
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o, s:{}}", "agency", r->agency, "records",
                              (json_int_t)r->records, "batches", (json_int_t)r->batches,
                              "rejects", (json_int_t)r->rejects, "last_received",
                              ts_json(r->last_received), "rejects_by_reason");
        json_array_append_new(arg, o);
        return 0;
}

static int on_reject_count(const hub_reject_count_row_t *r, void *arg)
{
        json_t *doc = arg;
        json_t *target = json_object_get(doc, "unattributed_rejects");
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(doc, "agencies"), i, a)
                if (*r->agency && strcmp(json_string_value(json_object_get(a, "agency")),
                                         r->agency) == 0)
                        target = json_object_get(a, "rejects_by_reason");
        json_object_set_new(target, r->reason, json_integer((json_int_t)r->count));
        return 0;
}

static int on_reject(const hub_reject_row_t *r, void *arg)
{
        json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "id",
                              (json_int_t)r->id, "rejected_at", ts_json(r->rejected_at), "agency",
                              r->agency, "record_id", r->record_id, "reason", r->reason,
                              "message", r->message, "topic", r->topic, "partition",
                              r->partition, "offset", (json_int_t)r->offset);
        json_array_append_new(arg, o);
        return 0;
}

static int on_offset(const hub_offset_row_t *r, void *arg)
{
        json_t *o = json_pack("{s:s, s:i, s:I, s:o}", "topic", r->topic, "partition",
                              r->partition, "next_offset", (json_int_t)r->next_offset,
                              "updated_at", ts_json(r->updated_at));
        json_array_append_new(arg, o);
        return 0;
}

static json_t *stored_offset(json_t *offsets, const char *topic, int partition)
{
        size_t i;
        json_t *o;
        json_array_foreach(offsets, i, o)
                if (strcmp(json_string_value(json_object_get(o, "topic")), topic) == 0 &&
                    json_integer_value(json_object_get(o, "partition")) == partition)
                        return json_object_get(o, "next_offset");
        return NULL;
}

/* The consumer lag of every agency topic and every topic with stored offsets: the broker's end
 * offset minus the offset hubd stored in PostgreSQL (or minus the start offset, when it has
 * stored none yet: everything there is still to read). */
static void kafka_lag(ctl_t *ctl, json_t *doc, json_t *offsets)
{
        json_t *k = json_pack("{s:s?, s:b, s:[], s:I}", "brokers", ctl->brokers, "reachable", 0,
                              "lag", "total_lag", (json_int_t)0);
        json_object_set_new(doc, "kafka", k);
        rd_kafka_t *rk = NULL;
        hub_err_t err = {0};
        int parts = 0;
        if (ctl_open_kafka(ctl, &rk, &err) ||
            hub_kafka_topic_partitions(rk, "hub.rejects", &parts, KAFKA_TIMEOUT_MS, &err)) {
                json_object_set_new(k, "error", json_string(err.msg));
                goto out;
        }
        json_object_set_new(k, "reachable", json_true());
        json_t *topics = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, "agencies"), i, v)
                json_array_append_new(topics, json_sprintf("agency.%s.reports",
                                                           json_string_value(json_object_get(
                                                                   v, "agency"))));
        json_array_foreach(offsets, i, v)
        {
                const char *t = json_string_value(json_object_get(v, "topic"));
                bool seen = false;
                size_t j;
                json_t *u;
                json_array_foreach(topics, j, u) seen = seen || strcmp(json_string_value(u), t) == 0;
                if (!seen)
                        json_array_append_new(topics, json_string(t));
        }
        json_int_t total = 0;
        json_array_foreach(topics, i, v)
        {
                const char *topic = json_string_value(v);
                if (hub_kafka_topic_partitions(rk, topic, &parts, KAFKA_TIMEOUT_MS, &err))
                        break;
                if (parts == 0) {
                        json_array_append_new(json_object_get(k, "lag"),
                                              json_pack("{s:s, s:b}", "topic", topic, "missing",
                                                        1));
                        continue;
                }
                for (int p = 0; p < parts; p++) {
                        int64_t low = 0, high = 0;
                        if (hub_kafka_watermarks(rk, topic, p, &low, &high, KAFKA_TIMEOUT_MS,
                                                 &err))
                                break;
                        json_t *stored = stored_offset(offsets, topic, p);
                        json_int_t from = stored ? json_integer_value(stored) : low;
                        json_int_t lag = high > from ? high - from : 0;
                        total += lag;
                        json_array_append_new(
                                json_object_get(k, "lag"),
                                json_pack("{s:s, s:i, s:O, s:I, s:I}", "topic", topic,
                                          "partition", p, "stored_offset",
                                          stored ? stored : json_null(), "end_offset",
                                          (json_int_t)high, "lag", lag));
                }
                if (err.code)
                        break;
        }
        json_decref(topics);
        json_object_set_new(k, "total_lag", json_integer(total));
        if (err.code)
                json_object_set_new(k, "error", json_string(err.msg));
out:
        if (rk)
                rd_kafka_destroy(rk);
}

static json_int_t num(json_t *o, const char *key)
{
        return json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
        const char *v = json_string_value(json_object_get(o, key));
        return v ? v : "-";
}

static void print_status(json_t *doc)
{
        json_t *t = json_object_get(doc, "totals");
        json_t *ob = json_object_get(doc, "outbox");
        json_t *k = json_object_get(doc, "kafka");
        size_t i;
        const char *reason;
        json_t *v, *n;
        printf("database: schema version %" JSON_INTEGER_FORMAT "\n",
               num(json_object_get(doc, "database"), "schema_version"));
        printf("entities: %" JSON_INTEGER_FORMAT " active (%" JSON_INTEGER_FORMAT
               " in all, %" JSON_INTEGER_FORMAT " merged, %" JSON_INTEGER_FORMAT
               " withdrawn), %" JSON_INTEGER_FORMAT " identifiers\n",
               num(t, "active"), num(t, "entities"), num(t, "merged"), num(t, "withdrawn"),
               num(t, "identifiers"));
        printf("records: %" JSON_INTEGER_FORMAT " accepted in %" JSON_INTEGER_FORMAT
               " batches, %" JSON_INTEGER_FORMAT " rejected\n",
               num(t, "records"), num(t, "batches"), num(t, "rejects"));
        printf("outbox: %" JSON_INTEGER_FORMAT " unsent", num(ob, "unsent"));
        if (num(ob, "unsent"))
                printf(", oldest from %s", str(ob, "oldest_unsent"));
        printf("\n");
        json_t *agencies = json_object_get(doc, "agencies");
        if (!json_array_size(agencies)) {
                printf("agencies: none registered (hubctl agency add)\n");
        } else {
                printf("\n%-16s %10s %8s %9s  %-22s %s\n", "AGENCY", "ACCEPTED", "BATCHES",
                       "REJECTED", "LAST_RECEIVED", "REJECTED_BY_REASON");
                json_array_foreach(agencies, i, v)
                {
                        printf("%-16s %10" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
                               " %9" JSON_INTEGER_FORMAT "  %-27s",
                               str(v, "agency"), num(v, "records"), num(v, "batches"),
                               num(v, "rejects"), str(v, "last_received"));
                        bool first = true;
                        json_object_foreach(json_object_get(v, "rejects_by_reason"), reason, n)
                        {
                                printf("%s%s=%" JSON_INTEGER_FORMAT, first ? " " : ", ", reason,
                                       json_integer_value(n));
                                first = false;
                        }
                        printf("%s\n", first ? " -" : "");
                }
        }
        json_t *un = json_object_get(doc, "unattributed_rejects");
        if (json_object_size(un)) {
                printf("rejected, agency unknown:");
                bool first = true;
                json_object_foreach(un, reason, n)
                {
                        printf("%s%s=%" JSON_INTEGER_FORMAT, first ? " " : ", ", reason,
                               json_integer_value(n));
                        first = false;
                }
                printf("\n");
        }
        printf("\nconsumer lag (kafka %s): ", str(k, "brokers"));
        if (!json_is_true(json_object_get(k, "reachable"))) {
                printf("unknown: %s\n", str(k, "error"));
        } else {
                printf("%" JSON_INTEGER_FORMAT " messages behind%s%s\n", num(k, "total_lag"),
                       json_object_get(k, "error") ? "; incomplete: " : "",
                       json_object_get(k, "error") ? str(k, "error") : "");
                json_array_foreach(json_object_get(k, "lag"), i, v)
                {
                        if (json_is_true(json_object_get(v, "missing"))) {
                                printf("  %-32s topic missing (hubctl agency add creates it)\n",
                                       str(v, "topic"));
                                continue;
                        }
                        json_t *stored = json_object_get(v, "stored_offset");
                        char stored_text[32];
                        if (json_is_integer(stored))
                                snprintf(stored_text, sizeof(stored_text),
                                         "%" JSON_INTEGER_FORMAT, json_integer_value(stored));
                        else
                                snprintf(stored_text, sizeof(stored_text), "none");
                        printf("  %-32s [%" JSON_INTEGER_FORMAT "] stored %s, end %" JSON_INTEGER_FORMAT
                               ", lag %" JSON_INTEGER_FORMAT "\n",
                               str(v, "topic"), num(v, "partition"), stored_text,
                               num(v, "end_offset"), num(v, "lag"));
                }
        }
        json_t *last = json_object_get(doc, "last_errors");
        printf("\nlast errors:%s\n", json_array_size(last) ? "" : " none");
        json_array_foreach(last, i, v)
                printf("  %s %s %s%s%s %s [%" JSON_INTEGER_FORMAT "] @%" JSON_INTEGER_FORMAT
                       ": %s\n",
                       str(v, "rejected_at"), *str(v, "agency") ? str(v, "agency") : "?",
                       str(v, "reason"), *str(v, "record_id") ? " record " : "",
                       str(v, "record_id"), str(v, "topic"), num(v, "partition"),
                       num(v, "offset"), str(v, "message"));
}

static const char status_usage[] =
        "usage: hubctl status [--errors N] [--json]\n"
        "\n"
        "Entities, accepted records and rejects (by agency and reason), the outbox backlog,\n"
        "consumer lag (offsets stored in PostgreSQL against the topics' end offsets in Kafka)\n"
        "and the latest rejects with their reason and message. When Kafka cannot be reached\n"
        "the lag is reported unknown and the rest is still shown.\n"
        "\n"
        "  --errors N   how many of the latest rejects to show (default 10)\n"
        "  --json       print JSON\n";

int ctl_cmd_status(ctl_t *ctl, int argc, char **argv)
{
        static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                                 {"errors", required_argument, NULL, 'e'},
                                                 CTL_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl status";
        bool as_json = false;
        int c, rc, n_errors = 10;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                if (c == 'h') {
                        fputs(status_usage, stdout);
                        return CTL_OK;
                } else if (c == 'j') {
                        as_json = true;
                } else if (c == 'e') {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || end == optarg || v < 0 || v > 10000)
                                return ctl_usage_error(cmd, "--errors wants a number 0-10000");
                        n_errors = (int)v;
                } else if (c == '?' || c == ':') {
                        return ctl_bad_option(cmd, argv);
                } else if ((rc = ctl_common_option(ctl, c, optarg, cmd))) {
                        return rc;
                }
        }
        if (optind < argc)
                return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
        hub_store_t *s = NULL;
        hub_err_t err = {0};
        hub_status_totals_t t;
        int version = 0;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        json_t *doc = json_pack("{s:[], s:{}, s:[]}", "agencies", "unattributed_rejects",
                                "last_errors");
        json_t *offsets = json_array();
        if (hub_store_schema_version(s, &version, &err) ||
            hub_query_status_totals(s, &t, &err) ||
            hub_query_status_agencies(s, on_agency, json_object_get(doc, "agencies"), &err) ||
            hub_query_reject_counts(s, on_reject_count, doc, &err) ||
            hub_query_last_rejects(s, n_errors, on_reject, json_object_get(doc, "last_errors"),
                                   &err) ||
            hub_query_consumer_offsets(s, on_offset, offsets, &err)) {
                rc = ctl_fail("%s", err.msg);
                goto out;
        }
        /* The connection is not needed while Kafka answers (or times out). */
        hub_store_close(s);
        s = NULL;
        json_object_set_new(doc, "database", json_pack("{s:i}", "schema_version", version));
        json_object_set_new(doc, "totals",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "entities",
                                      (json_int_t)t.entities, "active", (json_int_t)t.active,
                                      "merged", (json_int_t)t.merged, "withdrawn",
                                      (json_int_t)t.withdrawn, "identifiers",
                                      (json_int_t)t.identifiers, "records",
                                      (json_int_t)t.records, "batches", (json_int_t)t.batches,
                                      "rejects", (json_int_t)t.rejects));
        json_object_set_new(doc, "outbox",
                            json_pack("{s:I, s:o}", "unsent", (json_int_t)t.outbox_unsent,
                                      "oldest_unsent", ts_json(t.outbox_oldest_unsent)));
        json_object_set_new(doc, "consumer_offsets", json_incref(offsets));
        kafka_lag(ctl, doc, offsets);
        if (as_json) {
                char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (text)
                        puts(text);
                free(text);
        } else {
                print_status(doc);
        }
out:
        json_decref(offsets);
        json_decref(doc);
        hub_store_close(s);
        return rc;
}
