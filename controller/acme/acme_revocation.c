/* Revocation checks of ACME certificates (see acme_revocation.h). */
#include "acme_revocation.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../../common/arena.h"
#include "../../common/log.h"
#include "../curl_body.h"
#include "../watcher.h"
#include "acme_ocsp.h"

#define INTERVAL_MAX_MS (3600 * 1000)
#define INTERVAL_MIN_MS 5000
#define MAX_ANSWER (64 * 1024)

static struct {
    CURL *easy;
    struct curl_slist *headers;
    struct curl_body in;
    unsigned char *req;
    char *chain, *what;
    acme_revocation_cb done;
    void *data;
} R;

uint64_t acme_revocation_interval_ms(time_t not_before, time_t not_after)
{
    uint64_t ms = not_after > not_before ? (uint64_t)(not_after - not_before) * 100 : INTERVAL_MAX_MS;
    return ms > INTERVAL_MAX_MS ? INTERVAL_MAX_MS : ms < INTERVAL_MIN_MS ? INTERVAL_MIN_MS : ms;
}

bool acme_revocation_busy(void)
{
    return R.easy != NULL;
}

void acme_revocation_stop(void)
{
    if (R.easy) {
        watcher_remove_transfer(R.easy);
        curl_easy_cleanup(R.easy);
    }
    curl_slist_free_all(R.headers);
    curl_body_reset(&R.in, 0);
    free(R.req);
    free(R.chain);
    free(R.what);
    memset(&R, 0, sizeof(R));
}

static void on_answer(CURL *easy, CURLcode rc, void *data)
{
    (void)data;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    enum acme_ocsp_status st = ACME_OCSP_ERROR;
    if (rc == CURLE_OK && status == 200 && R.in.data)
        st = acme_ocsp_status(R.chain, (const unsigned char *)R.in.data, R.in.len);
    if (st == ACME_OCSP_ERROR)
        log_debug("acme: %s: OCSP check failed (curl %d, HTTP %ld, or an answer that does not verify)", R.what, (int)rc,
                  status);
    else if (st == ACME_OCSP_REVOKED)
        log_warn("acme: %s: revoked by the CA (OCSP)", R.what);
    acme_revocation_cb done = R.done;
    void *d = R.data;
    char *chain = R.chain;
    R.chain = NULL;
    acme_revocation_stop(); /* before the callback: it may start the next check */
    done(d, chain, st == ACME_OCSP_REVOKED);
    free(chain);
}

bool acme_revocation_check(const char *chain_pem, const char *what, acme_revocation_cb done, void *data)
{
    char *url = NULL;
    size_t len = 0;
    if (R.easy != NULL || acme_ocsp_request(chain_pem, &url, &R.req, &len) != 0)
        return false;
    R.chain = mem_strdup(chain_pem);
    R.what = mem_strdup(what);
    R.done = done;
    R.data = data;
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    R.headers = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, R.headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, R.req);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_body_reset(&R.in, MAX_ANSWER);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &R.in);
    R.easy = e;
    watcher_add_transfer(e, on_answer, NULL);
    free(url);
    return true;
}
