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
#include <stdint.h>

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

/* The client as Traefik's entry point wrote it into the request before
 * any middleware ran: the page request carries the same X-Forwarded-Proto,
 * -Host, -Port, -Server and X-Real-Ip (those not in the request already,
 * not deleted by a middleware, and chosen by errorRequestHeaders).
 * X-Forwarded-For only as the request has it (a trusted proxy's): Traefik
 * makes the page request without a client address to append. */
struct errors_page_client {
    const char *ip;   /* text form */
    h2o_iovec_t host; /* the client's Host (X-Forwarded-Host, -Port) */
    bool tls;
    uint8_t off; /* FORWARDED_NO_* (forwarded.h) */
};

/* ingress-nginx's custom-errors request to the default backend instead
 * (docs/user-guide/custom-errors.md, its nginx.tmpl @custom_ location):
 * every request header, X-Code, X-Format (the Accept header),
 * X-Original-URI, the <n> <names>/<values> the provider gives (X-Namespace,
 * X-Ingress-Name, X-Service-Name, X-Service-Port), X-Request-ID (when the
 * request has one) and X-Forwarded-For: the client's address; a client
 * field of one of those names is replaced. */
struct errors_page_nginx {
    const char *const *names, *const *values;
    size_t n;
    int code;
    h2o_iovec_t original_uri;
};

/* "GET <target> HTTP/1.1" with Host: <authority> and the chosen request
 * headers (never the connection-specific ones, framing, Host or the
 * proxy's own authentication; cookies joined on one line), then the
 * forwarded fields of <client>, or ingress-nginx's when <nginx> is not
 * NULL (<which> is not read then: every header goes). */
h2o_iovec_t errors_page_head(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t authority, const h2o_headers_t *headers,
                             const struct errors_page_headers *which, const struct errors_page_client *client,
                             const struct errors_page_nginx *nginx);

/* A field of the page's response that goes to the client: not framing
 * (Content-Length, Transfer-Encoding, Trailer), not Date (h2o writes its
 * own), not connection-specific nor named by the response's Connection
 * field (<connection>, NULL when none). */
bool errors_page_header_passes(const struct phr_header *h, const struct phr_header *connection);

#endif
