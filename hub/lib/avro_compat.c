/* Schema compatibility: can data written with one schema be read with another?
 *
 * avro-c's resolver cannot be the judge on its own. Measured on 1.11.1:
 *  - avro_resolved_writer_new() crashes (SIGSEGV) when array items or map values do not
 *    resolve, so it may only be asked once we know the answer is yes;
 *  - it ignores field defaults (resolved-writer.c leaves default values unhandled): a reader
 *    field missing from the writer is refused even with a default;
 *  - it copies enum indexes, not symbols: a reordered or inserted symbol silently reads as
 *    another one, and a symbol the reader lacks is accepted at resolution time;
 *  - it cannot see field defaults at all (its parsed schema drops them).
 * So the rules of the Avro specification ("Schema Resolution") are checked here on the JSON
 * text, and with HUB_AVRO_COMPAT_AVROC the stricter subset avro-c can actually read, after
 * which avro-c is asked too. */
#include <hub/avro.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct def {
        char *full;
        char *inner; /* namespace for names inside the definition */
        json_t *node;
};

struct sch {
        json_t *root;
        struct def *defs;
        size_t n, cap;
};

struct view {
        json_t *node; /* the definition (object), a primitive name (string) or a union (array) */
        const char *ns;
        const char *kind; /* "int", ..., "record", "enum", "fixed", "array", "map", "union" */
};

struct pair {
        json_t *r, *w;
};

struct ctx {
        struct sch r, w;
        unsigned flags;
        struct pair stack[HUB_AVRO_MAX_DEPTH + 1];
        int depth;
        hub_err_t *err;
        char path[160];
};

static const char *const prims[] = {"null",  "boolean", "int",   "long",
                                    "float", "double",  "bytes", "string"};

static const char *primitive(const char *s)
{
        for (size_t i = 0; i < sizeof(prims) / sizeof(prims[0]); i++)
                if (strcmp(s, prims[i]) == 0)
                        return prims[i];
        return NULL;
}

static char *join(const char *ns, const char *name)
{
        size_t n = strlen(name) + (ns ? strlen(ns) : 0) + 2;
        char *s = malloc(n);
        if (s) {
                if (strchr(name, '.') || !ns || !*ns)
                        snprintf(s, n, "%s", name);
                else
                        snprintf(s, n, "%s.%s", ns, name);
        }
        return s;
}

static const char *short_name(const char *full)
{
        const char *dot = strrchr(full, '.');
        return dot ? dot + 1 : full;
}

/* Register every named type, with the namespace that applies inside it. */
static int collect(struct sch *s, json_t *node, const char *ns, int depth)
{
        if (depth > HUB_AVRO_MAX_DEPTH)
                return -HUB_E_SCHEMA;
        if (json_is_array(node)) {
                size_t i;
                json_t *b;
                json_array_foreach(node, i, b)
                {
                        if (collect(s, b, ns, depth + 1) < 0)
                                return -HUB_E_SCHEMA;
                }
                return 0;
        }
        if (!json_is_object(node))
                return 0;
        json_t *jt = json_object_get(node, "type");
        const char *type = json_string_value(jt);
        if (!type)
                return collect(s, jt, ns, depth + 1);
        if (!strcmp(type, "array"))
                return collect(s, json_object_get(node, "items"), ns, depth + 1);
        if (!strcmp(type, "map"))
                return collect(s, json_object_get(node, "values"), ns, depth + 1);
        if (strcmp(type, "record") && strcmp(type, "error") && strcmp(type, "enum") &&
            strcmp(type, "fixed"))
                return 0;
        const char *name = json_string_value(json_object_get(node, "name"));
        const char *space = json_string_value(json_object_get(node, "namespace"));
        if (!name)
                return -HUB_E_SCHEMA;
        if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 16;
                struct def *nd = realloc(s->defs, cap * sizeof(*nd));
                if (!nd)
                        return -HUB_E_NOMEM;
                s->defs = nd;
                s->cap = cap;
        }
        struct def *d = &s->defs[s->n];
        d->full = join(space ? space : ns, name);
        if (!d->full)
                return -HUB_E_NOMEM;
        const char *dot = strrchr(d->full, '.');
        d->inner = dot ? strndup(d->full, (size_t)(dot - d->full)) : strdup("");
        if (!d->inner) {
                free(d->full);
                return -HUB_E_NOMEM;
        }
        d->node = node;
        s->n++;
        json_t *fields = json_object_get(node, "fields");
        size_t i;
        json_t *f;
        const char *inner = s->defs[s->n - 1].inner;
        json_array_foreach(fields, i, f)
        {
                if (collect(s, json_object_get(f, "type"), inner, depth + 1) < 0)
                        return -HUB_E_SCHEMA;
        }
        return 0;
}

