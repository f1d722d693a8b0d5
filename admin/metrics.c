/*
 * /metrics in the Prometheus text exposition format (version 0.0.4),
 * rendered on the admin thread from the status snapshot and the per-worker
 * counters, summed at read time.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../common/arena.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../proxy/accesslog.h"
#include "../proxy/conntrack.h"
#include "../proxy/registry.h"
#include "../proxy/stats.h"
#include "../proxy/tcp/tcp_proxy.h"
#include "../proxy/udp/udp_proxy.h"
#include "../proxy/udp/udp_stats.h"
#include "status.h"
#include "../proxy/table.h"
#include "../proxy/worker.h"

static void emit(struct buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct buf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(o, fmt, ap) != 0) /* unbounded: only a broken format fails */
        log_error("metrics: cannot format '%s'", fmt);
    va_end(ap);
}

/* Label values: backslash, double quote and newline escaped. */
static const char *esc(const char *v, char *buf, size_t cap)
{
    size_t o = 0;
    for (; *v && o + 2 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            buf[o++] = '\\';
            buf[o++] = *v;
        } else if (*v == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *v;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void help(struct buf *o, const char *name, const char *type, const char *text)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* <labels> is a ready label list ("router=\"a\",service=\"b\""). */
static void codes(struct buf *o, const char *metric, const char *labels, const struct stats_total *t)
{
    for (size_t i = 0; i < t->n_codes; i++) {
        int code = t->codes[i].key / 8;
        emit(o, "%s{%s,code=\"%d\",method=\"%s\"} %llu\n", metric, labels, code,
             stats_method_name((enum stats_method)(t->codes[i].key % 8)), (unsigned long long)t->codes[i].n);
    }
}

static void histogram(struct buf *o, const char *metric, const char *labels, const struct stats_total *t)
{
    uint64_t cum = 0;
    for (int i = 0; i < STATS_BUCKETS; i++) {
        cum += t->hist[i];
        if (i == STATS_BUCKETS - 1)
            emit(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels, (unsigned long long)cum);
        else
            emit(o, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, labels, stats_bucket_bounds[i], (unsigned long long)cum);
    }
    emit(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", metric, labels, (double)t->duration_us_sum / 1e6, metric, labels,
         (unsigned long long)cum);
}

/* Per mirror of each mirroring service: what the shadow was sent and how
 * it answered, to compare with the main service's own series. Each
 * mirror's counters are summed once, then written family by family. */
struct mirror_sample {
    char labels[1100]; /* service="...",mirror="..." */
    struct stats_total t;
};

static void mirror_metrics(struct buf *o, const struct status_snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_services; i++)
        n += s->services[i].n_mirrors;
    struct mirror_sample *ms = mem_alloc((n ? n : 1) * sizeof(*ms));
    n = 0;
    for (size_t i = 0; i < s->n_services; i++)
        for (size_t j = 0; j < s->services[i].n_mirrors; j++) {
            const struct status_mirror *m = &s->services[i].mirrors[j];
            if (m->stats == NULL)
                continue;
            char a[512], b[512];
            snprintf(ms[n].labels, sizeof(ms[n].labels), "service=\"%s\",mirror=\"%s\"",
                     esc(s->services[i].name, a, sizeof(a)), esc(m->name, b, sizeof(b)));
            stats_sum(m->stats, &ms[n++].t);
        }
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    help(o, "gantry_mirror_requests_total", "counter", "Copies a mirror answered, by status class.");
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 6; c++)
            emit(o, "gantry_mirror_requests_total{%s,code_class=\"%s\"} %llu\n", ms[i].labels, classes[c],
                 (unsigned long long)ms[i].t.classes[c]);
    static const char *const names[5] = {"gantry_mirror_dropped_total", "gantry_mirror_refused_total",
                                         "gantry_mirror_errors_total", "gantry_mirror_timeouts_total",
                                         "gantry_mirror_in_flight"};
    static const char *const helps[5] = {"Copies not sent because the mirror had too many in flight.",
                                         "Copies not sent because the mirror's own middlewares answered them.",
                                         "Copies that failed (connect, write or a bad answer).",
                                         "Copies the mirror did not answer in time.", "Copies under way."};
    for (int k = 0; k < 5; k++) {
        help(o, names[k], k == 4 ? "gauge" : "counter", helps[k]);
        for (size_t i = 0; i < n; i++) {
            const struct stats_total *t = &ms[i].t;
            uint64_t v = k == 0   ? t->dropped
                         : k == 1 ? t->refused
                         : k == 2 ? t->upstream_errors
                         : k == 3 ? t->upstream_timeouts
                                  : t->in_flight;
            emit(o, "%s{%s} %llu\n", names[k], ms[i].labels, (unsigned long long)v);
        }
    }
    help(o, "gantry_mirror_request_duration_seconds", "histogram", "Time until a mirror's response head arrived.");
    for (size_t i = 0; i < n; i++)
        histogram(o, "gantry_mirror_request_duration_seconds", ms[i].labels, &ms[i].t);
    free(ms);
}

