/* A key made on a thread of its own (see acme_keygen.h). */
#include "acme_keygen.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../common/arena.h"
#include "../watcher.h"
#include "acme_crypto.h"

struct acme_keygen {
    pthread_t thread;
    int pipe[2]; /* the thread writes one byte when the key is there */
    char *type;
    EVP_PKEY *key;
    acme_keygen_cb done;
    void *data;
};

static void *make(void *arg)
{
    struct acme_keygen *g = arg;
    g->key = acme_key_new(g->type);
    char b = 1;
    while (write(g->pipe[1], &b, 1) < 0) /* retried only on EINTR: a fresh pipe has room */
        ;
    return NULL;
}

static void release(struct acme_keygen *g)
{
    pthread_join(g->thread, NULL);
    watcher_remove_fd(g->pipe[0]);
    close(g->pipe[0]);
    close(g->pipe[1]);
    free(g->type);
}

static void on_ready(int fd, short revents, void *data)
{
    (void)fd;
    (void)revents;
    struct acme_keygen *g = data;
    release(g); /* the byte was written: the thread has ended or is ending */
    EVP_PKEY *key = g->key;
    acme_keygen_cb done = g->done;
    void *d = g->data;
    free(g);
    done(d, key);
}

struct acme_keygen *acme_keygen_start(const char *type, acme_keygen_cb done, void *data)
{
    struct acme_keygen *g = mem_calloc(1, sizeof(*g));
    if (pipe2(g->pipe, O_CLOEXEC) != 0) {
        free(g);
        return NULL;
    }
    g->type = mem_strdup(type);
    g->done = done;
    g->data = data;
    if (pthread_create(&g->thread, NULL, make, g) != 0) {
        close(g->pipe[0]);
        close(g->pipe[1]);
        free(g->type);
        free(g);
        return NULL;
    }
    watcher_add_fd(g->pipe[0], POLLIN, on_ready, g);
    return g;
}

void acme_keygen_cancel(struct acme_keygen *g)
{
    if (g == NULL)
        return;
    release(g);
    EVP_PKEY_free(g->key);
    free(g);
}
