/*
 * The 421 decision. Why: with several certificates on one address, a client
 * can reach a host on a connection whose certificate does not belong to it,
 * by sending no SNI (an IP literal), another SNI, or by reusing an HTTP/2
 * connection it opened for another name. Serving the request would let
 * the certificate a client verified differ from the host it talks to, and
 * per-host TLS settings would be bypassable through another name; RFC 9110
 * has the client retry such a request on a new connection instead.
 *
 * "The certificate of a host" is the one the SNI callback would pick for
 * that name (table_lookup_sni: exact name first, then a one-label
 * wildcard), so a client that retries with SNI = host always gets a
 * connection the request is accepted on. Comparing the connection's
 * context with it is a pointer compare: the table and the SNI callback hand
 * out the same SSL_CTX objects, and a context stays alive (and its address
 * unused) for as long as a connection holds it.
 */
#include "misdirected.h"

#include "table.h"
#include "tls.h"

bool misdirected_check(const struct table *t, const char *host, size_t len, const void *conn_cert)
{
    if (t == NULL || t->n_certs == 0 || len == 0 || conn_cert == NULL)
        return false;
    const void *own = table_lookup_sni(t, host, len);
    /* a connection made before its certificate files were reloaded is
     * still on that host's certificate */
    return own != NULL && own != conn_cert && !tls_ctx_same_source(own, conn_cert);
}
