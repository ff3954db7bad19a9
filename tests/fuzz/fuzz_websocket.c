/* fuzz_websocket.c - libFuzzer target for the WebSocket module
 * (src/websocket.c, with src/utf8.c and src/http1.c).
 *
 * The first input byte picks what is fuzzed:
 *  - bit 7 clear: the frame validator. Bit 0 the direction, bit 1
 *    permessage-deflate, bits 2-3 the limits (defaults or small ones), bit 4
 *    a hold_max of 48 (a client's text frame released only whole); the
 *    second byte is a split point and the rest the frame stream. It is fed
 *    the way a connection feeds a framer (unreleased bytes kept and passed
 *    again) in one piece, in two pieces at the data-derived point and one
 *    byte at a time, and the target aborts when:
 *      - a call releases more than it was given, modifies its input, or
 *        more is held than a header plus a close payload (or hold_max);
 *      - anything is examined after a close frame (the caller drops it);
 *      - the runs disagree on the reason, the total released or any
 *        counter; a reject is not sticky; a reject's reply is not an
 *        unmasked close frame with 1002/1007/1009 (1014 server side) and
 *        the reason code as its text;
 *      - what was released breaks RFC 6455 when read again here, frame by
 *        frame, by a separate non-streaming reading (opcode, RSV, mask,
 *        lengths and limits, control frame rules, fragmentation, UTF-8 of
 *        a client's text, a client's close code).
 *  - bit 7 set: the handshake. The rest is an upgrade request head and the
 *    backend's response head; each that parses goes through
 *    gh_ws_check_upgrade / gh_ws_check_response, whose verdicts must be
 *    consistent (status and reason together, a 24-byte key inside the
 *    request, deflate only on success). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"
#include "gatehouse/utf8.h"
#include "gatehouse/websocket.h"

#include "fuzz_common.h"

struct setup {
    enum gh_ws_direction dir;
    bool deflate;
    struct gh_ws_limits limits;
};

struct outcome {
    const char *reason;
    size_t released;
    uint16_t reply_code;
    bool closed;
    struct gh_ws_stats stats;
};

static struct gh_ws_validator val;
static uint8_t scratch[8192];

static bool client(const struct setup *s)
{
    return s->dir == GH_WS_CLIENT_TO_SERVER;
}

/* Pieces end at multiples of step (0: one piece), or at cut when step is
 * SIZE_MAX. */
static struct outcome drive(const struct setup *s, const uint8_t *in, size_t len, size_t step,
                            size_t cut)
{
    struct gh_framer_verdict v;
    struct outcome o;
    size_t fed = 0;

    memset(&o, 0, sizeof o);
    gh_ws_validator_init(&val, s->dir, &s->limits, s->deflate);
    for (;;) {
        fed = piece_end(fed, len, step, cut);
        size_t pending = fed - o.released;
        REQUIRE(pending <= sizeof scratch);
        memcpy(scratch, in + o.released, pending);
        gh_ws_validator_feed(&val, scratch, pending, &v);
        REQUIRE(v.release <= pending);
        REQUIRE(memcmp(scratch, in + o.released, pending) == 0);
        o.released += v.release;
        if (v.action == GH_FRAME_REJECT) {
            const uint8_t *r = (const uint8_t *)v.reply;
            REQUIRE(v.reason != NULL && r != NULL);
            size_t text = strlen(v.reason);
            REQUIRE(v.reply_len == 4 + text && v.reply_len <= GH_WS_REPLY_MAX);
            REQUIRE(r[0] == 0x88 && r[1] == 2 + text);
            uint16_t code = (uint16_t)(r[2] << 8 | r[3]);
            REQUIRE(code == val.reply_code);
            if (client(s))
                REQUIRE(code == 1002 || code == 1007 || code == 1009);
            else
                REQUIRE(code == 1014);
            REQUIRE(memcmp(r + 4, v.reason, text) == 0);
            o.reason = v.reason;
            o.reply_code = code;
            gh_ws_validator_feed(&val, in, len, &v);
            REQUIRE(v.action == GH_FRAME_REJECT && v.release == 0 && v.reason == o.reason);
            break;
        }
        REQUIRE(v.action == GH_FRAME_CONTINUE && v.reason == NULL && v.reply == NULL);
        if (gh_ws_validator_closed(&val)) {
            o.closed = true;    /* the rest is discarded by the caller */
            break;
        }
        uint64_t hold = s->limits.hold_max > GH_WS_CONTROL_MAX ? s->limits.hold_max
                                                               : GH_WS_CONTROL_MAX;
        REQUIRE(fed - o.released <= GH_WS_HEADER_MAX + hold);
        if (fed == len)
            break;
    }
    o.stats = val.stats;
    REQUIRE(o.stats.wire_bytes == o.released);
    return o;
}

