/* Avro Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * A message names its writer schema by the 64-bit Rabin fingerprint of the schema's Parsing
 * Canonical Form (Avro single-object encoding). avro-c 1.11.1 has neither, and printing its
 * parsed schema back (avro_schema_to_json) keeps attributes PCF must strip, so the rules of
 * the specification are applied here to the JSON text, parsed with jansson:
 * PRIMITIVES, FULLNAMES, STRIP, ORDER, STRINGS, INTEGERS, WHITESPACE. */
#include <hub/avro.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t hub_avro_crc64(const void *buf, size_t len)
{
        /* The table costs 2048 shifts; fingerprints are taken when schemas load, not per
         * message, so building it per call beats the thread-safety of a lazy global. */
        uint64_t table[256];
        for (int i = 0; i < 256; i++) {
                uint64_t fp = (uint64_t)i;
                for (int j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1));
                table[i] = fp;
        }
        const unsigned char *p = buf;
        uint64_t fp = CRC64_EMPTY;
        for (size_t i = 0; i < len; i++)
                fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
        return fp;
}

struct out {
        char *buf;
        size_t len, cap;
        bool nomem;
};

static void put(struct out *o, const char *s, size_t n)
{
        if (o->nomem)
                return;
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 256;
                while (cap < o->len + n + 1)
                        cap *= 2;
                char *nb = realloc(o->buf, cap);
                if (!nb) {
                        o->nomem = true;
                        return;
                }
                o->buf = nb;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
        put(o, s, strlen(s));
}

/* STRINGS: a JSON string with only the escapes JSON requires. */
static void put_string(struct out *o, const char *s)
{
        put(o, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        char e[2] = {'\\', (char)c};
                        put(o, e, 2);
                } else if (c < 0x20) {
                        char e[8];
                        snprintf(e, sizeof(e), "\\u%04x", c);
                        puts_(o, e);
                } else {
                        put(o, (const char *)&c, 1);
                }
        }
        put(o, "\"", 1);
}

struct pcf {
        struct out out;
        char **names; /* fullnames of the named types defined so far */
        size_t nnames, capnames;
        hub_err_t *err;
        int depth;
};

static const char *const primitives[] = {"null",  "boolean", "int",    "long",
                                         "float", "double",  "bytes",  "string"};

static bool is_primitive(const char *s)
{
        for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
                if (strcmp(s, primitives[i]) == 0)
                        return true;
        return false;
}

static bool defined(const struct pcf *p, const char *full)
{
        for (size_t i = 0; i < p->nnames; i++)
                if (strcmp(p->names[i], full) == 0)
                        return true;
        return false;
}

/* FULLNAMES: a name with a dot is already full; otherwise the namespace applies. */
static char *fullname(const char *name, const char *ns)
{
        size_t n = strlen(name), m = ns ? strlen(ns) : 0;
        char *s = malloc(n + m + 2);
        if (!s)
                return NULL;
        if (strchr(name, '.') || m == 0)
                memcpy(s, name, n + 1);
        else
                snprintf(s, n + m + 2, "%s.%s", ns, name);
        return s;
}

/* The namespace a named type's fullname sets for the types inside it. */
static char *space_of(const char *full)
{
        const char *dot = strrchr(full, '.');
        return dot ? strndup(full, (size_t)(dot - full)) : strdup("");
}

static int bad(struct pcf *p, const char *what)
{
        return hub_err_set(p->err, HUB_E_SCHEMA, false, "hub_avro_canonical", "invalid schema: %s",
                           what);
}

static int emit(struct pcf *p, json_t *s, const char *ns);

/* A reference by name to a type defined earlier. Java's parser looks the name up in the
 * enclosing namespace first, then as written (the null namespace). */
