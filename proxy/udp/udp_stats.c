/*
 * Per UDP service counters (see udp_stats.h). A list rather than a map:
 * a configuration has few UDP services, and only compiles and admin
 * reads walk it.
 */
#include "udp_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/arena.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct udp_stats *all;
static struct udp_stats *parked; /* no table holds them; some session still open */

static uint64_t open_sessions(const struct udp_stats *s)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < s->n_workers; w++)
        n += atomic_load_explicit(&s->w[w].open, memory_order_acquire);
    return n;
}

static void stats_free(struct udp_stats *s)
{
    free(s->w);
    free(s->name);
    free(s);
}

/* Under the lock: frees the parked counters whose sessions have all ended. */
static void sweep_parked(void)
{
    for (struct udp_stats **pp = &parked; *pp != NULL;) {
        struct udp_stats *s = *pp;
        if (open_sessions(s) != 0) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        stats_free(s);
    }
}

struct udp_stats *udp_stats_acquire(const char *name, uint32_t n_workers)
{
    if (n_workers == 0)
        n_workers = 1;
    pthread_mutex_lock(&lock);
    sweep_parked();
    struct udp_stats *s = all;
    while (s != NULL && (strcmp(s->name, name) != 0 || s->n_workers != n_workers))
        s = s->next;
    if (s == NULL) { /* parked: the service is back, its sessions still open */
        for (struct udp_stats **pp = &parked; *pp != NULL; pp = &(*pp)->next) {
            if (strcmp((*pp)->name, name) != 0 || (*pp)->n_workers != n_workers)
                continue;
            s = *pp;
            *pp = s->next;
            s->next = all;
            all = s;
            break;
        }
    }
    if (s == NULL) {
        s = mem_calloc(1, sizeof(*s));
        s->name = mem_strdup(name);
        s->n_workers = n_workers;
        s->w = aligned_alloc(64, n_workers * sizeof(*s->w));
        if (s->w == NULL)
            abort(); /* the OOM policy of mem_alloc */
        memset(s->w, 0, n_workers * sizeof(*s->w));
        s->next = all;
        all = s;
    }
    s->refs++;
    pthread_mutex_unlock(&lock);
    return s;
}

void udp_stats_release(struct udp_stats *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&lock);
    if (--s->refs > 0) {
        pthread_mutex_unlock(&lock);
        return;
    }
    struct udp_stats **pp = &all;
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    if (open_sessions(s) != 0) {
        s->next = parked;
        parked = s;
        s = NULL;
    }
    sweep_parked();
    pthread_mutex_unlock(&lock);
    if (s != NULL)
        stats_free(s);
}

static int total_cmp(const void *a, const void *b)
{
    return strcmp(((const struct udp_stats_total *)a)->name, ((const struct udp_stats_total *)b)->name);
}

size_t udp_stats_collect(struct udp_stats_total **out)
{
    pthread_mutex_lock(&lock);
    sweep_parked();
    size_t n = 0;
    for (const struct udp_stats *s = all; s != NULL; s = s->next)
        n++;
    struct udp_stats_total *t = mem_calloc(n ? n : 1, sizeof(*t));
    size_t i = 0;
    for (const struct udp_stats *s = all; s != NULL; s = s->next, i++) {
        t[i].name = mem_strdup(s->name);
        for (uint32_t w = 0; w < s->n_workers; w++) {
            const struct udp_stats_slot *sl = &s->w[w];
            t[i].sessions += atomic_load_explicit(&sl->sessions, memory_order_relaxed);
            t[i].in += atomic_load_explicit(&sl->in, memory_order_relaxed);
            t[i].out += atomic_load_explicit(&sl->out, memory_order_relaxed);
            t[i].bytes_in += atomic_load_explicit(&sl->bytes_in, memory_order_relaxed);
            t[i].bytes_out += atomic_load_explicit(&sl->bytes_out, memory_order_relaxed);
            t[i].open += atomic_load_explicit(&sl->open, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&lock);
    if (n > 1)
        qsort(t, n, sizeof(*t), total_cmp);
    *out = t;
    return n;
}

void udp_stats_collect_free(struct udp_stats_total *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].name);
    free(t);
}
