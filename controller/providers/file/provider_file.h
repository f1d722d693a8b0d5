/*
 * File provider (see provider_file.c).
 */
#ifndef GANTRY_PROVIDER_FILE_H
#define GANTRY_PROVIDER_FILE_H

#include <stdbool.h>

#include "../../../common/diag.h"

/* providers.file (Traefik's keys) */
struct file_provider_config {
    bool enabled;                      /* providers.file is configured */
    const char *filename, *directory; /* directory wins when both are set */
    bool watch;                        /* true unless set */
};

/* Loads the configuration once (submitting it to the aggregator) and, with
 * <watch>, registers an inotify watch on the watcher loop. */
int provider_file_start(const struct file_provider_config *cfg, struct diag *d) WARN_UNUSED;
void provider_file_stop(void);

#endif
