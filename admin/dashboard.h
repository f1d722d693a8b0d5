/*
 * The dashboard page, embedded in the binary at build time from
 * admin/dashboard/index.html (cmake/embed.cmake): no CDN, works offline.
 */
#ifndef GANTRY_DASHBOARD_H
#define GANTRY_DASHBOARD_H

#include <stddef.h>

extern const unsigned char dashboard_html[];
extern const size_t dashboard_html_len;

#endif
