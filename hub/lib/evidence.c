/* Evidence bundles: encode, decode, verify offline. See hub/evidence.h and schemas/README.md
 * "The evidence bundle". Hand-written codec (hub/lib/wire.h) for the canonical-form rules. */
#include "wire.h"

#include <hub/evidence.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ---- */

static void wb_hashes(wbuf_t *b, const uint8_t *h, size_t len)
{
        size_t n = len / 32;
        if (n) {
                wb_long(b, (int64_t)n);
                wb_raw(b, h, n * 32);
        }
        wb_long(b, 0);
}

int hub_evidence_encode(const hub_evidence_t *e, uint8_t **out, size_t *len, hub_err_t *err)
{
        if (e->n_events > HUB_EVIDENCE_MAX_EVENTS)
                return hub_err_set(err, HUB_E_INVAL, false, "evidence", "too many key events");
        wbuf_t b = {0};
        wb_long(&b, HUB_EVIDENCE_FORMAT_VERSION);
        wb_abytes(&b, e->record, e->record_len);
        wb_long(&b, (int64_t)e->record_index);
        wb_abytes(&b, e->header, e->header_len);
        wb_hashes(&b, e->batch_path, e->batch_path_len);
        wb_raw(&b, e->batch_signature, HUB_SIG_BYTES);
        wb_raw(&b, e->statements_digest, 32);
        wb_long(&b, (int64_t)e->record_leaf_index);
        wb_hashes(&b, e->record_proof, e->record_proof_len);
        if (e->n_events)
                wb_long(&b, (int64_t)e->n_events);
        for (size_t i = 0; i < e->n_events; i++) {
                const hub_evidence_event_t *ev = &e->events[i];
                wb_long(&b, ev->e.event == HUB_MLOG_KEY_REVOKE ? 1 : 0);
                wb_abytes(&b, ev->e.agency, strlen(ev->e.agency));
                wb_abytes(&b, ev->e.key_id, strlen(ev->e.key_id));
                wb_raw(&b, ev->e.public_key, HUB_PK_BYTES);
                wb_long(&b, ev->e.valid_from_us);
                wb_long(&b, ev->e.has_valid_until ? 1 : 0);
                if (ev->e.has_valid_until)
                        wb_long(&b, ev->e.valid_until_us);
                wb_long(&b, ev->e.revoked ? 1 : 0);
                if (ev->e.revoked)
                        wb_long(&b, ev->e.revoked_at_us);
                const char *reason = ev->e.reason ? ev->e.reason : "";
                wb_abytes(&b, reason, strlen(reason));
                wb_long(&b, ev->e.at_us);
                wb_long(&b, (int64_t)ev->leaf_index);
                wb_hashes(&b, ev->proof, ev->proof_len);
        }
        wb_long(&b, 0);
        wb_long(&b, (int64_t)e->head.size);
        wb_raw(&b, e->head.root, 32);
        wb_long(&b, e->head.timestamp_ms);
        wb_abytes(&b, e->head.key_id, strlen(e->head.key_id));
        wb_raw(&b, e->head.signature, HUB_SIG_BYTES);
        if (b.failed) {
                free(b.p);
                return hub_err_set(err, HUB_E_NOMEM, false, "evidence", "out of memory");
        }
        *out = b.p;
        *len = b.n;
        return 0;
}

/* ---- decoding ---- */

/* An array of hashes: one block of 1..64 items then 00, or just 00. */
static void rb_hashes(rbuf_t *r, uint8_t *out, size_t *len)
{
        *len = 0;
        int64_t n = rb_long(r);
        if (r->err || n == 0)
                return;
        if (n < 0 || n > HUB_MERKLE_MAX_PROOF) {
                rb_fail(r, 4);
                return;
        }
        const uint8_t *p = rb_raw(r, (size_t)n * 32);
        if (!p)
                return;
        memcpy(out, p, (size_t)n * 32);
        *len = (size_t)n * 32;
        if (rb_long(r) != 0)
                rb_fail(r, 4);
}

