/*
 * What the Gateway API translation files share (k8s_gateway.c: classes,
 * gateways, listeners, attachment and status; k8s_gateway_backends.c:
 * backendRefs; k8s_gateway_http.c: HTTP and gRPC routes;
 * k8s_gateway_tcp.c: TLS and TCP routes). Not for other modules.
 */
#ifndef GANTRY_K8S_GATEWAY_INTERNAL_H
#define GANTRY_K8S_GATEWAY_INTERNAL_H

#include "k8s_gateway.h"
#include "k8s_index.h"
#include "../../tree.h"

enum gw_proto { GW_HTTP, GW_HTTPS, GW_TLS, GW_TCP, GW_UDP, GW_PROTO_OTHER };

/* Route kinds as a bit set (allowedRoutes.kinds, supportedKinds). */
enum { GW_K_HTTP = 1, GW_K_GRPC = 2, GW_K_TLS = 4, GW_K_TCP = 8 };

struct gw_listener {
    const cJSON *spec;
    const char *name, *hostname; /* hostname NULL: any */
    enum gw_proto proto;
    int port;
    const char *ep; /* the entry point, NULL when none has its port */
    bool passthrough; /* TLS mode Passthrough */
    unsigned kinds;   /* route kinds allowed */
    /* status: reason NULL means the condition is True with its default reason */
    const char *accepted_reason, *resolved_reason, *conflicted_reason, *message;
    int attached;
    /* listener isolation: the hostnames of the sibling listeners (same
     * port) more specific than this one's, whose requests are theirs */
    const char **shadow;
    size_t n_shadow;
};

struct gw_address {
    const char *type, *value; /* "IPAddress"/"Hostname" */
};

struct gw_gateway {
    const cJSON *obj;
    const char *ns, *name;
    struct gw_listener *l;
    size_t n;
    struct gw_address *addrs; /* status.addresses */
    size_t n_addrs;
    /* spec.addresses that cannot be honoured take the Gateway out: NULL when
     * they can; else the reason of Programmed (or, !addr_accepted, of Accepted) */
    const char *addr_reason, *addr_message;
    bool addr_accepted;
};

struct gw_frag; /* one route's cached translation (k8s_gateway_cache.c) */

/* A BackendTLSPolicy as read (k8s_gateway_backendtls.c). */
struct gw_btls {
    const cJSON *obj;
    const char *ns, *name;
    const char *transport; /* its serversTransport; NULL: it cannot be honoured (reasons below) */
    struct tree_node *tree; /* the transport's definition */
    const char *accepted_reason, *resolved_reason, *message; /* NULL: True */
    bool *ancestors;       /* per Gateway of ours (gws[]): a route of it uses a Service it targets */
};

struct gw_cx {
    const struct k8s_gw_options *o;
    const struct k8s_gw_objects *objs;
    const char *controller;
    struct model *m;
    struct arena *pa;
    struct ptr_vec *problems;
    struct k8s_gw_statuses *st;
    struct k8s_index ix[K8S_GW_KINDS];
    struct gw_gateway *gws; /* ours, sorted like the Gateways */
    size_t n_gws;
    struct tree_node *root, *routers, *services, *middlewares, *transports, *tcp_routers, *tcp_services;
    struct ptr_vec certs_added;
    cJSON *pending_parents; /* the parents[] status of the route being translated */
    struct { /* the services defined so far (a set: thousands of routes share a few) */
        const char **slots;
        size_t cap, n;
    } defined;
    struct k8s_gw_cache *cache; /* NULL: every route is translated */
    uint64_t context;           /* the version of what routes read besides themselves */
    struct gw_frag *frag;       /* the route being translated into the cache: shared backends become its needs */
    struct gw_btls *btls;       /* the BackendTLSPolicies */
    size_t n_btls;
};

/* The name suffix of the stand-in load balancers of backendRefs that cannot
 * be resolved (no shared load balancer's name ends so: those end with a
 * port, "-h2c" or "-timeouts"): they answer 500. */
