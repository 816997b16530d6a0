#include <hub/extract.h>
#include <hub/ident.h>
#include <hub/resolve.h>

#include <idn2.h>
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

static int add_weak(hub_extract_t *x, size_t cap, hub_arena_t *a, const char *kind,
                    const char *value)
{
        for (size_t k = 0; k < x->n_weak; k++)
                if (strcmp(x->weak[k].kind, kind) == 0 && strcmp(x->weak[k].value, value) == 0)
                        return 0;
        if (x->n_weak == cap)
                return 0; /* weak keys are evidence for analysts: a bounded few suffice */
        const char *v = hub_arena_strdup(a, value);
        if (!v)
                return -1;
        x->weak[x->n_weak++] = (hub_weak_key_t){kind, v};
        return 0;
}

static int add_key(hub_extract_t *x, const char *tname, const char *value, hub_arena_t *a)
{
        for (size_t k = 0; k < x->n_keys; k++)
                if (strcmp(x->keys[k].type, tname) == 0 && strcmp(x->keys[k].value, value) == 0)
                        return 0;
        const char *v = hub_arena_strdup(a, value);
        if (!v)
                return -1;
        x->keys[x->n_keys].type = tname; /* static storage */
        x->keys[x->n_keys].value = v;
        x->n_keys++;
        return 0;
}

/* "TYPE:value" for RELATED and HINT keys. */
static int add_typed_weak(hub_extract_t *x, size_t cap, hub_arena_t *a, const char *kind,
                          int type, const char *value)
{
        char buf[HUB_IDENT_VALUE_MAX + 32];
        snprintf(buf, sizeof(buf), "%s:%s", hub_ident_type_name(type), value);
        return add_weak(x, cap, a, kind, buf);
}

/* Handle stems of a shop or account ("shopee:thuha.authentic") or of a registrable domain's
 * first label, decoded from punycode so that mỹphẩm... and myphamhoanglong-vidu.vn meet. */
static int handle_keys(hub_extract_t *x, size_t cap, hub_arena_t *a, const hub_ident_t *id)
{
        char label[HUB_IDENT_VALUE_MAX];
        const char *v = id->value;
        if (id->type == HUB_ID_SHOP || id->type == HUB_ID_SOCIAL_ACCOUNT) {
                const char *c = strchr(v, ':');
                if (!c || strchr(c + 1, '/'))
                        return 0; /* numeric ids and pages: no handle to compare */
                snprintf(label, sizeof(label), "%s", c + 1);
        } else if (id->type == HUB_ID_DOMAIN) {
                char *uni = NULL;
                if (idn2_to_unicode_8z8z(v, &uni, 0) == IDN2_OK && uni) {
                        snprintf(label, sizeof(label), "%s", uni);
                        idn2_free(uni);
                } else {
                        snprintf(label, sizeof(label), "%s", v);
                }
                char *dot = strchr(label, '.');
                if (dot)
                        *dot = '\0';
        } else {
                return 0;
        }
        char stems[2][128];
        size_t n = hub_resolve_handle_stems(label, stems, sizeof(stems[0]));
        for (size_t i = 0; i < n; i++)
                if (add_weak(x, cap, a, "HANDLE", stems[i]))
                        return -1;
        return 0;
}

/* Weak keys of one accepted identifier of the subject. */
static int own_weak_keys(hub_extract_t *x, size_t cap, hub_arena_t *a, const hub_ident_t *id)
{
        if (id->type == HUB_ID_PHONE)
                return add_weak(x, cap, a, "PHONE", id->value);
        if (id->type == HUB_ID_BANK_ACCOUNT) {
                /* Some banks let the account number be the holder's phone: equal numbers are a
                 * link between whoever holds them, never a merge (DOMAIN.md). */
                const char *c = strchr(id->value, ':');
                hub_ident_t ph;
                hub_err_t perr = {0};
                if (c && hub_ident_normalize(HUB_ID_PHONE, c + 1, NULL, &ph, &perr) == 0 &&
                    !(ph.flags & HUB_IDF_LANDLINE))
                        return add_weak(x, cap, a, "BANKPHONE", ph.value);
                return 0;
        }
        if (id->type == HUB_ID_PERSONAL_ID) {
                /* No check digit: a transposed id looks valid. Its neighbours are hints. */
                char var[16][16];
                size_t n = hub_resolve_transpositions(id->value, var, 16);
                for (size_t i = 0; i < n; i++)
                        if (add_typed_weak(x, cap, a, "HINT", HUB_ID_PERSONAL_ID, var[i]))
                                return -1;
                return 0;
        }
        return handle_keys(x, cap, a, id);
}

