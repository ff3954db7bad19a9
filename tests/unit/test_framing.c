/* test_framing.c - unit tests for the tcp-mode framers (src/framing.c) and
 * the streaming UTF-8 validator they share with WebSocket (src/utf8.c).
 *
 * Pins the contracts of include/gatehouse/framing.h and utf8.h:
 *  - UTF-8: exhaustive agreement with a straightforward reference decoder
 *    for every 1-, 2- and 3-byte string and a class-covering sample of
 *    4-byte strings; the offset of the first bad byte; the ASCII fast path
 *    at every alignment; any split of a text gives the same answer.
 *  - line and length framers, rule by rule, with every input driven the way
 *    a connection drives a framer (unreleased bytes kept and passed again)
 *    whole, one byte at a time and split in two at every position: the
 *    outcome (reason, total released, counts) must be the same every time,
 *    released never exceeds what was fed, the bytes held never exceed what
 *    the framing allows (max_line - 1, a prefix minus one), and a reject is
 *    sticky.
 *
 * Every feed gets a heap copy of exactly the bytes passed, so a run under
 * AddressSanitizer catches any read past the end. Checks are soft (CHECK):
 * every failing row is reported with its line before the test fails. */
#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/framing.h"
#include "gatehouse/utf8.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* ==== UTF-8 =============================================================== */

/* Reference: decode each sequence and check the code point. */
static bool ref_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp, min;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void test_utf8_exhaustive(void **state)
{
    (void)state;
    uint8_t s[4] = { 0 };
    size_t mismatches = 0;
    /* every string of 1, 2 and 3 bytes */
    for (uint32_t v = 0; v < 256 + 65536 + 16777216u; v++) {
        size_t n;
        uint32_t x;
        if (v < 256) {
            n = 1, x = v;
        } else if (v < 256 + 65536) {
            n = 2, x = v - 256;
        } else {
            n = 3, x = v - 256 - 65536;
        }
        for (size_t k = 0; k < n; k++)
            s[k] = (uint8_t)(x >> (8 * (n - 1 - k)));
        if (gh_utf8_valid(s, n) != ref_utf8_valid(s, n) && mismatches++ < 10)
            print_error("mismatch on %zu bytes %02x %02x %02x\n", n, s[0], s[1], s[2]);
    }
    /* 4 bytes: every first two bytes, the last two from every byte class */
    static const uint8_t tail[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                    0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
                                    0xf0, 0xf4, 0xf5, 0xff };
    for (uint32_t ab = 0; ab < 65536; ab++) {
        for (size_t c = 0; c < ARRAY_LEN(tail); c++) {
            for (size_t d = 0; d < ARRAY_LEN(tail); d++) {
                s[0] = (uint8_t)(ab >> 8), s[1] = (uint8_t)ab, s[2] = tail[c], s[3] = tail[d];
                if (gh_utf8_valid(s, 4) != ref_utf8_valid(s, 4) && mismatches++ < 10)
                    print_error("mismatch on %02x %02x %02x %02x\n", s[0], s[1], s[2], s[3]);
            }
        }
    }
    assert_int_equal(mismatches, 0);
}

