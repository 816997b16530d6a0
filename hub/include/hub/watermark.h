/* The durable watermark of hub-publish: a small JSON state file saying, per input file, up to
 * where its rows are known to be delivered to Kafka, and the next batch sequence number.
 *
 *   {"format": "hub-publish-state-v1", "agency": "MOF-HQ", "producer_id": "hub-publish",
 *    "next_batch_seq": 12,
 *    "files": {"/abs/path/records.jsonl": {"offset": 20480, "line": 97, "sha256": "<hex>"}}}
 *
 * A file's entry is its hub_source_pos_t after the last row of the last batch whose delivery
 * report (and every earlier batch's) was a success. The sha256 covers the bytes before offset,
 * so a restart resumes only on the same content (a file that grew is fine; a file replaced by
 * another starts over). Saving is atomic: write a temporary file beside it, fsync, rename over
 * the old one, fsync the folder; a crash leaves the old state or the new one, never a mix. */
#ifndef HUB_WATERMARK_H
#define HUB_WATERMARK_H

#include <hub/err.h>
#include <hub/source.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct hub_watermark hub_watermark_t;

/* Load the state at path (a missing file is an empty state for agency and producer_id).
 * Errors: HUB_E_IO, HUB_E_MALFORMED (not a state file), HUB_E_CONFIG (the file belongs to
 * another agency or producer id). */
int hub_watermark_load(const char *path, const char *agency, const char *producer_id,
                       hub_watermark_t **out, hub_err_t *err);
void hub_watermark_free(hub_watermark_t *w);

/* Write the state atomically. Errors: HUB_E_IO. */
int hub_watermark_save(hub_watermark_t *w, hub_err_t *err);

/* The position of a file (keyed by its absolute path); false when the state has none. */
bool hub_watermark_get(const hub_watermark_t *w, const char *file, hub_source_pos_t *pos);
void hub_watermark_set(hub_watermark_t *w, const char *file, const hub_source_pos_t *pos);
/* Forget every file (--from-start); the batch sequence goes on. */
void hub_watermark_clear_files(hub_watermark_t *w);

int64_t hub_watermark_next_seq(const hub_watermark_t *w);
void hub_watermark_set_next_seq(hub_watermark_t *w, int64_t seq);

#endif
