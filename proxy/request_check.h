/*
 * Requests refused before routing, with a 400: what libh2o 2.2.5 lets
 * through but an upstream could read differently (request smuggling,
 * header injection into the HTTP/1.1 request we write).
 */
#ifndef GANTRY_REQUEST_CHECK_H
#define GANTRY_REQUEST_CHECK_H

#include <stdbool.h>

#include <h2o.h>

/* NULL when <req> may be routed, else why not. */
const char *request_check(h2o_req_t *req);

/* HTTP/1 only: the raw request head (<head>, <len> bytes up to the blank
 * line) framed ambiguously? NULL when not, else why. */
const char *request_check_h1_head(const char *head, size_t len);

/* False when <req>'s method is refused (405): TRACE and TRACK unless
 * <allow_trace> (the entry point's http.allowTraceMethod). */
bool request_check_method_allowed(const h2o_req_t *req, bool allow_trace);

#endif
