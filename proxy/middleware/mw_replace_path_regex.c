/*
 * ReplacePathRegex (Traefik): when <regex> matches the encoded path (the
 * path Gantry normalised, without the query), every match is replaced by
 * <replacement> ($1, ${name}: Go's Regexp.Expand), the old encoded path goes
 * upstream in X-Replaced-Path and the query is kept. Nothing happens when
 * the replacement is empty. A result with a bad %-escape is answered 500
 * as Traefik does; one that is not validly encoded is sent as Go re-encodes
 * it. Regex and replacement are trimmed of spaces (Traefik).
 */
#include "go_url.h"
#include "path_edit.h"
#include "regex_replace.h"

#include <stdio.h>
#include <string.h>

struct replace_path_regex {
    struct regex_replace re;
    bool replace; /* a non-empty replacement */
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct replace_path_regex *c = arena_alloc(a, sizeof(*c));
    const char *rx = mw_opt_string(o, "regex"), *rep = mw_opt_string(o, "replacement");
    if (regex_replace_compile(a, "regex", regex_replace_trim(a, rx ? rx : ""), &c->re, d) != 0)
        return -1;
    const char *r = regex_replace_trim(a, rep ? rep : "");
    c->replace = *r != '\0';
    regex_replace_template(a, &c->re, r);
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct replace_path_regex *c = cfg;
    h2o_req_t *req = run->req;
    if (!c->replace)
        return MW_NEXT; /* an empty replacement: Traefik leaves the path alone */
    h2o_iovec_t path = mw_path(run);
    bool matched;
    h2o_iovec_t raw = regex_replace_all(&c->re, &req->pool, path.base, path.len, &matched);
    if (!matched)
        return MW_NEXT;
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-replaced-path"), 0, "X-Replaced-Path", path.base, path.len);
    h2o_iovec_t dec;
    if (!go_url_unescape(&req->pool, raw.base, raw.len, &dec)) {
        mw_answer(run, 500, "Internal Server Error", "invalid URL escape in the replaced path\n", false);
        return MW_ANSWERED;
    }
    h2o_iovec_t up = go_url_escaped_path(&req->pool, raw, dec);
    mw_path_set(run, up.base, up.len);
    return MW_NEXT;
}

const struct mw_type mw_replace_path_regex = {"replacePathRegex", build, on_request, NULL};
