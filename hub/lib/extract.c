#include <hub/extract.h>
#include <hub/ident.h>
#include <hub/resolve.h>

#include <stdio.h>
#include <string.h>

/* records.record_id CHECK (length BETWEEN 1 AND 200): refused here, as a reject with a reason,
 * rather than as a failed INSERT that would take the whole batch with it. */
#define MAX_RECORD_ID_CHARS 200

#define NOMEM() hub_err_set(err, HUB_E_NOMEM, false, "extract", "out of memory")

static int get_string(avro_value_t *rec, const char *name, const char **out, size_t *len)
{
        avro_value_t f;
        size_t n;
        if (avro_value_get_by_name(rec, name, &f, NULL) || avro_value_get_string(&f, out, &n))
                return -1;
        if (len)
                *len = n ? n - 1 : 0; /* avro-c counts the NUL */
        return 0;
}

/* The string of a ["null", "string"] field, or NULL. */
static const char *get_opt_string(avro_value_t *rec, const char *name)
{
        avro_value_t f, branch;
        const char *s;
        size_t n;
        if (avro_value_get_by_name(rec, name, &f, NULL) ||
            avro_value_get_current_branch(&f, &branch) ||
            avro_value_get_type(&branch) != AVRO_STRING || avro_value_get_string(&branch, &s, &n))
                return NULL;
        return s;
}

static const char *enum_symbol(avro_value_t *v)
{
        int i;
        if (avro_value_get_enum(v, &i))
                return NULL;
        return avro_schema_enum_get(avro_value_get_schema(v), i);
}

static int add_stmt(hub_extract_t *x, size_t cap, hub_arena_t *a, const char *prop,
                    const char *original, const char *value, bool valid, const char *reason)
{
        if (x->n_stmts == cap)
                return -1;
        hub_stmt_t *s = &x->stmts[x->n_stmts];
        s->prop = hub_arena_strdup(a, prop);
        s->original = hub_arena_strdup(a, original);
        s->value = hub_arena_strdup(a, value);
        s->valid = valid;
        s->reason = reason;
        if (!s->prop || !s->original || !s->value)
                return -1;
        x->n_stmts++;
        return 0;
}

static size_t array_size(avro_value_t *rec, const char *name, avro_value_t *arr)
{
        size_t n = 0;
        if (avro_value_get_by_name(rec, name, arr, NULL) || avro_value_get_size(arr, &n))
                return 0;
        return n;
}

static int identifiers(avro_value_t *rec, hub_extract_t *x, size_t cap, hub_arena_t *a,
                       hub_err_t *err)
{
        avro_value_t arr, item, f;
        size_t n = array_size(rec, "identifiers", &arr);
        for (size_t i = 0; i < n; i++) {
                const char *value;
                size_t len;
                int type;
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    avro_value_get_by_name(&item, "type", &f, NULL) ||
                    avro_value_get_enum(&f, &type) || get_string(&item, "value", &value, &len))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "identifier %zu is unreadable", i);
                const char *qualifier = get_opt_string(&item, "qualifier");
                hub_ident_t id;
                hub_err_t ierr = {0};
                char prop[64];
                int rc = hub_ident_normalize_n(NULL, type, value, len, qualifier, &id, &ierr);
                if (rc == -HUB_E_NOMEM)
                        return NOMEM();
                if (rc == -HUB_E_CONFIG) {
                        *err = ierr;
                        return rc;
                }
                if (rc) {
                        /* Kept as evidence, flagged, never a merge key. */
                        snprintf(prop, sizeof(prop), "identifier:%s", hub_ident_type_name(type));
                        const char *reason = hub_ident_reason_name(id.reason);
                        if (add_stmt(x, cap, a, prop, value, value, false, reason))
                                return NOMEM();
                        x->n_invalid++;
                        continue;
                }
                snprintf(prop, sizeof(prop), "identifier:%s", hub_ident_type_name(id.type));
                if (add_stmt(x, cap, a, prop, value, id.value, true, NULL))
                        return NOMEM();
                if (!id.mergeable)
                        continue;
                const char *tname = hub_ident_type_name(id.type);
                bool seen = false;
                for (size_t k = 0; k < x->n_keys && !seen; k++)
                        seen = strcmp(x->keys[k].type, tname) == 0 &&
                               strcmp(x->keys[k].value, id.value) == 0;
                if (seen)
                        continue;
                x->keys[x->n_keys].type = tname; /* static storage */
                x->keys[x->n_keys].value = x->stmts[x->n_stmts - 1].value;
                x->n_keys++;
        }
        return 0;
}

