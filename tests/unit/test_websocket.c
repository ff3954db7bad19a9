/* test_websocket.c - unit tests for the WebSocket module (src/websocket.c).
 *
 * Pins the contract of include/gatehouse/websocket.h:
 *  - the frame validator against the cases of RFC 6455 section 5: every
 *    opcode, every length encoding (7-bit, 16-bit, 64-bit, 64-bit with the
 *    top bit set, non-minimal ones), masking in both directions,
 *    fragmentation with interleaved control frames, frame and message
 *    limits, UTF-8 split at every byte position across fragments and feeds,
 *    invalid UTF-8, close frames (every reserved code range, reasons), RSV
 *    bits with and without permessage-deflate, the reply close frame, the
 *    counters;
 *  - every frame input is driven the way a connection drives a framer
 *    (unreleased bytes kept and passed again) whole, one byte at a time and
 *    split in two at every position, and all runs must agree on the reason,
 *    the total released and the counters; released never exceeds what was
 *    fed, the input is never modified (masked data goes on masked), held
 *    bytes never exceed a header plus a close payload, rejects are sticky;
 *  - the handshake: the upgrade request's checks (each header missing or
 *    wrong, keys, version 8 -> 426, Origin allow-list) and the backend's
 *    101 (RFC 6455 1.3's example key and accept, extensions, subprotocols).
 *
 * Every feed gets a heap copy of exactly the bytes passed, so a run under
 * AddressSanitizer catches any read past the end. Checks are soft (CHECK):
 * every failing case is reported with its line before the test fails. */
#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"
#include "gatehouse/utf8.h"
#include "gatehouse/websocket.h"

/* ---- building frames ----------------------------------------------------- */

#define FIN 0x80u
#define RSV1 0x40u
#define RSV2 0x20u
#define RSV3 0x10u
#define OP_CONT 0x0u
#define OP_TEXT 0x1u
#define OP_BIN 0x2u
#define OP_CLOSE 0x8u
#define OP_PING 0x9u
#define OP_PONG 0xau

#define WIRE_MAX ((size_t)200 * 1024)

struct wire {
    uint8_t d[WIRE_MAX];
    size_t n;
};

static const uint8_t mask_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

enum len_form { LEN_MIN, LEN_16, LEN_64 };

/* A frame header for a payload of n bytes, with the length written in the
 * form asked for (LEN_MIN: the minimal one). */
static void put_header(struct wire *w, unsigned b0, uint64_t n, bool masked, enum len_form form)
{
    uint8_t mbit = masked ? 0x80 : 0x00;
    w->d[w->n++] = (uint8_t)b0;
    if (form == LEN_MIN)
        form = n < 126 ? LEN_MIN : n <= 0xffff ? LEN_16 : LEN_64;
    if (form == LEN_MIN) {
        w->d[w->n++] = (uint8_t)(mbit | n);
    } else if (form == LEN_16) {
        w->d[w->n++] = mbit | 126;
        w->d[w->n++] = (uint8_t)(n >> 8);
        w->d[w->n++] = (uint8_t)n;
    } else {
        w->d[w->n++] = mbit | 127;
        for (int k = 7; k >= 0; k--)
            w->d[w->n++] = (uint8_t)(n >> (8 * k));
    }
    if (masked)
        for (int k = 0; k < 4; k++)
            w->d[w->n++] = mask_key[k];
}

/* A whole frame; payload NULL means n filler bytes ('a'..'z'). */
static void put_frame_form(struct wire *w, unsigned b0, const void *payload, size_t n,
                           bool masked, enum len_form form)
{
    put_header(w, b0, n, masked, form);
    assert_true(w->n + n <= WIRE_MAX);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = payload ? ((const uint8_t *)payload)[i] : (uint8_t)('a' + i % 26);
        w->d[w->n++] = masked ? b ^ mask_key[i & 3] : b;
    }
}

/* A client's frame (masked) and a server's (unmasked). */
static void cframe(struct wire *w, unsigned b0, const void *p, size_t n)
{
    put_frame_form(w, b0, p, n, true, LEN_MIN);
}

static void sframe(struct wire *w, unsigned b0, const void *p, size_t n)
{
    put_frame_form(w, b0, p, n, false, LEN_MIN);
}

static void cstr(struct wire *w, unsigned b0, const char *s)
{
    cframe(w, b0, s, strlen(s));
}

/* A client close frame with code (-1: none) and reason. */
static void cclose(struct wire *w, int code, const char *reason, size_t reason_len)
{
    uint8_t p[200];
    size_t n = 0;
    if (code >= 0) {
        p[n++] = (uint8_t)(code >> 8);
        p[n++] = (uint8_t)code;
    }
    memcpy(p + n, reason, reason_len);
    n += reason_len;
    cframe(w, FIN | OP_CLOSE, p, n);
}

static struct wire *wire_new(void)
{
    struct wire *w = calloc(1, sizeof *w);
    assert_non_null(w);
    return w;
}

/* Bytes of a client frame header for a payload of n bytes. */
static size_t chdr(uint64_t n)
{
    return (n < 126 ? 2 : n <= 0xffff ? 4 : 10) + 4;
}

static size_t shdr(uint64_t n)
{
    return n < 126 ? 2 : n <= 0xffff ? 4 : 10;
}

/* ---- the driver ----------------------------------------------------------- */

struct setup {
    enum gh_ws_direction dir;
    struct gh_ws_limits limits;
    bool deflate;
};

static const struct setup C2S = { GH_WS_CLIENT_TO_SERVER, { 0, 0, 0 }, false };
static const struct setup S2C = { GH_WS_SERVER_TO_CLIENT, { 0, 0, 0 }, false };
static const struct setup C2S_DEFLATE = { GH_WS_CLIENT_TO_SERVER, { 0, 0, 0 }, true };
static const struct setup S2C_DEFLATE = { GH_WS_SERVER_TO_CLIENT, { 0, 0, 0 }, true };
/* text frames of up to 64 payload bytes held whole */
#define HOLD_MAX 64
static const struct setup C2S_HOLD = { GH_WS_CLIENT_TO_SERVER, { 0, 0, HOLD_MAX }, false };

struct outcome {
    const char *reason;         /* NULL: never rejected */
    size_t released;
    uint16_t reply_code;
    bool closed;                /* a close frame went by: the rest is the caller's to drop */
    struct gh_ws_stats stats;
};

/* The reply a reject carries: an unmasked close frame with the code and the
 * reason code as its text. */
static void check_reply(const struct gh_framer_verdict *v, const struct gh_ws_validator *val)
{
    const uint8_t *r = (const uint8_t *)v->reply;
    size_t text = strlen(v->reason);
    CHECK(r != NULL, "no reply");
    if (!r)
        return;
    CHECK(v->reply_len == 4 + text && v->reply_len <= GH_WS_REPLY_MAX, "reply_len %zu",
          v->reply_len);
    CHECK(r[0] == 0x88 && r[1] == 2 + text, "reply header %02x %02x", r[0], r[1]);
    CHECK((r[2] << 8 | r[3]) == val->reply_code, "reply code %d", r[2] << 8 | r[3]);
    CHECK(memcmp(r + 4, v->reason, text) == 0, "reply text");
    CHECK(r >= (const uint8_t *)val && r < (const uint8_t *)(val + 1), "reply not owned");
}

