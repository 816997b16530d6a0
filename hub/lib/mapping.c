/* Mapping files: parsing (inih) and applying them to rows. See hub/include/hub/mapping.h and
 * connectors/examples/README.md for the format. */
#include <hub/mapping.h>
#include <hub/report.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum target_kind {
        T_IGNORE,       /* "-": named on purpose, not published */
        T_TIMESTAMP,    /* reported_at: timestamp-millis */
        T_DATE,         /* violation_on, decided_on: date (days) */
        T_INT,          /* dob_year */
        T_LONG,         /* revenue_vnd */
        T_STRING,       /* goods, period, case_status_text, supersedes, retracts */
        T_ENUM,         /* subject_kind, gender, case_status */
        T_STRING_LIST,  /* legal_basis */
        T_ENUM_LIST,    /* violation_categories */
        T_NAME,         /* names.KIND */
        T_IDENT,        /* identifiers.TYPE */
        T_ADDRESS,      /* addresses.<text|province_code|province_scheme|scheme_valid_on> */
        T_ACTION,       /* actions: objects (or strings: the type) */
        T_ACTION_FIELD, /* actions.<type|amount_vnd|target|taken_on>: one action per row */
        T_REL,          /* relations.KIND.<name|role_text|identifiers.TYPE>: one per KIND */
        T_DOC,          /* documents.KIND.<number|issued_on> */
        T_TIER,         /* sensitivity.tier */
        T_RAW,          /* any top-level field, the JSON value copied as is */
};

struct rule {
        char *source;
        enum target_kind kind;
        char *field;           /* report field, or sub-field of the grouped object */
        char *sym;             /* KIND / TYPE symbol of names, identifiers, relations, docs */
        char *ident;           /* relations: identifier TYPE when field is "identifiers" */
        const char *enum_name; /* schema enum of the value, for T_ENUM, T_ENUM_LIST, ... */
        char *map_name;
        json_t *map; /* borrowed from m->maps once resolved */
        char split;
        char *opt_value, *opt_qualifier, *opt_label;
        char *opt_type, *opt_amount, *opt_target, *opt_taken_on;
        unsigned line;
};

struct hub_mapping {
        char *name;
        /* [source] */
        hub_source_format_t format;
        bool format_set;
        char delimiter;
        char **key;
        size_t n_key;
        char *version;
        char *filter_field, *filter_value;
        bool filter_ne;
        int64_t tz_offset_ms;
        /* [report] */
        char *agency, *producer_id, *key_id, *tier;
        json_t *recipients;
        /* [fields] and [map.*] */
        struct rule *rules;
        size_t n_rules, cap_rules;
        json_t *by_source; /* source field → array of rule indexes */
        json_t *used;      /* fields read by key, version, filter, qualifier: never "ignored" */
        json_t *maps;      /* map name → object */
        json_t *enums;     /* enum name → its schema object */
        json_t *schema;
        json_t *top_fields; /* report field name → true */
        /* run statistics */
        json_t *ignored;
        json_t *unknown;
        /* parsing */
        char section[64];
        unsigned line;
        hub_err_t *perr;
        int failed;
};

static const char agency_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

static bool valid_agency(const char *s)
{
        size_t n = strlen(s);
        return n >= 1 && n <= 64 && s[0] != '-' && strspn(s, agency_chars) == n;
}

/* ---- the schema's enums, read from the compiled-in schema so no symbol list is copied ---- */

static void collect_enums(json_t *j, json_t *enums)
{
        if (json_is_array(j)) {
                size_t i;
                json_t *v;
                json_array_foreach(j, i, v) collect_enums(v, enums);
                return;
        }
        if (!json_is_object(j))
                return;
        const char *type = json_string_value(json_object_get(j, "type"));
        const char *name = json_string_value(json_object_get(j, "name"));
        if (type && name && strcmp(type, "enum") == 0)
                json_object_set(enums, name, j);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) collect_enums(v, enums);
}

