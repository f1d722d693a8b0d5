/*
 * 421 Misdirected Request (RFC 9110 15.5.20) on TLS connections: a request
 * whose host has a certificate of its own is served only on a connection
 * established with that certificate.
 */
#ifndef GANTRY_MISDIRECTED_H
#define GANTRY_MISDIRECTED_H

#include <stdbool.h>
#include <stddef.h>

struct table;

/*
 * True when the request must be answered 421: <host> (<len> bytes,
 * normalised as match_normalize_host does: lowercase, no port, no trailing
 * dot) is covered by a certificate of <t> (exact name or "*." wildcard, the
 * one on_sni would serve for it), and <conn_cert>, the server SSL_CTX the
 * connection was established with, is not that certificate.
 *
 * False when <host> is empty or no certificate of <t> covers it (such hosts
 * are served on whatever certificate the connection has, usually the
 * default one), when the connection has that very certificate (so HTTP/2
 * coalescing of names one certificate covers keeps working), and when
 * <conn_cert> is NULL (not known: never refuse on a guess).
 *
 * Pure: reads <t> only, any thread. Costs one or two hash lookups, and
 * nothing when <t> has no certificate.
 */
bool misdirected_check(const struct table *t, const char *host, size_t len, const void *conn_cert);

#endif
