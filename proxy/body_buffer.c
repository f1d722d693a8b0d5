/* Per-stream body buffers (see body_buffer.h). */
#include "body_buffer.h"

#define BODY_BUFFER_SIZE (8 * 1024)
#define BODY_BUFFER_CACHE 512 /* at most 4 MiB kept per worker, after a load that needed them */

__thread h2o_buffer_prototype_t body_buffer_prototype = {{BODY_BUFFER_CACHE}, {BODY_BUFFER_SIZE}};
