/*
 * Response trailers to HTTP/1.1 clients (RFC 9112 §7.1.2).
 *
 * libh2o 2.2.5's chunked encoder (lib/handler/chunked.c) ends every
 * response with an empty last chunk and has no way to add a trailer
 * section. For a client that said "TE: trailers" (RFC 9110 §10.1.4), a
 * response of unknown length is framed here instead: an output filter
 * that runs after the middlewares' streams (compression sees the body
 * first) and before h2o's encoder sets "Transfer-Encoding: chunked" (h2o
 * then leaves the body alone: it skips a response that already has one)
 * and writes the chunks itself, with the trailers handed over through
 * req_stream_set_trailers in the last chunk. Other clients: h2o's encoder,
 * trailers dropped (RFC 9110 §6.5.1: a recipient may discard them).
 */
#ifndef GANTRY_H1_TRAILERS_H
#define GANTRY_H1_TRAILERS_H

#include <stdbool.h>

#include <h2o.h>

/* Registers the filter on an entry point's path. Call it before
 * response_filter_register (h2o runs the filters registered last first). */
void h1_trailers_register(h2o_pathconf_t *pathconf);

/* True when the response of <req> is framed here (trailers can go). */
bool h1_trailers_active(h2o_req_t *req);

/* Trailers of <req>'s response, written after its last chunk (copied).
 * False when the response is not framed here. */
bool h1_trailers_set(h2o_req_t *req, const h2o_headers_t *trailers);

#endif
