/*
 * Errors as values: a fallible function returns 0 or -1 and fills a
 * caller-owned struct diag with where (file:line:col, object, field) and
 * what. The caller decides whether to log it, record it, or both.
 */
#ifndef GANTRY_DIAG_H
#define GANTRY_DIAG_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WARN_UNUSED __attribute__((warn_unused_result))

struct diag {
    char msg[1024];
};

static inline int diag_set(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int diag_set(struct diag *d, const char *fmt, ...)
{
    if (d != NULL) {
        /* formatted aside, then copied: a caller adding context passes the
         * message itself as an argument (diag_set(d, "entry point %s: %s",
         * name, d->msg)), and formatting straight into d->msg would overwrite
         * that argument before reading it ("entry point web: entry point web: ddress") */
        char msg[sizeof(d->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        memcpy(d->msg, msg, strlen(msg) + 1);
    }
    return -1;
}

static inline void diag_clear(struct diag *d)
{
    if (d != NULL)
        d->msg[0] = '\0';
}

#endif
