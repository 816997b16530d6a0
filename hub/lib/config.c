#include <hub/config.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv {
        char *name;
        char *value;
};

struct hub_config {
        const hub_setting_t *table;
        size_t n;
        char **values; /* one per setting, malloc'd or NULL */
        struct kv *kafka;
        size_t n_kafka, cap_kafka;
};

static int find(const hub_config_t *c, const char *name)
{
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->table[i].name, name) == 0)
                        return (int)i;
        return -1;
}

static int parse_bool(const char *v, bool *out)
{
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < 4; i++) {
                if (strcmp(v, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcmp(v, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -1;
}

static int validate(const hub_setting_t *s, const char *value, const char *origin, hub_err_t *err)
{
        if (s->type == HUB_CFG_INT) {
                char *end;
                errno = 0;
                long long v = strtoll(value, &end, 10);
                if (errno || end == value || *end || v < s->min || v > s->max)
                        return hub_err_set(err, HUB_E_CONFIG, false, "config",
                                           "invalid value for %s (%s): \"%s\" is not an integer "
                                           "from %lld to %lld",
                                           s->name, origin, s->secret ? "***" : value, s->min,
                                           s->max);
        } else if (s->type == HUB_CFG_BOOL) {
                bool b;
                if (parse_bool(value, &b))
                        return hub_err_set(err, HUB_E_CONFIG, false, "config",
                                           "invalid value for %s (%s): \"%s\" is not a boolean",
                                           s->name, origin, value);
        } else if (s->type == HUB_CFG_PATH && !*value) {
                return hub_err_set(err, HUB_E_CONFIG, false, "config",
                                   "invalid value for %s (%s): empty file name", s->name, origin);
        }
        return 0;
}

int hub_config_set(hub_config_t *c, const char *name, const char *value, const char *origin,
                   hub_err_t *err)
{
        if (!name || !value)
                return hub_err_set(err, HUB_E_INVAL, false, "config", "name and value required");
        if (strncmp(name, "kafka.", 6) == 0 && name[6]) {
                for (size_t i = 0; i < c->n_kafka; i++) {
                        if (strcmp(c->kafka[i].name, name + 6) == 0) {
                                char *v = strdup(value);
                                if (!v)
                                        goto nomem;
                                free(c->kafka[i].value);
                                c->kafka[i].value = v;
                                return 0;
                        }
                }
                if (c->n_kafka == c->cap_kafka) {
                        size_t cap = c->cap_kafka ? 2 * c->cap_kafka : 8;
                        struct kv *k = realloc(c->kafka, cap * sizeof(*k));
                        if (!k)
                                goto nomem;
                        c->kafka = k;
                        c->cap_kafka = cap;
                }
                struct kv kv = {strdup(name + 6), strdup(value)};
                if (!kv.name || !kv.value) {
                        free(kv.name);
                        free(kv.value);
                        goto nomem;
                }
                c->kafka[c->n_kafka++] = kv;
                return 0;
        }
        int i = find(c, name);
        if (i < 0)
                return hub_err_set(err, HUB_E_CONFIG, false, "config", "unknown setting %s (%s)",
                                   name, origin);
        int rc = validate(&c->table[i], value, origin, err);
        if (rc)
                return rc;
        char *v = strdup(value);
        if (!v)
                goto nomem;
        free(c->values[i]);
        c->values[i] = v;
        return 0;
nomem:
        return hub_err_set(err, HUB_E_NOMEM, false, "config", "out of memory");
}

void hub_config_free(hub_config_t *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++)
                free(c->values[i]);
        free(c->values);
        for (size_t i = 0; i < c->n_kafka; i++) {
                free(c->kafka[i].name);
                free(c->kafka[i].value);
        }
        free(c->kafka);
        free(c);
}

int hub_config_new(const hub_setting_t *table, size_t n, hub_config_t **out, hub_err_t *err)
{
        hub_config_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->values = calloc(n ? n : 1, sizeof(char *)))) {
                free(c);
                return hub_err_set(err, HUB_E_NOMEM, false, "config", "out of memory");
        }
        c->table = table;
        c->n = n;
        for (size_t i = 0; i < n; i++) {
                if (!table[i].def)
                        continue;
                int rc = hub_config_set(c, table[i].name, table[i].def, "default", err);
                if (rc) {
                        hub_config_free(c);
                        return rc;
                }
        }
        *out = c;
        return 0;
}

struct ini_ctx {
        hub_config_t *c;
        const char *path;
        hub_err_t *err;
        int rc;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
        struct ini_ctx *x = user;
        char key[256], origin[300];
        if (!*section || strcmp(section, "hub") == 0)
                snprintf(key, sizeof(key), "%s", name);
        else
                snprintf(key, sizeof(key), "%s.%s", section, name);
        if (strcmp(section, "kafka") != 0)
                for (char *p = key; *p; p++)
                        if (*p == '-')
                                *p = '_';
        /* Debian's inih is built without INI_HANDLER_LINENO: the line of the first failure
         * comes back from ini_parse_file() instead. */
        if (x->rc)
                return 1;
        snprintf(origin, sizeof(origin), "file %s", x->path);
        x->rc = hub_config_set(x->c, key, value, origin, x->err);
        return x->rc == 0;
}

