/*
 * Routing table: build (watcher thread), lookup (workers), free (watcher).
 * See table.h for the layout and why lookups stay flat as routes grow.
 */
#include "table.h"

#include <openssl/sha.h>
#include <strings.h>

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "registry.h"
#include "stats.h"
#include "tcp/table_tcp.h"
#include "udp/table_udp.h"

static uint32_t table_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* ---- host map ---- */

void *table_host_map_get(const struct table_host_map *m, const char *key, size_t len)
{
    if (m->slots == NULL)
        return NULL;
    uint32_t h = table_hash(key, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct table_host_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s->value;
    }
}

static void host_map_insert_slot(struct table_host_map *m, const struct table_host_slot *src)
{
    for (uint32_t i = src->hash & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == NULL) {
            m->slots[i] = *src;
            return;
        }
    }
}

/* Returns the address of the value for <key>, inserting NULL if absent
 * (<key> copied into <a> unless <held>). */
static void **host_map_slot(struct arena *a, struct table_host_map *m, const char *key, size_t len, bool held)
{
    if (m->slots == NULL || (m->n + 1) * 2 > m->mask + 1) {
        uint32_t cap = m->slots ? (m->mask + 1) * 2 : 16;
        struct table_host_map grown = {arena_alloc(a, cap * sizeof(struct table_host_slot)), cap - 1, m->n};
        for (uint32_t i = 0; m->slots && i <= m->mask; i++)
            if (m->slots[i].key != NULL)
                host_map_insert_slot(&grown, &m->slots[i]);
        *m = grown;
    }
    uint32_t h = table_hash(key, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct table_host_slot *s = &m->slots[i];
        if (s->key == NULL) {
            s->key = held ? key : arena_strndup(a, key, len);
            s->len = (uint32_t)len;
            s->hash = h;
            m->n++;
            return &s->value;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return &s->value;
    }
}

void **table_host_map_slot(struct arena *a, struct table_host_map *m, const char *key, size_t len)
{
    return host_map_slot(a, m, key, len, false);
}

void **table_host_map_slot_held(struct arena *a, struct table_host_map *m, const char *key, size_t len)
{
    return host_map_slot(a, m, key, len, true);
}

/* ---- build ---- */

struct table *table_new(uint32_t n_workers)
{
    struct table *t = mem_calloc(1, sizeof(*t));
    arena_init(&t->arena);
    atomic_init(&t->refs, 1);
    t->n_workers = n_workers ? n_workers : 1;
    return t;
}

struct table_service_unit {
    int refs; /* tables and snapshots holding it; watcher thread only */
    struct arena arena;
};

/* What a service holds outside its memory: servers and statistics. */
static void service_release_refs(struct table_service *s)
{
    for (uint32_t j = 0; j < s->n_servers; j++)
        if (s->servers[j].srv != NULL)
            registry_release(s->servers[j].srv);
    for (uint32_t j = 0; j < s->n_mirrors; j++)
        stats_release(s->mirrors[j].stats);
    stats_release(s->stats);
}

void table_service_ref(struct table_service *svc)
{
    svc->unit->refs++;
}

void table_service_unref(struct table_service *svc)
{
    struct table_service_unit *u = svc->unit;
    if (--u->refs > 0)
        return;
    service_release_refs(svc);
    arena_free(&u->arena); /* <svc> lived there */
    free(u);
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    /* a table freed before table_finish still owns its services */
    struct table_service **svcs = t->services ? t->services : (struct table_service **)t->build_services.items;
    size_t n = t->services ? t->n_services : t->build_services.len;
    for (size_t i = 0; i < n; i++) {
        if (svcs[i]->unit != NULL)
            table_service_unref(svcs[i]);
        else
            service_release_refs(svcs[i]);
    }
    struct table_route **routes = t->routes ? t->routes : (struct table_route **)t->build_routes.items;
    size_t nr = t->routes ? t->n_routes : t->build_routes.len;
    for (size_t i = 0; i < nr; i++)
        stats_release(routes[i]->stats);
    table_tcp_release(t);
    table_udp_release(t);
    arena_free(&t->arena); /* also frees regexes and SSL_CTX references */
    free(t);
}

/* Cache-line aligned allocation so workers' state never shares a line. */
static void *alloc_line(struct arena *a, size_t size)
{
    size = (size + 63) & ~(size_t)63;
    uintptr_t p = (uintptr_t)arena_alloc(a, size + 63);
    return (void *)((p + 63) & ~(uintptr_t)63);
}

static void service_init(struct table *t, struct arena *a, struct table_service *s, const char *name, bool pass_host_header,
                         uint32_t n_servers)
{
    s->name = arena_strdup(a, name);
    s->pass_host_header = pass_host_header;
    s->n_servers = n_servers;
    s->servers = arena_alloc(a, (n_servers ? n_servers : 1) * sizeof(*s->servers));
    if (n_servers > 1) {
        s->wrr_stride = (uint32_t)(((n_servers * sizeof(int32_t) + 63) & ~(size_t)63) / sizeof(int32_t));
        s->wrr = alloc_line(a, (size_t)t->n_workers * s->wrr_stride * sizeof(int32_t));
    }
    s->stats = stats_acquire(STATS_SERVICE, name);
}

static void service_index(struct table *t, struct table_service *s)
{
    ptr_vec_push(&t->arena, &t->build_services, s);
    /* the name lives in the service's memory, which the table holds */
    *table_host_map_slot_held(&t->arena, &t->service_index, s->name, strlen(s->name)) = s;
}

struct table_service *table_add_service(struct table *t, const char *name, bool pass_host_header, uint32_t n_servers)
{
    struct table_service *s = arena_alloc(&t->arena, sizeof(*s));
    service_init(t, &t->arena, s, name, pass_host_header, n_servers);
    service_index(t, s);
    return s;
}

struct table_service *table_add_service_shared(struct table *t, const char *name, bool pass_host_header, uint32_t n_servers)
{
    struct table_service_unit *u = mem_calloc(1, sizeof(*u));
    /* sized for the service, its servers and the API's view of them */
    arena_init_sized(&u->arena, 512 + strlen(name) + (size_t)n_servers * 96 + (n_servers > 1 ? 64 * t->n_workers : 0));
    u->refs = 1;
    struct table_service *s = arena_alloc(&u->arena, sizeof(*s));
    s->unit = u;
    service_init(t, &u->arena, s, name, pass_host_header, n_servers);
    service_index(t, s);
    return s;
}

void table_adopt_service(struct table *t, struct table_service *svc)
{
    table_service_ref(svc);
    service_index(t, svc);
}

struct arena *table_service_arena(struct table *t, struct table_service *svc)
{
    return svc->unit ? &svc->unit->arena : &t->arena;
}

int table_service_set_server(struct table *t, struct table_service *svc, uint32_t i, const char *url, int weight,
                             struct diag *d)
{
    return table_service_set_server_via(t, svc, i, url, weight, NULL, d);
}

int table_service_set_server_via(struct table *t, struct table_service *svc, uint32_t i, const char *url, int weight,
                                 struct transport *tr, struct diag *d)
{
    (void)t;
    struct server *srv = registry_acquire_via(url, tr, d);
    if (srv == NULL)
        return -1;
    svc->servers[i].srv = srv;
    svc->servers[i].weight = weight;
    return 0;
}

struct table_service *table_add_mirroring(struct table *t, const char *name, struct table_service *main, uint32_t n_mirrors,
                                          const char *const *mirror_names, bool mirror_body, int64_t max_body)
{
    struct table_service *s = table_add_service(t, name, main->pass_host_header, 0);
    s->main = main;
    s->n_mirrors = n_mirrors;
    s->mirror_body = mirror_body;
    s->mirror_max_body = max_body;
    s->mirrors = arena_alloc(&t->arena, (n_mirrors ? n_mirrors : 1) * sizeof(*s->mirrors));
    for (uint32_t i = 0; i < n_mirrors; i++) {
        const char *parts[] = {name, mirror_names[i]};
        s->mirrors[i].stats = stats_acquire(STATS_MIRROR, arena_concat(&t->arena, parts, 2, '>'));
        s->mirrors[i].index = i;
    }
    s->sample_stride = (uint32_t)((n_mirrors * 2 * sizeof(uint64_t) + 63) / 64 * 64 / sizeof(uint64_t));
    if (s->sample_stride == 0)
        s->sample_stride = 8;
    s->sample = alloc_line(&t->arena, (size_t)t->n_workers * s->sample_stride * sizeof(uint64_t));
    return s;
}

struct table_service *table_add_weighted(struct table *t, const char *name, uint32_t n_children)
{
    struct table_service *s = table_add_service(t, name, true, 0);
    s->n_children = n_children;
    s->children = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->children));
    s->child_weights = arena_alloc(&t->arena, (n_children ? n_children : 1) * sizeof(*s->child_weights));
    s->wrr_stride = (uint32_t)(((n_children * sizeof(int32_t) + 63) & ~(size_t)63) / sizeof(int32_t));
    if (s->wrr_stride == 0)
        s->wrr_stride = 16;
    s->wrr = alloc_line(&t->arena, (size_t)t->n_workers * s->wrr_stride * sizeof(int32_t));
    return s;
}

