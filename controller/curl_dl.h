/*
 * libcurl, loaded on first use. Debian's libcurl brings GnuTLS, p11-kit,
 * libldap, Kerberos and SSH libraries with it (about 4 MB RSS mapped and
 * initialised at start); Gantry only needs it for the Docker and Kubernetes
 * providers, ACME, OCSP and the CLI. controller/curl_dl.c defines the curl
 * functions Gantry calls: the first call of any of them dlopen()s
 * libcurl.so.4 and runs curl_global_init. Callers include <curl/curl.h> as
 * usual.
 */
#ifndef GANTRY_CURL_DL_H
#define GANTRY_CURL_DL_H

#include <stdbool.h>

/* Loads libcurl now (any thread, once); false (logged once) when it cannot. */
bool curl_dl_load(void);
/* Whether libcurl has been loaded (by a call or curl_dl_load). */
bool curl_dl_loaded(void);
/* Tests: the library to load instead of libcurl.so.4 (before the first call). */
void curl_dl_set_library(const char *name);

#endif
