/*
 * The pure parts of gRPC-Web (grpc/doc/PROTOCOL-WEB.md): which content
 * types are gRPC-Web, the trailer frame that carries a call's status in the
 * body, and base64 as the -text variant uses it (each flushed piece padded
 * on its own, so a body may hold padding mid-stream).
 */
#ifndef GANTRY_GRPC_WEB_CODEC_H
#define GANTRY_GRPC_WEB_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

enum grpc_web_kind {
    GRPC_WEB_NONE,   /* not gRPC-Web */
    GRPC_WEB_BINARY, /* application/grpc-web[+proto...] */
    GRPC_WEB_TEXT,   /* application/grpc-web-text[+proto...]: base64 */
};

/* The kind of the content type <ct>; *suffix is what follows the media
 * type's name ("+proto", "; charset=..." or empty), into <ct>. */
enum grpc_web_kind grpc_web_kind_of(h2o_iovec_t ct, h2o_iovec_t *suffix);

/* The trailer frame: flag 0x80, 4-byte big-endian length, then
 * "name: value\r\n" per trailer (names lowercased). In <pool>. */
h2o_iovec_t grpc_web_trailer_frame(h2o_mem_pool_t *pool, const h2o_headers_t *trailers);

/* Base64 (standard alphabet, padded) of <n> bytes into <out>, which holds
 * at least grpc_web_b64_len(n) + 1 bytes. Returns the length written. */
size_t grpc_web_b64_len(size_t n);
size_t grpc_web_b64_encode(const void *in, size_t n, char *out);

/* Decodes <n> base64 characters into <out> (at least n / 4 * 3 + 3 bytes):
 * groups of four, each may end in padding (pieces concatenated); ASCII
 * whitespace skipped. Returns the length decoded, or -1 when malformed. */
long grpc_web_b64_decode(const char *in, size_t n, unsigned char *out);

#endif
