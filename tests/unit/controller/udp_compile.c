/* Tests controller/udp_compile.c (with proxy/udp/table_udp.c): UDP routers and
 * services from decoded models into the table: one router per UDP entry
 * point (the first by name), no entryPoints = every UDP entry point,
 * weighted services across providers, and the refusals, each naming its
 * object and reason. */
#include "../../../controller/udp_compile.c"

#include <stdlib.h>

#include "../../../proxy/tcp/tcp_balancer.h"
#include "model_yaml_fixture.h"
#include "test.h"

static const char *route_of(const struct table *t, uint32_t ep)
{
    const struct table_udp_route *r = table_udp_route(t, ep);
    return r ? r->name : "none";
}

static bool has_error(const struct ptr_vec *errors, const char *needle)
{
    for (size_t i = 0; i < errors->len; i++)
        if (strstr(errors->items[i], needle) != NULL)
            return true;
    fprintf(stderr, "no error contains: %s\n", needle);
    for (size_t i = 0; i < errors->len; i++)
        fprintf(stderr, "  %s\n", (const char *)errors->items[i]);
    return false;
}

int main(void)
{
    static const char *const eps[] = {"dns", "game", "voice"};
    struct model *file = model_from_yaml("file", "udp:\n"
                                        "  routers:\n"
                                        "    b-dns: {service: dns, entryPoints: [dns]}\n"
                                        "    a-dns: {service: dns, entryPoints: [dns]}\n"
                                        "    everywhere: {service: canary}\n"
                                        "    web: {service: dns, entryPoints: [web]}\n"
                                        "    lost: {service: nothere}\n"
                                        "    noservice: {entryPoints: [game]}\n"
                                        "    looped: {service: loop1, entryPoints: [voice]}\n"
                                        "  services:\n"
                                        "    dns:\n      loadBalancer: {servers: [{address: \"127.0.0.1:5353\"}, {address: \"127.0.0.2:5353\"}]}\n"
                                        "    canary:\n      weighted: {services: [{name: dns, weight: 3}, {name: next@docker}]}\n"
                                        "    loop1:\n      weighted: {services: [{name: loop2}]}\n"
                                        "    loop2:\n      weighted: {services: [{name: loop1}]}\n");
    struct model *docker = model_from_yaml("docker", "udp:\n  services:\n    next:\n      loadBalancer: {servers: [{address: \"127.0.0.3:53\"}]}\n");
    const struct model *models[] = {file, docker};
    struct table *t = table_new(2);
    struct arena scratch;
    arena_init(&scratch);
    struct ptr_vec errors = {0};
    udp_compile(t, models, 2, eps, 3, &scratch, &errors);

    /* the first by name of the routers naming an entry point serves it; none: every UDP entry point */
    CHECK_STR(route_of(t, 0), "a-dns@file");
    CHECK_STR(route_of(t, 1), "everywhere@file");
    CHECK_STR(route_of(t, 2), "everywhere@file");
    CHECK(t->udp->routes.len == 3);

    /* refusals name the router or service and why */
    CHECK(has_error(&errors, "udp router 'web@file': entry point 'web' does not exist or is not a UDP entry point"));
    CHECK(has_error(&errors, "udp router 'lost@file': udp service 'nothere@file' does not exist"));
    CHECK(has_error(&errors, "udp router 'noservice@file': the service is missing on the udp router"));
    CHECK(has_error(&errors, "udp service 'loop1@file': weighted: udp service 'loop2@file' is not served either"));
    CHECK(has_error(&errors, "udp router 'looped@file': udp service 'loop1@file' is not served: weighted"));
    /* routers left out of an entry point another serves: a problem each (logged once, shown in the API) */
    CHECK(has_error(&errors, "udp router 'b-dns@file': entry point dns has more than one udp router; 'a-dns@file' serves it"));
    CHECK(has_error(&errors, "udp router 'everywhere@file': entry point dns has more than one udp router; 'a-dns@file'"));
    CHECK(errors.len == 8);

    /* weighted across providers: smooth WRR 3:1 per worker, down to the servers */
    struct table_tcp_service *canary = table_udp_find_service(t, "canary@file");
    CHECK(canary != NULL && canary->n_children == 2);
    if (canary != NULL) {
        int dns = 0, next = 0;
        for (int i = 0; i < 8; i++) {
            const struct table_tcp_service *leaf = tcp_balancer_pick(canary, 1);
            dns += leaf != NULL && strcmp(leaf->name, "dns@file") == 0;
            next += leaf != NULL && strcmp(leaf->name, "next@docker") == 0;
        }
        CHECK(dns == 6 && next == 2);
    }
    struct table_tcp_service *svc = table_udp_find_service(t, "dns@file");
    CHECK(svc != NULL && svc->n_servers == 2 && svc->servers[1].srv != NULL);
    CHECK(table_udp_find_service(t, "loop1@file") == NULL);
    /* a UDP service is not a TCP one */
    CHECK(table_tcp_find_service(t, "dns@file") == NULL);

    table_free(t);
    arena_free(&scratch);
    model_free(file);
    model_free(docker);
    return test_report("controller/udp_compile");
}