static struct outcome drive(const struct setup *s, const uint8_t *in, size_t len,
                            const size_t *cuts, size_t n_cuts)
{
    static struct gh_ws_validator v;
    struct gh_framer_verdict out;
    struct outcome o;
    size_t fed = 0;

    memset(&o, 0, sizeof o);
    gh_ws_validator_init(&v, s->dir, &s->limits, s->deflate);
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t upto = k < n_cuts ? cuts[k] : len;
        if (upto <= fed && k < n_cuts)
            continue;
        fed = upto;
        size_t pending = fed - o.released;
        uint8_t *buf = dup_exact(in + o.released, pending);
        gh_ws_validator_feed(&v, buf, pending, &out);
        CHECK(out.release <= pending, "released %zu of %zu", out.release, pending);
        CHECK(memcmp(buf, in + o.released, pending) == 0, "input modified");
        free(buf);
        o.released += out.release;
        if (out.action == GH_FRAME_REJECT) {
            o.reason = out.reason;
            o.reply_code = v.reply_code;
            check_reply(&out, &v);
            uint8_t more[2] = { 0x81, 0x80 };
            gh_ws_validator_feed(&v, more, sizeof more, &out);
            CHECK(out.action == GH_FRAME_REJECT && out.release == 0 &&
                      same_reason(out.reason, o.reason), "reject not sticky");
            break;
        }
        CHECK(out.reason == NULL && out.reply == NULL, "continue with a reason or reply");
        if (gh_ws_validator_closed(&v)) {
            /* nothing after a close is examined: the caller discards it */
            o.closed = true;
            break;
        }
        size_t hold_bound = s->limits.hold_max > GH_WS_CONTROL_MAX ? s->limits.hold_max
                                                                    : GH_WS_CONTROL_MAX;
        CHECK(fed - o.released <= GH_WS_HEADER_MAX + hold_bound, "holds %zu",
              fed - o.released);
    }
    o.stats = v.stats;
    CHECK(o.stats.wire_bytes == o.released, "wire_bytes %llu, released %zu",
          (unsigned long long)o.stats.wire_bytes, o.released);
    return o;
}

static bool same_outcome(const struct outcome *a, const struct outcome *b)
{
    return same_reason(a->reason, b->reason) && a->released == b->released &&
           a->closed == b->closed &&
           a->reply_code == b->reply_code && a->stats.frames == b->stats.frames &&
           a->stats.control_frames == b->stats.control_frames &&
           a->stats.messages == b->stats.messages &&
           a->stats.payload_bytes == b->stats.payload_bytes &&
           a->stats.wire_bytes == b->stats.wire_bytes &&
           a->stats.close_code == b->stats.close_code;
}

/* Runs in[0, len) whole, byte by byte and split in two at every position
 * (every 61st past 4 KiB) and checks that all runs agree with each other
 * and with the expected reason and total released. Returns the outcome. */
static struct outcome expect_at(int line, const struct setup *s, const uint8_t *in, size_t len,
                                const char *reason, size_t released)
{
    row_line = line;
    struct outcome whole = drive(s, in, len, NULL, 0);
    CHECK(same_reason(whole.reason, reason), "reason %s, want %s",
          whole.reason ? whole.reason : "(none)", reason ? reason : "(none)");
    CHECK(whole.released == released, "released %zu, want %zu", whole.released, released);

    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct outcome bytewise = drive(s, in, len, cuts, len ? len - 1 : 0);
    CHECK(same_outcome(&bytewise, &whole), "byte by byte: %s, %zu released",
          bytewise.reason ? bytewise.reason : "(none)", bytewise.released);
    free(cuts);
    size_t step = len > 4096 ? 61 : 1;
    for (size_t at = 0; at <= len; at += step) {
        struct outcome two = drive(s, in, len, &at, 1);
        CHECK(same_outcome(&two, &whole), "split at %zu: %s, %zu released", at,
              two.reason ? two.reason : "(none)", two.released);
    }
    row_line = 0;
    return whole;
}

#define EXPECT(s, w, reason, released) expect_at(__LINE__, (s), (w)->d, (w)->n, (reason), (released))

/* ---- opcodes ---------------------------------------------------------------- */

static void test_every_opcode(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    for (unsigned op = 0; op < 16; op++) {
        bool known = op <= 2 || (op >= 8 && op <= 10);
        const char *want = op == 0 ? "ws_bad_continuation" : known ? NULL : "ws_bad_opcode";
        /* client to server */
        w->n = 0;
        cframe(w, FIN | op, op == OP_CLOSE ? "\x03\xe8" : "ab", 2);
        struct outcome o = EXPECT(&C2S, w, want, want ? 0 : w->n);
        if (!want) {
            CHECK(o.stats.frames == 1, "frames");
            CHECK(o.stats.messages == (op < 8 ? 1u : 0u), "messages");
            CHECK(o.stats.control_frames == (op >= 8 ? 1u : 0u), "control");
            CHECK(o.stats.payload_bytes == 2, "payload");
        } else {
            CHECK(o.reply_code == 1002, "code %u", o.reply_code);
        }
        /* server to client */
        w->n = 0;
        sframe(w, FIN | op, op == OP_CLOSE ? "\x03\xe8" : "ab", 2);
        o = EXPECT(&S2C, w, want, want ? 0 : w->n);
        if (want)
            CHECK(o.reply_code == 1014, "s2c code %u", o.reply_code);
    }
    /* unknown opcodes with FIN clear, and after a valid frame */
    for (unsigned op = 3; op < 16; op++) {
        if (op >= 8 && op <= 10)
            continue;
        w->n = 0;
        cstr(w, FIN | OP_BIN, "x");
        size_t first = w->n;
        cstr(w, op, "y");
        EXPECT(&C2S, w, "ws_bad_opcode", first);
    }
    free(w);
    END_CHECKS();
}

/* ---- lengths ---------------------------------------------------------------- */

static void test_length_encodings(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct setup big = C2S;
    big.limits.max_frame = 100000;
    struct setup sbig = S2C;
    sbig.limits.max_frame = 100000;
    static const size_t ok_sizes[] = { 0, 1, 125, 126, 127, 1000, 65535, 65536, 70000 };
    for (size_t i = 0; i < ARRAY_LEN(ok_sizes); i++) {
        size_t n = ok_sizes[i];
        w->n = 0;
        cframe(w, FIN | OP_BIN, NULL, n);
        CHECK(w->n == chdr(n) + n, "built");
        struct outcome o = EXPECT(&big, w, NULL, w->n);
        CHECK(o.stats.payload_bytes == n && o.stats.frames == 1, "size %zu", n);
        w->n = 0;
        sframe(w, FIN | OP_BIN, NULL, n);
        CHECK(w->n == shdr(n) + n, "built");
        EXPECT(&sbig, w, NULL, w->n);
    }
    /* non-minimal: a 16-bit length under 126, a 64-bit one under 65536 */
    static const struct {
        size_t n;
        enum len_form form;
    } nonmin[] = { { 0, LEN_16 }, { 125, LEN_16 }, { 0, LEN_64 }, { 125, LEN_64 },
                   { 126, LEN_64 }, { 65535, LEN_64 } };
    for (size_t i = 0; i < ARRAY_LEN(nonmin); i++) {
        w->n = 0;
        put_frame_form(w, FIN | OP_BIN, NULL, nonmin[i].n, true, nonmin[i].form);
        struct outcome o = EXPECT(&big, w, "ws_nonminimal_length", 0);
        CHECK(o.reply_code == 1002, "code");
        w->n = 0;
        put_frame_form(w, FIN | OP_BIN, NULL, nonmin[i].n, false, nonmin[i].form);
        EXPECT(&sbig, w, "ws_nonminimal_length", 0);
    }
    /* 64-bit lengths with the top bit set: never valid */
    static const uint64_t top[] = { (uint64_t)1 << 63, UINT64_MAX, ((uint64_t)1 << 63) | 5 };
    for (size_t i = 0; i < ARRAY_LEN(top); i++) {
        w->n = 0;
        put_header(w, FIN | OP_BIN, top[i], true, LEN_64);
        struct outcome o = EXPECT(&big, w, "ws_bad_length", 0);
        CHECK(o.reply_code == 1002, "code");
        w->n = 0;
        put_header(w, FIN | OP_BIN, top[i], false, LEN_64);
        EXPECT(&sbig, w, "ws_bad_length", 0);
    }
    /* the largest valid 64-bit length, refused by the frame limit at once */
    w->n = 0;
    put_header(w, FIN | OP_BIN, INT64_MAX, true, LEN_64);
    struct outcome o = EXPECT(&big, w, "ws_frame_too_large", 0);
    CHECK(o.reply_code == 1009, "code");
    /* a huge frame header is known bad before the mask key arrives */
    w->n = 0;
    put_header(w, FIN | OP_BIN, (uint64_t)1 << 40, true, LEN_64);
    w->n -= 4;
    EXPECT(&big, w, "ws_frame_too_large", 0);
    /* a partial header is held, not released */
    w->n = 0;
    put_header(w, FIN | OP_BIN, 300, true, LEN_16);
    w->n -= 1;
    EXPECT(&big, w, NULL, 0);
    /* payload streams: a frame cut short releases what arrived */
    w->n = 0;
    cframe(w, FIN | OP_BIN, NULL, 1000);
    w->n -= 10;
    o = EXPECT(&big, w, NULL, w->n);
    CHECK(o.stats.frames == 0 && o.stats.payload_bytes == 990, "partial frame");
    free(w);
    END_CHECKS();
}

