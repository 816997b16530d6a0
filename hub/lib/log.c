#include <hub/log.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = HUB_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

void hub_log_set_level(int level)
{
        if (level >= HUB_LOG_DEBUG && level <= HUB_LOG_ERROR)
                atomic_store(&min_level, level);
}

int hub_log_level_from_name(const char *name)
{
        for (int i = 0; i <= HUB_LOG_ERROR; i++)
                if (name && strcmp(name, names[i]) == 0)
                        return i;
        return -1;
}

bool hub_log_enabled(int level)
{
        return level >= atomic_load(&min_level);
}

/* Append s quoted as logfmt wants: backslash, quote and control characters escaped. */
static size_t quote(char *out, size_t at, size_t cap, const char *s)
{
        if (at < cap)
                out[at++] = '"';
        for (; s && *s && at + 6 < cap; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        out[at++] = '\\';
                        out[at++] = (char)c;
                } else if (c == '\n') {
                        out[at++] = '\\';
                        out[at++] = 'n';
                } else if (c < 0x20 || c == 0x7f) {
                        at += (size_t)snprintf(out + at, cap - at, "\\x%02x", c);
                } else {
                        out[at++] = (char)c;
                }
        }
        if (at < cap)
                out[at++] = '"';
        return at;
}

void hub_log(int level, const char *comp, const char *msg, const char *kv, ...)
{
        if (!hub_log_enabled(level))
                return;
        if (level < HUB_LOG_DEBUG || level > HUB_LOG_ERROR)
                level = HUB_LOG_ERROR;
        char line[2048];
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t at = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
        at += (size_t)snprintf(line + at, sizeof(line) - at, ".%03ldZ level=%s comp=%s msg=",
                               ts.tv_nsec / 1000000, names[level], comp ? comp : "-");
        /* Room is kept for the kv part and the newline. */
        at = quote(line, at, sizeof(line) - 512, msg);
        if (kv && *kv && at < sizeof(line) - 2) {
                line[at++] = ' ';
                va_list ap;
                va_start(ap, kv);
                int n = vsnprintf(line + at, sizeof(line) - at - 1, kv, ap);
                va_end(ap);
                if (n > 0)
                        at += (size_t)n < sizeof(line) - at - 1 ? (size_t)n
                                                                 : sizeof(line) - at - 2;
        }
        line[at++] = '\n';
        /* One write per line; a short write to stderr is not worth a retry loop here. */
        ssize_t w = write(STDERR_FILENO, line, at);
        (void)w;
}
