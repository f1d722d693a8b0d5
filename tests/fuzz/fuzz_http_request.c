/*
 * libFuzzer target: what Gantry decides about a request before routing:
 * path normalisation (every allow-flag combination chosen by the first
 * byte) and the HTTP/1 head checks against smuggling.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/path.h"
#include "../../proxy/request_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned allow = data[0] & 0x7f;
    bool sanitize = (data[0] & 0x80) == 0;
    const char *p = (const char *)data + 1;
    size_t len = size - 1;
    (void)request_check_h1_head(p, len);
    char *out = malloc(len + 1);
    size_t n;
    if (path_normalize(p, len, allow, sanitize, out, &n) == NULL) {
        if (n > len + 1 || n == 0 || out[0] != '/')
            abort();
        if (sanitize) { /* no dot segment survives, and the result is stable */
            for (size_t i = 0; i + 1 < n; i++)
                if (out[i] == '/' && out[i + 1] == '/')
                    abort();
            char *again = malloc(n + 1);
            size_t m;
            if (path_normalize(out, n, allow, sanitize, again, &m) != NULL || m != n || memcmp(again, out, n) != 0)
                abort();
            free(again);
        }
        char *dec = malloc(n);
        if (path_decode(out, n, dec) > n)
            abort();
        free(dec);
    }
    free(out);
    (void)path_is_plain(p, len);
    return 0;
}
