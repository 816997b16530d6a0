#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int required(const char *var)
{
        const char *v = getenv(var);
        return v && strcmp(v, "1") == 0;
}

const char *hub_test_shared_path(const char *sub)
{
        static char buf[4096];
        const char *dir = getenv("HUB_SHARED_DIR");
        struct stat st;
        if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "shared conformance data not found at %s (HUB_SHARED_DIR)\n",
                        dir ? dir : "(unset)");
                if (required("HUB_REQUIRE_SHARED")) {
                        fprintf(stderr, "HUB_REQUIRE_SHARED=1: failing instead of skipping\n");
                        exit(1);
                }
                fprintf(stderr, "skipping: this test reads ../shared beside the project\n");
                exit(HUB_TEST_SKIP);
        }
        snprintf(buf, sizeof(buf), "%s/%s", dir, sub);
        return buf;
}

const char *hub_test_service(const char *var)
{
        const char *v = getenv(var);
        if (!v || !*v) {
                fprintf(stderr, "%s is not set: start the local services with "
                                "deploy/local/start.sh and source deploy/local/env.sh\n", var);
                if (required("HUB_REQUIRE_SERVICES")) {
                        fprintf(stderr, "HUB_REQUIRE_SERVICES=1: failing instead of skipping\n");
                        exit(1);
                }
                exit(HUB_TEST_SKIP);
        }
        return v;
}

const char *hub_test_source_path(const char *sub)
{
        static char buf[4096];
        const char *root = getenv("HUB_SOURCE_ROOT");
        if (!root) {
                fprintf(stderr, "HUB_SOURCE_ROOT is not set: run the tests with meson test\n");
                exit(1);
        }
        snprintf(buf, sizeof(buf), "%s/%s", root, sub);
        return buf;
}

unsigned char *hub_test_read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        size_t cap = 4096, n = 0;
        unsigned char *buf = malloc(cap + 1);
        while (buf) {
                size_t got = fread(buf + n, 1, cap - n, f);
                n += got;
                if (n < cap)
                        break;
                cap *= 2;
                unsigned char *nb = realloc(buf, cap + 1);
                if (!nb) {
                        free(buf);
                        buf = NULL;
                }
                buf = nb;
        }
        int failed = ferror(f);
        fclose(f);
        if (!buf || failed) {
                free(buf);
                return NULL;
        }
        buf[n] = 0;
        if (len)
                *len = n;
        return buf;
}
