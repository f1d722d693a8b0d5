/*
 * Tests controller/providers/docker/docker_cache.c: the incremental build
 * gives what a full build gives (model dump and problems) after every step
 * of a seeded random walk over containers that come, go, change, stop,
 * replicate a service and conflict; an unchanged container's objects are
 * handed over by the same pointer and only the changed container is built
 * again; models outlive the cache and each other in any order.
 */
#include "../../../../../controller/providers/docker/docker_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define SLOTS 24

static struct docker_options opts = {
    .label_prefix = "gantry",
    .exposed_by_default = true,
    .network = "",
    .default_rule = "Host(`{{ normalize .Name }}`)",
    .host_ip = "127.0.0.1",
};

/* Slot <i> in variant <v> (1..6): its own router, a replica of a shared
 * compose service (HTTP and TCP), a router that conflicts with another slot's, a bad
 * port, a container sharing slot 0's network, a health check starting. */
static struct docker_container *make(int i, int v, int ip)
{
    char labels[1024], extra[256] = "", state[128] = "";
    const char *mode = "bridge";
    char mode_buf[96];
    switch (v) {
    case 1:
        snprintf(labels, sizeof(labels),
                 "\"gantry.http.routers.r%d.rule\": \"Host(`r%d.test`)\", "
                 "\"gantry.http.services.r%d.loadbalancer.server.port\": \"80\"",
                 i, i, i);
        break;
    case 2:
        snprintf(labels, sizeof(labels),
                 "\"com.docker.compose.project\": \"p\", \"com.docker.compose.service\": \"web\", "
                 "\"gantry.http.services.web.loadbalancer.server.port\": \"80\", "
                 "\"gantry.http.routers.web.rule\": \"Host(`web.test`)\", "
                 "\"gantry.tcp.routers.pg.rule\": \"HostSNI(`*`)\", "
                 "\"gantry.tcp.services.pg.loadbalancer.server.port\": \"5432\"");
        break;
    case 3:
        snprintf(labels, sizeof(labels),
                 "\"gantry.http.routers.shared.rule\": \"Host(`shared%d.test`)\", "
                 "\"gantry.http.routers.shared.service\": \"s%d\", "
                 "\"gantry.http.services.s%d.loadbalancer.server.port\": \"81\"",
                 i % 2, i, i);
        break;
    case 4:
        snprintf(labels, sizeof(labels), "\"gantry.http.services.bad%d.loadbalancer.server.port\": \"x%d\"", i, i);
        break;
    case 5:
        snprintf(labels, sizeof(labels), "\"gantry.http.routers.side%d.rule\": \"Host(`side%d.test`)\"", i, i);
        snprintf(mode_buf, sizeof(mode_buf), "container:c0");
        mode = mode_buf;
        snprintf(extra, sizeof(extra), ", \"ExposedPorts\": {\"8080/tcp\": {}}");
        break;
    default:
        snprintf(labels, sizeof(labels), "\"gantry.http.routers.h%d.rule\": \"Host(`h%d.test`)\"", i, i);
        snprintf(state, sizeof(state), ", \"Health\": {\"Status\": \"%s\"}", ip % 2 ? "healthy" : "starting");
        snprintf(extra, sizeof(extra), ", \"ExposedPorts\": {\"8080/tcp\": {}}");
        break;
    }
    char doc[2048];
    snprintf(doc, sizeof(doc),
             "{\"Id\": \"%064d\", \"Name\": \"/c%d\", \"Config\": {\"Labels\": {%s}%s}, "
             "\"HostConfig\": {\"NetworkMode\": \"%s\"}, "
             "\"NetworkSettings\": {\"Networks\": {\"bridge\": {\"IPAddress\": \"10.0.%d.%d\"}}}, "
             "\"State\": {\"Running\": true, \"Paused\": false, \"Restarting\": false%s}}",
             i, i, labels, extra, mode, i, ip, state);
    struct diag d;
    struct docker_container *c = docker_container_parse(doc, strlen(doc), &d);
    if (c == NULL)
        fprintf(stderr, "%s\n%s\n", d.msg, doc);
    return c;
}

