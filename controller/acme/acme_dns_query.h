/*
 * A small DNS client for the DNS-01 propagation check: one question to one
 * server (IPv4 or IPv6, any port), UDP with TCP when the answer is
 * truncated, bounded in time, with or without recursion desired (the
 * authoritative servers are asked without it, as lego does). libresolv's
 * res_nquery takes neither IPv6 servers nor a per-call deadline, hence this.
 * The readers below pick records out of an answer.
 */
#ifndef GANTRY_ACME_DNS_QUERY_H
#define GANTRY_ACME_DNS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define ACME_DNS_MAX_MSG 65535
#define ACME_DNS_NAME_MAX 256

/* A server to ask, and how it was written (for messages). */
struct acme_dns_server {
    struct sockaddr_storage addr;
    socklen_t len;
    char name[64];
};

/* "IPv4", "IPv4:port", "[IPv6]", "[IPv6]:port" or a bare IPv6 address;
 * port 53 when absent (lego). No host names: -1 with <why>. */
int acme_dns_server_parse(const char *s, struct acme_dns_server *out, char *why, size_t why_len);
/* The nameservers of /etc/resolv.conf (at most <max>); 127.0.0.1:53 when it names none (glibc). */
size_t acme_dns_system_servers(struct acme_dns_server *out, size_t max);

/* Asks <server> for <name> <type> (ns_t_*), recursion desired when <recurse>.
 * The answer in <msg> (ACME_DNS_MAX_MSG bytes); its length, or -1 with <why>
 * (no answer within <timeout_ms>, unreadable answer). */
int acme_dns_exchange(const struct acme_dns_server *server, const char *name, int type, bool recurse, uint64_t timeout_ms,
                      unsigned char *msg, char *why, size_t why_len);

/* The answer's RCODE (ns_r_*), -1 when unreadable. */
int acme_dns_rcode(const unsigned char *msg, int len);
/* Whether the answer section holds a record of <type> (for <name> when not NULL). */
bool acme_dns_answer_has(const unsigned char *msg, int len, int type, const char *name);
/* The target of <name>'s CNAME in the answer section, with its final dot: 1, or 0 when there is none. */
int acme_dns_answer_cname(const unsigned char *msg, int len, const char *name, char *target, size_t target_len);
/* 1 when a TXT record of the answer section (its strings joined) is <value>, else 0; the values seen, "; "
 * separated, in <seen>. */
int acme_dns_answer_txt(const unsigned char *msg, int len, const char *value, char *seen, size_t seen_len);
/* The names (final dot) of the records of <type> (ns_t_ns) in the answer section, at most <max>; their count. */
size_t acme_dns_answer_names(const unsigned char *msg, int len, int type, char (*names)[ACME_DNS_NAME_MAX], size_t max);
/* The A and AAAA addresses of <name> in the answer and additional sections (glue), port 53, at most <max>. */
size_t acme_dns_answer_addrs(const unsigned char *msg, int len, const char *name, struct acme_dns_server *out, size_t max);

/* Whether two names are the same (case, a final dot ignored). */
bool acme_dns_same_name(const char *a, const char *b);

#endif
