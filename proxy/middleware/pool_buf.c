/* Pool-backed growing string (see pool_buf.h). */
#include "pool_buf.h"

#include <string.h>

void pool_buf_put(struct pool_buf *b, const char *s, size_t n)
{
    if (n == 0) /* an empty value: nothing to copy (and s may be NULL) */
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap + n + 1) * 2;
        char *p = h2o_mem_alloc_pool(b->pool, cap);
        if (b->len) /* before the first growth b->p may be NULL */
            memcpy(p, b->p, b->len);
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void pool_buf_puts(struct pool_buf *b, const char *s)
{
    pool_buf_put(b, s, strlen(s));
}
