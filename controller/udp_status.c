/*
 * UDP routers and services for the API (see udp_status.h).
 */
#include "udp_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../proxy/table.h"
#include "../proxy/udp/table_udp.h"

static const char *qualified(char *buf, size_t cap, const char *name, const char *provider)
{
    if (strchr(name, '@') != NULL)
        return name;
    snprintf(buf, cap, "%s@%s", name, provider);
    return buf;
}

/* Whether router <q> serves an entry point of the table. */
static bool routed(const struct table *t, const char *q)
{
    if (t->udp == NULL)
        return false;
    for (size_t i = 0; i < GANTRY_MAX_ENTRYPOINTS; i++)
        if (t->udp->by_ep[i] != NULL && strcmp(t->udp->by_ep[i]->name, q) == 0)
            return true;
    return false;
}

static void add_status(cJSON *o, bool enabled, const char *what, const char *q, const char *const *errors, size_t n)
{
    char needle[600];
    snprintf(needle, sizeof(needle), "%s '%s'", what, q);
    cJSON *errs = NULL;
    for (size_t i = 0; i < n; i++)
        if (strstr(errors[i], needle) != NULL) {
            if (errs == NULL)
                errs = cJSON_AddArrayToObject(o, "error");
            cJSON_AddItemToArray(errs, cJSON_CreateString(errors[i]));
        }
    cJSON_AddStringToObject(o, "status", enabled ? "enabled" : "disabled");
}

static char *render(struct arena *a, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *copy = arena_strdup(a, s ? s : "[]");
    free(s);
    return copy;
}

void udp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services)
{
    cJSON *rs = cJSON_CreateArray(), *ss = cJSON_CreateArray();
    char qb[512], sb[512];
    for (size_t i = 0; i < n_models; i++) {
        const struct model *m = models[i];
        for (size_t j = 0; j < m->udp_routers.len; j++) {
            const struct model_router *r = m->udp_routers.items[j];
            const char *q = qualified(qb, sizeof(qb), r->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", q);
            cJSON_AddStringToObject(o, "provider", m->provider);
            if (r->service)
                cJSON_AddStringToObject(o, "service", qualified(sb, sizeof(sb), r->service, m->provider));
            cJSON *eps = cJSON_AddArrayToObject(o, "entryPoints");
            for (size_t k = 0; k < r->n_entrypoints; k++)
                cJSON_AddItemToArray(eps, cJSON_CreateString(r->entrypoints[k]));
            add_status(o, routed(t, q), "udp router", q, errors, n_errors);
            cJSON_AddItemToArray(rs, o);
        }
        for (size_t j = 0; j < m->udp_services.len; j++) {
            const struct model_tcp_service *s = m->udp_services.items[j];
            const char *q = qualified(qb, sizeof(qb), s->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", q);
            cJSON_AddStringToObject(o, "provider", m->provider);
            if (s->weighted) {
                cJSON_AddStringToObject(o, "type", "weighted");
                cJSON *list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "weighted"), "services");
                for (size_t k = 0; k < s->weighted->n_services; k++) {
                    cJSON *e = cJSON_CreateObject();
                    cJSON_AddStringToObject(e, "name", qualified(sb, sizeof(sb), s->weighted->services[k].name, m->provider));
                    cJSON_AddNumberToObject(e, "weight", s->weighted->services[k].weight);
                    cJSON_AddItemToArray(list, e);
                }
            } else {
                cJSON_AddStringToObject(o, "type", "loadbalancer");
                cJSON *list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "loadBalancer"), "servers");
                for (size_t k = 0; k < s->n_servers; k++) {
                    cJSON *e = cJSON_CreateObject();
                    cJSON_AddStringToObject(e, "address", s->servers[k].address ? s->servers[k].address : "");
                    cJSON_AddItemToArray(list, e);
                }
            }
            add_status(o, table_udp_find_service(t, q) != NULL, "udp service", q, errors, n_errors);
            cJSON_AddItemToArray(ss, o);
        }
    }
    *routers = render(a, rs);
    *services = render(a, ss);
}
