/* Tests common/hostport.c: one answer for every address and server url. */
#include "../../../common/hostport.c"

#include "test.h"

static struct hostport hp;
static struct diag d;

/* A parse that should pass: says why when it did not. */
static bool parsed(int rc, const char *s)
{
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  %s: %s\n", s, d.msg);
    return rc == 0;
}

static void ok(const char *s, unsigned flags, const char *host, int port)
{
    if (!parsed(hostport_parse(s, flags, &hp, &d), s))
        return;
    CHECK_STR(hp.host, host);
    CHECK(hp.port == port);
}

static void refused(const char *s, unsigned flags, const char *msg)
{
    diag_clear(&d);
    CHECK(hostport_parse(s, flags, &hp, &d) != 0);
    CHECK_STR(d.msg, msg);
}

static struct server_url u;

static void url_ok(const char *url, bool tcp, const char *scheme, const char *host, int port, bool given)
{
    if (!parsed(server_url_parse(url, tcp, &u, &d), url))
        return;
    CHECK_STR(u.scheme, scheme);
    CHECK_STR(u.host, host);
    CHECK(u.port == port);
    CHECK(u.port_given == given);
}

static void url_refused(const char *url, bool tcp, const char *msg)
{
    diag_clear(&d);
    CHECK(server_url_parse(url, tcp, &u, &d) != 0);
    CHECK_STR(d.msg, msg);
}

int main(void)
{
    const unsigned listen = HOSTPORT_EMPTY_HOST | HOSTPORT_PORT_ZERO;
    ok("example.com:80", 0, "example.com", 80);
    ok("10.0.0.1:65535", 0, "10.0.0.1", 65535);
    ok("svc_name-1.ns:1", 0, "svc_name-1.ns", 1);
    ok("[::1]:8443", 0, "::1", 8443);
    ok("[fe80::1%eth0]:80", 0, "fe80::1%eth0", 80);
    ok(":8080", listen, "", 8080);
    ok(":0", listen, "", 0);
    ok("127.0.0.1:0", listen, "127.0.0.1", 0);
    ok("[::]:80", listen, "::", 80);
    hp.port = 6379; /* a default kept when none is written */
    ok("redis", HOSTPORT_PORT_OPTIONAL, "redis", 6379);
    ok("[::1]", HOSTPORT_PORT_OPTIONAL, "::1", 6379);
    ok("redis:7000", HOSTPORT_PORT_OPTIONAL, "redis", 7000);
    refused("redis:", HOSTPORT_PORT_OPTIONAL, "invalid port in address 'redis:' (port '' is not a number)");

    refused("host:80abc", 0, "invalid port in address 'host:80abc' (port '80abc' is not a number)");
    refused(":80abc", listen, "invalid port in address ':80abc' (port '80abc' is not a number)");
    refused("host: 80", 0, "invalid port in address 'host: 80' (port ' 80' is not a number)");
    refused("host:+80", 0, "invalid port in address 'host:+80' (port '+80' is not a number)");
    refused("host:-1", 0, "invalid port in address 'host:-1' (port '-1' is not a number)");
    refused("host:", 0, "invalid port in address 'host:' (port '' is not a number)");
    refused("host:0", 0, "invalid port in address 'host:0' (port 0 is outside 1..65535)");
    refused("host:65536", 0, "invalid port in address 'host:65536' (port 65536 is outside 1..65535)");
    refused(":99999", listen, "invalid port in address ':99999' (port 99999 is outside 0..65535)");
    refused("host:123456789012", 0, "invalid port in address 'host:123456789012' (port 123456789012 is outside 1..65535)");
    refused("host", 0, "invalid address 'host' (expected host:port)");
    refused("host", listen, "invalid address 'host' (expected host:port or :port)");
    refused(":80", 0, "invalid address ':80' (empty host)");
    refused("", 0, "invalid address '' (empty)");
    refused("[::1:8080", listen, "invalid address '[::1:8080' (expected [v6]:port)");
    refused("[::1]", 0, "invalid address '[::1]' (expected [v6]:port)");
    refused("[::1]8080", 0, "invalid address '[::1]8080' (expected ':' and a port after the host)");
    refused("[]:80", 0, "invalid address '[]:80' (empty host)");
    refused("[abc]:80", 0, "invalid address '[abc]:80' (not an IPv6 address between the brackets)");
    refused("::1:80", 0, "invalid address '::1:80' (an IPv6 address needs brackets: [v6]:port)");
    refused("a b:80", 0, "invalid address 'a b:80' (the host has characters a host name cannot have)");
    refused("a/b:80", 0, "invalid address 'a/b:80' (the host has characters a host name cannot have)");

    url_ok("http://a.b:8080/x", false, "http", "a.b", 8080, true);
    url_ok("HTTP://a.b", false, "http", "a.b", 80, false);
    url_ok("https://[::1]/", false, "https", "::1", 443, false);
    url_ok("https://[::1]:8443?q", false, "https", "::1", 8443, true);
    url_ok("h2c://x", false, "h2c", "x", 80, false);
    url_ok("tcp://10.0.0.1:5432", true, "tcp", "10.0.0.1", 5432, true);
    url_refused("http://x:80abc", false, "invalid server url 'http://x:80abc': port '80abc' is not a number");
    url_refused("http://x:abc/p", false, "invalid server url 'http://x:abc/p': port 'abc' is not a number");
    url_refused("http://a:0", false, "invalid server url 'http://a:0': port 0 is outside 1..65535");
    url_refused("http://a:65536", false, "invalid server url 'http://a:65536': port 65536 is outside 1..65535");
    url_refused("http://:80", false, "invalid server url 'http://:80': empty host");
    url_refused("http://", false, "invalid server url 'http://': empty host");
    url_refused("http://a b", false, "invalid server url 'http://a b': the host has characters a host name cannot have");
    url_refused("http://[::1", false, "invalid server url 'http://[::1': expected [v6]:port");
    url_refused("a:80", false, "invalid server url 'a:80': no scheme (expected http://host:port, https://... or h2c://...)");
    url_refused("ftp://x", false, "invalid server url 'ftp://x': unsupported scheme 'ftp' (expected http, https or h2c)");
    url_refused("tcp://x:1", false, "invalid server url 'tcp://x:1': unsupported scheme 'tcp' (expected http, https or h2c)");
    url_refused("http://x:1", true, "invalid server url 'http://x:1': unsupported scheme 'http' (expected tcp)");
    url_refused("tcp://x", true, "invalid server url 'tcp://x': expected host:port");
    url_refused("tcp://x:80abc", true, "invalid server url 'tcp://x:80abc': port '80abc' is not a number");
    return test_report("common/hostport");
}
