/* Agencies and their keys: the SQL behind hubctl agency / key. */
#include <hub/mlog_store.h>
#include <hub/registry.h>
#include <hub/timestamp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Timestamps cross the wire as microseconds since the epoch (int8), never as text, so neither
 * the session's TimeZone nor DateStyle can change what is stored or shown. */
#define TS_IN(n) "('epoch'::timestamptz + $" #n "::int8 * interval '1 microsecond')"
#define TS_OUT(col) "(extract(epoch FROM " col ") * 1000000)::int8"

static void ts_param(char buf[24], int64_t usec, const char **param)
{
        if (usec == HUB_TS_NONE) {
                *param = NULL;
                return;
        }
        snprintf(buf, 24, "%" PRId64, usec);
        *param = buf;
}

static int64_t ts_value(const PGresult *r, int row, int col)
{
        if (PQgetisnull(r, row, col))
                return HUB_TS_NONE;
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int hub_registry_agency_add(hub_store_t *s, const char *code, const char *name,
                            int64_t valid_from, hub_err_t *err)
{
        char from[24];
        const char *params[3] = {code, name, NULL};
        ts_param(from, valid_from, &params[2]);
        PGresult *r = PQexecParams(hub_store_conn(s),
                                   "INSERT INTO agencies (code, name, valid_from) VALUES ($1, $2, "
                                   "coalesce(" TS_IN(3) ", now()))",
                                   3, NULL, params, NULL, NULL, 0);
        int rc = 0;
        if (strcmp(hub_store_sqlstate(r), "23505") == 0)
                rc = hub_err_set(err, HUB_E_CONFIG, false, "registry",
                                 "agency %s is already registered", code);
        else
                rc = hub_store_check(s, r, PGRES_COMMAND_OK, "add the agency", err);
        PQclear(r);
        return rc;
}

int hub_registry_agencies(hub_store_t *s, int (*row)(const hub_agency_row_t *a, void *arg),
                          void *arg, hub_err_t *err)
{
        PGresult *r = PQexec(hub_store_conn(s),
                             "SELECT a.code, a.name, " TS_OUT("a.valid_from") ", " TS_OUT(
                                     "a.valid_to") ", coalesce(a.successor, ''),"
                             " (SELECT count(*) FROM agency_keys k WHERE k.agency = a.code)"
                             " FROM agencies a ORDER BY a.code");
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the agencies", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                hub_agency_row_t a = {
                        .code = PQgetvalue(r, i, 0),
                        .name = PQgetvalue(r, i, 1),
                        .valid_from = ts_value(r, i, 2),
                        .valid_to = ts_value(r, i, 3),
                        .successor = PQgetvalue(r, i, 4),
                        .keys = strtoll(PQgetvalue(r, i, 5), NULL, 10),
                };
                rc = row(&a, arg);
        }
        PQclear(r);
        return rc;
}

/* DESIGN contract 6: every registration and revocation is committed to the hub's Merkle log
 * (a key_events row and its leaf) in the same transaction as the change it records; the signed
 * tree heads over the log are what makes the event signed (hub/mlog_store.h). */
static int log_key_event(hub_store_t *s, const char *event, const char *agency,
                         const char *key_id, hub_err_t *err)
{
        return hub_mlog_key_event(s, event, agency, key_id, err);
}

static int agency_exists(hub_store_t *s, const char *code, bool *exists, hub_err_t *err)
{
        const char *params[1] = {code};
        PGresult *r = PQexecParams(hub_store_conn(s), "SELECT 1 FROM agencies WHERE code = $1", 1,
                                   NULL, params, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look the agency up", err);
        if (!rc)
                *exists = PQntuples(r) > 0;
        PQclear(r);
        return rc;
}

int hub_registry_key_register(hub_store_t *s, const hub_key_registration_t *reg, hub_err_t *err)
{
        char from[24], until[24], pk_hex[2 * HUB_PK_BYTES + 3];
        bool exists = false;
        PGresult *r = NULL;
        int rc = hub_store_begin(s, err);
        if (rc)
                return rc;
        rc = agency_exists(s, reg->agency, &exists, err);
        if (rc)
                goto out;
        if (!exists) {
                rc = hub_err_set(err, HUB_E_CONFIG, false, "registry",
                                 "agency %s is not registered: add it with hubctl agency add",
                                 reg->agency);
                goto out;
        }
        pk_hex[0] = '\\';
        pk_hex[1] = 'x';
        for (size_t i = 0; i < HUB_PK_BYTES; i++)
                snprintf(pk_hex + 2 + 2 * i, 3, "%02x", reg->public_key[i]);
        /* Say which rule a duplicate breaks: the unique constraints alone would only say that
         * one did. FOR UPDATE is not needed: the constraints still decide a race. */
        const char *q[2] = {pk_hex, NULL};
        r = PQexecParams(hub_store_conn(s),
                         "SELECT agency, key_id FROM agency_keys WHERE public_key = $1::bytea", 1,
                         NULL, q, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look the public key up", err);
        if (rc)
                goto out;
        if (PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), reg->agency) == 0 &&
            strcmp(PQgetvalue(r, 0, 1), reg->key_id) == 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "key %s is already registered for agency %s", reg->key_id,
                                 reg->agency);
                goto out;
        }
        if (PQntuples(r) > 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "this public key is already registered as %s key %s",
                                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
                goto out;
        }
        PQclear(r);
        const char *params[5] = {reg->agency, reg->key_id, pk_hex, NULL, NULL};
        ts_param(from, reg->valid_from, &params[3]);
        ts_param(until, reg->valid_until, &params[4]);
        r = PQexecParams(hub_store_conn(s),
                         "INSERT INTO agency_keys (agency, key_id, public_key, valid_from, "
                         "valid_until) VALUES ($1, $2, $3::bytea, coalesce(" TS_IN(4) ", now()), "
                         TS_IN(5) ")",
                         5, NULL, params, NULL, NULL, 0);
        const char *st = hub_store_sqlstate(r);
        if (strcmp(st, "23505") == 0)
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "key %s is already registered for agency %s", reg->key_id,
                                 reg->agency);
        else if (strcmp(st, "23514") == 0)
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "could not register key %s: valid-until must be after "
                                 "valid-from",
                                 reg->key_id);
        else
                rc = hub_store_check(s, r, PGRES_COMMAND_OK, "register the key", err);
        if (!rc)
                rc = log_key_event(s, "register", reg->agency, reg->key_id, err);
        if (!rc)
                rc = hub_store_commit(s, err);
