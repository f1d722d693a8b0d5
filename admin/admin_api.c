/*
 * The JSON API (Traefik's /api shape, plus live statistics): built on the
 * admin thread from the current status snapshot and the live counters and
 * health of the objects it references.
 */
#include "admin_api.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "../common/arena.h"
#include "../proxy/accesslog.h"
#include "../proxy/registry.h"
#include "../proxy/stats.h"
#include "status.h"
#include "../proxy/worker.h"
#include "../proxy/udp/udp_proxy.h"
#include "../proxy/udp/udp_stats.h"

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static cJSON *string_array(const char *const *items, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static cJSON *admin_stats_json(const struct stats *s)
{
    cJSON *o = cJSON_CreateObject();
    struct stats_total t;
    stats_sum(s, &t);
    cJSON_AddNumberToObject(o, "requests", (double)t.requests);
    cJSON *cls = cJSON_AddObjectToObject(o, "responses");
    static const char *const names[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    for (int i = 0; i < 6; i++)
        cJSON_AddNumberToObject(cls, names[i], (double)t.classes[i]);
    cJSON_AddNumberToObject(o, "bytesIn", (double)t.bytes_in);
    cJSON_AddNumberToObject(o, "bytesOut", (double)t.bytes_out);
    cJSON_AddNumberToObject(o, "upstreamErrors", (double)t.upstream_errors);
    cJSON_AddNumberToObject(o, "upstreamTimeouts", (double)t.upstream_timeouts);
    if (s->kind == STATS_MIRROR) {
        cJSON_AddNumberToObject(o, "dropped", (double)t.dropped);
        cJSON_AddNumberToObject(o, "refused", (double)t.refused);
        cJSON_AddNumberToObject(o, "inFlight", (double)t.in_flight);
    }
    cJSON *lat = cJSON_AddObjectToObject(o, "latencySeconds");
    cJSON_AddNumberToObject(lat, "mean", t.requests ? (double)t.duration_us_sum / 1e6 / (double)t.requests : 0);
    cJSON_AddNumberToObject(lat, "p50", stats_quantile(&t, 0.5));
    cJSON_AddNumberToObject(lat, "p90", stats_quantile(&t, 0.9));
    cJSON_AddNumberToObject(lat, "p99", stats_quantile(&t, 0.99));
    return o;
}

static cJSON *router_json(const struct status_router *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "provider", r->provider);
    cJSON_AddStringToObject(o, "rule", r->rule);
    if (r->service)
        cJSON_AddStringToObject(o, "service", r->service);
    cJSON_AddItemToObject(o, "entryPoints", string_array(r->entrypoints, r->n_entrypoints));
    if (r->n_middlewares)
        cJSON_AddItemToObject(o, "middlewares", string_array(r->middlewares, r->n_middlewares));
    cJSON_AddNumberToObject(o, "priority", (double)r->priority);
    if (r->tls)
        cJSON_AddObjectToObject(o, "tls");
    cJSON_AddStringToObject(o, "status", r->error ? "disabled" : "enabled");
    if (r->error)
        cJSON_AddItemToObject(o, "error", string_array(&r->error, 1));
    if (r->stats)
        cJSON_AddItemToObject(o, "stats", admin_stats_json(r->stats));
    return o;
}

/* UP, DOWN (health check), or DEGRADED (refused connections recently). */
static const char *server_health(const struct server *s, int64_t now)
{
    if (s == NULL || !atomic_load(&s->resolved))
        return "UNRESOLVED";
    if (!atomic_load(&s->healthy))
        return "DOWN";
    return atomic_load(&s->down_until_ms) > now ? "DEGRADED" : "UP";
}

static cJSON *service_json(const struct status_service *s)
{
    int64_t now = wall_ms();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "provider", s->provider);
    cJSON_AddStringToObject(o, "type", s->type);
    cJSON_AddStringToObject(o, "status", s->error ? "disabled" : "enabled");
    if (s->error)
        cJSON_AddItemToObject(o, "error", string_array(&s->error, 1));
    cJSON_AddItemToObject(o, "usedBy", string_array(s->used_by, s->n_used_by));
    if (strcmp(s->type, "loadBalancer") == 0) {
        cJSON *lb = cJSON_AddObjectToObject(o, "loadBalancer");
        cJSON_AddBoolToObject(lb, "passHostHeader", s->pass_host_header);
        if (s->healthcheck_path) {
            cJSON *hc = cJSON_AddObjectToObject(lb, "healthCheck");
            cJSON_AddStringToObject(hc, "path", s->healthcheck_path);
            cJSON_AddNumberToObject(hc, "intervalSeconds", (double)s->healthcheck_interval_ms / 1000.0);
        }
        cJSON *servers = cJSON_AddArrayToObject(lb, "servers");
        cJSON *status = cJSON_AddObjectToObject(o, "serverStatus");
        for (size_t i = 0; i < s->n_servers; i++) {
            const struct status_server *sv = &s->servers[i];
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "url", sv->url);
            cJSON_AddNumberToObject(j, "weight", sv->weight);
            const char *h = server_health(sv->srv, now);
            cJSON_AddStringToObject(j, "health", h);
            cJSON_AddStringToObject(status, sv->url, h);
            if (sv->srv) {
                char dns_err[SERVER_DNS_ERROR_MAX];
                server_dns_error(sv->srv, dns_err, sizeof(dns_err));
                if (dns_err[0])
                    cJSON_AddStringToObject(j, "dnsError", dns_err);
                uint64_t req = 0, inflight = 0, fails = 0, idle = 0;
                for (uint32_t w = 0; w < sv->srv->n_workers; w++) {
                    const struct server_worker *sw = &sv->srv->workers[w];
                    req += __atomic_load_n(&sw->requests, __ATOMIC_RELAXED);
                    inflight += __atomic_load_n(&sw->in_flight, __ATOMIC_RELAXED);
                    fails += __atomic_load_n(&sw->connect_failures, __ATOMIC_RELAXED);
                    idle += __atomic_load_n(&sw->n_idle, __ATOMIC_RELAXED);
                }
                cJSON_AddNumberToObject(j, "requests", (double)req);
                cJSON_AddNumberToObject(j, "inFlight", (double)inflight);
                cJSON_AddNumberToObject(j, "connectFailures", (double)fails);
                cJSON_AddNumberToObject(j, "idleConnections", (double)idle);
            }
            cJSON_AddItemToArray(servers, j);
        }
    }
    if (strcmp(s->type, "mirroring") == 0) {
        cJSON *mi = cJSON_AddObjectToObject(o, "mirroring");
        if (s->mirror_main)
            cJSON_AddStringToObject(mi, "service", s->mirror_main);
        cJSON_AddBoolToObject(mi, "mirrorBody", s->mirror_body);
        if (s->mirror_max_body >= 0)
            cJSON_AddNumberToObject(mi, "maxBodySize", (double)s->mirror_max_body);
        cJSON *arr = cJSON_AddArrayToObject(mi, "mirrors");
        for (size_t i = 0; i < s->n_mirrors; i++) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "name", s->mirrors[i].name);
            cJSON_AddNumberToObject(m, "percent", s->mirrors[i].percent);
            if (s->mirrors[i].stats) /* what the shadow answered: compare with the main service's stats */
                cJSON_AddItemToObject(m, "stats", admin_stats_json(s->mirrors[i].stats));
            cJSON_AddItemToArray(arr, m);
        }
    }
    if (s->stats)
        cJSON_AddItemToObject(o, "stats", admin_stats_json(s->stats));
    return o;
}

