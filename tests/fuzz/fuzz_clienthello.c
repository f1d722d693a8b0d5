/*
 * libFuzzer target: the TLS ClientHello reader (proxy/tcp/clienthello.c) that
 * routes TCP connections by SNI. Any bytes must give a verdict; a name,
 * when found, is a valid lowercased host name; and a verdict on a prefix is
 * never contradicted by the whole (NEED_MORE can only become something
 * else, OK and INVALID are final).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/tcp/clienthello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct clienthello h;
    enum clienthello_result whole = clienthello_parse(data, size, &h);
    if (whole == CLIENTHELLO_INVALID && (h.error == NULL || h.error[0] == '\0'))
        abort(); /* an invalid hello always says why */
    if (whole == CLIENTHELLO_OK) {
        if (h.sni_len > CLIENTHELLO_MAX_NAME || strlen(h.sni) != h.sni_len)
            abort();
        for (size_t i = 0; i < h.sni_len; i++) {
            char c = h.sni[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
                abort();
        }
    }
    if (size > 1) {
        enum clienthello_result prefix = clienthello_parse(data, size / 2, &h);
        if ((prefix == CLIENTHELLO_OK || prefix == CLIENTHELLO_INVALID || prefix == CLIENTHELLO_NOT_TLS) &&
            prefix != whole)
            abort();
    }
    return 0;
}
