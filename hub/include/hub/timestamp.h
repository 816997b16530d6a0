/* Timestamps as operators type and read them: RFC 3339 (ISO 8601) text <-> microseconds since
 * the Unix epoch, UTC. PostgreSQL's timestamptz has microsecond resolution, so nothing is lost
 * on the way to and from the database. */
#ifndef HUB_TIMESTAMP_H
#define HUB_TIMESTAMP_H

#include <hub/err.h>

#include <stddef.h>
#include <stdint.h>

/* "No timestamp" (an open validity bound, a key never revoked). */
#define HUB_TS_NONE INT64_MIN

/* Enough for "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL. */
#define HUB_TIMESTAMP_MAX 32

/* Parse an RFC 3339 date-time: YYYY-MM-DD, 'T' (or 't' or one space), HH:MM:SS, an optional
 * fraction of up to 9 digits (truncated to microseconds), and 'Z' or +HH:MM / -HH:MM. A bare date
 * YYYY-MM-DD is accepted too and means 00:00:00Z. Years 0001-9999; a leap second (:60) is
 * refused, as PostgreSQL would silently move it to the next minute.
 * Errors: -HUB_E_MALFORMED with what is wrong. */
int hub_timestamp_parse(const char *text, int64_t *usec, hub_err_t *err);

/* Format as "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" only when there are microseconds; HUB_TS_NONE
 * gives "-". Returns buf. */
char *hub_timestamp_format(int64_t usec, char buf[HUB_TIMESTAMP_MAX]);

/* The current time in microseconds (CLOCK_REALTIME). */
int64_t hub_timestamp_now(void);

#endif
