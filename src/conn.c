/* conn.c - one client connection and its backend connection; see conn.h.
 *
 * Event callbacks only note what became ready and queue the connection; the
 * worker's flush (once per loop iteration) calls gh_conn_flush, which does
 * all the I/O that readiness allows, then sets the watchers to what the
 * connection waits for next. Reading stops while the buffer it fills is
 * full, so a fast sender never outruns a slow receiver by more than one
 * buffer. A connection is freed only from gh_conn_flush, never from inside
 * a callback that might still touch it.
 *
 * Both sides speak through a transport (transport.h): TLS or a plain
 * socket. The pump moves bytes one way with one function (process), called
 * for each direction; what the bytes mean is the mode's (mode.h): this
 * file names no mode. */
#include "gatehouse/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatehouse/event.h"
#include "gatehouse/proxy_out.h"
#include "gatehouse/proxy_protocol.h"
#include "gatehouse/log.h"
#include "gatehouse/mode.h"
#include "gatehouse/tls.h"
#include "gatehouse/worker.h"

#define PUMP_ROUNDS 8 /* read/write rounds per flush before yielding to others */

static void do_handshake(struct gh_conn *c);
static int send_proxy_header(struct gh_conn *c);

static const struct gh_listener_config *cfg_of(const struct gh_conn *c)
{
    return c->cfg;
}

static struct gh_buf_pool *pool_of(const struct gh_conn *c)
{
    return c->pool;
}

void gh_conn_wake(struct gh_conn *c)
{
    gh_worker_mark_pending(c->worker, c);
}

static void touch(struct gh_conn *c)
{
    c->last_activity = ev_now(c->worker->loop);
}

/* A side's last transport error as a quoted logfmt value. The raw text
 * needs its own buffer: quoting in place would re-read what it writes. */
static const char *side_error_text(const struct gh_side *s, char *out, size_t n)
{
    char raw[96];
    return gh_log_quote(s->ops->last_error(s->ctx, raw, sizeof raw), out, n);
}

/* ---- events -------------------------------------------------------- */

/* Where bytes read from a side go: its own in, framed from there, or
 * straight into the other side's out for a mode that frames them where
 * they lie (tcp: the raw framer copies nothing). */
static struct gh_buf *sink_of(struct gh_conn *c, struct gh_side *from)
{
    if (!c->mode->frames_in_place)
        return &from->in;
    return from == &c->client ? &c->backend.out : &c->client.out;
}

static void on_side_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct gh_conn *c = w->data;
    struct gh_side *s = w == &c->client.io ? &c->client : &c->backend;
    (void)loop;
    if (revents & EV_READ)
        s->readable = true;
    if (revents & EV_WRITE)
        s->writable = true;
    gh_worker_mark_pending(c->worker, c);
}

static void release_all(struct gh_conn *c, struct gh_buf *b)
{
    gh_buf_release(pool_of(c), b);
}

/* The backend socket goes (its watcher first). */
static void close_backend_socket(struct gh_conn *c)
{
    if (c->backend.fd >= 0) {
        ev_io_stop(c->worker->loop, &c->backend.io);
        close(c->backend.fd);
        c->backend.fd = -1;
    }
}

/* The backend side is finished without a FIN exchange (http mode: it
 * failed, or a request it got must never complete). */
void gh_conn_drop_backend(struct gh_conn *c)
{
    close_backend_socket(c);
    c->backend.read = GH_SIDE_READ_DONE;
    c->backend.write = GH_SIDE_WRITE_SHUT;
    c->to_backend_ready = 0;
    release_all(c, &c->backend.out);
}

/* A refusal. What the mode released before it (keep_released: WebSocket
 * frames ahead of a bad one) is still owed to the backend and goes out
 * first (enum gh_backend_wind_down). Otherwise, or with nothing owed, the
 * backend goes at once: a request refused mid-body must not reach the
 * backend as a clean end of stream. */
void gh_conn_drop_backend_once_sent(struct gh_conn *c, bool keep_released)
{
    if (c->backend_wind_down != GH_BACKEND_LIVE)
        return; /* under way: the reply to the client needs nothing more */
    if (keep_released && c->to_backend_ready > 0 && c->backend.fd >= 0 &&
        c->backend.read != GH_SIDE_READ_DONE) {
        c->backend_wind_down = GH_BACKEND_SEND_THEN_SHUT;
        return;
    }
    gh_conn_drop_backend(c);
}

/* The bytes owed before a refusal are out: shut the write side and read
 * the backend to its end. Closing now could reset the connection with
 * them unread in the backend's socket, and it would lose them. */
static void wind_down_backend(struct gh_conn *c)
{
    release_all(c, &c->backend.out);
    if (c->backend.ops->shutdown(c->backend.ctx) != GH_IO_OK) {
        c->backend_wind_down = GH_BACKEND_LIVE;
        gh_conn_drop_backend(c);
        return;
    }
    c->backend.write = GH_SIDE_WRITE_SHUT;
    c->backend_wind_down = GH_BACKEND_DRAINING;
}

/* The mode drops a backend connection that lost sync (http: it sent what
 * no request asked for, answered a request before it had its body,
 * carried a body and backend_reuse = safe, or ended between requests): it
 * is closed without reading more, and the connection goes back to having
 * no backend connection (backend.fd < 0, its halves open), as before
 * its first request: the next request the framer releases opens a new one
 * (gh_conn_connect_backend), PROXY header included. */
