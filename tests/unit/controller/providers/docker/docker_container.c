/* Tests controller/providers/docker/docker_container.c: inspect documents (a real one from
 * dockerd 20.10 and hostile ones), events and the container list. */
#include "../../../../../controller/providers/docker/docker_container.c"

#include "../../../../../controller/tree_yaml.h"
#include "test.h"

int main(void)
{
    struct diag d;
    const char *dir = getenv("GANTRY_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/docker/inspect_real.json", dir ? dir : "tests/fixtures");
    size_t len;
    char *real = read_file(path, 1 << 20, &len, &d);
    CHECK(real != NULL);
    struct docker_container *c = real ? docker_container_parse(real, len, &d) : NULL;
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(c->name, "t2");
        CHECK(strlen(c->id) == 64 && c->running && !c->paused && c->health == DOCKER_HEALTH_HEALTHY);
        CHECK_STR(c->network_mode, "host");
        CHECK_STR(docker_label(c, "gantry.http.services.t2.loadbalancer.server.port"), "18002");
        CHECK(docker_label(c, "nope") == NULL);
        docker_container_free(c);
    }
    free(real);

    const char *doc = "{\"Id\":\"abc\",\"Name\":\"/n\",\"State\":{\"Running\":true,\"Paused\":true,\"Health\":{\"Status\":\"starting\"}},"
                      "\"Config\":{\"Labels\":{\"b\":\"2\",\"a\":\"1\",\"n\":null},\"ExposedPorts\":{\"443/tcp\":{},\"80/tcp\":{},"
                      "\"53/udp\":{},\"x/tcp\":{}}},\"HostConfig\":{\"NetworkMode\":\"net\"},"
                      "\"NetworkSettings\":{\"Networks\":{\"z\":{\"IPAddress\":\"10.0.0.2\"},\"a\":{\"IPAddress\":\"\","
                      "\"GlobalIPv6Address\":\"fd00::2\"}}}}";
    c = docker_container_parse(doc, strlen(doc), &d);
    CHECK(c != NULL);
    if (c) {
        CHECK(c->paused && c->health == DOCKER_HEALTH_STARTING);
        CHECK(c->n_labels == 2 && strcmp(c->labels[0].key, "a") == 0); /* sorted, non-strings skipped */
        CHECK(c->n_exposed == 2 && c->exposed_ports[0] == 80 && c->exposed_ports[1] == 443);
        CHECK(c->n_networks == 2 && strcmp(c->networks[0].name, "a") == 0 && c->networks[0].ip == NULL);
        CHECK_STR(c->networks[0].ip6, "fd00::2");
        docker_container_free(c);
    }
    /* hostile or truncated documents fail cleanly */
    const char *bad[] = {"", "{", "[]", "{\"Id\":1,\"Name\":\"/x\",\"State\":{}}", "{\"Id\":\"x\",\"Name\":\"/x\"}",
                         "{\"Id\":\"x\",\"Name\":\"/x\",\"State\":[]}", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        CHECK(docker_container_parse(bad[i], strlen(bad[i]), &d) == NULL);
    for (size_t i = 0; i <= strlen(doc); i++) /* every truncation */
        docker_container_free(docker_container_parse(doc, i, &d));

    struct docker_event ev;
    const char *e1 = "{\"status\":\"health_status: healthy\",\"id\":\"abc\",\"Type\":\"container\",\"Action\":\"health_status: "
                     "healthy\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"name\":\"x\"}},\"time\":1,\"timeNano\":1000}";
    CHECK(docker_event_parse(e1, strlen(e1), &ev, &d) == 0);
    CHECK_STR(ev.action, "health_status");
    CHECK_STR(ev.id, "abc");
    CHECK(ev.time_nano == 1000 && ev.signal == 0);
    const char *e2 = "{\"Type\":\"container\",\"Action\":\"kill\",\"Actor\":{\"ID\":\"def\",\"Attributes\":{\"signal\":\"15\"}}}";
    CHECK(docker_event_parse(e2, strlen(e2), &ev, &d) == 0 && ev.signal == 15);
    const char *e3 = "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n\"}}";
    CHECK(docker_event_parse(e3, strlen(e3), &ev, &d) == 0);
    CHECK_STR(ev.type, "network");
    const char *e4 = "{\"Type\":\"container\",\"Action\":\"" /* over-long fields are truncated, not overflowed */
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"Actor\":{\"ID\":\""
                     "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii\"}}";
    CHECK(docker_event_parse(e4, strlen(e4), &ev, &d) == 0 && strlen(ev.action) == sizeof(ev.action) - 1);
    const char *bad_events[] = {"", "not json", "[1,2]", "{\"Type\":\"container\"}", "{\"Action\":\"start\"}", "{\"Action\":5}"};
    for (size_t i = 0; i < sizeof(bad_events) / sizeof(*bad_events); i++)
        CHECK(docker_event_parse(bad_events[i], strlen(bad_events[i]), &ev, &d) != 0);

    char **ids;
    size_t n;
    const char *list = "[{\"Id\":\"a\",\"Names\":[\"/x\"]},{\"Id\":\"b\"},{\"NoId\":1}]";
    CHECK(docker_list_parse(list, strlen(list), &ids, &n, &d) == 0 && n == 2);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    CHECK(docker_list_parse("{}", 2, &ids, &n, &d) != 0);
    return test_report("controller/providers/docker/docker_container");
}
