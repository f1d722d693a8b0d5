/*
 * The compiled routing table: immutable once published, read lock-free by
 * every worker, freed when the last request that can reach it is done.
 *
 * Layout (nginx's combined hash idea, Traefik's semantics):
 *   - routes sorted by (priority desc, name asc); rank = position;
 *   - exact hosts -> the routes that can only match that host;
 *   - wildcard suffixes ("*.example.com" -> "example.com") -> routes;
 *   - fallback: routes whose rule does not pin a host (HostRegexp, no Host).
 * A lookup merges the three rank-ordered candidate lists and evaluates the
 * full rule of each candidate until one matches, so the result is exactly
 * "first matching route by priority" while the cost depends only on the
 * routes that could match this host.
 */
#ifndef GANTRY_TABLE_H
#define GANTRY_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/diag.h"
#include "../common/rule.h"

struct server;
struct stats;
struct match_req;
struct table_middleware;
struct table_service_unit;
struct table_tcp;
struct table_udp;
struct transport;
struct tls_option;

struct table_server {
    struct server *srv;
    int weight;
    const char *path_prefix; /* preservePath: the URL's path, put in front of the request's (NULL: none) */
    size_t path_prefix_len;
};

/* One shadow of a mirroring service: a share of its requests is copied to
 * <svc> (a load-balancer service) and the answer dropped. */
struct table_mirror {
    struct table_service *svc;
    uint32_t percent;
    struct stats *stats; /* what the shadow answered (shared across tables, like a service's) */
    uint32_t index;      /* position among the mirroring service's mirrors */
};

/* sticky.cookie of a load balancer (one value per server) or of a weighted
 * service (one per child): the cookie names the server or child to stick
 * to, as the first 16 hex digits of the SHA-256 of its name (Traefik's). */
struct table_sticky {
    const char *name; /* cookie name */
    size_t name_len;
    const char *attrs; /* "; Path=/; HttpOnly; SameSite=Lax": what follows name=value in Set-Cookie */
    const char **values; /* per server or child */
};

enum table_strategy { STRATEGY_WRR, STRATEGY_P2C, STRATEGY_HRW, STRATEGY_LEASTTIME };

struct status_range;
struct hash_key;

struct table_service {
    const char *name; /* name@provider */
    enum table_strategy strategy; /* a load balancer's; a service of children: WRR (weighted) or HRW */
    const struct hash_key *hash_key; /* HRW load balancer: the request's key (upstream-hash-by); NULL: client address */
    /* A failover service: <children>[0] while it has a server up, else
     * <children>[1]. */
    bool failover;
    /* its errors (Traefik v3.7): an answer of children[0] with one of these
     * statuses is dropped and the request sent to children[1]; the body is
     * kept for that, at most failover_max_body bytes (-1: any size) */
    struct status_range *failover_status;
    uint32_t n_failover_status;
    int64_t failover_max_body;
    bool child_health; /* weighted healthCheck: {}: children that are down are skipped */
    /* passiveHealthcheck: failures within the window that take a server out
     * for the window (0: the default, one refusal skips it for 10 s) */
    uint64_t passive_window_ms;
    uint32_t passive_max_failed;
    uint16_t empty_status; /* the answer when it has no server; 0: 503 */
    /* A weighted service: each request goes to one child, picked by smooth
     * WRR over child_weights (state in wrr, per worker) unless the sticky
     * cookie names one. n_children == 0 otherwise. */
    struct table_service **children;
    int32_t *child_weights;
    uint32_t n_children;
    struct table_sticky *sticky; /* NULL: none */
    /* A mirroring service: requests go to <main> (its response is the
     * client's) and copies to the mirrors. NULL for a load balancer. */
    struct table_service *main;
    struct table_mirror *mirrors;
    uint32_t n_mirrors;
    bool mirror_body;
    int64_t mirror_max_body; /* -1: any size */
    /* sampling: worker w's (seen, sent) pair for mirror i at
     * sample[w * sample_stride + 2 * i], on cache lines of its own */
    uint64_t *sample;
    uint32_t sample_stride;
    struct table_server *servers;
    uint32_t n_servers;
    bool pass_host_header;
    /* Smooth weighted round robin state: worker w owns the n_servers
     * counters at wrr + w * wrr_stride, on cache lines of its own.
     * NULL for a single server (nothing to balance). */
    int32_t *wrr;
    uint32_t wrr_stride;
    struct stats *stats; /* shared with other tables naming the same service */
    /* A shared service (table_add_service_shared) lives in memory of its
     * own, referenced by every table (and API snapshot) holding it, so an
     * unchanged service is carried into the next table as it is. NULL: it
     * lives in its table's arena. */
    struct table_service_unit *unit;
    const void *view; /* what the API shows of it, built once by the controller (shared services) */
};

