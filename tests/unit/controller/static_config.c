/* Tests controller/static_config.c: flags over file, defaults, errors. */
#include "../../../controller/static_config.c"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>

#include "test.h"

static int load(struct static_config *c, struct diag *d, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return static_config_load(c, argc, argv, d);
}

/* Every key of every provider section must land in the struct that main
 * hands to the provider as is: set each key alone (as a flag) and see the
 * provider's struct change against "--providers.<section>=true". A key
 * decoded into anything else (the old field-by-field copy in main.c lost
 * providers.docker.watch that way) fails here. */
struct section {
    const char *name;
    const struct tree_field *keys;
    size_t offset, size;
};

static const char *const refusals[] = {"allowSnippetAnnotations", "globalAuthURL", "watchNamespaceSelector", NULL};

/* nested sections: key -> its table */
static const struct tree_field *subtable(const char *key)
{
    if (strcmp(key, "leaderElection") == 0)
        return leader_keys;
    if (strcmp(key, "ingressEndpoint") == 0)
        return ingress_endpoint_keys;
    if (strcmp(key, "statusAddress") == 0)
        return gw_status_keys;
    if (strcmp(key, "service") == 0)
        return gw_status_service_keys;
    return NULL;
}

static int check_keys(const struct section *sec, const char *prefix, const struct tree_field *keys)
{
    static const char *const values[] = {"false", "true", "7s", "x.example", "ns/name", NULL};
    struct static_config base, c;
    struct diag d;
    char flag[256], *argv[1] = {flag};
    int checked = 0;
    snprintf(flag, sizeof(flag), "--providers.%s=true", sec->name);
    CHECK(static_config_load(&base, 1, argv, &d) == 0);
    for (const struct tree_field *k = keys; k->name; k++) {
        if (k->fn == NULL)
            continue;
        char path[200];
        snprintf(path, sizeof(path), "%s.%s", prefix, k->name);
        const struct tree_field *sub = subtable(k->name);
        if (sub) {
            checked += check_keys(sec, path, sub);
            continue;
        }
        bool refusal = false, changed = false;
        for (const char *const *r = refusals; *r; r++)
            refusal |= strcmp(*r, k->name) == 0;
        for (const char *const *v = values; *v && !changed; v++) {
            snprintf(flag, sizeof(flag), "--providers.%s=%s", path, *v);
            if (static_config_load(&c, 1, argv, &d) == 0)
                changed = memcmp((char *)&c + sec->offset, (char *)&base + sec->offset, sec->size) != 0;
            static_config_free(&c);
        }
        if (!changed && !refusal)
            fprintf(stderr, "providers.%s: no value reaches the provider's config struct\n", path);
        CHECK(changed || refusal);
        checked++;
    }
    static_config_free(&base);
    return checked;
}

static void every_provider_key(void)
{
#define SECTION(name, member, keys) {name, keys, offsetof(struct static_config, member), sizeof(((struct static_config *)0)->member)}
    static const struct section sections[] = {SECTION("file", file, file_keys),
                                              SECTION("docker", docker, docker_keys),
                                              SECTION("kubernetesIngress", kube, kube_keys),
                                              SECTION("kubernetesIngressNGINX", kube_nginx, kube_nginx_keys),
                                              SECTION("kubernetesCRD", kube_crd, kube_crd_keys),
                                              SECTION("kubernetesGateway", kube_gw, kube_gw_keys)};
#undef SECTION
    int n = 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        n += check_keys(&sections[i], sections[i].name, sections[i].keys);
    CHECK(n > 60); /* the tables were walked */
}

