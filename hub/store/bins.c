/* The bank BIN list in PostgreSQL: see hub/bins.h. */
#include <hub/bins.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hub_bins {
        PGresult *r; /* owns the strings the table points at */
        hub_bank_t *banks;
        hub_bank_table_t table;
};

int hub_bins_load(hub_store_t *s, hub_bins_t **out, hub_err_t *err)
{
        *out = NULL;
        hub_bins_t *b = calloc(1, sizeof(*b));
        if (!b)
                return hub_err_set(err, HUB_E_NOMEM, false, "bins", "out of memory");
        b->r = PQexec(hub_store_conn(s), "SELECT bin, code, aliases FROM bank_bins ORDER BY bin");
        int rc = hub_store_check(s, b->r, PGRES_TUPLES_OK, "read the bank BIN list", err);
        int n = rc ? 0 : PQntuples(b->r);
        if (!rc && !(b->banks = calloc((size_t)n + 1, sizeof(*b->banks))))
                rc = hub_err_set(err, HUB_E_NOMEM, false, "bins", "out of memory");
        if (rc) {
                hub_bins_free(b);
                return rc;
        }
        for (int i = 0; i < n; i++)
                b->banks[i] = (hub_bank_t){PQgetvalue(b->r, i, 0), PQgetvalue(b->r, i, 1),
                                           PQgetvalue(b->r, i, 2)};
        b->table = (hub_bank_table_t){b->banks, (size_t)n};
        *out = b;
        return 0;
}

void hub_bins_free(hub_bins_t *b)
{
        if (!b)
                return;
        PQclear(b->r);
        free(b->banks);
        free(b);
}

const hub_bank_table_t *hub_bins_table(const hub_bins_t *b)
{
        return &b->table;
}

static bool all_of(const char *s, const char *set, size_t min, size_t max)
{
        size_t n = strlen(s);
        return n >= min && n <= max && strspn(s, set) == n;
}

int hub_bins_add(hub_store_t *s, const char *bin, const char *code, const char *aliases,
                 bool *replaced, hub_err_t *err)
{
        *replaced = false;
        if (!aliases)
                aliases = "";
        if (!all_of(bin, "0123456789", 6, 6))
                return hub_err_set(err, HUB_E_INVAL, false, "bins",
                                   "invalid BIN \"%.40s\": 6 digits expected", bin);
        if (!all_of(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 1, 32))
                return hub_err_set(err, HUB_E_INVAL, false, "bins",
                                   "invalid bank code \"%.40s\": 1 to 32 of A-Z and 0-9 expected",
                                   code);
        if (strpbrk(aliases, "\n\r\t") || strlen(aliases) > 1000)
                return hub_err_set(err, HUB_E_INVAL, false, "bins",
                                   "invalid aliases: at most 1000 characters, no control "
                                   "characters");
        const char *p[3] = {bin, code, aliases};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "SELECT bin FROM bank_bins WHERE code = $2 AND bin <> $1", 2,
                                   NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look up a bank code", err);
        if (!rc && PQntuples(r))
                rc = hub_err_set(err, HUB_E_INVAL, false, "bins",
                                 "bank code %s already names BIN %s", code, PQgetvalue(r, 0, 0));
        PQclear(r);
        if (rc)
                return rc;
        r = PQexecParams(hub_store_conn(s),
                         "INSERT INTO bank_bins (bin, code, aliases) VALUES ($1, $2, $3) "
                         "ON CONFLICT (bin) DO UPDATE SET code = $2, aliases = $3, "
                         "updated_at = now() RETURNING xmax <> 0",
                         3, NULL, p, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "store a bank BIN", err);
        if (!rc)
                *replaced = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        return rc;
}

int hub_bins_remove(hub_store_t *s, const char *key, bool *found, hub_err_t *err)
{
        const char *p[1] = {key};
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "DELETE FROM bank_bins WHERE bin = $1 OR code = upper($1)", 1,
                                   NULL, p, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_COMMAND_OK, "remove a bank BIN", err);
        *found = !rc && strcmp(PQcmdTuples(r), "0") != 0;
        PQclear(r);
        return rc;
}
