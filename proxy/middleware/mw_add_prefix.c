/* AddPrefix (Traefik): <prefix> is put in front of the path. */
#include "path_edit.h"

#include <string.h>

struct add_prefix {
    const char *prefix;
    size_t len;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct add_prefix *c = arena_alloc(a, sizeof(*c));
    const char *p = mw_opt_string(o, "prefix");
    if (p == NULL || *p == '\0')
        return diag_set(d, "prefix is required");
    /* Traefik adds the leading slash when it is missing */
    c->prefix = p[0] == '/' ? arena_strdup(a, p) : arena_printf(a, "/%s", p);
    c->len = strlen(c->prefix);
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct add_prefix *c = cfg;
    h2o_iovec_t path = mw_path(run);
    char *buf = h2o_mem_alloc_pool(&run->req->pool, c->len + path.len);
    memcpy(buf, c->prefix, c->len);
    memcpy(buf + c->len, path.base, path.len);
    mw_path_set(run, buf, c->len + path.len);
    return MW_NEXT;
}

const struct mw_type mw_add_prefix = {"addPrefix", build, on_request, NULL};
