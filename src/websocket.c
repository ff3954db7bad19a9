/* websocket.c - WebSocket handshake checks and the streaming frame
 * validator; the contract is include/gatehouse/websocket.h.
 *
 * Choices the header leaves open:
 *  - Upgrade must be exactly one field whose whole value is "websocket"
 *    (any case); a list such as "websocket, h2c" is ws_bad_upgrade: no
 *    client sends one and a fragile backend should not have to pick.
 *    Connection is a token list (browsers send "keep-alive, Upgrade"), in
 *    one field or several.
 *  - Sec-WebSocket-Version missing, repeated or not exactly "13": 426, so
 *    the client learns what to speak. It is checked before the key.
 *  - Sec-WebSocket-Key must be the canonical base64 of 16 bytes: 22
 *    alphabet characters, "==", and no stray bits in the last character
 *    (every real client encodes 16 random bytes with a standard encoder).
 *  - A request body (Content-Length > 0 or chunked) is ws_request_body:
 *    frames follow the head on the same stream, a body would blur where.
 *  - An Origin that appears twice fails the allow-list (403).
 *  - In the 101, permessage-deflate is the only extension: at most once,
 *    parameters from RFC 7692 7.1 only, each at most once, window bits
 *    8..15 (token or quoted), and only if the request offered it. Whether
 *    client_max_window_bits was offered is left to the client to check.
 *    A subprotocol must be one token the request listed (case-sensitive).
 *  - Frames: the first byte is checked for opcode, then RSV, then
 *    fragmentation rules; the second for mask, then length. Every rule is
 *    decided at the byte that settles it, so a bad frame is rejected before
 *    its header is complete when possible, and the verdicts do not depend
 *    on how the stream was split.
 *  - Non-minimal length encodings (a 16-bit length under 126, a 64-bit one
 *    under 65536) are ws_nonminimal_length, 1002: RFC 6455 5.2 says the
 *    minimal number of bytes MUST be used, and a strict reading leaves the
 *    backends one encoding per length.
 *  - RSV1 with permessage-deflate: only on the first frame of a text or
 *    binary message (RFC 7692 6); never on continuation or control frames.
 *    A compressed text message is not checked as UTF-8 (that would need
 *    inflating it); the endpoints do that.
 *  - Close codes accepted from a client: 1000-1003, 1007-1014 (1012-1014
 *    are IANA-registered since RFC 6455), 3000-4999. Everything else,
 *    including 1004-1006, 1015, 1016-2999 and >= 5000, is
 *    ws_bad_close_code. The server-to-client direction does not look into
 *    close payloads (framing only).
 *  - max_frame applies to control frames too; max_message counts the
 *    payload of a message's data frames and is checked at each header, so
 *    an oversized frame is refused before any of it is released.
 *  - Any byte after a close frame is ws_after_close (RFC 6455 5.5.1: no
 *    data after close; the peer's close answer is the only thing left).
 *  - The reply close frame carries the reason code as its reason text.
 *    Server-to-client violations are answered with 1014 (Bad Gateway):
 *    the client did nothing wrong. */
#include "gatehouse/websocket.h"

#include "gatehouse/span.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha.h>

typedef unsigned char uchar;

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_GUID_LEN 36
#define WS_KEY_MAX 64               /* keys gh_ws_accept_for_key hashes */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- header helpers -------------------------------------------------------- */

