/* websocket.h - WebSocket (RFC 6455) for http mode with `websocket = on`:
 * the opening handshake and the frame streams that follow it.
 *
 * Owns:
 *  - the checks on an upgrade request (RFC 6455 4.2.1) and the answer to a
 *    bad one (400, 403 or 426 with a stable reason code);
 *  - Sec-WebSocket-Accept and the checks on the backend's 101 (RFC 6455
 *    4.1, RFC 7692 for permessage-deflate): only a correct 101 switches the
 *    connection to frame mode;
 *  - a streaming frame validator per direction, with the feed contract of
 *    framing.h (release as soon as known valid, identical verdicts however
 *    the stream is split, sticky rejects), reason codes and the close frame
 *    that tells the client why;
 *  - per-direction counts for the `close` audit entry.
 * It works on requests and responses already parsed by http1.h (it never
 * re-parses a head) and does no I/O and no allocation.
 *
 * Reason codes (stable: audit log, metrics):
 *  handshake request: ws_bad_method, ws_bad_http_version, ws_missing_host,
 *    ws_bad_upgrade, ws_bad_connection, ws_bad_version (426), ws_bad_key,
 *    ws_request_body, ws_origin_denied (403); all others 400.
 *  backend response: ws_not_switched (not a 101: an ordinary response, the
 *    connection stays HTTP), ws_bad_http_version, ws_bad_upgrade,
 *    ws_bad_connection, ws_bad_accept, ws_bad_extension, ws_bad_protocol.
 *  frames: ws_bad_opcode, ws_bad_rsv, ws_control_fragmented,
 *    ws_bad_continuation (continuation with no message open),
 *    ws_expected_continuation (a new text/binary frame while a message is
 *    open), ws_unmasked (client frame without mask), ws_masked (server frame
 *    with mask), ws_control_too_long, ws_bad_length (64-bit length with the
 *    top bit set), ws_nonminimal_length, ws_frame_too_large,
 *    ws_message_too_large, ws_bad_utf8 (text or close reason),
 *    ws_bad_close_payload (1 byte), ws_bad_close_code.
 *  After a close frame nothing is refused: what follows it is discarded
 *  (RFC 6455 5.5.1, the endpoint sends no data after a Close), see
 *  gh_ws_validator_closed. */
#ifndef GATEHOUSE_WEBSOCKET_H
#define GATEHOUSE_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/framer_verdict.h"
#include "gatehouse/http1.h"
#include "gatehouse/utf8.h"

#define GH_WS_KEY_LEN 24            /* Sec-WebSocket-Key: base64 of 16 bytes */
#define GH_WS_ACCEPT_LEN 28         /* Sec-WebSocket-Accept: base64 of a SHA-1 */
#define GH_WS_ORIGINS_MAX 16        /* entries in the Origin allow-list */
#define GH_WS_ORIGIN_LEN_MAX 255    /* one serialized origin, "scheme://host[:port]" */
#define GH_WS_HEADER_MAX 14         /* 2 + 8 (64-bit length) + 4 (mask key) */
#define GH_WS_CONTROL_MAX 125       /* payload of a control frame (RFC 6455 5.5) */
#define GH_WS_REPLY_MAX 36          /* close frame sent on a reject: 2 + code + reason code */

#define GH_WS_DEFAULT_MAX_FRAME ((uint64_t)1 << 20)     /* 1 MiB payload per frame */
#define GH_WS_DEFAULT_MAX_MESSAGE ((uint64_t)16 << 20)  /* 16 MiB per message */

/* Close codes gatehouse sends (RFC 6455 7.4.1, IANA registry). */
#define GH_WS_CLOSE_PROTOCOL_ERROR 1002
#define GH_WS_CLOSE_INVALID_DATA 1007   /* text or close reason not UTF-8 */
#define GH_WS_CLOSE_TOO_BIG 1009
#define GH_WS_CLOSE_BAD_GATEWAY 1014    /* the backend broke the protocol */

/* ---- handshake ------------------------------------------------------------- */

struct gh_ws_config {
    /* Allowed Origin values, compared ASCII case-insensitively with the
     * whole Origin field (RFC 6454 serialization). No entries: any Origin,
     * or none, is accepted. */
    char origins[GH_WS_ORIGINS_MAX][GH_WS_ORIGIN_LEN_MAX + 1];
    size_t n_origins;
    /* With an allow-list: whether a request without Origin (a non-browser
     * client) passes. Off means ws_origin_denied. */
    bool allow_missing_origin;
};

struct gh_ws_upgrade_verdict {
    int status;                  /* 0 when the upgrade may go to the backend, else 400/403/426 */
    const char *reason;          /* stable code, NULL when valid */
    /* Header lines the error reply must carry, each ending in CRLF, ""
     * when none: a 426 names the version gatehouse speaks. */
    const char *extra_headers;
    struct gh_http1_span key;    /* Sec-WebSocket-Key when valid: for gh_ws_check_response */
};

/* Checks a parsed request that asks to upgrade (req->has_upgrade) against
 * RFC 6455 4.2.1: GET, HTTP/1.1, Host, exactly one "Upgrade: websocket",
 * an "upgrade" token in Connection, exactly one "Sec-WebSocket-Version: 13"
 * (else 426), exactly one Sec-WebSocket-Key that is the canonical base64 of
 * 16 bytes, no body, and the Origin allow-list of cfg (NULL: no Origin
 * check). Returns true when the upgrade may be forwarded. */
bool gh_ws_check_upgrade(const struct gh_http1_request *req, const struct gh_ws_config *cfg,
                         struct gh_ws_upgrade_verdict *out);

/* Writes base64(SHA-1(key || GUID)), NUL-terminated, to out. Returns false
 * when key_len is over 64 bytes or the hash fails. */
