/*
 * A bounded line framer for streamed JSON (Docker events, Kubernetes
 * watches): bytes arrive in arbitrary pieces; complete lines come out one
 * at a time. A line longer than the limit is dropped whole (up to its
 * newline) and reported, so one huge event cannot grow the buffer without
 * bound or desynchronise the stream.
 */
#ifndef GANTRY_NDJSON_H
#define GANTRY_NDJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"

struct ndjson {
    struct buf line; /* a line split across reads, capped at max_line */
    size_t max_line;
    bool skipping;       /* inside an over-long line */
    size_t dropped;      /* over-long lines dropped so far */
};

/* <line> is not NUL-terminated; it excludes the newline and a final \r. */
typedef void (*ndjson_line_cb)(const char *line, size_t len, void *data);

void ndjson_init(struct ndjson *f, size_t max_line);
void ndjson_free(struct ndjson *f);
void ndjson_reset(struct ndjson *f);
/* Feeds <n> bytes; calls <cb> for each complete non-empty line. */
void ndjson_feed(struct ndjson *f, const char *p, size_t n, ndjson_line_cb cb, void *data);

#endif