int hub_config_load_file(hub_config_t *c, const char *path, hub_err_t *err)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return hub_err_set(err, HUB_E_IO, false, "config",
                                   "could not open configuration file %s: %s", path,
                                   strerror(errno));
        struct ini_ctx x = {c, path, err, 0};
        /* inih reports the first line it could not parse; the handler's own error wins. */
        int line = ini_parse_file(f, on_ini_line, &x);
        fclose(f);
        if (x.rc) {
                hub_err_prefix(err, "line %d", line);
                return x.rc;
        }
        if (line)
                return hub_err_set(err, HUB_E_CONFIG, false, "config",
                                   "could not parse configuration file %s: syntax error at "
                                   "line %d",
                                   path, line);
        return 0;
}

static void env_name(const hub_setting_t *s, char *out, size_t cap)
{
        if (s->env) {
                snprintf(out, cap, "%s", s->env);
                return;
        }
        size_t at = (size_t)snprintf(out, cap, "HUB_");
        for (const char *p = s->name; *p && at + 1 < cap; p++)
                out[at++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        out[at] = '\0';
}

int hub_config_load_env(hub_config_t *c, hub_err_t *err)
{
        for (size_t i = 0; i < c->n; i++) {
                char name[128];
                env_name(&c->table[i], name, sizeof(name));
                const char *v = getenv(name);
                if (!v || !*v)
                        continue;
                int rc = hub_config_set(c, c->table[i].name, v, name, err);
                if (rc)
                        return rc;
        }
        return 0;
}

const char *hub_config_get(const hub_config_t *c, const char *name)
{
        int i = find(c, name);
        return i < 0 ? NULL : c->values[i];
}

long long hub_config_int(const hub_config_t *c, const char *name)
{
        int i = find(c, name);
        if (i < 0 || c->table[i].type != HUB_CFG_INT || !c->values[i])
                return 0;
        return strtoll(c->values[i], NULL, 10);
}

bool hub_config_bool(const hub_config_t *c, const char *name)
{
        int i = find(c, name);
        bool b = false;
        if (i >= 0 && c->table[i].type == HUB_CFG_BOOL && c->values[i])
                parse_bool(c->values[i], &b);
        return b;
}

size_t hub_config_kafka_count(const hub_config_t *c)
{
        return c->n_kafka;
}

void hub_config_kafka_pair(const hub_config_t *c, size_t i, const char **name,
                           const char **value)
{
        *name = i < c->n_kafka ? c->kafka[i].name : NULL;
        *value = i < c->n_kafka ? c->kafka[i].value : NULL;
}

static bool same(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

const char *hub_config_changed_fixed(const hub_config_t *old, const hub_config_t *new_)
{
        for (size_t i = 0; i < old->n; i++)
                if (!old->table[i].reloadable && !same(old->values[i], new_->values[i]))
                        return old->table[i].name;
        if (old->n_kafka != new_->n_kafka)
                return "kafka.*";
        for (size_t i = 0; i < old->n_kafka; i++)
                if (!same(old->kafka[i].name, new_->kafka[i].name) ||
                    !same(old->kafka[i].value, new_->kafka[i].value))
                        return "kafka.*";
        return NULL;
}

void hub_config_option_name(const char *name, char *out, size_t cap)
{
        size_t at = 0;
        for (const char *p = name; *p && at + 1 < cap; p++)
                out[at++] = *p == '_' ? '-' : *p;
        if (cap)
                out[at] = '\0';
}

const hub_setting_t *hub_config_find_option(const hub_config_t *c, const char *option)
{
        char opt[128];
        for (size_t i = 0; i < c->n; i++) {
                hub_config_option_name(c->table[i].name, opt, sizeof(opt));
                if (strcmp(opt, option) == 0)
                        return &c->table[i];
        }
        return NULL;
}

char *hub_config_help(const hub_setting_t *table, size_t n)
{
        static const char *const meta[] = {"TEXT", "N", "BOOL", "FILE"};
        size_t cap = 256 + n * 512, at = 0;
        char *out = malloc(cap);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                char opt[96], env[96], left[160];
                hub_config_option_name(table[i].name, opt, sizeof(opt));
                env_name(&table[i], env, sizeof(env));
                snprintf(left, sizeof(left), "  --%s %s", opt, meta[table[i].type]);
                at += (size_t)snprintf(out + at, cap - at, "%-34s %s\n%-34s (", left,
                                       table[i].help, "");
                if (table[i].def && !table[i].secret)
                        at += (size_t)snprintf(out + at, cap - at, "default %s; ",
                                               *table[i].def ? table[i].def : "\"\"");
                at += (size_t)snprintf(out + at, cap - at, "env %s%s%s)\n", env,
                                       table[i].reloadable ? "; reloadable" : "",
                                       table[i].secret ? "; secret" : "");
                if (at >= cap)
                        at = cap - 1;
        }
        out[at] = '\0';
        return out;
}
