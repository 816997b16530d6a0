/* The state file of hub-publish (hub/include/hub/watermark.h). JSON through jansson: small,
 * readable by an operator, and easy to repair by hand. */
#include <hub/watermark.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "hub-publish-state-v1"

struct hub_watermark {
        char *path;
        json_t *state;
};

void hub_watermark_free(hub_watermark_t *w)
{
        if (!w)
                return;
        json_decref(w->state);
        free(w->path);
        free(w);
}

static bool valid_entry(json_t *e)
{
        const char *h = json_string_value(json_object_get(e, "sha256"));
        json_t *o = json_object_get(e, "offset"), *l = json_object_get(e, "line");
        return json_is_object(e) && h && strlen(h) == 64 && json_is_integer(o) &&
               json_integer_value(o) >= 0 && json_is_integer(l) && json_integer_value(l) >= 0;
}

int hub_watermark_load(const char *path, const char *agency, const char *producer_id,
                       hub_watermark_t **out, hub_err_t *err)
{
        hub_watermark_t *w = calloc(1, sizeof(*w));
        if (!w || !(w->path = strdup(path))) {
                free(w);
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        }
        int rc = 0;
        json_error_t jerr;
        FILE *f = fopen(path, "rb");
        if (!f && errno != ENOENT) {
                rc = hub_err_set(err, HUB_E_IO, false, "watermark", "could not open %s: %s",
                                 path, strerror(errno));
                goto fail;
        }
        if (!f) {
                w->state = json_pack("{s:s, s:s, s:s, s:I, s:{}}", "format", FORMAT, "agency",
                                     agency, "producer_id", producer_id, "next_batch_seq",
                                     (json_int_t)0, "files");
                *out = w;
                return 0;
        }
        w->state = json_loadf(f, 0, &jerr);
        fclose(f);
        const char *fmt = json_string_value(json_object_get(w->state, "format"));
        json_t *files = json_object_get(w->state, "files");
        json_t *seq = json_object_get(w->state, "next_batch_seq");
        if (!w->state || !fmt || strcmp(fmt, FORMAT) != 0 || !json_is_object(files) ||
            !json_is_integer(seq) || json_integer_value(seq) < 0) {
                rc = hub_err_set(err, HUB_E_MALFORMED, false, "watermark",
                                 "%s is not a hub-publish state file%s%s", path,
                                 w->state ? "" : ": ", w->state ? "" : jerr.text);
                goto fail;
        }
        const char *k;
        json_t *e;
        json_object_foreach(files, k, e) {
                if (!valid_entry(e)) {
                        rc = hub_err_set(err, HUB_E_MALFORMED, false, "watermark",
                                         "%s: the entry of %s is malformed", path, k);
                        goto fail;
                }
        }
        const char *a = json_string_value(json_object_get(w->state, "agency"));
        const char *p = json_string_value(json_object_get(w->state, "producer_id"));
        if (!a || !p || strcmp(a, agency) != 0 || strcmp(p, producer_id) != 0) {
                rc = hub_err_set(err, HUB_E_CONFIG, false, "watermark",
                                 "%s belongs to agency %s, producer %s, not %s, %s: use one "
                                 "state file per connector", path, a ? a : "?", p ? p : "?",
                                 agency, producer_id);
                goto fail;
        }
        *out = w;
        return 0;
fail:
        hub_watermark_free(w);
        return rc;
}

int hub_watermark_save(hub_watermark_t *w, hub_err_t *err)
{
        size_t n = strlen(w->path) + 32;
        char *tmp = malloc(n), *dir = strdup(w->path);
        int fd = -1, rc = 0;
        char *text = json_dumps(w->state, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (!tmp || !dir || !text) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
                goto out;
        }
        snprintf(tmp, n, "%s.tmp.%ld", w->path, (long)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                goto io;
        size_t len = strlen(text), done = 0;
        while (done < len) {
                ssize_t got = write(fd, text + done, len - done);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0)
                        goto io;
                done += (size_t)got;
        }
        if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
                goto io;
        if (close(fd) != 0) {
                fd = -1;
                goto io;
        }
        fd = -1;
        if (rename(tmp, w->path) != 0)
                goto io;
        /* The rename itself is durable only once the folder is synced. */
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
        }
        goto out;
io:
        rc = hub_err_set(err, HUB_E_IO, true, "watermark", "could not write %s: %s", w->path,
                         strerror(errno));
        if (fd >= 0)
                close(fd);
        unlink(tmp);
out:
        free(text);
        free(tmp);
        free(dir);
        return rc;
}

bool hub_watermark_get(const hub_watermark_t *w, const char *file, hub_source_pos_t *pos)
{
        json_t *e = json_object_get(json_object_get(w->state, "files"), file);
        if (!e)
                return false;
        pos->offset = (uint64_t)json_integer_value(json_object_get(e, "offset"));
        pos->line = (uint64_t)json_integer_value(json_object_get(e, "line"));
        snprintf(pos->sha256, sizeof(pos->sha256), "%s",
                 json_string_value(json_object_get(e, "sha256")));
        return true;
}

void hub_watermark_set(hub_watermark_t *w, const char *file, const hub_source_pos_t *pos)
{
        json_object_set_new(json_object_get(w->state, "files"), file,
                            json_pack("{s:I, s:I, s:s}", "offset", (json_int_t)pos->offset,
                                      "line", (json_int_t)pos->line, "sha256", pos->sha256));
}

void hub_watermark_clear_files(hub_watermark_t *w)
{
        json_object_clear(json_object_get(w->state, "files"));
}

int64_t hub_watermark_next_seq(const hub_watermark_t *w)
{
        return json_integer_value(json_object_get(w->state, "next_batch_seq"));
}

void hub_watermark_set_next_seq(hub_watermark_t *w, int64_t seq)
{
        json_object_set_new(w->state, "next_batch_seq", json_integer(seq));
}
