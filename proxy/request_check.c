/*
 * Requests refused before routing (see request_check.h).
 *
 * libh2o 2.2.5 takes Transfer-Encoding over Content-Length, the first of
 * two Content-Lengths, and the last of two Transfer-Encodings; it turns an
 * obs-folded line into a header without a name; over HTTP/2 it does not
 * check :method, :path or :authority for spaces and line breaks. Gantry
 * re-frames every request it forwards, but refuses all of these: an
 * ambiguous request is an attack or a broken client, and the backend must
 * never see bytes it could split differently.
 */
#include "request_check.h"

#include <stdbool.h>
#include <string.h>

#include "../common/ascii.h"

#define H1_HEAD_MAX H2O_MAX_REQLEN /* h2o refuses longer heads: a complete one is all in the input */

/* RFC 9110 tchar */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool visible(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* bytes an authority must not carry: controls, space, DEL, and the
 * delimiters that would make a part of it a path, query, fragment or
 * user info */
static const bool authority_refused[256] = {[0 ... 0x20] = true, [0x7f] = true, ['/'] = true, ['\\'] = true,
                                            ['?'] = true,        ['#'] = true,   ['@'] = true};

static bool valid_authority(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (authority_refused[(unsigned char)s[i]])
            return false;
    return true;
}

/* <name> is lowercase */
static bool name_is(const char *line, size_t len, const char *name, size_t n)
{
    return len > n && line[n] == ':' && ascii_caseeq(line, name, n);
}

struct head_counts {
    unsigned cl, te, host;
};

/* Counts the framing and Host header lines of a raw head; NULL, or why
 * the head is refused on its own (obs-fold). */
static const char *scan_head(const char *head, size_t len, struct head_counts *n)
{
    const char *p = memchr(head, '\n', len), *end = head + len;
    unsigned cl = 0, te = 0, host = 0;
    *n = (struct head_counts){0, 0, 0};
    while (p != NULL && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = (eol ? eol : end) - p;
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (l == 0)
            break; /* the blank line: end of the head */
        if (p[0] == ' ' || p[0] == '\t')
            return "obs-fold (a header continued on the next line) is not accepted";
        if (name_is(p, l, "content-length", 14))
            cl++;
        else if (name_is(p, l, "transfer-encoding", 17))
            te++;
        else if (name_is(p, l, "host", 4))
            host++;
        p = eol;
    }
    *n = (struct head_counts){cl, te, host};
    return NULL;
}

static const char *check_head(const char *head, size_t len, struct head_counts *counts)
{
    struct head_counts n;
    const char *bad = scan_head(head, len, &n);
    *counts = n;
    unsigned cl = n.cl, te = n.te;
    if (bad != NULL)
        return bad;
    if (cl > 1)
        return "more than one Content-Length";
    if (cl && te)
        return "both Content-Length and Transfer-Encoding";
    if (te > 1)
        return "more than one Transfer-Encoding";
    /* RFC 9112 3.2: exactly one Host (h2o keeps the last of several) */
    if (n.host > 1)
        return "more than one Host";
    return NULL;
}

const char *request_check_h1_head(const char *head, size_t len)
{
    struct head_counts n;
    return check_head(head, len, &n);
}

/* The raw head of an HTTP/1 request, still at the start of the input
 * (h2o consumes it only when the request ends), with or without a body. */
static const char *h1_head_problem(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->input == NULL)
        return NULL;
    size_t n = sock->input->size < H1_HEAD_MAX ? sock->input->size : H1_HEAD_MAX;
    const char *head = sock->input->bytes, *end = head + n, *blank = NULL;
    /* the first empty line: one pass, the body after it is not scanned */
    for (const char *p = memchr(head, '\n', n); p != NULL && p + 1 < end; p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
        if (p[1] == '\n' || (p[1] == '\r' && p + 2 < end && p[2] == '\n')) {
            blank = p;
            break;
        }
    }
    if (blank == NULL)
        return NULL;
    size_t len = (size_t)(blank - head) + 1;
    struct head_counts counts;
    const char *bad = check_head(head, len, &counts);
    if (bad != NULL)
        return bad;
    if (counts.host == 0 && req->version >= 0x101)
        return "missing Host"; /* RFC 9112 3.2: HTTP/1.1 requests carry one; HTTP/1.0 may not */
    return NULL;
}

/* host[:port] without a default port, compared case-insensitively */
static bool same_host(h2o_iovec_t a, h2o_iovec_t b, bool https)
{
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (a.len > dl && memcmp(a.base + a.len - dl, dflt, dl) == 0)
        a.len -= dl;
    if (b.len > dl && memcmp(b.base + b.len - dl, dflt, dl) == 0)
        b.len -= dl;
    return a.len == b.len && strncasecmp(a.base, b.base, a.len) == 0;
}

/* An absolute-form target decides the host (RFC 9112 3.2.2); a Host header
 * that names another is refused rather than silently replaced. */
static const char *absolute_form_problem(const h2o_req_t *req)
{
    const char *s = req->path.base;
    size_t len = req->path.len, skip = 0;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    if (skip == 0 || req->authority.len == 0)
        return NULL;
    size_t e = skip;
    while (e < len && s[e] != '/' && s[e] != '?')
        e++;
    if (!same_host(h2o_iovec_init(s + skip, e - skip), req->authority, skip == 8))
        return "the Host header does not match the request target";
    return NULL;
}

bool request_check_method_allowed(const h2o_req_t *req, bool allow_trace)
{
    /* TRACE echoes the request (cookies, credentials added by proxies on
     * the way) back to the client; TRACK is IIS's alias of it */
    return allow_trace || !(h2o_memis(req->method.base, req->method.len, H2O_STRLIT("TRACE")) ||
                            h2o_memis(req->method.base, req->method.len, H2O_STRLIT("TRACK")));
}

const char *request_check(h2o_req_t *req)
{
    for (size_t i = 0; i < req->method.len; i++)
        if (!tchar((unsigned char)req->method.base[i]))
            return "invalid method";
    if (req->method.len == 0)
        return "invalid method";
    if (!visible(req->path.base, req->path.len))
        return "control character or space in the request target";
    if (!valid_authority(req->authority.base, req->authority.len))
        return "invalid host";
    for (size_t i = 0; i < req->headers.size; i++)
        if (req->headers.entries[i].name->len == 0)
            return "obs-fold (a header continued on the next line) is not accepted";
    if (req->version < 0x200) {
        const char *bad = h1_head_problem(req);
        if (bad == NULL && req->path.len > 0 && req->path.base[0] != '/')
            bad = absolute_form_problem(req);
        return bad;
    }
    return NULL;
}
