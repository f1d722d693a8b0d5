/* Tests controller/acme/acme_ari.c: the RFC 9773 certificate identifier of
 * fixed certificates (answers computed independently with python
 * cryptography), RFC 3339 times, the suggestedWindow parsing (and its
 * malformed forms), the time picked in a window and the Retry-After delay. */
#include "../../../controller/acme/acme_ari.c"

#include "test.h"

/* openssl req -x509 (P-256) -set_serial 0x87654321, AKI keyid:always: the
 * serial's DER content keeps its sign octet (00 87 65 43 21), as in the
 * RFC's own example ("….AIdlQyE") */
static const char CERT_AKI[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBbDCCARKgAwIBAgIFAIdlQyEwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIYXJp\n"
                               "LXRlc3QwHhcNMjYxMjA1MTM1NjQ1WhcNMzYxMjAyMTM1NjQ1WjATMREwDwYDVQQD\n"
                               "DAhhcmktdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPz2z0hefNdkALsL\n"
                               "zM5ExYlbMMqwU0tAwQy3TIrdgdpM5uXIiKbn1I+wAdDNrLemsL3QaEjHHaKyru3k\n"
                               "8rdLJNKjUzBRMB0GA1UdDgQWBBSFSdqEzk9Vx/ifgm9y2l5rlMOrxDAPBgNVHRMB\n"
                               "Af8EBTADAQH/MB8GA1UdIwQYMBaAFIVJ2oTOT1XH+J+Cb3LaXmuUw6vEMAoGCCqG\n"
                               "SM49BAMCA0gAMEUCIBsPorxNp9XT7yGtp7SBmgmiG+WfDmBhTVoKOqaCELjCAiEA\n"
                               "o14YCanNghZw4EE7beBxSU3e/Wgb2r4LcdnzWdyTzzU=\n"
                               "-----END CERTIFICATE-----\n";

/* the same key, serial 5, no authorityKeyIdentifier: no ARI identifier */
static const char CERT_NO_AKI[] = "-----BEGIN CERTIFICATE-----\n"
                                  "MIIBPDCB46ADAgECAgEFMAoGCCqGSM49BAMCMBExDzANBgNVBAMMBm5vLWFraTAe\n"
                                  "Fw0yNjEyMDUxMzU2NTFaFw0zNjEyMDIxMzU2NTFaMBExDzANBgNVBAMMBm5vLWFr\n"
                                  "aTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPz2z0hefNdkALsLzM5ExYlbMMqw\n"
                                  "U0tAwQy3TIrdgdpM5uXIiKbn1I+wAdDNrLemsL3QaEjHHaKyru3k8rdLJNKjLDAq\n"
                                  "MAkGA1UdEwQCMAAwHQYDVR0OBBYEFIVJ2oTOT1XH+J+Cb3LaXmuUw6vEMAoGCCqG\n"
                                  "SM49BAMCA0gAMEUCIEtLPaxUV2TT/nMMaAqaxlsrGnebOodT6cO8S+TqM7naAiEA\n"
                                  "4w9gqvn26AXlBvdIa8bhiinvba2mGskmJ2WVvsgcatQ=\n"
                                  "-----END CERTIFICATE-----\n";

static void test_cert_id(void)
{
    char *id = acme_ari_cert_id(CERT_AKI);
    CHECK_STR(id, "hUnahM5PVcf4n4Jvctpea5TDq8Q.AIdlQyE");
    free(id);
    CHECK(acme_ari_cert_id(CERT_NO_AKI) == NULL);
    CHECK(acme_ari_cert_id("not a certificate") == NULL);
    CHECK(acme_ari_cert_id(NULL) == NULL);
}

static void test_rfc3339(void)
{
    CHECK(acme_ari_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(acme_ari_rfc3339("2025-01-02T04:00:00Z") == 1735790400);
    CHECK(acme_ari_rfc3339("2025-01-02t04:00:00.123456789z") == 1735790400);
    CHECK(acme_ari_rfc3339("2025-01-02T06:30:00+02:30") == 1735790400);
    CHECK(acme_ari_rfc3339("2025-01-02T01:00:00-03:00") == 1735790400);
    CHECK(acme_ari_rfc3339("2025-01-02T04:00:00") == -1); /* no offset */
    CHECK(acme_ari_rfc3339("2025-01-02T04:00:00Zjunk") == -1);
    CHECK(acme_ari_rfc3339("2025-13-02T04:00:00Z") == -1);
    CHECK(acme_ari_rfc3339("2025-01-02T24:00:00Z") == -1);
    CHECK(acme_ari_rfc3339("2025-01-02T04:00:00.Z") == -1);
    CHECK(acme_ari_rfc3339("tomorrow") == -1);
    CHECK(acme_ari_rfc3339("") == -1);
}

static void test_parse(void)
{
    struct acme_ari_window w;
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"},"
                         "\"explanationURL\":\"https://acme.example.com/docs/ari\"}",
                         &w) == 0);
    CHECK(w.start == 1735790400 && w.end == 1735790400 + 86400);
    CHECK_STR(w.explanation_url, "https://acme.example.com/docs/ari");
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T04:00:01Z\"}}",
                         &w) == 0);
    CHECK(w.end - w.start == 1 && w.explanation_url[0] == '\0');
    /* malformed: the caller keeps its normal schedule */
    CHECK(acme_ari_parse("", &w) == -1);
    CHECK(acme_ari_parse("not json", &w) == -1);
    CHECK(acme_ari_parse(NULL, &w) == -1);
    CHECK(acme_ari_parse("[]", &w) == -1);
    CHECK(acme_ari_parse("{}", &w) == -1);
    CHECK(acme_ari_parse("{\"suggestedWindow\":\"soon\"}", &w) == -1);
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\"}}", &w) == -1);
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":1735790400,\"end\":1735876800}}", &w) == -1);
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"yesterday\",\"end\":\"2025-01-03T04:00:00Z\"}}", &w) == -1);
    /* end before or at start (RFC 9773 §4.2) */
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}",
                         &w) == -1);
    CHECK(acme_ari_parse("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}",
                         &w) == -1);
}

