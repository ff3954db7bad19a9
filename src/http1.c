/* http1.c - strict, zero-copy HTTP/1.1 parser (RFC 9112, RFC 9110); the
 * contract is include/gatehouse/http1.h.
 *
 * Every scan is a tight loop over a 256-entry character-class table. Parsed
 * spans point into the caller's buffer; nothing is allocated and nothing
 * recurses. parse_request/parse_response first check that the head ends in
 * CR LF CR LF: every scanning loop stops at a CR, so the inner loops need no
 * bounds check (the last CR is a sentinel).
 *
 * Choices the header leaves open (see also the report in the commit):
 *  - A head must start with its request/status line: a leading empty line
 *    is rejected (bad_request_line / bad_status_line) and head_end reports
 *    it as a 2-byte head; a server skips up to GH_HTTP1_MAX_EMPTY_LINES of
 *    them first with gh_http1_skip_empty_lines (RFC 9112 2.2).
 *  - parse_* on a buffer that is not a complete head (no final CRLF CRLF)
 *    fails with bad_request_line / bad_status_line. When the caller skips
 *    head_end, the first broken rule wins, so NUL, bare CR and bare LF may
 *    surface as another rule; head_end always reports them first.
 *  - '#' in a request-target is bad_target_char (policy), and so are '['
 *    and ']' except inside the authority of an absolute-form or
 *    authority-form target (an IP-literal, validated below).
 *    An absolute-form authority and an authority-form target must be valid
 *    (no userinfo, non-empty host, port 0-65535); otherwise bad_request_line.
 *    CONNECT needs authority-form with a port; any other form with CONNECT is
 *    bad_request_line, except '*' (asterisk_not_options).
 *  - Host: empty value is valid (RFC 9112 3.2); a port with an empty host, a
 *    port over 65535 or longer than 5 digits, an obs-folded Host and anything
 *    outside uri-host[:port] are bad_host. HTTP/1.1 without Host is
 *    missing_host whatever the target's form (RFC 9112 3.2); with an
 *    absolute-form target, host_mismatch compares host case-insensitively
 *    and the port with the scheme's default filled in. The first Host is
 *    compared.
 *  - Expect: 100-continue is ignored in HTTP/1.0 (RFC 9110 10.1.1).
 *  - Content-Length: 0 gives GH_BODY_LENGTH with content_length 0. Leading
 *    zeros are fine; values are compared numerically.
 *  - Transfer-Encoding: "chunked" with parameters is a syntax error
 *    (te_not_chunked). In a request, an empty list element or an empty
 *    field anywhere (",chunked", "chunked,", "chunked, ,", a bare
 *    "Transfer-Encoding:" next to another) is te_empty_element: RFC 9110
 *    5.6.1 tells recipients to skip them, but a lenient backend may read
 *    "the last field" or "the first element" instead. Responses skip them.
 *  - Responses: "HTTP/1.x" for any digit x (x >= 1 reads as minor 1, RFC
 *    9110 6.2); status 100-599; the SP after the status code may be missing
 *    ("HTTP/1.1 200\r\n", many servers send it); the reason phrase may hold
 *    HTAB, SP, VCHAR, obs-text. A response has no policy set, so obs-fold
 *    (the value span then contains the CR LF) and control characters in
 *    values are accepted; folded Content-Length / Transfer-Encoding fail.
 *    1xx, 204, 304, HEAD and 2xx-to-CONNECT ignore CL and TE entirely.
 *    A TE that is syntactically broken or has chunked twice fails
 *    te_not_chunked; codings before a final chunked are fine (CHUNKED).
 *    An HTTP/1.0 response with TE is read until close and connection_close
 *    is set (RFC 9112 6.1: its framing is faulty).
 *  - Chunked: whitespace after the size is allowed only before ';' (BWS),
 *    else bad_chunk_size; BWS before CRLF after an extension is
 *    bad_chunk_ext; a CR inside a quoted extension value is bad_chunk_ext.
 *    ext_bytes counts every byte after the size digits up to the CR.
 *    Trailer fields: token ":" value, no obs-fold (bad_trailer), NUL is
 *    nul_byte; trailer_bytes counts the field lines with their CRLF, not
 *    the final empty line. On ERROR *consumed is the offset of the offending
 *    byte; later calls repeat the error (and DONE) with *consumed = 0.
 *  - limits == NULL means the defaults (8192, 16384, 100, 256, 4096);
 *    max_headers is capped at GH_HTTP1_MAX_HEADERS. */
#include "gatehouse/http1.h"

#include <string.h>

typedef unsigned char uchar;

#define C_TCHAR  0x01u /* tchar (RFC 9110 5.6.2) */
#define C_VALUE  0x02u /* field-vchar, SP, HTAB, obs-text */
#define C_TARGET 0x04u /* pchar / "/" / "?" except '%' (RFC 3986) */
#define C_TBAD   0x08u /* printable but not allowed in a target; obs-text */
#define C_HEX    0x10u
#define C_REG    0x20u /* unreserved / sub-delims (reg-name) except '%' */
#define C_DIGIT  0x40u
#define C_QDTEXT 0x80u /* qdtext (RFC 9110 5.6.4) */

static const uint8_t cls[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x00 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x10 */
    0x82, 0xa7, 0x0a, 0x8b, 0xa7, 0x83, 0xa7, 0xa7, 0xa6, 0xa6, 0xa7, 0xa7, 0xa6, 0xa7, 0xa7, 0x86, /* 0x20 */
    0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0x86, 0xa6, 0x8a, 0xa6, 0x8a, 0x86, /* 0x30 */
    0x86, 0xb7, 0xb7, 0xb7, 0xb7, 0xb7, 0xb7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, /* 0x40 */
    0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0x8a, 0x0a, 0x8a, 0x8b, 0xa7, /* 0x50 */
    0x8b, 0xb7, 0xb7, 0xb7, 0xb7, 0xb7, 0xb7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, /* 0x60 */
    0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0xa7, 0x8a, 0x8b, 0x8a, 0xa7, 0x00, /* 0x70 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0x80 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0x90 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xa0 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xb0 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xc0 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xd0 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xe0 */
    0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, 0x8a, /* 0xf0 */
};

#define IS(c, k) ((cls[(uchar)(c)] & (k)) != 0)
#define BIT(rule) ((gh_http1_rule_set)1 << (rule))

#ifdef GH_HTTP1_WORK_COUNTER
/* Bytes head_end looked at, for the unit test's linearity check. */
unsigned long long gh_http1_work;
#define WORK(n) (gh_http1_work += (unsigned long long)(n))
#else
#define WORK(n) ((void)sizeof(n))
#endif

static const struct gh_http1_limits default_limits = {
    .max_request_line = 8192,
    .max_header_bytes = 16384,
    .max_headers = 100,
    .max_chunk_ext = 256,
    .max_trailer_bytes = 4096,
};

static inline bool ows(uchar c)
{
    return c == ' ' || c == '\t';
}

