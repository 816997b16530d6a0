/* Mapping files applied to rows: conversions, grouping into the report's objects, record_id,
 * and the dates mappings read. Parsing is in mapping.c. */
#include <hub/mapping.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_internal.h"

/* ---- applying ---- */

/* Text of a scalar JSON value (strings as they are, numbers in decimal); NULL for anything
 * else. buf holds numbers' text. */
static const char *scalar_text(json_t *v, char *buf, size_t size)
{
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return buf;
        }
        if (json_is_real(v)) {
                snprintf(buf, size, "%.17g", json_real_value(v));
                return buf;
        }
        if (json_is_boolean(v))
                return json_is_true(v) ? "true" : "false";
        return NULL;
}

/* True when a string in v (or in its elements and members) holds a NUL byte. A CSV cell can
 * (libcsv keeps it, json_stringn too), and every use below reads strings as C strings, which
 * would cut the value at the NUL without a word: such a row is refused instead. */
static bool has_nul(json_t *v)
{
        if (json_is_string(v))
                return strlen(json_string_value(v)) != json_string_length(v);
        size_t i;
        const char *k;
        json_t *e;
        if (json_is_array(v)) {
                json_array_foreach(v, i, e) {
                        if (has_nul(e))
                                return true;
                }
        } else if (json_is_object(v)) {
                json_object_foreach(v, k, e) {
                        if (has_nul(e))
                                return true;
                }
        }
        return false;
}

static void count(json_t *obj, const char *key)
{
        json_t *c = json_object_get(obj, key);
        if (c)
                json_integer_set(c, json_integer_value(c) + 1);
        else
                json_object_set_new(obj, key, json_integer(1));
}

struct row_ctx {
        hub_mapping_t *m;
        hub_mapping_stats_t *stats;
        const char **reason;
        hub_err_t *err;
        json_t *row;
        json_t *report;
        json_t *address; /* one per row, from addresses.* */
        json_t *action;  /* one per row, from actions.* */
        json_t *rels;    /* KIND → relation */
        json_t *doc_dates; /* KIND → issued_on */
        const char *tier;
};

