/*
 * The one growable byte buffer. Bytes and printf output are appended; the
 * buffer doubles as it grows and is always NUL-terminated (once anything
 * was reserved). <max> is a hard cap: an append that would pass it fails
 * and leaves the buffer as it was, so a hostile peer or a huge file cannot
 * grow it without bound. Out of memory aborts (mem_realloc), as everywhere.
 */
#ifndef GANTRY_BUF_H
#define GANTRY_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define BUF_UNBOUNDED SIZE_MAX

struct buf {
    char *data; /* NULL until the first append or reserve */
    size_t len, cap, max;
};

/* An empty buffer that holds at most <max> bytes (BUF_UNBOUNDED: no cap). */
void buf_init(struct buf *b, size_t max);
/* Frees the memory; the buffer is empty and keeps its cap. */
void buf_free(struct buf *b);
/* Empties the buffer and keeps its memory for the next use. */
void buf_reset(struct buf *b);
/* Room for <n> more bytes (and the NUL); -1 when len + n passes the cap. */
int buf_reserve(struct buf *b, size_t n) WARN_UNUSED;
/* -1 (nothing appended) when the bytes would pass the cap. */
int buf_append(struct buf *b, const void *p, size_t n) WARN_UNUSED;
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3))) WARN_UNUSED;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0))) WARN_UNUSED;
/* The bytes, given to the caller (free()); the buffer is left empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