int main(void)
{
    every_provider_key();

    struct static_config c;
    struct diag d;

    CHECK(load(&c, &d, 0) == 0);
    CHECK(c.n_entrypoints == 1 && strcmp(c.entrypoints[0].address, ":80") == 0); /* Traefik's default */
    CHECK(c.proxy.n_workers >= 1 && c.proxy.dial_timeout_ms == 30000);
    CHECK(!c.file.enabled && !c.docker.enabled);
    static_config_free(&c);

    char path[] = "/tmp/gantry-static-XXXXXX";
    int fd = mkstemp(path);
    const char *yaml = "entryPoints:\n  web: {address: \":8080\"}\n  websecure:\n    address: \":8443\"\n"
                       "    transport: {respondingTimeouts: {readTimeout: 5s, idleTimeout: 30s}}\n"
                       "    forwardedHeaders: {trustedIPs: [10.0.0.0/8, \"::1\"]}\n"
                       "providers:\n  file: {filename: /etc/dyn.yaml}\n  docker:\n    exposedByDefault: false\n"
                       "serversTransport:\n  forwardingTimeouts: {dialTimeout: 2s}\n"
                       "log: {level: DEBUG}\nmetrics: {prometheus: {}}\n";
    CHECK(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    char cf[64];
    snprintf(cf, sizeof(cf), "--configFile=%s", path);
    CHECK(load(&c, &d, 4, cf, "--entryPoints.web.address=127.0.0.1:9090", "--providers.docker.network=front", "--workers=3") == 0);
    CHECK(c.n_entrypoints == 2);
    CHECK_STR(c.entrypoints[0].address, "127.0.0.1:9090"); /* the flag wins */
    CHECK_STR(c.entrypoints[1].address, ":8443");          /* the file's other entry point stays */
    CHECK(c.entrypoints[1].read_timeout_ms == 5000 && c.entrypoints[1].idle_timeout_ms == 30000);
    CHECK(c.entrypoints[1].n_trusted_ips == 2);
    CHECK(c.file.enabled && strcmp(c.file.filename, "/etc/dyn.yaml") == 0);
    CHECK(c.docker.enabled && !c.docker.exposed_by_default && strcmp(c.docker.network, "front") == 0);
    CHECK(c.proxy.dial_timeout_ms == 2000 && c.proxy.n_workers == 3);
    CHECK(c.warnings.len == 1);
    CHECK_CONTAINS(c.warnings.items[0], "'metrics' is not supported by gantry yet");
    static_config_free(&c);
    log_set_level(LOG_INFO);

    /* tcpServersTransport: decoded into the TCP default transport; negative durations; unknown keys warned */
    CHECK(load(&c, &d, 0) == 0);
    CHECK(!c.tcp_transport.has_dial && !c.tcp_transport.has_keep_alive && c.tcp_transport.tls == NULL);
    CHECK_STR(c.tcp_transport.name, "tcpServersTransport");
    static_config_free(&c);
    CHECK(load(&c, &d, 6, "--tcpServersTransport.dialTimeout=0s", "--tcpServersTransport.dialKeepAlive=-1s",
               "--tcpServersTransport.terminationDelay=250ms", "--tcpServersTransport.tls.rootCAs=/etc/ca.pem",
               "--tcpServersTransport.tls.insecureSkipVerify=true", "--tcpServersTransport.proxyProtocol.version=2") == 0);
    CHECK(c.tcp_transport.has_dial && c.tcp_transport.dial_ms == 0);
    CHECK(c.tcp_transport.has_keep_alive && c.tcp_transport.keep_alive_ms == -1000);
    CHECK(c.tcp_transport.has_termination_delay && c.tcp_transport.termination_delay_ms == 250);
    CHECK(c.tcp_transport.tls && c.tcp_transport.tls->insecure_skip_verify && c.tcp_transport.tls->n_root_cas == 1);
    CHECK_STR(c.tcp_transport.tls->root_cas[0], "/etc/ca.pem");
    CHECK(c.tcp_transport.unsupported == NULL);
    CHECK(c.warnings.len == 1); /* proxyProtocol: not a key of Traefik's static section */
    CHECK_CONTAINS(c.warnings.items[0], "proxyProtocol");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--tcpServersTransport.tls.spiffe.trustDomain=example.org") == 0);
    CHECK_STR(c.tcp_transport.unsupported, "tls.spiffe");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--tcpServersTransport.dialKeepAlive=soon") != 0);
    CHECK_CONTAINS(d.msg, "dialKeepAlive");
    static_config_free(&c);
    log_set_level(LOG_INFO);

    CHECK(load(&c, &d, 1, "--providers.docker") == 0 && c.docker.enabled); /* bare flag = true */
    static_config_free(&c);

    /* providers.kubernetesGateway: Traefik's options, gantry's controllerName */
    CHECK(load(&c, &d, 6, "--providers.kubernetesGateway.experimentalChannel=true", "--providers.kubernetesGateway.namespaces=a,b",
               "--providers.kubernetesGateway.statusAddress.ip=192.0.2.1", "--providers.kubernetesGateway.throttleDuration=50ms",
               "--providers.kubernetesGateway.nativeLBByDefault=true",
               "--providers.kubernetesGateway.controllerName=example.com/gw") == 0);
    CHECK(c.kube_gw.enabled && c.kube_gw.experimental_channel && c.kube_gw.native_lb_by_default);
    CHECK(c.kube_gw.n_namespaces == 2 && c.kube_gw.throttle_ms == 50);
    CHECK_STR(c.kube_gw.status_ip, "192.0.2.1");
    CHECK_STR(c.kube_gw.controller_name, "example.com/gw");
    CHECK(c.warnings.len == 0);
    static_config_free(&c);
    CHECK(load(&c, &d, 2, "--providers.kubernetesGateway.statusAddress.service.name=gantry",
               "--providers.kubernetesGateway.statusAddress.service.namespace=ops") == 0);
    CHECK_STR(c.kube_gw.status_service_name, "gantry");
    CHECK_STR(c.kube_gw.status_service_namespace, "ops");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--help") == 0 && c.show_help);
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--version") == 0 && c.show_version);
    static_config_free(&c);

    CHECK(load(&c, &d, 1, "--workers=lots") != 0);
    CHECK_CONTAINS(d.msg, "flag --workers: expected an integer, got 'lots'");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--entryPoints.web.transport.respondingTimeouts.readTimeout=soon") != 0);
    CHECK_CONTAINS(d.msg, "expected a duration");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "stray") != 0);
    CHECK_CONTAINS(d.msg, "unexpected argument 'stray'");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.0/99") != 0);
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--log.level=chatty") != 0);
    CHECK_CONTAINS(d.msg, "unknown level 'chatty'");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--configFile=/nonexistent/gantry.yaml") != 0);
    CHECK_CONTAINS(d.msg, "/nonexistent/gantry.yaml: No such file");
    static_config_free(&c);
    CHECK(load(&c, &d, 1, "--entryPoints.web.port=80") != 0); /* unknown key: warning; no address: error */
    CHECK_CONTAINS(d.msg, "entry point 'web' has no address");
    static_config_free(&c);

    /* "a, b ": each item trimmed on both sides, as Traefik's paerser (strings.Split + TrimSpace) and the
     * dynamic decoder do; the static decoder used to keep "b " */
    CHECK(load(&c, &d, 1, "--providers.kubernetesIngress.namespaces=a, b ") == 0);
    CHECK(c.kube.n_namespaces == 2);
    CHECK_STR(c.kube.namespaces[0], "a");
    CHECK_STR(c.kube.namespaces[1], "b");
    static_config_free(&c);

    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "entryPoints:\n  web: [\n", 21) == 21);
    close(fd);
    CHECK(load(&c, &d, 1, cf) != 0);
    CHECK_CONTAINS(d.msg, path);
    static_config_free(&c);
    unlink(path);

    /* ":port/udp" is a UDP entry point, listed apart (udp.timeout: Traefik's 3s unless set); only UDP ones
     * configured: no default :80 */
    CHECK(load(&c, &d, 3, "--entryPoints.dns.address=:5353/udp", "--entryPoints.game.address=127.0.0.1:7777/UDP",
               "--entryPoints.game.udp.timeout=10s") == 0);
    CHECK(c.n_entrypoints == 0);
    CHECK(c.proxy.n_udp_entrypoints == 2);
    if (c.proxy.n_udp_entrypoints == 2) {
        CHECK_STR(c.proxy.udp_entrypoints[0].name, "dns");
        CHECK_STR(c.proxy.udp_entrypoints[0].address, ":5353");
        CHECK(c.proxy.udp_entrypoints[0].timeout_ms == 3000);
        CHECK_STR(c.proxy.udp_entrypoints[1].address, "127.0.0.1:7777");
        CHECK(c.proxy.udp_entrypoints[1].timeout_ms == 10000);
    }
    static_config_free(&c);
    CHECK(load(&c, &d, 2, "--entryPoints.web.address=:8080", "--entryPoints.dns.address=:5353/udp") == 0);
    CHECK(c.n_entrypoints == 1 && c.proxy.n_udp_entrypoints == 1);
    CHECK_STR(c.entrypoints[0].name, "web");
    static_config_free(&c);
    CHECK(load(&c, &d, 2, "--entryPoints.dns.address=:5353/udp", "--entryPoints.dns.udp.timeout=never") != 0);
    static_config_free(&c);
    log_set_level(LOG_INFO);
    return test_report("controller/static_config");
}
