/* Errors: functions return 0 or -HUB_E_*, and fill an optional caller-owned hub_err_t.
 *
 * Reporting an error never allocates: the message lives in the caller's storage.
 * Codes are stable: their names (hub_err_name) are the reason codes that reach
 * operators, hub.rejects and metrics, so never renumber or rename one. */
#ifndef HUB_ERR_H
#define HUB_ERR_H

#include <stdbool.h>

enum {
        HUB_OK = 0,
        HUB_E_INVAL = 1,        /* a caller passed an invalid argument (a bug, not bad input) */
        HUB_E_NOMEM = 2,        /* out of memory */
        HUB_E_IO = 3,           /* a file or socket operation failed */
        HUB_E_MALFORMED = 4,    /* input bytes do not follow the format */
        HUB_E_TRUNCATED = 5,    /* input ends before the format says it should */
        HUB_E_TRAILING = 6,     /* input has bytes after the end of the value */
        HUB_E_TOO_LARGE = 7,    /* a length or count exceeds a limit */
        HUB_E_SCHEMA = 8,       /* a schema is invalid or unknown */
        HUB_E_INCOMPATIBLE = 9, /* a schema cannot read data written with another */
        HUB_E_SIGNATURE = 10,   /* a signature does not verify */
        HUB_E_KEY = 11,         /* a key is unknown, malformed, not yet valid, expired or revoked */
        HUB_E_PROOF = 12,       /* a Merkle proof does not verify or is malformed */
        HUB_E_KAFKA = 13,       /* the Kafka client reported an error */
        HUB_E_DB = 14,          /* PostgreSQL reported an error */
        HUB_E_CONFIG = 15,      /* a setting is missing or invalid */
        HUB_E_CRYPTO = 16,      /* libsodium failed to initialise or operate */
        HUB_E__COUNT
};

typedef struct hub_err {
        int code;       /* one of HUB_E_*, positive; 0 when no error was recorded */
        bool retriable; /* true when the same call may succeed later (network, lock, restart) */
        char where[48]; /* the function or component that failed */
        char msg[256];  /* PostgreSQL style: lower case, no final period, what failed and why */
} hub_err_t;

/* Record an error in *err (NULL is allowed and ignored) and return -code, so that
 * `return hub_err_set(err, HUB_E_MALFORMED, false, __func__, "...")` reads naturally. */
int hub_err_set(hub_err_t *err, int code, bool retriable, const char *where, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* Prefix the message already in *err with more context: "<context>: <old message>". */
void hub_err_prefix(hub_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset *err to "no error". */
void hub_err_clear(hub_err_t *err);

/* The stable reason code of a HUB_E_* value (positive or negative), e.g. "MALFORMED".
 * Never NULL: unknown values give "UNKNOWN". */
const char *hub_err_name(int code);

#endif