static int refuse(struct row_ctx *c, const char *reason, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int refuse(struct row_ctx *c, const char *reason, const char *fmt, ...)
{
        char msg[240];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        *c->reason = reason;
        return hub_err_set(c->err, HUB_E_MALFORMED, false, "mapping", "%s", msg);
}

static json_t *array_of(json_t *report, const char *field)
{
        json_t *a = json_object_get(report, field);
        if (!a) {
                a = json_array();
                json_object_set_new(report, field, a);
        }
        return a;
}

/* A value as its list of elements: a JSON array's elements, a string cut at `split`, or the
 * value alone. New reference. */
static json_t *elements(json_t *v, char split)
{
        if (json_is_array(v))
                return json_incref(v);
        json_t *out = json_array();
        if (split && json_is_string(v)) {
                const char *s = json_string_value(v);
                while (*s) {
                        const char *e = strchr(s, split);
                        size_t n = e ? (size_t)(e - s) : strlen(s);
                        while (n && isspace((unsigned char)*s)) {
                                s++;
                                n--;
                        }
                        while (n && isspace((unsigned char)s[n - 1]))
                                n--;
                        if (n)
                                json_array_append_new(out, json_stringn(s, n));
                        if (!e)
                                break;
                        s = e + 1;
                }
                return out;
        }
        json_array_append(out, v);
        return out;
}

/* The enum symbol for a source value: the rule's map first ("*" is its fallback), then the
 * value upper-cased with spaces and dashes as underscores; an unknown value takes the enum's
 * default and is counted, so a new code at the source never stops publication. */
static const char *to_symbol(struct row_ctx *c, const struct rule *r, const char *enum_name,
                             const char *text, char *buf, size_t size)
{
        const char *t = text;
        if (r->map) {
                const char *mv = json_string_value(json_object_get(r->map, text));
                if (!mv)
                        mv = json_string_value(json_object_get(r->map, "*"));
                if (mv)
                        t = mv;
        }
        size_t n = 0;
        while (isspace((unsigned char)*t))
                t++;
        for (; *t && n + 1 < size; t++) {
                unsigned char ch = (unsigned char)*t;
                buf[n++] = ch == ' ' || ch == '-' ? '_' : (char)toupper(ch);
        }
        while (n && buf[n - 1] == '_')
                n--;
        buf[n] = '\0';
        if (mapping_enum_has(c->m, enum_name, buf))
                return buf;
        char key[160];
        snprintf(key, sizeof(key), "%s=%s", r->source, text);
        count(c->m->unknown, key);
        if (c->stats)
                c->stats->unknown_symbols++;
        return mapping_enum_default(c->m, enum_name);
}

static int to_long(struct row_ctx *c, const struct rule *r, json_t *v, json_int_t *out)
{
        if (json_is_integer(v)) {
                *out = json_integer_value(v);
                return 0;
        }
        const char *s = json_string_value(v);
        if (s) {
                char *end;
                errno = 0;
                long long x = strtoll(s, &end, 10);
                if (end != s && !*end && !errno && !isspace((unsigned char)*s)) {
                        *out = x;
                        return 0;
                }
        }
        char buf[64];
        const char *t = scalar_text(v, buf, sizeof(buf));
        return refuse(c, HUB_REASON_BAD_VALUE, "field %s: \"%.60s\" is not a whole number",
                      r->source, t ? t : "(a list or object)");
}

static int to_date(struct row_ctx *c, const struct rule *r, json_t *v, json_t **out)
{
        int32_t days;
        const char *s = json_string_value(v);
        if (!s || hub_mapping_parse_date(s, &days))
                return refuse(c, HUB_REASON_BAD_VALUE,
                              "field %s: \"%.60s\" is not a date (YYYY-MM-DD or DD/MM/YYYY)",
                              r->source, s ? s : "(not text)");
        *out = json_integer(days);
        return 0;
}

static int to_text(struct row_ctx *c, const struct rule *r, json_t *v, json_t **out)
{
        char buf[64];
        const char *t = scalar_text(v, buf, sizeof(buf));
        if (!t)
                return refuse(c, HUB_REASON_BAD_VALUE, "field %s: expected text, got a %s",
                              r->source, json_is_array(v) ? "list" : "object");
        *out = json_string(t);
        if (!*out)
                return refuse(c, HUB_REASON_BAD_VALUE, "field %s: text is not valid UTF-8",
                              r->source);
        return 0;
}

/* Set report field `name` of obj from one scalar source value, converting by kind. */
static int set_scalar(struct row_ctx *c, const struct rule *r, json_t *obj, const char *name,
                      json_t *v)
{
        json_t *out = NULL;
        json_int_t x;
        int rc = 0;
        char buf[96];
        switch (r->kind) {
        case T_TIMESTAMP: {
                int64_t ms;
                const char *s = json_string_value(v);
                if (json_is_integer(v))
                        ms = json_integer_value(v);
                else if (!s || hub_mapping_parse_timestamp(s, c->m->tz_offset_ms, &ms))
                        return refuse(c, HUB_REASON_BAD_VALUE,
                                      "field %s: \"%.60s\" is not a date or time "
                                      "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[zone])",
                                      r->source, s ? s : "(not text)");
                out = json_integer(ms);
                break;
        }
        case T_DATE:
                rc = to_date(c, r, v, &out);
                break;
        case T_INT:
        case T_LONG:
                rc = to_long(c, r, v, &x);
                if (!rc && r->kind == T_INT && (x < INT32_MIN || x > INT32_MAX))
                        rc = refuse(c, HUB_REASON_BAD_VALUE, "field %s: %" JSON_INTEGER_FORMAT
                                    " is out of range", r->source, x);
                if (!rc)
                        out = json_integer(x);
                break;
        case T_ENUM:
        case T_TIER: {
                const char *t = scalar_text(v, buf, sizeof(buf));
                if (!t)
                        return refuse(c, HUB_REASON_BAD_VALUE, "field %s: expected one value",
                                      r->source);
                char sym[64];
                out = json_string(to_symbol(c, r, r->enum_name, t, sym, sizeof(sym)));
                break;
        }
        default:
                rc = to_text(c, r, v, &out);
                break;
        }
        if (rc)
                return rc;
        json_object_set_new(obj, name, out);
        return 0;
}

static json_t *text_or_null(json_t *v)
{
        char buf[64];
        const char *t = scalar_text(v, buf, sizeof(buf));
        return t && *t ? json_string(t) : NULL;
}

/* One identifier from an element: a string (qualifier and label from the row's fields named by
 * the options) or an object (value, qualifier, label from its keys named by the options). */
static int make_ident(struct row_ctx *c, const struct rule *r, const char *type, json_t *e,
                      json_t **out)
{
        json_t *value, *qual = NULL, *label = NULL;
        if (json_is_object(e)) {
                value = text_or_null(json_object_get(e, r->opt_value ? r->opt_value : "value"));
                qual = text_or_null(
                        json_object_get(e, r->opt_qualifier ? r->opt_qualifier : "qualifier"));
                label = text_or_null(json_object_get(e, r->opt_label ? r->opt_label : "label"));
                if (!value) {
                        json_decref(qual);
                        json_decref(label);
                        return refuse(c, HUB_REASON_BAD_VALUE, "field %s: an element has no "
                                      "\"%s\"", r->source, r->opt_value ? r->opt_value : "value");
                }
        } else {
                value = text_or_null(e);
                if (!value) {
                        if (json_is_string(e))
                                return 0; /* an empty string is no identifier */
                        return refuse(c, HUB_REASON_BAD_VALUE,
                                      "field %s: expected text or objects", r->source);
                }
                if (r->opt_qualifier)
                        qual = text_or_null(json_object_get(c->row, r->opt_qualifier));
                if (r->opt_label)
                        label = text_or_null(json_object_get(c->row, r->opt_label));
        }
        json_t *id = json_object();
        json_object_set_new(id, "type", json_string(type));
        json_object_set_new(id, "value", value);
        if (qual)
                json_object_set_new(id, "qualifier", qual);
        if (label)
                json_object_set_new(id, "label", label);
        *out = id;
        return 0;
}

/* A sub-field of an action from a value, converted as that sub-field needs. */
static int set_action_field(struct row_ctx *c, const struct rule *r, json_t *action,
                            const char *sub, json_t *v)
{
        char buf[64], sym[64];
        if (json_is_null(v))
                return 0;
        if (strcmp(sub, "type") == 0) {
                const char *t = scalar_text(v, buf, sizeof(buf));
                if (!t)
                        return refuse(c, HUB_REASON_BAD_VALUE, "field %s: action type is not "
                                      "text", r->source);
                /* The rule's map is for targets; types are matched as they are. */
                struct rule plain = *r;
                plain.map = NULL;
                json_object_set_new(action, "type", json_string(to_symbol(
                                        c, &plain, "ActionType", t, sym, sizeof(sym))));
                return 0;
        }
        if (strcmp(sub, "amount_vnd") == 0) {
                json_int_t x;
                int rc = to_long(c, r, v, &x);
                if (!rc)
                        json_object_set_new(action, "amount_vnd", json_integer(x));
                return rc;
        }
        if (strcmp(sub, "taken_on") == 0) {
                json_t *d;
                int rc = to_date(c, r, v, &d);
                if (!rc)
                        json_object_set_new(action, "taken_on", d);
                return rc;
        }
        /* target: an agency code, through the map when there is one (source codes → hub's) */
        const char *t = scalar_text(v, buf, sizeof(buf));
        if (!t)
                return refuse(c, HUB_REASON_BAD_VALUE, "field %s: action target is not text",
                              r->source);
        const char *mv = r->map ? json_string_value(json_object_get(r->map, t)) : NULL;
        json_object_set_new(action, "target", json_string(mv ? mv : t));
        return 0;
}

static int add_action(struct row_ctx *c, const struct rule *r, json_t *e)
{
        json_t *action = json_object();
        int rc = 0;
        if (json_is_object(e)) {
                const char *keys[4] = {r->opt_type ? r->opt_type : "type",
                                       r->opt_amount ? r->opt_amount : "amount_vnd",
                                       r->opt_target ? r->opt_target : "target",
                                       r->opt_taken_on ? r->opt_taken_on : "taken_on"};
                static const char *const subs[4] = {"type", "amount_vnd", "target",
                                                    "taken_on"};
                for (int i = 0; !rc && i < 4; i++) {
                        json_t *v = json_object_get(e, keys[i]);
                        if (v)
                                rc = set_action_field(c, r, action, subs[i], v);
                }
        } else {
                rc = set_action_field(c, r, action, "type", e);
        }
        if (!rc && !json_object_get(action, "type"))
                rc = refuse(c, HUB_REASON_BAD_VALUE, "field %s: an action has no type",
                            r->source);
        if (rc)
                json_decref(action);
        else
                json_array_append_new(array_of(c->report, "actions"), action);
        return rc;
}

static json_t *relation(struct row_ctx *c, const char *kind)
{
        json_t *rel = json_object_get(c->rels, kind);
        if (!rel) {
                rel = json_object();
                json_object_set_new(rel, "kind", json_string(kind));
                json_object_set_new(c->rels, kind, rel);
        }
        return rel;
}

static int apply_rule(struct row_ctx *c, const struct rule *r, json_t *v)
{
        json_t *els = NULL, *e, *out;
        size_t i;
        int rc = 0;
        char buf[64], sym[64];
        switch (r->kind) {
        case T_IGNORE:
                return 0;
        case T_RAW:
                if (json_is_array(json_object_get(c->report, r->field)) && json_is_array(v))
                        return json_array_extend(array_of(c->report, r->field), v)
                               ? refuse(c, HUB_REASON_BAD_VALUE, "field %s: out of memory",
                                        r->source)
                               : 0;
                json_object_set(c->report, r->field, v);
                return 0;
        case T_TIMESTAMP:
        case T_DATE:
        case T_INT:
        case T_LONG:
        case T_STRING:
        case T_ENUM:
                if (json_is_array(v) || json_is_object(v))
                        return refuse(c, HUB_REASON_BAD_VALUE,
                                      "field %s: expected one value for %s, got a %s",
                                      r->source, r->field, json_is_array(v) ? "list" : "object");
                return set_scalar(c, r, c->report, r->field, v);
        case T_TIER:
                rc = set_scalar(c, r, c->report, "_tier", v);
                if (!rc)
                        c->tier = json_string_value(json_object_get(c->report, "_tier"));
                return rc;
        case T_ADDRESS:
                if (!c->address)
                        c->address = json_object();
                if (strcmp(r->field, "scheme_valid_on") == 0) {
                        if (!json_is_string(v) || !strchr(json_string_value(v), 'T')) {
                                rc = to_date(c, r, v, &out);
                        } else {
                                /* a timestamp's date part */
                                char d[11];
                                snprintf(d, sizeof(d), "%s", json_string_value(v));
                                json_t *dv = json_string(d);
                                rc = to_date(c, r, dv, &out);
                                json_decref(dv);
                        }
                        if (!rc)
                                json_object_set_new(c->address, r->field, out);
                        return rc;
                }
                rc = to_text(c, r, v, &out);
                if (!rc)
                        json_object_set_new(c->address, r->field, out);
                return rc;
        case T_ACTION_FIELD:
                if (!c->action)
                        c->action = json_object();
                return set_action_field(c, r, c->action, r->field, v);
        default:
                break;
        }
        els = elements(v, r->split);
        json_array_foreach(els, i, e) {
                if (json_is_null(e))
                        continue;
                switch (r->kind) {
                case T_STRING_LIST:
                        rc = to_text(c, r, e, &out);
                        if (!rc)
                                json_array_append_new(array_of(c->report, r->field), out);
                        break;
                case T_ENUM_LIST: {
                        const char *t = scalar_text(e, buf, sizeof(buf));
                        if (!t) {
                                rc = refuse(c, HUB_REASON_BAD_VALUE,
                                            "field %s: expected codes as text", r->source);
                                break;
                        }
                        json_array_append_new(array_of(c->report, r->field),
                                              json_string(to_symbol(c, r, r->enum_name, t, sym,
                                                                    sizeof(sym))));
                        break;
                }
                case T_NAME:
                        rc = to_text(c, r, e, &out);
                        if (!rc && !*json_string_value(out)) {
                                json_decref(out);
                                break;
                        }
                        if (!rc) {
                                json_t *n = json_object();
                                json_object_set_new(n, "value", out);
                                json_object_set_new(n, "kind", json_string(r->sym));
                                json_array_append_new(array_of(c->report, "names"), n);
                        }
                        break;
                case T_IDENT:
                        out = NULL;
                        rc = make_ident(c, r, r->sym, e, &out);
                        if (!rc && out)
                                json_array_append_new(array_of(c->report, "identifiers"), out);
                        break;
                case T_ACTION:
                        rc = add_action(c, r, e);
                        break;
                case T_REL: {
                        json_t *rel = relation(c, r->sym);
                        if (r->ident) {
                                out = NULL;
                                rc = make_ident(c, r, r->ident, e, &out);
                                if (!rc && out)
                                        json_array_append_new(array_of(rel, "identifiers"), out);
                        } else {
                                rc = to_text(c, r, e, &out);
                                if (!rc)
                                        json_object_set_new(rel, r->field, out);
                        }
                        break;
                }
                case T_DOC:
                        if (strcmp(r->field, "issued_on") == 0) {
                                rc = to_date(c, r, e, &out);
                                if (!rc)
                                        json_object_set_new(c->doc_dates, r->sym, out);
                                break;
                        }
                        rc = to_text(c, r, e, &out);
                        if (!rc) {
                                json_t *d = json_object();
                                json_object_set_new(d, "kind", json_string(r->sym));
                                json_object_set_new(d, "number", out);
                                json_array_append_new(array_of(c->report, "documents"), d);
                        }
                        break;
                default:
                        break;
                }
                if (rc)
                        break;
        }
        json_decref(els);
        return rc;
}

/* Escape one key part into out at *pos: bytes outside [A-Za-z0-9._-] as %XX. */
static bool escape_into(const char *s, char *out, size_t size, size_t *pos)
{
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                bool safe = isalnum(*p) || *p == '.' || *p == '_' || *p == '-';
                size_t need = safe ? 1 : 3;
                if (*p >= 0x80) {
                        safe = false;
                        need = 3;
                }
                if (*pos + need >= size)
                        return false;
                if (safe) {
                        out[(*pos)++] = (char)*p;
                } else {
                        out[(*pos)++] = '%';
                        out[(*pos)++] = hex[*p >> 4];
                        out[(*pos)++] = hex[*p & 15];
                }
        }
        out[*pos] = '\0';
        return true;
}

