/*
 * The provider-neutral dynamic configuration. Every provider (file, Docker,
 * Kubernetes) produces one struct model; the aggregator merges them. Names
 * follow Traefik v3's dynamic configuration one for one so that YAML keys,
 * labels and annotations land in the same fields.
 *
 * Types only (plus the few functions of model.c at the end). Everything a
 * model points to lives in its arena.
 */
#ifndef GANTRY_MODEL_H
#define GANTRY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"

/* Where an object was defined, for error messages and the API. */
struct model_origin {
    const char *provider; /* "file", "docker", "kubernetes" */
    const char *source;   /* file:line:col, "container web-1", "ingress ns/name" */
};

struct model_server {
    const char *url;    /* http://10.0.0.1:80 */
    int weight;         /* >= 0, default 1 */
    bool preserve_path; /* the URL's path goes in front of the request's */
};

struct model_healthcheck {
    const char *path;     /* required */
    const char *scheme;   /* NULL: the server's */
    const char *hostname; /* Host header; NULL: the server's address */
    const char *method;   /* default GET */
    int port;             /* 0: the server's */
    int status;           /* 0: any 2xx/3xx */
    bool grpc;            /* mode: grpc (grpc.health.v1.Health/Check), else http */
    uint64_t interval_ms, unhealthy_interval_ms, timeout_ms;
    const char **header_names, **header_values;
    size_t n_headers;
};

/* sticky.cookie (Traefik): which server or child service a client sticks to */
struct model_sticky {
    const char *name; /* NULL: Traefik's generated "_" + sha1 prefix of the service name */
    bool secure, http_only;
    const char *same_site; /* none, lax, strict, or NULL */
    int64_t max_age;       /* 0: a session cookie; < 0: expire now */
    const char *path;      /* default "/" */
    const char *domain;
};

/* http.serversTransports.<name> */
struct model_transport {
    const char *name;
    const char *server_name;
    bool insecure_skip_verify;
    const char **root_cas;
    size_t n_root_cas;
    const char **cert_files, **key_files;
    size_t n_certs;
    uint64_t dial_ms, response_header_ms, idle_conn_ms, read_ms;
    uint32_t max_idle_conns_per_host;
    bool disable_http2;                  /* disableHTTP2: https servers are not offered h2 by ALPN */
    uint64_t read_idle_ms, ping_ms;      /* forwardingTimeouts.readIdleTimeout / pingTimeout (HTTP/2 health) */
    const char *peer_cert_uri;           /* peerCertURI: a URI SAN the server's certificate must carry */
    const char **peer_cert_sans;         /* peerCertSANs: "URI:<value>" or "DNSName:<value>", one must match */
    size_t n_peer_cert_sans;
    const char *unsupported; /* an option gantry cannot apply (spiffe): its services are refused */
    /* Gantry-internal, for ingress-nginx's proxy-ssl-*: 0 / NULL keep the defaults */
    int verify_depth;
    int min_version, max_version; /* TLS1_2_VERSION, TLS1_3_VERSION */
    const char *ciphers;
    struct model_origin origin;
};

struct model_lb {
    const char *servers_transport; /* name or name@provider; NULL: the global one */
    struct model_sticky *sticky;
    uint64_t passive_window_ms; /* passiveHealthcheck.failureWindow; 0: not configured */
    uint32_t passive_max_failed; /* passiveHealthcheck.maxFailedAttempts */
    struct model_server *servers;
    size_t n_servers;
    bool pass_host_header;
    const char *strategy; /* "wrr" */
    const char *hash_key; /* hrw: an nginx variable expression (ingress-nginx upstream-hash-by); NULL: client address */
    struct model_healthcheck *healthcheck;
    int empty_status; /* the answer without a server; 0: 503 (Gantry-internal: the Gateway API's 500 for an invalid backendRef) */
};

struct model_mirror {
    const char *name;
    int percent;
};

struct model_mirroring {
    const char *service;
    struct model_mirror *mirrors;
    size_t n_mirrors;
    bool mirror_body;
    int64_t max_body_size; /* -1: unlimited */
};