static void test_pick(void)
{
    struct acme_ari_window w = {.start = 1000, .end = 1100};
    /* a future window: every second of it reachable, nothing outside */
    CHECK(acme_ari_pick(&w, 500, 0) == 1000);
    CHECK(acme_ari_pick(&w, 500, 100) == 1100);
    CHECK(acme_ari_pick(&w, 500, 101) == 1000);
    CHECK(acme_ari_pick(&w, 500, UINT64_MAX) >= 1000 && acme_ari_pick(&w, 500, UINT64_MAX) <= 1100);
    int seen_low = 0, seen_high = 0;
    for (uint64_t r = 0; r < 1000; r++) {
        time_t t = acme_ari_pick(&w, 999, r * 7919);
        CHECK(t >= 1000 && t <= 1100);
        seen_low |= t < 1050;
        seen_high |= t >= 1050;
    }
    CHECK(seen_low && seen_high);
    /* begun or past: now */
    CHECK(acme_ari_pick(&w, 1000, 42) == 1000);
    CHECK(acme_ari_pick(&w, 1050, 42) == 1050);
    CHECK(acme_ari_pick(&w, 5000, 42) == 5000);
}

static void test_retry_after(void)
{
    time_t now = 1735790400;
    CHECK(acme_ari_retry_after(NULL, now) == 6 * 3600);
    CHECK(acme_ari_retry_after("", now) == 6 * 3600);
    CHECK(acme_ari_retry_after("soon", now) == 6 * 3600);
    CHECK(acme_ari_retry_after("3600", now) == 3600);
    CHECK(acme_ari_retry_after("5", now) == 60);                       /* at least a minute */
    CHECK(acme_ari_retry_after("0", now) == 60);
    CHECK(acme_ari_retry_after("999999", now) == 24 * 3600);           /* at most a day */
    CHECK(acme_ari_retry_after("Thu, 02 Jan 2025 06:00:00 GMT", now) == 2 * 3600); /* an HTTP-date */
    CHECK(acme_ari_retry_after("Wed, 01 Jan 2025 06:00:00 GMT", now) == 60);       /* already past */
}

int main(void)
{
    test_cert_id();
    test_rfc3339();
    test_parse();
    test_pick();
    test_retry_after();
    return test_report("controller/acme_ari");
}
