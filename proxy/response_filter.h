/*
 * A bridge from a middleware's response hook to h2o's output filters: the
 * hook asks for an output stream (compression) on the response about to
 * start; the filter registered on every entry point inserts it when h2o sets
 * the response's output chain up. The window between the two is one
 * synchronous call (the hook runs right before h2o_start_response), so one
 * pending request per thread is enough.
 */
#ifndef GANTRY_RESPONSE_FILTER_H
#define GANTRY_RESPONSE_FILTER_H

#include <h2o.h>

/* Inserts the caller's ostream at *slot (h2o_add_ostream) and returns the
 * slot after it (&ostream->next). */
typedef h2o_ostream_t **(*response_filter_setup_cb)(void *data, h2o_req_t *req, h2o_ostream_t **slot);

/* <server_header> (NULL or "": none) is added to every response that has
 * no Server header of its own (the static option serverHeader). */
void response_filter_register(h2o_pathconf_t *pathconf, const char *server_header);
/* For the response of <req> that starts next on this thread. Several
 * middlewares may ask (up to 4): their streams are inserted in the order
 * asked, so the first asker sees the body first. */
void response_filter_request(h2o_req_t *req, response_filter_setup_cb cb, void *data);
/* The same, this stream first, whatever the others asked: it sees the body
 * as the upstream sent it (contentType sniffs it before compress encodes). */
void response_filter_request_first(h2o_req_t *req, response_filter_setup_cb cb, void *data);
/* The response will not start after all (a middleware intercepted it). */
void response_filter_cancel(void);

#endif
