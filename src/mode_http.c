/* mode_http.c - mode = http and redirect (WebSocket included) as a mode
 * (mode.h): a thin adapter over the I/O-free HTTP framer of http_proxy.h.
 *
 * The adapter is a file of its own so that http_proxy.c knows no
 * connection and stays linkable alone (its unit test and fuzzer). Bytes
 * are read into each side's in; the framer moves what may pass
 * (rewritten) into the other side's out. */
#include "gatehouse/mode.h"

#include <stdlib.h>
#include <string.h>

#include "gatehouse/conn.h"

static struct gh_buf_pool *pool_of(const struct gh_conn *c)
{
    return gh_conn_pool(c);
}

/* The head kept for a retry of the request in flight goes (its response
 * began, or the client ended). */
static void drop_kept_head(struct gh_conn *c, size_t kept)
{
    if (kept == 0)
        return;
    gh_buf_consume(&c->client.in, (uint32_t)kept);
    gh_buf_release_if_empty(pool_of(c), &c->client.in);
}

static int http_open(struct gh_conn *c)
{
    c->http = malloc(sizeof *c->http); /* per connection, never per request */
    return c->http ? 0 : -1; /* set up by client_known, once the address is known */
}

static void http_client_known(struct gh_conn *c)
{
    gh_http_proxy_init(c->http, c->cfg, c->ev.client_ip);
}

static bool http_handshake_done(struct gh_conn *c, const struct gh_tls_peer *peer)
{
    c->http->peer = peer;
    /* the backend connects when the first request passed its checks, so
     * a bad request never costs the backend a connection */
    return false;
}

/* Runs one direction's bytes through the HTTP framer, from -> to. */
static enum gh_http_action frame_http(struct gh_conn *c, struct gh_buf *from, struct gh_buf *to,
                                      bool from_client, bool *moved)
{
    struct gh_http_io io;
    enum gh_http_action action;

    if (gh_buf_empty(from))
        return GH_HTTP_CONTINUE;
    if (gh_buf_acquire(pool_of(c), to) < 0) {
        gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
        return GH_HTTP_CLOSE;
    }
    io.in = from->data + from->head;
    io.in_len = gh_buf_len(from);
    io.out_room = gh_buf_make_room(pool_of(c), to);
    io.out = to->data + to->tail; /* after make_room, which may move the data */
    io.out_pending = gh_buf_len(to); /* sent bytes leave the buffer: these are not */
    io.now = gh_conn_now(c);
    action = from_client ? gh_http_from_client(c->http, &io, c->id)
                         : gh_http_from_backend(c->http, &io, c->id);
    gh_buf_consume(from, (uint32_t)io.consumed);
    to->tail += (uint32_t)io.produced;
    gh_buf_release_if_empty(pool_of(c), from);
    gh_buf_release_if_empty(pool_of(c), to);
    if (io.consumed || io.produced)
        *moved = true;
    return action;
}

static bool http_feed_client(struct gh_conn *c, bool *moved)
{
    const char *interim;
    size_t interim_len;

    enum gh_http_action a = frame_http(c, &c->client.in, &c->backend.out, true, moved);
    if (c->state == GH_CONN_CLOSED)
        return false;
    if (c->http->interim != GH_HTTP_INTERIM_NONE) {
        /* 100 Continue for a held request: a few bytes ahead of nothing
         * (no response is in flight); without room now, it stays owed */
        if (gh_buf_acquire(pool_of(c), &c->client.out) < 0) {
            gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
            return false;
        }
        size_t room = gh_buf_make_room(pool_of(c), &c->client.out);
        if (gh_http_take_interim(c->http, room, &interim, &interim_len)) {
            memcpy(c->client.out.data + c->client.out.tail, interim, interim_len);
            c->client.out.tail += (uint32_t)interim_len;
            *moved = true;
        }
        gh_buf_release_if_empty(pool_of(c), &c->client.out);
    }
    c->to_backend_ready = gh_buf_len(&c->backend.out);
    c->client_framer_blocked = a == GH_HTTP_BLOCKED;
    if (c->http->reply_queued && c->ending != GH_ENDING_AFTER_CLIENT_SENT)
        gh_conn_end_after_client_sent(c, c->cfg->mode == GH_MODE_REDIRECT ? GH_CLOSE_REDIRECTED
                                                                           : GH_CLOSE_REJECTED);
    if (c->http->reply_queued && c->http->queue_len == 0 &&
        c->backend.read != GH_SIDE_READ_DONE) {
        /* Rejected with no earlier response owed: none of the rejected
         * request may reach the backend, and nothing else will. In frame
         * mode the WebSocket frames released ahead of a bad one still go. */
        gh_conn_drop_backend_once_sent(c, c->http->ws != NULL);
    }
    if (c->to_backend_ready > 0 && c->backend.fd < 0 && c->backend.read != GH_SIDE_READ_DONE) {
        gh_conn_connect_backend(c);
        return c->state == GH_CONN_PUMPING;
    }
    return true;
}