static void test_utf8_cases(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        size_t first_bad;       /* == len: every byte a valid prefix */
        bool complete;
    } rows[] = {
        { "", 0, 0, true },
        { "hello", 5, 5, true },
        { "\xc2\x80", 2, 2, true },                      /* U+0080 */
        { "\xdf\xbf", 2, 2, true },                      /* U+07FF */
        { "\xe0\xa0\x80", 3, 3, true },                  /* U+0800 */
        { "\xed\x9f\xbf", 3, 3, true },                  /* U+D7FF */
        { "\xee\x80\x80", 3, 3, true },                  /* U+E000 */
        { "\xef\xbf\xbf", 3, 3, true },                  /* U+FFFF */
        { "\xf0\x90\x80\x80", 4, 4, true },              /* U+10000 */
        { "\xf4\x8f\xbf\xbf", 4, 4, true },              /* U+10FFFF */
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 11, true }, /* kosme */
        /* overlong */
        { "\xc0\xaf", 2, 0, false },
        { "\xc1\xbf", 2, 0, false },
        { "\xe0\x80\xaf", 3, 1, false },
        { "\xe0\x9f\xbf", 3, 1, false },
        { "\xf0\x80\x80\xaf", 4, 1, false },
        { "\xf0\x8f\xbf\xbf", 4, 1, false },
        /* surrogates */
        { "\xed\xa0\x80", 3, 1, false },
        { "\xed\xbf\xbf", 3, 1, false },
        { "\xed\xa0\x80\xed\xb0\x80", 6, 1, false },
        /* above U+10FFFF */
        { "\xf4\x90\x80\x80", 4, 1, false },
        { "\xf5\x80\x80\x80", 4, 0, false },
        { "\xf7\xbf\xbf\xbf", 4, 0, false },
        { "\xf8\x88\x80\x80\x80", 5, 0, false },
        { "\xfe", 1, 0, false },
        { "\xff", 1, 0, false },
        /* stray continuation, broken sequences */
        { "a\x80", 2, 1, false },
        { "\xbf", 1, 0, false },
        { "\xc2\x41", 2, 1, false },
        { "\xe2\x82\x41", 3, 2, false },
        { "\xf0\x9f\x98\x41", 4, 3, false },
        { "\xc2\xc2\x80", 3, 1, false },
        /* truncated: every byte fine so far, but not complete */
        { "\xc2", 1, 1, false },
        { "\xe2\x82", 2, 2, false },
        { "\xf0\x9f\x98", 3, 3, false },
        { "ab\xf4", 3, 3, false },
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const uint8_t *s = (const uint8_t *)rows[i].s;
        size_t n = rows[i].len;
        uint8_t *copy = dup_exact(s, n);
        struct gh_utf8 u;
        row_line = (int)i;
        gh_utf8_init(&u);
        size_t got = gh_utf8_feed(&u, copy, n);
        CHECK(got == rows[i].first_bad, "row %zu: first bad %zu, want %zu", i, got,
              rows[i].first_bad);
        CHECK(gh_utf8_complete(&u) == rows[i].complete, "row %zu complete", i);
        CHECK(gh_utf8_ok(&u) == (rows[i].first_bad == n), "row %zu ok", i);
        CHECK(gh_utf8_valid(copy, n) == rows[i].complete, "row %zu valid", i);
        if (!gh_utf8_ok(&u))
            CHECK(gh_utf8_feed(&u, (const uint8_t *)"a", 1) == 0, "row %zu sticky", i);
        /* one byte at a time gives the same answer */
        gh_utf8_init(&u);
        size_t k = 0;
        while (k < n && gh_utf8_feed(&u, copy + k, 1) == 1)
            k++;
        CHECK(k == rows[i].first_bad && gh_utf8_complete(&u) == rows[i].complete,
              "row %zu bytewise %zu", i, k);
        free(copy);
    }
    END_CHECKS();
}

/* The eight-byte ASCII loop: a bad byte at every offset and alignment. */
static void test_utf8_ascii_fast_path(void **state)
{
    (void)state;
    uint8_t buf[80];
    for (size_t start = 0; start < 8; start++) {
        for (size_t bad = start; bad < sizeof buf; bad++) {
            memset(buf, 'a', sizeof buf);
            buf[bad] = 0x80;
            struct gh_utf8 u = { 0 };
            assert_int_equal(gh_utf8_feed(&u, buf + start, sizeof buf - start), bad - start);
            memset(buf, 'a', sizeof buf);
            buf[bad] = 0xc3;    /* a two-byte lead whose continuation is 'a' */
            gh_utf8_init(&u);
            size_t want = bad + 1 < sizeof buf ? bad + 1 - start : sizeof buf - start;
            assert_int_equal(gh_utf8_feed(&u, buf + start, sizeof buf - start), want);
        }
    }
    /* all ASCII: complete */
    memset(buf, 0x7f, sizeof buf);
    assert_true(gh_utf8_valid(buf, sizeof buf));
}

/* A text split anywhere (two and three pieces) gives the one-shot answer. */
static void test_utf8_splits(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf!",
        "\xe2\x82\xac\xe2\x82",             /* truncated */
        "ab\xed\xa0\x80z",                  /* surrogate */
        "\xf0\x9f\x98\x80\xc0\xaf",         /* overlong after a valid char */
    };
    for (size_t t = 0; t < ARRAY_LEN(texts); t++) {
        const uint8_t *s = (const uint8_t *)texts[t];
        size_t n = strlen(texts[t]);
        struct gh_utf8 u;
        gh_utf8_init(&u);
        size_t whole = gh_utf8_feed(&u, s, n);
        bool complete = gh_utf8_complete(&u);
        for (size_t a = 0; a <= n; a++) {
            for (size_t b = a; b <= n; b++) {
                gh_utf8_init(&u);
                size_t got = gh_utf8_feed(&u, s, a);
                if (got == a) {
                    size_t g2 = gh_utf8_feed(&u, s + a, b - a);
                    got = a + g2;
                    if (g2 == b - a)
                        got = b + gh_utf8_feed(&u, s + b, n - b);
                }
                assert_int_equal(got, whole);
                assert_int_equal(gh_utf8_complete(&u), complete);
            }
        }
    }
}

