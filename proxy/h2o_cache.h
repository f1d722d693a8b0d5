/*
 * libh2o 2.2.5 keeps per-thread caches of memory-pool chunks and socket
 * buffers and offers no call to free them, so every thread that exits
 * would leak up to 16 chunks of each (and LeakSanitizer says so).
 */
#ifndef GANTRY_H2O_CACHE_H
#define GANTRY_H2O_CACHE_H

/* Frees this thread's h2o recycle caches. Call last, before the thread exits. */
void h2o_cache_release_thread(void);

#endif
