/*
 * File provider: providers.file.filename (one file) or .directory (every
 * *.yml / *.yaml in it), watched with inotify on the directory so that
 * editors that write a temporary file and rename it, and Kubernetes
 * ConfigMap symlink swaps, are seen. A file whose YAML or structure is
 * wrong is reported with file:line:col and its last good content keeps
 * serving; the other files are not affected.
 */
#include "provider_file.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../../../common/log.h"
#include "../../../admin/status.h"
#include "../../aggregator.h"
#include "../../model_decode.h"
#include "../../../common/rule.h"
#include "../../tree_yaml.h"
#include "../../watcher.h"

#define MAX_DYNAMIC_FILE (16 * 1024 * 1024)
#define MAX_FILES 1024

struct file_state {
    char *path;
    char *good; /* last content that decoded without errors; NULL: none yet */
    size_t good_len;
    char *error; /* why the current content is not used; NULL: it is */
    bool seen;   /* present in the latest scan */
};

static struct {
    char *filename;  /* single-file mode */
    char *directory; /* the watched directory (either mode) */
    bool single;
    int inotify_fd;
    struct file_state files[MAX_FILES];
    size_t n_files;
    bool ready;
} fp = {.inotify_fd = -1};

static struct file_state *file_entry(const char *path)
{
    for (size_t i = 0; i < fp.n_files; i++)
        if (strcmp(fp.files[i].path, path) == 0)
            return &fp.files[i];
    if (fp.n_files == MAX_FILES)
        return NULL;
    struct file_state *f = &fp.files[fp.n_files++];
    memset(f, 0, sizeof(*f));
    f->path = mem_strdup(path);
    return f;
}

static void set_error(struct file_state *f, const char *msg)
{
    free(f->error);
    f->error = msg ? mem_strdup(msg) : NULL;
}

