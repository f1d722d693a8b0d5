/*
 * What the proxy needs to know of gRPC: which requests are gRPC calls,
 * their grpc-timeout, and the status a failure before the upstream
 * answered becomes (a trailers-only response instead of a bare 502/503/504,
 * which gRPC clients report as UNKNOWN or INTERNAL).
 */
#ifndef GANTRY_GRPC_H
#define GANTRY_GRPC_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_UNAVAILABLE 14

/* content-type application/grpc or application/grpc+proto etc. (not gRPC-Web) */
bool grpc_is_request(const h2o_req_t *req);
/* grpc-timeout ("1-8 digits" then H M S m u n) in milliseconds, rounded
 * up; -1 when absent or malformed. */
int64_t grpc_timeout_ms(const char *v, size_t len);
/* The gRPC status for Gantry's own HTTP error before any upstream answer. */
int grpc_status_of_http(int http_status);
/* Turns the request's response head into a trailers-only gRPC answer
 * (HTTP 200, grpc-status and grpc-message in the head), not yet sent. */
void grpc_error_head(h2o_req_t *req, int grpc_status, const char *message);

#endif