void gh_conn_replace_backend(struct gh_conn *c, bool keep_unsent)
{
    close_backend_socket(c);
    ev_io_set(&c->backend.io, -1, 0);
    if (!keep_unsent) {
        c->to_backend_ready = 0;
        release_all(c, &c->backend.out);
    }
    release_all(c, &c->backend.in);
    c->backend.read = GH_SIDE_READ_OPEN;
    c->backend.write = GH_SIDE_WRITE_OPEN;
    c->backend.readable = c->backend.writable = false;
    c->proxy_header_sent = false;
}

/* The connection ends once what the client is owed is out (http mode). */
void gh_conn_end_after_client_sent(struct gh_conn *c, enum gh_close_reason reason)
{
    c->ending = GH_ENDING_AFTER_CLIENT_SENT;
    c->close_reason = reason;
}

/* The backend failed: a mode that answers (http) gives the client a
 * 502/504 if nothing of the response it waits for was sent yet, then the
 * connection closes; otherwise it closes now. */
static void backend_failed(struct gh_conn *c, int status, const char *why,
                           enum gh_close_reason reason)
{
    if (!c->mode->backend_failed(c, status, why)) {
        gh_conn_close(c, reason);
        return;
    }
    gh_conn_drop_backend(c);
    c->state = GH_CONN_PUMPING;
    gh_conn_end_after_client_sent(c, reason);
    gh_worker_mark_pending(c->worker, c);
}

static void arm_timer(struct gh_conn *c, ev_tstamp after)
{
    struct ev_loop *loop = c->worker->loop;
    if (after <= 0)
        after = 0.001;
    ev_timer_stop(loop, &c->timer);
    ev_timer_set(&c->timer, after, 0.);
    ev_timer_start(loop, &c->timer);
    c->timer_due = ev_now(loop) + after;
}

/* When the current client wait (enum gh_client_wait, the mode's) and
 * send_timeout expire; idle_timeout when none runs. */
static ev_tstamp client_deadline(struct gh_conn *c)
{
    const struct gh_listener_config *cfg = cfg_of(c);
    ev_tstamp due = c->last_activity + cfg->idle_timeout;
    ev_tstamp wait_due = due;
    double head_since = 0;

    switch (c->mode->client_wait(c, &head_since)) {
    case GH_CLIENT_WAIT_NONE:
        break;
    case GH_CLIENT_WAIT_FIRST_REQUEST:
        wait_due = c->last_activity + cfg->request_timeout;
        break;
    case GH_CLIENT_WAIT_NEXT_REQUEST:
        wait_due = c->last_activity + cfg->keepalive_timeout;
        break;
    case GH_CLIENT_WAIT_HEAD:
        wait_due = head_since + cfg->header_timeout;
        break;
    case GH_CLIENT_WAIT_BODY:
        wait_due = c->body_window_start + cfg->body_timeout;
        break;
    }
    if (wait_due < due)
        due = wait_due;
    if (!gh_buf_empty(&c->client.out) && c->send_wait_since + cfg->send_timeout < due)
        due = c->send_wait_since + cfg->send_timeout;
    return due;
}

/* After each flush: restarts the clocks of waits that are not running (the
 * client owes nothing), and brings the timer forward to the nearest. */
static void note_client_waits(struct gh_conn *c)
{
    ev_tstamp now = ev_now(c->worker->loop);
    if (gh_buf_empty(&c->client.out))
        c->send_wait_since = now;
    double head_since;
    if (c->mode->client_wait(c, &head_since) != GH_CLIENT_WAIT_BODY) {
        c->body_window_start = now;
        c->body_window_bytes = c->bytes_from_client;
    }
    ev_tstamp due = client_deadline(c);
    if (due < c->timer_due)
        arm_timer(c, due - now);
}

/* A wait on the client ran out (see enum gh_client_wait; send_timeout):
 * acts on it and returns true. */
