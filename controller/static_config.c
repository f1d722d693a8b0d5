/*
 * Static configuration loader. argv and the YAML file both become one
 * configuration tree (flags are dotted paths set over the file's tree, so
 * flags win), which tables of known keys then decode with the shared tree
 * decoder (tree_decode.h: key paths as context, stop at the first error).
 * Unknown keys are warnings naming the key; wrong values are errors naming
 * the key and where it was set. providers.* decode straight into each
 * provider's own config struct (provider_*.h), which main hands over as is.
 */
#include "static_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../common/log.h"
#include "../proxy/path.h"
#include "model.h"
#include "model_decode.h"
#include "tree.h"
#include "tree_decode.h"
#include "tree_yaml.h"

#define MAX_CONFIG_FILE (4 * 1024 * 1024)

struct sctx {
    struct tree_decoder super;
    struct static_config *c;
    struct diag *d; /* the first error */
};

static struct static_config *cfg(struct tree_decoder *td)
{
    return ((struct sctx *)td)->c;
}

/* for the static configuration's own refusals, worded in full */
static struct diag *sd(struct tree_decoder *td)
{
    return ((struct sctx *)td)->d;
}

/* Static configuration refuses to start on its first error; warnings are
 * logged once the log level is known. */
static void report(struct tree_decoder *td, bool is_error, const char *msg)
{
    if (is_error)
        diag_set(sd(td), "%s", msg);
    else
        ptr_vec_push(&cfg(td)->arena, &cfg(td)->warnings, arena_strdup(&cfg(td)->arena, msg));
}

/* ---- entryPoints ---- */

TREE_FIELD_STRING(ep_address, struct entrypoint_config, address)
TREE_FIELD_DURATION(ep_read_timeout, struct entrypoint_config, read_timeout_ms)
TREE_FIELD_DURATION(ep_idle_timeout, struct entrypoint_config, idle_timeout_ms)
TREE_FIELD_BOOL(ep_fwd_insecure, struct entrypoint_config, forwarded_insecure)

TREE_FIELD_DURATION(ep_write_timeout, struct entrypoint_config, write_timeout_ms)
TREE_FIELD_DURATION(ep_body_window, struct entrypoint_config, body_rate_window_ms)

TREE_FIELD_INT(ep_body_rate, struct entrypoint_config, body_min_rate, uint64_t, 0, INT64_MAX)

static const struct tree_field responding_keys[] = {{"readTimeout", ep_read_timeout},
                                              {"idleTimeout", ep_idle_timeout},
                                              {"writeTimeout", ep_write_timeout},
                                              {"bodyMinRate", ep_body_rate},
                                              {"bodyRateWindow", ep_body_window},
                                              {NULL, NULL}};

static int ep_grace(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_duration(td, v, &cfg(td)->proxy.grace_timeout_ms);
}

static const struct tree_field lifecycle_keys[] = {{"graceTimeOut", ep_grace}, {"requestAcceptGraceTimeout", NULL}, {NULL, NULL}};

static int ep_responding(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, responding_keys, NULL);
}

static int ep_lifecycle(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, lifecycle_keys, NULL);
}

static const struct tree_field transport_keys[] = {{"respondingTimeouts", ep_responding},
                                             {"lifeCycle", ep_lifecycle},
                                             {"keepAliveMaxRequests", NULL},
                                             {"keepAliveMaxTime", NULL},
                                             {NULL, NULL}};

static int ep_transport(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, transport_keys, NULL);
}

/* A list of IP addresses or CIDRs (<key> names it in errors). */
static int cidr_list(struct tree_decoder *td, const struct tree_node *v, const char *key, struct rule_cidr **out, size_t *n_out)
{
    const char **items;
    size_t n;
    char where[512];
    if (tree_decode_list(td, v, &items, &n) != 0)
        return -1;
    *out = arena_alloc(&cfg(td)->arena, (n ? n : 1) * sizeof(**out));
    for (size_t i = 0; i < n; i++)
        if (rule_parse_cidr(items[i], strlen(items[i]), &(*out)[i]) != 0)
            return diag_set(sd(td), "%s: '%s': %s'%s' is not an IP address or CIDR", tree_where(v, where, sizeof(where)),
                            td->context, key, items[i]);
    *n_out = n;
    return 0;
}

static int ep_trusted(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct entrypoint_config *ep = obj;
    return cidr_list(td, v, "", &ep->trusted_ips, &ep->n_trusted_ips);
}

static int ep_pp_trusted(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct entrypoint_config *ep = obj;
    return cidr_list(td, v, "proxyProtocol.trustedIPs: ", &ep->pp_trusted, &ep->n_pp_trusted);
}

TREE_FIELD_BOOL(ep_pp_insecure, struct entrypoint_config, pp_insecure)

static const struct tree_field proxy_protocol_keys[] = {{"trustedIPs", ep_pp_trusted}, {"insecure", ep_pp_insecure}, {NULL, NULL}};

/* proxyProtocol: {trustedIPs, insecure}; "proxyProtocol=true" (a flag) is {} */
static int ep_proxy_protocol(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct entrypoint_config *ep = obj;
    if (v->kind == TREE_SCALAR) {
        bool on = true;
        if (v->scalar && *v->scalar && tree_decode_bool(td, v, &on) != 0)
            return -1;
        ep->proxy_protocol = on;
        return 0;
    }
    ep->proxy_protocol = true;
    return tree_decode_fields(td, obj, v, proxy_protocol_keys, NULL);
}

static const struct tree_field forwarded_keys[] = {
    {"trustedIPs", ep_trusted}, {"insecure", ep_fwd_insecure}, {"connection", NULL}, {NULL, NULL}};

static int ep_forwarded(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, forwarded_keys, NULL);
}

TREE_FIELD_INT(ep_max_body, struct entrypoint_config, max_body_size, size_t, 0, INT64_MAX)

TREE_FIELD_INT(ep_max_rps, struct entrypoint_config, max_requests_per_second, uint32_t, 0, UINT32_MAX)

TREE_FIELD_INT(ep_max_resets, struct entrypoint_config, max_resets, uint32_t, 0, UINT32_MAX)
TREE_FIELD_INT(ep_max_streams, struct entrypoint_config, max_concurrent_streams, uint32_t, 0, 1000)

static const struct tree_field ep_http2_keys[] = {{"maxResetStreams", ep_max_resets},
                                            {"maxStreamsPerSecond", ep_max_rps},
                                            {"maxConcurrentStreams", ep_max_streams},
                                            {NULL, NULL}};

static int ep_http2(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ep_http2_keys, NULL);
}

TREE_FIELD_INT(ep_max_header, struct entrypoint_config, max_header_bytes, size_t, 0, INT64_MAX)

static int ep_sanitize(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    bool on;
    if (tree_decode_bool(td, v, &on) != 0)
        return -1;
    ((struct entrypoint_config *)obj)->path_keep = !on;
    return 0;
}

/* Gantry's own (Traefik has no such switch): TRACE and TRACK get 405 unless set */
static int ep_allow_trace(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(td, v, &((struct entrypoint_config *)obj)->allow_trace);
}