static cJSON *middleware_json(const struct status_middleware *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "provider", m->provider);
    cJSON_AddStringToObject(o, "type", m->type);
    cJSON *opts = cJSON_AddObjectToObject(o, m->type);
    for (size_t i = 0; i < m->n_options; i++)
        cJSON_AddStringToObject(opts, m->keys[i], m->values[i]);
    cJSON_AddStringToObject(o, "status", m->error ? "disabled" : "enabled");
    if (m->error)
        cJSON_AddItemToObject(o, "error", string_array(&m->error, 1));
    cJSON_AddNumberToObject(o, "usedBy", (double)m->n_used_by);
    return o;
}

/* <ms> as Go's time.Duration prints it ("3s", "1m30s", "1.5s", "500ms"),
 * as Traefik's API shows durations. */
static const char *go_duration(uint64_t ms, char *buf, size_t cap)
{
    if (ms == 0) {
        snprintf(buf, cap, "0s");
        return buf;
    }
    if (ms < 1000) {
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
        return buf;
    }
    uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    size_t o = 0;
    if (h > 0)
        o += (size_t)snprintf(buf + o, cap - o, "%lluh", (unsigned long long)h);
    if (h > 0 || m > 0)
        o += (size_t)snprintf(buf + o, cap - o, "%llum", (unsigned long long)m);
    if (o < cap && frac == 0)
        snprintf(buf + o, cap - o, "%llus", (unsigned long long)s);
    else if (o < cap) {
        char f[8];
        snprintf(f, sizeof(f), "%03llu", (unsigned long long)frac);
        for (size_t n = strlen(f); n > 0 && f[n - 1] == '0'; n--) /* Go trims trailing zeros */
            f[n - 1] = '\0';
        snprintf(buf + o, cap - o, "%llu.%ss", (unsigned long long)s, f);
    }
    return buf;
}

