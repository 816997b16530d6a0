#include <hub/err.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[HUB_E__COUNT] = {
        [HUB_OK] = "OK",
        [HUB_E_INVAL] = "INVALID_ARGUMENT",
        [HUB_E_NOMEM] = "OUT_OF_MEMORY",
        [HUB_E_IO] = "IO_ERROR",
        [HUB_E_MALFORMED] = "MALFORMED",
        [HUB_E_TRUNCATED] = "TRUNCATED",
        [HUB_E_TRAILING] = "TRAILING_BYTES",
        [HUB_E_TOO_LARGE] = "TOO_LARGE",
        [HUB_E_SCHEMA] = "SCHEMA_INVALID",
        [HUB_E_INCOMPATIBLE] = "SCHEMA_INCOMPATIBLE",
        [HUB_E_SIGNATURE] = "SIGNATURE_INVALID",
        [HUB_E_KEY] = "KEY_INVALID",
        [HUB_E_PROOF] = "PROOF_INVALID",
        [HUB_E_KAFKA] = "KAFKA_ERROR",
        [HUB_E_DB] = "DATABASE_ERROR",
        [HUB_E_CONFIG] = "CONFIG_INVALID",
        [HUB_E_CRYPTO] = "CRYPTO_ERROR",
};

int hub_err_set(hub_err_t *err, int code, bool retriable, const char *where, const char *fmt,
                ...)
{
        if (code < 0)
                code = -code;
        if (err) {
                err->code = code;
                err->retriable = retriable;
                snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return -code;
}

void hub_err_prefix(hub_err_t *err, const char *fmt, ...)
{
        if (!err)
                return;
        char old[sizeof(err->msg)];
        memcpy(old, err->msg, sizeof(old));
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(err->msg))
                snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", old);
}

void hub_err_clear(hub_err_t *err)
{
        if (err)
                memset(err, 0, sizeof(*err));
}

const char *hub_err_name(int code)
{
        if (code < 0)
                code = -code;
        if (code >= HUB_E__COUNT || !names[code])
                return "UNKNOWN";
        return names[code];
}