/* ---- masking ---------------------------------------------------------------- */

static void test_masking(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    static const unsigned ops[] = { OP_TEXT, OP_BIN, OP_PING, OP_PONG, OP_CLOSE };
    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        const char *p = ops[i] == OP_CLOSE ? "\x03\xe8" : "hi";
        /* a client frame without a mask */
        w->n = 0;
        sframe(w, FIN | ops[i], p, 2);
        struct outcome o = EXPECT(&C2S, w, "ws_unmasked", 0);
        CHECK(o.reply_code == 1002, "code");
        /* a server frame with one */
        w->n = 0;
        cframe(w, FIN | ops[i], p, 2);
        o = EXPECT(&S2C, w, "ws_masked", 0);
        CHECK(o.reply_code == 1014, "code");
    }
    /* the mask is known at byte 1: nothing more is needed */
    w->n = 0;
    w->d[w->n++] = FIN | OP_TEXT;
    w->d[w->n++] = 5;
    EXPECT(&C2S, w, "ws_unmasked", 0);
    /* an unmasked frame after good ones */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "one");
    cstr(w, FIN | OP_TEXT, "two");
    size_t good = w->n;
    sframe(w, FIN | OP_TEXT, "three", 5);
    EXPECT(&C2S, w, "ws_unmasked", good);
    /* masked text is checked unmasked: valid UTF-8 whose masked bytes are
     * not (and the other way round) */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    EXPECT(&C2S, w, NULL, w->n);
    w->n = 0;
    uint8_t masked_ascii[4];
    for (int k = 0; k < 4; k++)
        masked_ascii[k] = (uint8_t)('a' ^ mask_key[k]);     /* unmasks to "aaaa" */
    put_header(w, FIN | OP_TEXT, 4, true, LEN_MIN);
    memcpy(w->d + w->n, masked_ascii, 4);
    w->n += 4;
    EXPECT(&C2S, w, NULL, w->n);
    /* a zero mask key is a mask */
    w->n = 0;
    w->d[w->n++] = FIN | OP_TEXT;
    w->d[w->n++] = 0x80 | 2;
    memset(w->d + w->n, 0, 4);
    w->n += 4;
    w->d[w->n++] = 'o';
    w->d[w->n++] = 'k';
    EXPECT(&C2S, w, NULL, 8);
    free(w);
    END_CHECKS();
}

/* ---- fragmentation -------------------------------------------------------- */

static void test_fragmentation(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct outcome o;

    /* text in three fragments with a ping and a pong between them */
    w->n = 0;
    cstr(w, OP_TEXT, "Hel");
    cstr(w, FIN | OP_PING, "p");
    cstr(w, OP_CONT, "lo, ");
    cstr(w, FIN | OP_PONG, "");
    cstr(w, FIN | OP_CONT, "world");
    o = EXPECT(&C2S, w, NULL, w->n);
    CHECK(o.stats.frames == 5 && o.stats.messages == 1 && o.stats.control_frames == 2,
          "counts %llu %llu", (unsigned long long)o.stats.frames,
          (unsigned long long)o.stats.messages);
    CHECK(o.stats.payload_bytes == 13, "payload %llu", (unsigned long long)o.stats.payload_bytes);
    /* binary, then text, fragmented, empty fragments allowed */
    w->n = 0;
    cstr(w, OP_BIN, "");
    cstr(w, OP_CONT, "");
    cstr(w, FIN | OP_CONT, "");
    cstr(w, OP_TEXT, "a");
    cstr(w, FIN | OP_CONT, "");
    o = EXPECT(&C2S, w, NULL, w->n);
    CHECK(o.stats.messages == 2, "messages");
    /* a close inside a fragmented message is allowed; nothing may follow it */
    w->n = 0;
    cstr(w, OP_TEXT, "a");
    cclose(w, 1000, "", 0);
    size_t good = w->n;
    cstr(w, FIN | OP_CONT, "b");
    o = EXPECT(&C2S, w, NULL, good);
    CHECK(o.closed, "closed");
    /* fragmented control frames */
    static const unsigned ctl[] = { OP_PING, OP_PONG, OP_CLOSE };
    for (size_t i = 0; i < ARRAY_LEN(ctl); i++) {
        w->n = 0;
        cstr(w, ctl[i], "");
        o = EXPECT(&C2S, w, "ws_control_fragmented", 0);
        CHECK(o.reply_code == 1002, "code");
        w->n = 0;
        cstr(w, OP_TEXT, "a");
        good = w->n;
        cstr(w, ctl[i], "");
        EXPECT(&C2S, w, "ws_control_fragmented", good);
        w->n = 0;
        sframe(w, ctl[i], "", 0);
        EXPECT(&S2C, w, "ws_control_fragmented", 0);
    }
    /* continuation with no message open: at the start, after a finished one */
    w->n = 0;
    cstr(w, FIN | OP_CONT, "x");
    EXPECT(&C2S, w, "ws_bad_continuation", 0);
    w->n = 0;
    cstr(w, OP_CONT, "x");
    EXPECT(&C2S, w, "ws_bad_continuation", 0);
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "done");
    good = w->n;
    cstr(w, FIN | OP_CONT, "x");
    EXPECT(&C2S, w, "ws_bad_continuation", good);
    /* a new data frame while a message is open */
    static const unsigned data_ops[] = { OP_TEXT, OP_BIN };
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            w->n = 0;
            cstr(w, data_ops[i], "a");
            cstr(w, FIN | OP_PING, "");
            good = w->n;
            cstr(w, FIN | data_ops[j], "b");
            EXPECT(&C2S, w, "ws_expected_continuation", good);
            w->n = 0;
            sframe(w, data_ops[i], "a", 1);
            good = w->n;
            sframe(w, data_ops[j], "b", 1);
            EXPECT(&S2C, w, "ws_expected_continuation", good);
        }
    }
    free(w);
    END_CHECKS();
}

/* ---- limits ------------------------------------------------------------------ */

static void test_limits(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct setup s = C2S;
    s.limits.max_frame = 10;
    s.limits.max_message = 25;
    struct outcome o;

    w->n = 0;
    cframe(w, FIN | OP_BIN, NULL, 10);
    EXPECT(&s, w, NULL, w->n);
    w->n = 0;
    cframe(w, FIN | OP_BIN, NULL, 11);
    o = EXPECT(&s, w, "ws_frame_too_large", 0);
    CHECK(o.reply_code == 1009, "code");
    /* the limit applies to control frames too */
    w->n = 0;
    cframe(w, FIN | OP_PING, NULL, 11);
    EXPECT(&s, w, "ws_frame_too_large", 0);
    /* message: 10 + 10 + 5 fits, one more byte does not */
    w->n = 0;
    cframe(w, OP_TEXT, NULL, 10);
    cframe(w, OP_CONT, NULL, 10);
    cframe(w, FIN | OP_PING, NULL, 10);     /* control frames do not count */
    cframe(w, FIN | OP_CONT, NULL, 5);
    cframe(w, FIN | OP_BIN, NULL, 10);      /* a new message starts from zero */
    o = EXPECT(&s, w, NULL, w->n);
    CHECK(o.stats.messages == 2, "messages");
    w->n = 0;
    cframe(w, OP_TEXT, NULL, 10);
    cframe(w, OP_CONT, NULL, 10);
    size_t good = w->n;
    cframe(w, FIN | OP_CONT, NULL, 6);
    o = EXPECT(&s, w, "ws_message_too_large", good);
    CHECK(o.reply_code == 1009, "code");
    /* defaults when the limits are zero */
    static struct gh_ws_validator v;
    gh_ws_validator_init(&v, GH_WS_CLIENT_TO_SERVER, NULL, false);
    CHECK(v.max_frame == GH_WS_DEFAULT_MAX_FRAME && v.max_message == GH_WS_DEFAULT_MAX_MESSAGE,
          "defaults");
    struct gh_ws_limits zero = { 0, 0, 0 };
    gh_ws_validator_init(&v, GH_WS_CLIENT_TO_SERVER, &zero, false);
    CHECK(v.max_frame == GH_WS_DEFAULT_MAX_FRAME && v.max_message == GH_WS_DEFAULT_MAX_MESSAGE,
          "zero means default");
    w->n = 0;
    put_header(w, FIN | OP_BIN, GH_WS_DEFAULT_MAX_FRAME + 1, true, LEN_MIN);
    EXPECT(&C2S, w, "ws_frame_too_large", 0);
    /* server direction: same limits, answered with 1014 */
    struct setup t = S2C;
    t.limits.max_frame = 10;
    w->n = 0;
    sframe(w, FIN | OP_BIN, NULL, 11);
    o = EXPECT(&t, w, "ws_frame_too_large", 0);
    CHECK(o.reply_code == 1014, "code");
    free(w);
    END_CHECKS();
}

