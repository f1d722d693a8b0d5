/* DNS-01: the provider calls and the propagation check on a thread of
 * their own (see acme_dns.h). */
#include "acme_dns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../../common/arena.h"
#include "../../common/log.h"
#include "../curl_body.h"
#include "../watcher.h"
#include "acme_dns_check.h"

#define STOP_CLEANUP_MS 5000 /* a cleanup still owed at stop: bounded */
#define MAX_OUTPUT 4096

extern char **environ;

enum job_kind { JOB_PRESENT, JOB_CLEANUP };

struct job {
    enum job_kind kind;
    unsigned gen;
    char *domain, *token, *keyauth, *fqdn, *value;
    struct job *next;
};

struct acme_dns {
    struct acme_dns_config cfg;
    char *name; /* the resolver's, for messages */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct job *head, *tail; /* waiting */
    bool stopping;
    bool new_order;       /* the next present starts an order: no sequence interval */
    uint64_t last_cleanup_ms; /* worker's clock: when the last cleanup of the order ended */
    int pipe[2];          /* a byte when a present is over */
    /* the record presented last (watcher thread) */
    char *domain, *token, *keyauth;
    unsigned gen; /* of the present the watcher waits for (0: none) */
    acme_dns_cb done;
    void *done_data;
    /* the outcome of a present (under mu) */
    bool result_ready;
    unsigned result_gen;
    char *result_error;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps <ms> unless the module stops (true: stopping). Called with mu held. */
static bool sleep_locked(struct acme_dns *d, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    while (!d->stopping)
        if (pthread_cond_timedwait(&d->cond, &d->mu, &ts) == ETIMEDOUT)
            break;
    return d->stopping;
}

static bool sleep_ms(struct acme_dns *d, uint64_t ms)
{
    pthread_mutex_lock(&d->mu);
    bool stop = sleep_locked(d, ms);
    pthread_mutex_unlock(&d->mu);
    return stop;
}

static bool stopping(struct acme_dns *d)
{
    pthread_mutex_lock(&d->mu);
    bool s = d->stopping;
    pthread_mutex_unlock(&d->mu);
    return s;
}

/* ---- exec ---- */

/* Runs EXEC_PATH <command> ... (lego's arguments), its output logged;
 * killed after <limit_ms>. 0, or -1 with <why>. */
static int run_exec(struct acme_dns *d, const struct job *j, const char *command, uint64_t limit_ms, char *why, size_t why_len)
{
    char *argv[7];
    size_t k = 0;
    argv[k++] = d->cfg.program;
    argv[k++] = (char *)command;
    if (d->cfg.raw) {
        argv[k++] = "--";
        argv[k++] = j->domain;
        argv[k++] = j->token;
        argv[k++] = j->keyauth;
    } else {
        argv[k++] = j->fqdn;
        argv[k++] = j->value;
    }
    argv[k] = NULL;
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    pid_t pid;
    int rc = posix_spawn(&pid, d->cfg.program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        snprintf(why, why_len, "start command %s: %s", d->cfg.program, strerror(rc));
        return -1;
    }
    char buf[MAX_OUTPUT + 1];
    size_t len = 0;
    uint64_t deadline = now_ms() + limit_ms;
    bool killed = false;
    for (;;) {
        uint64_t t = now_ms();
        if (!killed && (t >= deadline || (command[0] == 'p' && stopping(d)))) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        char chunk[512];
        ssize_t n = read(out[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = MAX_OUTPUT - len, take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + len, chunk, take);
        len += take;
    }
    close(out[0]);
    buf[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        log_info("acme: resolver %s: exec %s: %s", d->name, command, line);
    if (killed) {
        snprintf(why, why_len, "command %s %s killed after %llu ms", d->cfg.program, command, (unsigned long long)limit_ms);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, why_len, "command %s %s failed (%s %d)", d->cfg.program, command,
                 WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* ---- httpreq ---- */

struct abort_check {
    struct acme_dns *d;
    bool present;
};

/* A present is given up when gantry stops (a cleanup runs to its bounded end). */
static int on_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct abort_check *a = data;
    (void)dt, (void)dn, (void)ut, (void)un;
    return a->present && stopping(a->d);
}

/* POST <endpoint>/<command> with lego's JSON. 0, or -1 with <why>. */
static int run_httpreq(struct acme_dns *d, const struct job *j, const char *command, uint64_t limit_ms, char *why,
                       size_t why_len)
{
    cJSON *o = cJSON_CreateObject();
    if (d->cfg.raw) {
        cJSON_AddStringToObject(o, "domain", j->domain);
        cJSON_AddStringToObject(o, "token", j->token);
        cJSON_AddStringToObject(o, "keyAuth", j->keyauth);
    } else {
        cJSON_AddStringToObject(o, "fqdn", j->fqdn);
        cJSON_AddStringToObject(o, "value", j->value);
    }
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t el = strlen(d->cfg.endpoint);
    while (el > 0 && d->cfg.endpoint[el - 1] == '/')
        el--;
    size_t ul = el + strlen(command) + 2;
    char *url = mem_alloc(ul);
    snprintf(url, ul, "%.*s/%s", (int)el, d->cfg.endpoint, command);
    CURL *e = curl_easy_init();
    struct curl_body in;
    memset(&in, 0, sizeof(in));
    curl_body_reset(&in, MAX_OUTPUT);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char err[CURL_ERROR_SIZE] = "";
    int rc = -1;
    if (e == NULL || h == NULL || body == NULL) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)limit_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &in);
    struct abort_check ac = {d, command[0] == 'p'};
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &ac);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    if (d->cfg.username && *d->cfg.username && d->cfg.password && *d->cfg.password) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, d->cfg.username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, d->cfg.password);
    }
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        snprintf(why, why_len, "POST %s: %s", url, err[0] ? err : curl_easy_strerror(cc));
    else if (status >= 400)
        snprintf(why, why_len, "POST %s: %ld: request failed: %.200s", url, status, in.data ? in.data : "");
    else
        rc = 0;