/* The backend connection ended (EOF, reset) with nothing of a response
 * read since the last complete one. True when the client connection goes
 * on with a new backend connection (gh_http_backend_lost): the old one is
 * replaced here; the client framer or the unsent request opens the new
 * one next round. */
static bool http_backend_lost(struct gh_conn *c)
{
    bool request_unsent = gh_http_send_check_due(c->http);
    if (c->client.read == GH_SIDE_READ_DONE && gh_buf_empty(&c->client.in) && !request_unsent)
        return false; /* nothing can go on a new connection */
    switch (gh_http_backend_lost(c->http, c->id)) {
    case GH_HTTP_LOST_FAIL:
        return false;
    case GH_HTTP_LOST_REPLACE:
        gh_conn_replace_backend(c, false);
        gh_http_backend_replaced(c->http);
        return true;
    case GH_HTTP_LOST_RESEND:
        /* none of the request in flight was written: its bytes open the
         * new connection */
        gh_conn_replace_backend(c, true);
        gh_http_backend_replaced(c->http);
        return true;
    }
    return false;
}

/* Before the first byte of a request that may not be sent twice goes on a
 * backend connection that answered before (GH_HTTP_REPLAY_UNSENT): a
 * backend that closed it (keep-alive timeout, or after a response without
 * saying so) may have its FIN here unread. A peek tells, for a syscall per
 * such request: a closed connection gets nothing of the request, which goes
 * on a new one, or, when it cannot (a refusal waits behind it, a response
 * is under way), nowhere: a backend that shut only its sending side may
 * still read and act on it while the client gets a 502 and may send it
 * again. */
static enum gh_send_check http_before_send(struct gh_conn *c)
{
    if (!gh_http_send_check_due(c->http))
        return GH_SEND_CHECK_OPEN;
    if (gh_plain_peer_closed(&c->backend.plain) && gh_buf_empty(&c->backend.in)) {
        c->backend.read = GH_SIDE_READ_DONE;
        if (http_backend_lost(c)) {
            gh_conn_wake(c);
            return GH_SEND_CHECK_REPLACED;
        }
        return GH_SEND_CHECK_WITHHELD; /* still REPLAY_UNSENT: never written */
    }
    /* open (or a byte came: no longer idle; the response framer judges it) */
    gh_http_send_checked(c->http);
    return GH_SEND_CHECK_OPEN;
}

/* Backend bytes through the response framer, and our own replies once
 * every earlier response is out. */
static bool http_feed_backend(struct gh_conn *c, bool *moved)
{
    const char *reply;
    size_t reply_len;

    enum gh_http_action a = frame_http(c, &c->backend.in, &c->client.out, false, moved);
    if (c->state == GH_CONN_CLOSED)
        return false;
    drop_kept_head(c, gh_http_replay_release(c->http)); /* its response began */
    if (gh_http_backend_replace_due(c->http)) {
        /* before the EOF check: its end is no longer ours */
        gh_conn_replace_backend(c, false);
        gh_http_backend_replaced(c->http);
    }
    /* A refusal of a pipelined request ends the connection after the flush
     * while requests ahead of it are in flight: their backend's end still
     * has to fail them, or the client waits for idle_timeout. */
    if (c->backend.read == GH_SIDE_READ_DONE && gh_buf_empty(&c->backend.in) &&
        (c->ending != GH_ENDING_AFTER_CLIENT_SENT ||
         (c->http->reply_queued && c->http->queue_len > 0))) {
        if (http_backend_lost(c)) {
            /* closed between responses, or before answering a request that
             * may go again, or before a byte of one that may not: the
             * client's next request (or that one) goes on a new connection
             * (the client framer runs next round) */
            *moved = true;
        } else {
            a = gh_http_backend_eof(c->http,
                                    c->client.read == GH_SIDE_READ_DONE
                                        ? GH_HTTP_OUTCOME_CLIENT_ABORT
                                        : GH_HTTP_OUTCOME_BACKEND_FAILED,
                                    gh_conn_now(c), c->id);
        }
    }
    if (a == GH_HTTP_CLOSE && c->ending != GH_ENDING_AFTER_CLIENT_SENT)
        gh_conn_end_after_client_sent(c, c->backend.read == GH_SIDE_READ_DONE
                                             ? GH_CLOSE_BACKEND_EOF
                                             : GH_CLOSE_HTTP_CLOSE);
    if (gh_http_take_reply(c->http, &reply, &reply_len)) {
        if (gh_buf_acquire(pool_of(c), &c->client.out) < 0) {
            gh_conn_close(c, GH_CLOSE_OUT_OF_MEMORY);
            return false;
        }
        /* replies are a few hundred bytes; a buffer holds at least 4 KiB */
        if (gh_buf_make_room(pool_of(c), &c->client.out) >= reply_len) {
            memcpy(c->client.out.data + c->client.out.tail, reply, reply_len);
            c->client.out.tail += (uint32_t)reply_len;
        }
        gh_conn_end_after_client_sent(c, c->ending == GH_ENDING_NONE ? GH_CLOSE_REJECTED
                                                                      : c->close_reason);
        /* a client's refused frame may have left frames owed to the
         * backend (gh_conn_drop_backend_once_sent); a backend's fault
         * drops it */
        if (c->backend_wind_down == GH_BACKEND_LIVE)
            gh_conn_drop_backend(c);
        *moved = true;
    }
    return true;
}