bool gh_ws_accept_for_key(const char *key, size_t key_len, char out[GH_WS_ACCEPT_LEN + 1]);

struct gh_ws_response_verdict {
    const char *reason;          /* NULL: switch to frame mode */
    bool deflate;                /* permessage-deflate negotiated: RSV1 on data frames */
};

/* Checks the backend's answer to an upgrade request that passed
 * gh_ws_check_upgrade: 101, HTTP/1.1, "Upgrade: websocket", an "upgrade"
 * token in Connection, the Sec-WebSocket-Accept that the request's key
 * calls for, no extension but a well-formed permessage-deflate the client
 * offered, and at most one subprotocol, one the client offered. Returns
 * true when the connection may switch to frame mode. On false the
 * connection must not switch: ws_not_switched is an ordinary response to
 * forward, every other reason a broken handshake (the caller answers 502). */
bool gh_ws_check_response(const struct gh_http1_request *req,
                          const struct gh_http1_response *resp,
                          struct gh_ws_response_verdict *out);

/* ---- frames -------------------------------------------------------------- */

enum gh_ws_direction {
    GH_WS_CLIENT_TO_SERVER, /* frames must be masked; full checks incl. UTF-8 and close codes */
    GH_WS_SERVER_TO_CLIENT, /* frames must be unmasked; framing checks only */
};

struct gh_ws_limits {
    uint64_t max_frame;      /* payload bytes of one frame; 0: GH_WS_DEFAULT_MAX_FRAME */
    uint64_t max_message;    /* payload bytes of one message; 0: GH_WS_DEFAULT_MAX_MESSAGE */
    /* Payload bytes of a client's text frame that the caller can hold
     * whole (its buffer less GH_WS_HEADER_MAX): such a frame is released
     * only once all of it is checked. 0: none is held. */
    uint64_t hold_max;
};

struct gh_ws_stats {
    uint64_t frames;          /* frames completed (control frames included) */
    uint64_t control_frames;  /* of which close, ping, pong */
    uint64_t messages;        /* text/binary messages completed */
    uint64_t payload_bytes;   /* payload bytes released */
    uint64_t wire_bytes;      /* all bytes released: headers and payload */
    uint64_t discarded_bytes; /* bytes after a close frame, dropped (set by the caller) */
    int close_code;           /* -1: no close frame yet; 0: close without a code
                               * (empty payload); else the code it carried */
};

struct gh_ws_validator {
    /* fixed at init */
    enum gh_ws_direction dir;
    bool rsv1_allowed;                 /* permessage-deflate negotiated */
    uint64_t max_frame, max_message;
    uint64_t hold_max;                 /* see gh_ws_limits */

    /* where the stream is */
    uint8_t phase;                     /* header, payload, close payload, closed */
    size_t held;                       /* bytes at the start of the next feed already examined */

    /* the current frame */
    uint8_t hdr[GH_WS_HEADER_MAX];     /* header bytes collected so far */
    uint8_t hdr_len;
    uint8_t hdr_need;                  /* header length, known once byte 1 is in */
    uint8_t opcode;
    bool fin;
    uint64_t payload_len;
    uint64_t remaining;                /* payload bytes not examined yet */
    bool frame_held;                   /* a text frame released only whole (hold_max) */

    /* the current message (text or binary, possibly fragmented) */
    uint8_t msg_opcode;                /* 0: no message open; 1 text; 2 binary */
    bool msg_compressed;               /* RSV1 on its first frame: deflated, so no UTF-8 check */
    uint64_t msg_size;                 /* payload bytes of the message so far */
    struct gh_utf8 utf8;               /* text message so far */

    /* a client's close frame: code bytes and reason */
    uint8_t close_code_bytes[2];
    struct gh_utf8 close_utf8;

    /* once rejected */
    const char *reason;
    uint16_t reply_code;
    uint8_t reply[GH_WS_REPLY_MAX];    /* the close frame for the client */
    size_t reply_len;

    struct gh_ws_stats stats;
};

/* limits NULL: the defaults. deflate: what gh_ws_check_response found. */
void gh_ws_validator_init(struct gh_ws_validator *v, enum gh_ws_direction dir,
                          const struct gh_ws_limits *limits, bool deflate);

/* The feed contract of framing.h. What is released, and when:
 *  - a frame header once complete and valid (a client's close frame is held
 *    whole until its code and reason are checked: at most 14 + 125 bytes;
 *    a client's text frame of at most hold_max payload bytes is held whole,
 *    header included, until all of it is checked as UTF-8, so a lenient
 *    backend never gets part of a frame that turns out invalid);
 *  - other payload bytes as they arrive; in a client's text frame over
 *    hold_max each byte as soon as the text up to it is still a valid
 *    prefix of UTF-8 (a character may be split across feeds and frames).
 *  - nothing after a close frame: the feed stops there with CONTINUE and
 *    gh_ws_validator_closed says the rest is to be discarded. Masked payload is unmasked into a scratch buffer
 *    to check it; the data itself is never modified (it goes on masked).
 * On REJECT, out->reply / reply_len hold a server-to-client close frame
 * (unmasked; the code: 1002 protocol error, 1007 bad UTF-8, 1009 too big;
 * 1014 for any server-to-client violation), owned by the validator, and
 * v->reply_code says which. */
void gh_ws_validator_feed(struct gh_ws_validator *v, const uint8_t *data, size_t len,
                          struct gh_framer_verdict *out);

/* A valid close frame has been released: whatever follows in this
 * direction is not data (RFC 6455 5.5.1) and is discarded, not refused,
 * so the close itself still ends the conversation cleanly. */
bool gh_ws_validator_closed(const struct gh_ws_validator *v);

#endif
