/*
 * libFuzzer target: the PROXY protocol header reader (proxy/proxy_header.c)
 * of entry points with proxyProtocol. Any bytes must give a verdict; a
 * header never claims more bytes than it was given; a source, when there is
 * one, is IPv4 or IPv6; and a verdict on a prefix is never contradicted by
 * the whole (NEED_MORE can only become something else, NONE, OK and
 * INVALID are final).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../../proxy/proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h;
    enum proxy_header_result whole = proxy_header_parse(data, size, &h);
    if (whole == PROXY_HEADER_OK) {
        if (h.len == 0 || h.len > size)
            abort();
        if (h.has_source && h.source.ss_family != AF_INET && h.source.ss_family != AF_INET6)
            abort();
    }
    for (size_t cut = 0; cut < size; cut += 1 + size / 8) {
        struct proxy_header p;
        enum proxy_header_result prefix = proxy_header_parse(data, cut, &p);
        if (prefix != PROXY_HEADER_NEED_MORE && prefix != whole)
            abort();
        if (prefix == PROXY_HEADER_OK && p.len != h.len)
            abort();
    }
    return 0;
}