static int emit_reference(struct pcf *p, const char *name, const char *ns)
{
        char *full = fullname(name, ns);
        if (!full)
                return hub_err_set(p->err, HUB_E_NOMEM, false, "hub_avro_canonical",
                                   "out of memory");
        int rc = 0;
        if (defined(p, full))
                put_string(&p->out, full);
        else if (defined(p, name))
                put_string(&p->out, name);
        else
                rc = hub_err_set(p->err, HUB_E_SCHEMA, false, "hub_avro_canonical",
                                 "invalid schema: unknown type \"%s\"", full);
        free(full);
        return rc;
}

static int emit_named(struct pcf *p, json_t *s, const char *type, const char *ns)
{
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || !*name)
                return bad(p, "named type without a name");
        json_t *jns = json_object_get(s, "namespace");
        const char *space = ns;
        if (jns) {
                if (!json_is_string(jns))
                        return bad(p, "namespace is not a string");
                space = json_string_value(jns);
        }
        char *full = fullname(name, space);
        char *inner = full ? space_of(full) : NULL;
        int rc = 0;
        if (!full || !inner) {
                rc = hub_err_set(p->err, HUB_E_NOMEM, false, "hub_avro_canonical",
                                 "out of memory");
                goto out;
        }
        if (defined(p, full)) {
                rc = hub_err_set(p->err, HUB_E_SCHEMA, false, "hub_avro_canonical",
                                 "invalid schema: type \"%s\" is defined twice", full);
                goto out;
        }
        if (p->nnames == p->capnames) {
                size_t cap = p->capnames ? p->capnames * 2 : 16;
                char **nn = realloc(p->names, cap * sizeof(*nn));
                if (!nn) {
                        rc = hub_err_set(p->err, HUB_E_NOMEM, false, "hub_avro_canonical",
                                         "out of memory");
                        goto out;
                }
                p->names = nn;
                p->capnames = cap;
        }
        /* Defined before its fields, so a record may refer to itself. */
        p->names[p->nnames++] = full;

        /* ORDER: name, type, fields, symbols, items, values, size. */
        puts_(&p->out, "{\"name\":");
        put_string(&p->out, full);
        full = NULL;
        puts_(&p->out, ",\"type\":");
        put_string(&p->out, type);
        if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
                json_t *fields = json_object_get(s, "fields");
                if (!json_is_array(fields)) {
                        rc = bad(p, "record without a fields array");
                        goto out;
                }
                puts_(&p->out, ",\"fields\":[");
                size_t i;
                json_t *f;
                json_array_foreach(fields, i, f)
                {
                        const char *fname = json_string_value(json_object_get(f, "name"));
                        json_t *ftype = json_object_get(f, "type");
                        if (!fname || !ftype) {
                                rc = bad(p, "record field without a name or a type");
                                goto out;
                        }
                        puts_(&p->out, i ? ",{\"name\":" : "{\"name\":");
                        put_string(&p->out, fname);
                        puts_(&p->out, ",\"type\":");
                        if ((rc = emit(p, ftype, inner)) < 0)
                                goto out;
                        puts_(&p->out, "}");
                }
                puts_(&p->out, "]");
        } else if (strcmp(type, "enum") == 0) {
                json_t *symbols = json_object_get(s, "symbols");
                if (!json_is_array(symbols)) {
                        rc = bad(p, "enum without a symbols array");
                        goto out;
                }
                puts_(&p->out, ",\"symbols\":[");
                size_t i;
                json_t *sym;
                json_array_foreach(symbols, i, sym)
                {
                        if (!json_is_string(sym)) {
                                rc = bad(p, "enum symbol is not a string");
                                goto out;
                        }
                        if (i)
                                puts_(&p->out, ",");
                        put_string(&p->out, json_string_value(sym));
                }
                puts_(&p->out, "]");
        } else {
                /* INTEGERS: no quotes, no leading zeros, no fraction. */
                json_t *size = json_object_get(s, "size");
                if (!json_is_integer(size) || json_integer_value(size) < 0) {
                        rc = bad(p, "fixed without a non-negative integer size");
                        goto out;
                }
                char num[32];
                snprintf(num, sizeof(num), ",\"size\":%" JSON_INTEGER_FORMAT,
                         json_integer_value(size));
                puts_(&p->out, num);
        }
        puts_(&p->out, "}");
