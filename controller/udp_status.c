/*
 * UDP routers and services for the API (see udp_status.h).
 */
#include "udp_status.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "../proxy/table.h"
#include "../proxy/udp/table_udp.h"
#include "tcp_status.h"

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

void udp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services)
{
    cJSON *rs = cJSON_CreateArray(), *ss = cJSON_CreateArray();
    char qb[512], sb[512];
    for (size_t i = 0; i < n_models; i++) {
        const struct model *m = models[i];
        for (size_t j = 0; j < m->udp_routers.len; j++) {
            const struct model_router *r = m->udp_routers.items[j];
            const char *q = tcp_status_qualified(qb, sizeof(qb), r->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", q);
            cJSON_AddStringToObject(o, "provider", m->provider);
            if (r->service)
                cJSON_AddStringToObject(o, "service", tcp_status_qualified(sb, sizeof(sb), r->service, m->provider));
            cJSON *eps = cJSON_AddArrayToObject(o, "entryPoints");
            for (size_t k = 0; k < r->n_entrypoints; k++)
                cJSON_AddItemToArray(eps, cJSON_CreateString(r->entrypoints[k]));
            tcp_status_add_status(o, routed(t, q), "udp router", q, errors, n_errors);
            cJSON_AddItemToArray(rs, o);
        }
        for (size_t j = 0; j < m->udp_services.len; j++) {
            const struct model_tcp_service *s = m->udp_services.items[j];
            const char *q = tcp_status_qualified(qb, sizeof(qb), s->name, m->provider);
            cJSON *o = cJSON_CreateObject();
            tcp_status_service(o, s, q, m->provider);
            tcp_status_add_status(o, table_udp_find_service(t, q) != NULL, "udp service", q, errors, n_errors);
            cJSON_AddItemToArray(ss, o);
        }
    }
    *routers = tcp_status_json(a, rs);
    *services = tcp_status_json(a, ss);
}
