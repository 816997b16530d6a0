#include <hub/arena.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES (64 * 1024)

struct block {
        struct block *next;
        size_t used, cap;
        alignas(max_align_t) unsigned char data[];
};

struct hub_arena {
        struct block *head; /* the current block; the first one allocated is last in the list */
};

hub_arena_t *hub_arena_new(void)
{
        return calloc(1, sizeof(hub_arena_t));
}

void hub_arena_reset(hub_arena_t *a)
{
        if (!a || !a->head)
                return;
        while (a->head->next) {
                struct block *b = a->head;
                a->head = b->next;
                free(b);
        }
        a->head->used = 0;
}

void hub_arena_free(hub_arena_t *a)
{
        if (!a)
                return;
        while (a->head) {
                struct block *b = a->head;
                a->head = b->next;
                free(b);
        }
        free(a);
}

void *hub_arena_alloc(hub_arena_t *a, size_t n)
{
        const size_t align = alignof(max_align_t);
        n = (n + align - 1) & ~(align - 1);
        if (!n)
                n = align;
        struct block *b = a->head;
        if (!b || b->cap - b->used < n) {
                size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
                b = malloc(sizeof(*b) + cap);
                if (!b)
                        return NULL;
                b->used = 0;
                b->cap = cap;
                b->next = a->head;
                a->head = b;
        }
        void *p = b->data + b->used;
        b->used += n;
        return p;
}

char *hub_arena_strndup(hub_arena_t *a, const char *s, size_t n)
{
        char *p = hub_arena_alloc(a, n + 1);
        if (p) {
                memcpy(p, s, n);
                p[n] = '\0';
        }
        return p;
}

char *hub_arena_strdup(hub_arena_t *a, const char *s)
{
        return hub_arena_strndup(a, s, strlen(s));
}
