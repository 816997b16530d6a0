/* Source files: JSON Lines through jansson, CSV through libcsv (Debian's libcsv-dev), both read
 * one physical line at a time so that every row has a line number and a byte position. */
#include <hub/source.h>

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct hub_source {
        FILE *f;
        char *path;
        hub_source_format_t format;
        crypto_hash_sha256_state h;
        uint64_t offset, line;
        char *buf;
        size_t cap;
        /* CSV */
        struct csv_parser p;
        bool p_init;
        json_t *header; /* array of names */
        json_t *cells;  /* cells of the row being read: strings, or null for empty */
        bool row_done;
        bool bad_utf8;
        bool at_start;
        uint64_t row_line;
};

static int csv_space(unsigned char c)
{
        /* A CR before the LF of a CRLF file is trailing space, not part of the last cell. */
        return c == ' ' || c == '\t' || c == '\r';
}

static int csv_term(unsigned char c)
{
        /* Only LF ends a row: a bare CR in a cell stays there, and each physical line fed to
         * libcsv ends at most one row, so every row keeps its line number. */
        return c == '\n';
}

static void on_cell(void *data, size_t len, void *user)
{
        hub_source_t *s = user;
        json_t *v = json_null();
        if (data) {
                v = json_stringn(data, len);
                if (!v) {
                        s->bad_utf8 = true;
                        v = json_null();
                }
        }
        json_array_append_new(s->cells, v);
}

static void on_row(int c, void *user)
{
        (void)c;
        hub_source_t *s = user;
        s->row_done = true;
}

/* One physical line into s->buf, hashed and counted. Returns its length, 0 at the end, or
 * -1 on a read error. */
static ssize_t read_line(hub_source_t *s)
{
        errno = 0;
        ssize_t got = getline(&s->buf, &s->cap, s->f);
        if (got < 0)
                return ferror(s->f) ? -1 : 0;
        crypto_hash_sha256_update(&s->h, (const unsigned char *)s->buf, (unsigned long long)got);
        s->offset += (uint64_t)got;
        s->line++;
        return got;
}

static bool blank(const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)p[i]))
                        return false;
        return true;
}

static int io_error(hub_source_t *s, hub_err_t *err)
{
        return hub_err_set(err, HUB_E_IO, true, "source", "could not read %s: %s", s->path,
                           strerror(errno ? errno : EIO));
}

static int bad(hub_source_t *s, uint64_t line, uint64_t *out_line, const char **reason,
               hub_err_t *err, const char *msg, const char *detail)
{
        (void)s;
        *out_line = line;
        *reason = HUB_REASON_MALFORMED;
        hub_err_set(err, HUB_E_MALFORMED, false, "source", "%s%s%s", msg, detail ? ": " : "",
                    detail ? detail : "");
        return HUB_SOURCE_BAD;
}

/* The next CSV row's cells into s->cells. Returns ROW, BAD, EOF or an error. */
static int next_cells(hub_source_t *s, uint64_t *line, const char **reason, hub_err_t *err)
{
        json_array_clear(s->cells);
        s->row_done = false;
        s->bad_utf8 = false;
        s->at_start = true;
        for (;;) {
                ssize_t got = read_line(s);
                if (got < 0)
                        return io_error(s, err);
                if (got == 0) {
                        if (s->at_start)
                                return HUB_SOURCE_EOF;
                        if (csv_fini(&s->p, on_cell, on_row, s) || csv_error(&s->p)) {
                                csv_fini(&s->p, NULL, NULL, NULL);
                                return bad(s, s->row_line, line, reason, err,
                                           "CSV syntax error", "a quoted cell is not closed");
                        }
                        if (!s->row_done)
                                return HUB_SOURCE_EOF;
                        break;
                }
                if (s->at_start) {
                        if (blank(s->buf, (size_t)got))
                                continue;
                        s->at_start = false;
                        s->row_line = s->line;
                }
                size_t n = csv_parse(&s->p, s->buf, (size_t)got, on_cell, on_row, s);
                if (n < (size_t)got) {
                        const char *why = csv_strerror(csv_error(&s->p));
                        csv_fini(&s->p, NULL, NULL, NULL);
                        json_array_clear(s->cells);
                        return bad(s, s->row_line, line, reason, err, "CSV syntax error", why);
                }
                if (s->row_done)
                        break;
        }
        *line = s->row_line;
        if (s->bad_utf8)
                return bad(s, s->row_line, line, reason, err, "a cell is not valid UTF-8", NULL);
        return HUB_SOURCE_ROW;
}

void hub_source_close(hub_source_t *s)
{
        if (!s)
                return;
        if (s->f)
                fclose(s->f);
        if (s->p_init)
                csv_free(&s->p);
        json_decref(s->header);
        json_decref(s->cells);
        free(s->buf);
        free(s->path);
        free(s);
}

