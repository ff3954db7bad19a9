/* test_http1.c - unit tests for the HTTP/1.1 parser (src/http1.c).
 *
 * Pins the contract of include/gatehouse/http1.h: request heads, response
 * heads and chunked bodies, row by row (raw bytes, expected outcome, rule
 * and the parsed fields that matter), and the incremental promises:
 *  - gh_http1_head_end gives the same outcome for every split of a head
 *    (with *scan carried) and when fed one byte at a time, and its work is
 *    linear in the head (GH_HTTP1_WORK_COUNTER, set by tests/unit/meson.build,
 *    makes it count the bytes it examines);
 *  - gh_http1_chunked_feed gives the same outcome for every split of a body;
 *  - the fields a Connection header names are found in work linear in the
 *    head (times log of the field count), not fields x tokens.
 *
 * Every input is copied into a heap buffer of exactly its length, so a run
 * under AddressSanitizer catches any read past the end.
 *
 * Table-driven tests use CHECK(), which reports every failing row (by its
 * line in this file) and fails the test at the end, so one run lists all
 * deviations at once. */
#include "check.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"

/* Bytes gh_http1_head_end examined (src/http1.c, GH_HTTP1_WORK_COUNTER). */
extern unsigned long long gh_http1_work;

/* ---- shorthands ---------------------------------------------------------- */

#define DONE GH_HTTP1_DONE
#define ERR GH_HTTP1_ERROR
#define INC GH_HTTP1_INCOMPLETE

#define ORIG GH_TARGET_ORIGIN
#define ABS GH_TARGET_ABSOLUTE
#define AUTH GH_TARGET_AUTHORITY
#define STAR GH_TARGET_ASTERISK

#define B_NONE GH_BODY_NONE
#define B_LEN GH_BODY_LENGTH
#define B_CHUNK GH_BODY_CHUNKED
#define B_CLOSE GH_BODY_UNTIL_CLOSE

#define R(name) GH_RULE_##name
#define P(name) ((gh_http1_rule_set)1 << GH_RULE_##name)

/* request flags */
#define F_DUPCL 1u
#define F_EXPECT 2u
#define F_CLOSE 4u
#define F_UPGRADE 8u

static const char *st_name(enum gh_http1_status st)
{
    return st == DONE ? "DONE" : st == ERR ? "ERROR" : st == INC ? "INCOMPLETE" : "?";
}

static bool span_is(struct gh_http1_span s, const char *want)
{
    size_t n = strlen(want);
    return s.len == n && (n == 0 || memcmp(s.p, want, n) == 0);
}

static bool span_within(struct gh_http1_span s, const char *buf, size_t len)
{
    return s.p >= buf && s.p <= buf + len && s.len <= (size_t)(buf + len - s.p);
}

/* Default limits, spelled out. */
static const struct gh_http1_limits deflim = {
    .max_request_line = 8192,
    .max_header_bytes = 16384,
    .max_headers = 100,
    .max_chunk_ext = 256,
    .max_trailer_bytes = 4096,
};

/* Small limits, so the table can test each at the limit and one past it. */
static const struct gh_http1_limits small = {
    .max_request_line = 32,
    .max_header_bytes = 128,
    .max_headers = 4,
    .max_chunk_ext = 8,
    .max_trailer_bytes = 32,
};

/* ---- gh_http1_head_end: every split gives the same outcome --------------- */

struct he_result {
    enum gh_http1_status st;
    size_t head_len;
    enum gh_http1_rule rule;
};

static struct he_result head_end_once(const char *buf, size_t len, bool is_request,
                                      const struct gh_http1_limits *lim)
{
    struct he_result r = { INC, 0, R(NONE) };
    size_t scan = 0;
    r.st = gh_http1_head_end(buf, len, is_request, lim, &scan, &r.head_len, &r.rule);
    if (r.st != DONE)
        r.head_len = 0;
    if (r.st != ERR)
        r.rule = R(NONE);
    CHECK(scan <= len, "scan %zu past len %zu", scan, len);
    return r;
}

static bool he_same(struct he_result a, struct he_result b)
{
    return a.st == b.st && a.head_len == b.head_len && a.rule == b.rule;
}

/* Feeds buf[0, k) then buf[0, len) with *scan carried, for every k, and
 * then one byte at a time; each must agree with the one-call result. */
static void check_head_end_splits(const char *buf, size_t len, bool is_request,
                                  const struct gh_http1_limits *lim, struct he_result whole)
{
    for (size_t k = 0; k <= len; k++) {
        struct he_result r = { INC, 0, R(NONE) };
        size_t scan = 0;
        r.st = gh_http1_head_end(buf, k, is_request, lim, &scan, &r.head_len, &r.rule);
        CHECK(scan <= k, "split %zu: scan %zu", k, scan);
        if (r.st == INC) {
            size_t before = scan;
            r.st = gh_http1_head_end(buf, len, is_request, lim, &scan, &r.head_len, &r.rule);
            CHECK(scan >= before && scan <= len, "split %zu: scan %zu -> %zu", k, before, scan);
        }
        if (r.st != DONE)
            r.head_len = 0;
        if (r.st != ERR)
            r.rule = R(NONE);
        CHECK(he_same(r, whole), "split at %zu: %s/%zu/%s, whole: %s/%zu/%s", k,
              st_name(r.st), r.head_len, gh_http1_rule_name(r.rule), st_name(whole.st),
              whole.head_len, gh_http1_rule_name(whole.rule));
        if (!he_same(r, whole))
            return;             /* one report per row is enough */
    }
    /* one byte at a time */
    struct he_result r = { INC, 0, R(NONE) };
    size_t scan = 0;
    for (size_t k = 0; k <= len; k++) {
        size_t before = scan;
        r.st = gh_http1_head_end(buf, k, is_request, lim, &scan, &r.head_len, &r.rule);
        CHECK(scan >= before && scan <= k, "bytewise %zu: scan %zu -> %zu", k, before, scan);
        if (r.st != INC)
            break;
    }
    if (r.st != DONE)
        r.head_len = 0;
    if (r.st != ERR)
        r.rule = R(NONE);
    CHECK(he_same(r, whole), "bytewise: %s/%zu/%s, whole: %s/%zu/%s", st_name(r.st),
          r.head_len, gh_http1_rule_name(r.rule), st_name(whole.st), whole.head_len,
          gh_http1_rule_name(whole.rule));
}

/* ---- requests -------------------------------------------------------------- */

struct rq_row {
    int line;
    const char *raw;
    size_t len;
    const struct gh_http1_limits *lim;  /* NULL: the defaults */
    enum gh_http1_status st;            /* of head_end, then parse_request */
    enum gh_http1_rule rule;
    const char *method;
    const char *target;
    enum gh_http1_target_form form;
    int minor;
    const char *host;                   /* value of the Host field; NULL: none */
    enum gh_http1_body body;
    uint64_t cl;
    size_t nh;
    gh_http1_rule_set pol;
    unsigned flags;
    size_t tail;                        /* bytes after the head (a body) */
};

#define RQ_OKT(raw, tail, m, t, form, minor, host, body, cl, nh, pol, fl)        \
    { __LINE__, raw, sizeof(raw) - 1, NULL, DONE, R(NONE), m, t, form, minor, host, \
      body, cl, nh, pol, fl, tail }
#define RQ_OK(raw, m, t, form, minor, host, body, cl, nh, pol, fl)               \
    RQ_OKT(raw, 0, m, t, form, minor, host, body, cl, nh, pol, fl)
#define RQ_BAD(raw, rule)                                                         \
    { __LINE__, raw, sizeof(raw) - 1, NULL, ERR, R(rule), NULL, NULL, ORIG, 0, NULL, \
      B_NONE, 0, 0, 0, 0, 0 }
#define RQ_INC(raw)                                                               \
    { __LINE__, raw, sizeof(raw) - 1, NULL, INC, R(NONE), NULL, NULL, ORIG, 0, NULL, \
      B_NONE, 0, 0, 0, 0, 0 }
/* with the small limits */
#define SM_OK(raw, t, nh)                                                         \
    { __LINE__, raw, sizeof(raw) - 1, &small, DONE, R(NONE), "GET", t, ORIG, 1, "a", \
      B_NONE, 0, nh, 0, 0, 0 }
#define SM_BAD(raw, rule)                                                         \
    { __LINE__, raw, sizeof(raw) - 1, &small, ERR, R(rule), NULL, NULL, ORIG, 0, NULL, \
      B_NONE, 0, 0, 0, 0, 0 }
#define SM_INC(raw)                                                               \
    { __LINE__, raw, sizeof(raw) - 1, &small, INC, R(NONE), NULL, NULL, ORIG, 0, NULL, \
      B_NONE, 0, 0, 0, 0, 0 }

/* GET / with Host: example.com, then HDRS (each ending in CRLF) */
#define PFX "GET / HTTP/1.1\r\nHost: example.com\r\n"
#define G_OK(hdrs, nh, pol, fl)                                                   \
    RQ_OK(PFX hdrs "\r\n", "GET", "/", ORIG, 1, "example.com", B_NONE, 0, nh, pol, fl)
#define G_BAD(hdrs, rule) RQ_BAD(PFX hdrs "\r\n", rule)
/* POST /p with Host: example.com */
#define PPFX "POST /p HTTP/1.1\r\nHost: example.com\r\n"
#define P_CL(hdrs, cl, nh, pol, fl)                                               \
    RQ_OK(PPFX hdrs "\r\n", "POST", "/p", ORIG, 1, "example.com", B_LEN, cl, nh, pol, fl)
#define P_TE(hdrs, nh, pol)                                                       \
    RQ_OK(PPFX hdrs "\r\n", "POST", "/p", ORIG, 1, "example.com", B_CHUNK, 0, nh, pol, 0)
#define P_NONE(hdrs, nh, pol)                                                     \
    RQ_OK(PPFX hdrs "\r\n", "POST", "/p", ORIG, 1, "example.com", B_NONE, 0, nh, pol, 0)
#define P_BAD(hdrs, rule) RQ_BAD(PPFX hdrs "\r\n", rule)
/* GET TARGET with Host: example.com */
#define T_OK(target, form, pol)                                                   \
    RQ_OK("GET " target " HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", target, form, 1, \
          "example.com", B_NONE, 0, 1, pol, 0)
#define T_BAD(target, rule) RQ_BAD("GET " target " HTTP/1.1\r\nHost: example.com\r\n\r\n", rule)
/* GET / with Host: HV */
#define HOST_OK(hv, pol)                                                          \
    RQ_OK("GET / HTTP/1.1\r\nHost: " hv "\r\n\r\n", "GET", "/", ORIG, 1, hv, B_NONE, 0, 1, \
          pol, 0)

