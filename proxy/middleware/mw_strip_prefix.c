/*
 * StripPrefix (Traefik): the first of <prefixes> the path starts with is
 * removed (a plain string prefix: /api also strips /apix to /x, as in
 * Traefik), the result gets a leading slash, and the removed prefix is added
 * as X-Forwarded-Prefix.
 */
#include "path_edit.h"

#include <string.h>

struct strip_prefix {
    const char **prefixes;
    size_t n;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct strip_prefix *c = arena_alloc(a, sizeof(*c));
    c->prefixes = mw_opt_list(a, o, "prefixes", &c->n);
    bool force_slash; /* deprecated in Traefik v2, accepted and ignored in v3 */
    if (mw_opt_bool(o, "forceSlash", true, &force_slash, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct strip_prefix *c = cfg;
    h2o_iovec_t path = mw_path(run);
    for (size_t i = 0; i < c->n; i++) {
        size_t len = strlen(c->prefixes[i]);
        if (len > path.len || memcmp(path.base, c->prefixes[i], len) != 0)
            continue;
        static const h2o_iovec_t xfp = {(char *)"x-forwarded-prefix", sizeof("x-forwarded-prefix") - 1};
        mw_header_add_fixed(&run->req->pool, &run->req->headers, NULL, &xfp, "X-Forwarded-Prefix",
                            h2o_iovec_init(c->prefixes[i], len)); /* the prefix lives in the table's arena */
        mw_path_set(run, path.base + len, path.len - len);
        break;
    }
    return MW_NEXT;
}

const struct mw_type mw_strip_prefix = {"stripPrefix", build, on_request, NULL};