/* ==== the framers' driver ================================================== */

enum framer_kind { LINE, LENGTH };

struct subject {
    enum framer_kind kind;
    struct gh_line_config line;
    struct gh_length_config length;
};

struct outcome {
    const char *reason;         /* NULL: never rejected */
    size_t released;
    uint64_t frames;
    uint64_t bytes;
};

/* What a framer may hold unreleased: max_line - 1, or a prefix minus one. */
static size_t hold_bound(const struct subject *s)
{
    return s->kind == LINE ? s->line.max_line - 1 : s->length.prefix_bytes - 1;
}

/* Feeds in[0, len) as it would arrive in pieces ending at cuts[] (sorted),
 * keeping unreleased bytes the way a connection does. */
static struct outcome drive(const struct subject *s, const uint8_t *in, size_t len,
                            const size_t *cuts, size_t n_cuts)
{
    struct gh_line_framer lf;
    struct gh_length_framer nf;
    struct outcome o = { NULL, 0, 0, 0 };
    struct gh_framer_verdict v;
    size_t fed = 0;

    if (s->kind == LINE)
        gh_line_framer_init(&lf, &s->line);
    else
        gh_length_framer_init(&nf, &s->length);
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t upto = k < n_cuts ? cuts[k] : len;
        if (upto <= fed && k < n_cuts)
            continue;
        fed = upto;
        size_t pending = fed - o.released;
        uint8_t *buf = dup_exact(in + o.released, pending);
        if (s->kind == LINE)
            gh_line_framer_feed(&lf, buf, pending, &v);
        else
            gh_length_framer_feed(&nf, buf, pending, &v);
        CHECK(v.release <= pending, "released %zu of %zu", v.release, pending);
        CHECK(memcmp(buf, in + o.released, pending) == 0, "input modified");
        CHECK(v.reply == NULL && v.reply_len == 0, "tcp framers send no reply");
        free(buf);
        o.released += v.release;
        if (v.action == GH_FRAME_REJECT) {
            CHECK(v.reason != NULL, "reject without reason");
            o.reason = v.reason;
            /* sticky: the same answer, nothing released */
            uint8_t more[1] = { 'x' };
            if (s->kind == LINE)
                gh_line_framer_feed(&lf, more, 1, &v);
            else
                gh_length_framer_feed(&nf, more, 1, &v);
            CHECK(v.action == GH_FRAME_REJECT && v.release == 0 &&
                      same_reason(v.reason, o.reason), "reject not sticky");
            break;
        }
        CHECK(v.action == GH_FRAME_CONTINUE && v.reason == NULL, "continue with a reason");
        CHECK(fed - o.released <= hold_bound(s), "holds %zu bytes", fed - o.released);
    }
    const struct gh_framing_stats *st = s->kind == LINE ? &lf.stats : &nf.stats;
    o.frames = st->frames;
    o.bytes = st->bytes;
    CHECK(o.bytes == o.released, "stats.bytes %llu, released %zu", (unsigned long long)o.bytes,
          o.released);
    return o;
}

static bool same_outcome(struct outcome a, struct outcome b)
{
    return same_reason(a.reason, b.reason) && a.released == b.released &&
           a.frames == b.frames && a.bytes == b.bytes;
}

/* Whole, byte by byte, and split in two at every position (every 7th past
 * 2 KiB): all must agree with each other and with the expectation. */
