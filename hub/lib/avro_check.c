/* Untrusted Avro bytes: validate against the writer schema before avro-c reads them.
 *
 * avro-c (up to 1.12.1) believes every length it decodes: a negative string length, a block
 * count of 2^62, an int that does not fit in 32 bits or bytes after the value all pass or crash
 * inside the library. Rather than patch the library, we walk the schema over the bytes once,
 * allocating nothing, and hand avro-c only input that is exactly one well-formed value. The walk
 * costs about as much as a decode without allocations; it is the price of a library we cannot
 * fix here. */
#include <hub/avro.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lengths of strings and bytes: other implementations (Java) hold them in an int and reject
 * more; a longer one is an attack or a bug, never a report. */
#define MAX_LENGTH INT32_MAX

/* One step of the path to the value being checked, rendered only when an error is reported,
 * so that the walk itself never formats strings. */
struct frame {
        avro_schema_t record; /* record whose field `index` we are in; NULL for an item */
        int64_t index;
};

struct walk {
        const unsigned char *buf;
        size_t len;
        size_t pos;
        int64_t items; /* array and map items seen so far, all blocks and levels */
        struct frame frames[HUB_AVRO_MAX_DEPTH + 2];
        int nframes;
        hub_err_t *err;
};

static void render_path(const struct walk *w, char *out, size_t cap)
{
        size_t n = 0;
        out[0] = '\0';
        for (int i = 0; i < w->nframes && n < cap; i++) {
                const struct frame *f = &w->frames[i];
                int k;
                if (f->record) {
                        const char *name = avro_schema_record_field_name(f->record, (int)f->index);
                        k = snprintf(out + n, cap - n, "%s%s", n ? "." : "", name ? name : "?");
                } else {
                        k = snprintf(out + n, cap - n, "[%" PRId64 "]", f->index);
                }
                if (k < 0)
                        break;
                n += (size_t)k;
        }
}

/* Report an error at byte offset `at`, prefixed with the path of the value. */
__attribute__((format(printf, 4, 5))) static int fail(struct walk *w, size_t at, int code,
                                                      const char *fmt, ...)
{
        if (!w->err)
                return -code;
        char path[128], why[160];
        render_path(w, path, sizeof(path));
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (path[0])
                return hub_err_set(w->err, code, false, "hub_avro_validate",
                                   "field %s at byte %zu: %s", path, at, why);
        return hub_err_set(w->err, code, false, "hub_avro_validate", "value at byte %zu: %s", at,
                           why);
}

static size_t left(const struct walk *w)
{
        return w->len - w->pos;
}

/* A base-128 varint of at most `max` bytes (10 for a long, 5 for an int). */
static int read_varint(struct walk *w, int max, uint64_t *out, const char *what)
{
        size_t at = w->pos;
        uint64_t v = 0;
        for (int i = 0;; i++) {
                if (w->pos >= w->len)
                        return fail(w, at, HUB_E_TRUNCATED, "input ends inside %s", what);
                unsigned char b = w->buf[w->pos++];
                if (i == max - 1 && (b & 0x80))
                        return fail(w, at, HUB_E_MALFORMED, "%s varint is longer than %d bytes",
                                    what, max);
                /* The 10th byte of a long carries only bit 63. */
                if (i == 9 && b > 1)
                        return fail(w, at, HUB_E_MALFORMED, "%s varint overflows 64 bits", what);
                v |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80))
                        break;
        }
        *out = v;
        return 0;
}