static void same(const struct outcome *a, const struct outcome *b)
{
    REQUIRE((a->reason == NULL) == (b->reason == NULL));
    if (a->reason)
        REQUIRE(strcmp(a->reason, b->reason) == 0 && a->reply_code == b->reply_code);
    REQUIRE(a->released == b->released && a->closed == b->closed);
    REQUIRE(a->stats.frames == b->stats.frames &&
            a->stats.control_frames == b->stats.control_frames &&
            a->stats.messages == b->stats.messages &&
            a->stats.payload_bytes == b->stats.payload_bytes &&
            a->stats.wire_bytes == b->stats.wire_bytes &&
            a->stats.close_code == b->stats.close_code);
}

/* ---- a separate reading of what was released ------------------------------ */

static bool close_code_valid(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static void check_released(const struct setup *s, const uint8_t *in, size_t n,
                           const struct outcome *o)
{
    uint64_t max_frame = s->limits.max_frame ? s->limits.max_frame : GH_WS_DEFAULT_MAX_FRAME;
    uint64_t max_msg = s->limits.max_message ? s->limits.max_message : GH_WS_DEFAULT_MAX_MESSAGE;
    unsigned msg_op = 0;
    bool compressed = false, closed = false;
    uint64_t msg_size = 0, frames = 0, messages = 0, payload_total = 0;
    struct gh_utf8 text;
    size_t i = 0;

    gh_utf8_init(&text);
    while (i < n) {
        REQUIRE(!closed);
        /* headers are released whole */
        REQUIRE(n - i >= 2);
        uint8_t b0 = in[i], b1 = in[i + 1];
        unsigned op = b0 & 0x0f;
        bool fin = b0 & 0x80, masked = b1 & 0x80, control = op >= 8;
        REQUIRE(op <= 2 || (op >= 8 && op <= 10));
        REQUIRE((b0 & 0x30) == 0);
        if (b0 & 0x40)
            REQUIRE(s->deflate && (op == 1 || op == 2));
        REQUIRE(masked == client(s));
        size_t h = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
            REQUIRE(n - i >= 4);
            len = (uint64_t)in[i + 2] << 8 | in[i + 3];
            REQUIRE(len >= 126);
            h = 4;
        } else if (len == 127) {
            REQUIRE(n - i >= 10);
            len = 0;
            for (int k = 2; k < 10; k++)
                len = len << 8 | in[i + k];
            REQUIRE(len > 0xffff && len >> 63 == 0);
            h = 10;
        }
        if (masked)
            h += 4;
        REQUIRE(n - i >= h);
        REQUIRE(len <= max_frame);
        if (control) {
            REQUIRE(fin && len <= 125);
        } else if (op == 0) {
            REQUIRE(msg_op != 0);
        } else {
            REQUIRE(msg_op == 0);
            msg_op = op;
            compressed = b0 & 0x40;
            msg_size = 0;
            gh_utf8_init(&text);
        }
        if (!control) {
            msg_size += len;
            REQUIRE(msg_size <= max_msg);
        }
        const uint8_t *key = in + i + h - 4;
        i += h;
        size_t avail = n - i < len ? n - i : (size_t)len;
        bool whole = avail == len;
        uint8_t p[125];
        if (op == 8 && client(s)) {
            REQUIRE(whole);     /* a client's close goes whole or not at all */
            for (size_t k = 0; k < avail; k++)
                p[k] = in[i + k] ^ key[k & 3];
            REQUIRE(avail != 1);
            if (avail >= 2) {
                REQUIRE(close_code_valid((unsigned)(p[0] << 8 | p[1])));
                REQUIRE(gh_utf8_valid(p + 2, avail - 2));
            }
        }
        if (!control && msg_op == 1 && !compressed && client(s)) {
            for (size_t k = 0; k < avail; k++) {
                uint8_t c = in[i + k] ^ key[k & 3];
                REQUIRE(gh_utf8_feed(&text, &c, 1) == 1);
            }
            if (whole && fin)
                REQUIRE(gh_utf8_complete(&text));
        }
        i += avail;
        payload_total += avail;
        if (whole) {
            frames++;
            if (op == 8)
                closed = true;
            if (!control && fin) {
                messages++;
                msg_op = 0;
            }
        }
    }
    REQUIRE(frames == o->stats.frames && messages == o->stats.messages);
    REQUIRE(payload_total == o->stats.payload_bytes);
}