static const struct rq_row rq_rows[] = {
    /* -- the basics -- */
    G_OK("", 1, 0, 0),
    RQ_OK("GET / HTTP/1.0\r\n\r\n", "GET", "/", ORIG, 0, NULL, B_NONE, 0, 0, 0, F_CLOSE),
    RQ_OK("GET / HTTP/1.0\r\nHost: a\r\n\r\n", "GET", "/", ORIG, 0, "a", B_NONE, 0, 1, 0,
          F_CLOSE),
    RQ_OK("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", ORIG, 0, NULL, B_NONE,
          0, 1, 0, 0),
    RQ_OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/", ORIG, 0, NULL, B_NONE,
          0, 1, 0, 0),
    RQ_OK("GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", "GET", "/", ORIG, 0, NULL,
          B_NONE, 0, 1, 0, 0),
    RQ_OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "GET", "/", ORIG, 0, NULL,
          B_NONE, 0, 1, 0, F_CLOSE),
    RQ_OK("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", "GET", "/", ORIG, 0, NULL,
          B_NONE, 0, 1, 0, F_CLOSE),
    RQ_OK("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.0\r\n"
          "Accept: */*\r\n\r\n", "GET", "/index.html", ORIG, 1, "www.example.com", B_NONE, 0,
          3, 0, 0),
    G_OK("Connection: close\r\n", 2, 0, F_CLOSE),
    G_OK("Connection: Close\r\n", 2, 0, F_CLOSE),
    G_OK("Connection: CLOSE\r\n", 2, 0, F_CLOSE),
    G_OK("Connection: keep-alive, close\r\n", 2, 0, F_CLOSE),
    G_OK("Connection: , close ,\r\n", 2, 0, F_CLOSE),
    G_OK("Connection: te\r\nConnection: close\r\n", 3, 0, F_CLOSE),
    G_OK("Connection: closed\r\n", 2, 0, 0),
    G_OK("Connection: keep-alive\r\n", 2, 0, 0),
    G_OK("Connection: \"close\"\r\n", 2, 0, 0),
    G_OK("Expect: 100-continue\r\n", 2, 0, F_EXPECT),
    G_OK("Expect: 100-Continue\r\n", 2, 0, F_EXPECT),
    G_OK("Expect: foo\r\n", 2, 0, 0),
    G_OK("Expect: 100-continuex\r\n", 2, 0, 0),
    RQ_OK("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", "GET", "/", ORIG, 0, NULL, B_NONE,
          0, 1, 0, F_CLOSE),
    G_OK("Upgrade: websocket\r\nConnection: Upgrade\r\n", 3, 0, F_UPGRADE),
    G_OK("upgrade: h2c\r\n", 2, 0, F_UPGRADE),
    G_OK("Upgrade:\r\n", 2, 0, F_UPGRADE),
    G_OK("Upgrade: websocket\r\nConnection: Upgrade, close\r\nExpect: 100-continue\r\n", 4, 0,
         F_UPGRADE | F_CLOSE | F_EXPECT),
    G_OK("X-Empty:\r\nX-Spaces:    \r\n", 3, 0, 0),
    G_OK("!#$%&'*+-.^_`|~09azAZ: token name\r\n", 2, 0, 0),
    G_OK("X: a\tb  c\r\n", 2, 0, 0),
    G_OK("X: \"quoted, string \\\" with escapes\"\r\n", 2, 0, 0),
    G_OK("X: caf\xc3\xa9 \x80\xff\r\n", 2, 0, 0),
    G_OK("Cookie: a=b; c=d\r\nCookie: e=f\r\n", 3, 0, 0),

    /* -- methods -- */
    RQ_OK("POST / HTTP/1.1\r\nHost: a\r\n\r\n", "POST", "/", ORIG, 1, "a", B_NONE, 0, 1, 0, 0),
    RQ_OK("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", "DELETE", "/x", ORIG, 1, "a", B_NONE, 0, 1,
          0, 0),
    RQ_BAD("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n", ASTERISK_NOT_OPTIONS),
    RQ_OK("get / HTTP/1.1\r\nHost: a\r\n\r\n", "get", "/", ORIG, 1, "a", B_NONE, 0, 1, 0, 0),
    RQ_OK("X!#$%&'*+-.^_`|~1 / HTTP/1.1\r\nHost: a\r\n\r\n", "X!#$%&'*+-.^_`|~1", "/", ORIG, 1,
          "a", B_NONE, 0, 1, 0, 0),
    RQ_BAD("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD(" / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("\tGET / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),

    /* -- request line syntax -- */
    RQ_BAD("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.1\t\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / \r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET \r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET  HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /a\x7f" "b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /a\x0b" "b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET /a\x1b" "b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("\r\n\r\n", BAD_REQUEST_LINE),
    /* a leading empty line is not skipped (RFC 9112 2.2 allows either) */
    RQ_BAD("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_OKT("GET / HTTP/1.1\r\n\r\n\r\n", 2, "GET", "/", ORIG, 1, NULL, B_NONE, 0, 0,
           P(MISSING_HOST), 0),

    /* -- versions -- */
    RQ_BAD("GET / HTTP/1.2\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/1.9\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/0.9\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/9.9\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/3.0\r\nHost: a\r\n\r\n", BAD_VERSION),
    RQ_BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/11.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / http/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / Http/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/a.b\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1,1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/\xd9\xa1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("GET / HTTP/1.1HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),

    /* -- origin-form targets -- */
    T_OK("/a/b/c?d=e&f=g", ORIG, 0),
    T_OK("/%41%2f%2F%00", ORIG, 0),
    T_OK("/a:b@c!$&'()*+,;=", ORIG, 0),
    T_OK("/~user/-._", ORIG, 0),
    T_OK("/?", ORIG, 0),
    T_OK("/?/?:@", ORIG, 0),
    T_OK("//double//slash", ORIG, 0),
    T_OK("/a/../b/./c", ORIG, 0),
    T_OK("/a\"b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a<b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a>b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a\\b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a^b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a`b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a{b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a|b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a}b", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a#frag", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/a[b]", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/caf\xc3\xa9", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/\x80", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/\xff", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/%zz", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/%4", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/%", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/%%41", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/%4g", ORIG, P(BAD_TARGET_CHAR)),
    T_OK("/?q={\"a\":1}", ORIG, P(BAD_TARGET_CHAR)),
    T_BAD("a/b", BAD_REQUEST_LINE),
    T_BAD("?x", BAD_REQUEST_LINE),
    T_BAD("%2F", BAD_REQUEST_LINE),
    T_BAD("example.com", BAD_REQUEST_LINE),

    /* -- absolute-form -- */
    RQ_OK("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com/", ABS, 1, "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET HTTP://EXAMPLE.COM/x HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "HTTP://EXAMPLE.COM/x", ABS, 1, "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET hTtPs://example.com:443/ HTTP/1.1\r\nHost: Example.COM\r\n\r\n", "GET",
          "hTtPs://example.com:443/", ABS, 1, "Example.COM", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET https://example.com/ HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "GET",
          "https://example.com/", ABS, 1, "example.com:443", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com:80/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com:80/", ABS, 1, "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com:/ HTTP/1.1\r\nHost: example.com:80\r\n\r\n", "GET",
          "http://example.com:/", ABS, 1, "example.com:80", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "GET",
          "http://example.com:8080/a?b", ABS, 1, "example.com:8080", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com?q=1", ABS, 1, "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com", ABS, 1, "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET",
          "http://[::1]:8080/", ABS, 1, "[::1]:8080", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", "GET",
          "http://127.0.0.1/", ABS, 1, "127.0.0.1:80", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com:8080/", ABS, 1, "example.com", B_NONE, 0, 1, P(HOST_MISMATCH), 0),
    RQ_OK("GET https://example.com/ HTTP/1.1\r\nHost: example.com:80\r\n\r\n", "GET",
          "https://example.com/", ABS, 1, "example.com:80", B_NONE, 0, 1, P(HOST_MISMATCH), 0),
    RQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", "GET",
          "http://a.example/", ABS, 1, "b.example", B_NONE, 0, 1, P(HOST_MISMATCH), 0),
    RQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: a.example.\r\n\r\n", "GET",
          "http://a.example/", ABS, 1, "a.example.", B_NONE, 0, 1, P(HOST_MISMATCH), 0),
    RQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "GET",
          "http://a.example/", ABS, 1, "a.example", B_NONE, 0, 2, P(DUPLICATE_HOST), 0),
    RQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n", "GET", "http://a.example/",
          ABS, 1, "a b", B_NONE, 0, 1, P(BAD_HOST), 0),
    /* HTTP/1.1 needs Host whatever the form of the target (RFC 9112 3.2) */
    RQ_OK("GET http://example.com/ HTTP/1.1\r\n\r\n", "GET", "http://example.com/", ABS, 1,
          NULL, B_NONE, 0, 0, P(MISSING_HOST), 0),
    RQ_OK("GET http://example.com/ HTTP/1.0\r\n\r\n", "GET", "http://example.com/", ABS, 0,
          NULL, B_NONE, 0, 0, 0, F_CLOSE),
    RQ_OK("GET http://example.com/a|b HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET",
          "http://example.com/a|b", ABS, 1, "example.com", B_NONE, 0, 1, P(BAD_TARGET_CHAR), 0),
    RQ_OK("GET http://[::1]/a[b] HTTP/1.1\r\nHost: [::1]\r\n\r\n", "GET", "http://[::1]/a[b]",
          ABS, 1, "[::1]", B_NONE, 0, 1, P(BAD_TARGET_CHAR), 0),
    RQ_OK("GET http://[::1]?[ HTTP/1.1\r\nHost: [::1]\r\n\r\n", "GET", "http://[::1]?[", ABS, 1,
          "[::1]", B_NONE, 0, 1, P(BAD_TARGET_CHAR), 0),
    RQ_OK("GET http://[v7.a:b] HTTP/1.1\r\nHost: [v7.a:b]\r\n\r\n", "GET", "http://[v7.a:b]",
          ABS, 1, "[v7.a:b]", B_NONE, 0, 1, 0, 0),
    T_BAD("http://[::1]]/", BAD_REQUEST_LINE),
    T_BAD("http://a[b]/", BAD_REQUEST_LINE),
    T_BAD("http://user@example.com/", BAD_REQUEST_LINE),
    T_BAD("http://user:pw@example.com/", BAD_REQUEST_LINE),
    T_BAD("http:///path", BAD_REQUEST_LINE),
    T_BAD("http://", BAD_REQUEST_LINE),
    T_BAD("http://:80/", BAD_REQUEST_LINE),
    T_BAD("http://example.com:99999/", BAD_REQUEST_LINE),
    T_BAD("http://example.com:8o/", BAD_REQUEST_LINE),
    T_BAD("http://[::1/", BAD_REQUEST_LINE),
    T_BAD("http://[::g]/", BAD_REQUEST_LINE),
    T_BAD("ftp://example.com/", BAD_REQUEST_LINE),
    T_BAD("http:/example.com/", BAD_REQUEST_LINE),
    T_BAD("http:example.com", BAD_REQUEST_LINE),
    T_BAD("ws://example.com/", BAD_REQUEST_LINE),

    /* -- authority-form (CONNECT) -- */
    RQ_OK("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT",
          "example.com:443", AUTH, 1, "example.com:443", B_NONE, 0, 1, 0, 0),
    RQ_OK("CONNECT 10.0.0.1:8443 HTTP/1.1\r\nHost: 10.0.0.1:8443\r\n\r\n", "CONNECT",
          "10.0.0.1:8443", AUTH, 1, "10.0.0.1:8443", B_NONE, 0, 1, 0, 0),
    RQ_OK("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", "CONNECT",
          "[2001:db8::1]:443", AUTH, 1, "[2001:db8::1]:443", B_NONE, 0, 1, 0, 0),
    RQ_OK("CONNECT example.com:443 HTTP/1.1\r\n\r\n", "CONNECT", "example.com:443", AUTH, 1,
          NULL, B_NONE, 0, 0, P(MISSING_HOST), 0),
    RQ_OK("CONNECT example.com:443 HTTP/1.0\r\n\r\n", "CONNECT", "example.com:443", AUTH, 0,
          NULL, B_NONE, 0, 0, 0, F_CLOSE),
    RQ_BAD("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT example.com:65536 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT http://example.com:443/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT example.com:443/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT u@example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", ASTERISK_NOT_OPTIONS),
    RQ_BAD("GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", AUTHORITY_NOT_CONNECT),
    RQ_BAD("POST example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", AUTHORITY_NOT_CONNECT),
    RQ_BAD("OPTIONS example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", AUTHORITY_NOT_CONNECT),
    RQ_BAD("connect example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", AUTHORITY_NOT_CONNECT),
    RQ_BAD("GET [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n", AUTHORITY_NOT_CONNECT),

    /* -- asterisk-form (OPTIONS) -- */
    RQ_OK("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", "OPTIONS", "*", STAR, 1,
          "example.com", B_NONE, 0, 1, 0, 0),
    RQ_OK("OPTIONS * HTTP/1.0\r\n\r\n", "OPTIONS", "*", STAR, 0, NULL, B_NONE, 0, 0, 0, F_CLOSE),
    RQ_OK("OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "/", ORIG, 1, "a", B_NONE, 0, 1, 0,
          0),
    RQ_BAD("GET * HTTP/1.1\r\nHost: a\r\n\r\n", ASTERISK_NOT_OPTIONS),
    RQ_BAD("POST * HTTP/1.1\r\nHost: a\r\n\r\n", ASTERISK_NOT_OPTIONS),
    RQ_BAD("options * HTTP/1.1\r\nHost: a\r\n\r\n", ASTERISK_NOT_OPTIONS),
    RQ_BAD("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("OPTIONS *?x HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    RQ_BAD("OPTIONS */ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),

    /* -- line endings and NUL -- */
    RQ_BAD("GET / HTTP/1.1\nHost: a\n\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\nHost: a\r\n\r\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n", BARE_LF),
    RQ_BAD("GET /\n HTTP/1.1\r\nHost: a\r\n\r\n", BARE_LF),
    RQ_BAD("\n", BARE_LF),
    RQ_BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", BARE_CR),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", BARE_CR),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BARE_CR),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n\rX", BARE_CR),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nX\r: 1\r\n\r\n", BARE_CR),
    RQ_BAD("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", BARE_CR),
    RQ_BAD("\r\r\n", BARE_CR),
    RQ_BAD("\0GET / HTTP/1.1\r\nHost: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\0\r\nHost: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\n\0Host: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost\0: a\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: \0\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n \0\r\n\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n\0\r\n", NUL_BYTE),
    RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\0\r\n\r\n", NUL_BYTE),
    /* bytes after the head are not the head's business */
    RQ_OKT("GET / HTTP/1.1\r\nHost: a\r\n\r\n\0\n\r", 3, "GET", "/", ORIG, 1, "a", B_NONE, 0, 1,
           0, 0),

    /* -- field names -- */
    G_BAD("Foo Bar: x\r\n", BAD_HEADER_NAME),
    G_BAD(": x\r\n", BAD_HEADER_NAME),
    G_BAD(":\r\n", BAD_HEADER_NAME),
    G_BAD("Foo : x\r\n", SPACE_BEFORE_COLON),
    G_BAD("Foo\t: x\r\n", SPACE_BEFORE_COLON),
    G_BAD("Foo \t :x\r\n", SPACE_BEFORE_COLON),
    G_BAD("Foo\r\n", NO_COLON),
    G_BAD("Foo bar\r\n", NO_COLON),
    G_BAD("Foo \r\n", NO_COLON),
    G_BAD("Foo(: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo\x80: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo\x7f: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo\x01: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo\x0b: x\r\n", BAD_HEADER_NAME),
    G_BAD("Fo/o: x\r\n", BAD_HEADER_NAME),
    G_BAD("[Foo]: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo@: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo\": x\r\n", BAD_HEADER_NAME),
    G_BAD("Fo{o}: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo=: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo;: x\r\n", BAD_HEADER_NAME),
    G_BAD("Foo,: x\r\n", BAD_HEADER_NAME),
    G_BAD("\x80: x\r\n", BAD_HEADER_NAME),
    G_BAD("Caf\xc3\xa9: x\r\n", BAD_HEADER_NAME),
    G_OK("Foo:x\r\n", 2, 0, 0),
    G_OK("Foo::x\r\n", 2, 0, 0),
    G_OK("Foo: a: b\r\n", 2, 0, 0),
    G_OK("X_Y: underscore\r\n", 2, 0, 0),

    /* -- field values -- */
    G_OK("X: a\x01" "b\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: a\x7f\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: a\x0b" "b\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: a\x0c" "b\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: \x1b[31mred\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: \x1f\r\n", 2, P(BAD_HEADER_CHAR), 0),
    G_OK("X: \x01\r\nY: \x02\r\n", 3, P(BAD_HEADER_CHAR), 0),
    RQ_OK("GET /a|b HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", "GET", "/a|b", ORIG, 1, "a", B_NONE,
          0, 2, P(BAD_TARGET_CHAR) | P(BAD_HEADER_CHAR), 0),

    /* -- obs-fold -- */
    G_OK("X: a\r\n b\r\n", 2, P(OBS_FOLD), 0),
    G_OK("X: a\r\n\tb\r\n", 2, P(OBS_FOLD), 0),
    G_OK("X: a\r\n  b\r\n \t c\r\nY: d\r\n", 3, P(OBS_FOLD), 0),
    G_OK("X:\r\n b\r\n", 2, P(OBS_FOLD), 0),
    G_OK("X: a\r\n \r\n", 2, P(OBS_FOLD), 0),
    G_OK("X: a\r\n \x01\r\n", 2, P(OBS_FOLD) | P(BAD_HEADER_CHAR), 0),
    G_OK("Connection: keep-alive,\r\n close\r\n", 2, P(OBS_FOLD), F_CLOSE),
    RQ_OK("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", "GET", "/", ORIG, 1, "a\r\n b", B_NONE, 0,
          1, P(OBS_FOLD) | P(BAD_HOST), 0),
    RQ_BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", BAD_HEADER_NAME),
    RQ_BAD("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", BAD_HEADER_NAME),
    RQ_BAD("GET / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n", BAD_HEADER_NAME),
    RQ_BAD("POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n\r\n", BAD_HEADER_NAME),
    P_BAD("Content-Length: 5\r\n 6\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5\r\n \r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length:\r\n 5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Transfer-Encoding: chunked\r\n \r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding:\r\n chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: gzip,\r\n chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("X: a\r\nTransfer-Encoding: chunked\r\n\tfoo\r\n", TE_NOT_CHUNKED),

    /* -- Host -- */
    RQ_OK("GET / HTTP/1.1\r\n\r\n", "GET", "/", ORIG, 1, NULL, B_NONE, 0, 0, P(MISSING_HOST), 0),
    RQ_OK("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", "GET", "/", ORIG, 1, NULL, B_NONE, 0, 1,
          P(MISSING_HOST), 0),
    RQ_OK("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "GET", "/", ORIG, 1, "a", B_NONE, 0, 2,
          P(DUPLICATE_HOST), 0),
    RQ_OK("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "GET", "/", ORIG, 1, "a", B_NONE, 0, 2,
          P(DUPLICATE_HOST), 0),
    RQ_OK("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", "GET", "/", ORIG, 0, "a", B_NONE, 0, 2,
          P(DUPLICATE_HOST), F_CLOSE),
    RQ_OK("GET / HTTP/1.1\r\nHOST: a\r\n\r\n", "GET", "/", ORIG, 1, "a", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET / HTTP/1.1\r\nHost:   a  \r\n\r\n", "GET", "/", ORIG, 1, "a", B_NONE, 0, 1, 0, 0),
    RQ_OK("GET / HTTP/1.1\r\nHost:a\r\n\r\n", "GET", "/", ORIG, 1, "a", B_NONE, 0, 1, 0, 0),
    HOST_OK("", 0),
    HOST_OK("example.com:8080", 0),
    HOST_OK("example.com:0", 0),
    HOST_OK("example.com:", 0),
    HOST_OK("example.com:00080", 0),
    HOST_OK("127.0.0.1", 0),
    HOST_OK("127.0.0.1:80", 0),
    HOST_OK("[::1]", 0),
    HOST_OK("[::1]:443", 0),
    HOST_OK("[::]", 0),
    HOST_OK("[2001:db8:0:0:0:0:0:1]", 0),
    HOST_OK("[2001:db8::]", 0),
    HOST_OK("[::ffff:192.0.2.1]", 0),
    HOST_OK("[1:2:3:4:5:6:7::]", 0),
    HOST_OK("[v1.fe80::a+b]", 0),
    HOST_OK("ex%41mple.com", 0),
    HOST_OK("xn--caf-dma.example", 0),
    HOST_OK("a-b_c~d.e!f$g&h'i(j)k*l+m,n;o=p", 0),
    HOST_OK("999.999.999.999", 0),
    HOST_OK("a b", P(BAD_HOST)),
    HOST_OK("a:b", P(BAD_HOST)),
    HOST_OK("a:65536", P(BAD_HOST)),
    HOST_OK("a:123456", P(BAD_HOST)),
    HOST_OK("a:-1", P(BAD_HOST)),
    HOST_OK(":80", P(BAD_HOST)),
    HOST_OK(":", P(BAD_HOST)),
    HOST_OK("a@b", P(BAD_HOST)),
    HOST_OK("user:pw@b", P(BAD_HOST)),
    HOST_OK("a/b", P(BAD_HOST)),
    HOST_OK("a?b", P(BAD_HOST)),
    HOST_OK("a#b", P(BAD_HOST)),
    HOST_OK("a:80:80", P(BAD_HOST)),
    HOST_OK("[::1", P(BAD_HOST)),
    HOST_OK("::1", P(BAD_HOST)),
    HOST_OK("[::1]x", P(BAD_HOST)),
    HOST_OK("[1::2::3]", P(BAD_HOST)),
    HOST_OK("[1:2:3:4:5:6:7:8:9]", P(BAD_HOST)),
    HOST_OK("[1:2:3:4:5:6:7]", P(BAD_HOST)),
    HOST_OK("[12345::]", P(BAD_HOST)),
    HOST_OK("[g::]", P(BAD_HOST)),
    HOST_OK("[::1.2.3]", P(BAD_HOST)),
    HOST_OK("[::1.2.3.256]", P(BAD_HOST)),
    HOST_OK("[v.x]", P(BAD_HOST)),
    HOST_OK("ex%4mple", P(BAD_HOST)),
    HOST_OK("ex%zzmple", P(BAD_HOST)),
    HOST_OK("caf\xc3\xa9.example", P(BAD_HOST)),
    HOST_OK("a\"b", P(BAD_HOST)),
    HOST_OK("a\tb", P(BAD_HOST)),
    HOST_OK("a, b", P(BAD_HOST)),
    RQ_OK("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", "GET", "/", ORIG, 1, "a\x01", B_NONE, 0, 1,
          P(BAD_HOST) | P(BAD_HEADER_CHAR), 0),
    RQ_OK("GET / HTTP/1.1\r\nHost: a b\r\nHost: c\r\n\r\n", "GET", "/", ORIG, 1, "a b", B_NONE,
          0, 2, P(BAD_HOST) | P(DUPLICATE_HOST), 0),
};

/* Request framing: Content-Length, Transfer-Encoding and the smuggling
 * variants from the literature (CL.TE, TE.CL, TE.TE, obfuscated TE). */
static const struct rq_row rq_body_rows[] = {
    /* -- Content-Length -- */
    RQ_OKT(PPFX "Content-Length: 5\r\n\r\nhello", 5, "POST", "/p", ORIG, 1, "example.com", B_LEN,
           5, 2, 0, 0),
    P_CL("Content-Length: 0\r\n", 0, 2, 0, 0),
    P_CL("Content-Length: 005\r\n", 5, 2, 0, 0),
    P_CL("Content-Length:5\r\n", 5, 2, 0, 0),
    P_CL("Content-Length: \t5 \t\r\n", 5, 2, 0, 0),
    P_CL("content-length: 7\r\n", 7, 2, 0, 0),
    P_CL("CONTENT-LENGTH: 7\r\n", 7, 2, 0, 0),
    P_CL("Content-Length: 18446744073709551615\r\n", UINT64_MAX, 2, 0, 0),
    P_CL("Content-Length: 000000000000000000000000000018446744073709551615\r\n", UINT64_MAX, 2, 0,
         0),
    P_CL("Content-Length: 4294967296\r\n", 4294967296u, 2, 0, 0),
    P_CL("Content-Length: 5, 5\r\n", 5, 2, 0, F_DUPCL),
    P_CL("Content-Length: 5,5\r\n", 5, 2, 0, F_DUPCL),
    P_CL("Content-Length: 5 ,\t5 , 5\r\n", 5, 2, 0, F_DUPCL),
    P_CL("Content-Length: 5\r\nContent-Length: 5\r\n", 5, 3, 0, F_DUPCL),
    P_CL("Content-Length: 5\r\nContent-Length: 05\r\n", 5, 3, 0, F_DUPCL),
    P_CL("Content-Length: 5\r\nX: y\r\ncontent-length: 5, 5\r\n", 5, 4, 0, F_DUPCL),
    P_CL("Content-Length: 0\r\nContent-Length: 0\r\n", 0, 3, 0, F_DUPCL),
    P_CL("Content-Length: 5\r\nExpect: 100-continue\r\n", 5, 3, 0, F_EXPECT),
    RQ_OK("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", "POST", "/", ORIG, 0, NULL, B_LEN, 3, 1,
          0, F_CLOSE),
    RQ_OK("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "GET", "/", ORIG, 1, "a",
          B_LEN, 0, 2, 0, 0),
    P_BAD("Content-Length: +5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: -5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: -0\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 0x10\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 1e3\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5.0\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5 5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5,\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: ,5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5,,5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5;\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: \"5\"\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: \r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length:\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: five\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5a\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: \xd9\xa5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5\x0b\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: \x0c" "5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 18446744073709551616\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 99999999999999999999\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 184467440737095516150\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5\r\nContent-Length: +5\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5\r\nContent-Length:\r\n", BAD_CONTENT_LENGTH),
    P_BAD("Content-Length: 5, 6\r\n", CL_MISMATCH),
    P_BAD("Content-Length: 5\r\nContent-Length: 6\r\n", CL_MISMATCH),
    P_BAD("Content-Length: 6\r\nContent-Length: 5\r\n", CL_MISMATCH),
    P_BAD("Content-Length: 0\r\nContent-Length: 1\r\n", CL_MISMATCH),
    P_BAD("Content-Length: 5, 5, 50\r\n", CL_MISMATCH),
    P_BAD("Content-Length: 18446744073709551615, 18446744073709551614\r\n", CL_MISMATCH),
    P_BAD("Content-Length : 5\r\n", SPACE_BEFORE_COLON),
    P_BAD("Content-Length\t: 5\r\n", SPACE_BEFORE_COLON),
    /* after Host, a line starting with SP continues Host (obs-fold, policy): the
     * caller must not forward it raw when it only logs obs_fold */
    RQ_OK(PPFX " Content-Length: 5\r\n\r\n", "POST", "/p", ORIG, 1,
          "example.com\r\n Content-Length: 5", B_NONE, 0, 1, P(OBS_FOLD) | P(BAD_HOST), 0),
    RQ_OK("POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n", "POST",
          "/", ORIG, 1, "a", B_NONE, 0, 2, P(OBS_FOLD), 0),
    RQ_BAD("POST / HTTP/1.1\r\n Content-Length: 5\r\nHost: a\r\n\r\n", BAD_HEADER_NAME),
    /* look-alikes are other fields: no body */
    P_NONE("Content_Length: 5\r\n", 2, 0),
    P_NONE("Content-Lengths: 5\r\n", 2, 0),
    P_NONE("X-Content-Length: 5\r\n", 2, 0),
    P_NONE("ContentLength: 5\r\n", 2, 0),

    /* -- Transfer-Encoding -- */
    P_TE("Transfer-Encoding: chunked\r\n", 2, 0),
    P_TE("Transfer-Encoding:chunked\r\n", 2, 0),
    P_TE("transfer-encoding: CHUNKED\r\n", 2, 0),
    P_TE("TRANSFER-ENCODING: Chunked\r\n", 2, 0),
    /* empty list elements and empty fields: a lenient backend may take
     * the empty field as "the last Transfer-Encoding" (issue 11 item 2) */
    P_BAD("Transfer-Encoding: chunked,\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: ,chunked\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: ,chunked,\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked, ,\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: , ,\tchunked , ,\r\n", TE_EMPTY_ELEMENT),
    P_TE("Transfer-Encoding:\tchunked\t\r\n", 2, 0),
    P_BAD("Transfer-Encoding: \r\nTransfer-Encoding: chunked\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding: ,\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: gzip, , chunked\r\n", TE_EMPTY_ELEMENT),
    RQ_OK(PPFX "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", "POST", "/p", ORIG,
          1, "example.com", B_CHUNK, 0, 3, 0, F_EXPECT),
    RQ_OKT(PPFX "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 15, "POST", "/p",
           ORIG, 1, "example.com", B_CHUNK, 0, 2, 0, 0),
    P_BAD("Transfer-Encoding: gzip, chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: identity, chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: gzip;level=1, chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: gzip ; a = \"b, c\\\"\" , chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: x-custom, deflate, chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: xchunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunkedx\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunk\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked-false\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: x chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: ch unked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked, identity\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked, gzip\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: identity\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: gzip\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: \r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding:\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: ,\r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked\x0b\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: \x0b" "chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding:\x0c" "chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\x01\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\x7f\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\xff\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: \xc2\xa0" "chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: \"chunked\"\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: 'chunked'\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked;q=1\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked;\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: gzip;, chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: gzip;a, chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: gzip;a=\"b, chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked, chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked,chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\nTransfer-Encoding: x\r\n",
          TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked\r\nX: y\r\ntransfer-encoding: gzip\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding : chunked\r\n", SPACE_BEFORE_COLON),
    P_BAD("Transfer-Encoding\t: chunked\r\n", SPACE_BEFORE_COLON),
    P_BAD("Transfer-Encoding  : chunked\r\n", SPACE_BEFORE_COLON),
    P_BAD("Transfer-Encoding\r\n: chunked\r\n", NO_COLON),
    P_BAD("Transfer-Encoding\x0b: chunked\r\n", BAD_HEADER_NAME),
    P_BAD("Transfer-Encoding\xc2\xa0: chunked\r\n", BAD_HEADER_NAME),
    P_BAD("Transfer-Encoding:\nchunked\r\n", BARE_LF),
    P_BAD("Transfer-Encoding: chunked\r\r\n", BARE_CR),
    P_BAD("Transfer-Encoding: chunked\n", BARE_LF),
    P_BAD("Transfer-Encoding: \0chunked\r\n", NUL_BYTE),
    P_BAD("Content-Length\x0b: 5\r\n", BAD_HEADER_NAME),
    P_BAD("Content-Length\x0c: 5\r\n", BAD_HEADER_NAME),
    P_BAD("Content-Length\n: 5\r\n", BARE_LF),
    P_BAD("Transfer-Encoding\n: chunked\r\n", BARE_LF),
    P_BAD("Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n", TE_UNSUPPORTED),
    P_TE("Transfer-Encoding: cHuNkEd\r\n", 2, 0),
    P_TE("Transfer-Encoding:    chunked    \r\n", 2, 0),
    P_BAD("Transfer-Encoding: chunked, \r\n", TE_EMPTY_ELEMENT),
    P_BAD("Transfer-Encoding: chunked, x\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: chunked\r\nContent-Length: 5\r\nContent-Length: 5\r\n",
          CL_TE_CONFLICT),
    P_NONE("Transfer_Encoding: chunked\r\n", 2, 0),
    P_NONE("Transfer-Encodings: chunked\r\n", 2, 0),
    P_NONE("X-Transfer-Encoding: chunked\r\n", 2, 0),
    P_NONE("TransferEncoding: chunked\r\n", 2, 0),
    RQ_BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TE_HTTP10),
    RQ_BAD("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", TE_HTTP10),
    RQ_BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
           TE_HTTP10),

    /* -- CL.TE / TE.CL: both present -- */
    P_BAD("Content-Length: 13\r\nTransfer-Encoding: chunked\r\n", CL_TE_CONFLICT),
    P_BAD("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", CL_TE_CONFLICT),
    P_BAD("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", CL_TE_CONFLICT),
    P_BAD("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", CL_TE_CONFLICT),
    P_BAD("Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n", CL_TE_CONFLICT),
    P_BAD("Content-Length: x\r\nTransfer-Encoding: chunked\r\n", CL_TE_CONFLICT),
    P_BAD("Content-Length: 5\r\nTransfer-Encoding: \r\n", CL_TE_CONFLICT),
    P_BAD("Content-Length: 5\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n",
          CL_TE_CONFLICT),
    /* TE.TE: obfuscated second TE fields */
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n", TE_NOT_CHUNKED),
    P_BAD("Transfer-Encoding: xchunked\r\nTransfer-Encoding: chunked\r\n", TE_UNSUPPORTED),
    P_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding : chunked\r\n", SPACE_BEFORE_COLON),
    P_BAD("Transfer-Encoding: chunked\r\n Transfer-Encoding: x\r\n", TE_NOT_CHUNKED),
    P_BAD("X: X\nTransfer-Encoding: chunked\r\n", BARE_LF),
    P_BAD("X: X\rTransfer-Encoding: chunked\r\n", BARE_CR),
    P_BAD("Foo: bar\r\n\rTransfer-Encoding: chunked\r\n", BARE_CR),
    /* CL.0 / pipelined smuggling: a second request in the body is just body */
    RQ_OKT(PPFX "Content-Length: 42\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n", 42,
           "POST", "/p", ORIG, 1, "example.com", B_LEN, 42, 2, 0, 0),
    RQ_OKT(PPFX "\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n", 42, "POST", "/p", ORIG,
           1, "example.com", B_NONE, 0, 1, 0, 0),
};

/* Limits: each at the limit and one past it (small limits: request line
 * 32, head 128, 4 headers). */
static const struct rq_row rq_limit_rows[] = {
    /* request line: 32 bytes is fine, 33 is too long */
    SM_OK("GET /234567890123456789 HTTP/1.1\r\nHost: a\r\n\r\n", "/234567890123456789", 1),
    SM_BAD("GET /2345678901234567890 HTTP/1.1\r\nHost: a\r\n\r\n", REQUEST_LINE_TOO_LONG),
    SM_BAD("GET /2345678901234567890 HTTP/1.1\r\n", REQUEST_LINE_TOO_LONG),
    SM_BAD("GET /2345678901234567890 HTTP/1.1", REQUEST_LINE_TOO_LONG),
    SM_BAD("GET /2345678901234567890 HTTP/1.1\r", REQUEST_LINE_TOO_LONG),
    SM_INC("GET /234567890123456789 HTTP/1.1"),
    SM_INC("GET /234567890123456789 HTTP/1.1\r"),
    SM_INC("GET /234567890123456789 HTTP/1.1\r\n"),
    SM_BAD("GET /234567890123456789012345678901234567890 HTTP/1.1", REQUEST_LINE_TOO_LONG),
    /* a bare LF or NUL early in a long line wins */
    SM_BAD("GET /2345\n6789012345678901234567890 HTTP/1.1", BARE_LF),
    SM_BAD("GET /2345\0" "6789012345678901234567890 HTTP/1.1", NUL_BYTE),
    /* head: 128 bytes is fine, 129 is too large */
    SM_OK("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
          "456789012345678901234567890123456789012345678901\r\n\r\n", "/", 2),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "4567890123456789012345678901234567890123456789017\r\n\r\n", HEADER_TOO_LARGE),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "4567890123456789012345678901234567890123456789017\r\n\r", HEADER_TOO_LARGE),
    SM_INC("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "4567890123456789012345678901234567890123456789017\r\n"),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "4567890123456789012345678901234567890123456789017\r\n ", HEADER_TOO_LARGE),
    SM_INC("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "456789012345678901234567890123456789012345678901\r\n\r"),
    SM_INC("GET / HTTP/1.1\r\nHost: a\r\nX: 678901234567890123456789012345678901234567890123"
           "456789012345678901234567890123456789012345678901\r\n"),
    /* 4 headers are fine, 5 are too many */
    SM_OK("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n", "/", 4),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\n\r\n", HEADER_COUNT),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n E\r\nE: 4\r\n\r\n",
           HEADER_COUNT),
    SM_BAD("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\nE\r\n\r\n", NO_COLON),

    /* -- incomplete heads -- */
    RQ_INC(""),
    RQ_INC("G"),
    RQ_INC("GET / HTTP/1.1"),
    RQ_INC("GET / HTTP/1.1\r"),
    RQ_INC("GET / HTTP/1.1\r\n"),
    RQ_INC("GET / HTTP/1.1\r\nHost: a\r\n"),
    RQ_INC("GET / HTTP/1.1\r\nHost: a\r\n\r"),
    RQ_INC("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n \r\n"),
    RQ_INC("\r"),
    RQ_INC("GARBAGE GARBAGE GARBAGE\x01\x02\x7f\xff"),
};

