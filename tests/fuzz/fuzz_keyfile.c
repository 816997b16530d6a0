/* Ed25519 key files (hub_key_load) with any content, written to a file of mode 0600 as an
 * operator's would be, the same file as a key set (hub_keyset_load, hub-subscribe --hub-keys),
 * and the same bytes as a public key in hex (hub_key_parse_public_hex). */
#include "fuzz.h"

#include <hub/keyfile.h>

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        FUZZ_CHECK(sodium_init() >= 0);
        strcpy(path, access("/dev/shm", W_OK) == 0 ? "/dev/shm/hub-fuzz-key-XXXXXX"
                                                    : "/tmp/hub-fuzz-key-XXXXXX");
        fd = mkstemp(path); /* mode 0600 */
        FUZZ_CHECK(fd >= 0);
        return 0;
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
        if (fd >= 0)
                unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        FUZZ_CHECK(ftruncate(fd, 0) == 0);
        FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
        hub_key_t key;
        memset(&key, 0xa5, sizeof(key));
        hub_err_t err = {0};
        int rc = hub_key_load(path, &key, &err);
        fuzz_check_err(rc, &err);
        if (rc == 0) {
                size_t ol = strnlen(key.owner, sizeof(key.owner));
                size_t kl = strnlen(key.key_id, sizeof(key.key_id));
                FUZZ_CHECK(ol >= 1 && ol <= HUB_BATCH_MAX_ID_BYTES);
                FUZZ_CHECK(kl >= 1 && kl <= HUB_BATCH_MAX_ID_BYTES);
                if (key.has_secret) {
                        /* The public half is the one of the secret seed. */
                        uint8_t pk[HUB_PK_BYTES], sk[HUB_SK_BYTES];
                        crypto_sign_seed_keypair(pk, sk, key.sk);
                        FUZZ_CHECK(memcmp(pk, key.pk, sizeof(pk)) == 0);
                        FUZZ_CHECK(memcmp(sk, key.sk, sizeof(sk)) == 0);
                        sodium_memzero(sk, sizeof(sk));
                }
                hub_key_wipe(&key);
        }
        static hub_keyset_t ks; /* about 2 KiB: not on libFuzzer's stack */
        memset(&ks, 0, sizeof(ks));
        hub_err_clear(&err);
        rc = hub_keyset_load(&ks, path, &err);
        fuzz_check_err(rc, &err);
        if (rc == 0) {
                FUZZ_CHECK(ks.n >= 1 && ks.n <= HUB_KEYSET_MAX);
                for (size_t i = 0; i < ks.n; i++) {
                        size_t kl = strnlen(ks.keys[i].key_id, sizeof(ks.keys[i].key_id));
                        FUZZ_CHECK(kl >= 1 && kl <= HUB_BATCH_MAX_ID_BYTES);
                        FUZZ_CHECK(ks.keys[i].valid_from_ms < ks.keys[i].valid_until_ms);
                        FUZZ_CHECK(hub_keyset_find(&ks, ks.keys[i].key_id, kl) == &ks.keys[i]);
                }
        }
        char *hex = fuzz_strndup(data, size);
        uint8_t pk[HUB_PK_BYTES];
        hub_err_clear(&err);
        rc = hub_key_parse_public_hex(hex, pk, &err);
        fuzz_check_err(rc, &err);
        free(hex);
        return 0;
}
