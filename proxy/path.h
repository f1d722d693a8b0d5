/*
 * The request path as routing sees it and as the upstream receives it.
 *
 * Encoded characters that let a proxy and a backend disagree about a path
 * (%2F, %5C, %00, %3B, %25, %3F, %23) are refused unless the entry point
 * allows them (Traefik's encodedCharacters). Encoded unreserved
 * characters are decoded and other encodings upper-cased (RFC 3986
 * 6.2.2). Then, with sanitizePath (the default), "." and ".." segments
 * are resolved and repeated slashes merged (RFC 3986 5.2.4), so
 * "/api/../admin" and "/api/%2e%2e/admin" are "/admin" both for the
 * router and for the backend.
 */
#ifndef GANTRY_PATH_H
#define GANTRY_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum path_allow {
    PATH_ALLOW_SLASH = 1 << 0,     /* %2F */
    PATH_ALLOW_BACKSLASH = 1 << 1, /* %5C */
    PATH_ALLOW_NUL = 1 << 2,       /* %00 */
    PATH_ALLOW_SEMICOLON = 1 << 3, /* %3B */
    PATH_ALLOW_PERCENT = 1 << 4,   /* %25 */
    PATH_ALLOW_QUESTION = 1 << 5,  /* %3F */
    PATH_ALLOW_HASH = 1 << 6,      /* %23 */
};

/* Normalises <path> (no query; it starts with '/') into <out>, which has
 * room for len + 1 bytes; sets *out_len. Returns NULL, or why the path is
 * refused (a 400). */
const char *path_normalize(const char *path, size_t len, unsigned allow, bool sanitize, char *out, size_t *out_len);

/* Decodes every %XX of a normalised path into <out> (len bytes of room):
 * what Path rules compare with. Returns the length. */
size_t path_decode(const char *path, size_t len, char *out);

/* The PATH_ALLOW_* flag the byte <c> needs when percent-encoded, 0 when
 * its encoding is always allowed. */
unsigned path_guard_flag(unsigned char c);

/* Value of a hexadecimal digit, or -1. */
int path_hex_digit(char c);

/* True when <path> needs no work (the common case: nothing to decode, no
 * dot segment, no repeated slash). */
bool path_is_plain(const char *path, size_t len);

#endif
