/* fuzz_websocket_2way.c - libFuzzer target for WebSocket frames both ways
 * at once, through the HTTP framer as src/conn.c drives it
 * (src/http_proxy.c's frame mode, src/websocket.c's two validators;
 * fuzz_proxy_conn.h models the connection): after a fixed valid upgrade
 * and 101, the client's masked frames and the backend's unmasked frames
 * arrive in interleaved chunks.
 *
 * Input: byte 0 picks the listener (bit 0 permessage-deflate negotiated,
 * bits 1-2 ws_max_frame / ws_max_message: defaults, 125 / 300, 200 /
 * 1000, 125 / 125; bit 3 buffer_size = 4k, so a client's text frame over
 * 4082 bytes is streamed, not held); byte 1 how chunks are cut and
 * bytes 2-5 the schedule's seed (as fuzz_http_proxy, but the backend
 * never answers out of turn: the 101 comes after the upgrade); bytes 6-7
 * (big-endian) the length of the client's frames, which follow; the rest
 * is the backend's frames. tests/fuzz/gen_proxy_seeds.py writes seeds.
 *
 * Beyond crashes, leaks and UB, it aborts when:
 *  - the connection did not switch to frame mode;
 *  - what either side received is not a prefix of what the other sent,
 *    or is not, read again here frame by frame, a valid frame sequence
 *    for its direction (RFC 6455: opcodes, RSV, masking, minimal lengths,
 *    the limits, control frame rules, fragmentation, UTF-8 of a client's
 *    uncompressed text and close reason, close codes; nothing after a
 *    close; at most the last frame cut short, and never a client's close
 *    or held text frame);
 *  - after a refused frame anything more went either way, or the reply
 *    is not the close frame the refusal calls for (1002, 1007, 1009 for
 *    a client's frame, 1014 for the backend's), or is not the last thing
 *    the client gets;
 *  - both sides sent only valid frames, yet something was refused, or
 *    not all of it (up to a close) was passed on. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/config.h"
#include "gatehouse/http_proxy.h"
#include "gatehouse/utf8.h"
#include "gatehouse/websocket.h"

#include "fuzz_common.h"
#include "fuzz_proxy_conn.h"

static const struct gh_listener_config *variants[16];
static struct conn_model model;
static uint8_t client_stream[CONN_LOG_MAX / 4], backend_stream[CONN_LOG_MAX / 4];

static const char upgrade[] = "GET /chat HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n";
static const char switched[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
static const char deflate[] = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

struct setup {
    bool deflate;
    uint64_t max_frame, max_message, hold_max;
};

static const struct gh_listener_config *config_for(unsigned v, struct setup *s)
{
    static const uint64_t limits[4][2] = {{0, 0}, {125, 300}, {200, 1000}, {125, 125}};
    v &= 0x0f;
    if (!variants[v]) {
        char ini[512];
        char lim[96] = "";
        if ((v >> 1) & 3)
            snprintf(lim, sizeof lim, "ws_max_frame = %llu\nws_max_message = %llu\n",
                     (unsigned long long)limits[(v >> 1) & 3][0],
                     (unsigned long long)limits[(v >> 1) & 3][1]);
        int n = snprintf(ini, sizeof ini,
                         "[listener:w]\nlisten = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
                         "cert = /c.pem\nkey = /k.pem\nmode = http\nwebsocket = on\n%s%s",
                         lim, v & 8 ? "buffer_size = 4k\nmax_held_request = 0\nmax_header_bytes = 2k\n"
                                "max_trailer_bytes = 2k\n"
                              : "");
        REQUIRE(n > 0 && (size_t)n < sizeof ini);
        variants[v] = conn_config(ini);
    }
    const struct gh_listener_config *cfg = variants[v];
    s->deflate = v & 1;
    s->max_frame = cfg->ws_max_frame;
    s->max_message = cfg->ws_max_message;
    s->hold_max = cfg->buffer_size - GH_WS_HEADER_MAX; /* as http_proxy.c sets it */
    return cfg;
}

/* ---- an independent reading of a frame stream ---------------------------------- */

