/*
 * UDP routes (see table_udp.h).
 */
#include "table_udp.h"

#include <string.h>

#include "../../common/hostport.h"
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
    struct table_udp *udp = udp_of(t);
    struct table_tcp_service *s = arena_alloc(&t->arena, sizeof(*s));
    s->name = arena_strdup(&t->arena, name);
    s->n_servers = n_servers;
    s->servers = arena_alloc(&t->arena, (n_servers ? n_servers : 1) * sizeof(*s->servers));
    uintptr_t p = (uintptr_t)arena_alloc(&t->arena, (size_t)t->n_workers * 64 + 63);
    s->rr = (uint32_t *)((p + 63) & ~(uintptr_t)63); /* worker w's cursor at rr[w * 16]: a line each */
    ptr_vec_push(&t->arena, &udp->services, s);
    return s;
}

struct table_tcp_service *table_udp_add_weighted(struct table *t, const char *name, uint32_t n_children)
{
    struct table_tcp_service *s = table_udp_add_service(t, name, 0);
    s->n_children = n_children;
    s->children = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->children));
    s->child_weights = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->child_weights));
    s->wrr_stride = (n_children + 7) & ~7u;
    size_t bytes = (size_t)t->n_workers * s->wrr_stride * sizeof(int64_t);
    uintptr_t p = (uintptr_t)arena_alloc(&t->arena, bytes + 63);
    s->wrr = (int64_t *)((p + 63) & ~(uintptr_t)63);
    memset(s->wrr, 0, bytes);
    return s;
}

int table_udp_set_server(struct table *t, struct table_tcp_service *s, uint32_t i, const char *address, struct diag *d)
{
    struct hostport hp;
    if (hostport_parse(address, 0, &hp, d) != 0)
        return -1;
    /* the registry's TCP servers are plain host:port entries: shared here */
    struct server *srv = registry_acquire_tcp(address, d);
    if (srv == NULL)
        return -1;
    s->servers[i].srv = srv;
    s->servers[i].address = arena_strdup(&t->arena, address);
    return 0;
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
    for (size_t i = 0; i < t->udp->services.len; i++) {
        struct table_tcp_service *s = t->udp->services.items[i];
        for (uint32_t j = 0; j < s->n_servers; j++)
            if (s->servers[j].srv != NULL)
                registry_release(s->servers[j].srv);
    }
}