static struct gh_http1_request req;     /* large: not on the stack */

/* Checks what holds for every parsed request, whatever the input. */
static void check_request_invariants(const char *buf, size_t head_len,
                                     const struct gh_http1_limits *lim)
{
    size_t max = lim ? lim->max_headers : deflim.max_headers;
    if (max > GH_HTTP1_MAX_HEADERS)
        max = GH_HTTP1_MAX_HEADERS;
    CHECK(req.head_len == head_len, "head_len %zu, head_end said %zu", req.head_len, head_len);
    CHECK(span_within(req.method, buf, head_len) && req.method.len > 0, "method span");
    CHECK(span_within(req.target, buf, head_len) && req.target.len > 0, "target span");
    CHECK(req.minor_version == 0 || req.minor_version == 1, "minor %d", req.minor_version);
    CHECK(req.n_headers <= max, "%zu headers", req.n_headers);
    for (size_t i = 0; i < req.n_headers && i < GH_HTTP1_MAX_HEADERS; i++) {
        CHECK(span_within(req.headers[i].name, buf, head_len) && req.headers[i].name.len > 0,
              "header %zu name span", i);
        CHECK(span_within(req.headers[i].value, buf, head_len), "header %zu value span", i);
    }
    CHECK(req.host_index >= -1 && req.host_index < (int)req.n_headers, "host_index %d",
          req.host_index);
    if (req.host_index >= 0)
        CHECK(gh_http1_span_equals(req.headers[req.host_index].name, "host"), "host_index");
    CHECK(req.body == B_NONE || req.body == B_LEN || req.body == B_CHUNK, "body %d", req.body);
    if (req.body != B_LEN)
        CHECK(req.content_length == 0 && !req.duplicate_content_length, "CL without LENGTH");
    for (int r = 0; r < 64; r++)
        if (req.policy_hits & ((gh_http1_rule_set)1 << r))
            CHECK(r < GH_RULE_COUNT && r > GH_RULE_FRAMING_LAST, "policy bit %d", r);
}

/* Runs head_end and then parse_request on raw[0, len) and checks the
 * outcome against the row (NULL: only the invariants and the splits). */
static void run_request(const struct rq_row *row, const char *raw, size_t len,
                        const struct gh_http1_limits *lim, bool splits)
{
    char *buf = dup_exact(raw, len);
    struct he_result he = head_end_once(buf, len, true, lim);
    enum gh_http1_status st = he.st;
    enum gh_http1_rule rule = he.rule;
    if (splits)
        check_head_end_splits(buf, len, true, lim, he);
    if (he.st == DONE) {
        rule = R(NONE);
        st = gh_http1_parse_request(buf, he.head_len, lim, &req, &rule);
        if (st == DONE) {
            rule = R(NONE);
            check_request_invariants(buf, he.head_len, lim);
        } else {
            CHECK(st == ERR, "parse_request returned %d", st);
        }
    }
    if (st == ERR)
        CHECK(gh_http1_rule_is_framing(rule), "a request fails on a framing rule, not %s",
              gh_http1_rule_name(rule));
    if (!row) {
        free(buf);
        return;
    }
    CHECK(st == row->st && rule == row->rule, "got %s/%s, want %s/%s", st_name(st),
          gh_http1_rule_name(rule), st_name(row->st), gh_http1_rule_name(row->rule));
    if (st == DONE && row->st == DONE) {
        if (row->method)
            CHECK(span_is(req.method, row->method), "method %.*s", (int)req.method.len,
                  req.method.p);
        if (row->target)
            CHECK(span_is(req.target, row->target), "target %.*s", (int)req.target.len,
                  req.target.p);
        CHECK(req.target_form == row->form, "form %d, want %d", req.target_form, row->form);
        CHECK(req.minor_version == row->minor, "minor %d", req.minor_version);
        if (row->host)
            CHECK(req.host_index >= 0 && span_is(req.headers[req.host_index].value, row->host),
                  "host index %d", req.host_index);
        else
            CHECK(req.host_index == -1, "host index %d", req.host_index);
        CHECK(req.body == row->body, "body %d, want %d", req.body, row->body);
        CHECK(req.content_length == row->cl, "CL %" PRIu64 ", want %" PRIu64,
              req.content_length, row->cl);
        CHECK(req.n_headers == row->nh, "%zu headers, want %zu", req.n_headers, row->nh);
        CHECK(req.policy_hits == row->pol, "policy %#" PRIx64 ", want %#" PRIx64,
              (uint64_t)req.policy_hits, (uint64_t)row->pol);
        CHECK(req.duplicate_content_length == !!(row->flags & F_DUPCL), "duplicate CL %d",
              req.duplicate_content_length);
        CHECK(req.expect_continue == !!(row->flags & F_EXPECT), "expect %d",
              req.expect_continue);
        CHECK(req.connection_close == !!(row->flags & F_CLOSE), "close %d",
              req.connection_close);
        CHECK(req.has_upgrade == !!(row->flags & F_UPGRADE), "upgrade %d", req.has_upgrade);
        CHECK(len - he.head_len == row->tail, "%zu bytes after the head, want %zu",
              len - he.head_len, row->tail);
    }
    free(buf);
}

