/*
 * ingress-nginx's upstream-hash-by: an nginx variable expression
 * ("$request_uri", "$host$uri", "${http_x_tenant}", "$cookie_session",
 * "$arg_user") evaluated per request into the key of the rendezvous (hrw)
 * balancer, so requests with equal values go to the same server while it
 * is up, and only the share of a server that leaves moves.
 */
#ifndef GANTRY_PROXY_HASH_KEY_H
#define GANTRY_PROXY_HASH_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "../common/arena.h"

struct hash_key;

/* <expr> compiled in <a>; NULL with <err> naming what is not understood
 * (an nginx variable gantry does not evaluate, or no variable at all). */
const struct hash_key *hash_key_compile(struct arena *a, const char *expr, char *err, size_t errlen);

/* The key of <req> from client address <ip16>. */
uint64_t hash_key_of(const struct hash_key *k, const h2o_req_t *req, const uint8_t ip16[16]);

#endif
