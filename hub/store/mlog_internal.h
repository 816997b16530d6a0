/* Shared by hub/store/mlog*.c and the modules that build on the log (provenance, evidence). */
#ifndef HUB_STORE_MLOG_INTERNAL_H
#define HUB_STORE_MLOG_INTERNAL_H

#include <hub/err.h>
#include <hub/store.h>

#include <stddef.h>
#include <stdint.h>

/* Statements digests (hub_mlog_statements_digest) of the records (agency[i], record_id[i]) as
 * the statements table holds them now, in one query. */
int hub_mlog_statement_digests_internal(hub_store_t *s, const char *const *agency,
                                        const char *const *record_id, size_t n,
                                        uint8_t (*out)[32], hub_err_t *err);

#endif
