/*
 * A bounded response body for libcurl transfers (Docker and Kubernetes
 * API calls): pass curl_body_write as CURLOPT_WRITEFUNCTION and the body as
 * CURLOPT_WRITEDATA. Past <max> bytes the transfer is aborted and too_big
 * says why, so a hostile or broken server cannot grow it without bound.
 */
#ifndef GANTRY_CURL_BODY_H
#define GANTRY_CURL_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"

struct curl_body {
    union {
        struct buf buf; /* capped at the bound */
        /* buf's fields by the names the callers read (data is NUL-terminated) */
        struct {
            char *data;
            size_t len, cap, max;
        };
    };
    bool too_big;
};

size_t curl_body_write(char *p, size_t size, size_t n, void *body);
/* Frees what was read and sets a new bound. */
void curl_body_reset(struct curl_body *b, size_t max);

/* A CURLOPT_WRITEFUNCTION that drops the body (libcurl's default would
 * print it to stdout). */
size_t curl_body_discard(char *data, size_t size, size_t n, void *user);

#endif