static bool is_tchar(uchar c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(uchar c)
{
    /* CR and LF count too: a value may span an obs-fold the listener
     * chose to log rather than reject. */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct gh_http1_span trim(struct gh_http1_span s)
{
    while (s.len > 0 && is_ows((uchar)s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_ows((uchar)s.p[s.len - 1]))
        s.len--;
    return s;
}

static bool span_is_token(struct gh_http1_span s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar((uchar)s.p[i]))
            return false;
    return true;
}

static bool span_eq_exact(struct gh_http1_span a, struct gh_http1_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The next element of a comma-separated list from *pos, OWS trimmed; empty
 * elements are skipped (RFC 9110 5.6.1). A comma inside a quoted string
 * does not split. Returns false at the end of the list. */
static bool next_element(struct gh_http1_span list, size_t *pos, struct gh_http1_span *el)
{
    while (*pos < list.len) {
        size_t start = *pos;
        bool quoted = false;
        size_t i = start;
        for (; i < list.len; i++) {
            char c = list.p[i];
            if (quoted && c == '\\' && i + 1 < list.len)
                i++;
            else if (c == '"')
                quoted = !quoted;
            else if (c == ',' && !quoted)
                break;
        }
        *pos = i < list.len ? i + 1 : i;
        struct gh_http1_span s = { list.p + start, i - start };
        s = trim(s);
        if (s.len > 0) {
            *el = s;
            return true;
        }
    }
    return false;
}

/* Headers named NAME (lowercase): how many, and the first's index. */
static size_t find_headers(const struct gh_http1_header *h, size_t n, const char *name,
                           size_t *first)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (gh_http1_span_equals(h[i].name, name)) {
            if (count++ == 0)
                *first = i;
        }
    }
    return count;
}

/* Some NAME field lists the token WORD (lowercase), ignoring case. */
static bool list_has_token(const struct gh_http1_header *h, size_t n, const char *name,
                           const char *word)
{
    for (size_t i = 0; i < n; i++) {
        if (!gh_http1_span_equals(h[i].name, name))
            continue;
        size_t pos = 0;
        struct gh_http1_span el;
        while (next_element(h[i].value, &pos, &el))
            if (gh_http1_span_equals(el, word))
                return true;
    }
    return false;
}

/* Exactly one NAME field, whose value (trimmed) is WORD ignoring case. */
static bool single_value_is(const struct gh_http1_header *h, size_t n, const char *name,
                            const char *word)
{
    size_t first = 0;
    return find_headers(h, n, name, &first) == 1 &&
           gh_http1_span_equals(trim(h[first].value), word);
}

/* ASCII case-insensitive equality of two spans. */
static bool span_ieq(struct gh_http1_span a, struct gh_http1_span b)
{
    return a.len == b.len && gh_ascii_ieq(a.p, b.p, a.len);
}

/* ---- the upgrade request ------------------------------------------------- */

static int b64_value(uchar c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

/* The canonical base64 of 16 bytes: 22 characters, the last carrying only
 * 2 bits (its low 4 bits zero), then "==". */
static bool key_is_valid(struct gh_http1_span k)
{
    if (k.len != GH_WS_KEY_LEN || k.p[22] != '=' || k.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (b64_value((uchar)k.p[i]) < 0)
            return false;
    return (b64_value((uchar)k.p[21]) & 0x0f) == 0;
}

static bool origin_allowed(const struct gh_http1_request *req, const struct gh_ws_config *cfg)
{
    size_t first = 0;
    size_t n = find_headers(req->headers, req->n_headers, "origin", &first);
    if (n == 0)
        return cfg->allow_missing_origin;
    if (n > 1)
        return false;
    struct gh_http1_span origin = trim(req->headers[first].value);
    size_t n_origins = cfg->n_origins < GH_WS_ORIGINS_MAX ? cfg->n_origins : GH_WS_ORIGINS_MAX;
    for (size_t i = 0; i < n_origins; i++) {
        /* bounded: an entry that fills its array has no NUL */
        size_t len = strnlen(cfg->origins[i], sizeof cfg->origins[i]);
        struct gh_http1_span want = { cfg->origins[i], len };
        if (len > 0 && span_ieq(origin, want))
            return true;
    }
    return false;
}

static bool refuse(struct gh_ws_upgrade_verdict *out, int status, const char *reason)
{
    out->status = status;
    out->reason = reason;
    out->extra_headers = status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "";
    return false;
}

bool gh_ws_check_upgrade(const struct gh_http1_request *req, const struct gh_ws_config *cfg,
                         struct gh_ws_upgrade_verdict *out)
{
    const struct gh_http1_header *h = req->headers;
    size_t n = req->n_headers;
    size_t first = 0;

    memset(out, 0, sizeof *out);
    out->extra_headers = "";
    if (!(req->method.len == 3 && memcmp(req->method.p, "GET", 3) == 0))
        return refuse(out, 400, "ws_bad_method");
    if (req->minor_version != 1)
        return refuse(out, 400, "ws_bad_http_version");
    if (req->host_index < 0)
        return refuse(out, 400, "ws_missing_host");
    if (!single_value_is(h, n, "upgrade", "websocket"))
        return refuse(out, 400, "ws_bad_upgrade");
    if (!list_has_token(h, n, "connection", "upgrade"))
        return refuse(out, 400, "ws_bad_connection");
    if (!single_value_is(h, n, "sec-websocket-version", "13"))
        return refuse(out, 426, "ws_bad_version");
    if (find_headers(h, n, "sec-websocket-key", &first) != 1 ||
        !key_is_valid(trim(h[first].value)))
        return refuse(out, 400, "ws_bad_key");
    if (req->body == GH_BODY_CHUNKED || (req->body == GH_BODY_LENGTH && req->content_length > 0))
        return refuse(out, 400, "ws_request_body");
    if (cfg && cfg->n_origins > 0 && !origin_allowed(req, cfg))
        return refuse(out, 403, "ws_origin_denied");
    out->key = trim(h[first].value);
    return true;
}

/* ---- Sec-WebSocket-Accept ------------------------------------------------- */

/* base64 of 20 bytes: 28 characters with one '='. */
static void b64_encode_20(const uchar in[20], char out[GH_WS_ACCEPT_LEN + 1])
{
    size_t o = 0;
    for (size_t i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    uint32_t v = (uint32_t)in[18] << 16 | (uint32_t)in[19] << 8;
    out[o++] = b64_alphabet[v >> 18 & 63];
    out[o++] = b64_alphabet[v >> 12 & 63];
    out[o++] = b64_alphabet[v >> 6 & 63];
    out[o++] = '=';
    out[o] = '\0';
}

bool gh_ws_accept_for_key(const char *key, size_t key_len, char out[GH_WS_ACCEPT_LEN + 1])
{
    uchar buf[WS_KEY_MAX + WS_GUID_LEN];
    uchar digest[WC_SHA_DIGEST_SIZE];

    out[0] = '\0';
    if (key_len > WS_KEY_MAX)
        return false;
    if (key_len > 0)
        memcpy(buf, key, key_len);
    memcpy(buf + key_len, WS_GUID, WS_GUID_LEN);
    if (wc_ShaHash(buf, (word32)(key_len + WS_GUID_LEN), digest) != 0)
        return false;
    b64_encode_20(digest, out);
    return true;
}

/* ---- the backend's 101 ---------------------------------------------------- */

/* 8..15 as a token or a quoted string. */
static bool window_bits_ok(struct gh_http1_span v)
{
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
        v.p++;
        v.len -= 2;
    }
    if (v.len == 1)
        return v.p[0] >= '8' && v.p[0] <= '9';
    return v.len == 2 && v.p[0] == '1' && v.p[1] >= '0' && v.p[1] <= '5';
}

/* One element of a response's Sec-WebSocket-Extensions: "permessage-deflate"
 * with RFC 7692 7.1 parameters, each at most once. */
static bool deflate_response_ok(struct gh_http1_span el)
{
    static const char *const params[] = {
        "server_no_context_takeover", "client_no_context_takeover",
        "server_max_window_bits", "client_max_window_bits",
    };
    unsigned seen = 0;
    size_t i = 0;
    bool first = true;

    while (i <= el.len) {
        size_t start = i;
        while (i < el.len && el.p[i] != ';')
            i++;
        struct gh_http1_span part = trim((struct gh_http1_span){ el.p + start, i - start });
        i++;                    /* past ';' (or the end) */
        if (first) {
            if (!gh_http1_span_equals(part, "permessage-deflate"))
                return false;
            first = false;
            continue;
        }
        struct gh_http1_span name = part, value = { NULL, 0 };
        const char *eq = memchr(part.p, '=', part.len);
        if (eq) {
            name = trim((struct gh_http1_span){ part.p, (size_t)(eq - part.p) });
            value = trim((struct gh_http1_span){ eq + 1, part.len - (size_t)(eq + 1 - part.p) });
        }
        size_t k;
        for (k = 0; k < 4; k++)
            if (gh_http1_span_equals(name, params[k]))
                break;
        if (k == 4 || (seen & (1u << k)))
            return false;
        seen |= 1u << k;
        bool takes_value = k >= 2;
        if (takes_value ? !(eq && window_bits_ok(value)) : eq != NULL)
            return false;
    }
    return !first;
}

/* The request offered permessage-deflate (in any form). */
static bool deflate_offered(const struct gh_http1_request *req)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!gh_http1_span_equals(req->headers[i].name, "sec-websocket-extensions"))
            continue;
        size_t pos = 0;
        struct gh_http1_span el;
        while (next_element(req->headers[i].value, &pos, &el)) {
            const char *semi = memchr(el.p, ';', el.len);
            struct gh_http1_span name = el;
            if (semi)
                name = trim((struct gh_http1_span){ el.p, (size_t)(semi - el.p) });
            if (gh_http1_span_equals(name, "permessage-deflate"))
                return true;
        }
    }
    return false;
}

