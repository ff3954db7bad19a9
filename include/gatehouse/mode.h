/* mode.h - what the connection's pump asks of its mode (tcp framing, or
 * HTTP with WebSocket), as HAProxy's mux_ops.
 *
 * Owns: the interface between the mode-free connection core (conn.c: the
 * state machine, the sides, the pump, timers, half-close) and the two
 * modes: feeding each direction's bytes through the mode's framer, the
 * backend's end, failure and loss, the replies a mode sends itself
 * (interim and final), whether the client may be read, what was
 * delivered, the waits on the client the mode defines, and the mode's
 * counters for the close. Implementations: mode_tcp.c (the stream framer:
 * raw, line, length) and mode_http.c (a thin adapter over http_proxy.h,
 * which stays I/O-free and knows no connection).
 *
 * The ops take the connection: a mode reads the sides' buffers and the
 * connection's state and calls back the services below, as a mux works
 * on its connection. Ops are called once per read, write or flush, never
 * per byte. */
#ifndef GATEHOUSE_MODE_H
#define GATEHOUSE_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/event.h"

struct gh_conn;
struct gh_listener_config;
struct gh_tls_peer;

/* What the connection waits for from its client (PUMPING), each wait with
 * its own key and clock; idle_timeout bounds every state besides. */
enum gh_client_wait {
    GH_CLIENT_WAIT_NONE,          /* tcp mode, or the backend is what is awaited */
    GH_CLIENT_WAIT_FIRST_REQUEST, /* request_timeout, from the handshake's end */
    GH_CLIENT_WAIT_NEXT_REQUEST,  /* keepalive_timeout, from the last response's end */
    GH_CLIENT_WAIT_HEAD,          /* header_timeout, from the head's first byte */
    GH_CLIENT_WAIT_BODY,          /* body_timeout periods of at least min_body_rate */
};

/* What the write to the backend does with bytes a mode checks first. */
enum gh_send_check {
    GH_SEND_CHECK_OPEN,           /* the connection is open: its bytes go now */
    GH_SEND_CHECK_REPLACED,       /* it was closed: a new one takes the bytes */
    GH_SEND_CHECK_WITHHELD,       /* it was closed and nothing may go on a new one: nothing
                                   * is written; the end, read next, fails the request */
};

struct gh_mode_ops {
    /* Bytes read from a side go straight into the other side's out and
     * are framed where they lie (tcp); else into the side's own in, and
     * the mode moves what may pass (http). */
    bool frames_in_place;
    /* At accept: the mode's state. -1 when out of memory. */
    int (*open)(struct gh_conn *c);
    /* The client's address is known (at accept, and again after a trusted
     * PROXY header): the mode starts from it. */
    void (*client_known)(struct gh_conn *c);
    /* The handshake completed. True: the backend connection opens now
     * (tcp); false: with the first request that passed its checks. */
    bool (*handshake_done)(struct gh_conn *c, const struct gh_tls_peer *peer);
    /* One direction's bytes through the framer, and the replies that
     * follow; *moved when anything moved. False: the connection left
     * PUMPING. */
    bool (*feed_client)(struct gh_conn *c, bool *moved);
    bool (*feed_backend)(struct gh_conn *c, bool *moved);
    /* The mode holds the client's reading (a held request, a queue full). */
    bool (*client_paused)(const struct gh_conn *c);
    /* bytes_to_client grew: responses written whole get their entries. */
    void (*delivered)(struct gh_conn *c);
    /* Before the next bytes go on a backend connection. */
    enum gh_send_check (*before_send)(struct gh_conn *c);
    /* The backend failed (connect, reset, a timeout). True: the mode
     * answers the client (502/504) and the connection ends after the
     * flush; false: it closes now. */
    bool (*backend_failed)(struct gh_conn *c, int status, const char *why);
    /* The backend connection ended or was reset with nothing of a
     * response read: true when it was replaced and the client goes on. */
    bool (*backend_lost)(struct gh_conn *c);
    /* The client ended its sending half (each flush after it did). */
    void (*client_ended)(struct gh_conn *c);
    /* Ending: the mode still owes the client a response or a reply. */
    bool (*owes_client)(const struct gh_conn *c);
    /* The current wait on the client, and *since when for a head. */
    enum gh_client_wait (*client_wait)(struct gh_conn *c, double *since);
    /* header_timeout ran out: the 408 is queued. */
    void (*head_timeout)(struct gh_conn *c);
    /* body_timeout ran out: true when a 408 was queued. */
    bool (*body_timeout)(struct gh_conn *c, double now);
    /* Requests sent on and not yet answered (a response timeout). */
    bool (*awaiting_response)(const struct gh_conn *c);
    /* The connection closes: unanswered requests get their entries. */
    void (*closing)(struct gh_conn *c, enum gh_close_reason reason);
    /* The mode's counters for the close event (count, frames, requests,
     * WebSocket). */
    void (*close_facts)(const struct gh_conn *c, struct gh_close_facts *f);
    /* Frees the mode's state. */
    void (*release)(struct gh_conn *c);
};

extern const struct gh_mode_ops gh_mode_tcp;
extern const struct gh_mode_ops gh_mode_http;

/* The mode of a listener. */
const struct gh_mode_ops *gh_mode_of(const struct gh_listener_config *cfg);

/* ---- what the connection offers its mode (conn.c) ---------------------- */

/* Closes now. */
void gh_conn_close(struct gh_conn *c, enum gh_close_reason reason);
/* Ends the connection once what the client is owed is delivered. */
void gh_conn_end_after_client_sent(struct gh_conn *c, enum gh_close_reason reason);
/* Opens a backend connection for the bytes released to it. */
void gh_conn_connect_backend(struct gh_conn *c);
/* The backend side ends without a FIN exchange. */
void gh_conn_drop_backend(struct gh_conn *c);
/* A refusal: the backend goes once the bytes released to it before the
 * refusal are out (keep_released), else at once. */
void gh_conn_drop_backend_once_sent(struct gh_conn *c, bool keep_released);
/* The backend connection goes without reading more; the next released
 * bytes open a new one. keep_unsent: the bytes framed for the old one and
 * not written open the new one; else they go. */
void gh_conn_replace_backend(struct gh_conn *c, bool keep_unsent);
/* The client's reading is held, by the connection or by the mode. */
bool gh_conn_client_paused(struct gh_conn *c);
/* gh_conn_pool and gh_conn_now, asked on every feed, are inline in conn.h. */
/* Runs the connection again at the next flush. */
void gh_conn_wake(struct gh_conn *c);

#endif
