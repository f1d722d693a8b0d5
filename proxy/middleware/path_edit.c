/* Upstream path helpers (see path_edit.h). */
#include "path_edit.h"

#include <string.h>

h2o_iovec_t mw_path(const struct mw_run *run)
{
    const h2o_iovec_t p = run->client.path;
    const char *q = memchr(p.base, '?', p.len);
    return h2o_iovec_init(p.base, q ? (size_t)(q - p.base) : p.len);
}

h2o_iovec_t mw_query(const struct mw_run *run)
{
    const h2o_iovec_t p = run->client.path;
    const char *q = memchr(p.base, '?', p.len);
    return q ? h2o_iovec_init(q, (size_t)(p.base + p.len - q)) : h2o_iovec_init(NULL, 0);
}

void mw_path_set(struct mw_run *run, const char *path, size_t len)
{
    h2o_iovec_t q = mw_query(run);
    bool slash = len == 0 || path[0] != '/'; /* the upstream target is always origin-form */
    char *buf = h2o_mem_alloc_pool(&run->req->pool, len + q.len + 2);
    size_t n = 0;
    if (slash)
        buf[n++] = '/';
    memcpy(buf + n, path, len);
    n += len;
    if (q.len)
        memcpy(buf + n, q.base, q.len);
    n += q.len;
    buf[n] = '\0';
    run->client.path = h2o_iovec_init(buf, n);
}