struct table_route {
    const char *name; /* name@provider */
    const char *rule_text;
    const struct rule_node *rule;
    int64_t priority;
    uint32_t rank;
    uint64_t entrypoints; /* bit i: entry point i */
    bool tls;             /* matches TLS connections only (else plain only) */
    uint64_t tls_option_id; /* the TLS option its connections must have been made with (0: the built-in default) */
    struct table_service *service;
    struct table_middleware **middlewares;
    uint32_t n_middlewares;
    struct stats *stats; /* shared with other tables naming the same router */
    /* The host names the rule pins, found once per shared rule
     * (table_hosts_of), in memory the table holds; NULL: found from the
     * rule by table_finish. */
    const struct table_hosts *hosts;
    /* A weighted service whose children have middlewares of their own
     * (Traefik's service middlewares, the Gateway API's backendRef
     * filters): the child is picked before the chain runs, and the request
     * goes on as branches[i] (service = children[i], chain = this route's
     * then the child's). Not in the table's index; NULL: none. */
    struct table_route **branches;
    uint32_t n_branches;
    /* The route's service is a mirroring service, or a failover with
     * errors, whose children have middlewares of their own (Traefik's: each
     * runs on the request sent to that child only). The route's chain ends
     * with the main service's, and <cut> is this route cut where the
     * service takes over (the router's part): there the copies are taken
     * and the request is kept for the fallback (route.c). mirror_chains[i]
     * (NULL: none, or mirror i has none) is the chain a copy for mirror i
     * passes; failover_fallback is this route with the fallback's
     * middlewares after the cut instead of the main's (upstream.c; a
     * fallback route points to itself: its request goes to the fallback).
     * NULL: none. */
    struct table_route *cut;
    struct table_route **mirror_chains;
    struct table_route *failover_fallback;
};

/* The host names a rule can only match (struct rule_str *), or <any>. */
struct table_hosts {
    bool any;
    struct ptr_vec names;
};

struct table_route_list {
    struct table_route **items;
    uint32_t n, cap;
};

/* Open-addressing map from a lowercased host name to a value. */
struct table_host_slot {
    const char *key;
    uint32_t len;
    uint32_t hash;
    void *value;
};

struct table_host_map {
    struct table_host_slot *slots;
    uint32_t mask, n;
};

struct table {
    _Atomic int refs;
    uint64_t gen;
    struct arena arena;
    uint32_t n_workers;

    struct table_route **routes; /* sorted; owned by the arena */
    uint32_t n_routes;
    struct table_host_map exact;    /* host -> struct table_route_list * */
    struct table_host_map wildcard; /* suffix -> struct table_route_list * */
    struct table_route_list fallback;

    struct table_service **services;
    uint32_t n_services;
    struct table_host_map service_index; /* name -> struct table_service * */

    uint64_t http_eps;      /* entry points with an HTTP route */
    struct table_tcp *tcp;  /* TCP routes (table_tcp.h); NULL when none */
    struct table_udp *udp;  /* UDP routes (udp/table_udp.h); NULL when none */
    /* TLS: SNI name -> SSL_CTX * (references held by the table) */
    struct table_host_map sni_exact, sni_wildcard;
    uint32_t n_certs;
    void *default_cert; /* tls.stores.default.defaultCertificate: SSL_CTX * for unknown names; NULL: the generated one */
    /* TLS options: by server name (exact, "*.suffix"), else the default */
    bool has_tls_options;
    const struct tls_option *tls_default_option; /* NULL: Gantry's built-in defaults */
    struct table_host_map tls_option_exact, tls_option_wildcard;

    /* building state */
    struct ptr_vec build_routes, build_services;

    struct table *retire_next; /* publish.c */
    uint64_t retire_gen;
};

struct table *table_new(uint32_t n_workers);
/* Frees the arena, drops server and SSL_CTX references. Watcher thread. */
void table_free(struct table *t);

/* Adds a service with <n_servers> slots to fill with table_service_set_server. */
struct table_service *table_add_service(struct table *t, const char *name, bool pass_host_header, uint32_t n_servers);
/* The same, in memory of its own that later tables can share
 * (table_adopt_service) while the service does not change. */
