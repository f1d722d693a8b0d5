/*
 * Asynchronous name resolution with re-resolution: a resolver thread runs
 * c-ares (which honours /etc/hosts, /etc/resolv.conf and RES_OPTIONS) and
 * keeps every watched name fresh, re-asking on the answer's TTL clamped to
 * [DNS_MIN_INTERVAL_S, DNS_MAX_INTERVAL_S], and after a failure with
 * exponential backoff. No caller ever waits for a resolver.
 *
 * GANTRY_DNS_SERVERS (e.g. "127.0.0.1:5353"), when set, replaces the
 * resolv.conf name servers: for tests with a private resolver.
 */
#ifndef GANTRY_DNS_H
#define GANTRY_DNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_MIN_INTERVAL_S 1
#define DNS_MAX_INTERVAL_S 60
#define DNS_MAX_ADDRS 8

struct dns_addrs {
    uint32_t n;
    struct sockaddr_storage addr[DNS_MAX_ADDRS];
    socklen_t len[DNS_MAX_ADDRS];
};

/* An answer for a watched name: <addrs> on success (n >= 1), else <err>.
 * Called on the resolver thread with the resolver's lock held: it must be
 * quick and must not call dns_* itself. */
typedef void (*dns_result_cb)(void *ctx, const struct dns_addrs *addrs, const char *err);

struct dns_watch;

/* Fills <ss> when <host> is a literal IPv4/IPv6 address (no resolver). */
bool dns_literal(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

/* Starts watching <host>:<port>: the first question is asked at once, then
 * again on the schedule above. Any thread. The resolver thread starts with
 * the first watch. NULL when c-ares cannot be initialised. */
struct dns_watch *dns_watch(const char *host, int port, dns_result_cb cb, void *ctx);
/* Stops watching; once it returns <cb> is not called again. Any thread. */
void dns_unwatch(struct dns_watch *w);
/* Stops the resolver thread (watches must be gone). */
void dns_shutdown(void);

/* The delay before the next question (pure, for tests): after a success with
 * <ttl_s> the TTL clamped; after <failures> successive failures
 * min * 2^(failures-1), capped at the max. */
uint32_t dns_next_delay_ms(bool ok, int32_t ttl_s, uint32_t failures);

#endif
