/* Tests controller/model_decode.c (and model.c's dump): Traefik keys,
 * defaults, errors that name file:line:col and the object. */
#include "../../../controller/model_decode.c"

#include <stdlib.h>

#include "../../../controller/tree_yaml.h"
#include "test.h"

struct result {
    struct model *m;
    struct decode_report rep;
    char *dump;
};

static void decode(struct result *r, const char *yaml)
{
    r->m = model_new("file");
    decode_report_init(&r->rep);
    struct diag d;
    struct tree_node *root = tree_yaml_parse(&r->m->arena, "dyn.yaml", yaml, strlen(yaml), &d);
    CHECK(root != NULL);
    if (root)
        model_decode(r->m, root, &r->rep);
    r->dump = model_dump(r->m);
}

static void done(struct result *r)
{
    free(r->dump);
    decode_report_free(&r->rep);
    model_free(r->m);
}

static const char *error(struct result *r, size_t i)
{
    return i < r->rep.errors.len ? r->rep.errors.items[i] : "(no error)";
}

int main(void)
{
    struct result r;

    decode(&r, "http:\n"
               "  routers:\n"
               "    web:\n"
               "      rule: \"Host(`b.example`)\"\n"
               "      service: app\n"
               "      entryPoints: [web, websecure]\n"
               "      priority: 10\n"
               "      tls: {}\n"
               "    api:\n"
               "      rule: \"PathPrefix(`/api`)\"\n"
               "      service: app@docker\n"
               "  services:\n"
               "    app:\n"
               "      loadBalancer:\n"
               "        servers:\n"
               "          - url: http://10.0.0.1:80\n"
               "          - url: http://10.0.0.2:8080\n"
               "            weight: 3\n"
               "        healthCheck: {path: /health, interval: 2s}\n"
               "tls:\n"
               "  certificates:\n"
               "    - certFile: /a.crt\n"
               "      keyFile: /a.key\n");
    CHECK(r.rep.errors.len == 0 && r.rep.warnings.len == 0);
    CHECK_STR(r.dump, "http:\n"
                      "  routers:\n"
                      "    api:\n"
                      "      rule: PathPrefix(`/api`)\n"
                      "      service: app@docker\n"
                      "    web:\n"
                      "      rule: Host(`b.example`)\n"
                      "      service: app\n"
                      "      entryPoints: [web, websecure]\n"
                      "      priority: 10\n"
                      "      tls: {certResolver: , options: , passthrough: false}\n"
                      "  services:\n"
                      "    app:\n"
                      "      loadBalancer:\n"
                      "        passHostHeader: true\n"
                      "        servers:\n"
                      "          - {url: http://10.0.0.1:80, weight: 1}\n"
                      "          - {url: http://10.0.0.2:8080, weight: 3}\n"
                      "        healthCheck: {path: /health, interval: 2000ms, timeout: 2000ms, unhealthyInterval: 2000ms}\n"
                      "tls:\n"
                      "  certificates:\n"
                      "    - {certFile: /a.crt, keyFile: /a.key}\n");
    struct model_router *web = model_find_router(r.m, "web");
    CHECK(web && web->origin.source && strcmp(web->origin.source, "dyn.yaml:4:7") == 0);
    model_compute_digest(r.m);
    uint64_t digest = r.m->digest;
    done(&r);

    /* same content, other order: same digest */
    decode(&r, "http:\n  services:\n    app:\n      loadBalancer:\n        servers: [{url: http://10.0.0.1:80}, "
               "{url: http://10.0.0.2:8080, weight: 3}]\n        healthCheck: {interval: 2s, path: /health}\n"
               "  routers:\n    api: {service: app@docker, rule: \"PathPrefix(`/api`)\"}\n"
               "    web: {rule: \"Host(`b.example`)\", service: app, entryPoints: [web, websecure], priority: 10, tls: {}}\n"
               "tls: {certificates: [{certFile: /a.crt, keyFile: /a.key}]}\n");
    model_compute_digest(r.m);
    CHECK(r.m->digest == digest);
    done(&r);

    /* keys are case-insensitive; label-style comma lists work */
    decode(&r, "HTTP:\n  Routers:\n    r:\n      RULE: \"Path(`/`)\"\n      entrypoints: \"web, websecure\"\n      service: s\n");
    CHECK(r.rep.errors.len == 0);
    CHECK_CONTAINS(r.dump, "entryPoints: [web, websecure]");
    done(&r);

    /* errors: position and object; the broken object is dropped, others kept */
    decode(&r, "http:\n"
               "  routers:\n"
               "    good:\n"
               "      rule: \"Path(`/`)\"\n"
               "      service: s\n"
               "    nopriority:\n"
               "      rule: \"Path(`/`)\"\n"
               "      priority: high\n"
               "    norule:\n"
               "      service: s\n"
               "  services:\n"
               "    s:\n"
               "      loadBalancer:\n"
               "        servers:\n"
               "          - url: \"ftp://x\"\n"
               "    t:\n"
               "      loadBalancer:\n"
               "        servers: [{url: \"http://ok:1\", weight: -1}]\n"
               "    u: {}\n"
               "    bad@name:\n"
               "      loadBalancer: {servers: []}\n");
    CHECK(r.rep.errors.len == 6);
    CHECK_CONTAINS(error(&r, 0), "dyn.yaml:8:17: expected an integer, got 'high'");
    CHECK_CONTAINS(error(&r, 0), "router 'nopriority'");
    CHECK_CONTAINS(error(&r, 1), "dyn.yaml:10:7: router 'norule': rule is required");
    CHECK_CONTAINS(error(&r, 2), "dyn.yaml:15:18: service 's': invalid server url 'ftp://x'");
    CHECK_CONTAINS(error(&r, 3), "-1 is out of range");
    CHECK_CONTAINS(error(&r, 4), "service 'u': a service needs loadBalancer");
    CHECK_CONTAINS(error(&r, 5), "service 'bad@name': invalid name");
    CHECK(r.m->routers.len == 1 && model_find_router(r.m, "good") != NULL);
    CHECK(r.m->services.len == 0);
    done(&r);

    /* unknown and unsupported keys are warnings naming the key */
    decode(&r, "http:\n  routers:\n    r:\n      rule: \"Path(`/`)\"\n      service: s\n      colour: blue\n"
               "  serversTransports: {}\nudp: {}\nfoo: 1\n");
    CHECK(r.rep.errors.len == 0);
    CHECK(r.rep.warnings.len == 2);
    CHECK_CONTAINS(r.rep.warnings.items[0], "dyn.yaml:6:15: router 'r': unknown key 'colour'");
    CHECK_CONTAINS(r.rep.warnings.items[1], "unknown top-level key 'foo'");
    done(&r);

    /* udp: routers {service, entryPoints}, services {loadBalancer.servers[].address | weighted.services},
     * dumped (and so digested); any other key refuses its object, naming it */
    decode(&r, "udp:\n  routers:\n    dns:\n      service: dns\n      entryPoints: [udp53]\n"
               "    all:\n      service: w\n"
               "  services:\n    dns:\n      loadBalancer:\n        servers: [{address: \"127.0.0.1:5353\"}, {address: \"[::1]:5354\"}]\n"
               "    w:\n      weighted:\n        services: [{name: dns, weight: 3}, {name: other@docker}]\n");
    CHECK(r.rep.errors.len == 0);
    CHECK(r.m->udp_routers.len == 2 && r.m->udp_services.len == 2 && r.m->tcp_services.len == 0);
    CHECK_CONTAINS(r.dump, "udp:\n  routers:\n    all:\n      service: w\n    dns:\n      service: dns\n      entryPoints: [udp53]\n");
    CHECK_CONTAINS(r.dump, "    dns:\n      servers:\n        - {address: 127.0.0.1:5353}\n        - {address: [::1]:5354}\n");
    CHECK_CONTAINS(r.dump, "          - {name: dns, weight: 3}\n          - {name: other@docker, weight: 1}\n");
    done(&r);
    decode(&r, "udp:\n  routers:\n    r1:\n      service: s\n      rule: \"HostSNI(`*`)\"\n"
               "    r2:\n      service: s\n"
               "  services:\n    badaddr:\n      loadBalancer: {servers: [{address: \"nohost\"}]}\n"
               "    typo:\n      loadBalancer: {servers: [{address: \"127.0.0.1:53\", weight: 2}]}\n"
               "    lbkey:\n      loadBalancer: {servers: [{address: \"127.0.0.1:53\"}], sticky: {}}\n"
               "    both:\n      loadBalancer: {servers: [{address: \"127.0.0.1:53\"}]}\n      weighted: {services: [{name: a}]}\n"
               "    none: {}\n"
               "    s:\n      loadBalancer: {servers: [{address: \"127.0.0.1:53\"}]}\n"
               "  foo: {}\n");
    CHECK(r.rep.errors.len == 6);
    CHECK_CONTAINS(error(&r, 0), "udp router 'r1': unknown key 'rule' in udp router");
    CHECK_CONTAINS(error(&r, 1), "udp service 'badaddr'");
    CHECK_CONTAINS(error(&r, 2), "udp service 'typo': unknown key 'weight' in a udp server");
    CHECK_CONTAINS(error(&r, 3), "udp service 'lbkey': unknown key 'sticky' in loadBalancer");
    CHECK_CONTAINS(error(&r, 4), "udp service 'both': a udp service must have exactly one of loadBalancer or weighted");
    CHECK_CONTAINS(error(&r, 5), "udp service 'none': a udp service must have exactly one of loadBalancer or weighted");
    CHECK(r.rep.warnings.len == 1);
    CHECK_CONTAINS(r.rep.warnings.items[0], "unknown key 'udp.foo'");
    CHECK(r.m->udp_routers.len == 1 && r.m->udp_services.len == 1);
    done(&r);

    /* middlewares, mirroring, weighted, tcp: modelled for later stages */
    decode(&r, "http:\n  middlewares:\n    strip:\n      stripPrefix:\n        prefixes: [/a, /b]\n"
               "    bad:\n      nosuchtype: {}\n"
               "    pages:\n      errors: {status: [\"404\"], service: p, errorRequestHeaders: []}\n"
               "  services:\n    m:\n      mirroring:\n        service: main\n        mirrors: [{name: shadow, percent: 10}]\n"
               "    w:\n      weighted:\n        services: [{name: a, weight: 3}, {name: b}]\n"
               "tcp:\n  routers:\n    db:\n      rule: \"HostSNI(`db.example`)\"\n      service: pg\n      tls: {passthrough: true}\n"
               "  services:\n    pg:\n      loadBalancer:\n        servers: [{address: \"10.0.0.5:5432\"}]\n");
    /* an unknown type is kept (the aggregator refuses its routers), the file loads */
    CHECK(r.rep.errors.len == 0);
    CHECK_CONTAINS(r.dump, "bad:\n      nosuchtype:\n");
    CHECK_CONTAINS(r.dump, "stripPrefix:\n        prefixes[0]: /a\n        prefixes[1]: /b");
    /* an empty list is kept as set-but-empty (errorRequestHeaders: [] forwards no header; absent forwards all) */
    CHECK_CONTAINS(r.dump, "errors:\n        status[0]: 404\n        service: p\n        errorRequestHeaders: \n");
    CHECK_CONTAINS(r.dump, "mirroring:\n        service: main\n        mirrorBody: true\n        maxBodySize: -1\n"
                           "        mirrors:\n          - {name: shadow, percent: 10}");
    CHECK_CONTAINS(r.dump, "weighted:\n        services:\n          - {name: a, weight: 3}\n          - {name: b, weight: 1}");
    CHECK_CONTAINS(r.dump, "tcp:\n  routers:\n    db:\n      rule: HostSNI(`db.example`)");
    CHECK_CONTAINS(r.dump, "passthrough: true");
    CHECK_CONTAINS(r.dump, "- {address: 10.0.0.5:5432}");
    done(&r);

    /* tcp weighted services: services[{name, weight 1 unless given}], dumped (and so digested) with their weights */
    decode(&r, "tcp:\n  services:\n    pg:\n      weighted:\n        services: [{name: old, weight: 9}, {name: new@docker}]\n"
               "    empty:\n      weighted: {services: []}\n"
               "    both:\n      loadBalancer: {servers: [{address: \"10.0.0.5:5432\"}]}\n      weighted: {services: [{name: a}]}\n");
    CHECK(r.rep.errors.len == 2);
    CHECK_CONTAINS(error(&r, 0), "tcp service 'empty': weighted.services must name at least one TCP service");
    CHECK_CONTAINS(error(&r, 1), "tcp service 'both': a tcp service must have exactly one of loadBalancer or weighted");
    CHECK_CONTAINS(r.dump, "    pg:\n      weighted:\n        services:\n          - {name: old, weight: 9}\n"
                           "          - {name: new@docker, weight: 1}\n");
    done(&r);

    /* the same from labels (dotted paths with indexes, as Docker's) */
    {
        r.m = model_new("docker");
        decode_report_init(&r.rep);
        struct tree_node *root = tree_new_node(&r.m->arena, TREE_MAP, "labels", 0, 0);
        struct diag d;
        CHECK(tree_set_path(&r.m->arena, root, "tcp.services.pg.weighted.services[0].name", "old", "label", &d) == 0);
        CHECK(tree_set_path(&r.m->arena, root, "tcp.services.pg.weighted.services[0].weight", "3", "label", &d) == 0);
        CHECK(tree_set_path(&r.m->arena, root, "tcp.services.pg.weighted.services[1].name", "new", "label", &d) == 0);
        model_decode(r.m, root, &r.rep);
        r.dump = model_dump(r.m);
        CHECK(r.rep.errors.len == 0);
        CHECK_CONTAINS(r.dump, "- {name: old, weight: 3}\n          - {name: new, weight: 1}\n");
        done(&r);
    }

    /* tcp.middlewares: their own list, dumped under tcp */
    decode(&r, "tcp:\n  middlewares:\n    only-lan:\n      ipAllowList:\n        sourceRange: [10.0.0.0/8, 127.0.0.1]\n"
               "    few:\n      inFlightConn:\n        amount: 10\n"
               "  routers:\n    db:\n      rule: \"HostSNI(`*`)\"\n      service: pg\n      middlewares: [only-lan, few]\n");
    CHECK(r.rep.errors.len == 0 && r.rep.warnings.len == 0);
    CHECK(r.m->tcp_middlewares.len == 2 && r.m->middlewares.len == 0);
    CHECK_CONTAINS(r.dump, "middlewares: [only-lan, few]");
    CHECK_CONTAINS(r.dump, "  middlewares:\n    few:\n      inFlightConn:\n        amount: 10\n");
    CHECK_CONTAINS(r.dump, "only-lan:\n      ipAllowList:\n        sourceRange[0]: 10.0.0.0/8\n        sourceRange[1]: 127.0.0.1");
    done(&r);

    /* serversTransports: peerCertURI is applied (kept), spiffe is not (its services are refused) */
    decode(&r, "http:\n  serversTransports:\n    mesh:\n      peerCertURI: \"spiffe://example.org/peer\"\n"
               "      insecureSkipVerify: true\n    sp:\n      spiffe: {ids: [\"spiffe://x\"]}\n");
    CHECK(r.rep.errors.len == 0);
    CHECK_CONTAINS(r.dump, "mesh:\n      serverName: \n      insecureSkipVerify: true\n");
    CHECK_CONTAINS(r.dump, "      peerCertURI: spiffe://example.org/peer\n");
    CHECK_CONTAINS(r.dump, "sp:\n");
    CHECK_CONTAINS(r.dump, "      unsupported: spiffe\n");
    done(&r);

    /* peerCertSANs: URI and DNSName entries kept; another type refuses the transport's services only */
    decode(&r, "http:\n  serversTransports:\n    mesh:\n      peerCertSANs:\n        - {type: DNSName, value: foo.com}\n"
               "        - {type: URI, value: \"spiffe://example.org/peer\"}\n"
               "    bad:\n      peerCertSANs: [{type: IPAddress, value: 10.0.0.1}]\n");
    CHECK(r.rep.errors.len == 0);
    CHECK_CONTAINS(r.dump, "      peerCertSANs: DNSName:foo.com\n      peerCertSANs: URI:spiffe://example.org/peer\n");
    CHECK_CONTAINS(r.dump, "      unsupported: peerCertSANs entry {type: 'IPAddress', value: '10.0.0.1'}");
    done(&r);

    /* tcp: servers[].tls and the transport's tls (Traefik's TLSClientConfig), dumped so that a change is digested */
    decode(&r, "tcp:\n  services:\n    db:\n      loadBalancer:\n        serversTransport: secure\n"
               "        servers: [{address: \"db:5432\", tls: true}, {address: \"db2:5432\", tls: false}, {address: \"db3:5432\"}]\n"
               "  serversTransports:\n"
               "    secure:\n      dialTimeout: 2s\n      tls:\n        serverName: db.internal\n        insecureSkipVerify: false\n"
               "        rootCAs: [/ca.pem]\n        certificates: [{certFile: /c.pem, keyFile: /k.pem}]\n"
               "        peerCertURI: \"spiffe://example.org/db\"\n"
               "    empty: {tls: {}}\n    none: {dialTimeout: 1s}\n");
    CHECK(r.rep.errors.len == 0 && r.rep.warnings.len == 0);
    CHECK_CONTAINS(r.dump, "        - {address: db:5432, tls: true}\n        - {address: db2:5432}\n        - {address: db3:5432}\n");
    CHECK_CONTAINS(r.dump, "    secure:\n      dialTimeout: 2000ms\n      tls:\n        serverName: db.internal\n"
                           "        insecureSkipVerify: false\n        rootCA: /ca.pem\n        certificate: /c.pem /k.pem\n"
                           "        peerCertURI: spiffe://example.org/db\n");
    CHECK_CONTAINS(r.dump, "    empty:\n      dialTimeout: 0ms\n      tls:\n        serverName: \n");
    CHECK_CONTAINS(r.dump, "    none:\n      dialTimeout: 1000ms\n    secure:");
    CHECK(strstr(r.dump, "unsupported") == NULL);
    done(&r);
    /* tls.spiffe (or spiffe beside tls) refuses the transport's services; bad values are errors naming the key */
    decode(&r, "tcp:\n  serversTransports:\n    sp:\n      tls: {spiffe: {ids: [\"spiffe://x\"]}}\n"
               "    sp2:\n      spiffe: {trustDomain: example.org}\n");
    CHECK(r.rep.errors.len == 0);
    CHECK_CONTAINS(r.dump, "    sp:\n      dialTimeout: 0ms\n      tls:\n        serverName: \n        insecureSkipVerify: false\n"
                           "      unsupported: tls.spiffe\n");
    CHECK_CONTAINS(r.dump, "    sp2:\n      dialTimeout: 0ms\n      unsupported: spiffe\n");
    done(&r);
    decode(&r, "tcp:\n  services:\n    db:\n      loadBalancer:\n        servers: [{address: \"db:5432\", tls: maybe}]\n");
    CHECK(r.rep.errors.len == 1);
    CHECK_CONTAINS(error(&r, 0), "maybe");
    done(&r);
    decode(&r, "tcp:\n  serversTransports:\n    t1:\n      tls: {insecureSkipVerify: sometimes}\n"
               "    t2:\n      tls: {certificates: [{certFile: /c.pem}]}\n    t3:\n      tls: yes-please\n");
    CHECK(r.rep.errors.len == 3);
    CHECK_CONTAINS(error(&r, 0), "sometimes");
    CHECK_CONTAINS(error(&r, 1), "certFile and keyFile are both required");
    CHECK_CONTAINS(error(&r, 2), "tls must be a mapping of keys");
    done(&r);

    /* terminationDelay: the deprecated loadBalancer one is milliseconds (an integer, labels' strings too), the
     * transport's a duration (a bare integer is seconds); both may be negative (wait forever); dumped, so digested */
    decode(&r, "tcp:\n  services:\n    a:\n      loadBalancer:\n        terminationDelay: 250\n"
               "        servers: [{address: \"a:1\"}]\n"
               "    b:\n      loadBalancer:\n        terminationDelay: \"-1\"\n        servers: [{address: \"b:1\"}]\n"
               "    c:\n      loadBalancer:\n        servers: [{address: \"c:1\"}]\n"
               "  serversTransports:\n    slow: {terminationDelay: 2s}\n    forever: {terminationDelay: -1s}\n"
               "    secs: {terminationDelay: 3}\n    now: {terminationDelay: 0s}\n    unset: {dialTimeout: 1s}\n");
    CHECK(r.rep.errors.len == 0 && r.rep.warnings.len == 0);
    CHECK_CONTAINS(r.dump, "    a:\n      servers:\n        - {address: a:1}\n      terminationDelay: 250\n");
    CHECK_CONTAINS(r.dump, "    b:\n      servers:\n        - {address: b:1}\n      terminationDelay: -1\n");
    CHECK_CONTAINS(r.dump, "    c:\n      servers:\n        - {address: c:1}\n  ");
    CHECK_CONTAINS(r.dump, "    slow:\n      dialTimeout: 0ms\n      terminationDelay: 2000ms\n");
    CHECK_CONTAINS(r.dump, "    forever:\n      dialTimeout: 0ms\n      terminationDelay: -1000ms\n");
    CHECK_CONTAINS(r.dump, "    secs:\n      dialTimeout: 0ms\n      terminationDelay: 3000ms\n");
    CHECK_CONTAINS(r.dump, "    now:\n      dialTimeout: 0ms\n      terminationDelay: 0ms\n");
    CHECK_CONTAINS(r.dump, "    unset:\n      dialTimeout: 1000ms\n");
    CHECK(strstr(r.dump, "    unset:\n      dialTimeout: 1000ms\n      terminationDelay") == NULL);
    done(&r);
    /* the same from labels, lowercase as Docker users write them */
    {
        r.m = model_new("docker");
        decode_report_init(&r.rep);
        struct tree_node *root = tree_new_node(&r.m->arena, TREE_MAP, "labels", 0, 0);
        struct diag d;
        CHECK(tree_set_path(&r.m->arena, root, "tcp.services.pg.loadbalancer.server.port", "5432", "label", &d) == 0);
        CHECK(tree_set_path(&r.m->arena, root, "tcp.services.pg.loadbalancer.terminationdelay", "-1", "label", &d) == 0);
        model_decode(r.m, root, &r.rep);
        r.dump = model_dump(r.m);
        CHECK(r.rep.errors.len == 0);
        CHECK_CONTAINS(r.dump, "      terminationDelay: -1\n");
        done(&r);
    }
    /* bad values: errors naming the key and the value */
    decode(&r, "tcp:\n  services:\n    a:\n      loadBalancer:\n        terminationDelay: soon\n"
               "        servers: [{address: \"a:1\"}]\n"
               "  serversTransports:\n    t1: {terminationDelay: -soon}\n    t2: {terminationDelay: 1.5}\n");
    CHECK(r.rep.errors.len == 3);
    CHECK_CONTAINS(error(&r, 0), "soon");
    CHECK_CONTAINS(error(&r, 1), "-soon");
    CHECK_CONTAINS(error(&r, 2), "1.5");
    done(&r);

    /* tls.stores: defaultGeneratedCert (resolver, domain), other stores a problem of the provider */
    decode(&r, "tls:\n"
               "  stores:\n"
               "    default:\n"
               "      defaultGeneratedCert:\n"
               "        resolver: le\n"
               "        domain: {main: d.example, sans: [e.example]}\n"
               "    other:\n"
               "      defaultCertificate: {certFile: /x.crt, keyFile: /x.key}\n");
    CHECK(r.rep.errors.len == 0);
    CHECK(r.m->default_generated != NULL && r.m->default_cert == NULL);
    if (r.m->default_generated) {
        CHECK_STR(r.m->default_generated->resolver, "le");
        CHECK_STR(r.m->default_generated->domain.main, "d.example");
        CHECK(r.m->default_generated->domain.n_sans == 1);
    }
    CHECK(r.m->problems.len == 1);
    if (r.m->problems.len == 1)
        CHECK_CONTAINS((const char *)r.m->problems.items[0],
                       "dyn.yaml:8:7: tls.stores.other: only the TLS store named 'default' is supported; this store is ignored");
    CHECK_CONTAINS(r.dump, "  defaultGeneratedCert: {resolver: le, main: d.example, sans: e.example}\n");
    done(&r);
    decode(&r, "tls:\n  stores:\n    default:\n      defaultGeneratedCert: {domain: {main: d.example}}\n");
    CHECK_CONTAINS(error(&r, 0), "resolver and domain.main are both required");
    CHECK(r.m->default_generated == NULL);
    done(&r);

    return test_report("controller/model_decode");
}
