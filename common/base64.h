/*
 * Standard base64 (RFC 4648 section 4, padded), as Kubernetes Secrets and
 * kubeconfigs carry it.
 */
#ifndef GANTRY_BASE64_H
#define GANTRY_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Room base64_decode needs for <n> input bytes (a terminating NUL included). */
static inline size_t base64_decoded_room(size_t n)
{
    return n / 4 * 3 + 1;
}

/* Decodes the <n> bytes of <in> into <out> (base64_decoded_room(n) bytes),
 * NUL-terminated; *out_len is the decoded length. False when <in> is not
 * padded base64. */
bool base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

#endif
