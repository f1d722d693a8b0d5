/*
 * NDJSON line framer (see ndjson.h). Complete lines are handed out straight
 * from the input when possible; only a line split across reads is copied.
 */
#include "ndjson.h"

#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"

void ndjson_init(struct ndjson *f, size_t max_line)
{
    memset(f, 0, sizeof(*f));
    f->max_line = max_line;
}

void ndjson_free(struct ndjson *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

void ndjson_reset(struct ndjson *f)
{
    f->len = 0;
    f->skipping = false;
}

static void emit(const char *line, size_t len, ndjson_line_cb cb, void *data)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len != 0)
        cb(line, len, data);
}

static void append(struct ndjson *f, const char *p, size_t n)
{
    if (f->len + n + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + n + 1)
            cap *= 2;
        f->buf = mem_realloc(f->buf, cap);
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
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
        } else if (f->len + chunk > f->max_line) {
            /* too long: drop what we have and the rest of the line */
            f->len = 0;
            f->dropped++;
            if (nl == NULL) {
                f->skipping = true;
                return;
            }
        } else if (nl == NULL) {
            append(f, p, chunk);
            return;
        } else if (f->len == 0) {
            emit(p, chunk, cb, data); /* the common case: a whole line in this read, no copy */
        } else {
            append(f, p, chunk);
            emit(f->buf, f->len, cb, data);
            f->len = 0;
        }
        p += chunk + 1;
        n -= chunk + 1;
    }
}
