#include <hub/keyfile.h>
#include <hub/timestamp.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_TAG "hub-ed25519-secret-v1"
#define PUBLIC_TAG "hub-ed25519-public-v1"

static_assert(HUB_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "");
static_assert(HUB_SK_BYTES == crypto_sign_SECRETKEYBYTES, "");
static_assert(crypto_sign_SEEDBYTES == 32, "");

/* The same rule as batch header identifiers: 1-64 printable ASCII bytes without space. */
static bool valid_id(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > HUB_BATCH_MAX_ID_BYTES)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x21 || s[i] > 0x7e)
                        return false;
        return true;
}

int hub_key_generate(const char *owner, const char *key_id, hub_key_t *out, hub_err_t *err)
{
        if (!valid_id(owner) || !valid_id(key_id))
                return hub_err_set(err, HUB_E_INVAL, false, "key",
                                   "owner and key id must be 1-64 printable characters "
                                   "without spaces");
        memset(out, 0, sizeof(*out));
        snprintf(out->owner, sizeof(out->owner), "%s", owner);
        snprintf(out->key_id, sizeof(out->key_id), "%s", key_id);
        crypto_sign_keypair(out->pk, out->sk);
        out->has_secret = true;
        return 0;
}

static int write_line(const char *path, const char *tag, const hub_key_t *key,
                      const uint8_t *bytes, bool secret, hub_err_t *err)
{
        char hex[2 * 32 + 1];
        sodium_bin2hex(hex, sizeof(hex), bytes, 32);
        int flags = O_WRONLY | O_CREAT | (secret ? O_EXCL : O_TRUNC);
        int fd = open(path, flags, secret ? 0600 : 0644);
        if (fd < 0) {
                int e = errno;
                sodium_memzero(hex, sizeof(hex));
                return hub_err_set(err, HUB_E_IO, false, "key", "could not create %s: %s", path,
                                   e == EEXIST ? "file exists (never overwritten)" : strerror(e));
        }
        char line[256];
        int n = snprintf(line, sizeof(line), "%s %s %s %s\n", tag, key->owner, key->key_id, hex);
        sodium_memzero(hex, sizeof(hex));
        ssize_t w = write(fd, line, (size_t)n);
        sodium_memzero(line, sizeof(line));
        int failed = w != n || fsync(fd) != 0;
        failed |= close(fd) != 0;
        if (failed)
                return hub_err_set(err, HUB_E_IO, false, "key", "could not write %s: %s", path,
                                   strerror(errno));
        return 0;
}

int hub_key_write_secret(const hub_key_t *key, const char *path, hub_err_t *err)
{
        if (!key->has_secret)
                return hub_err_set(err, HUB_E_INVAL, false, "key", "no secret key to write");
        /* libsodium's secret key is seed || public key: the seed alone is stored. */
        return write_line(path, SECRET_TAG, key, key->sk, true, err);
}

int hub_key_write_public(const hub_key_t *key, const char *path, hub_err_t *err)
{
        return write_line(path, PUBLIC_TAG, key, key->pk, false, err);
}

int hub_key_parse_public_hex(const char *hex, uint8_t pk[HUB_PK_BYTES], hub_err_t *err)
{
        size_t n = 0;
        const char *end = NULL;
        if (!hex || strlen(hex) != 2 * HUB_PK_BYTES ||
            sodium_hex2bin(pk, HUB_PK_BYTES, hex, strlen(hex), NULL, &n, &end) != 0 ||
            n != HUB_PK_BYTES || *end)
                return hub_err_set(err, HUB_E_KEY, false, "key",
                                   "a public key is 64 hexadecimal digits");
        return 0;
}