int hub_mapping_record_id(const hub_mapping_t *m, json_t *row, char *out, size_t out_size,
                          const char **reason, hub_err_t *err)
{
        size_t pos = 0;
        size_t cap = out_size < HUB_MAPPING_MAX_RECORD_ID + 1 ? out_size
                                                              : HUB_MAPPING_MAX_RECORD_ID + 1;
        char buf[64];
        out[0] = '\0';
        for (size_t i = 0; i <= m->n_key; i++) {
                const char *field = i < m->n_key ? m->key[i] : m->version;
                if (!field)
                        break;
                const char *t = scalar_text(json_object_get(row, field), buf, sizeof(buf));
                if (t && has_nul(json_object_get(row, field))) {
                        *reason = HUB_REASON_BAD_KEY;
                        return hub_err_set(err, HUB_E_MALFORMED, false, "mapping",
                                           "%s field %s contains a NUL character",
                                           i < m->n_key ? "key" : "version", field);
                }
                if (!t || !*t) {
                        *reason = HUB_REASON_MISSING_KEY;
                        return hub_err_set(err, HUB_E_MALFORMED, false, "mapping",
                                           "%s field %s is %s", i < m->n_key ? "key" : "version",
                                           field, t ? "empty" : "absent or not a single value");
                }
                if (i > 0) {
                        if (pos + 1 >= cap)
                                goto too_long;
                        out[pos++] = i < m->n_key ? '/' : '@';
                }
                if (!escape_into(t, out, cap, &pos))
                        goto too_long;
        }
        return 0;
too_long:
        *reason = HUB_REASON_BAD_KEY;
        return hub_err_set(err, HUB_E_MALFORMED, false, "mapping",
                           "the key gives a record_id longer than %d characters",
                           HUB_MAPPING_MAX_RECORD_ID);
}

