/* Tests the `ocsp` section of controller/static_config.c: off unless
 * present, `--ocsp=true`, `ocsp: {}`, responderOverrides, what is refused. */
#include "../../../controller/static_config.c"

#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static int load_file(struct static_config *c, struct diag *d, const char *yaml)
{
    char path[] = "/tmp/gantry-ocsp-static-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    char cf[64];
    snprintf(cf, sizeof(cf), "--configFile=%s", path);
    char *argv[] = {cf};
    int rc = static_config_load(c, 1, argv, d);
    unlink(path);
    return rc;
}

int main(void)
{
    struct static_config c;
    struct diag d;
    char *none[] = {NULL};
    CHECK(static_config_load(&c, 0, none, &d) == 0 && !c.ocsp.enabled); /* Traefik's default: off */
    static_config_free(&c);

    char *flag[] = {"--ocsp=true"};
    CHECK(static_config_load(&c, 1, flag, &d) == 0 && c.ocsp.enabled && c.ocsp.n_overrides == 0);
    static_config_free(&c);
    char *off[] = {"--ocsp=false"};
    CHECK(static_config_load(&c, 1, off, &d) == 0 && !c.ocsp.enabled);
    static_config_free(&c);

    CHECK(load_file(&c, &d, "ocsp: {}\n") == 0 && c.ocsp.enabled);
    static_config_free(&c);
    CHECK(load_file(&c, &d, "ocsp:\n  responderOverrides:\n    \"http://ocsp.ca.test\": \"http://127.0.0.1:8888/\"\n"
                            "    \"http://other.test/\": \"\"\n") == 0);
    CHECK(c.ocsp.enabled && c.ocsp.n_overrides == 2);
    CHECK_STR(c.ocsp.override_from[0], "http://ocsp.ca.test");
    CHECK_STR(c.ocsp.override_to[0], "http://127.0.0.1:8888/");
    CHECK_STR(c.ocsp.override_to[1], "");
    CHECK(c.warnings.len == 0);
    static_config_free(&c);

    CHECK(load_file(&c, &d, "ocsp:\n  responderOverrides: [a, b]\n") != 0);
    CHECK_CONTAINS(d.msg, "responderOverrides must map responder URLs to URLs");
    static_config_free(&c);
    CHECK(load_file(&c, &d, "ocsp:\n  responderOverrides:\n    a: {b: c}\n") != 0);
    static_config_free(&c);
    return test_report("controller/ocsp_static_config");
}
