/*
 * Which header fields belong to one connection (hop) rather than to the
 * message, in the three senses the proxy needs. One list, so the request
 * path, the response path, HTTP/2 and trailers cannot disagree.
 *
 * A name is an h2o_iovec_t: when it is an h2o token's buf the answer is a
 * few pointer comparisons, inline (these run per field on the request
 * path); any other name is compared by length, then case-insensitively.
 */
#ifndef GANTRY_PROXY_HOP_BY_HOP_H
#define GANTRY_PROXY_HOP_BY_HOP_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

#include "../common/ascii.h"

/* h2o_iovec_is_token, inlined: the token whose buf <name> is, or NULL. */
static inline const h2o_token_t *hbh_token_of(const h2o_iovec_t *name)
{
    const h2o_token_t *t = (const h2o_token_t *)name;
    return t >= h2o__tokens && t < h2o__tokens + H2O_MAX_TOKENS ? t : NULL;
}

/* RFC 9110 7.6.1: Connection and the fields a proxy removes whether or not
 * Connection names them (Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade), plus HTTP2-Settings (RFC 7540 3.2.1).
 * Proxy-Connection is not an h2o token; the others are. */
static inline bool hbh_connection_specific_token(const h2o_token_t *t)
{
    return t == H2O_TOKEN_CONNECTION || t == H2O_TOKEN_KEEP_ALIVE || t == H2O_TOKEN_TE || t == H2O_TOKEN_TRANSFER_ENCODING ||
           t == H2O_TOKEN_UPGRADE || t == H2O_TOKEN_HTTP2_SETTINGS;
}
/* The same for a name that is not a token's (any case). */
bool hbh_connection_specific_str(const char *name, size_t len);

static inline bool hbh_connection_specific(const h2o_iovec_t *name)
{
    const h2o_token_t *t = hbh_token_of(name);
    return t != NULL ? hbh_connection_specific_token(t) : hbh_connection_specific_str(name->base, name->len);
}

/* RFC 9110 7.6.1: <name> is one of the options of a Connection field
 * whose value is <connection> (NULL: no Connection field). */
bool hbh_named_in_connection(const h2o_iovec_t *connection, const char *name, size_t len);

/* A Connection value that is exactly "keep-alive" (any case): what most
 * peers send, answered without tokenizing. */
static inline bool hbh_just_keep_alive(const char *value, size_t len)
{
    return len == 10 && ascii_caseeq(value, "keep-alive", 10);
}

/* <connection> itself, or NULL when its only option is "keep-alive" (a
 * field dropped anyway): then the per-field hbh_named_in_connection checks
 * can be skipped. "upgrade" is not skipped: a 101 keeps its Upgrade field
 * unless Connection names it. */
const h2o_iovec_t *hbh_connection_options(const h2o_iovec_t *connection);

/* TE whose value is exactly "trailers" (any case). */
bool hbh_te_trailers(const h2o_header_t *h);

/* RFC 9113 8.2.2: a field an HTTP/2 message must not carry. All the
 * connection-specific ones, except TE in a request when it says exactly
 * "trailers". */
static inline bool hbh_h2_forbidden(const h2o_header_t *h, bool request)
{
    return hbh_connection_specific(h->name) && !(request && hbh_te_trailers(h));
}

/* RFC 9110 6.5.1: a field a trailer section must not carry, as it is needed
 * before the content: framing (Content-Length, Transfer-Encoding, Trailer),
 * connection control (the connection-specific fields), routing (Host),
 * request modifiers (Expect) and content format (Content-Type,
 * Content-Encoding). Trailer is not an h2o token. */
static inline bool hbh_trailer_forbidden_token(const h2o_token_t *t)
{
    return hbh_connection_specific_token(t) || t == H2O_TOKEN_CONTENT_LENGTH || t == H2O_TOKEN_HOST || t == H2O_TOKEN_EXPECT ||
           t == H2O_TOKEN_CONTENT_TYPE || t == H2O_TOKEN_CONTENT_ENCODING;
}
bool hbh_trailer_forbidden_str(const char *name, size_t len);

static inline bool hbh_trailer_forbidden(const h2o_iovec_t *name)
{
    const h2o_token_t *t = hbh_token_of(name);
    return t != NULL ? hbh_trailer_forbidden_token(t) : hbh_trailer_forbidden_str(name->base, name->len);
}

#endif