int hub_extract_report(avro_value_t *rec, hub_arena_t *a, hub_extract_t *x, hub_err_t *err)
{
        memset(x, 0, sizeof(*x));
        const char *s;
        size_t len;
        avro_value_t f, arr, item, sub;

        if (get_string(rec, "record_id", &s, &len))
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract", "no record_id");
        if (len < 1 || len > MAX_RECORD_ID_CHARS)
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                   "record_id must have 1 to %d bytes, not %zu",
                                   MAX_RECORD_ID_CHARS, len);
        if (!(x->record_id = hub_arena_strndup(a, s, len)))
                return NOMEM();
        if (get_string(rec, "agency", &s, &len) || !(x->agency = hub_arena_strndup(a, s, len)))
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract", "no agency");
        if (avro_value_get_by_name(rec, "subject_kind", &f, NULL) || !(s = enum_symbol(&f)))
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract", "no subject_kind");
        x->subject_kind = s; /* the schema's storage, alive as long as the codec */
        if (avro_value_get_by_name(rec, "reported_at", &f, NULL) ||
            avro_value_get_long(&f, &x->reported_at_ms))
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract", "no reported_at");
        if (avro_value_get_by_name(rec, "sensitivity", &sub, NULL) ||
            avro_value_get_by_name(&sub, "tier", &f, NULL) ||
            (x->tier = hub_tier_from_name(enum_symbol(&f))) < 0)
                return hub_err_set(err, HUB_E_MALFORMED, false, "extract", "no known tier");
        size_t n = array_size(&sub, "recipients", &arr);
        x->recipients = hub_arena_alloc(a, (n ? n : 1) * sizeof(char *));
        if (!x->recipients)
                return NOMEM();
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    avro_value_get_string(&item, &s, &len) ||
                    !(x->recipients[x->n_recipients++] = hub_arena_strdup(a, s)))
                        return NOMEM();
        }
        if ((s = get_opt_string(rec, "supersedes")) && !(x->supersedes = hub_arena_strdup(a, s)))
                return NOMEM();
        if ((s = get_opt_string(rec, "retracts")) && !(x->retracts = hub_arena_strdup(a, s)))
                return NOMEM();

        avro_value_t names, ids, cats;
        size_t n_names = array_size(rec, "names", &names);
        size_t n_ids = array_size(rec, "identifiers", &ids);
        size_t n_cats = array_size(rec, "violation_categories", &cats);
        size_t cap = n_names + n_ids + n_cats;
        x->stmts = hub_arena_alloc(a, (cap ? cap : 1) * sizeof(hub_stmt_t));
        x->keys = hub_arena_alloc(a, (n_ids ? n_ids : 1) * sizeof(hub_merge_key_t));
        if (!x->stmts || !x->keys)
                return NOMEM();

        for (size_t i = 0; i < n_names; i++) {
                char nfc[1024], prop[64];
                const char *kind;
                if (avro_value_get_by_index(&names, i, &item, NULL) ||
                    get_string(&item, "value", &s, NULL) ||
                    avro_value_get_by_name(&item, "kind", &f, NULL) || !(kind = enum_symbol(&f)))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "name %zu is unreadable", i);
                snprintf(prop, sizeof(prop), "name:%s", kind);
                hub_err_t nerr = {0};
                /* A name that cannot be folded (too long for the buffer) is kept as reported. */
                bool ok = hub_name_nfc(s, nfc, sizeof(nfc), &nerr) == 0 && nfc[0];
                if (add_stmt(x, cap, a, prop, s, ok ? nfc : s, ok,
                             ok ? NULL : hub_err_name(nerr.code ? nerr.code : HUB_E_MALFORMED)))
                        return NOMEM();
        }
        int rc = identifiers(rec, x, cap, a, err);
        if (rc)
                return rc;
        for (size_t i = 0; i < n_cats; i++) {
                if (avro_value_get_by_index(&cats, i, &item, NULL) || !(s = enum_symbol(&item)))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "category %zu is unreadable", i);
                if (add_stmt(x, cap, a, "category", s, s, true, NULL))
                        return NOMEM();
        }
        return 0;
}