static int read_header(hub_source_t *s, hub_err_t *err)
{
        uint64_t line;
        const char *reason;
        int rc = next_cells(s, &line, &reason, err);
        if (rc < 0)
                return rc;
        if (rc == HUB_SOURCE_EOF)
                return hub_err_set(err, HUB_E_MALFORMED, false, "source",
                                   "%s has no header row", s->path);
        if (rc == HUB_SOURCE_BAD) {
                hub_err_prefix(err, "%s:%llu: header row", s->path, (unsigned long long)line);
                return -HUB_E_MALFORMED;
        }
        s->header = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(s->cells, i, c) {
                const char *name = json_string_value(c);
                /* Spreadsheets write a UTF-8 byte-order mark before the first name. */
                if (i == 0 && name && strncmp(name, "\xEF\xBB\xBF", 3) == 0)
                        name += 3;
                if (!name || !*name)
                        return hub_err_set(err, HUB_E_MALFORMED, false, "source",
                                           "%s:%llu: header column %zu has no name", s->path,
                                           (unsigned long long)line, i + 1);
                size_t j;
                json_t *prev;
                json_array_foreach(s->header, j, prev) {
                        if (strcmp(json_string_value(prev), name) == 0)
                                return hub_err_set(err, HUB_E_MALFORMED, false, "source",
                                                   "%s:%llu: header names column %s twice",
                                                   s->path, (unsigned long long)line, name);
                }
                json_array_append_new(s->header, json_string(name));
        }
        return 0;
}

int hub_source_open(const char *path, hub_source_format_t format, char csv_delimiter,
                    hub_source_t **out, hub_err_t *err)
{
        hub_source_t *s = calloc(1, sizeof(*s));
        if (!s || !(s->path = strdup(path))) {
                free(s);
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        }
        s->format = format;
        crypto_hash_sha256_init(&s->h);
        int rc;
        s->f = fopen(path, "rb");
        if (!s->f) {
                rc = hub_err_set(err, HUB_E_IO, false, "source", "could not open %s: %s", path,
                                 strerror(errno));
                goto fail;
        }
        if (format == HUB_SOURCE_CSV) {
                if (csv_init(&s->p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL)) {
                        rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                        goto fail;
                }
                s->p_init = true;
                csv_set_delim(&s->p, (unsigned char)csv_delimiter);
                csv_set_space_func(&s->p, csv_space);
                csv_set_term_func(&s->p, csv_term);
                s->cells = json_array();
                rc = read_header(s, err);
                if (rc)
                        goto fail;
        }
        *out = s;
        return 0;
fail:
        hub_source_close(s);
        return rc;
}

int hub_source_resume(hub_source_t *s, const hub_source_pos_t *pos, hub_err_t *err)
{
        if (pos->offset < s->offset)
                return 0;
        FILE *f = fopen(s->path, "rb");
        if (!f)
                return hub_err_set(err, HUB_E_IO, false, "source", "could not open %s: %s",
                                   s->path, strerror(errno));
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        unsigned char buf[65536];
        uint64_t left = pos->offset;
        while (left) {
                size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
                size_t got = fread(buf, 1, want, f);
                if (got == 0)
                        break;
                crypto_hash_sha256_update(&h, buf, got);
                left -= got;
        }
        int failed = ferror(f);
        fclose(f);
        if (failed)
                return io_error(s, err);
        if (left)
                return 0; /* the file is shorter than what was delivered: another file */
        crypto_hash_sha256_state copy = h;
        unsigned char digest[crypto_hash_sha256_BYTES];
        char hex[HUB_SOURCE_HASH_HEX];
        crypto_hash_sha256_final(&copy, digest);
        sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
        if (sodium_memcmp(hex, pos->sha256, 64) != 0)
                return 0;
        if (fseeko(s->f, (off_t)pos->offset, SEEK_SET))
                return io_error(s, err);
        s->h = h;
        s->offset = pos->offset;
        s->line = pos->line;
        return 1;
}

int hub_source_next(hub_source_t *s, json_t **row, uint64_t *line, const char **reason,
                    hub_err_t *err)
{
        if (s->format == HUB_SOURCE_CSV) {
                int rc = next_cells(s, line, reason, err);
                if (rc != HUB_SOURCE_ROW)
                        return rc;
                size_t nh = json_array_size(s->header), nc = json_array_size(s->cells);
                if (nc != nh) {
                        char d[64];
                        snprintf(d, sizeof(d), "%zu cells where the header has %zu", nc, nh);
                        return bad(s, *line, line, reason, err, "wrong number of cells", d);
                }
                json_t *o = json_object();
                for (size_t i = 0; i < nh; i++) {
                        json_t *c = json_array_get(s->cells, i);
                        if (!json_is_null(c))
                                json_object_set(o, json_string_value(json_array_get(s->header, i)),
                                                c);
                }
                *row = o;
                return HUB_SOURCE_ROW;
        }
        for (;;) {
                ssize_t got = read_line(s);
                if (got < 0)
                        return io_error(s, err);
                if (got == 0)
                        return HUB_SOURCE_EOF;
                if (blank(s->buf, (size_t)got))
                        continue;
                *line = s->line;
                json_error_t jerr;
                json_t *j = json_loadb(s->buf, (size_t)got, JSON_REJECT_DUPLICATES, &jerr);
                if (!j) {
                        char d[200];
                        snprintf(d, sizeof(d), "%s (column %d)", jerr.text, jerr.column);
                        return bad(s, *line, line, reason, err, "invalid JSON", d);
                }
                if (!json_is_object(j)) {
                        json_decref(j);
                        return bad(s, *line, line, reason, err, "the line is not a JSON object",
                                   NULL);
                }
                *row = j;
                return HUB_SOURCE_ROW;
        }
}

void hub_source_pos(hub_source_t *s, hub_source_pos_t *pos)
{
        crypto_hash_sha256_state copy = s->h;
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&copy, digest);
        sodium_bin2hex(pos->sha256, sizeof(pos->sha256), digest, sizeof(digest));
        pos->offset = s->offset;
        pos->line = s->line;
}
