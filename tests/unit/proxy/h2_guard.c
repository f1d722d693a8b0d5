/* Tests proxy/h2_guard.c: the classification of HTTP/2 frames without
 * progress, and the scan that sees each frame once however the bytes are
 * split into reads (h2o consuming whole frames between reads, as it does),
 * and that the process really interposes libh2o's functions. */
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

static size_t window_update(uint8_t *p, uint32_t increment)
{
    uint8_t v[4] = {(uint8_t)(increment >> 24), (uint8_t)(increment >> 16), (uint8_t)(increment >> 8), (uint8_t)increment};
    return put_frame(p, 4, 8, 0, 0, v);
}

static uint8_t stream[4096];
static size_t stream_len;
static uint32_t want_frames, want_idle;

/* A client's bytes: the preface, then a mix of frames; counts the expected. */
static void build(void)
{
    static const uint8_t zeros[512];
    uint8_t *p = stream;
    memcpy(p, PREFACE, 24);
    p += 24;
#define F(idle, expr) (p += (expr), want_frames++, want_idle += (idle))
    F(1, put_frame(p, 0, 4, 0, 0, NULL));         /* SETTINGS */
    F(0, window_update(p, 1 << 20));              /* a real WINDOW_UPDATE */
    F(0, put_frame(p, 3, 1, 4, 1, "\x82\x84\x86")); /* HEADERS, END_HEADERS */
    F(1, put_frame(p, 0, 0, 0, 1, NULL));         /* empty DATA */
    F(1, put_frame(p, 1, 0, 0, 1, "x"));          /* 1-byte DATA */
    F(0, put_frame(p, 200, 0, 0, 1, zeros));      /* a DATA frame with data */
    F(0, put_frame(p, 0, 0, 1, 1, NULL));         /* empty DATA with END_STREAM: ends the body */
    F(1, put_frame(p, 5, 2, 0, 3, zeros));        /* PRIORITY */
    F(1, put_frame(p, 8, 6, 0, 0, zeros));        /* PING */
    F(1, window_update(p, 1));                    /* a 1-byte WINDOW_UPDATE */
    F(1, window_update(p, 0));                    /* a zero WINDOW_UPDATE */
    F(0, put_frame(p, 3, 1, 0, 5, "\x82\x84\x86")); /* HEADERS without END_HEADERS */
    F(1, put_frame(p, 0, 9, 0, 5, NULL));         /* empty CONTINUATION */
    F(1, put_frame(p, 0, 1, 0, 7, NULL));         /* empty HEADERS */
    F(0, put_frame(p, 4, 3, 0, 5, zeros));        /* RST_STREAM: the Rapid Reset rule's */
    F(1, put_frame(p, 8, 7, 0, 0, zeros));        /* GOAWAY */
    F(1, put_frame(p, 3, 0xfa, 0, 0, "abc"));     /* an unknown type */
    F(0, put_frame(p, 400, 0, 8, 9, zeros));      /* padded DATA, long enough */
#undef F
    stream_len = (size_t)(p - stream);
}

/* Feeds <stream> in reads ending at <cuts> (ascending, the last is the
 * length); between reads "h2o" consumes the preface and whole frames, and
 * stops consuming after <stall> frames (read stop, early exit). */
static void feed(const size_t *cuts, size_t n_cuts, uint32_t stall, uint32_t *frames, uint32_t *idle)
{
    uint8_t buf[sizeof(stream)];
    size_t size = 0, fed = 0;
    uint32_t consumed_frames = 0;
    *frames = *idle = 0;
    for (size_t i = 0; i < n_cuts; i++) {
        size_t add = cuts[i] - fed;
        memcpy(buf + size, stream + fed, add);
        size += add;
        fed += add;
        struct h2_scan s;
        h2_guard_scan(buf, size, size - add, &s);
        *frames += s.frames;
        *idle += s.idle;
        size_t p = 0; /* h2o: the preface, then whole frames */
        if (size >= 24 && memcmp(buf, PREFACE, 24) == 0)
            p = 24;
        while (size - p >= 9 && consumed_frames < stall) {
            size_t len = (size_t)buf[p] << 16 | (size_t)buf[p + 1] << 8 | buf[p + 2];
            if (size - p < 9 + len)
                break;
            p += 9 + len;
            consumed_frames++;
        }
        memmove(buf, buf + p, size - p);
        size -= p;
    }
}

int main(void)
{
    build();
    struct h2_scan s;
    h2_guard_scan(stream, stream_len, 0, &s);
    CHECK(s.frames == want_frames);
    CHECK(s.idle == want_idle);
    /* everything already seen: nothing new */
    h2_guard_scan(stream, stream_len, stream_len, &s);
    CHECK(s.frames == 0 && s.idle == 0);
    /* a partial preface, and the preface alone */
    h2_guard_scan(stream, 10, 0, &s);
    CHECK(s.frames == 0);
    h2_guard_scan(stream, 24, 0, &s);
    CHECK(s.frames == 0);

    /* one read and two reads split at every pair of points, with and
     * without h2o stopping to consume: each frame is counted once */
    int all_ok = 1;
    uint32_t stalls[] = {UINT32_MAX, 3};
    for (size_t st = 0; st < 2; st++)
        for (size_t a = 1; a <= stream_len; a += 1)
            for (size_t b = a; b <= stream_len; b += (a % 7) + 1) {
                size_t cuts[3] = {a, b, stream_len};
                uint32_t f, i;
                feed(cuts, 3, stalls[st], &f, &i);
                if (f != want_frames || i != want_idle) {
                    if (all_ok)
                        fprintf(stderr, "split at %zu, %zu (stall %u): %u frames, %u idle\n", a, b, stalls[st], f, i);
                    all_ok = 0;
                }
            }
    CHECK(all_ok);
    /* one byte per read */
    size_t *cuts = malloc(stream_len * sizeof(*cuts));
    for (size_t i = 0; i < stream_len; i++)
        cuts[i] = i + 1;
    uint32_t f, i;
    feed(cuts, stream_len, UINT32_MAX, &f, &i);
    CHECK(f == want_frames && i == want_idle);
    free(cuts);

    /* the boundaries of each rule */
    uint8_t fr[9 + 256] = {0};
    put_frame(fr, 127, 0, 0, 1, fr + 9);
    CHECK(h2_guard_frame_is_idle(fr, 127));
    put_frame(fr, 128, 0, 0, 1, fr + 9);
    CHECK(!h2_guard_frame_is_idle(fr, 128));
    put_frame(fr, 1, 0, 1, 1, "x"); /* END_STREAM: the body is complete */
    CHECK(!h2_guard_frame_is_idle(fr, 1));
    window_update(fr, 1023);
    CHECK(h2_guard_frame_is_idle(fr, 4));
    window_update(fr, 1024);
    CHECK(!h2_guard_frame_is_idle(fr, 4));
    put_frame(fr, 1, 9, 0, 1, "x"); /* a 1-byte CONTINUATION */
    CHECK(h2_guard_frame_is_idle(fr, 1));
    put_frame(fr, 200, 9, 0, 1, fr + 9);
    CHECK(!h2_guard_frame_is_idle(fr, 200));

    /* libh2o calls its exported functions through its PLT: this process's
     * definitions must be the ones it reaches */
    CHECK(h2_guard_active());
    return test_report("h2_guard");
}
