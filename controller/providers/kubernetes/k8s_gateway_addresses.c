/*
 * Gateway.spec.addresses (see k8s_gateway_internal.h). Gantry cannot bind
 * or allocate an address on request: its addresses are what statusAddress
 * says (a fixed IP or hostname, or a Service's load balancer). A requested
 * address is honoured when it is one of those; otherwise the Gateway is
 * taken out (fail closed) with the spec's reasons: a type other than
 * IPAddress/Hostname is Accepted=False UnsupportedAddress, an address that
 * is not gantry's is Programmed=False AddressNotUsable, a type without a
 * value that gantry has no address of is Programmed=False AddressNotAssigned.
 */
#include "k8s_gateway_internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "k8s_status.h"

#define get k8s_gw__get
#define str k8s_gw__str

/* The same IP in any spelling ("::1" and "0::1"), else the same text. */
static bool same_ip(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, a, x) == 1 && inet_pton(fam, b, y) == 1)
        return memcmp(x, y, fam == AF_INET6 ? 16 : 4) == 0;
    return strcmp(a, b) == 0;
}

static bool same_address(const struct gw_address *own, const char *type, const char *value)
{
    if (strcmp(own->type, type) != 0)
        return false;
    return strcmp(type, "IPAddress") == 0 ? same_ip(own->value, value) : strcasecmp(own->value, value) == 0;
}

/* Gantry's own addresses (statusAddress), in <pa>. */
static size_t own_addresses(struct gw_cx *c, struct gw_address **out)
{
    cJSON *target = k8s_status_target(c->o->status_ip, c->o->status_hostname, c->o->status_service,
                                      c->objs->items[K8S_GW_SERVICES], c->objs->n[K8S_GW_SERVICES]);
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(target);
    *out = arena_alloc(c->pa, (cap ? cap : 1) * sizeof(**out));
    for (const cJSON *t = target ? target->child : NULL; t; t = t->next) {
        const char *ip = str(t, "ip"), *host = str(t, "hostname");
        if (ip || host)
            (*out)[n++] = (struct gw_address){ip ? "IPAddress" : "Hostname", arena_strdup(c->pa, ip ? ip : host)};
    }
    cJSON_Delete(target);
    return n;
}

/* "192.0.2.10, lb.example.com" or a hint when gantry has none. */
static const char *own_text(struct gw_cx *c, const struct gw_address *own, size_t n)
{
    if (n == 0)
        return "gantry has no address (set providers.kubernetesGateway.statusAddress)";
    const char *s = "gantry's addresses are";
    for (size_t i = 0; i < n; i++)
        s = arena_printf(c->pa, "%s%s %s %s", s, i ? "," : "", own[i].type, own[i].value);
    return s;
}

static void fail(struct gw_cx *c, struct gw_gateway *g, bool accepted, const char *reason, const char *message)
{
    if (g->addr_reason) /* the first is reported */
        return;
    g->addr_reason = reason;
    g->addr_accepted = accepted;
    g->addr_message = message;
    k8s_gw__problem(c, "gateway %s/%s: %s", g->ns, g->name, message);
}

void k8s_gw__gateway_addresses(struct gw_cx *c, struct gw_gateway *g)
{
    struct gw_address *own = NULL;
    size_t n_own = own_addresses(c, &own);
    const cJSON *req = get(get(g->obj, "spec"), "addresses");
    size_t n_req = (size_t)cJSON_GetArraySize(req);
    if (n_req == 0) { /* nothing asked: every address gantry has */
        g->addrs = own;
        g->n_addrs = n_own;
        return;
    }
    g->addrs = arena_alloc(c->pa, (n_req * (n_own + 1)) * sizeof(*g->addrs));
    g->n_addrs = 0;
    size_t i = 0;
    for (const cJSON *a = req->child; a; a = a->next, i++) {
        const char *type = str(a, "type") ? str(a, "type") : "IPAddress", *value = str(a, "value");
        if (strcmp(type, "IPAddress") != 0 && strcmp(type, "Hostname") != 0) {
            fail(c, g, false, "UnsupportedAddress",
                 arena_printf(c->pa, "spec.addresses[%zu]: address type %s is not supported (IPAddress and Hostname are)", i,
                              type));
            continue;
        }
        size_t before = g->n_addrs;
        for (size_t k = 0; k < n_own; k++)
            if (value ? same_address(&own[k], type, value) : strcmp(own[k].type, type) == 0)
                g->addrs[g->n_addrs++] = own[k];
        if (g->n_addrs > before)
            continue;
        if (value)
            fail(c, g, true, "AddressNotUsable",
                 arena_printf(c->pa, "spec.addresses[%zu]: %s %s is not an address of gantry, which cannot bind one on request "
                                     "(%s)", i, type, value, own_text(c, own, n_own)));
        else
            fail(c, g, true, "AddressNotAssigned",
                 arena_printf(c->pa, "spec.addresses[%zu]: gantry has no %s address to assign (%s)", i, type,
                              own_text(c, own, n_own)));
    }
}
