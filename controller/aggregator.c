/*
 * Aggregator (see aggregator.h). Names are qualified "name@provider"; a
 * router's service without '@' refers to its own provider. A router is
 * dropped, with one log line naming the provider, the object and the
 * problem, when its rule does not parse, its service or entry point does
 * not exist, or it needs a feature not built yet; every other router is
 * still served.
 */
#include "aggregator.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <openssl/sha.h>

#include "../common/log.h"
#include "../proxy/hash_key.h"
#include "../proxy/publish.h"
#include "../proxy/registry.h"
#include "../proxy/stats.h"
#include "../admin/status.h"
#include "../proxy/table.h"
#include "../proxy/tcp/table_tcp.h"
#include "../proxy/tcp/tcp_middleware.h"
#include "../proxy/tls.h"
#include "../proxy/tls_options.h"
#include "../proxy/transport.h"
#include "../proxy/middleware/middleware.h"
#include "../proxy/middleware/status_ranges.h"
#include "../proxy/server.h"
#include "cert_watch.h"
#include "aggregator_chain.h"
#include "aggregator_rule.h"
#include "compile_reuse.h"
#include "healthcheck.h"
#include "middleware_resolve.h"
#include "tcp_status.h"
#include "udp_compile.h"
#include "udp_status.h"
#include "../common/rule.h"
#include "watcher.h"

#define MAX_PROVIDERS 8
#define CERT_WATCH_DEBOUNCE_MS 200

static struct aggregator_options opts;
static struct model *latest[MAX_PROVIDERS];
/* The model each provider had at the last compile, when replaced since:
 * kept until the next compile ends, so that what services_prev points to
 * stays alive (compile_reuse.h). */
static struct model *compiled[MAX_PROVIDERS];
static size_t n_providers;
/* model service -> its table_service in the published table */
static struct compile_reuse services_prev;
/* model middleware -> its shared table_middleware in the published table */
static struct compile_reuse middlewares_prev;
/* model router -> its shared parsed rule (aggregator_rule.h) */
static struct compile_reuse rules_prev;
/* model router -> its shared resolved middleware chains (aggregator_chain.h) */
static struct compile_reuse chains_prev;
/* every middleware name, kept across compiles (middleware_resolve.h) */
static struct mw_index *mw_names;
static bool dirty;
static uint64_t last_compile_ms;
static struct watcher_timer *window_timer;
static struct aggregator_stats stats;

/* Errors and router signatures of the last compile, to log only changes. */
static struct arena status_arena;
static struct ptr_vec errors;    /* char * */
static struct ptr_vec signatures; /* struct signature *, sorted by name */

static void compile(void);
static aggregator_compile_hook_cb compile_hook;

void aggregator_set_compile_hook(aggregator_compile_hook_cb cb)
{
    compile_hook = cb;
}

/* What identifies a router's compiled form, to count changed routers. */
struct signature {
    const char *name;
    uint64_t hash;
};

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

static void on_window(void *data)
{
    (void)data;
    if (dirty)
        compile();
}

/* Certificate files changed under an unchanged configuration. */
static void on_cert_files_changed(void)
{
    dirty = true;
    compile();
}

void aggregator_init(const struct aggregator_options *o)
{
    opts = *o;
    arena_init(&status_arena);
    if (window_timer == NULL)
        window_timer = watcher_timer_new(on_window, NULL);
    cert_watch_init(on_cert_files_changed, CERT_WATCH_DEBOUNCE_MS);
}

void aggregator_shutdown(void)
{
    healthcheck_shutdown();
    for (size_t i = 0; i < n_providers; i++) {
        model_free(latest[i]);
        model_free(compiled[i]);
        compiled[i] = NULL;
    }
    n_providers = 0;
    compile_reuse_free(&services_prev);
    compile_reuse_free(&middlewares_prev);
    compile_reuse_free(&rules_prev);
    compile_reuse_free(&chains_prev);
    mw_index_free(mw_names);
    mw_names = NULL;
    arena_free(&status_arena);
    errors = (struct ptr_vec){0};
    signatures = (struct ptr_vec){0};
    if (window_timer != NULL)
        watcher_timer_free(window_timer);
    window_timer = NULL;
    cert_watch_shutdown();
}

/* Traefik's entry point models (http.tls): a router without TLS of its own
 * takes the TLS of its entry points that have one. A router on several
 * entry points of which only some have it (or with different ones) becomes
 * one router per entry point, "<ep>-<name>", as Traefik's applyModel does.
 * The provider's router objects are left as they are (copies replace them
 * in this model's list), so that a provider may keep them between models. */
static const struct model_router_tls *ep_tls(size_t i)
{
    return opts.entrypoint_configs ? opts.entrypoint_configs[i].http_tls : NULL;
}

static void apply_entrypoint_models(struct model *m)
{
    bool any = false;
    for (size_t i = 0; i < opts.n_entrypoints; i++)
        any |= ep_tls(i) != NULL;
    if (!any)
        return;
    struct ptr_vec out = {0};
    for (size_t k = 0; k < m->routers.len; k++) {
        struct model_router *r = m->routers.items[k];
        size_t idx[64], n = 0;
        for (size_t i = 0; i < opts.n_entrypoints && n < 64; i++) {
            bool on = r->n_entrypoints == 0; /* none named: every entry point */
            for (size_t j = 0; j < r->n_entrypoints && !on; j++)
                on = strcmp(r->entrypoints[j], opts.entrypoints[i]) == 0;
            if (on)
                idx[n++] = i;
        }
        bool same = true, some = false;
        for (size_t i = 0; i < n; i++) {
            some |= ep_tls(idx[i]) != NULL;
            same &= ep_tls(idx[i]) == ep_tls(idx[0]);
        }
        if (r->tls != NULL || !some) {
            ptr_vec_push(&m->arena, &out, r);
            continue;
        }
        if (same) {
            struct model_router *c = arena_alloc(&m->arena, sizeof(*c));
            *c = *r;
            c->tls = (struct model_router_tls *)ep_tls(idx[0]);
            ptr_vec_push(&m->arena, &out, c);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            struct model_router *c = arena_alloc(&m->arena, sizeof(*c));
            *c = *r;
            c->name = arena_printf(&m->arena, "%s-%s", opts.entrypoints[idx[i]], r->name);
            c->entrypoints = arena_alloc(&m->arena, sizeof(*c->entrypoints));
            c->entrypoints[0] = opts.entrypoints[idx[i]];
            c->n_entrypoints = 1;
            c->tls = (struct model_router_tls *)ep_tls(idx[i]);
            ptr_vec_push(&m->arena, &out, c);
        }
    }
    m->routers = out;
}

void aggregator_submit(struct model *m)
{
    if (!m->digest_known)
        model_compute_digest(m);
    apply_entrypoint_models(m);
    size_t i = 0;
    while (i < n_providers && strcmp(latest[i]->provider, m->provider) != 0)
        i++;
    if (i < n_providers && latest[i]->digest == m->digest) {
        model_free(m); /* nothing changed */
        return;
    }
    if (i == n_providers) {
        if (n_providers == MAX_PROVIDERS) {
            log_error("aggregator: too many providers; ignoring %s", m->provider);
            model_free(m);
            return;
        }
        n_providers++;
    } else if (compiled[i] == NULL) {
        compiled[i] = latest[i]; /* the last compile's: freed after the next */
    } else {
        model_free(latest[i]); /* never compiled */
    }
    latest[i] = m;
    dirty = true;
    status_set_config_pending(true);
    /* Never compile inside a submit (but the first, so that listeners open
     * on a table): every submit of one loop pass, however long a compile
     * takes, waits for one compile after it. At most one table is built at
     * a time and the latest model per provider is the one pending. */
    if (last_compile_ms == 0) {
        compile();
        return;
    }
    if (watcher_timer_armed(window_timer))
        return;
    uint64_t now = watcher_now_ms();
    watcher_timer_arm(window_timer, now - last_compile_ms >= opts.window_ms ? 0 : last_compile_ms + opts.window_ms - now);
}

void aggregator_flush(void)
{
    if (dirty)
        compile();
}

const struct aggregator_stats *aggregator_stats(void)
{
    return &stats;
}

/* ---- compile ---- */

struct build {
    struct table *t;
    struct arena *scratch;
    struct ptr_vec errors;
    struct ptr_vec sigs;
    struct ptr_vec provider_problems; /* reported (and logged) by providers */
    struct status_snapshot *snap;     /* what the API will show */
    size_t cap_routers, cap_services, cap_middlewares;
    struct ptr_vec mirroring; /* struct pending_mirroring *: after every load balancer exists */
    struct ptr_vec weighted;  /* struct pending_weighted *: after those, in dependency order */
    struct ptr_vec tcp_weighted; /* struct pending_tcp_weighted *: after every TCP load balancer */
    struct ptr_vec tcp_refused;  /* const char *: "name@provider\0why" of TCP services not built */
    struct mw_resolver *mw;
    struct table_host_map transports; /* name@provider -> struct built_transport * */
    struct table_host_map tls_options; /* name@provider -> struct built_tls_option * */
    struct ptr_vec tls_bound;          /* struct tls_binding *: routes whose hosts an option claims */
    uint64_t current_tls_id;           /* the TLS option of the router being added */
    struct table_host_map service_models; /* name@provider -> struct service_entry * */
    struct status_service **router_services; /* the status of the service each snapshot router names, or NULL */
    struct compile_reuse services_next;   /* model service -> table_service, for the next compile */
    struct compile_reuse middlewares_next; /* model middleware -> table_middleware, for the next compile */
    struct compile_reuse rules_next;       /* model router -> shared rule, for the next compile */
    struct compile_reuse chains_next;      /* model router -> shared chains, for the next compile */
    size_t chains_kept, chains_resolved;   /* routers whose chains were taken from the last table / resolved */
};

/* A service by its qualified name: its model, and what the API shows. */
struct service_entry {
    const struct model_service *model;
    struct status_service *st;
};

static const struct model_service *model_service_named(struct build *b, const char *q)
{
    const struct service_entry *e = table_host_map_get(&b->service_models, q, strlen(q));
    return e ? e->model : NULL;
}

struct pending_weighted {
    const struct model_service *s;
    const char *q, *provider;
    struct status_service *st;
    bool done;
};

struct pending_mirroring {
    const struct model_service *s;
    const char *q, *provider;
    struct status_service *st;
};

/* Records a problem and, when <slot> is given, attaches it to the object
 * the API shows. */