static bool close_code_valid(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

struct frames {
    bool valid;                      /* everything read is valid */
    size_t whole_end;                /* just past the last whole frame */
    bool closed;                     /* a close frame was read whole */
    size_t close_end;                /* just past it */
};

/* Reads in[0, n) as the client's (FROM_CLIENT) or the backend's frames.
 * Without PARTIAL_OK a frame cut short at the end is invalid (not merely
 * incomplete) when it is one the validator passes only whole. Stops at
 * the first invalid frame, or after a close. */
static struct frames read_frames(const struct setup *s, bool from_client, const uint8_t *in,
                                 size_t n, bool partial_ok)
{
    struct frames r = {true, 0, false, 0};
    unsigned msg_op = 0;
    bool compressed = false;
    uint64_t msg_size = 0;
    struct gh_utf8 text;
    size_t i = 0;

    gh_utf8_init(&text);
    while (i < n) {
        if (n - i < 2)
            goto cut;
        uint8_t b0 = in[i], b1 = in[i + 1];
        unsigned op = b0 & 0x0f;
        bool fin = b0 & 0x80, masked = b1 & 0x80, control = op >= 8;
        if (!(op <= 2 || (op >= 8 && op <= 10)) || (b0 & 0x30))
            goto bad;
        if ((b0 & 0x40) && !(s->deflate && (op == 1 || op == 2)))
            goto bad;
        if (masked != from_client)
            goto bad;
        size_t h = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
            if (n - i < 4)
                goto cut;
            len = (uint64_t)in[i + 2] << 8 | in[i + 3];
            if (len < 126)
                goto bad;
            h = 4;
        } else if (len == 127) {
            if (n - i < 10)
                goto cut;
            len = 0;
            for (int k = 2; k < 10; k++)
                len = len << 8 | in[i + k];
            if (len <= 0xffff || len >> 63)
                goto bad;
            h = 10;
        }
        if (masked)
            h += 4;
        if (n - i < h)
            goto cut;
        if (control) {
            if (!fin || len > 125)
                goto bad;
        } else if (len > s->max_frame) {
            goto bad;
        } else if (op == 0) {
            if (msg_op == 0)
                goto bad;
        } else {
            if (msg_op != 0)
                goto bad;
        }
        if (!control && op != 0) {   /* a new message */
            msg_op = op;
            compressed = b0 & 0x40;
            msg_size = 0;
            gh_utf8_init(&text);
        }
        if (!control && msg_size + len > s->max_message)
            goto bad;
        if (op == 8 && from_client && len == 1)
            goto bad;
        const uint8_t *key = in + i + h - 4;
        size_t at = i + h;
        size_t avail = n - at < len ? n - at : (size_t)len;
        bool whole = avail == len;
        bool checks_text = from_client && !control && msg_op == 1 && !compressed;
        bool held = (op == 8 && from_client) || (checks_text && len <= s->hold_max);
        if (!whole && held && !partial_ok)
            goto bad;                /* the validator passes these whole or not at all */
        if (op == 8 && from_client) {
            uint8_t p[125];
            for (size_t k = 0; k < avail; k++)
                p[k] = in[at + k] ^ key[k & 3];
            if (avail >= 2 && !close_code_valid((unsigned)(p[0] << 8 | p[1])))
                goto bad;
            if (avail > 2 && !gh_utf8_valid(p + 2, avail - 2))
                goto bad;
        }
        if (checks_text) {
            for (size_t k = 0; k < avail; k++) {
                uint8_t c = in[at + k] ^ key[k & 3];
                if (gh_utf8_feed(&text, &c, 1) != 1)
                    goto bad;
            }
            if (whole && fin && !gh_utf8_complete(&text))
                goto bad;
        }
        if (!control)
            msg_size += avail;
        i = at + avail;
        if (!whole)
            goto cut;
        r.whole_end = i;
        if (!control && fin)
            msg_op = 0;
        if (op == 8) {
            r.closed = true;
            r.close_end = i;
            return r;
        }
    }
    return r;
cut:
    /* cut short: fine for what was forwarded so far, not for a whole input */
    return r;
bad:
    r.valid = false;
    return r;
}

/* ---- the checks ------------------------------------------------------------------- */

static size_t head_end(const uint8_t *p, size_t n)
{
    const uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
    return e ? (size_t)(e - p) + 4 : 0;
}

