/* fuzz_http_chunked.c - libFuzzer target for chunked bodies (src/http1.c).
 *
 * The first input byte picks a split position, the rest is the body. For
 * the default limits and for small ones, the body is fed in one piece, in
 * two pieces split at that position, and one byte at a time; all three
 * must give the same status, rule, consumed count (from the start of the
 * body) and body_bytes. The target also aborts when a result breaks the
 * contract of include/gatehouse/http1.h: consumed past the input, an
 * INCOMPLETE that did not consume everything, a DONE that does not end in
 * CRLF, an ERROR with a rule that is not a chunked-body rule, more data
 * bytes than bytes consumed, or a DONE / ERROR that does not stick.
 *
 * gh_http1_chunked_next (the event form the proxy re-frames bodies with)
 * is driven the way the proxy drives it, holding what an event did not
 * consume and giving it again with more: for every split it must agree
 * with _feed (status, rule, where, data bytes), its DATA spans must add up
 * to body_bytes and lie inside what was consumed, a SIZE event must carry
 * size > 0, and the de-chunked data must be the same for every split. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"

#include "fuzz_common.h"

static const struct gh_http1_limits small = {
    .max_request_line = 64,
    .max_header_bytes = 512,
    .max_headers = 8,
    .max_chunk_ext = 8,
    .max_trailer_bytes = 32,
};

struct result {
    enum gh_http1_status st;
    enum gh_http1_rule rule;
    size_t consumed;
    uint64_t body_bytes;
};

static int is_chunk_rule(enum gh_http1_rule r)
{
    return r == GH_RULE_BARE_LF || r == GH_RULE_BARE_CR || r == GH_RULE_NUL_BYTE ||
           r == GH_RULE_BAD_CHUNK_SIZE || r == GH_RULE_BAD_CHUNK_EXT ||
           r == GH_RULE_CHUNK_EXT_TOO_LONG || r == GH_RULE_BAD_CHUNK_END ||
           r == GH_RULE_BAD_TRAILER || r == GH_RULE_TRAILER_TOO_LARGE;
}

/* Feeds body[0, len) in pieces ending at cuts[0..n) and then len. Each
 * piece is a fresh heap copy of exactly its size. */
static struct result feed(const char *body, size_t len, const struct gh_http1_limits *lim,
                          const size_t *cuts, size_t n)
{
    struct gh_http1_chunked c;
    struct result r = { GH_HTTP1_INCOMPLETE, GH_RULE_NONE, 0, 0 };
    size_t at = 0;
    gh_http1_chunked_init(&c);
    for (size_t k = 0; k <= n; k++) {
        size_t end = k < n ? cuts[k] : len;
        size_t plen = end - at, consumed = (size_t)-1;
        enum gh_http1_rule rule = GH_RULE_NONE;
        char *piece = dup_exact(body + at, plen);
        uint64_t before = c.body_bytes;
        r.st = gh_http1_chunked_feed(&c, piece, plen, lim, &consumed, &rule);
        free(piece);
        REQUIRE(consumed <= plen);
        REQUIRE(c.body_bytes - before <= consumed);
        r.consumed = at + consumed;
        if (r.st == GH_HTTP1_INCOMPLETE) {
            REQUIRE(consumed == plen);
            at = end;
            continue;
        }
        if (r.st == GH_HTTP1_ERROR) {
            REQUIRE(is_chunk_rule(rule));
            r.rule = rule;
        } else {
            REQUIRE(r.st == GH_HTTP1_DONE);
            REQUIRE(r.consumed >= 5);
            REQUIRE(body[r.consumed - 2] == '\r' && body[r.consumed - 1] == '\n');
        }
        /* it sticks */
        size_t again = (size_t)-1;
        enum gh_http1_rule rule2 = GH_RULE_NONE;
        REQUIRE(gh_http1_chunked_feed(&c, "0\r\n\r\n", 5, lim, &again, &rule2) == r.st);
        REQUIRE(again == 0);
        if (r.st == GH_HTTP1_ERROR)
            REQUIRE(rule2 == r.rule);
        break;
    }
    r.body_bytes = c.body_bytes;
    REQUIRE(r.body_bytes <= r.consumed);
    return r;
}

