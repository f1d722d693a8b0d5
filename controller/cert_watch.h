/*
 * Certificate files reloaded when they change: every file the current
 * configuration names (tls.certificates, tls.stores.default
 * .defaultCertificate, tls.options clientAuth.caFiles, serversTransports
 * rootCAs and certificates), from any provider, is watched through inotify
 * on its directory and on the directory its symlinks resolve to (an
 * in-place write, an atomic rename and a Kubernetes "..data" symlink swap
 * all show there). Events are debounced; when a file's identity (device,
 * inode, mtime, size through symlinks) changed, the configuration is
 * compiled again, which loads the new files; a file that no longer loads
 * keeps the last good certificate serving (aggregator.c, tls.c).
 * Watcher thread only.
 */
#ifndef GANTRY_CERT_WATCH_H
#define GANTRY_CERT_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* <changed> runs on the watcher thread after a debounced change. */
void cert_watch_init(void (*changed)(void), uint64_t debounce_ms);
/* The files named by <models> become the watched set; their identity is
 * taken now, before the compile that loads them reads them. */
void cert_watch_models(struct model *const *models, size_t n);
void cert_watch_shutdown(void);
/* How many files are watched (tests, API). */
size_t cert_watch_count(void);

#endif