/* Traefik's static "udp" block of an entry point: {"timeout": "3s"}. */
static void add_udp_config(cJSON *o, uint64_t timeout_ms)
{
    char d[48];
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "udp"), "timeout", go_duration(timeout_ms, d, sizeof(d)));
}

/* Gantry's live counters of UDP entry point <i> (sessions and datagrams). */
static void add_udp_counters(cJSON *o, size_t i)
{
    struct udp_counters uc;
    udp_counters(i, &uc);
    cJSON_AddNumberToObject(o, "sessions", (double)uc.sessions);
    cJSON_AddNumberToObject(o, "sessionsTotal", (double)uc.sessions_total);
    cJSON_AddNumberToObject(o, "datagramsIn", (double)uc.datagrams_in);
    cJSON_AddNumberToObject(o, "datagramsOut", (double)uc.datagrams_out);
    cJSON_AddNumberToObject(o, "bytesIn", (double)uc.bytes_in);
    cJSON_AddNumberToObject(o, "bytesOut", (double)uc.bytes_out);
    cJSON_AddNumberToObject(o, "droppedNoRoute", (double)uc.dropped_noroute);
    cJSON_AddNumberToObject(o, "droppedSessionLimit", (double)uc.dropped_full);
    cJSON_AddNumberToObject(o, "droppedSendFailed", (double)uc.dropped_send);
}

static cJSON *entrypoint_json(size_t i)
{
    const struct entrypoint_rt *ep = &entrypoints[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", ep->cfg.name);
    cJSON_AddStringToObject(o, "address", ep->cfg.address);
    cJSON_AddNumberToObject(o, "port", ep->port);
    add_udp_config(o, ep->cfg.udp_timeout_ms); /* Traefik shows every entry point's (unused on TCP) */
    cJSON_AddNumberToObject(o, "openConnections", (double)server_open_connections(i));
    cJSON_AddItemToObject(o, "stats", admin_stats_json(ep->stats));
    return o;
}

/* A UDP entry point as Traefik shows it (its address with "/udp"), with
 * its counters in "stats". */
static cJSON *udp_entrypoint_json(size_t i)
{
    const struct udp_entrypoint_config *c = udp_entrypoint_config(i);
    cJSON *o = cJSON_CreateObject();
    char addr[512];
    snprintf(addr, sizeof(addr), "%s/udp", c->address);
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "address", addr);
    cJSON_AddNumberToObject(o, "port", udp_entrypoint_port(i));
    add_udp_config(o, c->timeout_ms);
    add_udp_counters(cJSON_AddObjectToObject(o, "stats"), i);
    return o;
}

/* Every entry point, TCP ones first, then (<with_udp>) UDP ones, each in
 * configuration order. The overview lists the TCP ones only: its UDP
 * entry points are under "udp". */
