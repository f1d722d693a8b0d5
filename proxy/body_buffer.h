/*
 * Buffers for the body bytes of one HTTP/2 stream in flight (a request body
 * on its way up, an HTTP/2 upstream's response on its way down). There is
 * one per stream, so hundreds at once under HTTP/2 load: on the socket
 * buffers' prototype (32 KiB, 128 cached) most of them were a fresh 32 KiB
 * malloc, and its page faults, per gRPC call. They start at 8 KiB (and grow
 * by doubling) with a per-thread cache of their own.
 */
#ifndef GANTRY_PROXY_BODY_BUFFER_H
#define GANTRY_PROXY_BODY_BUFFER_H

#include <h2o/memory.h>

extern __thread h2o_buffer_prototype_t body_buffer_prototype;

#endif