/* ---- UTF-8 in text messages -------------------------------------------------- */

static const char utf8_sample[] =
    "a\xc3\xa9"                 /* U+00E9 */
    "\xe2\x82\xac"              /* U+20AC */
    "\xf0\x9f\x98\x80"          /* U+1F600 */
    "\xed\x9f\xbf"              /* U+D7FF */
    "\xf4\x8f\xbf\xbf"          /* U+10FFFF */
    "z";

/* The sample as a message in two fragments split at every byte position,
 * and in three at every pair; each run is also split across feeds at every
 * position by the driver. */
static void test_utf8_across_fragments(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    size_t n = sizeof utf8_sample - 1;
    for (size_t k = 0; k <= n; k++) {
        w->n = 0;
        cframe(w, OP_TEXT, utf8_sample, k);
        cframe(w, FIN | OP_CONT, utf8_sample + k, n - k);
        struct outcome o = EXPECT(&C2S, w, NULL, w->n);
        CHECK(o.stats.messages == 1 && o.stats.payload_bytes == n, "k=%zu", k);
        /* a ping between the fragments changes nothing */
        w->n = 0;
        cframe(w, OP_TEXT, utf8_sample, k);
        cstr(w, FIN | OP_PING, "p");
        cframe(w, FIN | OP_CONT, utf8_sample + k, n - k);
        EXPECT(&C2S, w, NULL, w->n);
    }
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            w->n = 0;
            cframe(w, OP_TEXT, utf8_sample, a);
            cframe(w, OP_CONT, utf8_sample + a, b - a);
            cframe(w, FIN | OP_CONT, utf8_sample + b, n - b);
            struct outcome o = drive(&C2S, w->d, w->n, NULL, 0);
            row_line = __LINE__;
            CHECK(o.reason == NULL && o.released == w->n, "a=%zu b=%zu: %s", a, b,
                  o.reason ? o.reason : "");
        }
    }
    /* every byte its own fragment */
    w->n = 0;
    for (size_t k = 0; k < n; k++)
        cframe(w, (k == 0 ? OP_TEXT : OP_CONT) | (k == n - 1 ? FIN : 0), utf8_sample + k, 1);
    EXPECT(&C2S, w, NULL, w->n);
    free(w);
    END_CHECKS();
}

struct bad_text {
    const char *text;
    size_t len;
    size_t bad;             /* offset of the byte at which the text fails */
    bool truncated;         /* fails only because the message ends there */
};

/* Invalid text: each as one frame and with the message cut into two
 * fragments at every position. What is released: the headers that come
 * before the violation and every text byte before the one that fails. */
static void test_utf8_invalid(void **state)
{
    (void)state;
    static const struct bad_text rows[] = {
        { "\xc0\xaf", 2, 0, false },                     /* overlong '/' */
        { "ab\xc1\xbf", 4, 2, false },
        { "\xe0\x80\xaf", 3, 1, false },
        { "\xf0\x80\x80\xaf", 4, 1, false },
        { "\xed\xa0\x80", 3, 1, false },                 /* surrogate */
        { "x\xed\xbf\xbf", 4, 2, false },
        { "\xf4\x90\x80\x80", 4, 1, false },             /* > U+10FFFF */
        { "\xf5\x80\x80\x80", 4, 0, false },
        { "\xff", 1, 0, false },
        { "ok\x80", 3, 2, false },                       /* stray continuation */
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited", 20, 12, false },
        /* truncated at the end of the message: the last byte fails */
        { "\xc3", 1, 0, true },
        { "ab\xe2\x82", 4, 3, true },
        { "\xf0\x9f\x98", 3, 2, true },
    };
    struct wire *w = wire_new();
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        const struct bad_text *r = &rows[i];
        w->n = 0;
        cframe(w, FIN | OP_TEXT, r->text, r->len);
        struct outcome o = EXPECT(&C2S, w, "ws_bad_utf8", chdr(r->len) + r->bad);
        CHECK(o.reply_code == 1007, "row %zu code %u", i, o.reply_code);
        CHECK(o.stats.messages == 0 && o.stats.frames == 0, "row %zu counted", i);
        for (size_t k = 0; k <= r->len; k++) {
            w->n = 0;
            cframe(w, OP_TEXT, r->text, k);
            cframe(w, FIN | OP_CONT, r->text + k, r->len - k);
            size_t want;
            if (r->truncated && k == r->len)
                /* the first fragment is fine as far as it goes; the empty
                 * final one ends the message inside a character */
                want = chdr(k) + r->len;
            else if (r->bad < k)
                want = chdr(k) + r->bad;
            else
                want = chdr(k) + chdr(r->len - k) + r->bad;
            EXPECT(&C2S, w, "ws_bad_utf8", want);
        }
    }
    /* a character left open by a fragment and broken by the next */
    w->n = 0;
    cstr(w, OP_TEXT, "\xe2\x82");
    size_t good = w->n;
    cstr(w, FIN | OP_CONT, "A");
    EXPECT(&C2S, w, "ws_bad_utf8", good + chdr(1));
    /* an empty final fragment ending a message inside a character */
    w->n = 0;
    cstr(w, OP_TEXT, "\xe2\x82");
    good = w->n;
    cstr(w, FIN | OP_CONT, "");
    EXPECT(&C2S, w, "ws_bad_utf8", good);
    /* binary and ping/pong payloads are not text */
    w->n = 0;
    cstr(w, FIN | OP_BIN, "\xc0\xaf\xff");
    cstr(w, FIN | OP_PING, "\xc0\xaf\xff");
    cstr(w, FIN | OP_PONG, "\xed\xa0\x80");
    EXPECT(&C2S, w, NULL, w->n);
    /* the server direction checks framing only */
    w->n = 0;
    sframe(w, FIN | OP_TEXT, "\xc0\xaf\xff", 3);
    sframe(w, OP_TEXT, "\xe2", 1);
    sframe(w, FIN | OP_CONT, "", 0);
    EXPECT(&S2C, w, NULL, w->n);
    free(w);
    END_CHECKS();
}

/* Releases inside a text frame follow the UTF-8 check byte by byte: a
 * character is released piecewise as each of its bytes arrives. */
static void test_utf8_release_points(void **state)
{
    (void)state;
    static struct gh_ws_validator v;
    struct gh_framer_verdict out;
    struct wire *w = wire_new();
    cstr(w, FIN | OP_TEXT, "\xe2\x82\xac!");
    gh_ws_validator_init(&v, GH_WS_CLIENT_TO_SERVER, NULL, false);
    gh_ws_validator_feed(&v, w->d, 5, &out);
    assert_int_equal(out.release, 0);                   /* header incomplete */
    gh_ws_validator_feed(&v, w->d, 6, &out);
    assert_int_equal(out.release, 6);                   /* header checked */
    gh_ws_validator_feed(&v, w->d + 6, 1, &out);
    assert_int_equal(out.release, 1);                   /* E2: a valid prefix */
    gh_ws_validator_feed(&v, w->d + 7, 3, &out);
    assert_int_equal(out.release, 3);
    assert_int_equal(out.action, GH_FRAME_CONTINUE);
    assert_int_equal(v.stats.messages, 1);
    free(w);
}