static bool client_wait_expired(struct gh_conn *c, ev_tstamp now)
{
    const struct gh_listener_config *cfg = cfg_of(c);
    enum gh_client_wait wait;
    double head_since;

    if (!gh_buf_empty(&c->client.out) && now - c->send_wait_since >= cfg->send_timeout) {
        /* it takes nothing of what it asked for: its unanswered requests
         * are audited client_abort by the close */
        gh_log(GH_LOG_INFO, "send_timeout", " conn=%llu listener=%s pending=%u",
               (unsigned long long)c->id, cfg->name, gh_buf_len(&c->client.out));
        gh_conn_close(c, GH_CLOSE_SEND_TIMEOUT);
        return true;
    }
    wait = c->mode->client_wait(c, &head_since);
    switch (wait) {
    case GH_CLIENT_WAIT_NONE:
    case GH_CLIENT_WAIT_HEAD: /* on_timer's own, with its 408 */
        return false;
    case GH_CLIENT_WAIT_FIRST_REQUEST:
    case GH_CLIENT_WAIT_NEXT_REQUEST: {
        /* Closed without a 408, as nginx does and HAProxy with
         * http-ignore-probes / on http-keep-alive: nothing was asked, and
         * a client reusing the connection at this moment could take an
         * unsolicited 408 for the answer to the request it is sending. */
        bool first = wait == GH_CLIENT_WAIT_FIRST_REQUEST;
        if (now - c->last_activity < (first ? cfg->request_timeout : cfg->keepalive_timeout))
            return false;
        gh_conn_close(c, first ? GH_CLOSE_REQUEST_TIMEOUT : GH_CLOSE_KEEPALIVE_TIMEOUT);
        return true;
    }
    case GH_CLIENT_WAIT_BODY: {
        if (now - c->body_window_start < cfg->body_timeout)
            return false;
        double need = (double)cfg->min_body_rate * cfg->body_timeout;
        if ((double)(c->bytes_from_client - c->body_window_bytes) >= (need < 1 ? 1 : need)) {
            c->body_window_start = now; /* kept up: the next period starts */
            c->body_window_bytes = c->bytes_from_client;
            return false;
        }
        bool answered = c->mode->body_timeout(c, now);
        gh_event_reject(&c->ev, &(struct gh_reject){.reason = GH_REJECT_BODY_TIMEOUT,
                                                    .status = answered ? 408 : 0});
        gh_conn_end_after_client_sent(c, GH_CLOSE_BODY_TIMEOUT);
        gh_worker_mark_pending(c->worker, c);
        arm_timer(c, cfg->idle_timeout);
        return true;
    }
    }
    return false;
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct gh_conn *c = w->data;
    (void)revents;
    switch (c->state) {
    case GH_CONN_HELLO:
    case GH_CONN_HANDSHAKE:
        gh_event_tls_fail(&c->ev, GH_TLS_FAIL_TIMEOUT,
                          "no complete handshake within handshake_timeout");
        gh_conn_close(c, GH_CLOSE_HANDSHAKE_TIMEOUT);
        return;
    case GH_CONN_CONNECTING:
        gh_event_backend_error(&c->ev, GH_BACKEND_CONNECT_TIMEOUT, 0, NULL);
        backend_failed(c, 504, "the backend did not accept the connection in time",
                       GH_CLOSE_CONNECT_TIMEOUT);
        return;
    case GH_CONN_PUMPING: {
        /* Activity only stamps last_activity; the timer re-arms itself for
         * the remainder, so busy connections cost no timer updates. */
        ev_tstamp now = ev_now(loop);
        if (c->rate_paused) { /* rate_limit: the bucket has refilled */
            c->rate_paused = false;
            gh_worker_mark_pending(c->worker, c);
        }
        if (client_wait_expired(c, now))
            return;
        ev_tstamp idle_left = cfg_of(c)->idle_timeout - (now - c->last_activity);
        ev_tstamp next = client_deadline(c) - now;
        double head_since;
        if (c->mode->client_wait(c, &head_since) == GH_CLIENT_WAIT_HEAD) {
            ev_tstamp head_left = cfg_of(c)->header_timeout - (now - head_since);
            if (head_left <= 0) {
                gh_event_reject(&c->ev, &(struct gh_reject){.reason = GH_REJECT_HEADER_TIMEOUT,
                                                            .status = 408});
                c->mode->head_timeout(c);
                gh_conn_end_after_client_sent(c, GH_CLOSE_HEADER_TIMEOUT);
                gh_worker_mark_pending(c->worker, c);
                arm_timer(c, cfg_of(c)->idle_timeout);
                return;
            }
        }
        if (idle_left <= 0) {
            if (c->mode->awaiting_response(c) && c->ending != GH_ENDING_AFTER_CLIENT_SENT) {
                gh_event_backend_error(&c->ev, GH_BACKEND_RESPONSE_TIMEOUT, 0, NULL);
                backend_failed(c, 504, "the backend did not answer in time",
                               GH_CLOSE_IDLE_TIMEOUT);
                arm_timer(c, cfg_of(c)->idle_timeout);
                return;
            }
            gh_conn_close(c, GH_CLOSE_IDLE_TIMEOUT);
            return;
        }
        arm_timer(c, next);
        return;
    }
    case GH_CONN_CLOSED:
        return;
    }
}

/* ---- watchers ------------------------------------------------------ */

static void set_io(struct ev_loop *loop, ev_io *w, int fd, int events)
{
    if (w->fd == fd && (w->events & (EV_READ | EV_WRITE)) == events && ev_is_active(w) == !!events)
        return;
    ev_io_stop(loop, w);
    if (events) {
        ev_io_set(w, fd, events);
        ev_io_start(loop, w);
    }
}

/* Asked several times per flush: the connection's own reasons first, the
 * mode's (an indirect call) last. */
static inline bool client_paused(struct gh_conn *c)
{
    return c->ending != GH_ENDING_NONE || c->rate_paused || c->mode->client_paused(c);
}

bool gh_conn_client_paused(struct gh_conn *c)
{
    return client_paused(c);
}

/* Bytes at the head of a side's out that may be written now: the backend
 * gets what the framer released, the client everything queued. */
static uint32_t ready_for(const struct gh_conn *c, const struct gh_side *s)
{
    return s == &c->backend ? c->to_backend_ready : gh_buf_len(&s->out);
}

/* Whether reading from a side stops for a reason of the connection's own
 * (only the client's reading is ever held back). */
static bool side_paused(struct gh_conn *c, const struct gh_side *s)
{
    return s == &c->client && client_paused(c);
}

/* Whether a side is owed the end of our sending half: the client its
 * close_notify once the backend ended or the connection is ending. */
static bool side_owed_shutdown(const struct gh_conn *c, const struct gh_side *s)
{
    return s == &c->client && s->write != GH_SIDE_WRITE_SHUT &&
           (c->backend.read == GH_SIDE_READ_DONE || c->ending == GH_ENDING_AFTER_CLIENT_SENT);
}

/* What a side waits for while pumping. */
static int side_events(struct gh_conn *c, struct gh_side *s)
{
    uint32_t cap = pool_of(c)->block_size;
    int ev = 0;

    if ((s->read != GH_SIDE_READ_DONE && !s->readable && gh_buf_len(sink_of(c, s)) < cap &&
         !side_paused(c, s)) ||
        (s->write == GH_SIDE_WRITE_WANTS_READ && !s->readable))
        ev |= EV_READ;
    if (!s->writable &&
        (ready_for(c, s) > 0 || s->read == GH_SIDE_READ_WANTS_WRITE || side_owed_shutdown(c, s)))
        ev |= EV_WRITE;
    return ev;
}