static const char *record_on(struct build *b, const char **slot, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *record_on(struct build *b, const char **slot, const char *fmt, ...)
{
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ptr_vec_push(b->scratch, &b->errors, arena_strdup(b->scratch, msg));
    if (slot)
        *slot = arena_strdup(&b->snap->arena, msg);
    return msg[0] ? "" : NULL;
}

/* A snapshot's reference to a model it points into (freed on the watcher
 * thread: status_reclaim). */
static void release_model(void *m)
{
    model_free(m);
}

static void record(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(struct build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(b->scratch, &b->errors, fmt, ap);
    va_end(ap);
}

static const char *qualify(struct arena *a, const char *name, const char *provider)
{
    const char *parts[] = {name, provider};
    return strchr(name, '@') ? name : arena_concat(a, parts, 2, '@');
}

struct built_transport {
    const struct model_transport *mt;
    struct transport *t; /* NULL until first used, or when refused */
    const char *error;
};

static void index_transports(struct build *b)
{
    for (size_t i = 0; i < n_providers; i++)
        for (size_t j = 0; j < latest[i]->transports.len; j++) {
            const struct model_transport *mt = latest[i]->transports.items[j];
            const char *q = qualify(b->scratch, mt->name, latest[i]->provider);
            struct built_transport *bt = arena_alloc(b->scratch, sizeof(*bt));
            bt->mt = mt;
            void **slot = table_host_map_slot(b->scratch, &b->transports, q, strlen(q));
            if (*slot == NULL)
                *slot = bt;
        }
}

/* The transport named by a service (built on first use in this compile);
 * NULL with <err> set when it is missing or cannot be applied. */
static struct transport *service_transport(struct build *b, const char *name, const char *provider, const char **err)
{
    const char *q = qualify(b->scratch, name, provider);
    struct built_transport *bt = table_host_map_get(&b->transports, q, strlen(q));
    if (bt == NULL) {
        *err = arena_printf(b->scratch, "serversTransport '%s' does not exist", q);
        return NULL;
    }
    if (bt->t == NULL && bt->error == NULL) {
        const struct model_transport *mt = bt->mt;
        if (mt->unsupported != NULL) {
            bt->error = arena_printf(b->scratch, "serversTransport '%s': %s is not supported by gantry", q, mt->unsupported);
        } else {
            struct transport_spec spec = {mt->server_name, mt->insecure_skip_verify, mt->root_cas, mt->n_root_cas,
                                          mt->cert_files, mt->key_files, mt->n_certs, mt->dial_ms, mt->response_header_ms,
                                          mt->idle_conn_ms, mt->read_ms, mt->max_idle_conns_per_host,
                                          mt->disable_http2, mt->read_idle_ms, mt->ping_ms,
                                          mt->peer_cert_uri && *mt->peer_cert_uri ? mt->peer_cert_uri : NULL,
                                          mt->verify_depth, mt->min_version, mt->max_version, mt->ciphers,
                                          mt->peer_cert_sans, mt->n_peer_cert_sans};
            struct diag d;
            bt->t = transport_acquire(&spec, &d);
            if (bt->t == NULL)
                bt->error = arena_printf(b->scratch, "serversTransport '%s': %s", q, d.msg);
        }
    }
    *err = bt->error;
    return bt->t;
}

/* the compile's own references; servers keep theirs */
static void release_transports(struct build *b)
{
    for (uint32_t i = 0; i <= b->transports.mask && b->transports.slots; i++) {
        struct built_transport *bt = b->transports.slots[i].value;
        if (b->transports.slots[i].key != NULL && bt != NULL && bt->t != NULL)
            transport_release(bt->t);
    }
}

struct built_tls_option {
    const struct model_tls_option *mo;
    struct tls_option *o; /* NULL until built, or when refused */
    const char *error;
};

struct tls_binding {
    const char *router;
    const struct tls_option *o;
    struct ptr_vec *hosts; /* struct rule_str * */
    struct table_route *first;
};

static struct tls_option *built_option(struct build *b, struct built_tls_option *bo, const char *q)
{
    if (bo->o == NULL && bo->error == NULL) {
        const struct model_tls_option *m = bo->mo;
        struct tls_option_spec spec = {m->min_version,     m->max_version,        m->cipher_suites,
                                       m->n_cipher_suites, m->curves,             m->n_curves,
                                       m->client_ca_files, m->n_client_ca_files,  m->client_auth_type,
                                       m->sni_strict,      m->disable_session_tickets, m->alpn,
                                       m->n_alpn};
        struct diag d;
        if (tls_option_build(&b->t->arena, q, &spec, &bo->o, &d) != 0) {
            bo->o = NULL;
            bo->error = arena_printf(b->scratch, "%s: tls option '%s': %s", m->origin.source, q, d.msg);
            record(b, "%s", bo->error);
        }
    }
    return bo->o;
}

/* Indexes every provider's TLS options; the one named "default" (from any
 * provider, as in Traefik) applies where a router names none. */
static void add_tls_options(struct build *b)
{
    for (size_t i = 0; i < n_providers; i++)
        for (size_t j = 0; j < latest[i]->tls_options.len; j++) {
            const struct model_tls_option *mo = latest[i]->tls_options.items[j];
            const char *q = strcmp(mo->name, "default") == 0 ? "default" : qualify(b->scratch, mo->name, latest[i]->provider);
            struct built_tls_option *bo = arena_alloc(b->scratch, sizeof(*bo));
            bo->mo = mo;
            void **slot = table_host_map_slot(b->scratch, &b->tls_options, q, strlen(q));
            if (*slot != NULL) {
                record(b, "%s: tls option '%s' is defined more than once; the first definition is used", mo->origin.source, q);
                continue;
            }
            *slot = bo;
            b->t->has_tls_options = true;
        }
    struct built_tls_option *def = table_host_map_get(&b->tls_options, "default", 7);
    if (def != NULL)
        b->t->tls_default_option = built_option(b, def, "default");
}

/* The TLS option of a TLS router (NULL: the default) or -1 with <err>. */
static int router_tls_option(struct build *b, const struct model_router *r, const char *provider, const char *q,
                             const struct tls_option **out, const char **err)
{
    *out = b->t->tls_default_option;
    const char *name = r->tls ? r->tls->options : NULL;
    if (name == NULL || *name == '\0' || strcmp(name, "default") == 0 || strcmp(name, "default@file") == 0)
        return 0;
    const char *qn = qualify(b->scratch, name, provider);
    struct built_tls_option *bo = table_host_map_get(&b->tls_options, qn, strlen(qn));
    if (bo == NULL) {
        record_on(b, err, "%s: router '%s': tls option '%s' does not exist; the router is not served", r->origin.source, q, qn);
        return -1;
    }
    *out = built_option(b, bo, qn);
    if (*out == NULL) {
        record_on(b, err, "%s: router '%s': tls option '%s' cannot be applied; the router is not served", r->origin.source, q,
                  qn);
        return -1;
    }
    return 0;
}

/* After every router: a host claimed by two different options gets the
 * default (Traefik does the same and says so); routes on such a host, or
 * without a host at all, are reached with the default option. */
static void settle_tls_hosts(struct build *b)
{
    uint64_t def_id = b->t->tls_default_option ? b->t->tls_default_option->id : 0;
    struct table_host_map conflicted = {0}; /* hosts given the default: later claims do not take them back */
    for (size_t i = 0; i < b->tls_bound.len; i++) {
        struct tls_binding *tb = b->tls_bound.items[i];
        for (size_t j = 0; tb->hosts && j < tb->hosts->len; j++) {
            const struct rule_str *h = tb->hosts->items[j];
            char *name = arena_strndup(b->scratch, h->s, h->len);
            if (table_host_map_get(&conflicted, name, strlen(name)) != NULL)
                continue;
            if (!table_set_tls_option_host(b->t, name, tb->o)) {
                record(b, "host '%s': routers with different TLS options (one of them '%s'); the default TLS option applies",
                       name, tb->router);
                table_set_tls_option_host_force(b->t, name, b->t->tls_default_option);
                *table_host_map_slot(b->scratch, &conflicted, name, strlen(name)) = name;
            }
        }
    }
    /* once every claim is in: a router keeps its option only where all its
     * hosts have it (whatever order the routers came in) */
    for (size_t i = 0; i < b->tls_bound.len; i++) {
        struct tls_binding *tb = b->tls_bound.items[i];
        bool mine = tb->hosts != NULL && tb->hosts->len > 0;
        for (size_t j = 0; mine && j < tb->hosts->len; j++) {
            const struct rule_str *h = tb->hosts->items[j];
            char *name = arena_strndup(b->scratch, h->s, h->len);
            mine = table_host_map_get(&conflicted, name, strlen(name)) == NULL &&
                   table_lookup_tls_option(b->t, name, strlen(name)) == tb->o;
        }
        if (!mine)
            for (uint32_t k = 0; k < b->t->build_routes.len; k++) {
                struct table_route *tr = b->t->build_routes.items[k];
                if (strcmp(tr->name, tb->router) == 0)
                    tr->tls_option_id = def_id;
            }
    }
}

/* Traefik's default sticky cookie name: "_" and the start of the SHA-1 of
 * "_TRAEFIK_BACKEND_" + the service name, 6 characters in all. */
static const char *default_cookie_name(struct arena *a, const char *service)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    const char *parts[] = {"_TRAEFIK_BACKEND_", service};
    const char *data = arena_concat(a, parts, 2, '\0');
    SHA1((const unsigned char *)data, strlen(data), md);
    return arena_printf(a, "_%02x%02x%x", md[0], md[1], md[2] >> 4);
}

static void set_sticky(struct build *b, struct table_service *ts, const char *q, const struct model_sticky *st,
                       const char *const *keys, uint32_t n)
{
    const char *name = default_cookie_name(b->scratch, q);
    if (st->name && *st->name) { /* Traefik sanitises a name into an RFC 2616 token */
        char *clean = arena_strdup(b->scratch, st->name);
        for (char *c = clean; *c; c++)
            if (!isalnum((unsigned char)*c) && strchr("!#$%&'*+-.^`|~", *c) == NULL)
                *c = '_';
        name = clean;
    }
    table_service_set_sticky(b->t, ts, name, keys, n, st->secure, st->http_only, st->same_site, st->max_age, st->path,
                             st->domain);
}

/* The shared service the published table built from the very model
 * object <s> (an unchanged service: providers hand those over by
 * reference), if every server of it was taken then. */
static struct table_service *unchanged_service(const struct model_service *s, const char *provider)
{
    struct table_service *old = compile_reuse_get(&services_prev, s);
    if (old == NULL || old->unit == NULL || old->view == NULL) /* only services with every server set are recorded */
        return NULL;
    const char *at = strrchr(old->name, '@'); /* named in the same provider (its name is the qualified one) */
    if (strchr(s->name, '@') == NULL && (at == NULL || strcmp(at + 1, provider) != 0))
        return NULL;
    return old;
}

/* The API's view of a shared service: its servers, in the service's own
 * memory, built once and shown by every snapshot holding the service. */
static void show_shared(struct status_service *st, struct table_service *ts)
{
    st->servers = (struct status_server *)ts->view;
    st->n_servers = ts->n_servers;
    st->shared = ts;
    table_service_ref(ts);
}

static void add_services(struct build *b, const struct model *m)
{
    struct status_snapshot *snap = b->snap;
    for (size_t i = 0; i < m->services.len; i++) {
        const struct model_service *s = m->services.items[i];
        /* an unchanged service (shown below, which holds it) brings its qualified name */
        struct table_service *old = s->lb != NULL && s->lb->servers_transport == NULL && s->unsupported == NULL && s->mirroring == NULL &&
                                            s->weighted == NULL && s->hrw == NULL && s->failover == NULL
                                        ? unchanged_service(s, m->provider)
                                        : NULL;
        const char *q = old ? old->name : qualify(&snap->arena, s->name, m->provider);
        struct status_service *st = &snap->services[snap->n_services++];
        st->name = q;
        st->provider = m->provider; /* the snapshot holds the model (compile) */
        st->type = s->lb          ? "loadBalancer"
                   : s->mirroring ? "mirroring"
                   : s->weighted  ? "weighted"
                   : s->hrw       ? "highestRandomWeight"
                   : s->failover  ? "failover"
                                  : s->unsupported;
        struct service_entry *e = arena_alloc(b->scratch, sizeof(*e));
        *e = (struct service_entry){s, st}; /* the last of one name wins, as in the API's usedBy */
        *table_host_map_slot_held(b->scratch, &b->service_models, q, strlen(q)) = e; /* <q> outlives the scratch */
        if (s->unsupported != NULL) {
            record_on(b, &st->error, "%s: service '%s': %s services are not supported by gantry; routers using it are not served",
                      s->origin.source, q, s->unsupported);
            continue;
        }
        if (s->mirroring != NULL) {
            struct pending_mirroring *pm = arena_alloc(b->scratch, sizeof(*pm));
            *pm = (struct pending_mirroring){.s = s, .q = q, .provider = m->provider, .st = st};
            ptr_vec_push(b->scratch, &b->mirroring, pm);
            continue;
        }
        if (s->weighted != NULL || s->hrw != NULL || s->failover != NULL) {
            struct pending_weighted *pw = arena_alloc(b->scratch, sizeof(*pw));
            *pw = (struct pending_weighted){.s = s, .q = q, .provider = m->provider, .st = st};
            ptr_vec_push(b->scratch, &b->weighted, pw);
            continue;
        }
        struct transport *tr = NULL;
        if (s->lb->servers_transport != NULL) {
            const char *err = NULL;
            tr = service_transport(b, s->lb->servers_transport, m->provider, &err);
            if (tr == NULL) { /* fail closed: never talk to the servers with less than was asked */
                record_on(b, &st->error, "%s: service '%s': %s; routers using it are not served", s->origin.source, q, err);
                continue;
            }
        }
        st->pass_host_header = s->lb->pass_host_header;
        if (s->lb->healthcheck) {
            st->healthcheck_path = s->lb->healthcheck->path;
            st->healthcheck_interval_ms = s->lb->healthcheck->interval_ms;
        }
        struct table_service *ts = old;
        if (ts != NULL) { /* carried over as it is: no per-server work */
            table_adopt_service(b->t, ts);
            compile_reuse_put(&b->services_next, s, ts);
            st->stats = ts->stats;
            stats_ref(ts->stats);
            show_shared(st, ts);
            for (uint32_t j = 0; s->lb->healthcheck != NULL && j < ts->n_servers; j++)
                healthcheck_want(ts->servers[j].srv, s->lb->healthcheck, q);
            continue;
        }
        /* a serversTransport may change under an unchanged service: such services are built for each table */
        ts = tr == NULL ? table_add_service_shared(b->t, q, s->lb->pass_host_header, (uint32_t)s->lb->n_servers)
                        : table_add_service(b->t, q, s->lb->pass_host_header, (uint32_t)s->lb->n_servers);
        struct arena *sa = table_service_arena(b->t, ts);
        if (s->lb->strategy && strcasecmp(s->lb->strategy, "p2c") == 0)
            ts->strategy = STRATEGY_P2C;
        else if (s->lb->strategy && strcasecmp(s->lb->strategy, "hrw") == 0)
            ts->strategy = STRATEGY_HRW;
        else if (s->lb->strategy && strcasecmp(s->lb->strategy, "leasttime") == 0)
            ts->strategy = STRATEGY_LEASTTIME;
        if (ts->strategy == STRATEGY_HRW && s->lb->hash_key != NULL) {
            char err[256];
            ts->hash_key = hash_key_compile(sa, s->lb->hash_key, err, sizeof(err));
            if (ts->hash_key == NULL) /* the providers compile it first: not expected here */
                record_on(b, &st->error, "%s: service '%s': hash key `%s`: %s (client address used)", s->origin.source, q,
                          s->lb->hash_key, err);
        }
        ts->empty_status = (uint16_t)s->lb->empty_status;
        ts->passive_window_ms = s->lb->passive_window_ms;
        ts->passive_max_failed = s->lb->passive_max_failed;
        st->stats = ts->stats;
        stats_ref(ts->stats);
        /* the API's view: in the service's memory when it is shared (no reference per server) */
        struct arena *va = ts->unit ? sa : &snap->arena;
        struct status_server *view = arena_alloc(va, (s->lb->n_servers ? s->lb->n_servers : 1) * sizeof(*view));
        bool complete = true; /* a skipped server's error is reported again: such a service is built for each table */
        for (size_t j = 0; j < s->lb->n_servers; j++) {
            struct diag d;
            view[j].url = arena_strdup(va, s->lb->servers[j].url);
            view[j].weight = s->lb->servers[j].weight;
            if (table_service_set_server_via(b->t, ts, (uint32_t)j, s->lb->servers[j].url, s->lb->servers[j].weight, tr, &d) !=
                0) {
                record_on(b, &st->error, "%s: service '%s': %s (server skipped)", s->origin.source, q, d.msg);
                complete = false;
                continue;
            }
            view[j].srv = ts->servers[j].srv;
            if (ts->unit == NULL)
                registry_ref(ts->servers[j].srv);
            const char *url = s->lb->servers[j].url, *sep = strstr(url, "://");
            const char *path = sep ? sep + 3 + strcspn(sep + 3, "/?#") : NULL;
            if (s->lb->servers[j].preserve_path && path && *path == '/' && strcmp(path, "/") != 0) {
                size_t len = strcspn(path, "?#");
                while (len > 1 && path[len - 1] == '/') /* "/base/" + "/x": one slash */
                    len--;
                ts->servers[j].path_prefix = arena_strndup(sa, path, len);
                ts->servers[j].path_prefix_len = len;
            }
            if (s->lb->healthcheck != NULL)
                healthcheck_want(ts->servers[j].srv, s->lb->healthcheck, q);
        }
        if (tr == NULL && complete)
            compile_reuse_put(&b->services_next, s, ts);
        if (ts->unit != NULL) {
            ts->view = view;
            show_shared(st, ts);
        } else {
            st->servers = view;
            st->n_servers = s->lb->n_servers;
        }
        if (s->lb->sticky != NULL) {
            const char **urls = arena_alloc(b->scratch, (s->lb->n_servers ? s->lb->n_servers : 1) * sizeof(*urls));
            for (size_t j = 0; j < s->lb->n_servers; j++)
                urls[j] = s->lb->servers[j].url;
            set_sticky(b, ts, q, s->lb->sticky, urls, (uint32_t)s->lb->n_servers);
        }
    }
}

/* The services a weighted, highestRandomWeight or failover service names,
 * with their weights (a failover's: main, then fallback). */
static size_t children_of(const struct model_service *s, const char ***names, int **weights, struct arena *a)
{
    if (s->failover != NULL) {
        *names = arena_alloc(a, 2 * sizeof(char *));
        *weights = arena_alloc(a, 2 * sizeof(int));
        (*names)[0] = s->failover->service, (*names)[1] = s->failover->fallback;
        (*weights)[0] = (*weights)[1] = 1;
        return 2;
    }
    const struct model_weighted *w = s->weighted ? s->weighted : s->hrw;
    *names = arena_alloc(a, (w->n_services ? w->n_services : 1) * sizeof(char *));
    *weights = arena_alloc(a, (w->n_services ? w->n_services : 1) * sizeof(int));
    for (size_t j = 0; j < w->n_services; j++)
        (*names)[j] = w->services[j].name, (*weights)[j] = w->services[j].weight;
    return w->n_services;
}

/* The first child of <pw> not built yet (qualified), or NULL when all are. */
static const char *missing_child(struct build *b, const struct pending_weighted *pw, const char **names, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (names[j] == NULL)
            return "(no name)";
        const char *q = qualify(b->scratch, names[j], pw->provider);
        if (!table_find_service(b->t, q))
            return q;
    }
    return NULL;
}

