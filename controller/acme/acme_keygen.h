/*
 * A key made off the watcher thread: Traefik's RSA 4096 account key takes
 * from one to ten seconds of CPU, which would stall every watch, lease and
 * timer of the watcher meanwhile. A thread makes it; the watcher is told
 * through a pipe and hands the key to <done> on its own thread.
 */
#ifndef GANTRY_ACME_KEYGEN_H
#define GANTRY_ACME_KEYGEN_H

#include <openssl/evp.h>

struct acme_keygen;

/* <done> gets the key (owned by it; NULL when it could not be made) and <data>. */
typedef void (*acme_keygen_cb)(void *data, EVP_PKEY *key);

/* Starts making a key of <type> (acme_key_new's names); NULL when no thread could be started. */
struct acme_keygen *acme_keygen_start(const char *type, acme_keygen_cb done, void *data);
/* Waits for the thread and drops its key; <done> is not called. For one not yet done (NULL: nothing). */
void acme_keygen_cancel(struct acme_keygen *g);

#endif
