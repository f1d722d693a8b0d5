/*
 * Pending ACME challenges, as the workers see them: an immutable set
 * published through one atomic pointer by the ACME manager (watcher
 * thread) and read lock-free by the request handler (route.c) and the
 * TLS handshake callbacks. With no challenge pending the pointer is NULL
 * and a request pays one relaxed load.
 */
#ifndef GANTRY_ACME_CHALLENGE_H
#define GANTRY_ACME_CHALLENGE_H

#include <stdatomic.h>
#include <stddef.h>

struct acme_challenge_token {
    const char *token;   /* HTTP-01: the last path segment */
    const char *keyauth; /* token.thumbprint: the body to answer */
    size_t token_len;
    int entrypoint; /* HTTP-01 is answered on this entry point only (index); -1: every one */
};

struct acme_challenge_set {
    size_t n;
    struct acme_challenge_token items[];
};

extern _Atomic(struct acme_challenge_set *) acme_challenge_current;

/* Watcher thread. Takes ownership of <s> (one malloc, strings inside or
 * static; NULL: nothing pending). The previous set is freed once no
 * worker can still be reading it. */
void acme_challenge_publish(struct acme_challenge_set *s);
/* Builds a set of <n> tokens in one allocation (strings copied). */
struct acme_challenge_set *acme_challenge_set_new(const int *entrypoints, const char *const *tokens,
                                                  const char *const *keyauths, size_t n);
void acme_challenge_shutdown(void);

/* Worker: the key authorization for <path> on entry point <ep>, or NULL. */
static inline const char *acme_challenge_answer(int ep, const char *path, size_t len)
{
    struct acme_challenge_set *s = atomic_load_explicit(&acme_challenge_current, memory_order_acquire);
    if (__builtin_expect(s == NULL, 1))
        return NULL;
    static const char prefix[] = "/.well-known/acme-challenge/";
    size_t pl = sizeof(prefix) - 1;
    if (len <= pl || __builtin_memcmp(path, prefix, pl) != 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if ((s->items[i].entrypoint < 0 || s->items[i].entrypoint == ep) && s->items[i].token_len == len - pl && __builtin_memcmp(s->items[i].token, path + pl, len - pl) == 0)
            return s->items[i].keyauth;
    return NULL;
}

#endif