static bool enum_has(const hub_mapping_t *m, const char *enum_name, const char *sym)
{
        json_t *syms = json_object_get(json_object_get(m->enums, enum_name), "symbols");
        size_t i;
        json_t *v;
        json_array_foreach(syms, i, v) if (strcmp(json_string_value(v), sym) == 0) return true;
        return false;
}

static const char *enum_default(const hub_mapping_t *m, const char *enum_name)
{
        json_t *e = json_object_get(m->enums, enum_name);
        const char *d = json_string_value(json_object_get(e, "default"));
        return d ? d : json_string_value(json_array_get(json_object_get(e, "symbols"), 0));
}

/* ---- parsing ---- */

static int fail(hub_mapping_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(hub_mapping_t *m, const char *fmt, ...)
{
        if (!m->failed) {
                char msg[200];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                hub_err_set(m->perr, HUB_E_CONFIG, false, "mapping", "%s:%u: %s", m->name,
                            m->line, msg);
                m->failed = 1;
        }
        return 0; /* inih: stop reporting this line as fine */
}

static char *xstrdup(const char *s)
{
        char *d = strdup(s);
        if (!d)
                abort(); /* a mapping is a few hundred bytes: out of memory here is fatal */
        return d;
}

static char **split_list(const char *s, size_t *n)
{
        char **out = NULL;
        *n = 0;
        const char *p = s;
        while (*p) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                while (len && isspace((unsigned char)*p)) {
                        p++;
                        len--;
                }
                while (len && isspace((unsigned char)p[len - 1]))
                        len--;
                if (len) {
                        out = realloc(out, (*n + 1) * sizeof(*out));
                        if (!out)
                                abort();
                        out[*n] = strndup(p, len);
                        if (!out[*n])
                                abort();
                        (*n)++;
                }
                if (!e)
                        break;
                p = e + 1;
        }
        return out;
}

static int parse_tz(const char *s, int64_t *ms)
{
        int h, mi;
        char sign;
        if (strcmp(s, "Z") == 0 || strcmp(s, "UTC") == 0) {
                *ms = 0;
                return 0;
        }
        if (sscanf(s, "%c%2d:%2d", &sign, &h, &mi) != 3 || (sign != '+' && sign != '-') ||
            strlen(s) != 6 || h > 14 || mi > 59)
                return -1;
        *ms = (sign == '-' ? -1 : 1) * ((int64_t)h * 3600000 + (int64_t)mi * 60000);
        return 0;
}

static int on_source(hub_mapping_t *m, const char *name, const char *value)
{
        if (strcmp(name, "format") == 0) {
                if (strcmp(value, "jsonl") == 0)
                        m->format = HUB_SOURCE_JSONL;
                else if (strcmp(value, "csv") == 0)
                        m->format = HUB_SOURCE_CSV;
                else
                        return fail(m, "format must be jsonl or csv, not \"%s\"", value);
                m->format_set = true;
        } else if (strcmp(name, "key") == 0) {
                m->key = split_list(value, &m->n_key);
                if (!m->n_key)
                        return fail(m, "key names no field");
                for (size_t i = 0; i < m->n_key; i++)
                        json_object_set_new(m->used, m->key[i], json_true());
        } else if (strcmp(name, "version") == 0) {
                free(m->version);
                m->version = *value ? xstrdup(value) : NULL;
                if (m->version)
                        json_object_set_new(m->used, value, json_true());
        } else if (strcmp(name, "filter") == 0) {
                const char *op = strstr(value, "==");
                const char *ne = strstr(value, "!=");
                if (ne && (!op || ne < op)) {
                        op = ne;
                        m->filter_ne = true;
                }
                if (!op)
                        return fail(m, "filter must read <field> == <value> or <field> != "
                                       "<value>");
                size_t fl = (size_t)(op - value);
                while (fl && isspace((unsigned char)value[fl - 1]))
                        fl--;
                const char *v = op + 2;
                while (isspace((unsigned char)*v))
                        v++;
                if (!fl || !*v)
                        return fail(m, "filter must read <field> == <value> or <field> != "
                                       "<value>");
                m->filter_field = strndup(value, fl);
                m->filter_value = xstrdup(v);
                if (!m->filter_field)
                        abort();
                json_object_set_new(m->used, m->filter_field, json_true());
        } else if (strcmp(name, "delimiter") == 0) {
                if (strcmp(value, "tab") == 0)
                        m->delimiter = '\t';
                else if (strlen(value) == 1 && value[0] != '"')
                        m->delimiter = value[0];
                else
                        return fail(m, "delimiter must be one character or \"tab\"");
        } else if (strcmp(name, "timezone") == 0) {
                if (parse_tz(value, &m->tz_offset_ms))
                        return fail(m, "timezone must read +HH:MM, -HH:MM or Z, not \"%s\"",
                                    value);
        } else {
                return fail(m, "unknown setting \"%s\" in [source]", name);
        }
        return 1;
}

