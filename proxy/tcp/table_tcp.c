/*
 * TCP routes (see table_tcp.h).
 */
#include "table_tcp.h"

#include <stdlib.h>
#include <string.h>

#include "../../common/hostport.h"
#include "../match.h"
#include "../registry.h"
#include "../transport.h"

static struct table_tcp *tcp_of(struct table *t)
{
    if (t->tcp == NULL)
        t->tcp = arena_alloc(&t->arena, sizeof(*t->tcp));
    return t->tcp;
}

struct table_tcp_service *table_tcp_service_new(struct table *t, const char *name, uint32_t n_servers)
{
    struct table_tcp_service *s = arena_alloc(&t->arena, sizeof(*s));
    s->name = arena_strdup(&t->arena, name);
    s->n_servers = n_servers;
    s->termination_delay_ms = TCP_TERMINATION_DELAY_DEFAULT_MS;
    s->servers = arena_alloc(&t->arena, (n_servers ? n_servers : 1) * sizeof(*s->servers));
    uintptr_t p = (uintptr_t)arena_alloc(&t->arena, (size_t)t->n_workers * 64 + 63);
    s->rr = (uint32_t *)((p + 63) & ~(uintptr_t)63); /* worker w's cursor at rr[w * 16]: a line each */
    return s;
}

void table_tcp_service_weighted(struct table *t, struct table_tcp_service *s, uint32_t n_children)
{
    s->n_children = n_children;
    s->children = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->children));
    s->child_weights = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->child_weights));
    s->wrr_stride = (n_children + 7) & ~7u; /* whole cache lines of int64_t */
    size_t bytes = (size_t)t->n_workers * s->wrr_stride * sizeof(int64_t);
    uintptr_t p = (uintptr_t)arena_alloc(&t->arena, bytes + 63);
    s->wrr = (int64_t *)((p + 63) & ~(uintptr_t)63);
    memset(s->wrr, 0, bytes);
}

struct table_tcp_service *table_tcp_add_service(struct table *t, const char *name, uint32_t n_servers)
{
    struct table_tcp_service *s = table_tcp_service_new(t, name, n_servers);
    ptr_vec_push(&t->arena, &tcp_of(t)->services, s);
    return s;
}

struct table_tcp_service *table_tcp_add_weighted(struct table *t, const char *name, uint32_t n_children)
{
    struct table_tcp_service *s = table_tcp_add_service(t, name, 0);
    table_tcp_service_weighted(t, s, n_children);
    return s;
}

int table_tcp_set_server(struct table *t, struct table_tcp_service *s, uint32_t i, const char *address, struct diag *d)
{
    struct hostport hp;
    if (hostport_parse(address, 0, &hp, d) != 0)
        return -1;
    /* the name is resolved off this thread and kept fresh (registry.c) */
    struct server *srv = registry_acquire_tcp(address, d);
    if (srv == NULL)
        return -1;
    struct table_tcp_server *sv = &s->servers[i];
    if (sv->srv != NULL)
        registry_release(sv->srv);
    sv->srv = srv;
    sv->address = arena_strdup(&t->arena, address);
    return 0;
}

void table_tcp_release(struct table *t)
{
    if (t->tcp == NULL)
        return;
    for (size_t i = 0; i < t->tcp->services.len; i++) {
        struct table_tcp_service *s = t->tcp->services.items[i];
        if (s->tls != NULL)
            transport_release(s->tls);
        for (uint32_t j = 0; j < s->n_servers; j++)
            if (s->servers[j].srv != NULL)
                registry_release(s->servers[j].srv);
    }
}

struct table_tcp_service *table_tcp_find_service(const struct table *t, const char *name)
{
    if (t->tcp == NULL)
        return NULL;
    for (size_t i = 0; i < t->tcp->services.len; i++) {
        struct table_tcp_service *s = t->tcp->services.items[i];
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

struct table_tcp_route *table_tcp_add_route(struct table *t, const char *name, const char *rule_text,
                                            const struct rule_node *rule, int64_t priority, uint64_t entrypoints,
                                            enum table_tcp_mode mode, struct table_tcp_service *svc)
{
    struct table_tcp *tcp = tcp_of(t);
    struct table_tcp_route *r = arena_alloc(&t->arena, sizeof(*r));
    r->name = arena_strdup(&t->arena, name);
    r->rule_text = arena_strdup(&t->arena, rule_text);
    r->rule = rule;
    r->priority = priority ? priority : rule_default_priority(rule_text);
    r->entrypoints = entrypoints;
    r->mode = mode;
    r->service = svc;
    ptr_vec_push(&t->arena, &tcp->build_routes, r);
    tcp->eps |= entrypoints;
    if (mode != TCP_PLAIN)
        tcp->eps_hello |= entrypoints;
    return r;
}

static int route_cmp(const void *a, const void *b)
{
    const struct table_tcp_route *x = *(const struct table_tcp_route *const *)a, *y = *(const struct table_tcp_route *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

void table_tcp_finish(struct table *t)
{
    if (t->tcp == NULL)
        return;
    t->tcp->routes = (struct table_tcp_route **)t->tcp->build_routes.items;
    t->tcp->n_routes = (uint32_t)t->tcp->build_routes.len;
    if (t->tcp->n_routes > 1)
        qsort(t->tcp->routes, t->tcp->n_routes, sizeof(*t->tcp->routes), route_cmp);
}

bool table_tcp_rule_needs_sni(const struct rule_node *n)
{
    switch (n->op) {
    case RULE_AND:
        return table_tcp_rule_needs_sni(n->a) || table_tcp_rule_needs_sni(n->b);
    case RULE_OR:
        return table_tcp_rule_needs_sni(n->a) && table_tcp_rule_needs_sni(n->b);
    case RULE_NOT:
        return false;
    case RULE_MATCH:
        break;
    }
    if (n->matcher == RULE_HOST_SNI_REGEXP)
        return true;
    if (n->matcher != RULE_HOST_SNI)
        return false;
    for (size_t i = 0; i < n->nargs; i++)
        if (n->args[i].len == 1 && n->args[i].s[0] == '*')
            return false;
    return true;
}

const struct table_tcp_route *table_tcp_lookup(const struct table *t, uint32_t ep, bool tls, const char *sni,
                                               size_t sni_len, const uint8_t *ip16)
{
    if (t->tcp == NULL || !(t->tcp->eps >> ep & 1))
        return NULL;
    struct match_req r = {.host = sni, .host_len = sni_len, .path = "", .method = "", .has_client_ip = ip16 != NULL};
    if (ip16 != NULL)
        memcpy(r.client_ip, ip16, 16);
    for (uint32_t i = 0; i < t->tcp->n_routes; i++) {
        const struct table_tcp_route *route = t->tcp->routes[i];
        if (!(route->entrypoints >> ep & 1))
            continue;
        if (!tls && route->mode != TCP_PLAIN)
            continue; /* TLS routes need a ClientHello */
        if (match_rule(route->rule, &r))
            return route;
    }
    return NULL;
}
