/* JSON to Avro values, for connectors that read JSON Lines and for test data.
 *
 * The mapping is stricter than Avro's own JSON encoding, because it reads what agencies type,
 * not what an Avro writer produced: unions take the plain value (no {"type": value} wrapper),
 * bytes and fixed are lower-case hex, and a key the schema does not know is an error, so that a
 * misspelt field in a mapping is reported instead of silently dropped. */
#ifndef HUB_AVRO_JSON_H
#define HUB_AVRO_JSON_H

#include <hub/err.h>

#include <avro.h>
#include <jansson.h>

/* Set *dest (a generic value of a record, or any other schema) from json. Rules:
 * - record: a JSON object; each field from the key of the same name; a missing or null key is
 *   allowed only when the field's type is a union with null (it takes the null branch) or an
 *   array or map (left empty); an unknown key is HUB_E_MALFORMED;
 * - union: null takes the null branch; any other value the first branch whose type accepts
 *   its JSON type (string → string, enum, bytes, fixed; integer → int, long, float, double;
 *   real → float, double; true/false → boolean; array → array; object → record, map);
 * - int is range-checked; enum takes its symbol; bytes and fixed take hex (fixed: exact size).
 * Errors name the path: `field identifiers[2].type: "FOO" is not a symbol of IdentifierType`.
 * *dest should be freshly reset: arrays are appended to. */
int hub_avro_from_json(json_t *json, avro_value_t *dest, hub_err_t *err);

#endif
