/* A bounded DNS exchange over UDP (TCP on truncation) with IPv4 or IPv6
 * servers, and readers of its answer (see acme_dns_query.h). */
#include "acme_dns_query.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define UDP_TRIES 2 /* the question is sent again once, halfway through the time */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int acme_dns_server_parse(const char *s, struct acme_dns_server *out, char *why, size_t why_len)
{
    const char *orig = s;
    char host[64];
    const char *port_s = NULL;
    size_t hl;
    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(why, why_len, "'%s': a bracketed IPv6 address is '[address]:port'", s);
            return -1;
        }
        hl = (size_t)(close - s - 1);
        s++;
        port_s = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) { /* more than one colon: a bare IPv6 address */
            hl = strlen(s);
        } else {
            hl = colon ? (size_t)(colon - s) : strlen(s);
            port_s = colon ? colon + 1 : NULL;
        }
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(why, why_len, "'%s': no address", orig);
        return -1;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    long port = 53;
    if (port_s) {
        char *end;
        port = strtol(port_s, &end, 10);
        if (end == port_s || *end != '\0' || port < 1 || port > 65535) {
            snprintf(why, why_len, "'%s': bad port", orig);
            return -1;
        }
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
    } else {
        snprintf(why, why_len, "'%s': gantry takes an IP address and a port (e.g. 1.1.1.1:53 or [2606:4700:4700::1111]:53)",
                 orig);
        return -1;
    }
    snprintf(out->name, sizeof(out->name), "%s", orig);
    return 0;
}

size_t acme_dns_system_servers(struct acme_dns_server *out, size_t max)
{
    size_t n = 0;
    FILE *f = fopen("/etc/resolv.conf", "re");
    if (f) {
        char line[512];
        while (n < max && fgets(line, sizeof(line), f)) {
            char addr[128];
            char why[128];
            if (sscanf(line, " nameserver %127s", addr) == 1 && strchr(addr, '%') == NULL &&
                acme_dns_server_parse(addr, &out[n], why, sizeof(why)) == 0)
                n++;
        }
        fclose(f);
    }
    if (n == 0 && max > 0) {
        char why[128];
        if (acme_dns_server_parse("127.0.0.1:53", &out[0], why, sizeof(why)) == 0)
            n = 1;
    }
    return n;
}

/* The question, with a random id: its length, or -1 for a name that is not one. */
static int build_query(const char *name, int type, bool recurse, unsigned char *q, size_t qlen, uint16_t *id)
{
    unsigned char rnd[2];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return -1;
    *id = (uint16_t)(rnd[0] << 8 | rnd[1]);
    memset(q, 0, 12);
    q[0] = rnd[0];
    q[1] = rnd[1];
    q[2] = recurse ? 0x01 : 0x00; /* QUERY, RD */
    q[5] = 1;                     /* QDCOUNT */
    size_t o = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63 || o + l + 1 > qlen - 5 || o + l + 1 > 12 + 255)
            return -1;
        q[o++] = (unsigned char)l;
        memcpy(q + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    q[o++] = 0;
    q[o++] = (unsigned char)(type >> 8);
    q[o++] = (unsigned char)type;
    q[o++] = 0;
    q[o++] = ns_c_in;
    return (int)o;
}

/* Waits for <events> on <fd> until <deadline>: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t t = now_ms();
        if (t >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)(deadline - t));
        if (rc < 0 && errno == EINTR)
            continue;
        return rc < 0 ? -1 : rc > 0;
    }
}

static int tcp_exchange(const struct acme_dns_server *s, const unsigned char *q, int qlen, uint16_t id, uint64_t deadline,
                        unsigned char *msg, char *why, size_t why_len)
{
    int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    int n = -1;
    if (connect(fd, (const struct sockaddr *)&s->addr, s->len) != 0 && errno != EINPROGRESS) {
        snprintf(why, why_len, "TCP connect: %s", strerror(errno));
        goto done;
    }
    int err = 0;
    socklen_t el = sizeof(err);
    if (wait_fd(fd, POLLOUT, deadline) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        snprintf(why, why_len, "TCP connect: %s", err ? strerror(err) : "timed out");
        goto done;
    }
    unsigned char out[2 + 512];
    out[0] = (unsigned char)(qlen >> 8);
    out[1] = (unsigned char)qlen;
    memcpy(out + 2, q, (size_t)qlen);
    if (send(fd, out, (size_t)qlen + 2, MSG_NOSIGNAL) != qlen + 2) {
        snprintf(why, why_len, "TCP send: %s", strerror(errno));
        goto done;
    }
    /* the two-byte length, then the message */
    unsigned char lenb[2];
    size_t got = 0, want = 2;
    unsigned char *dst = lenb;
    for (int phase = 0; phase < 2;) {
        if (got == want) {
            if (phase++ == 0) {
                want = (size_t)(lenb[0] << 8 | lenb[1]);
                got = 0;
                dst = msg;
                if (want < 12) {
                    snprintf(why, why_len, "TCP: short answer");
                    goto done;
                }
            }
            continue;
        }
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            snprintf(why, why_len, "TCP: %s", w == 0 ? "no answer in time" : strerror(errno));
            goto done;
        }
        ssize_t r = recv(fd, dst + got, want - got, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            snprintf(why, why_len, "TCP: connection closed");
            goto done;
        }
        got += (size_t)r;
    }
    if ((uint16_t)(msg[0] << 8 | msg[1]) != id) {
        snprintf(why, why_len, "TCP: answer to another question");
        goto done;
    }
    n = (int)want;
