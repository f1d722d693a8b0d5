/*
 * Certificate file watch (see cert_watch.h). One inotify descriptor for
 * the set of directories; it is rebuilt only when that set changes, which
 * is rare (the configuration names other directories).
 */
#include "cert_watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "watcher.h"

struct stamp {
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
    bool exists;
};

struct watched_file {
    char *path;
    struct stamp stamp;
};

static struct {
    void (*changed)(void);
    uint64_t debounce_ms;
    struct watcher_timer *debounce;
    int fd;
    char **dirs;
    size_t n_dirs;
    struct watched_file *files;
    size_t n_files;
} cw = {.fd = -1};

static struct stamp stamp_of(const char *path)
{
    struct stat st;
    struct stamp s = {0};
    if (stat(path, &st) == 0) /* through symlinks: the file served, not the link */
        s = (struct stamp){st.st_dev, st.st_ino, st.st_mtim, st.st_size, true};
    return s;
}

static bool same_stamp(const struct stamp *a, const struct stamp *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec && a->size == b->size;
}

static bool is_file_path(const char *v)
{
    return v != NULL && *v != '\0' && strstr(v, "-----BEGIN") == NULL; /* caFiles and rootCAs also take inline PEM */
}

struct path_set {
    char **items;
    size_t len, cap;
};

static void set_add(struct path_set *s, const char *v)
{
    for (size_t i = 0; i < s->len; i++)
        if (strcmp(s->items[i], v) == 0)
            return;
    if (s->len == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->items = mem_realloc(s->items, s->cap * sizeof(char *));
    }
    s->items[s->len++] = mem_strdup(v);
}

static void add_file(struct path_set *s, const char *v)
{
    if (is_file_path(v))
        set_add(s, v);
}

static void add_cert(struct path_set *s, const struct model_tls_cert *c)
{
    if (c != NULL) {
        add_file(s, c->cert_file);
        add_file(s, c->key_file);
    }
}

static void collect(struct path_set *files, struct model *const *models, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct model *m = models[i];
        add_cert(files, m->default_cert);
        for (size_t j = 0; j < m->certs.len; j++)
            add_cert(files, m->certs.items[j]);
        for (size_t j = 0; j < m->tls_options.len; j++) {
            const struct model_tls_option *o = m->tls_options.items[j];
            for (size_t k = 0; k < o->n_client_ca_files; k++)
                add_file(files, o->client_ca_files[k]);
        }
        for (size_t j = 0; j < m->transports.len; j++) {
            const struct model_transport *t = m->transports.items[j];
            for (size_t k = 0; k < t->n_root_cas; k++)
                add_file(files, t->root_cas[k]);
            for (size_t k = 0; k < t->n_certs; k++) {
                add_file(files, t->cert_files[k]);
                add_file(files, t->key_files[k]);
            }
        }
    }
}

static void add_dir_of(struct path_set *dirs, const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        snprintf(buf, sizeof(buf), ".");
    else if (slash == buf)
        buf[1] = '\0';
    else
        *slash = '\0';
    set_add(dirs, buf);
}

static void free_set(struct path_set *s)
{
    for (size_t i = 0; i < s->len; i++)
        free(s->items[i]);
    free(s->items);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void close_fd(void)
{
    if (cw.fd >= 0) {
        watcher_remove_fd(cw.fd);
        close(cw.fd);
        cw.fd = -1;
    }
}

static void on_debounce(void *data)
{
    (void)data;
    for (size_t i = 0; i < cw.n_files; i++) {
        struct stamp now = stamp_of(cw.files[i].path);
        if (!same_stamp(&now, &cw.files[i].stamp)) {
            log_info("certificates: %s changed; loading the certificate files again", cw.files[i].path);
            if (cw.changed != NULL)
                cw.changed(); /* compiles: cert_watch_models takes the new stamps */
            return;
        }
    }
}

static void on_inotify(int fd, short revents, void *data)
{
    (void)revents;
    (void)data;
    char buf[8192];
    bool any = false;
    while (read(fd, buf, sizeof(buf)) > 0)
        any = true;
    /* a writer that replaces a certificate and then its key, or a symlink
     * swap done in several renames, settles before the files are read */
    if (any && cw.debounce != NULL)
        watcher_timer_arm(cw.debounce, cw.debounce_ms);
}

static void watch_dirs(struct path_set *dirs)
{
    if (dirs->len > 1) /* qsort's base may not be NULL, even for 0 items */
        qsort(dirs->items, dirs->len, sizeof(char *), str_cmp);
    bool same = dirs->len == cw.n_dirs && cw.fd >= 0;
    for (size_t i = 0; same && i < dirs->len; i++)
        same = strcmp(dirs->items[i], cw.dirs[i]) == 0;
    if (same) {
        free_set(dirs);
        return;
    }
    close_fd();
    for (size_t i = 0; i < cw.n_dirs; i++)
        free(cw.dirs[i]);
    free(cw.dirs);
    cw.dirs = dirs->items;
    cw.n_dirs = dirs->len;
    if (cw.n_dirs == 0)
        return;
    cw.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (cw.fd < 0) {
        log_error("certificates: inotify: %s; certificate files are not reloaded when they change", strerror(errno));
        return;
    }
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;
    for (size_t i = 0; i < cw.n_dirs; i++)
        if (inotify_add_watch(cw.fd, cw.dirs[i], mask) < 0 && errno != ENOENT)
            log_warn("certificates: cannot watch %s: %s; changes there are not seen", cw.dirs[i], strerror(errno));
    watcher_add_fd(cw.fd, POLLIN, on_inotify, NULL);
}

void cert_watch_init(void (*changed)(void), uint64_t debounce_ms)
{
    cw.changed = changed;
    cw.debounce_ms = debounce_ms;
    if (cw.debounce == NULL)
        cw.debounce = watcher_timer_new(on_debounce, NULL);
}

void cert_watch_models(struct model *const *models, size_t n)
{
    if (cw.debounce == NULL)
        return; /* not initialised (unit tests of the aggregator) */
    struct path_set files = {0}, dirs = {0};
    collect(&files, models, n);
    for (size_t i = 0; i < cw.n_files; i++)
        free(cw.files[i].path);
    cw.files = mem_realloc(cw.files, (files.len ? files.len : 1) * sizeof(*cw.files));
    cw.n_files = files.len;
    for (size_t i = 0; i < files.len; i++) {
        cw.files[i].path = files.items[i];
        add_dir_of(&dirs, files.items[i]);
        char real[PATH_MAX];
        if (realpath(files.items[i], real) != NULL && strcmp(real, files.items[i]) != 0)
            add_dir_of(&dirs, real); /* a symlink to a file elsewhere: rewritten there */
    }
    free(files.items);
    watch_dirs(&dirs);
    /* after the watches exist: a change from here on is either in the
     * stamp or in an event */
    for (size_t i = 0; i < cw.n_files; i++)
        cw.files[i].stamp = stamp_of(cw.files[i].path);
}

size_t cert_watch_count(void)
{
    return cw.n_files;
}

void cert_watch_shutdown(void)
{
    close_fd();
    for (size_t i = 0; i < cw.n_dirs; i++)
        free(cw.dirs[i]);
    free(cw.dirs);
    for (size_t i = 0; i < cw.n_files; i++)
        free(cw.files[i].path);
    free(cw.files);
    if (cw.debounce != NULL)
        watcher_timer_free(cw.debounce);
    cw = (typeof(cw)){.fd = -1};
}
