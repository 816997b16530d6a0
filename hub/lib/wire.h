/* Byte buffers, big-endian integers and the few Avro binary pieces the log's formats use
 * (hub/lib only: mlog.c, evidence.c). Hand-written rather than avro-c because these formats must
 * have ONE encoding per value (minimal varints, one array block), which neither avro-c nor
 * hub_avro_validate checks, and a verifier must name the byte that broke the rule. */
#ifndef HUB_LIB_WIRE_H
#define HUB_LIB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct wbuf {
        uint8_t *p;
        size_t n, cap;
        bool failed;
} wbuf_t;

static inline void wb_raw(wbuf_t *b, const void *src, size_t n)
{
        if (b->failed)
                return;
        if (b->n + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->n + n)
                        cap *= 2;
                uint8_t *p = realloc(b->p, cap);
                if (!p) {
                        b->failed = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        if (n)
                memcpy(b->p + b->n, src, n);
        b->n += n;
}

static inline void wb_u8(wbuf_t *b, uint8_t v)
{
        wb_raw(b, &v, 1);
}

static inline void wb_u32be(wbuf_t *b, uint32_t v)
{
        uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        wb_raw(b, x, 4);
}

static inline void wb_u64be(wbuf_t *b, uint64_t v)
{
        uint8_t x[8];
        for (int i = 0; i < 8; i++)
                x[i] = (uint8_t)(v >> (56 - 8 * i));
        wb_raw(b, x, 8);
}

/* u32be(len) || bytes: the length-prefixed strings of the digests. */
static inline void wb_str(wbuf_t *b, const char *s)
{
        size_t n = s ? strlen(s) : 0;
        wb_u32be(b, (uint32_t)n);
        wb_raw(b, s, n);
}

/* Avro long: zigzag then base-128 varint, least significant group first (always minimal). */
static inline void wb_long(wbuf_t *b, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        do {
                uint8_t c = z & 0x7f;
                z >>= 7;
                wb_u8(b, (uint8_t)(c | (z ? 0x80 : 0)));
        } while (z);
}

/* Avro bytes / string: long length, then the bytes. */
static inline void wb_abytes(wbuf_t *b, const void *p, size_t n)
{
        wb_long(b, (int64_t)n);
        wb_raw(b, p, n);
}

typedef struct rbuf {
        const uint8_t *p;
        size_t n, i;
        int err; /* 0, or HUB_E_TRUNCATED / HUB_E_MALFORMED at the first failure */
        size_t err_at;
} rbuf_t;

static inline void rb_fail(rbuf_t *r, int code)
{
        if (!r->err) {
                r->err = code;
                r->err_at = r->i;
        }
}

static inline const uint8_t *rb_raw(rbuf_t *r, size_t n)
{
        if (r->err || n > r->n - r->i) {
                rb_fail(r, 5 /* HUB_E_TRUNCATED */);
                return NULL;
        }
        const uint8_t *p = r->p + r->i;
        r->i += n;
        return p;
}

/* A minimal Avro long: at most 10 bytes, the last byte not 00 unless it is the only one. */
static inline int64_t rb_long(rbuf_t *r)
{
        uint64_t v = 0;
        size_t start = r->i;
        for (int shift = 0;; shift += 7) {
                const uint8_t *c = rb_raw(r, 1);
                if (!c)
                        return 0;
                if (shift == 63 && (*c & 0x7e)) {
                        rb_fail(r, 4 /* HUB_E_MALFORMED */);
                        return 0;
                }
                v |= (uint64_t)(*c & 0x7f) << shift;
                if (!(*c & 0x80)) {
                        if (*c == 0 && r->i - start > 1)
                                rb_fail(r, 4);
                        break;
                }
                if (shift == 63) {
                        rb_fail(r, 4);
                        return 0;
                }
        }
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Avro bytes: a length >= 0 within the input. */
static inline const uint8_t *rb_abytes(rbuf_t *r, size_t *len)
{
        int64_t n = rb_long(r);
        if (r->err)
                return NULL;
        if (n < 0) {
                rb_fail(r, 4);
                return NULL;
        }
        if ((uint64_t)n > r->n - r->i) {
                rb_fail(r, 5);
                return NULL;
        }
        *len = (size_t)n;
        return rb_raw(r, (size_t)n);
}

#endif
