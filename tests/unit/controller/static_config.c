/* Tests controller/static_config.c: flags over file, defaults, errors. */
#include "../../../controller/static_config.c"

#include <fcntl.h>
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

int main(void)
{
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
    log_set_level(LOG_INFO);
    return test_report("controller/static_config");
}
