/* Analysts' judgements, pure parts: see hub/judgement.h and schemas/README.md "Judgements". */
#include "wire.h"

#include <hub/judgement.h>

#include <sodium.h>
#include <string.h>

#define INVAL(...) hub_err_set(err, HUB_E_INVAL, false, "judgement", __VA_ARGS__)

static bool printable_id(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return false;
        return true;
}

int hub_judgement_check(const hub_judgement_t *j, hub_err_t *err)
{
        bool pair = false, split = false, undo = false;
        if (!j->kind)
                return INVAL("no judgement kind");
        if (strcmp(j->kind, "same") == 0 || strcmp(j->kind, "not-same") == 0)
                pair = true;
        else if (strcmp(j->kind, "split") == 0)
                split = true;
        else if (strcmp(j->kind, "undo") == 0)
                undo = true;
        else
                return INVAL("unknown judgement kind \"%s\" (want same, not-same, split or undo)",
                             j->kind);
        if (j->entity_a <= 0 || (pair && j->entity_b <= 0) || (!pair && !undo && j->entity_b))
                return INVAL("a %s judgement names %s", j->kind,
                             pair ? "two entities" : "one entity");
        if (pair && j->entity_a == j->entity_b)
                return INVAL("a %s judgement names two different entities", j->kind);
        if (split != (j->n_records > 0))
                return INVAL(split ? "a split names the records that move out"
                                   : "only a split names records");
        if (j->n_records > HUB_JUDGEMENT_MAX_RECORDS)
                return INVAL("a split moves at most %d records", HUB_JUDGEMENT_MAX_RECORDS);
        for (size_t i = 0; i < j->n_records; i++)
                if (!j->records[i].agency || !*j->records[i].agency ||
                    !j->records[i].record_id || !*j->records[i].record_id ||
                    strlen(j->records[i].agency) > 64 || strlen(j->records[i].record_id) > 200)
                        return INVAL("bad record reference");
        if (undo != (j->undoes > 0))
                return INVAL(undo ? "an undo names the judgement it undoes"
                                  : "only an undo names a judgement");
        if (!printable_id(j->analyst) || !printable_id(j->key_id))
                return INVAL("analyst and key id must be 1-64 printable characters");
        if (!j->reason || !*j->reason)
                return INVAL("a judgement needs a reason");
        if (strlen(j->reason) > HUB_JUDGEMENT_MAX_REASON)
                return INVAL("the reason is longer than %d bytes", HUB_JUDGEMENT_MAX_REASON);
        return 0;
}

int hub_judgement_message(const hub_judgement_t *j, uint8_t **out, size_t *len, hub_err_t *err)
{
        int rc = hub_judgement_check(j, err);
        if (rc)
                return rc;
        wbuf_t b = {0};
        wb_raw(&b, HUB_JUDGEMENT_DOMAIN, sizeof(HUB_JUDGEMENT_DOMAIN)); /* with its NUL */
        wb_str(&b, j->kind);
        wb_u64be(&b, (uint64_t)j->entity_a);
        wb_u64be(&b, (uint64_t)j->entity_b);
        wb_u32be(&b, (uint32_t)j->n_records);
        for (size_t i = 0; i < j->n_records; i++) {
                wb_str(&b, j->records[i].agency);
                wb_str(&b, j->records[i].record_id);
        }
        wb_u64be(&b, (uint64_t)j->undoes);
        wb_str(&b, j->analyst);
        wb_str(&b, j->key_id);
        wb_str(&b, j->reason);
        wb_u64be(&b, (uint64_t)j->signed_at_us);
        if (b.failed) {
                free(b.p);
                return hub_err_set(err, HUB_E_NOMEM, false, "judgement", "out of memory");
        }
        *out = b.p;
        *len = b.n;
        return 0;
}

int hub_judgement_sign(const hub_judgement_t *j, const hub_key_t *key,
                       uint8_t sig[HUB_SIG_BYTES], hub_err_t *err)
{
        if (!key->has_secret)
                return hub_err_set(err, HUB_E_KEY, false, "judgement",
                                   "key %s is a public key: signing needs the secret key file",
                                   key->key_id);
        uint8_t *m = NULL;
        size_t n = 0;
        int rc = hub_judgement_message(j, &m, &n, err);
        if (rc)
                return rc;
        crypto_sign_detached(sig, NULL, m, n, key->sk);
        free(m);
        return 0;
}

int hub_judgement_verify(const hub_judgement_t *j, const uint8_t pk[HUB_PK_BYTES],
                         const uint8_t sig[HUB_SIG_BYTES], hub_err_t *err)
{
        uint8_t *m = NULL;
        size_t n = 0;
        int rc = hub_judgement_message(j, &m, &n, err);
        if (rc)
                return rc;
        rc = crypto_sign_verify_detached(sig, m, n, pk);
        free(m);
        if (rc)
                return hub_err_set(err, HUB_E_SIGNATURE, false, "judgement",
                                   "the signature does not verify with key %s of analyst %s",
                                   j->key_id, j->analyst);
        return 0;
}

static int leaf(wbuf_t *b, uint8_t **out, size_t *len, hub_err_t *err)
{
        if (b->failed) {
                free(b->p);
                return hub_err_set(err, HUB_E_NOMEM, false, "judgement", "out of memory");
        }
        *out = b->p;
        *len = b->n;
        return 0;
}

int hub_judgement_leaf_body(const hub_judgement_t *j, const uint8_t sig[HUB_SIG_BYTES],
                       const uint8_t pk[HUB_PK_BYTES], int64_t id, int64_t new_entity,
                       int64_t merge_id, uint8_t **out, size_t *len, hub_err_t *err)
{
        uint8_t *m = NULL;
        size_t n = 0;
        int rc = hub_judgement_message(j, &m, &n, err);
        if (rc)
                return rc;
        wbuf_t b = {0};
        wb_u8(&b, HUB_JUDGEMENT_LEAF_JUDGEMENT);
        wb_u32be(&b, (uint32_t)n);
        wb_raw(&b, m, n);
        wb_raw(&b, sig, HUB_SIG_BYTES);
        wb_raw(&b, pk, HUB_PK_BYTES);
        wb_u64be(&b, (uint64_t)id);
        wb_u64be(&b, (uint64_t)new_entity);
        wb_u64be(&b, (uint64_t)merge_id);
        free(m);
        return leaf(&b, out, len, err);
}

int hub_judgement_key_leaf_body(int event, const char *analyst, const char *key_id,
                           const uint8_t pk[HUB_PK_BYTES], int64_t at_us, const char *reason,
                           uint8_t **out, size_t *len, hub_err_t *err)
{
        if ((event != HUB_JUDGEMENT_LEAF_KEY_REGISTER && event != HUB_JUDGEMENT_LEAF_KEY_REVOKE) ||
            !printable_id(analyst) || !printable_id(key_id) ||
            (reason && strlen(reason) > HUB_JUDGEMENT_MAX_REASON))
                return INVAL("bad analyst key event");
        wbuf_t b = {0};
        wb_u8(&b, (uint8_t)event);
        wb_str(&b, analyst);
        wb_str(&b, key_id);
        wb_raw(&b, pk, HUB_PK_BYTES);
        wb_u64be(&b, (uint64_t)at_us);
        if (event == HUB_JUDGEMENT_LEAF_KEY_REVOKE)
                wb_str(&b, reason ? reason : "");
        return leaf(&b, out, len, err);
}