done:
    close(fd);
    return n;
}

int acme_dns_exchange(const struct acme_dns_server *s, const char *name, int type, bool recurse, uint64_t timeout_ms,
                      unsigned char *msg, char *why, size_t why_len)
{
    unsigned char q[512];
    uint16_t id;
    int qlen = build_query(name, type, recurse, q, sizeof(q), &id);
    if (qlen < 0) {
        snprintf(why, why_len, "'%s' is not a domain name", name);
        return -1;
    }
    uint64_t start = now_ms(), deadline = start + timeout_ms;
    int fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&s->addr, s->len) != 0) {
        snprintf(why, why_len, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    int n = -1;
    snprintf(why, why_len, "no answer within %llu ms", (unsigned long long)timeout_ms);
    for (int attempt = 0; attempt < UDP_TRIES && n < 0; attempt++) {
        uint64_t until = attempt + 1 == UDP_TRIES ? deadline : start + timeout_ms * (uint64_t)(attempt + 1) / UDP_TRIES;
        if (send(fd, q, (size_t)qlen, 0) != qlen) {
            snprintf(why, why_len, "send: %s", strerror(errno));
            break;
        }
        while (n < 0 && wait_fd(fd, POLLIN, until) > 0) {
            ssize_t r = recv(fd, msg, ACME_DNS_MAX_MSG, 0);
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                snprintf(why, why_len, "%s", strerror(errno)); /* e.g. ICMP port unreachable */
                break;
            }
            /* an answer to our question (a stray or stale one is skipped) */
            if (r >= 12 && (uint16_t)(msg[0] << 8 | msg[1]) == id && (msg[2] & 0x80))
                n = (int)r;
        }
        if (n < 0 && strncmp(why, "no answer", 9) != 0)
            break;
    }
    close(fd);
    if (n >= 0 && (msg[2] & 0x02)) /* TC: the whole answer over TCP */
        n = tcp_exchange(s, q, qlen, id, deadline, msg, why, why_len);
    if (n >= 0) {
        ns_msg m;
        if (ns_initparse(msg, n, &m) != 0) {
            snprintf(why, why_len, "unreadable answer");
            return -1;
        }
    }
    return n;
}

int acme_dns_rcode(const unsigned char *msg, int len)
{
    ns_msg m;
    if (ns_initparse(msg, len, &m) != 0)
        return -1;
    return (int)ns_msg_getflag(m, ns_f_rcode);
}

bool acme_dns_same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* Calls <fn> for each record of <section>; stops at a non-zero return, which is returned. */
typedef int (*rr_fn)(ns_msg *m, ns_rr *rr, void *data);
static int each_rr(const unsigned char *msg, int len, ns_sect section, rr_fn fn, void *data)
{
    ns_msg m;
    if (ns_initparse(msg, len, &m) != 0)
        return 0;
    for (int i = 0; i < ns_msg_count(m, section); i++) {
        ns_rr rr;
        if (ns_parserr(&m, section, i, &rr) != 0)
            break;
        int rc = fn(&m, &rr, data);
        if (rc)
            return rc;
    }
    return 0;
}

/* The domain name in <rr>'s data, with its final dot. */
static int rdata_name(ns_msg *m, ns_rr *rr, char *out, size_t out_len)
{
    char name[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(*m), ns_msg_end(*m), ns_rr_rdata(*rr), name, sizeof(name)) < 0)
        return -1;
    size_t l = strlen(name);
    if (l + 2 > out_len)
        return -1;
    snprintf(out, out_len, "%s%s", name, l && name[l - 1] == '.' ? "" : ".");
    return 0;
}

struct has_ctx {
    int type;
    const char *name;
};

static int has_fn(ns_msg *m, ns_rr *rr, void *data)
{
    struct has_ctx *c = data;
    (void)m;
    return (int)ns_rr_type(*rr) == c->type && (c->name == NULL || acme_dns_same_name(ns_rr_name(*rr), c->name));
}