/* Whitespace inside a field value, counting the CR LF of an obs-fold. */
static inline bool lws(uchar c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline unsigned hexval(uchar c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static struct gh_http1_span mkspan(const uchar *p, size_t n)
{
    struct gh_http1_span s = { (const char *)p, n };
    return s;
}

/* ---- rules ----------------------------------------------------------- */

static const char *const rule_names[GH_RULE_COUNT] = {
    [GH_RULE_NONE] = "none",
    [GH_RULE_BARE_LF] = "bare_lf",
    [GH_RULE_BARE_CR] = "bare_cr",
    [GH_RULE_NUL_BYTE] = "nul_byte",
    [GH_RULE_BAD_REQUEST_LINE] = "bad_request_line",
    [GH_RULE_BAD_VERSION] = "bad_version",
    [GH_RULE_BAD_HEADER_NAME] = "bad_header_name",
    [GH_RULE_SPACE_BEFORE_COLON] = "space_before_colon",
    [GH_RULE_NO_COLON] = "no_colon",
    [GH_RULE_CL_TE_CONFLICT] = "cl_te_conflict",
    [GH_RULE_BAD_CONTENT_LENGTH] = "bad_content_length",
    [GH_RULE_CL_MISMATCH] = "cl_mismatch",
    [GH_RULE_TE_NOT_CHUNKED] = "te_not_chunked",
    [GH_RULE_TE_UNSUPPORTED] = "te_unsupported",
    [GH_RULE_TE_HTTP10] = "te_http10",
    [GH_RULE_TE_EMPTY_ELEMENT] = "te_empty_element",
    [GH_RULE_BAD_CHUNK_SIZE] = "bad_chunk_size",
    [GH_RULE_BAD_CHUNK_EXT] = "bad_chunk_ext",
    [GH_RULE_CHUNK_EXT_TOO_LONG] = "chunk_ext_too_long",
    [GH_RULE_BAD_CHUNK_END] = "bad_chunk_end",
    [GH_RULE_BAD_TRAILER] = "bad_trailer",
    [GH_RULE_TRAILER_TOO_LARGE] = "trailer_too_large",
    [GH_RULE_REQUEST_LINE_TOO_LONG] = "request_line_too_long",
    [GH_RULE_HEADER_TOO_LARGE] = "header_too_large",
    [GH_RULE_HEADER_COUNT] = "header_count",
    [GH_RULE_BODY_TOO_LARGE] = "body_too_large",
    [GH_RULE_ASTERISK_NOT_OPTIONS] = "asterisk_not_options",
    [GH_RULE_AUTHORITY_NOT_CONNECT] = "authority_not_connect",
    [GH_RULE_BAD_STATUS_LINE] = "bad_status_line",
    [GH_RULE_BAD_HEADER_CHAR] = "bad_header_char",
    [GH_RULE_OBS_FOLD] = "obs_fold",
    [GH_RULE_BAD_TARGET_CHAR] = "bad_target_char",
    [GH_RULE_MISSING_HOST] = "missing_host",
    [GH_RULE_DUPLICATE_HOST] = "duplicate_host",
    [GH_RULE_BAD_HOST] = "bad_host",
    [GH_RULE_HOST_MISMATCH] = "host_mismatch",
    [GH_RULE_METHOD_NOT_ALLOWED] = "method_not_allowed",
};

const char *gh_http1_rule_name(enum gh_http1_rule rule)
{
    if ((unsigned)rule >= GH_RULE_COUNT)
        return "unknown";
    return rule_names[rule];
}

bool gh_http1_rule_is_framing(enum gh_http1_rule rule)
{
    return rule > GH_RULE_NONE && rule <= GH_RULE_FRAMING_LAST;
}

int gh_http1_rule_status(enum gh_http1_rule rule)
{
    switch (rule) {
    case GH_RULE_REQUEST_LINE_TOO_LONG: return 414;
    case GH_RULE_HEADER_TOO_LARGE:
    case GH_RULE_HEADER_COUNT: return 431;
    case GH_RULE_BODY_TOO_LARGE: return 413;
    case GH_RULE_TE_UNSUPPORTED: return 501;
    case GH_RULE_BAD_VERSION: return 505;
    case GH_RULE_METHOD_NOT_ALLOWED: return 405;
    default: return 400;
    }
}

enum gh_http1_rule gh_http1_rule_from_name(const char *name, size_t len)
{
    if (!name)
        return GH_RULE_NONE;
    for (int r = GH_RULE_NONE + 1; r < GH_RULE_COUNT; r++)
        if (strlen(rule_names[r]) == len && memcmp(rule_names[r], name, len) == 0)
            return (enum gh_http1_rule)r;
    return GH_RULE_NONE;
}


static size_t max_headers_of(const struct gh_http1_limits *lim)
{
    return lim->max_headers < GH_HTTP1_MAX_HEADERS ? lim->max_headers : GH_HTTP1_MAX_HEADERS;
}

/* The request-line, from b to its CRLF (RFC 9112 3): method SP
 * request-target SP HTTP-version CRLF. Needs only the line and its CRLF
 * (every loop stops at the CR), so gh_http1_head_end can judge a request
 * line as soon as it ends: one without a version (HTTP/0.9 "GET /") is
 * refused at once, not when the head times out. The target's form is left
 * to the caller. */
struct request_line {
    struct gh_http1_span method;
    struct gh_http1_span target;
    int minor;
    bool bad_char;                  /* a policy-breaking byte in the target */
    const uchar *last_bracket;      /* '[' or ']' in the target: fine only in an authority */
    const uchar *next;              /* the first byte after the CRLF */
};

static enum gh_http1_rule parse_request_line(const uchar *b, const uchar *end,
                                             struct request_line *rl);

/* ---- end of head ------------------------------------------------------- */

enum gh_http1_status gh_http1_skip_empty_lines(const char *buf, size_t len, unsigned *empty_lines,
                                               size_t *skip, enum gh_http1_rule *rule)
{
    const uchar *b = (const uchar *)buf;
    size_t i = 0;
    enum gh_http1_rule r;

    for (;;) {
        if (i == len || (b[i] == '\r' && i + 1 == len)) {
            *skip = i;          /* a CR alone waits for its LF */
            return GH_HTTP1_INCOMPLETE;
        }
        if (b[i] == '\n') {
            r = GH_RULE_BARE_LF;
            goto fail;
        }
        if (b[i] != '\r') {
            *skip = i;
            return GH_HTTP1_DONE;
        }
        if (b[i + 1] != '\n') {
            r = GH_RULE_BARE_CR;
            goto fail;
        }
        if (*empty_lines == GH_HTTP1_MAX_EMPTY_LINES) {
            r = GH_RULE_BAD_REQUEST_LINE;
            goto fail;
        }
        (*empty_lines)++;
        i += 2;
    }
fail:
    *skip = i;
    if (rule)
        *rule = r;
    return GH_HTTP1_ERROR;
}

/* True when b[0, n) holds a CR, looking back from n: the scan resumes
 * at n, so a CR there is near unless the request line is still open, and
 * the look back costs at most the current line (O(n) over a head). */
static bool cr_before(const uchar *b, size_t n)
{
    size_t k = n;
    while (k > 0 && b[k - 1] != '\r')
        k--;
    WORK(n - k);
    return k > 0;
}

enum gh_http1_status gh_http1_head_end(const char *buf, size_t len, bool is_request,
                                       const struct gh_http1_limits *limits, size_t *scan,
                                       size_t *head_len, enum gh_http1_rule *rule)
{
    const struct gh_http1_limits *lim = limits ? limits : &default_limits;
    const uchar *b = (const uchar *)buf;
    size_t max = lim->max_header_bytes;
    size_t line_max = lim->max_request_line;
    /* A head ending at or after index max is too large: never look further. */
    size_t stop = len < max ? len : max;
    size_t i = *scan;
    /* The request-line limit is checked once, when the scan first passes
     * index line_max: the line is too long iff no CR ends it before. */
    bool check_line = is_request && i <= line_max;
    size_t resume = i;
    bool line_end_seen = false;     /* a CRLF ending a line met in this call */
    enum gh_http1_rule r;

    for (;;) {
        size_t seg = stop;
        size_t start = i; /* NOLINT(clang-analyzer-deadcode.DeadStores): read by WORK() in test builds */
        if (check_line && line_max < stop)
            seg = line_max + 1;
        while (i < seg) {
            uchar c = b[i];
            if (c > '\r') {
                i++;
                continue;
            }
            if (c == '\r') {
                if (i + 1 >= stop)
                    break;              /* need the next byte */
                if (b[i + 1] != '\n') {
                    r = GH_RULE_BARE_CR;
                    goto fail;
                }
                if (i == 0 || b[i - 1] == '\n') {
                    WORK(i + 2 - start);
                    *head_len = i + 2;
                    *scan = i + 2;
                    return GH_HTTP1_DONE;
                }
                if (is_request && !line_end_seen) {
                    /* The first line end this call met: if it is the
                     * request line's, judge the line now. */
                    line_end_seen = true;
                    if (!cr_before(b, resume)) {
                        struct request_line rl;
                        WORK(i + 2);
                        r = parse_request_line(b, b + i + 2, &rl);
                        if (r != GH_RULE_NONE)
                            goto fail;
                    }
                }
                i += 2;
                continue;
            }
            if (c == '\n') {
                r = GH_RULE_BARE_LF;
                goto fail;
            }
            if (c == 0) {
                r = GH_RULE_NUL_BYTE;
                goto fail;
            }
            i++;
        }
        WORK(i - start);
        if (check_line && i > line_max) {
            check_line = false;
            WORK(line_max + 1);
            if (!memchr(b, '\r', line_max + 1)) {
                r = GH_RULE_REQUEST_LINE_TOO_LONG;
                goto fail;
            }
            continue;
        }
        break;
    }
    if (len >= max) {
        r = GH_RULE_HEADER_TOO_LARGE;
        goto fail;
    }
    *scan = i;
    return GH_HTTP1_INCOMPLETE;
fail:
    *scan = i;
    if (rule)
        *rule = r;
    return GH_HTTP1_ERROR;
}

/* ---- shared pieces of head parsing --------------------------------------- */

/* The rule for an unexpected byte at p: NUL and line endings have their own. */
static enum gh_http1_rule byte_rule(const uchar *p, const uchar *end, enum gh_http1_rule otherwise)
{
    if (p >= end)
        return otherwise;
    if (*p == 0)
        return GH_RULE_NUL_BYTE;
    if (*p == '\n')
        return GH_RULE_BARE_LF;
    if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
        return GH_RULE_BARE_CR;
    return otherwise;
}

static bool head_terminated(const uchar *b, size_t n)
{
    return n >= 4 && memcmp(b + n - 4, "\r\n\r\n", 4) == 0;
}

enum hkind { H_OTHER, H_HOST, H_CL, H_TE, H_CONNECTION, H_EXPECT, H_UPGRADE };
#define H_FOLDED 0x80u

static uint8_t header_kind(const uchar *n, size_t len)
{
    switch (len) {
    case 4: return gh_ascii_ieq_lower(n, "host", 4) ? H_HOST : H_OTHER;
    case 6: return gh_ascii_ieq_lower(n, "expect", 6) ? H_EXPECT : H_OTHER;
    case 7: return gh_ascii_ieq_lower(n, "upgrade", 7) ? H_UPGRADE : H_OTHER;
    case 10: return gh_ascii_ieq_lower(n, "connection", 10) ? H_CONNECTION : H_OTHER;
    case 14: return gh_ascii_ieq_lower(n, "content-length", 14) ? H_CL : H_OTHER;
    case 17: return gh_ascii_ieq_lower(n, "transfer-encoding", 17) ? H_TE : H_OTHER;
    default: return H_OTHER;
    }
}

struct fields {
    struct gh_http1_header *h;
    size_t n;
    size_t max;
    gh_http1_rule_set policy;
    uint8_t kind[GH_HTTP1_MAX_HEADERS];
};

/* Scans a field value from *pp to its CR LF (a CR lies ahead: the sentinel). */
static enum gh_http1_rule scan_value(const uchar **pp, const uchar *end, gh_http1_rule_set *policy)
{
    const uchar *p = *pp;
    for (;;) {
        while (IS(*p, C_VALUE))
            p++;
        if (*p == '\r') {
            if (p + 1 >= end || p[1] != '\n')
                return GH_RULE_BARE_CR;
            break;
        }
        if (*p == '\n')
            return GH_RULE_BARE_LF;
        if (*p == 0)
            return GH_RULE_NUL_BYTE;
        *policy |= BIT(GH_RULE_BAD_HEADER_CHAR);
        p++;
    }
    *pp = p;
    return GH_RULE_NONE;
}

static const uchar *trim_end(const uchar *s, const uchar *e)
{
    while (e > s && ows(e[-1]))
        e--;
    return e;
}

/* Why the field line starting at ns broke at p (not a tchar, or ':' at ns). */
static enum gh_http1_rule name_error(const uchar *ns, const uchar *p, const uchar *end)
{
    enum gh_http1_rule r = byte_rule(p, end, GH_RULE_NONE);
    if (r != GH_RULE_NONE)
        return r;
    if (*p == '\r')
        return GH_RULE_NO_COLON;
    if (*p == ':')
        return GH_RULE_BAD_HEADER_NAME;
    if (ows(*p) && p > ns) {
        const uchar *q = p;
        while (ows(*q))
            q++;
        if (*q == ':')
            return GH_RULE_SPACE_BEFORE_COLON;
    }
    for (const uchar *q = p; *q != '\r' && *q != '\n'; q++)
        if (*q == ':')
            return GH_RULE_BAD_HEADER_NAME;
    return GH_RULE_NO_COLON;
}

/* Parses field lines from *pp through the empty line into h[0, max), with
 * f starting empty. */
static enum gh_http1_rule parse_fields(const uchar **pp, const uchar *end,
                                       struct gh_http1_header *h, size_t max, struct fields *f)
{
    const uchar *p = *pp;
    f->h = h;
    f->n = 0;
    f->max = max;
    f->policy = 0;
    enum gh_http1_rule r;
    for (;;) {
        const uchar *ns = p;
        while (IS(*p, C_TCHAR))
            p++;
        if (*p == ':' && p != ns) {
            if (f->n == f->max)
                return GH_RULE_HEADER_COUNT;
            struct gh_http1_header *h = &f->h[f->n];
            h->name = mkspan(ns, (size_t)(p - ns));
            f->kind[f->n] = header_kind(ns, (size_t)(p - ns));
            p++;
            while (ows(*p))
                p++;
            const uchar *vs = p;
            if ((r = scan_value(&p, end, &f->policy)) != GH_RULE_NONE)
                return r;
            h->value = mkspan(vs, (size_t)(trim_end(vs, p) - vs));
            f->n++;
            p += 2;
            continue;
        }
        if (p == ns) {
            if (*p == '\r') {
                if (p[1] != '\n')
                    return GH_RULE_BARE_CR;
                *pp = p + 2;
                return GH_RULE_NONE;
            }
            if (ows(*p)) {
                /* obs-fold: the line continues the previous field's value */
                if (f->n == 0)
                    return GH_RULE_BAD_HEADER_NAME;
                size_t k = f->n - 1;
                unsigned kind = f->kind[k] & ~H_FOLDED;
                if (kind == H_CL)
                    return GH_RULE_BAD_CONTENT_LENGTH;
                if (kind == H_TE)
                    return GH_RULE_TE_NOT_CHUNKED;
                f->kind[k] |= H_FOLDED;
                f->policy |= BIT(GH_RULE_OBS_FOLD);
                while (ows(*p))
                    p++;
                const uchar *vs = p;
                if ((r = scan_value(&p, end, &f->policy)) != GH_RULE_NONE)
                    return r;
                const uchar *ve = trim_end(vs, p);
                if (ve > vs) {
                    struct gh_http1_span *v = &f->h[k].value;
                    if (v->len == 0)
                        v->p = (const char *)vs;
                    v->len = (size_t)((const char *)ve - v->p);
                }
                p += 2;
                continue;
            }
        }
        return name_error(ns, p, end);
    }
}

/* ---- field values that matter ------------------------------------------ */

struct te_state {
    unsigned n_codings;
    unsigned n_chunked;
    bool last_chunked;          /* the last coding is a bare "chunked" */
    bool other;                 /* a coding other than chunked */
    bool empty_element;         /* an empty list element or an empty field */
    bool bad;                   /* syntax error */
};

struct special {
    size_t n_host;
    int host_index;
    bool host_bad;
    size_t n_cl_fields;
    size_t n_cl;                /* values, counting list elements */
    uint64_t cl;
    bool cl_bad;
    bool cl_mismatch;
    size_t n_te_fields;
    struct te_state te;
    bool close;
    bool keep_alive;
    bool expect_continue;
    bool upgrade;
    bool has_connection;        /* a Connection field: its tokens may name fields */
};

/* What the Content-Length fields, taken together, break, if anything. */
static enum gh_http1_rule content_length_rule(const struct special *s)
{
    if (s->cl_bad)
        return GH_RULE_BAD_CONTENT_LENGTH;
    if (s->cl_mismatch)
        return GH_RULE_CL_MISMATCH;
    return GH_RULE_NONE;
}

static void cl_field(struct special *s, const uchar *p, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i < n && lws(p[i]))
            i++;
        size_t start = i;
        uint64_t v = 0;
        while (i < n && IS(p[i], C_DIGIT)) {
            unsigned d = (unsigned)(p[i] - '0');
            if (v > (UINT64_MAX - d) / 10) {
                s->cl_bad = true;
                return;
            }
            v = v * 10 + d;
            i++;
        }
        if (i == start) {
            s->cl_bad = true;
            return;
        }
        while (i < n && lws(p[i]))
            i++;
        if (s->n_cl++ == 0)
            s->cl = v;
        else if (v != s->cl)
            s->cl_mismatch = true;
        if (i == n)
            return;
        if (p[i] != ',') {
            s->cl_bad = true;
            return;
        }
        i++;
    }
}