static int on_report(hub_mapping_t *m, const char *name, const char *value)
{
        if (strcmp(name, "agency") == 0) {
                if (!valid_agency(value))
                        return fail(m, "agency \"%s\" is not an agency code (A-Z, 0-9, -)",
                                    value);
                free(m->agency);
                m->agency = xstrdup(value);
        } else if (strcmp(name, "tier") == 0) {
                if (strcmp(value, "PUBLIC") && strcmp(value, "SHARED") &&
                    strcmp(value, "RESTRICTED"))
                        return fail(m, "tier must be PUBLIC, SHARED or RESTRICTED");
                free(m->tier);
                m->tier = xstrdup(value);
        } else if (strcmp(name, "recipients") == 0) {
                size_t n;
                char **l = split_list(value, &n);
                int bad = 0;
                json_array_clear(m->recipients);
                for (size_t i = 0; i < n; i++) {
                        if (!valid_agency(l[i]) && !bad) {
                                fail(m, "recipient \"%s\" is not an agency code", l[i]);
                                bad = 1;
                        }
                        json_array_append_new(m->recipients, json_string(l[i]));
                        free(l[i]);
                }
                free(l);
                return !bad;
        } else if (strcmp(name, "producer_id") == 0 || strcmp(name, "key_id") == 0) {
                size_t n = strlen(value);
                for (size_t i = 0; i < n; i++)
                        if (value[i] < 0x21 || value[i] > 0x7e)
                                return fail(m, "%s must be printable ASCII without spaces",
                                            name);
                if (n < 1 || n > 64)
                        return fail(m, "%s must be 1 to 64 characters", name);
                char **dst = name[0] == 'p' ? &m->producer_id : &m->key_id;
                free(*dst);
                *dst = xstrdup(value);
        } else {
                return fail(m, "unknown setting \"%s\" in [report]", name);
        }
        return 1;
}

