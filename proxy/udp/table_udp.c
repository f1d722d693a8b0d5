/*
 * UDP routes (see table_udp.h).
 */
#include "table_udp.h"

#include <string.h>

#include "../registry.h"

static struct table_udp *udp_of(struct table *t)
{
    if (t->udp == NULL)
        t->udp = arena_alloc(&t->arena, sizeof(*t->udp));
    return t->udp;
}

uint64_t table_udp_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

struct table_tcp_service *table_udp_add_service(struct table *t, const char *name, uint32_t n_servers)
{
    struct table_tcp_service *s = table_tcp_service_new(t, name, n_servers);
    ptr_vec_push(&t->arena, &udp_of(t)->services, s);
    return s;
}

struct table_tcp_service *table_udp_add_weighted(struct table *t, const char *name, uint32_t n_children)
{
    struct table_tcp_service *s = table_udp_add_service(t, name, 0);
    table_tcp_service_weighted(t, s, n_children);
    return s;
}

int table_udp_set_server(struct table *t, struct table_tcp_service *s, uint32_t i, const char *address, struct diag *d)
{
    /* the registry's TCP servers are plain host:port entries: shared here */
    return table_tcp_set_server(t, s, i, address, d);
}

struct table_tcp_service *table_udp_find_service(const struct table *t, const char *name)
{
    if (t->udp == NULL)
        return NULL;
    for (size_t i = 0; i < t->udp->services.len; i++) {
        struct table_tcp_service *s = t->udp->services.items[i];
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

struct table_udp_route *table_udp_add_route(struct table *t, const char *name, uint64_t entrypoints,
                                            struct table_tcp_service *svc)
{
    struct table_udp *udp = udp_of(t);
    struct table_udp_route *r = arena_alloc(&t->arena, sizeof(*r));
    r->name = arena_strdup(&t->arena, name);
    r->name_hash = table_udp_hash(name);
    r->entrypoints = entrypoints;
    r->service = svc;
    r->stats = udp_stats_acquire(svc->name, t->n_workers);
    ptr_vec_push(&t->arena, &udp->routes, r);
    for (uint32_t ep = 0; ep < GANTRY_MAX_ENTRYPOINTS; ep++)
        if ((entrypoints >> ep & 1) && udp->by_ep[ep] == NULL)
            udp->by_ep[ep] = r;
    return r;
}

void table_udp_release(struct table *t)
{
    if (t->udp == NULL)
        return;
    for (size_t i = 0; i < t->udp->routes.len; i++)
        udp_stats_release(((struct table_udp_route *)t->udp->routes.items[i])->stats);
    for (size_t i = 0; i < t->udp->services.len; i++) {
        struct table_tcp_service *s = t->udp->services.items[i];
        for (uint32_t j = 0; j < s->n_servers; j++)
            if (s->servers[j].srv != NULL)
                registry_release(s->servers[j].srv);
    }
}