/* encodedCharacters.allowEncodedX: one flag each */
#define ALLOW_KEY(fn, flag)                                                                                                        \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                            \
    {                                                                                                                              \
        bool on;                                                                                                                   \
        if (tree_decode_bool(td, v, &on) != 0)                                                                                               \
            return -1;                                                                                                             \
        struct entrypoint_config *ep = obj;                                                                                        \
        ep->path_allow = on ? ep->path_allow | (flag) : ep->path_allow & ~(unsigned)(flag);                                        \
        return 0;                                                                                                                  \
    }
ALLOW_KEY(allow_slash, PATH_ALLOW_SLASH)
ALLOW_KEY(allow_backslash, PATH_ALLOW_BACKSLASH)
ALLOW_KEY(allow_nul, PATH_ALLOW_NUL)
ALLOW_KEY(allow_semicolon, PATH_ALLOW_SEMICOLON)
ALLOW_KEY(allow_percent, PATH_ALLOW_PERCENT)
ALLOW_KEY(allow_question, PATH_ALLOW_QUESTION)
ALLOW_KEY(allow_hash, PATH_ALLOW_HASH)

static const struct tree_field encoded_keys[] = {{"allowEncodedSlash", allow_slash},
                                           {"allowEncodedBackSlash", allow_backslash},
                                           {"allowEncodedNullCharacter", allow_nul},
                                           {"allowEncodedSemicolon", allow_semicolon},
                                           {"allowEncodedPercent", allow_percent},
                                           {"allowEncodedQuestionMark", allow_question},
                                           {"allowEncodedHash", allow_hash},
                                           {NULL, NULL}};

static int ep_encoded(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, encoded_keys, NULL);
}

static int ep_middlewares(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct entrypoint_config *ep = obj;
    return tree_decode_list(td, v, &ep->middlewares, &ep->n_middlewares);
}

TREE_FIELD_STRING(ep_redirect_to, struct entrypoint_config, redirect_to)
TREE_FIELD_STRING(ep_redirect_scheme, struct entrypoint_config, redirect_scheme)

static int ep_redirect_permanent(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(td, v, &((struct entrypoint_config *)obj)->redirect_permanent);
}

static int ep_redirect_priority(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_int(td, v, 1, INT64_MAX, &((struct entrypoint_config *)obj)->redirect_priority);
}

static const struct tree_field ep_redirect_keys[] = {{"to", ep_redirect_to},
                                               {"scheme", ep_redirect_scheme},
                                               {"permanent", ep_redirect_permanent},
                                               {"priority", ep_redirect_priority},
                                               {NULL, NULL}};

static int ep_redirect_entrypoint(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ep_redirect_keys, NULL);
}

static const struct tree_field ep_redirections_keys[] = {{"entryPoint", ep_redirect_entrypoint}, {NULL, NULL}};

static int ep_redirections(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ep_redirections_keys, NULL);
}

/* http.tls: true, or {certResolver, options, domains[{main, sans}]} */
TREE_FIELD_STRING(ep_tls_resolver, struct model_router_tls, cert_resolver)
TREE_FIELD_STRING(ep_tls_options, struct model_router_tls, options)
TREE_FIELD_STRING(ep_tls_domain_main, struct model_tls_domain, main)
TREE_FIELD_LIST(ep_tls_domain_sans, struct model_tls_domain, sans)

static const struct tree_field ep_tls_domain_keys[] = {{"main", ep_tls_domain_main}, {"sans", ep_tls_domain_sans}, {NULL, NULL}};

static int ep_tls_domains(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct model_router_tls *t = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(td, v, "http.tls.domains must be a list");
    t->domains = arena_alloc(&cfg(td)->arena, (v->n ? v->n : 1) * sizeof(*t->domains));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tls_domain *d = &t->domains[t->n_domains];
        if (tree_decode_fields(td, d, v->items[i], ep_tls_domain_keys, NULL) != 0)
            return -1;
        if (d->main == NULL && d->n_sans == 0)
            return tree_decode_fail(td, v->items[i], "http.tls.domains entry without main or sans");
        t->n_domains++;
    }
    return 0;
}

static const struct tree_field ep_tls_keys[] = {
    {"certResolver", ep_tls_resolver}, {"options", ep_tls_options}, {"domains", ep_tls_domains}, {NULL, NULL}};

static int ep_http_tls(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct entrypoint_config *ep = obj;
    if (v->kind == TREE_SCALAR) {
        bool on;
        if (tree_decode_bool(td, v, &on) != 0)
            return -1;
        ep->http_tls = on ? arena_alloc(&cfg(td)->arena, sizeof(struct model_router_tls)) : NULL;
        return 0;
    }
    struct model_router_tls *t = arena_alloc(&cfg(td)->arena, sizeof(*t));
    if (tree_decode_fields(td, t, v, ep_tls_keys, NULL) != 0)
        return -1;
    ep->http_tls = t;
    return 0;
}

static const struct tree_field ep_http_keys[] = {{"maxRequestBodyBytes", ep_max_body},
                                           {"redirections", ep_redirections},
                                           {"middlewares", ep_middlewares},
                                           {"tls", ep_http_tls},
                                           {"encodedCharacters", ep_encoded},
                                           {"sanitizePath", ep_sanitize},
                                           {"maxHeaderBytes", ep_max_header},
                                           {"allowTraceMethod", ep_allow_trace},
                                           {NULL, NULL}};

static int ep_http(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ep_http_keys, NULL);
}

TREE_FIELD_DURATION(ep_udp_timeout, struct entrypoint_config, udp_timeout_ms)
static const struct tree_field ep_udp_keys[] = {{"timeout", ep_udp_timeout}, {NULL, NULL}};

static int ep_udp(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ep_udp_keys, NULL);
}

static const struct tree_field ep_keys[] = {{"address", ep_address},
                                      {"transport", ep_transport},
                                      {"forwardedHeaders", ep_forwarded},
                                      {"http", ep_http},
                                      {"proxyProtocol", ep_proxy_protocol},
                                      {"http2", ep_http2},
                                      {"http3", NULL},
                                      {"udp", ep_udp},
                                      {"asDefault", NULL},
                                      {"reusePort", NULL},
                                      {NULL, NULL}};

static void entrypoint_defaults(struct entrypoint_config *ep)
{
    ep->redirect_permanent = true;
    ep->redirect_priority = INT64_MAX - 1; /* Traefik v3: math.MaxInt - 1 */
    ep->read_timeout_ms = 60000;
    ep->idle_timeout_ms = 180000;
    ep->write_timeout_ms = 60000;
    ep->body_min_rate = 1024;
    ep->body_rate_window_ms = 10000;
    ep->max_resets = 200;
    ep->max_concurrent_streams = 100;
    ep->max_requests_per_second = 10000;
    ep->udp_timeout_ms = 3000; /* Traefik's udp.timeout default */
}

