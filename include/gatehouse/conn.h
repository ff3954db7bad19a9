/* conn.h - one client connection and its backend connection.
 *
 * Owns: the per-connection state machine
 *     HELLO -> HANDSHAKE -> CONNECTING -> PUMPING -> (closed)
 * (http mode: PUMPING -> CONNECTING -> PUMPING again when a backend
 * connection that lost sync was dropped and the next request opens a new
 * one; between the two backend.fd < 0, its reading half not done)
 * (HELLO: a PROXY header from a trusted balancer, then the ClientHello, read
 * before the TLS session exists so the certificate can be chosen for it)
 * the two sides (struct gh_side: socket, transport, buffers, the state of
 * each half), the pump between them, half-close in each direction,
 * the handshake/connect/idle timer with the waits on the client it also
 * bounds (request_timeout, keepalive_timeout, header_timeout, body_timeout,
 * send_timeout) and the reason a connection closed.
 * Not here: what the bytes mean (the mode, mode.h), how they cross a
 * socket (the transport, transport.h), what an event writes (event.h),
 * the connection list and counters (worker.c). */
#ifndef GATEHOUSE_CONN_H
#define GATEHOUSE_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gatehouse/buffer.h"
#include "gatehouse/event.h"
#include "gatehouse/stream_framer.h"
#include "gatehouse/hello_reader.h"
#include "gatehouse/http_proxy.h"
#include "gatehouse/rate_limit.h"
#include "gatehouse/transport.h"

struct gh_config_gen;
struct gh_mode_ops;
struct gh_listener;
struct gh_tls_session;
struct gh_worker;

enum gh_conn_state {
    GH_CONN_HELLO,
    GH_CONN_HANDSHAKE,
    GH_CONN_CONNECTING,
    GH_CONN_PUMPING,
    GH_CONN_CLOSED
};

/* How a refusal ends the backend connection when bytes released before it
 * are still to be sent: they go out, then the write side is shut and the
 * backend read (and discarded) to its end, so it is not reset with them
 * unread. */
enum gh_backend_wind_down {
    GH_BACKEND_LIVE,         /* no refusal pending */
    GH_BACKEND_SEND_THEN_SHUT, /* released bytes still to go out */
    GH_BACKEND_DRAINING,     /* write side shut: waiting for the backend's end */
};

/* The reading half of a side. */
enum gh_side_read {
    GH_SIDE_READ_OPEN,       /* reads as readiness allows */
    GH_SIDE_READ_WANTS_WRITE,/* TLS: the read (or handshake) needs the socket writable */
    GH_SIDE_READ_DONE,       /* the peer ended its sending half (EOF, close_notify) */
};

/* The writing half of a side. */
enum gh_side_write {
    GH_SIDE_WRITE_OPEN,      /* writes as readiness allows */
    GH_SIDE_WRITE_WANTS_READ,/* TLS: the write needs the socket readable */
    GH_SIDE_WRITE_SHUT,      /* we ended our sending half: FIN or close_notify sent */
};

/* One end of the connection: the client, or the backend. The pump moves
 * bytes from one side to the other (conn.c, process) the same way both
 * ways; only the transport underneath differs. */
struct gh_side {
    int fd;                      /* backend: -1 while there is no backend connection */
    ev_io io;
    const struct gh_transport_ops *ops;
    void *ctx;                   /* the transport's: a TLS session, or &plain */
    struct gh_plain_transport plain;
    struct gh_buf in;            /* http mode: bytes read from this side, not yet framed */
    struct gh_buf out;           /* bytes for this side, not yet written */
    bool readable, writable;     /* readiness as the last events and attempts left it */
    enum gh_side_read read;
    enum gh_side_write write;
};

/* How a connection that decided to end gets there. */
enum gh_conn_ending {
    GH_ENDING_NONE,
    GH_ENDING_AFTER_BACKEND_SENT,/* tcp mode, a refused frame: close once the
                                  * frames released before it reached the backend */
    GH_ENDING_AFTER_CLIENT_SENT, /* http mode: close once every response owed
                                  * and what is queued reached the client */
};

