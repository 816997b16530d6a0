/* Source files of hub-publish: JSON Lines (jansson) or CSV (libcsv, RFC 4180 with a header row),
 * read row by row as JSON objects, with the line number of every row and the byte position
 * after it, so that a watermark can say "delivered up to here" and a restart can resume there.
 *
 * A CSV row is an object of the header's names → strings; an empty unquoted cell is absent
 * (no key), so it counts as "no value". A quoted cell may span lines: the row's line number is
 * the line it starts on.
 *
 * The reader hashes every byte it consumes (SHA-256): the hash of the bytes before a position
 * identifies the file's content up to there, so a resume can tell a file that has grown (the
 * watermark holds) from one that was replaced (it does not). */
#ifndef HUB_SOURCE_H
#define HUB_SOURCE_H

#include <hub/err.h>
#include <hub/mapping.h>

#include <jansson.h>
#include <stdint.h>

#define HUB_SOURCE_HASH_HEX 65 /* 64 hex digits and a NUL */

typedef struct hub_source hub_source_t;

/* A position in a source: the byte offset just after a row, the number of lines up to there,
 * and the SHA-256 (hex) of the bytes before offset. */
typedef struct hub_source_pos {
        uint64_t offset;
        uint64_t line;
        char sha256[HUB_SOURCE_HASH_HEX];
} hub_source_pos_t;

/* What hub_source_next() found. */
enum {
        HUB_SOURCE_EOF = 0,
        HUB_SOURCE_ROW = 1,
        HUB_SOURCE_BAD = 2, /* a row that cannot be read: *line, *reason and err say why */
};

/* Open a file; a CSV file's header row is read at once (HUB_E_MALFORMED when it is missing,
 * has an empty or repeated name). *out is freed with hub_source_close(). Errors: HUB_E_IO. */
int hub_source_open(const char *path, hub_source_format_t format, char csv_delimiter,
                    hub_source_t **out, hub_err_t *err);
void hub_source_close(hub_source_t *s);

/* Continue after pos (from a watermark), right after open. Returns 1 when the file still holds
 * the same bytes before pos.offset (hash equal) and reading continues there; 0 when it does not
 * (shorter, or other content): reading starts from the beginning. Errors: HUB_E_IO. */
int hub_source_resume(hub_source_t *s, const hub_source_pos_t *pos, hub_err_t *err);

/* The next row. HUB_SOURCE_ROW: *row is a new reference, *line its first line. HUB_SOURCE_BAD:
 * the row is skipped, *line and *reason (HUB_REASON_MALFORMED) and err say why, reading can go
 * on. HUB_SOURCE_EOF at the end. A negative HUB_E_IO when the file cannot be read. */
int hub_source_next(hub_source_t *s, json_t **row, uint64_t *line, const char **reason,
                    hub_err_t *err);

/* The position after the last row returned (ROW or BAD). */
void hub_source_pos(hub_source_t *s, hub_source_pos_t *pos);

#endif
