/*
 * The admin JSON API (see admin_api.c). Admin thread.
 */
#ifndef GANTRY_ADMIN_API_H
#define GANTRY_ADMIN_API_H

#include <stddef.h>

struct cJSON;
struct stats;

/* The JSON document for <path> (malloc'd) and its HTTP status. */
char *admin_api(const char *path, size_t len, const char *version, int *status);

#endif
