/*
 * ingress-nginx compatibility (providers.kubernetesIngressNGINX): which
 * Ingresses are ingress-nginx's (class `nginx`, controller
 * k8s.io/ingress-nginx), and their nginx.ingress.kubernetes.io/...
 * annotations turned into model middlewares, router rules and service
 * variants with ingress-nginx's semantics and defaults.
 *
 * Fail closed: an annotation that restricts access and cannot be honoured
 * (snippets, client certificates, a missing auth Secret, a
 * malformed value) makes the whole Ingress unserved, with a problem naming
 * namespace/name, the annotation and the reason. Every other annotation
 * gantry does not implement is reported once and ignored.
 *
 * Pure (no I/O): called by k8s_translate.c on the watcher thread, and by
 * tests/unit/controller/providers/kubernetes/k8s_nginx_annotations.c.
 */
#ifndef GANTRY_K8S_NGINX_ANNOTATIONS_H
#define GANTRY_K8S_NGINX_ANNOTATIONS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"
#include "../../model.h"

#define K8S_NGINX_PREFIX "nginx.ingress.kubernetes.io/"

struct k8s_nginx_options {
    const char *ingress_class;    /* NULL: "nginx" */
    const char *controller_class; /* NULL: "k8s.io/ingress-nginx" */
    bool watch_without_class;     /* Ingresses with no class at all are ours too */
    bool class_by_name;           /* an IngressClass named ingress_class is ours whatever its controller */
    bool allow_unsafe;            /* serve Ingresses whose unimplemented access annotations are ignored */
    bool native_lb_by_default;    /* nativeLBByDefault: the Services' ClusterIP instead of their endpoints */
    bool enable_ssl_passthrough;  /* enableSSLPassthrough (ingress-nginx's --enable-ssl-passthrough): ssl-passthrough honoured */
    const char *config_map;       /* configMap (ingress-nginx's --configmap): "namespace/name"; NULL: none */
};

/* The controller ConfigMap as read for one rebuild (k8s_nginx_configmap.c):
 * the global defaults that annotations override. */
struct k8s_nginx_config {
    const char *ref;     /* "ConfigMap <ns>/<name>" */
    const cJSON *data;   /* its data; NULL: missing (ingress-nginx's defaults) */
    const char *refused; /* non-NULL: no nginx Ingress is served, and why */
    int redirect_code;   /* http-redirect-code; 0: not set (the redirects' own codes) */
    struct k8s_nginx_hsts {
        bool on;               /* hsts (default true) */
        long long max_age;     /* hsts-max-age (default 31536000) */
        bool include_subdomains, preload; /* hsts-include-subdomains (true), hsts-preload (false) */
    } hsts;
};

/* ingress-nginx's HSTS defaults (its config.go), for a controller without
 * a ConfigMap or one without the keys. */
#define K8S_NGINX_HSTS_DEFAULT ((struct k8s_nginx_hsts){true, 31536000, true, false})

/* Whether ConfigMap key <k> is honoured as the default of the annotation
 * of the same name. */
bool k8s_nginx_config_honoured(const char *k);

/* The ConfigMap "namespace/name" <ref> among <cms>; NULL when absent. */
const cJSON *k8s_nginx_config_find(const char *ref, const cJSON *const *cms, size_t n);

/* Reads the ConfigMap named by o->config_map among <cms> into <out>: its
 * keys not implemented become problems (in <pa>), and one restricting
 * access that gantry cannot honour sets out->refused unless
 * allowUnsafeAnnotations. */
void k8s_nginx_config_read(const struct k8s_nginx_options *o, const cJSON *const *cms, size_t n, struct arena *pa,
                           struct ptr_vec *problems, struct k8s_nginx_config *out);