/* Hints of a rejected tax code: the zero-prefixed form of a probable lost zero, and the
 * adjacent transpositions that pass the check digit. Never merge keys: candidates. */
static int rejected_hints(hub_extract_t *x, size_t cap, hub_arena_t *a, int type,
                          const char *value, const hub_ident_t *id)
{
        if (type != HUB_ID_TAX_CODE)
                return 0;
        if (id->reason == HUB_IDR_PROBABLE_LOST_ZERO && id->hint[0])
                return add_typed_weak(x, cap, a, "HINT", HUB_ID_TAX_CODE, id->hint);
        if (id->reason != HUB_IDR_CHECK_DIGIT)
                return 0;
        char d[16];
        size_t n = 0;
        for (const char *p = value; *p && n < 15; p++)
                if (*p >= '0' && *p <= '9')
                        d[n++] = *p;
        if (n < 10)
                return 0;
        d[10] = '\0'; /* a branch's head office part carries the check digit */
        char var[16][16];
        size_t k = hub_resolve_transpositions(d, var, 16);
        for (size_t i = 0; i < k; i++)
                if (hub_ident_tax_code_check(var[i]) == 0 &&
                    add_typed_weak(x, cap, a, "HINT", HUB_ID_TAX_CODE, var[i]))
                        return -1;
        return 0;
}

/* The identifiers of arr: the subject's own (own = true; statements "identifier:<TYPE>", merge
 * keys, weak keys) or a related party's (statements under `prefix`, RELATED weak keys). */
static int identifiers(avro_value_t *arr, size_t n, bool own, const char *prefix,
                       hub_extract_t *x, size_t cap, size_t wcap, hub_arena_t *a, hub_err_t *err)
{
        avro_value_t item, f;
        for (size_t i = 0; i < n; i++) {
                const char *value;
                size_t len;
                int type;
                if (avro_value_get_by_index(arr, i, &item, NULL) ||
                    avro_value_get_by_name(&item, "type", &f, NULL) ||
                    avro_value_get_enum(&f, &type) || get_string(&item, "value", &value, &len))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "identifier %zu is unreadable", i);
                const char *qualifier = get_opt_string(&item, "qualifier");
                hub_ident_t id;
                hub_err_t ierr = {0};
                char prop[96];
                int rc = hub_ident_normalize_n(NULL, type, value, len, qualifier, &id, &ierr);
                if (rc == -HUB_E_NOMEM)
                        return NOMEM();
                if (rc == -HUB_E_CONFIG) {
                        *err = ierr;
                        return rc;
                }
                if (rc) {
                        /* Kept as evidence, flagged, never a merge key. */
                        snprintf(prop, sizeof(prop), "%s%s", prefix, hub_ident_type_name(type));
                        const char *reason = hub_ident_reason_name(id.reason);
                        if (add_stmt(x, cap, a, prop, value, value, false, reason))
                                return NOMEM();
                        x->n_invalid++;
                        if (own && rejected_hints(x, wcap, a, type, value, &id))
                                return NOMEM();
                        continue;
                }
                snprintf(prop, sizeof(prop), "%s%s", prefix, hub_ident_type_name(id.type));
                if (add_stmt(x, cap, a, prop, value, id.value, true, NULL))
                        return NOMEM();
                if (!own) {
                        if (id.mergeable &&
                            (add_typed_weak(x, wcap, a, "RELATED", id.type, id.value) ||
                             (id.parent[0] && add_typed_weak(x, wcap, a, "RELATED", id.type,
                                                             id.parent))))
                                return NOMEM();
                        continue;
                }
                if (own_weak_keys(x, wcap, a, &id))
                        return NOMEM();
                if (!id.mergeable)
                        continue;
                const char *tname = hub_ident_type_name(id.type);
                if (add_key(x, tname, id.value, a))
                        return NOMEM();
                /* A branch is the same legal person as its head office (DOMAIN.md). */
                if (id.parent[0] && add_key(x, tname, id.parent, a))
                        return NOMEM();
        }
        return 0;
}