static void run_rq_table(const struct rq_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        row_line = rows[i].line;
        run_request(&rows[i], rows[i].raw, rows[i].len, rows[i].lim, true);
    }
    row_line = 0;
}

static void test_request_table(void **state)
{
    (void)state;
    run_rq_table(rq_rows, ARRAY_LEN(rq_rows));
    END_CHECKS();
}

static void test_request_body_table(void **state)
{
    (void)state;
    run_rq_table(rq_body_rows, ARRAY_LEN(rq_body_rows));
    END_CHECKS();
}

static void test_request_limit_table(void **state)
{
    (void)state;
    run_rq_table(rq_limit_rows, ARRAY_LEN(rq_limit_rows));
    END_CHECKS();
}


/* ---- long requests, built at run time -------------------------------------- */

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_rep(struct sb *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_add(b, &c, 1);
}

static void sb_fmt(struct sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    sb_add(b, tmp, (size_t)n);
}

/* A row for a request built at run time. */
static struct rq_row dyn_row(int line, const struct gh_http1_limits *lim, enum gh_http1_status st,
                             enum gh_http1_rule rule)
{
    struct rq_row r;
    memset(&r, 0, sizeof r);
    r.line = line;
    r.lim = lim;
    r.st = st;
    r.rule = rule;
    r.method = "GET";
    r.form = ORIG;
    r.minor = 1;
    r.host = "example.com";
    r.body = B_NONE;
    r.nh = 1;
    return r;
}

