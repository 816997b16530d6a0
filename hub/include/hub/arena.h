/* A bump allocator for per-batch scratch memory: everything a batch needs while it is ingested
 * comes from one arena, released at once by hub_arena_reset() after the batch commits or rolls
 * back, so no error path can leak one string (PostgreSQL's memory contexts, in small). */
#ifndef HUB_ARENA_H
#define HUB_ARENA_H

#include <stddef.h>

typedef struct hub_arena hub_arena_t;

hub_arena_t *hub_arena_new(void);
/* Free everything allocated since the last reset, keeping the first block for reuse. */
void hub_arena_reset(hub_arena_t *a);
void hub_arena_free(hub_arena_t *a);

/* n bytes aligned for any type, or NULL when out of memory. */
void *hub_arena_alloc(hub_arena_t *a, size_t n);
/* A copy of s[0..n) with a NUL after it; NULL when out of memory. */
char *hub_arena_strndup(hub_arena_t *a, const char *s, size_t n);
char *hub_arena_strdup(hub_arena_t *a, const char *s);

#endif
