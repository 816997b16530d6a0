/* Mapping files: parsing (inih) into rules. Applying them to rows is in mapping_apply.c. See
 * hub/include/hub/mapping.h and connectors/examples/README.md for the format. */
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

#include "mapping_internal.h"

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

bool mapping_enum_has(const hub_mapping_t *m, const char *enum_name, const char *sym)
{
        json_t *syms = json_object_get(json_object_get(m->enums, enum_name), "symbols");
        size_t i;
        json_t *v;
        json_array_foreach(syms, i, v) if (strcmp(json_string_value(v), sym) == 0) return true;
        return false;
}

const char *mapping_enum_default(const hub_mapping_t *m, const char *enum_name)
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

int mapping_parse_tz(const char *s, int64_t *ms)
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
                /* Given twice, the last one counts, as for every other setting. */
                for (size_t i = 0; i < m->n_key; i++)
                        free(m->key[i]);
                free(m->key);
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
                free(m->filter_field);
                free(m->filter_value);
                m->filter_field = m->filter_value = NULL;
                m->filter_ne = false;
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
                if (mapping_parse_tz(value, &m->tz_offset_ms))
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
                        if (!mapping_enum_has(m, "IdentifierType", r->ident))
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
            !mapping_enum_has(m, r->enum_name, r->sym))
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
