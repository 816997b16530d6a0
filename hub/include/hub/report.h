/* The violator report (schemas/report.avsc, compiled into libhub): encoding from JSON for
 * connectors and decoding of untrusted bytes for the hub.
 *
 * A codec holds one avro-c value that it reuses for every record (avro-c's advice for speed),
 * so it is not shared between threads: make one per thread. */
#ifndef HUB_REPORT_H
#define HUB_REPORT_H

#include <hub/err.h>

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The schema JSON compiled in from schemas/report.avsc (NUL-terminated; _len excludes it). */
extern const char hub_report_schema_json[];
extern const size_t hub_report_schema_json_len;

typedef struct hub_report_codec hub_report_codec_t;

/* A codec for the compiled-in report schema. Free with hub_report_codec_free().
 * Errors: HUB_E_SCHEMA, HUB_E_NOMEM. */
int hub_report_codec_new(hub_report_codec_t **out, hub_err_t *err);
void hub_report_codec_free(hub_report_codec_t *c);

/* The schema's CRC-64-AVRO fingerprint, little-endian as in single-object encoding and in the
 * header of a signed batch. */
const uint8_t *hub_report_codec_fingerprint(const hub_report_codec_t *c);
avro_schema_t hub_report_codec_schema(const hub_report_codec_t *c);

/* Encode one report given as JSON in the schema's shape (rules of hub_avro_from_json). *out is
 * malloc'd: free() it. Errors: HUB_E_MALFORMED naming the field, HUB_E_NOMEM. */
int hub_report_encode_json(hub_report_codec_t *c, json_t *report, unsigned char **out,
                           size_t *len, hub_err_t *err);

/* Decode untrusted bytes (validated before avro-c reads them). On success *value points into
 * the codec and stays valid until the next call on it. Errors: as hub_avro_decode(). */
int hub_report_decode(hub_report_codec_t *c, const void *buf, size_t len, avro_value_t **value,
                      hub_err_t *err);

/* The record_id and agency of a decoded value (pointers into the value). */
int hub_report_ids(avro_value_t *value, const char **record_id, const char **agency,
                   hub_err_t *err);

#endif