int hub_key_load(const char *path, hub_key_t *out, hub_err_t *err)
{
        memset(out, 0, sizeof(*out));
        int fd = open(path, O_RDONLY | O_NOFOLLOW);
        if (fd < 0)
                return hub_err_set(err, HUB_E_IO, false, "key", "could not open %s: %s", path,
                                   strerror(errno));
        struct stat st;
        char buf[512];
        ssize_t n = -1;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (off_t)sizeof(buf))
                n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return hub_err_set(err, HUB_E_IO, false, "key",
                                   "could not read %s: not a small regular file", path);
        buf[n] = '\0';
        /* sscanf stops at a NUL, so anything after one would go unseen: a key file is text,
         * and a file that is not exactly what it seems is refused. */
        const char *nul = memchr(buf, '\0', (size_t)n);
        if (nul) {
                sodium_memzero(buf, sizeof(buf));
                return hub_err_set(err, HUB_E_KEY, false, "key",
                                   "%s is not a hub key file: NUL byte at offset %zu", path,
                                   (size_t)(nul - buf));
        }
        char tag[32] = "", owner[80] = "", key_id[80] = "", hex[80] = "";
        char extra[2];
        int rc = 0;
        if (sscanf(buf, "%31s %79s %79s %79s %1s", tag, owner, key_id, hex, extra) != 4 ||
            !valid_id(owner) || !valid_id(key_id)) {
                rc = hub_err_set(err, HUB_E_KEY, false, "key",
                                 "%s is not a hub key file (want: <tag> <owner> <key id> <hex>)",
                                 path);
                goto out;
        }
        snprintf(out->owner, sizeof(out->owner), "%s", owner);
        snprintf(out->key_id, sizeof(out->key_id), "%s", key_id);
        if (strcmp(tag, PUBLIC_TAG) == 0) {
                rc = hub_key_parse_public_hex(hex, out->pk, err);
                if (rc)
                        hub_err_prefix(err, "%s", path);
                goto out;
        }
        if (strcmp(tag, SECRET_TAG) != 0) {
                rc = hub_err_set(err, HUB_E_KEY, false, "key", "%s: unknown key file type %s",
                                 path, tag);
                goto out;
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
                rc = hub_err_set(err, HUB_E_KEY, false, "key",
                                 "%s: secret key file is accessible by group or others "
                                 "(mode %04o): chmod 600 it",
                                 path, (unsigned)(st.st_mode & 07777));
                goto out;
        }
        uint8_t seed[32];
        size_t got = 0;
        const char *end = NULL;
        if (strlen(hex) != 64 ||
            sodium_hex2bin(seed, sizeof(seed), hex, 64, NULL, &got, &end) != 0 || got != 32 ||
            *end) {
                rc = hub_err_set(err, HUB_E_KEY, false, "key", "%s: the seed is not 64 hex digits",
                                 path);
        } else {
                crypto_sign_seed_keypair(out->pk, out->sk, seed);
                out->has_secret = true;
        }
        sodium_memzero(seed, sizeof(seed));
out:
        sodium_memzero(buf, sizeof(buf));
        sodium_memzero(hex, sizeof(hex));
        if (rc)
                hub_key_wipe(out);
        return rc;
}

void hub_key_wipe(hub_key_t *key)
{
        if (key) {
                sodium_memzero(key->sk, sizeof(key->sk));
                key->has_secret = false;
        }
}

/* ---- key sets ---- */

int hub_keyset_add(hub_keyset_t *ks, const hub_key_t *key, int64_t valid_from_ms,
                   int64_t valid_until_ms, hub_err_t *err)
{
        if (valid_from_ms >= valid_until_ms)
                return hub_err_set(err, HUB_E_KEY, false, "keyset",
                                   "key %s: the window must end after it starts", key->key_id);
        if (hub_keyset_find(ks, key->key_id, strlen(key->key_id)))
                return hub_err_set(err, HUB_E_KEY, false, "keyset",
                                   "key %s is in the key set twice", key->key_id);
        if (ks->n == HUB_KEYSET_MAX)
                return hub_err_set(err, HUB_E_INVAL, false, "keyset",
                                   "more than %d keys in the key set", HUB_KEYSET_MAX);
        hub_keyset_entry_t *e = &ks->keys[ks->n++];
        snprintf(e->key_id, sizeof(e->key_id), "%s", key->key_id);
        memcpy(e->pk, key->pk, sizeof(e->pk));
        e->valid_from_ms = valid_from_ms;
        e->valid_until_ms = valid_until_ms;
        return 0;
}

const hub_keyset_entry_t *hub_keyset_find(const hub_keyset_t *ks, const char *key_id, size_t len)
{
        for (size_t i = 0; i < ks->n; i++)
                if (strlen(ks->keys[i].key_id) == len &&
                    memcmp(ks->keys[i].key_id, key_id, len) == 0)
                        return &ks->keys[i];
        return NULL;
}

