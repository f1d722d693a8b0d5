/* Tests proxy/h2_guard.c: the classification of HTTP/2 frames that carry
 * no progress (the flood budget counts them), at the boundary of each
 * rule, and the scanner that sees each frame once however the client's
 * bytes are split into reads. */
#include "../../../proxy/h2_guard.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

static size_t put_frame(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid, const void *payload)
{
    p[0] = (uint8_t)(len >> 16), p[1] = (uint8_t)(len >> 8), p[2] = (uint8_t)len;
    p[3] = type, p[4] = flags;
    p[5] = (uint8_t)(sid >> 24), p[6] = (uint8_t)(sid >> 16), p[7] = (uint8_t)(sid >> 8), p[8] = (uint8_t)sid;
    if (len)
        memcpy(p + 9, payload, len);
    return 9 + len;
}

/* Feeds <stream> cut at <cuts>; idle, small DATA and requests packed as
 * idle + 100 * small + 10000 * requests. */
static uint32_t feed(const uint8_t *stream, const size_t *cuts, size_t n_cuts)
{
    struct h2_frame_scanner sc;
    h2_frame_scanner_init(&sc);
    struct h2_frame_counts n = {0, 0, 0};
    size_t at = 0;
    for (size_t i = 0; i < n_cuts; i++) {
        h2_frame_scanner_feed(&sc, stream + at, cuts[i] - at, &n);
        at = cuts[i];
    }
    return n.idle + 100 * n.small + 10000 * n.requests;
}

static void scanner_tests(void)
{
    uint8_t stream[1024], big[300] = {0};
    size_t n = 0;
    memcpy(stream, PREFACE, 24);
    n = 24;
    n += put_frame(stream + n, 0, 4, 0, 0, NULL);            /* SETTINGS: idle */
    n += put_frame(stream + n, 3, 1, 4, 1, "\x82\x84\x86");   /* HEADERS: progress */
    n += put_frame(stream + n, 0, 0, 0, 1, NULL);            /* empty DATA: idle */
    n += put_frame(stream + n, 200, 0, 0, 1, big);           /* DATA 200: progress */
    uint8_t wu[4] = {0, 0, 0, 1};
    n += put_frame(stream + n, 4, 8, 0, 0, wu);              /* WINDOW_UPDATE 1: idle */
    uint8_t wu2[4] = {0, 1, 0, 0};
    n += put_frame(stream + n, 4, 8, 0, 1, wu2);             /* WINDOW_UPDATE 65536: progress */
    n += put_frame(stream + n, 8, 6, 0, 0, "12345678");      /* PING: idle */
    n += put_frame(stream + n, 1, 0, 1, 1, "x");             /* DATA END_STREAM: progress */
    n += put_frame(stream + n, 5, 0, 0, 3, "hello");         /* short DATA: small */
    const uint32_t want = 4 + 100 * 1 + 10000 * 1;
    size_t whole[1] = {n};
    CHECK(feed(stream, whole, 1) == want);
    int all_ok = 1;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b < n; b += (a % 5) + 1) {
            size_t cuts[3] = {a, b, n};
            if (feed(stream, cuts, 3) != want) {
                if (all_ok)
                    fprintf(stderr, "split at %zu, %zu: wrong count\n", a, b);
                all_ok = 0;
            }
        }
    CHECK(all_ok);
    size_t *bytes = malloc(n * sizeof(*bytes)); /* one byte per read */
    for (size_t i = 0; i < n; i++)
        bytes[i] = i + 1;
    CHECK(feed(stream, bytes, n) == want);
    free(bytes);
}

int main(void)
{
    scanner_tests();
    /* DATA: short and not the end of the body */
    CHECK(h2_guard_frame_is_idle(H2F_DATA, 0, 127, 0));
    CHECK(!h2_guard_frame_is_idle(H2F_DATA, 0, 128, 0));
    CHECK(!h2_guard_frame_is_idle(H2F_DATA, 0x1, 1, 0)); /* END_STREAM: the body is complete */
    CHECK(h2_guard_frame_is_idle(H2F_DATA, 0x8, 0, 0));  /* padded, empty */
    /* HEADERS: only an empty block opens nothing */
    CHECK(h2_guard_frame_is_idle(H2F_HEADERS, 0x4, 0, 0));
    CHECK(!h2_guard_frame_is_idle(H2F_HEADERS, 0x4, 1, 0));
    /* CONTINUATION: short ones (the CONTINUATION flood) */
    CHECK(h2_guard_frame_is_idle(H2F_CONTINUATION, 0, 1, 0));
    CHECK(h2_guard_frame_is_idle(H2F_CONTINUATION, 0, 127, 0));
    CHECK(!h2_guard_frame_is_idle(H2F_CONTINUATION, 0, 200, 0));
    /* WINDOW_UPDATE: small increments */
    CHECK(h2_guard_frame_is_idle(H2F_WINDOW_UPDATE, 0, 4, 1023));
    CHECK(!h2_guard_frame_is_idle(H2F_WINDOW_UPDATE, 0, 4, 1024));
    CHECK(h2_guard_frame_is_idle(H2F_WINDOW_UPDATE, 0, 5, 1 << 20)); /* malformed */
    /* RST_STREAM: the Rapid Reset rule's, not this budget's */
    CHECK(!h2_guard_frame_is_idle(H2F_RST_STREAM, 0, 4, 0));
    /* control frames and unknown types */
    CHECK(h2_guard_frame_is_idle(H2F_PING, 0, 8, 0));
    CHECK(h2_guard_frame_is_idle(H2F_SETTINGS, 0, 0, 0));
    CHECK(h2_guard_frame_is_idle(H2F_PRIORITY, 0, 5, 0));
    CHECK(h2_guard_frame_is_idle(0x42, 0, 1000, 0));
    return test_report("proxy/h2_guard");
}