static cJSON *entrypoints_json(bool with_udp)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n_entrypoints; i++)
        cJSON_AddItemToArray(a, entrypoint_json(i));
    for (size_t i = 0; with_udp && i < udp_entrypoint_count(); i++)
        cJSON_AddItemToArray(a, udp_entrypoint_json(i));
    return a;
}

static bool name_matches(const char *name, const char *want, size_t len)
{
    return strlen(name) == len && memcmp(name, want, len) == 0;
}

static char *render(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static char *message(int *status, int code, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "message", msg);
    *status = code;
    return render(j);
}

/* Traefik's overview counts of a JSON array of routers or services. */
static void add_counts(cJSON *to, const char *key, const char *array_json)
{
    cJSON *a = cJSON_Parse(array_json ? array_json : "[]");
    size_t total = 0, errors = 0;
    for (cJSON *e = a ? a->child : NULL; e != NULL; e = e->next) {
        total++;
        errors += cJSON_GetObjectItemCaseSensitive(e, "error") != NULL;
    }
    cJSON_Delete(a);
    cJSON *o = cJSON_AddObjectToObject(to, key);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "warnings", 0);
    cJSON_AddNumberToObject(o, "errors", (double)errors);
}

static char *overview(const struct status_snapshot *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *http = cJSON_AddObjectToObject(j, "http");
    size_t rerr = 0, serr = 0;
    for (size_t i = 0; i < s->n_routers; i++)
        rerr += s->routers[i].error != NULL;
    for (size_t i = 0; i < s->n_services; i++)
        serr += s->services[i].error != NULL;
    cJSON *r = cJSON_AddObjectToObject(http, "routers");
    cJSON_AddNumberToObject(r, "total", (double)s->n_routers);
    cJSON_AddNumberToObject(r, "warnings", 0);
    cJSON_AddNumberToObject(r, "errors", (double)rerr);
    cJSON *sv = cJSON_AddObjectToObject(http, "services");
    cJSON_AddNumberToObject(sv, "total", (double)s->n_services);
    cJSON_AddNumberToObject(sv, "warnings", 0);
    cJSON_AddNumberToObject(sv, "errors", (double)serr);
    cJSON *mw = cJSON_AddObjectToObject(http, "middlewares");
    cJSON_AddNumberToObject(mw, "total", (double)s->n_middlewares);
    cJSON_AddNumberToObject(mw, "warnings", 0);
    size_t merr = 0;
    for (size_t i = 0; i < s->n_middlewares; i++)
        merr += s->middlewares[i].error != NULL;
    cJSON_AddNumberToObject(mw, "errors", (double)merr);
    cJSON *udp = cJSON_AddObjectToObject(j, "udp");
    add_counts(udp, "routers", s->udp_routers_json);
    add_counts(udp, "services", s->udp_services_json);
    cJSON *ueps = cJSON_AddArrayToObject(udp, "entryPoints"); /* gantry's: sessions and datagrams per UDP entry point */
    for (size_t i = 0; i < udp_entrypoint_count(); i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", udp_entrypoint_name(i));
        add_udp_counters(e, i);
        cJSON_AddItemToArray(ueps, e);
    }
    cJSON *prov = cJSON_AddArrayToObject(j, "providers");
    const char *pname;
    bool connected, synced;
    for (size_t i = 0; status_provider_get(i, &pname, &connected, &synced); i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", pname);
        cJSON_AddBoolToObject(p, "connected", connected);
        cJSON_AddBoolToObject(p, "synced", synced);
        cJSON_AddItemToArray(prov, p);
    }
    cJSON *cfg = cJSON_AddObjectToObject(j, "config");
    cJSON_AddNumberToObject(cfg, "reloads", (double)status_reloads());
    cJSON_AddNumberToObject(cfg, "lastReloadUnixMs", (double)s->compiled_unix_ms);
    cJSON_AddNumberToObject(cfg, "generation", (double)s->generation);
    cJSON_AddItemToObject(j, "problems", string_array(s->problems, s->n_problems));
    cJSON_AddItemToObject(j, "entryPoints", entrypoints_json(false));
    cJSON_AddNumberToObject(j, "accessLogDropped", (double)accesslog_dropped());
    return render(j);
}

