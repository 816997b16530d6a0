/* Text buffers for COPY FROM STDIN (text format) and PostgreSQL array literals, shared by the
 * hub/store modules that write many rows in one round trip. Internal to hub/store. */
#ifndef HUB_STORE_SQLBUF_H
#define HUB_STORE_SQLBUF_H

#include <hub/err.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_sqlbuf {
        char *p;
        size_t n, cap;
        bool failed; /* out of memory at some append: the buffer is unusable */
        bool row_started;
} hub_sqlbuf_t;

void hub_sqlbuf_reset(hub_sqlbuf_t *b);
void hub_sqlbuf_done(hub_sqlbuf_t *b);
/* NUL-terminated view of the contents ("" when empty). */
const char *hub_sqlbuf_str(hub_sqlbuf_t *b);

/* COPY text format: fields separated by tabs, rows ended by hub_sqlbuf_end_row(). */
void hub_copy_text(hub_sqlbuf_t *b, const char *s); /* NULL writes \N */
void hub_copy_int(hub_sqlbuf_t *b, int64_t v);
void hub_copy_bool(hub_sqlbuf_t *b, bool v);
void hub_copy_bytea(hub_sqlbuf_t *b, const void *p, size_t n);
void hub_copy_null(hub_sqlbuf_t *b);
void hub_copy_text_array(hub_sqlbuf_t *b, const char *const *items, size_t n);
void hub_copy_end_row(hub_sqlbuf_t *b);

/* Run `COPY ... FROM STDIN` with the buffer's rows. A unique violation (23505) is marked
 * retriable: within hubd it means another instance stored the same key concurrently, and the
 * retry will see its row. */
int hub_copy_run(hub_store_t *s, const char *copy_sql, hub_sqlbuf_t *b, const char *what,
                 hub_err_t *err);

/* Array literals for $n::text[] / $n::bigint[] parameters. */
void hub_array_text(hub_sqlbuf_t *b, const char *const *items, size_t n);
void hub_array_int(hub_sqlbuf_t *b, const int64_t *items, size_t n);

#endif
