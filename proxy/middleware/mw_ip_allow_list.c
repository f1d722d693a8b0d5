/*
 * IPAllowList (Traefik; ipWhiteList is its v2 name with the same options):
 * lets a request through only when the client address its ipStrategy picks
 * is in <sourceRange> (addresses and CIDRs); otherwise answers
 * <rejectStatusCode> (default 403) with the status text as body. No
 * address (an empty X-Forwarded-For with a depth) or one that does not
 * parse is refused, as in Traefik.
 *
 * ipDenyList (Gantry-internal: Traefik has none; the kubernetes provider
 * builds it for ingress-nginx's denylist-source-range): the opposite, a
 * client in <sourceRange> is answered 403 (nginx's `deny`); a request
 * without a usable address is refused too (fail closed).
 */
#include "ip_strategy.h"

#include <string.h>

struct ip_allow_list {
    struct rule_cidr *ranges;
    size_t n;
    struct ip_strategy strategy;
    int status;
    const char *reason;
    bool deny;
};

/* Go's http.StatusText for the codes it knows; NULL for the others. */
static const char *status_text(int code)
{
    static const struct {
        int code;
        const char *text;
    } texts[] = {
        {100, "Continue"}, {101, "Switching Protocols"}, {102, "Processing"}, {103, "Early Hints"}, {200, "OK"},
        {201, "Created"}, {202, "Accepted"}, {203, "Non-Authoritative Information"}, {204, "No Content"},
        {205, "Reset Content"}, {206, "Partial Content"}, {207, "Multi-Status"}, {208, "Already Reported"},
        {226, "IM Used"}, {300, "Multiple Choices"}, {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
        {304, "Not Modified"}, {305, "Use Proxy"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
        {400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {407, "Proxy Authentication Required"},
        {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
        {412, "Precondition Failed"}, {413, "Request Entity Too Large"}, {414, "Request URI Too Long"},
        {415, "Unsupported Media Type"}, {416, "Requested Range Not Satisfiable"}, {417, "Expectation Failed"},
        {418, "I'm a teapot"}, {421, "Misdirected Request"}, {422, "Unprocessable Entity"}, {423, "Locked"},
        {424, "Failed Dependency"}, {425, "Too Early"}, {426, "Upgrade Required"}, {428, "Precondition Required"},
        {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"}, {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
        {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"}, {506, "Variant Also Negotiates"},
        {507, "Insufficient Storage"}, {508, "Loop Detected"}, {510, "Not Extended"},
        {511, "Network Authentication Required"},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].code == code)
            return texts[i].text;
    return NULL;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct ip_allow_list *c = arena_alloc(a, sizeof(*c));
    const char **ranges = mw_opt_list(a, o, "sourceRange", &c->n);
    if (c->n == 0)
        return diag_set(d, "sourceRange is empty");
    c->ranges = arena_alloc(a, c->n * sizeof(*c->ranges));
    for (size_t i = 0; i < c->n; i++)
        if (rule_parse_cidr(ranges[i], strlen(ranges[i]), &c->ranges[i]) != 0)
            return diag_set(d, "sourceRange: '%s' is not an IP address or CIDR", ranges[i]);
    int64_t status;
    if (mw_opt_int(o, "rejectStatusCode", 0, 0, 999, &status, d) != 0)
        return -1;
    if (status == 0)
        status = 403;
    if ((c->reason = status_text((int)status)) == NULL)
        return diag_set(d, "rejectStatusCode: invalid HTTP status code %d", (int)status);
    c->status = (int)status;
    (void)mw_opt_string(o, "ipStrategy"); /* "ipStrategy:" alone: the remote address */
    if (ip_strategy_build(a, o, "ipStrategy", &c->strategy, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

static int build_deny(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    if (o->provider != NULL && strcmp(o->provider, "kubernetes") != 0)
        return diag_set(d, "this middleware type is internal to the kubernetes Ingress provider");
    if (build(a, o, cfg, d) != 0)
        return -1;
    ((struct ip_allow_list *)*cfg)->deny = true;
    return 0;
}

static bool allowed(const struct ip_allow_list *c, const struct mw_run *run)
{
    char text[IP_STRATEGY_TEXT];
    uint8_t addr[16];
    size_t len = ip_strategy_get(&c->strategy, run, text);
    if (len == 0 || !ip_strategy_parse_addr(text, len, addr))
        return false;
    for (size_t i = 0; i < c->n; i++)
        if (rule_cidr_contains(&c->ranges[i], addr))
            return !c->deny;
    return c->deny;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct ip_allow_list *c = cfg;
    if (allowed(c, run))
        return MW_NEXT;
    mw_answer(run, c->status, c->reason, c->reason, false);
    return MW_ANSWERED;
}

const struct mw_type mw_ip_allow_list = {"ipAllowList", build, on_request, NULL};
const struct mw_type mw_ip_white_list = {"ipWhiteList", build, on_request, NULL};
const struct mw_type mw_ip_deny_list = {"ipDenyList", build_deny, on_request, NULL};

