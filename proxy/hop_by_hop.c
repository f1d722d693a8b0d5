/*
 * Connection-specific, HTTP/2-forbidden and trailer-forbidden fields by
 * text (see hop_by_hop.h; names that are h2o tokens are answered inline).
 */
#include "hop_by_hop.h"

static bool is(const char *name, size_t len, const char *lower)
{
    return h2o_lcstris(name, len, lower, len);
}

/* by length first: most names fail there */
bool hbh_connection_specific_str(const char *n, size_t len)
{
    switch (len) {
    case 2:
        return is(n, len, "te");
    case 7:
        return is(n, len, "upgrade");
    case 10:
        return is(n, len, "connection") || is(n, len, "keep-alive");
    case 14:
        return is(n, len, "http2-settings");
    case 16:
        return is(n, len, "proxy-connection");
    case 17:
        return is(n, len, "transfer-encoding");
    default:
        return false;
    }
}

bool hbh_trailer_forbidden_str(const char *n, size_t len)
{
    if (hbh_connection_specific_str(n, len))
        return true;
    switch (len) {
    case 4:
        return is(n, len, "host");
    case 6:
        return is(n, len, "expect");
    case 7:
        return is(n, len, "trailer");
    case 12:
        return is(n, len, "content-type");
    case 14:
        return is(n, len, "content-length");
    case 16:
        return is(n, len, "content-encoding");
    default:
        return false;
    }
}

bool hbh_named_in_connection(const h2o_iovec_t *connection, const char *name, size_t len)
{
    return connection != NULL && h2o_contains_token(connection->base, connection->len, name, len, ',');
}

const h2o_iovec_t *hbh_connection_options(const h2o_iovec_t *connection)
{
    if (connection == NULL || hbh_just_keep_alive(connection->base, connection->len))
        return NULL;
    h2o_iovec_t iter = *connection;
    const char *t;
    size_t len;
    for (int bounded = 0; bounded < 64 && (t = h2o_next_token(&iter, ',', &len, NULL)) != NULL; bounded++)
        if (!h2o_lcstris(t, len, H2O_STRLIT("keep-alive")))
            return connection;
    return iter.len == 0 || t == NULL ? NULL : connection; /* more than 64 options: checked per field */
}

bool hbh_te_trailers(const h2o_header_t *h)
{
    bool te = hbh_token_of(h->name) != NULL ? h->name == &H2O_TOKEN_TE->buf : h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("te"));
    return te && h2o_lcstris(h->value.base, h->value.len, H2O_STRLIT("trailers"));
}
