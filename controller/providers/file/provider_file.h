/*
 * File provider (see provider_file.c).
 */
#ifndef GANTRY_PROVIDER_FILE_H
#define GANTRY_PROVIDER_FILE_H

#include <stdbool.h>

#include "../../../common/diag.h"

/* Loads the configuration once (submitting it to the aggregator) and, with
 * <watch>, registers an inotify watch on the watcher loop. Exactly one of
 * <filename> and <directory> is set. */
int provider_file_start(const char *filename, const char *directory, bool watch, struct diag *d) WARN_UNUSED;
void provider_file_stop(void);
bool provider_file_ready(void);

#endif
