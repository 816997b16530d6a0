/* Mapping files of hub-publish: how an agency's rows (CSV or JSON Lines) become reports
 * (schemas/report.avsc). The format is documented in connectors/examples/README.md; in short:
 *
 *   [source]   format, key fields, optional version field, filter, CSV delimiter, time zone
 *   [report]   constants: agency, sensitivity tier and recipients, producer id, key id
 *   [fields]   <source field> = <report target> [options]     (one line per target)
 *   [map.NAME] <source value> = <report value>                (value maps used by options)
 *
 * A mapping applied to a row (a JSON object; CSV rows are objects of strings) yields the report
 * as JSON in the schema's shape, for hub_report_encode_json(). Identifiers and names are copied
 * as given: the hub normalises them, the connector does not.
 *
 * record_id (DESIGN contract 3) is derived from the key fields only, so re-sending a row gives
 * the same id: each key value is written as text, every byte outside [A-Za-z0-9._-] is escaped
 * as %XX (upper-case hex of the UTF-8 byte), parts of a composite key are joined with '/', and a
 * versioned key appends '@' and the escaped version. The escape makes the rule injective: two
 * different keys never give the same id. At most HUB_MAPPING_MAX_RECORD_ID bytes. */
#ifndef HUB_MAPPING_H
#define HUB_MAPPING_H

#include <hub/err.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* records.record_id in the hub's database is 1 to 200 characters. */
#define HUB_MAPPING_MAX_RECORD_ID 200

typedef enum hub_source_format {
        HUB_SOURCE_JSONL = 0,
        HUB_SOURCE_CSV = 1,
} hub_source_format_t;

/* Applying a mapping to a row: the row is mapped, or filtered out (not an error), or refused
 * (a negative HUB_E_* code, a stable reason in *reason and a message naming the field). */
enum {
        HUB_MAP_RECORD = 0,
        HUB_MAP_FILTERED = 1,
};

/* Stable reasons for a refused row (the strings, not the pointers, are stable). */
#define HUB_REASON_MALFORMED "MALFORMED"         /* the row is not valid JSON / CSV */
#define HUB_REASON_MISSING_KEY "MISSING_KEY"     /* a key or version field is absent or empty */
#define HUB_REASON_BAD_KEY "BAD_KEY"             /* the key gives a record_id that is too long */
#define HUB_REASON_MISSING_VALUE "MISSING_VALUE" /* a field the report requires is absent */
#define HUB_REASON_BAD_VALUE "BAD_VALUE"         /* a value cannot become its report field */
#define HUB_REASON_DUPLICATE_KEY "DUPLICATE_KEY" /* an earlier row of this run had the same id */
#define HUB_REASON_TOO_LARGE "TOO_LARGE"         /* the encoded record exceeds the batch limit */
#define HUB_REASON_ENCODE "ENCODE"               /* the report codec refused the mapped record */

typedef struct hub_mapping hub_mapping_t;

/* Counters of what a mapping met while applying rows, for the summary at the end of a run.
 * Nothing in them is an error: a row with an unknown symbol is published with the default. */
typedef struct hub_mapping_stats {
        size_t unknown_symbols; /* source values no enum symbol (nor map) matched: default used */
        size_t ignored_values;  /* values of fields the mapping does not name */
        size_t filtered_rows;   /* rows the [source] filter left out */
} hub_mapping_stats_t;

/* Load a mapping file, or parse one from text (`name` is used in messages). *out is freed with
 * hub_mapping_free(). Errors: HUB_E_IO (cannot read), HUB_E_CONFIG naming the line and why. */
int hub_mapping_load(const char *path, hub_mapping_t **out, hub_err_t *err);
int hub_mapping_parse(const char *text, const char *name, hub_mapping_t **out, hub_err_t *err);
void hub_mapping_free(hub_mapping_t *m);

/* The constants and source settings (strings live as long as the mapping). key_id is NULL when
 * the mapping does not name one (the key file's is used). */
const char *hub_mapping_agency(const hub_mapping_t *m);
const char *hub_mapping_producer_id(const hub_mapping_t *m);
const char *hub_mapping_key_id(const hub_mapping_t *m);
hub_source_format_t hub_mapping_format(const hub_mapping_t *m);
char hub_mapping_csv_delimiter(const hub_mapping_t *m);

/* Map one row. On HUB_MAP_RECORD *report is a new reference (json_decref it). On a refused row
 * returns -HUB_E_MALFORMED with *reason one of HUB_REASON_* and err naming the field.
 * Stats are added to *stats (may be NULL). Not thread-safe: the mapping counts ignored fields. */
int hub_mapping_apply(hub_mapping_t *m, json_t *row, json_t **report, const char **reason,
                      hub_mapping_stats_t *stats, hub_err_t *err);

/* The record_id of a row by the rule above, into out (HUB_MAPPING_MAX_RECORD_ID + 1 bytes).
 * Errors (-HUB_E_MALFORMED): *reason MISSING_KEY or BAD_KEY. */
int hub_mapping_record_id(const hub_mapping_t *m, json_t *row, char *out, size_t out_size,
                          const char **reason, hub_err_t *err);

/* The names of source fields met in rows but not named by the mapping, with how many values
 * each had: a JSON object (borrowed, lives as long as the mapping). */
json_t *hub_mapping_ignored_fields(const hub_mapping_t *m);

/* Source values that matched no enum symbol, as "<field>=<value>" → count (borrowed). */
json_t *hub_mapping_unknown_values(const hub_mapping_t *m);

/* Dates and times as the mapping reads them (exposed for tests):
 * date: YYYY-MM-DD or DD/MM/YYYY → days since 1970-01-01 (Avro's date);
 * timestamp: a date (00:00 at tz_offset_ms east of UTC), or YYYY-MM-DD[T ]HH:MM[:SS[.fff]]
 * with an optional zone (Z or ±HH:MM; none means tz_offset_ms) → milliseconds since the epoch.
 * Return 0, or -1 when the text is not such a date (or not a real calendar day). */
int hub_mapping_parse_date(const char *s, int32_t *days);
int hub_mapping_parse_timestamp(const char *s, int64_t tz_offset_ms, int64_t *ms);

#endif
