/* http1.h - a strict, zero-copy HTTP/1.1 message parser (RFC 9112, 9110).
 *
 * Owns: syntax and framing of request heads, response heads and chunked
 * bodies, the stable names of the rules they can break, and which of those
 * rules protect message framing (always enforced) and which are policy (the
 * listener may only log them). It does no I/O and never allocates: parsed
 * fields point into the caller's buffer, which must stay unchanged while
 * they are used.
 *
 * Heads are parsed once complete. gh_http1_head_end finds the end of a head
 * incrementally (resuming where the last call stopped, so a head trickling
 * in byte by byte costs O(n), not O(n^2)) and enforces the size limits
 * before the head is complete. */
#ifndef GATEHOUSE_HTTP1_H
#define GATEHOUSE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/span.h"

#define GH_HTTP1_MAX_HEADERS 256 /* hard ceiling; the configured limit is <= this */

/* Every rule a message can break. Names (gh_http1_rule_name) are stable:
 * they appear in logs, the audit log and the config. */
enum gh_http1_rule {
    GH_RULE_NONE = 0,
    /* framing rules: always enforced */
    GH_RULE_BARE_LF,            /* "bare_lf": LF not preceded by CR in a head line or chunk line */
    GH_RULE_BARE_CR,            /* "bare_cr": CR not followed by LF */
    GH_RULE_NUL_BYTE,           /* "nul_byte" */
    GH_RULE_BAD_REQUEST_LINE,   /* "bad_request_line": not METHOD SP TARGET SP HTTP/x.y */
    GH_RULE_BAD_VERSION,        /* "bad_version": well formed but not 1.0/1.1 (505) */
    GH_RULE_BAD_HEADER_NAME,    /* "bad_header_name": empty or non-token field name */
    GH_RULE_SPACE_BEFORE_COLON, /* "space_before_colon" */
    GH_RULE_NO_COLON,           /* "no_colon": a header line without ':' */
    GH_RULE_CL_TE_CONFLICT,     /* "cl_te_conflict": Content-Length and Transfer-Encoding */
    GH_RULE_BAD_CONTENT_LENGTH, /* "bad_content_length": not 1*DIGIT, or overflows */
    GH_RULE_CL_MISMATCH,        /* "cl_mismatch": several Content-Length values that differ */
    GH_RULE_TE_NOT_CHUNKED,     /* "te_not_chunked": chunked is not the final coding, or twice (400) */
    GH_RULE_TE_UNSUPPORTED,     /* "te_unsupported": a coding other than chunked (501) */
    GH_RULE_TE_HTTP10,          /* "te_http10": Transfer-Encoding in an HTTP/1.0 request */
    GH_RULE_TE_EMPTY_ELEMENT,   /* "te_empty_element": an empty Transfer-Encoding list element
                                 * or field (",chunked", "chunked, ,", "Transfer-Encoding:"),
                                 * requests only: lenient backends disagree on what it means */
    GH_RULE_BAD_CHUNK_SIZE,     /* "bad_chunk_size": not hex, empty, or overflows */
    GH_RULE_BAD_CHUNK_EXT,      /* "bad_chunk_ext": chunk extension syntax */
    GH_RULE_CHUNK_EXT_TOO_LONG, /* "chunk_ext_too_long" */
    GH_RULE_BAD_CHUNK_END,      /* "bad_chunk_end": data not followed by CRLF */
    GH_RULE_BAD_TRAILER,        /* "bad_trailer": trailer field syntax */
    GH_RULE_TRAILER_TOO_LARGE,  /* "trailer_too_large" */
    GH_RULE_REQUEST_LINE_TOO_LONG, /* "request_line_too_long" (414) */
    GH_RULE_HEADER_TOO_LARGE,   /* "header_too_large": head over max_header_bytes (431) */
    GH_RULE_HEADER_COUNT,       /* "header_count": more than max_headers (431) */
    GH_RULE_BODY_TOO_LARGE,     /* "body_too_large" (413); enforced by the caller */
    GH_RULE_ASTERISK_NOT_OPTIONS, /* "asterisk_not_options": '*' target with another method */
    GH_RULE_AUTHORITY_NOT_CONNECT, /* "authority_not_connect": authority-form without CONNECT */
    GH_RULE_BAD_STATUS_LINE,    /* "bad_status_line": responses only */
    GH_RULE_FRAMING_LAST = GH_RULE_BAD_STATUS_LINE,
    /* policy rules: reject or log, per listener */
    GH_RULE_BAD_HEADER_CHAR,    /* "bad_header_char": CTL (not HTAB) or DEL in a field value */
    GH_RULE_OBS_FOLD,           /* "obs_fold": a continuation line */
    GH_RULE_BAD_TARGET_CHAR,    /* "bad_target_char": outside RFC 3986 in the request-target */
    GH_RULE_MISSING_HOST,       /* "missing_host": HTTP/1.1 without Host */
    GH_RULE_DUPLICATE_HOST,     /* "duplicate_host" */
    GH_RULE_BAD_HOST,           /* "bad_host": Host not a valid uri-host[:port] */
    GH_RULE_HOST_MISMATCH,      /* "host_mismatch": absolute-form authority differs from Host */
    GH_RULE_METHOD_NOT_ALLOWED, /* "method_not_allowed" (405); decided by the caller */
    GH_RULE_COUNT
};

