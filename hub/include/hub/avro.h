/* Avro: untrusted-bytes validation, decoding, schema fingerprints and compatibility.
 *
 * Two jobs avro-c 1.11.1 does not do for us:
 *  - it trusts the lengths and counts it decodes (negative string lengths, huge block counts,
 *    trailing bytes all pass up to 1.12.1), so every byte that came from outside goes through
 *    hub_avro_validate() before avro-c sees it; hub_avro_decode() does both in one call;
 *  - it has no Parsing Canonical Form and no fingerprints, which name a writer schema in a
 *    message (Avro single-object encoding), so hub_avro_canonical() and hub_avro_fingerprint()
 *    implement the specification's rules over jansson.
 *
 * Schemas and values are avro-c's reference-counted objects: callers decref what they own. */
#ifndef HUB_AVRO_H
#define HUB_AVRO_H

#include <hub/err.h>

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting of records, arrays, maps and unions in one value. Recursive schemas (a record that
 * contains itself) make depth depend on the input; this bounds stack use. */
#define HUB_AVRO_MAX_DEPTH 64

/* Array and map items in one value, over all blocks and all nesting levels. An item can take
 * zero bytes (null, an empty record, fixed of size 0), so the input's length alone does not
 * bound the work or the memory avro-c would spend on a count of 2^62 nulls. */
#define HUB_AVRO_MAX_ITEMS (1L << 20)

/* Load a schema from a JSON file. *out is a new reference: avro_schema_decref() it.
 * Errors: HUB_E_IO (cannot read the file), HUB_E_SCHEMA (avro-c rejects the text). */
int hub_avro_schema_load(const char *path, avro_schema_t *out, hub_err_t *err);

/* Check that buf[0..len) is exactly one value of `schema` in Avro binary encoding, without
 * trusting any length, count or index in it, and without allocating. Checks: varints at most
 * 10 bytes (ints 5) and ints in int32 range; booleans 0 or 1; string and bytes lengths >= 0 and
 * within the input; strings valid UTF-8 without NUL; enum and union indexes in range; fixed,
 * float and double bytes present; array and map blocks (negative counts with a byte size that
 * must match the block) and at most HUB_AVRO_MAX_ITEMS items; depth at most
 * HUB_AVRO_MAX_DEPTH; no bytes after the value.
 * Errors: HUB_E_MALFORMED, HUB_E_TRUNCATED, HUB_E_TRAILING, HUB_E_TOO_LARGE, with a message
 * that names the field and byte offset, e.g.
 * `field names[3].value at byte 17: string length -5 is negative`; HUB_E_INVAL, HUB_E_SCHEMA
 * for a NULL or unsupported schema. */
int hub_avro_validate(avro_schema_t schema, const void *buf, size_t len, hub_err_t *err);

/* Validate buf as a value of `writer` (above), then read it into *dest with avro-c.
 * *dest is either a value of `writer` itself (avro_generic_value_new) or a resolved writer
 * (avro_resolved_writer_new(writer, reader) + avro_resolved_writer_set_dest) wrapping a
 * value of the reader schema, which is how data from an older writer reaches the current
 * schema. *dest is reset first. Errors: those of hub_avro_validate, HUB_E_MALFORMED when
 * avro-c still refuses the value. */
int hub_avro_decode(avro_schema_t writer, const void *buf, size_t len, avro_value_t *dest,
                    hub_err_t *err);

/* Encode *value in Avro binary. *out is malloc'd (free() it), *len its size.
 * Errors: HUB_E_NOMEM, HUB_E_MALFORMED (avro-c cannot write the value). */
int hub_avro_encode(avro_value_t *value, unsigned char **out, size_t *len, hub_err_t *err);

/* Parsing Canonical Form (Avro specification, "Parsing Canonical Form for Schemas") of the
 * JSON schema text json[0..len). *out is malloc'd and NUL-terminated: free() it.
 * Errors: HUB_E_SCHEMA (not JSON, or not a schema), HUB_E_NOMEM. */
int hub_avro_canonical(const char *json, size_t len, char **out, hub_err_t *err);

/* CRC-64-AVRO (Rabin) fingerprint of the canonical form of json[0..len): the 8 bytes that
 * name a writer schema in single-object encoding (little-endian there). */
int hub_avro_fingerprint(const char *json, size_t len, uint64_t *fp, hub_err_t *err);

/* The specification's CRC-64-AVRO over raw bytes (EMPTY = 0xc15d213aa4d7a795). */
uint64_t hub_avro_crc64(const void *buf, size_t len);

/* hub_avro_compatible() flag: also require what avro-c 1.11.1 can resolve, since the hub reads
 * with it: no reader field missing from the writer (avro-c fills no defaults), enum symbols
 * only appended (avro-c maps enums by index), and avro_resolved_writer_new() agrees. */
#define HUB_AVRO_COMPAT_AVROC 1u

/* 0 when data written with the schema writer_json can be read with reader_json under the Avro
 * specification's resolution rules (field defaults, enum defaults, promotions, unions, named
 * types matched by unqualified name), plus the avro-c limits when flags has
 * HUB_AVRO_COMPAT_AVROC. Takes JSON texts because avro-c's parsed schemas drop defaults.
 * Errors: HUB_E_INCOMPATIBLE with the first reason and where, e.g.
 * `field names, field kind: enum NameKind: reader lacks symbol X and has no default`;
 * HUB_E_SCHEMA when either text is not a schema. */
int hub_avro_compatible(const char *reader_json, size_t rlen, const char *writer_json,
                        size_t wlen, unsigned flags, hub_err_t *err);

#endif