/* failover.errors: the statuses (checked by the decoder) on which the
 * fallback answers instead. */
static void set_failover_errors(struct build *b, struct table_service *ts, const struct model_failover *f)
{
    struct arena *a = table_service_arena(b->t, ts);
    ts->failover_status = arena_alloc(a, f->n_error_status * sizeof(*ts->failover_status));
    for (size_t i = 0; i < f->n_error_status; i++)
        if (status_range_parse(f->error_status[i], &ts->failover_status[ts->n_failover_status]) == 0)
            ts->n_failover_status++;
    ts->failover_max_body = f->error_max_body;
}

/* Services made of other services (any provider, any kind) are built once
 * every load balancer and mirroring service exists, in passes: one whose
 * children are all built is built next. What is left after a pass that
 * built nothing names a missing service or is part of a loop. */
static void add_weighted(struct build *b)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < b->weighted.len; i++) {
            struct pending_weighted *pw = b->weighted.items[i];
            if (pw->done)
                continue;
            const char **names;
            int *weights;
            size_t n = children_of(pw->s, &names, &weights, b->scratch);
            if (missing_child(b, pw, names, n) != NULL)
                continue;
            struct table_service *ts = table_add_weighted(b->t, pw->q, (uint32_t)n);
            ts->failover = pw->s->failover != NULL;
            if (ts->failover && pw->s->failover->n_error_status != 0)
                set_failover_errors(b, ts, pw->s->failover);
            ts->child_health = pw->s->weighted != NULL && pw->s->weighted->healthcheck;
            ts->strategy = pw->s->hrw ? STRATEGY_HRW : STRATEGY_WRR;
            for (size_t j = 0; j < n; j++) {
                ts->children[j] = table_find_service(b->t, qualify(b->scratch, names[j], pw->provider));
                ts->child_weights[j] = weights[j];
            }
            if (pw->s->weighted && pw->s->weighted->sticky != NULL)
                set_sticky(b, ts, pw->q, pw->s->weighted->sticky, names, (uint32_t)n);
            pw->st->stats = ts->stats;
            stats_ref(ts->stats);
            pw->done = progress = true;
        }
    }
    for (size_t i = 0; i < b->weighted.len; i++) {
        struct pending_weighted *pw = b->weighted.items[i];
        if (pw->done)
            continue;
        const char **names;
        int *weights;
        size_t n = children_of(pw->s, &names, &weights, b->scratch);
        const char *missing = missing_child(b, pw, names, n);
        record_on(b, &pw->st->error, "%s: service '%s': %s: service '%s' does not exist, cannot be served, or loops back",
                  pw->s->origin.source, pw->q, pw->st->type, missing ? missing : "?");
    }
}

static uint64_t entrypoint_mask(struct build *b, const struct model_router *r, const char *q, bool *ok, const char **err)
{
    *ok = true;
    if (r->n_entrypoints == 0)
        return opts.n_entrypoints >= 64 ? ~0ull : (1ull << opts.n_entrypoints) - 1;
    uint64_t mask = 0;
    for (size_t i = 0; i < r->n_entrypoints; i++) {
        size_t j = 0;
        while (j < opts.n_entrypoints && strcmp(opts.entrypoints[j], r->entrypoints[i]) != 0)
            j++;
        if (j == opts.n_entrypoints) {
            record_on(b, err, "%s: router '%s': entry point '%s' does not exist", r->origin.source, q, r->entrypoints[i]);
            continue;
        }
        mask |= 1ull << j;
    }
    *ok = mask != 0;
    return mask;
}

static bool same_list(const char **a, size_t na, const char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* The entry point's middlewares, the router's, then its service's (Traefik
 * v3.7 order), compiled; NULL with <err> set when one cannot be applied. */
static struct table_middleware **compile_chain(struct build *b, const struct entrypoint_config *ep, const struct model_router *r,
                                               const char *provider, const char *q, const struct model_service *sm,
                                               uint32_t *n, const char **err)
{
    struct ptr_vec chain = {0};
    struct diag d;
    const char *at = sm ? strchr(r->service, '@') : NULL;
    const char *svc_provider = at ? at + 1 : provider;
    if ((ep && mw_resolve(b->mw, ep->middlewares, ep->n_middlewares, provider, &chain, &d) != 0) ||
        mw_resolve(b->mw, r->middlewares, r->n_middlewares, provider, &chain, &d) != 0 ||
        (sm && mw_resolve(b->mw, sm->middlewares, sm->n_middlewares, svc_provider, &chain, &d) != 0)) {
        record_on(b, err, "%s: router '%s': %s; the router is not served", r->origin.source, q, d.msg);
        return NULL;
    }
    *n = (uint32_t)chain.len;
    struct table_middleware **out = arena_alloc(&b->t->arena, (chain.len ? chain.len : 1) * sizeof(*out));
    if (chain.len) /* no middleware: items is NULL */
        memcpy(out, chain.items, chain.len * sizeof(*out));
    return out;
}