/* quoted-string at p[i] == '"'; returns the index after it, or 0. */
static size_t skip_quoted(const uchar *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '"')
            return i + 1;
        if (p[i] == '\\') {
            if (++i >= n || !IS(p[i], C_VALUE))
                return 0;
        } else if (!IS(p[i], C_QDTEXT)) {
            return 0;
        }
    }
    return 0;
}

/* One Transfer-Encoding field: #transfer-coding, added to the codings so far. */
static void te_field(struct te_state *t, const uchar *p, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i < n && lws(p[i]))
            i++;
        if (i == n || p[i] == ',') {
            t->empty_element = true;    /* requests refuse it; responses skip it */
            if (i == n)
                return;
            i++;
            continue;
        }
        size_t s = i;
        while (i < n && IS(p[i], C_TCHAR))
            i++;
        if (i == s)
            goto bad;
        bool chunked = i - s == 7 && gh_ascii_ieq_lower(p + s, "chunked", 7);
        bool params = false;
        for (;;) {
            size_t j = i;
            while (j < n && lws(p[j]))
                j++;
            if (j == n || p[j] != ';') {
                i = j;
                break;
            }
            params = true;
            j++;
            while (j < n && lws(p[j]))
                j++;
            size_t ps = j;
            while (j < n && IS(p[j], C_TCHAR))
                j++;
            if (j == ps)
                goto bad;
            while (j < n && lws(p[j]))
                j++;
            if (j == n || p[j] != '=')
                goto bad;
            j++;
            while (j < n && lws(p[j]))
                j++;
            if (j < n && p[j] == '"') {
                if ((j = skip_quoted(p, n, j)) == 0)
                    goto bad;
            } else {
                size_t vs = j;
                while (j < n && IS(p[j], C_TCHAR))
                    j++;
                if (j == vs)
                    goto bad;
            }
            i = j;
        }
        if (i < n && p[i] != ',')
            goto bad;
        if (chunked && params)
            goto bad;                   /* chunked has no parameters */
        t->n_codings++;
        if (chunked)
            t->n_chunked++;
        else
            t->other = true;
        t->last_chunked = chunked;
        if (i == n)
            return;
        i++;                            /* past the ',': an element must follow */
    }
