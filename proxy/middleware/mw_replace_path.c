/*
 * ReplacePath (Traefik): the path becomes <path> (the query is kept) and
 * the path it replaces goes upstream in X-Replaced-Path, written as
 * Traefik's Go URL gives it: the encoded path when its escaping is not
 * Go's own (RawPath), otherwise the path with the query ("/a?x=1": a Go
 * quirk kept on purpose). <path> is sent as written when it is validly
 * encoded, otherwise as Go re-encodes it; a bad %-escape in it is refused
 * when the configuration is built (Traefik answers 500 to every request).
 */
#include "go_url.h"
#include "path_edit.h"

#include <string.h>

struct replace_path {
    const char *path; /* what goes upstream, precomputed as Go's EscapedPath() */
    size_t len;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct replace_path *c = arena_alloc(a, sizeof(*c));
    const char *p = mw_opt_string(o, "path");
    if (p == NULL)
        p = "";
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t dec;
    int rc = 0;
    if (!go_url_unescape(&pool, p, strlen(p), &dec)) {
        rc = diag_set(d, "path: '%s' has an invalid %%-escape", p);
    } else {
        h2o_iovec_t up = go_url_escaped_path(&pool, h2o_iovec_init(p, strlen(p)), dec);
        c->path = arena_strndup(a, up.base, up.len);
        c->len = up.len;
        *cfg = c;
    }
    h2o_mem_clear_pool(&pool);
    return rc;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct replace_path *c = cfg;
    h2o_req_t *req = run->req;
    h2o_iovec_t path = mw_path(run), query = mw_query(run);
    h2o_iovec_t old = path;
    if (!go_url_raw_path_set(&req->pool, path.base, path.len))
        old.len += query.len; /* URL.String(): the path and the query */
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-replaced-path"), 0, "X-Replaced-Path", old.base, old.len);
    mw_path_set(run, c->path, c->len);
    return MW_NEXT;
}

const struct mw_type mw_replace_path = {"replacePath", build, on_request, NULL};