const char *gh_http1_rule_name(enum gh_http1_rule rule);
bool gh_http1_rule_is_framing(enum gh_http1_rule rule);
/* The status to answer a request that broke RULE with (400, 405, 413, 414,
 * 431, 501, 505). */
int gh_http1_rule_status(enum gh_http1_rule rule);
/* Parses a rule name; returns GH_RULE_NONE if unknown. */
enum gh_http1_rule gh_http1_rule_from_name(const char *name, size_t len);

struct gh_http1_limits {
    size_t max_request_line;    /* bytes, excluding CRLF; default 8192 */
    size_t max_header_bytes;    /* whole head including request line; default 16384 */
    size_t max_headers;         /* field lines; default 100, at most GH_HTTP1_MAX_HEADERS */
    size_t max_chunk_ext;       /* bytes of extensions on one chunk-size line; default 256 */
    size_t max_trailer_bytes;   /* whole trailer section; default 4096 */
};

struct gh_http1_span {
    const char *p;
    size_t len;
};

struct gh_http1_header {
    struct gh_http1_span name;
    struct gh_http1_span value;  /* OWS trimmed; with obs-fold, spans the fold */
};

enum gh_http1_target_form {
    GH_TARGET_ORIGIN,       /* /path?query */
    GH_TARGET_ABSOLUTE,     /* http://host/path */
    GH_TARGET_AUTHORITY,    /* host:port (CONNECT) */
    GH_TARGET_ASTERISK,     /* * (OPTIONS) */
};

enum gh_http1_body {
    GH_BODY_NONE,           /* no body (request without CL/TE; 1xx/204/304; HEAD response) */
    GH_BODY_LENGTH,         /* content_length bytes */
    GH_BODY_CHUNKED,
    GH_BODY_UNTIL_CLOSE,    /* responses only: read until the server closes */
};

/* Per-message findings: which policy rules fired (bit 1 << rule). */
typedef uint64_t gh_http1_rule_set;

struct gh_http1_request {
    struct gh_http1_span method;
    struct gh_http1_span target;
    enum gh_http1_target_form target_form;
    int minor_version;                   /* 0 or 1 */
    struct gh_http1_header headers[GH_HTTP1_MAX_HEADERS];
    size_t n_headers;
    size_t head_len;                     /* bytes up to and including the empty line */
    int host_index;                      /* headers[] index of Host, -1 if none */
    enum gh_http1_body body;
    uint64_t content_length;
    bool duplicate_content_length;       /* several identical CL: forward only one */
    bool expect_continue;                /* Expect: 100-continue */
    bool connection_close;               /* Connection: close, or 1.0 without keep-alive */
    bool has_upgrade;                    /* an Upgrade header is present */
    gh_http1_rule_set policy_hits;       /* policy rules this message broke */
    /* bit i: headers[i]'s name is a token of a Connection field (RFC 9110
     * 7.6.1), tokens split at ',', SP and HTAB; built once per request in
     * O(head length x log fields). Read it with gh_http1_connection_named. */
    uint64_t connection_named[GH_HTTP1_MAX_HEADERS / 64];
};

