/*
 * Docker containers -> model (see docker_build.h). For each container:
 *   1. eligibility: running, not paused or stopping, healthy if it has a
 *      health check, <prefix>.enable or exposedByDefault, constraints;
 *   2. labels under "<prefix>." become a configuration tree (dotted paths,
 *      case-insensitive field names, as Traefik's label decoder);
 *   3. Docker specifics: loadbalancer.server.{port,scheme,weight} become a
 *      server URL on the container's address; Traefik's defaults add a
 *      service and a router when labels define none;
 *   4. the tree is decoded with the file provider's decoder.
 * Objects of the same name from several containers are merged (same
 * service: servers appended) or, when their definitions differ, dropped
 * with a problem naming both containers: docker_cache.c, which keeps each
 * container's build between events.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "docker_build.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../model_decode.h"
#include "docker_cache.h"
#include "../../tree.h"

#define MAX_TEMPLATE_OUTPUT 1024

struct build {
    const struct docker_store *store;
    const struct docker_options *o;
    struct arena *pa;
    struct ptr_vec *problems;
    struct model *m;
};

static void problem(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(b->pa, b->problems, fmt, ap);
    va_end(ap);
}

char *docker_normalize(struct arena *a, const char *name)
{
    size_t n = strlen(name), o = 0;
    char *out = arena_alloc(a, n + 1);
    bool dash = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c >= 0x80) { /* letters and digits, UTF-8 kept */
            if (dash && o > 0)
                out[o++] = '-';
            dash = false;
            out[o++] = (char)c;
        } else {
            dash = true;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- defaultRule: the Go-template subset Traefik users write ---- */

static const char *template_value(struct arena *a, const char *action, size_t len, const char *service_name,
                                  const struct docker_container *c, struct diag *d)
{
    char buf[256];
    if (len >= sizeof(buf)) {
        diag_set(d, "template action too long");
        return NULL;
    }
    memcpy(buf, action, len);
    buf[len] = '\0';
    char *words[4];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w && n < 4; w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    bool norm = n >= 1 && strcmp(words[0], "normalize") == 0;
    const char *field = norm ? (n == 2 ? words[1] : NULL) : (n == 1 ? words[0] : NULL);
    if (field != NULL && strcmp(field, ".Name") == 0)
        return norm ? docker_normalize(a, service_name) : service_name;
    if (field != NULL && strcmp(field, ".ContainerName") == 0)
        return norm ? docker_normalize(a, c->name) : c->name;
    if (n == 3 && strcmp(words[0], "index") == 0 && strcmp(words[1], ".Labels") == 0 && words[2][0] == '"') {
        size_t kl = strlen(words[2]);
        if (kl >= 2 && words[2][kl - 1] == '"') {
            words[2][kl - 1] = '\0';
            const char *v = docker_label(c, words[2] + 1);
            return v ? v : "";
        }
    }
    diag_set(d, "unsupported template action '{{%s}}' (supported: .Name, .ContainerName, normalize, index .Labels \"key\")",
             action);
    return NULL;
}

char *docker_expand_rule(struct arena *a, const char *tmpl, const char *service_name, const struct docker_container *c,
                         struct diag *d)
{
    char out[MAX_TEMPLATE_OUTPUT];
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        const char *open = strstr(p, "{{");
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (o + lit >= sizeof(out))
            goto too_long;
        memcpy(out + o, p, lit);
        o += lit;
        if (open == NULL)
            break;
        const char *close = strstr(open + 2, "}}");
        if (close == NULL) {
            diag_set(d, "unterminated '{{' in defaultRule");
            return NULL;
        }
        const char *s = open + 2, *e = close;
        while (s < e && (*s == ' ' || *s == '-'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '-'))
            e--;
        const char *v = template_value(a, s, (size_t)(e - s), service_name, c, d);
        if (v == NULL)
            return NULL;
        size_t vl = strlen(v);
        if (o + vl >= sizeof(out))
            goto too_long;
        memcpy(out + o, v, vl);
        o += vl;
        p = close + 2;
    }
    return arena_strndup(a, out, o);
too_long:
    diag_set(d, "defaultRule expands to more than %d bytes", MAX_TEMPLATE_OUTPUT);
    return NULL;
}

