/*
 * Model construction, lookup and the canonical dump. The dump sorts every
 * collection by name so that two providers' runs that produce the same
 * configuration produce the same text and the same digest.
 */
#include "model.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model *model_new(const char *provider)
{
    return model_new_sized(provider, 0);
}

struct model *model_new_sized(const char *provider, size_t first_chunk)
{
    struct model *m = mem_calloc(1, sizeof(*m));
    arena_init_sized(&m->arena, first_chunk);
    m->refs = 1;
    m->provider = arena_strdup(&m->arena, provider);
    return m;
}

void model_free(struct model *m)
{
    if (m == NULL || --m->refs != 0)
        return;
    arena_free(&m->arena);
    free(m);
}

struct model *model_ref(struct model *m)
{
    m->refs++;
    return m;
}

struct model_router *model_find_router(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->routers.len; i++) {
        struct model_router *r = m->routers.items[i];
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

struct model_service *model_find_service(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->services.len; i++) {
        struct model_service *s = m->services.items[i];
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

/*
 * The dump writes through a sink that either appends to a string (the
 * text for tests and the API) or feeds an FNV-1a hash (the digest), so
 * both come from one traversal and the digest costs no formatting.
 */
struct sink {
    char *s;
    size_t len, cap;
    bool hashing;
    uint64_t hash, sum;
};

static void out_n(struct sink *k, const char *p, size_t n)
{
    if (k->hashing) { /* a word at a time: this runs over every byte of the configuration */
        uint64_t h = k->hash;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            h = (h ^ w) * 0x100000001b3ULL;
            h ^= h >> 29;
        }
        for (; i < n; i++)
            h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
        k->hash = h ^ n;
        return;
    }
    if (k->len + n + 1 > k->cap) {
        k->cap = (k->len + n + 1) * 2;
        k->s = mem_realloc(k->s, k->cap);
    }
    memcpy(k->s + k->len, p, n);
    k->len += n;
    k->s[k->len] = '\0';
}

static void out(struct sink *k, const char *p)
{
    out_n(k, p ? p : "", p ? strlen(p) : 0);
}

static void out_int(struct sink *k, long long v)
{
    char buf[24], *p = buf + sizeof(buf);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    out_n(k, p, (size_t)(buf + sizeof(buf) - p));
}

/* out(k, a); out(k, b); ... up to the end marker (NULL items print as "") */
static const char outs_end[] = "";

static void outs(struct sink *k, ...)
{
    va_list ap;
    va_start(ap, k);
    for (const char *p; (p = va_arg(ap, const char *)) != outs_end;)
        out(k, p);
    va_end(ap);
}

#define OUT(k, ...) outs(k, __VA_ARGS__, outs_end)

/* Every named object starts with a const char *name. */
static int by_name(const void *a, const void *b)
{
    const char *const *x = *(const char *const *const *)a;
    const char *const *y = *(const char *const *const *)b;
    return strcmp(*x, *y);
}

static void **sorted(const struct ptr_vec *v)
{
    void **items = mem_alloc((v->len ? v->len : 1) * sizeof(void *));
    if (v->len)
        memcpy(items, v->items, v->len * sizeof(void *));
    if (v->len > 1)
        qsort(items, v->len, sizeof(void *), by_name);
    return items;
}

static void dump_list(struct sink *k, const char *key, const char **items, size_t n)
{
    if (n == 0)
        return;
    OUT(k, "      ", key, ": [");
    for (size_t i = 0; i < n; i++)
        OUT(k, i ? ", " : "", items[i]);
    out(k, "]\n");
}

static void dump_router(struct sink *k, const struct model_router *r)
{
    OUT(k, "    ", r->name, ":\n      rule: ", r->rule, "\n");
    if (r->service)
        OUT(k, "      service: ", r->service, "\n");
    dump_list(k, "entryPoints", r->entrypoints, r->n_entrypoints);
    dump_list(k, "middlewares", r->middlewares, r->n_middlewares);
    if (r->priority) {
        out(k, "      priority: ");
        out_int(k, r->priority);
        out(k, "\n");
    }
    if (r->tls)
        OUT(k, "      tls: {certResolver: ", r->tls->cert_resolver, ", options: ", r->tls->options,
            ", passthrough: ", r->tls->passthrough ? "true" : "false", "}\n");
    for (size_t i = 0; r->tls && i < r->tls->n_domains; i++) { /* only when set: earlier dumps stay as they were */
        OUT(k, "      tls.domains: ", r->tls->domains[i].main, "\n");
        dump_list(k, "  sans", r->tls->domains[i].sans, r->tls->domains[i].n_sans);
    }
}

static void dump_ms(struct sink *k, const char *key, uint64_t ms)
{
    OUT(k, ", ", key, ": ");
    out_int(k, (long long)ms);
    out(k, "ms");
}

static void dump_healthcheck(struct sink *k, const struct model_healthcheck *hc)
{
    OUT(k, "        healthCheck: {path: ", hc->path);
    dump_ms(k, "interval", hc->interval_ms);
    dump_ms(k, "timeout", hc->timeout_ms);
    dump_ms(k, "unhealthyInterval", hc->unhealthy_interval_ms);
    if (hc->scheme)
        OUT(k, ", scheme: ", hc->scheme);
    if (hc->hostname)
        OUT(k, ", hostname: ", hc->hostname);
    if (hc->method)
        OUT(k, ", method: ", hc->method);
    if (hc->port) {
        out(k, ", port: ");
        out_int(k, hc->port);
    }
    if (hc->status) {
        out(k, ", status: ");
        out_int(k, hc->status);
    }
    for (size_t i = 0; i < hc->n_headers; i++)
        OUT(k, ", header ", hc->header_names[i], ": ", hc->header_values[i]);
    out(k, "}\n");
}

static void dump_sticky(struct sink *k, const struct model_sticky *st)
{
    if (st == NULL)
        return;
    OUT(k, "        sticky: {cookie: {name: ", st->name ? st->name : "", ", secure: ", st->secure ? "true" : "false",
        ", httpOnly: ", st->http_only ? "true" : "false", ", sameSite: ", st->same_site ? st->same_site : "", ", path: ",
        st->path ? st->path : "", ", domain: ", st->domain ? st->domain : "", ", maxAge: ");
    out_int(k, st->max_age);
    out(k, "}}\n");
}

static void dump_service(struct sink *k, const struct model_service *s)
{
    OUT(k, "    ", s->name, ":\n");
    if (s->unsupported)
        OUT(k, "      ", s->unsupported, ": {} # not supported by gantry\n");
    dump_list(k, "middlewares", s->middlewares, s->n_middlewares);
    if (s->lb) {
        const struct model_lb *lb = s->lb;
        OUT(k, "      loadBalancer:\n        passHostHeader: ", lb->pass_host_header ? "true" : "false", "\n");
        if (lb->servers_transport)
            OUT(k, "        serversTransport: ", lb->servers_transport, "\n");
        if (lb->strategy)
            OUT(k, "        strategy: ", lb->strategy, "\n");
        if (lb->hash_key) /* written by the ingress-nginx translator only (upstream-hash-by) */
            OUT(k, "        # hashKey: ", lb->hash_key, "\n");
        if (lb->empty_status) {
            out(k, "        # without a server: ");
            out_int(k, lb->empty_status);
            out(k, "\n");
        }
        out(k, "        servers:\n");
        for (size_t i = 0; i < lb->n_servers; i++) {
            OUT(k, "          - {url: ", lb->servers[i].url, ", weight: ");
            out_int(k, lb->servers[i].weight);
            out(k, lb->servers[i].preserve_path ? ", preservePath: true}\n" : "}\n");
        }
        if (lb->healthcheck)
            dump_healthcheck(k, lb->healthcheck);
        dump_sticky(k, lb->sticky);
        if (lb->passive_window_ms) {
            out(k, "        passiveHealthcheck: {failureWindowMs: ");
            out_int(k, (int64_t)lb->passive_window_ms);
            out(k, ", maxFailedAttempts: ");
            out_int(k, lb->passive_max_failed);
            out(k, "}\n");
        }
    }
    if (s->mirroring) {
        const struct model_mirroring *mi = s->mirroring;
        OUT(k, "      mirroring:\n        service: ", mi->service, "\n        mirrorBody: ", mi->mirror_body ? "true" : "false",
            "\n        maxBodySize: ");
        out_int(k, mi->max_body_size);
        out(k, "\n        mirrors:\n");
        for (size_t i = 0; i < mi->n_mirrors; i++) {
            OUT(k, "          - {name: ", mi->mirrors[i].name, ", percent: ");
            out_int(k, mi->mirrors[i].percent);
            out(k, "}\n");
        }
    }
    if (s->weighted) {
        out(k, "      weighted:\n        services:\n");
        for (size_t i = 0; i < s->weighted->n_services; i++) {
            OUT(k, "          - {name: ", s->weighted->services[i].name, ", weight: ");
            out_int(k, s->weighted->services[i].weight);
            out(k, "}\n");
        }
        dump_sticky(k, s->weighted->sticky);
        if (s->weighted->healthcheck)
            out(k, "        healthCheck: {}\n");
    }
    if (s->hrw) {
        out(k, "      highestRandomWeight:\n        services:\n");
        for (size_t i = 0; i < s->hrw->n_services; i++) {
            OUT(k, "          - {name: ", s->hrw->services[i].name, ", weight: ");
            out_int(k, s->hrw->services[i].weight);
            out(k, "}\n");
        }
    }
    if (s->failover) {
        OUT(k, "      failover:\n        service: ", s->failover->service, "\n        fallback: ", s->failover->fallback, "\n");
        if (s->failover->n_error_status) {
            out(k, "        errors:\n          status: [");
            for (size_t i = 0; i < s->failover->n_error_status; i++)
                OUT(k, i ? ", " : "", s->failover->error_status[i]);
            out(k, "]\n          maxRequestBodyBytes: ");
            out_int(k, s->failover->error_max_body);
            out(k, "\n");
        }
    }
}

static void dump_transport(struct sink *k, const struct model_transport *t)
{
    OUT(k, "    ", t->name, ":\n      serverName: ", t->server_name ? t->server_name : "", "\n      insecureSkipVerify: ",
        t->insecure_skip_verify ? "true" : "false", "\n");
    for (size_t i = 0; i < t->n_root_cas; i++)
        OUT(k, "      rootCA: ", t->root_cas[i], "\n");
    for (size_t i = 0; i < t->n_certs; i++)
        OUT(k, "      certificate: ", t->cert_files[i], " ", t->key_files[i], "\n");
    out(k, "      timeouts:");
    uint64_t v[] = {t->dial_ms, t->response_header_ms, t->idle_conn_ms, t->read_ms, t->max_idle_conns_per_host};
    for (size_t i = 0; i < 5; i++) {
        out(k, " ");
        out_int(k, (long long)v[i]);
    }
    out(k, "\n");
    if (t->disable_http2 || t->read_idle_ms || t->ping_ms) { /* HTTP/2 settings, when any is set */
        out(k, "      http2: ");
        out_int(k, t->disable_http2);
        out(k, " ");
        out_int(k, (long long)t->read_idle_ms);
        out(k, " ");
        out_int(k, (long long)t->ping_ms);
        out(k, "\n");
    }
    if (t->peer_cert_uri)
        OUT(k, "      peerCertURI: ", t->peer_cert_uri, "\n");
    for (size_t i = 0; i < t->n_peer_cert_sans; i++)
        OUT(k, "      peerCertSANs: ", t->peer_cert_sans[i], "\n");
    if (t->unsupported)
        OUT(k, "      unsupported: ", t->unsupported, "\n");
    if (t->verify_depth || t->min_version || t->max_version) { /* proxy-ssl-verify-depth / -protocols */
        out(k, "      tls: ");
        out_int(k, t->verify_depth);
        out(k, " ");
        out_int(k, t->min_version);
        out(k, " ");
        out_int(k, t->max_version);
        out(k, "\n");
    }
    if (t->ciphers)
        OUT(k, "      ciphers: ", t->ciphers, "\n");
}

static void dump_strs(struct sink *k, const char *key, const char **v, size_t n)
{
    if (n == 0)
        return;
    OUT(k, "      ", key, ":");
    for (size_t i = 0; i < n; i++)
        OUT(k, " ", v[i]);
    out(k, "\n");
}

static void dump_tls_option(struct sink *k, const struct model_tls_option *o)
{
    OUT(k, "    ", o->name, ":\n      minVersion: ", o->min_version ? o->min_version : "", "\n      maxVersion: ",
        o->max_version ? o->max_version : "", "\n      clientAuthType: ", o->client_auth_type ? o->client_auth_type : "",
        "\n      sniStrict: ", o->sni_strict ? "true" : "false", "\n      disableSessionTickets: ",
        o->disable_session_tickets ? "true" : "false", "\n");
    dump_strs(k, "cipherSuites", o->cipher_suites, o->n_cipher_suites);
    dump_strs(k, "curvePreferences", o->curves, o->n_curves);
    dump_strs(k, "caFiles", o->client_ca_files, o->n_client_ca_files);
    dump_strs(k, "alpnProtocols", o->alpn, o->n_alpn);
}

static void dump_middleware(struct sink *k, const struct model_middleware *mw)
{
    OUT(k, "    ", mw->name, ":\n      ", mw->type, ":\n");
    for (size_t i = 0; i < mw->n_options; i++)
        OUT(k, "        ", mw->keys[i], ": ", mw->values[i], "\n");
}

static void dump_tcp_service(struct sink *k, const struct model_tcp_service *s)
{
    if (s->weighted) {
        OUT(k, "    ", s->name, ":\n      weighted:\n        services:\n");
        for (size_t i = 0; i < s->weighted->n_services; i++) {
            OUT(k, "          - {name: ", s->weighted->services[i].name, ", weight: ");
            out_int(k, s->weighted->services[i].weight);
            out(k, "}\n");
        }
        return;
    }
    OUT(k, "    ", s->name, ":\n      servers:\n");
    for (size_t i = 0; i < s->n_servers; i++)
        OUT(k, "        - {address: ", s->servers[i].address, s->servers[i].tls ? ", tls: true}\n" : "}\n");
    if (s->servers_transport)
        OUT(k, "      serversTransport: ", s->servers_transport, "\n");
    if (s->proxy_protocol) {
        out(k, "      proxyProtocol: {version: ");
        out_int(k, s->proxy_protocol);
        out(k, "}\n");
    }    if (s->has_termination_delay) {
        out(k, "      terminationDelay: ");
        out_int(k, s->termination_delay_ms);
        out(k, "\n");
    }
}

static void dump_udp_router(struct sink *k, const struct model_router *r)
{
    OUT(k, "    ", r->name, ":\n");
    if (r->service)
        OUT(k, "      service: ", r->service, "\n");
    dump_list(k, "entryPoints", r->entrypoints, r->n_entrypoints);
}

static void dump_tcp_transport(struct sink *k, const struct model_tcp_transport *t)
{
    OUT(k, "    ", t->name, ":\n      dialTimeout: ");
    out_int(k, (int64_t)t->dial_ms);
    out(k, "ms\n");
    if (t->proxy_protocol) {
        out(k, "      proxyProtocol: {version: ");
        out_int(k, t->proxy_protocol);
        out(k, "}\n");
    }
    if (t->has_termination_delay) {
        out(k, "      terminationDelay: ");
        out_int(k, t->termination_delay_ms);
        out(k, "ms\n");
    }
    const struct model_transport *tls = t->tls;
    if (tls != NULL) {
        OUT(k, "      tls:\n        serverName: ", tls->server_name ? tls->server_name : "", "\n        insecureSkipVerify: ",
            tls->insecure_skip_verify ? "true" : "false", "\n");
        for (size_t i = 0; i < tls->n_root_cas; i++)
            OUT(k, "        rootCA: ", tls->root_cas[i], "\n");
        for (size_t i = 0; i < tls->n_certs; i++)
            OUT(k, "        certificate: ", tls->cert_files[i], " ", tls->key_files[i], "\n");
        if (tls->peer_cert_uri)
            OUT(k, "        peerCertURI: ", tls->peer_cert_uri, "\n");
    }
    if (t->unsupported)
        OUT(k, "      unsupported: ", t->unsupported, "\n");
}

static int cert_cmp(const void *a, const void *b)
{
    const struct model_tls_cert *x = *(const struct model_tls_cert *const *)a, *y = *(const struct model_tls_cert *const *)b;
    int c = strcmp(x->cert_file ? x->cert_file : "", y->cert_file ? y->cert_file : "");
    if (c == 0)
        c = strcmp(x->cert_pem ? x->cert_pem : "", y->cert_pem ? y->cert_pem : "");
    return c;
}

/* 64-bit finaliser (MurmurHash3's fmix64): spreads one object's hash
 * before it is summed, so the sum does not depend on object order. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb3fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* Text: objects sorted by name. Digest: each object hashed on its own and
 * the hashes summed, which is order-independent without sorting. */
#define DUMP_SECTION(k, vec, title, fn, type)                                                                                      \
    do {                                                                                                                           \
        if ((vec).len && (k)->hashing) {                                                                                           \
            for (size_t i = 0; i < (vec).len; i++) {                                                                               \
                (k)->hash = 0xcbf29ce484222325ULL;                                                                                 \
                out(k, title);                                                                                                     \
                fn(k, (const type *)(vec).items[i]);                                                                               \
                (k)->sum += mix((k)->hash);                                                                                        \
            }                                                                                                                      \
        } else if ((vec).len) {                                                                                                    \
            OUT(k, title, "\n");                                                                                                   \
            void **items = sorted(&(vec));                                                                                         \
            for (size_t i = 0; i < (vec).len; i++)                                                                                 \
                fn(k, (const type *)items[i]);                                                                                     \
            free(items);                                                                                                           \
        }                                                                                                                          \
    } while (0)

static void dump(struct sink *k, const struct model *m)
{
    out(k, "http:\n");
    DUMP_SECTION(k, m->routers, "  routers:", dump_router, struct model_router);
    DUMP_SECTION(k, m->services, "  services:", dump_service, struct model_service);
    DUMP_SECTION(k, m->middlewares, "  middlewares:", dump_middleware, struct model_middleware);
    DUMP_SECTION(k, m->transports, "  serversTransports:", dump_transport, struct model_transport);
    DUMP_SECTION(k, m->tls_options, "  tlsOptions:", dump_tls_option, struct model_tls_option);
    if (m->default_cert || m->default_generated) {
        k->hash = 0xcbf29ce484222325ULL; /* the default store: one object in the digest */
        const struct model_tls_cert *c = m->default_cert;
        if (c && c->cert_file)
            OUT(k, "  defaultCertificate: ", c->cert_file, "\n");
        else if (c && k->hashing) /* an inline PEM (the ACME one) changes with every renewal */
            OUT(k, "  defaultCertificate: {certPEM: ", c->cert_pem, ", keyPEM: ", c->key_pem, "}\n");
        else if (c)
            OUT(k, "  defaultCertificate: (inline)\n");
        const struct model_default_generated *g = m->default_generated;
        if (g) {
            OUT(k, "  defaultGeneratedCert: {resolver: ", g->resolver, ", main: ", g->domain.main ? g->domain.main : "");
            for (size_t i = 0; i < g->domain.n_sans; i++)
                OUT(k, i ? ", " : ", sans: ", g->domain.sans[i]);
            out(k, "}\n");
        }
        k->sum += mix(k->hash);
    }
    if (m->tcp_routers.len || m->tcp_services.len || m->tcp_middlewares.len || m->tcp_transports.len) {
        out(k, "tcp:\n");
        DUMP_SECTION(k, m->tcp_routers, "  routers:", dump_router, struct model_router);
        DUMP_SECTION(k, m->tcp_services, "  services:", dump_tcp_service, struct model_tcp_service);
        DUMP_SECTION(k, m->tcp_transports, "  serversTransports:", dump_tcp_transport, struct model_tcp_transport);
        DUMP_SECTION(k, m->tcp_middlewares, "  middlewares:", dump_middleware, struct model_middleware);
    }
    if (m->udp_routers.len || m->udp_services.len) {
        out(k, "udp:\n");
        DUMP_SECTION(k, m->udp_routers, "  routers:", dump_udp_router, struct model_router);
        DUMP_SECTION(k, m->udp_services, "  services:", dump_tcp_service, struct model_tcp_service);
    }
    if (m->certs.len) {
        out(k, "tls:\n  certificates:\n");
        k->hash = 0xcbf29ce484222325ULL; /* certificates: one sorted object in the digest */
        void **items = mem_alloc(m->certs.len * sizeof(void *));
        memcpy(items, m->certs.items, m->certs.len * sizeof(void *));
        qsort(items, m->certs.len, sizeof(void *), cert_cmp);
        for (size_t i = 0; i < m->certs.len; i++) {
            const struct model_tls_cert *c = items[i];
            if (c->cert_file) {
                OUT(k, "    - {certFile: ", c->cert_file, ", keyFile: ", c->key_file, "}\n");
            } else if (k->hashing) { /* the digest covers inline PEMs whole */
                OUT(k, "    - {certPEM: ", c->cert_pem, ", keyPEM: ", c->key_pem, "}\n");
            } else {
                out(k, "    - {certPEM: ");
                out_int(k, (long long)(c->cert_pem ? strlen(c->cert_pem) : 0));
                out(k, " bytes, keyPEM: ");
                out_int(k, (long long)(c->key_pem ? strlen(c->key_pem) : 0));
                OUT(k, " bytes, from: ", c->origin.source, "}\n");
            }
        }
        free(items);
        k->sum += mix(k->hash);
    }
}

char *model_dump(const struct model *m)
{
    struct sink k = {0};
    out_n(&k, "", 0);
    dump(&k, m);
    return k.s;
}

void model_compute_digest(struct model *m)
{
    struct sink k = {.hashing = true, .hash = 0xcbf29ce484222325ULL};
    dump(&k, m);
    for (size_t i = 0; i < m->problems.len; i++) { /* a new problem alone is a change the API must show */
        k.hash = 0x84222325cbf29ce4ULL;
        out(&k, m->problems.items[i]);
        k.sum += mix(k.hash);
    }
    m->digest = k.sum + mix(m->routers.len) + mix(m->services.len << 20);
}

void model_set_digest(struct model *m, uint64_t parts)
{
    struct sink k = {.hashing = true, .sum = mix(parts)};
    for (size_t i = 0; i < m->problems.len; i++) {
        k.hash = 0x84222325cbf29ce4ULL;
        out(&k, m->problems.items[i]);
        k.sum += mix(k.hash);
    }
    m->digest = k.sum + mix(m->routers.len) + mix(m->services.len << 20);
    m->digest_known = true;
}

uint64_t model_router_digest(const struct model_router *r)
{
    struct sink k = {.hashing = true, .hash = 0xcbf29ce484222325ULL};
    dump_router(&k, r);
    return k.hash;
}

uint64_t model_service_digest(const struct model_service *s, bool with_servers)
{
    struct sink k = {.hashing = true, .hash = 0xcbf29ce484222325ULL};
    if (with_servers || s->lb == NULL) {
        dump_service(&k, s);
    } else {
        struct model_lb lb = *s->lb;
        struct model_service copy = *s;
        lb.n_servers = 0;
        copy.lb = &lb;
        dump_service(&k, &copy);
    }
    return k.hash;
}

uint64_t model_tcp_service_digest(const struct model_tcp_service *s, bool with_servers)
{
    struct sink k = {.hashing = true, .hash = 0xcbf29ce484222325ULL};
    struct model_tcp_service copy = *s;
    if (!with_servers)
        copy.n_servers = 0;
    dump_tcp_service(&k, &copy);
    return k.hash;
}