/* The model of service <name> (unqualified: in <provider>), and the
 * provider its own references resolve in. */
static const struct model_service *service_model(struct build *b, const char *name, const char *provider, const char **own)
{
    const char *q = qualify(b->scratch, name, provider);
    const char *at = strchr(q, '@');
    *own = at ? at + 1 : provider;
    return model_service_named(b, q);
}

/* The services <s> hands requests to (children, main, fallback, mirrors). */
static size_t service_refs(const struct model_service *s, const char **out, size_t cap)
{
    size_t n = 0;
    const struct model_weighted *w = s->weighted ? s->weighted : s->hrw;
    for (size_t i = 0; w && i < w->n_services && n < cap; i++)
        out[n++] = w->services[i].name;
    if (s->failover && n + 2 <= cap)
        out[n++] = s->failover->service, out[n++] = s->failover->fallback;
    if (s->mirroring && n < cap)
        out[n++] = s->mirroring->service;
    for (size_t i = 0; s->mirroring && i < s->mirroring->n_mirrors && n < cap; i++)
        out[n++] = s->mirroring->mirrors[i].name;
    return n;
}

#define MAX_SERVICE_REFS 256

/* The first service below <s> (not <s> itself) with middlewares of its
 * own, qualified, or NULL; loops are refused where services are built. */
static const char *nested_middlewares(struct build *b, const struct model_service *s, const char *provider, int depth)
{
    const char *refs[MAX_SERVICE_REFS];
    size_t n = depth > 16 ? 0 : service_refs(s, refs, MAX_SERVICE_REFS);
    for (size_t i = 0; i < n; i++) {
        const char *own;
        const struct model_service *c = refs[i] ? service_model(b, refs[i], provider, &own) : NULL;
        if (c == NULL)
            continue;
        if (c->n_middlewares)
            return qualify(b->scratch, refs[i], provider);
        const char *deeper = nested_middlewares(b, c, own, depth + 1);
        if (deeper)
            return deeper;
    }
    return NULL;
}

/* Whether <s> is a mirroring service or a failover with errors: a service
 * whose children may have middlewares of their own, each run on the
 * request sent to that child (add_service_parts). */
static bool places_child_middlewares(const struct model_service *s)
{
    return s->mirroring != NULL || (s->failover != NULL && s->failover->n_error_status != 0);
}

/* The first service below <s> with middlewares gantry cannot place,
 * qualified, or NULL. The main service and mirrors of a mirroring service,
 * the main and fallback of a failover with errors, may have their own;
 * nothing below them may. */
static const char *unplaced_middlewares(struct build *b, const struct model_service *s, const char *provider)
{
    if (!places_child_middlewares(s))
        return nested_middlewares(b, s, provider, 1);
    const char *refs[MAX_SERVICE_REFS];
    size_t n = service_refs(s, refs, MAX_SERVICE_REFS);
    for (size_t i = 0; i < n; i++) {
        const char *own;
        const struct model_service *c = refs[i] ? service_model(b, refs[i], provider, &own) : NULL;
        const char *deeper = c ? nested_middlewares(b, c, own, 2) : NULL;
        if (deeper)
            return deeper;
    }
    return NULL;
}

/* Whether <s> (places_child_middlewares) has a child with middlewares of
 * its own (a route, or a branch, must carry them). */
static bool has_child_parts(struct build *b, const struct model_service *s, const char *provider)
{
    const char *refs[MAX_SERVICE_REFS];
    size_t n = places_child_middlewares(s) ? service_refs(s, refs, MAX_SERVICE_REFS) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *own;
        const struct model_service *c = refs[i] ? service_model(b, refs[i], provider, &own) : NULL;
        if (c && c->n_middlewares)
            return true;
    }
    return false;
}

/* Whether <sm> (built as <svc>) picks one of its children per request by
 * something known before the chain runs: weighted (its sticky cookie, else
 * smooth WRR), highestRandomWeight (the client address), failover without
 * errors (the main service's health). Its children's names in <names>. */
static size_t branchable_children(struct build *b, const struct model_service *sm, const struct table_service *svc,
                                  const char ***names)
{
    int *weights;
    bool pick_first = (sm->weighted && svc->strategy == STRATEGY_WRR && !svc->failover) ||
                      (sm->hrw && svc->strategy == STRATEGY_HRW) || (sm->failover && svc->failover && svc->n_failover_status == 0);
    if (!pick_first)
        return 0;
    size_t n = children_of(sm, names, &weights, b->scratch);
    return n == svc->n_children ? n : 0;
}

/* Whether the router's service <sm> (built as <svc>) needs one branch per
 * child: one whose child is picked before the chain (branchable_children)
 * and whose children have middlewares of their own (nothing deeper has
 * any). -1 with <why> when some service below it has middlewares gantry
 * cannot place. */
static int needs_branches(struct build *b, const struct model_service *sm, const char *provider, const struct table_service *svc,
                          const char **why)
{
    if (sm == NULL)
        return 0;
    const char **names = NULL;
    size_t n = branchable_children(b, sm, svc, &names);
    bool branch = false;
    for (size_t i = 0; i < n; i++) {
        const char *own;
        const struct model_service *c = service_model(b, names[i], provider, &own);
        if (c == NULL)
            continue;
        branch |= c->n_middlewares != 0 || has_child_parts(b, c, own);
        const char *deeper = unplaced_middlewares(b, c, own);
        if (deeper) {
            *why = arena_printf(b->scratch, "service '%s' has middlewares inside service '%s'", deeper,
                                qualify(b->scratch, names[i], provider));
            return -1;
        }
    }
    if (n != 0)
        return branch;
    const char *deeper = unplaced_middlewares(b, sm, provider);
    if (deeper) {
        *why = arena_printf(b->scratch, "service '%s' has middlewares, which gantry runs on the router's service, on the "
                                        "children of the router's weighted, highestRandomWeight or "
                                        "failover (without errors) service, or on the main, mirrors and fallback of the "
                                        "router's (or such a child's) mirroring service or failover with errors only", deeper);
        return -1;
    }
    return 0;
}

/* Middlewares that may hold a request to answer later: a mirror's copy
 * is taken at once, so they cannot run on it. */
static const char *waiting_middleware(const struct ptr_vec *chain)
{
    for (size_t i = 0; i < chain->len; i++) {
        const struct table_middleware *m = chain->items[i];
        if (strcasecmp(m->type->name, "forwardAuth") == 0 || strcasecmp(m->type->name, "grpcWeb") == 0)
            return m->name;
    }
    return NULL;
}

/* A copy of <chain> in the table's arena. */
static struct table_middleware **chain_copy(struct build *b, const struct ptr_vec *chain)
{
    struct table_middleware **out = arena_alloc(&b->t->arena, (chain->len ? chain->len : 1) * sizeof(*out));
    if (chain->len)
        memcpy(out, chain->items, chain->len * sizeof(*out));
    return out;
}

/* Route (or branch) <tr> whose service is mirroring service <sm>: its
 * main service's middlewares go at the end of its chain, after the point
 * where the copies are taken (tr->cut), and each mirror's own in
 * tr->mirror_chains (see struct table_route). Nothing to do for another
 * service. false with <err> set when one cannot be built. */
static bool add_mirror_parts(struct build *b, struct table_route *tr, const struct model_router *r, const char *q,
                             const struct model_service *sm, const char *provider, const char **err)
{
    const struct table_service *svc = tr->service;
    if (sm == NULL || sm->mirroring == NULL || svc == NULL || svc->main == NULL || !has_child_parts(b, sm, provider))
        return true;
    const struct model_mirroring *mi = sm->mirroring;
    struct diag d;
    const char *own, *bad = NULL;
    const struct model_service *main = mi->service ? service_model(b, mi->service, provider, &own) : NULL;
    if (main != NULL && main->n_middlewares != 0) {
        struct ptr_vec chain = {0};
        for (uint32_t k = 0; k < tr->n_middlewares; k++)
            ptr_vec_push(b->scratch, &chain, tr->middlewares[k]);
        if (mw_resolve(b->mw, main->middlewares, main->n_middlewares, own, &chain, &d) != 0) {
            bad = mi->service;
            goto fail;
        }
        tr->cut = arena_alloc(&b->t->arena, sizeof(*tr->cut));
        *tr->cut = *tr; /* the router's part: filled like the route once it is added */
        tr->middlewares = chain_copy(b, &chain);
        tr->n_middlewares = (uint32_t)chain.len;
    }
    for (size_t j = 0; j < mi->n_mirrors && j < svc->n_mirrors; j++) {
        const struct model_service *ms = mi->mirrors[j].name ? service_model(b, mi->mirrors[j].name, provider, &own) : NULL;
        if (ms == NULL || ms->n_middlewares == 0)
            continue;
        struct ptr_vec chain = {0};
        if (mw_resolve(b->mw, ms->middlewares, ms->n_middlewares, own, &chain, &d) != 0) {
            bad = mi->mirrors[j].name;
            goto fail;
        }
        const char *waits = waiting_middleware(&chain);
        if (waits != NULL) {
            bad = mi->mirrors[j].name;
            diag_set(&d, "middleware '%s' waits for an answer, which a mirror's copy cannot do", waits);
            goto fail;
        }
        if (tr->mirror_chains == NULL) {
            tr->mirror_chains = arena_alloc(&b->t->arena, svc->n_mirrors * sizeof(*tr->mirror_chains));
            memset(tr->mirror_chains, 0, svc->n_mirrors * sizeof(*tr->mirror_chains));
        }
        struct table_route *mc = arena_alloc(&b->t->arena, sizeof(*mc));
        *mc = (struct table_route){.service = svc->mirrors[j].svc, .middlewares = chain_copy(b, &chain),
                                   .n_middlewares = (uint32_t)chain.len};
        tr->mirror_chains[j] = mc;
    }
    return true;
fail:
    record_on(b, err, "%s: router '%s': service '%s': %s; the router is not served", r->origin.source, q,
              qualify(b->scratch, bad, provider), d.msg);
    return false;
}

/* A chain: <prefix>, then the middlewares of service <name> (in
 * <provider>), or NULL with <d> set. */
static struct ptr_vec *chain_with(struct build *b, struct table_middleware **prefix, uint32_t n_prefix, const char *name,
                                  const char *provider, struct diag *d)
{
    struct ptr_vec *chain = arena_alloc(b->scratch, sizeof(*chain));
    *chain = (struct ptr_vec){0};
    for (uint32_t k = 0; k < n_prefix; k++)
        ptr_vec_push(b->scratch, chain, prefix[k]);
    const char *own;
    const struct model_service *s = name ? service_model(b, name, provider, &own) : NULL;
    if (s != NULL && mw_resolve(b->mw, s->middlewares, s->n_middlewares, own, chain, d) != 0)
        return NULL;
    return chain;
}

/* Route (or branch) <tr> whose service is failover <sm> with errors: the
 * main service's middlewares go at the end of its chain, after the cut
 * where the request is kept, and tr->failover_fallback is the route with
 * the fallback's instead (see struct table_route); a fallback route points
 * to itself. Nothing to do for another service. false with <err> set when
 * one cannot be built. */