/* What an Ingress's annotations ask for, computed once per Ingress. */
struct k8s_nginx_plan {
    const char *refused;        /* non-NULL: the Ingress is not served, and why */
    struct ptr_vec mw_http;     /* middleware names for the plain-HTTP routers, in order */
    struct ptr_vec mw_tls;      /* ... for the TLS routers */
    struct ptr_vec mw_tail;     /* after the per-path rewrite, both kinds of routers */
    bool use_regex;             /* paths are case-insensitive regexes (use-regex, rewrite-target) */
    const char *rewrite_target; /* rewrite-target, with $1... */
    struct model_sticky *sticky; /* affinity: cookie */
    const char *strategy;        /* upstream-hash-by / load-balance: "hrw", "leasttime"; NULL: wrr */
    const char *hash_key;        /* upstream-hash-by other than the client address: the hrw key's nginx variables */
    bool ssl_passthrough;        /* ssl-passthrough with enableSSLPassthrough: TCP passthrough routers by SNI */
    bool https_backend;          /* backend-protocol: HTTPS or GRPCS */
    bool h2c_backend;            /* backend-protocol: GRPC (cleartext HTTP/2) */
    uint64_t connect_ms, read_ms; /* proxy-connect-timeout, proxy-read-timeout; 0: the global ones */
    bool canary;                 /* canary: "true": routes of another Ingress */
    int canary_weight, canary_total;
    const char *canary_header, *canary_header_value, *canary_header_pattern, *canary_cookie;
    const char *base; /* "<ns>-<name>-<hash>", for object names */
    const char *hsts;     /* the HSTS middleware for the TLS routers of TLS hosts; NULL: none */
    /* ingress-nginx shares one server block per host: a host whose
     * certificate comes from another Ingress redirects this Ingress's plain
     * HTTP too (ssl-redirect), this middleware inserted at mw_http position
     * shared_redirect_at; NULL: none (no such host, ssl-redirect off, or
     * the Ingress redirects every host anyway) */
    bool shared_tls; /* some host of the Ingress has a certificate only from another Ingress */
    const char *shared_redirect;
    size_t shared_redirect_at;
    /* the Ingress's own ssl-redirect / force-ssl-redirect middleware in
     * mw_http (NULL: none). Left off its host-less rules' plain routers
     * unless forced: they are server `_`, whose request hosts have no
     * certificate, so lua_ingress.lua's ssl-redirect never fires there
     * (force-ssl-redirect does) */
    const char *own_redirect;
    bool own_redirect_forced;
    /* An Ingress with a defaultBackend and no rules is ingress-nginx's
     * server `_`: createServers applies its annotations to that location
     * but keeps the location's own Rewrite and Redirect, so its catch-all
     * routers leave out these middlewares (own_redirect, permanent- /
     * temporal-redirect, app-root) */
    bool catch_all;
    const char *rewrite_redirect[4];
    size_t n_rewrite_redirect;
    const cJSON *tls;     /* the Ingress's spec.tls: which hosts are TLS hosts */
    const char *aliases; /* server-alias: "a.example.com,b.example.com" */
    bool www_redirect;   /* from-to-www-redirect */
    bool service_upstream; /* service-upstream: the Service's ClusterIP and port, not its endpoints */
    const char *mirror_url; /* mirror-target: "scheme://host[:port]", every request copied there */
    bool mirror_body;       /* mirror-request-body (default on) */
    /* proxy-ssl-*: the HTTPS backend's TLS (PEM text; NULL / 0: unset) */
    bool proxy_ssl;             /* any of them applies: the service gets its own transport */
    const char *ssl_ca, *ssl_cert, *ssl_key;
    bool ssl_verify;
    int ssl_verify_depth, ssl_min_version, ssl_max_version;
    const char *ssl_name, *ssl_ciphers;
};

/* A Kubernetes Event to write on an Ingress (Warning): an annotation not
 * honoured, or the Ingress refused. Strings in the env's <pa>. */
struct k8s_nginx_event {
    const char *ns, *name, *uid, *resource_version;
    const char *reason; /* "AnnotationNotHonoured", "IngressNotServed" */
    const char *message;
};

/* What the annotations need from the translator. */
struct k8s_nginx_env {
    struct model *m;
    struct arena *pa;
    struct ptr_vec *problems;
    const struct k8s_nginx_options *o;
    const cJSON *(*find_secret)(void *data, const char *ns, const char *name);
    void *data;
    struct ptr_vec *events; /* struct k8s_nginx_event *; NULL: not wanted */
    /* The model service for the first port of Service <svc> of <ns> (a
     * problem names <ingress> when it does not exist): NULL then. */
    const char *(*service)(void *data, const char *ns, const char *ingress, const char *svc);
    const struct k8s_nginx_config *config; /* the controller ConfigMap; NULL: none configured */
};