done:
    curl_slist_free_all(h);
    if (e)
        curl_easy_cleanup(e);
    curl_body_reset(&in, 0);
    free(url);
    cJSON_free(body);
    return rc;
}

static int provider_call(struct acme_dns *d, const struct job *j, const char *command, uint64_t limit_ms, char *why,
                         size_t why_len)
{
    if (d->cfg.provider == ACME_DNS_EXEC)
        return run_exec(d, j, command, limit_ms, why, why_len);
    return run_httpreq(d, j, command, limit_ms < d->cfg.http_timeout_ms ? limit_ms : d->cfg.http_timeout_ms, why, why_len);
}

/* ---- the lookups ---- */

static bool check_stop(void *data)
{
    return stopping(data);
}

/* <stoppable>: the lookups end when gantry stops (a cleanup owed at stop still looks its name up) */
static struct acme_dns_check check_of(struct acme_dns *d, bool stoppable)
{
    return (struct acme_dns_check){.servers = d->cfg.resolvers,
                                   .n_servers = d->cfg.n_resolvers,
                                   .require_all = d->cfg.require_all,
                                   .ans = !d->cfg.disable_ans,
                                   .exchange_ms = ACME_DNS_EXCHANGE_MS,
                                   .stop = stoppable ? check_stop : NULL,
                                   .stop_data = d};
}

/* The name the record is written at: the end of the CNAME chain of _acme-challenge.<domain> (lego). */
static void effective_fqdn(struct acme_dns *d, struct job *j, bool stoppable)
{
    if (!d->cfg.follow_cname)
        return;
    struct acme_dns_check c = check_of(d, stoppable);
    char *target = acme_dns_follow_cname(&c, j->fqdn);
    if (strcmp(target, j->fqdn) != 0)
        log_info("acme: resolver %s: DNS-01 for %s: %s is a CNAME: the record goes to %s", d->name, j->domain, j->fqdn, target);
    free(j->fqdn);
    j->fqdn = target;
}

/* ---- the jobs ---- */