bool acme_dns_answer_has(const unsigned char *msg, int len, int type, const char *name)
{
    struct has_ctx c = {type, name};
    return each_rr(msg, len, ns_s_an, has_fn, &c) != 0;
}

struct cname_ctx {
    const char *name;
    char *target;
    size_t target_len;
};

static int cname_fn(ns_msg *m, ns_rr *rr, void *data)
{
    struct cname_ctx *c = data;
    if (ns_rr_type(*rr) != ns_t_cname || !acme_dns_same_name(ns_rr_name(*rr), c->name))
        return 0;
    return rdata_name(m, rr, c->target, c->target_len) == 0;
}

int acme_dns_answer_cname(const unsigned char *msg, int len, const char *name, char *target, size_t target_len)
{
    struct cname_ctx c = {name, target, target_len};
    return each_rr(msg, len, ns_s_an, cname_fn, &c);
}

struct txt_ctx {
    const char *value;
    char *seen;
    size_t seen_len, used;
};

static int txt_fn(ns_msg *m, ns_rr *rr, void *data)
{
    struct txt_ctx *c = data;
    (void)m;
    if (ns_rr_type(*rr) != ns_t_txt)
        return 0;
    /* the character-strings of one record, joined (a long value may be split) */
    const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
    char txt[1024];
    size_t tl = 0;
    while (p < end) {
        size_t l = *p++;
        if (l > (size_t)(end - p) || tl + l >= sizeof(txt))
            break;
        memcpy(txt + tl, p, l);
        tl += l;
        p += l;
    }
    txt[tl] = '\0';
    if (c->seen_len > c->used + 1) {
        int w = snprintf(c->seen + c->used, c->seen_len - c->used, "%s%s", c->used ? "; " : "", txt);
        c->used = w < 0 ? c->used : c->used + (size_t)w >= c->seen_len ? c->seen_len - 1 : c->used + (size_t)w;
    }
    return strlen(c->value) == tl && memcmp(txt, c->value, tl) == 0;
}

int acme_dns_answer_txt(const unsigned char *msg, int len, const char *value, char *seen, size_t seen_len)
{
    struct txt_ctx c = {value, seen, seen_len, 0};
    if (seen_len)
        seen[0] = '\0';
    return each_rr(msg, len, ns_s_an, txt_fn, &c);
}

struct names_ctx {
    int type;
    char (*names)[ACME_DNS_NAME_MAX];
    size_t max, n;
};

static int names_fn(ns_msg *m, ns_rr *rr, void *data)
{
    struct names_ctx *c = data;
    if ((int)ns_rr_type(*rr) == c->type && c->n < c->max && rdata_name(m, rr, c->names[c->n], ACME_DNS_NAME_MAX) == 0)
        c->n++;
    return 0;
}

size_t acme_dns_answer_names(const unsigned char *msg, int len, int type, char (*names)[ACME_DNS_NAME_MAX], size_t max)
{
    struct names_ctx c = {type, names, max, 0};
    each_rr(msg, len, ns_s_an, names_fn, &c);
    return c.n;
}

struct addrs_ctx {
    const char *name;
    struct acme_dns_server *out;
    size_t max, n;
};

static int addrs_fn(ns_msg *m, ns_rr *rr, void *data)
{
    struct addrs_ctx *c = data;
    (void)m;
    if (c->n >= c->max || !acme_dns_same_name(ns_rr_name(*rr), c->name))
        return 0;
    struct acme_dns_server *s = &c->out[c->n];
    memset(s, 0, sizeof(*s));
    char text[INET6_ADDRSTRLEN];
    if (ns_rr_type(*rr) == ns_t_a && ns_rr_rdlen(*rr) == 4) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&s->addr;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(53);
        memcpy(&v4->sin_addr, ns_rr_rdata(*rr), 4);
        s->len = sizeof(*v4);
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
        snprintf(s->name, sizeof(s->name), "%s:53", text);
    } else if (ns_rr_type(*rr) == ns_t_aaaa && ns_rr_rdlen(*rr) == 16) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&s->addr;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(53);
        memcpy(&v6->sin6_addr, ns_rr_rdata(*rr), 16);
        s->len = sizeof(*v6);
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
        snprintf(s->name, sizeof(s->name), "[%s]:53", text);
    } else {
        return 0;
    }
    for (size_t i = 0; i < c->n; i++) /* the same address in both sections once */
        if (c->out[i].len == s->len && memcmp(&c->out[i].addr, &s->addr, s->len) == 0)
            return 0;
    c->n++;
    return 0;
}

size_t acme_dns_answer_addrs(const unsigned char *msg, int len, const char *name, struct acme_dns_server *out, size_t max)
{
    struct addrs_ctx c = {name, out, max, 0};
    each_rr(msg, len, ns_s_an, addrs_fn, &c);
    each_rr(msg, len, ns_s_ar, addrs_fn, &c);
    return c.n;
}
