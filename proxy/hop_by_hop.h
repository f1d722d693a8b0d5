/*
 * Which header fields belong to one connection (hop) rather than to the
 * message, in the three senses the proxy needs. One list, so the request
 * path, the response path, HTTP/2 and trailers cannot disagree.
 *
 * A name is an h2o_iovec_t: when it is an h2o token's buf (h2o_iovec_is_token)
 * the answer is a few pointer comparisons; any other name is compared by
 * length, then case-insensitively.
 */
#ifndef GANTRY_PROXY_HOP_BY_HOP_H
#define GANTRY_PROXY_HOP_BY_HOP_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

/* RFC 9110 7.6.1: Connection and the fields a proxy removes whether or not
 * Connection names them (Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade), plus HTTP2-Settings (RFC 7540 3.2.1). */
bool hbh_connection_specific(const h2o_iovec_t *name);
/* The same for a name that is not an iovec (e.g. picohttpparser's). */
bool hbh_connection_specific_str(const char *name, size_t len);

/* RFC 9110 7.6.1: <name> is one of the options of a Connection field
 * whose value is <connection> (NULL: no Connection field). */
bool hbh_named_in_connection(const h2o_iovec_t *connection, const char *name, size_t len);

/* RFC 9113 8.2.2: a field an HTTP/2 message must not carry. All the
 * connection-specific ones, except TE in a request when it says exactly
 * "trailers". */
bool hbh_h2_forbidden(const h2o_header_t *h, bool request);

/* RFC 9110 6.5.1: a field a trailer section must not carry, as it is needed
 * before the content: framing (Content-Length, Transfer-Encoding, Trailer),
 * connection control (the connection-specific fields), routing (Host),
 * request modifiers (Expect) and content format (Content-Type,
 * Content-Encoding). */
bool hbh_trailer_forbidden(const h2o_iovec_t *name);
bool hbh_trailer_forbidden_str(const char *name, size_t len);

#endif
