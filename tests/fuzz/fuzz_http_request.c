/* fuzz_http_request.c - libFuzzer target for request heads (src/http1.c).
 *
 * The input is a request head and whatever follows it. For the default
 * limits and for small ones it runs gh_http1_head_end in one call and one
 * byte at a time (the results must agree), then gh_http1_parse_request on
 * the head, and aborts when a result breaks the contract of
 * include/gatehouse/http1.h:
 *  - skip_empty_lines: whole CRLFs only, at most GH_HTTP1_MAX_EMPTY_LINES;
 *  - head_end: DONE only on a head that ends in CRLF CRLF (or is a lone
 *    CRLF) within max_header_bytes, with no NUL, bare CR or bare LF in it;
 *    ERROR only with a line-ending, NUL, size or request-line rule;
 *    INCOMPLETE only below max_header_bytes;
 *  - parse_request: ERROR only with a framing rule; DONE with every span
 *    inside the head, head_len as head_end found it, n_headers within the
 *    limit, a target form that matches the target and method, policy bits
 *    only for policy rules, and body framing that agrees with the fields
 *    (CHUNKED: a Transfer-Encoding field and no Content-Length; LENGTH: a
 *    Content-Length whose every value is content_length and no
 *    Transfer-Encoding; NONE: neither), no obs-fold unless reported;
 *    connection_named as a naive fields x tokens reading of Connection. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"

#include "fuzz_http_common.h"

static struct gh_http1_request req;

/* head_end's rules: line endings, NUL, sizes, and a request line judged
 * when its CRLF arrives (HTTP/0.9 and other non-request-lines). */
static int is_head_end_rule(enum gh_http1_rule r)
{
    return r == GH_RULE_BARE_LF || r == GH_RULE_BARE_CR || r == GH_RULE_NUL_BYTE ||
           r == GH_RULE_REQUEST_LINE_TOO_LONG || r == GH_RULE_HEADER_TOO_LARGE ||
           r == GH_RULE_BAD_REQUEST_LINE || r == GH_RULE_BAD_VERSION;
}

/* gh_http1_skip_empty_lines: skips whole CRLFs only, at most
 * GH_HTTP1_MAX_EMPTY_LINES, stops at the first byte of a line. */
static void check_skip(const char *buf, size_t len)
{
    unsigned empty = 0;
    size_t skip = 0;
    enum gh_http1_rule rule = GH_RULE_NONE;
    enum gh_http1_status st = gh_http1_skip_empty_lines(buf, len, &empty, &skip, &rule);
    REQUIRE(skip <= len && skip % 2 == 0 && empty == skip / 2 &&
            empty <= GH_HTTP1_MAX_EMPTY_LINES);
    for (size_t i = 0; i < skip; i++)
        REQUIRE(buf[i] == (i % 2 ? '\n' : '\r'));
    switch (st) {
    case GH_HTTP1_DONE:
        REQUIRE(skip < len && buf[skip] != '\r' && buf[skip] != '\n');
        break;
    case GH_HTTP1_INCOMPLETE:
        REQUIRE(skip == len || (skip + 1 == len && buf[skip] == '\r'));
        break;
    default:
        REQUIRE(st == GH_HTTP1_ERROR && skip < len);
        REQUIRE(rule == GH_RULE_BARE_LF || rule == GH_RULE_BARE_CR ||
                (rule == GH_RULE_BAD_REQUEST_LINE && empty == GH_HTTP1_MAX_EMPTY_LINES));
    }
}

/* The naive reading of connection_named: is NAME a token (split at ',',
 * SP, HTAB) of any Connection field? fields x tokens, fine for a check. */
