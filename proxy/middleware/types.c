/* The implemented middleware types (see types.h). */
#include "types.h"

const struct mw_type *const middleware_types[] = {
    &mw_add_prefix,
    &mw_strip_prefix,
    &mw_redirect_scheme,
    &mw_forward_auth,
    &mw_errors,
    &mw_retry,
    &mw_circuit_breaker,
    &mw_compress,
    &mw_basic_auth,
    &mw_digest_auth,
    &mw_headers,
    &mw_replace_path,
    &mw_replace_path_regex,
    &mw_strip_prefix_regex,
    &mw_redirect_regex,
    &mw_encoded_characters,
    &mw_content_type,
    &mw_buffering,
    &mw_pass_tls_client_cert,
    &mw_ip_allow_list,
    &mw_ip_white_list,
    &mw_ip_deny_list,
    &mw_in_flight_req,
    &mw_rate_limit,
    &mw_grpc_web,
    &mw_request_header_modifier, /* internal: kubernetesgateway only */
    &mw_response_header_modifier,
    &mw_request_timeout,
    NULL,
};
