/*
 * Bidirectional pump (see tunnel.h).
 */
#include "tunnel.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

struct tunnel {
    h2o_loop_t *loop;
    h2o_socket_t *sock[2];
    h2o_timeout_t *timeout;
    h2o_timeout_entry_t entry;
    bool writing[2]; /* a write to sock[i] is in flight */
    bool eof[2];     /* sock[i] has no more input */
    bool shut[2];    /* sock[i] was shut down for writing */
};

static __thread size_t open_tunnels;

static void on_read(h2o_socket_t *sock, const char *err);

static int side(struct tunnel *t, h2o_socket_t *sock)
{
    return t->sock[0] == sock ? 0 : 1;
}

static void destroy(struct tunnel *t)
{
    h2o_timeout_unlink(&t->entry);
    h2o_socket_close(t->sock[0]);
    h2o_socket_close(t->sock[1]);
    open_tunnels--;
    free(t);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    destroy(H2O_STRUCT_FROM_MEMBER(struct tunnel, entry, entry));
}

static void touch(struct tunnel *t)
{
    h2o_timeout_unlink(&t->entry);
    h2o_timeout_link(t->loop, t->timeout, &t->entry);
}

/* <i> reached end of stream and everything it sent has been written. */
static bool finish_direction(struct tunnel *t, int i)
{
    int o = 1 - i;
    if (t->sock[o]->ssl != NULL || t->sock[i]->ssl != NULL) {
        destroy(t); /* no half-close through TLS here */
        return false;
    }
    if (!t->shut[o]) {
        shutdown(h2o_socket_get_fd(t->sock[o]), SHUT_WR);
        t->shut[o] = true;
    }
    if (t->eof[o] && !t->writing[i]) {
        destroy(t);
        return false;
    }
    return true;
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    struct tunnel *t = sock->data;
    int o = side(t, sock), i = 1 - o; /* data flowed i -> o */
    t->writing[o] = false;
    if (err != NULL) {
        destroy(t);
        return;
    }
    touch(t);
    h2o_buffer_consume(&t->sock[i]->input, t->sock[i]->input->size);
    if (t->eof[i]) {
        finish_direction(t, i);
        return;
    }
    h2o_socket_read_start(t->sock[i], on_read);
}

static void forward(struct tunnel *t, int i)
{
    int o = 1 - i;
    h2o_socket_read_stop(t->sock[i]);
    t->writing[o] = true;
    h2o_iovec_t buf = h2o_iovec_init(t->sock[i]->input->bytes, t->sock[i]->input->size);
    h2o_socket_write(t->sock[o], &buf, 1, on_write);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct tunnel *t = sock->data;
    int i = side(t, sock);
    if (err != NULL) {
        t->eof[i] = true;
        h2o_socket_read_stop(sock);
        if (err != h2o_socket_error_closed) {
            destroy(t);
            return;
        }
        if (sock->input->size != 0 && !t->writing[1 - i]) {
            forward(t, i);
            return;
        }
        if (!t->writing[1 - i])
            finish_direction(t, i);
        return;
    }
    if (sock->input->size == 0)
        return;
    touch(t);
    forward(t, i);
}

void tunnel_start(h2o_loop_t *loop, h2o_socket_t *a, h2o_socket_t *b, h2o_timeout_t *idle_timeout)
{
    struct tunnel *t = h2o_mem_alloc(sizeof(*t));
    *t = (struct tunnel){.loop = loop, .sock = {a, b}, .timeout = idle_timeout};
    t->entry.cb = on_timeout;
    a->data = t;
    b->data = t;
    open_tunnels++;
    h2o_timeout_link(loop, idle_timeout, &t->entry);
    for (int i = 0; i < 2; i++) {
        if (t->sock[i]->input->size != 0)
            forward(t, i);
        else
            h2o_socket_read_start(t->sock[i], on_read);
    }
}