struct gh_conn {
    uint64_t id;
    struct gh_worker *worker;
    struct gh_listener *listener;
    struct gh_buf_pool *pool;    /* the listener's, where the buffers come from */
    struct ev_loop *loop;        /* the worker's */
    const struct gh_listener_config *cfg; /* as it was when accepted (reloads come later) */
    struct gh_config_gen *gen;   /* the configuration generation cfg belongs to */
    struct gh_tls_session *tls;  /* NULL on listeners without TLS (mode = redirect) */
    const struct gh_mode_ops *mode; /* what the bytes mean: tcp framing or http */
    struct gh_side client;       /* out: to_client, in: from_client (http) */
    struct gh_side backend;      /* out: to_backend, in: from_backend (http) */
    ev_timer timer;              /* handshake, connect, then idle and client timeouts */
    ev_tstamp started;
    ev_tstamp last_activity;
    ev_tstamp timer_due;         /* when c->timer fires next */
    ev_tstamp send_wait_since;   /* send_timeout: when the client last took a byte or was owed none */
    ev_tstamp body_window_start; /* body_timeout: when the current period of a request body began */
    uint64_t body_window_bytes;  /* bytes_from_client then: the period must bring min_body_rate x it */

    struct gh_hello_buf hello;   /* HELLO: bytes read before the TLS session; wolfSSL replays them */
    struct gh_stream_framer framer; /* tcp mode: raw, line or length */
    struct gh_rate_bucket rate;  /* rate_limit */

    /* The modes' state (mode_tcp.c, mode_http.c). http: bytes are read
     * into side.in, and the HTTP framer moves what may pass (rewritten)
     * into the other side's out; NULL in tcp mode, where bytes are read
     * straight into the other side's out. */
    struct gh_http_proxy *http;
    enum gh_close_reason close_reason; /* set with ending */
    struct gh_event_ctx ev;      /* what every event of this connection names */

    uint64_t bytes_from_client;
    uint64_t bytes_to_client;
    struct sockaddr_storage peer;
    struct gh_conn *prev, *next; /* worker->conns */
    struct gh_conn *pending_next;

    enum gh_conn_state state;
    enum gh_conn_ending ending;
    /* http mode refusal with released bytes still owed to the backend
     * (WebSocket frames ahead of a bad one): see drop_backend_once_sent */
    enum gh_backend_wind_down backend_wind_down;
    int cert_index;              /* which of the listener's certificates was served */
    uint32_t to_backend_ready;   /* bytes at the head of backend.out the framer released */
    socklen_t peer_len;

    bool rate_paused;            /* rate_limit: no reading until the timer fires */
    bool proxy_header_done;      /* accept_proxy: the balancer's header was taken */
    bool proxy_header_sent;      /* proxy_protocol: ours went to the backend */
    bool client_framer_blocked;  /* http mode: its framer waits for the other direction */
    bool client_done_first;      /* the client ended before the backend */
    bool is_pending;
};

/* Where the connection's buffers come from, and the loop's time: asked
 * on every feed and read, so inline rather than behind a call. */
static inline struct gh_buf_pool *gh_conn_pool(const struct gh_conn *c)
{
    return c->pool;
}

static inline double gh_conn_now(const struct gh_conn *c)
{
    return ev_now(c->loop);
}

/* Takes ownership of a freshly accepted client socket. */
void gh_conn_accept(struct gh_worker *w, struct gh_listener *l, int fd,
                    const struct sockaddr_storage *peer, socklen_t peer_len);

/* Does the I/O the last events made possible; called once per loop
 * iteration for each pending connection. */
void gh_conn_flush(struct gh_conn *c);

/* Closes now (GH_CLOSE_SHUTDOWN: the end of the drain). */
void gh_conn_abort(struct gh_conn *c, enum gh_close_reason reason);

#endif
