/*
 * The published set of pending ACME challenges (see acme_challenge.h).
 *
 * A worker reads the set and copies nothing out of it across a loop
 * iteration: the answer is handed to h2o within the same handler call,
 * which does not block. A superseded set is therefore kept for a grace
 * period far longer than any handler call (RETIRE_MS) and freed by a
 * later publish or at shutdown, which keeps the request path free of
 * reference counts.
 */
#include "acme_challenge.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/arena.h"

#define RETIRE_MS 30000
#define MAX_RETIRED 64

_Atomic(struct acme_challenge_set *) acme_challenge_current;

static struct {
    struct acme_challenge_set *set;
    uint64_t at_ms;
} retired[MAX_RETIRED];
static size_t n_retired;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct acme_challenge_set *acme_challenge_set_new(const int *entrypoints, const char *const *tokens,
                                                  const char *const *keyauths, size_t n)
{
    size_t size = sizeof(struct acme_challenge_set) + n * sizeof(struct acme_challenge_token);
    for (size_t i = 0; i < n; i++)
        size += strlen(tokens[i]) + strlen(keyauths[i]) + 2;
    struct acme_challenge_set *s = mem_alloc(size);
    s->n = n;
    char *p = (char *)&s->items[n];
    for (size_t i = 0; i < n; i++) {
        s->items[i].entrypoint = entrypoints[i];
        s->items[i].token = p;
        s->items[i].token_len = strlen(tokens[i]);
        p = stpcpy(p, tokens[i]) + 1;
        s->items[i].keyauth = p;
        p = stpcpy(p, keyauths[i]) + 1;
    }
    return s;
}

void acme_challenge_publish(struct acme_challenge_set *s)
{
    struct acme_challenge_set *old = atomic_exchange_explicit(&acme_challenge_current, s, memory_order_acq_rel);
    uint64_t now = now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < n_retired; i++) {
        if (now - retired[i].at_ms >= RETIRE_MS || (old != NULL && n_retired == MAX_RETIRED && i == 0))
            free(retired[i].set);
        else
            retired[kept++] = retired[i];
    }
    n_retired = kept;
    if (old != NULL)
        retired[n_retired++] = (typeof(retired[0])){old, now};
}

void acme_challenge_shutdown(void)
{
    free(atomic_exchange(&acme_challenge_current, NULL));
    for (size_t i = 0; i < n_retired; i++)
        free(retired[i].set);
    n_retired = 0;
}