static void expect_at(int line, const struct subject *s, const uint8_t *in, size_t len,
                      const char *reason, size_t released, uint64_t frames)
{
    row_line = line;
    struct outcome whole = drive(s, in, len, NULL, 0);
    CHECK(same_reason(whole.reason, reason), "reason %s, want %s",
          whole.reason ? whole.reason : "(none)", reason ? reason : "(none)");
    CHECK(whole.released == released, "released %zu, want %zu", whole.released, released);
    CHECK(whole.frames == frames, "frames %llu, want %llu", (unsigned long long)whole.frames,
          (unsigned long long)frames);

    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct outcome bytewise = drive(s, in, len, cuts, len ? len - 1 : 0);
    CHECK(same_outcome(bytewise, whole), "byte by byte: %s, %zu released",
          bytewise.reason ? bytewise.reason : "(none)", bytewise.released);
    size_t step = len > 2048 ? 7 : 1;
    for (size_t at = 0; at <= len; at += step) {
        struct outcome two = drive(s, in, len, &at, 1);
        CHECK(same_outcome(two, whole), "split at %zu: %s, %zu released", at,
              two.reason ? two.reason : "(none)", two.released);
    }
    free(cuts);
    row_line = 0;
}

/* EXPECT(subject, bytes, len, reason, released, frames); S("...") gives
 * bytes and len for a literal. */
#define EXPECT(s, ...) expect_at(__LINE__, (s), __VA_ARGS__)

static struct subject line_subject(enum gh_line_terminator t, size_t max_line,
                                   enum gh_line_charset cs)
{
    struct subject s;
    memset(&s, 0, sizeof s);
    s.kind = LINE;
    s.line.terminator = t;
    s.line.max_line = max_line;
    s.line.charset = cs;
    return s;
}

static struct subject length_subject(unsigned pb, enum gh_length_endian e, bool incl,
                                     uint64_t max_frame)
{
    struct subject s;
    memset(&s, 0, sizeof s);
    s.kind = LENGTH;
    s.length.prefix_bytes = pb;
    s.length.endian = e;
    s.length.length_includes_prefix = incl;
    s.length.max_frame = max_frame;
    return s;
}

/* ==== line framing ========================================================= */

static void test_line_lf_any(void **state)
{
    (void)state;
    struct subject s = line_subject(GH_LINE_LF, 8, GH_CHARSET_ANY);
    EXPECT(&s, S(""), NULL, 0, 0);
    EXPECT(&s, S("abc"), NULL, 0, 0);                   /* held, no verdict yet */
    EXPECT(&s, S("a\n"), NULL, 2, 1);
    EXPECT(&s, S("\n"), NULL, 1, 1);                    /* empty line */
    EXPECT(&s, S("\n\n\n"), NULL, 3, 3);
    EXPECT(&s, S("ab\ncd\nef"), NULL, 6, 2);
    EXPECT(&s, S("a\r\n"), NULL, 3, 1);                 /* CR is content under lf */
    EXPECT(&s, S("\x00\x01\xff\x7f\n"), NULL, 5, 1);    /* any byte */
    /* max_line 8 counts the LF: 7 content bytes fit, 8 do not */
    EXPECT(&s, S("1234567\n"), NULL, 8, 1);
    EXPECT(&s, S("12345678\n"), "line_too_long", 0, 0);
    EXPECT(&s, S("12345678"), "line_too_long", 0, 0);   /* known before any LF */
    EXPECT(&s, S("1234567"), NULL, 0, 0);
    EXPECT(&s, S("ok\n1234567\n12345678"), "line_too_long", 11, 2);
    EXPECT(&s, S("1234567\n1234567\n1234567\n"), NULL, 24, 3);
    END_CHECKS();
}

static void test_line_lf_printable(void **state)
{
    (void)state;
    struct subject s = line_subject(GH_LINE_LF, 64, GH_CHARSET_PRINTABLE_ASCII);
    EXPECT(&s, S("hello world ~!\n"), NULL, 15, 1);
    EXPECT(&s, S("tab\there\n"), NULL, 9, 1);
    EXPECT(&s, S("\n"), NULL, 1, 1);
    EXPECT(&s, S("a\x01\n"), "bad_char", 0, 0);
    EXPECT(&s, S("a\x1f"), "bad_char", 0, 0);
    EXPECT(&s, S("a\x7f"), "bad_char", 0, 0);
    EXPECT(&s, S("a\x80"), "bad_char", 0, 0);
    EXPECT(&s, S("\xc3\xa9\n"), "bad_char", 0, 0);
    EXPECT(&s, S("a\x00"), "bad_char", 0, 0);
    EXPECT(&s, S("crlf\r\n"), "bad_char", 0, 0);        /* CR is content under lf */
    EXPECT(&s, S("good\nb\x0b"), "bad_char", 5, 1);
    /* every byte value on its own line */
    for (unsigned c = 0; c < 256; c++) {
        if (c == '\n')
            continue;
        uint8_t in[2] = { (uint8_t)c, '\n' };
        bool ok = c == '\t' || (c >= 0x20 && c <= 0x7e);
        EXPECT(&s, in, 2, ok ? NULL : "bad_char", ok ? 2 : 0, ok ? 1 : 0);
    }
    /* length is decided before charset */
    struct subject t = line_subject(GH_LINE_LF, 3, GH_CHARSET_PRINTABLE_ASCII);
    EXPECT(&t, S("ab\x01"), "line_too_long", 0, 0);
    END_CHECKS();
}