static bool protocol_offered(const struct gh_http1_request *req, struct gh_http1_span proto)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!gh_http1_span_equals(req->headers[i].name, "sec-websocket-protocol"))
            continue;
        size_t pos = 0;
        struct gh_http1_span el;
        while (next_element(req->headers[i].value, &pos, &el))
            if (span_eq_exact(el, proto))
                return true;
    }
    return false;
}

static bool response_fails(struct gh_ws_response_verdict *out, const char *reason)
{
    out->reason = reason;
    out->deflate = false;
    return false;
}

bool gh_ws_check_response(const struct gh_http1_request *req,
                          const struct gh_http1_response *resp,
                          struct gh_ws_response_verdict *out)
{
    const struct gh_http1_header *h = resp->headers;
    size_t n = resp->n_headers;
    size_t first = 0;
    bool deflate = false;

    memset(out, 0, sizeof *out);
    if (resp->status != 101)
        return response_fails(out, "ws_not_switched");
    if (resp->minor_version != 1)
        return response_fails(out, "ws_bad_http_version");
    if (!single_value_is(h, n, "upgrade", "websocket"))
        return response_fails(out, "ws_bad_upgrade");
    if (!list_has_token(h, n, "connection", "upgrade"))
        return response_fails(out, "ws_bad_connection");