/* "GET /xxx HTTP/1.1" with the request line exactly LINE_LEN bytes. */
static void build_long_target(struct sb *b, size_t line_len)
{
    sb_str(b, "GET /");
    sb_rep(b, 'a', line_len - strlen("GET / HTTP/1.1"));
    sb_str(b, " HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

static void test_request_line_limit(void **state)
{
    (void)state;
    const struct gh_http1_limits *lims[] = { NULL, &deflim };
    for (size_t k = 0; k < ARRAY_LEN(lims); k++) {
        for (size_t extra = 0; extra <= 2; extra++) {
            struct sb b = { 0 };
            build_long_target(&b, 8192 + extra);
            struct rq_row r = dyn_row(__LINE__, lims[k], extra ? ERR : DONE,
                                      extra ? R(REQUEST_LINE_TOO_LONG) : R(NONE));
            char *target = strndup(b.p + 4, 8192 + extra - 13);
            r.target = target;
            run_request(&r, b.p, b.len, lims[k], extra == 0 && k == 0);
            /* incomplete: only the request line (and its CR) so far */
            for (size_t cut = 8190; cut <= 8194 + extra; cut++) {
                r = dyn_row(__LINE__, lims[k], INC, R(NONE));
                if (extra && cut > 8192)
                    r.st = ERR, r.rule = R(REQUEST_LINE_TOO_LONG);
                row_line = r.line;
                struct he_result he = head_end_once(b.p, cut, true, lims[k]);
                CHECK(he.st == r.st && he.rule == r.rule, "extra %zu cut %zu: %s/%s", extra, cut,
                      st_name(he.st), gh_http1_rule_name(he.rule));
            }
            /* parse_request enforces the limit too */
            if (extra) {
                enum gh_http1_rule rule = R(NONE);
                row_line = __LINE__;
                CHECK(gh_http1_parse_request(b.p, b.len, lims[k], &req, &rule) == ERR &&
                          rule == R(REQUEST_LINE_TOO_LONG), "%s", gh_http1_rule_name(rule));
            }
            free(target);
            free(b.p);
        }
    }
    /* the limit is on the first line only: long field lines are fine */
    struct sb b = { 0 };
    sb_str(&b, "GET / HTTP/1.1\r\nHost: example.com\r\nX: ");
    sb_rep(&b, 'x', 10000);
    sb_str(&b, "\r\n\r\n");
    struct rq_row r = dyn_row(__LINE__, NULL, DONE, R(NONE));
    r.target = "/";
    r.nh = 2;
    run_request(&r, b.p, b.len, NULL, false);
    /* and responses have no request-line limit */
    struct sb rb = { 0 };
    sb_str(&rb, "HTTP/1.1 200 ");
    sb_rep(&rb, 'r', 9000);
    sb_str(&rb, "\r\n\r\n");
    row_line = __LINE__;
    struct he_result he = head_end_once(rb.p, rb.len, false, NULL);
    CHECK(he.st == DONE && he.head_len == rb.len, "%s", st_name(he.st));
    free(rb.p);
    free(b.p);
    END_CHECKS();
}

/* N field lines in all (Host first), as "Xnnn: vvv". */
static void build_many_headers(struct sb *b, size_t n)
{
    sb_str(b, "GET / HTTP/1.1\r\nHost: example.com\r\n");
    for (size_t i = 1; i < n; i++)
        sb_fmt(b, "X-Header-%03zu: value %zu\r\n", i, i);
    sb_str(b, "\r\n");
}

static void test_header_count_limit(void **state)
{
    (void)state;
    for (size_t n = 99; n <= 102; n++) {
        struct sb b = { 0 };
        build_many_headers(&b, n);
        struct rq_row r = dyn_row(__LINE__, NULL, n <= 100 ? DONE : ERR,
                                  n <= 100 ? R(NONE) : R(HEADER_COUNT));
        r.target = "/";
        r.nh = n;
        run_request(&r, b.p, b.len, NULL, n == 100);
        free(b.p);
    }
    /* max_headers is capped at GH_HTTP1_MAX_HEADERS */
    struct gh_http1_limits big = deflim;
    big.max_headers = 100000;
    big.max_header_bytes = 1 << 20;
    for (size_t n = GH_HTTP1_MAX_HEADERS; n <= GH_HTTP1_MAX_HEADERS + 1; n++) {
        struct sb b = { 0 };
        build_many_headers(&b, n);
        struct rq_row r = dyn_row(__LINE__, &big, n <= GH_HTTP1_MAX_HEADERS ? DONE : ERR,
                                  n <= GH_HTTP1_MAX_HEADERS ? R(NONE) : R(HEADER_COUNT));
        r.target = "/";
        r.nh = n;
        run_request(&r, b.p, b.len, &big, false);
        free(b.p);
    }
    /* zero headers allowed: only HTTP/1.0 without fields gets through */
    struct gh_http1_limits none = deflim;
    none.max_headers = 0;
    static const struct rq_row r0 = RQ_OK("GET / HTTP/1.0\r\n\r\n", "GET", "/", ORIG, 0, NULL,
                                          B_NONE, 0, 0, 0, F_CLOSE);
    run_request(&r0, r0.raw, r0.len, &none, true);
    static const struct rq_row r1 = RQ_BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HEADER_COUNT);
    run_request(&r1, r1.raw, r1.len, &none, true);
    END_CHECKS();
}

/* A head of exactly LEN bytes: Host, then one long field. */
static void build_head_of(struct sb *b, size_t len)
{
    static const char pfx[] = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: ";
    sb_str(b, pfx);
    sb_rep(b, 'v', len - (sizeof pfx - 1) - 4);
    sb_str(b, "\r\n\r\n");
    assert_int_equal(b->len, len);
}

static void test_header_bytes_limit(void **state)
{
    (void)state;
    for (size_t len = 16383; len <= 16386; len++) {
        struct sb b = { 0 };
        build_head_of(&b, len);
        struct rq_row r = dyn_row(__LINE__, NULL, len <= 16384 ? DONE : ERR,
                                  len <= 16384 ? R(NONE) : R(HEADER_TOO_LARGE));
        r.target = "/";
        r.nh = 2;
        run_request(&r, b.p, b.len, NULL, len == 16385);
        /* head_end fails as soon as 16384 bytes hold no end of head */
        row_line = __LINE__;
        struct he_result he = head_end_once(b.p, 16384, true, NULL);
        CHECK(he.st == (len <= 16384 ? DONE : ERR), "len %zu: %s", len, st_name(he.st));
        he = head_end_once(b.p, 16383, true, NULL);
        CHECK(he.st == (len <= 16383 ? DONE : INC), "len %zu: %s", len, st_name(he.st));
        if (len > 16384) {
            enum gh_http1_rule rule = R(NONE);
            CHECK(gh_http1_parse_request(b.p, b.len, NULL, &req, &rule) == ERR &&
                      rule == R(HEADER_TOO_LARGE), "%s", gh_http1_rule_name(rule));
        }
        free(b.p);
    }
    END_CHECKS();
}

/* Long legal requests: everything at once. */
static void test_long_legal_request(void **state)
{
    (void)state;
    struct sb b = { 0 };
    sb_str(&b, "POST http://www.example.com:8080/");
    sb_rep(&b, 'p', 2000);
    sb_str(&b, "?q=");
    for (int i = 0; i < 200; i++)
        sb_str(&b, "%41-._~!$&'()*+,;=:@/?");
    sb_str(&b, " HTTP/1.1\r\n");
    size_t target_len = b.len - strlen("POST ") - strlen(" HTTP/1.1\r\n");
    assert_true(b.len - 2 <= 8192);
    sb_str(&b, "host: WWW.Example.COM:8080\r\n");
    sb_str(&b, "User-Agent: Mozilla/5.0 (X11; Linux x86_64) \"quoted \\\" string\"\r\n");
    sb_str(&b, "X-Tabs:\t\ta\tb\t\t\r\n");
    sb_str(&b, "X-Obs-Text: \x80\x81\xfe\xff caf\xc3\xa9\r\n");
    sb_str(&b, "X-Empty:\r\n");
    sb_str(&b, "Content-Length: 12, 12\r\n");
    sb_str(&b, "Content-Length: 012\r\n");
    sb_str(&b, "Expect: 100-continue\r\n");
    sb_str(&b, "Connection: keep-alive, Upgrade\r\n");
    sb_str(&b, "Upgrade: foo/2\r\n");
    for (int i = 0; i < 89; i++)       /* 100 fields in all */
        sb_fmt(&b, "X-%d: %d\r\n", i, i);
    sb_str(&b, "X-Last: ");
    sb_rep(&b, '=', 16384 - 4 - b.len);
    sb_str(&b, "\r\n\r\n");
    assert_int_equal(b.len, 16384);
    sb_str(&b, "hello world!");
    char *target = strndup(b.p + 5, target_len);
    struct rq_row r = dyn_row(__LINE__, NULL, DONE, R(NONE));
    r.method = "POST";
    r.target = target;
    r.form = ABS;
    r.host = "WWW.Example.COM:8080";
    r.body = B_LEN;
    r.cl = 12;
    r.nh = 100;
    r.flags = F_DUPCL | F_EXPECT | F_UPGRADE;
    r.tail = 12;
    run_request(&r, b.p, b.len, NULL, true);
    free(target);
    free(b.p);
    END_CHECKS();
}

/* gh_http1_head_end fed one byte at a time examines O(n) bytes in all. */
static void test_head_end_linear(void **state)
{
    (void)state;
    struct sb b = { 0 };
    build_head_of(&b, 16384);
    struct sb many = { 0 };             /* many short lines */
    sb_str(&many, "GET / HTTP/1.1\r\nHost: example.com\r\n");
    while (many.len + 6 + 2 <= 16384)
        sb_str(&many, "a: b\r\n");
    sb_str(&many, "\r\n");
    struct sb crs = { 0 };              /* one CR LF per two bytes */
    sb_str(&crs, "G / HTTP/1.1\r\n"); /* a request line: it is judged once it ends */
    while (crs.len + 3 + 2 <= 16384)
        sb_str(&crs, "x\r\n");
    sb_str(&crs, "\r\n");
    struct sb *heads[] = { &b, &many, &crs };
    for (size_t h = 0; h < ARRAY_LEN(heads); h++) {
        const char *p = heads[h]->p;
        size_t len = heads[h]->len;
        for (int is_req = 0; is_req <= 1; is_req++) {
            size_t scan = 0, head_len = 0;
            enum gh_http1_rule rule = R(NONE);
            enum gh_http1_status st = INC;
            size_t calls = 0;
            gh_http1_work = 0;
            for (size_t k = 1; k <= len && st == INC; k++, calls++)
                st = gh_http1_head_end(p, k, is_req, NULL, &scan, &head_len, &rule);
            row_line = __LINE__;
            CHECK(st == DONE && head_len == len, "head %zu: %s %zu", h, st_name(st), head_len);
            CHECK(calls == len, "%zu calls", calls);
            CHECK(gh_http1_work >= len, "the work counter counts: %llu", gh_http1_work);
            /* each byte once, plus one retry of a CR waiting for its LF,
             * plus the one request-line length check and the one parse of
             * the request line when it ends (each <= 8192 + CRLF) */
            CHECK(gh_http1_work <= 3 * (unsigned long long)len + 2 * (8192 + 16),
                  "head %zu: %llu bytes examined for %zu", h, gh_http1_work, len);
            /* and in one call */
            gh_http1_work = 0;
            scan = 0;
            st = gh_http1_head_end(p, len, is_req, NULL, &scan, &head_len, &rule);
            CHECK(st == DONE && gh_http1_work <= (unsigned long long)len + 2 * (8192 + 16),
                  "one call: %llu", gh_http1_work);
        }
    }
    /* an incomplete 16 KiB head fed in one byte at a time fails at the
     * limit, again in linear work */
    struct sb inc = { 0 };
    sb_str(&inc, "GET / HTTP/1.1\r\n");
    sb_rep(&inc, 'h', 20000);
    size_t scan = 0, head_len = 0, k;
    enum gh_http1_rule rule = R(NONE);
    enum gh_http1_status st = INC;
    gh_http1_work = 0;
    for (k = 1; k <= inc.len && st == INC; k++)
        st = gh_http1_head_end(inc.p, k, true, NULL, &scan, &head_len, &rule);
    row_line = __LINE__;
    CHECK(st == ERR && rule == R(HEADER_TOO_LARGE) && k - 1 == 16384, "%s %zu", st_name(st),
          k - 1);
    CHECK(gh_http1_work <= 3ull * 16384 + 8192, "%llu", gh_http1_work);
    free(inc.p);
    free(crs.p);
    free(many.p);
    free(b.p);
    END_CHECKS();
}

/* ---- responses ------------------------------------------------------------ */

struct rs_row {
    int line;
    const char *raw;
    size_t len;
    const struct gh_http1_limits *lim;
    const char *method;                 /* of the request answered */
    enum gh_http1_status st;
    enum gh_http1_rule rule;
    int status;
    int minor;
    const char *reason;
    enum gh_http1_body body;
    uint64_t cl;
    size_t nh;
    bool close;
    size_t tail;
};

#define RS_OKT(m, raw, tail, status, minor, reason, body, cl, nh, close)               \
    { __LINE__, raw, sizeof(raw) - 1, NULL, m, DONE, R(NONE), status, minor, reason, body, \
      cl, nh, close, tail }
#define RS_OK(m, raw, status, minor, reason, body, cl, nh, close)                      \
    RS_OKT(m, raw, 0, status, minor, reason, body, cl, nh, close)
#define RS_BAD(m, raw, rule)                                                            \
    { __LINE__, raw, sizeof(raw) - 1, NULL, m, ERR, R(rule), 0, 0, NULL, B_NONE, 0, 0, false, 0 }
#define RS_INC(m, raw)                                                                  \
    { __LINE__, raw, sizeof(raw) - 1, NULL, m, INC, R(NONE), 0, 0, NULL, B_NONE, 0, 0, false, 0 }
#define RSM_OK(raw, nh)                                                                 \
    { __LINE__, raw, sizeof(raw) - 1, &small, "GET", DONE, R(NONE), 200, 1, "OK", B_LEN, 0, nh, \
      false, 0 }
#define RSM_BAD(raw, rule)                                                              \
    { __LINE__, raw, sizeof(raw) - 1, &small, "GET", ERR, R(rule), 0, 0, NULL, B_NONE, 0, 0, \
      false, 0 }
/* "HTTP/1.1 200 OK" to a GET, with HDRS */
#define OK200 "HTTP/1.1 200 OK\r\n"
#define R_OK(hdrs, body, cl, nh, close)                                                 \
    RS_OK("GET", OK200 hdrs "\r\n", 200, 1, "OK", body, cl, nh, close)
#define R_BAD(hdrs, rule) RS_BAD("GET", OK200 hdrs "\r\n", rule)
/* the status line alone, to a GET */
#define SL_OK(line, status, minor, reason, body)                                        \
    RS_OK("GET", line "\r\n\r\n", status, minor, reason, body, 0, 0, minor == 0)
#define SL_BAD(line, rule) RS_BAD("GET", line "\r\n\r\n", rule)

static const struct rs_row rs_rows[] = {
    /* -- status lines -- */
    SL_OK("HTTP/1.1 200 OK", 200, 1, "OK", B_CLOSE),
    SL_OK("HTTP/1.0 200 OK", 200, 0, "OK", B_CLOSE),
    SL_OK("HTTP/1.1 404 Not Found", 404, 1, "Not Found", B_CLOSE),
    SL_OK("HTTP/1.1 200", 200, 1, "", B_CLOSE),
    SL_OK("HTTP/1.1 200 ", 200, 1, "", B_CLOSE),
    SL_OK("HTTP/1.1 200  two  spaces ", 200, 1, " two  spaces ", B_CLOSE),
    SL_OK("HTTP/1.1 200 \tT\tab", 200, 1, "\tT\tab", B_CLOSE),
    SL_OK("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu \x80\xff", 200, 1, "D\xc3\xa9j\xc3\xa0 vu \x80\xff",
          B_CLOSE),
    SL_OK("HTTP/1.1 200 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 200, 1,
          "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", B_CLOSE),
    SL_OK("HTTP/1.1 599 Custom", 599, 1, "Custom", B_CLOSE),
    SL_OK("HTTP/1.1 100 Continue", 100, 1, "Continue", B_NONE),
    SL_OK("HTTP/1.1 101 Switching Protocols", 101, 1, "Switching Protocols", B_NONE),
    SL_OK("HTTP/1.1 103 Early Hints", 103, 1, "Early Hints", B_NONE),
    SL_OK("HTTP/1.1 199 X", 199, 1, "X", B_NONE),
    SL_OK("HTTP/1.1 204 No Content", 204, 1, "No Content", B_NONE),
    SL_OK("HTTP/1.1 205 Reset Content", 205, 1, "Reset Content", B_CLOSE),
    SL_OK("HTTP/1.1 304 Not Modified", 304, 1, "Not Modified", B_NONE),
    SL_OK("HTTP/1.0 304 Not Modified", 304, 0, "Not Modified", B_NONE),
    SL_OK("HTTP/1.1 500 Internal Server Error", 500, 1, "Internal Server Error", B_CLOSE),
    SL_OK("HTTP/1.2 200 OK", 200, 1, "OK", B_CLOSE),
    SL_OK("HTTP/1.9 200 OK", 200, 1, "OK", B_CLOSE),
    SL_BAD("HTTP/1.1 2000 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 20 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 099 X", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 000 X", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 600 X", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 999 X", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1  200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1\t200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200\tOK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 2OO OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 +20 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 abc", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 ", BAD_STATUS_LINE),
    SL_BAD("HTTP/2 200", BAD_STATUS_LINE),
    SL_BAD("HTTP/2.0 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/0.9 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.x 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.10 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/11 200 OK", BAD_STATUS_LINE),
    SL_BAD("http/1.1 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTPS/1.1 200 OK", BAD_STATUS_LINE),
    SL_BAD(" HTTP/1.1 200 OK", BAD_STATUS_LINE),
    SL_BAD("ICY 200 OK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200 OK\x01", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200 O\x7fK", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200 O\x1b" "K", BAD_STATUS_LINE),
    SL_BAD("HTTP/1.1 200 OK\0", NUL_BYTE),
    SL_BAD("HTTP/1.1 2\0" "0 OK", NUL_BYTE),
    SL_BAD("HTTP/1.1 200 O\rK", BARE_CR),
    SL_BAD("HTTP/1.1 200 OK\n", BARE_LF),
    RS_BAD("GET", "HTTP/1.1 200 OK\n\n", BARE_LF),
    RS_BAD("GET", "\r\nHTTP/1.1 200 OK\r\n\r\n", BAD_STATUS_LINE),
    RS_BAD("GET", "\r\n\r\n", BAD_STATUS_LINE),
    RS_BAD("GET", "GET / HTTP/1.1\r\n\r\n", BAD_STATUS_LINE),

    /* -- body kinds -- */
    RS_OKT("GET", OK200 "Content-Length: 5\r\n\r\nhello", 5, 200, 1, "OK", B_LEN, 5, 1, false),
    R_OK("Content-Length: 0\r\n", B_LEN, 0, 1, false),
    R_OK("Content-Length: 18446744073709551615\r\n", B_LEN, UINT64_MAX, 1, false),
    R_OK("Content-Length: 5, 5\r\n", B_LEN, 5, 1, false),
    R_OK("Content-Length: 5\r\nContent-Length: 5\r\n", B_LEN, 5, 2, false),
    R_OK("Content-Length: 5\r\nContent-Length: 005\r\n", B_LEN, 5, 2, false),
    R_OK("Transfer-Encoding: chunked\r\n", B_CHUNK, 0, 1, false),
    R_OK("transfer-encoding: Chunked,\r\n", B_CHUNK, 0, 1, false),
    R_OK("Transfer-Encoding: gzip, chunked\r\n", B_CHUNK, 0, 1, false),
    R_OK("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", B_CHUNK, 0, 2, false),
    R_OK("Transfer-Encoding: chunked, gzip\r\n", B_CLOSE, 0, 1, false),
    R_OK("Transfer-Encoding: gzip\r\n", B_CLOSE, 0, 1, false),
    R_OK("Transfer-Encoding: identity\r\n", B_CLOSE, 0, 1, false),
    R_OK("Transfer-Encoding: xchunked\r\n", B_CLOSE, 0, 1, false),
    R_OK("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", B_CLOSE, 0, 2, false),
    R_OK("", B_CLOSE, 0, 0, false),
    R_OK("Connection: close\r\n", B_CLOSE, 0, 1, true),
    R_OK("Connection: Keep-Alive, Close\r\nContent-Length: 1\r\n", B_LEN, 1, 2, true),
    R_OK("Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n", B_LEN, 2,
         3, false),
    R_BAD("Content-Length: 5, 6\r\n", CL_MISMATCH),
    R_BAD("Content-Length: 5\r\nContent-Length: 6\r\n", CL_MISMATCH),
    R_BAD("Content-Length: +5\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length: 0x10\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length: 99999999999999999999\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length: 18446744073709551616\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length:\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length: 5,\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", CL_TE_CONFLICT),
    R_BAD("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", CL_TE_CONFLICT),
    R_BAD("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", CL_TE_CONFLICT),
    R_BAD("Transfer-Encoding: chunked, chunked\r\n", TE_NOT_CHUNKED),
    R_BAD("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", TE_NOT_CHUNKED),
    R_BAD("Transfer-Encoding: \"chunked\"\r\n", TE_NOT_CHUNKED),
    R_BAD("Transfer-Encoding: chunked\x0b\r\n", TE_NOT_CHUNKED),
    R_BAD("Transfer-Encoding: chunked;q=1\r\n", TE_NOT_CHUNKED),
    R_BAD("Transfer-Encoding : chunked\r\n", SPACE_BEFORE_COLON),
    R_BAD("Content-Length : 5\r\n", SPACE_BEFORE_COLON),
    R_BAD(" Transfer-Encoding: chunked\r\n", BAD_HEADER_NAME),
    R_BAD("Content-Length: 5\r\n 5\r\n", BAD_CONTENT_LENGTH),
    R_BAD("Transfer-Encoding: chunked\r\n\tx\r\n", TE_NOT_CHUNKED),
    /* HTTP/1.0 with Transfer-Encoding: read until close (RFC 9112 6.1) */
    RS_OK("GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, 0, "OK", B_CLOSE,
          0, 1, true),
    RS_OK("GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
          200, 0, "OK", B_CLOSE, 0, 2, true),
    RS_OK("GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n", 200, 0,
          "OK", B_LEN, 3, 2, false),
    RS_OK("GET", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 200, 0, "OK", B_LEN, 3, 1, true),
    RS_BAD("GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
           CL_TE_CONFLICT),

    /* -- no body whatever the fields say: HEAD, 1xx, 204, 304 -- */
    RS_OK("HEAD", OK200 "Content-Length: 100\r\n\r\n", 200, 1, "OK", B_NONE, 0, 1, false),
    RS_OK("HEAD", OK200 "Transfer-Encoding: chunked\r\n\r\n", 200, 1, "OK", B_NONE, 0, 1, false),
    RS_OK("HEAD", OK200 "\r\n", 200, 1, "OK", B_NONE, 0, 0, false),
    RS_OK("HEAD", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", 404, 1, "Not Found",
          B_NONE, 0, 1, false),
    RS_OK("HEAD", OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 200, 1, "OK", B_NONE,
          0, 2, false),
    RS_OK("GET", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 204, 1, "No Content",
          B_NONE, 0, 1, false),
    RS_OK("GET", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 204, 1,
          "No Content", B_NONE, 0, 1, false),
    RS_OK("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n", 304,
          1, "Not Modified", B_NONE, 0, 2, false),
    RS_OK("GET", "HTTP/1.1 100 Continue\r\n\r\n", 100, 1, "Continue", B_NONE, 0, 0, false),
    RS_OKT("POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 19, 100, 1, "Continue",
           B_NONE, 0, 0, false),
    RS_OK("GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\n\r\n", 101, 1, "Switching Protocols", B_NONE, 0, 2, false),
    RS_OK("GET", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", 103, 1,
          "Early Hints", B_NONE, 0, 1, false),
    /* the request method is case-sensitive */
    RS_OK("head", OK200 "Content-Length: 100\r\n\r\n", 200, 1, "OK", B_LEN, 100, 1, false),
    RS_OK("HEADX", OK200 "Content-Length: 100\r\n\r\n", 200, 1, "OK", B_LEN, 100, 1, false),

    /* -- CONNECT: a 2xx starts a tunnel -- */
    RS_OK("CONNECT", "HTTP/1.1 200 Connection Established\r\n\r\n", 200, 1,
          "Connection Established", B_CLOSE, 0, 0, false),
    RS_OK("CONNECT", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200, 1, "OK", B_CLOSE, 0, 1,
          false),
    RS_OK("CONNECT", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, 1, "OK",
          B_CLOSE, 0, 1, false),
    RS_OK("CONNECT", "HTTP/1.1 299 X\r\n\r\n", 299, 1, "X", B_CLOSE, 0, 0, false),
    RS_OK("CONNECT", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\n",
          407, 1, "Proxy Authentication Required", B_LEN, 5, 1, false),
    RS_OK("CONNECT", "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n", 502, 1,
          "Bad Gateway", B_CHUNK, 0, 1, false),
    RS_OK("CONNECT", "HTTP/1.1 100 Continue\r\n\r\n", 100, 1, "Continue", B_NONE, 0, 0, false),
    RS_OK("CONNECT", "HTTP/1.1 204 No Content\r\n\r\n", 204, 1, "No Content", B_NONE, 0, 0,
          false),
    RS_OK("CONNECT", "HTTP/1.1 301 Moved\r\n\r\n", 301, 1, "Moved", B_CLOSE, 0, 0, false),

    /* -- field lines: the framing rules are the same as in requests -- */
    R_BAD("Foo Bar: x\r\n", BAD_HEADER_NAME),
    R_BAD(": x\r\n", BAD_HEADER_NAME),
    R_BAD("Foo : x\r\n", SPACE_BEFORE_COLON),
    R_BAD("Foo\r\n", NO_COLON),
    R_BAD("Fo\x80o: x\r\n", BAD_HEADER_NAME),
    R_BAD("X: a\nY: b\r\n", BARE_LF),
    R_BAD("X: a\rY: b\r\n", BARE_CR),
    R_BAD("X: a\0\r\n", NUL_BYTE),
    R_BAD("X\0: a\r\n", NUL_BYTE),
    RS_BAD("GET", "HTTP/1.1 200 OK\r\nX: a\r\n\n", BARE_LF),
    RS_BAD("GET", "HTTP/1.1 200 OK\r\n\rX", BARE_CR),
    /* a response has no policy: obs-fold and control characters pass */
    R_OK("X: a\r\n b\r\n", B_CLOSE, 0, 1, false),
    R_OK("X: a\x01" "b\x7f\r\n", B_CLOSE, 0, 1, false),
    R_OK("Connection: keep-alive,\r\n close\r\n", B_CLOSE, 0, 1, true),
    R_OK("Set-Cookie: a=b\r\nSet-Cookie: c=d\r\n", B_CLOSE, 0, 2, false),
    R_OK("!#$%&'*+-.^_`|~09azAZ: x\r\nContent-Length: 1\r\n", B_LEN, 1, 2, false),

    /* -- limits (small: head 128 bytes, 4 fields) -- */
    RSM_OK("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n", 4),
    RSM_BAD("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nB: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\n\r\n",
            HEADER_COUNT),
    RSM_OK("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: 9012345678901234567890123456789012345678"
           "901234567890123456789012345678901234567890123\r\n\r\n", 2),
    RSM_BAD("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: 9012345678901234567890123456789012345678"
            "9012345678901234567890123456789012345678901234\r\n\r\n", HEADER_TOO_LARGE),
    /* the request-line limit is for requests: a 40-byte status line is fine */
    RSM_OK("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1),
    { __LINE__, "HTTP/1.1 200 A reason phrase over 32 bytes\r\n\r\n", 46, &small, "GET", DONE,
      R(NONE), 200, 1, "A reason phrase over 32 bytes", B_CLOSE, 0, 0, false, 0 },

    /* -- incomplete -- */
    RS_INC("GET", ""),
    RS_INC("GET", "HTTP/1.1 200 OK"),
    RS_INC("GET", "HTTP/1.1 200 OK\r\n"),
    RS_INC("GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r"),
};

static struct gh_http1_response resp;   /* large: not on the stack */

static void run_response(const struct rs_row *row, const char *raw, size_t len,
                         const struct gh_http1_limits *lim, const char *method, bool splits)
{
    char *buf = dup_exact(raw, len);
    struct he_result he = head_end_once(buf, len, false, lim);
    enum gh_http1_status st = he.st;
    enum gh_http1_rule rule = he.rule;
    if (splits)
        check_head_end_splits(buf, len, false, lim, he);
    if (he.st == DONE) {
        struct gh_http1_span m = { method, strlen(method) };
        rule = R(NONE);
        st = gh_http1_parse_response(buf, he.head_len, lim, m, &resp, &rule);
        if (st == DONE) {
            size_t max = lim ? lim->max_headers : deflim.max_headers;
            rule = R(NONE);
            CHECK(resp.head_len == he.head_len, "head_len %zu", resp.head_len);
            CHECK(resp.status >= 100 && resp.status <= 599, "status %d", resp.status);
            CHECK(resp.minor_version == 0 || resp.minor_version == 1, "minor");
            CHECK(span_within(resp.reason, buf, he.head_len), "reason span");
            CHECK(resp.n_headers <= max, "%zu headers", resp.n_headers);
            for (size_t i = 0; i < resp.n_headers && i < GH_HTTP1_MAX_HEADERS; i++)
                CHECK(span_within(resp.headers[i].name, buf, he.head_len) &&
                          span_within(resp.headers[i].value, buf, he.head_len),
                      "header %zu", i);
            if (resp.body != B_LEN)
                CHECK(resp.content_length == 0, "CL without LENGTH");
        } else {
            CHECK(st == ERR, "parse_response returned %d", st);
        }
    }
    if (st == ERR)
        CHECK(gh_http1_rule_is_framing(rule), "a response fails on a framing rule, not %s",
              gh_http1_rule_name(rule));
    if (row) {
        CHECK(st == row->st && rule == row->rule, "got %s/%s, want %s/%s", st_name(st),
              gh_http1_rule_name(rule), st_name(row->st), gh_http1_rule_name(row->rule));
        if (st == DONE && row->st == DONE) {
            CHECK(resp.status == row->status, "status %d", resp.status);
            CHECK(resp.minor_version == row->minor, "minor %d", resp.minor_version);
            CHECK(span_is(resp.reason, row->reason), "reason '%.*s'", (int)resp.reason.len,
                  resp.reason.p);
            CHECK(resp.body == row->body, "body %d, want %d", resp.body, row->body);
            CHECK(resp.content_length == row->cl, "CL %" PRIu64, resp.content_length);
            CHECK(resp.n_headers == row->nh, "%zu headers, want %zu", resp.n_headers, row->nh);
            CHECK(resp.connection_close == row->close, "close %d", resp.connection_close);
            CHECK(len - he.head_len == row->tail, "%zu bytes after the head", len - he.head_len);
        }
    }
    free(buf);
}

static void test_response_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(rs_rows); i++) {
        const struct rs_row *r = &rs_rows[i];
        row_line = r->line;
        run_response(r, r->raw, r->len, r->lim, r->method, true);
    }
    row_line = 0;
    END_CHECKS();
}

/* A response head of exactly 16384 bytes is fine, 16385 is too large; 256
 * fields at most whatever the configured limit. */
static void test_response_limits(void **state)
{
    (void)state;
    for (size_t len = 16383; len <= 16386; len++) {
        struct sb b = { 0 };
        sb_str(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ");
        sb_rep(&b, 'v', len - b.len - 4);
        sb_str(&b, "\r\n\r\n");
        struct rs_row r = { __LINE__, NULL, 0, NULL, "GET", len <= 16384 ? DONE : ERR,
                            len <= 16384 ? R(NONE) : R(HEADER_TOO_LARGE), 200, 1, "OK", B_LEN, 0,
                            2, false, 0 };
        row_line = r.line;
        run_response(&r, b.p, b.len, NULL, "GET", len == 16385);
        if (len > 16384) {
            enum gh_http1_rule rule = R(NONE);
            struct gh_http1_span m = { "GET", 3 };
            CHECK(gh_http1_parse_response(b.p, b.len, NULL, m, &resp, &rule) == ERR &&
                      rule == R(HEADER_TOO_LARGE), "%s", gh_http1_rule_name(rule));
        }
        free(b.p);
    }
    struct gh_http1_limits big = deflim;
    big.max_headers = 1000;
    big.max_header_bytes = 1 << 20;
    for (size_t n = 100; n <= GH_HTTP1_MAX_HEADERS + 1; n++) {
        struct sb b = { 0 };
        sb_str(&b, "HTTP/1.1 200 OK\r\n");
        for (size_t i = 0; i < n; i++)
            sb_fmt(&b, "X-%zu: %zu\r\n", i, i);
        sb_str(&b, "\r\n");
        bool ok = n <= GH_HTTP1_MAX_HEADERS;
        struct rs_row r = { __LINE__, NULL, 0, NULL, "GET", ok ? DONE : ERR,
                            ok ? R(NONE) : R(HEADER_COUNT), 200, 1, "OK", B_CLOSE, 0, n, false,
                            0 };
        row_line = r.line;
        run_response(&r, b.p, b.len, &big, "GET", false);
        if (n == 101) {
            r.st = ERR;
            r.rule = R(HEADER_COUNT);
            run_response(&r, b.p, b.len, NULL, "GET", false);
        }
        free(b.p);
    }
    END_CHECKS();
}

/* ---- chunked bodies ---------------------------------------------------------- */

struct ck_row {
    int line;
    const char *raw;
    size_t len;
    const struct gh_http1_limits *lim;
    enum gh_http1_status st;
    enum gh_http1_rule rule;
    size_t consumed;            /* DONE: the body's length; ERROR: the bad byte's offset */
    uint64_t body_bytes;
};

#define CK_OK(raw, consumed, body)                                                      \
    { __LINE__, raw, sizeof(raw) - 1, NULL, DONE, R(NONE), consumed, body }
#define CK_INC(raw, body)                                                               \
    { __LINE__, raw, sizeof(raw) - 1, NULL, INC, R(NONE), sizeof(raw) - 1, body }
#define CK_BAD(raw, rule, at)                                                           \
    { __LINE__, raw, sizeof(raw) - 1, NULL, ERR, R(rule), at, 0 }
#define CKS_OK(raw, consumed, body)                                                     \
    { __LINE__, raw, sizeof(raw) - 1, &small, DONE, R(NONE), consumed, body }
#define CKS_BAD(raw, rule, at)                                                          \
    { __LINE__, raw, sizeof(raw) - 1, &small, ERR, R(rule), at, 0 }
/* a complete body: consumed is all of it */
#define CK_ALL(raw, body) CK_OK(raw, sizeof(raw) - 1, body)

static const struct ck_row ck_rows[] = {
    /* -- valid bodies -- */
    CK_ALL("0\r\n\r\n", 0),
    CK_ALL("5\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 11),
    CK_ALL("A\r\n0123456789\r\n0\r\n\r\n", 10),
    CK_ALL("a\r\n0123456789\r\n0\r\n\r\n", 10),
    CK_ALL("1\r\n\r\r\n1\r\n\n\r\n1\r\n\0\r\n0\r\n\r\n", 3),
    CK_ALL("2\r\n\r\n\r\n0\r\n\r\n", 2),
    CK_ALL("000\r\n\r\n", 0),
    CK_ALL("0000000000000005\r\nhello\r\n0000000000000000\r\n\r\n", 5),
    CK_ALL("5;name\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;name=value\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;n=\"quoted value\"\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;n=\"q\\\"\\\\\\x\"\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;n=\"caf\xc3\xa9\t\"\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;n=\"\"\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;a=1;b=2;c\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5 ;a\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5\t; a = 1 ;\tb\t=\t\"2\"\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("5;!#$%&'*+-.^_`|~0aZ=!#$%&'*+-.^_`|~0aZ\r\nhello\r\n0\r\n\r\n", 5),
    CK_ALL("0;ext=1\r\n\r\n", 0),
    CK_ALL("0\r\nX-Trailer: value\r\n\r\n", 0),
    CK_ALL("0\r\nX:\r\n\r\n", 0),
    CK_ALL("0\r\nX:v\r\n\r\n", 0),
    CK_ALL("0\r\nA: 1\r\nB: 2\r\nC: \t3 \xff\r\n\r\n", 0),
    CK_ALL("0\r\n!#$%&'*+-.^_`|~09azAZ: a:b\r\n\r\n", 0),
    CK_ALL("3\r\nabc\r\n0\r\nChecksum: x\r\n\r\n", 3),
    /* bytes after the body are not consumed */
    CK_OK("0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 5, 0),
    CK_OK("5\r\nhello\r\n0\r\n\r\n0\r\n\r\n", 15, 5),
    CK_OK("0\r\n\r\n\r\n", 5, 0),
    CK_OK("0\r\n\r\n\n", 5, 0),

    /* -- incomplete -- */
    CK_INC("", 0),
    CK_INC("5", 0),
    CK_INC("5\r", 0),
    CK_INC("5\r\n", 0),
    CK_INC("5\r\nhel", 3),
    CK_INC("5\r\nhello", 5),
    CK_INC("5\r\nhello\r", 5),
    CK_INC("5\r\nhello\r\n", 5),
    CK_INC("5;a=\"b", 0),
    CK_INC("0", 0),
    CK_INC("0\r\n", 0),
    CK_INC("0\r\n\r", 0),
    CK_INC("0\r\nX: y\r\n", 0),
    CK_INC("0\r\nX: y", 0),
    CK_INC("FFFFFFFFFFFFFFFF\r\nabc", 3),
    CK_INC("ffffffffffffffff\r\n", 0),

    /* -- chunk-size -- */
    CK_BAD("\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("x\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("g\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD(" 5\r\nhello\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("\t5\r\nhello\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("-5\r\nhello\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("+5\r\nhello\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD(";a\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("0x5\r\nhello\r\n", BAD_CHUNK_SIZE, 1),
    CK_BAD("5x\r\nhello\r\n", BAD_CHUNK_SIZE, 1),
    CK_BAD("5 \r\nhello\r\n", BAD_CHUNK_SIZE, 2),
    CK_BAD("5\t\r\nhello\r\n", BAD_CHUNK_SIZE, 2),
    CK_BAD("5 5\r\nhello\r\n", BAD_CHUNK_SIZE, 2),
    CK_BAD("5\x0b\r\nhello\r\n", BAD_CHUNK_SIZE, 1),
    CK_BAD("5\0\r\nhello\r\n", BAD_CHUNK_SIZE, 1),
    CK_BAD("\0", BAD_CHUNK_SIZE, 0),
    CK_BAD("\xd9\xa5\r\nhello\r\n", BAD_CHUNK_SIZE, 0),
    CK_BAD("00000000000000005\r\nhello\r\n", BAD_CHUNK_SIZE, 16),
    CK_BAD("10000000000000000\r\n", BAD_CHUNK_SIZE, 16),
    CK_BAD("FFFFFFFFFFFFFFFFF\r\n", BAD_CHUNK_SIZE, 16),
    CK_BAD("5\r\nhello\r\n\r\n", BAD_CHUNK_SIZE, 10),
    CK_BAD("5\r\nhello\r\nx\r\n", BAD_CHUNK_SIZE, 10),

    /* -- line endings -- */
    CK_BAD("\n", BARE_LF, 0),
    CK_BAD("5\nhello\r\n0\r\n\r\n", BARE_LF, 1),
    CK_BAD("5\rhello\r\n0\r\n\r\n", BARE_CR, 2),
    CK_BAD("5;a\nhello\r\n", BARE_LF, 3),
    CK_BAD("5;a=b\nhello\r\n", BARE_LF, 5),
    CK_BAD("5;a=\"b\"\nhello\r\n", BARE_LF, 7),
    CK_BAD("5;a=\"b\nhello\r\n", BARE_LF, 6),
    CK_BAD("5;a\rhello\r\n", BARE_CR, 4),
    CK_BAD("0\r\n\n", BARE_LF, 3),
    CK_BAD("0\r\n\rX", BARE_CR, 4),
    CK_BAD("0\r\n\r\r\n", BARE_CR, 4),
    CK_BAD("0\r\nX: a\n\r\n", BARE_LF, 7),
    CK_BAD("0\r\nX: a\rb\r\n\r\n", BARE_CR, 8),
    CK_BAD("0\r\nX: a\r\n\n", BARE_LF, 9),
    CK_BAD("0\r\nX\n", BARE_LF, 4),
    CK_BAD("0\n\r\n", BARE_LF, 1),
    CK_BAD("0\r\r\n", BARE_CR, 2),

    /* -- chunk data must end in CRLF -- */
    CK_BAD("5\r\nhelloX\r\n0\r\n\r\n", BAD_CHUNK_END, 8),
    CK_BAD("5\r\nhello world\r\n0\r\n\r\n", BAD_CHUNK_END, 8),
    CK_BAD("5\r\nhello\n0\r\n\r\n", BAD_CHUNK_END, 8),
    CK_BAD("5\r\nhello\rX0\r\n\r\n", BAD_CHUNK_END, 9),
    CK_BAD("5\r\nhello\r\r\n0\r\n\r\n", BAD_CHUNK_END, 9),
    CK_BAD("5\r\nhello0\r\n\r\n", BAD_CHUNK_END, 8),
    CK_BAD("3\r\nhello\r\n0\r\n\r\n", BAD_CHUNK_END, 6),
    CK_BAD("1\r\nab\r\n", BAD_CHUNK_END, 4),

    /* -- chunk extensions -- */
    CK_BAD("5;\r\nhello\r\n", BAD_CHUNK_EXT, 2),
    CK_BAD("5; \r\nhello\r\n", BAD_CHUNK_EXT, 3),
    CK_BAD("5;;a\r\nhello\r\n", BAD_CHUNK_EXT, 2),
    CK_BAD("5;=v\r\nhello\r\n", BAD_CHUNK_EXT, 2),
    CK_BAD("5;a=\r\nhello\r\n", BAD_CHUNK_EXT, 4),
    CK_BAD("5;a= \r\nhello\r\n", BAD_CHUNK_EXT, 5),
    CK_BAD("5;a==b\r\nhello\r\n", BAD_CHUNK_EXT, 4),
    CK_BAD("5;a b\r\nhello\r\n", BAD_CHUNK_EXT, 4),
    CK_BAD("5;a=b c\r\nhello\r\n", BAD_CHUNK_EXT, 6),
    CK_BAD("5;a \r\nhello\r\n", BAD_CHUNK_EXT, 4),
    CK_BAD("5;a=b \r\nhello\r\n", BAD_CHUNK_EXT, 6),
    CK_BAD("5;a=\"b\" \r\nhello\r\n", BAD_CHUNK_EXT, 8),
    CK_BAD("5;a=\"b\"c\r\nhello\r\n", BAD_CHUNK_EXT, 7),
    CK_BAD("5;a=\"b\r\nhello\r\n", BAD_CHUNK_EXT, 6),
    CK_BAD("5;a=\"b\\\r\nhello\r\n", BAD_CHUNK_EXT, 7),
    CK_BAD("5;a=\"\x01\"\r\nhello\r\n", BAD_CHUNK_EXT, 5),
    CK_BAD("5;a=\"\x7f\"\r\nhello\r\n", BAD_CHUNK_EXT, 5),
    CK_BAD("5;a=\"\\\x01\"\r\nhello\r\n", BAD_CHUNK_EXT, 6),
    CK_BAD("5;a=b\"\r\nhello\r\n", BAD_CHUNK_EXT, 5),
    CK_BAD("5;a(b\r\nhello\r\n", BAD_CHUNK_EXT, 3),
    CK_BAD("5;a=b(\r\nhello\r\n", BAD_CHUNK_EXT, 5),
    CK_BAD("5;\xc3\xa9\r\nhello\r\n", BAD_CHUNK_EXT, 2),
    CK_BAD("5;a\0\r\nhello\r\n", BAD_CHUNK_EXT, 3),
    CK_BAD("5;a\x0b\r\nhello\r\n", BAD_CHUNK_EXT, 3),
    CK_BAD("5 x\r\nhello\r\n", BAD_CHUNK_SIZE, 2),

    /* -- trailers -- */
    CK_BAD("0\r\nX\r\n\r\n", BAD_TRAILER, 4),
    CK_BAD("0\r\n: v\r\n\r\n", BAD_TRAILER, 3),
    CK_BAD("0\r\nX : v\r\n\r\n", BAD_TRAILER, 4),
    CK_BAD("0\r\nX\t: v\r\n\r\n", BAD_TRAILER, 4),
    CK_BAD("0\r\n X: v\r\n\r\n", BAD_TRAILER, 3),
    CK_BAD("0\r\nX: a\r\n b\r\n\r\n", BAD_TRAILER, 9),
    CK_BAD("0\r\nX: a\r\n\tb\r\n\r\n", BAD_TRAILER, 9),
    CK_BAD("0\r\nX(: a\r\n\r\n", BAD_TRAILER, 4),
    CK_BAD("0\r\n\xc3\xa9: a\r\n\r\n", BAD_TRAILER, 3),
    CK_BAD("0\r\nX: a\x01\r\n\r\n", BAD_TRAILER, 7),
    CK_BAD("0\r\nX: a\x7f\r\n\r\n", BAD_TRAILER, 7),
    CK_BAD("0\r\nX: a\0\r\n\r\n", NUL_BYTE, 7),
    CK_BAD("0\r\nX\0: a\r\n\r\n", NUL_BYTE, 4),
    CK_BAD("0\r\n\0", NUL_BYTE, 3),
    CK_BAD("0\r\nX: a\r\nY\r\n\r\n", BAD_TRAILER, 10),

    /* -- limits (small: 8 bytes of extensions, 32 of trailers) -- */
    CKS_OK("5;abcdefg\r\nhello\r\n0\r\n\r\n", 23, 5),
    CKS_BAD("5;abcdefgh\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_TOO_LONG, 9),
    CKS_OK("5;a=\"bcd\"\r\nhello\r\n0\r\n\r\n", 23, 5),
    CKS_BAD("5;a=\"bcde\"\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_TOO_LONG, 9),
    CKS_OK("5   ; a=b\r\nhello\r\n0\r\n\r\n", 23, 5),
    CKS_BAD("5    ; a=b\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_TOO_LONG, 9),
    CKS_BAD("5;abcdefg\n", BARE_LF, 9),
    CKS_BAD("5         \r\n", CHUNK_EXT_TOO_LONG, 9),
    /* the limit is per chunk line */
    CKS_OK("1;abcdefg\r\na\r\n1;abcdefg\r\nb\r\n0;abcdefg\r\n\r\n", 41, 2),
    /* trailers: 32 bytes of field lines with their CRLFs */
    CKS_OK("0\r\nX: 345678901234567890123456789\r\n\r\n", 37, 0),
    CKS_BAD("0\r\nX: 3456789012345678901234567890\r\n\r\n", TRAILER_TOO_LARGE, 35),
    CKS_OK("0\r\nA: 34567890123\r\nB: 34567890123\r\n\r\n", 37, 0),
    CKS_BAD("0\r\nA: 34567890123\r\nB: 345678901234\r\n\r\n", TRAILER_TOO_LARGE, 35),
    CKS_BAD("0\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", TRAILER_TOO_LARGE, 35),
};

struct ck_result {
    enum gh_http1_status st;
    enum gh_http1_rule rule;
    size_t consumed;
    uint64_t body_bytes;
};

/* Feeds buf[0, len) in pieces cut at cuts[0..ncuts), in order. */
static struct ck_result chunked_feed_cuts(const char *buf, size_t len,
                                          const struct gh_http1_limits *lim, const size_t *cuts,
                                          size_t ncuts)
{
    struct gh_http1_chunked c;
    struct ck_result r = { INC, R(NONE), 0, 0 };
    gh_http1_chunked_init(&c);
    size_t at = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        size_t consumed = (size_t)-1;
        enum gh_http1_rule rule = R(NONE);
        /* a piece that is not a fresh copy: the parser must keep no pointer */
        char *piece = dup_exact(buf + at, end - at);
        r.st = gh_http1_chunked_feed(&c, piece, end - at, lim, &consumed, &rule);
        free(piece);
        CHECK(consumed <= end - at, "consumed %zu of %zu", consumed, end - at);
        if (r.st == INC)
            CHECK(consumed == end - at, "INCOMPLETE consumed %zu of %zu", consumed, end - at);
        r.consumed = at + consumed;
        r.rule = r.st == ERR ? rule : R(NONE);
        if (r.st != INC)
            break;
        at = end;
    }
    r.body_bytes = c.body_bytes;
    /* DONE and ERROR stick */
    if (r.st != INC) {
        size_t consumed = (size_t)-1;
        enum gh_http1_rule rule = R(NONE);
        enum gh_http1_status st = gh_http1_chunked_feed(&c, "0\r\n\r\n", 5, lim, &consumed, &rule);
        CHECK(st == r.st && consumed == 0 && (st != ERR || rule == r.rule),
              "after %s: %s, consumed %zu", st_name(r.st), st_name(st), consumed);
    }
    return r;
}

static bool ck_same(struct ck_result a, struct ck_result b)
{
    return a.st == b.st && a.rule == b.rule && a.consumed == b.consumed &&
           (a.st == ERR || a.body_bytes == b.body_bytes);
}

#define CK_FMT "%s/%s consumed %zu body %" PRIu64
#define CK_ARGS(r) st_name((r).st), gh_http1_rule_name((r).rule), (r).consumed, (r).body_bytes

/* The result of feeding RAW whole, checked against every split of it. */
static struct ck_result check_chunked(const char *raw, size_t len,
                                      const struct gh_http1_limits *lim)
{
    char *buf = dup_exact(raw, len);
    struct ck_result whole = chunked_feed_cuts(buf, len, lim, NULL, 0);
    for (size_t i = 0; i <= len; i++) {
        struct ck_result r = chunked_feed_cuts(buf, len, lim, &i, 1);
        CHECK(ck_same(r, whole), "split at %zu: " CK_FMT ", whole: " CK_FMT, i, CK_ARGS(r),
              CK_ARGS(whole));
    }
    if (len <= 64) {                    /* every split in three */
        for (size_t i = 0; i <= len; i++) {
            for (size_t j = i; j <= len; j++) {
                size_t cuts[2] = { i, j };
                struct ck_result r = chunked_feed_cuts(buf, len, lim, cuts, 2);
                CHECK(ck_same(r, whole), "split at %zu, %zu: " CK_FMT, i, j, CK_ARGS(r));
            }
        }
    }
    size_t *cuts = malloc((len + 1) * sizeof *cuts);       /* one byte at a time */
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct ck_result r = chunked_feed_cuts(buf, len, lim, cuts, len ? len - 1 : 0);
    CHECK(ck_same(r, whole), "bytewise: " CK_FMT, CK_ARGS(r));
    free(cuts);
    free(buf);
    return whole;
}

static void test_chunked_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ck_rows); i++) {
        const struct ck_row *row = &ck_rows[i];
        row_line = row->line;
        struct ck_result r = check_chunked(row->raw, row->len, row->lim);
        CHECK(r.st == row->st && r.rule == row->rule && r.consumed == row->consumed,
              "got %s/%s at %zu, want %s/%s at %zu", st_name(r.st), gh_http1_rule_name(r.rule),
              r.consumed, st_name(row->st), gh_http1_rule_name(row->rule), row->consumed);
        if (row->st != ERR)
            CHECK(r.body_bytes == row->body_bytes, "body %" PRIu64 ", want %" PRIu64,
                  r.body_bytes, row->body_bytes);
    }
    row_line = 0;
    END_CHECKS();
}

/* Default limits: 256 bytes of extensions, 4096 of trailers; a large body
 * in large chunks; a chunk size near 2^64. */
static void test_chunked_limits(void **state)
{
    (void)state;
    for (size_t n = 255; n <= 258; n++) {
        struct sb b = { 0 };
        sb_str(&b, "1;");
        sb_rep(&b, 'e', n - 1);
        sb_str(&b, "\r\nx\r\n0\r\n\r\n");
        row_line = __LINE__;
        struct ck_result r = check_chunked(b.p, b.len, n == 256 ? NULL : &deflim);
        if (n <= 256)
            CHECK(r.st == DONE && r.consumed == b.len && r.body_bytes == 1, "ext %zu: " CK_FMT, n,
                  CK_ARGS(r));
        else
            CHECK(r.st == ERR && r.rule == R(CHUNK_EXT_TOO_LONG) && r.consumed == 257,
                  "ext %zu: " CK_FMT, n, CK_ARGS(r));
        free(b.p);
    }
    for (size_t n = 4095; n <= 4097; n++) {
        struct sb b = { 0 };
        sb_str(&b, "0\r\nT: ");
        sb_rep(&b, 't', n - 5);
        sb_str(&b, "\r\n\r\n");
        row_line = __LINE__;
        struct ck_result r = check_chunked(b.p, b.len, NULL);
        if (n <= 4096)
            CHECK(r.st == DONE && r.consumed == b.len, "trailer %zu: " CK_FMT, n, CK_ARGS(r));
        else
            CHECK(r.st == ERR && r.rule == R(TRAILER_TOO_LARGE) && r.consumed == 3 + 4096,
                  "trailer %zu: " CK_FMT, n, CK_ARGS(r));
        free(b.p);
    }
    /* 1 MiB of data in chunks of 64 KiB, fed in odd pieces */
    struct sb b = { 0 };
    for (int i = 0; i < 16; i++) {
        sb_str(&b, "10000\r\n");
        sb_rep(&b, (char)('a' + i), 0x10000);
        sb_str(&b, "\r\n");
    }
    sb_str(&b, "0\r\n\r\n");
    size_t cuts[64];
    size_t n = 0;
    for (size_t at = 1; at < b.len && n < ARRAY_LEN(cuts); at += 16411)
        cuts[n++] = at;
    row_line = __LINE__;
    struct ck_result whole = chunked_feed_cuts(b.p, b.len, NULL, NULL, 0);
    struct ck_result r = chunked_feed_cuts(b.p, b.len, NULL, cuts, n);
    CHECK(whole.st == DONE && whole.consumed == b.len && whole.body_bytes == 1u << 20,
          CK_FMT, CK_ARGS(whole));
    CHECK(ck_same(r, whole), CK_FMT, CK_ARGS(r));
    free(b.p);
    /* the largest chunk size: 16 hex digits, no overflow */
    struct gh_http1_chunked c;
    size_t consumed;
    enum gh_http1_rule rule = R(NONE);
    gh_http1_chunked_init(&c);
    CHECK(gh_http1_chunked_feed(&c, "FFFFFFFFFFFFFFFF\r\nab", 20, NULL, &consumed, &rule) == INC &&
              consumed == 20 && c.remaining == UINT64_MAX - 2 && c.body_bytes == 2,
          "remaining %" PRIu64, c.remaining);
    END_CHECKS();
}

/* ---- rules, names, statuses; direct calls --------------------------------------- */

/* ---- gh_http1_chunked_next: the same checker, stopping at events ------- */

struct ev_result {
    struct ck_result r;
    char data[512];              /* the de-chunked data (first 511 bytes) */
    size_t data_len;
    char trailers[256];          /* "name=value;" per trailer */
    size_t n_sizes;
};

/* Drives _next like a proxy does: bytes up to cuts[k] are available, what
 * an event did not consume is given again (with more) on the next call. */
static struct ev_result chunked_next_cuts(const char *buf, size_t len,
                                          const struct gh_http1_limits *lim, const size_t *cuts,
                                          size_t ncuts)
{
    struct gh_http1_chunked c;
    struct ev_result e;
    memset(&e, 0, sizeof e);
    e.r.st = INC;
    gh_http1_chunked_init(&c);
    size_t pos = 0;
    for (size_t k = 0; k <= ncuts && e.r.st == INC; k++) {
        size_t avail = k < ncuts ? cuts[k] : len;
        for (;;) {
            struct gh_http1_chunk_ev ev;
            size_t used = (size_t)-1;
            char *piece = dup_exact(buf + pos, avail - pos);
            enum gh_http1_chunk_event got =
                gh_http1_chunked_next(&c, piece, avail - pos, lim, &used, &ev);
            CHECK(got == ev.event, "return and ev.event differ");
            CHECK(used <= avail - pos, "used %zu of %zu", used, avail - pos);
            if (got == GH_CHUNK_DATA) {
                CHECK(ev.data.p >= piece && ev.data.p + ev.data.len <= piece + used,
                      "data span outside what was consumed");
                for (size_t i = 0; i < ev.data.len && e.data_len < sizeof e.data - 1; i++)
                    e.data[e.data_len++] = ev.data.p[i];
            } else if (got == GH_CHUNK_SIZE) {
                CHECK(ev.size > 0, "SIZE 0");
                e.n_sizes++;
            } else if (got == GH_CHUNK_TRAILER) {
                CHECK(ev.name.p == piece && ev.value.p + ev.value.len <= piece + used,
                      "trailer spans outside its line");
                size_t n = strlen(e.trailers);
                snprintf(e.trailers + n, sizeof e.trailers - n, "%.*s=%.*s;", (int)ev.name.len,
                         ev.name.p, (int)ev.value.len, ev.value.p);
            }
            free(piece);
            if (got == GH_CHUNK_ERROR) {
                e.r.st = ERR;
                e.r.rule = ev.rule;
                e.r.consumed = pos + used;
                break;
            }
            pos += used;
            if (got == GH_CHUNK_END) {
                e.r.st = DONE;
                e.r.consumed = pos;
                break;
            }
            if (got == GH_CHUNK_NEED_MORE)
                break;
        }
    }
    if (e.r.st == INC)
        e.r.consumed = len; /* used, or a partial line the caller holds */
    e.r.body_bytes = c.body_bytes;
    return e;
}

/* Every table row: _next agrees with _feed (status, rule, where, data
 * bytes) whole, split anywhere in two and byte by byte, and sees the same
 * data and trailers for every split. */
static void test_chunked_events_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ck_rows); i++) {
        const struct ck_row *row = &ck_rows[i];
        row_line = row->line;
        char *buf = dup_exact(row->raw, row->len);
        struct ck_result fed = chunked_feed_cuts(buf, row->len, row->lim, NULL, 0);
        struct ev_result whole = chunked_next_cuts(buf, row->len, row->lim, NULL, 0);
        CHECK(ck_same(whole.r, fed), "events " CK_FMT ", feed " CK_FMT, CK_ARGS(whole.r),
              CK_ARGS(fed));
        size_t *cuts = malloc((row->len + 1) * sizeof *cuts);
        assert_non_null(cuts);
        for (size_t k = 0; k < row->len; k++)
            cuts[k] = k + 1;
        for (size_t k = 0; k <= row->len; k++) {
            struct ev_result two = chunked_next_cuts(buf, row->len, row->lim, &k, 1);
            CHECK(ck_same(two.r, whole.r) && two.data_len == whole.data_len &&
                      memcmp(two.data, whole.data, whole.data_len) == 0 &&
                      strcmp(two.trailers, whole.trailers) == 0,
                  "split at %zu: " CK_FMT, k, CK_ARGS(two.r));
        }
        struct ev_result bytes =
            chunked_next_cuts(buf, row->len, row->lim, cuts, row->len ? row->len - 1 : 0);
        CHECK(ck_same(bytes.r, whole.r) && strcmp(bytes.trailers, whole.trailers) == 0,
              "bytewise: " CK_FMT, CK_ARGS(bytes.r));
        free(cuts);
        free(buf);
    }
    row_line = 0;
    END_CHECKS();
}

/* The events of one body, in order, with what each carries; a line is
 * handed over only whole. */
static void test_chunked_events(void **state)
{
    (void)state;
    static const char body[] = "0005;a=\"b;c\"\r\nhello\r\nA\r\n0123456789\r\n0 ;x\r\n"
                               "T: v \r\nU:w\r\n\r\nNEXT";
    static const struct {
        enum gh_http1_chunk_event ev;
        uint64_t size;
        const char *span;        /* data, ext, or "name=value" */
    } want[] = {
        { GH_CHUNK_SIZE, 5, ";a=\"b;c\"" }, { GH_CHUNK_DATA, 0, "hello" },
        { GH_CHUNK_DATA_END, 0, "" },       { GH_CHUNK_SIZE, 10, "" },
        { GH_CHUNK_DATA, 0, "0123456789" }, { GH_CHUNK_DATA_END, 0, "" },
        { GH_CHUNK_LAST, 0, " ;x" },        { GH_CHUNK_TRAILER, 0, "T=v" },
        { GH_CHUNK_TRAILER, 0, "U=w" },     { GH_CHUNK_END, 0, "" },
    };
    struct gh_http1_chunked c;
    struct gh_http1_chunk_ev ev;
    size_t pos = 0, len = sizeof body - 1, used;
    gh_http1_chunked_init(&c);
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        row_line = (int)i;
        char got[64] = "";
        gh_http1_chunked_next(&c, body + pos, len - pos, NULL, &used, &ev);
        switch (ev.event) {
        case GH_CHUNK_SIZE:
        case GH_CHUNK_LAST:
            snprintf(got, sizeof got, "%.*s", (int)ev.ext.len, ev.ext.p);
            CHECK(ev.size == want[i].size, "size %" PRIu64, ev.size);
            break;
        case GH_CHUNK_DATA:
            snprintf(got, sizeof got, "%.*s", (int)ev.data.len, ev.data.p);
            break;
        case GH_CHUNK_TRAILER:
            snprintf(got, sizeof got, "%.*s=%.*s", (int)ev.name.len, ev.name.p,
                     (int)ev.value.len, ev.value.p);
            break;
        default:
            break;
        }
        CHECK(ev.event == want[i].ev && strcmp(got, want[i].span) == 0, "event %d '%s'",
              (int)ev.event, got);
        pos += used;
    }
    CHECK(strcmp(body + pos, "NEXT") == 0, "stopped at '%s'", body + pos);
    /* a size line arriving in pieces: nothing is consumed until its CRLF */
    gh_http1_chunked_init(&c);
    row_line = __LINE__;
    CHECK(gh_http1_chunked_next(&c, "1f;ab", 5, NULL, &used, &ev) == GH_CHUNK_NEED_MORE &&
              used == 0, "partial line: used %zu", used);
    CHECK(gh_http1_chunked_next(&c, "1f;abc\r", 7, NULL, &used, &ev) == GH_CHUNK_NEED_MORE &&
              used == 0, "partial line: used %zu", used);
    CHECK(gh_http1_chunked_next(&c, "1f;abc\r\nxy", 10, NULL, &used, &ev) == GH_CHUNK_SIZE &&
              used == 8 && ev.size == 31 && ev.ext.len == 4, "whole line: used %zu", used);
    /* an error sticks */
    CHECK(gh_http1_chunked_next(&c, "xy", 2, NULL, &used, &ev) == GH_CHUNK_DATA && used == 2,
          "data");
    CHECK(gh_http1_chunked_next(&c, "", 0, NULL, &used, &ev) == GH_CHUNK_NEED_MORE, "empty");
    gh_http1_chunked_init(&c);
    CHECK(gh_http1_chunked_next(&c, "g\r\n", 3, NULL, &used, &ev) == GH_CHUNK_ERROR &&
              ev.rule == R(BAD_CHUNK_SIZE) && used == 0, "bad size");
    CHECK(gh_http1_chunked_next(&c, "0\r\n\r\n", 5, NULL, &used, &ev) == GH_CHUNK_ERROR &&
              ev.rule == R(BAD_CHUNK_SIZE) && used == 0, "sticks");
    row_line = 0;
    END_CHECKS();
}

static void test_rules(void **state)
{
    (void)state;
    static const struct {
        enum gh_http1_rule rule;
        const char *name;
        bool framing;
        int status;
    } rules[] = {
        { R(BARE_LF), "bare_lf", true, 400 },
        { R(BARE_CR), "bare_cr", true, 400 },
        { R(NUL_BYTE), "nul_byte", true, 400 },
        { R(BAD_REQUEST_LINE), "bad_request_line", true, 400 },
        { R(BAD_VERSION), "bad_version", true, 505 },
        { R(BAD_HEADER_NAME), "bad_header_name", true, 400 },
        { R(SPACE_BEFORE_COLON), "space_before_colon", true, 400 },
        { R(NO_COLON), "no_colon", true, 400 },
        { R(CL_TE_CONFLICT), "cl_te_conflict", true, 400 },
        { R(BAD_CONTENT_LENGTH), "bad_content_length", true, 400 },
        { R(CL_MISMATCH), "cl_mismatch", true, 400 },
        { R(TE_NOT_CHUNKED), "te_not_chunked", true, 400 },
        { R(TE_UNSUPPORTED), "te_unsupported", true, 501 },
        { R(TE_HTTP10), "te_http10", true, 400 },
        { R(TE_EMPTY_ELEMENT), "te_empty_element", true, 400 },
        { R(BAD_CHUNK_SIZE), "bad_chunk_size", true, 400 },
        { R(BAD_CHUNK_EXT), "bad_chunk_ext", true, 400 },
        { R(CHUNK_EXT_TOO_LONG), "chunk_ext_too_long", true, 400 },
        { R(BAD_CHUNK_END), "bad_chunk_end", true, 400 },
        { R(BAD_TRAILER), "bad_trailer", true, 400 },
        { R(TRAILER_TOO_LARGE), "trailer_too_large", true, 400 },
        { R(REQUEST_LINE_TOO_LONG), "request_line_too_long", true, 414 },
        { R(HEADER_TOO_LARGE), "header_too_large", true, 431 },
        { R(HEADER_COUNT), "header_count", true, 431 },
        { R(BODY_TOO_LARGE), "body_too_large", true, 413 },
        { R(ASTERISK_NOT_OPTIONS), "asterisk_not_options", true, 400 },
        { R(AUTHORITY_NOT_CONNECT), "authority_not_connect", true, 400 },
        { R(BAD_STATUS_LINE), "bad_status_line", true, 400 },
        { R(BAD_HEADER_CHAR), "bad_header_char", false, 400 },
        { R(OBS_FOLD), "obs_fold", false, 400 },
        { R(BAD_TARGET_CHAR), "bad_target_char", false, 400 },
        { R(MISSING_HOST), "missing_host", false, 400 },
        { R(DUPLICATE_HOST), "duplicate_host", false, 400 },
        { R(BAD_HOST), "bad_host", false, 400 },
        { R(HOST_MISMATCH), "host_mismatch", false, 400 },
        { R(METHOD_NOT_ALLOWED), "method_not_allowed", false, 405 },
    };
    assert_int_equal(ARRAY_LEN(rules), GH_RULE_COUNT - 1);
    assert_true(GH_RULE_COUNT <= 64);   /* gh_http1_rule_set has a bit for each */
    for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
        row_line = (int)i;
        CHECK(rules[i].rule == (enum gh_http1_rule)(i + 1), "order");
        CHECK(strcmp(gh_http1_rule_name(rules[i].rule), rules[i].name) == 0, "%s",
              gh_http1_rule_name(rules[i].rule));
        CHECK(gh_http1_rule_is_framing(rules[i].rule) == rules[i].framing, "%s", rules[i].name);
        CHECK(gh_http1_rule_status(rules[i].rule) == rules[i].status, "%s: %d", rules[i].name,
              gh_http1_rule_status(rules[i].rule));
        CHECK(gh_http1_rule_from_name(rules[i].name, strlen(rules[i].name)) == rules[i].rule,
              "%s", rules[i].name);
        /* a prefix, a longer name, another case: unknown */
        CHECK(gh_http1_rule_from_name(rules[i].name, strlen(rules[i].name) - 1) == R(NONE) ||
                  strcmp(rules[i].name, "bare_lf") == 0, "%s prefix", rules[i].name);
        char longer[64];
        snprintf(longer, sizeof longer, "%sx", rules[i].name);
        CHECK(gh_http1_rule_from_name(longer, strlen(longer)) == R(NONE), "%s", longer);
    }
    row_line = 0;
    CHECK(!gh_http1_rule_is_framing(R(NONE)), "none");
    CHECK(!gh_http1_rule_is_framing(GH_RULE_COUNT), "count");
    CHECK(strcmp(gh_http1_rule_name(GH_RULE_COUNT), "unknown") == 0, "count name");
    CHECK(strcmp(gh_http1_rule_name((enum gh_http1_rule)-1), "unknown") == 0, "-1 name");
    CHECK(gh_http1_rule_from_name("BARE_LF", 7) == R(NONE), "case");
    CHECK(gh_http1_rule_from_name("", 0) == R(NONE), "empty");
    CHECK(gh_http1_rule_from_name(NULL, 0) == R(NONE), "NULL");
    CHECK(gh_http1_rule_from_name("bare_lf, bare_cr", 7) == R(BARE_LF), "length, not NUL");
    END_CHECKS();
}

static void test_span_equals(void **state)
{
    (void)state;
    struct gh_http1_span s = { "Content-Length", 14 };
    assert_true(gh_http1_span_equals(s, "content-length"));
    s.len = 13;
    assert_false(gh_http1_span_equals(s, "content-length"));
    s = (struct gh_http1_span){ "CHUNKED", 7 };
    assert_true(gh_http1_span_equals(s, "chunked"));
    assert_false(gh_http1_span_equals(s, "chunke"));
    assert_false(gh_http1_span_equals(s, "chunkedx"));
    s = (struct gh_http1_span){ "[", 1 };      /* '[' is not '{' lowercased */
    assert_false(gh_http1_span_equals(s, "{"));
    s = (struct gh_http1_span){ "@", 1 };
    assert_false(gh_http1_span_equals(s, "`"));
    s = (struct gh_http1_span){ NULL, 0 };
    assert_true(gh_http1_span_equals(s, ""));
    assert_false(gh_http1_span_equals(s, "a"));
}

/* Forwarding chains gatehouse extends for a trusted proxy: what it can
 * read, and what would swallow or shift the hop it appends. */
static void test_forwarding_chains(void **state)
{
    (void)state;
    static const struct { const char *v; bool ok; } xff[] = {
        {"192.0.2.1", true}, {"192.0.2.1, 198.51.100.2", true}, {"2001:db8::1", true},
        {"[2001:db8::1]:443,\t10.0.0.1", true}, {"unknown", true}, {"_hidden-1", true},
        {"", false}, {" ", false}, {"9.9.9.9, ", false}, {"9.9.9.9,,1.1.1.1", false},
        {",9.9.9.9", false}, {"9.9.9.9 1.1.1.1", false}, {"9.9.9.9;for=x", false},
        {"\"1.1.1.1\"", false}, {"1.1.1.1\x80", false},
    };
    static const struct { const char *v; bool ok; } fwd[] = {
        {"for=192.0.2.1", true}, {"for=192.0.2.1;proto=https", true},
        {"for=\"[2001:db8::1]:443\";by=x, for=unknown", true},
        {"for=\"a\\\"b\"", true}, {"For=x;Proto=http,\tfor=y", true},
        {"", false}, {"for=\"1.1.1.1", false}, {"for=", false}, {"=x", false},
        {"for=x,", false}, {"for=x,,for=y", false}, {"for=x;", false}, {";for=x", false},
        {"for=x y", false}, {"for=\"x\\", false}, {"for=\"x\"y", false},
        {"for=\"a\x01b\"", false},
    };
    for (size_t i = 0; i < sizeof xff / sizeof xff[0]; i++) {
        struct gh_http1_span s = {xff[i].v, strlen(xff[i].v)};
        if (gh_http1_xff_valid(s) != xff[i].ok)
            fail_msg("X-Forwarded-For \"%s\": expected %s", xff[i].v, xff[i].ok ? "valid" : "invalid");
    }
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        struct gh_http1_span s = {fwd[i].v, strlen(fwd[i].v)};
        if (gh_http1_forwarded_valid(s) != fwd[i].ok)
            fail_msg("Forwarded \"%s\": expected %s", fwd[i].v, fwd[i].ok ? "valid" : "invalid");
    }
}

/* parse_request / parse_response called without head_end, and head_end's
 * own corner cases. */
/* RFC 9112 2.2: a few empty lines before a request line are skipped, any
 * split of them; more, or a line ending that is not CRLF, fail. */
static void test_skip_empty_lines(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum gh_http1_status st;
        size_t skip;
        enum gh_http1_rule rule;
        int line;
    } rows[] = {
#define SK(in, st, skip, rule) { in, st, skip, R(rule), __LINE__ }
        SK("GET / HTTP/1.1\r\n", DONE, 0, NONE),
        SK("\r\nGET / HTTP/1.1\r\n", DONE, 2, NONE),
        SK("\r\n\r\n\r\n\r\nGET", DONE, 8, NONE),            /* the most ignored */
        SK("\r\n\r\n\r\n\r\n\r\nGET", ERR, 8, BAD_REQUEST_LINE), /* one more */
        SK("", INC, 0, NONE),
        SK("\r", INC, 0, NONE),                              /* its LF may follow */
        SK("\r\n\r", INC, 2, NONE),
        SK("\r\n", INC, 2, NONE),
        SK("\n", ERR, 0, BARE_LF),
        SK("\r\n\nGET", ERR, 2, BARE_LF),
        SK("\rGET", ERR, 0, BARE_CR),
        SK(" \r\nGET", DONE, 0, NONE),                       /* not empty: the line's own problem */
#undef SK
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        unsigned empty = 0;
        size_t skip = 99;
        enum gh_http1_rule rule = R(NONE);
        enum gh_http1_status st =
            gh_http1_skip_empty_lines(rows[i].in, strlen(rows[i].in), &empty, &skip, &rule);
        row_line = rows[i].line;
        CHECK(st == rows[i].st && skip == rows[i].skip && rule == rows[i].rule,
              "%s skip %zu rule %s", st_name(st), skip, gh_http1_rule_name(rule));
    }
    /* the count carries across reads: four in four reads, then a fifth */
    unsigned empty = 0;
    size_t skip = 0;
    enum gh_http1_rule rule = R(NONE);
    row_line = __LINE__;
    for (int k = 0; k < GH_HTTP1_MAX_EMPTY_LINES; k++)
        CHECK(gh_http1_skip_empty_lines("\r\n", 2, &empty, &skip, &rule) == INC && skip == 2,
              "read %d", k);
    CHECK(gh_http1_skip_empty_lines("\r\nGET", 5, &empty, &skip, &rule) == ERR &&
              rule == R(BAD_REQUEST_LINE), "the fifth, read alone");
    END_CHECKS();
}

/* A request line is judged when its CRLF arrives, not when the head
 * would end: HTTP/0.9 ("GET /") and other lines that are no request-line
 * fail at once, in one call or byte by byte, and give the rule the full
 * parse gives. */
static void test_request_line_early(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        enum gh_http1_status st;
        enum gh_http1_rule rule;
        int line;
    } rows[] = {
#define EL(in, st, rule) { in, st, R(rule), __LINE__ }
        EL("GET /\r\n", ERR, BAD_REQUEST_LINE),              /* HTTP/0.9 */
        EL("GET\r\n", ERR, BAD_REQUEST_LINE),
        EL("GET / \r\n", ERR, BAD_REQUEST_LINE),
        EL("GET / HTTP/1.1 \r\n", ERR, BAD_REQUEST_LINE),
        EL("GET / HTTP/1\r\n", ERR, BAD_REQUEST_LINE),
        EL("GET  / HTTP/1.1\r\n", ERR, BAD_REQUEST_LINE),
        EL("GET / http/1.1\r\n", ERR, BAD_REQUEST_LINE),
        EL("GET / HTTP/2.0\r\n", ERR, BAD_VERSION),          /* 505, as the full parse */
        EL("GET / HTTP/1.1\r\n", INC, NONE),                 /* a request line: the head goes on */
        EL("GET / HTTP/1.0\r\nHost: a\r\n", INC, NONE),
        EL("OPTIONS * HTTP/1.1\r\n", INC, NONE),
        EL("PROPFIND /dav/ HTTP/1.1\r\nX: y\r\n", INC, NONE),
        EL("GET /a|b HTTP/1.1\r\n", INC, NONE),              /* a policy rule: decided later */
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const char *in = rows[i].in;
        size_t len = strlen(in);
        row_line = rows[i].line;
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
            size_t scan = 0, head_len = 0;
            enum gh_http1_rule rule = R(NONE);
            enum gh_http1_status st = INC;
            for (size_t k = bytewise ? 1 : len; k <= len && st == INC; k++)
                st = gh_http1_head_end(in, k, true, NULL, &scan, &head_len, &rule);
            CHECK(st == rows[i].st && rule == rows[i].rule, "%s: %s %s",
                  bytewise ? "byte by byte" : "one call", st_name(st), gh_http1_rule_name(rule));
        }
        /* the full parse of the same line as a head agrees */
        if (rows[i].st == ERR) {
            char head[128];
            int n = snprintf(head, sizeof head, "%s\r\n", in);
            struct gh_http1_request req;
            enum gh_http1_rule rule = R(NONE);
            CHECK(n > 0 && gh_http1_parse_request(head, (size_t)n, NULL, &req, &rule) == ERR &&
                      rule == rows[i].rule, "parse_request: %s", gh_http1_rule_name(rule));
        }
        /* a response's first line is not a request line: not judged */
        size_t scan = 0, head_len = 0;
        enum gh_http1_rule rule = R(NONE);
        CHECK(gh_http1_head_end(in, len, false, NULL, &scan, &head_len, &rule) == INC,
              "as a response: %s", gh_http1_rule_name(rule));
    }
    END_CHECKS();
}

