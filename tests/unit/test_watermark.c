/* The watermark state file: round trip, atomic replacement, refusal of another connector's or a
 * damaged file. */
#include <hub/watermark.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

static char dir[] = "/tmp/hub-watermark-XXXXXX";

static const char *path(const char *name)
{
        static char buf[256];
        snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        return buf;
}

static size_t files_in_dir(void)
{
        DIR *d = opendir(dir);
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_round_trip(void **state)
{
        (void)state;
        hub_watermark_t *w = NULL;
        hub_err_t err = {0};
        hub_source_pos_t pos = {.offset = 2048, .line = 17}, got;
        memset(pos.sha256, 'a', 64);
        assert_int_equal(hub_watermark_load(path("s.json"), "MOF-HQ", "p1", &w, &err), 0);
        assert_false(hub_watermark_get(w, "/data/x.jsonl", &got));
        assert_int_equal(hub_watermark_next_seq(w), 0);
        hub_watermark_set(w, "/data/x.jsonl", &pos);
        hub_watermark_set_next_seq(w, 42);
        assert_int_equal(hub_watermark_save(w, &err), 0);
        hub_watermark_free(w);

        /* written whole, owner-only, no temporary file left beside it */
        struct stat st;
        assert_int_equal(stat(path("s.json"), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(files_in_dir(), 1);

        assert_int_equal(hub_watermark_load(path("s.json"), "MOF-HQ", "p1", &w, &err), 0);
        assert_true(hub_watermark_get(w, "/data/x.jsonl", &got));
        assert_int_equal(got.offset, 2048);
        assert_int_equal(got.line, 17);
        assert_memory_equal(got.sha256, pos.sha256, 65);
        assert_int_equal(hub_watermark_next_seq(w), 42);

        /* a newer state replaces the old one entirely; --from-start forgets files, not seq */
        hub_watermark_clear_files(w);
        assert_int_equal(hub_watermark_save(w, &err), 0);
        hub_watermark_free(w);
        assert_int_equal(hub_watermark_load(path("s.json"), "MOF-HQ", "p1", &w, &err), 0);
        assert_false(hub_watermark_get(w, "/data/x.jsonl", &got));
        assert_int_equal(hub_watermark_next_seq(w), 42);
        hub_watermark_free(w);
        assert_int_equal(files_in_dir(), 1);
}

static void test_refusals(void **state)
{
        (void)state;
        hub_watermark_t *w = NULL;
        hub_err_t err = {0};
        /* another agency's state file */
        assert_int_equal(hub_watermark_load(path("s.json"), "BCA", "p1", &w, &err),
                         -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "belongs to agency MOF-HQ"));
        assert_null(w);

        FILE *f = fopen(path("bad.json"), "w");
        fputs("{\"format\": \"hub-publish-state-v1\", \"agency\": \"MIC\", \"producer_id\": "
              "\"p\", \"next_batch_seq\": 1, \"files\": {\"/x\": {\"offset\": -1}}}",
              f);
        fclose(f);
        assert_int_equal(hub_watermark_load(path("bad.json"), "MIC", "p", &w, &err),
                         -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "the entry of /x is malformed"));
        f = fopen(path("bad.json"), "w");
        fputs("{\"format\": \"hub-publish-st", f);
        fclose(f);
        assert_int_equal(hub_watermark_load(path("bad.json"), "MIC", "p", &w, &err),
                         -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "is not a hub-publish state file"));
        unlink(path("bad.json"));

        /* a state whose folder does not exist cannot be saved, and nothing is left behind */
        assert_int_equal(hub_watermark_load(path("no/such/s.json"), "MIC", "p", &w, &err), 0);
        assert_int_equal(hub_watermark_save(w, &err), -HUB_E_IO);
        assert_non_null(strstr(err.msg, "could not write"));
        hub_watermark_free(w);
        assert_int_equal(files_in_dir(), 1);
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        unlink(path("s.json"));
        return rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
