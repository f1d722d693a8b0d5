/*
 * One system call less per accepted connection (accept_fcntl.c).
 */
#ifndef GANTRY_PROXY_ACCEPT_FCNTL_H
#define GANTRY_PROXY_ACCEPT_FCNTL_H

/* The connection this thread is handing to h2o_evloop_socket_create, made
 * non-blocking by accept4 already, or -1 (defined in server.c). */
extern __thread int accept_nonblocking_fd;

#endif