static int entrypoints_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    char where[512];
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_MAP)
        return diag_set(sd(td), "%s: entryPoints must be a mapping of names", tree_where(v, where, sizeof(where)));
    struct static_config *c = cfg(td);
    c->entrypoints = arena_alloc(&c->arena, (v->n ? v->n : 1) * sizeof(*c->entrypoints));
    c->n_entrypoints = 0;
    size_t n_udp = 0;
    struct udp_entrypoint_config *udp = arena_alloc(&c->arena, (v->n ? v->n : 1) * sizeof(*udp));
    const char *saved = td->context;
    for (size_t i = 0; i < v->n; i++) {
        struct entrypoint_config *ep = &c->entrypoints[c->n_entrypoints];
        entrypoint_defaults(ep);
        ep->name = arena_strdup(&c->arena, v->keys[i]);
        td->context = arena_printf(&c->arena, "entryPoints.%s", v->keys[i]);
        if (tree_decode_fields(td, ep, v->items[i], ep_keys, NULL) != 0)
            return -1;
        if (ep->address == NULL)
            return diag_set(sd(td), "%s: entry point '%s' has no address", tree_where(v->items[i], where, sizeof(where)),
                            ep->name);
        /* Traefik's "[host]:port/udp": a UDP entry point (proxy/udp/),
         * listed apart: HTTP and TCP routers never see it */
        size_t alen = strlen(ep->address);
        if (alen >= 4 && strcasecmp(ep->address + alen - 4, "/udp") == 0) {
            struct udp_entrypoint_config *u = &udp[n_udp++];
            u->name = ep->name;
            u->address = arena_strndup(&c->arena, ep->address, alen - 4);
            u->timeout_ms = ep->udp_timeout_ms;
            continue; /* its slot is reused by the next entry point */
        }
        c->n_entrypoints++;
    }
    td->context = saved;
    c->proxy.udp_entrypoints = udp;
    c->proxy.n_udp_entrypoints = n_udp;
    return 0;
}

/* ---- providers ---- */

TREE_FIELD_STRING(file_filename, struct static_config, file.filename)
TREE_FIELD_STRING(file_directory, struct static_config, file.directory)
TREE_FIELD_BOOL(file_watch, struct static_config, file.watch)

static const struct tree_field file_keys[] = {
    {"filename", file_filename}, {"directory", file_directory}, {"watch", file_watch}, {"debugLogGeneratedTemplate", NULL}, {NULL, NULL}};

/* the providers' namespace lists are read-only (const char *const *) */
static int decode_namespaces(struct tree_decoder *td, const struct tree_node *v, const char *const **out, size_t *n)
{
    const char **items;
    if (tree_decode_list(td, v, &items, n) != 0)
        return -1;
    *out = items;
    return 0;
}

static int prov_file(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->file.enabled, cfg(td), v, file_keys, NULL);
}

static int docker_endpoint(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    c->docker.endpoint_set = true;
    return tree_decode_string(td, v, &c->docker.endpoint);
}
TREE_FIELD_STRING(docker_network, struct static_config, docker.network)
TREE_FIELD_STRING(docker_default_rule, struct static_config, docker.default_rule)
TREE_FIELD_STRING(docker_label_prefix, struct static_config, docker.label_prefix)
TREE_FIELD_STRING(docker_constraints, struct static_config, docker.constraints)
TREE_FIELD_STRING(docker_host_ip, struct static_config, docker.host_ip)
TREE_FIELD_BOOL(docker_exposed, struct static_config, docker.exposed_by_default)

/* Gantry always follows the events: say so rather than ignore "false" */
static int docker_watch(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    if (tree_decode_bool(td, v, &c->docker.watch) != 0)
        return -1;
    if (!c->docker.watch)
        tree_decode_warn(td, v, "false is not supported by gantry yet (container events are always followed)");
    return 0;
}

static const struct tree_field docker_keys[] = {{"endpoint", docker_endpoint},
                                          {"network", docker_network},
                                          {"defaultRule", docker_default_rule},
                                          {"labelPrefix", docker_label_prefix},
                                          {"constraints", docker_constraints},
                                          {"exposedByDefault", docker_exposed},
                                          {"watch", docker_watch},
                                          {"hostIP", docker_host_ip},
                                          {"useBindPortIP", NULL},
                                          {"tls", NULL},
                                          {"httpClientTimeout", NULL},
                                          {"allowEmptyServices", NULL},
                                          {"username", NULL},
                                          {"password", NULL},
                                          {NULL, NULL}};

static int prov_docker(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->docker.enabled, cfg(td), v, docker_keys, NULL);
}

TREE_FIELD_STRING(kube_endpoint, struct static_config, kube.endpoint)
TREE_FIELD_STRING(kube_token, struct static_config, kube.token)
TREE_FIELD_STRING(kube_ca, struct static_config, kube.cert_auth_file_path)
TREE_FIELD_STRING(kube_selector, struct static_config, kube.label_selector)
TREE_FIELD_STRING(kube_class, struct static_config, kube.ingress_class)
TREE_FIELD_STRING(kube_ep_ip, struct static_config, kube.status_ip)
TREE_FIELD_STRING(kube_ep_hostname, struct static_config, kube.status_hostname)
TREE_FIELD_STRING(kube_ep_service, struct static_config, kube.status_published_service)
TREE_FIELD_BOOL(kube_external_name, struct static_config, kube.allow_external_name_services)
TREE_FIELD_BOOL(kube_native_lb, struct static_config, kube.native_lb_by_default)

static int kube_namespaces(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    return decode_namespaces(td, v, &c->kube.namespaces, &c->kube.n_namespaces);
}

TREE_FIELD_STRING(kube_lease_ns, struct static_config, kube.lease_namespace)
TREE_FIELD_STRING(kube_lease_name, struct static_config, kube.lease_name)
TREE_FIELD_DURATION(kube_lease_duration, struct static_config, kube.lease_duration_ms)
static const struct tree_field leader_keys[] = {
    {"namespace", kube_lease_ns}, {"leaseName", kube_lease_name}, {"leaseDuration", kube_lease_duration}, {NULL, NULL}};

static int kube_leader(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, leader_keys, NULL);
}

static const struct tree_field ingress_endpoint_keys[] = {
    {"ip", kube_ep_ip}, {"hostname", kube_ep_hostname}, {"publishedService", kube_ep_service}, {NULL, NULL}};

static int kube_ingress_endpoint(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, ingress_endpoint_keys, NULL);
}

static const struct tree_field kube_keys[] = {{"endpoint", kube_endpoint},
                                        {"token", kube_token},
                                        {"certAuthFilePath", kube_ca},
                                        {"labelSelector", kube_selector},
                                        {"ingressClass", kube_class},
                                        {"namespaces", kube_namespaces},
                                        {"ingressEndpoint", kube_ingress_endpoint},
                                        {"allowExternalNameServices", kube_external_name},
                                        {"leaderElection", kube_leader},
                                        {"throttleDuration", NULL},
                                        {"allowEmptyServices", NULL},
                                        {"nativeLBByDefault", kube_native_lb},
                                        {"disableClusterScopeResources", NULL},
                                        {"strictPrefixMatching", NULL},
                                        {NULL, NULL}};

static int prov_kube(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->kube.enabled, cfg(td), v, kube_keys, NULL);
}

/* ---- providers.kubernetesIngressNGINX (ingress-nginx compatibility) ---- */