/* ---- close frames -------------------------------------------------------------- */

static bool want_close_code_ok(unsigned c)
{
    switch (c) {
    case 1000: case 1001: case 1002: case 1003:
    case 1007: case 1008: case 1009: case 1010: case 1011:
    case 1012: case 1013: case 1014:
        return true;
    default:
        return c >= 3000 && c <= 4999;
    }
}

static void test_close_frames(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct outcome o;

    /* empty: fine, no code */
    w->n = 0;
    cclose(w, -1, "", 0);
    o = EXPECT(&C2S, w, NULL, w->n);
    CHECK(o.stats.close_code == 0 && o.stats.control_frames == 1, "empty close");
    /* one byte: never valid */
    w->n = 0;
    cframe(w, FIN | OP_CLOSE, "\x03", 1);
    o = EXPECT(&C2S, w, "ws_bad_close_payload", 0);
    CHECK(o.reply_code == 1002, "code");
    /* code with and without a reason, the longest payload */
    w->n = 0;
    cclose(w, 1000, "bye", 3);
    o = EXPECT(&C2S, w, NULL, w->n);
    CHECK(o.stats.close_code == 1000, "close code %d", o.stats.close_code);
    char reason[124];
    memset(reason, 'r', sizeof reason);
    w->n = 0;
    cclose(w, 4999, reason, 123);
    EXPECT(&C2S, w, NULL, w->n);
    w->n = 0;
    cclose(w, 4999, reason, 124);                       /* 126 bytes */
    EXPECT(&C2S, w, "ws_control_too_long", 0);
    w->n = 0;
    cclose(w, 1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11);
    EXPECT(&C2S, w, NULL, w->n);
    /* reasons that are not UTF-8: 1007 */
    static const char *const bad_reasons[] = { "\xc0\xaf", "ok\xed\xa0\x80", "\xe2\x82",
                                               "\xf4\x90\x80\x80", "\x80" };
    for (size_t i = 0; i < ARRAY_LEN(bad_reasons); i++) {
        w->n = 0;
        cclose(w, 1000, bad_reasons[i], strlen(bad_reasons[i]));
        o = EXPECT(&C2S, w, "ws_bad_utf8", 0);
        CHECK(o.reply_code == 1007, "code");
    }
    /* every code: whole only (the split property is covered by the ranges'
     * edges below) */
    size_t wrong = 0;
    for (unsigned c = 0; c < 65536; c++) {
        w->n = 0;
        cclose(w, (int)c, "", 0);
        o = drive(&C2S, w->d, w->n, NULL, 0);
        bool ok = o.reason == NULL;
        if (ok != want_close_code_ok(c) ||
            (!ok && (strcmp(o.reason, "ws_bad_close_code") != 0 || o.released != 0 ||
                     o.reply_code != 1002)))
            if (wrong++ < 10)
                print_error("close code %u: %s\n", c, o.reason ? o.reason : "accepted");
    }
    CHECK(wrong == 0, "%zu close codes misjudged", wrong);
    static const unsigned edges[] = { 0, 999, 1000, 1003, 1004, 1005, 1006, 1007, 1011, 1014,
                                      1015, 1016, 2000, 2999, 3000, 4999, 5000, 65535 };
    for (size_t i = 0; i < ARRAY_LEN(edges); i++) {
        w->n = 0;
        cclose(w, (int)edges[i], "why", 3);
        bool ok = want_close_code_ok(edges[i]);
        o = EXPECT(&C2S, w, ok ? NULL : "ws_bad_close_code", ok ? w->n : 0);
        if (ok)
            CHECK(o.stats.close_code == (int)edges[i], "code %u", edges[i]);
    }
    /* a bad code is reported even when the reason is bad too (it comes first) */
    w->n = 0;
    cclose(w, 1005, "\xff", 1);
    EXPECT(&C2S, w, "ws_bad_close_code", 0);
    /* the close frame is held whole: a partial one releases nothing */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "hi");
    size_t good = w->n;
    cclose(w, 1000, "going away", 10);
    w->n -= 3;
    EXPECT(&C2S, w, NULL, good);
    /* nothing after a close */
    w->n = 0;
    cclose(w, 1000, "", 0);
    good = w->n;
    cstr(w, FIN | OP_PING, "");
    o = EXPECT(&C2S, w, NULL, good);
    CHECK(o.closed && o.stats.close_code == 1000 && o.stats.frames == 1, "after close");
    w->n = 0;
    cclose(w, -1, "", 0);
    cclose(w, -1, "", 0);
    o = EXPECT(&C2S, w, NULL, 6);
    CHECK(o.closed && o.stats.frames == 1, "second close");
    /* server close frames: framing only, so odd payloads pass; not after it */
    w->n = 0;
    sframe(w, FIN | OP_CLOSE, "\x03", 1);
    EXPECT(&S2C, w, NULL, w->n);
    w->n = 0;
    sframe(w, FIN | OP_CLOSE, "\x00\x00\xff", 3);
    good = w->n;
    sframe(w, FIN | OP_TEXT, "x", 1);
    o = EXPECT(&S2C, w, NULL, good);
    CHECK(o.closed, "server closed");
    w->n = 0;
    put_header(w, FIN | OP_CLOSE, 126, false, LEN_16);
    EXPECT(&S2C, w, "ws_control_too_long", 0);
    free(w);
    END_CHECKS();
}

/* Control frames: at most 125 bytes, whatever the encoding. */
static void test_control_lengths(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    static const unsigned ctl[] = { OP_PING, OP_PONG, OP_CLOSE };
    for (size_t i = 0; i < ARRAY_LEN(ctl); i++) {
        w->n = 0;
        if (ctl[i] == OP_CLOSE)
            cclose(w, 1000, "0123456789012345678901234567890123456789012345678901234567890123456789"
                            "01234567890123456789012345678901234567890123456789012", 123);
        else
            cframe(w, FIN | ctl[i], NULL, 125);
        EXPECT(&C2S, w, NULL, w->n);
        w->n = 0;
        cframe(w, FIN | ctl[i], NULL, 126);
        EXPECT(&C2S, w, "ws_control_too_long", 0);
        w->n = 0;
        put_frame_form(w, FIN | ctl[i], NULL, 5, true, LEN_16);
        EXPECT(&C2S, w, "ws_control_too_long", 0);
        w->n = 0;
        put_frame_form(w, FIN | ctl[i], NULL, 5, true, LEN_64);
        EXPECT(&C2S, w, "ws_control_too_long", 0);
        w->n = 0;
        sframe(w, FIN | ctl[i], NULL, 126);
        EXPECT(&S2C, w, "ws_control_too_long", 0);
    }
    free(w);
    END_CHECKS();
}

/* ---- RSV bits ------------------------------------------------------------------- */

