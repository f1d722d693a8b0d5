/*
 * splice(2) relay (see splice_pump.h). Direction i moves bytes from s[i]
 * through pipe d[i] to s[1 - i].
 */
#include "splice_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tunnel.h"

#define PUMP_CHUNK (64 * 1024)
#define PUMP_ROUNDS 8 /* splices per readiness event, so one busy relay cannot starve the loop */

struct direction {
    int pipe[2];
    size_t queued;     /* bytes in the pipe */
    bool eof;          /* the source has no more input */
    bool waiting;      /* notify_write pending on the destination */
};

struct pump {
    h2o_loop_t *loop;
    h2o_socket_t *s[2];
    struct direction d[2];
    h2o_timeout_t *timeout;
    h2o_timeout_entry_t entry;
    h2o_timeout_t *termination;        /* terminationDelay; NULL: none */
    h2o_timeout_entry_t termination_entry; /* armed once, when the first direction ends; traffic does not reset it */
    int shut; /* directions whose destination was shut down for writing */
    h2o_iovec_t initial;
};

static void on_readable(h2o_socket_t *sock, const char *err);

static void destroy(struct pump *p)
{
    h2o_timeout_unlink(&p->entry);
    h2o_timeout_unlink(&p->termination_entry);
    for (int i = 0; i < 2; i++) {
        close(p->d[i].pipe[0]);
        close(p->d[i].pipe[1]);
        h2o_socket_close(p->s[i]);
    }
    free(p);
}

static void on_idle(h2o_timeout_entry_t *entry)
{
    destroy(H2O_STRUCT_FROM_MEMBER(struct pump, entry, entry));
}

/* terminationDelay passed since one side ended its stream: the other
 * direction is cut off, whatever it still had to say (Traefik's read
 * deadline). */
static void on_termination(h2o_timeout_entry_t *entry)
{
    destroy(H2O_STRUCT_FROM_MEMBER(struct pump, termination_entry, entry));
}

static void touch(struct pump *p)
{
    h2o_timeout_unlink(&p->entry);
    h2o_timeout_link(p->loop, p->timeout, &p->entry);
}

static int fd_of(h2o_socket_t *s)
{
    return h2o_socket_get_fd(s);
}

/* Direction <i> is over: its destination gets end of stream. false when the
 * pump was destroyed (both directions over). */
static bool half_close(struct pump *p, int i)
{
    shutdown(fd_of(p->s[1 - i]), SHUT_WR);
    if (++p->shut == 2) {
        destroy(p);
        return false;
    }
    if (p->termination != NULL)
        h2o_timeout_link(p->loop, p->termination, &p->termination_entry);
    return true;
}

static void on_writable(h2o_socket_t *sock, const char *err);

/* Moves direction <i>'s pipe into its destination. Returns -1 when the
 * pump was destroyed, 0 when the destination is full (a write
 * notification is pending), 1 when the pipe is empty. */
static int drain_pipe(struct pump *p, int i)
{
    struct direction *d = &p->d[i];
    h2o_socket_t *dst = p->s[1 - i];
    while (d->queued > 0) {
        ssize_t n = splice(d->pipe[0], NULL, fd_of(dst), NULL, d->queued, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
            d->queued -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            h2o_socket_read_stop(p->s[i]); /* hold the source back */
            if (!d->waiting) {
                d->waiting = true;
                h2o_socket_notify_write(dst, on_writable);
            }
            return 0;
        }
        destroy(p); /* the destination reset or closed */
        return -1;
    }
    return 1;
}

static void pump(struct pump *p, int i)
{
    struct direction *d = &p->d[i];
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        ssize_t n = splice(fd_of(p->s[i]), NULL, d->pipe[1], NULL, PUMP_CHUNK, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
            d->queued += (size_t)n;
            touch(p);
            int r = drain_pipe(p, i);
            if (r <= 0)
                return;
            continue;
        }
        if (n == 0) { /* end of stream from the source */
            d->eof = true;
            h2o_socket_read_stop(p->s[i]);
            if (d->queued == 0)
                half_close(p, i);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return; /* level-triggered: called again when more arrives */
        destroy(p);
        return;
    }
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    struct pump *p = sock->data;
    if (err != NULL) {
        destroy(p);
        return;
    }
    pump(p, sock == p->s[0] ? 0 : 1);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    struct pump *p = sock->data;
    int i = sock == p->s[0] ? 1 : 0; /* the direction writing into <sock> */
    p->d[i].waiting = false;
    if (err != NULL) {
        destroy(p);
        return;
    }
    int r = drain_pipe(p, i);
    if (r <= 0)
        return;
    touch(p);
    if (p->d[i].eof)
        half_close(p, i);
    else
        h2o_socket_read_start(p->s[i], on_readable);
}

static void start_pumping(struct pump *p)
{
    for (int i = 0; i < 2; i++) {
        h2o_socket_dont_read(p->s[i], 1); /* readiness only: splice reads */
        h2o_socket_read_start(p->s[i], on_readable);
    }
}

static void on_initial_written(h2o_socket_t *sock, const char *err)
{
    struct pump *p = sock->data;
    if (err != NULL) {
        destroy(p);
        return;
    }
    h2o_buffer_consume(&p->s[0]->input, p->initial.len);
    start_pumping(p);
}

void splice_pump_start(h2o_loop_t *loop, h2o_socket_t *a, h2o_socket_t *b, h2o_timeout_t *idle_timeout,
                       h2o_timeout_t *termination)
{
    struct pump *p = calloc(1, sizeof(*p));
    if (p == NULL || pipe2(p->d[0].pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(p);
        tunnel_start(loop, a, b, idle_timeout);
        return;
    }
    if (pipe2(p->d[1].pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        close(p->d[0].pipe[0]);
        close(p->d[0].pipe[1]);
        free(p);
        tunnel_start(loop, a, b, idle_timeout);
        return;
    }
    p->loop = loop;
    p->s[0] = a;
    p->s[1] = b;
    a->data = p;
    b->data = p;
    p->timeout = idle_timeout;
    p->entry.cb = on_idle;
    p->termination = termination;
    p->termination_entry.cb = on_termination;
    touch(p);
    if (a->input->size > 0) { /* the peeked ClientHello goes first */
        p->initial = h2o_iovec_init(a->input->bytes, a->input->size);
        h2o_socket_write(b, &p->initial, 1, on_initial_written);
        return;
    }
    start_pumping(p);
}