TREE_FIELD_STRING(nginx_endpoint, struct static_config, kube_nginx.endpoint)
TREE_FIELD_STRING(nginx_token, struct static_config, kube_nginx.token)
TREE_FIELD_STRING(nginx_ca, struct static_config, kube_nginx.cert_auth_file_path)
TREE_FIELD_STRING(nginx_watch_ns, struct static_config, kube_nginx.watch_namespace)
TREE_FIELD_STRING(nginx_class, struct static_config, kube_nginx.options.ingress_class)
TREE_FIELD_STRING(nginx_controller, struct static_config, kube_nginx.options.controller_class)
TREE_FIELD_STRING(nginx_publish_service, struct static_config, kube_nginx.publish_service)
TREE_FIELD_STRING(nginx_publish_address, struct static_config, kube_nginx.publish_status_address)
TREE_FIELD_BOOL(nginx_without_class, struct static_config, kube_nginx.options.watch_without_class)
TREE_FIELD_BOOL(nginx_by_name, struct static_config, kube_nginx.options.class_by_name)
TREE_FIELD_BOOL(nginx_unsafe, struct static_config, kube_nginx.options.allow_unsafe)
TREE_FIELD_BOOL(nginx_no_external_name, struct static_config, kube_nginx.disable_external_name)
TREE_FIELD_BOOL(nginx_native_lb, struct static_config, kube_nginx.options.native_lb_by_default)
TREE_FIELD_BOOL(nginx_ssl_passthrough, struct static_config, kube_nginx.options.enable_ssl_passthrough)

/* configMap: "namespace/name", as ingress-nginx's --configmap */
static int nginx_config_map(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    const char *s = NULL;
    if (tree_decode_string(td, v, &s) != 0)
        return -1;
    const char *slash = s ? strchr(s, '/') : NULL;
    if (slash == NULL || slash == s || slash[1] == '\0' || strchr(slash + 1, '/'))
        return diag_set(sd(td), "%s: `%s` is not namespace/name", td->context, s ? s : "");
    cfg(td)->kube_nginx.options.config_map = s;
    return 0;
}

/* Snippets are never executed: accepting "true" would promise what gantry
 * does not do. */
static int nginx_snippets(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    bool on = false;
    if (tree_decode_bool(td, v, &on) != 0)
        return -1;
    if (on)
        return diag_set(sd(td), "%s: gantry never executes nginx snippets; Ingresses with snippets are not served", td->context);
    return 0;
}

/* Options that restrict access: ignoring them (as an unknown key would be)
 * would open every route, so they stop the start until implemented. */
static int nginx_refused(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    (void)v;
    return diag_set(sd(td), "%s: not supported by gantry yet; refusing to start rather than serve without it", td->context);
}

static const struct tree_field kube_nginx_keys[] = {{"endpoint", nginx_endpoint},
                                              {"token", nginx_token},
                                              {"certAuthFilePath", nginx_ca},
                                              {"watchNamespace", nginx_watch_ns},
                                              {"ingressClass", nginx_class},
                                              {"controllerClass", nginx_controller},
                                              {"watchIngressWithoutClass", nginx_without_class},
                                              {"ingressClassByName", nginx_by_name},
                                              {"publishService", nginx_publish_service},
                                              {"publishStatusAddress", nginx_publish_address},
                                              {"allowSnippetAnnotations", nginx_snippets},
                                              {"allowUnsafeAnnotations", nginx_unsafe},
                                              {"disableSvcExternalName", nginx_no_external_name},
                                              {"nativeLBByDefault", nginx_native_lb},
                                              {"enableSSLPassthrough", nginx_ssl_passthrough},
                                              {"configMap", nginx_config_map},
                                              {"globalAuthURL", nginx_refused},
                                              {"watchNamespaceSelector", nginx_refused},
                                              {"throttleDuration", NULL},
                                              {"defaultBackendService", NULL},
                                              {NULL, NULL}};

static int prov_kube_nginx(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->kube_nginx.enabled, cfg(td), v, kube_nginx_keys, NULL);
}

/* providers.kubernetesCRD: Traefik's keys; the connection keys as kubernetesIngress's */
TREE_FIELD_STRING(crd_endpoint, struct static_config, kube_crd.endpoint)
TREE_FIELD_STRING(crd_token, struct static_config, kube_crd.token)
TREE_FIELD_STRING(crd_ca, struct static_config, kube_crd.cert_auth_file_path)
TREE_FIELD_STRING(crd_selector, struct static_config, kube_crd.label_selector)
TREE_FIELD_STRING(crd_class, struct static_config, kube_crd.ingress_class)
TREE_FIELD_BOOL(crd_cross_ns, struct static_config, kube_crd.allow_cross_namespace)
TREE_FIELD_BOOL(crd_external_name, struct static_config, kube_crd.allow_external_name_services)
TREE_FIELD_BOOL(crd_native_lb, struct static_config, kube_crd.native_lb_by_default)
TREE_FIELD_BOOL(crd_empty, struct static_config, kube_crd.allow_empty_services)
TREE_FIELD_DURATION(crd_throttle, struct static_config, kube_crd.throttle_ms)

static int crd_namespaces(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    return decode_namespaces(td, v, &c->kube_crd.namespaces, &c->kube_crd.n_namespaces);
}

static const struct tree_field kube_crd_keys[] = {{"endpoint", crd_endpoint},
                                            {"token", crd_token},
                                            {"certAuthFilePath", crd_ca},
                                            {"labelSelector", crd_selector},
                                            {"ingressClass", crd_class},
                                            {"namespaces", crd_namespaces},
                                            {"allowCrossNamespace", crd_cross_ns},
                                            {"allowExternalNameServices", crd_external_name},
                                            {"allowEmptyServices", crd_empty},
                                            {"throttleDuration", crd_throttle},
                                            {"nativeLBByDefault", crd_native_lb},
                                            {"disableClusterScopeResources", NULL},
                                            {NULL, NULL}};

static int prov_kube_crd(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->kube_crd.enabled, cfg(td), v, kube_crd_keys, NULL);
}

/* providers.kubernetesGateway: Traefik's keys, and gantry's controllerName */
TREE_FIELD_STRING(gw_endpoint, struct static_config, kube_gw.endpoint)
TREE_FIELD_STRING(gw_token, struct static_config, kube_gw.token)
TREE_FIELD_STRING(gw_ca, struct static_config, kube_gw.cert_auth_file_path)
TREE_FIELD_STRING(gw_selector, struct static_config, kube_gw.label_selector)
TREE_FIELD_STRING(gw_controller, struct static_config, kube_gw.controller_name)
TREE_FIELD_STRING(gw_status_ip, struct static_config, kube_gw.status_ip)
TREE_FIELD_STRING(gw_status_hostname, struct static_config, kube_gw.status_hostname)
TREE_FIELD_BOOL(gw_experimental, struct static_config, kube_gw.experimental_channel)
TREE_FIELD_BOOL(gw_native_lb, struct static_config, kube_gw.native_lb_by_default)
TREE_FIELD_DURATION(gw_throttle, struct static_config, kube_gw.throttle_ms)

static int gw_namespaces(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    return decode_namespaces(td, v, &c->kube_gw.namespaces, &c->kube_gw.n_namespaces);
}

TREE_FIELD_STRING(gw_status_svc_name, struct static_config, kube_gw.status_service_name)
TREE_FIELD_STRING(gw_status_svc_ns, struct static_config, kube_gw.status_service_namespace)
static const struct tree_field gw_status_service_keys[] = {
    {"name", gw_status_svc_name}, {"namespace", gw_status_svc_ns}, {NULL, NULL}};

/* statusAddress.service: the Gateways' addresses are that Service's */
static int gw_status_service(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, gw_status_service_keys, NULL);
}