static int named_naive(struct gh_http1_span name)
{
    for (size_t i = 0; i < req.n_headers; i++) {
        if (!span_ieq(req.headers[i].name, "connection"))
            continue;
        const char *p = req.headers[i].value.p, *end = p + req.headers[i].value.len;
        while (p < end) {
            while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
                p++;
            const char *t = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            size_t n = (size_t)(p - t);
            if (n == 0 || n != name.len)
                continue;
            size_t k = 0;
            while (k < n && lower((unsigned char)t[k]) == lower((unsigned char)name.p[k]))
                k++;
            if (k == n)
                return 1;
        }
    }
    return 0;
}

static void check_request(const char *buf, size_t head_len, const struct gh_http1_limits *lim)
{
    size_t max_headers = lim->max_headers < GH_HTTP1_MAX_HEADERS ? lim->max_headers
                                                                   : GH_HTTP1_MAX_HEADERS;
    REQUIRE(req.head_len == head_len);
    REQUIRE(within(req.method, buf, head_len) && req.method.len > 0);
    REQUIRE(req.method.p == buf);
    for (size_t i = 0; i < req.method.len; i++)
        REQUIRE(is_tchar((unsigned char)req.method.p[i]));
    REQUIRE(within(req.target, buf, head_len) && req.target.len > 0);
    REQUIRE(req.target.p == req.method.p + req.method.len + 1);
    /* request line: METHOD SP TARGET SP HTTP/1.x CRLF, within the limit */
    size_t line = req.method.len + 1 + req.target.len + 9;
    REQUIRE(line + 2 <= head_len && line <= lim->max_request_line);
    REQUIRE(memcmp(req.target.p + req.target.len, " HTTP/1.", 8) == 0);
    REQUIRE(buf[line - 1] == '0' + req.minor_version);
    REQUIRE(buf[line] == '\r' && buf[line + 1] == '\n');
    REQUIRE(req.minor_version == 0 || req.minor_version == 1);
    for (size_t i = 0; i < req.target.len; i++) {
        unsigned char c = (unsigned char)req.target.p[i];
        REQUIRE(c > 0x20 && c != 0x7f);
    }
    switch (req.target_form) {
    case GH_TARGET_ORIGIN:
        REQUIRE(req.target.p[0] == '/');
        break;
    case GH_TARGET_ABSOLUTE:
        REQUIRE(req.target.len >= 8);
        REQUIRE(lower(req.target.p[0]) == 'h' && lower(req.target.p[1]) == 't' &&
                lower(req.target.p[2]) == 't' && lower(req.target.p[3]) == 'p');
        break;
    case GH_TARGET_AUTHORITY:
        REQUIRE(req.method.len == 7 && memcmp(req.method.p, "CONNECT", 7) == 0);
        REQUIRE(memchr(req.target.p, ':', req.target.len) != NULL);
        break;
    case GH_TARGET_ASTERISK:
        REQUIRE(req.method.len == 7 && memcmp(req.method.p, "OPTIONS", 7) == 0);
        REQUIRE(req.target.len == 1 && req.target.p[0] == '*');
        break;
    default:
        REQUIRE(0);
    }
    if (req.target_form != GH_TARGET_AUTHORITY)
        REQUIRE(!(req.method.len == 7 && memcmp(req.method.p, "CONNECT", 7) == 0));

    REQUIRE(req.n_headers <= max_headers);
    size_t n_cl = 0, n_te = 0, n_host = 0;
    int first_host = -1;
    int folded = 0;
    for (size_t i = 0; i < req.n_headers; i++) {
        const struct gh_http1_header *h = &req.headers[i];
        REQUIRE(within(h->name, buf, head_len) && h->name.len > 0);
        REQUIRE(within(h->value, buf, head_len));
        REQUIRE(h->name.p > req.target.p);
        for (size_t k = 0; k < h->name.len; k++)
            REQUIRE(is_tchar((unsigned char)h->name.p[k]));
        REQUIRE(h->name.p[h->name.len] == ':');
        if (h->value.len > 0) {
            char a = h->value.p[0], z = h->value.p[h->value.len - 1];
            REQUIRE(a != ' ' && a != '\t' && z != ' ' && z != '\t');
            REQUIRE(h->value.p > h->name.p + h->name.len);
        }
        for (size_t k = 0; k < h->value.len; k++) {
            REQUIRE(h->value.p[k] != '\0');
            if (h->value.p[k] == '\r' || h->value.p[k] == '\n')
                folded = 1;
        }
        if (i > 0)
            REQUIRE(h->name.p > req.headers[i - 1].value.p + req.headers[i - 1].value.len);
        if (span_ieq(h->name, "content-length")) {
            n_cl++;
            if (req.body == GH_BODY_LENGTH)
                REQUIRE(cl_value_is(h->value, req.content_length));
        }
        if (span_ieq(h->name, "transfer-encoding")) {
            n_te++;
            REQUIRE(memchr(h->value.p, '\r', h->value.len) == NULL);
        }
        if (span_ieq(h->name, "host")) {
            if (n_host++ == 0)
                first_host = (int)i;
        }
    }
    gh_http1_rule_set pol = req.policy_hits;
    if (folded)
        REQUIRE(pol & ((gh_http1_rule_set)1 << GH_RULE_OBS_FOLD));
    REQUIRE(req.host_index == first_host);
    if (n_host > 1)
        REQUIRE(pol & ((gh_http1_rule_set)1 << GH_RULE_DUPLICATE_HOST));
    else
        REQUIRE(!(pol & ((gh_http1_rule_set)1 << GH_RULE_DUPLICATE_HOST)));
    if (n_host == 0 && req.minor_version == 1)
        REQUIRE(pol & ((gh_http1_rule_set)1 << GH_RULE_MISSING_HOST));
    else
        REQUIRE(!(pol & ((gh_http1_rule_set)1 << GH_RULE_MISSING_HOST)));
    for (int r = 0; r < 64; r++)
        if (pol & ((gh_http1_rule_set)1 << r))
            REQUIRE(r < GH_RULE_COUNT && !gh_http1_rule_is_framing((enum gh_http1_rule)r) &&
                    r != GH_RULE_NONE && r != GH_RULE_METHOD_NOT_ALLOWED);

    /* framing agrees with the fields: no smuggling */
    switch (req.body) {
    case GH_BODY_NONE:
        REQUIRE(n_cl == 0 && n_te == 0);
        REQUIRE(req.content_length == 0 && !req.duplicate_content_length);
        break;
    case GH_BODY_LENGTH:
        REQUIRE(n_cl > 0 && n_te == 0);
        if (n_cl > 1)
            REQUIRE(req.duplicate_content_length);
        break;
    case GH_BODY_CHUNKED:
        REQUIRE(n_te > 0 && n_cl == 0);
        REQUIRE(req.content_length == 0 && !req.duplicate_content_length);
        REQUIRE(req.minor_version == 1);
        break;
    default:
        REQUIRE(0);             /* UNTIL_CLOSE is for responses */
    }
    if (req.minor_version == 0)
        REQUIRE(!req.expect_continue);
    for (size_t i = 0; i < req.n_headers; i++)
        REQUIRE(gh_http1_connection_named(&req, i) == named_naive(req.headers[i].name));
}