    size_t kfirst = 0;
    char want[GH_WS_ACCEPT_LEN + 1];
    if (find_headers(req->headers, req->n_headers, "sec-websocket-key", &kfirst) != 1)
        return response_fails(out, "ws_bad_accept");
    struct gh_http1_span key = trim(req->headers[kfirst].value);
    if (!gh_ws_accept_for_key(key.p, key.len, want) ||
        find_headers(h, n, "sec-websocket-accept", &first) != 1 ||
        !span_eq_exact(trim(h[first].value), (struct gh_http1_span){ want, GH_WS_ACCEPT_LEN }))
        return response_fails(out, "ws_bad_accept");

    for (size_t i = 0; i < n; i++) {
        if (!gh_http1_span_equals(h[i].name, "sec-websocket-extensions"))
            continue;
        size_t pos = 0;
        struct gh_http1_span el;
        while (next_element(h[i].value, &pos, &el)) {
            if (deflate || !deflate_response_ok(el))
                return response_fails(out, "ws_bad_extension");
            deflate = true;
        }
    }
    if (deflate && !deflate_offered(req))
        return response_fails(out, "ws_bad_extension");

    size_t n_proto = find_headers(h, n, "sec-websocket-protocol", &first);
    if (n_proto > 1)
        return response_fails(out, "ws_bad_protocol");
    if (n_proto == 1) {
        struct gh_http1_span proto = trim(h[first].value);
        if (!span_is_token(proto) || !protocol_offered(req, proto))
            return response_fails(out, "ws_bad_protocol");
    }
    out->reason = NULL;
    out->deflate = deflate;
    return true;
}

/* ---- frames --------------------------------------------------------------- */

enum ws_phase {
    PH_HEADER,         /* collecting a frame header */
    PH_PAYLOAD,        /* streaming a payload, released as checked */
    PH_CLOSE_PAYLOAD,  /* a client's close payload, held until the frame is checked */
    PH_CLOSED,         /* a close frame went by: nothing after it is examined or
                        * released (RFC 6455 5.5.1); the caller discards it */
};

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xa,
};

static bool is_control(unsigned op)
{
    return op >= OP_CLOSE;
}

#define B0_FIN 0x80u
#define B0_RSV1 0x40u
#define B0_RSV23 0x30u
#define B0_OPCODE 0x0fu
#define B1_MASK 0x80u
#define B1_LEN 0x7fu

#define SCRATCH 256 /* unmasked text checked per step: stack use stays small */