static char *present(struct acme_dns *d, struct job *j)
{
    char why[768] = "";
    uint64_t started;
    pthread_mutex_lock(&d->mu);
    bool first = d->new_order;
    d->new_order = false;
    /* lego: a sequential provider's authorizations are solved one after the other, EXEC_SEQUENCE_INTERVAL apart */
    if (!first && d->cfg.sequence_interval_ms && d->last_cleanup_ms) {
        uint64_t t = now_ms(), at = d->last_cleanup_ms + d->cfg.sequence_interval_ms;
        if (at > t) {
            log_info("acme: resolver %s: waiting EXEC_SEQUENCE_INTERVAL (%llu ms) before presenting %s", d->name,
                     (unsigned long long)(at - t), j->fqdn);
            if (sleep_locked(d, at - t)) {
                pthread_mutex_unlock(&d->mu);
                return mem_strdup("stopped");
            }
        }
    }
    pthread_mutex_unlock(&d->mu);
    effective_fqdn(d, j, true);
    if (provider_call(d, j, "present", d->cfg.propagation_timeout_ms ? d->cfg.propagation_timeout_ms : 60000, why,
                      sizeof(why)) != 0) {
        char *e = mem_alloc(1024);
        snprintf(e, 1024, "DNS-01 for %s: %s: %s", j->domain, d->cfg.provider == ACME_DNS_EXEC ? "exec" : "httpreq", why);
        return e;
    }
    log_info("acme: resolver %s: TXT %s presented (%s); %s", d->name, j->fqdn, d->cfg.provider == ACME_DNS_EXEC ? "exec" : "httpreq",
             d->cfg.disable_checks ? "propagation checks disabled" : "checking its propagation");
    if (d->cfg.delay_ms && sleep_ms(d, d->cfg.delay_ms))
        return mem_strdup("stopped");
    if (d->cfg.disable_checks)
        return NULL;
    started = now_ms();
    struct acme_dns_check c = check_of(d, true);
    char ans[1024] = "", ans_logged[1024] = "";
    for (;;) {
        int rc = acme_dns_check_round(&c, j->fqdn, j->value, why, sizeof(why), ans, sizeof(ans));
        if (ans[0] && strcmp(ans, ans_logged) != 0) {
            log_info("acme: resolver %s: TXT %s: asking the authoritative nameservers of %s", d->name, j->fqdn, ans);
            memcpy(ans_logged, ans, sizeof(ans));
        }
        if (rc == 1) {
            log_info("acme: resolver %s: TXT %s is there after %llu ms", d->name, j->fqdn,
                     (unsigned long long)(now_ms() - started));
            return NULL;
        }
        uint64_t t = now_ms();
        if (t - started >= d->cfg.propagation_timeout_ms) {
            char *e = mem_alloc(1024);
            snprintf(e, 1024, "DNS-01 for %s: the TXT record %s did not propagate within %sPROPAGATION_TIMEOUT (%llu s; last: %s)",
                     j->domain, j->fqdn, d->cfg.env_prefix, (unsigned long long)(d->cfg.propagation_timeout_ms / 1000), why);
            return e;
        }
        log_debug("acme: resolver %s: TXT %s: %s", d->name, j->fqdn, why);
        uint64_t wait = d->cfg.polling_interval_ms, left = d->cfg.propagation_timeout_ms - (t - started);
        if (sleep_ms(d, wait < left ? wait : left))
            return mem_strdup("stopped");
    }
}

static void cleanup(struct acme_dns *d, struct job *j)
{
    char why[768] = "";
    bool stop = stopping(d);
    uint64_t limit = stop ? STOP_CLEANUP_MS : d->cfg.propagation_timeout_ms ? d->cfg.propagation_timeout_ms : 60000;
    effective_fqdn(d, j, false); /* looked up again, as lego's CleanUp does */
    if (provider_call(d, j, "cleanup", limit, why, sizeof(why)) != 0)
        log_warn("acme: resolver %s: DNS-01 cleanup of %s for %s failed: %s", d->name, j->fqdn, j->domain, why);
    else
        log_info("acme: resolver %s: TXT %s cleaned up", d->name, j->fqdn);
    pthread_mutex_lock(&d->mu);
    d->last_cleanup_ms = now_ms();
    pthread_mutex_unlock(&d->mu);
}

static void job_free(struct job *j)
{
    free(j->domain);
    free(j->token);
    free(j->keyauth);
    free(j->fqdn);
    free(j->value);
    free(j);
}

