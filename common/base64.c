/*
 * Base64 decoding (see base64.h), on OpenSSL's block decoder.
 */
#include "base64.h"

#include <openssl/evp.h>

bool base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
    if (n % 4 != 0)
        return false;
    int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0)
        return false;
    size_t len = (size_t)r; /* EVP_DecodeBlock counts the padding's zero bytes */
    for (size_t i = n; i > 0 && in[i - 1] == '='; i--)
        len--;
    out[len] = '\0';
    *out_len = len;
    return true;
}
