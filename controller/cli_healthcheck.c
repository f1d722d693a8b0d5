/*
 * `gantry healthcheck` reads the same static configuration as the server
 * (file, GANTRY_* environment, flags), so it finds the admin listener where
 * the server put it, and sends the admin token when one is set.
 */
#include "cli_healthcheck.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "../common/hostport.h"

#define HEALTHCHECK_TIMEOUT_MS 3000L

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* The admin address as a URL a local client can reach: a wildcard or empty
 * host means loopback of the same family. */
static int healthz_url(const char *address, char *out, size_t len)
{
    struct hostport hp;
    if (hostport_parse(address, HOSTPORT_EMPTY_HOST, &hp, NULL) != 0)
        return -1;
    const char *host = hp.host;
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    int n = snprintf(out, len, strchr(host, ':') ? "http://[%s]:%d/healthz" : "http://%s:%d/healthz", host, hp.port);
    return n < (int)len ? 0 : -1;
}

int cli_healthcheck(const struct static_config *c)
{
    char url[512];
    if (c->admin_address == NULL || *c->admin_address == '\0') {
        fprintf(stderr, "gantry healthcheck: admin.address is empty (the admin listener is off)\n");
        return 1;
    }
    if (healthz_url(c->admin_address, url, sizeof(url)) != 0) {
        fprintf(stderr, "gantry healthcheck: admin.address '%s' is not HOST:PORT\n", c->admin_address);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) { /* libcurl missing: said by curl_dl.c */
        fprintf(stderr, "gantry healthcheck: libcurl cannot be loaded\n");
        return 1;
    }
    CURL *e = curl_easy_init();
    struct curl_slist *headers = NULL;
    int rc = 1;
    if (e == NULL) {
        fprintf(stderr, "gantry healthcheck: out of memory\n");
        goto out;
    }
    if (c->admin_token && *c->admin_token) {
        char auth[1024];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->admin_token);
        headers = curl_slist_append(headers, auth);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, HEALTHCHECK_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    CURLcode res = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK)
        fprintf(stderr, "gantry healthcheck: %s: %s\n", url, curl_easy_strerror(res));
    else if (status != 200)
        fprintf(stderr, "gantry healthcheck: %s answered %ld\n", url, status);
    else
        rc = 0;
out:
    curl_slist_free_all(headers);
    if (e)
        curl_easy_cleanup(e);
    curl_global_cleanup();
    return rc;
}