static void run(const char *buf, size_t len, const struct gh_http1_limits *lim)
{
    const struct gh_http1_limits *l = lim ? lim : &deflim;
    size_t scan = 0, head_len = 0;
    enum gh_http1_rule rule = GH_RULE_NONE;
    enum gh_http1_status st = gh_http1_head_end(buf, len, 1, lim, &scan, &head_len, &rule);
    REQUIRE(scan <= len);

    /* one byte at a time, *scan carried */
    size_t scan2 = 0, head_len2 = 0, k;
    enum gh_http1_rule rule2 = GH_RULE_NONE;
    enum gh_http1_status st2 = GH_HTTP1_INCOMPLETE;
    for (k = 0; k <= len && st2 == GH_HTTP1_INCOMPLETE; k++) {
        size_t before = scan2;
        st2 = gh_http1_head_end(buf, k, 1, lim, &scan2, &head_len2, &rule2);
        REQUIRE(scan2 >= before && scan2 <= k);
    }
    REQUIRE(st2 == st);
    if (st == GH_HTTP1_DONE)
        REQUIRE(head_len2 == head_len);
    if (st == GH_HTTP1_ERROR)
        REQUIRE(rule2 == rule);

    if (st == GH_HTTP1_INCOMPLETE) {
        REQUIRE(len < l->max_header_bytes);
        return;
    }
    if (st == GH_HTTP1_ERROR) {
        REQUIRE(is_head_end_rule(rule));
        return;
    }
    REQUIRE(st == GH_HTTP1_DONE);
    REQUIRE(head_len >= 2 && head_len <= len && head_len <= l->max_header_bytes);
    REQUIRE(buf[head_len - 2] == '\r' && buf[head_len - 1] == '\n');
    REQUIRE(head_len == 2 || (head_len >= 4 && buf[head_len - 4] == '\r' &&
                              buf[head_len - 3] == '\n'));
    for (size_t i = 0; i < head_len; i++) {
        REQUIRE(buf[i] != '\0');
        if (buf[i] == '\r')
            REQUIRE(buf[i + 1] == '\n');
        if (buf[i] == '\n')
            REQUIRE(i > 0 && buf[i - 1] == '\r');
    }

    /* parse a copy of exactly the head, so ASan sees any read past it */
    char *head = malloc(head_len);
    REQUIRE(head != NULL);
    memcpy(head, buf, head_len);
    rule = GH_RULE_NONE;
    st = gh_http1_parse_request(head, head_len, lim, &req, &rule);
    if (st == GH_HTTP1_DONE) {
        check_request(head, head_len, l);
    } else {
        REQUIRE(st == GH_HTTP1_ERROR);
        REQUIRE(gh_http1_rule_is_framing(rule));
        REQUIRE(rule != GH_RULE_BARE_LF && rule != GH_RULE_BARE_CR && rule != GH_RULE_NUL_BYTE);
        REQUIRE(rule != GH_RULE_BAD_STATUS_LINE && rule != GH_RULE_BODY_TOO_LARGE);
        REQUIRE(rule < GH_RULE_BAD_CHUNK_SIZE || rule > GH_RULE_TRAILER_TOO_LARGE);
    }
    free(head);
}