/* The router named <name> in <m>, or NULL. */
static const struct model_router *find_router(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->routers.len; i++) {
        const struct model_router *r = m->routers.items[i];
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

/* An edit that breaks the rule of a router that works makes the whole
 * file bad: the router keeps its last good rule rather than vanishing. A
 * router that is new, or was already broken, is left to the compiler,
 * which drops it alone and reports it. */
static void check_rules(const struct file_state *f, const struct model *m, struct decode_report *rep)
{
    if (f->good == NULL)
        return;
    struct arena a;
    arena_init(&a);
    struct model *prev = NULL;
    for (size_t i = 0; i < m->routers.len; i++) {
        const struct model_router *r = m->routers.items[i];
        struct diag d;
        if (r->rule == NULL || rule_parse(&a, r->rule, &d) != NULL)
            continue;
        if (prev == NULL) {
            prev = model_new("file");
            struct decode_report ignored;
            decode_report_init(&ignored);
            struct tree_node *root = tree_yaml_parse(&a, f->path, f->good, f->good_len, &d);
            if (root != NULL)
                model_decode(prev, root, &ignored);
            decode_report_free(&ignored);
        }
        const struct model_router *old = find_router(prev, r->name);
        struct diag d2;
        if (old == NULL || old->rule == NULL || rule_parse(&a, old->rule, &d2) == NULL)
            continue;
        ptr_vec_push(&rep->arena, &rep->errors,
                     arena_printf(&rep->arena, "%s: router '%s@file': rule `%s`: %s", r->origin.source, r->name, r->rule,
                                  d.msg));
    }
    if (prev != NULL)
        model_free(prev);
    arena_free(&a);
}

/* Parses and decodes <text>; logs every problem; true when usable. On
 * failure the file's error says what is wrong (the first error). */
static bool validate(struct file_state *f, const char *text, size_t len)
{
    struct arena a;
    arena_init(&a);
    struct diag d;
    struct tree_node *root = tree_yaml_parse(&a, f->path, text, len, &d);
    bool ok = root != NULL;
    if (!ok) {
        log_error("file provider: %s; keeping the previous configuration of this file", d.msg);
        set_error(f, d.msg);
    } else {
        struct model *m = model_new("file");
        struct decode_report rep;
        decode_report_init(&rep);
        model_decode(m, root, &rep);
        for (size_t i = 0; i < rep.warnings.len; i++)
            log_warn("file provider: %s", (const char *)rep.warnings.items[i]);
        for (size_t i = 0; i < m->problems.len; i++) /* ignored parts (served without them; in the API too) */
            log_error("file provider: %s", (const char *)m->problems.items[i]);
        check_rules(f, m, &rep);
        for (size_t i = 0; i < rep.errors.len; i++)
            log_error("file provider: %s", (const char *)rep.errors.items[i]);
        if (rep.errors.len) {
            log_error("file provider: %s has %zu error(s); keeping the previous configuration of this file", f->path,
                      rep.errors.len);
            char msg[1200];
            snprintf(msg, sizeof(msg), "%s%s", (const char *)rep.errors.items[0],
                     rep.errors.len > 1 ? " (and more errors; see the log)" : "");
            set_error(f, msg);
            ok = false;
        }
        decode_report_free(&rep);
        model_free(m);
    }
    arena_free(&a);
    return ok;
}

/* Only whitespace and comments. */
static bool blank(const char *s, size_t len)
{
    bool comment = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            comment = false;
        else if (s[i] == '#')
            comment = true;
        else if (!comment && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    }
    return true;
}

/* Reads <path>; if it changed and is valid, it becomes the file's content. */
static void refresh_file(const char *path)
{
    struct file_state *f = file_entry(path);
    if (f == NULL) {
        log_error("file provider: more than %d files; %s ignored", MAX_FILES, path);
        return;
    }
    f->seen = true;
    size_t len;
    struct diag d;
    char *text = read_file(path, MAX_DYNAMIC_FILE, &len, &d);
    if (text == NULL) {
        log_error("file provider: %s", d.msg);
        set_error(f, d.msg);
        return;
    }
    if (f->good != NULL && f->good_len == len && memcmp(f->good, text, len) == 0) {
        free(text);
        set_error(f, NULL);
        return;
    }
    /* an editor that truncates then writes shows us an empty file first:
     * do not drop every route of a file that had some */
    if (f->good != NULL && f->good_len != 0 && blank(text, len)) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s: the file is empty; keeping the previous configuration (write 'http: {}' "
                 "to remove everything it defined)", path);
        log_error("file provider: %s", msg);
        set_error(f, msg);
        free(text);
        return;
    }
    if (!validate(f, text, len)) {
        free(text);
        return;
    }
    set_error(f, NULL);
    free(f->good);
    f->good = text;
    f->good_len = len;
}

static bool is_yaml(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 4 && strcmp(name + n - 4, ".yml") == 0) || (n > 5 && strcmp(name + n - 5, ".yaml") == 0));
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(((const struct file_state *)a)->path, ((const struct file_state *)b)->path);
}

static void scan(void)
{
    for (size_t i = 0; i < fp.n_files; i++)
        fp.files[i].seen = false;
    if (fp.single) {
        struct file_state *f = file_entry(fp.filename);
        if (access(fp.filename, F_OK) == 0) {
            refresh_file(fp.filename);
        } else {
            char msg[600];
            snprintf(msg, sizeof(msg), "%s: %s; keeping the previous configuration", fp.filename, strerror(errno));
            log_error("file provider: %s", msg);
            if (f)
                set_error(f, msg);
        }
        if (f)
            f->seen = true; /* a missing single file keeps its last content */
    } else {
        DIR *dir = opendir(fp.directory);
        if (dir == NULL) {
            log_error("file provider: cannot read directory %s: %s", fp.directory, strerror(errno));
            return;
        }
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (!is_yaml(e->d_name))
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", fp.directory, e->d_name);
            refresh_file(path);
        }
        closedir(dir);
    }
    /* files that disappeared from the directory take their routes with them */
    for (size_t i = 0; i < fp.n_files;) {
        if (!fp.files[i].seen) {
            log_info("file provider: %s was removed", fp.files[i].path);
            free(fp.files[i].path);
            free(fp.files[i].good);
            free(fp.files[i].error);
            fp.files[i] = fp.files[--fp.n_files];
        } else {
            i++;
        }
    }
    qsort(fp.files, fp.n_files, sizeof(fp.files[0]), path_cmp);
}