static int64_t unzigzag(uint64_t v)
{
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int read_long(struct walk *w, int64_t *out, const char *what)
{
        uint64_t v;
        int rc = read_varint(w, 10, &v, what);
        if (rc < 0)
                return rc;
        *out = unzigzag(v);
        return 0;
}

/* avro-c reads an int as a long and truncates it to 32 bits without a word. */
static int read_int(struct walk *w, int32_t *out, const char *what)
{
        size_t at = w->pos;
        uint64_t v;
        int rc = read_varint(w, 5, &v, what);
        if (rc < 0)
                return rc;
        if (v > UINT32_MAX)
                return fail(w, at, HUB_E_MALFORMED, "%s %" PRId64 " is out of int range", what,
                            unzigzag(v));
        *out = (int32_t)unzigzag(v);
        return 0;
}

static int need(struct walk *w, size_t n, const char *what)
{
        if (left(w) < n)
                return fail(w, w->pos, HUB_E_TRUNCATED, "%s needs %zu bytes, %zu left", what, n,
                            left(w));
        return 0;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. NUL is
 * refused too: avro-c hands strings out NUL-terminated, so "a\0b" would silently read as "a"
 * and two different signed byte strings would mean the same record. */
static long utf8_error(const unsigned char *s, size_t n)
{
        size_t i = 0;
        while (i < n) {
                unsigned char c = s[i];
                if (c == 0)
                        return (long)i;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                size_t k;
                uint32_t cp, min;
                if (c >= 0xc2 && c <= 0xdf) {
                        k = 1, cp = c & 0x1f, min = 0x80;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2, cp = c & 0x0f, min = 0x800;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        return (long)i;
                }
                if (n - i <= k)
                        return (long)i;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return (long)i;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return (long)i;
                i += k + 1;
        }
        return -1;
}

static int check_length(struct walk *w, bool is_string)
{
        const char *what = is_string ? "string length" : "bytes length";
        size_t at = w->pos;
        int64_t n;
        int rc = read_long(w, &n, what);
        if (rc < 0)
                return rc;
        if (n < 0)
                return fail(w, at, HUB_E_MALFORMED, "%s %" PRId64 " is negative", what, n);
        if (n > MAX_LENGTH)
                return fail(w, at, HUB_E_TOO_LARGE, "%s %" PRId64 " exceeds the limit of %d",
                            what, n, MAX_LENGTH);
        if ((uint64_t)n > left(w))
                return fail(w, at, HUB_E_TRUNCATED, "%s %" PRId64 " exceeds the %zu bytes left",
                            what, n, left(w));
        if (is_string) {
                long bad = utf8_error(w->buf + w->pos, (size_t)n);
                if (bad >= 0)
                        return fail(w, w->pos + (size_t)bad, HUB_E_MALFORMED,
                                    "string is not valid UTF-8 without NUL");
        }
        w->pos += (size_t)n;
        return 0;
}

/* The fewest bytes one value of schema s can take, to refuse a block count that cannot fit in
 * what is left before walking it. 0 for null, empty records and fixed(0): those are bounded by
 * HUB_AVRO_MAX_ITEMS instead. */
static size_t min_size(avro_schema_t s, int depth)
{
        if (depth > HUB_AVRO_MAX_DEPTH)
                return 0;
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return 0;
        case AVRO_FLOAT:
                return 4;
        case AVRO_DOUBLE:
                return 8;
        case AVRO_FIXED: {
                int64_t n = avro_schema_fixed_size(s);
                return n > 0 ? (size_t)n : 0;
        }
        case AVRO_RECORD: {
                size_t sum = 0, nf = avro_schema_record_size(s);
                for (size_t i = 0; i < nf; i++) {
                        avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
                        sum += f ? min_size(f, depth + 1) : 0;
                        if (sum > SIZE_MAX / 4)
                                return SIZE_MAX / 4;
                }
                return sum;
        }
        case AVRO_LINK:
                return min_size(avro_schema_link_target(s), depth + 1);
        default: /* boolean, varints, lengths, union index, block count: at least one byte */
                return 1;
        }
}

static int walk_value(struct walk *w, avro_schema_t s, int depth);

static int push(struct walk *w, avro_schema_t record, int64_t index)
{
        if (w->nframes >= (int)(sizeof(w->frames) / sizeof(w->frames[0])))
                return fail(w, w->pos, HUB_E_TOO_LARGE, "value nested deeper than %d levels",
                            HUB_AVRO_MAX_DEPTH);
        w->frames[w->nframes].record = record;
        w->frames[w->nframes].index = index;
        w->nframes++;
        return 0;
}

static int walk_record(struct walk *w, avro_schema_t s, int depth)
{
        size_t nf = avro_schema_record_size(s);
        for (size_t i = 0; i < nf; i++) {
                avro_schema_t f = avro_schema_record_field_get_by_index(s, (int)i);
                if (!f)
                        return hub_err_set(w->err, HUB_E_SCHEMA, false, "hub_avro_validate",
                                           "record %s has no field %zu", avro_schema_name(s), i);
                int rc = push(w, s, (int64_t)i);
                if (rc == 0)
                        rc = walk_value(w, f, depth + 1);
                if (rc < 0)
                        return rc;
                w->nframes--;
        }
        return 0;
}

/* Arrays and maps: blocks of `count` items until a count of 0. A negative count means -count
 * items preceded by the block's size in bytes (the spec's skipping aid); avro-c reads and
 * ignores that size, we insist that it is exact. */
static int walk_blocks(struct walk *w, avro_schema_t s, int depth, bool is_map)
{
        avro_schema_t item = is_map ? avro_schema_map_values(s) : avro_schema_array_items(s);
        size_t min = min_size(item, 0) + (is_map ? 1 : 0);
        int64_t index = 0;
        for (;;) {
                size_t at = w->pos;
                int64_t count, size = -1;
                int rc = read_long(w, &count, "block count");
                if (rc < 0)
                        return rc;
                if (count == 0)
                        return 0;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return fail(w, at, HUB_E_MALFORMED,
                                            "block count %" PRId64 " is out of range", count);
                        count = -count;
                        size_t at_size = w->pos;
                        rc = read_long(w, &size, "block size");
                        if (rc < 0)
                                return rc;
                        if (size < 0)
                                return fail(w, at_size, HUB_E_MALFORMED,
                                            "block size %" PRId64 " is negative", size);
                        if ((uint64_t)size > left(w))
                                return fail(w, at_size, HUB_E_TRUNCATED,
                                            "block size %" PRId64 " exceeds the %zu bytes left",
                                            size, left(w));
                }
                if (count > HUB_AVRO_MAX_ITEMS - w->items)
                        return fail(w, at, HUB_E_TOO_LARGE,
                                    "block count %" PRId64 " exceeds the limit of %ld items",
                                    count, (long)HUB_AVRO_MAX_ITEMS);
                if (min > 0 && (uint64_t)count > left(w) / min)
                        return fail(w, at, HUB_E_TRUNCATED,
                                    "block of %" PRId64 " items needs at least %zu bytes each, "
                                    "%zu left",
                                    count, min, left(w));
                w->items += count;
                size_t body = w->pos;
                for (int64_t i = 0; i < count; i++, index++) {
                        rc = push(w, NULL, index);
                        if (rc == 0 && is_map)
                                rc = check_length(w, true);
                        if (rc == 0)
                                rc = walk_value(w, item, depth + 1);
                        if (rc < 0)
                                return rc;
                        w->nframes--;
                }
                if (size >= 0 && w->pos - body != (uint64_t)size)
                        return fail(w, at, HUB_E_MALFORMED,
                                    "block size %" PRId64 " does not match its %zu bytes of items",
                                    size, w->pos - body);
        }
}

