/* Shared by the libFuzzer harnesses of tests/fuzz (built with -Dfuzz=true and clang).
 *
 * A harness aborts only on a broken invariant of the library (a crash the sanitizers did not
 * already report): "the bytes were refused" is the expected outcome for almost every input. */
#ifndef HUB_FUZZ_H
#define HUB_FUZZ_H

#include <hub/err.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* avro-c puts a value's reference count in the 4 bytes before it (avro_generic_value_new), so
 * the pointers inside a value sit at addresses 4 mod 8, which LeakSanitizer does not scan by
 * default: a codec kept from one input to the next would be reported as leaked. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
        return "use_unaligned=1";
}

/* Abort with a message: libFuzzer saves the input that got here as a crash. */
#define FUZZ_CHECK(cond)                                                                       \
        do {                                                                                   \
                if (!(cond)) {                                                                 \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,   \
                                #cond);                                                        \
                        abort();                                                               \
                }                                                                              \
        } while (0)

/* A refusal must say why: a code in range and a message (never an empty reason). */
static inline void fuzz_check_err(int rc, const hub_err_t *err)
{
        if (rc == 0)
                return;
        FUZZ_CHECK(rc < 0 && -rc < HUB_E__COUNT);
        FUZZ_CHECK(err->code == -rc);
        FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
        FUZZ_CHECK(err->msg[0] != '\0');
}

/* A NUL-terminated copy of the input (malloc'd: free() it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Lower-case hex into out (exactly n bytes); aborts on a bad constant. */
static inline void fuzz_unhex(const char *hex, uint8_t *out, size_t n)
{
        FUZZ_CHECK(strlen(hex) == 2 * n);
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                FUZZ_CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1);
                out[i] = (uint8_t)v;
        }
}

#endif