out:
        PQclear(r);
        if (rc)
                hub_store_rollback(s);
        return rc;
}

int hub_registry_key_revoke(hub_store_t *s, const char *agency, const char *key_id, int64_t at,
                            const char *reason, hub_err_t *err)
{
        char at_buf[24];
        const char *params[4] = {agency, key_id, NULL, reason};
        ts_param(at_buf, at, &params[2]);
        PGresult *r = NULL;
        int rc = hub_store_begin(s, err);
        if (rc)
                return rc;
        r = PQexecParams(hub_store_conn(s),
                         "SELECT " TS_OUT("revoked_at") ", revoked_reason FROM agency_keys "
                         "WHERE agency = $1 AND key_id = $2 FOR UPDATE",
                         2, NULL, params, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_TUPLES_OK, "look the key up", err);
        if (rc)
                goto out;
        if (PQntuples(r) == 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "key %s is not registered for agency %s", key_id, agency);
                goto out;
        }
        if (!PQgetisnull(r, 0, 0)) {
                char ts[HUB_TIMESTAMP_MAX];
                rc = hub_err_set(err, HUB_E_KEY, false, "registry",
                                 "key %s of agency %s was already revoked at %s", key_id, agency,
                                 hub_timestamp_format(ts_value(r, 0, 0), ts));
                goto out;
        }
        PQclear(r);
        r = PQexecParams(hub_store_conn(s),
                         "UPDATE agency_keys SET revoked_at = coalesce(" TS_IN(3) ", now()), "
                         "revoked_reason = $4 WHERE agency = $1 AND key_id = $2",
                         4, NULL, params, NULL, NULL, 0);
        rc = hub_store_check(s, r, PGRES_COMMAND_OK, "revoke the key", err);
        if (!rc)
                rc = log_key_event(s, "revoke", agency, key_id, err);
        if (!rc)
                rc = hub_store_commit(s, err);
out:
        PQclear(r);
        if (rc)
                hub_store_rollback(s);
        return rc;
}

static int hex_nibble(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int hub_registry_keys(hub_store_t *s, const char *agency,
                      int (*row)(const hub_key_row_t *k, void *arg), void *arg, hub_err_t *err)
{
        const char *params[1] = {agency};
        PGresult *r = PQexecParams(
                hub_store_conn(s),
                "SELECT agency, key_id, encode(public_key, 'hex'), " TS_OUT("valid_from") ", "
                TS_OUT("valid_until") ", " TS_OUT("revoked_at") ", coalesce(revoked_reason, ''), "
                TS_OUT("registered_at") " FROM agency_keys WHERE $1::text IS NULL OR agency = $1 "
                "ORDER BY agency, key_id",
                1, NULL, params, NULL, NULL, 0);
        int rc = hub_store_check(s, r, PGRES_TUPLES_OK, "list the keys", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                uint8_t pk[HUB_PK_BYTES] = {0};
                const char *hex = PQgetvalue(r, i, 2);
                for (size_t j = 0; j < HUB_PK_BYTES && hex[2 * j] && hex[2 * j + 1]; j++)
                        pk[j] = (uint8_t)(hex_nibble(hex[2 * j]) << 4 | hex_nibble(hex[2 * j + 1]));
                hub_key_row_t k = {
                        .agency = PQgetvalue(r, i, 0),
                        .key_id = PQgetvalue(r, i, 1),
                        .public_key = pk,
                        .valid_from = ts_value(r, i, 3),
                        .valid_until = ts_value(r, i, 4),
                        .revoked_at = ts_value(r, i, 5),
                        .revoked_reason = PQgetvalue(r, i, 6),
                        .registered_at = ts_value(r, i, 7),
                };
                rc = row(&k, arg);
        }
        PQclear(r);
        return rc;
}
