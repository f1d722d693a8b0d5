/*
 * Access log: one line per request, in Traefik's common format or JSON,
 * to a file or stdout. Workers format into their own buffer and hand full
 * buffers to a writer thread, so a slow disk never stalls a worker; if the
 * writer falls too far behind, lines are dropped and counted rather than
 * queued without bound. SIGHUP reopens the file (log rotation).
 */
#ifndef GANTRY_ACCESSLOG_H
#define GANTRY_ACCESSLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/diag.h"

struct accesslog_entry {
    const char *client_ip;
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    int version; /* h2o's: 0x100, 0x101, 0x200 */
    const char *host;
    size_t host_len;
    const char *referer, *user_agent;
    size_t referer_len, user_agent_len;
    int status;
    uint64_t bytes_in; /* request body */
    uint64_t bytes_out;
    uint64_t duration_us;
    uint64_t start_unix_us;
    const char *entrypoint, *router, *service, *upstream; /* NULL when none */
};

/* <path> NULL or "": stdout. <json>: JSON lines, else common. */
int accesslog_open(const char *path, bool json, uint32_t n_workers, struct diag *d) WARN_UNUSED;
bool accesslog_enabled(void);
/* Worker <w>. */
void accesslog_write(uint32_t w, const struct accesslog_entry *e);
/* Worker <w>: hands its buffer to the writer (loop iterations call this
 * so lines are not held back on a quiet worker). */
void accesslog_flush(uint32_t w);
/* Any thread: reopen the file (SIGHUP). */
void accesslog_reopen(void);
uint64_t accesslog_dropped(void);
/* Writes what is queued and stops the writer. */
void accesslog_close(void);

#endif