static const char *sticky_value(struct arena *a, const char *key)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), md);
    char *hex = arena_alloc(a, 17);
    for (int i = 0; i < 8; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return hex;
}

void table_service_set_sticky(struct table *t, struct table_service *svc, const char *cookie_name, const char *const *keys,
                              uint32_t n, bool secure, bool http_only, const char *same_site, int64_t max_age, const char *path,
                              const char *domain)
{
    struct arena *a = table_service_arena(t, svc);
    struct table_sticky *st = arena_alloc(a, sizeof(*st));
    st->name = arena_strdup(a, cookie_name);
    st->name_len = strlen(st->name);
    st->values = arena_alloc(a, (n ? n : 1) * sizeof(*st->values));
    for (uint32_t i = 0; i < n; i++)
        st->values[i] = sticky_value(a, keys[i]);
    /* Go's http.Cookie.String() order: Path, Domain, Max-Age, HttpOnly, Secure, SameSite */
    char attrs[512];
    int len = snprintf(attrs, sizeof(attrs), "; Path=%s", path ? path : "/");
    if (domain && *domain)
        len += snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; Domain=%s", domain);
    if (max_age > 0)
        len += snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; Max-Age=%lld", (long long)max_age);
    else if (max_age < 0)
        len += snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; Max-Age=0");
    if (http_only)
        len += snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; HttpOnly");
    if (secure)
        len += snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; Secure");
    if (same_site && *same_site) {
        const char *v = strcasecmp(same_site, "none") == 0 ? "None" : strcasecmp(same_site, "lax") == 0 ? "Lax" : "Strict";
        snprintf(attrs + len, sizeof(attrs) - (size_t)len, "; SameSite=%s", v);
    }
    st->attrs = arena_strdup(a, attrs);
    svc->sticky = st;
}