static const struct tree_field gw_status_keys[] = {
    {"ip", gw_status_ip}, {"hostname", gw_status_hostname}, {"service", gw_status_service}, {NULL, NULL}};

static int gw_status_address(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, gw_status_keys, NULL);
}

static const struct tree_field kube_gw_keys[] = {{"endpoint", gw_endpoint},
                                           {"token", gw_token},
                                           {"certAuthFilePath", gw_ca},
                                           {"labelSelector", gw_selector},
                                           {"namespaces", gw_namespaces},
                                           {"throttleDuration", gw_throttle},
                                           {"experimentalChannel", gw_experimental},
                                           {"nativeLBByDefault", gw_native_lb},
                                           {"statusAddress", gw_status_address},
                                           {"controllerName", gw_controller},
                                           {NULL, NULL}};

static int prov_kube_gw(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->kube_gw.enabled, cfg(td), v, kube_gw_keys, NULL);
}

static int prov_throttle(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(td, v, &((struct static_config *)obj)->throttle_ms);
}

static const struct tree_field provider_keys[] = {{"file", prov_file},
                                            {"docker", prov_docker},
                                            {"kubernetesIngress", prov_kube},
                                            {"kubernetesIngressNGINX", prov_kube_nginx},
                                            {"providersThrottleDuration", prov_throttle},
                                            {"kubernetesCRD", prov_kube_crd},
                                            {"kubernetesGateway", prov_kube_gw},
                                            {"swarm", NULL},
                                            {NULL, NULL}};

static int providers_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, provider_keys, NULL);
}

/* ---- serversTransport ---- */

TREE_FIELD_DURATION(st_dial, struct static_config, proxy.dial_timeout_ms)
TREE_FIELD_DURATION(st_header, struct static_config, proxy.response_header_timeout_ms)
TREE_FIELD_DURATION(st_idle, struct static_config, proxy.idle_conn_timeout_ms)
TREE_FIELD_DURATION(st_read, struct static_config, proxy.read_timeout_ms)
TREE_FIELD_BOOL(st_insecure, struct static_config, proxy.insecure_skip_verify)

static const struct tree_field forwarding_keys[] = {{"dialTimeout", st_dial},
                                              {"responseHeaderTimeout", st_header},
                                              {"idleConnTimeout", st_idle},
                                              {"readTimeout", st_read},
                                              {"readIdleTimeout", NULL},
                                              {"pingTimeout", NULL},
                                              {NULL, NULL}};

static int st_forwarding(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, forwarding_keys, NULL);
}

TREE_FIELD_INT(st_max_idle, struct static_config, proxy.max_idle_conns_per_host, uint32_t, 0, 1000000)

static const struct tree_field transport_root_keys[] = {{"forwardingTimeouts", st_forwarding},
                                                  {"maxIdleConnsPerHost", st_max_idle},
                                                  {"insecureSkipVerify", st_insecure},
                                                  {"rootCAs", NULL},
                                                  {"spiffe", NULL},
                                                  {NULL, NULL}};

static int servers_transport_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, transport_root_keys, NULL);
}

/* ---- tcpServersTransport ---- */

/* Traefik v3's static tcpServersTransport: the transport of every TCP
 * service that names none (its default@internal). The keys are those of
 * a tcp.serversTransports entry less serverName, certificates,
 * peerCertURI and proxyProtocol, which Traefik's static section does not
 * have (a warning, as any unknown key). */
TREE_FIELD_BOOL(tst_tls_insecure, struct model_transport, insecure_skip_verify)
TREE_FIELD_LIST(tst_tls_root_cas, struct model_transport, root_cas)

/* tls.spiffe: gantry has no SPIFFE source, so the TCP services that use
 * this transport are refused (Traefik: "SPIFFE is enabled for this
 * transport, but not configured") */
static int tst_tls_spiffe(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)v;
    ((struct model_transport *)obj)->unsupported = "spiffe";
    tree_decode_warn(td, v, "tcpServersTransport.tls.spiffe is not supported by gantry: the TCP services without a "
                            "serversTransport of their own are not served");
    return 0;
}

static const struct tree_field tst_tls_keys[] = {{"insecureSkipVerify", tst_tls_insecure},
                                                 {"rootCAs", tst_tls_root_cas},
                                                 {"spiffe", tst_tls_spiffe},
                                                 {NULL, NULL}};

static int tst_tls(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct model_tcp_transport *t = obj;
    struct model_transport *tls = arena_alloc(&cfg(td)->arena, sizeof(*tls));
    tls->name = "tcpServersTransport";
    if (tree_decode_fields(td, tls, v, tst_tls_keys, "tcpServersTransport.tls") != 0)
        return -1;
    if (tls->unsupported != NULL)
        t->unsupported = "tls.spiffe";
    t->tls = tls;
    return 0;
}

/* the scalar keys decode as in tcp.serversTransports */
static const struct tree_field tcp_transport_root_keys[] = {{"dialTimeout", model_decode_tcp_transport_dial},
                                                            {"dialKeepAlive", model_decode_tcp_transport_keep_alive},
                                                            {"terminationDelay", model_decode_tcp_transport_termination_delay},
                                                            {"tls", tst_tls},
                                                            {NULL, NULL}};

static int tcp_servers_transport_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_fields(td, &cfg(td)->tcp_transport, v, tcp_transport_root_keys, "tcpServersTransport");
}

/* ---- log, accessLog, admin, workers ---- */

TREE_FIELD_STRING(log_level, struct static_config, log_level)
static const struct tree_field log_keys[] = {
    {"level", log_level}, {"filePath", NULL}, {"format", NULL}, {"noColor", NULL}, {"maxSize", NULL}, {NULL, NULL}};

static int log_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, log_keys, NULL);
}

TREE_FIELD_STRING(al_path, struct static_config, access_log.file_path)
TREE_FIELD_STRING(al_format, struct static_config, access_log.format)
static const struct tree_field access_log_keys[] = {
    {"filePath", al_path}, {"format", al_format}, {"bufferingSize", NULL}, {"filters", NULL}, {"fields", NULL}, {NULL, NULL}};

static int access_log_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct static_config *c = obj;
    if (v->kind == TREE_SCALAR)
        return tree_decode_bool(td, v, &c->access_log.enabled);
    c->access_log.enabled = true;
    return tree_decode_fields(td, obj, v, access_log_keys, NULL);
}

TREE_FIELD_STRING(admin_address, struct static_config, admin_address)
TREE_FIELD_STRING(admin_token, struct static_config, admin_token)
static const struct tree_field admin_keys[] = {{"address", admin_address}, {"token", admin_token}, {NULL, NULL}};

static int admin_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, admin_keys, NULL);
}

TREE_FIELD_INT(limit_max, struct static_config, proxy.max_connections, uint64_t, 0, INT64_MAX)

TREE_FIELD_INT(limit_per_ip, struct static_config, proxy.max_connections_per_ip, uint32_t, 0, UINT32_MAX)

static const struct tree_field limit_keys[] = {
    {"maxConnections", limit_max}, {"maxConnectionsPerIP", limit_per_ip}, {NULL, NULL}};

static int limits_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, limit_keys, NULL);
}

TREE_FIELD_INT(workers_key, struct static_config, proxy.n_workers, uint32_t, 0, 256)
TREE_FIELD_STRING(server_header_key, struct static_config, proxy.server_header)

