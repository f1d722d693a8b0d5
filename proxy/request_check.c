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

#define H1_HEAD_MAX 8192 /* H2O_MAX_REQLEN: h2o refuses longer heads */

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

static bool valid_authority(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '?' || c == '#' || c == '@')
            return false;
    }
    return true;
}

static bool name_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

const char *request_check_h1_head(const char *head, size_t len)
{
    const char *p = memchr(head, '\n', len), *end = head + len;
    unsigned cl = 0, te = 0;
    while (p != NULL && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = (eol ? eol : end) - p;
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (l == 0)
            break; /* the blank line: end of the head */
        if (p[0] == ' ' || p[0] == '\t')
            return "obs-fold (a header continued on the next line) is not accepted";
        if (name_is(p, l, "content-length"))
            cl++;
        else if (name_is(p, l, "transfer-encoding"))
            te++;
        p = eol;
    }
    if (cl > 1)
        return "more than one Content-Length";
    if (cl && te)
        return "both Content-Length and Transfer-Encoding";
    if (te > 1)
        return "more than one Transfer-Encoding";
    return NULL;
}

/* The raw head of an HTTP/1 request, still at the start of the input. */
static const char *h1_head_problem(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->input == NULL)
        return NULL;
    size_t n = sock->input->size < H1_HEAD_MAX ? sock->input->size : H1_HEAD_MAX;
    const char *head = sock->input->bytes;
    const char *blank = memmem(head, n, "\n\r\n", 3);
    const char *blank2 = memmem(head, n, "\n\n", 2);
    if (blank == NULL || (blank2 != NULL && blank2 < blank))
        blank = blank2;
    if (blank == NULL)
        return NULL;
    return request_check_h1_head(head, (size_t)(blank - head) + 1);
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
    /* h2o only keeps the framing headers of HTTP/1 requests with a body */
    if (req->version < 0x200 && req->entity.base != NULL)
        return h1_head_problem(req);
    return NULL;
}