static void test_direct_calls(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        size_t len;
        enum gh_http1_rule rule;
    } bad[] = {
        /* not a complete head */
        { "GET / HTTP/1.1\r\nHost: a\r\n", 25, R(BAD_REQUEST_LINE) },
        { "GET / HTTP/1.1\r\n", 16, R(BAD_REQUEST_LINE) },
        { "GET / HTTP/1.1", 14, R(BAD_REQUEST_LINE) },
        { "", 0, R(BAD_REQUEST_LINE) },
        { "\r\n\r", 3, R(BAD_REQUEST_LINE) },
        { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26, R(BAD_REQUEST_LINE) },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *buf = dup_exact(bad[i].raw, bad[i].len);
        enum gh_http1_rule rule = R(NONE);
        row_line = (int)i;
        CHECK(gh_http1_parse_request(buf, bad[i].len, NULL, &req, &rule) == ERR &&
                  rule == bad[i].rule, "%s", gh_http1_rule_name(rule));
        rule = R(NONE);
        struct gh_http1_span m = { "GET", 3 };
        CHECK(gh_http1_parse_response(buf, bad[i].len, NULL, m, &resp, &rule) == ERR &&
                  rule == R(BAD_STATUS_LINE), "%s", gh_http1_rule_name(rule));
        free(buf);
    }
    row_line = 0;
    /* a NULL rule pointer is allowed */
    assert_int_equal(gh_http1_parse_request("GET / HTTP/1.1\r\n", 16, NULL, &req, NULL), ERR);
    size_t scan = 0, head_len = 0;
    assert_int_equal(gh_http1_head_end("\n", 1, true, NULL, &scan, &head_len, NULL), ERR);
    /* with a head_len past the first empty line, parsing stops there */
    static const char two[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nX: b\r\n\r\n";
    enum gh_http1_rule rule = R(NONE);
    assert_int_equal(gh_http1_parse_request(two, sizeof two - 1, NULL, &req, &rule), DONE);
    assert_int_equal(req.head_len, 27);
    assert_int_equal(req.n_headers, 1);
    /* head_end on a response ignores max_request_line */
    static const char longrs[] = "HTTP/1.1 200 OK, a reason longer than 32 bytes\r\n\r\n";
    scan = 0;
    CHECK(gh_http1_head_end(longrs, sizeof longrs - 1, false, &small, &scan, &head_len, &rule) ==
              DONE && head_len == sizeof longrs - 1, "response line");
    scan = 0;
    rule = R(NONE);
    CHECK(gh_http1_head_end(longrs, sizeof longrs - 1, true, &small, &scan, &head_len, &rule) ==
              ERR && rule == R(REQUEST_LINE_TOO_LONG), "as a request");
    /* a leading empty line is a 2-byte head */
    scan = 0;
    CHECK(gh_http1_head_end("\r\nGET", 5, true, NULL, &scan, &head_len, &rule) == DONE &&
              head_len == 2, "leading CRLF");
    /* the parsed fields point into the caller's buffer */
    static const char ok[] = "GET /x HTTP/1.1\r\nHost: h\r\nA:  b c \r\n\r\n";
    assert_int_equal(gh_http1_parse_request(ok, sizeof ok - 1, NULL, &req, &rule), DONE);
    assert_ptr_equal(req.method.p, ok);
    assert_ptr_equal(req.target.p, ok + 4);
    assert_ptr_equal(req.headers[1].name.p, ok + 26);
    assert_ptr_equal(req.headers[1].value.p, ok + 30);
    assert_int_equal(req.headers[1].value.len, 3);
    /* folded values span the fold */
    static const char fold[] = "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n  c \r\n\td\r\n\r\n";
    assert_int_equal(gh_http1_parse_request(fold, sizeof fold - 1, NULL, &req, &rule), DONE);
    assert_int_equal(req.n_headers, 2);
    assert_ptr_equal(req.headers[1].value.p, fold + 28);
    assert_int_equal(req.headers[1].value.len, strlen("b\r\n  c \r\n\td"));
    END_CHECKS();
}

