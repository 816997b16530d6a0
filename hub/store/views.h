/* Entity views for the outbox: for each changed entity and each tier in which it has something
 * visible, the view derived from its statements (never from whichever record came last),
 * signed by the hub (hub/entity.h) and written as an outbox row for hub.entities.<tier>, key
 * "E<id>", in the caller's transaction. Internal to hub/store. */
#ifndef HUB_STORE_VIEWS_H
#define HUB_STORE_VIEWS_H

#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/store.h>

#include <stddef.h>
#include <stdint.h>

typedef struct hub_views hub_views_t;

/* hub_key (kept by reference) must hold the hub's secret key. */
int hub_views_new(const hub_key_t *hub_key, hub_views_t **out, hub_err_t *err);
void hub_views_free(hub_views_t *v);

/* Write the outbox rows of entities ids[0..n) (sorted, distinct) at their current version;
 * *rows receives how many. */
int hub_views_write(hub_views_t *v, hub_store_t *s, const int64_t *ids, size_t n, size_t *rows,
                    hub_err_t *err);

#endif
