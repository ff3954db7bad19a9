/* conn.h - one client connection and its backend connection.
 *
 * Owns: the per-connection state machine
 *     HELLO -> HANDSHAKE -> CONNECTING -> PUMPING -> (closed)
 * (http mode: PUMPING -> CONNECTING -> PUMPING again when a backend
 * connection that lost sync was dropped and the next request opens a new
 * one; between the two backend_fd < 0 with backend_done false)
 * (HELLO: a PROXY header from a trusted balancer, then the ClientHello, read
 * before the TLS session exists so the certificate can be chosen for it)
 * the two byte buffers between the sides, half-close in each direction,
 * the handshake/connect/idle timer with the waits on the client it also
 * bounds (request_timeout, keepalive_timeout, header_timeout, body_timeout,
 * send_timeout) and the reason a connection closed. */
#ifndef GATEHOUSE_CONN_H
#define GATEHOUSE_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gatehouse/buffer.h"
#include "gatehouse/stream_framer.h"
#include "gatehouse/http_proxy.h"

struct gh_config_gen;
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

struct gh_conn {
    uint64_t id;
    struct gh_worker *worker;
    struct gh_listener *listener;
    const struct gh_listener_config *cfg; /* as it was when accepted (reloads come later) */
    struct gh_config_gen *gen;   /* the configuration generation cfg belongs to */
    struct gh_tls_session *tls;
    ev_io client_io;
    ev_io backend_io;
    ev_timer timer;              /* handshake, connect, then idle and client timeouts */
    ev_tstamp started;
    ev_tstamp last_activity;
    ev_tstamp timer_due;         /* when c->timer fires next */
    ev_tstamp send_wait_since;   /* send_timeout: when the client last took a byte or was owed none */
    ev_tstamp body_window_start; /* body_timeout: when the current period of a request body began */
    uint64_t body_window_bytes;  /* bytes_from_client then: the period must bring min_body_rate x it */

    struct gh_buf to_backend;    /* client plaintext not yet sent on */
    struct gh_buf to_client;     /* backend bytes not yet encrypted and sent */
    struct gh_buf hello;         /* HELLO: bytes read before the TLS session; wolfSSL replays them */
    struct gh_stream_framer framer; /* tcp mode: raw, line or length */
    double rate_tokens;          /* bytes the client may still send now */
    ev_tstamp rate_stamp;        /* when rate_tokens was last topped up */

    /* mode = http: bytes are read into from_*, and the HTTP framer moves
     * what may pass (rewritten) into to_*. NULL/empty in tcp mode. */
    struct gh_http_proxy *http;
    struct gh_buf from_client;
    struct gh_buf from_backend;
    const char *close_reason;

    uint64_t bytes_from_client;
    uint64_t bytes_to_client;
    struct sockaddr_storage peer;
    struct gh_conn *prev, *next; /* worker->conns */
    struct gh_conn *pending_next;

    enum gh_conn_state state;
    int client_fd;
    int backend_fd;
    int cert_index;              /* which of the listener's certificates was served */
    uint32_t to_backend_ready;   /* bytes at the head of to_backend the framer released */
    socklen_t peer_len;
    char peer_addr[56];          /* client address:port as text, for logs */
    char client_ip[48];          /* the address alone (X-Forwarded-For, audit) */
    uint16_t client_port;

    bool reject_pending;         /* a frame was refused: close once the valid ones are out */
    /* http mode refusal with released bytes still owed to the backend
     * (WebSocket frames ahead of a bad one): see drop_backend_once_sent */
    enum gh_backend_wind_down backend_wind_down;
    bool rate_paused;            /* rate_limit: no reading until the timer fires */
    bool proxy_header_done;      /* accept_proxy: the balancer's header was taken */
    bool proxy_header_sent;      /* proxy_protocol: ours went to the backend */
    bool hello_heap;             /* hello outgrew the pool's block: malloc'd, HELLO_BUF_MAX */
    bool close_after_flush;      /* close once to_client is delivered */
    bool client_framer_blocked;  /* the http framer waits for the other direction */
    bool is_pending;

    /* readiness as the last events and attempts left it */
    bool client_readable, client_writable;
    bool backend_readable, backend_writable;
    bool tls_read_wants_write;   /* wolfSSL_read needs the socket writable */
    bool tls_write_wants_read;   /* wolfSSL_write needs the socket readable */

    /* half-close, each direction on its own */
    bool client_done;            /* client sent close_notify or EOF */
    bool backend_shut;           /* we sent FIN to the backend */
    bool backend_done;           /* backend sent FIN */
    bool notify_sent;            /* we sent close_notify to the client */
    bool client_done_first;      /* the client ended before the backend */
};

/* Takes ownership of a freshly accepted client socket. */
void gh_conn_accept(struct gh_worker *w, struct gh_listener *l, int fd,
                    const struct sockaddr_storage *peer, socklen_t peer_len);

/* Does the I/O the last events made possible; called once per loop
 * iteration for each pending connection. */
void gh_conn_flush(struct gh_conn *c);

/* Closes with reason "shutdown" (end of the drain). */
void gh_conn_abort(struct gh_conn *c, const char *reason);

#endif