static void test_line_lf_utf8(void **state)
{
    (void)state;
    struct subject s = line_subject(GH_LINE_LF, 64, GH_CHARSET_UTF8);
    EXPECT(&s, S("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\n"), NULL, 16, 1);
    EXPECT(&s, S("tab\tok\n"), NULL, 7, 1);
    EXPECT(&s, S("\xc3\n"), "bad_utf8", 0, 0);               /* LF inside a character */
    EXPECT(&s, S("\xe2\x82\n"), "bad_utf8", 0, 0);
    EXPECT(&s, S("\xc0\xaf\n"), "bad_utf8", 0, 0);           /* overlong */
    EXPECT(&s, S("\xed\xa0\x80\n"), "bad_utf8", 0, 0);       /* surrogate */
    EXPECT(&s, S("\xf4\x90\x80\x80\n"), "bad_utf8", 0, 0);   /* > U+10FFFF */
    EXPECT(&s, S("\x80\n"), "bad_utf8", 0, 0);
    EXPECT(&s, S("a\x01\n"), "bad_char", 0, 0);              /* controls stay out */
    EXPECT(&s, S("a\x7f\n"), "bad_char", 0, 0);
    EXPECT(&s, S("\xc3\x01"), "bad_utf8", 0, 0);             /* an open sequence first */
    EXPECT(&s, S("ok\n\xc3\xa9\n\xff"), "bad_utf8", 6, 2);
    /* a 4-byte character at the very end of the longest line */
    struct subject t = line_subject(GH_LINE_LF, 6, GH_CHARSET_UTF8);
    EXPECT(&t, S("a\xf0\x9f\x98\x80\n"), NULL, 6, 1);
    EXPECT(&t, S("ab\xf0\x9f\x98\x80\n"), "line_too_long", 0, 0);
    END_CHECKS();
}

static void test_line_crlf(void **state)
{
    (void)state;
    struct subject s = line_subject(GH_LINE_CRLF, 6, GH_CHARSET_ANY);
    EXPECT(&s, S("ab\r\n"), NULL, 4, 1);
    EXPECT(&s, S("\r\n"), NULL, 2, 1);
    EXPECT(&s, S("\r\n\r\n"), NULL, 4, 2);
    EXPECT(&s, S("ab\r"), NULL, 0, 0);                       /* held: LF may come */
    EXPECT(&s, S("ab\n"), "bad_line_ending", 0, 0);          /* bare LF */
    EXPECT(&s, S("\n"), "bad_line_ending", 0, 0);
    EXPECT(&s, S("ab\rc"), "bad_line_ending", 0, 0);         /* bare CR */
    EXPECT(&s, S("ab\r\r\n"), "bad_line_ending", 0, 0);
    EXPECT(&s, S("ok\r\nab\n"), "bad_line_ending", 4, 1);
    /* max_line 6 counts CR LF: 4 content bytes fit, 5 do not */
    EXPECT(&s, S("abcd\r\n"), NULL, 6, 1);
    EXPECT(&s, S("abcde\r\n"), "line_too_long", 0, 0);
    EXPECT(&s, S("abcde"), "line_too_long", 0, 0);
    EXPECT(&s, S("abcd"), NULL, 0, 0);
    EXPECT(&s, S("abcd\r"), NULL, 0, 0);
    EXPECT(&s, S("\x00\x80\xff\x7f\r\n"), NULL, 6, 1);
    /* the smallest max_line: only empty lines */
    struct subject t = line_subject(GH_LINE_CRLF, 2, GH_CHARSET_ANY);
    EXPECT(&t, S("\r\n\r\n"), NULL, 4, 2);
    EXPECT(&t, S("\r\na"), "line_too_long", 2, 1);
    END_CHECKS();
}