static bool add_failover_parts(struct build *b, struct table_route *tr, const struct model_router *r, const char *q,
                               const struct model_service *sm, const char *provider, const char **err)
{
    const struct table_service *svc = tr->service;
    if (sm == NULL || sm->failover == NULL || sm->failover->n_error_status == 0 || svc == NULL || !svc->failover ||
        svc->n_failover_status == 0 || svc->n_children != 2 || !has_child_parts(b, sm, provider))
        return true;
    const struct model_failover *f = sm->failover;
    struct diag d;
    const char *bad = f->service;
    struct ptr_vec *main = chain_with(b, tr->middlewares, tr->n_middlewares, f->service, provider, &d), *fallback = NULL;
    if (main != NULL) {
        bad = f->fallback;
        fallback = chain_with(b, tr->middlewares, tr->n_middlewares, f->fallback, provider, &d);
    }
    const char *waits = fallback ? waiting_middleware(fallback) : NULL;
    if (waits != NULL)
        diag_set(&d, "middleware '%s' waits for an answer, which a failover's fallback request cannot do yet", waits);
    if (main == NULL || fallback == NULL || waits != NULL) {
        record_on(b, err, "%s: router '%s': service '%s': %s; the router is not served", r->origin.source, q,
                  qualify(b->scratch, bad, provider), d.msg);
        return false;
    }
    tr->cut = arena_alloc(&b->t->arena, sizeof(*tr->cut));
    *tr->cut = *tr; /* the router's part: filled like the route once it is added */
    struct table_route *fb = arena_alloc(&b->t->arena, sizeof(*fb));
    *fb = (struct table_route){.service = tr->service, .middlewares = chain_copy(b, fallback),
                               .n_middlewares = (uint32_t)fallback->len};
    fb->failover_fallback = fb;
    tr->failover_fallback = fb;
    tr->middlewares = chain_copy(b, main);
    tr->n_middlewares = (uint32_t)main->len;
    return true;
}

/* The parts of route (or branch) <tr> whose service is <sm>: a mirroring
 * service's or a failover's children's middlewares. */
static bool add_service_parts(struct build *b, struct table_route *tr, const struct model_router *r, const char *q,
                              const struct model_service *sm, const char *provider, const char **err)
{
    return add_mirror_parts(b, tr, r, q, sm, provider, err) && add_failover_parts(b, tr, r, q, sm, provider, err);
}

/* <part> (a branch, a mirror head or chain of route <tr>) becomes what
 * <tr> is, but for its service, chain and own parts. */
static void fill_like(struct table_route *part, const struct table_route *tr)
{
    struct table_route own = *part;
    *part = *tr;
    part->service = own.service, part->middlewares = own.middlewares, part->n_middlewares = own.n_middlewares;
    part->branches = NULL, part->n_branches = 0;
    part->mirror_chains = own.mirror_chains, part->cut = own.cut, part->failover_fallback = own.failover_fallback;
}

/* Route (or branch) <tr> is in the table: its parts are filled like it. */
static void fill_parts(struct table_route *tr)
{
    if (tr->cut != NULL) {
        fill_like(tr->cut, tr);
        tr->cut->cut = NULL, tr->cut->mirror_chains = NULL, tr->cut->failover_fallback = NULL; /* a plain cut of the chain */
    }
    if (tr->failover_fallback != NULL && tr->failover_fallback != tr)
        fill_like(tr->failover_fallback, tr); /* keeps its own: itself */
    for (uint32_t j = 0; tr->mirror_chains && j < tr->service->n_mirrors; j++)
        if (tr->mirror_chains[j] != NULL) {
            fill_like(tr->mirror_chains[j], tr);
            tr->mirror_chains[j]->mirror_chains = NULL, tr->mirror_chains[j]->cut = NULL;
            tr->mirror_chains[j]->failover_fallback = NULL;
        }
}

/* The branches of route <tr> (see struct table_route): its chain, then each
 * child's middlewares; false with <err> set when one cannot be built. */
static bool add_branches(struct build *b, struct table_route *tr, const struct model_router *r, const char *q,
                         const struct model_service *sm, const char *provider, const char **err)
{
    struct table_service *svc = tr->service;
    const char **names = NULL;
    if (branchable_children(b, sm, svc, &names) != svc->n_children) { /* needs_branches said yes: not reached */
        record_on(b, err, "%s: router '%s': its service's children changed while built; the router is not served",
                  r->origin.source, q);
        return false;
    }
    struct table_route **br = arena_alloc(&b->t->arena, svc->n_children * sizeof(*br));
    for (uint32_t i = 0; i < svc->n_children; i++) {
        const char *own;
        const struct model_service *c = service_model(b, names[i], provider, &own);
        struct ptr_vec chain = {0};
        for (uint32_t k = 0; k < tr->n_middlewares; k++)
            ptr_vec_push(b->scratch, &chain, tr->middlewares[k]);
        struct diag d;
        if (c && mw_resolve(b->mw, c->middlewares, c->n_middlewares, own, &chain, &d) != 0) {
            record_on(b, err, "%s: router '%s': service '%s': %s; the router is not served", r->origin.source, q,
                      qualify(b->scratch, names[i], provider), d.msg);
            return false;
        }
        br[i] = arena_alloc(&b->t->arena, sizeof(**br));
        *br[i] = *tr;
        br[i]->service = svc->children[i];
        br[i]->n_middlewares = (uint32_t)chain.len;
        br[i]->middlewares = chain_copy(b, &chain);
        if (!add_service_parts(b, br[i], r, q, c, own, err))
            return false;
    }
    tr->branches = br;
    tr->n_branches = svc->n_children;
    return true;
}

#define MAX_EP_GROUPS 64

/* One table route per group of the router's entry points that share their
 * entry point middlewares (usually one group). Every chain is compiled
 * before any route is added: a router whose policy cannot be applied on one
 * entry point is served on none (fail closed). Returns the first route, or
 * NULL. */
static struct table_route *add_route_per_chain(struct build *b, const struct model_router *r, const char *provider,
                                               const struct route_unit *u, uint64_t mask, struct table_service *svc,
                                               const struct model_service *sm, const char **err)
{
    const char *q = u->name;
    const struct entrypoint_config *eps = opts.entrypoint_configs;
    uint64_t groups[MAX_EP_GROUPS];
    struct table_middleware **chains[MAX_EP_GROUPS];
    uint32_t lens[MAX_EP_GROUPS];
    size_t n_groups = 0;
    const struct shared_chain *kept = aggregator_chain_take(b->t, b->mw, &chains_prev, &b->chains_next, r, sm, mask);
    struct ptr_vec deps = {0};
    if (kept != NULL) { /* unchanged router, nothing it names changed */
        b->chains_kept++;
        n_groups = kept->n_groups;
        memcpy(groups, kept->groups, n_groups * sizeof(*groups));
        memcpy(chains, kept->chains, n_groups * sizeof(*chains));
        memcpy(lens, kept->lens, n_groups * sizeof(*lens));
    } else {
        b->chains_resolved++;
        mw_resolver_record_begin(b->mw, &deps); /* what the chains depend on, to keep them */
    }
    for (uint64_t left = kept ? 0 : mask; left != 0; n_groups++) {
        int i = __builtin_ctzll(left);
        const struct entrypoint_config *ep = eps ? &eps[i] : NULL;
        uint64_t group = 1ull << i;
        for (int j = i + 1; j < 64 && ep != NULL; j++)
            if ((left >> j & 1) && same_list(eps[j].middlewares, eps[j].n_middlewares, ep->middlewares, ep->n_middlewares))
                group |= 1ull << j;
        if (ep == NULL)
            group = left;
        left &= ~group;
        groups[n_groups] = group;
        chains[n_groups] = compile_chain(b, ep, r, provider, q, sm, &lens[n_groups], err);
        if (chains[n_groups] == NULL) {
            mw_resolver_record_end(b->mw);
            return NULL;
        }
    }
    if (kept == NULL && mw_resolver_record_end(b->mw))
        aggregator_chain_keep(b->t, b->mw, &b->chains_next, r, sm, mask, n_groups, groups, chains, lens, &deps);
    const char *at = sm ? strchr(r->service, '@') : NULL, *why = NULL;
    const char *svc_provider = at ? at + 1 : provider;
    int branches = needs_branches(b, sm, svc_provider, svc, &why);
    if (branches < 0) {
        record_on(b, err, "%s: router '%s': %s; the router is not served", r->origin.source, q, why);
        return NULL;
    }
    struct table_route *first = NULL;
    for (size_t g = 0; g < n_groups; g++) {
        struct table_route tmp = {.service = svc, .middlewares = chains[g], .n_middlewares = lens[g]};
        if ((branches && !add_branches(b, &tmp, r, q, sm, svc_provider, err)) ||
            (!branches && !add_service_parts(b, &tmp, r, q, sm, svc_provider, err)))
            return NULL; /* before any route is added: served on no entry point */
        struct table_route *tr =
            table_add_route_held(b->t, q, u->rule_text, u->rule, u->priority, groups[g], r->tls != NULL, svc, u->stats, u->hosts);
        tr->middlewares = tmp.middlewares;
        tr->n_middlewares = tmp.n_middlewares;
        tr->tls_option_id = b->current_tls_id;
        tr->branches = tmp.branches;
        tr->n_branches = tmp.n_branches;
        tr->mirror_chains = tmp.mirror_chains;
        tr->cut = tmp.cut;
        tr->failover_fallback = tmp.failover_fallback;
        fill_parts(tr);
        for (uint32_t i = 0; i < tr->n_branches; i++) { /* what the route is, but for its service and chain */
            fill_like(tr->branches[i], tr);
            fill_parts(tr->branches[i]);
        }
        if (first == NULL)
            first = tr;
    }
    return first;
}

static void add_routers(struct build *b, const struct model *m)
{
    for (size_t i = 0; i < m->routers.len; i++) {
        const struct model_router *r = m->routers.items[i];
        struct status_snapshot *snap = b->snap;
        struct diag d;
        /* the router's names, rule, hosts and statistics: built once per model object */
        const struct route_unit *u = aggregator_route_unit(b->t, &rules_prev, &b->rules_next, r, m->provider, &d);
        if (u != NULL)
            aggregator_route_unit_hold(&snap->arena, u); /* the snapshot shows its names */
        const char *q = u ? u->name : qualify(&snap->arena, r->name, m->provider);
        struct status_router *st = &snap->routers[snap->n_routers++];
        st->name = q; /* the rest points into the model, which the snapshot holds (compile) */
        st->provider = m->provider;
        st->rule = r->rule;
        st->entrypoints = r->entrypoints;
        st->n_entrypoints = r->n_entrypoints;
        st->middlewares = r->middlewares;
        st->n_middlewares = r->n_middlewares;
        st->priority = r->priority ? r->priority : rule_default_priority(r->rule);
        st->tls = r->tls != NULL;
        const char *sq = u ? u->service : r->service ? qualify(&snap->arena, r->service, m->provider) : NULL;
        st->service = sq;
        /* the service it names, for the API's usedBy (whether the router is served or not) */
        const struct service_entry *se = sq ? table_host_map_get(&b->service_models, sq, strlen(sq)) : NULL;
        b->router_services[snap->n_routers - 1] = se ? se->st : NULL;
        if (se != NULL)
            se->st->n_used_by++;
        if (u == NULL) {
            record_on(b, &st->error, "%s: router '%s': rule `%s`: %s", r->origin.source, q, r->rule, d.msg);
            continue;
        }
        if (r->service == NULL) {
            record_on(b, &st->error, "%s: router '%s': no service", r->origin.source, q);
            continue;
        }
        const struct model_service *sm = se ? se->model : NULL;
        struct table_service *svc = table_find_service(b->t, sq);
        if (svc == NULL) {
            if (sm != NULL)
                record_on(b, &st->error, "%s: router '%s': service '%s' cannot be served (%s); the router is not served",
                          r->origin.source, q, sq, sm->unsupported ? sm->unsupported : "see the service's error");
            else
                record_on(b, &st->error, "%s: router '%s': service '%s' does not exist", r->origin.source, q, sq);
            continue;
        }
        bool ok;
        uint64_t mask = entrypoint_mask(b, r, q, &ok, &st->error);
        if (!ok)
            continue;
        const struct tls_option *topt = NULL;
        if (r->tls != NULL && router_tls_option(b, r, m->provider, q, &topt, &st->error) != 0)
            continue;
        b->current_tls_id = topt ? topt->id : 0;
        struct table_route *tr = add_route_per_chain(b, r, m->provider, u, mask, svc, sm, &st->error);
        if (tr == NULL)
            continue;
        if (r->tls != NULL && topt != NULL && topt != b->t->tls_default_option) {
            struct tls_binding *tb = arena_alloc(b->scratch, sizeof(*tb));
            *tb = (struct tls_binding){tr->name, topt, table_rule_hosts(b->scratch, u->rule), tr};
            ptr_vec_push(b->scratch, &b->tls_bound, tb);
        }
        st->stats = tr->stats;
        stats_ref(tr->stats);
        struct signature *sig = arena_alloc(b->scratch, sizeof(*sig));
        sig->name = q;
        sig->hash = hash_str(u->sig ^ mask, "") ^ ((uint64_t)tr->priority << 1) ^ (r->tls != NULL);
        ptr_vec_push(b->scratch, &b->sigs, sig);
    }
}

