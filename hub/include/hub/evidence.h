/* Evidence bundles (issue 5): one record of one agency, provable OFFLINE with only the hub's
 * and the agency's public keys, from the agency's signed batch up to a tree head signed by the
 * hub. The file is the canonical Avro binary of vn.hub.v1.Evidence (schemas/evidence.avsc);
 * bytes, hashes and the order of the checks are in schemas/README.md, "The evidence bundle",
 * with vectors in schemas/vectors/evidence-v1.json.
 *
 * Why Avro binary and not JSON: every byte of a canonical binary encoding is either structure
 * or a value that some check covers, so changing any byte fails a named check; JSON has slack
 * (whitespace, key order, escapes, hex case) that either goes unnoticed or needs a
 * canonicalisation rule every verifier must get exactly right. And it is the form every other
 * message of the hub has (schemas/), with the same varint rules.
 *
 * Checks, in order (their names are stable; hubctl verify and the Python verifier print them):
 *   bundle               the bytes follow the format (structure, canonical form, limits), and
 *                        the batch header H inside it too
 *   tree-head-signature  the head is signed by the given hub key
 *   key-event-inclusion  every key event's leaf is in the head's tree
 *   key-events           the events are the batch key's (agency, key_id, one public key),
 *                        oldest first, the first a registration
 *   agency-key           the key is the given agency key (only with one)
 *   key-validity         the key was valid at the batch's created_at (the last event's window)
 *   agency-signature     the batch signature verifies over H and the root computed from the
 *                        record and its audit path
 *   record-identity      the record's agency (its 2nd field) is H's agency
 *   record-inclusion     the record's leaf (documented in "The hub's log") is in the head's tree
 */
#ifndef HUB_EVIDENCE_H
#define HUB_EVIDENCE_H

#include <hub/err.h>
#include <hub/keyfile.h>
#include <hub/mlog.h>

#include <stddef.h>
#include <stdint.h>

#define HUB_EVIDENCE_FORMAT_VERSION 1
/* A record's key has at most this many events in a bundle (a registration, a revocation, and
 * room for what a later version of the registry may add). */
#define HUB_EVIDENCE_MAX_EVENTS 16
/* 1 MiB of batch header and record at most: a batch was at most that big. */
#define HUB_EVIDENCE_MAX_BYTES (4u << 20)

typedef struct hub_evidence_event {
        hub_mlog_key_event_t e; /* strings: into the decoded buffer, or the caller's */
        char agency_buf[HUB_BATCH_MAX_ID_BYTES + 1], key_id_buf[HUB_BATCH_MAX_ID_BYTES + 1];
        uint64_t leaf_index;
        uint8_t proof[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t proof_len;
} hub_evidence_event_t;

typedef struct hub_evidence {
        const uint8_t *record;
        size_t record_len;
        uint64_t record_index;
        const uint8_t *header;
        size_t header_len;
        uint8_t batch_path[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t batch_path_len;
        uint8_t batch_signature[HUB_SIG_BYTES];
        uint8_t statements_digest[32];
        uint64_t record_leaf_index;
        uint8_t record_proof[HUB_MERKLE_MAX_PROOF_BYTES];
        size_t record_proof_len;
        hub_evidence_event_t events[HUB_EVIDENCE_MAX_EVENTS];
        size_t n_events;
        char *reasons[HUB_EVIDENCE_MAX_EVENTS]; /* decoded reason strings (malloc'd) */
        hub_mlog_head_t head;
} hub_evidence_t;

/* Encode; *out malloc'd. Errors: HUB_E_INVAL (too many events), HUB_E_NOMEM. */
int hub_evidence_encode(const hub_evidence_t *e, uint8_t **out, size_t *len, hub_err_t *err);

/* Decode (the `bundle` check without H). Pointers in *e point into buf. Free with
 * hub_evidence_done(). Errors: HUB_E_MALFORMED, HUB_E_TRUNCATED, HUB_E_TRAILING, TOO_LARGE. */
int hub_evidence_decode(const uint8_t *buf, size_t len, hub_evidence_t *e, hub_err_t *err);
void hub_evidence_done(hub_evidence_t *e);

/* What a verification learned, for people. */
typedef struct hub_evidence_info {
        const char *failed; /* the name of the check that failed, NULL when all passed */
        char agency[HUB_BATCH_MAX_ID_BYTES + 1];
        char key_id[HUB_BATCH_MAX_ID_BYTES + 1];
        char record_id[256];
        int64_t created_at_ms;
        uint64_t record_index, record_count, leaf_index;
        hub_mlog_head_t head;
        size_t n_events;
        bool revoked_later; /* the key was revoked after the batch was signed */
} hub_evidence_info_t;

/* Run every check above, in order, on the bundle's bytes; stop at the first failure.
 * agency_pub may be NULL (the agency-key check is then skipped). 0 when all pass; otherwise
 * -HUB_E_MALFORMED/TRUNCATED/TRAILING (bundle), -HUB_E_SIGNATURE, -HUB_E_KEY or -HUB_E_PROOF,
 * with info->failed naming the check and err saying why. */
int hub_evidence_verify(const uint8_t *buf, size_t len, const hub_key_t *hub_pub,
                        const hub_key_t *agency_pub, hub_evidence_info_t *info, hub_err_t *err);

#endif