/* FNV-1a of the de-chunked data, so splits can be compared cheaply. */
static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

struct events {
    struct result r;
    uint64_t data_hash;
    uint64_t data_bytes;
};

static struct events drive(const char *body, size_t len, const struct gh_http1_limits *lim,
                           const size_t *cuts, size_t n)
{
    struct gh_http1_chunked c;
    struct events e = { { GH_HTTP1_INCOMPLETE, GH_RULE_NONE, 0, 0 }, 0xcbf29ce484222325ULL, 0 };
    size_t pos = 0;
    gh_http1_chunked_init(&c);
    for (size_t k = 0; k <= n && e.r.st == GH_HTTP1_INCOMPLETE; k++) {
        size_t avail = k < n ? cuts[k] : len;
        for (;;) {
            struct gh_http1_chunk_ev ev;
            size_t used = (size_t)-1;
            char *piece = dup_exact(body + pos, avail - pos);
            enum gh_http1_chunk_event got =
                gh_http1_chunked_next(&c, piece, avail - pos, lim, &used, &ev);
            REQUIRE(got == ev.event);
            REQUIRE(used <= avail - pos);
            if (got == GH_CHUNK_DATA) {
                REQUIRE(ev.data.p >= piece && ev.data.p + ev.data.len <= piece + used);
                REQUIRE(ev.data.len == used && used > 0);
                e.data_hash = fnv(e.data_hash, ev.data.p, ev.data.len);
                e.data_bytes += ev.data.len;
            } else if (got == GH_CHUNK_SIZE) {
                REQUIRE(ev.size > 0 && ev.ext.p >= piece && ev.ext.p + ev.ext.len < piece + used);
            } else if (got == GH_CHUNK_TRAILER) {
                REQUIRE(ev.name.p == piece && ev.name.len > 0);
                REQUIRE(ev.value.p + ev.value.len <= piece + used);
            }
            free(piece);
            if (got == GH_CHUNK_ERROR) {
                REQUIRE(is_chunk_rule(ev.rule));
                e.r.st = GH_HTTP1_ERROR;
                e.r.rule = ev.rule;
                e.r.consumed = pos + used;
                break;
            }
            pos += used;
            if (got == GH_CHUNK_END) {
                e.r.st = GH_HTTP1_DONE;
                e.r.consumed = pos;
                break;
            }
            if (got == GH_CHUNK_NEED_MORE)
                break;
            REQUIRE(used > 0);          /* every other event moves on */
        }
    }
    if (e.r.st == GH_HTTP1_INCOMPLETE)
        e.r.consumed = len;             /* used, or a partial line held */
    e.r.body_bytes = c.body_bytes;
    REQUIRE(e.data_bytes == c.body_bytes);
    return e;
}

static void same(struct result a, struct result b)
{
    REQUIRE(a.st == b.st);
    REQUIRE(a.rule == b.rule);
    REQUIRE(a.consumed == b.consumed);
    REQUIRE(a.body_bytes == b.body_bytes);
}

static void run(const char *body, size_t len, size_t split, const struct gh_http1_limits *lim)
{
    struct result whole = feed(body, len, lim, NULL, 0);
    struct result two = feed(body, len, lim, &split, 1);
    same(whole, two);
    struct events ev_whole = drive(body, len, lim, NULL, 0);
    struct events ev_two = drive(body, len, lim, &split, 1);
    same(ev_whole.r, whole);
    same(ev_two.r, whole);
    REQUIRE(ev_two.data_hash == ev_whole.data_hash);
    if (len <= 512) {
        size_t *cuts = malloc(len * sizeof *cuts + 1);
        REQUIRE(cuts != NULL);
        for (size_t i = 0; i + 1 < len; i++)
            cuts[i] = i + 1;
        struct result bytes = feed(body, len, lim, cuts, len ? len - 1 : 0);
        struct events ev_bytes = drive(body, len, lim, cuts, len ? len - 1 : 0);
        free(cuts);
        same(whole, bytes);
        same(ev_bytes.r, whole);
        REQUIRE(ev_bytes.data_hash == ev_whole.data_hash);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    size_t split = len ? (size_t)data[0] * len / 255 : 0;
    run(body, len, split, NULL);
    run(body, len, split, &small);
    return 0;
}
