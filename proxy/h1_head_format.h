/*
 * libh2o's HTTP/1.1 response head lines without printf (h1_head_format.c).
 */
#ifndef GANTRY_PROXY_H1_HEAD_FORMAT_H
#define GANTRY_PROXY_H1_HEAD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* libh2o 2.2.5's two formats, as its flatten_headers passes them */
extern const char h1_head_format_with_length[];
extern const char h1_head_format_without_length[];

/* Writes what sprintf(dst, <format>, status, reason, date, connection
 * [, *content_length]) would, NUL included; the length, or -1 (nothing
 * written) when it does not fit in dst_size or an argument is one glibc
 * prints differently (NULL, a negative status). */
int h1_head_format(char *dst, size_t dst_size, int status, const char *reason, const char *date, const char *connection,
                   const size_t *content_length);

#endif