static bool is_one_of(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

/* The target path (first word of a [fields] value) into r. */
static int parse_target(hub_mapping_t *m, struct rule *r, const char *t)
{
        static const char *const dates[] = {"violation_on", "decided_on", NULL};
        static const char *const strings[] = {"goods", "period", "case_status_text",
                                              "supersedes", "retracts", NULL};
        static const char *const addr[] = {"text", "province_code", "province_scheme",
                                           "scheme_valid_on", NULL};
        static const char *const act[] = {"type", "amount_vnd", "target", "taken_on", NULL};
        char buf[128];
        if (strlen(t) >= sizeof(buf))
                return fail(m, "target \"%.40s...\" is too long", t);
        snprintf(buf, sizeof(buf), "%s", t);
        char *dot = strchr(buf, '.');
        char *rest = dot ? dot + 1 : NULL;
        if (dot)
                *dot = '\0';
        if (strcmp(t, "-") == 0) {
                r->kind = T_IGNORE;
        } else if (strcmp(t, "reported_at") == 0) {
                r->kind = T_TIMESTAMP;
        } else if (is_one_of(t, dates)) {
                r->kind = T_DATE;
        } else if (strcmp(t, "dob_year") == 0) {
                r->kind = T_INT;
        } else if (strcmp(t, "revenue_vnd") == 0) {
                r->kind = T_LONG;
        } else if (is_one_of(t, strings)) {
                r->kind = T_STRING;
        } else if (strcmp(t, "subject_kind") == 0 || strcmp(t, "gender") == 0 ||
                   strcmp(t, "case_status") == 0) {
                r->kind = T_ENUM;
                r->enum_name = t[0] == 's' ? "SubjectKind" : t[0] == 'g' ? "Gender"
                                                                         : "CaseStatus";
        } else if (strcmp(t, "legal_basis") == 0) {
                r->kind = T_STRING_LIST;
        } else if (strcmp(t, "violation_categories") == 0) {
                r->kind = T_ENUM_LIST;
                r->enum_name = "ViolationCategory";
        } else if (strcmp(buf, "names") == 0 && rest) {
                r->kind = T_NAME;
                r->enum_name = "NameKind";
                r->sym = xstrdup(rest);
        } else if (strcmp(buf, "identifiers") == 0 && rest) {
                r->kind = T_IDENT;
                r->enum_name = "IdentifierType";
                r->sym = xstrdup(rest);
        } else if (strcmp(buf, "addresses") == 0 && rest && is_one_of(rest, addr)) {
                r->kind = T_ADDRESS;
        } else if (strcmp(t, "actions") == 0) {
                r->kind = T_ACTION;
        } else if (strcmp(buf, "actions") == 0 && rest && is_one_of(rest, act)) {
                r->kind = T_ACTION_FIELD;
        } else if ((strcmp(buf, "relations") == 0 || strcmp(buf, "documents") == 0) && rest) {
                bool rel = buf[0] == 'r';
                char *sub = strchr(rest, '.');
                if (!sub)
                        return fail(m, "target %s needs a field: %s.<KIND>.<field>", t, buf);
                *sub++ = '\0';
                r->kind = rel ? T_REL : T_DOC;
                r->enum_name = rel ? "RelationKind" : "DocumentKind";
                r->sym = xstrdup(rest);
                if (rel && strncmp(sub, "identifiers.", 12) == 0) {
                        r->ident = xstrdup(sub + 12);
                        if (!enum_has(m, "IdentifierType", r->ident))
                                return fail(m, "\"%s\" is not an IdentifierType symbol",
                                            r->ident);
                        sub[11] = '\0';
                } else if (rel ? strcmp(sub, "name") && strcmp(sub, "role_text")
                               : strcmp(sub, "number") && strcmp(sub, "issued_on")) {
                        return fail(m, "target %s: unknown field \"%s\"", t, sub);
                }
                free(r->field);
                r->field = xstrdup(sub);
        } else if (strcmp(t, "sensitivity.tier") == 0) {
                r->kind = T_TIER;
                r->enum_name = "Tier";
        } else {
                return fail(m, "unknown report target \"%s\"", t);
        }
        if (!r->field)
                r->field = xstrdup(rest && r->kind != T_NAME && r->kind != T_IDENT ? rest : t);
        if ((r->kind == T_NAME || r->kind == T_IDENT || r->kind == T_REL || r->kind == T_DOC) &&
            !enum_has(m, r->enum_name, r->sym))
                return fail(m, "\"%s\" is not a %s symbol", r->sym, r->enum_name);
        if (r->kind == T_IDENT || r->kind == T_NAME)
                r->enum_name = NULL;
        return 1;
}

static int on_field(hub_mapping_t *m, const char *name, const char *value)
{
        if (m->n_rules == m->cap_rules) {
                m->cap_rules = m->cap_rules ? 2 * m->cap_rules : 16;
                m->rules = realloc(m->rules, m->cap_rules * sizeof(*m->rules));
                if (!m->rules)
                        abort();
        }
        struct rule *r = &m->rules[m->n_rules];
        memset(r, 0, sizeof(*r));
        r->source = xstrdup(name);
        r->line = m->line;
        m->n_rules++;

        char *copy = xstrdup(value), *save = NULL;
        int ok = 1;
        char *tok = strtok_r(copy, " \t", &save);
        if (!tok) {
                free(copy);
                return fail(m, "field %s has no target", name);
        }
        bool raw = false;
        char *target = tok;
        while (ok && (tok = strtok_r(NULL, " \t", &save))) {
                char *eq = strchr(tok, '=');
                if (!eq) {
                        if (strcmp(tok, "raw") == 0)
                                raw = true;
                        else
                                ok = fail(m, "unknown option \"%s\"", tok);
                        continue;
                }
                *eq = '\0';
                const char *v = eq + 1;
                char **dst = NULL;
                if (strcmp(tok, "split") == 0) {
                        if (strlen(v) != 1)
                                ok = fail(m, "split takes one character");
                        r->split = v[0];
                        continue;
                }
                if (strcmp(tok, "map") == 0)
                        dst = &r->map_name;
                else if (strcmp(tok, "value") == 0)
                        dst = &r->opt_value;
                else if (strcmp(tok, "qualifier") == 0)
                        dst = &r->opt_qualifier;
                else if (strcmp(tok, "label") == 0)
                        dst = &r->opt_label;
                else if (strcmp(tok, "type") == 0)
                        dst = &r->opt_type;
                else if (strcmp(tok, "amount_vnd") == 0)
                        dst = &r->opt_amount;
                else if (strcmp(tok, "target") == 0)
                        dst = &r->opt_target;
                else if (strcmp(tok, "taken_on") == 0)
                        dst = &r->opt_taken_on;
                if (!dst || !*v) {
                        ok = fail(m, "unknown or empty option \"%s\"", tok);
                        continue;
                }
                free(*dst);
                *dst = xstrdup(v);
        }
        if (ok && raw) {
                if (!json_object_get(m->top_fields, target))
                        ok = fail(m, "raw target \"%s\" is not a report field", target);
                r->kind = T_RAW;
                r->field = xstrdup(target);
        } else if (ok) {
                ok = parse_target(m, r, target);
        }
        free(copy);
        if (!ok)
                return 0;
        /* A string element's qualifier and label name other fields of the row. */
        if (r->kind == T_IDENT && r->opt_qualifier)
                json_object_set_new(m->used, r->opt_qualifier, json_true());
        if (r->kind == T_IDENT && r->opt_label)
                json_object_set_new(m->used, r->opt_label, json_true());
        json_t *idx = json_object_get(m->by_source, name);
        if (!idx) {
                idx = json_array();
                json_object_set_new(m->by_source, name, idx);
        }
        json_array_append_new(idx, json_integer((json_int_t)(m->n_rules - 1)));
        return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
        hub_mapping_t *m = user;
        if (m->failed)
                return 0;
        if (strcmp(section, "source") == 0)
                return on_source(m, name, value);
        if (strcmp(section, "report") == 0)
                return on_report(m, name, value);
        if (strcmp(section, "fields") == 0)
                return on_field(m, name, value);
        if (strncmp(section, "map.", 4) == 0 && section[4]) {
                json_t *map = json_object_get(m->maps, section + 4);
                if (!map) {
                        map = json_object();
                        json_object_set_new(m->maps, section + 4, map);
                }
                json_object_set_new(map, name, json_string(value));
                return 1;
        }
        return fail(m, "unknown section [%s]", section);
}

static int finish(hub_mapping_t *m, hub_err_t *err)
{
        if (!m->format_set)
                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                   "%s: [source] format is missing (jsonl or csv)", m->name);
        if (!m->n_key)
                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                   "%s: [source] key is missing: name the field(s) that "
                                   "identify a row", m->name);
        if (!m->agency || !m->tier)
                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                   "%s: [report] needs agency and tier", m->name);
        if (strcmp(m->tier, "RESTRICTED") != 0 && json_array_size(m->recipients))
                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                   "%s: recipients are only for tier RESTRICTED", m->name);
        bool has_time = false;
        for (size_t i = 0; i < m->n_rules; i++) {
                struct rule *r = &m->rules[i];
                if (r->kind == T_TIMESTAMP ||
                    (r->kind == T_RAW && strcmp(r->field, "reported_at") == 0))
                        has_time = true;
                if (r->map_name) {
                        r->map = json_object_get(m->maps, r->map_name);
                        if (!r->map)
                                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                                   "%s: field %s uses map %s, but there is no "
                                                   "[map.%s] section",
                                                   m->name, r->source, r->map_name, r->map_name);
                }
        }
        if (!has_time)
                return hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                   "%s: no field maps to reported_at, which every report needs",
                                   m->name);
        if (!m->producer_id)
                m->producer_id = xstrdup("hub-publish");
        return 0;
}

