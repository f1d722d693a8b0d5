/*
 * The first lines of every HTTP/1.1 response, written without printf.
 *
 * libh2o 2.2.5 starts each HTTP/1 response head (flatten_headers in
 * lib/http1.c) with one sprintf of "HTTP/1.1 %d %s\r\nDate: %s\r\n
 * Connection: %s\r\n[Content-Length: %zu\r\n]". Built with
 * _FORTIFY_SOURCE, as Debian builds it, that call is __sprintf_chk, and
 * glibc's vfprintf spends ~2,200 instructions on it: 13 % of a proxied
 * HTTP/1.1 request (callgrind, bench/request_cost.sh), 20 % of a redirect.
 *
 * The gantry executable defines __sprintf_chk; the dynamic linker binds
 * libh2o's call to it (an executable's symbols come before libc's, as for
 * a malloc replacement). The two formats libh2o uses are written here;
 * every other call, and any argument this code does not handle exactly as
 * glibc would (a NULL string, a negative status, a head longer than the
 * destination), goes to glibc's __vsprintf_chk unchanged. The formats are
 * compared by content, so another libh2o build only loses the shortcut.
 * This file is linked into the executable itself (CMakeLists.txt): a
 * static library member would never be pulled in by a shared library's
 * reference.
 */
#include "h1_head_format.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

int __vsprintf_chk(char *restrict s, int flag, size_t slen, const char *restrict format, va_list ap);
int __sprintf_chk(char *restrict s, int flag, size_t slen, const char *restrict format, ...);

const char h1_head_format_with_length[] = "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\nContent-Length: %zu\r\n";
const char h1_head_format_without_length[] = "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\n";

static size_t digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_decimal(char *d, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v /= 10)
        d[i] = (char)('0' + v % 10);
    return d + n;
}

static char *put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

int h1_head_format(char *dst, size_t dst_size, int status, const char *reason, const char *date, const char *connection,
                   const size_t *content_length)
{
    if (status < 0 || reason == NULL || date == NULL || connection == NULL)
        return -1;
    size_t status_len = digits((uint64_t)status), reason_len = strlen(reason), date_len = strlen(date),
           connection_len = strlen(connection);
    size_t length_len = content_length ? digits(*content_length) : 0;
    size_t total = sizeof("HTTP/1.1 ") - 1 + status_len + 1 + reason_len + 2 + sizeof("Date: ") - 1 + date_len + 2 +
                   sizeof("Connection: ") - 1 + connection_len + 2 +
                   (content_length ? sizeof("Content-Length: ") - 1 + length_len + 2 : 0);
    if (total >= dst_size || total > INT32_MAX)
        return -1;
    char *d = put(dst, "HTTP/1.1 ", 9);
    d = put_decimal(d, (uint64_t)status, status_len);
    *d++ = ' ';
    d = put(d, reason, reason_len);
    d = put(d, "\r\nDate: ", 8);
    d = put(d, date, date_len);
    d = put(d, "\r\nConnection: ", 14);
    d = put(d, connection, connection_len);
    d = put(d, "\r\n", 2);
    if (content_length != NULL) {
        d = put(d, "Content-Length: ", 16);
        d = put_decimal(d, *content_length, length_len);
        d = put(d, "\r\n", 2);
    }
    *d = '\0';
    return (int)total;
}

int __sprintf_chk(char *restrict s, int flag, size_t slen, const char *restrict format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = -1;
    if (format[0] == 'H') {
        bool with_length = strcmp(format, h1_head_format_with_length) == 0;
        if (with_length || strcmp(format, h1_head_format_without_length) == 0) {
            va_list args;
            va_copy(args, ap);
            int status = va_arg(args, int);
            const char *reason = va_arg(args, const char *);
            const char *date = va_arg(args, const char *);
            const char *connection = va_arg(args, const char *);
            size_t length = with_length ? va_arg(args, size_t) : 0;
            va_end(args);
            n = h1_head_format(s, slen, status, reason, date, connection, with_length ? &length : NULL);
        }
    }
    if (n < 0)
        n = __vsprintf_chk(s, flag, slen, format, ap);
    va_end(ap);
    return n;
}
