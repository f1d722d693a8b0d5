/* gRPC helpers (see grpc.h). */
#include "grpc.h"

#include <string.h>

bool grpc_is_request(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 16 || !h2o_lcstris(v.base, 16, H2O_STRLIT("application/grpc")))
        return false;
    return v.len == 16 || v.base[16] == '+' || v.base[16] == ';';
}

int64_t grpc_timeout_ms(const char *v, size_t len)
{
    if (len < 2 || len > 9)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    switch (v[len - 1]) {
    case 'H':
        return n * 3600000;
    case 'M':
        return n * 60000;
    case 'S':
        return n * 1000;
    case 'm':
        return n;
    case 'u':
        return (n + 999) / 1000;
    case 'n':
        return (n + 999999) / 1000000;
    default:
        return -1;
    }
}

int grpc_status_of_http(int http_status)
{
    return http_status == 504 ? GRPC_DEADLINE_EXCEEDED : GRPC_UNAVAILABLE;
}

void grpc_error_head(h2o_req_t *req, int grpc_status, const char *message)
{
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = SIZE_MAX;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/grpc"));
    char *st = h2o_mem_alloc_pool(&req->pool, 8);
    int n = snprintf(st, 8, "%d", grpc_status);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-status"), 0, NULL, st, (size_t)n);
    /* grpc-message is percent-encoded (gRPC over HTTP/2, "Responses") */
    size_t len = strlen(message), k = 0;
    char *enc = h2o_mem_alloc_pool(&req->pool, len * 3 + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)message[i];
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            enc[k++] = (char)c;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            enc[k++] = '%';
            enc[k++] = hex[c >> 4];
            enc[k++] = hex[c & 15];
        }
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-message"), 0, NULL, enc, k);
}