struct table_service *table_find_service(const struct table *t, const char *name)
{
    return table_host_map_get(&t->service_index, name, strlen(name));
}

struct table_route *table_add_route(struct table *t, const char *name, const char *rule_text, const struct rule_node *rule,
                                    int64_t priority, uint64_t entrypoints, bool tls, struct table_service *svc)
{
    struct table_route *r = arena_alloc(&t->arena, sizeof(*r));
    r->name = arena_strdup(&t->arena, name);
    r->rule_text = arena_strdup(&t->arena, rule_text);
    r->rule = rule;
    r->priority = priority ? priority : rule_default_priority(rule_text);
    r->entrypoints = entrypoints;
    r->tls = tls;
    r->service = svc;
    r->stats = stats_acquire(STATS_ROUTER, name);
    ptr_vec_push(&t->arena, &t->build_routes, r);
    return r;
}

struct table_route *table_add_route_held(struct table *t, const char *name, const char *rule_text, const struct rule_node *rule,
                                         int64_t priority, uint64_t entrypoints, bool tls, struct table_service *svc,
                                         struct stats *stats, const struct table_hosts *hosts)
{
    struct table_route *r = arena_alloc(&t->arena, sizeof(*r));
    r->name = name;
    r->rule_text = rule_text;
    r->rule = rule;
    r->priority = priority ? priority : rule_default_priority(rule_text);
    r->entrypoints = entrypoints;
    r->tls = tls;
    r->service = svc;
    stats_ref(stats);
    r->stats = stats;
    r->hosts = hosts;
    ptr_vec_push(&t->arena, &t->build_routes, r);
    return r;
}

static void ssl_ctx_release(void *ctx)
{
    SSL_CTX_free(ctx);
}

