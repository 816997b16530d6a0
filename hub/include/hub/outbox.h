/* The outbox (DESIGN contract 5): rows written in the ingest transaction, published afterwards
 * in id order with a transactional producer, one Kafka transaction per group of rows, and marked
 * sent only after that transaction committed. Re-sending after a crash between the commit and
 * the marking is harmless: the same versions, and subscribers ignore what they have. Only one
 * publisher sends at a time (an advisory lock held by its connection); the lock holder's
 * init_transactions() fences a stalled former holder's producer (same transactional.id), so
 * what that one had queued cannot land after newer versions. */
#ifndef HUB_OUTBOX_H
#define HUB_OUTBOX_H

#include <hub/err.h>
#include <hub/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_outbox_row {
        int64_t id;
        const char *topic;
        const void *key; /* NULL when none */
        size_t key_len;
        const void *payload;
        size_t payload_len;
} hub_outbox_row_t;

/* Try to become the publisher (a session advisory lock on s): *is_publisher says whether this
 * connection took it. Call it until it succeeds, then no more: the lock stacks, and it is kept
 * until the connection ends (a crash included). */
int hub_outbox_claim(hub_store_t *s, bool *is_publisher, hub_err_t *err);

/* Up to `limit` unsent rows with id > after_id, in id order. *res holds them (PQclear it);
 * rows[0..*n) point into it; rows must have room for limit entries. */
int hub_outbox_fetch(hub_store_t *s, int64_t after_id, size_t limit, hub_outbox_row_t *rows,
                     size_t *n, PGresult **res, hub_err_t *err);

/* Mark ids[0..n) sent. */
int hub_outbox_mark_sent(hub_store_t *s, const int64_t *ids, size_t n, hub_err_t *err);

/* How many rows are unsent. */
int hub_outbox_pending(hub_store_t *s, int64_t *n, hub_err_t *err);

#endif
