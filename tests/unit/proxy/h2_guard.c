/* Tests proxy/h2_guard.c: the classification of HTTP/2 frames that carry
 * no progress (the flood budget counts them), at the boundary of each rule. */
#include "../../../proxy/h2_guard.h"

#include "test.h"

int main(void)
{
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
    return test_report("h2_guard");
}