static void process_metrics(struct buf *o)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0, vsize = 0, starttime = 0;
    long rss = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %lu %lu %ld",
                            &utime, &stime, &starttime, &vsize, &rss) != 5)
        return;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    help(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    emit(o, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)tick);
    help(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    emit(o, "process_resident_memory_bytes %ld\n", rss * page);
    help(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    emit(o, "process_virtual_memory_bytes %lu\n", vsize);
}

/* Per UDP entry point: sessions and datagrams (Traefik has no UDP metrics;
 * these are gantry's). Each entry point's counters are summed once. */
static void udp_metrics(struct buf *o)
{
    size_t n = udp_entrypoint_count();
    if (n == 0)
        return;
    struct udp_counters *c = mem_alloc(n * sizeof(*c));
    char (*names)[600] = mem_alloc(n * sizeof(*names));
    for (size_t i = 0; i < n; i++) {
        udp_counters(i, &c[i]);
        esc(udp_entrypoint_name(i), names[i], sizeof(names[i]));
    }
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } families[] = {
        {"gantry_udp_sessions_open", "gauge", "UDP sessions open (one per client address and entry point).",
         offsetof(struct udp_counters, sessions)},
        {"gantry_udp_sessions_total", "counter", "UDP sessions started.", offsetof(struct udp_counters, sessions_total)},
        {"gantry_udp_datagrams_in_total", "counter", "Datagrams from clients relayed to a server.",
         offsetof(struct udp_counters, datagrams_in)},
        {"gantry_udp_datagrams_out_total", "counter", "Datagrams from servers relayed to their client.",
         offsetof(struct udp_counters, datagrams_out)},
        {"gantry_udp_bytes_in_total", "counter", "Payload bytes of the datagrams relayed from clients.",
         offsetof(struct udp_counters, bytes_in)},
        {"gantry_udp_bytes_out_total", "counter", "Payload bytes of the datagrams relayed to clients.",
         offsetof(struct udp_counters, bytes_out)},
    };
    for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
        help(o, families[k].name, families[k].type, families[k].help);
        for (size_t i = 0; i < n; i++)
            emit(o, "%s{entrypoint=\"%s\"} %llu\n", families[k].name, names[i],
                 (unsigned long long)*(const uint64_t *)((const char *)&c[i] + families[k].offset));
    }
    help(o, "gantry_udp_datagrams_dropped_total", "counter",
         "Datagrams not relayed: no_route (no router, no available server), session_limit (a new client over the "
         "per-worker session cap), send_failed (the kernel refused to send it on).");
    for (size_t i = 0; i < n; i++)
        emit(o,
             "gantry_udp_datagrams_dropped_total{entrypoint=\"%s\",reason=\"no_route\"} %llu\n"
             "gantry_udp_datagrams_dropped_total{entrypoint=\"%s\",reason=\"session_limit\"} %llu\n"
             "gantry_udp_datagrams_dropped_total{entrypoint=\"%s\",reason=\"send_failed\"} %llu\n",
             names[i], (unsigned long long)c[i].dropped_noroute, names[i], (unsigned long long)c[i].dropped_full, names[i],
             (unsigned long long)c[i].dropped_send);
    free(names);
    free(c);

    /* per service: what the routers using it relayed (kept across changes while the service stays) */
    struct udp_stats_total *st;
    size_t ns = udp_stats_collect(&st);
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } svc_families[] = {
        {"gantry_udp_service_sessions_open", "gauge",
         "UDP sessions open by service (counted for the service a session started with, until it ends).",
         offsetof(struct udp_stats_total, open)},
        {"gantry_udp_service_sessions_total", "counter", "UDP sessions started by service.",
         offsetof(struct udp_stats_total, sessions)},
        {"gantry_udp_service_datagrams_in_total", "counter", "Datagrams from clients relayed to a server of the service.",
         offsetof(struct udp_stats_total, in)},
        {"gantry_udp_service_datagrams_out_total", "counter", "Datagrams from the service's servers relayed to clients.",
         offsetof(struct udp_stats_total, out)},
        {"gantry_udp_service_bytes_in_total", "counter", "Payload bytes relayed to the service.",
         offsetof(struct udp_stats_total, bytes_in)},
        {"gantry_udp_service_bytes_out_total", "counter", "Payload bytes relayed from the service.",
         offsetof(struct udp_stats_total, bytes_out)},
    };
    char a[600];
    for (size_t k = 0; k < sizeof(svc_families) / sizeof(svc_families[0]); k++) {
        help(o, svc_families[k].name, svc_families[k].type, svc_families[k].help);
        for (size_t i = 0; i < ns; i++)
            emit(o, "%s{service=\"%s\"} %llu\n", svc_families[k].name, esc(st[i].name, a, sizeof(a)),
                 (unsigned long long)*(const uint64_t *)((const char *)&st[i] + svc_families[k].offset));
    }
    udp_stats_collect_free(st, ns);
}

