/* The bank BIN list as reference data in PostgreSQL (table bank_bins, migration 0004): which
 * bank or e-wallet a BANK_ACCOUNT or E_WALLET qualifier may name (hub/ident.h). hubd loads it
 * at start and on SIGHUP and hands it to the normaliser (hub_ident_set_banks); `hubctl bins`
 * maintains it. */
#ifndef HUB_BINS_H
#define HUB_BINS_H

#include <hub/err.h>
#include <hub/ident.h>
#include <hub/store.h>

#include <stdbool.h>

typedef struct hub_bins hub_bins_t;

/* The whole list, in BIN order. Free with hub_bins_free() once no normaliser uses its table. */
int hub_bins_load(hub_store_t *s, hub_bins_t **out, hub_err_t *err);
void hub_bins_free(hub_bins_t *b);
/* The loaded list as a normaliser's table (owned by b). */
const hub_bank_table_t *hub_bins_table(const hub_bins_t *b);

/* Add a bank, or change the code and aliases of its BIN (*replaced says which). bin is 6
 * digits, code 1-32 of A-Z and 0-9, aliases names separated by '|'. Errors: HUB_E_INVAL (a
 * bad value, or a code another BIN holds), HUB_E_DB. */
int hub_bins_add(hub_store_t *s, const char *bin, const char *code, const char *aliases,
                 bool *replaced, hub_err_t *err);

/* Remove the bank whose BIN or code is key; *found false when none. */
int hub_bins_remove(hub_store_t *s, const char *key, bool *found, hub_err_t *err);

#endif
