/* framer.h - what may pass from client to backend.
 *
 * A framer is fed the client's plaintext as it arrives and answers how much
 * of it is known to be valid and may be forwarded now, and whether the
 * stream must stop (with a reply for the client and a stable reason code).
 * Bytes not yet released stay in the connection's buffer until more data
 * completes them. Owns: per-connection framing state; no I/O, no
 * allocation. The listener's mode picks the framer; tcp mode uses raw. */
#ifndef GATEHOUSE_FRAMER_H
#define GATEHOUSE_FRAMER_H

#include <stddef.h>
#include <stdint.h>

enum gh_framer_kind { GH_FRAMER_RAW };

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

struct gh_framer {
    enum gh_framer_kind kind;
    uint64_t bytes_seen;
};

void gh_framer_init(struct gh_framer *f, enum gh_framer_kind kind);

/* Examines data[0, len), which starts at the first byte not yet released. */
void gh_framer_feed(struct gh_framer *f, const uint8_t *data, size_t len,
                    struct gh_framer_verdict *out);

#endif
