/* Tests proxy/middleware/mw_content_type.c: the autoDetect option and the
 * label form, and the detection against Go's http.DetectContentType cases
 * (net/http/sniff_test.go). The response path is tested in
 * tests/integration/test_mw_paths.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_content_type.c"

static const char *sniff(const char *s, size_t n)
{
    return detect((const unsigned char *)s, n);
}
#define SNIFF(lit) sniff(lit, sizeof(lit) - 1)

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* Traefik's example: contentType: {} turns detection on */
    struct table_middleware *m = mw_test_build(&t, "contentType", NULL);
    CHECK(m != NULL && ((const struct content_type *)m->cfg)->on);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    const char *off[] = {"autoDetect", "false", NULL};
    m = mw_test_build(&t, "contentType", off);
    CHECK(m != NULL && !((const struct content_type *)m->cfg)->on);
    const char *labels[] = {"autodetect", "true", NULL};
    m = mw_test_build(&t, "contenttype", labels);
    CHECK(m != NULL && ((const struct content_type *)m->cfg)->on);
    /* the label "traefik.http.middlewares.autodetect.contenttype=true" as
     * controller/docker_build decodes it (tests/fixtures/docker/path_middlewares.json) */
    const char *type_label[] = {"", "true", NULL};
    m = mw_test_build(&t, "contenttype", type_label);
    CHECK(m != NULL && ((const struct content_type *)m->cfg)->on);
    const char *type_label_bad[] = {"", "yes", NULL};
    CHECK(mw_test_build(&t, "contenttype", type_label_bad) == NULL);
    CHECK_CONTAINS(t.error, "contentType: 'yes': the contentType label takes the value true");
    const char *bad[] = {"autoDetect", "maybe", NULL};
    CHECK(mw_test_build(&t, "contentType", bad) == NULL);
    CHECK_CONTAINS(t.error, "contentType: autoDetect: 'maybe' is not a boolean");
    const char *unknown[] = {"type", "text/html", NULL};
    CHECK(mw_test_build(&t, "contentType", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'type'");

    /* Go's sniff tests */
    CHECK_STR(sniff("", 0), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("\x01\x02\x03"), "application/octet-stream");
    CHECK_STR(SNIFF("\x00"), "application/octet-stream"); /* Go: "Binary" */
    CHECK_STR(SNIFF("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("<HTML></HTML>"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("   <HTML  "), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("<html>"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("\n<body>"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("<htmlx>"), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("\n<?xml!"), "text/xml; charset=utf-8");
    CHECK_STR(SNIFF("\xfe\xff\x00\x00"), "text/plain; charset=utf-16be");
    CHECK_STR(SNIFF("\xff\xfe\x00\x00"), "text/plain; charset=utf-16le");
    CHECK_STR(SNIFF("\xef\xbb\xbf\x00"), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("%PDF-1.4"), "application/pdf");
    CHECK_STR(SNIFF("%!PS-Adobe-3.0"), "application/postscript");
    CHECK_STR(SNIFF("GIF87a"), "image/gif");
    CHECK_STR(SNIFF("GIF89a..."), "image/gif");
    CHECK_STR(SNIFF("\x89PNG\x0D\x0A\x1A\x0A"), "image/png");
    CHECK_STR(SNIFF("\xFF\xD8\xFF"), "image/jpeg");
    CHECK_STR(SNIFF("RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp");
    CHECK_STR(SNIFF("BM\x00"), "image/bmp");
    CHECK_STR(SNIFF("\x00\x00\x01\x00"), "image/x-icon");
    CHECK_STR(SNIFF("FORM\x00\x00\x00\x00" "AIFFCOMM\x00\x00\x00\x12\x00\x01\x00\x00\x57\x55\x00\x10\x40\x0d\xf3\x34"),
              "audio/aiff");
    CHECK_STR(SNIFF("ID3\x03\x00\x00\x00\x00\x0f"), "audio/mpeg");
    CHECK_STR(SNIFF("MThd\x00\x00\x00\x06\x00\x01"), "audio/midi");
    CHECK_STR(SNIFF("OggS\x00"), "application/ogg");
    CHECK_STR(SNIFF("RIFF,\x00\x00\x00WAVEfmt \x12\x00\x00\x00\x06"), "audio/wave");
    CHECK_STR(SNIFF("RIFF,\x00\x00\x00" "AVI LIST\xf0"), "video/avi");
    CHECK_STR(SNIFF("\x00\x00\x00\x18" "ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat"), "video/mp4");
    CHECK_STR(SNIFF("\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f\x42\x86\x81\x01"), "video/webm");
    CHECK_STR(SNIFF("\x00\x01\x00\x00"), "font/ttf");
    CHECK_STR(SNIFF("OTTO"), "font/otf");
    CHECK_STR(SNIFF("ttcf"), "font/collection");
    CHECK_STR(SNIFF("wOFF"), "font/woff");
    CHECK_STR(SNIFF("wOF2"), "font/woff2");
    CHECK_STR(SNIFF("\x1f\x8b\x08"), "application/x-gzip");
    CHECK_STR(SNIFF("PK\x03\x04"), "application/zip");
    CHECK_STR(SNIFF("Rar!\x1A\x07\x00"), "application/x-rar-compressed");
    CHECK_STR(SNIFF("Rar!\x1A\x07\x01\x00"), "application/x-rar-compressed");
    CHECK_STR(SNIFF("\x00\x61\x73\x6D\x01\x00"), "application/wasm");
    CHECK_STR(SNIFF("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                    "\x00\x00\x00\x00\x00\x00\x00\x00LP"),
              "application/vnd.ms-fontobject");
    CHECK_STR(SNIFF("hello, world"), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("{\"a\": 1}"), "text/plain; charset=utf-8"); /* Go has no JSON signature */
    /* only the first 512 bytes count */
    char big[600];
    memset(big, 'a', sizeof(big));
    big[550] = '\x01';
    CHECK_STR(sniff(big, sizeof(big)), "text/plain; charset=utf-8");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_content_type");
}
