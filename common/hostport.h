/*
 * The one host:port and server-URL parser. Every address a user writes
 * (entry point, admin, TCP server, server url) goes through here, so
 * "host:80abc" gets the same answer everywhere: refused, with a message
 * that names the address and what is wrong with it.
 *
 * Ports are digits only ("+80", " 80", "80abc" are refused: strtol and
 * atoi took them in some of the copies this replaced), an IPv6 literal
 * needs its brackets (":::8081" was split at the last ':' by some), and a
 * name has host-name characters only.
 *
 * The host (a name, an IPv4 literal or a bracketed IPv6 literal) is split
 * by libh2o's h2o_url_parse_hostport; the port is read here, because h2o
 * reserves 65535 as its "no port" value and a listener may mean port 0.
 */
#ifndef GANTRY_HOSTPORT_H
#define GANTRY_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "diag.h"

enum {
    HOSTPORT_EMPTY_HOST = 1u, /* ":8080": every local address (listeners) */
    HOSTPORT_PORT_ZERO = 2u,  /* port 0: any free port (listeners) */
    HOSTPORT_PORT_OPTIONAL = 4u, /* "host" alone keeps the port the caller put in hp->port */
};

struct hostport {
    char host[256]; /* without the IPv6 brackets; "" for ":port" */
    int port;
};

/* "host:port", "[v6]:port" (and ":port" with HOSTPORT_EMPTY_HOST). The
 * port is 1..65535 (0..65535 with HOSTPORT_PORT_ZERO). On error <d> reads
 * "invalid address '<s>' (...)" or "invalid port in address '<s>' (...)". */
int hostport_parse(const char *s, unsigned flags, struct hostport *hp, struct diag *d) WARN_UNUSED;

struct server_url {
    char scheme[8]; /* lower case: http, https, h2c or tcp */
    char host[256]; /* without the IPv6 brackets */
    int port;       /* the scheme's default (80, 443) when none is written */
    bool port_given;
};

/* <scheme>://<host>[:<port>][/path...] with <scheme> one of http, https,
 * h2c (and tcp, which needs a port, with <tcp>; then only tcp). On error
 * <d> reads "invalid server url '<url>': <reason>". */
int server_url_parse(const char *url, bool tcp, struct server_url *u, struct diag *d) WARN_UNUSED;

/* The socket address a listener of <socktype> (SOCK_STREAM, SOCK_DGRAM)
 * binds for an entry point address: ":port" is every IPv4 and IPv6
 * address, a name is resolved. */
int hostport_listen_address(const char *addr, int socktype, struct sockaddr_storage *ss, socklen_t *len,
                            struct diag *d) WARN_UNUSED;

#endif
