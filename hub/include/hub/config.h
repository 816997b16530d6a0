/* Configuration driven by one table of settings (name, type, default, reloadable, secret, help),
 * which is also what `--help` prints, so parsing, validation and documentation never drift.
 *
 * Precedence: defaults < INI file < HUB_* environment < command line. Keys starting with
 * "kafka." are not in the table: they are kept as given and passed to librdkafka unchanged
 * (as kcat's -X does); in the INI file, a [kafka] section means the same.
 *
 * Secrets (secret = true) are file paths or values never shown: hub_config_describe() masks
 * them. A configuration is a plain value: build a new one to reload, validate it, then swap. */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <hub/err.h>

#include <stdbool.h>
#include <stddef.h>

typedef enum {
        HUB_CFG_STRING = 0,
        HUB_CFG_INT,  /* decimal, within [min, max] */
        HUB_CFG_BOOL, /* true/false, yes/no, on/off, 1/0 */
        HUB_CFG_PATH, /* a file name; not opened here */
} hub_cfg_type_t;

typedef struct hub_setting {
        const char *name; /* lower case, '_' between words; --name-with-dashes on the command line */
        hub_cfg_type_t type;
        const char *def;  /* default as text; NULL: unset */
        bool reloadable;  /* SIGHUP may change it; others need a restart */
        bool secret;      /* never logged or shown */
        const char *env;  /* environment variable, e.g. "HUB_PG_DSN"; NULL: HUB_<NAME> */
        long long min, max; /* for HUB_CFG_INT */
        const char *help;
} hub_setting_t;

typedef struct hub_config hub_config_t;

/* A configuration holding the defaults of `table` (n settings; the table must outlive it).
 * Errors: HUB_E_NOMEM, HUB_E_CONFIG (a default that does not validate: a bug). */
int hub_config_new(const hub_setting_t *table, size_t n, hub_config_t **out, hub_err_t *err);
void hub_config_free(hub_config_t *c);

/* Set one setting from text, validating it by type; `kafka.*` names are accepted as is.
 * origin (e.g. "file hubd.ini line 3", "HUB_PG_DSN", "--dsn") goes into error messages.
 * Errors: HUB_E_CONFIG (unknown name, bad value), HUB_E_NOMEM. */
int hub_config_set(hub_config_t *c, const char *name, const char *value, const char *origin,
                   hub_err_t *err);

/* Read an INI file through inih: `name = value` before any section or in [hub], and
 * `[kafka]` keys as kafka.<key>. Errors: HUB_E_IO (cannot open), HUB_E_CONFIG (syntax or a bad
 * setting, with the line). */
int hub_config_load_file(hub_config_t *c, const char *path, hub_err_t *err);

/* Apply the environment: each setting's variable when set and not empty. */
int hub_config_load_env(hub_config_t *c, hub_err_t *err);

/* Values: NULL when unset. hub_config_int/_bool of a setting of another type, or unknown: 0. */
const char *hub_config_get(const hub_config_t *c, const char *name);
long long hub_config_int(const hub_config_t *c, const char *name);
bool hub_config_bool(const hub_config_t *c, const char *name);

/* The kafka.* pairs in the order they were first set: name (with the "kafka." prefix removed)
 * and value of pair i, i < hub_config_kafka_count(). */
size_t hub_config_kafka_count(const hub_config_t *c);
void hub_config_kafka_pair(const hub_config_t *c, size_t i, const char **name,
                           const char **value);

/* Compare a reloaded configuration with the running one: the first setting that differs but is
 * not reloadable, or NULL when the new one may replace the old. kafka.* settings are not
 * reloadable (a client is configured once). */
const char *hub_config_changed_fixed(const hub_config_t *old, const hub_config_t *new_);

/* The `--help` text of the settings, one block per setting (malloc'd: free() it), e.g.
 *   --max-batch-bytes N      largest batch accepted (default 1048576; env HUB_MAX_BATCH_BYTES;
 *                            reloadable) */
char *hub_config_help(const hub_setting_t *table, size_t n);

/* The command-line option name of a setting ("max_batch_bytes" -> "max-batch-bytes") into out. */
void hub_config_option_name(const char *name, char *out, size_t cap);

/* The setting whose option name is `option` (without "--"), or NULL. */
const hub_setting_t *hub_config_find_option(const hub_config_t *c, const char *option);

#endif