static void test_line_crlf_charsets(void **state)
{
    (void)state;
    struct subject p = line_subject(GH_LINE_CRLF, 32, GH_CHARSET_PRINTABLE_ASCII);
    EXPECT(&p, S("GET x\r\n"), NULL, 7, 1);
    EXPECT(&p, S("a\x00\r\n"), "bad_char", 0, 0);
    EXPECT(&p, S("a\xc3\xa9\r\n"), "bad_char", 0, 0);
    EXPECT(&p, S("a\n"), "bad_line_ending", 0, 0);
    struct subject u = line_subject(GH_LINE_CRLF, 32, GH_CHARSET_UTF8);
    EXPECT(&u, S("\xc3\xa9t\xc3\xa9\r\n"), NULL, 7, 1);
    EXPECT(&u, S("\xc3\r\n"), "bad_utf8", 0, 0);             /* CR inside a character */
    EXPECT(&u, S("\xe2\x82\r\n"), "bad_utf8", 0, 0);
    EXPECT(&u, S("\xc3\n"), "bad_line_ending", 0, 0);        /* line ending rule first */
    EXPECT(&u, S("a\x1b\r\n"), "bad_char", 0, 0);
    END_CHECKS();
}

/* Lines of several shapes split at every position: the driver already does
 * every two-piece split; here each line is also fed as the tail of a
 * previous one, so "scanned" carries over a released line. */
static void test_line_resume(void **state)
{
    (void)state;
    static const enum gh_line_charset sets[] = { GH_CHARSET_ANY, GH_CHARSET_PRINTABLE_ASCII,
                                                  GH_CHARSET_UTF8 };
    for (size_t c = 0; c < ARRAY_LEN(sets); c++) {
        struct subject lf = line_subject(GH_LINE_LF, 16, sets[c]);
        struct subject crlf = line_subject(GH_LINE_CRLF, 16, sets[c]);
        EXPECT(&lf, S("first line\nsecond\nthird one\nx"), NULL, 28, 3);
        EXPECT(&crlf, S("first line\r\nsecond\r\nthird one\r\nx"), NULL, 31, 3);
        EXPECT(&lf, S("first line\nsecond\n0123456789abcdef"), "line_too_long", 18, 2);
        EXPECT(&crlf, S("first line\r\nsecond\r\n0123456789abcdef"), "line_too_long", 20, 2);
    }
    END_CHECKS();
}

/* Held bytes passed again are not looked at again: a caller that passes
 * fewer than were held gets nothing, and the verdict resumes when it
 * passes them all. */
static void test_line_held_contract(void **state)
{
    (void)state;
    struct gh_line_config cfg = { GH_LINE_LF, GH_CHARSET_PRINTABLE_ASCII, 16 };
    struct gh_line_framer f;
    struct gh_framer_verdict v;
    assert_true(gh_line_framer_init(&f, &cfg));
    gh_line_framer_feed(&f, S("abcd"), &v);
    assert_int_equal(v.release, 0);
    assert_int_equal(v.action, GH_FRAME_CONTINUE);
    gh_line_framer_feed(&f, S("ab"), &v);               /* dropped held bytes */
    assert_int_equal(v.release, 0);
    assert_int_equal(v.action, GH_FRAME_CONTINUE);
    gh_line_framer_feed(&f, S("abcdef\n"), &v);
    assert_int_equal(v.release, 7);
    assert_int_equal(f.stats.frames, 1);
    assert_int_equal(f.stats.bytes, 7);
}

static void test_line_config(void **state)
{
    (void)state;
    struct gh_line_framer f;
    struct gh_framer_verdict v;
    struct gh_line_config cfg = { GH_LINE_LF, GH_CHARSET_ANY, 1 };
    assert_true(gh_line_framer_init(&f, &cfg));         /* only empty lines */
    gh_line_framer_feed(&f, S("\n\na"), &v);
    assert_int_equal(v.release, 2);
    assert_int_equal(v.action, GH_FRAME_REJECT);
    assert_string_equal(v.reason, "line_too_long");

    static const struct gh_line_config bad[] = {
        { GH_LINE_LF, GH_CHARSET_ANY, 0 },
        { GH_LINE_CRLF, GH_CHARSET_ANY, 1 },
        { (enum gh_line_terminator)7, GH_CHARSET_ANY, 10 },
        { GH_LINE_LF, (enum gh_line_charset)9, 10 },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_false(gh_line_framer_init(&f, &bad[i]));
        gh_line_framer_feed(&f, S("a\n"), &v);
        assert_int_equal(v.action, GH_FRAME_REJECT);
        assert_int_equal(v.release, 0);
        assert_string_equal(v.reason, "bad_config");
    }
}

