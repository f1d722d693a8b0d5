/*
 * Request path normalisation (see path.h).
 */
#include "path.h"

#include <string.h>

int path_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

unsigned path_guard_flag(unsigned char c)
{
    switch (c) {
    case '/':
        return PATH_ALLOW_SLASH;
    case '\\':
        return PATH_ALLOW_BACKSLASH;
    case 0:
        return PATH_ALLOW_NUL;
    case ';':
        return PATH_ALLOW_SEMICOLON;
    case '%':
        return PATH_ALLOW_PERCENT;
    case '?':
        return PATH_ALLOW_QUESTION;
    case '#':
        return PATH_ALLOW_HASH;
    }
    return 0;
}

static const char *guarded_name(unsigned flag)
{
    switch (flag) {
    case PATH_ALLOW_SLASH:
        return "an encoded slash (%2F) in the path is not allowed";
    case PATH_ALLOW_BACKSLASH:
        return "an encoded backslash (%5C) in the path is not allowed";
    case PATH_ALLOW_NUL:
        return "an encoded NUL (%00) in the path is not allowed";
    case PATH_ALLOW_SEMICOLON:
        return "an encoded semicolon (%3B) in the path is not allowed";
    case PATH_ALLOW_PERCENT:
        return "an encoded percent sign (%25) in the path is not allowed";
    case PATH_ALLOW_QUESTION:
        return "an encoded question mark (%3F) in the path is not allowed";
    default:
        return "an encoded hash (%23) in the path is not allowed";
    }
}

/* path_is_plain's bytes: 1 refuses the path; 2 ('/') looks at the next */
static const unsigned char plain_class[256] = {[0 ... 0x20] = 1, ['%'] = 1, ['\\'] = 1, [0x7f] = 1, ['/'] = 2};

bool path_is_plain(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char k = plain_class[(unsigned char)p[i]];
        if (k == 0)
            continue;
        if (k == 1 || (i + 1 < len && (p[i + 1] == '/' || p[i + 1] == '.')))
            return false;
    }
    return true;
}

/* Percent-decoding of unreserved characters; refuses guarded ones. */
static const char *decode_unreserved(const char *p, size_t len, unsigned allow, char *out, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f)
            return "control character or space in the path";
        /* some backends (IIS, Windows file servers) take it for '/' */
        if (c == '\\' && !(allow & PATH_ALLOW_BACKSLASH))
            return "a backslash in the path is not allowed";
        if (c != '%') {
            out[n++] = (char)c;
            continue;
        }
        int hi = i + 2 < len ? path_hex_digit(p[i + 1]) : -1, lo = i + 2 < len ? path_hex_digit(p[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return "invalid percent-encoding in the path";
        unsigned char v = (unsigned char)(hi << 4 | lo);
        i += 2;
        if (unreserved(v)) {
            out[n++] = (char)v;
            continue;
        }
        unsigned flag = path_guard_flag(v);
        if (flag && !(allow & flag))
            return guarded_name(flag);
        static const char digits[] = "0123456789ABCDEF";
        out[n++] = '%';
        out[n++] = digits[v >> 4];
        out[n++] = digits[v & 15];
    }
    *out_len = n;
    return NULL;
}

/* RFC 3986 5.2.4 on an absolute path, in place, also merging "//". */
static size_t remove_dot_segments(char *buf, size_t len)
{
    size_t in = 1, out = 1; /* buf[0] == '/' is kept */
    while (in < len) {
        size_t end = in;
        while (end < len && buf[end] != '/')
            end++;
        size_t seg = end - in;
        bool slash_after = end < len;
        if (seg == 0 || (seg == 1 && buf[in] == '.')) {
            /* "//" or "/./": nothing to keep */
        } else if (seg == 2 && buf[in] == '.' && buf[in + 1] == '.') {
            if (out > 1) { /* drop the last kept segment (out is after its '/') */
                out--;
                while (out > 1 && buf[out - 1] != '/')
                    out--;
            }
        } else {
            memmove(buf + out, buf + in, seg);
            out += seg;
            if (slash_after)
                buf[out++] = '/';
        }
        in = end + 1;
    }
    return out;
}

/* A "." or ".." segment followed by parameters ("/..;/", "/.;x/"): not a
 * dot segment for RFC 3986 5.2.4, so it is not resolved here, but servlet
 * containers (Tomcat, Jetty) drop the parameters and then resolve it: the
 * backend would reach a path the router never matched. */
static bool dot_segment_with_parameters(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '/')
            continue;
        size_t j = i + 1;
        if (j < len && p[j] == '.')
            j++;
        else
            continue;
        if (j < len && p[j] == '.')
            j++;
        if (j < len && p[j] == ';')
            return true;
    }
    return false;
}

const char *path_normalize(const char *path, size_t len, unsigned allow, bool sanitize, char *out, size_t *out_len)
{
    if (len == 0 || path[0] != '/')
        return "the path must start with /";
    const char *err = decode_unreserved(path, len, allow, out, out_len);
    if (err != NULL)
        return err;
    if (sanitize && dot_segment_with_parameters(out, *out_len))
        return "a dot segment with parameters (/..;/) in the path is not allowed";
    if (sanitize)
        *out_len = remove_dot_segments(out, *out_len);
    return NULL;
}

size_t path_decode(const char *p, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < len && (hi = path_hex_digit(p[i + 1])) >= 0 && (lo = path_hex_digit(p[i + 2])) >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = p[i];
        }
    }
    return n;
}
