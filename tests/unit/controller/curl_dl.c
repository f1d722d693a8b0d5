/* Tests controller/curl_dl.c: libcurl is not mapped until the first curl
 * call, then every wrapped function reaches the real library (options of
 * each argument type, getinfo, URL API, slists, escape, dates); without the
 * library each function reports failure instead of crashing (a child
 * process, as the load is once per process). */
#include "../../../controller/curl_dl.c"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static bool mapped(const char *lib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, lib) != NULL)
            found = true;
    if (f != NULL)
        fclose(f);
    return found;
}

static size_t sink(char *p, size_t size, size_t n, void *data)
{
    (void)p;
    *(size_t *)data += size * n;
    return size * n;
}

static void test_missing_library(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        curl_dl_set_library("libcurl-missing-for-test.so.4");
        int bad = 0;
        bad += curl_dl_load();
        bad += curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
        bad += curl_easy_init() != NULL;
        bad += curl_multi_init() != NULL;
        bad += curl_url() != NULL;
        bad += curl_slist_append(NULL, "a: b") != NULL;
        bad += curl_easy_escape(NULL, "a b", 3) != NULL;
        bad += curl_getdate("Thu, 04 Dec 2025 01:00:00 GMT", NULL) != -1;
        bad += curl_easy_setopt(NULL, CURLOPT_URL, "http://x/") == CURLE_OK;
        bad += strstr(curl_easy_strerror(CURLE_OK), "could not be loaded") == NULL;
        curl_easy_cleanup(NULL);
        curl_slist_free_all(NULL);
        curl_free(NULL);
        curl_global_cleanup();
        _exit(bad);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_lazy_load(void)
{
    CHECK(!curl_dl_loaded());
    CHECK(!mapped("libcurl"));
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    CHECK(curl_dl_loaded());
    CHECK(mapped("libcurl"));
}

static void test_functions(void)
{
    char *s = curl_easy_escape(NULL, "a b/c", 5);
    CHECK_STR(s, "a%20b%2Fc");
    curl_free(s);
    CHECK(curl_getdate("Thu, 04 Dec 2025 01:00:00 GMT", NULL) == 1764810000);

    CURLU *u = curl_url();
    CHECK(u != NULL);
    CHECK(curl_url_set(u, CURLUPART_URL, "https://example.test:8443/p?q=1", 0) == CURLUE_OK);
    char *host = NULL, *port = NULL;
    CHECK(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK);
    CHECK(curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK);
    CHECK_STR(host, "example.test");
    CHECK_STR(port, "8443");
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);

    struct curl_slist *h = curl_slist_append(NULL, "X-A: 1");
    h = curl_slist_append(h, "X-B: 2");
    CHECK(h != NULL && h->next != NULL);

    /* a file:// transfer: a long, a string, a function, an off_t and a
     * pointer option go through; getinfo answers */
    char path[] = "/tmp/curl_dl_testXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello world\n", 12) == 12);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "file://%s", path);
    CURL *e = curl_easy_init();
    CHECK(e != NULL);
    size_t got = 0;
    CHECK(curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_WRITEDATA, &got) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)6) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) == CURLE_OK);
    CHECK(curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)path) == CURLE_OK);
    CHECK(curl_easy_perform(e) == CURLE_OK);
    CHECK(got == 6); /* "world\n": the off_t arrived */
    char *priv = NULL;
    CHECK(curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv) == CURLE_OK);
    CHECK(priv == path);
    curl_off_t size = 0;
    CHECK(curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &size) == CURLE_OK);
    CHECK(size == 6);
    CHECK(curl_easy_setopt(e, CURLOPT_URL, "file:///nonexistent/curl_dl") == CURLE_OK);
    CHECK(curl_easy_perform(e) == CURLE_FILE_COULDNT_READ_FILE);
    CHECK_STR(curl_easy_strerror(CURLE_FILE_COULDNT_READ_FILE), "Couldn't read a file:// file");
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    unlink(path);

    /* the multi interface the watcher uses */
    CURLM *m = curl_multi_init();
    CHECK(m != NULL);
    int running = -1, numfds = -1;
    CHECK(curl_multi_perform(m, &running) == CURLM_OK && running == 0);
    CHECK(curl_multi_wakeup(m) == CURLM_OK);
    CHECK(curl_multi_poll(m, NULL, 0, 1000, &numfds) == CURLM_OK); /* the wakeup ends it at once */
    int left = -1;
    CHECK(curl_multi_info_read(m, &left) == NULL);
    CHECK(curl_multi_cleanup(m) == CURLM_OK);
}

int main(void)
{
    test_missing_library();
    test_lazy_load();
    test_functions();
    curl_global_cleanup();
    return test_report("controller/curl_dl");
}
