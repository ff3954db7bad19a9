/* stream_framer.c - the tcp-mode framer: dispatch to the line and length framers
 * (framing.c), and the raw framer; see stream_framer.h.
 * Raw releases every byte as it arrives, up to max_bytes when set: tcp mode
 * checks nothing in the stream itself, only the limits. max_bytes bounds
 * every framing: line and length release only whole frames inside it. */
#include "gatehouse/stream_framer.h"

#include <string.h>

void gh_stream_framer_init(struct gh_stream_framer *f, const struct gh_listener_config *l)
{
    memset(f, 0, sizeof *f);
    f->kind = l->framing;
    f->max_bytes = l->max_bytes;
    if (f->kind == GH_FRAMING_LINE) {
        struct gh_line_config c = {
            .terminator = l->line_ending == GH_LINE_ENDING_CRLF ? GH_LINE_CRLF : GH_LINE_LF,
            .charset = l->line_charset == GH_LINE_CHARS_UTF8        ? GH_CHARSET_UTF8
                       : l->line_charset == GH_LINE_CHARS_PRINTABLE ? GH_CHARSET_PRINTABLE_ASCII
                                                                    : GH_CHARSET_ANY,
            .max_line = l->max_line,
        };
        (void)gh_line_framer_init(&f->u.line, &c); /* the config checked the bounds */
    } else if (f->kind == GH_FRAMING_LENGTH) {
        struct gh_length_config c = {
            .prefix_bytes = l->length_prefix,
            .endian = l->length_little_endian ? GH_LENGTH_LITTLE : GH_LENGTH_BIG,
            .length_includes_prefix = l->length_includes_prefix,
            .max_frame = l->max_frame,
        };
        (void)gh_length_framer_init(&f->u.length, &c);
    }
}

/* Feeds the line or length framer at most the bytes left in the budget:
 * when the input goes past max_bytes the stream stops there, with every
 * whole frame inside the budget released and the frame that crosses it
 * held back (a backend never gets a cut frame). An earlier violation in
 * the budget keeps its own reason. */
static void feed_framed(struct gh_stream_framer *f, const uint8_t *data, size_t len,
                        struct gh_framer_verdict *out)
{
    uint64_t left = f->max_bytes ? f->max_bytes - f->bytes : UINT64_MAX;
    bool over_budget = f->max_bytes && (uint64_t)len > left;
    size_t fed = over_budget ? (size_t)left : len;

    if (f->kind == GH_FRAMING_LINE)
        gh_line_framer_feed(&f->u.line, data, fed, out);
    else
        gh_length_framer_feed(&f->u.length, data, fed, out);
    if (over_budget && out->action == GH_FRAME_CONTINUE) {
        out->action = GH_FRAME_REJECT;
        out->reason = "max_bytes";
    }
}

void gh_stream_framer_feed(struct gh_stream_framer *f, const uint8_t *data, size_t len,
                           struct gh_framer_verdict *out)
{
    switch (f->kind) {
    case GH_FRAMING_LINE:
    case GH_FRAMING_LENGTH:
        feed_framed(f, data, len, out);
        break;
    case GH_FRAMING_RAW:
        memset(out, 0, sizeof *out);
        out->release = len;
        out->action = GH_FRAME_CONTINUE;
        if (f->max_bytes && f->bytes + len > f->max_bytes) {
            out->release = (size_t)(f->max_bytes - f->bytes);
            out->action = GH_FRAME_REJECT;
            out->reason = "max_bytes";
        }
        break;
    }
    f->bytes += out->release;
}

uint64_t gh_stream_framer_frames(const struct gh_stream_framer *f)
{
    switch (f->kind) {
    case GH_FRAMING_LINE:
        return f->u.line.stats.frames;
    case GH_FRAMING_LENGTH:
        return f->u.length.stats.frames;
    case GH_FRAMING_RAW:
        break;
    }
    return 0;
}