static int64_t rb_nonneg(rbuf_t *r)
{
        int64_t v = rb_long(r);
        if (!r->err && v < 0)
                rb_fail(r, 4);
        return v;
}

/* An Avro string naming an agency or key: 1-64 printable ASCII bytes without space. */
static void rb_id(rbuf_t *r, char *out)
{
        size_t n = 0;
        const uint8_t *p = rb_abytes(r, &n);
        if (!p)
                return;
        if (n < 1 || n > HUB_BATCH_MAX_ID_BYTES) {
                rb_fail(r, 4);
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (p[i] < 0x21 || p[i] > 0x7e) {
                        rb_fail(r, 4);
                        return;
                }
        memcpy(out, p, n);
        out[n] = '\0';
}

static int64_t rb_union_long(rbuf_t *r, bool *present)
{
        int64_t branch = rb_long(r);
        *present = false;
        if (r->err)
                return 0;
        if (branch == 0)
                return 0;
        if (branch != 1) {
                rb_fail(r, 4);
                return 0;
        }
        *present = true;
        return rb_long(r);
}

static int rb_error(const rbuf_t *r, size_t len, hub_err_t *err)
{
        if (r->err)
                return hub_err_set(err, r->err, false, "evidence", "bundle: %s at byte %zu",
                                   r->err == HUB_E_TRUNCATED ? "input ends early"
                                                             : "not the canonical encoding or a "
                                                               "value out of range",
                                   r->err_at);
        if (r->i != len)
                return hub_err_set(err, HUB_E_TRAILING, false, "evidence",
                                   "bundle: %zu bytes after the tree head", len - r->i);
        return 0;
}

void hub_evidence_done(hub_evidence_t *e)
{
        for (size_t i = 0; i < HUB_EVIDENCE_MAX_EVENTS; i++) {
                free(e->reasons[i]);
                e->reasons[i] = NULL;
        }
}

int hub_evidence_decode(const uint8_t *buf, size_t len, hub_evidence_t *e, hub_err_t *err)
{
        memset(e, 0, sizeof(*e));
        if (len > HUB_EVIDENCE_MAX_BYTES)
                return hub_err_set(err, HUB_E_TOO_LARGE, false, "evidence",
                                   "bundle: %zu bytes, more than %u", len, HUB_EVIDENCE_MAX_BYTES);
        rbuf_t r = {buf, len, 0, 0, 0};
        if (rb_long(&r) != HUB_EVIDENCE_FORMAT_VERSION || r.err)
                return hub_err_set(err, HUB_E_MALFORMED, false, "evidence",
                                   "bundle: unsupported format version (first byte must be 02)");
        e->record = rb_abytes(&r, &e->record_len);
        e->record_index = (uint64_t)rb_nonneg(&r);
        e->header = rb_abytes(&r, &e->header_len);
        rb_hashes(&r, e->batch_path, &e->batch_path_len);
        const uint8_t *p = rb_raw(&r, HUB_SIG_BYTES);
        if (p)
                memcpy(e->batch_signature, p, HUB_SIG_BYTES);
        p = rb_raw(&r, 32);
        if (p)
                memcpy(e->statements_digest, p, 32);
        e->record_leaf_index = (uint64_t)rb_nonneg(&r);
        rb_hashes(&r, e->record_proof, &e->record_proof_len);
        int64_t n = rb_long(&r);
        if (!r.err && (n < 0 || n > HUB_EVIDENCE_MAX_EVENTS))
                rb_fail(&r, 4);
        for (int64_t i = 0; i < n && !r.err; i++) {
                hub_evidence_event_t *ev = &e->events[e->n_events++];
                int64_t kind = rb_long(&r);
                if (!r.err && kind != 0 && kind != 1)
                        rb_fail(&r, 4);
                ev->e.event = kind == 1 ? HUB_MLOG_KEY_REVOKE : HUB_MLOG_KEY_REGISTER;
                rb_id(&r, ev->agency_buf);
                rb_id(&r, ev->key_id_buf);
                ev->e.agency = ev->agency_buf;
                ev->e.key_id = ev->key_id_buf;
                p = rb_raw(&r, HUB_PK_BYTES);
                if (p)
                        memcpy(ev->e.public_key, p, HUB_PK_BYTES);
                ev->e.valid_from_us = rb_long(&r);
                ev->e.valid_until_us = rb_union_long(&r, &ev->e.has_valid_until);
                ev->e.revoked_at_us = rb_union_long(&r, &ev->e.revoked);
                size_t rl = 0;
                const uint8_t *rs = rb_abytes(&r, &rl);
                if (rs) {
                        /* A reason is text: no NUL inside, so it survives as a C string. */
                        if (memchr(rs, 0, rl)) {
                                rb_fail(&r, 4);
                        } else if (!(e->reasons[i] = strndup((const char *)rs, rl))) {
                                hub_evidence_done(e);
                                return hub_err_set(err, HUB_E_NOMEM, false, "evidence",
                                                   "out of memory");
                        }
                }
                ev->e.reason = e->reasons[i] ? e->reasons[i] : "";
                ev->e.at_us = rb_long(&r);
                ev->leaf_index = (uint64_t)rb_nonneg(&r);
                rb_hashes(&r, ev->proof, &ev->proof_len);
        }
        if (n > 0 && rb_long(&r) != 0)
                rb_fail(&r, 4);
        e->head.size = (uint64_t)rb_nonneg(&r);
        p = rb_raw(&r, 32);
        if (p)
                memcpy(e->head.root, p, 32);
        e->head.timestamp_ms = rb_long(&r);
        rb_id(&r, e->head.key_id);
        p = rb_raw(&r, HUB_SIG_BYTES);
        if (p)
                memcpy(e->head.signature, p, HUB_SIG_BYTES);
        int rc = rb_error(&r, len, err);
        if (rc)
                hub_evidence_done(e);
        return rc;
}

/* ---- verifying ---- */

struct header {
        char agency[HUB_BATCH_MAX_ID_BYTES + 1], key_id[HUB_BATCH_MAX_ID_BYTES + 1],
                producer[HUB_BATCH_MAX_ID_BYTES + 1];
        int64_t seq, created_at_ms, count;
};

/* H as schemas/README.md "The signed batch" describes it: fields 1-8, canonical. */
static int parse_header(const uint8_t *h, size_t len, struct header *out, hub_err_t *err)
{
        rbuf_t r = {h, len, 0, 0, 0};
        int64_t version = rb_long(&r);
        if (!r.err && version != HUB_BATCH_FORMAT_VERSION)
                rb_fail(&r, 4);
        rb_id(&r, out->agency);
        rb_id(&r, out->key_id);
        rb_id(&r, out->producer);
        out->seq = rb_nonneg(&r);
        out->created_at_ms = rb_nonneg(&r);
        rb_raw(&r, HUB_BATCH_FINGERPRINT_BYTES);
        out->count = rb_long(&r);
        if (!r.err && (out->count < 1 || out->count > INT32_MAX))
                rb_fail(&r, 4);
        if (r.err || r.i != len)
                return hub_err_set(err, r.err ? r.err : HUB_E_TRAILING, false, "evidence",
                                   "bundle: the batch header is not a valid header (byte %zu)",
                                   r.err ? r.err_at : r.i);
        return 0;
}

static int fail(hub_evidence_info_t *info, const char *check, int rc)
{
        info->failed = check;
        return rc;
}

int hub_evidence_verify(const uint8_t *buf, size_t len, const hub_key_t *hub_pub,
                        const hub_key_t *agency_pub, hub_evidence_info_t *info, hub_err_t *err)
{
        memset(info, 0, sizeof(*info));
        hub_evidence_t *e = calloc(1, sizeof(*e));
        struct header h = {0};
        hub_err_t sub = {0};
        int rc;
        if (!e)
                return hub_err_set(err, HUB_E_NOMEM, false, "evidence", "out of memory");
        /* 1. bundle */
        rc = hub_evidence_decode(buf, len, e, err);
        if (!rc)
                rc = parse_header(e->header, e->header_len, &h, err);
        if (!rc && e->record_index >= (uint64_t)h.count)
                rc = hub_err_set(err, HUB_E_MALFORMED, false, "evidence",
                                 "bundle: record_index %" PRIu64 " is not below the batch's "
                                 "record_count %" PRId64,
                                 e->record_index, h.count);
        if (!rc && e->n_events == 0)
                rc = hub_err_set(err, HUB_E_MALFORMED, false, "evidence",
                                 "bundle: no key event");
        if (rc) {
                rc = fail(info, "bundle", rc);
                goto out;
        }
        snprintf(info->agency, sizeof(info->agency), "%s", h.agency);
        snprintf(info->key_id, sizeof(info->key_id), "%s", h.key_id);
        info->created_at_ms = h.created_at_ms;
        info->record_index = e->record_index;
        info->record_count = (uint64_t)h.count;
        info->leaf_index = e->record_leaf_index;
        info->head = e->head;
        info->n_events = e->n_events;

        /* 2. tree-head-signature */
        if ((rc = hub_mlog_head_verify(&e->head, hub_pub, &sub))) {
                hub_err_set(err, -rc, false, "evidence", "tree-head-signature: %s", sub.msg);
                rc = fail(info, "tree-head-signature", rc);
                goto out;
        }
        /* 3. key-event-inclusion */
        for (size_t i = 0; i < e->n_events; i++) {
                hub_evidence_event_t *ev = &e->events[i];
                uint8_t *d = NULL, lh[32];
                size_t dl = 0;
                rc = hub_mlog_key_event_leaf(&ev->e, &d, &dl, &sub);
                if (!rc) {
                        hub_merkle_leaf_hash(d, dl, lh);
                        rc = hub_merkle_verify_inclusion(lh, 32, ev->leaf_index, e->head.size,
                                                         ev->proof, ev->proof_len, e->head.root,
                                                         32, &sub);
                }
                free(d);
                if (rc) {
                        hub_err_set(err, HUB_E_PROOF, false, "evidence",
                                    "key-event-inclusion: key event %zu (leaf %" PRIu64
                                    ") is not in the signed tree of %" PRIu64 " leaves: %s",
                                    i, ev->leaf_index, e->head.size, sub.msg);
                        rc = fail(info, "key-event-inclusion", -HUB_E_PROOF);
                        goto out;
                }
        }
        /* 4. key-events */
        const hub_evidence_event_t *first = &e->events[0], *last = &e->events[e->n_events - 1];
        for (size_t i = 0; i < e->n_events; i++) {
                const hub_evidence_event_t *ev = &e->events[i];
                const char *why = NULL;
                if (strcmp(ev->e.agency, h.agency) != 0 || strcmp(ev->e.key_id, h.key_id) != 0)
                        why = "is not of the batch's agency and key";
                else if (memcmp(ev->e.public_key, first->e.public_key, HUB_PK_BYTES) != 0)
                        why = "names another public key";
                else if (i == 0 && ev->e.event != HUB_MLOG_KEY_REGISTER)
                        why = "is not a registration";
                else if (i > 0 && ev->leaf_index <= e->events[i - 1].leaf_index)
                        why = "is out of order";
                if (why) {
                        rc = hub_err_set(err, HUB_E_KEY, false, "evidence",
                                         "key-events: key event %zu (%s %s) %s", i, ev->e.agency,
                                         ev->e.key_id, why);
                        rc = fail(info, "key-events", rc);
                        goto out;
                }
        }
        /* 5. agency-key */
        if (agency_pub && (memcmp(agency_pub->pk, first->e.public_key, HUB_PK_BYTES) != 0 ||
                           strcmp(agency_pub->key_id, h.key_id) != 0)) {
                rc = hub_err_set(err, HUB_E_KEY, false, "evidence",
                                 "agency-key: the batch is signed with %s key %s, not with the "
                                 "given key %s",
                                 h.agency, h.key_id, agency_pub->key_id);
                rc = fail(info, "agency-key", rc);
                goto out;
        }
        /* 6. key-validity */
        if ((rc = hub_mlog_key_valid_at(&last->e, h.created_at_ms, &sub))) {
                hub_err_set(err, HUB_E_KEY, false, "evidence", "key-validity: %s", sub.msg);
                rc = fail(info, "key-validity", -HUB_E_KEY);
                goto out;
        }
        info->revoked_later = last->e.revoked;
        /* 7. agency-signature */
        uint8_t leaf[32], root[32], digest[32];
        hub_merkle_leaf_hash(e->record, e->record_len, leaf);
        rc = hub_mlog_root_from_path(leaf, e->record_index, (uint64_t)h.count, e->batch_path,
                                     e->batch_path_len, root, &sub);
        if (!rc) {
                hub_batch_signed_digest(e->header, e->header_len, root, digest);
                if (crypto_sign_verify_detached(e->batch_signature, digest, sizeof(digest),
                                                first->e.public_key) != 0)
                        rc = hub_err_set(&sub, HUB_E_SIGNATURE, false, "evidence",
                                         "the signature does not verify");
        }
        if (rc) {
                hub_err_set(err, HUB_E_SIGNATURE, false, "evidence",
                            "agency-signature: %s key %s did not sign this record at index %" PRIu64
                            " of the batch: %s",
                            h.agency, h.key_id, e->record_index, sub.msg);
                rc = fail(info, "agency-signature", -HUB_E_SIGNATURE);
                goto out;
        }
        /* 8. record-identity: record_id and agency are the report's first two strings. */
        rbuf_t rr = {e->record, e->record_len, 0, 0, 0};
        size_t il = 0, al = 0;
        const uint8_t *rid = rb_abytes(&rr, &il);
        const uint8_t *rag = rb_abytes(&rr, &al);
        if (!rid || !rag || il < 1 || il >= sizeof(info->record_id) || memchr(rid, 0, il) ||
            al != strlen(h.agency) || memcmp(rag, h.agency, al) != 0) {
                rc = hub_err_set(err, HUB_E_MALFORMED, false, "evidence",
                                 "record-identity: the record does not start with a record_id "
                                 "and the batch's agency %s",
                                 h.agency);
                rc = fail(info, "record-identity", rc);
                goto out;
        }
        memcpy(info->record_id, rid, il);
        info->record_id[il] = '\0';
        /* 9. record-inclusion */
        hub_mlog_record_leaf_t rl = {.agency = h.agency, .record_id = info->record_id,
                                     .batch_index = (uint32_t)e->record_index};
        crypto_hash_sha256(rl.record_sha256, e->record, e->record_len);
        memcpy(rl.batch_digest, digest, 32);
        memcpy(rl.statements_digest, e->statements_digest, 32);
        uint8_t *d = NULL, lh[32];
        size_t dl = 0;
        rc = hub_mlog_record_leaf(&rl, &d, &dl, &sub);
        if (!rc) {
                hub_merkle_leaf_hash(d, dl, lh);
                rc = hub_merkle_verify_inclusion(lh, 32, e->record_leaf_index, e->head.size,
                                                 e->record_proof, e->record_proof_len,
                                                 e->head.root, 32, &sub);
        }
        free(d);
        if (rc) {
                hub_err_set(err, HUB_E_PROOF, false, "evidence",
                            "record-inclusion: the record's leaf %" PRIu64
                            " is not in the signed tree of %" PRIu64 " leaves: %s",
                            e->record_leaf_index, e->head.size, sub.msg);
                rc = fail(info, "record-inclusion", -HUB_E_PROOF);
                goto out;
        }
out:
        hub_evidence_done(e);
        free(e);
        return rc;
}
