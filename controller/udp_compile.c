/*
 * UDP routers and services into the table (see udp_compile.h).
 *
 * Services first: load balancers, then weighted ones in passes (a weighted
 * service waits for its children, from any provider; what is left names a
 * missing child or a loop and is refused). Then routers: one with no
 * entryPoints takes every UDP entry point, as in Traefik. A UDP router
 * has no rule, so an entry point is served by one router: when several
 * name it, Traefik takes one and warns; gantry takes the first by name
 * (the same one every time) and records a problem on each router it left
 * out (logged once when it appears, like every problem).
 */
#include "udp_compile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/table.h"
#include "../proxy/udp/table_udp.h"

struct udp_build {
    struct table *t;
    struct arena *a;
    struct ptr_vec *errors;
    struct ptr_vec refused; /* "name@provider\0why" of services not built */
};

static void problem(struct udp_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct udp_build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(b->a, b->errors, fmt, ap);
    va_end(ap);
}

static const char *qualify(struct arena *a, const char *name, const char *provider)
{
    const char *parts[] = {name, provider};
    return strchr(name, '@') ? name : arena_concat(a, parts, 2, '@');
}

static void refuse(struct udp_build *b, const char *q, const char *why)
{
    size_t nq = strlen(q), nw = strlen(why);
    char *e = arena_alloc(b->a, nq + nw + 2);
    memcpy(e, q, nq + 1);
    memcpy(e + nq + 1, why, nw + 1);
    ptr_vec_push(b->a, &b->refused, e);
}

static const char *refusal(const struct udp_build *b, const char *q)
{
    for (size_t i = 0; i < b->refused.len; i++) {
        const char *e = b->refused.items[i];
        if (strcmp(e, q) == 0)
            return e + strlen(e) + 1;
    }
    return NULL;
}

static void add_balancers(struct udp_build *b, const struct model *m)
{
    for (size_t i = 0; i < m->udp_services.len; i++) {
        const struct model_tcp_service *s = m->udp_services.items[i];
        if (s->weighted != NULL)
            continue;
        const char *q = qualify(b->a, s->name, m->provider);
        if (table_udp_find_service(b->t, q) != NULL) {
            problem(b, "%s: udp service '%s' is defined more than once (the first is served)", s->origin.source, q);
            continue;
        }
        struct table_tcp_service *ts = table_udp_add_service(b->t, q, (uint32_t)s->n_servers);
        for (size_t j = 0; j < s->n_servers; j++) {
            struct diag d;
            if (table_udp_set_server(b->t, ts, (uint32_t)j, s->servers[j].address, &d) != 0)
                problem(b, "%s: udp service '%s': server '%s': %s (server skipped)", s->origin.source, q,
                        s->servers[j].address, d.msg);
        }
    }
}

struct pending {
    const struct model_tcp_service *s;
    const char *q, *provider;
    bool done;
};

static const char *missing_child(struct udp_build *b, const struct pending *p)
{
    for (size_t j = 0; j < p->s->weighted->n_services; j++) {
        const char *q = qualify(b->a, p->s->weighted->services[j].name, p->provider);
        if (table_udp_find_service(b->t, q) == NULL)
            return q;
    }
    return NULL;
}

static void add_weighted(struct udp_build *b, const struct model *const *models, size_t n_models)
{
    struct ptr_vec pending = {0};
    for (size_t i = 0; i < n_models; i++)
        for (size_t j = 0; j < models[i]->udp_services.len; j++) {
            const struct model_tcp_service *s = models[i]->udp_services.items[j];
            if (s->weighted == NULL)
                continue;
            struct pending *p = arena_alloc(b->a, sizeof(*p));
            *p = (struct pending){s, qualify(b->a, s->name, models[i]->provider), models[i]->provider, false};
            ptr_vec_push(b->a, &pending, p);
        }
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < pending.len; i++) {
            struct pending *p = pending.items[i];
            if (p->done || missing_child(b, p) != NULL)
                continue;
            const struct model_weighted *w = p->s->weighted;
            struct table_tcp_service *ts = table_udp_add_weighted(b->t, p->q, (uint32_t)w->n_services);
            for (size_t j = 0; j < w->n_services; j++) {
                ts->children[j] = table_udp_find_service(b->t, qualify(b->a, w->services[j].name, p->provider));
                ts->child_weights[j] = w->services[j].weight;
            }
            p->done = progress = true;
        }
    }
    for (size_t i = 0; i < pending.len; i++) {
        struct pending *p = pending.items[i];
        if (p->done)
            continue;
        const char *missing = missing_child(b, p);
        bool loop = false;
        for (size_t j = 0; j < pending.len && !loop; j++) {
            const struct pending *o = pending.items[j];
            loop = !o->done && strcmp(o->q, missing) == 0;
        }
        const char *why = arena_printf(b->a, "weighted: udp service '%s' %s", missing,
                                       loop ? "is not served either (a loop, or a child missing further down)"
                                            : "does not exist");
        problem(b, "%s: udp service '%s': %s (service not served)", p->s->origin.source, p->q, why);
        refuse(b, p->q, why);
    }
}

