/* hub-publish's work: read source files through a mapping, encode each row as a report, group
 * the records into signed batches (up to N records or T ms), produce them to
 * agency.<CODE>.reports with the idempotent producer (acks=all), and advance the durable
 * watermark as delivery reports arrive (hub/include/hub/watermark.h).
 *
 * Order of guarantees: a file's watermark moves past a row only when the batch holding it, and
 * every batch before it, has been acknowledged by the broker; rows the run refused or filtered
 * out are settled with the batch after them (they are reported once, in the run that read them,
 * and the exit code says so). A crash re-sends at most the batches in flight: the hub
 * deduplicates by (agency, record_id), so re-sending identical bytes changes nothing.
 *
 * The library prints nothing: bad rows, progress and notices go to the caller's callbacks. */
#ifndef HUB_PUBLISH_H
#define HUB_PUBLISH_H

#include <hub/err.h>
#include <hub/kafka_auth.h>
#include <hub/keyfile.h>
#include <hub/mapping.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HUB_PUBLISH_DEFAULT_BATCH_SIZE 500
#define HUB_PUBLISH_DEFAULT_LINGER_MS 1000
#define HUB_PUBLISH_DEFAULT_PROGRESS_MS 10000
#define HUB_PUBLISH_PARTITIONS 3 /* of an agency topic made with --create-topic */

typedef struct hub_publish_stats {
        uint64_t rows_read;         /* rows read from the sources (mapped, refused or filtered) */
        uint64_t records;           /* rows mapped and put into batches */
        uint64_t refused;           /* rows refused, each reported with line and reason */
        uint64_t filtered;          /* rows the mapping's filter left out */
        uint64_t batches;           /* batches produced */
        uint64_t batches_delivered; /* batches the broker acknowledged */
        uint64_t records_delivered;
        uint64_t files_resumed;     /* files continued after their watermark */
        uint64_t unknown_symbols;   /* source values published as an enum's default */
        uint64_t ignored_values;    /* values of fields the mapping does not name */
        uint64_t elapsed_ms;
} hub_publish_stats_t;

typedef struct hub_publish_opts {
        hub_mapping_t *mapping;
        const hub_key_t *key;   /* with its secret half; its owner must be the mapping's agency */
        const char *brokers;    /* not needed for dry_run */
        const char *const *kafka_conf; /* name, value pairs given to librdkafka as they are */
        size_t n_kafka_conf;    /* pairs */
        hub_kafka_auth_t auth;  /* SASL user and password (hub/kafka_auth.h); applied last */
        const char *state_path; /* the watermark; NULL for none */
        const char *const *files;
        size_t n_files;
        size_t batch_size; /* records per batch; 0: the default */
        int linger_ms;     /* close a batch this long after its first record; 0: the default */
        int progress_ms;   /* how often progress() is called; 0: the default */
        bool from_start;   /* ignore the watermark's positions (the batch sequence goes on) */
        bool dry_run;      /* map and encode only: no Kafka, no watermark; record() gets each */
        bool create_topic; /* create the agency topic when it does not exist (tests) */
        void *ctx;
        void (*bad_row)(void *ctx, const char *file, uint64_t line, const char *reason,
                        const char *msg);
        void (*record)(void *ctx, json_t *report);
        void (*progress)(void *ctx, const hub_publish_stats_t *st);
        void (*notice)(void *ctx, const char *msg);
} hub_publish_opts_t;

/* Run once over the files. Returns 0 when every batch produced was delivered (refused rows are
 * counted in *st, not errors). Errors: HUB_E_CONFIG (key and mapping disagree, missing topic),
 * HUB_E_IO (a source or the state file), HUB_E_KAFKA (a batch was not delivered: the watermark
 * stays before it), HUB_E_MALFORMED (a CSV header), HUB_E_NOMEM. */
int hub_publish_run(const hub_publish_opts_t *o, hub_publish_stats_t *st, hub_err_t *err);

#endif
