/* logfmt logging for the daemons: one line per event on stderr,
 *   ts=2026-01-02T03:04:05.678Z level=warn comp=ingest msg="could not ..." topic=... offset=...
 * The message is quoted and escaped here; the extra key=value pairs (kv) are written as given,
 * so callers keep their values free of spaces and quotes (topics, numbers, reason codes) and put
 * free text in the message. Lines are written with one write(2) each, so concurrent writers
 * (librdkafka's threads) never interleave within a line.
 *
 * This is the one place in libhub that writes to a stream: programs call it; library modules
 * return errors instead. */
#ifndef HUB_LOG_H
#define HUB_LOG_H

#include <stdbool.h>

enum { HUB_LOG_DEBUG = 0, HUB_LOG_INFO, HUB_LOG_WARN, HUB_LOG_ERROR };

/* Lines below `level` are dropped. Default HUB_LOG_INFO. */
void hub_log_set_level(int level);
/* "debug", "info", "warn", "error" to HUB_LOG_*; -1 when unknown. */
int hub_log_level_from_name(const char *name);
bool hub_log_enabled(int level);

/* Write one line. kv (may be NULL) is a printf format for the trailing key=value pairs. */
void hub_log(int level, const char *comp, const char *msg, const char *kv, ...)
        __attribute__((format(printf, 4, 5)));

#endif
