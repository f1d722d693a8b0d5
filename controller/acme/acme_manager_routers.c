/*
 * Which certificates the routers want (the aggregator's compile hook): the
 * names of every router with tls.certResolver, from its tls.domains or the
 * Host matchers of its rule, marked on its resolver's domain sets (a new
 * set when none covers them); what cannot be asked for is a problem of the
 * "acme" provider.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/log.h"
#include "../../common/rule.h"
#include "acme_manager_internal.h"

static bool set_has(const struct domain_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->names[i], name) == 0)
            return true;
    return false;
}

/* Adds the exact hosts of <n> to <out> (Host matchers anywhere in the rule). */
static void rule_hosts(const struct rule_node *n, const char **out, size_t *count)
{
    if (n == NULL)
        return;
    if (n->op != RULE_MATCH) {
        rule_hosts(n->a, out, count);
        rule_hosts(n->b, out, count);
        return;
    }
    if (n->matcher != RULE_HOST)
        return;
    for (size_t i = 0; i < n->nargs && *count < MAX_NAMES; i++) {
        bool dup = false;
        for (size_t k = 0; k < *count; k++)
            dup = dup || strcmp(out[k], n->args[i].s) == 0;
        if (!dup)
            out[(*count)++] = n->args[i].s;
    }
}

static void add_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_problem(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    M.problems = mem_realloc(M.problems, (M.n_problems + 1) * sizeof(char *));
    M.problems[M.n_problems++] = mem_strdup(msg);
}

/* Marks the set covering <names> wanted, making one when none does; NULL
 * when they cannot be ordered (<who> wants them, for the problem). */
static struct domain_set *want_names(struct resolver *r, const char *who, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *star = strchr(names[i], '*');
        if (star == NULL)
            continue;
        /* Traefik's checks: a wildcard needs DNS-01, and only as the whole first label */
        if (r->dns == NULL) {
            add_problem("acme: %s: unable to generate a wildcard certificate for domain %s: certificate resolver %s has no "
                        "dnsChallenge (a wildcard needs the DNS-01 challenge)", who, names[i], r->cfg->name);
            return NULL;
        }
        if (star != names[i] || names[i][1] != '.' || strchr(names[i] + 1, '*') != NULL) {
            add_problem("acme: %s: unable to generate a wildcard certificate for domain %s: only '*.' as the first label is "
                        "allowed", who, names[i]);
            return NULL;
        }
    }
    for (size_t j = 0; j < r->n_sets; j++) {
        bool covered = true;
        for (size_t i = 0; i < n && covered; i++)
            covered = set_has(r->sets[j], names[i]);
        if (covered) {
            r->sets[j]->wanted = true;
            return r->sets[j];
        }
    }
    struct domain_set *s = acme_manager__set_new(r, names, n);
    s->wanted = true;
    return s;
}

static struct resolver *resolver_named(const char *name)
{
    for (size_t i = 0; i < M.n_resolvers; i++)
        if (strcmp(M.resolvers[i].cfg->name, name) == 0)
            return &M.resolvers[i];
    return NULL;
}

/* tls.stores.default.defaultGeneratedCert (Traefik v3): its names are
 * ordered from its resolver and the certificate becomes the default one,
 * unless a defaultCertificate is given (which Traefik prefers). */
