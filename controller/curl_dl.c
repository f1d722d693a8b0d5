/*
 * libcurl on first use (see curl_dl.h): one definition per curl function
 * Gantry calls, each forwarding to the symbol of the dlopen()ed library.
 * The executable does not export these names (no -rdynamic), so libcurl's
 * own calls never come back here.
 */
#define CURL_DISABLE_TYPECHECK /* the definitions below, not the checking macros */
#include "curl_dl.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

#define LIBCURL "libcurl.so.4"

/* name, return type, parameters */
#define CURL_FUNCS(X)                                                                                   \
    X(curl_global_init, CURLcode, (long))                                                              \
    X(curl_global_cleanup, void, (void))                                                               \
    X(curl_easy_init, CURL *, (void))                                                                  \
    X(curl_easy_cleanup, void, (CURL *))                                                               \
    X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))                                           \
    X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))                                            \
    X(curl_easy_perform, CURLcode, (CURL *))                                                           \
    X(curl_easy_strerror, const char *, (CURLcode))                                                    \
    X(curl_easy_escape, char *, (CURL *, const char *, int))                                           \
    X(curl_free, void, (void *))                                                                       \
    X(curl_getdate, time_t, (const char *, const time_t *))                                            \
    X(curl_slist_append, struct curl_slist *, (struct curl_slist *, const char *))                     \
    X(curl_slist_free_all, void, (struct curl_slist *))                                                \
    X(curl_url, CURLU *, (void))                                                                       \
    X(curl_url_cleanup, void, (CURLU *))                                                               \
    X(curl_url_get, CURLUcode, (CURLU *, CURLUPart, char **, unsigned int))                      \
    X(curl_url_set, CURLUcode, (CURLU *, CURLUPart, const char *, unsigned int))                       \
    X(curl_multi_init, CURLM *, (void))                                                                \
    X(curl_multi_cleanup, CURLMcode, (CURLM *))                                                        \
    X(curl_multi_add_handle, CURLMcode, (CURLM *, CURL *))                                             \
    X(curl_multi_remove_handle, CURLMcode, (CURLM *, CURL *))                                          \
    X(curl_multi_perform, CURLMcode, (CURLM *, int *))                                                 \
    X(curl_multi_poll, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *))           \
    X(curl_multi_wakeup, CURLMcode, (CURLM *))                                                         \
    X(curl_multi_info_read, CURLMsg *, (CURLM *, int *))

static struct {
#define FIELD(name, ret, params) ret(*name) params;
    CURL_FUNCS(FIELD)
#undef FIELD
} fn;

static const char *library = LIBCURL;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic bool loaded;
static void *handle;

static void load(void)
{
    const char *env = getenv("GANTRY_LIBCURL"); /* tests: a library that is not there */
    if (env != NULL && *env != '\0' && strcmp(library, LIBCURL) == 0)
        library = env;
    handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        log_error("%s cannot be loaded (the Docker and Kubernetes providers, ACME and OCSP need it): %s", library,
                  dlerror());
        return;
    }
#define SYM(name, ret, params)                                                                                 \
    if ((*(void **)&fn.name = dlsym(handle, #name)) == NULL) {                                                 \
        log_error("%s cannot be used: it has no %s", library, #name);                                          \
        return;                                                                                                \
    }
    CURL_FUNCS(SYM)
#undef SYM
    /* once for the process, before any thread makes a handle (curl's own
     * lazy init in curl_easy_init is not thread-safe in every build) */
    CURLcode rc = fn.curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        log_error("%s: curl_global_init failed: %s", library, fn.curl_easy_strerror(rc));
        return;
    }
    atomic_store(&loaded, true);
}

bool curl_dl_load(void)
{
    pthread_once(&once, load);
    return atomic_load(&loaded);
}

bool curl_dl_loaded(void)
{
    return atomic_load(&loaded);
}

void curl_dl_set_library(const char *name)
{
    library = name;
}

/* Without the library: the failure each function reports anyway. */
/* load() initialises libcurl once for the process; the one cleanup is at
 * exit (watcher_free, the CLI commands). */
CURLcode curl_global_init(long flags)
{
    (void)flags;
    return curl_dl_load() ? CURLE_OK : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
    if (curl_dl_loaded())
        fn.curl_global_cleanup();
}

CURL *curl_easy_init(void)
{
    return curl_dl_load() ? fn.curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
    if (h != NULL && curl_dl_loaded())
        fn.curl_easy_cleanup(h);
}

/* The one argument is read as libcurl reads it: its type is in the option
 * number (CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...)
{
    if (!curl_dl_loaded())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, option);
    CURLcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT)
        rc = fn.curl_easy_setopt(h, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        rc = fn.curl_easy_setopt(h, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        rc = fn.curl_easy_setopt(h, option, va_arg(ap, void (*)(void)));
    else if (option < CURLOPTTYPE_BLOB)
        rc = fn.curl_easy_setopt(h, option, va_arg(ap, curl_off_t));
    else
        rc = fn.curl_easy_setopt(h, option, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    if (!curl_dl_loaded())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, info);
    CURLcode rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
    return curl_dl_loaded() ? fn.curl_easy_perform(h) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode rc)
{
    return curl_dl_loaded() ? fn.curl_easy_strerror(rc) : LIBCURL " could not be loaded";
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
    return curl_dl_load() ? fn.curl_easy_escape(h, s, len) : NULL;
}

void curl_free(void *p)
{
    if (p != NULL && curl_dl_loaded())
        fn.curl_free(p);
}

time_t curl_getdate(const char *s, const time_t *unused)
{
    return curl_dl_load() ? fn.curl_getdate(s, unused) : (time_t)-1;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return curl_dl_load() ? fn.curl_slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list != NULL && curl_dl_loaded())
        fn.curl_slist_free_all(list);
}

CURLU *curl_url(void)
{
    return curl_dl_load() ? fn.curl_url() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
    if (u != NULL && curl_dl_loaded())
        fn.curl_url_cleanup(u);
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
    return curl_dl_loaded() ? fn.curl_url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
    return curl_dl_loaded() ? fn.curl_url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLM *curl_multi_init(void)
{
    return curl_dl_load() ? fn.curl_multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
    return curl_dl_loaded() ? fn.curl_multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
    return curl_dl_loaded() ? fn.curl_multi_add_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
    return curl_dl_loaded() ? fn.curl_multi_remove_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
    return curl_dl_loaded() ? fn.curl_multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int n, int timeout_ms, int *numfds)
{
    return curl_dl_loaded() ? fn.curl_multi_poll(m, fds, n, timeout_ms, numfds) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_wakeup(CURLM *m)
{
    return curl_dl_loaded() ? fn.curl_multi_wakeup(m) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
    return curl_dl_loaded() ? fn.curl_multi_info_read(m, left) : NULL;
}