struct gh_http1_response {
    int status;
    int minor_version;
    struct gh_http1_span reason;
    struct gh_http1_header headers[GH_HTTP1_MAX_HEADERS];
    size_t n_headers;
    size_t head_len;
    enum gh_http1_body body;
    uint64_t content_length;
    bool connection_close;
};

enum gh_http1_status {
    GH_HTTP1_INCOMPLETE = 0,    /* need more bytes */
    GH_HTTP1_DONE = 1,          /* parsed; see head_len */
    GH_HTTP1_ERROR = -1,        /* *rule says why */
};

/* Looks for the end of a head in buf[0, len). *scan is the resume point,
 * 0 on the first call for a message; it only grows. Returns DONE with the
 * head's length in *head_len, INCOMPLETE, or ERROR (with *rule) as soon as
 * the bytes seen already break a limit or a line-ending rule (a bare LF or
 * a bare CR fails at once, without waiting for more). is_request selects
 * max_request_line for the first line, and has the request line judged
 * as soon as its CRLF is in: a line without an HTTP-version (HTTP/0.9
 * "GET /"), or otherwise not a request-line, fails then with the rule
 * gh_http1_parse_request would give it. A leading empty line is a 2-byte
 * head (skip it first with gh_http1_skip_empty_lines). */
enum gh_http1_status gh_http1_head_end(const char *buf, size_t len, bool is_request,
                                       const struct gh_http1_limits *limits, size_t *scan,
                                       size_t *head_len, enum gh_http1_rule *rule);

/* Empty lines (CRLF) a server ignores before a request line (RFC 9112
 * 2.2: at least one SHOULD be; a client may add one after a body); one
 * more is bad_request_line. */
#define GH_HTTP1_MAX_EMPTY_LINES 4

/* Skips the empty lines at the start of buf[0, len) before a request line.
 * *empty_lines counts those skipped for this request so far (0 at its
 * start; the caller keeps it across reads, since it drops what was
 * skipped) and *skip is set to the bytes to drop. Returns DONE when a
 * request line starts at buf + *skip, INCOMPLETE when buf holds nothing
 * but empty lines (and perhaps the CR of the next), ERROR with *rule on a
 * line ending that is not CRLF or past GH_HTTP1_MAX_EMPTY_LINES. */
enum gh_http1_status gh_http1_skip_empty_lines(const char *buf, size_t len, unsigned *empty_lines,
                                               size_t *skip, enum gh_http1_rule *rule);

/* Parses a complete request head (as delimited by gh_http1_head_end).
 * Framing rules fail with ERROR. Policy rules found are recorded in
 * req->policy_hits and parsing goes on, so the caller decides per listener
 * whether to reject or log; when a policy rule makes a later step
 * impossible the parser still returns DONE with what it has. */
enum gh_http1_status gh_http1_parse_request(const char *buf, size_t head_len,
                                            const struct gh_http1_limits *limits,
                                            struct gh_http1_request *req,
                                            enum gh_http1_rule *rule);

/* Whether headers[index] of a parsed request is named by a token of one of
 * its Connection fields (and so ends at this hop). O(1). */
bool gh_http1_connection_named(const struct gh_http1_request *req, size_t index);

/* Parses a complete response head. request_method is the method of the
 * request it answers (HEAD and CONNECT change the body rules). */
enum gh_http1_status gh_http1_parse_response(const char *buf, size_t head_len,
                                             const struct gh_http1_limits *limits,
                                             struct gh_http1_span request_method,
                                             struct gh_http1_response *resp,
                                             enum gh_http1_rule *rule);

/* Streaming chunked-body checker; works on any split of the input. */
struct gh_http1_chunked {
    int state;
    uint64_t remaining;          /* data bytes left in the current chunk */
    uint64_t body_bytes;         /* data bytes so far (for body limits) */
    size_t line_bytes;           /* bytes in the current size or trailer line */
    size_t ext_bytes;
    size_t trailer_bytes;
    /* gh_http1_chunked_next only: how much of the line the caller gives
     * again from its start was checked already, and where in that line a
     * trailer's name ends. Both <= one line (max_chunk_ext + 18, or
     * max_trailer_bytes). */
    size_t line_checked;
    size_t trailer_name_len;
};