/* ==== length framing ======================================================= */

/* A prefix for value n in pb bytes. */
static size_t put_prefix(uint8_t *out, unsigned pb, enum gh_length_endian e, uint64_t n)
{
    for (unsigned k = 0; k < pb; k++) {
        unsigned shift = e == GH_LENGTH_BIG ? 8 * (pb - 1 - k) : 8 * k;
        out[k] = (uint8_t)(n >> shift);
    }
    return pb;
}

/* prefix + payload of n bytes; the value written counts the prefix if asked. */
static size_t put_frame(uint8_t *out, const struct gh_length_config *c, uint64_t n)
{
    size_t o = put_prefix(out, c->prefix_bytes, c->endian,
                          n + (c->length_includes_prefix ? c->prefix_bytes : 0));
    for (uint64_t i = 0; i < n; i++)
        out[o++] = (uint8_t)('a' + i % 26);
    return o;
}

static void test_length_every_shape(void **state)
{
    (void)state;
    static const unsigned widths[] = { 1, 2, 4 };
    static uint8_t in[4096];
    for (size_t w = 0; w < ARRAY_LEN(widths); w++) {
        for (int e = 0; e < 2; e++) {
            for (int incl = 0; incl < 2; incl++) {
                unsigned pb = widths[w];
                enum gh_length_endian end = e ? GH_LENGTH_LITTLE : GH_LENGTH_BIG;
                uint64_t max = pb == 1 ? 200 : 300;
                if (pb == 1 && incl)
                    max = 253;          /* so that max + 1 still fits in the byte */
                struct subject s = length_subject(pb, end, incl, max);
                const struct gh_length_config *c = &s.length;
                size_t n;

                /* one frame: 1 byte, a few, exactly max */
                n = put_frame(in, c, 1);
                EXPECT(&s, in, n, NULL, n, 1);
                n = put_frame(in, c, 5);
                EXPECT(&s, in, n, NULL, n, 1);
                n = put_frame(in, c, max);
                EXPECT(&s, in, n, NULL, n, 1);
                /* three frames back to back, then half a prefix or a payload */
                n = put_frame(in, c, 3);
                n += put_frame(in + n, c, 1);
                n += put_frame(in + n, c, 7);
                size_t three = n;
                EXPECT(&s, in, n, NULL, three, 3);
                n += put_frame(in + n, c, 9) - 4;           /* 9-byte frame cut short */
                EXPECT(&s, in, n, NULL, n, 3);
                if (pb > 1) {
                    n = three + put_prefix(in + three, pb, end, 50) - 1;
                    EXPECT(&s, in, n, NULL, three, 3);      /* partial prefix held */
                }
                /* over the limit: refused at the prefix, nothing of it released */
                n = put_prefix(in, pb, end, max + 1 + (incl ? pb : 0));
                if (max + 1 + (incl ? pb : 0) < ((uint64_t)1 << (8 * pb)))
                    EXPECT(&s, in, n, "frame_too_large", 0, 0);
                n = put_frame(in, c, 2);
                n += put_prefix(in + n, pb, end, (uint64_t)-1);    /* all ones */
                EXPECT(&s, in, n, "frame_too_large", pb + 2, 1);
                /* zero and short lengths */
                n = put_prefix(in, pb, end, 0);
                EXPECT(&s, in, n, "zero_length", 0, 0);
                if (incl) {
                    n = put_prefix(in, pb, end, pb);        /* only the prefix */
                    EXPECT(&s, in, n, "zero_length", 0, 0);
                    if (pb > 1) {
                        n = put_prefix(in, pb, end, pb - 1);
                        EXPECT(&s, in, n, "bad_length", 0, 0);
                    }
                }
                n = put_frame(in, c, 4);
                n += put_prefix(in + n, pb, end, 0);
                EXPECT(&s, in, n, "zero_length", pb + 4, 1);
            }
        }
    }
    END_CHECKS();
}