#define K8S_GW_INVALID_SUFFIX "-invalid"

/* A shared load balancer a cached route refers to, defined (once per
 * translation) when the route's fragment is used: the Service's endpoints
 * are read then, so an EndpointSlice change re-translates no route. */
struct gw_need {
    const char *key, *id, *ns, *name, *scheme, *transport;
    int port;
    bool tcp;
};

/* One route's attachment to one listener, with the hostnames both accept
 * (n_hosts 0: any host). */
struct gw_attach {
    const struct gw_gateway *gw;
    struct gw_listener *l;
    const char **hosts;
    size_t n_hosts;
    /* built once per route, used by each of its routers */
    const char *id_base;     /* "<kind>-<ns>-<name>-<gw ns>-<gw>-<listener>" */
    /* per hosts[i] (one when none): "Host(`h`) && " with the isolation's
     * negated siblings, "" for any host, NULL when a sibling takes it all */
    const char **host_rules;
};

/* The route-level outcome of resolving references (ResolvedRefs). */
struct gw_refs {
    const char *reason; /* NULL: resolved */
    const char *message;
};

const cJSON *k8s_gw__get(const cJSON *o, const char *k);
const char *k8s_gw__str(const cJSON *o, const char *k);
const char *k8s_gw__meta(const cJSON *o, const char *k);
void k8s_gw__problem(struct gw_cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *k8s_gw__id(struct gw_cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct tree_node *k8s_gw__map(struct gw_cx *c, const char *where);
struct tree_node *k8s_gw__seq(struct gw_cx *c, const char *where);
void k8s_gw__put_str(struct gw_cx *c, struct tree_node *map, const char *key, const char *value);
void k8s_gw__add(struct gw_cx *c, struct tree_node *map, const char *key, struct tree_node *v);

/* Whether a ReferenceGrant in <to_ns> lets a <from_kind> of <from_ns> refer
 * to the <to_kind> (group <to_group>) named <to_name>. */
bool k8s_gw__granted(struct gw_cx *c, const char *from_group, const char *from_kind, const char *from_ns, const char *to_group,
                     const char *to_kind, const char *to_ns, const char *to_name);

/* Gateway.spec.addresses against gantry's own (statusAddress): fills
 * <g>'s addrs and addr_* (k8s_gateway_addresses.c). */
void k8s_gw__gateway_addresses(struct gw_cx *c, struct gw_gateway *g);

/* The attachments of route <obj> of <kind> (bit GW_K_*): every parentRef to
 * one of our Gateways is checked (sectionName, port, allowedRoutes,
 * hostnames) and gets its parents[] status entry, with <refs> as
 * ResolvedRefs; returns the accepted ones (in <pa>). */
struct gw_attach *k8s_gw__attach(struct gw_cx *c, const cJSON *obj, unsigned kind, size_t *n);
/* Adds the route status of <obj> with ResolvedRefs from <refs>. Call after
 * k8s_gw__attach() for the same route. */
void k8s_gw__route_status(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, const struct gw_refs *refs);

/* A model service "<id>" of the backendRefs <refs> of a route of <kind_name>
 * in <ns>: weighted when several (weight 0 kept), an empty load balancer
 * (503) for the share of a reference that cannot be resolved, which sets
 * <refs_out>. <scheme>: "http" (HTTPRoute) or "h2c" (GRPCRoute), the kind
 * whose defaults the Service port's appProtocol is read with (an
 * unsupported one fails the ref: UnsupportedProtocol). <tcp>: a TCP service of the one
 * first valid ref. <transport> (NULL: none) is the serversTransport of the
 * load balancers (a rule's timeouts.backendRequest): they are then the
 * rule's own. <child_mws> (NULL: none): per backendRef, the middlewares
 * (a sequence of names) of its own filters; a ref with some is reached
 * through a service "<id>-b<i>" that carries them (of several refs only).
 * Returns <id>, or NULL when nothing could be defined. */
const char *k8s_gw__backends(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *refs, const char *id,
                             const char *scheme, const char *transport, bool tcp, struct tree_node *const *child_mws,
                             struct gw_refs *refs_out);
/* A single backendRef resolved to the load-balancer service it names,
 * shared by every route that refers to it: "<ns>-<svc>-<port>" (plus
 * "-h2c" for gRPC); NULL with <refs_out> set when it cannot be resolved
 * (the caller then defines its own stand-in). */
const char *k8s_gw__backend(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *ref, const char *scheme,
                            const char *transport, bool tcp, struct gw_refs *refs_out);

/* Resolves the backendRefs <refs> of a TLSRoute/TCPRoute rule that takes
 * no connection (a later rule: see k8s_gateway_tcp.c) for ResolvedRefs
 * alone: each one that cannot be resolved sets <refs_out> and is told as a
 * problem, as k8s_gw__backend() would; nothing is defined. */
void k8s_gw__check_tcp_backends(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *refs,
                                struct gw_refs *refs_out);

/* Records <n> (copied) as a need of the route being cached. */
void k8s_gw__need(struct gw_cx *c, const struct gw_need *n);
/* Defines the shared load balancer of <n> unless this translation did already. */
void k8s_gw__define_need(struct gw_cx *c, const struct gw_need *n);

/* Route <obj> of <kind> translated by <fn>, or its cached translation when
 * the route and the context are as they were (k8s_gateway_cache.c). */
void k8s_gw__cached_route(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, void (*fn)(struct gw_cx *, const cJSON *));
/* Records that the route being cached attached to listener <l> of <g>. */
void k8s_gw__frag_attached(struct gw_cx *c, const struct gw_gateway *g, const struct gw_listener *l);
/* After the model is decoded: drops the entries of routes that are gone. */
void k8s_gw__cache_sweep(struct gw_cx *c);
void k8s_gw__push_status(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, cJSON *status);

void k8s_gw__http_route(struct gw_cx *c, const cJSON *obj);
void k8s_gw__grpc_route(struct gw_cx *c, const cJSON *obj);
void k8s_gw__tls_route(struct gw_cx *c, const cJSON *obj);
void k8s_gw__tcp_route(struct gw_cx *c, const cJSON *obj);

/* Reads the BackendTLSPolicies and defines the serversTransports of the
 * valid ones (before the routes); the policy of port <port_name> (may be
 * NULL) of Service <ns>/<svc>, or NULL; their statuses (after the routes).
 * (k8s_gateway_backendtls.c) */
void k8s_gw__backend_tls_policies(struct gw_cx *c);
struct gw_btls *k8s_gw__backend_tls(struct gw_cx *c, const char *ns, const char *svc, const char *port_name);
void k8s_gw__backend_tls_status(struct gw_cx *c);

/* Whether listener <l> is valid on its own (k8s_gateway.c). */
bool k8s_gw__listener_valid(const struct gw_listener *l);
/* Whether host <h> is matched by pattern <p> (both may be "*.x"). */
bool k8s_gw__host_within(const char *h, const char *p);
/* Fills the shadow of every listener of <g> (k8s_gateway_isolation.c). */
void k8s_gw__isolation_siblings(struct gw_cx *c, struct gw_gateway *g);
/* The host part of a router rule of listener <l> for <host> (NULL: any),
 * ending in " && " (or ""), with <l>'s more specific siblings negated;
 * NULL when one of them takes every request for <host>. */
const char *k8s_gw__isolated_host(struct gw_cx *c, const struct gw_listener *l, const char *host);

/* A hostname as a rule: Host(`h`), or HostRegexp for "*.suffix". */
const char *k8s_gw__host_rule(struct gw_cx *c, const char *h, bool sni);

/* Base64 data of Secret key <key>, decoded (NUL-terminated) into c->pa;
 * NULL when absent or invalid. */
char *k8s_gw__secret_data(struct gw_cx *c, const cJSON *secret, const char *key, size_t *len);

#endif