static void test_rsv_bits(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    static const unsigned all_ops[] = { OP_TEXT, OP_BIN, OP_PING, OP_PONG, OP_CLOSE };
    static const unsigned rsvs[] = { RSV1, RSV2, RSV3, RSV1 | RSV2, RSV2 | RSV3, RSV1 | RSV3,
                                     RSV1 | RSV2 | RSV3 };
    for (size_t i = 0; i < ARRAY_LEN(all_ops); i++) {
        for (size_t r = 0; r < ARRAY_LEN(rsvs); r++) {
            const char *p = all_ops[i] == OP_CLOSE ? "\x03\xe8" : "xy";
            bool data = all_ops[i] == OP_TEXT || all_ops[i] == OP_BIN;
            /* no extension: every RSV bit is an error */
            w->n = 0;
            cframe(w, FIN | rsvs[r] | all_ops[i], p, 2);
            struct outcome o = EXPECT(&C2S, w, "ws_bad_rsv", 0);
            CHECK(o.reply_code == 1002, "code");
            w->n = 0;
            sframe(w, FIN | rsvs[r] | all_ops[i], p, 2);
            EXPECT(&S2C, w, "ws_bad_rsv", 0);
            /* permessage-deflate: RSV1 alone on a data frame only */
            bool ok = rsvs[r] == RSV1 && data;
            w->n = 0;
            cframe(w, FIN | rsvs[r] | all_ops[i], p, 2);
            EXPECT(&C2S_DEFLATE, w, ok ? NULL : "ws_bad_rsv", ok ? w->n : 0);
            w->n = 0;
            sframe(w, FIN | rsvs[r] | all_ops[i], p, 2);
            EXPECT(&S2C_DEFLATE, w, ok ? NULL : "ws_bad_rsv", ok ? w->n : 0);
        }
    }
    /* RSV1 on the first fragment only, never on a continuation */
    w->n = 0;
    cstr(w, RSV1 | OP_TEXT, "ab");
    cstr(w, FIN | OP_CONT, "cd");
    EXPECT(&C2S_DEFLATE, w, NULL, w->n);
    w->n = 0;
    cstr(w, RSV1 | OP_TEXT, "ab");
    size_t good = w->n;
    cstr(w, FIN | RSV1 | OP_CONT, "cd");
    EXPECT(&C2S_DEFLATE, w, "ws_bad_rsv", good);
    /* a compressed text message is not checked as UTF-8; an uncompressed
     * one on the same connection still is */
    w->n = 0;
    cstr(w, FIN | RSV1 | OP_TEXT, "\xc0\xaf\xff\x00");
    cstr(w, RSV1 | OP_TEXT, "\xff");
    cstr(w, FIN | OP_CONT, "\xfe");
    good = w->n;
    cstr(w, FIN | OP_TEXT, "\xff");
    struct outcome o = EXPECT(&C2S_DEFLATE, w, "ws_bad_utf8", good + chdr(1));
    CHECK(o.stats.messages == 2, "messages");
    free(w);
    END_CHECKS();
}

/* ---- counters, sticky rejects, the held-bytes contract ---------------------------- */

static void test_counters_and_contract(void **state)
{
    (void)state;
    static struct gh_ws_validator v;
    struct gh_framer_verdict out;
    struct wire *w = wire_new();

    w->n = 0;
    cstr(w, FIN | OP_TEXT, "hello");            /* 6 + 5 */
    cstr(w, OP_BIN, "ab");                      /* 6 + 2 */
    cstr(w, FIN | OP_PING, "");                 /* 6 */
    cstr(w, FIN | OP_CONT, "cde");              /* 6 + 3 */
    cclose(w, 1001, "", 0);                     /* 6 + 2 */
    struct outcome o = EXPECT(&C2S, w, NULL, w->n);
    CHECK(o.stats.frames == 5 && o.stats.control_frames == 2 && o.stats.messages == 2,
          "frames %llu", (unsigned long long)o.stats.frames);
    CHECK(o.stats.payload_bytes == 12 && o.stats.wire_bytes == w->n, "bytes");
    CHECK(o.stats.close_code == 1001, "close code");

    /* fewer bytes than held: nothing released, no verdict */
    gh_ws_validator_init(&v, GH_WS_CLIENT_TO_SERVER, NULL, false);
    gh_ws_validator_feed(&v, w->d, 4, &out);
    assert_int_equal(out.release, 0);
    assert_int_equal(v.held, 4);
    gh_ws_validator_feed(&v, w->d, 2, &out);
    assert_int_equal(out.release, 0);
    assert_int_equal(out.action, GH_FRAME_CONTINUE);
    gh_ws_validator_feed(&v, w->d, 11, &out);
    assert_int_equal(out.release, 11);
    assert_int_equal(v.held, 0);
    /* sticky reject with the same reply every time */
    gh_ws_validator_feed(&v, (const uint8_t *)"\x83\x80", 2, &out);
    assert_int_equal(out.action, GH_FRAME_REJECT);
    assert_string_equal(out.reason, "ws_bad_opcode");
    const char *reply = out.reply;
    size_t reply_len = out.reply_len;
    gh_ws_validator_feed(&v, w->d, 6, &out);
    assert_int_equal(out.action, GH_FRAME_REJECT);
    assert_int_equal(out.release, 0);
    assert_string_equal(out.reason, "ws_bad_opcode");
    assert_ptr_equal(out.reply, reply);
    assert_int_equal(out.reply_len, reply_len);
    assert_memory_equal(reply, "\x88\x0f\x03\xeaws_bad_opcode", 17);
    free(w);
}

/* A long stream of mixed frames, split everywhere (sampled past 4 KiB). */
static void test_long_stream(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct setup s = C2S;
    s.limits.max_frame = 70000;
    s.limits.max_message = 200000;
    for (int r = 0; r < 3; r++) {
        cstr(w, OP_TEXT, utf8_sample);
        cframe(w, FIN | OP_PING, NULL, 125);
        cframe(w, OP_CONT, NULL, 300);
        cframe(w, FIN | OP_CONT, utf8_sample, sizeof utf8_sample - 1);
        cframe(w, FIN | OP_BIN, NULL, 66000);
        cframe(w, FIN | OP_PONG, NULL, 0);
    }
    struct outcome o = EXPECT(&s, w, NULL, w->n);
    CHECK(o.stats.messages == 6 && o.stats.frames == 18, "counts");
    free(w);
    END_CHECKS();
}

/* ---- the handshake ------------------------------------------------------------------ */

static struct gh_http1_request req;
static struct gh_http1_response resp;

static void parse_req(const char *raw)
{
    enum gh_http1_rule rule = GH_RULE_NONE;
    size_t n = strlen(raw);
    if (gh_http1_parse_request(raw, n, NULL, &req, &rule) != GH_HTTP1_DONE)
        fail_msg("request does not parse (%s): %s", gh_http1_rule_name(rule), raw);
}

static void parse_resp(const char *raw)
{
    enum gh_http1_rule rule = GH_RULE_NONE;
    struct gh_http1_span get = { "GET", 3 };
    if (gh_http1_parse_response(raw, strlen(raw), NULL, get, &resp, &rule) != GH_HTTP1_DONE)
        fail_msg("response does not parse (%s): %s", gh_http1_rule_name(rule), raw);
}

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define REQ_LINE "GET /chat HTTP/1.1\r\n"
#define H_HOST "Host: server.example.com\r\n"
#define H_UPGRADE "Upgrade: websocket\r\n"
#define H_CONN "Connection: Upgrade\r\n"
#define H_KEY "Sec-WebSocket-Key: " RFC_KEY "\r\n"
#define H_VERSION "Sec-WebSocket-Version: 13\r\n"
#define H_ORIGIN "Origin: http://example.com\r\n"

static void test_accept_key(void **state)
{
    (void)state;
    char out[GH_WS_ACCEPT_LEN + 1];
    assert_true(gh_ws_accept_for_key(RFC_KEY, strlen(RFC_KEY), out));
    assert_string_equal(out, RFC_ACCEPT);
    /* another known pair */
    assert_true(gh_ws_accept_for_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out));
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    assert_true(gh_ws_accept_for_key("", 0, out));
    assert_int_equal(strlen(out), GH_WS_ACCEPT_LEN);
    char longkey[65];
    memset(longkey, 'A', sizeof longkey);
    assert_true(gh_ws_accept_for_key(longkey, 64, out));
    assert_false(gh_ws_accept_for_key(longkey, 65, out));
    assert_string_equal(out, "");
}

struct up_row {
    const char *raw;
    const char *reason;
    int status;             /* 0: valid */
    int line;
};