void hub_mapping_free(hub_mapping_t *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n_rules; i++) {
                struct rule *r = &m->rules[i];
                free(r->source);
                free(r->field);
                free(r->sym);
                free(r->ident);
                free(r->map_name);
                free(r->opt_value);
                free(r->opt_qualifier);
                free(r->opt_label);
                free(r->opt_type);
                free(r->opt_amount);
                free(r->opt_target);
                free(r->opt_taken_on);
        }
        free(m->rules);
        for (size_t i = 0; i < m->n_key; i++)
                free(m->key[i]);
        free(m->key);
        free(m->version);
        free(m->filter_field);
        free(m->filter_value);
        free(m->agency);
        free(m->producer_id);
        free(m->key_id);
        free(m->tier);
        free(m->name);
        json_decref(m->recipients);
        json_decref(m->by_source);
        json_decref(m->used);
        json_decref(m->maps);
        json_decref(m->enums);
        json_decref(m->schema);
        json_decref(m->top_fields);
        json_decref(m->ignored);
        json_decref(m->unknown);
        free(m);
}

/* inih's handler gets no line number in Debian's build (INI_HANDLER_LINENO is off), so our
 * reader counts the lines it hands to inih: messages then name the line in the file. */
struct reader {
        const char *p;
        hub_mapping_t *m;
};

