/*
 * Bounded response bodies (see curl_body.h).
 */
#include "curl_body.h"

#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"

size_t curl_body_write(char *p, size_t size, size_t n, void *body)
{
    struct curl_body *b = body;
    size_t len = size * n;
    if (b->len + len > b->max) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->data = mem_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

void curl_body_reset(struct curl_body *b, size_t max)
{
    free(b->data);
    *b = (struct curl_body){.max = max};
}

size_t curl_body_discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}
