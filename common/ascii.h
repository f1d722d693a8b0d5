/*
 * ASCII case folding for header names on the request path: eight bytes
 * at a time (a few instructions per word instead of a compare and branch
 * per byte). Bytes >= 0x80 are left as they are.
 */
#ifndef GANTRY_COMMON_ASCII_H
#define GANTRY_COMMON_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Each byte of <w> in 'A'..'Z' gets 0x20 added. */
static inline uint64_t ascii_lower_word(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t low7 = w & (0x7f * ones);
    uint64_t above_z = low7 + (0x80 - 'Z' - 1) * ones; /* high bit set: byte > 'Z' */
    uint64_t from_a = low7 + (0x80 - 'A') * ones;      /* high bit set: byte >= 'A' */
    uint64_t upper = (from_a ^ above_z) & ~w & (0x80 * ones);
    return w | (upper >> 2);
}

/* dst[0..len) = lowercase of src[0..len); dst may equal src (not overlap
 * it otherwise). A tail shorter than a word is done as a word too: the
 * last eight bytes again (lowering is idempotent), or a zero-padded word. */
static inline void ascii_lower_copy(char *dst, const char *src, size_t len)
{
    uint64_t w = 0;
    if (len < 8) {
        memcpy(&w, src, len);
        w = ascii_lower_word(w);
        memcpy(dst, &w, len);
        return;
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, src + i, 8);
        w = ascii_lower_word(w);
        memcpy(dst + i, &w, 8);
    }
    if (i < len) {
        memcpy(&w, src + len - 8, 8);
        w = ascii_lower_word(w);
        memcpy(dst + len - 8, &w, 8);
    }
}

/* Some byte of s[0..len) is in 'A'..'Z'. */
static inline bool ascii_has_upper(const char *s, size_t len)
{
    uint64_t w = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        if (ascii_lower_word(w) != w)
            return true;
    }
    if (i == len)
        return false;
    w = 0;
    memcpy(&w, s + i, len - i);
    return ascii_lower_word(w) != w;
}

/* s[0..len) equals lower[0..len) ignoring ASCII case; <lower> must be
 * lowercase (a literal, typically). Word at a time, like ascii_lower_copy. */
static inline bool ascii_caseeq(const char *s, const char *lower, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len < 8) {
        memcpy(&a, s, len);
        memcpy(&b, lower, len);
        return ascii_lower_word(a) == b;
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&a, s + i, 8);
        memcpy(&b, lower + i, 8);
        if (ascii_lower_word(a) != b)
            return false;
    }
    if (i < len) {
        memcpy(&a, s + len - 8, 8);
        memcpy(&b, lower + len - 8, 8);
        return ascii_lower_word(a) == b;
    }
    return true;
}

#endif