static void test_upgrade_request(void **state)
{
    (void)state;
    static const struct up_row rows[] = {
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_ORIGIN H_VERSION "\r\n", NULL, 0, __LINE__ },
        /* case-insensitive names and values; Connection as a list */
        { REQ_LINE "host: a\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n"
                    "sec-websocket-key: " RFC_KEY "\r\nsec-websocket-version: 13\r\n\r\n", NULL, 0, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE "Connection: keep-alive\r\nConnection: upgrade\r\n"
                    H_KEY H_VERSION "\r\n", NULL, 0, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE "Connection: ,upgrade,\r\n" H_KEY H_VERSION "\r\n", NULL, 0, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Content-Length: 0\r\n\r\n", NULL, 0, __LINE__ },
        /* method, version, host */
        { "POST /chat HTTP/1.1\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", "ws_bad_method", 400, __LINE__ },
        { "get /chat HTTP/1.1\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", "ws_bad_method", 400, __LINE__ },
        { "GET /chat HTTP/1.0\r\n" H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", "ws_bad_http_version", 400, __LINE__ },
        { REQ_LINE H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", "ws_missing_host", 400, __LINE__ },
        /* Upgrade */
        { REQ_LINE H_HOST H_CONN H_KEY H_VERSION "\r\n", "ws_bad_upgrade", 400, __LINE__ },
        { REQ_LINE H_HOST "Upgrade: h2c\r\n" H_CONN H_KEY H_VERSION "\r\n", "ws_bad_upgrade", 400, __LINE__ },
        { REQ_LINE H_HOST "Upgrade: websocket, h2c\r\n" H_CONN H_KEY H_VERSION "\r\n", "ws_bad_upgrade", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_UPGRADE H_CONN H_KEY H_VERSION "\r\n", "ws_bad_upgrade", 400, __LINE__ },
        { REQ_LINE H_HOST "Upgrade: websockets\r\n" H_CONN H_KEY H_VERSION "\r\n", "ws_bad_upgrade", 400, __LINE__ },
        /* Connection */
        { REQ_LINE H_HOST H_UPGRADE H_KEY H_VERSION "\r\n", "ws_bad_connection", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE "Connection: keep-alive\r\n" H_KEY H_VERSION "\r\n", "ws_bad_connection", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE "Connection: upgraded\r\n" H_KEY H_VERSION "\r\n", "ws_bad_connection", 400, __LINE__ },
        /* version: 426 */
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY "\r\n", "ws_bad_version", 426, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY "Sec-WebSocket-Version: 8\r\n\r\n", "ws_bad_version", 426, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY "Sec-WebSocket-Version: 13, 8\r\n\r\n", "ws_bad_version", 426, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION H_VERSION "\r\n", "ws_bad_version", 426, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY "Sec-WebSocket-Version: 013\r\n\r\n", "ws_bad_version", 426, __LINE__ },
        /* key: exactly one, the canonical base64 of 16 bytes */
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_KEY H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: \r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!Q==\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXM=\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==dGhl\r\n" H_VERSION "\r\n", "ws_bad_key", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" H_VERSION "\r\n", NULL, 0, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN "Sec-WebSocket-Key: /////////////////////w==\r\n" H_VERSION "\r\n", NULL, 0, __LINE__ },
        /* a body */
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Content-Length: 5\r\n\r\n", "ws_request_body", 400, __LINE__ },
        { REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Transfer-Encoding: chunked\r\n\r\n", "ws_request_body", 400, __LINE__ },
    };
    struct gh_ws_upgrade_verdict v;
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        row_line = rows[i].line;
        parse_req(rows[i].raw);
        bool ok = gh_ws_check_upgrade(&req, NULL, &v);
        CHECK(ok == (rows[i].status == 0), "ok %d", ok);
        CHECK(v.status == rows[i].status, "status %d", v.status);
        CHECK(same_reason(v.reason, rows[i].reason), "reason %s", v.reason ? v.reason : "(none)");
        CHECK(v.extra_headers != NULL, "extra_headers NULL");
        if (v.status == 426 && v.extra_headers)
            CHECK(strcmp(v.extra_headers,
                         "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n") == 0,
                  "426 headers: %s", v.extra_headers);
        else if (v.extra_headers)
            CHECK(v.extra_headers[0] == '\0', "extra headers on %d", v.status);
        if (ok)
            CHECK(v.key.len == GH_WS_KEY_LEN && v.key.p >= rows[i].raw &&
                      v.key.p < rows[i].raw + strlen(rows[i].raw), "key span");
    }
    END_CHECKS();
}

