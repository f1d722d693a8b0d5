/* gRPC-Web framing and base64 (see grpc_web_codec.h). */
#include "grpc_web_codec.h"

#include <openssl/evp.h>
#include <string.h>

enum grpc_web_kind grpc_web_kind_of(h2o_iovec_t ct, h2o_iovec_t *suffix)
{
    static const char base[] = "application/grpc-web", text[] = "-text";
    size_t blen = sizeof(base) - 1, tlen = sizeof(text) - 1;
    if (ct.len < blen || !h2o_lcstris(ct.base, blen, base, blen))
        return GRPC_WEB_NONE;
    enum grpc_web_kind kind = GRPC_WEB_BINARY;
    size_t at = blen;
    if (ct.len >= at + tlen && h2o_lcstris(ct.base + at, tlen, text, tlen)) {
        kind = GRPC_WEB_TEXT;
        at += tlen;
    }
    if (at != ct.len && ct.base[at] != '+' && ct.base[at] != ';' && ct.base[at] != ' ')
        return GRPC_WEB_NONE; /* application/grpc-webby */
    *suffix = h2o_iovec_init(ct.base + at, ct.len - at);
    return kind;
}

h2o_iovec_t grpc_web_trailer_frame(h2o_mem_pool_t *pool, const h2o_headers_t *trailers)
{
    size_t len = 0;
    for (size_t i = 0; i < trailers->size; i++)
        len += trailers->entries[i].name->len + 2 + trailers->entries[i].value.len + 2;
    char *p = h2o_mem_alloc_pool(pool, 5 + len);
    p[0] = (char)0x80;
    p[1] = (char)(len >> 24), p[2] = (char)(len >> 16), p[3] = (char)(len >> 8), p[4] = (char)len;
    size_t k = 5;
    for (size_t i = 0; i < trailers->size; i++) {
        const h2o_header_t *h = &trailers->entries[i];
        memcpy(p + k, h->name->base, h->name->len);
        h2o_strtolower(p + k, h->name->len); /* the spec asks for lower-case names */
        k += h->name->len;
        memcpy(p + k, ": ", 2), k += 2;
        memcpy(p + k, h->value.base, h->value.len), k += h->value.len;
        memcpy(p + k, "\r\n", 2), k += 2;
    }
    return h2o_iovec_init(p, k);
}

size_t grpc_web_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t grpc_web_b64_encode(const void *in, size_t n, char *out)
{
    /* EVP_EncodeBlock takes an int: large inputs in slices (multiples of 3) */
    size_t k = 0;
    const unsigned char *p = in;
    while (n != 0) {
        size_t take = n > 3 * (1u << 28) ? 3 * (1u << 28) : n;
        k += (size_t)EVP_EncodeBlock((unsigned char *)out + k, p, (int)take);
        p += take, n -= take;
    }
    out[k] = '\0';
    return k;
}

long grpc_web_b64_decode(const char *in, size_t n, unsigned char *out)
{
    char group[4];
    size_t g = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                  (c == '=' && g >= 2);
        if (!ok || (g == 3 && group[2] == '=' && c != '='))
            return -1;
        group[g++] = c;
        if (g < 4)
            continue;
        int pad = (group[3] == '=') + (group[2] == '=');
        if (EVP_DecodeBlock(out + k, (const unsigned char *)group, 4) != 3)
            return -1;
        k += 3 - (size_t)pad;
        g = 0;
    }
    return g == 0 ? (long)k : -1;
}
