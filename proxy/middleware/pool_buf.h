/*
 * A byte string that grows in a request's memory pool: what middlewares
 * use to compose a header value or a request head. Always NUL-terminated
 * once something was put; the pool frees it with the request.
 */
#ifndef GANTRY_MW_POOL_BUF_H
#define GANTRY_MW_POOL_BUF_H

#include <stddef.h>

#include <h2o.h>

struct pool_buf {
    char *p; /* NULL until the first put (unless the caller preallocates) */
    size_t len, cap;
    h2o_mem_pool_t *pool;
};

void pool_buf_put(struct pool_buf *b, const char *s, size_t n);
void pool_buf_puts(struct pool_buf *b, const char *s);

#endif