static void fuzz_frames(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint8_t mode = data[0], split = data[1];
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    struct setup s;

    if (len > sizeof scratch)
        return;
    memset(&s, 0, sizeof s);
    s.dir = (mode & 1) ? GH_WS_SERVER_TO_CLIENT : GH_WS_CLIENT_TO_SERVER;
    s.deflate = (mode & 2) != 0;
    switch ((mode >> 2) & 3) {
    case 0: break;                                       /* defaults */
    case 1: s.limits.max_frame = 16; s.limits.max_message = 40; break;
    case 2: s.limits.max_frame = 200; s.limits.max_message = 300; break;
    default: s.limits.max_frame = 1; s.limits.max_message = 1; break;
    }
    if (mode & 0x10)
        s.limits.hold_max = 48;
    struct outcome whole = drive(&s, in, len, 0, 0);
    size_t cut = len ? (size_t)split * len / 255 : 0;
    struct outcome two = drive(&s, in, len, SIZE_MAX, cut);
    struct outcome bytewise = drive(&s, in, len, 1, 0);
    same(&whole, &two);
    same(&whole, &bytewise);
    check_released(&s, in, whole.released, &whole);
}

/* ---- the handshake ------------------------------------------------------------ */

static struct gh_http1_request req;
static struct gh_http1_response resp;

static void fuzz_handshake(const uint8_t *data, size_t size)
{
    static struct gh_ws_config cfg;
    const char *buf = (const char *)data;
    size_t scan = 0, head_len = 0;
    enum gh_http1_rule rule;
    struct gh_ws_upgrade_verdict uv;
    struct gh_ws_response_verdict rv;

    if (gh_http1_head_end(buf, size, true, NULL, &scan, &head_len, &rule) != GH_HTTP1_DONE)
        return;
    if (gh_http1_parse_request(buf, head_len, NULL, &req, &rule) != GH_HTTP1_DONE)
        return;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.origins[0], "https://a.example");
    strcpy(cfg.origins[1], "http://b.example:8080");
    cfg.n_origins = size & 1 ? 2 : 0;
    cfg.allow_missing_origin = size & 2;
    bool ok = gh_ws_check_upgrade(&req, size & 4 ? &cfg : NULL, &uv);
    REQUIRE(uv.extra_headers != NULL);
    if (ok) {
        REQUIRE(uv.status == 0 && uv.reason == NULL);
        REQUIRE(uv.key.len == GH_WS_KEY_LEN);
        REQUIRE(uv.key.p >= buf && uv.key.p + uv.key.len <= buf + head_len);
    } else {
        REQUIRE(uv.status == 400 || uv.status == 403 || uv.status == 426);
        REQUIRE(uv.reason != NULL && strncmp(uv.reason, "ws_", 3) == 0);
        REQUIRE((uv.status == 426) == (uv.extra_headers[0] != '\0'));
    }
    /* the response, whether or not the request passed */
    const char *rbuf = buf + head_len;
    size_t rsize = size - head_len;
    scan = 0;
    if (gh_http1_head_end(rbuf, rsize, false, NULL, &scan, &head_len, &rule) != GH_HTTP1_DONE)
        return;
    struct gh_http1_span get = { "GET", 3 };
    if (gh_http1_parse_response(rbuf, head_len, NULL, get, &resp, &rule) != GH_HTTP1_DONE)
        return;
    bool sw = gh_ws_check_response(&req, &resp, &rv);
    REQUIRE(sw == (rv.reason == NULL));
    if (!sw)
        REQUIRE(!rv.deflate);
    if (sw)
        REQUIRE(resp.status == 101);
    if (resp.status != 101)
        REQUIRE(!sw && strcmp(rv.reason, "ws_not_switched") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80)
        fuzz_handshake(data + 1, size - 1);
    else
        fuzz_frames(data, size);
    return 0;
}
