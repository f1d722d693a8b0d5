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
    &mw_buffering,
    NULL,
};
