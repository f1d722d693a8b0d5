/*
 * Strict HTTP/1.1 request framing on the raw bytes of a client connection
 * (cleartext, or decrypted TLS), before libh2o's HTTP/1 parser sees them.
 *
 * libh2o 2.2.5 de-chunks request bodies with picohttpparser's lenient
 * decoder inside lib/http1.c, in place, before any handler runs: "0x2c"
 * is a last chunk there (the 'x' starts an "extension" that runs to the
 * next LF), a bare LF ends a size line, extensions and trailers are
 * unbounded. It also keeps only "minor version != 0" of HTTP/1.x and
 * refuses "Content-Length: 5 " (surrounding whitespace, valid per RFC
 * 9110). None of that can be seen from a handler: the raw chunked bytes
 * are gone by then. So Gantry follows the byte stream itself (RFC 9112:
 * heads, Content-Length and chunked bodies) as it is read, and
 *   - holds back an incomplete chunk-size line (and a last chunk with its
 *     trailer section) until it is complete and valid, so h2o only ever
 *     decodes lines Gantry accepted;
 *   - on an error, cuts the input there and puts one byte that makes h2o's
 *     own parser fail at that very point: h2o answers 400 and closes the
 *     connection, nothing after it is read as another request, and the
 *     requests before it are served;
 *   - rewrites "Content-Length:  5 " as "Content-Length:  05" (same length)
 *     so h2o accepts it.
 * h2o re-sets the socket's read callback (h2o_socket_read_start) whenever
 * it resumes reading after a response, from a write callback; Gantry's
 * worker loop calls h1_framing_rearm after every h2o_evloop_run so the
 * wrapper is back before the next poll (h2o only reads after a poll).
 */
#ifndef GANTRY_H1_FRAMING_H
#define GANTRY_H1_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#define H1_FRAMING_EXT_MAX 4096     /* chunk-extension bytes of one size line */
#define H1_FRAMING_TRAILER_MAX 4096 /* trailer section, CRLFs included */

enum h1_framing_state {
    H1F_LINE0,     /* before a request line (blank lines skipped) */
    H1F_RLINE,     /* request line */
    H1F_HSTART,    /* start of a header line */
    H1F_HNAME,     /* header name */
    H1F_HVALUE,    /* header value */
    H1F_HEND,      /* the head's final LF */
    H1F_BODY,      /* Content-Length body */
    H1F_CSIZE,     /* chunk-size digits */
    H1F_CBWS,      /* whitespace after the digits */
    H1F_CEXT,      /* chunk extensions */
    H1F_CLF,       /* LF ending a size line */
    H1F_CDATA,     /* chunk data */
    H1F_CDCR,      /* CR after chunk data */
    H1F_CDLF,      /* LF after chunk data */
    H1F_TSTART,    /* start of a trailer line (or the final CRLF) */
    H1F_TLINE,     /* trailer field line */
    H1F_TLF,       /* LF ending a trailer line */
    H1F_TENDLF,    /* LF of the final CRLF */
    H1F_PASS,      /* not followed any more (HTTP/2 preface, upgrade, framing h2o refuses itself) */
    H1F_ERROR,     /* refused: see error, error_at */
};

enum h1_framing_hdr { H1F_H_OTHER, H1F_H_CL, H1F_H_TE, H1F_H_UPGRADE };