bad:
    t->bad = true;
}

/* Whether the comma list p[0, n) has the element word (lowercase). */
static bool list_has(const uchar *p, size_t n, const char *word, size_t wn)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (lws(p[i]) || p[i] == ','))
            i++;
        size_t s = i;
        while (i < n && p[i] != ',')
            i++;
        size_t e = i;
        while (e > s && lws(p[e - 1]))
            e--;
        if (e - s == wn && gh_ascii_ieq_lower(p + s, word, wn))
            return true;
    }
    return false;
}

struct hostport {
    const uchar *host;
    size_t host_len;
    long port;                  /* -1: no port; -2: ":" with no digits */
};

static bool valid_ipv4(const uchar *p, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.')
                return false;
            i++;
        }
        size_t s = i;
        unsigned v = 0;
        while (i < n && i - s < 3 && IS(p[i], C_DIGIT))
            v = v * 10 + (unsigned)(p[i++] - '0');
        if (i == s || v > 255 || (i - s > 1 && p[s] == '0'))
            return false;
    }
    return i == n;
}

static bool valid_ipv6(const uchar *p, size_t n)
{
    size_t i = 0;
    int groups = 0;
    bool dcolon = false;
    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        dcolon = true;
        i = 2;
    } else if (n >= 1 && p[0] == ':') {
        return false;
    }
    while (i < n) {
        size_t s = i;
        while (i < n && i - s < 5 && IS(p[i], C_HEX))
            i++;
        if (i < n && p[i] == '.') {     /* ls32 as an IPv4 address */
            if (groups > 6 || (!dcolon && groups != 6) || !valid_ipv4(p + s, n - s))
                return false;
            groups += 2;
            break;
        }
        if (i == s || i - s > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (p[i] != ':')
            return false;
        i++;
        if (i < n && p[i] == ':') {
            if (dcolon)
                return false;
            dcolon = true;
            i++;
        } else if (i == n) {
            return false;
        }
    }
    return dcolon ? groups <= 7 : groups == 8;
}

static bool valid_ip_literal(const uchar *p, size_t n)
{
    if (n > 0 && (p[0] == 'v' || p[0] == 'V')) {      /* IPvFuture */
        size_t i = 1;
        while (i < n && IS(p[i], C_HEX))
            i++;
        if (i == 1 || i + 1 >= n || p[i] != '.')
            return false;
        for (i++; i < n; i++)
            if (!IS(p[i], C_REG) && p[i] != ':')
                return false;
        return true;
    }
    return valid_ipv6(p, n);
}

/* uri-host [ ":" port ] (RFC 3986), port at most 65535. */
static bool parse_hostport(const uchar *p, size_t n, struct hostport *hp)
{
    size_t i = 0;
    if (n > 0 && p[0] == '[') {
        const uchar *close = memchr(p, ']', n);
        if (!close || !valid_ip_literal(p + 1, (size_t)(close - p) - 1))
            return false;
        i = (size_t)(close - p) + 1;
    } else {
        while (i < n) {
            if (IS(p[i], C_REG))
                i++;
            else if (p[i] == '%' && i + 2 < n && IS(p[i + 1], C_HEX) && IS(p[i + 2], C_HEX))
                i += 3;
            else
                break;
        }
    }
    hp->host = p;
    hp->host_len = i;
    hp->port = -1;
    if (i == n)
        return true;
    if (p[i] != ':')
        return false;
    i++;
    if (i == n) {
        hp->port = -2;
        return true;
    }
    if (n - i > 5)
        return false;
    long v = 0;
    for (; i < n; i++) {
        if (!IS(p[i], C_DIGIT))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
        return false;
    hp->port = v;
    return true;
}

static bool valid_host_value(const uchar *p, size_t n, struct hostport *hp)
{
    return parse_hostport(p, n, hp) && (hp->host_len > 0 || hp->port == -1);
}

/* Fills s (from empty) with what the head's special fields say. */
static void scan_special(const struct fields *f, struct special *s, bool is_request)
{
    struct hostport hp;
    memset(s, 0, sizeof *s);
    s->host_index = -1;
    for (size_t i = 0; i < f->n; i++) {
        unsigned k = f->kind[i];
        if (k == H_OTHER)
            continue;
        const uchar *v = (const uchar *)f->h[i].value.p;
        size_t vn = f->h[i].value.len;
        switch (k & ~H_FOLDED) {
        case H_HOST:
            if (!is_request)
                break;
            if (s->n_host++ == 0)
                s->host_index = (int)i;
            if ((k & H_FOLDED) || !valid_host_value(v, vn, &hp))
                s->host_bad = true;
            break;
        case H_CL:
            s->n_cl_fields++;
            cl_field(s, v, vn);
            break;
        case H_TE:
            s->n_te_fields++;
            te_field(&s->te, v, vn);
            break;
        case H_CONNECTION:
            s->has_connection = true;
            if (list_has(v, vn, "close", 5))
                s->close = true;
            if (list_has(v, vn, "keep-alive", 10))
                s->keep_alive = true;
            break;
        case H_EXPECT:
            if (list_has(v, vn, "100-continue", 12))
                s->expect_continue = true;
            break;
        case H_UPGRADE:
            s->upgrade = true;
            break;
        }
    }
}

/* ---- fields named by Connection ------------------------------------------- */

/* RFC 9110 7.6.1: a Connection field lists further hop-by-hop fields. A
 * head may carry thousands of tokens and hundreds of fields: testing every
 * field against every token costs fields x tokens. Instead the field names
 * are sorted once (merge sort, n log n) and each token is looked up by
 * binary search, so the work is the head's length times log(fields). The
 * tokens are split as a lenient backend would: at ',', SP and HTAB. */

/* <0, 0, >0 as name a sorts before, with or after b (ASCII case ignored). */
static int name_cmp(const uchar *a, size_t an, const uchar *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    size_t i = 0;
    while (i < n && gh_ascii_lower(a[i]) == gh_ascii_lower(b[i]))
        i++;
    WORK(i + 1);
    if (i < n)
        return (int)gh_ascii_lower(a[i]) - (int)gh_ascii_lower(b[i]);
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int header_cmp(const struct gh_http1_header *h, uint16_t x, uint16_t y)
{
    return name_cmp((const uchar *)h[x].name.p, h[x].name.len, (const uchar *)h[y].name.p,
                    h[y].name.len);
}

/* Sorts order[0, n) by field name, stable; tmp holds n entries. */
static void sort_by_name(const struct gh_http1_header *h, uint16_t *order, uint16_t *tmp, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = header_cmp(h, order[j], order[i]) < 0 ? order[j++] : order[i++];
            while (i < mid)
                tmp[k++] = order[i++];
            while (j < hi)
                tmp[k++] = order[j++];
        }
        memcpy(order, tmp, n * sizeof *order);
    }
}