/* The port of entry point <to>'s address (":443" -> "443"), or <to> itself
 * when it is a port (":8443"). */
static const char *redirect_port(struct arena *a, const char *to)
{
    const char *addr = to;
    for (size_t i = 0; i < opts.n_entrypoints; i++)
        if (strcmp(opts.entrypoint_configs[i].name, to) == 0)
            addr = opts.entrypoint_configs[i].address;
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    const char *port = colon ? colon + 1 : addr;
    const char *slash = port ? strchr(port, '/') : NULL; /* ":443/tcp" */
    return port ? arena_strndup(a, port, slash ? (size_t)(slash - port) : strlen(port)) : "";
}

/* http.redirections.entryPoint: a catch-all route of the highest priority on
 * the entry point whose only job is the redirect (Traefik's generated
 * "<ep>-to-<to>@internal" router). */
static void add_entrypoint_redirects(struct build *b)
{
    for (size_t i = 0; i < opts.n_entrypoints && opts.entrypoint_configs; i++) {
        const struct entrypoint_config *ep = &opts.entrypoint_configs[i];
        if (ep->redirect_to == NULL)
            continue;
        const char *name = arena_printf(b->scratch, "%s-to-%s@internal", ep->name, ep->redirect_to[0] == ':' ? ep->redirect_to + 1 : ep->redirect_to);
        const char *keys[] = {"scheme", "port", "permanent"};
        const char *values[] = {ep->redirect_scheme ? ep->redirect_scheme : "https", redirect_port(b->scratch, ep->redirect_to),
                                ep->redirect_permanent ? "true" : "false"};
        struct diag d;
        struct table_middleware *mw =
            middleware_build(&b->t->arena, arena_printf(b->scratch, "redirect-%s@internal", ep->name), "redirectScheme", keys, values, 3, &d);
        const char *rule_text = "HostRegexp(`^.+$`)";
        const struct rule_node *rule = mw ? rule_parse(&b->t->arena, rule_text, &d) : NULL;
        if (rule == NULL) {
            record(b, "entry point '%s': http.redirections.entryPoint: %s", ep->name, d.msg);
            continue;
        }
        struct table_route *tr = table_add_route(b->t, name, rule_text, rule, ep->redirect_priority, 1ull << i, false, NULL);
        struct table_route *trs = table_add_route(b->t, name, rule_text, rule, ep->redirect_priority, 1ull << i, true, NULL);
        tr->middlewares = trs->middlewares = arena_alloc(&b->t->arena, sizeof(*tr->middlewares));
        tr->middlewares[0] = mw;
        tr->n_middlewares = trs->n_middlewares = 1;
    }
}

/* Mirroring services name load-balancer services (of any provider, as
 * name@provider), so they are built once all of those exist. */
/* The service a mirroring service's main or mirror <q> (qualified) sends
 * to: a service built already (a load balancer), or through weighted
 * services of one child each (Kubernetes wraps a reference's own
 * middlewares so; add_mirror_parts runs them) the load balancer below;
 * NULL when there is none. */
static struct table_service *mirror_target(struct build *b, const char *q)
{
    for (int depth = 0; q != NULL && depth < 8; depth++) {
        struct table_service *s = table_find_service(b->t, q);
        if (s != NULL)
            return s;
        const struct model_service *m = model_service_named(b, q);
        if (m == NULL || m->weighted == NULL || m->weighted->n_services != 1 || m->weighted->sticky != NULL ||
            m->weighted->services[0].name == NULL)
            return NULL;
        const char *at = strchr(q, '@');
        q = at ? qualify(b->scratch, m->weighted->services[0].name, at + 1) : NULL;
    }
    return NULL;
}

static void add_mirroring(struct build *b)
{
    for (size_t i = 0; i < b->mirroring.len; i++) {
        const struct pending_mirroring *pm = b->mirroring.items[i];
        const struct model_mirroring *mi = pm->s->mirroring;
        struct status_service *st = pm->st;
        struct arena *sa = &b->snap->arena;
        st->mirror_body = mi->mirror_body;
        st->mirror_max_body = mi->max_body_size;
        st->mirror_main = mi->service ? arena_strdup(sa, qualify(b->scratch, mi->service, pm->provider)) : NULL;
        st->mirrors = arena_alloc(sa, (mi->n_mirrors ? mi->n_mirrors : 1) * sizeof(*st->mirrors));
        st->n_mirrors = mi->n_mirrors;
        const char **names = arena_alloc(b->scratch, (mi->n_mirrors ? mi->n_mirrors : 1) * sizeof(*names));
        for (size_t j = 0; j < mi->n_mirrors; j++) {
            names[j] = mi->mirrors[j].name ? qualify(b->scratch, mi->mirrors[j].name, pm->provider) : "";
            st->mirrors[j].name = arena_strdup(sa, names[j]);
            st->mirrors[j].percent = (uint32_t)mi->mirrors[j].percent;
        }
        const char *src = pm->s->origin.source;
        struct table_service *main = st->mirror_main ? mirror_target(b, st->mirror_main) : NULL;
        if (main == NULL || main->main != NULL) {
            record_on(b, &st->error, "%s: service '%s': mirroring: %s%s%s", src, pm->q,
                      st->mirror_main ? "main service '" : "no main service",
                      st->mirror_main ? st->mirror_main : "",
                      st->mirror_main ? (main ? "' is itself a mirroring service" : "' does not exist") : "");
            continue;
        }
        bool ok = true;
        for (size_t j = 0; j < mi->n_mirrors && ok; j++) {
            struct table_service *ms = mirror_target(b, names[j]);
            if (ms == NULL || ms->main != NULL || mi->mirrors[j].percent < 0 || mi->mirrors[j].percent > 100) {
                record_on(b, &st->error, "%s: service '%s': mirror '%s': %s", src, pm->q, names[j],
                          ms == NULL ? "no such service"
                          : ms->main ? "a mirroring service cannot be a mirror"
                                     : "percent must be between 0 and 100");
                ok = false;
            }
        }
        if (!ok)
            continue;
        struct table_service *ts =
            table_add_mirroring(b->t, pm->q, main, (uint32_t)mi->n_mirrors, names, mi->mirror_body, mi->max_body_size);
        for (size_t j = 0; j < mi->n_mirrors; j++) {
            ts->mirrors[j].svc = mirror_target(b, names[j]);
            ts->mirrors[j].percent = (uint32_t)mi->mirrors[j].percent;
            st->mirrors[j].stats = ts->mirrors[j].stats;
            stats_ref(ts->mirrors[j].stats);
        }
        st->stats = ts->stats;
        stats_ref(ts->stats);
    }
}

/* TCP services and routers: chosen per connection by the ClientHello's
 * server name (proxy/table_tcp.h). */
/* The TCP middleware named <qualified>, from any provider, or NULL. */
static const struct model_middleware *find_tcp_middleware(struct build *b, const char *qualified)
{
    for (size_t i = 0; i < n_providers; i++)
        for (size_t j = 0; j < latest[i]->tcp_middlewares.len; j++) {
            const struct model_middleware *mw = latest[i]->tcp_middlewares.items[j];
            if (strcmp(qualify(b->scratch, mw->name, latest[i]->provider), qualified) == 0)
                return mw;
        }
    return NULL;
}

/* Compiles TCP router <r>'s middlewares (one instance per router, as in
 * Traefik) into <out>; -1 with the problem recorded when one does not exist
 * or is refused: the router is then not served. */
static int tcp_middlewares(struct build *b, const struct model_router *r, const char *q, const char *provider,
                           struct tcp_middleware ***out)
{
    *out = arena_alloc(&b->t->arena, r->n_middlewares * sizeof(**out));
    for (size_t i = 0; i < r->n_middlewares; i++) {
        const char *mq = qualify(b->scratch, r->middlewares[i], provider);
        const struct model_middleware *mw = find_tcp_middleware(b, mq);
        struct diag d;
        if (mw == NULL) {
            record(b, "%s: tcp router '%s': tcp middleware '%s' does not exist (router not served)", r->origin.source, q, mq);
            return -1;
        }
        (*out)[i] = tcp_middleware_build(&b->t->arena, mq, mw->type, mw->keys, mw->values, mw->n_options, &d);
        if ((*out)[i] == NULL) {
            record(b, "%s: tcp router '%s': tcp middleware '%s': %s (router not served)", r->origin.source, q, mq, d.msg);
            return -1;
        }
    }
    return 0;
}

struct pending_tcp_weighted {
    const struct model_tcp_service *s;
    const char *q, *provider;
    bool done;
};

static void refuse_tcp_service(struct build *b, const char *q, const char *why)
{
    /* "name\0why": looked up by name, the reason given to its routers */
    size_t nl = strlen(q), wl = strlen(why);
    char *entry = arena_alloc(b->scratch, nl + wl + 2);
    memcpy(entry, q, nl + 1);
    memcpy(entry + nl + 1, why, wl + 1);
    ptr_vec_push(b->scratch, &b->tcp_refused, entry);
}

/* <s>'s tcp serversTransport (any provider); NULL, with the service
 * refused, when it does not exist or asks for what gantry cannot do. */
static const struct model_tcp_transport *tcp_transport(struct build *b, const struct model_tcp_service *s, const char *q,
                                                       const char *provider)
{
    const char *tq = qualify(b->scratch, s->servers_transport, provider);
    const struct model_tcp_transport *found = NULL;
    for (size_t i = 0; i < n_providers && found == NULL; i++)
        for (size_t j = 0; j < latest[i]->tcp_transports.len && found == NULL; j++) {
            const struct model_tcp_transport *t = latest[i]->tcp_transports.items[j];
            if (strcmp(qualify(b->scratch, t->name, latest[i]->provider), tq) == 0)
                found = t;
        }
    const char *why = found == NULL ? arena_printf(b->scratch, "serversTransport '%s' does not exist", tq)
                      : found->unsupported
                          ? arena_printf(b->scratch, "serversTransport '%s': %s is not supported by gantry for TCP", tq,
                                         found->unsupported)
                          : NULL;
    if (why != NULL) {
        record(b, "%s: tcp service '%s': %s (service not served)", s->origin.source, q, why);
        refuse_tcp_service(b, q, why);
        return NULL;
    }
    return found;
}

/* The TLS context for <s>'s servers with tls: true, from the tls of its
 * transport <tr> (its own, or the tcpServersTransport; Traefik's
 * TLSClientConfig) or the defaults (system CAs, verified, the server's
 * host as name); <what> names the transport in problems. NULL, with the
 * service refused, when a CA or certificate cannot be loaded: never
 * plaintext instead. */