int hub_mapping_apply(hub_mapping_t *m, json_t *row, json_t **report, const char **reason,
                      hub_mapping_stats_t *stats, hub_err_t *err)
{
        const char *dummy;
        if (!reason)
                reason = &dummy;
        if (!json_is_object(row)) {
                *reason = HUB_REASON_MALFORMED;
                return hub_err_set(err, HUB_E_MALFORMED, false, "mapping",
                                   "the row is not a JSON object");
        }
        if (m->filter_field) {
                char buf[64];
                const char *t = scalar_text(json_object_get(row, m->filter_field), buf,
                                            sizeof(buf));
                bool eq = t && strcmp(t, m->filter_value) == 0 &&
                          !has_nul(json_object_get(row, m->filter_field));
                if (eq == m->filter_ne) {
                        if (stats)
                                stats->filtered_rows++;
                        return HUB_MAP_FILTERED;
                }
        }
        char rid[HUB_MAPPING_MAX_RECORD_ID + 1];
        int rc = hub_mapping_record_id(m, row, rid, sizeof(rid), reason, err);
        if (rc)
                return rc;
        struct row_ctx c = {
                .m = m, .stats = stats, .reason = reason, .err = err, .row = row,
                .report = json_object(), .rels = json_object(), .doc_dates = json_object(),
        };
        json_object_set_new(c.report, "record_id", json_string(rid));
        json_object_set_new(c.report, "agency", json_string(m->agency));
        const char *key;
        json_t *v;
        json_object_foreach(row, key, v) {
                json_t *idx = json_object_get(m->by_source, key);
                if (!idx) {
                        if (!json_object_get(m->used, key) && !json_is_null(v)) {
                                count(m->ignored, key);
                                if (stats)
                                        stats->ignored_values++;
                        }
                        continue;
                }
                if (json_is_null(v))
                        continue;
                if (has_nul(v)) {
                        rc = refuse(&c, HUB_REASON_BAD_VALUE,
                                    "field %s: text contains a NUL character", key);
                        goto out;
                }
                size_t i;
                json_t *ri;
                json_array_foreach(idx, i, ri) {
                        rc = apply_rule(&c, &m->rules[json_integer_value(ri)], v);
                        if (rc)
                                goto out;
                }
        }
        if (!json_object_get(c.report, "reported_at")) {
                rc = refuse(&c, HUB_REASON_MISSING_VALUE, "the row has no value for "
                            "reported_at");
                goto out;
        }
        if (!json_object_get(c.report, "subject_kind"))
                json_object_set_new(c.report, "subject_kind",
                                    json_string(mapping_enum_default(m, "SubjectKind")));
        if (c.address && (json_object_get(c.address, "text") ||
                          json_object_get(c.address, "province_code")))
                json_array_append(array_of(c.report, "addresses"), c.address);
        if (c.action) {
                if (!json_object_get(c.action, "type"))
                        json_object_set_new(c.action, "type",
                                            json_string(mapping_enum_default(m, "ActionType")));
                json_array_append(array_of(c.report, "actions"), c.action);
        }
        json_t *rel;
        json_object_foreach(c.rels, key, rel) {
                if (json_object_size(rel) > 1)
                        json_array_append(array_of(c.report, "relations"), rel);
        }
        if (json_object_size(c.doc_dates)) {
                size_t i;
                json_t *d;
                json_array_foreach(json_object_get(c.report, "documents"), i, d) {
                        const char *kind = json_string_value(json_object_get(d, "kind"));
                        json_t *date = json_object_get(c.doc_dates, kind);
                        if (date && !json_object_get(d, "issued_on"))
                                json_object_set(d, "issued_on", date);
                }
        }
        json_t *sens = json_object();
        const char *tier = c.tier ? c.tier : m->tier;
        json_object_set_new(sens, "tier", json_string(tier));
        json_object_set_new(sens, "recipients", strcmp(tier, "RESTRICTED") == 0
                                                        ? json_deep_copy(m->recipients)
                                                        : json_array());
        json_object_set_new(c.report, "sensitivity", sens);
        json_object_del(c.report, "_tier");
        *report = c.report;
        c.report = NULL;
        rc = HUB_MAP_RECORD;
out:
        json_decref(c.report);
        json_decref(c.address);
        json_decref(c.action);
        json_decref(c.rels);
        json_decref(c.doc_dates);
        return rc;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d)
{
        y -= mo <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static bool real_day(int y, int mo, int d)
{
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1)
                return false;
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return d <= mdays[mo - 1] + (mo == 2 && leap);
}