/* NAME and NAMEBLOCK keys of a name (the organisation form of the key: legal-form tokens are
 * noise in a person's name too, where they do not occur). */
static int name_keys(hub_extract_t *x, size_t wcap, hub_arena_t *a, const char *name)
{
        char key[512];
        hub_err_t err = {0};
        if (hub_name_match_key(name, true, key, sizeof(key), &err) || !key[0])
                return 0;
        if (add_weak(x, wcap, a, "NAME", key))
                return -1;
        const char *sp = strchr(key, ' '), *last = strrchr(key, ' ');
        if (!sp)
                return 0;
        char block[512];
        snprintf(block, sizeof(block), "%.*s %s", (int)(sp - key), key, last + 1);
        return add_weak(x, wcap, a, "NAMEBLOCK", block);
}

static int add_name(hub_extract_t *x, size_t cap, size_t wcap, hub_arena_t *a, const char *kind,
                    const char *s)
{
        char nfc[1024], prop[64];
        snprintf(prop, sizeof(prop), "name:%s", kind);
        hub_err_t nerr = {0};
        /* A name that cannot be folded (too long for the buffer) is kept as reported. */
        bool ok = hub_name_nfc(s, nfc, sizeof(nfc), &nerr) == 0 && nfc[0];
        if (add_stmt(x, cap, a, prop, s, ok ? nfc : s, ok,
                     ok ? NULL : hub_err_name(nerr.code ? nerr.code : HUB_E_MALFORMED)))
                return -1;
        return ok ? name_keys(x, wcap, a, nfc) : 0;
}

/* Addresses: "address" (NFC text, ADDRESS key) and "province" (scheme:code) statements. */
static int addresses(avro_value_t *rec, hub_extract_t *x, size_t cap, size_t wcap,
                     hub_arena_t *a)
{
        avro_value_t arr, item;
        size_t n = array_size(rec, "addresses", &arr);
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(&arr, i, &item, NULL))
                        continue;
                const char *text = get_opt_string(&item, "text");
                const char *code = get_opt_string(&item, "province_code");
                const char *scheme = get_opt_string(&item, "province_scheme");
                char buf[1024];
                hub_err_t e = {0};
                if (text && hub_name_nfc(text, buf, sizeof(buf), &e) == 0 && buf[0]) {
                        if (add_stmt(x, cap, a, "address", text, buf, true, NULL))
                                return -1;
                        char key[1024];
                        /* Three words at least: "Hà Nội" alone is a place, not an address. */
                        if (hub_name_match_key(buf, false, key, sizeof(key), &e) == 0 &&
                            strchr(key, ' ') && strchr(strchr(key, ' ') + 1, ' ') &&
                            add_weak(x, wcap, a, "ADDRESS", key))
                                return -1;
                }
                if (code) {
                        snprintf(buf, sizeof(buf), "%s:%s", scheme ? scheme : "", code);
                        if (add_stmt(x, cap, a, "province", code, buf, true, NULL))
                                return -1;
                }
        }
        return 0;
}