char *metrics_render(size_t *len)
{
    struct buf o;
    buf_init(&o, BUF_UNBOUNDED);
    char a[600], b[600], lbl[1400];
    struct stats_total t;

    help(&o, "gantry_entrypoint_requests_total", "counter", "Requests received by entry point, matched or not.");
    for (size_t i = 0; i < n_entrypoints; i++) {
        stats_sum(entrypoints[i].stats, &t);
        snprintf(lbl, sizeof(lbl), "entrypoint=\"%s\"", esc(entrypoints[i].cfg.name, a, sizeof(a)));
        codes(&o, "gantry_entrypoint_requests_total", lbl, &t);
    }
    help(&o, "gantry_entrypoint_open_connections", "gauge", "Open client connections by entry point.");
    for (size_t i = 0; i < n_entrypoints; i++)
        emit(&o, "gantry_entrypoint_open_connections{entrypoint=\"%s\"} %llu\n", esc(entrypoints[i].cfg.name, a, sizeof(a)),
             (unsigned long long)server_open_connections(i));

    struct status_snapshot *s = status_acquire();
    if (s != NULL) {
        help(&o, "gantry_requests_total", "counter", "Requests handled by router, by status code and method.");
        for (size_t i = 0; i < s->n_routers; i++) {
            const struct status_router *r = &s->routers[i];
            if (r->stats == NULL)
                continue;
            stats_sum(r->stats, &t);
            snprintf(lbl, sizeof(lbl), "router=\"%s\",service=\"%s\"", esc(r->name, a, sizeof(a)), esc(r->service, b, sizeof(b)));
            codes(&o, "gantry_requests_total", lbl, &t);
        }
        help(&o, "gantry_request_duration_seconds", "histogram", "Request duration by router, from the first byte read "
                                                                 "to the last byte sent.");
        for (size_t i = 0; i < s->n_routers; i++) {
            const struct status_router *r = &s->routers[i];
            if (r->stats == NULL)
                continue;
            stats_sum(r->stats, &t);
            snprintf(lbl, sizeof(lbl), "router=\"%s\",service=\"%s\"", esc(r->name, a, sizeof(a)), esc(r->service, b, sizeof(b)));
            histogram(&o, "gantry_request_duration_seconds", lbl, &t);
        }
        /* each family's samples are grouped, as the exposition format requires */
        static const char *const byte_names[2] = {"gantry_router_request_bytes_total", "gantry_router_response_bytes_total"};
        static const char *const byte_help[2] = {"Request body bytes received by router.", "Response body bytes sent by router."};
        for (int k = 0; k < 2; k++) {
            help(&o, byte_names[k], "counter", byte_help[k]);
            for (size_t i = 0; i < s->n_routers; i++) {
                const struct status_router *r = &s->routers[i];
                if (r->stats == NULL)
                    continue;
                stats_sum(r->stats, &t);
                emit(&o, "%s{router=\"%s\"} %llu\n", byte_names[k], esc(r->name, a, sizeof(a)),
                     (unsigned long long)(k == 0 ? t.bytes_in : t.bytes_out));
            }
        }
        help(&o, "gantry_service_requests_total", "counter", "Requests by service, status code and method.");
        for (size_t i = 0; i < s->n_services; i++) {
            const struct status_service *sv = &s->services[i];
            if (sv->stats == NULL)
                continue;
            stats_sum(sv->stats, &t);
            snprintf(lbl, sizeof(lbl), "service=\"%s\"", esc(sv->name, a, sizeof(a)));
            codes(&o, "gantry_service_requests_total", lbl, &t);
        }
        static const char *const err_names[2] = {"gantry_service_upstream_errors_total", "gantry_service_upstream_timeouts_total"};
        static const char *const err_help[2] = {
            "Requests that no server of the service answered (connection refused, closed, invalid).",
            "Requests answered 504 because the service timed out."};
        for (int k = 0; k < 2; k++) {
            help(&o, err_names[k], "counter", err_help[k]);
            for (size_t i = 0; i < s->n_services; i++) {
                const struct status_service *sv = &s->services[i];
                if (sv->stats == NULL)
                    continue;
                stats_sum(sv->stats, &t);
                emit(&o, "%s{service=\"%s\"} %llu\n", err_names[k], esc(sv->name, a, sizeof(a)),
                     (unsigned long long)(k == 0 ? t.upstream_errors : t.upstream_timeouts));
            }
        }
        help(&o, "gantry_service_grpc_responses_total", "counter", "gRPC calls by service and grpc-status (\"other\": not 0-16).");
        for (size_t i = 0; i < s->n_services; i++) {
            const struct status_service *sv = &s->services[i];
            if (sv->stats == NULL)
                continue;
            stats_sum(sv->stats, &t);
            for (int k = 0; k < STATS_GRPC_CODES; k++) {
                if (t.grpc[k] == 0)
                    continue;
                char code[8];
                snprintf(code, sizeof(code), k < STATS_GRPC_CODES - 1 ? "%d" : "other", k);
                emit(&o, "gantry_service_grpc_responses_total{service=\"%s\",grpc_status=\"%s\"} %llu\n",
                     esc(sv->name, a, sizeof(a)), code, (unsigned long long)t.grpc[k]);
            }
        }
        help(&o, "gantry_service_server_up", "gauge", "1 when the server passes its health checks.");
        for (size_t i = 0; i < s->n_services; i++) {
            const struct status_service *sv = &s->services[i];
            for (size_t j = 0; j < sv->n_servers; j++)
                emit(&o, "gantry_service_server_up{service=\"%s\",url=\"%s\"} %d\n", esc(sv->name, a, sizeof(a)),
                     esc(sv->servers[j].url, b, sizeof(b)), sv->servers[j].srv && server_healthy(sv->servers[j].srv));
        }
        /* servers: each once, even when several services name it */
        struct arena seen_arena;
        arena_init(&seen_arena);
        struct table_host_map seen = {0};
        struct ptr_vec servers = {0};
        for (size_t i = 0; i < s->n_services; i++)
            for (size_t j = 0; j < s->services[i].n_servers; j++) {
                struct server *srv = s->services[i].servers[j].srv;
                if (srv == NULL)
                    continue;
                void **slot = table_host_map_slot(&seen_arena, &seen, srv->url, strlen(srv->url));
                if (*slot == NULL) {
                    *slot = srv;
                    ptr_vec_push(&seen_arena, &servers, srv);
                }
            }
        static const char *const srv_names[5] = {"gantry_server_requests_total", "gantry_server_open_requests",
                                                 "gantry_server_connect_failures_total", "gantry_server_idle_connections",
                                                 "gantry_server_connections_opened_total"};
        static const char *const srv_types[5] = {"counter", "gauge", "counter", "gauge", "counter"};
        static const char *const srv_help[5] = {"Requests sent to the server.", "Requests in flight at the server.",
                                                "Connections to the server that failed.",
                                                "Idle keep-alive connections to the server.",
                                                "Connections opened to the server."};
        for (int k = 0; k < 5; k++) {
            help(&o, srv_names[k], srv_types[k], srv_help[k]);
            for (size_t i = 0; i < servers.len; i++) {
                const struct server *srv = servers.items[i];
                uint64_t v = 0;
                for (uint32_t w = 0; w < srv->n_workers; w++) {
                    const struct server_worker *sw = &srv->workers[w];
                    const uint64_t *c = k == 0   ? &sw->requests
                                        : k == 1 ? &sw->in_flight
                                        : k == 2 ? &sw->connect_failures
                                        : k == 3 ? &sw->n_idle
                                                 : &sw->opened;
                    v += __atomic_load_n(c, __ATOMIC_RELAXED);
                }
                emit(&o, "%s{url=\"%s\"} %llu\n", srv_names[k], esc(srv->url, a, sizeof(a)), (unsigned long long)v);
            }
        }
        arena_free(&seen_arena);
        mirror_metrics(&o, s);
        help(&o, "gantry_config_problems", "gauge", "Problems in the current configuration (objects skipped).");
        emit(&o, "gantry_config_problems %zu\n", s->n_problems);
        help(&o, "gantry_config_last_reload_success_timestamp_seconds", "gauge",
             "When the current configuration was compiled (Unix time).");
        emit(&o, "gantry_config_last_reload_success_timestamp_seconds %.3f\n", (double)s->compiled_unix_ms / 1000.0);
        status_release(s);
    }
    help(&o, "gantry_config_reloads_total", "counter", "Configurations compiled and published.");
    emit(&o, "gantry_config_reloads_total %llu\n", (unsigned long long)status_reloads());
    const char *pname;
    bool connected, synced;
    help(&o, "gantry_provider_connected", "gauge", "1 when the provider reaches its source (file, Docker, Kubernetes).");
    for (size_t i = 0; status_provider_get(i, &pname, &connected, &synced); i++)
        emit(&o, "gantry_provider_connected{provider=\"%s\"} %d\n", pname, connected);
    help(&o, "gantry_provider_synced", "gauge", "1 once the provider completed its first full synchronisation.");
    for (size_t i = 0; status_provider_get(i, &pname, &connected, &synced); i++)
        emit(&o, "gantry_provider_synced{provider=\"%s\"} %d\n", pname, synced);
    help(&o, "gantry_accesslog_dropped_total", "counter", "Access log lines dropped because the disk did not keep up.");
    emit(&o, "gantry_accesslog_dropped_total %llu\n", (unsigned long long)accesslog_dropped());
    help(&o, "gantry_connections_closed_total", "counter",
         "Client connections cut or refused by a defence (timeouts, rapid reset, connection limits).");
    for (int r = 0; r < CT_REASONS; r++)
        emit(&o, "gantry_connections_closed_total{reason=\"%s\"} %llu\n", conntrack_reason_name(r),
             (unsigned long long)conntrack_closed(r));
    help(&o, "gantry_open_connections", "gauge", "Open client connections, all entry points.");
    emit(&o, "gantry_open_connections %llu\n", (unsigned long long)conntrack_open());
    help(&o, "gantry_tcp_connections_total", "counter", "Connections routed by TCP routers.");
    emit(&o, "gantry_tcp_connections_total %llu\n", (unsigned long long)tcp_proxy_connections());
    help(&o, "gantry_tcp_connect_failures_total", "counter",
         "Connections routed by TCP routers that no backend accepted (closed).");
    emit(&o, "gantry_tcp_connect_failures_total %llu\n", (unsigned long long)tcp_proxy_failures());
    udp_metrics(&o);
    process_metrics(&o);
    return buf_take(&o, len);
}
