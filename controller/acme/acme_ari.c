/* ACME Renewal Information (see acme_ari.h). */
#include "acme_ari.h"

#include "acme_crypto.h"
#include "acme_retry.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* The content octets of the serial's DER INTEGER (sign octet included, as
 * the RFC wants), found by skipping its tag and length. */
static char *serial_b64(const ASN1_INTEGER *serial)
{
    unsigned char *der = NULL;
    int len = i2d_ASN1_INTEGER(serial, &der);
    char *out = NULL;
    if (len >= 3 && der[0] == 0x02) {
        size_t hdr = der[1] < 0x80 ? 2 : 2 + (size_t)(der[1] & 0x7f);
        if (hdr < (size_t)len)
            out = acme_b64url(der + hdr, (size_t)len - hdr);
    }
    OPENSSL_free(der);
    return out;
}

char *acme_ari_cert_id(const char *pem)
{
    if (pem == NULL)
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (x == NULL)
        return NULL;
    char *out = NULL;
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    if (aki != NULL && ASN1_STRING_length(aki) > 0) {
        char *a = acme_b64url(ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki));
        char *s = serial_b64(X509_get0_serialNumber(x));
        if (a && s && (out = malloc(strlen(a) + strlen(s) + 2)) != NULL)
            sprintf(out, "%s.%s", a, s);
        free(a);
        free(s);
    }
    X509_free(x);
    return out;
}

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

time_t acme_ari_rfc3339(const char *s)
{
    if (s == NULL)
        return -1;
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return -1;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return -1;
    int d = digits(&p, 2);
    if (d < 1 || d > 31 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return -1;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return -1;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60)
        return -1;
    if (*p == '.') { /* fractions are dropped: the schedule counts seconds */
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':')
            return -1;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return -1;
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
                    .tm_sec = sec == 60 ? 59 : sec};
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : t - offset;
}

int acme_ari_parse(const char *json, struct acme_ari_window *w)
{
    memset(w, 0, sizeof(*w));
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    int rc = -1;
    const cJSON *win = cJSON_GetObjectItemCaseSensitive(root, "suggestedWindow");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(win, "start");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(win, "end");
    if (cJSON_IsString(start) && cJSON_IsString(end)) {
        w->start = acme_ari_rfc3339(start->valuestring);
        w->end = acme_ari_rfc3339(end->valuestring);
        /* RFC 9773 §4.2: end must be after start; otherwise the window is invalid */
        if (w->start >= 0 && w->end > w->start)
            rc = 0;
    }
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "explanationURL");
    if (rc == 0 && cJSON_IsString(url))
        snprintf(w->explanation_url, sizeof(w->explanation_url), "%s", url->valuestring);
    cJSON_Delete(root);
    return rc;
}

time_t acme_ari_pick(const struct acme_ari_window *w, time_t now, uint64_t rnd)
{
    if (now >= w->start)
        return now;
    uint64_t span = (uint64_t)(w->end - w->start) + 1;
    return w->start + (time_t)(rnd % span);
}

int64_t acme_ari_retry_after(const char *value, time_t now)
{
    time_t at = acme_retry_after_parse(value, now);
    int64_t s = at > 0 ? (int64_t)(at - now) : ACME_ARI_RETRY_DEFAULT_S;
    if (s < ACME_ARI_RETRY_MIN_S)
        s = ACME_ARI_RETRY_MIN_S;
    if (s > ACME_ARI_RETRY_MAX_S)
        s = ACME_ARI_RETRY_MAX_S;
    return s;
}
