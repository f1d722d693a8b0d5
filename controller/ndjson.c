/*
 * NDJSON line framer (see ndjson.h). Complete lines are handed out straight
 * from the input when possible; only a line split across reads is copied.
 */
#include "ndjson.h"

#include <string.h>

void ndjson_init(struct ndjson *f, size_t max_line)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->line, max_line);
    f->max_line = max_line;
}

void ndjson_free(struct ndjson *f)
{
    buf_free(&f->line);
}

void ndjson_reset(struct ndjson *f)
{
    buf_reset(&f->line);
    f->skipping = false;
}

static void emit(const char *line, size_t len, ndjson_line_cb cb, void *data)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len != 0)
        cb(line, len, data);
}

void ndjson_feed(struct ndjson *f, const char *p, size_t n, ndjson_line_cb cb, void *data)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t chunk = nl ? (size_t)(nl - p) : n;
        if (f->skipping) {
            if (nl == NULL)
                return;
            f->skipping = false;
        } else if (nl != NULL && f->line.len == 0 && chunk <= f->max_line) {
            emit(p, chunk, cb, data); /* the common case: a whole line in this read, no copy */
        } else if (buf_append(&f->line, p, chunk) != 0) {
            /* too long: drop what we have and the rest of the line */
            buf_reset(&f->line);
            f->dropped++;
            if (nl == NULL) {
                f->skipping = true;
                return;
            }
        } else if (nl == NULL) {
            return; /* kept for the next read */
        } else {
            emit(f->line.data, f->line.len, cb, data);
            buf_reset(&f->line);
        }
        p += chunk + 1;
        n -= chunk + 1;
    }
}
