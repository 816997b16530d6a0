/* Inside the mapping module: the parsed form shared by mapping.c (parsing) and
 * mapping_apply.c (applying to rows, dates). Not a public header. */
#ifndef HUB_MAPPING_INTERNAL_H
#define HUB_MAPPING_INTERNAL_H

#include <hub/mapping.h>

#include <stdbool.h>
#include <stdint.h>

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


/* Whether the report schema's enum has the symbol; the enum's default symbol. */
bool mapping_enum_has(const hub_mapping_t *m, const char *enum_name, const char *sym);
const char *mapping_enum_default(const hub_mapping_t *m, const char *enum_name);
/* "+HH:MM", "-HH:MM", "Z" or "UTC" → milliseconds east of UTC; -1 when not one of these. */
int mapping_parse_tz(const char *s, int64_t *ms);

#endif