static int walk_value(struct walk *w, avro_schema_t s, int depth)
{
        size_t at = w->pos;
        int rc;
        if (depth > HUB_AVRO_MAX_DEPTH)
                return fail(w, at, HUB_E_TOO_LARGE, "value nested deeper than %d levels",
                            HUB_AVRO_MAX_DEPTH);
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if ((rc = need(w, 1, "boolean")) < 0)
                        return rc;
                if (w->buf[w->pos] > 1)
                        return fail(w, at, HUB_E_MALFORMED, "boolean byte %u is not 0 or 1",
                                    w->buf[w->pos]);
                w->pos++;
                return 0;
        case AVRO_INT32: {
                int32_t v;
                return read_int(w, &v, "int");
        }
        case AVRO_INT64: {
                int64_t v;
                return read_long(w, &v, "long");
        }
        case AVRO_FLOAT:
                if ((rc = need(w, 4, "float")) < 0)
                        return rc;
                w->pos += 4;
                return 0;
        case AVRO_DOUBLE:
                if ((rc = need(w, 8, "double")) < 0)
                        return rc;
                w->pos += 8;
                return 0;
        case AVRO_STRING:
                return check_length(w, true);
        case AVRO_BYTES:
                return check_length(w, false);
        case AVRO_FIXED: {
                int64_t n = avro_schema_fixed_size(s);
                if ((rc = need(w, n > 0 ? (size_t)n : 0, "fixed")) < 0)
                        return rc;
                w->pos += n > 0 ? (size_t)n : 0;
                return 0;
        }
        case AVRO_ENUM: {
                int32_t v;
                if ((rc = read_int(w, &v, "enum index")) < 0)
                        return rc;
                int n = avro_schema_enum_number_of_symbols(s);
                if (v < 0 || v >= n)
                        return fail(w, at, HUB_E_MALFORMED,
                                    "enum index %" PRId32 " is out of range for %d symbols of %s",
                                    v, n, avro_schema_name(s));
                return 0;
        }
        case AVRO_UNION: {
                int64_t v;
                if ((rc = read_long(w, &v, "union index")) < 0)
                        return rc;
                size_t n = avro_schema_union_size(s);
                if (v < 0 || (uint64_t)v >= n)
                        return fail(w, at, HUB_E_MALFORMED,
                                    "union index %" PRId64 " is out of range for %zu branches", v,
                                    n);
                return walk_value(w, avro_schema_union_branch(s, (int)v), depth + 1);
        }
        case AVRO_RECORD:
                return walk_record(w, s, depth);
        case AVRO_ARRAY:
                return walk_blocks(w, s, depth, false);
        case AVRO_MAP:
                return walk_blocks(w, s, depth, true);
        case AVRO_LINK:
                /* A recursive reference: depth grows at the record it names. */
                return walk_value(w, avro_schema_link_target(s), depth + 1);
        }
        return hub_err_set(w->err, HUB_E_SCHEMA, false, "hub_avro_validate",
                           "unsupported avro type %d", (int)avro_typeof(s));
}

