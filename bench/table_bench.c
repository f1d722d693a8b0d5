/*
 * Routing-table benchmark: lookup cost at 10, 1,000 and 100,000 routes,
 * and the full compile + publish of 10,000 routes through the aggregator
 * (model -> rules parsed -> services and servers resolved -> indexes
 * built -> atomic swap). Prints a markdown table.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../admin/status.h"
#include "../controller/aggregator.h"
#include "../controller/model.h"
#include "../controller/watcher.h"
#include "../proxy/match.h"
#include "../proxy/publish.h"
#include "../proxy/registry.h"
#include "../proxy/table.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Where make_model puts its services when they are to outlive the model:
 * the case of the Kubernetes and Docker providers, which hand an
 * unchanged service to the next model as the same object. */
static struct arena *kept_services;
static struct model_service **kept;
static struct model_router *
    *kept_routers; /* all but the first, which each change replaces */
static int servers_per_service = 1;

/* n routers "Host(`host-i.example.com`) && PathPrefix(`/`)", each with its own
 * service. */
static struct model *make_model(int n) {
  struct model *m = model_new("bench");
  for (int i = 0; i < n; i++) {
    if (kept_routers != NULL && kept_routers[i] != NULL) {
      ptr_vec_push(&m->arena, &m->routers, kept_routers[i]);
      ptr_vec_push(&m->arena, &m->services, kept[i]);
      continue;
    }
    struct arena *ra =
        kept_routers != NULL && i > 0 ? kept_services : &m->arena;
    struct model_router *r = arena_alloc(ra, sizeof(*r));
    r->name = arena_printf(ra, "r%d", i);
    r->rule = arena_printf(
        ra,
        i % 10 == 0 ? "Host(`host-%d.example.com`) && PathPrefix(`/api`)"
                    : "Host(`host-%d.example.com`)",
        i);
    r->service = arena_printf(ra, "s%d", i);
    r->origin.source = "bench";
    ptr_vec_push(&m->arena, &m->routers, r);
    if (kept_routers != NULL && i > 0)
      kept_routers[i] = r;
    if (kept != NULL && kept[i] != NULL) {
      ptr_vec_push(&m->arena, &m->services, kept[i]);
      continue;
    }
    struct arena *a = kept ? kept_services : &m->arena;
    struct model_service *s = arena_alloc(a, sizeof(*s));
    s->name = arena_strdup(a, r->service);
    s->lb = arena_alloc(a, sizeof(*s->lb));
    s->lb->pass_host_header = true;
    s->lb->n_servers = (size_t)servers_per_service;
    s->lb->servers = arena_alloc(a, (size_t)servers_per_service *
                                        sizeof(struct model_server));
    for (int j = 0; j < servers_per_service; j++) {
      s->lb->servers[j].url =
          arena_printf(a, "http://10.%d.%d.%d:%d", (i >> 16) & 255,
                       (i >> 8) & 255, i & 255, 8080 + j);
      s->lb->servers[j].weight = 1;
    }
    s->origin.source = "bench";
    ptr_vec_push(&m->arena, &m->services, s);
    if (kept)
      kept[i] = s;
  }
  /* a few host-less routes, as real configurations have */
  for (int i = 0; i < 5; i++) {
    struct model_router *r = arena_alloc(&m->arena, sizeof(*r));
    r->name = arena_printf(&m->arena, "fallback%d", i);
    r->rule = arena_printf(&m->arena, "PathPrefix(`/fallback-%d`)", i);
    r->service = "s0";
    r->origin.source = "bench";
    ptr_vec_push(&m->arena, &m->routers, r);
  }
  return m;
}

static double lookup_ns(int n_routes, const struct table *t) {
  enum { N = 2000000 };
  char host[64], norm[64];
  volatile const struct table_route *sink = NULL;
  unsigned seed = 1;
  /* pre-generate hosts so the loop measures the lookup only */
  enum { HOSTS = 4096 };
  static char hosts[HOSTS][48];
  for (int i = 0; i < HOSTS; i++)
    snprintf(hosts[i], sizeof(hosts[i]), "host-%d.example.com",
             rand_r(&seed) % (n_routes + n_routes / 10 + 1));
  (void)host;
  double t0 = now_ns();
  for (int i = 0; i < N; i++) {
    const char *h = hosts[i & (HOSTS - 1)];
    size_t len = match_normalize_host(h, strlen(h), norm);
    struct match_req r = {.host = norm,
                          .host_len = len,
                          .path = "/api/x",
                          .path_len = 6,
                          .method = "GET",
                          .method_len = 3};
    sink = table_lookup(t, &r, 0, false);
  }
  (void)sink;
  return (now_ns() - t0) / N;
}