void gh_ws_validator_init(struct gh_ws_validator *v, enum gh_ws_direction dir,
                          const struct gh_ws_limits *limits, bool deflate)
{
    memset(v, 0, sizeof *v);
    v->dir = dir;
    v->rsv1_allowed = deflate;
    v->max_frame = limits && limits->max_frame ? limits->max_frame : GH_WS_DEFAULT_MAX_FRAME;
    v->max_message = limits && limits->max_message ? limits->max_message
                                                   : GH_WS_DEFAULT_MAX_MESSAGE;
    v->hold_max = limits ? limits->hold_max : 0;
    v->phase = PH_HEADER;
    v->hdr_need = 2;
    gh_utf8_init(&v->utf8);
    gh_utf8_init(&v->close_utf8);
    v->stats.close_code = -1;
}

static bool client_side(const struct gh_ws_validator *v)
{
    return v->dir == GH_WS_CLIENT_TO_SERVER;
}

/* The current frame carries a client's text, checked as UTF-8: a text or
 * continuation frame of an uncompressed text message, not a control frame
 * that interrupts one. */
static bool checks_text(const struct gh_ws_validator *v)
{
    return client_side(v) && v->opcode <= OP_BINARY && v->msg_opcode == OP_TEXT &&
           !v->msg_compressed;
}

/* Close codes a client may send (see the file comment). */
static bool close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Settles the rules of the first header byte. */
static const char *check_byte0(struct gh_ws_validator *v, uchar b)
{
    unsigned op = b & B0_OPCODE;
    bool fin = (b & B0_FIN) != 0;

    if (op > OP_PONG || (op > OP_BINARY && op < OP_CLOSE))
        return "ws_bad_opcode";
    if (b & B0_RSV23)
        return "ws_bad_rsv";
    if ((b & B0_RSV1) && !(v->rsv1_allowed && (op == OP_TEXT || op == OP_BINARY)))
        return "ws_bad_rsv";
    if (is_control(op)) {
        if (!fin)
            return "ws_control_fragmented";
    } else if (op == OP_CONT) {
        if (v->msg_opcode == 0)
            return "ws_bad_continuation";
    } else {
        if (v->msg_opcode != 0)
            return "ws_expected_continuation";
        /* a new message starts */
        v->msg_opcode = (uint8_t)op;
        v->msg_compressed = (b & B0_RSV1) != 0;
        v->msg_size = 0;
        gh_utf8_init(&v->utf8);
    }
    v->opcode = (uint8_t)op;
    v->fin = fin;
    return NULL;
}

/* Settles the payload length once known: limits, and a client's close
 * frame cannot carry a 1-byte payload (a code is 2 bytes). */
static const char *check_length(struct gh_ws_validator *v, uint64_t n)
{
    if (v->opcode == OP_CLOSE && n == 1 && client_side(v))
        return "ws_bad_close_payload";
    if (n > v->max_frame)
        return "ws_frame_too_large";
    if (!is_control(v->opcode)) {
        if (n > v->max_message - v->msg_size)   /* msg_size <= max_message always */
            return "ws_message_too_large";
        v->msg_size += n;
    }
    v->payload_len = n;
    return NULL;
}

static const char *check_byte1(struct gh_ws_validator *v, uchar b)
{
    bool masked = (b & B1_MASK) != 0;
    unsigned len7 = b & B1_LEN;

    if (client_side(v) && !masked)
        return "ws_unmasked";
    if (!client_side(v) && masked)
        return "ws_masked";
    if (is_control(v->opcode) && len7 > GH_WS_CONTROL_MAX)
        return "ws_control_too_long";
    v->hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0));
    return len7 < 126 ? check_length(v, len7) : NULL;
}

/* Called with each header byte after the first two. */
static const char *check_ext_length(struct gh_ws_validator *v)
{
    unsigned len7 = v->hdr[1] & B1_LEN;
    if (len7 == 126 && v->hdr_len == 4) {
        uint64_t n = (uint64_t)v->hdr[2] << 8 | v->hdr[3];
        return n < 126 ? "ws_nonminimal_length" : check_length(v, n);
    }
    if (len7 == 127 && v->hdr_len == 10) {
        if (v->hdr[2] & 0x80)
            return "ws_bad_length";
        uint64_t n = 0;
        for (int k = 2; k < 10; k++)
            n = n << 8 | v->hdr[k];
        return n <= 0xffff ? "ws_nonminimal_length" : check_length(v, n);
    }
    return NULL;
}