int hub_avro_validate(avro_schema_t schema, const void *buf, size_t len, hub_err_t *err)
{
        if (!schema || !is_avro_schema(schema) || (!buf && len > 0))
                return hub_err_set(err, HUB_E_INVAL, false, __func__,
                                   "schema and buffer are required");
        struct walk w = {.buf = buf, .len = len, .err = err};
        int rc = walk_value(&w, schema, 0);
        if (rc < 0)
                return rc;
        if (w.pos != len)
                return hub_err_set(err, HUB_E_TRAILING, false, __func__,
                                   "value at byte %zu: %zu bytes after the end of the value",
                                   w.pos, len - w.pos);
        return 0;
}

int hub_avro_decode(avro_schema_t writer, const void *buf, size_t len, avro_value_t *dest,
                    hub_err_t *err)
{
        if (!dest)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "no destination value");
        int rc = hub_avro_validate(writer, buf, len, err);
        if (rc < 0)
                return rc;
        /* avro_reader_memory keeps the pointer and reads only len bytes; a zero-length value
         * (null) still needs a non-NULL pointer. */
        static const char empty[1];
        avro_reader_t r = avro_reader_memory(len ? buf : empty, (int64_t)len);
        if (!r)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                   "could not create avro reader: %s", avro_strerror());
        avro_value_reset(dest);
        if (avro_value_read(r, dest) != 0)
                rc = hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                 "avro-c could not read the value: %s", avro_strerror());
        avro_reader_free(r);
        return rc;
}

int hub_avro_encode(avro_value_t *value, unsigned char **out, size_t *len, hub_err_t *err)
{
        if (!value || !out || !len)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "value and out required");
        *out = NULL;
        *len = 0;
        size_t size;
        if (avro_value_sizeof(value, &size) != 0)
                return hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                   "could not size the value: %s", avro_strerror());
        unsigned char *buf = malloc(size ? size : 1);
        if (!buf)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                   "could not allocate %zu bytes", size);
        avro_writer_t wr = avro_writer_memory((const char *)buf, (int64_t)size);
        if (!wr) {
                free(buf);
                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                   "could not create avro writer");
        }
        int rc = 0;
        if (avro_value_write(wr, value) != 0)
                rc = hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                 "could not encode the value: %s", avro_strerror());
        avro_writer_free(wr);
        if (rc < 0) {
                free(buf);
                return rc;
        }
        *out = buf;
        *len = size;
        return 0;
}

int hub_avro_schema_load(const char *path, avro_schema_t *out, hub_err_t *err)
{
        if (!path || !out)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "path and out required");
        *out = NULL;
        FILE *f = fopen(path, "rb");
        if (!f)
                return hub_err_set(err, HUB_E_IO, false, __func__, "could not open %s: %s", path,
                                   strerror(errno));
        char *text = NULL;
        size_t n = 0, cap = 0;
        int rc = 0;
        for (;;) {
                if (n == cap) {
                        /* Schemas are small; a file of megabytes is a mistake, not a schema. */
                        if (cap >= (1u << 24)) {
                                rc = hub_err_set(err, HUB_E_TOO_LARGE, false, __func__,
                                                 "schema file %s is larger than 16 MiB", path);
                                goto out;
                        }
                        cap = cap ? cap * 2 : 4096;
                        char *nt = realloc(text, cap);
                        if (!nt) {
                                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                                 "could not read %s: out of memory", path);
                                goto out;
                        }
                        text = nt;
                }
                size_t got = fread(text + n, 1, cap - n, f);
                n += got;
                if (got == 0)
                        break;
        }
        if (ferror(f)) {
                rc = hub_err_set(err, HUB_E_IO, false, __func__, "could not read %s", path);
                goto out;
        }
        avro_schema_t s = NULL;
        if (avro_schema_from_json_length(text, n, &s) != 0) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__, "invalid schema in %s: %s",
                                 path, avro_strerror());
                goto out;
        }
        *out = s;
out:
        free(text);
        fclose(f);
        return rc;
}
