/* mode_tcp.c - mode = tcp: the stream framer (raw, line or length) as a
 * mode (mode.h).
 *
 * The client's bytes are read straight into the backend's out; the framer
 * releases them where they lie (to_backend_ready). A refused frame is
 * dropped whole; the frames before it still go to the backend, then the
 * connection closes. The backend's bytes go to the client unframed. */
#include "gatehouse/mode.h"

#include "gatehouse/conn.h"

/* Drops the client bytes the framer has not released (a refused or
 * unfinishable frame); the released ones before them still go on. */
static void drop_unreleased(struct gh_conn *c)
{
    c->backend.out.tail = c->backend.out.head + c->to_backend_ready;
}

static int tcp_open(struct gh_conn *c)
{
    gh_stream_framer_init(&c->framer, c->cfg);
    return 0;
}

static void tcp_client_known(struct gh_conn *c)
{
    (void)c;
}

static bool tcp_handshake_done(struct gh_conn *c, const struct gh_tls_peer *peer)
{
    (void)c;
    (void)peer;
    return true; /* the backend connects at once */
}

static bool tcp_feed_client(struct gh_conn *c, bool *moved)
{
    struct gh_framer_verdict v;
    struct gh_buf *out = &c->backend.out;
    uint32_t unseen = gh_buf_len(out) - c->to_backend_ready;
    const uint8_t *start;

    (void)moved; /* the bytes moved when they were read */
    if (unseen == 0 || c->ending == GH_ENDING_AFTER_BACKEND_SENT)
        return true;
    start = out->data + out->head + c->to_backend_ready;
    gh_stream_framer_feed(&c->framer, start, unseen, &v);
    c->to_backend_ready += (uint32_t)v.release;
    if (v.action == GH_FRAME_REJECT) {
        gh_event_reject(&c->ev, &(struct gh_reject){.reason = GH_REJECT_FRAMING,
                                                    .rule = v.reason,
                                                    .excerpt = start + v.release,
                                                    .excerpt_len = unseen - v.release});
        drop_unreleased(c);
        c->ending = GH_ENDING_AFTER_BACKEND_SENT;
        c->close_reason = GH_CLOSE_REJECTED;
    }
    return true;
}

static bool tcp_feed_backend(struct gh_conn *c, bool *moved)
{
    (void)c;
    (void)moved;
    return true; /* read straight into the client's out: nothing to frame */
}

static bool tcp_client_paused(const struct gh_conn *c)
{
    (void)c;
    return false;
}

static void tcp_delivered(struct gh_conn *c)
{
    (void)c;
}

static enum gh_send_check tcp_before_send(struct gh_conn *c)
{
    (void)c;
    return GH_SEND_CHECK_OPEN;
}

static bool tcp_backend_failed(struct gh_conn *c, int status, const char *why)
{
    (void)c;
    (void)status;
    (void)why;
    return false; /* no reply of our own: the connection closes */
}

static bool tcp_backend_lost(struct gh_conn *c)
{
    (void)c;
    return false;
}

static void tcp_client_ended(struct gh_conn *c)
{
    struct gh_buf *out = &c->backend.out;
    if (gh_buf_len(out) <= c->to_backend_ready)
        return;
    /* the client ended inside a line or length frame, which can never be
     * completed; what was valid before it still goes */
    gh_event_reject(&c->ev,
                    &(struct gh_reject){.reason = GH_REJECT_TRUNCATED_FRAME,
                                        .excerpt = out->data + out->head + c->to_backend_ready,
                                        .excerpt_len = gh_buf_len(out) - c->to_backend_ready});
    drop_unreleased(c);
    gh_buf_release_if_empty(gh_conn_pool(c), out);
}

static bool tcp_owes_client(const struct gh_conn *c)
{
    (void)c;
    return false;
}

static enum gh_client_wait tcp_client_wait(struct gh_conn *c, double *since)
{
    (void)c;
    (void)since;
    return GH_CLIENT_WAIT_NONE;
}

static void tcp_head_timeout(struct gh_conn *c)
{
    (void)c;
}

static bool tcp_body_timeout(struct gh_conn *c, double now)
{
    (void)c;
    (void)now;
    return false;
}

static bool tcp_awaiting_response(const struct gh_conn *c)
{
    (void)c;
    return false;
}

static void tcp_closing(struct gh_conn *c, enum gh_close_reason reason)
{
    (void)c;
    (void)reason;
}

static void tcp_close_facts(const struct gh_conn *c, struct gh_close_facts *f)
{
    if (c->cfg->framing == GH_FRAMING_RAW)
        return;
    f->count = GH_CLOSE_COUNT_FRAMES;
    f->frames = gh_stream_framer_frames(&c->framer);
}

static void tcp_release(struct gh_conn *c)
{
    (void)c;
}

const struct gh_mode_ops gh_mode_tcp = {
    .frames_in_place = true,
    .open = tcp_open,
    .client_known = tcp_client_known,
    .handshake_done = tcp_handshake_done,
    .feed_client = tcp_feed_client,
    .feed_backend = tcp_feed_backend,
    .client_paused = tcp_client_paused,
    .delivered = tcp_delivered,
    .before_send = tcp_before_send,
    .backend_failed = tcp_backend_failed,
    .backend_lost = tcp_backend_lost,
    .client_ended = tcp_client_ended,
    .owes_client = tcp_owes_client,
    .client_wait = tcp_client_wait,
    .head_timeout = tcp_head_timeout,
    .body_timeout = tcp_body_timeout,
    .awaiting_response = tcp_awaiting_response,
    .closing = tcp_closing,
    .close_facts = tcp_close_facts,
    .release = tcp_release,
};

const struct gh_mode_ops *gh_mode_of(const struct gh_listener_config *cfg)
{
    return cfg->mode == GH_MODE_TCP ? &gh_mode_tcp : &gh_mode_http;
}