void gh_http1_chunked_init(struct gh_http1_chunked *c);

/* Checks data[0, len). Sets *consumed to the bytes that belong to this
 * body (all of len, or fewer when the body ends inside data). Returns
 * INCOMPLETE (body goes on), DONE (last chunk and trailers seen; *consumed
 * ends right after the final CRLF) or ERROR with *rule. */
enum gh_http1_status gh_http1_chunked_feed(struct gh_http1_chunked *c, const char *data,
                                           size_t len, const struct gh_http1_limits *limits,
                                           size_t *consumed, enum gh_http1_rule *rule);

/* The same checker as gh_http1_chunked_feed, stopping at each piece of the
 * body's structure, so a proxy can re-frame the body without parsing it
 * again. Size and trailer lines are reported whole: until a line's CRLF is
 * in data, NEED_MORE leaves *consumed at the line's start and the caller
 * gives the line again, from its start, with more bytes (what was checked
 * is not checked again, so a line trickling in costs O(n)). A caller must
 * therefore be able to hold one line: 16 + max_chunk_ext + 2 bytes, or
 * max_trailer_bytes. Spans point into data. */
enum gh_http1_chunk_event {
    GH_CHUNK_NEED_MORE,   /* data used up (up to a line start): give more */
    GH_CHUNK_SIZE,        /* a chunk-size line: size (> 0) data bytes follow; ext is what
                           * followed the hex digits (BWS, extensions), checked, maybe empty */
    GH_CHUNK_DATA,        /* data: the next bytes of the current chunk */
    GH_CHUNK_DATA_END,    /* the CRLF after a chunk's data */
    GH_CHUNK_LAST,        /* the last-chunk line ("0", ext as for SIZE): trailers follow */
    GH_CHUNK_TRAILER,     /* one trailer field: name, value (OWS trimmed) */
    GH_CHUNK_END,         /* the final CRLF: the body is complete */
    GH_CHUNK_ERROR,       /* rule says why; sticks, like gh_http1_chunked_feed's */
};

struct gh_http1_chunk_ev {
    enum gh_http1_chunk_event event;
    uint64_t size;                 /* GH_CHUNK_SIZE */
    struct gh_http1_span data;     /* GH_CHUNK_DATA */
    struct gh_http1_span ext;      /* GH_CHUNK_SIZE, GH_CHUNK_LAST */
    struct gh_http1_span name;     /* GH_CHUNK_TRAILER */
    struct gh_http1_span value;    /* GH_CHUNK_TRAILER */
    enum gh_http1_rule rule;       /* GH_CHUNK_ERROR */
};

/* Checks data[0, len) up to the next event; *consumed is where the next
 * call's data must begin. Use one of _feed and _next per body, not both. */
enum gh_http1_chunk_event gh_http1_chunked_next(struct gh_http1_chunked *c, const char *data,
                                                size_t len, const struct gh_http1_limits *limits,
                                                size_t *consumed, struct gh_http1_chunk_ev *ev);

/* Forwarding chains a trusted proxy sent, before gatehouse appends its own
 * hop: true when gatehouse can read the value, so an appended element
 * cannot be swallowed or shifted by it.
 * X-Forwarded-For: 1#node, each node a non-empty run of letters, digits
 * and . : - _ [ ] (IPv4, IPv6, bracketed IPv6, "unknown", obfuscated ids).
 * Forwarded (RFC 7239 4): 1#forwarded-element, each pair token "=" (token /
 * quoted-string), pairs separated by ";"; no empty elements or pairs. */
bool gh_http1_xff_valid(struct gh_http1_span value);
bool gh_http1_forwarded_valid(struct gh_http1_span value);

/* Case-insensitive comparison of a span with a NUL-terminated lowercase word.
 * Inline: callers compare against literals, whose length then folds away. */
static inline bool gh_http1_span_equals(struct gh_http1_span s, const char *lower)
{
    size_t n = __builtin_strlen(lower);
    return s.len == n && gh_ascii_ieq_lower(s.p, lower, n);
}

#endif