struct table_service *table_add_service_shared(struct table *t, const char *name, bool pass_host_header, uint32_t n_servers);
/* Puts shared service <svc>, built for an earlier table, into <t>. */
void table_adopt_service(struct table *t, struct table_service *svc);
/* Where <svc>'s own data goes: its unit's arena, or its table's. */
struct arena *table_service_arena(struct table *t, struct table_service *svc);
/* References on a shared service (watcher thread only). */
void table_service_ref(struct table_service *svc);
void table_service_unref(struct table_service *svc);
/* Takes a registry reference on the server for <url>. */
int table_service_set_server(struct table *t, struct table_service *svc, uint32_t i, const char *url, int weight,
                             struct diag *d) WARN_UNUSED;
/* The same through serversTransport <tr> (NULL: the global one). */
int table_service_set_server_via(struct table *t, struct table_service *svc, uint32_t i, const char *url, int weight,
                                 struct transport *tr, struct diag *d) WARN_UNUSED;
struct table_service *table_find_service(const struct table *t, const char *name);
/* A mirroring service sending to <main> and copying to <n_mirrors> shadows
 * (fill svc->mirrors[i].svc/percent; stats are acquired here). */
struct table_service *table_add_mirroring(struct table *t, const char *name, struct table_service *main, uint32_t n_mirrors,
                                          const char *const *mirror_names, bool mirror_body, int64_t max_body);

/* A weighted service over <n_children> slots (fill children[i] and
 * child_weights[i]). */
struct table_service *table_add_weighted(struct table *t, const char *name, uint32_t n_children);
/* Sticky sessions for <svc>: <keys>[i] names server or child i (its URL or
 * service name). <same_site> may be NULL; <path> NULL means "/". */
void table_service_set_sticky(struct table *t, struct table_service *svc, const char *cookie_name, const char *const *keys,
                              uint32_t n, bool secure, bool http_only, const char *same_site, int64_t max_age, const char *path,
                              const char *domain);

/* <rule> must live as long as <t>: in t->arena, or memory <t> holds a reference on. */
struct table_route *table_add_route(struct table *t, const char *name, const char *rule_text, const struct rule_node *rule,
                                    int64_t priority, uint64_t entrypoints, bool tls, struct table_service *svc);

/* As table_add_route for a router compiled once and shared between tables:
 * <name>, <rule_text> and <hosts> are not copied and <stats> is taken with
 * one more reference; all must live as long as <t> (memory <t> holds a
 * reference on). */
struct table_route *table_add_route_held(struct table *t, const char *name, const char *rule_text, const struct rule_node *rule,
                                         int64_t priority, uint64_t entrypoints, bool tls, struct table_service *svc,
                                         struct stats *stats, const struct table_hosts *hosts);

/* tls.stores.default.defaultCertificate; takes a reference. */
void table_set_default_cert(struct table *t, void *ssl_ctx);
/* Binds host <name> to <o> even when another option holds it (a conflict settled to the default). */
void table_set_tls_option_host_force(struct table *t, const char *name, const struct tls_option *o);

/* Adds an SSL_CTX for <names> (exact or "*.suffix"); takes a reference. */
void table_add_cert(struct table *t, void *ssl_ctx, const char *const *names, size_t n_names);

/* Sorts routes and builds the host indexes. After this the table is immutable. */
void table_finish(struct table *t);

/* Worker threads: the first route matching <r> on entry point <ep>. */
const struct table_route *table_lookup(const struct table *t, const struct match_req *r, uint32_t ep, bool tls);

/* The TLS option for server name <name> (lowercase), or NULL. */
const struct tls_option *table_lookup_tls_option(const struct table *t, const char *name, size_t len);
/* Binds TLS option <o> to host <name> ("*.suffix" for a wildcard). false
 * when another option holds it already (a conflict). */
bool table_set_tls_option_host(struct table *t, const char *name, const struct tls_option *o);
/* The exact host names a rule pins (NULL when it can match any host). */
struct ptr_vec *table_rule_hosts(struct arena *a, const struct rule_node *rule);
/* The same, as a table_route's <hosts> (in <a>). */
struct table_hosts *table_hosts_of(struct arena *a, const struct rule_node *rule);

/* SNI lookup: SSL_CTX * for <name> (lowercase) or NULL. */
void *table_lookup_sni(const struct table *t, const char *name, size_t len);

/* Host map primitives (also used by tests and benchmarks). */
void *table_host_map_get(const struct table_host_map *m, const char *key, size_t len);
/* Address of the value for <key>, inserted as NULL when absent. */
void **table_host_map_slot(struct arena *a, struct table_host_map *m, const char *key, size_t len);
/* The same without copying <key>: it must outlive <m>. */
void **table_host_map_slot_held(struct arena *a, struct table_host_map *m, const char *key, size_t len);

#endif