/* ---- certificatesResolvers ---- */

TREE_FIELD_STRING(acme_email, struct acme_resolver_config, email)
TREE_FIELD_STRING(acme_ca_server, struct acme_resolver_config, ca_server)
TREE_FIELD_STRING(acme_storage, struct acme_resolver_config, storage)
TREE_FIELD_STRING(acme_key_type, struct acme_resolver_config, key_type)
TREE_FIELD_STRING(acme_preferred_chain, struct acme_resolver_config, preferred_chain)
TREE_FIELD_STRING(acme_eab_kid, struct acme_resolver_config, eab_kid)
TREE_FIELD_STRING(acme_eab_hmac, struct acme_resolver_config, eab_hmac)
TREE_FIELD_STRING(acme_http_ep, struct acme_resolver_config, http_entrypoint)
TREE_FIELD_DURATION(acme_http_delay, struct acme_resolver_config, http_delay_ms)
TREE_FIELD_LIST(acme_ca_certs, struct acme_resolver_config, ca_certificates)
TREE_FIELD_BOOL(acme_ca_system, struct acme_resolver_config, ca_system_cert_pool)
TREE_FIELD_STRING(acme_ca_name, struct acme_resolver_config, ca_server_name)
TREE_FIELD_DURATION(acme_client_timeout, struct acme_resolver_config, client_timeout_ms)
TREE_FIELD_DURATION(acme_client_header_timeout, struct acme_resolver_config, client_response_header_timeout_ms)
TREE_FIELD_DURATION(acme_certificate_timeout, struct acme_resolver_config, certificate_timeout_ms)
TREE_FIELD_DURATION(acme_tls_delay, struct acme_resolver_config, tls_delay_ms)
TREE_FIELD_LIST(acme_email_addresses, struct acme_resolver_config, email_addresses)
TREE_FIELD_BOOL(acme_disable_cn, struct acme_resolver_config, disable_common_name)

/* ACME profiles (draft-aaron-acme-profiles) need a CA that advertises them;
 * gantry does not send one yet, and an order without the profile asked for
 * would give a certificate the user did not ask for: refuse the resolver. */
static int acme_profile(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    char where[512];
    if (v->kind == TREE_NULL || (v->kind == TREE_SCALAR && v->scalar[0] == '\0'))
        return 0;
    return diag_set(sd(td), "%s: '%s': ACME certificate profiles are not supported by gantry yet (remove profile to get "
                            "the CA's default profile)",
                    tree_where(v, where, sizeof(where)), td->context);
}

static int acme_duration(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_int(td, v, 1, 24 * 365 * 100, &((struct acme_resolver_config *)obj)->certificates_duration_h);
}

static const struct tree_field acme_eab_keys[] = {{"kid", acme_eab_kid}, {"hmacEncoded", acme_eab_hmac}, {NULL, NULL}};
static int acme_eab(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, acme_eab_keys, NULL);
}

static const struct tree_field acme_http_keys[] = {{"entryPoint", acme_http_ep}, {"delay", acme_http_delay}, {NULL, NULL}};
static int acme_http(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    ((struct acme_resolver_config *)obj)->http_challenge = true;
    return tree_decode_fields(td, obj, v, acme_http_keys, NULL);
}

/* tlsChallenge: "true" (or an empty block) turns it on; a block may set delay */
static const struct tree_field acme_tls_keys[] = {{"delay", acme_tls_delay}, {NULL, NULL}};
static int acme_tls(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    ((struct acme_resolver_config *)obj)->tls_challenge = true;
    return v->kind == TREE_MAP ? tree_decode_fields(td, obj, v, acme_tls_keys, NULL) : 0;
}

TREE_FIELD_STRING(acme_dns_provider, struct acme_resolver_config, dns_provider)
TREE_FIELD_LIST(acme_dns_resolvers, struct acme_resolver_config, dns_resolvers)
TREE_FIELD_DURATION(acme_dns_delay, struct acme_resolver_config, dns_delay_ms)
TREE_FIELD_BOOL(acme_dns_disable_checks, struct acme_resolver_config, dns_disable_checks)
TREE_FIELD_BOOL(acme_dns_require_all, struct acme_resolver_config, dns_require_all_rns)
TREE_FIELD_BOOL(acme_dns_disable_ans, struct acme_resolver_config, dns_disable_ans_checks)

static const struct tree_field acme_dns_propagation_keys[] = {{"delayBeforeChecks", acme_dns_delay},
                                                              {"disableChecks", acme_dns_disable_checks},
                                                              {"requireAllRNS", acme_dns_require_all},
                                                              {"disableANSChecks", acme_dns_disable_ans},
                                                              {NULL, NULL}};
static int acme_dns_propagation(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, acme_dns_propagation_keys, NULL);
}

/* dnsChallenge: DNS-01 through lego's exec or httpreq provider; the
 * deprecated delayBeforeCheck and disablePropagationCheck mean what
 * propagation.delayBeforeChecks and propagation.disableChecks do */
static const struct tree_field acme_dns_keys[] = {{"provider", acme_dns_provider},
                                                  {"resolvers", acme_dns_resolvers},
                                                  {"propagation", acme_dns_propagation},
                                                  {"delayBeforeCheck", acme_dns_delay},
                                                  {"disablePropagationCheck", acme_dns_disable_checks},
                                                  {NULL, NULL}};
static int acme_dns(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    ((struct acme_resolver_config *)obj)->dns_challenge = true;
    return v->kind == TREE_MAP ? tree_decode_fields(td, obj, v, acme_dns_keys, NULL) : 0;
}

/* Only lego's exec and httpreq providers are built in (the others are Go
 * API clients; exec can bridge to any of them, lego's CLI included). */
static int acme_dns_check(struct tree_decoder *td, const struct tree_node *v, const struct acme_resolver_config *r)
{
    char where[512];
    if (!r->dns_challenge)
        return 0;
    if (r->dns_provider == NULL || r->dns_provider[0] == '\0')
        return diag_set(sd(td), "%s: certificatesResolvers.%s.acme.dnsChallenge.provider is required (exec or httpreq)",
                        tree_where(v, where, sizeof(where)), r->name);
    if (strcmp(r->dns_provider, "exec") != 0 && strcmp(r->dns_provider, "httpreq") != 0)
        return diag_set(sd(td), "%s: certificatesResolvers.%s.acme.dnsChallenge.provider: '%s' is not supported by gantry "
                                "(only exec and httpreq; other DNS providers can be bridged with exec)",
                        tree_where(v, where, sizeof(where)), r->name, r->dns_provider);
    return 0;
}

static const struct tree_field acme_keys[] = {{"email", acme_email},
                                        {"caServer", acme_ca_server},
                                        {"storage", acme_storage},
                                        {"keyType", acme_key_type},
                                        {"certificatesDuration", acme_duration},
                                        {"preferredChain", acme_preferred_chain},
                                        {"eab", acme_eab},
                                        {"httpChallenge", acme_http},
                                        {"tlsChallenge", acme_tls},
                                        {"dnsChallenge", acme_dns},
                                        {"clientTimeout", acme_client_timeout},
                                        {"clientResponseHeaderTimeout", acme_client_header_timeout},
                                        {"certificateTimeout", acme_certificate_timeout},
                                        {"caCertificates", acme_ca_certs},
                                        {"caSystemCertPool", acme_ca_system},
                                        {"caServerName", acme_ca_name},
                                        {"profile", acme_profile},
                                        {"emailAddresses", acme_email_addresses},
                                        {"disableCommonName", acme_disable_cn},
                                        {NULL, NULL}};

