/* Shared between ident.c, ident_net.c and ident_name.c; not part of the public API. */
#ifndef HUB_IDENT_INTERNAL_H
#define HUB_IDENT_INTERNAL_H

#include <hub/ident.h>

#include <stddef.h>

/* Record a rejection: out->reason, err->msg = "<REASON>: <detail>"; returns -HUB_E_MALFORMED. */
int ident_reject(hub_ident_t *out, hub_err_t *err, const char *where, int reason, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

/* Copy src into dst[cap]; false (dst emptied) when it does not fit. */
bool ident_copy(char *dst, size_t cap, const char *src);

/* The digits of s (NFKC), skipping spaces, '.', '-', Unicode dashes and the ASCII characters in
 * extra; rejects anything else (NOT_DIGITS) and more than cap - 1 digits (WRONG_LENGTH). */
int ident_take_digits(const char *s, const char *extra, char *d, size_t cap, size_t *nd,
                      const char *what, hub_ident_t *out, hub_err_t *err);

/* A phone number (NFKC) in ident_phone.c. */
int ident_phone(const char *s, hub_ident_t *out, hub_err_t *err);

/* The network-ish types, in ident_net.c. `s` is NUL-terminated, trimmed, valid UTF-8 without
 * control characters. */
int ident_domain(const char *s, hub_ident_t *out, hub_err_t *err);
int ident_url(int type, const char *s, const char *qualifier, hub_ident_t *out, hub_err_t *err);
int ident_email(const char *s, hub_ident_t *out, hub_err_t *err);
int ident_ip(const char *s, hub_ident_t *out, hub_err_t *err);

#endif