/* Keeps the first definition of a name across files, as a warning. */
static void drop_duplicates(struct ptr_vec *v, const char *kind)
{
    for (size_t i = 0; i < v->len; i++) {
        const char *name = *(const char *const *)v->items[i];
        for (size_t j = i + 1; j < v->len;) {
            if (strcmp(name, *(const char *const *)v->items[j]) == 0) {
                log_warn("file provider: %s '%s' is defined in more than one file; the first definition is used", kind, name);
                memmove(&v->items[j], &v->items[j + 1], (v->len - j - 1) * sizeof(void *));
                v->len--;
            } else {
                j++;
            }
        }
    }
}

static void publish_model(void)
{
    struct model *m = model_new("file");
    for (size_t i = 0; i < fp.n_files; i++) {
        struct file_state *f = &fp.files[i];
        if (f->error != NULL)
            ptr_vec_push(&m->arena, &m->problems, arena_strdup(&m->arena, f->error));
        if (f->good == NULL)
            continue;
        struct diag d;
        struct tree_node *root = tree_yaml_parse(&m->arena, f->path, f->good, f->good_len, &d);
        if (root == NULL)
            continue; /* validated before; cannot happen */
        struct decode_report rep;
        decode_report_init(&rep);
        model_decode(m, root, &rep);
        decode_report_free(&rep);
    }
    drop_duplicates(&m->routers, "router");
    drop_duplicates(&m->services, "service");
    drop_duplicates(&m->middlewares, "middleware");
    drop_duplicates(&m->tcp_routers, "tcp router");
    drop_duplicates(&m->tcp_services, "tcp service");
    drop_duplicates(&m->udp_routers, "udp router");
    drop_duplicates(&m->udp_services, "udp service");
    aggregator_submit(m);
}

static void on_inotify(int fd, short revents, void *data)
{
    (void)revents;
    (void)data;
    /* Any event may matter (in single-file mode a ConfigMap swaps a parent
     * symlink), and scan() only acts on content that really changed. */
    char buf[8192];
    bool any = false;
    while (read(fd, buf, sizeof(buf)) > 0)
        any = true;
    if (any) {
        scan();
        publish_model();
    }
}

int provider_file_start(const struct file_provider_config *cfg, struct diag *d)
{
    fp.single = cfg->directory == NULL;
    if (fp.single) {
        fp.filename = mem_strdup(cfg->filename);
        char *copy = mem_strdup(cfg->filename);
        fp.directory = mem_strdup(dirname(copy));
        free(copy);
    } else {
        fp.directory = mem_strdup(cfg->directory);
    }
    scan();
    publish_model();
    fp.ready = true;
    status_provider_set("file", true, true);
    if (!cfg->watch)
        return 0;
    fp.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fp.inotify_fd < 0)
        return diag_set(d, "file provider: inotify: %s", strerror(errno));
    if (inotify_add_watch(fp.inotify_fd, fp.directory,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
        return diag_set(d, "file provider: cannot watch %s: %s", fp.directory, strerror(errno));
    watcher_add_fd(fp.inotify_fd, POLLIN, on_inotify, NULL);
    return 0;
}

void provider_file_stop(void)
{
    if (fp.inotify_fd >= 0) {
        watcher_remove_fd(fp.inotify_fd);
        close(fp.inotify_fd);
        fp.inotify_fd = -1;
    }
    for (size_t i = 0; i < fp.n_files; i++) {
        free(fp.files[i].path);
        free(fp.files[i].good);
        free(fp.files[i].error);
    }
    fp.n_files = 0;
    free(fp.filename);
    free(fp.directory);
    fp.filename = fp.directory = NULL;
    fp.ready = false;
}
