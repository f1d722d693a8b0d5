/* Tests controller/cert_watch.c on the real watcher loop and inotify: which
 * files a model names (inline PEM is not a file; duplicates count once),
 * and that a change arrives as one debounced callback for an in-place
 * rewrite, an atomic rename and a symlink swap, and none for an unrelated
 * file in the same directory or a rewrite with the same content. */
#include "../../../controller/cert_watch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../controller/watcher.h"
#include "test.h"

static _Atomic int changes;
static struct model *current;

static void changed(void)
{
    changes++;
    cert_watch_models(&current, 1); /* what a compile does: take the new stamps */
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The number of callbacks after <ms>: waits until it reaches <want>, then a little more */
static int settle(int want, long ms)
{
    for (long t = 0; t < ms && changes < want; t += 10)
        sleep_ms(10);
    sleep_ms(400); /* a second callback (debounce 300 ms) would show up within this */
    return changes;
}

int main(void)
{
    char dir[] = "/tmp/gantry-cert-watch.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char crt[256], key[256], other[256], tmp[256], link_dir[256], data_a[256], data_b[256], linked[256];
    snprintf(crt, sizeof(crt), "%s/tls.crt", dir);
    snprintf(key, sizeof(key), "%s/tls.key", dir);
    snprintf(other, sizeof(other), "%s/unrelated.txt", dir);
    snprintf(tmp, sizeof(tmp), "%s/tls.crt.tmp", dir);
    snprintf(link_dir, sizeof(link_dir), "%s/..data", dir);
    snprintf(data_a, sizeof(data_a), "%s/..a", dir);
    snprintf(data_b, sizeof(data_b), "%s/..b", dir);
    snprintf(linked, sizeof(linked), "%s/ca.pem", dir);
    write_file(crt, "cert 1");
    write_file(key, "key 1");
    mkdir(data_a, 0755);
    mkdir(data_b, 0755);
    char pa[300], pb[300];
    snprintf(pa, sizeof(pa), "%s/ca.pem", data_a);
    snprintf(pb, sizeof(pb), "%s/ca.pem", data_b);
    write_file(pa, "ca a");
    write_file(pb, "ca b");
    CHECK(symlink("..a", link_dir) == 0);
    CHECK(symlink("..data/ca.pem", linked) == 0);

    struct diag d;
    CHECK(watcher_init(&d) == 0);
    cert_watch_init(changed, 300); /* long enough that two writes in a row fall in one window even on a busy machine */

    current = model_new("file");
    struct model_tls_cert *c = arena_alloc(&current->arena, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->cert_file = crt;
    c->key_file = key;
    ptr_vec_push(&current->arena, &current->certs, c);
    struct model_tls_cert *dup = arena_alloc(&current->arena, sizeof(*dup));
    *dup = *c; /* the same files twice */
    ptr_vec_push(&current->arena, &current->certs, dup);
    struct model_tls_option *o = arena_alloc(&current->arena, sizeof(*o));
    memset(o, 0, sizeof(*o));
    static const char *cas[2];
    cas[0] = linked;
    cas[1] = "-----BEGIN CERTIFICATE-----\ninline\n-----END CERTIFICATE-----\n";
    o->client_ca_files = cas;
    o->n_client_ca_files = 2;
    ptr_vec_push(&current->arena, &current->tls_options, o);
    cert_watch_models(&current, 1);
    CHECK(cert_watch_count() == 3); /* tls.crt, tls.key, ca.pem; not the inline PEM, not the duplicate */

    CHECK(watcher_start(&d) == 0);
    sleep_ms(100);
    /* an unrelated file in the same directory: an event, no change */
    write_file(other, "x");
    CHECK(settle(1, 400) == 0);
    /* rewritten in place */
    write_file(crt, "cert 2");
    CHECK(settle(1, 3000) == 1);
    /* atomic rename */
    write_file(tmp, "cert 3");
    CHECK(rename(tmp, crt) == 0);
    CHECK(settle(2, 3000) == 2);
    /* a certificate and its key written one after the other: one callback */
    write_file(crt, "cert 4");
    write_file(key, "key 4");
    CHECK(settle(3, 3000) == 3);
    /* the Kubernetes swap: a new "..data" renamed over the old one */
    char tmp_link[300];
    snprintf(tmp_link, sizeof(tmp_link), "%s/..data_tmp", dir);
    CHECK(symlink("..b", tmp_link) == 0);
    CHECK(rename(tmp_link, link_dir) == 0);
    CHECK(settle(4, 3000) == 4);
    watcher_stop();

    cert_watch_shutdown();
    model_free(current);
    watcher_free();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return test_report("controller/cert_watch");
}