void table_add_cert(struct table *t, void *ssl_ctx, const char *const *names, size_t n_names)
{
    SSL_CTX_up_ref(ssl_ctx);
    arena_on_free(&t->arena, ssl_ctx_release, ssl_ctx);
    for (size_t i = 0; i < n_names; i++) {
        const char *n = names[i];
        bool wild = n[0] == '*' && n[1] == '.';
        const char *key = wild ? n + 2 : n;
        void **slot = table_host_map_slot(&t->arena, wild ? &t->sni_wildcard : &t->sni_exact, key, strlen(key));
        if (*slot == NULL) /* first certificate for a name wins */
            *slot = ssl_ctx;
    }
    t->n_certs++;
}

static int route_cmp(const void *a, const void *b)
{
    const struct table_route *x = *(const struct table_route *const *)a, *y = *(const struct table_route *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

/*
 * Host names a route can only match, or false if it can match any host.
 * AND narrows to either side (the smaller set), OR needs both sides pinned.
 */
static bool collect_hosts(struct arena *a, const struct rule_node *n, struct ptr_vec *out)
{
    switch (n->op) {
    case RULE_MATCH:
        if (n->matcher != RULE_HOST)
            return false;
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i].len == 1 && n->args[i].s[0] == '*')
                return false;
        for (size_t i = 0; i < n->nargs; i++)
            ptr_vec_push(a, out, &n->args[i]);
        return true;
    case RULE_AND: {
        struct ptr_vec l = {0}, r = {0};
        bool lp = collect_hosts(a, n->a, &l), rp = collect_hosts(a, n->b, &r);
        const struct ptr_vec *pick = lp && rp ? (l.len <= r.len ? &l : &r) : lp ? &l : rp ? &r : NULL;
        if (pick == NULL)
            return false;
        for (size_t i = 0; i < pick->len; i++)
            ptr_vec_push(a, out, pick->items[i]);
        return true;
    }
    case RULE_OR: {
        struct ptr_vec l = {0}, r = {0};
        if (!collect_hosts(a, n->a, &l) || !collect_hosts(a, n->b, &r))
            return false;
        for (size_t i = 0; i < l.len; i++)
            ptr_vec_push(a, out, l.items[i]);
        for (size_t i = 0; i < r.len; i++)
            ptr_vec_push(a, out, r.items[i]);
        return true;
    }
    case RULE_NOT:
        return false;
    }
    return false;
}

static void list_push(struct arena *a, struct table_route_list *l, struct table_route *r)
{
    if (l->n > 0 && l->items[l->n - 1] == r)
        return; /* the same host twice in one rule */
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        struct table_route **items = arena_alloc(a, cap * sizeof(*items));
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = r;
}

static void index_route(struct table *t, struct table_route *r)
{
    struct ptr_vec found = {0};
    const struct ptr_vec *hosts = &found;
    if (r->hosts != NULL) { /* found once for the shared rule, whose strings the table holds */
        if (r->hosts->any) {
            list_push(&t->arena, &t->fallback, r);
            return;
        }
        hosts = &r->hosts->names;
    } else if (!collect_hosts(&t->arena, r->rule, &found)) { /* scratch in the table arena; small */
        list_push(&t->arena, &t->fallback, r);
        return;
    }
    for (size_t i = 0; i < hosts->len; i++) {
        const struct rule_str *h = hosts->items[i];
        bool wild = h->len > 2 && h->s[0] == '*' && h->s[1] == '.';
        struct table_host_map *m = wild ? &t->wildcard : &t->exact;
        const char *key = wild ? h->s + 2 : h->s;
        size_t len = wild ? h->len - 2 : h->len;
        void **slot = host_map_slot(&t->arena, m, key, len, r->hosts != NULL);
        if (*slot == NULL)
            *slot = arena_alloc(&t->arena, sizeof(struct table_route_list));
        list_push(&t->arena, *slot, r);
    }
}