static char *read_line(char *buf, int size, void *stream)
{
        struct reader *rd = stream;
        if (!*rd->p || size < 2)
                return NULL;
        const char *nl = strchr(rd->p, '\n');
        size_t n = nl ? (size_t)(nl - rd->p) + 1 : strlen(rd->p);
        rd->m->line++;
        if (n > (size_t)size - 1) {
                /* inih would read the rest as a line of its own */
                fail(rd->m, "line longer than %d characters", size - 2);
                return NULL;
        }
        memcpy(buf, rd->p, n);
        buf[n] = '\0';
        rd->p += n;
        return buf;
}

int hub_mapping_parse(const char *text, const char *name, hub_mapping_t **out, hub_err_t *err)
{
        hub_mapping_t *m = calloc(1, sizeof(*m));
        if (!m)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        m->name = xstrdup(name ? name : "mapping");
        m->delimiter = ',';
        m->tz_offset_ms = 7 * 3600000; /* Asia/Ho_Chi_Minh: UTC+7, no daylight saving */
        m->recipients = json_array();
        m->by_source = json_object();
        m->used = json_object();
        m->maps = json_object();
        m->enums = json_object();
        m->top_fields = json_object();
        m->ignored = json_object();
        m->unknown = json_object();
        m->perr = err;
        json_error_t jerr;
        m->schema = json_loadb(hub_report_schema_json, hub_report_schema_json_len, 0, &jerr);
        int rc;
        if (!m->schema) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not read the compiled-in report schema: %s", jerr.text);
                goto fail;
        }
        collect_enums(m->schema, m->enums);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(m->schema, "fields"), i, f)
                json_object_set_new(m->top_fields, json_string_value(json_object_get(f, "name")),
                                    json_true());

        struct reader rd = {text, m};
        int line = ini_parse_stream(read_line, &rd, handler, m);
        if (m->failed) {
                rc = -HUB_E_CONFIG;
                goto fail;
        }
        if (line != 0) {
                rc = hub_err_set(err, HUB_E_CONFIG, false, "mapping",
                                 "%s:%d: syntax error (expected [section] or name = value)",
                                 m->name, line);
                goto fail;
        }
        rc = finish(m, err);
        if (rc)
                goto fail;
        m->perr = NULL;
        *out = m;
        return 0;