static void want_default(struct model *const *models, size_t n)
{
    const struct model_default_generated *g = NULL;
    const char *g_provider = NULL, *user_default = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(models[i]->provider, "acme") == 0)
            continue;
        if (models[i]->default_cert && user_default == NULL)
            user_default = models[i]->default_cert->origin.source;
        if (models[i]->default_generated && g == NULL)
            g = models[i]->default_generated, g_provider = models[i]->provider;
    }
    if (g == NULL)
        return;
    struct resolver *r = resolver_named(g->resolver);
    if (r == NULL) {
        add_problem("acme: %s: tls.stores.default.defaultGeneratedCert.resolver '%s' is not defined in certificatesResolvers",
                    g->origin.source ? g->origin.source : g_provider, g->resolver);
        return;
    }
    if (user_default != NULL) {
        add_problem("acme: %s: defaultCertificate and defaultGeneratedCert cannot be defined at the same time; the "
                    "defaultCertificate (%s) is used", g->origin.source ? g->origin.source : g_provider, user_default);
        return;
    }
    const char *names[MAX_NAMES];
    size_t k = 0;
    names[k++] = g->domain.main;
    for (size_t i = 0; i < g->domain.n_sans && k < MAX_NAMES; i++)
        names[k++] = g->domain.sans[i];
    char who[300];
    snprintf(who, sizeof(who), "tls.stores.default.defaultGeneratedCert@%s", g_provider);
    struct domain_set *s = want_names(r, who, names, k);
    if (s != NULL) {
        M.default_set = s;
        M.default_resolver = r;
    }
}

static void want(const struct model_router *rt, const char *provider, struct arena *scratch)
{
    struct resolver *r = resolver_named(rt->tls->cert_resolver);
    char who[600];
    snprintf(who, sizeof(who), "router %s@%s", rt->name, provider);
    if (r == NULL) {
        add_problem("acme: router %s@%s: tls.certResolver '%s' is not defined in certificatesResolvers", rt->name, provider,
                    rt->tls->cert_resolver);
        return;
    }
    if (rt->tls->n_domains > 0) { /* tls.domains replace the Host rules' names */
        for (size_t i = 0; i < rt->tls->n_domains; i++) {
            const struct model_tls_domain *dom = &rt->tls->domains[i];
            const char *names[MAX_NAMES];
            size_t n = 0;
            if (dom->main)
                names[n++] = dom->main;
            for (size_t j = 0; j < dom->n_sans && n < MAX_NAMES; j++)
                names[n++] = dom->sans[j];
            want_names(r, who, names, n);
        }
        return;
    }
    const char *names[MAX_NAMES];
    size_t n = 0;
    struct diag d;
    struct rule_node *ast = rt->rule ? rule_parse(scratch, rt->rule, &d) : NULL;
    rule_hosts(ast, names, &n);
    if (n == 0) {
        add_problem("acme: router %s@%s: no Host in its rule and no tls.domains: no certificate to ask for", rt->name, provider);
        return;
    }
    want_names(r, who, names, n);
}

void acme_manager_routers(struct model *const *models, size_t n)
{
    if (!M.started)
        return;
    size_t old_problems = M.n_problems;
    char *old_joined = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&old_joined, &len);
    for (size_t i = 0; i < M.n_problems; i++) {
        fputs(M.problems[i], f);
        free(M.problems[i]);
    }
    fclose(f);
    M.n_problems = 0;
    for (size_t i = 0; i < M.n_resolvers; i++)
        for (size_t j = 0; j < M.resolvers[i].n_sets; j++)
            M.resolvers[i].sets[j]->wanted = false;
    const struct domain_set *old_default = M.default_set;
    M.default_set = NULL;
    M.default_resolver = NULL;
    want_default(models, n);
    struct arena scratch;
    arena_init(&scratch);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(models[i]->provider, "acme") == 0)
            continue;
        for (size_t j = 0; j < models[i]->routers.len; j++) {
            const struct model_router *rt = models[i]->routers.items[j];
            if (rt->tls && rt->tls->cert_resolver && *rt->tls->cert_resolver)
                want(rt, models[i]->provider, &scratch);
        }
    }
    arena_free(&scratch);
    char *joined = NULL;
    f = open_memstream(&joined, &len);
    for (size_t i = 0; i < M.n_problems; i++)
        fputs(M.problems[i], f);
    fclose(f);
    /* a new problem is a change of the acme model: submitted from the tick, never from inside a compile */
    bool changed = old_problems != M.n_problems || strcmp(old_joined, joined) != 0 || old_default != M.default_set;
    free(old_joined);
    free(joined);
    if (changed) {
        for (size_t i = 0; i < M.n_problems; i++)
            log_warn("%s", M.problems[i]);
    }
    acme_manager__schedule(0);
    if (changed)
        M.problems_dirty = true;
}