static bool http_client_paused(const struct gh_conn *c)
{
    return gh_http_client_paused(c->http);
}

static void http_delivered(struct gh_conn *c)
{
    /* request entries wait for their responses to be written */
    gh_http_delivered(c->http, c->bytes_to_client, gh_conn_now(c), c->id);
}

static bool http_backend_failed(struct gh_conn *c, int status, const char *why)
{
    gh_http_backend_failed(c->http, status, why, gh_conn_now(c), c->id);
    return true;
}

static void http_client_ended(struct gh_conn *c)
{
    /* The client ended its side: the request in flight is not sent again
     * (its end goes on to the backend, which may answer it or give up),
     * so the head kept for that goes. */
    drop_kept_head(c, gh_http_replay_drop(c->http));
    if (!c->client_framer_blocked && !gh_buf_empty(&c->client.in)) {
        /* The client ended inside a head or body: those bytes can never
         * become a complete request. */
        gh_buf_release(pool_of(c), &c->client.in);
    }
}

static bool http_owes_client(const struct gh_conn *c)
{
    return gh_http_owes_client(c->http);
}

static enum gh_client_wait http_client_wait(struct gh_conn *c, double *since)
{
    if (gh_http_head_pending(c->http)) {
        *since = c->http->req_head_started;
        return GH_CLIENT_WAIT_HEAD;
    }
    if (c->ending == GH_ENDING_AFTER_CLIENT_SENT || c->client.read == GH_SIDE_READ_DONE)
        return GH_CLIENT_WAIT_NONE;
    if (gh_http_between_requests(c->http) && gh_buf_empty(&c->client.in) &&
        gh_buf_empty(&c->client.out) && gh_buf_empty(&c->backend.out))
        return c->http->requests == 0 ? GH_CLIENT_WAIT_FIRST_REQUEST
                                      : GH_CLIENT_WAIT_NEXT_REQUEST;
    /* A body counts only while gatehouse reads: a backend that does not
     * drain it (client buffer full) is not the client's delay. */
    if (gh_http_body_pending(c->http) && !gh_conn_client_paused(c) &&
        gh_buf_len(&c->client.in) < pool_of(c)->block_size)
        return GH_CLIENT_WAIT_BODY;
    return GH_CLIENT_WAIT_NONE;
}

static void http_head_timeout(struct gh_conn *c)
{
    gh_http_head_timeout(c->http);
}

static bool http_body_timeout(struct gh_conn *c, double now)
{
    return gh_http_body_timeout(c->http, now, c->id);
}

static bool http_awaiting_response(const struct gh_conn *c)
{
    return c->http->queue_len > 0;
}

static void http_closing(struct gh_conn *c, enum gh_close_reason reason)
{
    /* requests still unanswered, and responses not yet written to the
     * client whole, leave their audit entries too */
    gh_http_connection_ended(c->http, gh_close_reason_outcome(reason), gh_conn_now(c), c->id);
}

static void http_close_facts(const struct gh_conn *c, struct gh_close_facts *f)
{
    f->count = GH_CLOSE_COUNT_REQUESTS;
    f->requests = c->http->requests;
    f->websocket = gh_http_ws_counts(c->http, &f->ws_frames_in, &f->ws_frames_out,
                                     &f->ws_messages_in);
}

static void http_release(struct gh_conn *c)
{
    if (c->http)
        gh_http_proxy_release(c->http);
    free(c->http);
    c->http = NULL;
}

const struct gh_mode_ops gh_mode_http = {
    .frames_in_place = false,
    .open = http_open,
    .client_known = http_client_known,
    .handshake_done = http_handshake_done,
    .feed_client = http_feed_client,
    .feed_backend = http_feed_backend,
    .client_paused = http_client_paused,
    .delivered = http_delivered,
    .before_send = http_before_send,
    .backend_failed = http_backend_failed,
    .backend_lost = http_backend_lost,
    .client_ended = http_client_ended,
    .owes_client = http_owes_client,
    .client_wait = http_client_wait,
    .head_timeout = http_head_timeout,
    .body_timeout = http_body_timeout,
    .awaiting_response = http_awaiting_response,
    .closing = http_closing,
    .close_facts = http_close_facts,
    .release = http_release,
};