static char *rawdata(const struct status_snapshot *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *r = cJSON_AddObjectToObject(j, "routers");
    for (size_t i = 0; i < s->n_routers; i++) {
        cJSON *o = router_json(&s->routers[i]);
        cJSON_DeleteItemFromObject(o, "stats");
        cJSON_AddItemToObject(r, s->routers[i].name, o);
    }
    cJSON *sv = cJSON_AddObjectToObject(j, "services");
    for (size_t i = 0; i < s->n_services; i++) {
        cJSON *o = service_json(&s->services[i]);
        cJSON_DeleteItemFromObject(o, "stats");
        cJSON_AddItemToObject(sv, s->services[i].name, o);
    }
    cJSON *mw = cJSON_AddObjectToObject(j, "middlewares");
    for (size_t i = 0; i < s->n_middlewares; i++)
        cJSON_AddItemToObject(mw, s->middlewares[i].name, middleware_json(&s->middlewares[i]));
    return render(j);
}

/* "/api/http/routers/<name>" -> <name> (percent-decoded into <buf>) */
static const char *tail(const char *path, size_t len, const char *prefix, char *buf, size_t cap, size_t *out_len)
{
    size_t pl = strlen(prefix);
    if (len <= pl || memcmp(path, prefix, pl) != 0)
        return NULL;
    size_t o = 0;
    for (size_t i = pl; i < len && o + 1 < cap; i++) {
        if (path[i] == '%' && i + 2 < len) {
            char hex[3] = {path[i + 1], path[i + 2], 0};
            buf[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            buf[o++] = path[i];
        }
    }
    *out_len = o;
    return buf;
}

/* One object of a TCP JSON array by its name, or a 404 message. */
static char *tcp_item(const char *array_json, const char *name, size_t nl, int *status, const char *missing)
{
    cJSON *a = cJSON_Parse(array_json ? array_json : "[]"), *found = NULL;
    for (cJSON *o = a ? a->child : NULL; o && !found; o = o->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (cJSON_IsString(n) && name_matches(n->valuestring, name, nl))
            found = o;
    }
    char *out = found ? cJSON_PrintUnformatted(found) : message(status, 404, missing);
    cJSON_Delete(a);
    return out;
}

/* The UDP services of <array_json> (the snapshot's), each served one with
 * its counters in "stats"; only the one named <name> (<nl> bytes) when
 * <name> is not NULL, or a 404 message. */
static char *udp_services_json(const char *array_json, const char *name, size_t nl, int *status)
{
    cJSON *a = cJSON_Parse(array_json ? array_json : "[]");
    if (a == NULL)
        a = cJSON_CreateArray();
    struct udp_stats_total *st;
    size_t ns = udp_stats_collect(&st);
    cJSON *found = NULL;
    for (cJSON *o = a->child; o != NULL; o = o->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsString(n))
            continue;
        if (name != NULL && !name_matches(n->valuestring, name, nl))
            continue;
        found = o;
        for (size_t i = 0; i < ns; i++) {
            if (strcmp(st[i].name, n->valuestring) != 0)
                continue;
            cJSON *j = cJSON_AddObjectToObject(o, "stats");
            cJSON_AddNumberToObject(j, "sessionsOpen", (double)st[i].open);
            cJSON_AddNumberToObject(j, "sessionsTotal", (double)st[i].sessions);
            cJSON_AddNumberToObject(j, "datagramsIn", (double)st[i].in);
            cJSON_AddNumberToObject(j, "datagramsOut", (double)st[i].out);
            cJSON_AddNumberToObject(j, "bytesIn", (double)st[i].bytes_in);
            cJSON_AddNumberToObject(j, "bytesOut", (double)st[i].bytes_out);
            break;
        }
        if (name != NULL)
            break;
    }
    udp_stats_collect_free(st, ns);
    char *out = name == NULL ? cJSON_PrintUnformatted(a)
                : found      ? cJSON_PrintUnformatted(found)
                             : message(status, 404, "service not found");
    cJSON_Delete(a);
    return out;
}