static struct transport *tcp_tls(struct build *b, const struct model_tcp_service *s, const char *q,
                                 const struct model_tcp_transport *tr, const char *what)
{
    const struct model_transport *mt = tr->tls;
    struct transport_spec spec = {.disable_http2 = true}; /* one context, no ALPN: the bytes are the client's */
    if (mt != NULL) {
        spec.server_name = mt->server_name;
        spec.insecure_skip_verify = mt->insecure_skip_verify;
        spec.root_cas = mt->root_cas;
        spec.n_root_cas = mt->n_root_cas;
        spec.cert_files = mt->cert_files;
        spec.key_files = mt->key_files;
        spec.n_certs = mt->n_certs;
        spec.peer_cert_uri = mt->peer_cert_uri;
    }
    struct diag d;
    struct transport *t = transport_acquire(&spec, &d);
    if (t == NULL) {
        const char *why = arena_printf(b->scratch, "%s: tls.%s", what, d.msg);
        record(b, "%s: tcp service '%s': %s (service not served)", s->origin.source, q, why);
        refuse_tcp_service(b, q, why);
    }
    return t;
}

/* The transport of the TCP services that name none: the static
 * tcpServersTransport (Traefik's default@internal). NULL, with <s>
 * refused, when it asks for what gantry cannot do (tls.spiffe), as
 * Traefik refuses its services without a SPIFFE source. */
static const struct model_tcp_transport *default_tcp_transport(struct build *b, const struct model_tcp_service *s,
                                                               const char *q)
{
    static const struct model_tcp_transport traefik_defaults = {.name = "tcpServersTransport"};
    const struct model_tcp_transport *dt = opts.tcp_transport ? opts.tcp_transport : &traefik_defaults;
    if (dt->unsupported == NULL)
        return dt;
    const char *why = arena_printf(b->scratch, "tcpServersTransport: %s is not supported by gantry", dt->unsupported);
    record(b, "%s: tcp service '%s': %s (service not served)", s->origin.source, q, why);
    refuse_tcp_service(b, q, why);
    return NULL;
}

/* How <ts>'s servers are dialed, as Traefik v3's DialerManager.Build:
 * dialTimeout and dialKeepAlive from the transport <dt> (<tr> when the
 * service names one, else the tcpServersTransport). A named transport's
 * proxyProtocol and terminationDelay replace the deprecated loadBalancer
 * ones, set or not; without one, the loadBalancer's apply (and the static
 * terminationDelay, which Traefik declares but never reads, is gantry's
 * default before Traefik's 100ms). */
static void tcp_dialer(const struct model_tcp_service *s, const char *q, const struct model_tcp_transport *tr,
                       const struct model_tcp_transport *dt, struct table_tcp_service *ts)
{
    ts->dial_ms = !dt->has_dial ? TCP_DIAL_DEFAULT_MS : dt->dial_ms ? dt->dial_ms : TCP_DIAL_NO_TIMEOUT;
    ts->keep_alive_ms = !dt->has_keep_alive || dt->keep_alive_ms == 0 ? TCP_KEEP_ALIVE_DEFAULT_MS : dt->keep_alive_ms;
    if (tr != NULL) {
        if (s->proxy_protocol != 0 || s->has_termination_delay)
            log_warn("%s: tcp service '%s': loadBalancer.%s is ignored: its serversTransport's applies (as Traefik v3)",
                     s->origin.source, q, s->proxy_protocol != 0 ? "proxyProtocol" : "terminationDelay");
        ts->proxy_protocol = (uint8_t)tr->proxy_protocol;
        ts->termination_delay_ms = tr->has_termination_delay ? tr->termination_delay_ms : TCP_TERMINATION_DELAY_DEFAULT_MS;
        return;
    }
    ts->proxy_protocol = (uint8_t)s->proxy_protocol;
    ts->termination_delay_ms = s->has_termination_delay    ? s->termination_delay_ms
                               : dt->has_termination_delay ? dt->termination_delay_ms
                                                           : TCP_TERMINATION_DELAY_DEFAULT_MS;
}

static void add_tcp_services(struct build *b, const struct model *m)
{
    for (size_t i = 0; i < m->tcp_services.len; i++) {
        const struct model_tcp_service *s = m->tcp_services.items[i];
        const char *q = qualify(b->scratch, s->name, m->provider);
        if (s->weighted != NULL) { /* its children may come from any provider: built after all of them */
            struct pending_tcp_weighted *pw = arena_alloc(b->scratch, sizeof(*pw));
            *pw = (struct pending_tcp_weighted){.s = s, .q = q, .provider = m->provider};
            ptr_vec_push(b->scratch, &b->tcp_weighted, pw);
            continue;
        }
        const struct model_tcp_transport *tr = NULL;
        if (s->servers_transport != NULL && (tr = tcp_transport(b, s, q, m->provider)) == NULL)
            continue;
        const struct model_tcp_transport *dt = tr ? tr : default_tcp_transport(b, s, q);
        if (dt == NULL)
            continue;
        bool any_tls = false;
        for (size_t j = 0; j < s->n_servers; j++)
            any_tls |= s->servers[j].tls;
        struct transport *tls = NULL;
        const char *what = tr ? arena_printf(b->scratch, "serversTransport '%s'", qualify(b->scratch, s->servers_transport, m->provider))
                              : dt->name;
        if (any_tls && (tls = tcp_tls(b, s, q, dt, what)) == NULL)
            continue;
        if (!any_tls && tr != NULL && tr->tls != NULL) /* Traefik's meaning, but likely not what was meant */
            log_warn("%s: tcp service '%s': its serversTransport has tls, but none of its servers has tls: true: "
                     "they are dialed in plaintext (as Traefik)", s->origin.source, q);
        struct table_tcp_service *ts = table_tcp_add_service(b->t, q, (uint32_t)s->n_servers);
        ts->tls = tls; /* the table's reference now */
        tcp_dialer(s, q, tr, dt, ts);
        for (size_t j = 0; j < s->n_servers; j++) {
            ts->servers[j].tls = s->servers[j].tls;
            struct diag d;
            if (s->servers[j].address == NULL)
                record(b, "%s: tcp service '%s': server %zu has no address (skipped)", s->origin.source, q, j);
            else if (table_tcp_set_server(b->t, ts, (uint32_t)j, s->servers[j].address, &d) != 0)
                record(b, "%s: tcp service '%s': %s (server skipped)", s->origin.source, q, d.msg);
        }
    }
}

/* The first child of a weighted TCP service not built yet (qualified), or NULL. */
static const char *missing_tcp_child(struct build *b, const struct pending_tcp_weighted *pw)
{
    for (size_t j = 0; j < pw->s->weighted->n_services; j++) {
        const char *q = qualify(b->scratch, pw->s->weighted->services[j].name, pw->provider);
        if (table_tcp_find_service(b->t, q) == NULL)
            return q;
    }
    return NULL;
}

/* Why TCP service <q> was refused, or NULL. */
static const char *tcp_refusal(struct build *b, const char *q)
{
    for (size_t j = 0; j < b->tcp_refused.len; j++) {
        const char *e = b->tcp_refused.items[j];
        if (strcmp(e, q) == 0)
            return e + strlen(e) + 1;
    }
    return NULL;
}

/* Weighted TCP services in passes, as the HTTP ones: one whose children all
 * exist is built next; what is left names a missing child or a loop, and
 * is refused (its routers with it, add_tcp_routers). */
static void add_tcp_weighted(struct build *b)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < b->tcp_weighted.len; i++) {
            struct pending_tcp_weighted *pw = b->tcp_weighted.items[i];
            if (pw->done || missing_tcp_child(b, pw) != NULL)
                continue;
            const struct model_weighted *w = pw->s->weighted;
            struct table_tcp_service *ts = table_tcp_add_weighted(b->t, pw->q, (uint32_t)w->n_services);
            for (size_t j = 0; j < w->n_services; j++) {
                ts->children[j] = table_tcp_find_service(b->t, qualify(b->scratch, w->services[j].name, pw->provider));
                ts->child_weights[j] = w->services[j].weight;
            }
            pw->done = progress = true;
        }
    }
    for (size_t i = 0; i < b->tcp_weighted.len; i++) { /* what is left: in the order given, so refusals chain */
        struct pending_tcp_weighted *pw = b->tcp_weighted.items[i];
        if (pw->done)
            continue;
        const char *missing = missing_tcp_child(b, pw);
        bool pending = false;
        for (size_t j = 0; j < b->tcp_weighted.len && !pending; j++) {
            const struct pending_tcp_weighted *o = b->tcp_weighted.items[j];
            pending = !o->done && strcmp(o->q, missing) == 0;
        }
        const char *refused = tcp_refusal(b, missing);
        const char *why = arena_printf(b->scratch, "weighted: tcp service '%s' %s%s", missing,
                                       pending   ? "is not served either (a loop, or a child missing further down)"
                                       : refused ? "is not served: "
                                                 : "does not exist",
                                       refused && !pending ? refused : "");
        record(b, "%s: tcp service '%s': %s (service not served)", pw->s->origin.source, pw->q, why);
        refuse_tcp_service(b, pw->q, why);
    }
}

static void add_tcp_routers(struct build *b, const struct model *m)
{
    for (size_t i = 0; i < m->tcp_routers.len; i++) {
        const struct model_router *r = m->tcp_routers.items[i];
        const char *q = qualify(b->scratch, r->name, m->provider);
        struct diag d;
        if (r->rule == NULL) {
            record(b, "%s: tcp router '%s': no rule", r->origin.source, q);
            continue;
        }
        const struct rule_node *rule = rule_parse_tcp(&b->t->arena, r->rule, &d);
        if (rule == NULL) {
            record(b, "%s: tcp router '%s': rule `%s`: %s", r->origin.source, q, r->rule, d.msg);
            continue;
        }
        enum table_tcp_mode mode = r->tls == NULL ? TCP_PLAIN : r->tls->passthrough ? TCP_PASSTHROUGH : TCP_TERMINATE;
        if (mode == TCP_PLAIN && table_tcp_rule_needs_sni(rule)) {
            record(b,
                   "%s: tcp router '%s': rule `%s` needs a server name, which only a TLS ClientHello carries: add a tls "
                   "section (passthrough or termination) or use HostSNI(`*`)",
                   r->origin.source, q, r->rule);
            continue;
        }
        const char *sq = r->service ? qualify(b->scratch, r->service, m->provider) : NULL;
        struct table_tcp_service *svc = sq ? table_tcp_find_service(b->t, sq) : NULL;
        const char *refusal = svc == NULL && sq ? tcp_refusal(b, sq) : NULL;
        if (refusal != NULL) {
            record(b, "%s: tcp router '%s': tcp service '%s' is not served (%s); router not served", r->origin.source, q,
                   sq, refusal);
            continue;
        }
        if (svc == NULL) {
            record(b, "%s: tcp router '%s': %s%s%s", r->origin.source, q, sq ? "tcp service '" : "no service",
                   sq ? sq : "", sq ? "' does not exist" : "");
            continue;
        }
        bool ok;
        uint64_t mask = entrypoint_mask(b, r, q, &ok, NULL);
        if (!ok)
            continue;
        struct tcp_middleware **mws = NULL;
        if (r->n_middlewares && tcp_middlewares(b, r, q, m->provider, &mws) != 0)
            continue; /* never served without the middlewares it names */
        struct table_tcp_route *tr = table_tcp_add_route(b->t, q, r->rule, rule, r->priority, mask, mode, svc);
        tr->middlewares = mws;
        tr->n_middlewares = (uint32_t)r->n_middlewares;
    }
}

/* A certificate from files that fails to load after a change keeps its
 * last good version serving (cert_watch reloads it when the files are
 * fixed); the failure is reported all the same. */