static int resolver_acme(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(td, obj, v, acme_keys, NULL);
}

static const struct tree_field resolver_keys[] = {{"acme", resolver_acme}, {"tailscale", NULL}, {NULL, NULL}};

/* A map of resolver names, each with its "acme" block (Traefik's
 * certificatesResolvers). Defaults are Traefik's: Let's Encrypt's
 * production directory, acme.json, RSA4096, 2160 hours. */
static int resolvers_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    char where[512];
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_MAP)
        return diag_set(sd(td), "%s: certificatesResolvers must be a mapping of names", tree_where(v, where, sizeof(where)));
    struct static_config *c = cfg(td);
    c->resolvers = arena_alloc(&c->arena, (v->n ? v->n : 1) * sizeof(*c->resolvers));
    c->n_resolvers = 0;
    const char *saved = td->context;
    for (size_t i = 0; i < v->n; i++) {
        struct acme_resolver_config *r = &c->resolvers[c->n_resolvers];
        *r = (struct acme_resolver_config){.name = arena_strdup(&c->arena, v->keys[i]),
                                           .ca_server = "https://acme-v02.api.letsencrypt.org/directory",
                                           .storage = "acme.json",
                                           .key_type = "RSA4096",
                                           .certificates_duration_h = 2160,
                                           .client_timeout_ms = 120000,
                                           .client_response_header_timeout_ms = 30000,
                                           .certificate_timeout_ms = 30000};
        td->context = arena_printf(&c->arena, "certificatesResolvers.%s", v->keys[i]);
        if (tree_decode_fields(td, r, v->items[i], resolver_keys, NULL) != 0)
            return -1;
        if (acme_dns_check(td, v->items[i], r) != 0)
            return -1;
        if (!r->http_challenge && !r->tls_challenge && !r->dns_challenge)
            return diag_set(sd(td), "%s: certificate resolver '%s' needs httpChallenge, tlsChallenge or dnsChallenge",
                            tree_where(v->items[i], where, sizeof(where)), r->name);
        if (r->client_timeout_ms < r->client_response_header_timeout_ms) /* Traefik's check */
            return diag_set(sd(td), "%s: certificatesResolvers.%s.acme: clientTimeout must be at least clientResponseHeaderTimeout",
                            tree_where(v->items[i], where, sizeof(where)), r->name);
        c->n_resolvers++;
    }
    td->context = saved;
    return 0;
}

/* ---- ocsp ---- */

/* ocsp.responderOverrides: the responder URL a certificate names -> the one
 * to ask instead (Traefik's map, keyed by the certificate's URL) */
static int ocsp_overrides(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    char where[512];
    struct ocsp_config *o = &cfg(td)->ocsp;
    if (v->kind != TREE_MAP && v->kind != TREE_NULL)
        return diag_set(sd(td), "%s: ocsp.responderOverrides must map responder URLs to URLs",
                        tree_where(v, where, sizeof(where)));
    return tree_decode_string_map(td, v, &o->override_from, &o->override_to, &o->n_overrides);
}

static const struct tree_field ocsp_keys[] = {{"responderOverrides", ocsp_overrides}, {NULL, NULL}};

/* `ocsp: {}` (or --ocsp=true) turns stapling on, as in Traefik v3.4+ */
static int ocsp_key(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    (void)obj;
    return tree_decode_switch(td, &cfg(td)->ocsp.enabled, cfg(td), v, ocsp_keys, NULL);
}

static const struct tree_field root_keys[] = {{"entryPoints", entrypoints_key},
                                        {"providers", providers_key},
                                        {"serversTransport", servers_transport_key},
                                        {"log", log_key},
                                        {"accessLog", access_log_key},
                                        {"admin", admin_key},
                                        {"workers", workers_key},
                                        {"serverHeader", server_header_key},
                                        {"connectionLimits", limits_key},
                                        {"api", NULL},
                                        {"metrics", NULL},
                                        {"ping", NULL},
                                        {"tracing", NULL},
                                        {"certificatesResolvers", resolvers_key},
                                        {"ocsp", ocsp_key},
                                        {"global", NULL},
                                        {"experimental", NULL},
                                        {"hostResolver", NULL},
                                        {"tcpServersTransport", tcp_servers_transport_key},
                                        {"configFile", NULL},
                                        {NULL, NULL}};

/* ---- environment ---- */

extern char **environ;

/* GANTRY_<KEY>_<PATH>=value, as Traefik's TRAEFIK_* variables: '_' separates
 * the path segments (matched case-insensitively). Set over the file and
 * under the flags. Only variables naming a known root key are read, so
 * unrelated GANTRY_* variables of the environment are left alone. */
static int apply_environment(struct static_config *c, struct tree_node *root, struct diag *d)
{
    static const char prefix[] = "GANTRY_";
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0 || eq == NULL)
            continue;
        const char *name = *e + sizeof(prefix) - 1;
        char *key = arena_strndup(&c->arena, name, (size_t)(eq - name));
        for (char *k = key; *k; k++) /* names (entry points) come out lower-case, as Traefik's */
            *k = *k == '_' ? '.' : (char)tolower((unsigned char)*k);
        size_t first = strcspn(key, ".");
        bool known = false;
        for (const struct tree_field *r = root_keys; r->name && !known; r++)
            known = strlen(r->name) == first && strncasecmp(r->name, key, first) == 0;
        if (!known || first == 0 || strcasecmp(key, "configFile") == 0)
            continue;
        struct diag fd;
        char *origin = arena_printf(&c->arena, "environment %.*s", (int)(eq - *e), *e);
        if (tree_set_path(&c->arena, root, key, eq + 1, origin, &fd) != 0)
            return diag_set(d, "invalid environment variable %.*s: %s", (int)(eq - *e), *e, fd.msg);
    }
    return 0;
}

/* ---- argv ---- */

static void defaults(struct static_config *c)
{
    c->file.watch = true;
    c->tcp_transport.name = "tcpServersTransport"; /* named so in the problems of the services using it */
    c->docker.endpoint = "unix:///var/run/docker.sock";
    c->docker.default_rule = "Host(`{{ normalize .Name }}`)";
    c->docker.label_prefix = "gantry";
    c->docker.exposed_by_default = true;
    c->docker.watch = true;
    c->docker.host_ip = "127.0.0.1";
    c->kube.ingress_class = "gantry";
    c->kube.lease_name = "gantry-leader";
    c->kube.lease_duration_ms = 15000;
    c->throttle_ms = 5;
    c->admin_address = "127.0.0.1:8081";
    c->log_level = "INFO";
    c->access_log.format = "common";
    struct proxy_config *p = &c->proxy;
    p->n_workers = 0;
    p->dial_timeout_ms = 30000;
    p->response_header_timeout_ms = 60000;
    p->read_timeout_ms = 0;
    p->idle_conn_timeout_ms = 90000;
    p->max_idle_conns_per_host = 256;
    p->websocket_idle_timeout_ms = 3600000;
    p->passive_down_ms = 10000;
    p->grace_timeout_ms = 10000;
}