static const struct def *lookup(const struct sch *s, const char *name, const char *ns)
{
        char *full = join(ns, name);
        const struct def *found = NULL;
        for (size_t i = 0; full && i < s->n && !found; i++)
                if (!strcmp(s->defs[i].full, full))
                        found = &s->defs[i];
        for (size_t i = 0; i < s->n && !found; i++)
                if (!strcmp(s->defs[i].full, name))
                        found = &s->defs[i];
        free(full);
        return found;
}

/* What a schema position is, following references and {"type": {...}} wrappers. */
static bool resolve(const struct sch *s, json_t *node, const char *ns, struct view *v)
{
        for (int hops = 0; hops < HUB_AVRO_MAX_DEPTH; hops++) {
                if (json_is_array(node)) {
                        *v = (struct view){node, ns, "union"};
                        return true;
                }
                const char *name = json_string_value(node);
                if (!name && json_is_object(node)) {
                        json_t *jt = json_object_get(node, "type");
                        name = json_string_value(jt);
                        if (!name) {
                                node = jt;
                                continue;
                        }
                        if (!strcmp(name, "record") || !strcmp(name, "error") ||
                            !strcmp(name, "enum") || !strcmp(name, "fixed")) {
                                const struct def *d = NULL;
                                for (size_t i = 0; i < s->n && !d; i++)
                                        if (s->defs[i].node == node)
                                                d = &s->defs[i];
                                if (!d)
                                        return false;
                                *v = (struct view){node, d->inner,
                                                   !strcmp(name, "error") ? "record" : name};
                                return true;
                        }
                        if (!strcmp(name, "array") || !strcmp(name, "map")) {
                                *v = (struct view){node, ns, !strcmp(name, "array") ? "array"
                                                                                     : "map"};
                                return true;
                        }
                }
                if (!name)
                        return false;
                const char *p = primitive(name);
                if (p) {
                        *v = (struct view){node, ns, p};
                        return true;
                }
                const struct def *d = lookup(s, name, ns);
                if (!d)
                        return false;
                node = d->node;
                ns = d->inner;
        }
        return false;
}

