/*
 * The allocator given to nghttp2 sessions (server and upstream client).
 */
#ifndef GANTRY_PROXY_H2_MEM_H
#define GANTRY_PROXY_H2_MEM_H

#include <nghttp2/nghttp2.h>

/* NULL (nghttp2's default, libc) under sanitizers, so they see every block. */
nghttp2_mem *h2_mem(void);

/* Frees the calling thread's cached blocks; a worker calls it as it exits. */
void h2_mem_thread_release(void);

#endif