static void *run(void *arg)
{
    struct acme_dns *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (d->head == NULL && !d->stopping)
            pthread_cond_wait(&d->cond, &d->mu);
        struct job *j = d->head;
        if (j == NULL)
            break; /* stopping, nothing owed */
        d->head = j->next;
        if (d->head == NULL)
            d->tail = NULL;
        bool stop = d->stopping;
        pthread_mutex_unlock(&d->mu);
        if (j->kind == JOB_CLEANUP) {
            cleanup(d, j);
        } else if (!stop) {
            char *err = present(d, j);
            pthread_mutex_lock(&d->mu);
            free(d->result_error);
            d->result_error = err;
            d->result_gen = j->gen;
            d->result_ready = true;
            pthread_mutex_unlock(&d->mu);
            char b = 1;
            while (write(d->pipe[1], &b, 1) < 0 && errno == EINTR)
                ;
        }
        job_free(j);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void enqueue(struct acme_dns *d, struct job *j)
{
    pthread_mutex_lock(&d->mu);
    if (d->tail)
        d->tail->next = j;
    else
        d->head = j;
    d->tail = j;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

/* A present is over (watcher thread): its outcome to the waiting order, unless it was given up meanwhile. */
static void on_ready(int fd, short revents, void *data)
{
    (void)revents;
    struct acme_dns *d = data;
    char b[64];
    while (read(fd, b, sizeof(b)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&d->mu);
    bool ready = d->result_ready;
    unsigned gen = d->result_gen;
    char *err = d->result_error;
    d->result_error = NULL;
    d->result_ready = false;
    pthread_mutex_unlock(&d->mu);
    if (ready && gen == d->gen && d->done) {
        acme_dns_cb done = d->done;
        d->done = NULL;
        d->gen = 0;
        done(d->done_data, err);
    }
    free(err);
}

struct acme_dns *acme_dns_new(struct acme_dns_config *c, const char *resolver_name)
{
    struct acme_dns *d = mem_calloc(1, sizeof(*d));
    if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(d);
        return NULL;
    }
    d->cfg = *c;
    memset(c, 0, sizeof(*c));
    if (d->cfg.n_resolvers == 0) /* lego: the nameservers of /etc/resolv.conf */
        d->cfg.n_resolvers = acme_dns_system_servers(d->cfg.resolvers, ACME_DNS_MAX_RESOLVERS);
    d->name = mem_strdup(resolver_name);
    d->new_order = true;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        close(d->pipe[0]);
        close(d->pipe[1]);
        acme_dns_config_free(&d->cfg);
        free(d->name);
        free(d);
        return NULL;
    }
    watcher_add_fd(d->pipe[0], POLLIN, on_ready, d);
    return d;
}

void acme_dns_free(struct acme_dns *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    watcher_remove_fd(d->pipe[0]);
    close(d->pipe[0]);
    close(d->pipe[1]);
    for (struct job *j = d->head, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cond);
    acme_dns_config_free(&d->cfg);
    free(d->result_error);
    free(d->domain);
    free(d->token);
    free(d->keyauth);
    free(d->name);
    free(d);
}

void acme_dns_order_start(struct acme_dns *d)
{
    pthread_mutex_lock(&d->mu);
    d->new_order = true;
    pthread_mutex_unlock(&d->mu);
}

static struct job *job_new(enum job_kind kind, const char *domain, const char *token, const char *keyauth)
{
    struct job *j = mem_calloc(1, sizeof(*j));
    j->kind = kind;
    j->domain = mem_strdup(domain);
    j->token = mem_strdup(token);
    j->keyauth = mem_strdup(keyauth);
    j->fqdn = acme_dns_fqdn(domain);
    j->value = acme_dns_txt_value(keyauth);
    return j;
}

void acme_dns_present(struct acme_dns *d, const char *domain, const char *token, const char *keyauth, acme_dns_cb done,
                      void *data)
{
    static unsigned gen_counter;
    free(d->domain);
    free(d->token);
    free(d->keyauth);
    d->domain = mem_strdup(domain);
    d->token = mem_strdup(token);
    d->keyauth = mem_strdup(keyauth);
    if (++gen_counter == 0)
        gen_counter = 1;
    d->gen = gen_counter;
    d->done = done;
    d->done_data = data;
    struct job *j = job_new(JOB_PRESENT, domain, token, keyauth);
    j->gen = d->gen;
    enqueue(d, j);
}

void acme_dns_cleanup(struct acme_dns *d)
{
    d->gen = 0; /* a present still under way is given up */
    d->done = NULL;
    if (d->domain == NULL)
        return;
    enqueue(d, job_new(JOB_CLEANUP, d->domain, d->token, d->keyauth));
    free(d->domain);
    free(d->token);
    free(d->keyauth);
    d->domain = d->token = d->keyauth = NULL;
}