static SSL_CTX *load_cert(struct build *b, const struct tls_cert_source *src, const char *what, const char *origin,
                          const char *const **names, size_t *n)
{
    struct diag d;
    SSL_CTX *ctx = tls_load(src, names, n, &d);
    if (ctx != NULL)
        return ctx;
    ctx = tls_load_last_good(src, names, n);
    record(b, "%s: %s: %s%s", origin, what, d.msg, ctx ? " (the last good certificate keeps serving)" : "");
    return ctx;
}

static void add_certs(struct build *b, const struct model *m)
{
    if (m->default_cert != NULL) {
        const struct model_tls_cert *c = m->default_cert;
        struct tls_cert_source src = {c->cert_file, c->key_file, c->cert_pem, c->key_pem};
        const char *const *names;
        size_t n;
        SSL_CTX *ctx = load_cert(b, &src, "tls.stores.default.defaultCertificate", c->origin.source, &names, &n);
        if (ctx != NULL && b->t->default_cert != NULL)
            record(b, "%s: tls.stores.default.defaultCertificate is set by more than one provider; the first is used",
                   c->origin.source);
        else if (ctx != NULL)
            table_set_default_cert(b->t, ctx);
    }
    for (size_t i = 0; i < m->certs.len; i++) {
        const struct model_tls_cert *c = m->certs.items[i];
        struct tls_cert_source src = {c->cert_file, c->key_file, c->cert_pem, c->key_pem};
        const char *const *names;
        size_t n;
        SSL_CTX *ctx = load_cert(b, &src, "tls certificate", c->origin.source, &names, &n);
        if (ctx != NULL)
            table_add_cert(b->t, ctx, names, n);
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool contains(const struct ptr_vec *sorted, const char *s)
{
    return sorted->len && bsearch(&s, sorted->items, sorted->len, sizeof(char *), str_cmp) != NULL;
}

static int sig_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct signature *const *)a)->name, (*(const struct signature *const *)b)->name);
}

static void log_changes(struct build *b, uint64_t us)
{
    if (b->sigs.len > 1)
        qsort(b->sigs.items, b->sigs.len, sizeof(void *), sig_cmp);
    if (b->errors.len > 1)
        qsort(b->errors.items, b->errors.len, sizeof(char *), str_cmp);
    size_t added = 0, removed = 0, changed = 0, i = 0, j = 0;
    while (i < b->sigs.len || j < signatures.len) {
        const struct signature *n = i < b->sigs.len ? b->sigs.items[i] : NULL, *o = j < signatures.len ? signatures.items[j] : NULL;
        int c = n == NULL ? 1 : o == NULL ? -1 : strcmp(n->name, o->name);
        if (c == 0) {
            changed += n->hash != o->hash;
            i++, j++;
        } else if (c < 0) {
            added++, i++;
        } else {
            removed++, j++;
        }
    }
    for (size_t k = 0; k < b->errors.len; k++)
        if (!contains(&errors, b->errors.items[k]))
            log_error("configuration: %s", (const char *)b->errors.items[k]);
    log_info("configuration applied in %.2f ms: %u routers (+%zu -%zu ~%zu), %u services, %u certificates, %zu errors",
             (double)us / 1000.0, b->t->n_routes, added, removed, changed, b->t->n_services, b->t->n_certs, b->errors.len);
    log_debug("middlewares: %zu compiled, %zu unchanged taken from the last table; router chains: %zu resolved, %zu "
              "unchanged taken from the last table",
              mw_resolver_built(b->mw), mw_resolver_reused(b->mw), b->chains_resolved, b->chains_kept);
}

/* Middlewares, who uses each service, the problem list; then publish. */
static void finish_snapshot(struct build *b)
{
    struct status_snapshot *snap = b->snap;
    for (size_t i = 0; i < n_providers; i++) {
        const struct model *m = latest[i];
        for (size_t j = 0; j < m->middlewares.len; j++) {
            const struct model_middleware *mw = m->middlewares.items[j];
            struct status_middleware *st = &snap->middlewares[snap->n_middlewares++];
            const char *q = mw_resolver_qualified_of(b->mw, mw); /* NULL: a duplicate name */
            st->name = q ? arena_strdup(&snap->arena, q) : qualify(&snap->arena, mw->name, m->provider);
            st->provider = m->provider; /* the snapshot holds the model (compile) */
            st->type = mw->type;
            st->keys = mw->keys;
            st->values = mw->values;
            st->n_options = mw->n_options;
            const char *err = !(q ? mw_resolver_supported_of(b->mw, mw) : middleware_type(mw->type) != NULL || strcasecmp(mw->type, "chain") == 0)
                                  ? arena_printf(&snap->arena, "middleware type '%s' is not supported by gantry", mw->type)
                                  : q ? mw_resolver_error_of(b->mw, mw) : mw_resolver_error(b->mw, st->name);
            st->error = err ? arena_strdup(&snap->arena, err) : NULL;
            st->n_used_by = q ? mw_resolver_users_of(b->mw, mw) : mw_resolver_users(b->mw, st->name);
        }
    }
    /* who uses each service: counted by add_routers, which looked each one up */
    for (size_t i = 0; i < snap->n_services; i++) {
        struct status_service *sv = &snap->services[i];
        sv->used_by = arena_alloc(&snap->arena, (sv->n_used_by ? sv->n_used_by : 1) * sizeof(char *));
        sv->n_used_by = 0;
    }
    for (size_t j = 0; j < snap->n_routers; j++) {
        struct status_service *sv = b->router_services[j];
        if (sv != NULL)
            sv->used_by[sv->n_used_by++] = snap->routers[j].name;
    }
    size_t np = b->provider_problems.len, ne = b->errors.len;
    snap->problems = arena_alloc(&snap->arena, (np + ne + 1) * sizeof(char *));
    for (size_t i = 0; i < np; i++)
        snap->problems[snap->n_problems++] = arena_strdup(&snap->arena, b->provider_problems.items[i]);
    for (size_t i = 0; i < ne; i++)
        snap->problems[snap->n_problems++] = arena_strdup(&snap->arena, b->errors.items[i]);
    tcp_status_render(&snap->arena, (const struct model *const *)latest, n_providers, b->t,
                      (const char *const *)b->errors.items, b->errors.len, &snap->tcp_routers_json, &snap->tcp_services_json);
    udp_status_render(&snap->arena, (const struct model *const *)latest, n_providers, b->t,
                      (const char *const *)b->errors.items, b->errors.len, &snap->udp_routers_json, &snap->udp_services_json);
    snap->generation = b->t->gen;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snap->compiled_unix_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    status_publish(snap);
}

static void compile(void)
{
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    dirty = false;
    last_compile_ms = watcher_now_ms();
    watcher_timer_cancel(window_timer);

    struct arena scratch;
    arena_init(&scratch);
    struct build b = {.t = table_new(opts.n_workers), .scratch = &scratch, .snap = status_new()};
    size_t nr = 0, nsv = 0, nm = 0;
    for (size_t i = 0; i < n_providers; i++) {
        nr += latest[i]->routers.len;
        nsv += latest[i]->services.len;
        nm += latest[i]->middlewares.len;
    }
    b.snap->routers = arena_alloc(&b.snap->arena, (nr ? nr : 1) * sizeof(*b.snap->routers));
    b.snap->services = arena_alloc(&b.snap->arena, (nsv ? nsv : 1) * sizeof(*b.snap->services));
    b.snap->middlewares = arena_alloc(&b.snap->arena, (nm ? nm : 1) * sizeof(*b.snap->middlewares));
    b.router_services = arena_alloc(&scratch, (nr ? nr : 1) * sizeof(*b.router_services));
    for (size_t i = 0; i < n_providers; i++) /* the snapshot shows the models' strings, not copies */
        arena_on_free(&b.snap->arena, release_model, model_ref(latest[i]));
    for (size_t i = 0; i < n_providers; i++) /* what providers could not build: they log it themselves */
        for (size_t j = 0; j < latest[i]->problems.len; j++)
            ptr_vec_push(b.scratch, &b.provider_problems, latest[i]->problems.items[j]);
    cert_watch_models(latest, n_providers); /* before anything reads the files */
    transport_sweep();
    index_transports(&b);
    tls_cache_begin();
    healthcheck_begin();
    compile_reuse_reserve(&b.services_next, services_prev.n);
    for (size_t i = 0; i < n_providers; i++)
        add_services(&b, latest[i]);
    healthcheck_end();
    add_mirroring(&b);
    add_weighted(&b);
    compile_reuse_reserve(&b.middlewares_next, middlewares_prev.n); /* about as many as last time: no regrowth */
    compile_reuse_reserve(&b.rules_next, rules_prev.n);
    compile_reuse_reserve(&b.chains_next, chains_prev.n);
    if (mw_names == NULL)
        mw_names = mw_index_new();
    b.mw = mw_resolver_new_indexed(&scratch, b.t, latest, n_providers, mw_names);
    mw_resolver_set_reuse(b.mw, &middlewares_prev, &b.middlewares_next);
    add_tls_options(&b);
    for (size_t i = 0; i < n_providers; i++)
        add_routers(&b, latest[i]);
    settle_tls_hosts(&b);
    add_entrypoint_redirects(&b);
    for (size_t i = 0; i < n_providers; i++)
        add_tcp_services(&b, latest[i]);
    add_tcp_weighted(&b);
    for (size_t i = 0; i < n_providers; i++)
        add_tcp_routers(&b, latest[i]);
    udp_compile(b.t, (const struct model *const *)latest, n_providers, opts.udp_entrypoints, opts.n_udp_entrypoints,
                b.scratch, &b.errors);
    for (size_t i = 0; i < n_providers; i++)
        add_certs(&b, latest[i]);
    tls_cache_sweep();
    release_transports(&b);
    table_finish(b.t);
    publish_swap(b.t);
    status_set_config_pending(false); /* what was submitted is live: /readyz may say so */
    if (compile_hook != NULL)
        compile_hook(latest, n_providers);
    gettimeofday(&t1, NULL); /* the change is live: what follows is bookkeeping */
    uint64_t us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (uint64_t)(t1.tv_usec - t0.tv_usec);
    finish_snapshot(&b);
    log_changes(&b, us);

    /* keep this compile's errors and signatures for the next comparison */
    struct arena next;
    arena_init(&next);
    struct ptr_vec ne = {0}, ns = {0};
    for (size_t i = 0; i < b.errors.len; i++)
        ptr_vec_push(&next, &ne, arena_strdup(&next, b.errors.items[i]));
    for (size_t i = 0; i < b.sigs.len; i++) {
        const struct signature *old = b.sigs.items[i];
        struct signature *sig = arena_alloc(&next, sizeof(*sig));
        sig->name = arena_strdup(&next, old->name);
        sig->hash = old->hash;
        ptr_vec_push(&next, &ns, sig);
    }
    arena_free(&status_arena);
    status_arena = next;
    errors = ne;
    signatures = ns;
    arena_free(&scratch);
    compile_reuse_free(&services_prev); /* its table is no longer current */
    services_prev = b.services_next;
    compile_reuse_free(&middlewares_prev);
    middlewares_prev = b.middlewares_next;
    compile_reuse_free(&rules_prev);
    rules_prev = b.rules_next;
    compile_reuse_free(&chains_prev);
    chains_prev = b.chains_next;
    for (size_t i = 0; i < n_providers; i++) {
        model_free(compiled[i]);
        compiled[i] = NULL;
    }

    stats.compiles++;
    stats.last_compile_us = us;
    stats.last_success_unix_ms = (uint64_t)t1.tv_sec * 1000 + (uint64_t)t1.tv_usec / 1000;
    stats.routers = b.t->n_routes;
    stats.services = b.t->n_services;
    stats.certs = b.t->n_certs;
    stats.errors = errors.len;
}