void table_finish(struct table *t)
{
    t->n_routes = (uint32_t)t->build_routes.len;
    t->routes = (struct table_route **)t->build_routes.items;
    if (t->n_routes)
        qsort(t->routes, t->n_routes, sizeof(*t->routes), route_cmp);
    for (uint32_t i = 0; i < t->n_routes; i++) {
        t->routes[i]->rank = i;
        t->http_eps |= t->routes[i]->entrypoints;
        index_route(t, t->routes[i]);
    }
    table_tcp_finish(t);
    t->n_services = (uint32_t)t->build_services.len;
    t->services = (struct table_service **)t->build_services.items;
    t->build_routes = (struct ptr_vec){0};
    t->build_services = (struct ptr_vec){0};
}

/* ---- lookup ---- */

static bool route_applies(const struct table_route *r, uint32_t ep, bool tls)
{
    return (r->entrypoints >> ep & 1) && r->tls == tls;
}

const struct table_route *table_lookup(const struct table *t, const struct match_req *req, uint32_t ep, bool tls)
{
    const struct table_route_list *lists[3] = {NULL, NULL, &t->fallback};
    uint32_t pos[3] = {0, 0, 0};
    lists[0] = table_host_map_get(&t->exact, req->host, req->host_len);
    const char *dot = memchr(req->host, '.', req->host_len);
    if (dot != NULL && t->wildcard.n)
        lists[1] = table_host_map_get(&t->wildcard, dot + 1, req->host_len - (size_t)(dot + 1 - req->host));
    uint32_t last_rank = UINT32_MAX;
    for (;;) {
        int best = -1;
        uint32_t best_rank = UINT32_MAX;
        for (int i = 0; i < 3; i++) {
            if (lists[i] != NULL && pos[i] < lists[i]->n && lists[i]->items[pos[i]]->rank < best_rank) {
                best = i;
                best_rank = lists[i]->items[pos[i]]->rank;
            }
        }
        if (best < 0)
            return NULL;
        const struct table_route *r = lists[best]->items[pos[best]++];
        if (r->rank == last_rank)
            continue;
        last_rank = r->rank;
        if (route_applies(r, ep, tls) && match_rule(r->rule, req))
            return r;
    }
}

void *table_lookup_sni(const struct table *t, const char *name, size_t len)
{
    void *ctx = table_host_map_get(&t->sni_exact, name, len);
    if (ctx != NULL)
        return ctx;
    const char *dot = memchr(name, '.', len);
    if (dot == NULL)
        return NULL;
    return table_host_map_get(&t->sni_wildcard, dot + 1, len - (size_t)(dot + 1 - name));
}

const struct tls_option *table_lookup_tls_option(const struct table *t, const char *name, size_t len)
{
    const struct tls_option *o = table_host_map_get(&t->tls_option_exact, name, len);
    if (o != NULL)
        return o;
    const char *dot = memchr(name, '.', len); /* "*.example.com" covers one label */
    return dot ? table_host_map_get(&t->tls_option_wildcard, dot + 1, len - (size_t)(dot + 1 - name)) : NULL;
}

bool table_set_tls_option_host(struct table *t, const char *name, const struct tls_option *o)
{
    bool wild = name[0] == '*' && name[1] == '.';
    const char *key = wild ? name + 2 : name;
    void **slot = table_host_map_slot(&t->arena, wild ? &t->tls_option_wildcard : &t->tls_option_exact, key, strlen(key));
    if (*slot != NULL && *slot != o)
        return false;
    *slot = (void *)o;
    return true;
}

struct ptr_vec *table_rule_hosts(struct arena *a, const struct rule_node *rule)
{
    struct ptr_vec *v = arena_alloc(a, sizeof(*v));
    return collect_hosts(a, rule, v) ? v : NULL;
}

struct table_hosts *table_hosts_of(struct arena *a, const struct rule_node *rule)
{
    struct table_hosts *h = arena_alloc(a, sizeof(*h));
    h->any = !collect_hosts(a, rule, &h->names);
    return h;
}

void table_set_tls_option_host_force(struct table *t, const char *name, const struct tls_option *o)
{
    bool wild = name[0] == '*' && name[1] == '.';
    const char *key = wild ? name + 2 : name;
    *table_host_map_slot(&t->arena, wild ? &t->tls_option_wildcard : &t->tls_option_exact, key, strlen(key)) = (void *)o;
}

void table_set_default_cert(struct table *t, void *ssl_ctx)
{
    SSL_CTX_up_ref(ssl_ctx);
    arena_on_free(&t->arena, ssl_ctx_release, ssl_ctx);
    t->default_cert = ssl_ctx;
}