char *admin_api(const char *path, size_t len, const char *version, int *status)
{
    *status = 200;
    if (name_matches("/api/version", path, len)) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "Version", version);
        cJSON_AddStringToObject(j, "Codename", "gantry");
        cJSON_AddStringToObject(j, "libh2o", "2.2.5");
        return render(j);
    }
    if (name_matches("/api/entrypoints", path, len))
        return render(entrypoints_json(true));
    char name[1024];
    size_t nl;
    if (tail(path, len, "/api/entrypoints/", name, sizeof(name), &nl)) {
        for (size_t i = 0; i < n_entrypoints; i++)
            if (name_matches(entrypoints[i].cfg.name, name, nl))
                return render(entrypoint_json(i));
        for (size_t i = 0; i < udp_entrypoint_count(); i++)
            if (name_matches(udp_entrypoint_name(i), name, nl))
                return render(udp_entrypoint_json(i));
        return message(status, 404, "entry point not found");
    }
    struct status_snapshot *s = status_acquire();
    if (s == NULL) {
        char *m = message(status, 503, "no configuration compiled yet");
        return m;
    }
    char *out = NULL;
    if (name_matches("/api/overview", path, len)) {
        out = overview(s);
    } else if (name_matches("/api/rawdata", path, len)) {
        out = rawdata(s);
    } else if (name_matches("/api/http/routers", path, len)) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < s->n_routers; i++)
            cJSON_AddItemToArray(a, router_json(&s->routers[i]));
        out = render(a);
    } else if (name_matches("/api/http/services", path, len)) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < s->n_services; i++)
            cJSON_AddItemToArray(a, service_json(&s->services[i]));
        out = render(a);
    } else if (name_matches("/api/http/middlewares", path, len)) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < s->n_middlewares; i++)
            cJSON_AddItemToArray(a, middleware_json(&s->middlewares[i]));
        out = render(a);
    } else if (name_matches("/api/tcp/routers", path, len)) {
        out = strdup(s->tcp_routers_json ? s->tcp_routers_json : "[]");
    } else if (name_matches("/api/tcp/services", path, len)) {
        out = strdup(s->tcp_services_json ? s->tcp_services_json : "[]");
    } else if (name_matches("/api/udp/routers", path, len)) {
        out = strdup(s->udp_routers_json ? s->udp_routers_json : "[]");
    } else if (name_matches("/api/udp/services", path, len)) {
        out = udp_services_json(s->udp_services_json, NULL, 0, status);
    } else if (tail(path, len, "/api/udp/routers/", name, sizeof(name), &nl)) {
        out = tcp_item(s->udp_routers_json, name, nl, status, "router not found");
    } else if (tail(path, len, "/api/udp/services/", name, sizeof(name), &nl)) {
        out = udp_services_json(s->udp_services_json, name, nl, status);
    } else if (tail(path, len, "/api/tcp/routers/", name, sizeof(name), &nl)) {
        out = tcp_item(s->tcp_routers_json, name, nl, status, "router not found");
    } else if (tail(path, len, "/api/tcp/services/", name, sizeof(name), &nl)) {
        out = tcp_item(s->tcp_services_json, name, nl, status, "service not found");
    } else if (tail(path, len, "/api/http/routers/", name, sizeof(name), &nl)) {
        for (size_t i = 0; i < s->n_routers && out == NULL; i++)
            if (name_matches(s->routers[i].name, name, nl))
                out = render(router_json(&s->routers[i]));
        if (out == NULL)
            out = message(status, 404, "router not found");
    } else if (tail(path, len, "/api/http/services/", name, sizeof(name), &nl)) {
        for (size_t i = 0; i < s->n_services && out == NULL; i++)
            if (name_matches(s->services[i].name, name, nl))
                out = render(service_json(&s->services[i]));
        if (out == NULL)
            out = message(status, 404, "service not found");
    } else {
        out = message(status, 404, "not found");
    }
    status_release(s);
    return out;
}
