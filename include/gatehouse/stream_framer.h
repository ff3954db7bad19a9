/* stream_framer.h - the framer of a tcp-mode connection: raw, line or
 * length, as its listener's framing key says.
 *
 * Owns: choosing the framer and its limits from the config, the byte
 * budget of every framing (max_bytes: line and length stop at the last
 * whole frame inside it), and the counters the close audit entry
 * reports (frames and bytes). */
#ifndef GATEHOUSE_STREAM_FRAMER_H
#define GATEHOUSE_STREAM_FRAMER_H

#include "gatehouse/config.h"
#include "gatehouse/framer_verdict.h"
#include "gatehouse/framing.h"

struct gh_stream_framer {
    enum gh_framing kind;
    uint64_t bytes;              /* released so far */
    uint64_t max_bytes;          /* every framing: 0 = no limit */
    union {
        struct gh_line_framer line;
        struct gh_length_framer length;
    } u;
};

void gh_stream_framer_init(struct gh_stream_framer *f, const struct gh_listener_config *l);

/* Examines data[0, len), which starts at the first byte not yet released. */
void gh_stream_framer_feed(struct gh_stream_framer *f, const uint8_t *data, size_t len,
                           struct gh_framer_verdict *out);

/* Frames released so far (0 for raw, which has none) and bytes. */
uint64_t gh_stream_framer_frames(const struct gh_stream_framer *f);

#endif