static const uint8_t *mask_key(const struct gh_ws_validator *v)
{
    return v->hdr + v->hdr_need - 4;
}

static bool has_mask(const struct gh_ws_validator *v)
{
    return (v->hdr[1] & B1_MASK) != 0;
}

/* The frame's payload is all examined. Returns the rule that its end
 * breaks (a text message ending inside a character; a close reason that
 * does), or NULL. */
static const char *end_frame(struct gh_ws_validator *v)
{
    if (v->opcode == OP_CLOSE) {
        if (client_side(v)) {
            if (!gh_utf8_complete(&v->close_utf8))
                return "ws_bad_utf8";
            v->stats.close_code = v->payload_len >= 2 ? (v->close_code_bytes[0] << 8 |
                                                         v->close_code_bytes[1])
                                                      : 0;
        }
    } else if (!is_control(v->opcode) && v->fin) {
        if (checks_text(v) && !gh_utf8_complete(&v->utf8))
            return "ws_bad_utf8";
        v->stats.messages++;
        v->msg_opcode = 0;
        v->msg_compressed = false;
        v->msg_size = 0;
    }
    /* counted only once the frame is known good */
    v->stats.frames++;
    if (is_control(v->opcode))
        v->stats.control_frames++;
    v->phase = v->opcode == OP_CLOSE ? PH_CLOSED : PH_HEADER;
    v->frame_held = false;
    v->hdr_len = 0;
    v->hdr_need = 2;
    return NULL;
}

/* Checks payload bytes data[0, n) of a client's text frame, starting at
 * payload offset pos. Returns how many are a valid continuation. */
static size_t check_text(struct gh_ws_validator *v, const uint8_t *data, size_t n, uint64_t pos)
{
    uint8_t scratch[SCRATCH];
    const uint8_t *key = mask_key(v);
    size_t done = 0;

    while (done < n) {
        size_t m = n - done < SCRATCH ? n - done : SCRATCH;
        for (size_t j = 0; j < m; j++)
            scratch[j] = data[done + j] ^ key[(pos + done + j) & 3];
        size_t ok = gh_utf8_feed(&v->utf8, scratch, m);
        done += ok;
        if (ok < m)
            break;
    }
    return done;
}

/* One byte of a client's close payload at payload offset pos. */
static const char *check_close_byte(struct gh_ws_validator *v, uchar masked, uint64_t pos)
{
    uchar b = masked ^ mask_key(v)[pos & 3];
    if (pos < 2) {
        v->close_code_bytes[pos] = b;
        if (pos == 1 && !close_code_ok((unsigned)(v->close_code_bytes[0] << 8 | b)))
            return "ws_bad_close_code";
        return NULL;
    }
    return gh_utf8_feed(&v->close_utf8, &b, 1) == 1 ? NULL : "ws_bad_utf8";
}

static uint16_t close_code_for(const struct gh_ws_validator *v, const char *reason)
{
    if (!client_side(v))
        return GH_WS_CLOSE_BAD_GATEWAY;
    if (strcmp(reason, "ws_bad_utf8") == 0)
        return GH_WS_CLOSE_INVALID_DATA;
    if (strcmp(reason, "ws_frame_too_large") == 0 || strcmp(reason, "ws_message_too_large") == 0)
        return GH_WS_CLOSE_TOO_BIG;
    return GH_WS_CLOSE_PROTOCOL_ERROR;
}

static void reject(struct gh_ws_validator *v, const char *reason)
{
    size_t text = strlen(reason);
    if (text > GH_WS_REPLY_MAX - 4)
        text = GH_WS_REPLY_MAX - 4;
    v->reason = reason;
    v->reply_code = close_code_for(v, reason);
    v->reply[0] = B0_FIN | OP_CLOSE;
    v->reply[1] = (uint8_t)(2 + text);
    v->reply[2] = (uint8_t)(v->reply_code >> 8);
    v->reply[3] = (uint8_t)(v->reply_code & 0xff);
    memcpy(v->reply + 4, reason, text);
    v->reply_len = 4 + text;
    v->held = 0;
}