fail:
        hub_mapping_free(m);
        return rc;
}

int hub_mapping_load(const char *path, hub_mapping_t **out, hub_err_t *err)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return hub_err_set(err, HUB_E_IO, false, __func__, "could not open mapping %s: %s",
                                   path, strerror(errno));
        char *text = NULL;
        size_t len = 0, cap = 0;
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
                if (len + got + 1 > cap) {
                        cap = 2 * (len + got + 1);
                        char *t = realloc(text, cap);
                        if (!t) {
                                free(text);
                                fclose(f);
                                return hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                                   "out of memory");
                        }
                        text = t;
                }
                memcpy(text + len, buf, got);
                len += got;
        }
        int bad = ferror(f);
        fclose(f);
        if (bad || !text) {
                free(text);
                return hub_err_set(err, HUB_E_IO, false, __func__,
                                   bad ? "could not read mapping %s" : "mapping %s is empty",
                                   path);
        }
        text[len] = '\0';
        int rc = hub_mapping_parse(text, path, out, err);
        free(text);
        return rc;
}

const char *hub_mapping_agency(const hub_mapping_t *m)
{
        return m->agency;
}

const char *hub_mapping_producer_id(const hub_mapping_t *m)
{
        return m->producer_id;
}

const char *hub_mapping_key_id(const hub_mapping_t *m)
{
        return m->key_id;
}

hub_source_format_t hub_mapping_format(const hub_mapping_t *m)
{
        return m->format;
}

char hub_mapping_csv_delimiter(const hub_mapping_t *m)
{
        return m->delimiter;
}

json_t *hub_mapping_ignored_fields(const hub_mapping_t *m)
{
        return m->ignored;
}

json_t *hub_mapping_unknown_values(const hub_mapping_t *m)
{
        return m->unknown;
}

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
        if (enum_has(c->m, enum_name, buf))
                return buf;
        char key[160];
        snprintf(key, sizeof(key), "%s=%s", r->source, text);
        count(c->m->unknown, key);
        if (c->stats)
                c->stats->unknown_symbols++;
        return enum_default(c->m, enum_name);
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
                bool eq = t && strcmp(t, m->filter_value) == 0;
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
                                    json_string(enum_default(m, "SubjectKind")));
        if (c.address && (json_object_get(c.address, "text") ||
                          json_object_get(c.address, "province_code")))
                json_array_append(array_of(c.report, "addresses"), c.address);
        if (c.action) {
                if (!json_object_get(c.action, "type"))
                        json_object_set_new(c.action, "type",
                                            json_string(enum_default(m, "ActionType")));
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
                        if (parse_tz(p, &tz_offset_ms))
                                return -1;
                        p += strlen(p);
                }
        }
        if (*p)
                return -1;
        *ms = days * 86400000 + t - tz_offset_ms;
        return 0;
}