/* ---- eligibility and addressing ---- */

static const struct docker_container *find_container(const struct docker_store *s, const char *ref)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct docker_container *c = s->items[i];
        if (strcmp(c->name, ref) == 0 || strncmp(c->id, ref, strlen(ref)) == 0)
            return c;
    }
    return NULL;
}

static bool constraint_holds(const struct rule_node *n, const struct docker_container *c)
{
    switch (n->op) {
    case RULE_AND:
        return constraint_holds(n->a, c) && constraint_holds(n->b, c);
    case RULE_OR:
        return constraint_holds(n->a, c) || constraint_holds(n->b, c);
    case RULE_NOT:
        return !constraint_holds(n->a, c);
    case RULE_MATCH:
        break;
    }
    const char *v = docker_label(c, n->args[0].s);
    if (v == NULL)
        return false;
    if (n->matcher == RULE_LABEL)
        return strcmp(v, n->args[1].s) == 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(n->regex[0], (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* The address to reach <c> at, per Traefik: host network -> hostIP;
 * container:<x> -> that container's; else the label's network, the
 * provider's network, or the first one (by name, so the choice is stable). */
static const char *container_ip(struct build *b, const struct docker_container *c, int depth)
{
    if (strcmp(c->network_mode, "host") == 0)
        return b->o->host_ip ? b->o->host_ip : "127.0.0.1";
    if (strncmp(c->network_mode, "container:", 10) == 0) {
        const struct docker_container *other = find_container(b->store, c->network_mode + 10);
        if (other == NULL || depth > 2) {
            problem(b, "container %s: shares the network of '%s', which is not running", c->name, c->network_mode + 10);
            return NULL;
        }
        return container_ip(b, other, depth + 1);
    }
    char key[256];
    snprintf(key, sizeof(key), "%s.docker.network", b->o->label_prefix);
    const char *want = docker_label(c, key);
    if (want == NULL || !*want)
        want = b->o->network;
    if (want != NULL && *want) {
        for (size_t i = 0; i < c->n_networks; i++)
            if (strcmp(c->networks[i].name, want) == 0 && (c->networks[i].ip || c->networks[i].ip6))
                return c->networks[i].ip ? c->networks[i].ip : c->networks[i].ip6;
        problem(b, "container %s: network '%s' not found (is the project prefix missing?); using another network", c->name,
                want);
    }
    for (size_t i = 0; i < c->n_networks; i++)
        if (c->networks[i].ip || c->networks[i].ip6)
            return c->networks[i].ip ? c->networks[i].ip : c->networks[i].ip6;
    problem(b, "container %s: no IP address on any network (network mode '%s')", c->name, c->network_mode);
    return NULL;
}

static bool eligible(struct build *b, const struct docker_container *c)
{
    if (!c->running || c->paused || c->stopping || c->restarting)
        return false;
    if (c->health == DOCKER_HEALTH_STARTING || c->health == DOCKER_HEALTH_UNHEALTHY)
        return false; /* left out until its health check passes */
    char key[256];
    snprintf(key, sizeof(key), "%s.enable", b->o->label_prefix);
    const char *en = docker_label(c, key);
    bool enabled = b->o->exposed_by_default;
    if (en != NULL) {
        if (strcasecmp(en, "true") == 0)
            enabled = true;
        else if (strcasecmp(en, "false") == 0)
            enabled = false;
        else {
            problem(b, "container %s: label %s: expected true or false, got '%s'; container skipped", c->name, key, en);
            return false;
        }
    }
    return enabled && (b->o->constraints == NULL || constraint_holds(b->o->constraints, c));
}

/* ---- labels -> tree ---- */

static struct tree_node *label_tree(struct build *b, struct arena *a, const struct docker_container *c)
{
    struct tree_node *root = tree_new_node(a, TREE_MAP, "labels", 0, 0);
    size_t plen = strlen(b->o->label_prefix);
    for (size_t i = 0; i < c->n_labels; i++) {
        const char *k = c->labels[i].key;
        if (strncmp(k, b->o->label_prefix, plen) != 0 || k[plen] != '.')
            continue;
        const char *path = k + plen + 1;
        char origin[512];
        snprintf(origin, sizeof(origin), "container %s label %s", c->name, k);
        struct diag d;
        if (tree_set_path(a, root, path, c->labels[i].value, origin, &d) != 0)
            problem(b, "container %s: label %s: %s; label ignored", c->name, k, d.msg);
    }
    return root;
}

static int parse_port(const char *s)
{
    char *end;
    long p = strtol(s, &end, 10);
    return (end != s && *end == '\0' && p >= 1 && p <= 65535) ? (int)p : -1;
}

/* The port to use when labels give none: the only exposed one, else the lowest. */
static int default_port(const struct docker_container *c)
{
    return c->n_exposed ? c->exposed_ports[0] : -1;
}

static struct tree_node *scalar(struct arena *a, const char *v, const char *origin)
{
    struct tree_node *n = tree_new_node(a, TREE_SCALAR, origin, 0, 0);
    n->scalar = arena_strdup(a, v);
    return n;
}

/* loadbalancer.server.{port,scheme,weight} -> loadbalancer.servers[0].{url,weight}.
 * Returns false (and reports) when no usable port is known. */
static bool rewrite_server(struct build *b, struct arena *a, const struct docker_container *c, const char *svc_name,
                           struct tree_node *svc, const char *ip)
{
    struct tree_node *lb = tree_map_get_ci(svc, "loadbalancer");
    if (lb == NULL) {
        if (svc->kind != TREE_MAP) {
            problem(b, "container %s: service %s: expected a structure", c->name, svc_name);
            return false;
        }
        if (tree_map_get_ci(svc, "mirroring") || tree_map_get_ci(svc, "weighted"))
            return true; /* not a load balancer: nothing to address */
        lb = tree_new_node(a, TREE_MAP, svc->file, 0, 0);
        tree_map_add(a, svc, "loadBalancer", lb);
    }
    if (lb->kind != TREE_MAP) {
        problem(b, "container %s: service %s: loadbalancer must be a structure", c->name, svc_name);
        return false;
    }
    if (tree_map_get_ci(lb, "servers") != NULL)
        return true; /* servers given in full (e.g. a file-style list): leave them */
    struct tree_node *server = tree_map_get_ci(lb, "server");
    struct tree_node *port_n = server ? tree_map_get_ci(server, "port") : NULL;
    struct tree_node *scheme_n = server ? tree_map_get_ci(server, "scheme") : NULL;
    struct tree_node *weight_n = server ? tree_map_get_ci(server, "weight") : NULL;
    struct tree_node *url_n = server ? tree_map_get_ci(server, "url") : NULL;
    char url[512];
    if (url_n != NULL && url_n->kind == TREE_SCALAR) {
        if (port_n || scheme_n) {
            problem(b, "container %s: service %s: loadbalancer.server.url cannot be combined with port or scheme", c->name,
                    svc_name);
            return false;
        }
        snprintf(url, sizeof(url), "%s", url_n->scalar);
    } else {
        int port = port_n ? (port_n->kind == TREE_SCALAR ? parse_port(port_n->scalar) : -1) : default_port(c);
        if (port < 0) {
            if (port_n)
                problem(b, "%s: service %s: port must be a number between 1 and 65535, got '%s'; service skipped",
                        port_n->file, svc_name, port_n->kind == TREE_SCALAR ? port_n->scalar : "a structure");
            else
                problem(b, "container %s: service %s: port is missing (no %s.http.services.%s.loadbalancer.server.port "
                           "label and no exposed port); service skipped",
                        c->name, svc_name, b->o->label_prefix, svc_name);
            return false;
        }
        const char *scheme = scheme_n && scheme_n->kind == TREE_SCALAR ? scheme_n->scalar : "http";
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 && strcmp(scheme, "h2c") != 0) {
            problem(b, "%s: service %s: scheme must be http, https or h2c, got '%s'; service skipped", scheme_n->file, svc_name,
                    scheme);
            return false;
        }
        if (ip == NULL)
            return false;
        snprintf(url, sizeof(url), strchr(ip, ':') ? "%s://[%s]:%d" : "%s://%s:%d", scheme, ip, port);
    }
    const char *origin = server ? server->file : svc->file;
    struct tree_node *entry = tree_new_node(a, TREE_MAP, origin, 0, 0);
    tree_map_add(a, entry, "url", scalar(a, url, origin));
    if (weight_n != NULL)
        tree_map_add(a, entry, "weight", weight_n);
    struct tree_node *servers = tree_new_node(a, TREE_SEQ, origin, 0, 0);
    tree_seq_add(a, servers, entry);
    tree_map_remove_ci(lb, "server");
    tree_map_add(a, lb, "servers", servers);
    return true;
}

static struct tree_node *ensure_map(struct arena *a, struct tree_node *parent, const char *key)
{
    struct tree_node *n = tree_map_get_ci(parent, key);
    if (n == NULL || n->kind == TREE_NULL) {
        if (n == NULL) {
            n = tree_new_node(a, TREE_MAP, "defaults", 0, 0);
            tree_map_add(a, parent, key, n);
        } else {
            n->kind = TREE_MAP;
        }
    }
    return n;
}

static bool has_entries(const struct tree_node *section, const char *key)
{
    const struct tree_node *n = tree_map_get_ci(section, key);
    return n != NULL && n->kind == TREE_MAP && n->n > 0;
}

/* <proto>.services.<s>.loadbalancer.server.{port,tls} -> servers[0].{address,
 * tls} on the container's address (the only or lowest exposed port when no
 * label gives one), as Traefik's Docker provider (addServerTCP/UDP); a
 * container with <proto> routers and no <proto> service gets one named
 * after it; a router without a service takes the container's only one.
 * <proto> is "tcp" or "udp" (UDP servers have no tls). */
static void l4_defaults(struct build *b, struct arena *a, const struct docker_container *c, struct tree_node *l4,
                        const char *proto, const char *service_name)
{
    if (l4 == NULL || l4->kind != TREE_MAP)
        return; /* the decoder reports it */
    bool tcp = strcmp(proto, "tcp") == 0;
    if (has_entries(l4, "routers") && !has_entries(l4, "services"))
        tree_map_add(a, ensure_map(a, l4, "services"), service_name,
                     tree_new_node(a, TREE_MAP, arena_printf(a, "container %s", c->name), 0, 0));
    struct tree_node *services = tree_map_get_ci(l4, "services");
    if (services == NULL || services->kind != TREE_MAP)
        return;
    const char *ip = NULL;
    bool ip_done = false;
    size_t skipped = 0;
    for (size_t i = 0; i < services->n;) {
        struct tree_node *svc = services->items[i];
        if (svc->kind == TREE_NULL)
            svc->kind = TREE_MAP;
        if (svc->kind != TREE_MAP || tree_map_get_ci(svc, "weighted") != NULL) {
            i++;
            continue; /* not a load balancer to address (or the decoder reports it) */
        }
        struct tree_node *lb = ensure_map(a, svc, "loadBalancer");
        if (lb->kind != TREE_MAP || tree_map_get_ci(lb, "servers") != NULL) {
            i++;
            continue;
        }
        struct tree_node *server = tree_map_get_ci(lb, "server");
        struct tree_node *port_n = server ? tree_map_get_ci(server, "port") : NULL;
        struct tree_node *tls_n = tcp && server ? tree_map_get_ci(server, "tls") : NULL;
        int port = port_n ? (port_n->kind == TREE_SCALAR ? parse_port(port_n->scalar) : -1) : default_port(c);
        if (!ip_done) {
            ip = container_ip(b, c, 0);
            ip_done = true;
        }
        if (port < 0 || ip == NULL) {
            if (port < 0)
                problem(b, "container %s: %s service %s: %s; service skipped", c->name, proto, services->keys[i],
                        port_n ? "port must be a number between 1 and 65535" : "port is missing (no loadbalancer.server.port label and no exposed port)");
            tree_map_remove_ci(services, services->keys[i]);
            skipped++;
            continue;
        }
        const char *origin = server ? server->file : svc->file;
        struct tree_node *entry = tree_new_node(a, TREE_MAP, origin, 0, 0);
        tree_map_add(a, entry, "address", scalar(a, arena_printf(a, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port), origin));
        if (tls_n != NULL)
            tree_map_add(a, entry, "tls", tls_n);
        struct tree_node *servers = tree_new_node(a, TREE_SEQ, origin, 0, 0);
        tree_seq_add(a, servers, entry);
        tree_map_remove_ci(lb, "server");
        tree_map_add(a, lb, "servers", servers);
        i++;
    }
    struct tree_node *routers = tree_map_get_ci(l4, "routers");
    for (size_t i = 0; routers != NULL && routers->kind == TREE_MAP && i < routers->n;) {
        struct tree_node *r = routers->items[i];
        if (r->kind == TREE_NULL)
            r->kind = TREE_MAP;
        if (r->kind == TREE_MAP && tree_map_get_ci(r, "service") == NULL && services->n == 0 && skipped > 0) {
            problem(b, "container %s: %s router %s skipped: the container's service was skipped (see above)", c->name,
                    proto, routers->keys[i]);
            tree_map_remove_ci(routers, routers->keys[i]);
            continue;
        }
        if (r->kind == TREE_MAP && tree_map_get_ci(r, "service") == NULL && services->n == 1)
            tree_map_add(a, r, "service", scalar(a, services->keys[0], r->file));
        i++;
    }
}

/* Applies Traefik's defaults and Docker addressing to one container's tree. */
static struct tree_node *container_tree(struct build *b, struct arena *a, const struct docker_container *c)
{
    struct tree_node *root = label_tree(b, a, c);
    /* keys of the provider itself, not of the dynamic configuration */
    tree_map_remove_ci(root, "enable");
    tree_map_remove_ci(root, "docker"); /* unknown keys are reported by the decoder */

    const char *compose_service = docker_label(c, "com.docker.compose.service");
    const char *compose_project = docker_label(c, "com.docker.compose.project");
    const char *raw_name = c->name;
    if (compose_service && compose_project)
        raw_name = arena_printf(a, "%s_%s", compose_service, compose_project);
    const char *service_name = docker_normalize(a, raw_name);

    struct tree_node *tcp = tree_map_get_ci(root, "tcp"), *udp = tree_map_get_ci(root, "udp");
    bool l4 = has_entries(tcp, "routers") || has_entries(tcp, "services") || has_entries(udp, "routers") ||
              has_entries(udp, "services");
    l4_defaults(b, a, c, tcp, "tcp", service_name);
    l4_defaults(b, a, c, udp, "udp", service_name);
    struct tree_node *http = tree_map_get_ci(root, "http");
    if (http == NULL && l4)
        return root; /* a TCP/UDP-only container gets no HTTP defaults */
    if (http != NULL && http->kind != TREE_MAP) {
        problem(b, "container %s: label %s.http must hold sub-keys", c->name, b->o->label_prefix);
        return NULL;
    }
    http = ensure_map(a, root, "http");
    struct tree_node *services = ensure_map(a, http, "services");
    struct tree_node *routers = ensure_map(a, http, "routers");
    if (services->kind != TREE_MAP || routers->kind != TREE_MAP) { /* "<prefix>.http.routers=x" */
        problem(b, "container %s: label %s.http.%s must hold sub-keys", c->name, b->o->label_prefix,
                services->kind != TREE_MAP ? "services" : "routers");
        return NULL;
    }
    if (services->n == 0 && !l4)
        tree_map_add(a, services, service_name, tree_new_node(a, TREE_MAP, arena_printf(a, "container %s", c->name), 0, 0));

    const char *ip = NULL;
    bool ip_done = false;
    size_t skipped_services = 0;
    for (size_t i = 0; i < services->n;) {
        struct tree_node *svc = services->items[i];
        bool needs_ip = tree_map_get_ci(tree_map_get_ci(svc, "loadbalancer"), "servers") == NULL;
        if (needs_ip && !ip_done) {
            ip = container_ip(b, c, 0);
            ip_done = true;
        }
        if (!rewrite_server(b, a, c, services->keys[i], svc, ip)) {
            tree_map_remove_ci(services, services->keys[i]);
            skipped_services++;
            continue;
        }
        i++;
    }

    if (routers->n == 0 && !l4) {
        if (services->n > 1) {
            problem(b, "container %s: no router label and %zu services: cannot create the default router (add a router "
                       "label)", c->name, services->n);
        } else if (services->n == 1) {
            tree_map_add(a, routers, service_name, tree_new_node(a, TREE_MAP, arena_printf(a, "container %s", c->name), 0, 0));
        }
    }
    for (size_t i = 0; i < routers->n;) {
        struct tree_node *r = routers->items[i];
        if (r->kind == TREE_NULL)
            r->kind = TREE_MAP;
        if (r->kind != TREE_MAP) {
            i++;
            continue; /* the decoder reports it */
        }
        if (tree_map_get_ci(r, "rule") == NULL) {
            struct diag d;
            char *rule = docker_expand_rule(a, b->o->default_rule, service_name, c, &d);
            if (rule == NULL) {
                problem(b, "container %s: router %s: defaultRule: %s; router skipped", c->name, routers->keys[i], d.msg);
                tree_map_remove_ci(routers, routers->keys[i]);
                continue;
            }
            tree_map_add(a, r, "rule", scalar(a, rule, r->file));
        }
        if (tree_map_get_ci(r, "service") == NULL) {
            if (services->n == 0 && skipped_services > 0) {
                problem(b, "container %s: router %s skipped: the container's service was skipped (see above)", c->name,
                        routers->keys[i]);
                tree_map_remove_ci(routers, routers->keys[i]);
                continue;
            }
            if (services->n != 1) {
                problem(b, "container %s: router %s has no service label and the container defines %zu services; router "
                           "skipped", c->name, routers->keys[i], services->n);
                tree_map_remove_ci(routers, routers->keys[i]);
                continue;
            }
            tree_map_add(a, r, "service", scalar(a, services->keys[0], r->file));
        }
        i++;
    }
    return root;
}

void docker_build_container(const struct docker_store *s, const struct docker_options *o, const struct docker_container *c,
                            struct model *m, struct arena *pa, struct ptr_vec *problems)
{
    struct build b = {.store = s, .o = o, .pa = pa, .problems = problems, .m = m};
    if (!eligible(&b, c))
        return;
    struct tree_node *root = container_tree(&b, &m->arena, c);
    if (root == NULL)
        return;
    struct decode_report rep;
    decode_report_init(&rep);
    model_decode(m, root, &rep);
    for (size_t k = 0; k < rep.errors.len; k++)
        problem(&b, "%s; skipped", (const char *)rep.errors.items[k]);
    for (size_t k = 0; k < rep.warnings.len; k++)
        problem(&b, "%s", (const char *)rep.warnings.items[k]);
    decode_report_free(&rep);
}

struct model *docker_build(const struct docker_store *s, const struct docker_options *o, struct arena *pa,
                           struct ptr_vec *problems)
{
    struct docker_cache k;
    docker_cache_init(&k);
    struct model *m = docker_build_cached(&k, s, o, pa, problems);
    docker_cache_clear(&k); /* the model holds what it uses */
    return m;
}
