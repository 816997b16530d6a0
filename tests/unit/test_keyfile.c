/* Key files: round trips, the permission rule, and refusal of malformed files. */
#include <hub/keyfile.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

static char dir[] = "/tmp/hub-keyfile-XXXXXX";

static const char *path(const char *name)
{
        static char buf[256];
        snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        return buf;
}

static void write_file(const char *p, const char *text, mode_t mode)
{
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(p, mode), 0);
}

static void test_round_trip(void **state)
{
        (void)state;
        hub_key_t k, s, p;
        hub_err_t err = {0};
        assert_int_equal(hub_key_generate("MOF-HQ", "MOF-HQ/1", &k, &err), 0);
        assert_int_equal(hub_key_write_secret(&k, path("hq.key"), &err), 0);
        assert_int_equal(hub_key_write_public(&k, path("hq.pub"), &err), 0);
        struct stat st;
        assert_int_equal(stat(path("hq.key"), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(hub_key_load(path("hq.key"), &s, &err), 0);
        assert_true(s.has_secret);
        assert_string_equal(s.owner, "MOF-HQ");
        assert_string_equal(s.key_id, "MOF-HQ/1");
        assert_memory_equal(s.pk, k.pk, sizeof(k.pk));
        assert_memory_equal(s.sk, k.sk, sizeof(k.sk));
        assert_int_equal(hub_key_load(path("hq.pub"), &p, &err), 0);
        assert_false(p.has_secret);
        assert_memory_equal(p.pk, k.pk, sizeof(k.pk));
        /* A secret key file is never overwritten. */
        assert_int_equal(hub_key_write_secret(&k, path("hq.key"), &err), -HUB_E_IO);
        assert_non_null(strstr(err.msg, "file exists"));
        hub_key_wipe(&k);
        hub_key_wipe(&s);
}

static void test_loose_permissions_refused(void **state)
{
        (void)state;
        hub_key_t k, s;
        hub_err_t err = {0};
        assert_int_equal(hub_key_generate("MIC", "MIC/1", &k, &err), 0);
        assert_int_equal(hub_key_write_secret(&k, path("mic.key"), &err), 0);
        assert_int_equal(chmod(path("mic.key"), 0644), 0);
        assert_int_equal(hub_key_load(path("mic.key"), &s, &err), -HUB_E_KEY);
        assert_non_null(strstr(err.msg, "accessible by group or others (mode 0644)"));
        assert_false(s.has_secret);
        /* Group alone, others alone, write alone: each is refused, with file and mode named. */
        static const mode_t loose[] = {0640, 0604, 0620, 0602, 0610};
        for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
                char want[64];
                assert_int_equal(chmod(path("mic.key"), loose[i]), 0);
                assert_int_equal(hub_key_load(path("mic.key"), &s, &err), -HUB_E_KEY);
                snprintf(want, sizeof(want), "(mode %04o)", (unsigned)loose[i]);
                assert_non_null(strstr(err.msg, want));
                assert_non_null(strstr(err.msg, path("mic.key")));
                assert_false(s.has_secret);
        }
        assert_int_equal(chmod(path("mic.key"), 0400), 0);
        assert_int_equal(hub_key_load(path("mic.key"), &s, &err), 0);
        hub_key_wipe(&k);
        hub_key_wipe(&s);
}

static void test_malformed_files_refused(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                int rc;
                const char *needle;
        } cases[] = {
                {"", -HUB_E_KEY, "not a hub key file"},
                {"hub-ed25519-public-v1 A A/1\n", -HUB_E_KEY, "not a hub key file"},
                {"hub-ed25519-public-v1 A A/1 abcd\n", -HUB_E_KEY, "64 hexadecimal digits"},
                {"hub-ed25519-public-v1 A A/1 "
                 "zz00000000000000000000000000000000000000000000000000000000000000\n",
                 -HUB_E_KEY, "64 hexadecimal digits"},
                {"hub-ed25519-private A A/1 "
                 "0000000000000000000000000000000000000000000000000000000000000000\n",
                 -HUB_E_KEY, "unknown key file type"},
                {"hub-ed25519-public-v1 A A/1 "
                 "0000000000000000000000000000000000000000000000000000000000000000 extra\n",
                 -HUB_E_KEY, "not a hub key file"},
                {"hub-ed25519-secret-v1 A A/1 00\n", -HUB_E_KEY, "seed is not 64 hex"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                hub_key_t k;
                hub_err_t err = {0};
                write_file(path("bad"), cases[i].text, 0600);
                int rc = hub_key_load(path("bad"), &k, &err);
                if (rc != cases[i].rc || !strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err.msg,
                                 cases[i].needle);
        }
        hub_key_t k;
        hub_err_t err = {0};
        /* A valid line followed by a NUL and junk: the junk must not go unseen. */
        static const char line[] = "hub-ed25519-secret-v1 A A/1 "
                                   "00000000000000000000000000000000"
                                   "00000000000000000000000000000000\n";
        for (int junk = 0; junk < 2; junk++) {
                FILE *f = fopen(path("nul"), "w");
                assert_non_null(f);
                fwrite(line, 1, sizeof(line) - 1, f);
                fwrite(junk ? "\0junk\n" : "\0", 1, junk ? 6 : 1, f);
                fclose(f);
                assert_int_equal(chmod(path("nul"), 0600), 0);
                assert_int_equal(hub_key_load(path("nul"), &k, &err), -HUB_E_KEY);
                assert_non_null(strstr(err.msg, "NUL byte at offset 93"));
                assert_false(k.has_secret);
        }
        assert_int_equal(truncate(path("nul"), sizeof(line) - 1), 0);
        assert_int_equal(hub_key_load(path("nul"), &k, &err), 0); /* the line alone is fine */
        hub_key_wipe(&k);
        assert_int_equal(hub_key_load(path("missing"), &k, &err), -HUB_E_IO);
        assert_int_equal(hub_key_generate("bad owner", "x", &k, &err), -HUB_E_INVAL);
}

/* Key sets (hub-subscribe --hub-keys): windows parsed and rounded inward, every bad line
 * refused with the file and line named. */
static void test_keyset(void **state)
{
        (void)state;
        static const char pk[] = "0101010101010101010101010101010101010101010101010101010101010101";
        char text[1024];
        hub_keyset_t ks = {0};
        hub_err_t err = {0};
        snprintf(text, sizeof(text),
                 "# the hub's keys\n\n"
                 "hub-ed25519-public-v1 HUB HUB/1 %s until=2026-02-01T00:00:00.0005Z\n"
                 "  hub-ed25519-public-v1 HUB HUB/2 %.62s02 from=2026-01-15T00:00:00.0005Z\n"
                 "hub-ed25519-public-v1 HUB HUB/3 %.62s03\n",
                 pk, pk, pk);
        write_file(path("set"), text, 0644);
        assert_int_equal(hub_keyset_load(&ks, path("set"), &err), 0);
        assert_int_equal(ks.n, 3);
        const hub_keyset_entry_t *e = hub_keyset_find(&ks, "HUB/1", 5);
        assert_non_null(e);
        assert_true(e->valid_from_ms == HUB_KEYSET_OPEN_FROM);
        assert_true(e->valid_until_ms == 1769904000000); /* rounded down */
        e = hub_keyset_find(&ks, "HUB/2", 5);
        assert_non_null(e);
        assert_true(e->valid_from_ms == 1768435200001); /* rounded up */
        assert_true(e->valid_until_ms == HUB_KEYSET_OPEN_UNTIL);
        assert_int_equal(e->pk[31], 2);
        assert_null(hub_keyset_find(&ks, "HUB/", 4));
        assert_null(hub_keyset_find(&ks, "HUB/9", 5));

#define PK "0101010101010101010101010101010101010101010101010101010101010101"
#define LINE "hub-ed25519-public-v1 HUB HUB/1 " PK
        static const struct {
                const char *line, *needle;
        } bad[] = {
                {"hub-ed25519-secret-v1 HUB HUB/1 " PK "\n", "not a public key line"},
                {"hub-ed25519-public-v1 HUB HUB/1 0101\n", "64 hexadecimal digits"},
                {LINE " from=soon\n", "soon"},
                {LINE " since=2026-01-01\n", "unknown or repeated"},
                {LINE " from=2026-01-01 from=2026-01-02\n", "unknown or repeated"},
                {LINE " from=2026-02-01 until=2026-01-01\n", "must end after it starts"},
                {"# nothing\n", "holds no key"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                hub_keyset_t k2 = {0};
                snprintf(text, sizeof(text), "# one\n%s", bad[i].line);
                write_file(path("set"), text, 0644);
                int rc = hub_keyset_load(&k2, path("set"), &err);
                if (rc >= 0 || !strstr(err.msg, bad[i].needle) ||
                    (i < 6 && !strstr(err.msg, "line 2")) || !strstr(err.msg, path("set")))
                        fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err.msg,
                                 bad[i].needle);
        }
        /* The same key id twice, and a NUL byte. */
        snprintf(text, sizeof(text), "hub-ed25519-public-v1 HUB HUB/1 %s\n"
                                     "hub-ed25519-public-v1 HUB HUB/1 %.62s09\n", pk, pk);
        write_file(path("set"), text, 0644);
        hub_keyset_t k3 = {0};
        assert_true(hub_keyset_load(&k3, path("set"), &err) < 0);
        assert_non_null(strstr(err.msg, "twice"));
        FILE *f = fopen(path("set"), "w");
        assert_non_null(f);
        fprintf(f, "hub-ed25519-public-v1 HUB HUB/1 %s\n", pk);
        fwrite("\0junk\n", 1, 6, f);
        fclose(f);
        hub_keyset_t k4 = {0};
        assert_true(hub_keyset_load(&k4, path("set"), &err) < 0);
        assert_non_null(strstr(err.msg, "NUL byte"));
}

int main(void)
{
        if (sodium_init() < 0 || !mkdtemp(dir))
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_loose_permissions_refused),
                cmocka_unit_test(test_malformed_files_refused),
                cmocka_unit_test(test_keyset),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return rc;
}