/* ---- fields named by Connection ---------------------------------------------- */

static void test_connection_named(void **state)
{
    (void)state;
    struct gh_http1_request req;
    enum gh_http1_rule rule = R(NONE);
    static const char head[] = "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a, X-B\r\n"
                               "x-a: 1\r\nX-b: 2\r\nx-c: 3\r\nconnection: \tx-c x\r\n"
                               "x-A: 4\r\nx-ab: 5\r\nx-d: 6\r\n\r\n";
    static const bool named[] = { false, false, true, true, true, false, true, false, false };
    assert_int_equal(gh_http1_parse_request(head, sizeof head - 1, NULL, &req, &rule), DONE);
    assert_int_equal(req.n_headers, ARRAY_LEN(named));
    for (size_t i = 0; i < req.n_headers; i++) {
        row_line = __LINE__;
        CHECK(gh_http1_connection_named(&req, i) == named[i], "field %zu", i);
    }
    /* no Connection field: nothing named, whatever the previous parse left */
    static const char plain[] = "GET / HTTP/1.1\r\nHost: h\r\nx-a: 1\r\n\r\n";
    assert_int_equal(gh_http1_parse_request(plain, sizeof plain - 1, NULL, &req, &rule), DONE);
    for (size_t i = 0; i < req.n_headers; i++)
        CHECK(!gh_http1_connection_named(&req, i), "plain field %zu", i);
    END_CHECKS();
}

