/*
 * A zero-copy bidirectional relay between two plain TCP sockets of one
 * loop, for TLS passthrough and plain TCP routing: splice(2) moves bytes
 * socket -> pipe -> socket in the kernel; h2o's evloop only reports
 * readiness (h2o_socket_dont_read) and writability
 * (h2o_socket_notify_write). A full destination stops reading its source,
 * so a slow peer holds back the fast one instead of growing a buffer. End
 * of stream becomes shutdown(SHUT_WR) on the other side (a real half-close);
 * both sides are closed when both directions ended, on an error, after
 * <idle_timeout> without traffic, or when <termination> (Traefik's TCP
 * terminationDelay) has passed since the first direction ended.
 */
#ifndef GANTRY_SPLICE_PUMP_H
#define GANTRY_SPLICE_PUMP_H

#include <h2o.h>

/* Takes ownership of both sockets (neither may have a read or write
 * pending). Bytes already in <a>'s input buffer (a peeked ClientHello) are
 * written to <b> first. <termination>: the list whose timeout is the
 * terminationDelay; NULL: the other direction may flow for as long as it
 * likes (a negative terminationDelay). Falls back to tunnel_start (no
 * half-close) when no pipe can be made. */
void splice_pump_start(h2o_loop_t *loop, h2o_socket_t *a, h2o_socket_t *b, h2o_timeout_t *idle_timeout,
                       h2o_timeout_t *termination);

#endif