static void test_upgrade_origin(void **state)
{
    (void)state;
    static struct gh_ws_config cfg;
    struct gh_ws_upgrade_verdict v;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.origins[0], "https://app.example.com");
    strcpy(cfg.origins[1], "http://example.com");
    cfg.n_origins = 2;
    static const struct {
        const char *origin_headers;
        int line;
        bool allow_missing;
        bool ok;
    } rows[] = {
        { "Origin: http://example.com\r\n", __LINE__, false, true },
        { "Origin: HTTPS://App.Example.COM\r\n", __LINE__, false, true },
        { "Origin: https://app.example.com\r\n", __LINE__, true, true },
        { "Origin: http://example.com:80\r\n", __LINE__, false, false },
        { "Origin: https://example.com\r\n", __LINE__, false, false },
        { "Origin: http://example.com.evil.net\r\n", __LINE__, false, false },
        { "Origin: http://example.co\r\n", __LINE__, false, false },
        { "Origin: null\r\n", __LINE__, false, false },
        { "Origin: \r\n", __LINE__, false, false },
        { "Origin: http://example.com\r\nOrigin: http://example.com\r\n", __LINE__, false, false },
        { "", __LINE__, false, false },
        { "", __LINE__, true, true },
    };
    char raw[1024];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        row_line = rows[i].line;
        snprintf(raw, sizeof raw, REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "%s\r\n",
                 rows[i].origin_headers);
        parse_req(raw);
        cfg.allow_missing_origin = rows[i].allow_missing;
        bool ok = gh_ws_check_upgrade(&req, &cfg, &v);
        CHECK(ok == rows[i].ok, "ok %d", ok);
        if (!rows[i].ok)
            CHECK(v.status == 403 && same_reason(v.reason, "ws_origin_denied"), "%d %s",
                  v.status, v.reason ? v.reason : "");
    }
    /* no list: any Origin, or none */
    row_line = __LINE__;
    cfg.n_origins = 0;
    cfg.allow_missing_origin = false;
    parse_req(REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Origin: null\r\n\r\n");
    CHECK(gh_ws_check_upgrade(&req, &cfg, &v), "no list");
    parse_req(REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "\r\n");
    CHECK(gh_ws_check_upgrade(&req, &cfg, &v), "no list, no origin");
    /* a full list; an entry that fills its array without a NUL */
    for (size_t i = 0; i < GH_WS_ORIGINS_MAX; i++)
        snprintf(cfg.origins[i], sizeof cfg.origins[i], "https://o%zu.example", i);
    memset(cfg.origins[3], 'a', sizeof cfg.origins[3]);
    cfg.n_origins = GH_WS_ORIGINS_MAX + 5;      /* more than fit: capped */
    parse_req(REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Origin: https://o15.example\r\n\r\n");
    CHECK(gh_ws_check_upgrade(&req, &cfg, &v), "last entry");
    parse_req(REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "Origin: https://o16.example\r\n\r\n");
    CHECK(!gh_ws_check_upgrade(&req, &cfg, &v), "past the list");
    /* the origin check comes last: a bad key is still 400 */
    parse_req(REQ_LINE H_HOST H_UPGRADE H_CONN H_VERSION "Origin: https://evil\r\n\r\n");
    CHECK(!gh_ws_check_upgrade(&req, &cfg, &v) && v.status == 400, "order");
    END_CHECKS();
}

#define RESP_101 "HTTP/1.1 101 Switching Protocols\r\n"
#define R_UPGRADE "Upgrade: websocket\r\n"
#define R_CONN "Connection: Upgrade\r\n"
#define R_ACCEPT "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

struct resp_row {
    const char *req_extra;      /* extra request headers */
    const char *raw;
    const char *reason;         /* NULL: switch */
    int line;
    bool deflate;
};

static void test_response_101(void **state)
{
    (void)state;
    static const struct resp_row rows[] = {
        { "",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "\r\n",
          NULL, __LINE__, false },
        { "",
          "HTTP/1.1 101 \r\nupgrade: WEBSOCKET\r\nconnection: keep-alive, upgrade\r\n" "sec-websocket-accept: " RFC_ACCEPT "\r\n\r\n",
          NULL, __LINE__, false },
        /* not a 101: the connection stays HTTP */
        { "",
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
          "ws_not_switched", __LINE__, false },
        { "",
          "HTTP/1.1 403 Forbidden\r\n" R_UPGRADE R_CONN R_ACCEPT "Content-Length: 0\r\n\r\n",
          "ws_not_switched", __LINE__, false },
        { "",
          "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
          "ws_not_switched", __LINE__, false },
        { "",
          "HTTP/1.0 101 Switching Protocols\r\n" R_UPGRADE R_CONN R_ACCEPT "\r\n",
          "ws_bad_http_version", __LINE__, false },
        /* Upgrade, Connection */
        { "",
          RESP_101 R_CONN R_ACCEPT "\r\n",
          "ws_bad_upgrade", __LINE__, false },
        { "",
          RESP_101 "Upgrade: h2c\r\n" R_CONN R_ACCEPT "\r\n",
          "ws_bad_upgrade", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_UPGRADE R_CONN R_ACCEPT "\r\n",
          "ws_bad_upgrade", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_ACCEPT "\r\n",
          "ws_bad_connection", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE "Connection: close\r\n" R_ACCEPT "\r\n",
          "ws_bad_connection", __LINE__, false },
        /* Accept */
        { "",
          RESP_101 R_UPGRADE R_CONN "\r\n",
          "ws_bad_accept", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_CONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n\r\n",
          "ws_bad_accept", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_CONN "Sec-WebSocket-Accept: " RFC_KEY "\r\n\r\n",
          "ws_bad_accept", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_CONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
          "ws_bad_accept", __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT R_ACCEPT "\r\n",
          "ws_bad_accept", __LINE__, false },
        /* extensions */
        { "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
          NULL, __LINE__, true },
        { "Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; " "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; " "client_max_window_bits=\"15\"\r\n\r\n",
          NULL, __LINE__, true },
        { "",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate\r\n" "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=1\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; " "server_no_context_takeover; server_no_context_takeover\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate;\r\n\r\n",
          "ws_bad_extension", __LINE__, false },
        { "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n\r\n",
          NULL, __LINE__, true },
        /* subprotocols */
        { "Sec-WebSocket-Protocol: chat, superchat\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: superchat\r\n\r\n",
          NULL, __LINE__, false },
        { "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: v2.json\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: v2.json\r\n\r\n",
          NULL, __LINE__, false },
        { "Sec-WebSocket-Protocol: chat, superchat\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "\r\n",
          NULL, __LINE__, false },
        { "",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: chat\r\n\r\n",
          "ws_bad_protocol", __LINE__, false },
        { "Sec-WebSocket-Protocol: chat\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: Chat\r\n\r\n",
          "ws_bad_protocol", __LINE__, false },
        { "Sec-WebSocket-Protocol: chat, superchat\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
          "ws_bad_protocol", __LINE__, false },
        { "Sec-WebSocket-Protocol: chat\r\n",
          RESP_101 R_UPGRADE R_CONN R_ACCEPT "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
          "ws_bad_protocol", __LINE__, false },
    };
    char raw[2048];
    struct gh_ws_upgrade_verdict uv;
    struct gh_ws_response_verdict v;
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        row_line = rows[i].line;
        snprintf(raw, sizeof raw, REQ_LINE H_HOST H_UPGRADE H_CONN H_KEY H_VERSION "%s\r\n",
                 rows[i].req_extra);
        parse_req(raw);
        CHECK(gh_ws_check_upgrade(&req, NULL, &uv), "request %s", uv.reason);
        parse_resp(rows[i].raw);
        bool ok = gh_ws_check_response(&req, &resp, &v);
        CHECK(ok == (rows[i].reason == NULL), "ok %d", ok);
        CHECK(same_reason(v.reason, rows[i].reason), "reason %s", v.reason ? v.reason : "(none)");
        CHECK(v.deflate == rows[i].deflate, "deflate %d", v.deflate);
    }
    END_CHECKS();
}

/* ---- a client's text frame held whole (hold_max) ---------------------------- */

static void test_text_frame_held_whole(void **state)
{
    (void)state;
    struct wire *w = wire_new();
    struct outcome o;
    char big[HOLD_MAX + 2];

    /* bad UTF-8 in a held frame: nothing of it, header included, goes on;
     * the valid frame ahead of it does */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "hello");
    size_t good = w->n;
    cframe(w, FIN | OP_TEXT, "abc\xff", 4);
    o = EXPECT(&C2S_HOLD, w, "ws_bad_utf8", good);
    CHECK(o.reply_code == 1007 && o.stats.frames == 1, "bad utf8 held");
    /* a message that ends inside a character: nothing of its last frame */
    w->n = 0;
    cframe(w, FIN | OP_TEXT, "end \xe2\x82", 6);
    EXPECT(&C2S_HOLD, w, "ws_bad_utf8", 0);
    /* a character split across fragments: the first fragment is whole and
     * a valid prefix, so it goes on; a bad second one does not */
    w->n = 0;
    cframe(w, OP_TEXT, "ab\xe2", 3);
    good = w->n;
    cframe(w, FIN | OP_CONT, "\x82\xac", 2);
    o = EXPECT(&C2S_HOLD, w, NULL, w->n);
    CHECK(o.stats.messages == 1 && o.stats.payload_bytes == 5, "split character");
    w->n = good;
    cframe(w, FIN | OP_CONT, "\x28", 1);
    EXPECT(&C2S_HOLD, w, "ws_bad_utf8", good);
    /* an incomplete held frame releases nothing; without hold it streams */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "0123456789");
    w->n -= 3;
    EXPECT(&C2S_HOLD, w, NULL, 0);
    EXPECT(&C2S, w, NULL, w->n);
    /* empty text frame: checked at its header, released at once */
    w->n = 0;
    cstr(w, FIN | OP_TEXT, "");
    EXPECT(&C2S_HOLD, w, NULL, w->n);
    /* binary frames are not held */
    w->n = 0;
    cstr(w, FIN | OP_BIN, "0123456789");
    w->n -= 3;
    EXPECT(&C2S_HOLD, w, NULL, w->n);
    /* exactly hold_max: held, and whole once complete */
    memset(big, 'x', sizeof big);
    w->n = 0;
    cframe(w, FIN | OP_TEXT, big, HOLD_MAX);
    size_t whole = w->n;
    o = EXPECT(&C2S_HOLD, w, NULL, whole);
    CHECK(o.stats.payload_bytes == HOLD_MAX, "payload");
    big[HOLD_MAX - 1] = (char)0xff;
    w->n = 0;
    cframe(w, FIN | OP_TEXT, big, HOLD_MAX);
    EXPECT(&C2S_HOLD, w, "ws_bad_utf8", 0);
    /* over hold_max: streamed as checked (the documented fallback), never
     * past the first bad byte */
    w->n = 0;
    big[HOLD_MAX - 1] = 'x';
    big[HOLD_MAX] = (char)0xff;
    cframe(w, FIN | OP_TEXT, big, HOLD_MAX + 1);
    EXPECT(&C2S_HOLD, w, "ws_bad_utf8", w->n - 1);
    /* a ping between the fragments of a held text message passes alone */
    w->n = 0;
    cstr(w, OP_TEXT, "part one ");
    cstr(w, FIN | OP_PING, "p");
    good = w->n;
    cframe(w, FIN | OP_CONT, "\xc0\xaf", 2);
    EXPECT(&C2S_HOLD, w, "ws_bad_utf8", good);
    free(w);
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_opcode),
        cmocka_unit_test(test_length_encodings),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_utf8_across_fragments),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_release_points),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_control_lengths),
        cmocka_unit_test(test_rsv_bits),
        cmocka_unit_test(test_counters_and_contract),
        cmocka_unit_test(test_long_stream),
        cmocka_unit_test(test_text_frame_held_whole),
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_upgrade_request),
        cmocka_unit_test(test_upgrade_origin),
        cmocka_unit_test(test_response_101),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