/* The two byte orders read the same bytes differently. */
static void test_length_endianness(void **state)
{
    (void)state;
    static const uint8_t two[] = { 0x01, 0x00, 'x' };
    struct subject big = length_subject(2, GH_LENGTH_BIG, false, 255);
    struct subject little = length_subject(2, GH_LENGTH_LITTLE, false, 255);
    EXPECT(&big, two, sizeof two, "frame_too_large", 0, 0);     /* 256 */
    EXPECT(&little, two, sizeof two, NULL, 3, 1);               /* 1 */
    static const uint8_t four[] = { 0x00, 0x00, 0x00, 0x02, 'a', 'b' };
    struct subject big4 = length_subject(4, GH_LENGTH_BIG, false, 2);
    struct subject little4 = length_subject(4, GH_LENGTH_LITTLE, false, 0xffffffffu);
    EXPECT(&big4, four, sizeof four, NULL, 6, 1);
    EXPECT(&little4, four, sizeof four, NULL, 6, 0);    /* 0x02000000: payload goes on */
    static const uint8_t incl[] = { 0x00, 0x06, 'a', 'b', 'c', 'd' };
    struct subject inb = length_subject(2, GH_LENGTH_BIG, true, 4);
    struct subject exb = length_subject(2, GH_LENGTH_BIG, false, 6);
    EXPECT(&inb, incl, sizeof incl, NULL, 6, 1);        /* 6 - 2 = 4 payload bytes */
    EXPECT(&exb, incl, sizeof incl, NULL, 6, 0);        /* 6 payload bytes: 2 to come */
    END_CHECKS();
}

/* Payload is released as it arrives, before the frame is complete. */
static void test_length_streams_payload(void **state)
{
    (void)state;
    struct gh_length_config cfg = { 2, GH_LENGTH_BIG, false, 1000 };
    struct gh_length_framer f;
    struct gh_framer_verdict v;
    assert_true(gh_length_framer_init(&f, &cfg));
    gh_length_framer_feed(&f, (const uint8_t *)"\x03", 1, &v);
    assert_int_equal(v.release, 0);                     /* half a prefix */
    gh_length_framer_feed(&f, (const uint8_t *)"\x03", 0, &v);
    assert_int_equal(v.release, 0);                     /* fewer than held */
    gh_length_framer_feed(&f, (const uint8_t *)"\x03\xe8xy", 4, &v);
    assert_int_equal(v.release, 4);                     /* prefix + 2 payload bytes */
    assert_int_equal(f.remaining, 998);
    gh_length_framer_feed(&f, (const uint8_t *)"z", 1, &v);
    assert_int_equal(v.release, 1);
    assert_int_equal(f.stats.bytes, 5);
    assert_int_equal(f.stats.frames, 0);
}

static void test_length_config(void **state)
{
    (void)state;
    static const struct gh_length_config bad[] = {
        { 0, GH_LENGTH_BIG, false, 10 },
        { 3, GH_LENGTH_BIG, false, 10 },
        { 8, GH_LENGTH_BIG, false, 10 },
        { 2, GH_LENGTH_BIG, false, 0 },
        { 2, (enum gh_length_endian)5, false, 10 },
    };
    struct gh_length_framer f;
    struct gh_framer_verdict v;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_false(gh_length_framer_init(&f, &bad[i]));
        gh_length_framer_feed(&f, (const uint8_t *)"\x00\x01x", 3, &v);
        assert_int_equal(v.action, GH_FRAME_REJECT);
        assert_int_equal(v.release, 0);
        assert_string_equal(v.reason, "bad_config");
        assert_null(v.reply);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_exhaustive),
        cmocka_unit_test(test_utf8_cases),
        cmocka_unit_test(test_utf8_ascii_fast_path),
        cmocka_unit_test(test_utf8_splits),
        cmocka_unit_test(test_line_lf_any),
        cmocka_unit_test(test_line_lf_printable),
        cmocka_unit_test(test_line_lf_utf8),
        cmocka_unit_test(test_line_crlf),
        cmocka_unit_test(test_line_crlf_charsets),
        cmocka_unit_test(test_line_resume),
        cmocka_unit_test(test_line_held_contract),
        cmocka_unit_test(test_line_config),
        cmocka_unit_test(test_length_every_shape),
        cmocka_unit_test(test_length_endianness),
        cmocka_unit_test(test_length_streams_payload),
        cmocka_unit_test(test_length_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
