/* fuzz_framing.c - libFuzzer target for the tcp-mode framers
 * (src/framing.c, with src/utf8.c).
 *
 * The first two input bytes choose the framer and its config, the third a
 * split point; the rest is the client's stream. It is fed the way a
 * connection feeds a framer (unreleased bytes kept and passed again) in one
 * piece, in two pieces at the data-derived point and one byte at a time,
 * and the target aborts when a result breaks the contract of
 * include/gatehouse/framing.h:
 *  - every call releases at most what it was given, never more is held
 *    than the framing allows (max_line - 1, a prefix minus one), and
 *    stats.bytes is the total released;
 *  - the three runs agree on the reason, the total released and the frame
 *    count; a reject is sticky;
 *  - what was released is valid on its own terms, checked here by a
 *    separate, non-streaming reading: whole lines that keep every rule, or
 *    whole prefixes within the limits followed by their payload;
 *  - what was held back is either still a valid beginning (no verdict yet)
 *    or, after a reject, really breaks a rule. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/framing.h"
#include "gatehouse/utf8.h"

#include "fuzz_common.h"

struct subject {
    bool is_line;
    struct gh_line_config line;
    struct gh_length_config length;
};

struct outcome {
    const char *reason;
    size_t released;
    uint64_t frames;
};

static size_t hold_bound(const struct subject *s)
{
    return s->is_line ? s->line.max_line - 1 : s->length.prefix_bytes - 1;
}

/* Feeds in[0, len) in pieces that end at the multiples of step (0: one
 * piece), or at cut when step is SIZE_MAX. */
static struct outcome drive(const struct subject *s, const uint8_t *in, size_t len,
                            size_t step, size_t cut)
{
    struct gh_line_framer lf;
    struct gh_length_framer nf;
    struct gh_framer_verdict v;
    struct outcome o = { NULL, 0, 0 };
    size_t fed = 0;

    if (s->is_line)
        REQUIRE(gh_line_framer_init(&lf, &s->line));
    else
        REQUIRE(gh_length_framer_init(&nf, &s->length));
    for (;;) {
        fed = piece_end(fed, len, step, cut);
        size_t pending = fed - o.released;
        if (s->is_line)
            gh_line_framer_feed(&lf, in + o.released, pending, &v);
        else
            gh_length_framer_feed(&nf, in + o.released, pending, &v);
        REQUIRE(v.release <= pending);
        REQUIRE(v.reply == NULL && v.reply_len == 0);
        o.released += v.release;
        if (v.action == GH_FRAME_REJECT) {
            REQUIRE(v.reason != NULL);
            o.reason = v.reason;
            if (s->is_line)
                gh_line_framer_feed(&lf, in, len, &v);
            else
                gh_length_framer_feed(&nf, in, len, &v);
            REQUIRE(v.action == GH_FRAME_REJECT && v.release == 0 && v.reason == o.reason);
            break;
        }
        REQUIRE(v.action == GH_FRAME_CONTINUE && v.reason == NULL);
        REQUIRE(fed - o.released <= hold_bound(s));
        if (fed == len)
            break;
    }
    const struct gh_framing_stats *st = s->is_line ? &lf.stats : &nf.stats;
    REQUIRE(st->bytes == o.released);
    o.frames = st->frames;
    return o;
}

/* ---- a separate reading of lines ---------------------------------------- */

static bool printable(uint8_t c)
{
    return (c >= 0x20 && c <= 0x7e) || c == '\t';
}

/* Content bytes of a line (terminator excluded) keep the charset. */
static bool content_ok(const struct gh_line_config *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || (c->terminator == GH_LINE_CRLF && p[i] == '\r'))
            return false;
        if (c->charset == GH_CHARSET_PRINTABLE_ASCII && !printable(p[i]))
            return false;
        if (c->charset == GH_CHARSET_UTF8 && p[i] < 0x80 && !printable(p[i]))
            return false;
    }
    return c->charset != GH_CHARSET_UTF8 || gh_utf8_valid(p, n);
}

/* A line's beginning that could still become a valid line: within the
 * length, in the charset, and under crlf at most a final CR (after a
 * complete character). */
static bool content_prefix_ok(const struct gh_line_config *c, const uint8_t *p, size_t n)
{
    size_t t = c->terminator == GH_LINE_CRLF ? 2 : 1;
    bool cr = c->terminator == GH_LINE_CRLF && n > 0 && p[n - 1] == '\r';
    size_t content = cr ? n - 1 : n;
    if (content + t > c->max_line)
        return false;
    for (size_t i = 0; i < content; i++) {
        if (p[i] == '\n' || (c->terminator == GH_LINE_CRLF && p[i] == '\r'))
            return false;
        if (c->charset != GH_CHARSET_ANY && p[i] < 0x80 && !printable(p[i]))
            return false;
        if (c->charset == GH_CHARSET_PRINTABLE_ASCII && p[i] >= 0x80)
            return false;
    }
    if (c->charset == GH_CHARSET_UTF8) {
        struct gh_utf8 u;
        gh_utf8_init(&u);
        if (gh_utf8_feed(&u, p, content) != content || (cr && !gh_utf8_complete(&u)))
            return false;
    }
    return true;
}