static bool digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* YYYY-MM-DD or DD/MM/YYYY at the start of s; *used = characters read. */
static int date_prefix(const char *s, int64_t *days, size_t *used)
{
        int y, mo, d;
        if (digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2)) {
                y = atoi(s);
                mo = atoi(s + 5);
                d = atoi(s + 8);
        } else if (digits(s, 2) && s[2] == '/' && digits(s + 3, 2) && s[5] == '/' &&
                   digits(s + 6, 4)) {
                d = atoi(s);
                mo = atoi(s + 3);
                y = atoi(s + 6);
        } else {
                return -1;
        }
        if (!real_day(y, mo, d))
                return -1;
        *days = days_from_civil(y, (unsigned)mo, (unsigned)d);
        *used = 10;
        return 0;
}

int hub_mapping_parse_date(const char *s, int32_t *days)
{
        int64_t d;
        size_t used;
        if (date_prefix(s, &d, &used) || s[used])
                return -1;
        *days = (int32_t)d;
        return 0;
}

int hub_mapping_parse_timestamp(const char *s, int64_t tz_offset_ms, int64_t *ms)
{
        int64_t days;
        size_t used;
        if (date_prefix(s, &days, &used))
                return -1;
        const char *p = s + used;
        int64_t t = 0;
        if (*p == 'T' || *p == ' ') {
                p++;
                if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2))
                        return -1;
                int h = atoi(p), mi = atoi(p + 3), sec = 0, milli = 0;
                p += 5;
                if (*p == ':') {
                        if (!digits(p + 1, 2))
                                return -1;
                        sec = atoi(p + 1);
                        p += 3;
                        if (*p == '.') {
                                p++;
                                int nd = 0;
                                while (isdigit((unsigned char)*p)) {
                                        if (nd < 3)
                                                milli = milli * 10 + (*p - '0');
                                        nd++;
                                        p++;
                                }
                                if (!nd)
                                        return -1;
                                for (; nd < 3; nd++)
                                        milli *= 10;
                        }
                }
                if (h > 23 || mi > 59 || sec > 60)
                        return -1;
                t = ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + milli;
                if (*p) {
                        if (mapping_parse_tz(p, &tz_offset_ms))
                                return -1;
                        p += strlen(p);
                }
        }
        if (*p)
                return -1;
        *ms = days * 86400000 + t - tz_offset_ms;
        return 0;
}
