/* Tests proxy/transport.c's transport_checks_name (the name check libh2o
 * does after a TLS 1.2 handshake is ignored only where the context skips
 * the name: insecureSkipVerify, with or without peerCertURI), the sharing
 * of identical definitions, and an unreadable rootCAs named in the error. */
#include "../../../proxy/transport.h"

#include <string.h>

#include "test.h"

int main(void)
{
    struct diag d;
    struct transport_spec verified = {.disable_http2 = true};
    struct transport *t = transport_acquire(&verified, &d);
    CHECK(t != NULL && t->ssl_ctx != NULL && t->ssl_ctx_h2 == NULL);
    if (t)
        CHECK(transport_checks_name(t->ssl_ctx));

    struct transport_spec insecure = {.disable_http2 = true, .insecure_skip_verify = true};
    struct transport *i = transport_acquire(&insecure, &d);
    CHECK(i != NULL && i != t);
    if (i)
        CHECK(!transport_checks_name(i->ssl_ctx));

    /* peerCertURI keeps the chain verified; the name is still skipped */
    struct transport_spec uri = {.disable_http2 = true, .insecure_skip_verify = true, .peer_cert_uri = "spiffe://x/y"};
    struct transport *u = transport_acquire(&uri, &d);
    CHECK(u != NULL);
    if (u) {
        CHECK(SSL_CTX_get_verify_mode(u->ssl_ctx) == SSL_VERIFY_PEER);
        CHECK(!transport_checks_name(u->ssl_ctx));
    }
    struct transport_spec uri_verified = {.disable_http2 = true, .peer_cert_uri = "spiffe://x/y"};
    struct transport *uv = transport_acquire(&uri_verified, &d);
    CHECK(uv != NULL);
    if (uv)
        CHECK(transport_checks_name(uv->ssl_ctx));

    /* the same definition is the same transport, one more reference */
    struct transport *again = transport_acquire(&verified, &d);
    CHECK(again == t);

    const char *const cas[] = {"/nonexistent/ca.pem"};
    struct transport_spec bad = {.disable_http2 = true, .root_cas = cas, .n_root_cas = 1};
    CHECK(transport_acquire(&bad, &d) == NULL);
    CHECK_CONTAINS(d.msg, "rootCAs: cannot read '/nonexistent/ca.pem'");

    /* released: swept once nobody holds them */
    struct transport *all[] = {t, again, i, u, uv};
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
        if (all[k])
            transport_release(all[k]);
    transport_sweep();
    transport_shutdown();
    return test_report("proxy/transport");
}
