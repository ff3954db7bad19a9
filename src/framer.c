/* framer.c - the framer dispatch and the raw framer; see framer.h.
 * Raw releases every byte as it arrives: tcp mode checks nothing in the
 * stream itself, only TLS and the limits the connection enforces. */
#include "gatehouse/framer.h"

#include <string.h>

void gh_framer_init(struct gh_framer *f, enum gh_framer_kind kind)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
}

void gh_framer_feed(struct gh_framer *f, const uint8_t *data, size_t len,
                    struct gh_framer_verdict *out)
{
    (void)data;
    memset(out, 0, sizeof *out);
    switch (f->kind) {
    case GH_FRAMER_RAW:
        f->bytes_seen += len;
        out->release = len;
        out->action = GH_FRAME_CONTINUE;
        return;
    }
}