struct candidate {
    const struct model_router *r;
    const char *q;
    struct table_tcp_service *svc;
    uint64_t mask;
};

static int candidate_cmp(const void *x, const void *y)
{
    return strcmp((*(const struct candidate *const *)x)->q, (*(const struct candidate *const *)y)->q);
}

void udp_compile(struct table *t, const struct model *const *models, size_t n_models, const char *const *eps, size_t n_eps,
                 struct arena *scratch, struct ptr_vec *errors)
{
    struct udp_build b = {.t = t, .a = scratch, .errors = errors};
    for (size_t i = 0; i < n_models; i++)
        add_balancers(&b, models[i]);
    add_weighted(&b, models, n_models);

    uint64_t all = n_eps >= 64 ? ~0ull : (1ull << n_eps) - 1;
    struct ptr_vec cands = {0};
    for (size_t i = 0; i < n_models; i++) {
        const struct model *m = models[i];
        for (size_t j = 0; j < m->udp_routers.len; j++) {
            const struct model_router *r = m->udp_routers.items[j];
            const char *q = qualify(scratch, r->name, m->provider);
            if (r->service == NULL) {
                problem(&b, "%s: udp router '%s': the service is missing on the udp router", r->origin.source, q);
                continue;
            }
            const char *sq = qualify(scratch, r->service, m->provider);
            struct table_tcp_service *svc = table_udp_find_service(t, sq);
            if (svc == NULL) {
                const char *why = refusal(&b, sq);
                problem(&b, "%s: udp router '%s': udp service '%s' %s%s (router not served)", r->origin.source, q, sq,
                        why ? "is not served: " : "does not exist", why ? why : "");
                continue;
            }
            uint64_t mask = r->n_entrypoints ? 0 : all;
            bool bad = false;
            for (size_t k = 0; k < r->n_entrypoints; k++) {
                size_t e = 0;
                while (e < n_eps && strcmp(eps[e], r->entrypoints[k]) != 0)
                    e++;
                if (e == n_eps) {
                    problem(&b, "%s: udp router '%s': entry point '%s' does not exist or is not a UDP entry point",
                            r->origin.source, q, r->entrypoints[k]);
                    bad = true;
                    continue;
                }
                mask |= 1ull << e;
            }
            if (mask == 0) {
                if (!bad)
                    problem(&b, "%s: udp router '%s': no UDP entry point to serve it", r->origin.source, q);
                continue;
            }
            struct candidate *c = arena_alloc(scratch, sizeof(*c));
            *c = (struct candidate){r, q, svc, mask};
            ptr_vec_push(scratch, &cands, c);
        }
    }
    if (cands.len > 1)
        qsort(cands.items, cands.len, sizeof(void *), candidate_cmp);
    for (size_t i = 0; i < cands.len; i++) {
        struct candidate *c = cands.items[i];
        table_udp_add_route(t, c->q, c->mask, c->svc);
        /* later routers on an entry point already taken serve nothing there */
        for (size_t e = 0; e < n_eps; e++) {
            const struct table_udp_route *first = t->udp->by_ep[e];
            if ((c->mask >> e & 1) && first != NULL && strcmp(first->name, c->q) != 0)
                /* a problem, not a log line: logged once when it appears, and
                 * shown on the router in the API, not again at every compile */
                problem(&b, "%s: udp router '%s': entry point %s has more than one udp router; '%s' serves it (as "
                            "Traefik, one udp router per entry point)",
                        c->r->origin.source, c->q, eps[e], first->name);
        }
    }
}
