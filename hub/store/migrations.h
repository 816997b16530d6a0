/* The compiled-in migrations (generated from migrations/NNNN_name.sql). Internal to hub/store. */
#ifndef HUB_STORE_MIGRATIONS_H
#define HUB_STORE_MIGRATIONS_H

struct hub_migration {
        int version;
        const char *name;
        const char *sql;
};

/* In version order, ended by an entry whose version is 0. */
extern const struct hub_migration hub_migrations[];

#endif