__attribute__((format(printf, 2, 3))) static int incompatible(struct ctx *c, const char *fmt,
                                                              ...)
{
        char why[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return hub_err_set(c->err, HUB_E_INCOMPATIBLE, false, "hub_avro_compatible", "%s%s%s",
                           c->path[0] ? c->path : "", c->path[0] ? ": " : "", why);
}

static bool promotes(const char *w, const char *r)
{
        if (!strcmp(w, r))
                return true;
        if (!strcmp(w, "int"))
                return !strcmp(r, "long") || !strcmp(r, "float") || !strcmp(r, "double");
        if (!strcmp(w, "long"))
                return !strcmp(r, "float") || !strcmp(r, "double");
        if (!strcmp(w, "float"))
                return !strcmp(r, "double");
        if (!strcmp(w, "string"))
                return !strcmp(r, "bytes");
        if (!strcmp(w, "bytes"))
                return !strcmp(r, "string");
        return false;
}

static const char *name_of(const struct view *v)
{
        const char *n = json_string_value(json_object_get(v->node, "name"));
        return n ? short_name(n) : "";
}

static int check(struct ctx *c, struct view r, struct view w);

static int check_node(struct ctx *c, json_t *rn, const char *rns, json_t *wn, const char *wns)
{
        struct view r, w;
        if (!resolve(&c->r, rn, rns, &r))
                return hub_err_set(c->err, HUB_E_SCHEMA, false, "hub_avro_compatible",
                                   "%s: reader schema has an unknown type", c->path);
        if (!resolve(&c->w, wn, wns, &w))
                return hub_err_set(c->err, HUB_E_SCHEMA, false, "hub_avro_compatible",
                                   "%s: writer schema has an unknown type", c->path);
        return check(c, r, w);
}

static int check_record(struct ctx *c, struct view r, struct view w)
{
        for (int i = 0; i < c->depth; i++)
                if (c->stack[i].r == r.node && c->stack[i].w == w.node)
                        return 0; /* already being compared: recursion holds inductively */
        if (c->depth > HUB_AVRO_MAX_DEPTH)
                return incompatible(c, "schemas nest deeper than %d", HUB_AVRO_MAX_DEPTH);
        c->stack[c->depth++] = (struct pair){r.node, w.node};
        int rc = 0;
        json_t *rfields = json_object_get(r.node, "fields");
        json_t *wfields = json_object_get(w.node, "fields");
        size_t i, j;
        json_t *rf, *wf;
        size_t plen = strlen(c->path);
        json_array_foreach(rfields, i, rf)
        {
                const char *fname = json_string_value(json_object_get(rf, "name"));
                json_t *match = NULL;
                json_array_foreach(wfields, j, wf)
                {
                        const char *wname = json_string_value(json_object_get(wf, "name"));
                        if (fname && wname && !strcmp(fname, wname))
                                match = wf;
                }
                snprintf(c->path + plen, sizeof(c->path) - plen, "%sfield %s",
                         plen ? ", " : "", fname ? fname : "?");
                if (match) {
                        rc = check_node(c, json_object_get(rf, "type"), r.ns,
                                        json_object_get(match, "type"), w.ns);
                } else if (!json_object_get(rf, "default")) {
                        rc = incompatible(c, "reader field has no default and writer %s lacks it",
                                          name_of(&w));
                } else if (c->flags & HUB_AVRO_COMPAT_AVROC) {
                        rc = incompatible(c, "writer %s lacks it and avro-c 1.11.1 fills no "
                                             "defaults when it resolves",
                                          name_of(&w));
                }
                c->path[plen] = '\0';
                if (rc < 0)
                        break;
        }
        c->depth--;
        return rc;
}

static int check_enum(struct ctx *c, struct view r, struct view w)
{
        json_t *rs = json_object_get(r.node, "symbols"), *ws = json_object_get(w.node, "symbols");
        bool has_default = json_is_string(json_object_get(r.node, "default"));
        size_t i, j;
        json_t *wsym, *rsym;
        json_array_foreach(ws, i, wsym)
        {
                const char *sym = json_string_value(wsym);
                bool found = false;
                json_array_foreach(rs, j, rsym)
                {
                        const char *rname = json_string_value(rsym);
                        found |= rname && sym && !strcmp(sym, rname);
                }
                if (!found && !has_default)
                        return incompatible(c, "enum %s: reader lacks symbol %s and has no default",
                                            name_of(&r), sym);
                if (c->flags & HUB_AVRO_COMPAT_AVROC) {
                        const char *at = json_string_value(json_array_get(rs, i));
                        if (!at || strcmp(at, sym))
                                return incompatible(c, "enum %s: symbol %s is at index %zu in the "
                                                       "writer but not in the reader, and avro-c "
                                                       "1.11.1 maps enums by index",
                                                    name_of(&r), sym, i);
                }
        }
        return 0;
}

static int check(struct ctx *c, struct view r, struct view w)
{
        size_t i;
        json_t *b;
        if (!strcmp(w.kind, "union")) {
                /* Every branch the writer may have chosen must be readable. */
                json_array_foreach(w.node, i, b)
                {
                        int rc = check_node(c, r.node, r.ns, b, w.ns);
                        if (rc < 0)
                                return rc;
                }
                return 0;
        }
        if (!strcmp(r.kind, "union")) {
                /* The first reader branch that matches the writer's type is the one used. */
                hub_err_t scratch = {0}, *saved = c->err;
                int rc = -HUB_E_INCOMPATIBLE;
                json_array_foreach(r.node, i, b)
                {
                        c->err = &scratch;
                        rc = check_node(c, b, r.ns, w.node, w.ns);
                        c->err = saved;
                        if (rc == 0)
                                return 0;
                }
                return incompatible(c, "no branch of the reader union reads writer type %s%s%s",
                                    w.kind, *name_of(&w) ? " " : "", name_of(&w));
        }
        if (primitive(w.kind) || primitive(r.kind)) {
                if (primitive(w.kind) && primitive(r.kind) && promotes(w.kind, r.kind))
                        return 0;
                return incompatible(c, "reader type %s cannot read writer type %s", r.kind, w.kind);
        }
        if (strcmp(r.kind, w.kind))
                return incompatible(c, "reader type %s cannot read writer type %s", r.kind, w.kind);
        if (!strcmp(r.kind, "array"))
                return check_node(c, json_object_get(r.node, "items"), r.ns,
                                  json_object_get(w.node, "items"), w.ns);
        if (!strcmp(r.kind, "map"))
                return check_node(c, json_object_get(r.node, "values"), r.ns,
                                  json_object_get(w.node, "values"), w.ns);
        if (strcmp(name_of(&r), name_of(&w)))
                return incompatible(c, "reader %s %s cannot read writer %s %s", r.kind,
                                    name_of(&r), w.kind, name_of(&w));
        if (!strcmp(r.kind, "fixed")) {
                json_int_t rs = json_integer_value(json_object_get(r.node, "size"));
                json_int_t ws = json_integer_value(json_object_get(w.node, "size"));
                if (rs != ws)
                        return incompatible(c, "fixed %s: size %" JSON_INTEGER_FORMAT
                                               " cannot read size %" JSON_INTEGER_FORMAT,
                                            name_of(&r), rs, ws);
                return 0;
        }
        if (!strcmp(r.kind, "enum"))
                return check_enum(c, r, w);
        return check_record(c, r, w);
}

static void sch_done(struct sch *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->defs[i].full);
                free(s->defs[i].inner);
        }
        free(s->defs);
        json_decref(s->root);
}

