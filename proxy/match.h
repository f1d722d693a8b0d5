/*
 * Request-time evaluation of rule ASTs (controller/rule.h) against one
 * request. Called on worker threads only; regex scratch space is
 * per-thread, so evaluation takes no lock and allocates nothing.
 */
#ifndef GANTRY_MATCH_H
#define GANTRY_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "../common/rule.h"

struct match_req {
    const char *host; /* lowercased, without port or trailing dot */
    size_t host_len;
    const char *path; /* normalised (dot segments resolved), no query */
    size_t path_len;
    const char *method;
    size_t method_len;
    const char *query; /* raw, after '?'; NULL when absent */
    size_t query_len;
    const h2o_headers_t *headers;
    uint8_t client_ip[16]; /* IPv4 as ::ffff:a.b.c.d */
    bool has_client_ip;
};

bool match_rule(const struct rule_node *n, const struct match_req *r);

/* Lowercases <authority> into <buf> (at least <len> bytes), dropping the
 * port and a trailing dot; returns the host length. */
size_t match_normalize_host(const char *authority, size_t len, char *buf);

/* Frees this thread's regex scratch space (worker exit, tests). */
void match_thread_cleanup(void);

#endif