/* The forwarding-chain readers on every field value: a value they accept
 * has no byte a chain element cannot hold (no CR, LF, NUL, no open quote
 * at its end for X-Forwarded-For). */
static void check_chains(const struct gh_http1_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        struct gh_http1_span v = r->headers[i].value;
        bool xff = gh_http1_xff_valid(v), fwd = gh_http1_forwarded_valid(v);
        for (size_t j = 0; (xff || fwd) && j < v.len; j++)
            REQUIRE(v.p[j] != '\r' && v.p[j] != '\n' && v.p[j] != '\0');
        for (size_t j = 0; xff && j < v.len; j++)
            REQUIRE(v.p[j] != '"' && v.p[j] != ';' && v.p[j] != '=');
        REQUIRE(!fwd || v.len > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    check_skip(buf, size);
    run(buf, size, NULL);
    run(buf, size, &small);
    /* parse_request without head_end must not misbehave either */
    if (size >= 4 && memcmp(buf + size - 4, "\r\n\r\n", 4) == 0) {
        enum gh_http1_rule rule = GH_RULE_NONE;
        if (gh_http1_parse_request(buf, size, NULL, &req, &rule) == GH_HTTP1_DONE) {
            REQUIRE(req.head_len <= size);
            check_request(buf, req.head_len, &deflim);
            check_chains(&req);
        } else {
            REQUIRE(gh_http1_rule_is_framing(rule));
        }
    }
    return 0;
}
