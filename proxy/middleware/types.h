/*
 * The one table of implemented middleware types (types.c): a new middleware
 * adds its vtable here and nowhere else.
 */
#ifndef GANTRY_MIDDLEWARE_TYPES_H
#define GANTRY_MIDDLEWARE_TYPES_H

#include "middleware.h"

extern const struct mw_type *const middleware_types[]; /* NULL-terminated */

extern const struct mw_type mw_add_prefix;
extern const struct mw_type mw_strip_prefix;
extern const struct mw_type mw_redirect_scheme;
extern const struct mw_type mw_forward_auth;
extern const struct mw_type mw_errors;
extern const struct mw_type mw_retry;
extern const struct mw_type mw_circuit_breaker;
extern const struct mw_type mw_compress;
extern const struct mw_type mw_basic_auth;
extern const struct mw_type mw_digest_auth;
extern const struct mw_type mw_headers;
extern const struct mw_type mw_replace_path;
extern const struct mw_type mw_replace_path_regex;
extern const struct mw_type mw_strip_prefix_regex;
extern const struct mw_type mw_redirect_regex;
extern const struct mw_type mw_encoded_characters;
extern const struct mw_type mw_content_type;
extern const struct mw_type mw_ip_allow_list;
extern const struct mw_type mw_ip_white_list;
extern const struct mw_type mw_ip_deny_list; /* internal: the kubernetes provider's denylist-source-range */
extern const struct mw_type mw_in_flight_req;
extern const struct mw_type mw_rate_limit;
extern const struct mw_type mw_grpc_web;
/* Gateway API header filters, internal to the kubernetesgateway provider */
extern const struct mw_type mw_request_header_modifier;
extern const struct mw_type mw_response_header_modifier;
extern const struct mw_type mw_request_timeout; /* timeouts.request, likewise */

extern const struct mw_type mw_buffering;
extern const struct mw_type mw_pass_tls_client_cert;

#endif
