/*
 * The PROXY protocol header (v1 text, v2 binary) a load balancer sends
 * ahead of a connection's own bytes: entry points with proxyProtocol read
 * it before anything else (Traefik's entryPoints.<name>.proxyProtocol).
 * Pure parsing, no I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum proxy_header_result {
    PROXY_HEADER_NEED_MORE, /* a header's start: more bytes decide */
    PROXY_HEADER_NONE,      /* the bytes are not a PROXY header: the connection's own */
    PROXY_HEADER_OK,
    PROXY_HEADER_INVALID,   /* a header that cannot be read: close the connection */
};

struct proxy_header {
    size_t len;                   /* bytes the header takes */
    int has_source;               /* PROXY TCP4/TCP6 (v1), PROXY command with INET/INET6 (v2); else LOCAL/UNKNOWN */
    struct sockaddr_storage source;
    socklen_t source_len;
};

enum proxy_header_result proxy_header_parse(const uint8_t *p, size_t n, struct proxy_header *out);
