/*
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP
 * service sends first to its server, so the server learns the client's
 * address (Traefik's tcp serversTransports proxyProtocol).
 */
#ifndef GANTRY_PROXY_PROTOCOL_H
#define GANTRY_PROXY_PROTOCOL_H

#include <stddef.h>
#include <sys/socket.h>

/* Room for the longest header either version writes here. */
#define PROXY_PROTOCOL_MAX 128

/* Writes the header for a connection from <src> to <dst> (the client's
 * address and the one it connected to) into <out>; returns its length.
 * Addresses of different or unknown families give "UNKNOWN" (v1) or an
 * unspecified family (v2). IPv4-mapped IPv6 addresses are sent as IPv4. */
size_t proxy_protocol_header(int version, const struct sockaddr *src, const struct sockaddr *dst,
                             char out[PROXY_PROTOCOL_MAX]);

#endif
