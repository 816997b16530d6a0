#include <hub/timestamp.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). Written
 * here rather than calling timegm(), which is neither C11 nor POSIX and consults the TZ
 * database, and mktime(), which depends on the process's time zone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly n ASCII digits at *p, advancing it; -1 when they are not there. */
static int digits(const char **p, int n)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return -1;
                v = v * 10 + (c - '0');
        }
        *p += n;
        return v;
}

#define BAD(...) hub_err_set(err, HUB_E_MALFORMED, false, "timestamp", __VA_ARGS__)
#define SHAPE "YYYY-MM-DDTHH:MM:SSZ or with an offset such as +07:00"

int hub_timestamp_parse(const char *text, int64_t *usec, hub_err_t *err)
{
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (!text || !usec)
                return hub_err_set(err, HUB_E_INVAL, false, __func__, "text and usec are required");
        const char *p = text;
        int y = digits(&p, 4), mo = -1, d = -1;
        if (y >= 0 && *p == '-' && (p++, mo = digits(&p, 2)) >= 0 && *p == '-')
                p++, d = digits(&p, 2);
        if (y < 0 || mo < 0 || d < 0)
                return BAD("invalid timestamp \"%.40s\": expected " SHAPE, text);
        if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
            d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
                return BAD("invalid timestamp \"%.40s\": no such date", text);
        int h = 0, mi = 0, s = 0, offset_min = 0;
        int64_t frac_us = 0;
        if (*p) {
                if (*p != 'T' && *p != 't' && *p != ' ')
                        return BAD("invalid timestamp \"%.40s\": expected " SHAPE, text);
                p++;
                h = digits(&p, 2);
                if (h < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
                    (s = digits(&p, 2)) < 0)
                        return BAD("invalid timestamp \"%.40s\": expected " SHAPE, text);
                if (h > 23 || mi > 59 || s > 59)
                        return BAD("invalid timestamp \"%.40s\": %s", text,
                                   s == 60 ? "leap seconds are not supported"
                                           : "no such time of day");
                if (*p == '.') {
                        p++;
                        int n = 0;
                        while (*p >= '0' && *p <= '9') {
                                if (n < 6)
                                        frac_us = frac_us * 10 + (*p - '0');
                                p++;
                                if (++n > 9)
                                        return BAD("invalid timestamp \"%.40s\": more than 9 "
                                                   "fractional digits", text);
                        }
                        if (n == 0)
                                return BAD("invalid timestamp \"%.40s\": no digits after '.'",
                                           text);
                        for (; n < 6; n++)
                                frac_us *= 10;
                }
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p++ == '-' ? -1 : 1;
                        int oh = digits(&p, 2), om = -1;
                        if (oh >= 0 && *p == ':')
                                p++, om = digits(&p, 2);
                        if (oh < 0 || om < 0 || oh > 23 || om > 59)
                                return BAD("invalid timestamp \"%.40s\": bad offset, expected "
                                           "+HH:MM", text);
                        offset_min = sign * (oh * 60 + om);
                } else {
                        return BAD("invalid timestamp \"%.40s\": a time needs a zone: Z or an "
                                   "offset such as +07:00", text);
                }
        }
        if (*p)
                return BAD("invalid timestamp \"%.40s\": unexpected text after it", text);
        int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s -
                       (int64_t)offset_min * 60;
        *usec = secs * 1000000 + frac_us;
        return 0;
}

char *hub_timestamp_format(int64_t usec, char buf[HUB_TIMESTAMP_MAX])
{
        if (usec == HUB_TS_NONE) {
                snprintf(buf, HUB_TIMESTAMP_MAX, "-");
                return buf;
        }
        int64_t secs = usec / 1000000, us = usec % 1000000;
        if (us < 0)
                us += 1000000, secs--;
        int64_t days = secs / 86400, rem = secs % 86400;
        if (rem < 0)
                rem += 86400, days--;
        int y, m, d;
        civil_from_days(days, &y, &m, &d);
        int n = snprintf(buf, HUB_TIMESTAMP_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
                         (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
        if (us && n > 0 && n < HUB_TIMESTAMP_MAX)
                n += snprintf(buf + n, (size_t)(HUB_TIMESTAMP_MAX - n), ".%06d", (int)us);
        if (n > 0 && n < HUB_TIMESTAMP_MAX)
                snprintf(buf + n, (size_t)(HUB_TIMESTAMP_MAX - n), "Z");
        return buf;
}

int64_t hub_timestamp_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
