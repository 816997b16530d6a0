/* Ed25519 key files: an agency's (or the hub's) signing key and its public half.
 *
 * One line of text each, so an operator can read, compare and transmit a public key:
 *   hub-ed25519-secret-v1 <owner> <key_id> <32-byte seed, hex>
 *   hub-ed25519-public-v1 <owner> <key_id> <32-byte public key, hex>
 * <owner> is an agency code (or HUB for the hub's own key); <key_id> as in a batch header.
 * A secret key file must be a regular file readable by its owner only (mode 0600 or 0400):
 * loading refuses anything looser, so a leaked permission is noticed at start-up. */
#ifndef HUB_KEYFILE_H
#define HUB_KEYFILE_H

#include <hub/batch.h>
#include <hub/err.h>

#include <stdint.h>

typedef struct hub_key {
        char owner[HUB_BATCH_MAX_ID_BYTES + 1];
        char key_id[HUB_BATCH_MAX_ID_BYTES + 1];
        uint8_t pk[HUB_PK_BYTES];
        uint8_t sk[HUB_SK_BYTES]; /* all zero for a public key */
        bool has_secret;
} hub_key_t;

/* Generate a new key pair for owner/key_id (sodium_init() must have run). */
int hub_key_generate(const char *owner, const char *key_id, hub_key_t *out, hub_err_t *err);

/* Write the secret key file (created 0600, refusing to overwrite an existing file) or the public
 * key file (0644, overwritten). Errors: HUB_E_IO, HUB_E_INVAL. */
int hub_key_write_secret(const hub_key_t *key, const char *path, hub_err_t *err);
int hub_key_write_public(const hub_key_t *key, const char *path, hub_err_t *err);

/* Load a secret or a public key file; a secret file also yields the public key. Errors:
 * HUB_E_IO (cannot read), HUB_E_KEY (bad format, a secret file readable by group or others,
 * a seed that does not match). */
int hub_key_load(const char *path, hub_key_t *out, hub_err_t *err);

/* Parse a public key given as 64 hex digits. */
int hub_key_parse_public_hex(const char *hex, uint8_t pk[HUB_PK_BYTES], hub_err_t *err);

/* Wipe the secret half. */
void hub_key_wipe(hub_key_t *key);

/* ---- key sets: the hub's public keys a subscriber trusts ----
 *
 * So that the hub's own key can rotate with an overlap: the subscriber trusts every key of the
 * set, each within its validity window, and picks the key by the envelope's key id. A key-set
 * file has one key a line (blank lines and lines starting with '#' are ignored):
 *   hub-ed25519-public-v1 <owner> <key_id> <public key, hex> [from=<RFC 3339>] [until=<RFC 3339>]
 * The window is [from, until), compared with the time the hub signed inside the entity
 * (updated_at): entities stay on the compacted topic for ever, so the time a subscriber reads
 * one says nothing about the key that signed it (hub/store/README.md, "Key windows"). */
#define HUB_KEYSET_MAX 16
#define HUB_KEYSET_OPEN_FROM INT64_MIN /* no lower bound */
#define HUB_KEYSET_OPEN_UNTIL INT64_MAX /* no upper bound */

typedef struct hub_keyset_entry {
        char key_id[HUB_BATCH_MAX_ID_BYTES + 1];
        uint8_t pk[HUB_PK_BYTES];
        int64_t valid_from_ms;  /* inclusive */
        int64_t valid_until_ms; /* exclusive */
} hub_keyset_entry_t;

typedef struct hub_keyset {
        size_t n;
        hub_keyset_entry_t keys[HUB_KEYSET_MAX];
} hub_keyset_t;

/* Add the public half of key with a window (ms; the OPEN bounds for none). Refuses a key id
 * already in the set, an empty window and a full set (HUB_E_KEY, HUB_E_INVAL). */
int hub_keyset_add(hub_keyset_t *ks, const hub_key_t *key, int64_t valid_from_ms,
                   int64_t valid_until_ms, hub_err_t *err);

/* Add every key of a key-set file (format above). The error names the file and line. */
int hub_keyset_load(hub_keyset_t *ks, const char *path, hub_err_t *err);

/* The entry of key id (len bytes, not NUL-terminated), or NULL. */
const hub_keyset_entry_t *hub_keyset_find(const hub_keyset_t *ks, const char *key_id,
                                          size_t len);

#endif
