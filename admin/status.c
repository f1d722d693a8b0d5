/*
 * Status snapshots (see status.h). The current pointer is swapped under a
 * mutex: readers are admin requests, a few per second at most, never the
 * request path.
 */
#include "status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/registry.h"
#include "../proxy/stats.h"
#include "../proxy/table.h"

#define MAX_PROVIDERS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct status_snapshot *current;
static _Atomic uint64_t reloads;

static struct {
    const char *name;
    _Atomic bool connected, synced;
} providers[MAX_PROVIDERS];
static _Atomic size_t n_providers;

struct status_snapshot *status_new(void)
{
    struct status_snapshot *s = mem_calloc(1, sizeof(*s));
    arena_init(&s->arena);
    atomic_init(&s->refs, 1);
    return s;
}

static void snapshot_free(struct status_snapshot *s)
{
    for (size_t i = 0; i < s->n_routers; i++)
        if (s->routers[i].stats)
            stats_release(s->routers[i].stats);
    for (size_t i = 0; i < s->n_services; i++) {
        if (s->services[i].stats)
            stats_release(s->services[i].stats);
        for (size_t j = 0; j < s->services[i].n_mirrors; j++)
            if (s->services[i].mirrors[j].stats)
                stats_release(s->services[i].mirrors[j].stats);
        if (s->services[i].shared != NULL) {
            table_service_unref(s->services[i].shared);
            continue;
        }
        for (size_t j = 0; j < s->services[i].n_servers; j++)
            if (s->services[i].servers[j].srv)
                registry_release(s->services[i].servers[j].srv);
    }
    arena_free(&s->arena);
    free(s);
}

/* The last reference may drop on the admin thread; the registry is the
 * watcher's, so the snapshot is freed there (status_reclaim). */
static struct status_snapshot *dead;

void status_release(struct status_snapshot *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_lock(&lock);
    s->dead_next = dead;
    dead = s;
    pthread_mutex_unlock(&lock);
}

void status_reclaim(void)
{
    pthread_mutex_lock(&lock);
    struct status_snapshot *list = dead;
    dead = NULL;
    pthread_mutex_unlock(&lock);
    while (list) {
        struct status_snapshot *next = list->dead_next;
        snapshot_free(list);
        list = next;
    }
}

void status_publish(struct status_snapshot *s)
{
    atomic_fetch_add(&reloads, 1);
    pthread_mutex_lock(&lock);
    struct status_snapshot *old = current;
    current = s;
    pthread_mutex_unlock(&lock);
    status_release(old);
}

struct status_snapshot *status_acquire(void)
{
    pthread_mutex_lock(&lock);
    struct status_snapshot *s = current;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&lock);
    return s;
}

void status_shutdown(void)
{
    pthread_mutex_lock(&lock);
    struct status_snapshot *s = current;
    current = NULL;
    pthread_mutex_unlock(&lock);
    status_release(s);
    status_reclaim();
}

uint64_t status_reloads(void)
{
    return atomic_load(&reloads);
}

void status_provider_set(const char *name, bool connected, bool synced)
{
    size_t n = atomic_load(&n_providers);
    size_t i = 0;
    while (i < n && strcmp(providers[i].name, name) != 0)
        i++;
    if (i == n) { /* providers register from one thread (watcher/main) */
        if (n == MAX_PROVIDERS)
            return;
        providers[i].name = name;
        atomic_store(&n_providers, n + 1);
    }
    atomic_store(&providers[i].connected, connected);
    atomic_store(&providers[i].synced, synced);
}

bool status_provider_get(size_t i, const char **name, bool *connected, bool *synced)
{
    if (i >= atomic_load(&n_providers))
        return false;
    *name = providers[i].name;
    *connected = atomic_load(&providers[i].connected);
    *synced = atomic_load(&providers[i].synced);
    return true;
}

static _Atomic bool config_pending;

void status_set_config_pending(bool pending)
{
    atomic_store(&config_pending, pending);
}

bool status_config_pending(void)
{
    return atomic_load(&config_pending);
}
