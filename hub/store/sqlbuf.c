#include "sqlbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(hub_sqlbuf_t *b, size_t more)
{
        if (b->failed || b->n + more + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + more + 1)
                cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
                b->failed = true;
                return;
        }
        b->p = p;
        b->cap = cap;
}

static void put(hub_sqlbuf_t *b, const char *s, size_t n)
{
        grow(b, n);
        if (b->failed)
                return;
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
}

void hub_sqlbuf_reset(hub_sqlbuf_t *b)
{
        b->n = 0;
        b->failed = false;
        b->row_started = false;
        if (b->p)
                b->p[0] = '\0';
}

void hub_sqlbuf_done(hub_sqlbuf_t *b)
{
        free(b->p);
        memset(b, 0, sizeof(*b));
}

const char *hub_sqlbuf_str(hub_sqlbuf_t *b)
{
        return b->p ? b->p : "";
}

static void field(hub_sqlbuf_t *b)
{
        if (b->row_started)
                put(b, "\t", 1);
        b->row_started = true;
}

/* COPY text escapes: backslash, and the characters that end fields and rows. */
static void copy_escaped(hub_sqlbuf_t *b, const char *s)
{
        const char *run = s;
        for (; *s; s++) {
                const char *e = NULL;
                switch (*s) {
                case '\\': e = "\\\\"; break;
                case '\t': e = "\\t"; break;
                case '\n': e = "\\n"; break;
                case '\r': e = "\\r"; break;
                default: continue;
                }
                put(b, run, (size_t)(s - run));
                put(b, e, 2);
                run = s + 1;
        }
        put(b, run, (size_t)(s - run));
}

void hub_copy_text(hub_sqlbuf_t *b, const char *s)
{
        field(b);
        if (!s)
                put(b, "\\N", 2);
        else
                copy_escaped(b, s);
}

void hub_copy_null(hub_sqlbuf_t *b)
{
        field(b);
        put(b, "\\N", 2);
}

void hub_copy_int(hub_sqlbuf_t *b, int64_t v)
{
        char tmp[24];
        field(b);
        put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v));
}

void hub_copy_bool(hub_sqlbuf_t *b, bool v)
{
        field(b);
        put(b, v ? "t" : "f", 1);
}

void hub_copy_bytea(hub_sqlbuf_t *b, const void *p, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        field(b);
        /* bytea hex input "\x..." with its backslash escaped for COPY. */
        put(b, "\\\\x", 3);
        grow(b, 2 * n);
        if (b->failed)
                return;
        const unsigned char *u = p;
        for (size_t i = 0; i < n; i++) {
                b->p[b->n++] = hex[u[i] >> 4];
                b->p[b->n++] = hex[u[i] & 15];
        }
        b->p[b->n] = '\0';
}

/* An array literal element: always quoted, with quote and backslash escaped. */
static void array_elem(hub_sqlbuf_t *b, const char *s, bool for_copy)
{
        put(b, "\"", 1);
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        put(b, for_copy ? "\\\\" : "\\", for_copy ? 2 : 1);
                if (for_copy && (*s == '\t' || *s == '\n' || *s == '\r')) {
                        put(b, *s == '\t' ? "\\t" : *s == '\n' ? "\\n" : "\\r", 2);
                        continue;
                }
                put(b, s, 1);
        }
        put(b, "\"", 1);
}

void hub_copy_text_array(hub_sqlbuf_t *b, const char *const *items, size_t n)
{
        field(b);
        put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        put(b, ",", 1);
                array_elem(b, items[i], true);
        }
        put(b, "}", 1);
}

void hub_copy_end_row(hub_sqlbuf_t *b)
{
        put(b, "\n", 1);
        b->row_started = false;
}

void hub_array_text(hub_sqlbuf_t *b, const char *const *items, size_t n)
{
        hub_sqlbuf_reset(b);
        put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        put(b, ",", 1);
                array_elem(b, items[i], false);
        }
        put(b, "}", 1);
}

void hub_array_int(hub_sqlbuf_t *b, const int64_t *items, size_t n)
{
        char tmp[24];
        hub_sqlbuf_reset(b);
        put(b, "{", 1);
        for (size_t i = 0; i < n; i++)
                put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), i ? ",%" PRId64 : "%" PRId64,
                                             items[i]));
        put(b, "}", 1);
}

int hub_copy_run(hub_store_t *s, const char *copy_sql, hub_sqlbuf_t *b, const char *what,
                 hub_err_t *err)
{
        if (b->failed)
                return hub_err_set(err, HUB_E_NOMEM, false, "store", "out of memory");
        if (b->n == 0)
                return 0;
        PGconn *c = hub_store_conn(s);
        PGresult *res = PQexec(c, copy_sql);
        int rc = hub_store_check(s, res, PGRES_COPY_IN, what, err);
        PQclear(res);
        if (rc)
                return rc;
        if (PQputCopyData(c, b->p, (int)b->n) != 1 || PQputCopyEnd(c, NULL) != 1)
                return hub_err_set(err, HUB_E_DB, true, "store", "could not %s: %s", what,
                                   PQerrorMessage(c));
        res = PQgetResult(c);
        rc = hub_store_check(s, res, PGRES_COMMAND_OK, what, err);
        if (rc && strcmp(hub_store_sqlstate(res), "23505") == 0 && err)
                err->retriable = true;
        PQclear(res);
        /* Drain: libpq returns NULL once the command is complete. */
        while ((res = PQgetResult(c)))
                PQclear(res);
        return rc;
}