static void mark_named(uint64_t *set, size_t i)
{
    set[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool is_named(const uint64_t *set, size_t i)
{
    return (set[i / 64] >> (i % 64)) & 1;
}

/* Marks in req->connection_named every field whose name a token of a
 * Connection field lists; the Connection fields themselves are left to the
 * caller (they are hop-by-hop anyway). */
static void mark_connection_named(const struct fields *f, struct gh_http1_request *req)
{
    uint16_t order[GH_HTTP1_MAX_HEADERS]; /* field indices sorted by name */
    uint16_t tmp[GH_HTTP1_MAX_HEADERS];
    const struct gh_http1_header *h = f->h;
    size_t n = f->n;

    memset(req->connection_named, 0, sizeof req->connection_named);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint16_t)i;
    sort_by_name(h, order, tmp, n);
    for (size_t c = 0; c < n; c++) {
        if ((f->kind[c] & ~H_FOLDED) != H_CONNECTION)
            continue;
        const uchar *p = (const uchar *)h[c].value.p;
        const uchar *end = p + h[c].value.len;
        while (p < end) {
            while (p < end && (*p == ',' || ows(*p)))
                p++;
            const uchar *t = p;
            while (p < end && *p != ',' && !ows(*p))
                p++;
            size_t tn = (size_t)(p - t);
            WORK(tn);
            if (tn == 0)
                continue;
            size_t lo = 0, hi = n; /* first field whose name is not below the token */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct gh_http1_header *m = &h[order[mid]];
                if (name_cmp((const uchar *)m->name.p, m->name.len, t, tn) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            /* equal names are adjacent; a run already marked is not walked again */
            for (size_t k = lo; k < n && !is_named(req->connection_named, order[k]); k++) {
                const struct gh_http1_header *m = &h[order[k]];
                if (name_cmp((const uchar *)m->name.p, m->name.len, t, tn) != 0)
                    break;
                mark_named(req->connection_named, order[k]);
            }
        }
    }
}

bool gh_http1_connection_named(const struct gh_http1_request *req, size_t index)
{
    return index < GH_HTTP1_MAX_HEADERS && is_named(req->connection_named, index);
}

/* ---- requests ------------------------------------------------------------- */

static bool method_is(struct gh_http1_span m, const char *s, size_t n)
{
    return m.len == n && memcmp(m.p, s, n) == 0;
}

/* Splits an http/https absolute-form target; the authority must be valid.
 * *auth_end is the index just past the authority. */
static bool parse_absolute(const uchar *t, size_t n, struct hostport *hp, long *default_port,
                           bool *is_absolute, size_t *auth_end)
{
    size_t s;
    *is_absolute = false;
    if (n >= 7 && gh_ascii_ieq_lower(t, "http://", 7)) {
        s = 7;
        *default_port = 80;
    } else if (n >= 8 && gh_ascii_ieq_lower(t, "https://", 8)) {
        s = 8;
        *default_port = 443;
    } else {
        return false;
    }
    *is_absolute = true;
    size_t e = s;
    while (e < n && t[e] != '/' && t[e] != '?')
        e++;
    *auth_end = e;
    return parse_hostport(t + s, e - s, hp) && hp->host_len > 0;
}

static bool same_authority(const struct hostport *a, long a_default, const struct hostport *b)
{
    if (a->host_len != b->host_len || !gh_ascii_ieq(a->host, b->host, a->host_len))
        return false;
    long pa = a->port < 0 ? a_default : a->port;
    long pb = b->port < 0 ? a_default : b->port;
    return pa == pb;
}

static enum gh_http1_rule parse_request_line(const uchar *b, const uchar *end,
                                             struct request_line *rl)
{
    const uchar *p = b;

    rl->method = rl->target = mkspan(b, 0);
    /* method SP */
    while (IS(*p, C_TCHAR))
        p++;
    if (p == b || *p != ' ')
        return byte_rule(p, end, GH_RULE_BAD_REQUEST_LINE);
    rl->method = mkspan(b, (size_t)(p - b));
    p++;

    /* request-target SP */
    const uchar *t = p;
    bool bad_char = false;
    const uchar *last_bracket = NULL;   /* '[' ']': fine only in an authority */
    for (;;) {
        while (IS(*p, C_TARGET))
            p++;
        if (*p == ' ')
            break;
        if (*p == '%') {
            if (IS(p[1], C_HEX) && IS(p[2], C_HEX)) {
                p += 3;
            } else {
                bad_char = true;
                p++;
            }
            continue;
        }
        if (*p == '[' || *p == ']') {
            last_bracket = p++;
            continue;
        }
        if (IS(*p, C_TBAD)) {
            bad_char = true;
            p++;
            continue;
        }
        return byte_rule(p, end, GH_RULE_BAD_REQUEST_LINE);
    }
    size_t tlen = (size_t)(p - t);
    if (tlen == 0)
        return GH_RULE_BAD_REQUEST_LINE;
    rl->target = mkspan(t, tlen);
    p++;

    /* HTTP-version CRLF */
    static const char http[] = "HTTP/";
    for (int k = 0; k < 5; k++) {
        if (p[k] != (uchar)http[k])
            return byte_rule(p + k, end, GH_RULE_BAD_REQUEST_LINE);
    }
    if (!IS(p[5], C_DIGIT) || p[6] != '.' || !IS(p[7], C_DIGIT) || p[8] != '\r') {
        const uchar *q = p + 5;
        if (IS(*q, C_DIGIT) && *++q == '.' && IS(*++q, C_DIGIT))
            q++;
        return byte_rule(q, end, GH_RULE_BAD_REQUEST_LINE);
    }
    if (p[9] != '\n')
        return GH_RULE_BARE_CR;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return GH_RULE_BAD_VERSION;
    rl->minor = p[7] - '0';
    rl->bad_char = bad_char;
    rl->last_bracket = last_bracket;
    rl->next = p + 10;
    return GH_RULE_NONE;
}

enum gh_http1_status gh_http1_parse_request(const char *buf, size_t head_len,
                                            const struct gh_http1_limits *limits,
                                            struct gh_http1_request *req,
                                            enum gh_http1_rule *rule)
{
    const struct gh_http1_limits *lim = limits ? limits : &default_limits;
    const uchar *b = (const uchar *)buf;
    const uchar *end = b + head_len;
    const uchar *p = b;
    enum gh_http1_rule r;
    struct fields f;

    req->method = req->target = mkspan(b, 0);
    req->target_form = GH_TARGET_ORIGIN;
    req->minor_version = 1;
    req->n_headers = 0;
    req->head_len = 0;
    req->host_index = -1;
    req->body = GH_BODY_NONE;
    req->content_length = 0;
    req->duplicate_content_length = false;
    req->expect_continue = false;
    req->connection_close = false;
    req->has_upgrade = false;
    req->policy_hits = 0;

    if (head_len > lim->max_request_line) {
        /* as head_end: too long unless the first line ends by index max */
        size_t k = 0, n = lim->max_request_line + 1;
        while (k < n && b[k] != '\r' && b[k] != '\n' && b[k] != 0)
            k++;
        if (k == n) {
            r = GH_RULE_REQUEST_LINE_TOO_LONG;
            goto fail;
        }
    }
    if (head_len > lim->max_header_bytes) {
        r = GH_RULE_HEADER_TOO_LARGE;
        goto fail;
    }
    if (!head_terminated(b, head_len)) {
        r = GH_RULE_BAD_REQUEST_LINE;
        goto fail;
    }

    struct request_line rl;
    r = parse_request_line(b, end, &rl);
    req->method = rl.method;
    if (r != GH_RULE_NONE)
        goto fail;
    req->target = rl.target;
    int minor = rl.minor;
    req->minor_version = minor;
    p = rl.next;
    const uchar *t = (const uchar *)rl.target.p;
    size_t tlen = rl.target.len;
    bool bad_char = rl.bad_char;
    const uchar *last_bracket = rl.last_bracket;

    /* request-target form */
    struct hostport auth = { NULL, 0, -1 };
    long auth_default_port = 80;
    bool is_connect = method_is(req->method, "CONNECT", 7);
    bool is_absolute = false;
    size_t auth_end = 0;
    if (t[0] == '/' && !is_connect) {
        req->target_form = GH_TARGET_ORIGIN;
    } else if (tlen == 1 && t[0] == '*') {
        if (!method_is(req->method, "OPTIONS", 7)) {
            r = GH_RULE_ASTERISK_NOT_OPTIONS;
            goto fail;
        }
        req->target_form = GH_TARGET_ASTERISK;
    } else if (is_connect) {
        if (!parse_hostport(t, tlen, &auth) || auth.host_len == 0 || auth.port < 0) {
            r = GH_RULE_BAD_REQUEST_LINE;
            goto fail;
        }
        req->target_form = GH_TARGET_AUTHORITY;
    } else if (parse_absolute(t, tlen, &auth, &auth_default_port, &is_absolute, &auth_end)) {
        req->target_form = GH_TARGET_ABSOLUTE;
    } else {
        struct hostport hp;
        if (!is_absolute && parse_hostport(t, tlen, &hp) && hp.host_len > 0 && hp.port >= 0)
            r = GH_RULE_AUTHORITY_NOT_CONNECT;
        else
            r = GH_RULE_BAD_REQUEST_LINE;
        goto fail;
    }
    /* brackets are valid only in the (validated) authority of an absolute-
     * or authority-form target: an IP-literal */
    if (last_bracket && req->target_form != GH_TARGET_AUTHORITY &&
        !(req->target_form == GH_TARGET_ABSOLUTE && last_bracket < t + auth_end))
        bad_char = true;
    if (bad_char)
        req->policy_hits |= BIT(GH_RULE_BAD_TARGET_CHAR);

    /* field lines */
    r = parse_fields(&p, end, req->headers, max_headers_of(lim), &f);
    req->n_headers = f.n;
    req->policy_hits |= f.policy;
    if (r != GH_RULE_NONE)
        goto fail;
    req->head_len = (size_t)(p - b);

    struct special s;
    scan_special(&f, &s, true);
    if (s.has_connection)
        mark_connection_named(&f, req);
    else
        memset(req->connection_named, 0, sizeof req->connection_named);

    /* Host */
    req->host_index = s.host_index;
    if (s.n_host > 1)
        req->policy_hits |= BIT(GH_RULE_DUPLICATE_HOST);
    if (s.host_bad)
        req->policy_hits |= BIT(GH_RULE_BAD_HOST);
    if (s.n_host == 0 && minor == 1)
        req->policy_hits |= BIT(GH_RULE_MISSING_HOST);
    if (req->target_form == GH_TARGET_ABSOLUTE && s.n_host > 0) {
        const struct gh_http1_span *hv = &req->headers[s.host_index].value;
        struct hostport hp;
        if (!(f.kind[s.host_index] & H_FOLDED) &&
            valid_host_value((const uchar *)hv->p, hv->len, &hp) &&
            !same_authority(&auth, auth_default_port, &hp))
            req->policy_hits |= BIT(GH_RULE_HOST_MISMATCH);
    }

    /* message body framing */
    if (s.n_te_fields > 0) {
        if (minor == 0) {
            r = GH_RULE_TE_HTTP10;
            goto fail;
        }
        if (s.n_cl_fields > 0) {
            r = GH_RULE_CL_TE_CONFLICT;
            goto fail;
        }
        if (s.te.empty_element && !s.te.bad) {
            r = GH_RULE_TE_EMPTY_ELEMENT;
            goto fail;
        }
        if (s.te.bad || !s.te.last_chunked || s.te.n_chunked > 1) {
            r = GH_RULE_TE_NOT_CHUNKED;
            goto fail;
        }
        if (s.te.other) {
            r = GH_RULE_TE_UNSUPPORTED;
            goto fail;
        }
        req->body = GH_BODY_CHUNKED;
    } else if (s.n_cl_fields > 0) {
        if ((r = content_length_rule(&s)) != GH_RULE_NONE)
            goto fail;
        req->body = GH_BODY_LENGTH;
        req->content_length = s.cl;
        req->duplicate_content_length = s.n_cl > 1;
    }

    req->expect_continue = s.expect_continue && minor == 1;
    req->connection_close = s.close || (minor == 0 && !s.keep_alive);
    req->has_upgrade = s.upgrade;
    return GH_HTTP1_DONE;
fail:
    if (rule)
        *rule = r;
    return GH_HTTP1_ERROR;
}

/* ---- responses ------------------------------------------------------------ */

enum gh_http1_status gh_http1_parse_response(const char *buf, size_t head_len,
                                             const struct gh_http1_limits *limits,
                                             struct gh_http1_span request_method,
                                             struct gh_http1_response *resp,
                                             enum gh_http1_rule *rule)
{
    const struct gh_http1_limits *lim = limits ? limits : &default_limits;
    const uchar *b = (const uchar *)buf;
    const uchar *end = b + head_len;
    const uchar *p = b;
    enum gh_http1_rule r;
    struct fields f;

    resp->status = 0;
    resp->minor_version = 1;
    resp->reason = mkspan(b, 0);
    resp->n_headers = 0;
    resp->head_len = 0;
    resp->body = GH_BODY_NONE;
    resp->content_length = 0;
    resp->connection_close = false;

    if (head_len > lim->max_header_bytes) {
        r = GH_RULE_HEADER_TOO_LARGE;
        goto fail;
    }
    if (!head_terminated(b, head_len)) {
        r = GH_RULE_BAD_STATUS_LINE;
        goto fail;
    }

    /* "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ] CRLF */
    static const char http[] = "HTTP/1.";
    for (int k = 0; k < 7; k++) {
        if (p[k] != (uchar)http[k]) {
            r = byte_rule(p + k, end, GH_RULE_BAD_STATUS_LINE);
            goto fail;
        }
    }
    p += 7;
    const uchar *q = p;
    if (IS(*q, C_DIGIT) && *++q == ' ' && IS(*++q, C_DIGIT) && IS(*++q, C_DIGIT) &&
        IS(*++q, C_DIGIT))
        q++;
    if (q != p + 5) {
        r = byte_rule(q, end, GH_RULE_BAD_STATUS_LINE);
        goto fail;
    }
    int minor = p[0] == '0' ? 0 : 1;
    int status = (p[2] - '0') * 100 + (p[3] - '0') * 10 + (p[4] - '0');
    if (status < 100 || status > 599) {
        r = GH_RULE_BAD_STATUS_LINE;
        goto fail;
    }
    p += 5;
    const uchar *rs = p;
    if (*p == ' ') {
        rs = ++p;
        while (IS(*p, C_VALUE))
            p++;
    }
    if (*p != '\r' || p[1] != '\n') {
        r = byte_rule(p, end, GH_RULE_BAD_STATUS_LINE);
        goto fail;
    }
    resp->status = status;
    resp->minor_version = minor;
    resp->reason = mkspan(rs, (size_t)(p - rs));
    p += 2;

    r = parse_fields(&p, end, resp->headers, max_headers_of(lim), &f);
    resp->n_headers = f.n;
    if (r != GH_RULE_NONE)
        goto fail;
    resp->head_len = (size_t)(p - b);

    struct special s;
    scan_special(&f, &s, false);
    resp->connection_close = s.close || (minor == 0 && !s.keep_alive);

    if (method_is(request_method, "HEAD", 4) || status < 200 || status == 204 ||
        status == 304) {
        resp->body = GH_BODY_NONE;
    } else if (method_is(request_method, "CONNECT", 7) && status < 300) { // NOLINT(bugprone-branch-clone): a tunnel, unlike a close-delimited body
        resp->body = GH_BODY_UNTIL_CLOSE;
    } else if (s.n_te_fields > 0) {
        if (s.n_cl_fields > 0) {
            r = GH_RULE_CL_TE_CONFLICT;
            goto fail;
        }
        if (minor == 0) {
            resp->body = GH_BODY_UNTIL_CLOSE;
            resp->connection_close = true;
        } else if (s.te.bad || s.te.n_chunked > 1) {
            r = GH_RULE_TE_NOT_CHUNKED;
            goto fail;
        } else {
            resp->body = s.te.last_chunked ? GH_BODY_CHUNKED : GH_BODY_UNTIL_CLOSE;
        }
    } else if (s.n_cl_fields > 0) {
        if ((r = content_length_rule(&s)) != GH_RULE_NONE)
            goto fail;
        resp->body = GH_BODY_LENGTH;
        resp->content_length = s.cl;
    } else {
        resp->body = GH_BODY_UNTIL_CLOSE;
    }
    return GH_HTTP1_DONE;
fail:
    if (rule)
        *rule = r;
    return GH_HTTP1_ERROR;
}

/* ---- chunked bodies ------------------------------------------------------- */

enum {
    CK_SIZE_START = 0,  /* first hex digit of a chunk-size */
    CK_SIZE,            /* more hex digits */
    CK_SIZE_WS,         /* BWS after the size: only ';' may follow */
    CK_EXT_NAME_START,  /* after ';' */
    CK_EXT_NAME,
    CK_EXT_NAME_WS,     /* BWS after a name: '=' or ';' */
    CK_EXT_VALUE_START, /* after '=' */
    CK_EXT_TOKEN,
    CK_EXT_QUOTED,
    CK_EXT_QPAIR,
    CK_EXT_AFTER_QUOTE,
    CK_EXT_WS,          /* BWS after a value: ';' */
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER_START,
    CK_TRAILER_NAME,
    CK_TRAILER_VALUE,
    CK_TRAILER_LF,
    CK_FINAL_LF,
    CK_DONE,
    /* an error is stored as -rule */
};

void gh_http1_chunked_init(struct gh_http1_chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = CK_SIZE_START;
}

/* Next state for byte ch in an extension state, or -1 on a syntax error. */
static int ext_step(int st, uchar ch)
{
    bool ws = ows(ch);
    switch (st) {
    case CK_SIZE_WS:
        return ws ? st : ch == ';' ? CK_EXT_NAME_START : -1;
    case CK_EXT_NAME_START:
        return ws ? st : IS(ch, C_TCHAR) ? CK_EXT_NAME : -1;
    case CK_EXT_NAME:
        if (IS(ch, C_TCHAR))
            return st;
        return ws ? CK_EXT_NAME_WS : ch == '=' ? CK_EXT_VALUE_START
             : ch == ';' ? CK_EXT_NAME_START : ch == '\r' ? CK_SIZE_LF : -1;
    case CK_EXT_NAME_WS:
        return ws ? st : ch == '=' ? CK_EXT_VALUE_START : ch == ';' ? CK_EXT_NAME_START : -1;
    case CK_EXT_VALUE_START:
        return ws ? st : ch == '"' ? CK_EXT_QUOTED : IS(ch, C_TCHAR) ? CK_EXT_TOKEN : -1;
    case CK_EXT_TOKEN:
        if (IS(ch, C_TCHAR))
            return st;
        return ws ? CK_EXT_WS : ch == ';' ? CK_EXT_NAME_START : ch == '\r' ? CK_SIZE_LF : -1;
    case CK_EXT_QUOTED:
        return ch == '"' ? CK_EXT_AFTER_QUOTE : ch == '\\' ? CK_EXT_QPAIR
             : IS(ch, C_QDTEXT) ? st : -1;
    case CK_EXT_QPAIR:
        return IS(ch, C_VALUE) ? CK_EXT_QUOTED : -1;
    case CK_EXT_AFTER_QUOTE:
        return ws ? CK_EXT_WS : ch == ';' ? CK_EXT_NAME_START : ch == '\r' ? CK_SIZE_LF : -1;
    case CK_EXT_WS:
        return ws ? st : ch == ';' ? CK_EXT_NAME_START : -1;
    default:
        return -1;
    }
}

/* The states of a size line or a trailer line: gh_http1_chunked_next hands
 * such a line over whole, so it keeps it in the caller's buffer until its
 * CRLF arrives. */
static bool line_state(int st)
{
    return (st >= CK_SIZE_START && st <= CK_SIZE_LF) ||
           (st >= CK_TRAILER_START && st <= CK_FINAL_LF);
}

/* Where a run stops: check mode (gh_http1_chunked_feed) runs to the end of
 * its input; event mode (gh_http1_chunked_next) stops after each event. */
enum chunk_stop { STOP_AT_END, STOP_AT_EVENT };

/* The one state machine behind both entry points. In event mode a line
 * always starts at data[0] (every line ends with an event, and the caller
 * resumes right after it), which makes the spans of a line simple offsets. */
static enum gh_http1_chunk_event chunk_run(struct gh_http1_chunked *c, const uchar *d, size_t len,
                                           const struct gh_http1_limits *lim, enum chunk_stop stop,
                                           size_t *consumed, struct gh_http1_chunk_ev *ev)
{
    size_t i = 0;
    int st = c->state;
    enum gh_http1_rule r;
    enum gh_http1_chunk_event event = GH_CHUNK_NEED_MORE;

    if (st < 0) {
        *consumed = 0;
        ev->rule = (enum gh_http1_rule)-st;
        return GH_CHUNK_ERROR;
    }
    if (stop == STOP_AT_EVENT && line_state(st)) {
        if (len < c->line_checked) {    /* the caller did not give the line again */
            *consumed = 0;
            return GH_CHUNK_NEED_MORE;
        }
        i = c->line_checked;
    }
    while (i < len) {
        uchar ch;
        switch (st) {
        case CK_DATA: {
            size_t avail = len - i;
            size_t n = c->remaining < avail ? (size_t)c->remaining : avail;
            if (stop == STOP_AT_EVENT) {
                ev->data = mkspan(d + i, n);
                event = GH_CHUNK_DATA;
            }
            i += n;
            c->remaining -= n;
            c->body_bytes += n;
            if (c->remaining == 0)
                st = CK_DATA_CR;
            if (event != GH_CHUNK_NEED_MORE)
                goto stop_here;
            continue;
        }
        case CK_SIZE_START:
            ch = d[i];
            if (!IS(ch, C_HEX)) {
                r = ch == '\n' ? GH_RULE_BARE_LF : GH_RULE_BAD_CHUNK_SIZE;
                goto fail;
            }
            c->remaining = hexval(ch);
            c->line_bytes = 1;
            c->ext_bytes = 0;
            st = CK_SIZE;
            break;
        case CK_SIZE:
            ch = d[i];
            if (IS(ch, C_HEX)) {
                if (c->line_bytes >= 16) {
                    r = GH_RULE_BAD_CHUNK_SIZE;
                    goto fail;
                }
                c->remaining = c->remaining << 4 | hexval(ch);
                c->line_bytes++;
            } else if (ch == '\r') {
                st = CK_SIZE_LF;
            } else if (ch == ';' || ows(ch)) {
                if (++c->ext_bytes > lim->max_chunk_ext) {
                    r = GH_RULE_CHUNK_EXT_TOO_LONG;
                    goto fail;
                }
                st = ch == ';' ? CK_EXT_NAME_START : CK_SIZE_WS;
            } else {
                r = ch == '\n' ? GH_RULE_BARE_LF : GH_RULE_BAD_CHUNK_SIZE;
                goto fail;
            }
            break;
        case CK_SIZE_WS:
        case CK_EXT_NAME_START:
        case CK_EXT_NAME:
        case CK_EXT_NAME_WS:
        case CK_EXT_VALUE_START:
        case CK_EXT_TOKEN:
        case CK_EXT_QUOTED:
        case CK_EXT_QPAIR:
        case CK_EXT_AFTER_QUOTE:
        case CK_EXT_WS: {
            ch = d[i];
            if (ch == '\n') {
                r = GH_RULE_BARE_LF;
                goto fail;
            }
            if (ch != '\r' && ++c->ext_bytes > lim->max_chunk_ext) {
                r = GH_RULE_CHUNK_EXT_TOO_LONG;
                goto fail;
            }
            int next = ext_step(st, ch);
            if (next < 0) {
                r = st == CK_SIZE_WS ? GH_RULE_BAD_CHUNK_SIZE : GH_RULE_BAD_CHUNK_EXT;
                goto fail;
            }
            st = next;
            break;
        }
        case CK_SIZE_LF:
            if (d[i] != '\n') {
                r = GH_RULE_BARE_CR;
                goto fail;
            }
            if (stop == STOP_AT_EVENT) {
                /* line: hex digits, then what followed them, then CR LF */
                ev->ext = mkspan(d + c->line_bytes, i - 1 - c->line_bytes);
                ev->size = c->remaining;
                event = c->remaining == 0 ? GH_CHUNK_LAST : GH_CHUNK_SIZE;
            }
            if (c->remaining == 0) {
                c->trailer_bytes = 0;
                st = CK_TRAILER_START;
            } else {
                st = CK_DATA;
            }
            break;
        case CK_DATA_CR:
            if (d[i] != '\r') {
                r = GH_RULE_BAD_CHUNK_END;
                goto fail;
            }
            st = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (d[i] != '\n') {
                r = GH_RULE_BAD_CHUNK_END;
                goto fail;
            }
            event = stop == STOP_AT_EVENT ? GH_CHUNK_DATA_END : GH_CHUNK_NEED_MORE;
            st = CK_SIZE_START;
            break;
        case CK_TRAILER_START:
        case CK_TRAILER_NAME:
        case CK_TRAILER_VALUE:
        case CK_TRAILER_LF:
            ch = d[i];
            if (st == CK_TRAILER_START && ch == '\r') {
                st = CK_FINAL_LF;
                break;
            }
            if (st == CK_TRAILER_LF ? ch != '\n' : ch == '\n') {
                r = st == CK_TRAILER_LF ? GH_RULE_BARE_CR : GH_RULE_BARE_LF;
                goto fail;
            }
            if (++c->trailer_bytes > lim->max_trailer_bytes) {
                r = GH_RULE_TRAILER_TOO_LARGE;
                goto fail;
            }
            if (st == CK_TRAILER_LF) {
                if (stop == STOP_AT_EVENT) {
                    /* line: name ':' OWS value OWS CR LF */
                    const uchar *vs = d + c->trailer_name_len + 1, *ve = d + i - 1;
                    while (vs < ve && ows(*vs))
                        vs++;
                    ev->name = mkspan(d, c->trailer_name_len);
                    ev->value = mkspan(vs, (size_t)(trim_end(vs, ve) - vs));
                    event = GH_CHUNK_TRAILER;
                }
                st = CK_TRAILER_START;
            } else if (st == CK_TRAILER_VALUE ? IS(ch, C_VALUE) : IS(ch, C_TCHAR)) {
                if (st == CK_TRAILER_START)
                    st = CK_TRAILER_NAME;
            } else if (st == CK_TRAILER_NAME && ch == ':') {
                c->trailer_name_len = i;  /* event mode: the line starts at d[0] */
                st = CK_TRAILER_VALUE;
            } else if (st == CK_TRAILER_VALUE && ch == '\r') {
                st = CK_TRAILER_LF;
            } else {
                r = ch == 0 ? GH_RULE_NUL_BYTE : GH_RULE_BAD_TRAILER;
                goto fail;
            }
            break;
        case CK_FINAL_LF:
            if (d[i] != '\n') {
                r = GH_RULE_BARE_CR;
                goto fail;
            }
            c->state = CK_DONE;
            c->line_checked = 0;
            *consumed = i + 1;
            return GH_CHUNK_END;
        case CK_DONE:
            *consumed = 0;
            return GH_CHUNK_END;
        default:
            r = GH_RULE_BAD_CHUNK_SIZE;       /* corrupted state */
            goto fail;
        }
        i++;
        if (event != GH_CHUNK_NEED_MORE)
            goto stop_here;
    }
    c->state = st;
    if (stop == STOP_AT_EVENT && line_state(st)) {
        c->line_checked = i;            /* the line is given again from its start */
        *consumed = 0;
    } else {
        *consumed = i;
    }
    return st == CK_DONE ? GH_CHUNK_END : GH_CHUNK_NEED_MORE;
stop_here:
    c->state = st;
    c->line_checked = 0;
    *consumed = i;
    return event;
fail:
    c->state = -(int)r;
    *consumed = i;
    ev->rule = r;
    return GH_CHUNK_ERROR;
}

enum gh_http1_status gh_http1_chunked_feed(struct gh_http1_chunked *c, const char *data,
                                           size_t len, const struct gh_http1_limits *limits,
                                           size_t *consumed, enum gh_http1_rule *rule)
{
    struct gh_http1_chunk_ev ev;
    switch (chunk_run(c, (const uchar *)data, len, limits ? limits : &default_limits, STOP_AT_END,
                      consumed, &ev)) {
    case GH_CHUNK_END:
        return GH_HTTP1_DONE;
    case GH_CHUNK_ERROR:
        if (rule)
            *rule = ev.rule;
        return GH_HTTP1_ERROR;
    default:
        return GH_HTTP1_INCOMPLETE;
    }
}

enum gh_http1_chunk_event gh_http1_chunked_next(struct gh_http1_chunked *c, const char *data,
                                                size_t len, const struct gh_http1_limits *limits,
                                                size_t *consumed, struct gh_http1_chunk_ev *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->event = chunk_run(c, (const uchar *)data, len, limits ? limits : &default_limits,
                          STOP_AT_EVENT, consumed, ev);
    return ev->event;
}

/* ---- forwarding chains ---------------------------------------------------- */

static size_t skip_ows(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

static bool is_node_char(char c)
{
    return IS(c, C_DIGIT) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == ':' || c == '-' || c == '_' || c == '[' || c == ']';
}

bool gh_http1_xff_valid(struct gh_http1_span value)
{
    const char *p = value.p;
    size_t n = value.len, i = 0;
    for (;;) {
        i = skip_ows(p, i, n);
        size_t start = i;
        while (i < n && is_node_char(p[i]))
            i++;
        if (i == start)
            return false; /* an empty element, or a byte no node has */
        i = skip_ows(p, i, n);
        if (i == n)
            return true;
        if (p[i] != ',')
            return false;
        i++;
    }
}

/* token "=" ( token / quoted-string ) at p[i]: the index after it, or 0. */
static size_t forwarded_pair(const char *p, size_t i, size_t n)
{
    size_t start = i;
    while (i < n && IS(p[i], C_TCHAR))
        i++;
    if (i == start || i == n || p[i] != '=')
        return 0;
    i++;
    if (i < n && p[i] == '"') {
        for (i++; i < n && p[i] != '"'; i++) {
            if (p[i] == '\\') { /* quoted-pair: HTAB / SP / VCHAR / obs-text */
                if (++i == n || !IS(p[i], C_VALUE))
                    return 0;
            } else if (!IS(p[i], C_QDTEXT)) {
                return 0;
            }
        }
        return i < n ? i + 1 : 0; /* an open quote never ends the value */
    }
    start = i;
    while (i < n && IS(p[i], C_TCHAR))
        i++;
    return i > start ? i : 0;
}

bool gh_http1_forwarded_valid(struct gh_http1_span value)
{
    const char *p = value.p;
    size_t n = value.len, i = 0;
    for (;;) {
        i = skip_ows(p, i, n);
        for (;;) {
            i = forwarded_pair(p, i, n);
            if (i == 0)
                return false;
            if (i < n && p[i] == ';') {
                i++;
                continue;
            }
            break;
        }
        i = skip_ows(p, i, n);
        if (i == n)
            return true;
        if (p[i] != ',')
            return false;
        i++;
    }
}
