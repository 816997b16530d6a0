/* Failpoints (hub/failpoint.h): a test-only switch, inert unless HUB_FAILPOINT is set. The one
 * place where library code may end the process, because ending it is the whole point. */
#include <hub/failpoint.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void hub_failpoint(const char *name)
{
        /* Read once; single-threaded callers (hubd's main loop), so plain statics suffice. */
        static bool loaded;
        static char armed[64];
        static long at, hits;
        if (!loaded) {
                loaded = true;
                const char *spec = getenv("HUB_FAILPOINT");
                const char *colon = spec ? strrchr(spec, ':') : NULL;
                if (colon && (size_t)(colon - spec) < sizeof(armed)) {
                        memcpy(armed, spec, (size_t)(colon - spec));
                        at = strtol(colon + 1, NULL, 10);
                }
        }
        if (at <= 0 || strcmp(name, armed) != 0)
                return;
        if (++hits == at)
                raise(SIGKILL);
}
