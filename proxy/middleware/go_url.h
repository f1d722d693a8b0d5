/*
 * The parts of Go's net/url that decide what Traefik's path middlewares
 * send upstream: a request URL is a decoded Path and, when its escaping is
 * not the one Go would choose, the RawPath it came as. Middlewares that
 * rewrite one of them send EscapedPath() on, so Gantry computes the same
 * thing from the encoded path it carries (client.path).
 */
#ifndef GANTRY_MW_GO_URL_H
#define GANTRY_MW_GO_URL_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

#include "pool_buf.h"

/* url.PathUnescape: every %XX decoded; false on a bad escape. The result
 * (in <pool>, NUL-terminated) may hold any byte. */
bool go_url_unescape(h2o_mem_pool_t *pool, const char *s, size_t len, h2o_iovec_t *out);
/* Go's escape(path, encodePath): what Go writes for a decoded path. */
h2o_iovec_t go_url_escape(h2o_mem_pool_t *pool, const char *s, size_t len);
/* Go's validEncoded(s, encodePath): RawPath usable as written. */
bool go_url_valid_encoded(const char *s, size_t len);
/* Whether Go keeps <raw> as RawPath: its escaping differs from Go's own. */
bool go_url_raw_path_set(h2o_mem_pool_t *pool, const char *raw, size_t len);
/* URL.EscapedPath() for (<raw> RawPath, may be empty; <path> Path). */
h2o_iovec_t go_url_escaped_path(h2o_mem_pool_t *pool, h2o_iovec_t raw, h2o_iovec_t path);

/* url.QueryEscape: letters, digits and -_.~ as they are, a space as '+',
 * every other byte as %XX (the errors middleware's {url}). */
void go_url_query_escape(struct pool_buf *b, const char *s, size_t len);

/* url.Parse(<s>).String(), as a redirect's Location: false where Go's
 * url.Parse fails (a control character, a bad %-escape, a bad host or
 * port, a colon in a scheme-less first segment). The path is re-encoded as
 * EscapedPath(); the rest is kept as written. */
bool go_url_location(h2o_mem_pool_t *pool, const char *s, size_t len, h2o_iovec_t *out);

#endif
