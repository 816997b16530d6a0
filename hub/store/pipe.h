/* Statements sent in libpq's pipeline mode: many statements, one round trip. Resolution sends
 * a record's writes without waiting for them and its reads together, then waits once
 * (hub_pipe_sync); results come back in the order sent, so every read sees every write sent
 * before it, as with one statement at a time. The caller's transaction is unaffected: a sync
 * inside BEGIN ... COMMIT commits nothing. Internal to hub/store. */
#ifndef HUB_STORE_PIPE_H
#define HUB_STORE_PIPE_H

#include <hub/err.h>
#include <hub/store.h>

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct hub_pipe_entry;

typedef struct hub_pipe {
        hub_store_t *s;
        struct hub_pipe_entry *q;
        size_t n, cap;
        bool on;
} hub_pipe_t;

/* Enter pipeline mode on the store's connection. */
int hub_pipe_begin(hub_pipe_t *p, hub_store_t *s, hub_err_t *err);

/* Send one statement with text parameters (types may be NULL); want is the status it must
 * end with. *keep, when given, receives its result at the next hub_pipe_sync (the caller
 * clears it); otherwise the result is checked and dropped, and *ones, when given, counts the
 * statements that changed exactly one row. */
int hub_pipe_send(hub_pipe_t *p, const char *sql, int n, const Oid *types,
                  const char *const *params, ExecStatusType want, PGresult **keep, size_t *ones,
                  const char *what, hub_err_t *err);

/* Wait for every statement sent: the first one that failed is the error. */
int hub_pipe_sync(hub_pipe_t *p, hub_err_t *err);

/* Wait for what is still in flight (its errors are reported unless rc already is one) and
 * leave pipeline mode. Returns rc, or the first error. */
int hub_pipe_end(hub_pipe_t *p, int rc, hub_err_t *err);

#endif