static char *render(const struct model *m, const struct ptr_vec *problems)
{
    char *dump = model_dump(m);
    size_t cap = strlen(dump) + 64;
    for (size_t i = 0; i < problems->len; i++)
        cap += strlen(problems->items[i]) + 8;
    char *out = mem_alloc(cap);
    int n = snprintf(out, cap, "%sproblems:\n", dump);
    for (size_t i = 0; i < problems->len; i++)
        n += snprintf(out + n, cap - (size_t)n, "  - %s\n", (const char *)problems->items[i]);
    free(dump);
    return out;
}

static size_t store_of(struct docker_container **slots, struct docker_container **items)
{
    size_t n = 0;
    for (int i = SLOTS - 1; i >= 0; i--) /* not in name order: the build sorts */
        if (slots[i])
            items[n++] = slots[i];
    return n;
}

/* Every step: the cached build equals a full one. */
static void random_walk(void)
{
    struct docker_container *slots[SLOTS] = {0};
    int variant[SLOTS] = {0};
    struct docker_cache k;
    docker_cache_init(&k);
    struct model *prev = NULL;
    unsigned seed = 13;
    int mismatches = 0;
    for (int step = 0; step < 400; step++) {
        int changes = 1 + (int)(rand_r(&seed) % 3);
        for (int c = 0; c < changes; c++) {
            int i = (int)(rand_r(&seed) % SLOTS), what = (int)(rand_r(&seed) % 10);
            if (what < 2 && slots[i]) { /* gone */
                docker_container_free(slots[i]);
                slots[i] = NULL;
            } else if (what < 3 && slots[i]) { /* docker stop: the kill event */
                slots[i]->stopping = !slots[i]->stopping;
            } else if (what < 5 && slots[i]) { /* a new inspect, the same document */
                struct docker_container *again = make(i, variant[i], (int)(rand_r(&seed) % 2) + 1);
                docker_container_free(slots[i]);
                slots[i] = again;
            } else {
                docker_container_free(slots[i]);
                variant[i] = 1 + (int)(rand_r(&seed) % 6);
                slots[i] = make(i, variant[i], (int)(rand_r(&seed) % 3) + 1);
            }
        }
        struct docker_container *items[SLOTS];
        struct docker_store s = {items, store_of(slots, items)};
        struct arena pa;
        arena_init(&pa);
        struct ptr_vec p1 = {0}, p2 = {0};
        struct model *inc = docker_build_cached(&k, &s, &opts, &pa, &p1);
        struct model *full = docker_build(&s, &opts, &pa, &p2);
        char *a = render(inc, &p1), *b = render(full, &p2);
        if (strcmp(a, b) != 0 && mismatches++ < 3)
            fprintf(stderr, "step %d: incremental build differs:\n--- incremental ---\n%s--- full ---\n%s", step, a, b);
        CHECK(strcmp(a, b) == 0);
        CHECK(inc->digest == full->digest); /* the same pieces, the same digest */
        free(a);
        free(b);
        model_free(full);
        arena_free(&pa);
        /* the previous model is freed after the next build, as the aggregator does */
        model_free(prev);
        prev = inc;
    }
    docker_cache_clear(&k); /* before the last model: it holds what it uses */
    char *dump = model_dump(prev);
    CHECK(dump != NULL && strlen(dump) > 0);
    free(dump);
    model_free(prev);
    for (int i = 0; i < SLOTS; i++)
        docker_container_free(slots[i]);
}

static const void *find(const struct ptr_vec *v, const char *name)
{
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(((const struct model_router *)v->items[i])->name, name) == 0)
            return v->items[i];
    return NULL;
}

static const void *find_service(const struct ptr_vec *v, const char *name)
{
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(((const struct model_service *)v->items[i])->name, name) == 0)
            return v->items[i];
    return NULL;
}

static struct model *build(struct docker_cache *k, struct docker_container **slots)
{
    struct docker_container *items[SLOTS];
    struct docker_store s = {items, store_of(slots, items)};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = docker_build_cached(k, &s, &opts, &pa, &problems);
    arena_free(&pa);
    return m;
}

