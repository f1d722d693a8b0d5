/*
 * TCP routers and services for the API (see tcp_status.h).
 */
#include "tcp_status.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../proxy/table.h"
#include "../proxy/tcp/table_tcp.h"

const char *tcp_status_qualified(char *buf, size_t cap, const char *name, const char *provider)
{
    if (strchr(name, '@') != NULL)
        return name;
    snprintf(buf, cap, "%s@%s", name, provider);
    return buf;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether TCP router <q> is in the table: <names> sorted (a compile may
 * have thousands of TCP routers: no scan per router). */
static bool routed(const char **names, size_t n, const char *q)
{
    return n != 0 && bsearch(&q, names, n, sizeof(*names), name_cmp) != NULL;
}

void tcp_status_add_status(cJSON *o, bool enabled, const char *what, const char *q, const char *const *errors,
                           size_t n_errors)
{
    char needle[600];
    snprintf(needle, sizeof(needle), "%s '%s'", what, q);
    cJSON *errs = NULL;
    for (size_t i = 0; i < n_errors; i++)
        if (strstr(errors[i], needle) != NULL) {
            if (errs == NULL)
                errs = cJSON_AddArrayToObject(o, "error");
            cJSON_AddItemToArray(errs, cJSON_CreateString(errors[i]));
        }
    cJSON_AddStringToObject(o, "status", enabled ? "enabled" : "disabled");
}

char *tcp_status_json(struct arena *a, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *copy = arena_strdup(a, s ? s : "[]");
    free(s);
    return copy;
}

void tcp_status_service(cJSON *o, const struct model_tcp_service *s, const char *q, const char *provider)
{
    char sb[512];
    cJSON_AddStringToObject(o, "name", q);
    cJSON_AddStringToObject(o, "provider", provider);
    if (s->weighted) {
        cJSON_AddStringToObject(o, "type", "weighted");
        cJSON *list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "weighted"), "services");
        for (size_t k = 0; k < s->weighted->n_services; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", tcp_status_qualified(sb, sizeof(sb), s->weighted->services[k].name, provider));
            cJSON_AddNumberToObject(e, "weight", s->weighted->services[k].weight);
            cJSON_AddItemToArray(list, e);
        }
    } else {
        cJSON_AddStringToObject(o, "type", "loadbalancer");
        cJSON *lb = cJSON_AddObjectToObject(o, "loadBalancer");
        cJSON *list = cJSON_AddArrayToObject(lb, "servers");
        for (size_t k = 0; k < s->n_servers; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "address", s->servers[k].address ? s->servers[k].address : "");
            if (s->servers[k].tls) /* as Traefik's API: only when set */
                cJSON_AddBoolToObject(e, "tls", true);
            cJSON_AddItemToArray(list, e);
        }
        if (s->servers_transport)
            cJSON_AddStringToObject(lb, "serversTransport", s->servers_transport);
        if (s->has_termination_delay)
            cJSON_AddNumberToObject(lb, "terminationDelay", (double)s->termination_delay_ms);
    }
}

void tcp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services)
{
    cJSON *rs = cJSON_CreateArray(), *ss = cJSON_CreateArray();
    char qb[512], sb[512];
    size_t n_names = t->tcp ? t->tcp->n_routes : 0, n_tcp_errors = 0;
    const char **names = malloc((n_names ? n_names : 1) * sizeof(*names)); /* scratch: not the snapshot's arena */
    /* only the errors about TCP objects are searched for each object */
    const char **tcp_errors = malloc((n_errors ? n_errors : 1) * sizeof(*tcp_errors));
    if (names == NULL || tcp_errors == NULL) { /* out of memory: an empty view rather than none */
        free(names);
        free(tcp_errors);
        *routers = *services = "[]";
        cJSON_Delete(rs);
        cJSON_Delete(ss);
        return;
    }
    for (size_t i = 0; i < n_names; i++)
        names[i] = t->tcp->routes[i]->name;
    qsort(names, n_names, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n_errors; i++)
        if (strstr(errors[i], "tcp router '") != NULL || strstr(errors[i], "tcp service '") != NULL)
            tcp_errors[n_tcp_errors++] = errors[i];
    errors = tcp_errors;
    n_errors = n_tcp_errors;
    for (size_t i = 0; i < n_models; i++) {
        const struct model *m = models[i];
        for (size_t j = 0; j < m->tcp_routers.len; j++) {
            const struct model_router *r = m->tcp_routers.items[j];
            const char *q = tcp_status_qualified(qb, sizeof(qb), r->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", q);
            cJSON_AddStringToObject(o, "provider", m->provider);
            if (r->rule)
                cJSON_AddStringToObject(o, "rule", r->rule);
            if (r->service)
                cJSON_AddStringToObject(o, "service", tcp_status_qualified(sb, sizeof(sb), r->service, m->provider));
            cJSON *eps = cJSON_AddArrayToObject(o, "entryPoints");
            for (size_t k = 0; k < r->n_entrypoints; k++)
                cJSON_AddItemToArray(eps, cJSON_CreateString(r->entrypoints[k]));
            if (r->priority)
                cJSON_AddNumberToObject(o, "priority", (double)r->priority);
            if (r->tls) {
                cJSON *tls = cJSON_AddObjectToObject(o, "tls");
                cJSON_AddBoolToObject(tls, "passthrough", r->tls->passthrough);
            }
            tcp_status_add_status(o, routed(names, n_names, q), "tcp router", q, errors, n_errors);
            cJSON_AddItemToArray(rs, o);
        }
        for (size_t j = 0; j < m->tcp_services.len; j++) {
            const struct model_tcp_service *s = m->tcp_services.items[j];
            const char *q = tcp_status_qualified(qb, sizeof(qb), s->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            tcp_status_service(o, s, q, m->provider);
            tcp_status_add_status(o, table_tcp_find_service(t, q) != NULL, "tcp service", q, errors, n_errors);
            cJSON_AddItemToArray(ss, o);
        }
    }
    free(names);
    free(tcp_errors);
    *routers = tcp_status_json(a, rs);
    *services = tcp_status_json(a, ss);
}
