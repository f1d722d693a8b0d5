/*
 * Strict HTTP/1.1 request framing on the raw input (see h1_framing.h).
 *
 * Two halves: a pure byte-stream parser (h1_framing_parse) that follows
 * request heads (only what decides framing and the version), skips
 * Content-Length bodies and checks chunked bodies per RFC 9112 7.1; and
 * the glue that runs it on every read of an HTTP/1 connection (TLS too),
 * ahead of h2o's own read callback.
 */
#include "h1_framing.h"

#include "h2_server.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <h2o/http1.h>
#include <h2o/http2.h>

#include "../common/ascii.h"
#include "conntrack.h"
#include "h1_stream.h"
#include "tls.h"

/* ---- the parser ---- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* control characters other than HT */
static bool ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool fail(struct h1_framing_parser *p, const char *why)
{
    p->error = why;
    p->error_at = p->off;
    p->error_state = p->state;
    p->state = H1F_ERROR;
    return false;
}

static void head_start(struct h1_framing_parser *p)
{
    p->state = H1F_LINE0;
    p->n_cl = p->n_te = 0;
    p->te_chunked = p->upgrade = p->cl_bad = false;
    p->cl_value = 0;
    p->line = 0;
}

static void chunk_line_start(struct h1_framing_parser *p)
{
    p->state = H1F_CSIZE;
    p->hold_off = p->off + 1; /* called on the LF before the line */
    p->left = 0;
    p->digits = p->ext = 0;
}

/* End of a header line: what it says about framing. */
static void header_done(struct h1_framing_parser *p, void (*rewrite)(void *, uint64_t, uint64_t), void *arg)
{
    switch (p->hdr) {
    case H1F_H_CL:
        p->n_cl++;
        p->cl_to = p->cl_ws ? p->cl_ws_end : p->cl_first + p->digits;
        if (p->digits == 0 || p->value_long)
            p->cl_bad = true;
        else if (p->cl_ws && rewrite != NULL && p->cl_ws_end - p->cl_first <= 19)
            rewrite(arg, p->cl_first, p->cl_ws_end);
        break;
    case H1F_H_TE:
        p->n_te++;
        p->te_from = p->line_start;
        p->te_to = p->cr_at + 1 == p->off ? p->cr_at : p->off;
        p->te_chunked = !p->value_long && p->value_len == 7 && strncasecmp(p->value, "chunked", 7) == 0;
        break;
    case H1F_H_UPGRADE:
        p->upgrade = true;
        break;
    case H1F_H_OTHER:
        break;
    }
}

/* The blank line: how the body is framed. Ambiguous or refused framing
 * (two lengths, both, an unknown coding, a bad length) is answered 400 by
 * h2o or request_check, with the connection closed: not followed. */
static void head_done(struct h1_framing_parser *p)
{
    p->heads++;
    if (p->upgrade || p->n_cl > 1 || p->n_te > 1 || (p->n_cl && p->n_te) || (p->n_te && !p->te_chunked) ||
        (p->n_cl && p->cl_bad)) {
        p->state = H1F_PASS;
    } else if (p->n_te) {
        chunk_line_start(p);
        p->body_begins = true;
    } else if (p->n_cl && p->cl_value > 0) {
        p->state = H1F_BODY;
        p->left = p->cl_value;
        p->body_begins = true;
    } else {
        head_start(p);
    }
}

static bool request_line_done(struct h1_framing_parser *p)
{
    if (p->line >= 12 && memcmp(p->rl_start, "PRI * HTTP/2", 12) == 0) {
        p->state = H1F_PASS; /* h2o switches to HTTP/2 */
        return true;
    }
    if (p->line < 10 || (memcmp(p->rl_tail, " HTTP/1.1", 9) != 0 && memcmp(p->rl_tail, " HTTP/1.0", 9) != 0))
        return fail(p, "unsupported HTTP version or malformed request line");
    p->state = H1F_HSTART;
    return true;
}