out:
        free(full);
        free(inner);
        return rc;
}

static int emit(struct pcf *p, json_t *s, const char *ns)
{
        int rc = 0;
        if (++p->depth > HUB_AVRO_MAX_DEPTH) {
                rc = bad(p, "nested too deeply");
                goto out;
        }
        if (json_is_string(s)) {
                const char *name = json_string_value(s);
                if (is_primitive(name))
                        put_string(&p->out, name); /* PRIMITIVES */
                else
                        rc = emit_reference(p, name, ns);
        } else if (json_is_array(s)) {
                /* A union. */
                puts_(&p->out, "[");
                size_t i;
                json_t *b;
                json_array_foreach(s, i, b)
                {
                        if (i)
                                puts_(&p->out, ",");
                        if ((rc = emit(p, b, ns)) < 0)
                                goto out;
                }
                puts_(&p->out, "]");
        } else if (json_is_object(s)) {
                json_t *jt = json_object_get(s, "type");
                const char *type = json_string_value(jt);
                if (!jt) {
                        rc = bad(p, "object without a type");
                } else if (!type) {
                        rc = emit(p, jt, ns); /* {"type": {...}} or {"type": [...]} */
                } else if (is_primitive(type)) {
                        put_string(&p->out, type); /* PRIMITIVES, STRIP (logicalType...) */
                } else if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
                           strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
                        rc = emit_named(p, s, type, ns);
                } else if (strcmp(type, "array") == 0) {
                        json_t *items = json_object_get(s, "items");
                        if (!items) {
                                rc = bad(p, "array without items");
                                goto out;
                        }
                        puts_(&p->out, "{\"type\":\"array\",\"items\":");
                        if ((rc = emit(p, items, ns)) < 0)
                                goto out;
                        puts_(&p->out, "}");
                } else if (strcmp(type, "map") == 0) {
                        json_t *values = json_object_get(s, "values");
                        if (!values) {
                                rc = bad(p, "map without values");
                                goto out;
                        }
                        puts_(&p->out, "{\"type\":\"map\",\"values\":");
                        if ((rc = emit(p, values, ns)) < 0)
                                goto out;
                        puts_(&p->out, "}");
                } else {
                        rc = emit_reference(p, type, ns); /* {"type": "SomeNamedType"} */
                }
        } else {
                rc = bad(p, "a schema is a string, an array or an object");
        }
out:
        p->depth--;
        return rc;
}

int hub_avro_canonical(const char *json, size_t len, char **out, hub_err_t *err)
{
        if (!json || !out)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "json and out required");
        *out = NULL;
        json_error_t jerr;
        /* DECODE_ANY: "int" alone is a schema. */
        json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                   "schema is not JSON: %s at line %d column %d", jerr.text,
                                   jerr.line, jerr.column);
        struct pcf p = {.err = err};
        int rc = emit(&p, root, "");
        if (rc == 0 && p.out.nomem)
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        if (rc == 0) {
                *out = p.out.buf;
                p.out.buf = NULL;
        }
        free(p.out.buf);
        for (size_t i = 0; i < p.nnames; i++)
                free(p.names[i]);
        free(p.names);
        json_decref(root);
        return rc;
}

int hub_avro_fingerprint(const char *json, size_t len, uint64_t *fp, hub_err_t *err)
{
        if (!fp)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "fp required");
        char *canon = NULL;
        int rc = hub_avro_canonical(json, len, &canon, err);
        if (rc < 0)
                return rc;
        *fp = hub_avro_crc64(canon, strlen(canon));
        free(canon);
        return 0;
}