/* One line of a key-set file; line is modified (tokenised). */
static int keyset_line(hub_keyset_t *ks, char *line, hub_err_t *err)
{
        char *save = NULL, *tok[6];
        size_t n = 0;
        for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
                if (n == 6)
                        return hub_err_set(err, HUB_E_KEY, false, "keyset",
                                           "too many fields (want: %s <owner> <key id> <hex> "
                                           "[from=TIME] [until=TIME])",
                                           PUBLIC_TAG);
                tok[n++] = t;
        }
        if (n < 4 || strcmp(tok[0], PUBLIC_TAG) != 0 || !valid_id(tok[1]) || !valid_id(tok[2]))
                return hub_err_set(err, HUB_E_KEY, false, "keyset",
                                   "not a public key line (want: %s <owner> <key id> <hex> "
                                   "[from=TIME] [until=TIME])",
                                   PUBLIC_TAG);
        hub_key_t key = {0};
        snprintf(key.owner, sizeof(key.owner), "%s", tok[1]);
        snprintf(key.key_id, sizeof(key.key_id), "%s", tok[2]);
        int rc = hub_key_parse_public_hex(tok[3], key.pk, err);
        if (rc)
                return rc;
        int64_t bound[2] = {HUB_KEYSET_OPEN_FROM, HUB_KEYSET_OPEN_UNTIL};
        bool seen[2] = {false, false};
        for (size_t i = 4; i < n; i++) {
                int which = strncmp(tok[i], "from=", 5) == 0    ? 0
                            : strncmp(tok[i], "until=", 6) == 0 ? 1
                                                                : -1;
                if (which < 0 || seen[which])
                        return hub_err_set(err, HUB_E_KEY, false, "keyset",
                                           "unknown or repeated field \"%s\" (want from=TIME, "
                                           "until=TIME)",
                                           tok[i]);
                seen[which] = true;
                int64_t us;
                rc = hub_timestamp_parse(tok[i] + (which ? 6 : 5), &us, err);
                if (rc)
                        return rc;
                /* Whole milliseconds, as updated_at: round a bound so that the window never
                 * grows (from rounds up, until rounds down). */
                bound[which] = which ? (us >= 0 ? us / 1000 : -((-us + 999) / 1000))
                                     : (us >= 0 ? (us + 999) / 1000 : -(-us / 1000));
        }
        return hub_keyset_add(ks, &key, bound[0], bound[1], err);
}

int hub_keyset_load(hub_keyset_t *ks, const char *path, hub_err_t *err)
{
        /* A key set is a few lines: read it whole (at most 64 KiB), so that a NUL byte, which
         * line readers stop at unseen, is found and refused. */
        enum { MAX = 64 * 1024 };
        FILE *f = fopen(path, "r");
        if (!f)
                return hub_err_set(err, HUB_E_IO, false, "keyset", "could not open %s: %s", path,
                                   strerror(errno));
        char *buf = malloc(MAX + 1);
        size_t n = buf ? fread(buf, 1, MAX + 1, f) : 0;
        int bad = !buf ? HUB_E_NOMEM : ferror(f) ? HUB_E_IO : n > MAX ? HUB_E_TOO_LARGE : 0;
        fclose(f);
        if (bad) {
                free(buf);
                return hub_err_set(err, bad, false, "keyset", "could not read %s: %s", path,
                                   bad == HUB_E_TOO_LARGE ? "larger than 64 KiB"
                                                          : "out of memory or read error");
        }
        buf[n] = '\0';
        int rc = 0, no = 0;
        const char *nul = memchr(buf, '\0', n);
        if (nul)
                rc = hub_err_set(err, HUB_E_KEY, false, "keyset",
                                 "%s is not a key-set file: NUL byte at offset %zu", path,
                                 (size_t)(nul - buf));
        size_t before = ks->n;
        for (char *line = buf, *next; !rc && line && *line; line = next) {
                no++;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                const char *p = line + strspn(line, " \t\r");
                if (*p && *p != '#' && (rc = keyset_line(ks, line, err)))
                        hub_err_prefix(err, "%s line %d", path, no);
        }
        free(buf);
        if (!rc && ks->n == before)
                rc = hub_err_set(err, HUB_E_KEY, false, "keyset", "%s holds no key", path);
        return rc;
}