static void finish(struct static_config *c)
{
    if (c->n_entrypoints == 0 && c->proxy.n_udp_entrypoints == 0) { /* Traefik's default */
        c->entrypoints = arena_alloc(&c->arena, sizeof(*c->entrypoints));
        entrypoint_defaults(&c->entrypoints[0]);
        c->entrypoints[0].name = "http";
        c->entrypoints[0].address = ":80";
        c->n_entrypoints = 1;
    }
    if (c->proxy.max_connections == 0) { /* leave file descriptors for upstreams, logs and listeners */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            c->proxy.max_connections = rl.rlim_cur > 512 ? (rl.rlim_cur - 256) / 2 : rl.rlim_cur / 2;
    }
    if (c->proxy.n_workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->proxy.n_workers = n > 0 ? (uint32_t)n : 1;
    }
    c->proxy.entrypoints = c->entrypoints;
    c->proxy.n_entrypoints = c->n_entrypoints;
    if (c->file.directory != NULL || c->file.filename != NULL)
        c->file.enabled = true;
}

void static_config_usage(const char *argv0)
{
    printf("Usage: %s [--configFile=PATH] [--key.path=value ...]\n"
           "       %s healthcheck [same configuration]   exit 0 when the admin /healthz answers 200\n\n"
           "Gantry: a dynamically configured ingress controller (Traefik-compatible configuration).\n\n"
           "Every static configuration key can be given as a flag or as an environment variable\n"
           "(GANTRY_ENTRYPOINTS_WEB_ADDRESS=:8080); flags win over the environment, which wins over the file:\n"
           "  --configFile=PATH                          static configuration (YAML)\n"
           "  --entryPoints.<name>.address=[HOST]:PORT    listen address (e.g. :8080)\n"
           "  --entryPoints.<name>.transport.respondingTimeouts.readTimeout=60s\n"
           "  --entryPoints.<name>.transport.respondingTimeouts.idleTimeout=180s\n"
           "  --entryPoints.<name>.forwardedHeaders.trustedIPs=10.0.0.0/8,...\n"
           "  --entryPoints.<name>.transport.respondingTimeouts.writeTimeout=60s  a client not reading for this long\n"
           "  --entryPoints.<name>.transport.respondingTimeouts.bodyMinRate=1024   bytes/s; slower uploads are cut\n"
           "  --entryPoints.<name>.http.maxRequestBodyBytes=N\n"
           "  --entryPoints.<name>.http2.maxConcurrentStreams=100   requests run at once per connection\n"
           "  --entryPoints.<name>.http2.maxStreamsPerSecond=10000  per connection; more get 429\n"
           "  --entryPoints.<name>.http.encodedCharacters.allowEncodedSlash=true (and BackSlash, NullCharacter,\n"
           "      Semicolon, Percent, QuestionMark, Hash): refused with 400 by default\n"
           "  --entryPoints.<name>.http.sanitizePath=false  keep . and .. segments\n"
           "  --entryPoints.<name>.http.allowTraceMethod=true  serve TRACE and TRACK (405 by default; Gantry only)\n"
           "  --entryPoints.<name>.http.maxHeaderBytes=N     431 above (at most 408 KiB in any case)\n"
           "  --entryPoints.<name>.http2.maxResetStreams=200        per connection and 10 s (rapid reset)\n"
           "  --connectionLimits.maxConnections=N --connectionLimits.maxConnectionsPerIP=N\n"
           "  --providers.file.filename=PATH | --providers.file.directory=DIR\n"
           "  --providers.file.watch=true\n"
           "  --providers.docker=true [--providers.docker.exposedByDefault=false ...]\n"
           "  --providers.kubernetesIngress=true\n"
           "  --providers.kubernetesCRD=true [--providers.kubernetesCRD.allowCrossNamespace=true ...]  Traefik's CRDs\n"
           "  --providers.kubernetesGateway=true [--providers.kubernetesGateway.experimentalChannel=true ...]  Gateway API\n"
           "  --providers.providersThrottleDuration=5ms  window that coalesces bursts of changes\n"
           "  --serversTransport.forwardingTimeouts.dialTimeout=30s\n"
           "  --serversTransport.forwardingTimeouts.responseHeaderTimeout=60s\n"
           "  --serversTransport.forwardingTimeouts.idleConnTimeout=90s\n"
           "  --serversTransport.maxIdleConnsPerHost=256\n"
           "  --admin.address=127.0.0.1:8081              API, /metrics, /healthz, /readyz, /dashboard/ (empty: off)\n"
           "  --admin.token=SECRET                       require Authorization: Bearer SECRET on the admin listener\n"
           "  --log.level=INFO                           DEBUG, INFO, WARN, ERROR\n"
           "  --accessLog=true --accessLog.filePath=PATH --accessLog.format=common|json\n"
           "  --workers=N                                worker threads (default: number of cores)\n"
           "  --help, --version\n\n"
           "Reference: docs/configuration.md\n",
           argv0, argv0);
}

int static_config_load(struct static_config *c, int argc, char **argv, struct diag *d)
{
    memset(c, 0, sizeof(*c));
    arena_init(&c->arena);
    defaults(c);
    /* first pass: --help, --version and --configFile */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->show_help = true;
            return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            c->show_version = true;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0)
            return diag_set(d, "unexpected argument '%s' (flags look like --key.path=value)", a);
        if (strncasecmp(a + 2, "configFile=", 11) == 0)
            c->config_file = arena_strdup(&c->arena, a + 13);
    }

    struct tree_node *root = tree_new_node(&c->arena, TREE_MAP, "defaults", 0, 0);
    if (c->config_file != NULL) {
        size_t len;
        char *text = read_file(c->config_file, MAX_CONFIG_FILE, &len, d);
        if (text == NULL)
            return -1;
        root = tree_yaml_parse(&c->arena, c->config_file, text, len, d);
        free(text);
        if (root == NULL)
            return -1;
    }
    if (apply_environment(c, root, d) != 0)
        return -1;
    /* flags are set over the file's tree, so they win key by key */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i] + 2;
        const char *eq = strchr(a, '=');
        char *key = arena_strndup(&c->arena, a, eq ? (size_t)(eq - a) : strlen(a));
        if (strcasecmp(key, "configFile") == 0)
            continue;
        struct diag fd;
        char *origin = arena_printf(&c->arena, "flag --%s", key);
        if (tree_set_path(&c->arena, root, key, eq ? eq + 1 : "true", origin, &fd) != 0)
            return diag_set(d, "invalid flag --%s: %s", key, fd.msg);
    }
    struct sctx s = {.super = {.arena = &c->arena, .report = report, .context = "", .track_path = true, .kind = "static configuration"},
                     .c = c,
                     .d = d};
    if (tree_decode_fields(&s.super, c, root, root_keys, NULL) != 0)
        return -1;
    if (!log_set_level_name(c->log_level))
        return diag_set(d, "log.level: unknown level '%s' (expected DEBUG, INFO, WARN or ERROR)", c->log_level);
    if (strcasecmp(c->access_log.format, "common") != 0 && strcasecmp(c->access_log.format, "json") != 0)
        return diag_set(d, "accessLog.format: unknown format '%s' (expected common or json)", c->access_log.format);
    finish(c);
    return 0;
}

void static_config_free(struct static_config *c)
{
    arena_free(&c->arena);
}