static void update_watchers(struct gh_conn *c)
{
    struct ev_loop *loop = c->worker->loop;
    int client_ev = 0, backend_ev = 0;

    switch (c->state) {
    case GH_CONN_HELLO:
        client_ev = EV_READ;
        break;
    case GH_CONN_HANDSHAKE:
        client_ev = c->client.read == GH_SIDE_READ_WANTS_WRITE ? EV_WRITE : EV_READ;
        break;
    case GH_CONN_CONNECTING:
        backend_ev = EV_WRITE;
        break;
    case GH_CONN_PUMPING:
        client_ev = side_events(c, &c->client);
        backend_ev = side_events(c, &c->backend);
        break;
    case GH_CONN_CLOSED:
        return;
    }
    set_io(loop, &c->client.io, c->client.fd, client_ev);
    if (c->backend.fd >= 0)
        set_io(loop, &c->backend.io, c->backend.fd, backend_ev);
}

/* ---- close --------------------------------------------------------- */

void gh_conn_close(struct gh_conn *c, enum gh_close_reason reason)
{
    struct ev_loop *loop = c->worker->loop;
    struct gh_close_facts facts = {0};

    if (c->state == GH_CONN_CLOSED)
        return;
    c->mode->closing(c, reason); /* the entries of requests still unanswered */
    facts.duration = ev_now(loop) - c->started;
    facts.bytes_in = c->bytes_from_client;
    facts.bytes_out = c->bytes_to_client;
    c->mode->close_facts(c, &facts);
    gh_event_close(&c->ev, reason, &facts);

    /* Best effort close_notify for an orderly end the client has not seen
     * yet; a TLS error or a reset backend ends without one, so the client
     * can tell the stream was cut. */
    if (c->state != GH_CONN_HELLO && c->state != GH_CONN_HANDSHAKE &&
        c->client.write != GH_SIDE_WRITE_SHUT && gh_close_reason_sends_notify(reason)) {
        enum gh_io_result r = c->client.ops->shutdown(c->client.ctx);
        (void)r; /* the socket closes next; nothing to retry */
    }
    ev_io_stop(loop, &c->client.io);
    ev_io_stop(loop, &c->backend.io);
    ev_timer_stop(loop, &c->timer);
    gh_tls_session_free(c->tls);
    c->tls = NULL;
    close(c->client.fd);
    if (c->backend.fd >= 0)
        close(c->backend.fd);
    release_all(c, &c->backend.out);
    release_all(c, &c->client.out);
    release_all(c, &c->client.in);
    release_all(c, &c->backend.in);
    gh_hello_release(&c->hello, pool_of(c), true);
    c->mode->release(c);
    c->state = GH_CONN_CLOSED;
    gh_worker_conn_closed(c->worker, c->listener);
    /* unlink and free in gh_conn_flush, where nothing else holds c */
    gh_worker_mark_pending(c->worker, c);
}

void gh_conn_abort(struct gh_conn *c, enum gh_close_reason reason)
{
    gh_conn_close(c, reason);
}

/* ---- handshake and backend connect --------------------------------- */

static void enter_pumping(struct gh_conn *c)
{
    if (c->backend.fd >= 0 && cfg_of(c)->proxy_protocol != GH_PROXY_OUT_OFF &&
        !c->proxy_header_sent) {
        if (send_proxy_header(c) < 0) {
            gh_event_backend_error(&c->ev, GH_BACKEND_PROXY_HEADER, errno, NULL);
            gh_conn_close(c, GH_CLOSE_BACKEND_ERROR);
            return;
        }
        c->proxy_header_sent = true;
    }
    c->state = GH_CONN_PUMPING;
    c->backend.writable = c->backend.fd >= 0;
    /* The client's first bytes may already sit decrypted inside wolfSSL,
     * having arrived with its Finished message: try reading at once. */
    c->client.readable = true;
    c->client.writable = true;
    touch(c);
    c->send_wait_since = c->last_activity;
    c->body_window_start = c->last_activity;
    c->body_window_bytes = c->bytes_from_client;
    arm_timer(c, cfg_of(c)->idle_timeout);
    gh_worker_mark_pending(c->worker, c);
}

static void connect_failed(struct gh_conn *c, int err)
{
    gh_event_backend_error(&c->ev, GH_BACKEND_CONNECT_FAILED, err, NULL);
    backend_failed(c, 502, "the backend is unreachable",
                   err == ECONNREFUSED ? GH_CLOSE_BACKEND_REFUSED : GH_CLOSE_BACKEND_ERROR);
}

/* proxy_protocol = v1|v2: the header is the first thing the backend reads,
 * written on its own the moment the connection is up (the socket's send
 * buffer is empty then, so it goes in one piece). */
static int send_proxy_header(struct gh_conn *c)
{
    uint8_t hdr[GH_PROXY_V2_MAX_LEN];
    size_t sent;
    int n = gh_proxy_out_build(cfg_of(c)->proxy_protocol, &c->peer, c->client.fd, c->client.ops,
                               c->client.ctx, c->id, hdr, sizeof hdr);
    if (n <= 0)
        return -1;
    if (c->backend.ops->write(c->backend.ctx, hdr, (size_t)n, &sent) != GH_IO_OK)
        return -1;
    return sent == (size_t)n ? 0 : -1;
}