static void sort7(double *v) {
  for (int i = 0; i < 7; i++)
    for (int j = i + 1; j < 7; j++)
      if (v[j] < v[i]) {
        double x = v[i];
        v[i] = v[j];
        v[j] = x;
      }
}

/* Seven changes of a 10,000-route model, sorted: the compile + swap time
 * the aggregator reports (runs) and the whole submit on the caller
 * (totals), in ms. */
static void measure7(double runs[7], double totals[7]) {
  for (int i = 0; i < 7; i++) {
    struct model *m = make_model(10000);
    /* alternate a change so the digest differs and the aggregator compiles */
    ((struct model_router *)m->routers.items[0])->priority = i + 1;
    double t0 = now_ns();
    aggregator_submit(m);
    aggregator_flush();
    totals[i] = (now_ns() - t0) / 1e6;
    runs[i] = (double)aggregator_stats()->last_compile_us / 1e3;
    publish_reclaim();
    status_reclaim();
  }
  sort7(runs);
  sort7(totals);
}

int main(int argc, char **argv) {
  bool compile_only = argc > 1 && strcmp(argv[1], "compile") == 0;
  registry_init(2);
  publish_init(0, NULL); /* no workers: superseded tables are freed at once */
  struct diag d;
  if (watcher_init(&d) != 0)
    return 1;
  const char *eps[] = {"web"};
  struct aggregator_options o = {
      .window_ms = 0, .n_workers = 2, .entrypoints = eps, .n_entrypoints = 1};
  aggregator_init(&o);

  printf("| routes | lookup (ns/op, random hosts incl. 9%% misses) "
         "|\n|---:|---:|\n");
  int sizes[] = {10, 1000, 100000};
  for (int i = 0; i < 3 && !compile_only; i++) {
    aggregator_submit(make_model(sizes[i]));
    aggregator_flush();
    publish_reclaim();
    printf("| %d | %.0f |\n", sizes[i], lookup_ns(sizes[i], publish_current()));
    fflush(stdout);
  }

  printf("\n| compile + publish of 10,000 routes (ms) | min | median | max "
         "|\n|---|---:|---:|---:|\n");
  /* the first compile also creates 10,000 registry servers: reported apart */
  double cold_t0 = now_ns();
  aggregator_submit(make_model(10000));
  aggregator_flush();
  double cold = (now_ns() - cold_t0) / 1e6;
  publish_reclaim();
  double runs[7], totals[7];
  measure7(runs, totals);
  printf("| compile + swap (servers already known): rules parsed, services "
         "resolved, indexes built, swapped | %.1f | %.1f | %.1f |\n",
         runs[0], runs[3], runs[6]);
  printf("| the whole change on the watcher thread (+ model digest, API "
         "snapshot, change log) | %.1f | %.1f | %.1f |\n",
         totals[0], totals[3], totals[6]);
  printf("| the first compile (10,000 new servers created and resolved) | %.1f "
         "| | |\n",
         cold);

  /* 10,000 services of 10 servers each handed over unchanged (the same
   * model objects), one router changed: a Kubernetes or Docker change */
  struct arena ka;
  arena_init(&ka);
  kept_services = &ka;
  kept = mem_calloc(10000, sizeof(*kept));
  servers_per_service = 10;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) /* and the routers too, but the one changed: what a
                      Kubernetes or Docker change hands over */
      kept_routers = mem_calloc(10000, sizeof(*kept_routers));
    aggregator_submit(make_model(10000));
    aggregator_flush();
    publish_reclaim();
    status_reclaim();
    measure7(runs, totals);
    printf("| compile + swap, 10,000 services x 10 servers handed over "
           "unchanged%s | %.1f | %.1f | %.1f |\n",
           pass ? ", and 9,999 of the routers (Kubernetes/Docker)" : "",
           runs[0], runs[3], runs[6]);
    printf("| the whole change on the watcher thread, same case | %.1f | %.1f "
           "| %.1f |\n",
           totals[0], totals[3], totals[6]);
  }
  aggregator_shutdown();
  status_shutdown();
  free(kept);
  free(kept_routers);
  arena_free(&ka);
  publish_shutdown();
  registry_shutdown();
  watcher_free();
  match_thread_cleanup();
  arena_release_cache();
  return 0;
}
