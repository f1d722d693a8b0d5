/*
 * The upstream request head, with X-Forwarded-* handling (see forwarded.c).
 */
#ifndef GANTRY_FORWARDED_H
#define GANTRY_FORWARDED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <h2o.h>

#include "server.h"

struct forwarded_params {
    bool pass_host;              /* Host: the client's, else server_hostport */
    const char *server_hostport; /* "10.0.0.1:8080" */
    const char *client_ip;       /* text form */
    bool trusted;                /* client is a trusted proxy */
    bool tls;                    /* client connection is TLS */
    bool websocket;              /* send Connection: upgrade */
    h2o_iovec_t path;            /* request target (normalised path and query) */
    bool drop_body;              /* headers only (a mirror with mirrorBody: false): Content-Length: 0 */
    uint8_t off;                 /* FORWARDED_NO_*: headers not to add (a middleware deleted them) */
    /* a body streamed as it arrives (req_stream.h): its length (-1:
     * unknown, sent chunked); ignored when <streamed> is false */
    bool streamed;
    int64_t streamed_length;
};

#define FORWARDED_NO_XFF 0x01
#define FORWARDED_NO_XF_PROTO 0x02
#define FORWARDED_NO_XF_HOST 0x04
#define FORWARDED_NO_XF_PORT 0x08
#define FORWARDED_NO_XF_SERVER 0x10
#define FORWARDED_NO_X_REAL_IP 0x20

void forwarded_init(void);
/* Client address as 16 bytes (IPv4 mapped) and as text. */
void forwarded_client_ip(const struct sockaddr *sa, uint8_t out16[16], char *text, size_t text_len);
bool forwarded_is_trusted(const struct entrypoint_config *ep, const uint8_t ip16[16]);
/* Removes an untrusted client's X-Forwarded-* and X-Real-Ip up front (what
 * Traefik's entry point does before any middleware), so that the headers
 * left afterwards are the middlewares' and can be kept as a trusted
 * proxy's would. */
void forwarded_strip_untrusted(h2o_headers_t *headers);
/* Allocated in req->pool. */
h2o_iovec_t forwarded_build_head(h2o_req_t *req, const struct forwarded_params *fp);

/* The same fields as HTTP/2 wants them (RFC 9113 8.2, 8.3.1): lowercase
 * names, nothing connection-specific, the Host value as <authority>. The
 * array, from <pool>, has room for <spare> more. Returns how many. When
 * <pool> is not the request's (a mirror copy that outlives it), every name
 * and value the fields and <authority> point to is copied into <pool> too. */
size_t forwarded_build_fields(h2o_req_t *req, const struct forwarded_params *fp, h2o_mem_pool_t *pool, size_t spare,
                              h2o_header_t **fields, h2o_iovec_t *authority);

#endif