/* Issue 12: a Connection field of thousands of tokens in a head of hundreds
 * of fields. Testing every field against every token was fields x tokens;
 * the token set is built once, so the work stays within a small multiple of
 * the head's length (log2 of the field count per token byte). */
static void test_connection_tokens_linear(void **state)
{
    (void)state;
    static const struct gh_http1_limits big = {
        .max_request_line = 8192, .max_header_bytes = 65536, .max_headers = 256,
        .max_chunk_ext = 256, .max_trailer_bytes = 4096,
    };
    struct gh_http1_request req;
    enum gh_http1_rule rule = R(NONE);
    for (int same = 0; same <= 1; same++) {
        struct sb b = { 0 };
        sb_str(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 0; i < 250; i++)  /* distinct names, or all the same one */
            sb_fmt(&b, "h%03d: v\r\n", same ? 0 : i);
        sb_str(&b, "Connection: ");
        for (int t = 0; t < 8000; t++) /* every token names a field */
            sb_fmt(&b, "%sh%03d", t ? "," : "", same ? 0 : t % 250);
        sb_str(&b, "\r\n\r\n");
        char *buf = malloc(b.len);
        assert_non_null(buf);
        memcpy(buf, b.p, b.len);
        gh_http1_work = 0;
        row_line = __LINE__;
        CHECK(gh_http1_parse_request(buf, b.len, &big, &req, &rule) == DONE, "%s",
              gh_http1_rule_name(rule));
        CHECK(req.n_headers == 252, "%zu", req.n_headers);
        CHECK(gh_http1_work >= 8000, "the work counter counts: %llu", gh_http1_work);
        CHECK(gh_http1_work <= 16ull * b.len, "same=%d: %llu units for a %zu-byte head", same,
              gh_http1_work, b.len);
        for (size_t i = 1; i < 251; i++)
            CHECK(gh_http1_connection_named(&req, i), "field %zu", i);
        CHECK(!gh_http1_connection_named(&req, 0) && !gh_http1_connection_named(&req, 251),
              "Host and Connection itself are not named");
        free(buf);
        free(b.p);
    }
    END_CHECKS();
}

/* PART_MAIN */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_request_body_table),
        cmocka_unit_test(test_request_limit_table),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_header_bytes_limit),
        cmocka_unit_test(test_long_legal_request),
        cmocka_unit_test(test_head_end_linear),
        cmocka_unit_test(test_response_table),
        cmocka_unit_test(test_response_limits),
        cmocka_unit_test(test_chunked_table),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_chunked_events_table),
        cmocka_unit_test(test_chunked_events),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_span_equals),
        cmocka_unit_test(test_forwarding_chains),
        cmocka_unit_test(test_direct_calls),
        cmocka_unit_test(test_connection_named),
        cmocka_unit_test(test_connection_tokens_linear),
        cmocka_unit_test(test_skip_empty_lines),
        cmocka_unit_test(test_request_line_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
