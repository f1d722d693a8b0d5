/*
 * host:port and server URLs (see hostport.h).
 */
#include "hostport.h"

#include <ctype.h>
#include <h2o.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Digits only, no sign or space (strtol would take " +80"). */
static int parse_port(const char *p, size_t n, long *out)
{
    if (n == 0 || n > 5)
        return n == 0 ? -1 : -2; /* > 5 digits: out of range if numeric */
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return n > 0;
}

/* A host name's characters (RFC 1123 and '_', which DNS names in the wild
 * and Docker service names use). */
static bool name_ok(const char *h)
{
    for (; *h; h++)
        if (!(isalnum((unsigned char)*h) || *h == '.' || *h == '-' || *h == '_'))
            return false;
    return true;
}

/*
 * Splits s[0..len) into host and port text. <port_at> is NULL when no
 * port is written. Returns a reason on error, NULL on success.
 */
static const char *split(const char *s, size_t len, bool empty_host, char *host, size_t host_cap, const char **port_at,
                         size_t *port_len)
{
    const char *end = s + len, *host_end;
    if (s[0] == '[') {
        host_end = memchr(s, ']', len);
        if (host_end == NULL)
            return "expected [v6]:port";
        host_end++;
    } else {
        host_end = memchr(s, ':', len);
        if (host_end == NULL)
            host_end = end;
        else if (memchr(host_end + 1, ':', (size_t)(end - host_end - 1)) != NULL)
            return "an IPv6 address needs brackets: [v6]:port";
    }
    *port_at = NULL;
    *port_len = 0;
    if (host_end != end) {
        if (*host_end != ':')
            return "expected ':' and a port after the host";
        *port_at = host_end + 1;
        *port_len = (size_t)(end - host_end - 1);
    }
    if (host_end == s) {
        if (!empty_host)
            return "empty host";
        host[0] = '\0';
        return NULL;
    }
    h2o_iovec_t h;
    uint16_t unused;
    const char *after = h2o_url_parse_hostport(s, (size_t)(host_end - s), &h, &unused);
    if (after == NULL || h.len == 0)
        return "empty host";
    if (after != host_end) /* h2o stops at a '/' */
        return "the host has characters a host name cannot have";
    if (h.len >= host_cap)
        return "host too long";
    memcpy(host, h.base, h.len);
    host[h.len] = '\0';
    if (s[0] == '[' ? strchr(host, ':') == NULL : !name_ok(host))
        return s[0] == '[' ? "not an IPv6 address between the brackets" : "the host has characters a host name cannot have";
    return NULL;
}

/* Fills <msg> with why the port text is refused; 0 when it is fine. */
static int check_port(const char *p, size_t n, long lo, long *port, char *msg, size_t cap)
{
    int rc = parse_port(p, n, port);
    if (rc == -1 || (rc == -2 && !all_digits(p, n))) {
        snprintf(msg, cap, "port '%.*s' is not a number", (int)n, p);
        return -1;
    }
    if (rc == -2 || *port < lo || *port > 65535) {
        snprintf(msg, cap, "port %.*s is outside %ld..65535", (int)n, p, lo);
        return -1;
    }
    return 0;
}

int hostport_parse(const char *s, unsigned flags, struct hostport *hp, struct diag *d)
{
    const char *port_at;
    size_t port_len;
    size_t len = strlen(s);
    const char *why = len == 0 ? "empty" : split(s, len, flags & HOSTPORT_EMPTY_HOST, hp->host, sizeof(hp->host), &port_at, &port_len);
    if (why == NULL && port_at == NULL && (flags & HOSTPORT_PORT_OPTIONAL))
        return 0;
    if (why == NULL && port_at == NULL)
        why = s[0] == '[' ? "expected [v6]:port" : flags & HOSTPORT_EMPTY_HOST ? "expected host:port or :port" : "expected host:port";
    if (why != NULL)
        return diag_set(d, "invalid address '%s' (%s)", s, why);
    char msg[128];
    long port;
    if (check_port(port_at, port_len, flags & HOSTPORT_PORT_ZERO ? 0 : 1, &port, msg, sizeof(msg)) != 0)
        return diag_set(d, "invalid port in address '%s' (%s)", s, msg);
    hp->port = (int)port;
    return 0;
}

int server_url_parse(const char *url, bool tcp, struct server_url *u, struct diag *d)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return diag_set(d, "invalid server url '%s': no scheme (expected %s)", url, tcp ? "tcp://host:port" : "http://host:port, https://... or h2c://...");
    size_t slen = (size_t)(sep - url);
    static const struct {
        const char *name;
        int port;
    } schemes[] = {{"http", 80}, {"https", 443}, {"h2c", 80}, {"tcp", 0}};
    size_t i = tcp ? 3 : 0, n = tcp ? 4 : 3;
    for (; i < n; i++)
        if (strlen(schemes[i].name) == slen && strncasecmp(url, schemes[i].name, slen) == 0)
            break;
    if (i == n)
        return diag_set(d, "invalid server url '%s': unsupported scheme '%.*s' (expected %s)", url, (int)slen, url,
                        tcp ? "tcp" : "http, https or h2c");
    strcpy(u->scheme, schemes[i].name);
    const char *h = sep + 3;
    size_t hlen = strcspn(h, "/?#");
    const char *port_at;
    size_t port_len;
    const char *why = hlen == 0 ? "empty host" : split(h, hlen, false, u->host, sizeof(u->host), &port_at, &port_len);
    if (why != NULL)
        return diag_set(d, "invalid server url '%s': %s", url, why);
    u->port_given = port_at != NULL;
    if (port_at == NULL) {
        if (schemes[i].port == 0)
            return diag_set(d, "invalid server url '%s': expected host:port", url);
        u->port = schemes[i].port;
        return 0;
    }
    char msg[128];
    long port;
    if (check_port(port_at, port_len, 1, &port, msg, sizeof(msg)) != 0)
        return diag_set(d, "invalid server url '%s': %s", url, msg);
    u->port = (int)port;
    return 0;
}

int hostport_listen_address(const char *addr, int socktype, struct sockaddr_storage *ss, socklen_t *len, struct diag *d)
{
    struct hostport hp;
    if (hostport_parse(addr, HOSTPORT_EMPTY_HOST | HOSTPORT_PORT_ZERO, &hp, d) != 0)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (hp.host[0] == '\0') { /* ":8080": every IPv4 and IPv6 address */
        struct sockaddr_in6 *in6 = (void *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)hp.port);
        *len = sizeof(*in6);
        return 0;
    }
    char port[12];
    snprintf(port, sizeof(port), "%d", hp.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(hp.host, port, &hints, &res);
    if (rc != 0)
        return diag_set(d, "address '%s': %s", addr, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