static void set_verdict(const struct gh_ws_validator *v, size_t release,
                        struct gh_framer_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->release = release;
    if (v->reason) {
        out->action = GH_FRAME_REJECT;
        out->reason = v->reason;
        out->reply = (const char *)v->reply;
        out->reply_len = v->reply_len;
    } else {
        out->action = GH_FRAME_CONTINUE;
    }
}

void gh_ws_validator_feed(struct gh_ws_validator *v, const uint8_t *data, size_t len,
                          struct gh_framer_verdict *out)
{
    size_t i = v->held;         /* data[0, held) was examined by earlier calls */
    size_t rel = 0;             /* data[0, rel) is released */
    uint64_t payload_rel = 0;   /* of which payload */
    const char *rule = NULL;

    if (v->reason) {
        set_verdict(v, 0, out);
        return;
    }
    if (len < v->held) {        /* the caller dropped held bytes: see framing.h */
        set_verdict(v, 0, out);
        return;
    }
    while (i < len && !rule) {
        switch (v->phase) {
        case PH_HEADER: {
            uchar b = data[i++];
            v->hdr[v->hdr_len++] = b;
            if (v->hdr_len == 1)
                rule = check_byte0(v, b);
            else if (v->hdr_len == 2)
                rule = check_byte1(v, b);
            else
                rule = check_ext_length(v);
            if (rule || v->hdr_len < v->hdr_need)
                break;
            /* header complete and valid */
            v->remaining = v->payload_len;
            bool hold_close = v->opcode == OP_CLOSE && client_side(v);
            /* a client's text frame goes on only once all of it is known
             * to be UTF-8, when it fits what the caller can hold */
            v->frame_held = checks_text(v) && v->payload_len <= v->hold_max;
            bool hold_whole = hold_close || v->frame_held;
            v->phase = hold_close ? PH_CLOSE_PAYLOAD : PH_PAYLOAD;
            if (hold_close)
                gh_utf8_init(&v->close_utf8);
            if (v->remaining == 0)
                rule = end_frame(v);
            /* released now unless a held payload is still to be checked
             * (an empty frame is checked already) */
            if (!rule && (!hold_whole || v->payload_len == 0))
                rel = i;
            break;
        }
        case PH_PAYLOAD: {
            /* a held frame (header included) is released only whole; on a
             * fault nothing of it goes on */
            bool held = v->frame_held;
            size_t avail = len - i;
            size_t n = v->remaining < avail ? (size_t)v->remaining : avail;
            uint64_t pos = v->payload_len - v->remaining;
            if (checks_text(v) && has_mask(v)) {
                size_t ok = check_text(v, data + i, n, pos);
                if (ok < n) {
                    i += ok;
                    if (!held) {
                        payload_rel += i - rel;
                        rel = i;
                    }
                    rule = "ws_bad_utf8";
                    break;
                }
            }
            i += n;
            v->remaining -= n;
            if (v->remaining == 0) {
                uint64_t frame_payload = v->payload_len;
                rule = end_frame(v);
                if (rule) {     /* the message's last byte left a character open */
                    if (!held) {
                        payload_rel += i - 1 - rel;
                        rel = i - 1;
                    }
                    break;
                }
                if (held) {
                    payload_rel += frame_payload;
                    rel = i;
                    break;
                }
            }
            if (!held) {
                payload_rel += i - rel;
                rel = i;
            }
            break;
        }
        case PH_CLOSE_PAYLOAD: {
            uint64_t pos = v->payload_len - v->remaining;
            rule = check_close_byte(v, data[i], pos);
            if (rule)
                break;
            i++;
            if (--v->remaining == 0) {
                rule = end_frame(v);
                if (!rule) {
                    payload_rel += v->payload_len;
                    rel = i;
                }
            }
            break;
        }
        default:                /* PH_CLOSED: left for the caller to discard */
            break;
        }
        if (v->phase == PH_CLOSED)
            break;
    }
    v->stats.wire_bytes += rel;
    v->stats.payload_bytes += payload_rel;
    if (rule)
        reject(v, rule);
    else
        v->held = i - rel;
    set_verdict(v, rel, out);
}

bool gh_ws_validator_closed(const struct gh_ws_validator *v)
{
    return v->phase == PH_CLOSED && !v->reason;
}
