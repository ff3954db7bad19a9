/* fuzz_http_response.c - libFuzzer target for response heads (src/http1.c).
 *
 * The input is a response head and whatever follows it. For the default
 * limits and for small ones it runs gh_http1_head_end (is_request false) in
 * one call and one byte at a time (the results must agree), then
 * gh_http1_parse_response on the head as the answer to GET, HEAD, CONNECT
 * and POST, and aborts when a result breaks the contract of
 * include/gatehouse/http1.h:
 *  - ERROR only with a framing rule;
 *  - DONE with a status of 100-599, spans inside the head, n_headers within
 *    the limit, and body framing that follows the status, the method and
 *    the fields: no body for HEAD, 1xx, 204 and 304; a tunnel (until close)
 *    for a 2xx to CONNECT; otherwise CHUNKED only with Transfer-Encoding
 *    and no Content-Length, LENGTH only with a Content-Length whose every
 *    value is content_length and no Transfer-Encoding, and never NONE;
 *  - the same head gives the same result for GET and POST. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"

#include "fuzz_http_common.h"

static struct gh_http1_response resp, resp_get;

static void check_response(const char *buf, size_t head_len, const struct gh_http1_limits *lim,
                           const char *method)
{
    size_t max_headers = lim->max_headers < GH_HTTP1_MAX_HEADERS ? lim->max_headers
                                                                   : GH_HTTP1_MAX_HEADERS;
    REQUIRE(resp.head_len == head_len);
    REQUIRE(resp.status >= 100 && resp.status <= 599);
    REQUIRE(memcmp(buf, "HTTP/1.", 7) == 0);
    REQUIRE(resp.minor_version == (buf[7] == '0' ? 0 : 1));
    REQUIRE(buf[8] == ' ');
    REQUIRE((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0') == resp.status);
    REQUIRE(within(resp.reason, buf, head_len));
    REQUIRE(resp.reason.p >= buf + 12);
    for (size_t i = 0; i < resp.reason.len; i++) {
        unsigned char c = (unsigned char)resp.reason.p[i];
        REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    REQUIRE(resp.reason.p[resp.reason.len] == '\r');
    REQUIRE(resp.n_headers <= max_headers);
    size_t n_cl = 0, n_te = 0;
    for (size_t i = 0; i < resp.n_headers; i++) {
        const struct gh_http1_header *h = &resp.headers[i];
        REQUIRE(within(h->name, buf, head_len) && h->name.len > 0);
        REQUIRE(within(h->value, buf, head_len));
        REQUIRE(h->name.p > resp.reason.p + resp.reason.len);
        for (size_t k = 0; k < h->name.len; k++)
            REQUIRE(is_tchar((unsigned char)h->name.p[k]));
        REQUIRE(h->name.p[h->name.len] == ':');
        for (size_t k = 0; k < h->value.len; k++)
            REQUIRE(h->value.p[k] != '\0');
        if (span_ieq(h->name, "content-length")) {
            n_cl++;
            REQUIRE(memchr(h->value.p, '\r', h->value.len) == NULL);
        }
        if (span_ieq(h->name, "transfer-encoding")) {
            n_te++;
            REQUIRE(memchr(h->value.p, '\r', h->value.len) == NULL);
        }
    }
    int head = strcmp(method, "HEAD") == 0, connect = strcmp(method, "CONNECT") == 0;
    int no_body = head || resp.status < 200 || resp.status == 204 || resp.status == 304;
    if (resp.body != GH_BODY_LENGTH)
        REQUIRE(resp.content_length == 0);
    switch (resp.body) {
    case GH_BODY_NONE:
        REQUIRE(no_body);
        break;
    case GH_BODY_UNTIL_CLOSE:
        REQUIRE(!no_body);
        if (!(connect && resp.status < 300))
            REQUIRE(n_cl == 0);
        break;
    case GH_BODY_LENGTH:
        REQUIRE(!no_body && !(connect && resp.status < 300));
        REQUIRE(n_cl > 0 && n_te == 0);
        for (size_t i = 0; i < resp.n_headers; i++)
            if (span_ieq(resp.headers[i].name, "content-length"))
                REQUIRE(cl_value_is(resp.headers[i].value, resp.content_length));
        break;
    case GH_BODY_CHUNKED:
        REQUIRE(!no_body && !(connect && resp.status < 300));
        REQUIRE(n_te > 0 && n_cl == 0);
        REQUIRE(resp.minor_version == 1);
        break;
    default:
        REQUIRE(0);
    }
    if (no_body)
        REQUIRE(resp.body == GH_BODY_NONE);
    else if (connect && resp.status < 300)
        REQUIRE(resp.body == GH_BODY_UNTIL_CLOSE);
}

static void run(const char *buf, size_t len, const struct gh_http1_limits *lim)
{
    static const char *const methods[] = { "GET", "POST", "HEAD", "CONNECT" };
    const struct gh_http1_limits *l = lim ? lim : &deflim;
    size_t scan = 0, head_len = 0;
    enum gh_http1_rule rule = GH_RULE_NONE;
    enum gh_http1_status st = gh_http1_head_end(buf, len, 0, lim, &scan, &head_len, &rule);
    REQUIRE(scan <= len);

    size_t scan2 = 0, head_len2 = 0;
    enum gh_http1_rule rule2 = GH_RULE_NONE;
    enum gh_http1_status st2 = GH_HTTP1_INCOMPLETE;
    for (size_t k = 0; k <= len && st2 == GH_HTTP1_INCOMPLETE; k++) {
        size_t before = scan2;
        st2 = gh_http1_head_end(buf, k, 0, lim, &scan2, &head_len2, &rule2);
        REQUIRE(scan2 >= before && scan2 <= k);
    }
    REQUIRE(st2 == st);
    if (st == GH_HTTP1_DONE)
        REQUIRE(head_len2 == head_len);
    if (st == GH_HTTP1_ERROR) {
        REQUIRE(rule2 == rule);
        REQUIRE(rule == GH_RULE_BARE_LF || rule == GH_RULE_BARE_CR ||
                rule == GH_RULE_NUL_BYTE || rule == GH_RULE_HEADER_TOO_LARGE);
    }
    if (st == GH_HTTP1_INCOMPLETE)
        REQUIRE(len < l->max_header_bytes);
    if (st != GH_HTTP1_DONE)
        return;
    REQUIRE(head_len >= 2 && head_len <= len && head_len <= l->max_header_bytes);

    char *head = malloc(head_len);
    REQUIRE(head != NULL);
    memcpy(head, buf, head_len);
    enum gh_http1_status st_get = GH_HTTP1_INCOMPLETE;
    enum gh_http1_rule rule_get = GH_RULE_NONE;
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        struct gh_http1_span ms = { methods[m], strlen(methods[m]) };
        rule = GH_RULE_NONE;
        st = gh_http1_parse_response(head, head_len, lim, ms, &resp, &rule);
        if (st == GH_HTTP1_DONE) {
            check_response(head, head_len, l, methods[m]);
        } else {
            REQUIRE(st == GH_HTTP1_ERROR);
            REQUIRE(gh_http1_rule_is_framing(rule));
            REQUIRE(rule != GH_RULE_BARE_LF && rule != GH_RULE_BARE_CR &&
                    rule != GH_RULE_NUL_BYTE && rule != GH_RULE_BAD_REQUEST_LINE &&
                    rule != GH_RULE_BAD_VERSION && rule != GH_RULE_TE_HTTP10 &&
                    rule != GH_RULE_TE_UNSUPPORTED && rule != GH_RULE_REQUEST_LINE_TOO_LONG);
        }
        if (m == 0) {
            st_get = st;
            rule_get = rule;
            resp_get = resp;
        } else if (m == 1) {    /* POST: as GET */
            REQUIRE(st == st_get);
            if (st == GH_HTTP1_ERROR)
                REQUIRE(rule == rule_get);
            else
                REQUIRE(resp.body == resp_get.body &&
                        resp.content_length == resp_get.content_length &&
                        resp.n_headers == resp_get.n_headers &&
                        resp.connection_close == resp_get.connection_close);
        }
    }
    free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    run(buf, size, NULL);
    run(buf, size, &small);
    return 0;
}
