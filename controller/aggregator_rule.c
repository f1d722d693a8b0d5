/*
 * Shared router rules (see aggregator_rule.h): each lives in an arena of
 * its own, referenced by every table holding it; the last table freed
 * frees it (and its regexes).
 */
#include "aggregator_rule.h"

#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"
#include "../proxy/stats.h"
#include "../proxy/table.h"
#include "compile_reuse.h"
#include "model.h"

struct shared_rule {
    struct route_unit unit; /* first: a unit is its shared rule */
    int refs;               /* tables and snapshots holding it */
    struct arena arena;
};

static size_t live;

size_t aggregator_rules_live(void)
{
    return live;
}

static void release(void *p)
{
    struct shared_rule *s = p;
    if (--s->refs > 0)
        return;
    if (s->unit.stats != NULL)
        stats_release(s->unit.stats);
    arena_free(&s->arena);
    free(s);
    live--;
}

static struct shared_rule *parse(const char *text, size_t extra, struct diag *d)
{
    struct shared_rule *s = mem_calloc(1, sizeof(*s));
    arena_init_sized(&s->arena, 256 + 4 * strlen(text) + extra); /* 10,000 rules at 4 KiB each would not be small */
    s->unit.rule = rule_parse(&s->arena, text, d);
    if (s->unit.rule == NULL) {
        arena_free(&s->arena);
        free(s);
        return NULL;
    }
    live++;
    return s;
}

static void hold(struct table *t, struct compile_reuse *next, const void *key, struct shared_rule *s)
{
    s->refs++;
    arena_on_free(&t->arena, release, s);
    if (next != NULL)
        compile_reuse_put(next, key, s);
}

const struct rule_node *aggregator_rule(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                        const void *key, const char *text, struct diag *d)
{
    struct shared_rule *s = prev ? compile_reuse_get(prev, key) : NULL;
    if (s == NULL && (s = parse(text, 0, d)) == NULL)
        return NULL;
    hold(t, next, key, s);
    return s->unit.rule;
}

/* Eight bytes a step (one per step was ~10 % of a 10,000-router compile). */
static uint64_t hash_str(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s, n); /* the length below tells "ab" + "" from "a" + "b" */
    h = (h ^ w ^ ((uint64_t)n << 59)) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

uint64_t aggregator_router_digest(const char *service, const struct model_router *r)
{
    uint64_t h = hash_str(hash_str(0xcbf29ce484222325ULL, service), r->rule);
    for (size_t k = 0; k < r->n_middlewares; k++)
        h = hash_str(h, r->middlewares[k]);
    return h;
}

/* <name> in <provider> unless it names one (the aggregator's qualify). */
static const char *qualify(struct arena *a, const char *name, const char *provider)
{
    const char *parts[] = {name, provider};
    return strchr(name, '@') ? arena_strdup(a, name) : arena_concat(a, parts, 2, '@');
}

const struct route_unit *aggregator_route_unit(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                               const struct model_router *r, const char *provider, struct diag *d)
{
    struct shared_rule *s = prev ? compile_reuse_get(prev, r) : NULL;
    if (s != NULL && (s->unit.name == NULL || strcmp(s->unit.provider, provider) != 0))
        s = NULL; /* a bare rule (aggregator_rule), or another provider's names: build anew */
    if (s == NULL) {
        size_t names = 2 * (strlen(r->name) + strlen(provider)) + (r->service ? strlen(r->service) + strlen(provider) : 0);
        if ((s = parse(r->rule, names + 128, d)) == NULL)
            return NULL;
        struct route_unit *u = &s->unit;
        u->provider = arena_strdup(&s->arena, provider);
        u->name = qualify(&s->arena, r->name, provider);
        u->service = r->service ? qualify(&s->arena, r->service, provider) : NULL;
        u->rule_text = arena_strdup(&s->arena, r->rule);
        u->priority = r->priority ? r->priority : rule_default_priority(r->rule);
        u->hosts = table_hosts_of(&s->arena, u->rule);
        u->stats = stats_acquire(STATS_ROUTER, u->name);
        u->sig = u->service ? aggregator_router_digest(u->service, r) : 0;
    }
    hold(t, next, r, s);
    return &s->unit;
}

void aggregator_route_unit_hold(struct arena *a, const struct route_unit *u)
{
    struct shared_rule *s = (struct shared_rule *)u; /* the unit is the first member */
    s->refs++;
    arena_on_free(a, release, s);
}
