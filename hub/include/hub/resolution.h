/* Read side of entity resolution for operators (hubctl identifiers): the values the
 * over-correlation guard marked noisy. The rules themselves are in hub/resolve.h; the tables
 * in hub/store/migrations/0002_resolution.sql. */
#ifndef HUB_RESOLUTION_H
#define HUB_RESOLUTION_H

#include <hub/err.h>
#include <hub/store.h>

#include <stdint.h>

typedef struct hub_noisy_row {
        const char *type;  /* identifier type or weak key kind: TAX_CODE, PHONE, NAME, ... */
        const char *value; /* normal form */
        int64_t entities;  /* distinct entities it was seen on when marked */
        int64_t threshold; /* K in force then */
        const char *agency, *record_id; /* the record that tipped it over ("" when unknown) */
        int64_t marked_at; /* microseconds since the epoch */
} hub_noisy_row_t;

/* Call cb for every noisy value, most recently marked first; a non-zero return from cb stops
 * and is returned. Errors: HUB_E_DB. */
int hub_resolution_noisy(hub_store_t *s, int (*cb)(const hub_noisy_row_t *row, void *arg),
                         void *arg, hub_err_t *err);

#endif
