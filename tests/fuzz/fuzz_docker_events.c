/*
 * libFuzzer target: the Docker event stream (GET /events): bytes cut at
 * arbitrary places through the line framer, each line parsed as an event.
 * The first byte chooses the piece size, so splits vary with the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/providers/docker/docker_container.h"
#include "../../controller/ndjson.h"

static void on_line(const char *line, size_t len, void *data)
{
    (void)data;
    struct docker_event ev;
    struct diag d;
    if (docker_event_parse(line, len, &ev, &d) == 0 && (ev.type[sizeof(ev.type) - 1] || ev.id[sizeof(ev.id) - 1]))
        abort(); /* fixed-size fields stay terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t piece = data[0] % 64 + 1;
    struct ndjson f;
    ndjson_init(&f, 4096);
    for (size_t off = 1; off < size; off += piece)
        ndjson_feed(&f, (const char *)data + off, off + piece <= size ? piece : size - off, on_line, NULL);
    ndjson_free(&f);
    return 0;
}