/* One change: one container built, every other object the same pointer. */
static void same_pointers(void)
{
    struct docker_container *slots[SLOTS] = {0};
    for (int i = 0; i < 20; i++)
        slots[i] = make(i, 1, 1);
    for (int i = 20; i < 23; i++)
        slots[i] = make(i, 2, 1); /* three replicas of web-p */
    struct docker_cache k;
    docker_cache_init(&k);
    struct model *m1 = build(&k, slots);
    CHECK(k.last_built == 23 && k.last_kept == 0);
    CHECK(m1->routers.len == 21 && m1->services.len == 21);
    const struct model_service *web1 = find_service(&m1->services, "web");
    CHECK(web1 != NULL && web1->lb->n_servers == 3);
    const struct model_tcp_service *pg1 = find_service(&m1->tcp_services, "pg");
    CHECK(m1->tcp_services.len == 1 && m1->tcp_routers.len == 1 && pg1 != NULL && pg1->n_servers == 3);

    /* nothing changed: everything kept, the same digest */
    struct model *m2 = build(&k, slots);
    CHECK(k.last_built == 0 && k.last_kept == 23 && k.last_merged == 0);
    CHECK(m2->digest == m1->digest);
    CHECK(find_service(&m2->services, "web") == web1);

    /* container 7 changes: only it is built, the others' objects are the same */
    docker_container_free(slots[7]);
    slots[7] = make(7, 1, 2);
    struct model *m3 = build(&k, slots);
    CHECK(k.last_built == 1 && k.last_kept == 22);
    CHECK(m3->digest != m2->digest);
    char name[16];
    int same = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        bool eq = find(&m3->routers, name) == find(&m2->routers, name) &&
                  find_service(&m3->services, name) == find_service(&m2->services, name);
        same += eq;
        CHECK(eq == (i != 7));
    }
    CHECK(same == 19);
    CHECK(find_service(&m3->services, "web") == web1);
    CHECK(find(&m3->routers, "web") == find(&m1->routers, "web"));

    /* a fourth replica: the merged service is new, its router the same */
    slots[23] = make(23, 2, 1);
    struct model *m4 = build(&k, slots);
    CHECK(k.last_built == 1 && k.last_merged == 4); /* web's and pg's router and service groups */
    const struct model_service *web4 = find_service(&m4->services, "web");
    const struct model_tcp_service *pg4 = find_service(&m4->tcp_services, "pg");
    CHECK(pg4 != NULL && pg4 != pg1 && pg4->n_servers == 4 && pg1->n_servers == 3);
    CHECK(web4 != NULL && web4 != web1 && web4->lb->n_servers == 4);
    CHECK(find(&m4->routers, "web") == find(&m1->routers, "web"));
    CHECK(web1->lb->n_servers == 3); /* the older model's merge is untouched */

    /* a new inspect with the same content keeps the old objects */
    docker_container_free(slots[3]);
    slots[3] = make(3, 1, 1);
    struct model *m5 = build(&k, slots);
    CHECK(k.last_built == 1 && find(&m5->routers, "r3") == find(&m4->routers, "r3"));
    CHECK(m5->digest == m4->digest);

    /* docker stop: the kill event takes it out */
    slots[5]->stopping = true;
    struct model *m6 = build(&k, slots);
    CHECK(find(&m6->routers, "r5") == NULL && find(&m6->routers, "r6") == find(&m5->routers, "r6"));

    /* freed in any order, the cache first */
    docker_cache_clear(&k);
    model_free(m3);
    model_free(m1);
    CHECK(((const struct model_service *)find_service(&m2->services, "web"))->lb->n_servers == 3);
    model_free(m6);
    model_free(m2);
    model_free(m5);
    CHECK(((const struct model_service *)find_service(&m4->services, "web"))->lb->n_servers == 4);
    model_free(m4);
    for (int i = 0; i < SLOTS; i++)
        docker_container_free(slots[i]);
}

int main(void)
{
    random_walk();
    same_pointers();
    return test_report("controller/providers/docker/docker_cache");
}
