/*
 * rateLimit's shared buckets in Redis (the `redis` option): several Gantry
 * (or Traefik) instances using one Redis server together let through at
 * most the limit.
 *
 * Each bucket is a Redis hash ("rate:<middleware>:<source>", fields last
 * and tokens: Traefik's layout and arithmetic) updated by one Lua script
 * run with EVALSHA (EVAL when the server does not have it yet). Every
 * worker talks to Redis over its own hiredis asynchronous connection,
 * driven by the worker's h2o event loop (an adapter in redis_limiter.c),
 * made on first use and made again after a failure. A request waits for
 * its answer without blocking the worker; an unreachable or failing Redis
 * fails the request closed with 500, as Traefik does.
 */
#ifndef GANTRY_MW_REDIS_LIMITER_H
#define GANTRY_MW_REDIS_LIMITER_H

#include "middleware.h"

struct redis_limiter;

/* Reads the "redis.*" options (endpoints, username, password, db, tls,
 * dialTimeout, readTimeout, writeTimeout, poolSize, minIdleConns,
 * maxActiveConns). <rate> in requests per second, <ttl_s> the bucket's
 * expiry, <max_delay_ns> the longest hold. NULL with <d> on a refused value
 * (tls and several endpoints are refused). Watcher thread. */
struct redis_limiter *redis_limiter_build(struct arena *a, struct mw_options *o, double rate, int64_t burst, int64_t ttl_s,
                                          int64_t max_delay_ns, struct diag *d);

/* The longest a command may take for readTimeout and writeTimeout (0:
 * no deadline), with go-redis' meaning of 0 as Traefik passes them on. */
uint64_t redis_limiter_io_ms(uint64_t read_ms, uint64_t write_ms);

/* <status> 0 with the hold the bucket asks for (may exceed the maximum:
 * refuse then), -1 when Redis could not answer. Never called from inside
 * redis_limiter_take. */
typedef void (*redis_limiter_cb)(struct mw_run *run, int status, int64_t delay_ns);

/* Worker thread: asks Redis for a token of <source> for <run>'s request.
 * -1 when Redis is known unreachable right now (the caller answers);
 * otherwise <cb> runs later, unless the request went away first. */
int redis_limiter_take(struct redis_limiter *r, struct mw_run *run, h2o_iovec_t source, redis_limiter_cb cb);

/* Worker thread, at the end of a drain: closes this worker's connections. */
void redis_limiter_worker_close(void);

#endif