/* The stream state of one connection: pure, fed with bytes in order. */
struct h1_framing_parser {
    enum h1_framing_state state;
    uint64_t off;            /* stream offset of the next byte */
    uint64_t head_off;       /* where the current request line starts */
    uint64_t hold_off;       /* where the current size line (or last chunk) starts */
    uint64_t error_at;       /* H1F_ERROR: offset of the offending byte */
    const char *error;       /* H1F_ERROR: why */
    enum h1_framing_state error_state; /* H1F_ERROR: the state that refused */
    uint64_t left;           /* body or chunk bytes to skip; chunk size being read */
    unsigned digits, ext, trailer, line;
    char rl_start[12], rl_tail[9]; /* first and last bytes of the request line */
    char name[20], value[16];
    unsigned name_len, value_len;
    enum h1_framing_hdr hdr;
    bool value_long, cl_ws;
    uint64_t cl_value, cl_first, cl_ws_end; /* Content-Length: value, first digit, end of trailing OWS */
    unsigned n_cl, n_te;
    bool te_chunked, upgrade, cl_bad;
    uint32_t heads;          /* request heads completed so far */
    uint64_t line_start, cr_at;
    uint64_t te_from, te_to; /* the Transfer-Encoding field line, name to end of value */
    uint64_t cl_to;          /* end of the Content-Length digits (and whitespace) */
    bool body_begins;        /* head_done just started a body */
    bool streaming;          /* the current body goes to the hooks, not to h2o */
};

/* What the glue wants to hear about while bytes are parsed (all optional). */
struct h1_framing_hooks {
    /* a Content-Length value with trailing whitespace, stream range of digits plus whitespace */
    void (*rewrite)(void *arg, uint64_t from, uint64_t to);
    /* the head of a request with a body ended (the body starts at p->off + 1);
     * <rest> holds the bytes of this read after it. True: stream the body
     * (body_data, body_trailer and body_end then follow it). */
    bool (*body_start)(void *arg, struct h1_framing_parser *p, const char *rest, size_t rest_len);
    void (*body_data)(void *arg, const char *bytes, size_t len);
    void (*body_trailer)(void *arg, char c); /* the trailer section, byte by byte, CRLFs included */
    void (*body_end)(void *arg, uint64_t end);  /* stream offset just past the message */
};

/* Feeds <len> bytes of the stream. Returns false once the stream is
 * refused (state H1F_ERROR). On a Content-Length whose value has trailing
 * whitespace, <rewrite>(<arg>, from, to) is called with the stream range of
 * digits plus whitespace, while those bytes are still in the input. */
bool h1_framing_parse(struct h1_framing_parser *p, const char *bytes, size_t len,
                      void (*rewrite)(void *arg, uint64_t from, uint64_t to), void *arg);

/* h1_framing_parse with all hooks. */
bool h1_framing_parse_hooks(struct h1_framing_parser *p, const char *bytes, size_t len, const struct h1_framing_hooks *hooks,
                            void *arg);

/* h2o glue: one per HTTP connection, owned by its conntrack entry. */
struct h1_framing_conn;

/* Before h2o_accept of a cleartext connection: follows the bytes already
 * read into <sock>'s input (poisoning them if needed). */
struct h1_framing_conn *h1_framing_attach(h2o_socket_t *sock);

/* After h2o_accept: puts the wrapper in front of h2o's read callback. */
void h1_framing_arm(struct h1_framing_conn *f);

/* The connection closed (its socket's on_close): <f> is freed later, on
 * the worker's thread, by h1_framing_rearm. */
void h1_framing_closed(struct h1_framing_conn *f);

/* TLS connections: h2o_accept would hand the first decrypted bytes to its
 * HTTP/1 parser inside its handshake callback, out of reach, so Gantry
 * runs the handshake itself (libh2o's handshake timeout, ALPN "h2" to
 * h2o_http2_accept, anything else to h2o_http1_accept behind the wrapper).
 * accept_tls creates the entry (to hang on the connection first, as the
 * handshake may end at once), handshake starts it. */
struct h1_framing_conn *h1_framing_accept_tls(h2o_accept_ctx_t *ctx, h2o_socket_t *sock);
void h1_framing_handshake(struct h1_framing_conn *f);

/* Streamed request bodies (h1_stream.h): the connection's stream, and
 * "read for it again" (after back-pressure or when its request starts). */
struct h1_stream *h1_framing_stream(struct h1_framing_conn *f);
void h1_framing_resume(struct h1_framing_conn *f);

/* On the worker thread after each h2o_evloop_run: re-installs the wrapper
 * where h2o re-set the read callback, frees closed entries. */
void h1_framing_rearm(void);

#endif
