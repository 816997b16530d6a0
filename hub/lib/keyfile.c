#include <hub/keyfile.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
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