static int sch_load(struct sch *s, const char *json, size_t len, const char *which,
                    hub_err_t *err)
{
        /* Reject what the PCF rejects, so both agree on what a schema is. */
        char *canon = NULL;
        int rc = hub_avro_canonical(json, len, &canon, err);
        free(canon);
        if (rc < 0) {
                hub_err_prefix(err, "%s schema", which);
                return rc;
        }
        json_error_t jerr;
        s->root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
        if (!s->root)
                return hub_err_set(err, HUB_E_SCHEMA, false, "hub_avro_compatible",
                                   "%s schema is not JSON: %s", which, jerr.text);
        rc = collect(s, s->root, "", 0);
        if (rc < 0)
                return hub_err_set(err, -rc, false, "hub_avro_compatible",
                                   "%s schema: could not index its named types", which);
        return 0;
}

int hub_avro_compatible(const char *reader_json, size_t rlen, const char *writer_json,
                        size_t wlen, unsigned flags, hub_err_t *err)
{
        if (!reader_json || !writer_json)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "two schemas required");
        struct ctx c = {.flags = flags, .err = err};
        int rc = sch_load(&c.r, reader_json, rlen, "reader", err);
        if (rc == 0)
                rc = sch_load(&c.w, writer_json, wlen, "writer", err);
        if (rc == 0)
                rc = check_node(&c, c.r.root, "", c.w.root, "");
        if (rc == 0 && (flags & HUB_AVRO_COMPAT_AVROC)) {
                /* Safe to ask now: the rules above refuse everything known to crash it. */
                avro_schema_t rs = NULL, ws = NULL;
                if (avro_schema_from_json_length(reader_json, rlen, &rs) != 0 ||
                    avro_schema_from_json_length(writer_json, wlen, &ws) != 0) {
                        rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                         "avro-c cannot parse the schema: %s", avro_strerror());
                } else {
                        avro_value_iface_t *iface = avro_resolved_writer_new(ws, rs);
                        if (!iface)
                                rc = hub_err_set(err, HUB_E_INCOMPATIBLE, false, __func__,
                                                 "avro-c cannot resolve: %s", avro_strerror());
                        else
                                avro_value_iface_decref(iface);
                }
                if (ws)
                        avro_schema_decref(ws);
                if (rs)
                        avro_schema_decref(rs);
        }
        sch_done(&c.w);
        sch_done(&c.r);
        return rc;
}
