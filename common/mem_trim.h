/*
 * Gives memory that malloc holds free back to the kernel. glibc keeps what
 * a burst freed (256 connections' buffers: ~40 MB) in its per-thread
 * arenas, and returns only the top of each heap by itself: an idle proxy
 * would keep its peak for ever. malloc_trim(0) releases the free pages of
 * every arena (madvise), so it is asked only when what is free is worth it.
 */
#ifndef GANTRY_MEM_TRIM_H
#define GANTRY_MEM_TRIM_H

#include <stdbool.h>
#include <stddef.h>

/* When malloc's free bytes grew by more than <slack> since the lowest
 * level seen since the last trim, trims every arena; true when it did, with
 * the bytes that became free in <*freed>. Trimmed pages still count as free
 * for malloc (they are only no longer resident), hence the growth, not the
 * level. One thread (the watcher). */
bool mem_trim_if_slack(size_t slack, size_t *freed);

#endif