/* What gantry does with annotation <name> (without the prefix): a mask of
 * K8S_NGINX_IMPLEMENTED, _ACCESS (restricts access) and _NEVER (refused
 * whatever the options), or -1 when unknown; <differs> the one-line
 * difference from ingress-nginx of an implemented one, or NULL. */
#define K8S_NGINX_IMPLEMENTED 1
#define K8S_NGINX_ACCESS 2
#define K8S_NGINX_NEVER 4
int k8s_nginx_annotation_info(const char *name, const char **differs);

/* Whether <ingress> belongs to ingress-nginx's class under <o>. */
bool k8s_nginx_is_ours(const cJSON *const *classes, size_t n_classes, const struct k8s_nginx_options *o,
                       const cJSON *ingress);

/* Reads the annotations of <ing> (namespace <ns>, name <name>), adds the
 * middlewares they need to env->m and fills <p>; unimplemented annotations
 * become problems. p->refused says when the Ingress must not be served.
 * <has_tls>: the Ingress has a spec.tls; <shared_tls>: one of its hosts has
 * a certificate from another Ingress of the class (k8s_nginx_router's
 * <host_cert>). */
void k8s_nginx_plan(const struct k8s_nginx_env *env, const cJSON *ing, const char *ns, const char *name, bool has_tls,
                    bool shared_tls, struct k8s_nginx_plan *p);

/* The rule of one path under <p> (regex paths with use-regex/rewrite-target);
 * NULL when the path cannot be expressed. */
const char *k8s_nginx_rule(struct arena *a, const struct k8s_nginx_plan *p, const char *host, const char *path,
                           const char *path_type, bool *exact);

/* Sets the middlewares of router <r> for <host> (NULL: none) and <path>
 * (the per-path rewrite is created here, named after the router); a TLS
 * router of a host in the Ingress's spec.tls, or of a host with a
 * certificate from any Ingress of the class (<host_cert>, ingress-nginx's
 * shared server block), gets HSTS first; with <host_cert> a plain router
 * gets the ssl-redirect even when its own Ingress has no spec.tls. */
void k8s_nginx_router(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, struct model_router *r,
                      const char *host, const char *path, bool tls, bool host_cert);

/* from-to-www-redirect: the host redirected to <host> (www.<host>, or
 * <host> without its "www."), and in <mw> the middleware (created once per
 * host) answering its requests with a 308 to the same URL on <host>; NULL
 * when <p> does not ask for it or <host> is empty or a wildcard. */
const char *k8s_nginx_www_redirect(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, const char *host,
                                   const char **mw);

/* The service the routers of <p> use instead of the shared <svc>: a copy
 * with sticky cookies or HTTPS servers when the annotations ask for it. */
const char *k8s_nginx_service(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, const char *svc);

/* ---- canary Ingresses (canary: "true") ----
 * A canary changes the routing of the main Ingress with the same host and
 * path: canary-weight splits its traffic (a weighted service), and
 * canary-by-header / canary-by-cookie add routers above the main one
 * (header before cookie before weight, as ingress-nginx decides). */

/* The canary Ingress of <ns> with <path> under <host> (its plan's canary
 * fields in <cp>, its name in <canary_name>): the backend of that path, or
 * NULL when there is none. */
const cJSON *k8s_nginx_canary_find(const struct k8s_nginx_env *env, const cJSON *const *ings, size_t n,
                                   const cJSON *const *classes, size_t n_classes, const char *ns, const char *host,
                                   const char *path, struct k8s_nginx_plan *cp, const char **canary_name);

/* The weighted service for router <router> (main and canary by
 * canary-weight / canary-weight-total); <main_svc> when the weight is 0. */
const char *k8s_nginx_canary_weighted(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *cp,
                                      const char *main_svc, const char *canary_svc, const char *router);

enum k8s_nginx_canary_route {
    K8S_NGINX_CANARY_HEADER,       /* to the canary */
    K8S_NGINX_CANARY_HEADER_NEVER, /* to the main service, whatever the weight */
    K8S_NGINX_CANARY_COOKIE,
    K8S_NGINX_CANARY_COOKIE_NEVER,
};

/* <rule> narrowed to the requests of <which>; NULL when not configured. */
const char *k8s_nginx_canary_rule(struct arena *a, const struct k8s_nginx_plan *cp, const char *rule,
                                  enum k8s_nginx_canary_route which);

#endif
