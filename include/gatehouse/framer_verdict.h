/* framer_verdict.h - what may pass from client to backend.
 *
 * A framer is fed the client's plaintext as it arrives and answers how much
 * of it is known to be valid and may be forwarded now, and whether the
 * stream must stop (with a reply for the client and a stable reason code).
 * Bytes not yet released stay in the connection's buffer until more data
 * completes them. Owns: the verdict every framer answers with (the line and
 * length framers, framing.h; the WebSocket frame validators, websocket.h;
 * the tcp-mode stream framer, stream_framer.h); each framer owns its own
 * state. No I/O, no allocation. tcp mode picks one by the listener's
 * framing key: raw (no framing; an optional byte budget), line or length. */
#ifndef GATEHOUSE_FRAMER_VERDICT_H
#define GATEHOUSE_FRAMER_VERDICT_H

#include <stddef.h>
#include <stdint.h>

enum gh_framer_action {
    GH_FRAME_CONTINUE,   /* forward what was released, feed more later */
    GH_FRAME_REJECT,     /* send reply (if any), forward nothing more, close */
};

struct gh_framer_verdict {
    size_t release;              /* bytes from the start of the input that may go on */
    enum gh_framer_action action;
    const char *reason;          /* stable code when action is REJECT */
    const char *reply;           /* bytes for the client, or NULL */
    size_t reply_len;
};

#endif