struct model_weighted_ref {
    const char *name;
    int weight;
};

struct model_weighted {
    struct model_sticky *sticky;
    bool healthcheck; /* healthCheck: {}: skip children that are down */
    struct model_weighted_ref *services;
    size_t n_services;
};

struct model_failover {
    const char *service, *fallback;
    /* errors (Traefik v3.7): an answer of the main service with one of
     * these statuses ("500-504") is dropped and the request sent to the
     * fallback; its body is kept for that up to max_body bytes (-1: any) */
    const char **error_status;
    size_t n_error_status;
    int64_t error_max_body;
};

struct model_service {
    const char *name;
    /* exactly one of these is set */
    struct model_lb *lb;
    struct model_mirroring *mirroring;
    struct model_weighted *weighted;
    struct model_weighted *hrw; /* highestRandomWeight: the same shape, picked by client address */
    struct model_failover *failover;
    /* a Traefik service kind or option gantry does not build: the
     * service exists, and every router using it is refused */
    const char *unsupported;
    const char **middlewares; /* run after the router's (Traefik v3.7) */
    size_t n_middlewares;
    struct model_origin origin;
};

/* tls.domains[i]: one ACME certificate for main and its SANs */
struct model_tls_domain {
    const char *main;
    const char **sans;
    size_t n_sans;
};

/* tls.stores.default.defaultGeneratedCert: the default certificate is
 * obtained by this ACME resolver for these names (Traefik v3) */
struct model_default_generated {
    const char *resolver;
    struct model_tls_domain domain;
    struct model_origin origin;
};

struct model_router_tls {
    const char *cert_resolver;
    const char *options;
    bool passthrough; /* tcp routers */
    struct model_tls_domain *domains;
    size_t n_domains;
};

struct model_router {
    const char *name;
    const char *rule;
    const char *service;
    const char **entrypoints;
    size_t n_entrypoints;
    const char **middlewares;
    size_t n_middlewares;
    int64_t priority; /* 0: length of the rule */
    struct model_router_tls *tls;
    struct model_origin origin;
};

/* A middleware: its type ("stripPrefix", "headers", ...) and its options
 * as flattened key/value pairs; interpreted by the table builder. */
struct model_middleware {
    const char *name;
    const char *type;
    const char **keys, **values;
    size_t n_options;
    struct model_origin origin;
};

struct model_tcp_server {
    const char *address; /* host:port */
    bool tls;            /* tls: dialed with TLS, configured by the service's transport's tls (Traefik) */
};

struct model_tcp_service {
    const char *name;
    struct model_tcp_server *servers; /* loadBalancer.servers, or */
    size_t n_servers;
    struct model_weighted *weighted;  /* weighted.services: other TCP services, by weight */
    const char *servers_transport;    /* loadBalancer.serversTransport: a tcp.serversTransports name */
    int proxy_protocol;               /* loadBalancer.proxyProtocol.version (deprecated in Traefik v3); 0: not set */
    /* loadBalancer.terminationDelay (deprecated in Traefik v3), milliseconds;
     * negative: wait forever. Only read when no serversTransport is named. */
    int64_t termination_delay_ms;
    bool has_termination_delay;
    struct model_origin origin;
};

/* tcp.serversTransports.<name> */
struct model_tcp_transport {
    const char *name;
    uint64_t dial_ms;        /* dialTimeout (has_dial: set; an explicit 0 is "no timeout", as Go's dialer) */
    bool has_dial;           /* false: Traefik's default, 30s */
    /* dialKeepAlive: TCP keep-alive probes on the server connection every
     * this often; < 0: off; 0 or unset (has_keep_alive false): 15s, Go's default */
    int64_t keep_alive_ms;
    bool has_keep_alive;
    int proxy_protocol;      /* proxyProtocol.version: a PROXY header sent first to each server (1, 2); 0: none */
    int64_t termination_delay_ms; /* terminationDelay (a duration, may be negative: wait forever) */
    bool has_termination_delay;   /* false: Traefik's default, 100ms */
    /* tls: how servers with tls: true are dialed (serverName, insecureSkipVerify,
     * rootCAs, certificates, peerCertURI; spiffe sets its unsupported); NULL:
     * not set, TLS with defaults (system CAs, the server's host as name) */
    struct model_transport *tls;
    const char *unsupported; /* a key set that gantry cannot honour: its services are refused */
    struct model_origin origin;
};

