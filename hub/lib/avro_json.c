#include <hub/avro_json.h>

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The path of the value being set, for error messages: `identifiers[2].type`. */
struct path {
        char buf[160];
        size_t len;
};

static size_t path_push_name(struct path *p, const char *name)
{
        size_t old = p->len;
        int n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s", p->len ? "." : "",
                         name);
        if (n > 0)
                p->len = p->len + (size_t)n < sizeof(p->buf) ? p->len + (size_t)n
                                                              : sizeof(p->buf) - 1;
        return old;
}

static size_t path_push_index(struct path *p, size_t index)
{
        size_t old = p->len;
        int n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", index);
        if (n > 0)
                p->len = p->len + (size_t)n < sizeof(p->buf) ? p->len + (size_t)n
                                                              : sizeof(p->buf) - 1;
        return old;
}

static void path_pop(struct path *p, size_t old)
{
        p->len = old;
        p->buf[old] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(hub_err_t *err, const struct path *p,
                                                      const char *fmt, ...)
{
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return hub_err_set(err, HUB_E_MALFORMED, false, "avro_from_json", "field %s: %s",
                           p->len ? p->buf : "(top)", msg);
}

static const char *json_kind(const json_t *j)
{
        switch (json_typeof(j)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a real number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "unknown";
}

/* Whether a value of JSON type `j` can become Avro type `t` (used to pick a union branch). */
static int accepts(avro_type_t t, const json_t *j)
{
        switch (json_typeof(j)) {
        case JSON_STRING:
                return t == AVRO_STRING || t == AVRO_ENUM || t == AVRO_BYTES || t == AVRO_FIXED;
        case JSON_INTEGER:
                return t == AVRO_INT32 || t == AVRO_INT64 || t == AVRO_FLOAT ||
                       t == AVRO_DOUBLE;
        case JSON_REAL:
                return t == AVRO_FLOAT || t == AVRO_DOUBLE;
        case JSON_TRUE:
        case JSON_FALSE:
                return t == AVRO_BOOLEAN;
        case JSON_ARRAY:
                return t == AVRO_ARRAY;
        case JSON_OBJECT:
                return t == AVRO_RECORD || t == AVRO_MAP;
        case JSON_NULL:
                return t == AVRO_NULL;
        }
        return 0;
}

static int set_value(json_t *j, avro_value_t *v, struct path *p, int depth, hub_err_t *err);

static int set_hex(json_t *j, avro_value_t *v, avro_type_t t, avro_schema_t s,
                   const struct path *p, hub_err_t *err)
{
        if (!json_is_string(j))
                return fail(err, p, "expected hex, got %s", json_kind(j));
        const char *hex = json_string_value(j);
        size_t hexlen = json_string_length(j);
        size_t cap = hexlen / 2 + 1, n = 0;
        unsigned char *bin = malloc(cap);
        if (!bin)
                return hub_err_set(err, HUB_E_NOMEM, false, "avro_from_json", "out of memory");
        const char *end = NULL;
        if (sodium_hex2bin(bin, cap, hex, hexlen, NULL, &n, &end) != 0 || end != hex + hexlen ||
            hexlen % 2) {
                free(bin);
                return fail(err, p, "value is not an even-length hex string");
        }
        int rc;
        if (t == AVRO_FIXED) {
                if ((int64_t)n != avro_schema_fixed_size(s)) {
                        free(bin);
                        return fail(err, p, "value has the wrong size for its fixed type");
                }
                rc = avro_value_set_fixed(v, bin, n);
        } else {
                rc = avro_value_set_bytes(v, bin, n);
        }
        free(bin);
        return rc ? fail(err, p, "avro-c refused the value: %s", avro_strerror()) : 0;
}

static int set_record(json_t *j, avro_value_t *v, avro_schema_t s, struct path *p, int depth,
                      hub_err_t *err)
{
        if (!json_is_object(j))
                return fail(err, p, "expected an object, got %s", json_kind(j));
        const char *key;
        json_t *item;
        json_object_foreach(j, key, item)
        {
                if (avro_schema_record_field_get_index(s, key) < 0) {
                        size_t old = path_push_name(p, key);
                        int rc = fail(err, p, "unknown field is not in the schema");
                        path_pop(p, old);
                        return rc;
                }
        }
        size_t nfields = avro_schema_record_size(s);
        for (size_t i = 0; i < nfields; i++) {
                const char *name = avro_schema_record_field_name(s, (int)i);
                avro_value_t child;
                if (avro_value_get_by_index(v, i, &child, NULL))
                        return fail(err, p, "avro-c: %s", avro_strerror());
                size_t old = path_push_name(p, name);
                json_t *fj = json_object_get(j, name);
                int rc = 0;
                if (!fj || json_is_null(fj)) {
                        avro_schema_t fs = avro_value_get_schema(&child);
                        avro_type_t ft = avro_typeof(fs);
                        if (ft == AVRO_ARRAY || ft == AVRO_MAP)
                                rc = 0;
                        else if (ft == AVRO_UNION)
                                rc = set_value(json_null(), &child, p, depth + 1, err);
                        else
                                rc = fail(err, p, "%s", "required field is missing or null");
                } else {
                        rc = set_value(fj, &child, p, depth + 1, err);
                }
                path_pop(p, old);
                if (rc)
                        return rc;
        }
        return 0;
}

static int set_value(json_t *j, avro_value_t *v, struct path *p, int depth, hub_err_t *err)
{
        if (depth > 32)
                return fail(err, p, "%s", "nested too deeply");
        avro_schema_t s = avro_value_get_schema(v);
        avro_type_t t = avro_typeof(s);
        int rc = 0;
        switch (t) {
        case AVRO_NULL:
                if (!json_is_null(j))
                        return fail(err, p, "expected null, got %s", json_kind(j));
                rc = avro_value_set_null(v);
                break;
        case AVRO_BOOLEAN:
                if (!json_is_boolean(j))
                        return fail(err, p, "expected a boolean, got %s", json_kind(j));
                rc = avro_value_set_boolean(v, json_is_true(j));
                break;
        case AVRO_INT32:
                if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
                    json_integer_value(j) > INT32_MAX)
                        return fail(err, p, "expected a 32-bit integer, got %s", json_kind(j));
                rc = avro_value_set_int(v, (int32_t)json_integer_value(j));
                break;
        case AVRO_INT64:
                if (!json_is_integer(j))
                        return fail(err, p, "expected an integer, got %s", json_kind(j));
                rc = avro_value_set_long(v, json_integer_value(j));
                break;
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                if (!json_is_number(j))
                        return fail(err, p, "expected a number, got %s", json_kind(j));
                rc = t == AVRO_FLOAT ? avro_value_set_float(v, (float)json_number_value(j))
                                     : avro_value_set_double(v, json_number_value(j));
                break;
        case AVRO_STRING:
                if (!json_is_string(j))
                        return fail(err, p, "expected a string, got %s", json_kind(j));
                /* jansson has already refused invalid UTF-8; a NUL inside would be cut by
                 * avro-c's C strings, so refuse it rather than store a shorter value. */
                if (strlen(json_string_value(j)) != json_string_length(j))
                        return fail(err, p, "string contains a NUL character");
                rc = avro_value_set_string_len(v, json_string_value(j),
                                               json_string_length(j) + 1);
                break;
        case AVRO_BYTES:
        case AVRO_FIXED:
                return set_hex(j, v, t, s, p, err);
        case AVRO_ENUM: {
                if (!json_is_string(j))
                        return fail(err, p, "expected an enum symbol, got %s", json_kind(j));
                int idx = avro_schema_enum_get_by_name(s, json_string_value(j));
                if (idx < 0) {
                        return fail(err, p, "\"%.60s\" is not a symbol of %.50s",
                                    json_string_value(j), avro_schema_name(s));
                }
                rc = avro_value_set_enum(v, idx);
                break;
        }
        case AVRO_ARRAY: {
                if (!json_is_array(j))
                        return fail(err, p, "expected an array, got %s", json_kind(j));
                size_t i;
                json_t *item;
                json_array_foreach(j, i, item)
                {
                        avro_value_t child;
                        if (avro_value_append(v, &child, NULL))
                                return fail(err, p, "avro-c: %s", avro_strerror());
                        size_t old = path_push_index(p, i);
                        rc = set_value(item, &child, p, depth + 1, err);
                        path_pop(p, old);
                        if (rc)
                                return rc;
                }
                return 0;
        }
        case AVRO_MAP: {
                if (!json_is_object(j))
                        return fail(err, p, "expected an object, got %s", json_kind(j));
                const char *key;
                json_t *item;
                json_object_foreach(j, key, item)
                {
                        avro_value_t child;
                        if (avro_value_add(v, key, &child, NULL, NULL))
                                return fail(err, p, "avro-c: %s", avro_strerror());
                        size_t old = path_push_name(p, key);
                        rc = set_value(item, &child, p, depth + 1, err);
                        path_pop(p, old);
                        if (rc)
                                return rc;
                }
                return 0;
        }
        case AVRO_RECORD:
                return set_record(j, v, s, p, depth, err);
        case AVRO_UNION: {
                size_t n = avro_schema_union_size(s);
                for (size_t i = 0; i < n; i++) {
                        avro_schema_t b = avro_schema_union_branch(s, (int)i);
                        if (!accepts(avro_typeof(b), j))
                                continue;
                        avro_value_t branch;
                        if (avro_value_set_branch(v, (int)i, &branch))
                                return fail(err, p, "avro-c: %s", avro_strerror());
                        return set_value(j, &branch, p, depth + 1, err);
                }
                if (json_is_null(j))
                        return fail(err, p, "%s", "required field is missing or null");
                return fail(err, p, "no branch of the union takes %s", json_kind(j));
        }
        default:
                return fail(err, p, "%s", "unsupported schema type");
        }
        if (rc)
                return fail(err, p, "avro-c refused the value: %s", avro_strerror());
        return 0;
}

int hub_avro_from_json(json_t *json, avro_value_t *dest, hub_err_t *err)
{
        if (!json || !dest)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "json and dest are required");
        struct path p = {.buf = "", .len = 0};
        return set_value(json, dest, &p, 0, err);
}
