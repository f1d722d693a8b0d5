/*
 * Bounded response bodies (see curl_body.h).
 */
#include "curl_body.h"

size_t curl_body_write(char *p, size_t size, size_t n, void *body)
{
    struct curl_body *b = body;
    size_t len = size * n;
    if (buf_append(&b->buf, p, len) != 0) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    return len;
}

void curl_body_reset(struct curl_body *b, size_t max)
{
    buf_free(&b->buf);
    buf_init(&b->buf, max);
    b->too_big = false;
}

size_t curl_body_discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}
