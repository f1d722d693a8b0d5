/*
 * The errors middleware's exchange with its error page service, as Traefik
 * v3 makes it (pkg/middlewares/customerrors): the page's request target
 * from <query>, the request head (the original Host and request headers,
 * all of them or those errorRequestHeaders lists), and which of the page's
 * response header fields reach the client (all but the ones that belong
 * to a connection or to framing).
 */
#ifndef GANTRY_MW_ERRORS_PAGE_H
#define GANTRY_MW_ERRORS_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

#include "../pico.h"

/* "/" + <query> without one leading '/' ("" gives "/"), with {status},
 * {originalStatus} and {url} (<url>, query-escaped as Go's
 * url.QueryEscape) substituted. Bytes a request line cannot carry are
 * %-escaped and a '#' fragment is cut, as Go's RequestURI() does. */
h2o_iovec_t errors_page_target(h2o_mem_pool_t *pool, const char *query, int status, int original, h2o_iovec_t url);

/* "http(s)://<authority><path>": the request's URL as {url} names it. */
h2o_iovec_t errors_original_url(h2o_mem_pool_t *pool, bool tls, h2o_iovec_t authority, h2o_iovec_t path);

/* Which request headers go to the error page service: all (<all>), or
 * only the <n> names listed (none when n is 0). */
struct errors_page_headers {
    bool all;
    const char *const *names;
    size_t n;
};

/* "GET <target> HTTP/1.1" with Host: <authority> and the chosen request
 * headers (never the connection-specific ones, framing, Host or the
 * proxy's own authentication; cookies joined on one line). */
h2o_iovec_t errors_page_head(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t authority, const h2o_headers_t *headers,
                             const struct errors_page_headers *which);

/* A field of the page's response that goes to the client: not framing
 * (Content-Length, Transfer-Encoding, Trailer), not Date (h2o writes its
 * own), not connection-specific nor named by the response's Connection
 * field (<connection>, NULL when none). */
bool errors_page_header_passes(const struct phr_header *h, const struct phr_header *connection);

#endif