void gh_conn_connect_backend(struct gh_conn *c)
{
    const struct gh_sockaddr *b = &cfg_of(c)->backend;
    int one = 1;
    int fd = socket(b->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        connect_failed(c, errno);
        return;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        gh_log(GH_LOG_DEBUG, "sockopt_failed", " option=TCP_NODELAY error=%d", errno);
    c->backend.fd = fd;
    gh_plain_transport_init(&c->backend.plain, fd, NULL);
    ev_io_init(&c->backend.io, on_side_io, fd, 0);
    c->backend.io.data = c;
    arm_timer(c, cfg_of(c)->connect_timeout);

    if (connect(fd, (const struct sockaddr *)&b->ss, b->len) == 0) {
        enter_pumping(c);
        return;
    }
    if (errno == EINPROGRESS) {
        c->state = GH_CONN_CONNECTING;
        c->backend.writable = false;
        return;
    }
    connect_failed(c, errno);
}

static void finish_backend_connect(struct gh_conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (!c->backend.writable)
        return;
    if (getsockopt(c->backend.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0)
        enter_pumping(c);
    else
        connect_failed(c, err);
}

/* ---- before the TLS session: PROXY header and ClientHello ----------- */

static void hello_failed(struct gh_conn *c, enum gh_tls_fail_reason why, const char *detail,
                         enum gh_close_reason close_reason)
{
    gh_event_tls_fail(&c->ev, why, detail);
    gh_conn_close(c, close_reason);
}

/* accept_proxy: the balancer's header, then the real client's address. */
static bool take_proxy_header(struct gh_conn *c)
{
    struct gh_proxy_header h;
    struct gh_buf *in = &c->hello.buf;
    const uint8_t *data = in->data + in->head;
    int n = gh_proxy_parse(data, gh_buf_len(in), NULL, &h);
    enum gh_proxy_in want = cfg_of(c)->accept_proxy;

    if (n == 0)
        return false; /* more to come */
    if (n < 0 || (want == GH_PROXY_IN_V1 && h.version != 1) ||
        (want == GH_PROXY_IN_V2 && h.version != 2)) {
        struct gh_reject r = {.reason = GH_REJECT_PROXY_WRONG_VERSION,
                              .excerpt = data, .excerpt_len = gh_buf_len(in)};
        if (n < 0) {
            r.reason = GH_REJECT_PROXY_HEADER;
            r.rule = gh_proxy_reason_name(h.reason);
        }
        gh_event_reject(&c->ev, &r);
        gh_conn_close(c, GH_CLOSE_REJECTED);
        return false;
    }
    if (h.kind == GH_PROXY_KIND_ADDRESSES) {
        memcpy(&c->peer, &h.src, sizeof c->peer);
        c->peer_len = h.addr_len;
        gh_event_ctx_set_client(&c->ev, &c->peer);
        c->mode->client_known(c);
    }
    gh_buf_consume(in, (uint32_t)n);
    c->proxy_header_done = true;
    return true;
}

/* The listener's TLS contexts of the configuration this connection was
 * accepted under (a reload may have replaced the listener's since);
 * NULL on a listener without TLS. */
static struct gh_tls_context *tls_of(const struct gh_conn *c)
{
    return c->gen->tls[c->listener - c->worker->listeners];
}

/* The client side gets its transport: a TLS session for the chosen
 * certificate, or the plain socket it was read from; either reads the
 * bytes taken so far first. */
static void start_session(struct gh_conn *c, int cert)
{
    c->cert_index = cert;
    if (tls_of(c)) {
        c->tls = gh_tls_session_new(tls_of(c), cert, c->client.fd, pool_of(c));
        if (!c->tls) {
            gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
            return;
        }
        gh_tls_session_replay(c->tls, &c->hello.buf);
        c->client.ops = &gh_tls_transport_ops;
        c->client.ctx = c->tls;
    } else {
        c->client.plain.replay = &c->hello.buf;
    }
    c->state = GH_CONN_HANDSHAKE;
    do_handshake(c);
}

/* Reads until the ClientHello is complete (it may come in pieces), then
 * picks the certificate and starts the session on the same bytes. */
static void read_hello(struct gh_conn *c)
{
    const char *detail = NULL;
    char why[96];
    int cert = 0;

    if (!c->client.readable)
        return;
    if (cfg_of(c)->accept_proxy != GH_PROXY_IN_OFF && !c->proxy_header_done &&
        !gh_cidr_list_match(cfg_of(c)->proxy_trusted, cfg_of(c)->n_proxy_trusted,
                            (const struct sockaddr *)&c->peer)) {
        /* only the balancer may speak for its clients; nobody else may
         * come in past it */
        gh_event_reject(&c->ev, &(struct gh_reject){.reason = GH_REJECT_PROXY_UNTRUSTED});
        gh_conn_close(c, GH_CLOSE_REJECTED);
        return;
    }
    switch (gh_hello_read(&c->hello, pool_of(c), &c->client.plain)) {
    case GH_HELLO_READ_GOT:
        break;
    case GH_HELLO_READ_WAIT:
        c->client.readable = false;
        return;
    case GH_HELLO_READ_EOF:
        hello_failed(c, GH_TLS_FAIL_IO_ERROR, "the client closed before its hello",
                     GH_CLOSE_CLIENT_EOF);
        return;
    case GH_HELLO_READ_FAILED:
        hello_failed(c, GH_TLS_FAIL_IO_ERROR,
                     c->client.ops->last_error(c->client.ctx, why, sizeof why),
                     GH_CLOSE_CLIENT_ERROR);
        return;
    case GH_HELLO_READ_NO_MEMORY:
        gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
        return;
    }
    if (cfg_of(c)->accept_proxy != GH_PROXY_IN_OFF && !c->proxy_header_done &&
        !take_proxy_header(c))
        return;
    if (!tls_of(c)) {
        start_session(c, 0);
        return;
    }
    switch (gh_hello_pick_cert(&c->hello, tls_of(c), c->client.fd, &cert, &detail)) {
    case GH_HELLO_PICK_MORE:
        return; /* the rest is on its way; handshake_timeout bounds the wait */
    case GH_HELLO_PICK_CERT:
        start_session(c, cert);
        return;
    case GH_HELLO_PICK_MALFORMED:
        hello_failed(c, GH_TLS_FAIL_PROTOCOL_ERROR, detail, GH_CLOSE_TLS_ERROR);
        return;
    case GH_HELLO_PICK_UNKNOWN_SNI:
        hello_failed(c, GH_TLS_FAIL_UNKNOWN_SNI, detail, GH_CLOSE_TLS_ERROR);
        return;
    }
}

static void do_handshake(struct gh_conn *c)
{
    char why[128];
    struct gh_tls_info info;

    switch (c->client.ops->handshake(c->client.ctx)) {
    case GH_IO_OK:
        c->client.read = GH_SIDE_READ_OPEN;
        gh_hello_release(&c->hello, pool_of(c), false);
        if (tls_of(c)) {
            gh_worker_note_handshake(c->worker, gh_tls_session_resumed(c->tls) != 0);
        }
        if (gh_event_tls_ok_wanted()) {
            c->client.ops->info(c->client.ctx, &info);
            gh_event_tls_ok(&c->ev, &info, c->client.ops->peer(c->client.ctx),
                            gh_tls_cert_label(tls_of(c), c->cert_index));
        }
        if (c->mode->handshake_done(c, c->client.ops->peer(c->client.ctx)))
            gh_conn_connect_backend(c);
        else
            enter_pumping(c);
        return;
    case GH_IO_WANT_READ:
        c->client.read = GH_SIDE_READ_OPEN;
        return;
    case GH_IO_WANT_WRITE:
        c->client.read = GH_SIDE_READ_WANTS_WRITE;
        return;
    case GH_IO_CLOSED:
    case GH_IO_EOF:
    case GH_IO_RESET:
    case GH_IO_ERROR:
        gh_event_tls_session_failed(&c->ev, gh_tls_failure_kind(c->tls),
                                    c->client.ops->last_error(c->client.ctx, why, sizeof why));
        gh_conn_close(c, GH_CLOSE_TLS_ERROR);
        return;
    }
}

/* ---- the pump ------------------------------------------------------ */

/* rate_limit: how many of room bytes the client may send now; 0 pauses
 * reading until the timer. */
static uint32_t client_allowance(struct gh_conn *c, uint32_t room)
{
    ev_tstamp now = ev_now(c->worker->loop);
    ev_tstamp wait = 0;
    uint32_t allowed = gh_rate_allowance(&c->rate, now, room, &wait);
    if (allowed == 0) {
        c->rate_paused = true;
        if (now + wait < c->timer_due)
            arm_timer(c, wait);
    }
    return allowed;
}

/* A read or write on the backend failed (a reset, mostly). */
static void backend_io_failed(struct gh_conn *c, const char *op)
{
    gh_event_backend_error(&c->ev, GH_BACKEND_IO_FAILED, c->backend.plain.last_errno, op);
    if (gh_buf_empty(&c->backend.in) && c->mode->backend_lost(c)) {
        /* reset between responses, or before answering a request that may
         * go again: as for an end (frame_backend_bytes) */
        gh_worker_mark_pending(c->worker, c);
        return;
    }
    backend_failed(c, 502, "the backend reset the connection", GH_CLOSE_BACKEND_RESET);
}

/* A read or write on a side failed. */
static void side_failed(struct gh_conn *c, struct gh_side *s, bool reading)
{
    char why[128];
    enum gh_close_reason reason = reading ? GH_CLOSE_TLS_ERROR : GH_CLOSE_CLIENT_ERROR;

    if (s == &c->backend) {
        backend_io_failed(c, reading ? "recv" : "send");
        return;
    }
    gh_log(GH_LOG_INFO, gh_close_reason_name(reason), " conn=%llu listener=%s error=%s",
           (unsigned long long)c->id, cfg_of(c)->name, side_error_text(s, why, sizeof why));
    gh_conn_close(c, reason);
}

/* Reads what a side has for the other into sink. Returns true if any
 * bytes moved or the side ended. */
__attribute__((always_inline)) static inline bool side_read(struct gh_conn *c,
                                                            struct gh_side *from,
                                                            struct gh_buf *sink)
{
    bool moved = false;

    /* readiness first: most calls end there, before the mode is asked */
    if (from->read == GH_SIDE_READ_DONE || from->fd < 0 ||
        !(from->readable || (from->read == GH_SIDE_READ_WANTS_WRITE && from->writable)) ||
        side_paused(c, from))
        return false;
    if (gh_buf_acquire(pool_of(c), sink) < 0) {
        gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
        return false;
    }
    for (;;) {
        uint32_t room = gh_buf_make_room(pool_of(c), sink);
        enum gh_io_result r;
        size_t n;
        if (room == 0)
            break; /* full: stays readable, resumes when the other side drains it */
        if (from == &c->client && c->rate.rate > 0 && (room = client_allowance(c, room)) == 0)
            break;
        r = from->ops->read(from->ctx, sink->data + sink->tail, room, &n);
        switch (r) {
        case GH_IO_OK:
            sink->tail += (uint32_t)n;
            moved = true;
            from->read = GH_SIDE_READ_OPEN;
            if (from == &c->client) {
                c->bytes_from_client += n;
                gh_rate_spend(&c->rate, (uint32_t)n);
            }
            if (!from->ops->short_read_drains)
                continue; /* TLS: one record per read; on until WANT_READ */
            if (n < room)
                from->readable = false; /* drained; epoll says when more comes */
            break;
        case GH_IO_WANT_READ:
            from->readable = false;
            from->read = GH_SIDE_READ_OPEN;
            break;
        case GH_IO_WANT_WRITE:
            from->read = GH_SIDE_READ_WANTS_WRITE;
            from->writable = false;
            break;
        case GH_IO_CLOSED: /* close_notify */
        case GH_IO_EOF:    /* TCP FIN alone: the same end of the stream here */
            from->read = GH_SIDE_READ_DONE;
            /* The backend's end is progress (an answer may be complete);
             * the client's is not activity: idle_timeout keeps running
             * from its last byte, or a late FIN would stretch the wait
             * for a silent backend. */
            if (from == &c->backend)
                moved = true;
            break;
        case GH_IO_RESET:
        case GH_IO_ERROR:
            gh_buf_release_if_empty(pool_of(c), sink);
            side_failed(c, from, true);
            return false;
        }
        break;
    }
    gh_buf_release_if_empty(pool_of(c), sink);
    return moved;
}
/* The side took n bytes of its out. */
static void side_took(struct gh_conn *c, struct gh_side *to, uint32_t n)
{
    if (to == &c->backend) {
        c->to_backend_ready -= n;
    } else {
        c->bytes_to_client += n;
        c->send_wait_since = ev_now(c->worker->loop); /* it reads: send_timeout restarts */
        c->mode->delivered(c);
    }
    gh_buf_consume(&to->out, n);
    gh_buf_release_if_empty(pool_of(c), &to->out);
}

/* Writes what may go to a side. Returns true if any bytes moved (or a
 * new backend connection took over the request). */
__attribute__((always_inline)) static inline bool side_write(struct gh_conn *c,
                                                             struct gh_side *to)
{
    uint32_t len = ready_for(c, to);
    enum gh_io_result r;
    size_t n;

    if (len == 0 || to->fd < 0 ||
        !(to->writable || (to->write == GH_SIDE_WRITE_WANTS_READ && to->readable)))
        return false;
    if (to == &c->backend) {
        switch (c->mode->before_send(c)) {
        case GH_SEND_CHECK_OPEN:
            break;
        case GH_SEND_CHECK_REPLACED:
            return true;
        case GH_SEND_CHECK_WITHHELD:
            return false;
        }
    }
    r = to->ops->write(to->ctx, to->out.data + to->out.head, len, &n);
    switch (r) {
    case GH_IO_OK:
        if (to->write == GH_SIDE_WRITE_WANTS_READ)
            to->write = GH_SIDE_WRITE_OPEN;
        if ((uint32_t)n < len)
            to->writable = false;
        side_took(c, to, (uint32_t)n);
        return n > 0;
    case GH_IO_WANT_WRITE:
        to->writable = false;
        return false;
    case GH_IO_WANT_READ:
        to->write = GH_SIDE_WRITE_WANTS_READ;
        to->readable = false;
        return false;
    case GH_IO_CLOSED:
    case GH_IO_EOF:
    case GH_IO_RESET:
    case GH_IO_ERROR:
        side_failed(c, to, false);
        return false;
    }
    return false;
}

/* Ends our sending half towards the client: close_notify (TLS), FIN. */
static void client_shutdown(struct gh_conn *c)
{
    switch (c->client.ops->shutdown(c->client.ctx)) {
    case GH_IO_OK:
    case GH_IO_CLOSED:
        c->client.write = GH_SIDE_WRITE_SHUT;
        break;
    case GH_IO_WANT_WRITE:
        c->client.writable = false;
        break;
    case GH_IO_WANT_READ:
        break;
    case GH_IO_EOF:
    case GH_IO_RESET:
    case GH_IO_ERROR:
        gh_conn_close(c, GH_CLOSE_CLIENT_ERROR);
        return;
    }
}

/* Passes each side's end on once everything before it has been delivered. */
static void propagate_half_close(struct gh_conn *c)
{
    bool client_done = c->client.read == GH_SIDE_READ_DONE;

    if (c->ending == GH_ENDING_AFTER_CLIENT_SENT) {
        /* the mode decided to end: deliver every response still owed and
         * what is queued, then close */
        if (!gh_buf_empty(&c->client.out) || c->mode->owes_client(c) ||
            (c->backend_wind_down != GH_BACKEND_LIVE && c->backend.fd >= 0 &&
             c->backend.read != GH_SIDE_READ_DONE))
            return;
        if (c->client.write != GH_SIDE_WRITE_SHUT && c->client.writable)
            client_shutdown(c);
        if (c->state != GH_CONN_CLOSED && c->client.write == GH_SIDE_WRITE_SHUT)
            gh_conn_close(c, c->close_reason);
        return;
    }
    if (client_done)
        c->mode->client_ended(c);
    if (client_done && c->backend.write != GH_SIDE_WRITE_SHUT && gh_buf_empty(&c->backend.out) &&
        gh_buf_empty(&c->client.in)) {
        if (c->backend.fd >= 0) {
            enum gh_io_result r = c->backend.ops->shutdown(c->backend.ctx);
            if (r != GH_IO_OK && r != GH_IO_CLOSED) {
                gh_conn_close(c, GH_CLOSE_BACKEND_RESET);
                return;
            }
        }
        c->backend.write = GH_SIDE_WRITE_SHUT;
        if (c->backend.fd < 0) /* http mode, nothing was ever forwarded */
            c->backend.read = GH_SIDE_READ_DONE;
    }
    if (c->backend.read == GH_SIDE_READ_DONE && c->client.write != GH_SIDE_WRITE_SHUT &&
        gh_buf_empty(&c->client.out) && c->client.writable)
        client_shutdown(c);
    if (c->state == GH_CONN_CLOSED)
        return;
    if (client_done && c->backend.write == GH_SIDE_WRITE_SHUT &&
        c->backend.read == GH_SIDE_READ_DONE && c->client.write == GH_SIDE_WRITE_SHUT)
        gh_conn_close(c, c->client_done_first ? GH_CLOSE_CLIENT_EOF : GH_CLOSE_BACKEND_EOF);
}

/* Lets the mode frame what was read from one side for the other. False
 * when the connection left PUMPING. */
static bool frame(struct gh_conn *c, bool from_backend, bool *moved)
{
    if (c->state != GH_CONN_PUMPING)
        return false;
    return from_backend ? c->mode->feed_backend(c, moved) : c->mode->feed_client(c, moved);
}

/* Moves bytes one way: reads from one side, lets the mode frame them,
 * writes to the other (as nginx's ngx_stream_proxy_process). False when
 * the connection left PUMPING. Inlined into pump() once per direction:
 * each copy knows its sides, so the side tests fold away and the hot path
 * costs no more calls than the two hand-written directions it replaced. */
__attribute__((always_inline)) static inline bool process(struct gh_conn *c, bool from_backend, bool *moved)
{
    struct gh_side *from = from_backend ? &c->backend : &c->client;
    struct gh_side *to = from_backend ? &c->client : &c->backend;

    *moved |= side_read(c, from, sink_of(c, from));
    if (!frame(c, from_backend, moved))
        return false;
    *moved |= side_write(c, to);
    return c->state == GH_CONN_PUMPING;
}

static void pump(struct gh_conn *c)
{
    int round;

    for (round = 0; round < PUMP_ROUNDS; round++) {
        bool moved = false;
        bool client_was_done = c->client.read == GH_SIDE_READ_DONE;

        if (!process(c, false, &moved))
            return;
        if (c->backend_wind_down == GH_BACKEND_SEND_THEN_SHUT && c->to_backend_ready == 0)
            wind_down_backend(c);
        if (c->ending == GH_ENDING_AFTER_BACKEND_SENT && c->to_backend_ready == 0) {
            gh_conn_close(c, GH_CLOSE_REJECTED);
            return;
        }
        if (!process(c, true, &moved))
            return;
        if (c->client.read == GH_SIDE_READ_DONE && !client_was_done &&
            c->backend.read != GH_SIDE_READ_DONE)
            c->client_done_first = true;
        if (moved)
            touch(c);
        else
            break;
    }
    if (round == PUMP_ROUNDS)
        gh_worker_mark_pending(c->worker, c); /* more to do: come back next iteration */
    propagate_half_close(c);
}

/* ---- entry points -------------------------------------------------- */

static void side_init(struct gh_conn *c, struct gh_side *s, int fd)
{
    s->fd = fd;
    gh_plain_transport_init(&s->plain, fd, NULL);
    s->ops = &gh_plain_transport_ops;
    s->ctx = &s->plain;
    ev_io_init(&s->io, on_side_io, fd, fd >= 0 ? EV_READ : 0);
    s->io.data = c;
}

void gh_conn_accept(struct gh_worker *w, struct gh_listener *l, int fd,
                    const struct sockaddr_storage *peer, socklen_t peer_len)
{
    struct gh_conn *c;
    int one = 1;

    c = calloc(1, sizeof *c);
    if (!c) {
        gh_log(GH_LOG_ERROR, "accept_failed", " listener=%s reason=out_of_memory", l->cfg->name);
        close(fd);
        return;
    }
    c->cfg = l->cfg;
    c->listener = l;
    c->pool = &l->pool;
    c->loop = w->loop;
    c->mode = gh_mode_of(l->cfg);
    if (c->mode->open(c) < 0) {
        gh_log(GH_LOG_ERROR, "accept_failed", " listener=%s reason=out_of_memory", l->cfg->name);
        close(fd);
        free(c);
        return;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        gh_log(GH_LOG_DEBUG, "sockopt_failed", " option=TCP_NODELAY error=%d", errno);
    c->worker = w;
    gh_worker_attach(w, l, c);
    gh_event_ctx_init(&c->ev, c->id, l->cfg, peer);
    c->state = GH_CONN_HELLO;
    c->peer = *peer;
    c->peer_len = peer_len;
    gh_event_ctx_set_client(&c->ev, &c->peer);
    c->started = ev_now(w->loop);
    gh_rate_init(&c->rate, l->cfg->rate_limit, c->started);
    c->mode->client_known(c);

    side_init(c, &c->client, fd);
    side_init(c, &c->backend, -1);
    ev_timer_init(&c->timer, on_timer, l->cfg->handshake_timeout, 0.);
    c->timer.data = c;
    ev_timer_start(w->loop, &c->timer);

    /* The ClientHello often arrives with the connection: try now. */
    c->client.readable = true;
    gh_worker_mark_pending(w, c);
}

static void conn_free(struct gh_conn *c)
{
    gh_worker_detach(c->worker, c);
    free(c);
}

void gh_conn_flush(struct gh_conn *c)
{
    switch (c->state) {
    case GH_CONN_CLOSED:
        conn_free(c);
        return;
    case GH_CONN_HELLO:
        read_hello(c);
        break;
    case GH_CONN_HANDSHAKE:
        do_handshake(c);
        break;
    case GH_CONN_CONNECTING:
        finish_backend_connect(c);
        break;
    case GH_CONN_PUMPING:
        pump(c);
        break;
    }
    if (c->state == GH_CONN_PUMPING)
        note_client_waits(c); /* slowloris and friends: the nearest deadline */
    if (c->state != GH_CONN_CLOSED)
        update_watchers(c);
}