/* tls.options.<name> (Traefik's keys) */
struct model_tls_option {
    const char *name;
    const char *min_version, *max_version;
    const char **cipher_suites, **curves, **client_ca_files, **alpn;
    size_t n_cipher_suites, n_curves, n_client_ca_files, n_alpn;
    const char *client_auth_type;
    bool sni_strict, disable_session_tickets;
    struct model_origin origin;
};

struct model_tls_cert {
    const char *cert_file, *key_file; /* paths, or */
    const char *cert_pem, *key_pem;   /* inline PEM (Kubernetes secrets) */
    struct model_origin origin;
};

struct model {
    struct arena arena;
    unsigned refs; /* watcher thread only: the aggregator's and each API snapshot's that points into it */
    const char *provider;
    uint64_t digest;
    bool digest_known; /* set by model_set_digest: aggregator_submit keeps it */
    struct ptr_vec routers;      /* struct model_router * */
    struct ptr_vec services;     /* struct model_service * */
    struct ptr_vec middlewares;  /* struct model_middleware * */
    struct ptr_vec tcp_routers;  /* struct model_router * */
    struct ptr_vec tcp_services; /* struct model_tcp_service * */
    struct ptr_vec certs;        /* struct model_tls_cert * */
    struct ptr_vec transports;   /* struct model_transport * */
    struct ptr_vec tls_options;  /* struct model_tls_option * */
    struct model_tls_cert *default_cert; /* tls.stores.default.defaultCertificate */
    struct model_default_generated *default_generated; /* tls.stores.default.defaultGeneratedCert */
    struct ptr_vec problems;     /* char *: what the provider could not turn into objects */
    struct ptr_vec tcp_middlewares; /* struct model_middleware * (ipAllowList, inFlightConn) */
    struct ptr_vec tcp_transports;  /* struct model_tcp_transport * */
    struct ptr_vec udp_routers;     /* struct model_router * (service and entryPoints only) */
    struct ptr_vec udp_services;    /* struct model_tcp_service * (servers' address, or weighted) */
};

struct model *model_new(const char *provider);
/* A model whose arena starts with <first_chunk> bytes (0: the default):
 * for the many small models of one Ingress each. */
struct model *model_new_sized(const char *provider, size_t first_chunk);
/* Drops one reference; the last one frees the model. */
void model_free(struct model *m);
/* One more reference (the API snapshot keeps the model's strings, not copies). */
struct model *model_ref(struct model *m);

struct model_router *model_find_router(const struct model *m, const char *name);
struct model_service *model_find_service(const struct model *m, const char *name);

/* Deterministic text dump (objects sorted by name), for tests, digests and
 * the API's raw view. The caller frees the result. */
char *model_dump(const struct model *m);
/* Sets m->digest from the dump. */
void model_compute_digest(struct model *m);
/* Sets m->digest from <parts>, a digest of everything but the problems
 * that the provider already has (e.g. of parts it digested once, when they
 * were built), and from m->problems, so that a change costs no walk over
 * the whole model; marks it known. */
void model_set_digest(struct model *m, uint64_t parts);
/* Digests of one object, to tell identical definitions from conflicting
 * ones when providers merge objects of the same name. */
uint64_t model_router_digest(const struct model_router *r);
/* <with_servers> false: everything but the server list. */
uint64_t model_service_digest(const struct model_service *s, bool with_servers);
/* The same for a TCP or UDP service (loadBalancer.servers left out when not <with_servers>). */
uint64_t model_tcp_service_digest(const struct model_tcp_service *s, bool with_servers);

#endif
