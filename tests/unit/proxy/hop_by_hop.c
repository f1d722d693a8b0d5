/* Tests proxy/hop_by_hop.c: one group per question the callers ask, for
 * names given as h2o tokens, as other iovecs (any case) and as strings. */
#include "../../../proxy/hop_by_hop.c"

#include "test.h"

static h2o_iovec_t str(const char *s)
{
    return h2o_iovec_init(s, strlen(s));
}

static h2o_header_t field(const h2o_iovec_t *name, const char *value)
{
    return (h2o_header_t){.name = (h2o_iovec_t *)name, .value = str(value)};
}

int main(void)
{
    /* RFC 9110 7.6.1: connection-specific, by token and by string */
    const h2o_token_t *cs[] = {H2O_TOKEN_CONNECTION, H2O_TOKEN_KEEP_ALIVE,      H2O_TOKEN_TE,
                               H2O_TOKEN_UPGRADE,    H2O_TOKEN_TRANSFER_ENCODING, H2O_TOKEN_HTTP2_SETTINGS};
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        CHECK(hbh_connection_specific(&cs[i]->buf));
        CHECK(hbh_connection_specific_str(cs[i]->buf.base, cs[i]->buf.len));
    }
    h2o_iovec_t pc = str("Proxy-Connection"), conn_mixed = str("CONNECTION"), xfoo = str("x-foo");
    CHECK(hbh_connection_specific(&pc));
    CHECK(hbh_connection_specific(&conn_mixed)); /* not the token's buf: compared as text */
    CHECK(hbh_connection_specific_str(H2O_STRLIT("proxy-connection")));
    CHECK(hbh_connection_specific_str(H2O_STRLIT("Keep-Alive")));
    CHECK(!hbh_connection_specific(&xfoo));
    CHECK(!hbh_connection_specific(&H2O_TOKEN_HOST->buf));
    CHECK(!hbh_connection_specific(&H2O_TOKEN_CONTENT_LENGTH->buf));
    CHECK(!hbh_connection_specific(&H2O_TOKEN_PROXY_AUTHORIZATION->buf));
    CHECK(!hbh_connection_specific_str(H2O_STRLIT("trailer")));
    CHECK(!hbh_connection_specific_str(H2O_STRLIT("tee")));
    CHECK(!hbh_connection_specific_str(H2O_STRLIT("")));

    /* ... and whatever Connection names */
    h2o_iovec_t conn = str("close, X-Foo ,keep-alive");
    CHECK(hbh_named_in_connection(&conn, H2O_STRLIT("x-foo")));
    CHECK(hbh_named_in_connection(&conn, H2O_STRLIT("keep-alive")));
    CHECK(!hbh_named_in_connection(&conn, H2O_STRLIT("x-fo")));
    CHECK(!hbh_named_in_connection(NULL, H2O_STRLIT("x-foo")));

    /* RFC 9113 8.2.2: forbidden in HTTP/2; TE: trailers only in a request */
    h2o_header_t te_trailers = field(&H2O_TOKEN_TE->buf, "trailers"), te_gzip = field(&H2O_TOKEN_TE->buf, "gzip");
    CHECK(!hbh_h2_forbidden(&te_trailers, true));
    CHECK(hbh_h2_forbidden(&te_trailers, false));
    CHECK(hbh_h2_forbidden(&te_gzip, true));
    h2o_iovec_t te_text = str("TE");
    h2o_header_t te_text_trailers = field(&te_text, "Trailers");
    CHECK(!hbh_h2_forbidden(&te_text_trailers, true));
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        h2o_header_t h = field(&cs[i]->buf, "x");
        CHECK(hbh_h2_forbidden(&h, false) && hbh_h2_forbidden(&h, true));
    }
    h2o_header_t proxy_conn = field(&pc, "keep-alive"), ct = field(&H2O_TOKEN_CONTENT_TYPE->buf, "text/plain"),
                 other = field(&xfoo, "1");
    CHECK(hbh_h2_forbidden(&proxy_conn, false));
    CHECK(!hbh_h2_forbidden(&ct, false) && !hbh_h2_forbidden(&other, true));

    /* RFC 9110 6.5.1: forbidden in trailers */
    const h2o_token_t *tf[] = {H2O_TOKEN_CONTENT_LENGTH, H2O_TOKEN_TRANSFER_ENCODING, H2O_TOKEN_HOST,
                               H2O_TOKEN_CONNECTION,     H2O_TOKEN_KEEP_ALIVE,        H2O_TOKEN_TE,
                               H2O_TOKEN_UPGRADE,        H2O_TOKEN_EXPECT,            H2O_TOKEN_CONTENT_TYPE,
                               H2O_TOKEN_CONTENT_ENCODING, H2O_TOKEN_HTTP2_SETTINGS};
    for (size_t i = 0; i < sizeof(tf) / sizeof(tf[0]); i++) {
        CHECK(hbh_trailer_forbidden(&tf[i]->buf));
        CHECK(hbh_trailer_forbidden_str(tf[i]->buf.base, tf[i]->buf.len));
    }
    h2o_iovec_t trailer = str("Trailer"), cl_mixed = str("Content-Length"), grpc_status = str("grpc-status");
    CHECK(hbh_trailer_forbidden(&trailer));
    CHECK(hbh_trailer_forbidden(&pc));
    CHECK(hbh_trailer_forbidden(&cl_mixed));
    CHECK(hbh_trailer_forbidden_str(H2O_STRLIT("proxy-connection")));
    CHECK(!hbh_trailer_forbidden(&grpc_status));
    CHECK(!hbh_trailer_forbidden(&H2O_TOKEN_ETAG->buf));
    CHECK(!hbh_trailer_forbidden_str(H2O_STRLIT("x-checksum")));
    return test_report("hop_by_hop");
}