static int relations(avro_value_t *rec, hub_extract_t *x, size_t cap, size_t wcap,
                     hub_arena_t *a, hub_err_t *err)
{
        avro_value_t arr, item, f, ids;
        size_t n = array_size(rec, "relations", &arr);
        for (size_t i = 0; i < n; i++) {
                const char *kind;
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    avro_value_get_by_name(&item, "kind", &f, NULL) || !(kind = enum_symbol(&f)))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "relation %zu is unreadable", i);
                bool own = strcmp(kind, "REGISTRANT") == 0 || strcmp(kind, "OWNER") == 0;
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "relation:%s:", kind);
                const char *name = get_opt_string(&item, "name");
                const char *role = get_opt_string(&item, "role_text");
                if (name && own && add_name(x, cap, wcap, a, "LEGAL", name))
                        return NOMEM();
                if (name && !own) {
                        char prop[96];
                        snprintf(prop, sizeof(prop), "%sname", prefix);
                        if (add_stmt(x, cap, a, prop, name, name, true, NULL))
                                return NOMEM();
                }
                if (role) {
                        char prop[96];
                        snprintf(prop, sizeof(prop), "%srole", prefix);
                        if (add_stmt(x, cap, a, prop, role, role, true, NULL))
                                return NOMEM();
                }
                size_t m = array_size(&item, "identifiers", &ids);
                int rc = identifiers(&ids, m, own, own ? "identifier:" : prefix, x, cap, wcap, a,
                                     err);
                if (rc)
                        return rc;
        }
        return 0;
}

/* Room for the statements and keys of rec, counted before filling (arena arrays). */
static size_t relation_items(avro_value_t *rec)
{
        avro_value_t arr, item, ids;
        size_t n = array_size(rec, "relations", &arr), total = 0;
        for (size_t i = 0; i < n; i++)
                if (!avro_value_get_by_index(&arr, i, &item, NULL))
                        total += 2 + array_size(&item, "identifiers", &ids);
        return total;
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
        avro_value_t addrs;
        size_t n_rel = relation_items(rec), n_addr = array_size(rec, "addresses", &addrs);
        size_t cap = n_names + n_ids + n_cats + n_rel + 2 * n_addr + 2;
        /* A branch tax code gives two keys, its own and its head office's. */
        size_t kcap = 2 * (n_ids + n_rel) + 1;
        size_t wcap = 16 * (n_ids + n_rel) + 2 * (n_names + n_rel) + n_addr + 1;
        x->stmts = hub_arena_alloc(a, cap * sizeof(hub_stmt_t));
        x->keys = hub_arena_alloc(a, kcap * sizeof(hub_merge_key_t));
        x->weak = hub_arena_alloc(a, wcap * sizeof(hub_weak_key_t));
        if (!x->stmts || !x->keys || !x->weak)
                return NOMEM();

        for (size_t i = 0; i < n_names; i++) {
                const char *kind;
                if (avro_value_get_by_index(&names, i, &item, NULL) ||
                    get_string(&item, "value", &s, NULL) ||
                    avro_value_get_by_name(&item, "kind", &f, NULL) || !(kind = enum_symbol(&f)))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "name %zu is unreadable", i);
                if (add_name(x, cap, wcap, a, kind, s))
                        return NOMEM();
        }
        int rc = identifiers(&ids, n_ids, true, "identifier:", x, cap, wcap, a, err);
        if (!rc)
                rc = relations(rec, x, cap, wcap, a, err);
        if (rc)
                return rc;
        if (addresses(rec, x, cap, wcap, a))
                return NOMEM();
        avro_value_t br;
        int32_t year;
        if (!avro_value_get_by_name(rec, "dob_year", &f, NULL) &&
            !avro_value_get_current_branch(&f, &br) && avro_value_get_type(&br) == AVRO_INT32 &&
            !avro_value_get_int(&br, &year) && year > 0) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%d", (int)year);
                x->dob_year = year;
                if (add_stmt(x, cap, a, "dob_year", buf, buf, true, NULL))
                        return NOMEM();
        }
        const char *g;
        if (!avro_value_get_by_name(rec, "gender", &f, NULL) &&
            !avro_value_get_current_branch(&f, &br) && avro_value_get_type(&br) == AVRO_ENUM &&
            (g = enum_symbol(&br)) && add_stmt(x, cap, a, "gender", g, g, true, NULL))
                return NOMEM();
        for (size_t i = 0; i < n_cats; i++) {
                if (avro_value_get_by_index(&cats, i, &item, NULL) || !(s = enum_symbol(&item)))
                        return hub_err_set(err, HUB_E_MALFORMED, false, "extract",
                                           "category %zu is unreadable", i);
                if (add_stmt(x, cap, a, "category", s, s, true, NULL))
                        return NOMEM();
        }
        return 0;
}