static void name_done(struct h1_framing_parser *p)
{
    p->hdr = H1F_H_OTHER;
    if (p->name_len == 14 && memcmp(p->name, "content-length", 14) == 0)
        p->hdr = H1F_H_CL;
    else if (p->name_len == 17 && memcmp(p->name, "transfer-encoding", 17) == 0)
        p->hdr = H1F_H_TE;
    else if (p->name_len == 7 && memcmp(p->name, "upgrade", 7) == 0)
        p->hdr = H1F_H_UPGRADE;
    p->value_len = 0;
    p->value_long = p->cl_ws = false;
    p->digits = 0;
    p->state = H1F_HVALUE;
}

/* One byte of a head. */
static bool head_byte(struct h1_framing_parser *p, unsigned char c, void (*rewrite)(void *, uint64_t, uint64_t), void *arg)
{
    switch (p->state) {
    case H1F_LINE0:
        if (c == '\r' || c == '\n')
            return true; /* blank lines before a request (h2o skips one, refuses more itself) */
        p->state = H1F_RLINE;
        p->head_off = p->off;
        p->line = 0;
        /* fallthrough */
    case H1F_RLINE:
        if (c == '\n')
            return request_line_done(p);
        if (c == '\r')
            return true;
        if (p->line < 12)
            p->rl_start[p->line] = (char)c;
        memmove(p->rl_tail, p->rl_tail + 1, 8);
        p->rl_tail[8] = (char)c;
        p->line++;
        return true;
    case H1F_HSTART:
        if (c == '\r') {
            p->state = H1F_HEND;
            return true;
        }
        if (c == '\n') {
            head_done(p);
            return true;
        }
        if (ows(c)) { /* obs-fold: refused by request_check, part of no framing header */
            p->hdr = H1F_H_OTHER;
            p->state = H1F_HVALUE;
            return true;
        }
        p->name_len = 0;
        p->line_start = p->off;
        p->state = H1F_HNAME;
        /* fallthrough */
    case H1F_HNAME:
        if (c == ':') {
            name_done(p);
        } else if (c == '\n') {
            p->state = H1F_HSTART; /* malformed: h2o refuses it */
        } else if (p->name_len < sizeof(p->name)) {
            p->name[p->name_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else {
            p->name_len = sizeof(p->name) + 1; /* longer than any name we look for */
        }
        return true;
    case H1F_HVALUE:
        if (c == '\n') {
            header_done(p, rewrite, arg);
            p->state = H1F_HSTART;
            return true;
        }
        if (c == '\r') {
            p->cr_at = p->off;
            return true;
        }
        if (p->hdr == H1F_H_CL) {
            if (ows(c)) {
                if (p->digits > 0) {
                    p->cl_ws = true;
                    p->cl_ws_end = p->off + 1;
                }
            } else if (c >= '0' && c <= '9' && !p->cl_ws && p->digits < 19) {
                if (p->digits++ == 0)
                    p->cl_first = p->off;
                p->cl_value = p->cl_value * 10 + (uint64_t)(c - '0');
            } else {
                p->value_long = true; /* not a plain length: h2o refuses it */
            }
        } else if (p->value_len == 0 && ows(c) && !p->value_long) {
            /* leading whitespace: h2o skips it */
        } else if (p->value_len < sizeof(p->value)) {
            p->value[p->value_len++] = (char)c;
        } else {
            p->value_long = true;
        }
        return true;
    case H1F_HEND:
        if (c != '\n') {
            p->state = H1F_PASS; /* a bare CR: h2o refuses the head */
            return true;
        }
        head_done(p);
        return true;
    default:
        return true;
    }
}

/* The plain bytes of a head line at once: the request line up to its CR or
 * LF, a header name up to ':', a value of a header framing does not read.
 * Same effect as head_byte on each of them, without a call and a state
 * switch per byte (requests are mostly such bytes). Returns how many. */
static size_t head_run(struct h1_framing_parser *p, const char *b, size_t len)
{
    size_t k = 0;
    switch (p->state) {
    case H1F_RLINE: { /* up to a CR or LF: two memchr calls beat a loop over the bytes */
        const char *lf = memchr(b, '\n', len);
        size_t upto = lf != NULL ? (size_t)(lf - b) : len;
        const char *cr = memchr(b, '\r', upto);
        k = cr != NULL ? (size_t)(cr - b) : upto;
        if (p->line < 12) {
            size_t n = 12 - p->line < k ? 12 - p->line : k;
            memcpy(p->rl_start + p->line, b, n);
        }
        if (k >= 9) {
            memcpy(p->rl_tail, b + k - 9, 9);
        } else if (k > 0) {
            memmove(p->rl_tail, p->rl_tail + k, 9 - k);
            memcpy(p->rl_tail + 9 - k, b, k);
        }
        p->line += k;
        break;
    }
    case H1F_HNAME: { /* up to ':' or LF; the name kept lowercase, or marked too long (sizeof + 1) */
        const char *colon = memchr(b, ':', len);
        size_t upto = colon != NULL ? (size_t)(colon - b) : len;
        const char *lf = memchr(b, '\n', upto);
        k = lf != NULL ? (size_t)(lf - b) : upto;
        size_t room = p->name_len < sizeof(p->name) ? sizeof(p->name) - p->name_len : 0;
        if (k <= room) {
            ascii_lower_copy(p->name + p->name_len, b, k);
            p->name_len += (unsigned)k;
        } else {
            p->name_len = sizeof(p->name) + 1;
        }
        break;
    }
    case H1F_HVALUE:
        if (p->hdr != H1F_H_OTHER && p->hdr != H1F_H_UPGRADE)
            return 0; /* their values are read byte by byte */
        { /* up to the LF: a CR matters only in the values read byte by byte */
            const char *lf = memchr(b, '\n', len);
            k = lf != NULL ? (size_t)(lf - b) : len;
        }
        break;
    default:
        return 0;
    }
    p->off += k;
    return k;
}

/* One byte of a chunked body outside chunk data. */
static bool chunk_byte(struct h1_framing_parser *p, unsigned char c)
{
    switch (p->state) {
    case H1F_CSIZE: {
        int v = hexval(c);
        if (v >= 0) {
            if (p->digits == 15 && p->left >= (UINT64_C(1) << 59)) /* keep sizes below 2^63 */
                return fail(p, "chunk size too large");
            if (p->digits == 16)
                return fail(p, "chunk size too large");
            p->left = p->left * 16 + (uint64_t)v;
            p->digits++;
            return true;
        }
        if (p->digits == 0)
            return fail(p, "invalid chunk size");
        if (c == '\r') {
            p->state = H1F_CLF;
            return true;
        }
        if (c == ';') {
            p->state = H1F_CEXT;
            return true;
        }
        if (!ows(c))
            return fail(p, "invalid chunk size");
        p->state = H1F_CBWS;
    }
        /* fallthrough */
    case H1F_CBWS:
        if (++p->ext > H1_FRAMING_EXT_MAX)
            return fail(p, "chunk extensions too long");
        if (ows(c))
            return true;
        if (c == ';') {
            p->state = H1F_CEXT;
            return true;
        }
        if (c == '\r') {
            p->state = H1F_CLF;
            return true;
        }
        return fail(p, "invalid chunk size line");
    case H1F_CEXT:
        if (++p->ext > H1_FRAMING_EXT_MAX)
            return fail(p, "chunk extensions too long");
        if (c == '\r') {
            p->state = H1F_CLF;
            return true;
        }
        if (ctl(c))
            return fail(p, "invalid chunk extension");
        return true;
    case H1F_CLF:
        if (c != '\n')
            return fail(p, "chunk size line not ended by CRLF");
        if (p->left == 0) { /* the last chunk: then the trailer section, held with it */
            p->state = H1F_TSTART;
            p->trailer = 0;
        } else {
            p->state = H1F_CDATA;
        }
        return true;
    case H1F_CDCR:
        if (c != '\r')
            return fail(p, "chunk data not followed by CRLF");
        p->state = H1F_CDLF;
        return true;
    case H1F_CDLF:
        if (c != '\n')
            return fail(p, "chunk data not followed by CRLF");
        chunk_line_start(p);
        return true;
    case H1F_TSTART:
    case H1F_TLINE:
    case H1F_TLF:
    case H1F_TENDLF:
        if (++p->trailer > H1_FRAMING_TRAILER_MAX)
            return fail(p, "trailer section too large");
        if (p->state == H1F_TSTART) {
            if (c == '\r') {
                p->state = H1F_TENDLF;
                return true;
            }
            if (c == '\n' || ctl(c))
                return fail(p, "invalid trailer section");
            p->state = H1F_TLINE;
            return true;
        }
        if (p->state == H1F_TLINE) {
            if (c == '\r')
                p->state = H1F_TLF;
            else if (c == '\n' || ctl(c))
                return fail(p, "invalid trailer field");
            return true;
        }
        if (c != '\n')
            return fail(p, "trailer line not ended by CRLF");
        if (p->state == H1F_TLF) {
            p->state = H1F_TSTART;
        } else { /* the end of the message */
            head_start(p);
        }
        return true;
    default:
        return true;
    }
}

static bool in_trailer(enum h1_framing_state st)
{
    return st == H1F_TSTART || st == H1F_TLINE || st == H1F_TLF || st == H1F_TENDLF;
}

bool h1_framing_parse_hooks(struct h1_framing_parser *p, const char *bytes, size_t len, const struct h1_framing_hooks *h,
                            void *arg)
{
    void (*rewrite)(void *, uint64_t, uint64_t) = h != NULL ? h->rewrite : NULL;
    size_t i = 0;
    while (i < len) {
        switch (p->state) {
        case H1F_PASS:
            p->off += len - i;
            return true;
        case H1F_ERROR:
            return false;
        case H1F_BODY:
        case H1F_CDATA: {
            size_t n = len - i < p->left ? len - i : (size_t)p->left;
            if (p->streaming && h->body_data != NULL)
                h->body_data(arg, bytes + i, n);
            p->left -= n;
            p->off += n;
            i += n;
            if (p->left == 0) {
                if (p->state == H1F_BODY) {
                    head_start(p);
                    if (p->streaming) {
                        p->streaming = false;
                        if (h->body_end != NULL)
                            h->body_end(arg, p->off);
                    }
                } else {
                    p->state = H1F_CDCR;
                }
            }
            continue;
        }
        case H1F_LINE0:
        case H1F_RLINE:
        case H1F_HSTART:
        case H1F_HNAME:
        case H1F_HVALUE:
        case H1F_HEND:
            if ((i += head_run(p, bytes + i, len - i)) == len)
                return true;
            if (!head_byte(p, (unsigned char)bytes[i], rewrite, arg))
                return false;
            if (p->body_begins) {
                p->body_begins = false;
                p->streaming = h != NULL && h->body_start != NULL && h->body_start(arg, p, bytes + i + 1, len - i - 1);
            }
            break;
        default: {
            bool trailer = p->streaming && in_trailer(p->state);
            if (!chunk_byte(p, (unsigned char)bytes[i]))
                return false;
            if (trailer && h->body_trailer != NULL)
                h->body_trailer(arg, bytes[i]);
            if (p->streaming && p->state == H1F_LINE0) { /* the end of a chunked message */
                p->streaming = false;
                if (h->body_end != NULL)
                    h->body_end(arg, p->off + 1);
            }
            break;
        }
        }
        p->off++;
        i++;
    }
    return p->state != H1F_ERROR;
}

bool h1_framing_parse(struct h1_framing_parser *p, const char *bytes, size_t len,
                      void (*rewrite)(void *arg, uint64_t from, uint64_t to), void *arg)
{
    struct h1_framing_hooks h = {.rewrite = rewrite};
    return h1_framing_parse_hooks(p, bytes, len, &h, arg);
}

static bool h1_framing_holding(const struct h1_framing_parser *p)
{
    switch (p->state) {
    case H1F_CSIZE:
    case H1F_CBWS:
    case H1F_CEXT:
    case H1F_CLF:
    case H1F_TSTART:
    case H1F_TLINE:
    case H1F_TLF:
    case H1F_TENDLF:
        return true;
    default:
        return false;
    }
}

/* ---- the glue ---- */

struct h1_framing_conn {
    struct h1_framing_parser p;
    h2o_socket_t *sock;
    /* TLS: Gantry's own accept (h1_framing_accept_tls) */
    h2o_accept_ctx_t *accept_ctx;
    h2o_timeout_entry_t handshake_deadline;
    struct timeval connected_at;
    h2o_socket_cb inner; /* h2o's read callback */
    char *hold;          /* an incomplete size line or last chunk, hidden from h2o */
    size_t hold_len;
    struct h1_stream stream; /* a request body kept from h2o, streamed (h1_stream.h) */
    bool closed, listed;
    struct h1_framing_conn *next; /* in rearm_list */
};

/* Connections whose wrapper must be checked after the loop iteration: h2o
 * stopped reading (it resumes from a write callback), or they closed. */
static __thread struct h1_framing_conn *rearm_list;

static void list_add(struct h1_framing_conn *f)
{
    if (f->listed)
        return;
    f->listed = true;
    f->next = rearm_list;
    rearm_list = f;
}

/* the input offset of stream offset <off>, the stream ending at <end> */
static size_t index_of(const struct h1_framing_conn *f, uint64_t end, uint64_t off)
{
    return f->sock->input->size - (size_t)(end - off);
}

struct rewrite_ctx {
    struct h1_framing_conn *f;
    uint64_t end;
    /* a streamed body's bytes in this read, taken out of h2o's input */
    uint64_t cut_from, cut_to;
    bool cut, cut_ended;
};

/* "5  " -> "005": the digits right-aligned over their trailing whitespace */
static void rewrite_length(void *_ctx, uint64_t from, uint64_t to)
{
    struct rewrite_ctx *ctx = _ctx;
    char *s = ctx->f->sock->input->bytes + index_of(ctx->f, ctx->end, from);
    size_t n = (size_t)(to - from), digits = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    memmove(s + n - digits, s, digits);
    memset(s, '0', n - digits);
}

static bool in_chunked_body(enum h1_framing_state st)
{
    return st >= H1F_CSIZE && st <= H1F_TENDLF;
}

/* The head h2o will parse says "Content-Length: 0" (same length, in
 * place): the length's digits become zeros; the Transfer-Encoding line
 * becomes "content-length:" padded with spaces before a "0". h2o then
 * copies the head's values to the request's pool (it does for any head
 * with a body header), so the input may move under them. */
static void rewrite_head(struct rewrite_ctx *ctx, const struct h1_framing_parser *p)
{
    char *in = ctx->f->sock->input->bytes;
    if (p->n_te) {
        char *line = in + index_of(ctx->f, ctx->end, p->te_from);
        size_t len = (size_t)(p->te_to - p->te_from); /* >= strlen("transfer-encoding:chunked") */
        memcpy(line, "content-length:", 15);
        memset(line + 15, ' ', len - 16);
        line[len - 1] = '0';
    } else {
        memset(in + index_of(ctx->f, ctx->end, p->cl_first), '0', (size_t)(p->cl_to - p->cl_first));
    }
}

/* What a look-ahead over a chunked body saw: its end, and the size of its
 * trailer section (CRLFs included; 2 is the bare final CRLF). */
struct body_probe {
    size_t trailer_bytes;
    bool ended;
};

static void probe_trailer(void *arg, char c)
{
    (void)c;
    ((struct body_probe *)arg)->trailer_bytes++;
}

static void probe_end(void *arg, uint64_t end)
{
    (void)end;
    ((struct body_probe *)arg)->ended = true;
}

static const struct h1_framing_hooks probe_hooks = {.body_trailer = probe_trailer, .body_end = probe_end};

/* A head with a body ended: streamed unless it is complete in the bytes
 * already read (h2o collects it as before), too large (h2o's 413), or
 * another body of the connection still streams. */
static bool on_body_start(void *_ctx, struct h1_framing_parser *p, const char *rest, size_t rest_len)
{
    struct rewrite_ctx *ctx = _ctx;
    struct h1_framing_conn *f = ctx->f;
    struct conntrack_conn *c = conntrack_of_socket(f->sock);
    if (c == NULL || ctx->cut || h1_stream_busy(&f->stream)) /* one streamed body per read, per request in flight */
        return false;
    uint64_t max = c->we->ep->globalconf.max_request_entity_size;
    if (p->n_te == 0) {
        if (p->cl_value <= rest_len || p->cl_value > max)
            return false;
    } else {
        /* a copy of the parser runs over the rest of this read, watching this
         * message only (pipelined requests may follow it) */
        struct h1_framing_parser t = *p;
        struct body_probe probe = {0};
        t.streaming = true;
        h1_framing_parse_hooks(&t, rest, rest_len, &probe_hooks, &probe);
        /* complete, but with a trailer section: streamed (h2o would drop the trailers) */
        bool trailers = probe.ended && probe.trailer_bytes > 2;
        if (!trailers && (probe.ended || !in_chunked_body(t.state)))
            return false;
    }
    rewrite_head(ctx, p);
    f->stream.owner = f;
    h1_stream_begin(&f->stream, p->n_te ? -1 : (int64_t)p->cl_value, p->heads, max);
    ctx->cut = true;
    ctx->cut_from = p->off + 1;
    return true;
}

static void on_body_data(void *_ctx, const char *bytes, size_t len)
{
    h1_stream_data(&((struct rewrite_ctx *)_ctx)->f->stream, bytes, len);
}

static void on_body_trailer(void *_ctx, char c)
{
    h1_stream_trailer(&((struct rewrite_ctx *)_ctx)->f->stream, c);
}

static void on_body_end(void *_ctx, uint64_t end)
{
    struct rewrite_ctx *ctx = _ctx;
    h1_stream_end(&ctx->f->stream);
    ctx->cut_to = end;
    ctx->cut_ended = true;
}

static const struct h1_framing_hooks hooks = {
    .rewrite = rewrite_length,
    .body_start = on_body_start,
    .body_data = on_body_data,
    .body_trailer = on_body_trailer,
    .body_end = on_body_end,
};

static void append(h2o_buffer_t **buf, const char *s, size_t len)
{
    h2o_buffer_reserve(buf, len);
    memcpy((*buf)->bytes + (*buf)->size, s, len);
    (*buf)->size += len;
}

/* A streamed body broke off (framing, the client left): a request that
 * waits for it is answered 400; else the connection is cut (h2o, not
 * reading, learns it when it writes). */
static void body_broken(struct h1_framing_conn *f)
{
    if (!h1_stream_broken(&f->stream))
        shutdown(h2o_socket_get_fd(f->sock), SHUT_RDWR);
}

/* The <n> bytes at the end of the input are new: follow them, then hide
 * what must wait, or cut and poison at an error. A streamed body's bytes
 * go to the stream and out of the input. */
static void filter(struct h1_framing_conn *f, size_t n)
{
    h2o_buffer_t **buf = &f->sock->input;
    if (f->p.state == H1F_ERROR) { /* after the poison nothing is h2o's any more */
        (*buf)->size -= n;
        return;
    }
    if (f->p.state == H1F_PASS || n == 0)
        return;
    if (f->hold_len != 0) { /* put the held bytes back in front of the new ones */
        h2o_buffer_reserve(buf, f->hold_len);
        char *fresh = (*buf)->bytes + (*buf)->size - n;
        memmove(fresh + f->hold_len, fresh, n);
        memcpy(fresh, f->hold, f->hold_len);
        (*buf)->size += f->hold_len;
        f->hold_len = 0;
    }
    uint64_t end = f->p.off + n;
    struct rewrite_ctx ctx = {.f = f, .end = end, .cut = f->p.streaming, .cut_from = f->p.off};
    bool ok = h1_framing_parse_hooks(&f->p, (*buf)->bytes + (*buf)->size - n, n, &hooks, &ctx);
    size_t cut_a = 0, cut_b = 0;
    if (ctx.cut) { /* before the tail changes below (they are all after it) */
        cut_a = index_of(f, end, ctx.cut_from);
        cut_b = ctx.cut_ended ? index_of(f, end, ctx.cut_to) : (*buf)->size;
    }
    if (ok) {
        if (h1_framing_holding(&f->p) && !f->p.streaming) {
            size_t at = index_of(f, end, f->p.hold_off);
            f->hold_len = (*buf)->size - at;
            if (f->hold_len != 0) {
                f->hold = realloc(f->hold, f->hold_len);
                if (f->hold == NULL)
                    abort();
                memcpy(f->hold, (*buf)->bytes + at, f->hold_len);
                (*buf)->size = at;
            }
        }
    } else if (f->p.streaming) {
        /* a streamed body broke its framing: its request already runs */
        body_broken(f);
    } else {
        /* Refused: cut at the error and add what makes h2o's parser fail right
         * there. In a head: its first byte becomes a control character and the
         * head is ended, so h2o parses it (it only does complete heads) and
         * answers 400. At a size line or a last chunk (held, so h2o is at a
         * line start expecting a hex digit): a non-hex byte. After chunk data
         * (h2o skips CRs, then wants LF): a byte that is neither. */
        switch (f->p.error_state) {
        case H1F_RLINE:
            (*buf)->bytes[index_of(f, end, f->p.head_off)] = '\x01';
            (*buf)->size = index_of(f, end, f->p.error_at);
            append(buf, "\r\n\r\n", 4);
            break;
        case H1F_CDCR:
        case H1F_CDLF:
            (*buf)->size = index_of(f, end, f->p.error_at);
            append(buf, "\x01", 1);
            break;
        default:
            (*buf)->size = index_of(f, end, f->p.hold_off);
            append(buf, "\x01", 1);
            break;
        }
    }
    if (ctx.cut && cut_b > cut_a) {
        if (cut_b > (*buf)->size)
            cut_b = (*buf)->size;
        memmove((*buf)->bytes + cut_a, (*buf)->bytes + cut_b, (*buf)->size - cut_b);
        (*buf)->size -= cut_b - cut_a;
    }
}

static void on_read(h2o_socket_t *sock, const char *err);
static void on_body_read(h2o_socket_t *sock, const char *err);
static void on_parked(h2o_socket_t *sock, const char *err);

/* Puts the wrapper in front of h2o's read callback, or waits (listed)
 * while h2o is not reading. */
static void arm(struct h1_framing_conn *f)
{
    h2o_socket_t *sock = f->sock;
    if (f->p.state == H1F_PASS) { /* HTTP/2, an upgrade: h2o's alone from now on */
        if (sock->_cb.read == on_read)
            sock->_cb.read = f->inner;
        return;
    }
    if (sock->_cb.read == on_read)
        return;
    if (sock->_cb.read == NULL && !f->p.streaming) {
        /* h2o stopped reading while it runs a request: the socket stays in
         * the loop's read set (parked), else stopping and starting again cost
         * two epoll_ctl calls a request; bytes that come meanwhile stop it */
        sock->_cb.read = on_parked;
        list_add(f);
        return;
    }
    if (sock->_cb.read == NULL || sock->_cb.read == on_body_read || sock->_cb.read == on_parked) {
        list_add(f); /* h2o reads again after its response */
        return;
    }
    f->inner = sock->_cb.read;
    sock->_cb.read = on_read;
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct conntrack_conn *c = conntrack_of_socket(sock);
    struct h1_framing_conn *f = c->framing;
    if (err == NULL)
        filter(f, sock->bytes_read);
    else
        tls_peer_gone(sock); /* h2o closes on a read error */
    f->inner(sock, err);
    if (!f->closed)
        arm(f);
}

/* Bytes (or the end) came while h2o was not reading: followed as h2o
 * would have read them, then really stopped until h2o reads again; it
 * finds them in the input. */
static void on_parked(h2o_socket_t *sock, const char *err)
{
    struct h1_framing_conn *f = conntrack_of_socket(sock)->framing;
    if (err == NULL)
        filter(f, sock->bytes_read);
    h2o_socket_read_stop(sock);
}

/* While h2o runs a request it does not read: a streamed body is read
 * here, until it is in, or the consumer holds it back. */
static void update_reading(struct h1_framing_conn *f)
{
    bool hold = h1_stream_hold_reading(&f->stream);
    f->stream.paused = hold && f->p.streaming;
    if ((hold || !f->p.streaming) && f->sock->_cb.read == on_body_read)
        h2o_socket_read_stop(f->sock);
}

static void on_body_read(h2o_socket_t *sock, const char *err)
{
    struct h1_framing_conn *f = conntrack_of_socket(sock)->framing;
    if (err != NULL) {
        h2o_socket_read_stop(sock);
        if (f->p.streaming) /* the client left before the end of the body */
            body_broken(f);
    } else {
        filter(f, sock->bytes_read);
        update_reading(f);
    }
    h1_stream_changed(&f->stream);
}

void h1_framing_resume(struct h1_framing_conn *f)
{
    if (f->closed || !f->p.streaming || h1_stream_hold_reading(&f->stream))
        return;
    f->stream.paused = false;
    if (f->sock->_cb.read == NULL || f->sock->_cb.read == on_parked) { /* else h2o reads (and the framing drops the rest) */
        h2o_socket_read_start(f->sock, on_body_read);
        list_add(f);
    }
}

struct h1_stream *h1_framing_stream(struct h1_framing_conn *f)
{
    return &f->stream;
}

struct h1_framing_conn *h1_framing_attach(h2o_socket_t *sock)
{
    struct h1_framing_conn *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->sock = sock;
    f->p.state = H1F_LINE0;
    filter(f, sock->input->size);
    return f;
}

void h1_framing_arm(struct h1_framing_conn *f)
{
    if (!f->closed)
        arm(f);
}

void h1_framing_closed(struct h1_framing_conn *f)
{
    h2o_timeout_unlink(&f->handshake_deadline);
    h1_stream_dispose(&f->stream);
    f->closed = true;
    list_add(f);
}

void h1_framing_rearm(void)
{
    struct h1_framing_conn *l = rearm_list;
    rearm_list = NULL;
    while (l != NULL) {
        struct h1_framing_conn *f = l;
        l = l->next;
        f->listed = false;
        if (f->closed) {
            free(f->hold);
            free(f);
            continue;
        }
        arm(f);
    }
}

/* ---- TLS ---- */

/* libh2o's handshake timeout, as h2o_accept would have applied it */
static void on_handshake_deadline(h2o_timeout_entry_t *entry)
{
    struct h1_framing_conn *f = H2O_STRUCT_FROM_MEMBER(struct h1_framing_conn, handshake_deadline, entry);
    h2o_socket_close(f->sock); /* on_close: h1_framing_closed */
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    struct h1_framing_conn *f = conntrack_of_socket(sock)->framing;
    h2o_timeout_unlink(&f->handshake_deadline);
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len != 0; id++) {
        if (proto.len == id->len && memcmp(proto.base, id->base, proto.len) == 0) {
            struct conntrack_conn *c = conntrack_of_socket(sock);
            f->p.state = H1F_PASS;
            h2_server_accept(c->we, c, sock);
            return;
        }
    }
    /* the first decrypted bytes are already in the input: follow them
     * before h2o_http1_accept parses them */
    filter(f, sock->input->size);
    h2o_http1_accept(f->accept_ctx, sock, f->connected_at);
    if (!f->closed)
        arm(f);
}

struct h1_framing_conn *h1_framing_accept_tls(h2o_accept_ctx_t *ctx, h2o_socket_t *sock)
{
    struct h1_framing_conn *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->sock = sock;
    f->p.state = H1F_LINE0;
    f->accept_ctx = ctx;
    f->connected_at = *h2o_get_timestamp(ctx->ctx, NULL, NULL);
    f->handshake_deadline.cb = on_handshake_deadline;
    h2o_timeout_link(ctx->ctx->loop, &ctx->ctx->handshake_timeout, &f->handshake_deadline);
    return f;
}

void h1_framing_handshake(struct h1_framing_conn *f)
{
    h2o_socket_ssl_handshake(f->sock, f->accept_ctx->ssl_ctx, NULL, on_handshake);
}
