/*
 * StripPrefixRegex (Traefik): the first of <regex> whose leftmost match in
 * the decoded path is not empty and is where the path starts has that text
 * removed from the path; the text goes upstream in X-Forwarded-Prefix. As
 * in Traefik, the same number of bytes is cut from the encoded path when
 * Go keeps one (RawPath) and that is used only if it still decodes to the
 * stripped path; otherwise the stripped path is sent as Go encodes it.
 * A matched prefix that cannot be a header value (a decoded control
 * character) is answered 502, as Go's transport refuses to send it.
 *
 * <regex> is a list: YAML items arrive one key each ("regex[0]") and are
 * taken whole; a single string (labels) is split at commas outside [...],
 * (...), {...} and not escaped, so a literal comma there is written "\,".
 */
#include "go_url.h"
#include "path_edit.h"
#include "regex_replace.h"

#include <string.h>

struct strip_prefix_regex {
    struct regex_replace *res;
    size_t n;
};

/* The end of the list entry starting at <s>: its first top-level comma. */
static const char *entry_end(const char *s)
{
    int depth = 0;
    bool in_class = false;
    for (const char *p = s; *p; p++) {
        if (*p == '\\') {
            if (p[1] != '\0')
                p++;
        } else if (in_class) {
            in_class = *p != ']';
        } else if (*p == '[') {
            in_class = true;
            if (p[1] == '^')
                p++;
            if (p[1] == ']') /* "[]a]": the first ']' is a member */
                p++;
        } else if (*p == '(' || *p == '{') {
            depth++;
        } else if ((*p == ')' || *p == '}') && depth > 0) {
            depth--;
        } else if (*p == ',' && depth == 0) {
            return p;
        }
    }
    return s + strlen(s);
}

static int add(struct arena *a, struct strip_prefix_regex *c, const char *raw, size_t len, struct diag *d)
{
    const char *rx = regex_replace_trim(a, arena_strndup(a, raw, len));
    if (*rx == '\0')
        return 0;
    return regex_replace_compile(a, "regex", rx, &c->res[c->n++], d);
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct strip_prefix_regex *c = arena_alloc(a, sizeof(*c));
    const char *v = mw_opt_string(o, "regex");
    if (v == NULL) { /* a YAML list: one item each, commas and all */
        size_t n;
        const char **items = mw_opt_list(a, o, "regex", &n);
        c->res = arena_alloc(a, (n ? n : 1) * sizeof(*c->res));
        for (size_t i = 0; i < n; i++)
            if (add(a, c, items[i], strlen(items[i]), d) != 0)
                return -1;
        *cfg = c;
        return 0;
    }
    /* one string (labels): split at top-level commas */
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    c->res = arena_alloc(a, cap * sizeof(*c->res));
    for (const char *p = v; *p;) {
        const char *end = entry_end(p);
        if (add(a, c, p, (size_t)(end - p), d) != 0)
            return -1;
        p = *end ? end + 1 : end;
    }
    *cfg = c;
    return 0;
}

static bool header_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* ensureLeadingSlash */
static h2o_iovec_t leading_slash(h2o_mem_pool_t *pool, const char *s, size_t n)
{
    if (n == 0 || s[0] == '/')
        return h2o_iovec_init(s, n);
    char *b = h2o_mem_alloc_pool(pool, n + 2);
    b[0] = '/';
    memcpy(b + 1, s, n);
    b[n + 1] = '\0';
    return h2o_iovec_init(b, n + 1);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct strip_prefix_regex *c = cfg;
    h2o_req_t *req = run->req;
    h2o_iovec_t raw = mw_path(run), path;
    if (c->n == 0 || !go_url_unescape(&req->pool, raw.base, raw.len, &path))
        return MW_NEXT;
    for (size_t i = 0; i < c->n; i++) {
        size_t m[2];
        if (!regex_replace_find(&c->res[i], &req->pool, path.base, path.len, 0, m) || m[1] == m[0])
            continue;
        size_t plen = m[1] - m[0];
        if (memcmp(path.base, path.base + m[0], plen) != 0)
            continue; /* the path does not start with the matched text */
        if (!header_safe(path.base, plen)) {
            mw_answer(run, 502, "Bad Gateway", "Bad Gateway", false);
            return MW_ANSWERED;
        }
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-forwarded-prefix"), 0, "X-Forwarded-Prefix", path.base,
                              plen);
        h2o_iovec_t new_path = leading_slash(&req->pool, path.base + plen, path.len - plen), new_raw = {NULL, 0};
        if (go_url_raw_path_set(&req->pool, raw.base, raw.len))
            new_raw = leading_slash(&req->pool, raw.base + plen, raw.len - plen);
        h2o_iovec_t up = go_url_escaped_path(&req->pool, new_raw, new_path);
        mw_path_set(run, up.base, up.len);
        break;
    }
    return MW_NEXT;
}

const struct mw_type mw_strip_prefix_regex = {"stripPrefixRegex", build, on_request, NULL};