static void check_run(const struct conn_model *m, const struct setup *s, const uint8_t *cf,
                      size_t cf_len, const uint8_t *bf, size_t bf_len)
{
    /* the switch happened: the rebuilt upgrade went on, the 101 came back */
    size_t up = head_end(m->to_backend, m->to_backend_len);
    REQUIRE(up > 0 && memcmp(m->to_backend, "GET /chat HTTP/1.1\r\n", 20) == 0);
    REQUIRE(m->to_client_len >= 12 && memcmp(m->to_client, "HTTP/1.1 101", 12) == 0);
    size_t sw = head_end(m->to_client, m->to_client_len);
    REQUIRE(sw > 0);
    REQUIRE(m->segments == 1);

    const uint8_t *to_backend = m->to_backend + up;
    size_t to_backend_len = m->to_backend_len - up;
    size_t client_end = m->reply_at != SIZE_MAX ? m->reply_at : m->to_client_len;
    REQUIRE(client_end >= sw);
    const uint8_t *to_client = m->to_client + sw;
    size_t to_client_len = client_end - sw;

    /* each side got a prefix of what the other sent, frames valid */
    REQUIRE(to_backend_len <= cf_len && memcmp(to_backend, cf, to_backend_len) == 0);
    REQUIRE(to_client_len <= bf_len && memcmp(to_client, bf, to_client_len) == 0);
    struct frames fb = read_frames(s, true, to_backend, to_backend_len, false);
    struct frames fc = read_frames(s, false, to_client, to_client_len, false);
    REQUIRE(fb.valid && fc.valid);
    REQUIRE(!fb.closed || fb.close_end == to_backend_len); /* nothing after a close */
    REQUIRE(!fc.closed || fc.close_end == to_client_len);

    if (m->reply_at != SIZE_MAX) {
        /* a refusal: its close frame, last, and nothing in between */
        const uint8_t *r = m->to_client + m->reply_at;
        REQUIRE(m->reply_at + m->reply_len == m->to_client_len);
        REQUIRE(m->reply_len >= 4 && r[0] == 0x88 && r[1] == m->reply_len - 2);
        unsigned code = (unsigned)(r[2] << 8 | r[3]);
        REQUIRE(code == 1002 || code == 1007 || code == 1009 || code == 1014);
        REQUIRE(m->to_client_at_reply == m->reply_at);
    }

    /* both sides valid throughout: nothing refused, all passed on */
    struct frames ic = read_frames(s, true, cf, cf_len, true);
    struct frames ib = read_frames(s, false, bf, bf_len, true);
    bool client_ok = ic.valid && (ic.closed || ic.whole_end == cf_len);
    bool backend_ok = ib.valid && (ib.closed || ib.whole_end == bf_len);
    if (client_ok && backend_ok) {
        REQUIRE(m->reply_at == SIZE_MAX);
        REQUIRE(to_backend_len == (ic.closed ? ic.close_end : cf_len));
        REQUIRE(to_client_len == (ib.closed ? ib.close_end : bf_len));
    }
}

/* Every variant loads (a config error shows at once, not when an input
 * first picks it). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct setup s;
    for (unsigned v = 0; v < 16; v++)
        (void)config_for(v, &s); /* cached for later */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    struct setup s;
    const struct gh_listener_config *cfg = config_for(data[0], &s);
    size_t cf_len = (size_t)data[6] << 8 | data[7];
    const uint8_t *rest = data + 8;
    size_t rest_len = size - 8;
    if (cf_len > rest_len)
        cf_len = rest_len;
    size_t bf_len = rest_len - cf_len;

    /* the handshake, then the frames */
    size_t cn = 0, bn = 0;
    memcpy(client_stream, upgrade, sizeof upgrade - 1);
    cn += sizeof upgrade - 1;
    memcpy(backend_stream, switched, sizeof switched - 1);
    bn += sizeof switched - 1;
    if (s.deflate) {
        memcpy(client_stream + cn, deflate, sizeof deflate - 1);
        cn += sizeof deflate - 1;
        memcpy(backend_stream + bn, deflate, sizeof deflate - 1);
        bn += sizeof deflate - 1;
    }
    memcpy(client_stream + cn, "\r\n", 2);
    cn += 2;
    memcpy(backend_stream + bn, "\r\n", 2);
    bn += 2;
    REQUIRE(cf_len <= sizeof client_stream - cn && bf_len <= sizeof backend_stream - bn);
    memcpy(client_stream + cn, rest, cf_len);
    memcpy(backend_stream + bn, rest + cf_len, bf_len);

    struct conn_model *m = &model;
    conn_reset(m, cfg, "127.0.0.1", client_stream, cn + cf_len, backend_stream, bn + bf_len,
               (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5],
               data[1] & ~8u /* the 101 comes in turn */, false);
    conn_run(m);
    conn_dump(m);
    check_run(m, &s, client_stream + cn, cf_len, backend_stream + bn, bf_len);
    return 0;
}
