/*
 * Connection-specific, HTTP/2-forbidden and trailer-forbidden fields (see
 * hop_by_hop.h).
 */
#include "hop_by_hop.h"

struct name {
    const char *s;
    size_t len;
};
#define NAME(s) {s, sizeof(s) - 1}

static const struct name connection_specific_names[] = {
    NAME("connection"), NAME("keep-alive"),     NAME("proxy-connection"), NAME("te"),
    NAME("transfer-encoding"), NAME("upgrade"), NAME("http2-settings"),
};

/* beyond the connection-specific ones */
static const struct name trailer_forbidden_names[] = {
    NAME("content-length"), NAME("trailer"),      NAME("host"),
    NAME("expect"),         NAME("content-type"), NAME("content-encoding"),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* h2o_iovec_is_token, inlined: it runs per field on the request path. */
static inline const h2o_token_t *token_of(const h2o_iovec_t *name)
{
    const h2o_token_t *t = (const h2o_token_t *)name;
    return t >= h2o__tokens && t < h2o__tokens + H2O_MAX_TOKENS ? t : NULL;
}

static bool listed(const struct name *names, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (names[i].len == len && h2o_lcstris(s, len, names[i].s, len))
            return true;
    return false;
}

/* Proxy-Connection is not an h2o token; every other one is. */
static bool connection_specific_token(const h2o_token_t *t)
{
    return t == H2O_TOKEN_CONNECTION || t == H2O_TOKEN_KEEP_ALIVE || t == H2O_TOKEN_TE || t == H2O_TOKEN_TRANSFER_ENCODING ||
           t == H2O_TOKEN_UPGRADE || t == H2O_TOKEN_HTTP2_SETTINGS;
}

static bool trailer_forbidden_token(const h2o_token_t *t)
{
    return connection_specific_token(t) || t == H2O_TOKEN_CONTENT_LENGTH || t == H2O_TOKEN_HOST || t == H2O_TOKEN_EXPECT ||
           t == H2O_TOKEN_CONTENT_TYPE || t == H2O_TOKEN_CONTENT_ENCODING;
}

bool hbh_connection_specific_str(const char *name, size_t len)
{
    return listed(connection_specific_names, COUNT(connection_specific_names), name, len);
}

bool hbh_connection_specific(const h2o_iovec_t *name)
{
    const h2o_token_t *t = token_of(name);
    if (t != NULL)
        return connection_specific_token(t);
    return hbh_connection_specific_str(name->base, name->len);
}

bool hbh_named_in_connection(const h2o_iovec_t *connection, const char *name, size_t len)
{
    return connection != NULL && h2o_contains_token(connection->base, connection->len, name, len, ',');
}

bool hbh_h2_forbidden(const h2o_header_t *h, bool request)
{
    if (!hbh_connection_specific(h->name))
        return false;
    bool te = token_of(h->name) != NULL ? h->name == &H2O_TOKEN_TE->buf
                                        : h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("te"));
    return !(request && te && h2o_lcstris(h->value.base, h->value.len, H2O_STRLIT("trailers")));
}

bool hbh_trailer_forbidden_str(const char *name, size_t len)
{
    return hbh_connection_specific_str(name, len) || listed(trailer_forbidden_names, COUNT(trailer_forbidden_names), name, len);
}

bool hbh_trailer_forbidden(const h2o_iovec_t *name)
{
    const h2o_token_t *t = token_of(name);
    if (t != NULL)
        return trailer_forbidden_token(t);
    return hbh_trailer_forbidden_str(name->base, name->len);
}
