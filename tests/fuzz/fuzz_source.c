/* Source files of hub-publish: CSV (libcsv) and JSON Lines (jansson) read row by row from a
 * file an agency exported. The first input byte picks the format, the rest is the file:
 *   byte % 5: 0 JSON Lines, 1 CSV with ',', 2 CSV with ';', 3 CSV with tab, 4 CSV with '|'.
 * After reading every row, a second reader resumes at the end position: the same bytes must
 * resume (1) and find nothing more. */
#include "fuzz.h"

#include <hub/source.h>

#include <sodium.h>
#include <unistd.h>

static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        FUZZ_CHECK(sodium_init() >= 0);
        /* One file per process, rewritten for every input; /dev/shm keeps it off the disk. */
        strcpy(path, access("/dev/shm", W_OK) == 0 ? "/dev/shm/hub-fuzz-source-XXXXXX"
                                                    : "/tmp/hub-fuzz-source-XXXXXX");
        fd = mkstemp(path);
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
        if (size == 0)
                return 0;
        static const char delims[] = {0, ',', ';', '\t', '|'};
        int sel = data[0] % 5;
        hub_source_format_t format = sel == 0 ? HUB_SOURCE_JSONL : HUB_SOURCE_CSV;
        FUZZ_CHECK(ftruncate(fd, 0) == 0);
        FUZZ_CHECK(pwrite(fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));

        hub_source_t *s = NULL;
        hub_err_t err = {0};
        int rc = hub_source_open(path, format, delims[sel], &s, &err);
        fuzz_check_err(rc, &err);
        if (rc)
                return 0;
        uint64_t last_line = 0;
        for (;;) {
                json_t *row = NULL;
                uint64_t line = 0;
                const char *reason = NULL;
                hub_err_clear(&err);
                rc = hub_source_next(s, &row, &line, &reason, &err);
                FUZZ_CHECK(rc >= 0);
                if (rc == HUB_SOURCE_EOF)
                        break;
                FUZZ_CHECK(line > last_line);
                last_line = line;
                if (rc == HUB_SOURCE_BAD) {
                        FUZZ_CHECK(reason && strcmp(reason, HUB_REASON_MALFORMED) == 0);
                        fuzz_check_err(-HUB_E_MALFORMED, &err);
                        FUZZ_CHECK(row == NULL);
                        continue;
                }
                FUZZ_CHECK(rc == HUB_SOURCE_ROW && json_is_object(row));
                json_decref(row);
        }
        hub_source_pos_t pos;
        hub_source_pos(s, &pos);
        FUZZ_CHECK(pos.offset == size - 1);
        hub_source_close(s);

        s = NULL;
        hub_err_clear(&err);
        rc = hub_source_open(path, format, delims[sel], &s, &err);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(hub_source_resume(s, &pos, &err) == 1);
        json_t *row = NULL;
        uint64_t line;
        const char *reason;
        FUZZ_CHECK(hub_source_next(s, &row, &line, &reason, &err) == HUB_SOURCE_EOF);
        hub_source_close(s);
        return 0;
}