static void check_lines(const struct gh_line_config *c, const uint8_t *in, size_t len,
                        const struct outcome *o)
{
    size_t t = c->terminator == GH_LINE_CRLF ? 2 : 1;
    size_t s = 0, lines = 0;
    while (s < o->released) {
        const uint8_t *lf = memchr(in + s, '\n', o->released - s);
        REQUIRE(lf != NULL);
        size_t end = (size_t)(lf - in) + 1;
        REQUIRE(end - s <= c->max_line);
        REQUIRE(end - s >= t);
        if (t == 2)
            REQUIRE(in[end - 2] == '\r');
        REQUIRE(content_ok(c, in + s, end - s - t));
        s = end;
        lines++;
    }
    REQUIRE(s == o->released);
    REQUIRE(lines == o->frames);
    /* the line after the released ones, as far as it arrived */
    size_t rest = len - o->released;
    const uint8_t *tail = in + o->released;
    const uint8_t *lf = memchr(tail, '\n', rest);
    size_t n = lf ? (size_t)(lf - tail) + 1 : rest;
    bool valid_line = lf && n <= c->max_line && n >= t && (t == 1 || tail[n - 2] == '\r') &&
                      content_ok(c, tail, n - t);
    bool valid_start = !lf && content_prefix_ok(c, tail, rest);
    if (o->reason)
        REQUIRE(!valid_line && !valid_start);
    else
        REQUIRE(valid_start);
}

/* ---- a separate reading of length frames -------------------------------- */

static bool prefix_ok(const struct gh_length_config *c, const uint8_t *p, uint64_t *payload)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < c->prefix_bytes; k++) {
        unsigned shift = c->endian == GH_LENGTH_BIG ? 8 * (c->prefix_bytes - 1 - k) : 8 * k;
        v |= (uint64_t)p[k] << shift;
    }
    if (c->length_includes_prefix) {
        if (v <= c->prefix_bytes)
            return false;
        v -= c->prefix_bytes;
    }
    *payload = v;
    return v >= 1 && v <= c->max_frame;
}

static void check_frames(const struct gh_length_config *c, const uint8_t *in, size_t len,
                         const struct outcome *o)
{
    size_t s = 0;
    uint64_t frames = 0;
    while (s < o->released) {
        uint64_t payload = 0;
        REQUIRE(o->released - s >= c->prefix_bytes);
        REQUIRE(prefix_ok(c, in + s, &payload));
        s += c->prefix_bytes;
        if (payload <= o->released - s) {
            s += payload;
            frames++;
        } else {
            s = o->released;    /* the last frame is still streaming */
            REQUIRE(o->released == len || o->reason == NULL);
        }
    }
    REQUIRE(frames == o->frames);
    size_t rest = len - o->released;
    if (o->reason) {
        uint64_t payload;
        REQUIRE(rest >= c->prefix_bytes);
        REQUIRE(!prefix_ok(c, in + o->released, &payload));
    } else {
        /* everything released, or a partial prefix held */
        REQUIRE(rest < c->prefix_bytes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t mode = data[0], knob = data[1], split = data[2];
    const uint8_t *in = data + 3;
    size_t len = size - 3;
    struct subject s;

    memset(&s, 0, sizeof s);
    s.is_line = (mode & 1) == 0;
    if (s.is_line) {
        s.line.terminator = (mode & 2) ? GH_LINE_CRLF : GH_LINE_LF;
        s.line.charset = (enum gh_line_charset)((mode >> 2) % 3);
        s.line.max_line = (size_t)(knob % 64) + 2;
        if (mode & 0x80)
            s.line.max_line = (size_t)knob * 16 + 2;
    } else {
        static const unsigned widths[] = { 1, 2, 4, 2 };
        s.length.prefix_bytes = widths[(mode >> 1) & 3];
        s.length.endian = (mode & 8) ? GH_LENGTH_LITTLE : GH_LENGTH_BIG;
        s.length.length_includes_prefix = (mode & 16) != 0;
        s.length.max_frame = (uint64_t)knob + 1;
        if (mode & 0x80)
            s.length.max_frame = (uint64_t)knob * 4096 + 1;
    }

    struct outcome whole = drive(&s, in, len, 0, 0);
    size_t cut = len ? (size_t)split * len / 255 : 0;
    struct outcome two = drive(&s, in, len, SIZE_MAX, cut);
    struct outcome bytewise = drive(&s, in, len, 1, 0);
    REQUIRE(two.released == whole.released && bytewise.released == whole.released);
    REQUIRE(two.frames == whole.frames && bytewise.frames == whole.frames);
    REQUIRE((two.reason == NULL) == (whole.reason == NULL));
    REQUIRE((bytewise.reason == NULL) == (whole.reason == NULL));
    if (whole.reason) {
        REQUIRE(strcmp(two.reason, whole.reason) == 0);
        REQUIRE(strcmp(bytewise.reason, whole.reason) == 0);
    }
    if (s.is_line)
        check_lines(&s.line, in, len, &whole);
    else
        check_frames(&s.length, in, len, &whole);
    return 0;
}
