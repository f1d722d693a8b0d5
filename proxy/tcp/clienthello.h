/*
 * A TLS ClientHello reader for routing by SNI before any TLS is done: it
 * reassembles the handshake message across TLS records from the bytes a
 * connection has sent so far (nothing is consumed), and returns the
 * server name. Pure and allocation-free: bytes in, verdict out, so it can
 * be fuzzed and unit-tested alone.
 */
#ifndef GANTRY_CLIENTHELLO_H
#define GANTRY_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A ClientHello larger than this (post-quantum key shares make them ~2 KB)
 * is refused rather than buffered. */
#define CLIENTHELLO_MAX 16384
#define CLIENTHELLO_MAX_NAME 253

enum clienthello_result {
    CLIENTHELLO_OK,        /* complete; sni filled (empty when the client sent none) */
    CLIENTHELLO_NEED_MORE, /* a valid prefix: wait for more bytes */
    CLIENTHELLO_NOT_TLS,   /* the first byte is not a TLS handshake record */
    CLIENTHELLO_INVALID,   /* malformed or over CLIENTHELLO_MAX */
};

struct clienthello {
    char sni[CLIENTHELLO_MAX_NAME + 1]; /* lowercased, no trailing dot, NUL-terminated */
    size_t sni_len;
    const char *error; /* CLIENTHELLO_INVALID: what was wrong (static text) */
};

enum clienthello_result clienthello_parse(const uint8_t *buf, size_t len, struct clienthello *out);

#endif
