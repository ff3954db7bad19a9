/* http_proxy.h - mode = http: the framer for HTTP/1.1 connections.
 *
 * Owns: the request stream (client -> backend: each head parsed, checked
 * against the listener's rules, rewritten with X-Forwarded-For,
 * X-Forwarded-Proto and/or Forwarded, X-Request-Id and the client
 * certificate's X-Client-* fields, hop-by-hop headers and every spelling
 * of those fields from the client dropped (trusted_proxies may pass the
 * forwarding family); bodies checked, counted and re-framed: a request
 * that fits max_held_request is held in the client's buffer until its body
 * is complete and goes with Content-Length, a larger one streams with
 * gatehouse's own chunk framing; which trailers go on), the response
 * stream (backend -> client: heads parsed for framing against
 * max_response_header_bytes / _headers so each response is paired with its
 * request, HSTS added; a backend's Connection: close is not passed on
 * when only the backend connection ends), the request in flight (one per
 * backend connection: the next waits in the client buffer), whether the
 * backend connection may carry another request (enum
 * gh_http_backend_sync: a backend that closes between responses is
 * replaced, the client connection goes on), whether the request in flight
 * may be sent again when the backend closes first (enum gh_http_replay,
 * RFC 9112 9.3.1), the request audit entry of every forwarded request
 * however it ended (held until the connection reports its response
 * written to the client, gh_http_delivered, or the connection ends,
 * gh_http_connection_ended), and the error
 * responses gatehouse answers itself. No I/O: the connection feeds
 * bytes in and writes out what comes back. */
#ifndef GATEHOUSE_HTTP_PROXY_H
#define GATEHOUSE_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/config.h"
#include "gatehouse/http1.h"

/* Requests forwarded and not yet answered, per backend connection: one.
 * A backend that mis-frames a request (answers a POST without reading its
 * body, then reads the body as a request) must never have its next answer
 * paired with the client's next request; client pipelining still works,
 * the next head waits in gatehouse's client buffer until the answer is
 * complete. */
#define GH_HTTP_PIPELINE_MAX 1
#define GH_HTTP_TARGET_EXCERPT 64 /* bytes of the target in the stderr log */
#define GH_HTTP_TARGET_KEEP 256   /* bytes of each in-flight request's target kept for the audit log */
#define GH_HTTP_HOST_KEEP 128     /* and of its Host */
#define GH_HTTP_REPLY_MAX 1024    /* an error or redirect response gatehouse writes itself */
/* Requests whose response is all in the connection's client buffer but not
 * yet written to the client's TLS connection: their request entries wait
 * (struct gh_http_finished) until it is. With all in use no further
 * response head is taken from the backend until the client reads
 * (back-pressure, like a full buffer), so none is ever dropped; the last
 * GH_HTTP_PIPELINE_MAX slots are kept for requests in flight that fail. */
#define GH_HTTP_UNDELIVERED_MAX 4
_Static_assert(GH_HTTP_UNDELIVERED_MAX > GH_HTTP_PIPELINE_MAX, "a slot per request in flight, and more");

struct gh_tls_peer;
struct gh_ws_session;

/* How the current request body leaves for the backend. */
enum gh_http_body_out {
    GH_BODY_OUT_NONE,             /* no body, no framing field */
    GH_BODY_OUT_LENGTH,           /* Content-Length; a chunked body held whole is de-chunked */
    GH_BODY_OUT_CHUNKED,          /* Transfer-Encoding: chunked, chunks re-encoded by gatehouse */
};

struct gh_http_pending {
    uint64_t request_id;
    double started;               /* loop time the head was complete */
    uint64_t body_bytes;
    uint32_t target_len;          /* as the client sent them; the copies below may be shorter */
    uint32_t host_len;
    enum gh_http_body_out body_out; /* how its body went on: chunked framing is bytes
                                     * beyond the head even with no data */
    char method[16];
    char target[GH_HTTP_TARGET_KEEP]; /* not NUL-terminated */
    char host[GH_HTTP_HOST_KEEP];
    bool has_host;
    bool is_connect;
    bool is_upgrade;              /* a WebSocket upgrade: its head is kept in ws_head */
    bool close_after;             /* the client asked to close after this one */
};

/* How a request left the queue: the request audit entry's "outcome". */
enum gh_http_outcome {
    GH_HTTP_OUTCOME_COMPLETE,     /* its response went to the client whole */
    GH_HTTP_OUTCOME_CLIENT_ABORT, /* the client went away (or failed) first */
    GH_HTTP_OUTCOME_BACKEND_FAILED, /* refused, reset, timed out, malformed, closed early */
    GH_HTTP_OUTCOME_SHUTDOWN,     /* the shutdown grace expired first */
    GH_HTTP_OUTCOME_REFUSED,      /* its streamed body broke a rule: gatehouse answered */
};

/* A request that left the queue, its request entry held until the client
 * has been written every byte of its response (or the connection ends). */
struct gh_http_finished {
    struct gh_http_pending req;
    uint64_t stream_end;          /* offset just past its response in the client byte stream */
    uint64_t response_bytes;      /* bytes of it handed to the client buffer */
    double ttfb;                  /* seconds to the first response byte, 0: none */
    int status;
    enum gh_http_outcome outcome; /* its outcome once those bytes reach the client */
};

/* Whether the backend connection may carry the next request. */
enum gh_http_backend_sync {
    GH_HTTP_BACKEND_IN_SYNC,      /* every byte it sent belonged to a request */
    GH_HTTP_BACKEND_DESYNCED,     /* it answered what was not asked, or answered before
                                   * the request's body was sent: drop it, the next
                                   * request goes on a new connection */
    GH_HTTP_BACKEND_RETIRED,      /* in sync, but it carried a request body (backend_reuse
                                   * = safe): the next request goes on a new connection */
    GH_HTTP_BACKEND_CLOSING,      /* its last response said Connection: close (or was
                                   * HTTP/1.0): requests the client pipelined behind it go
                                   * on a new connection */
    GH_HTTP_BACKEND_LOST,         /* it closed before any byte of the response to a request
                                   * kept for replay: that request goes again on a new one */
};

/* Whether the request in flight may be sent again on a new backend
 * connection when the backend closes (or resets) before any byte of its
 * response: only an idempotent method (RFC 9110 9.2.2; a proxy MUST NOT
 * retry others, RFC 9112 9.3.1) without a body, not an upgrade, not one
 * the client closes after, sent on a reused backend connection (one that
 * answered before: it may have been closed while the request was on its
 * way), and once. Its head stays at the start of the client's input
 * meanwhile (nothing copied or allocated; the client buffer stays in use
 * while it is in flight). */
enum gh_http_replay {
    GH_HTTP_REPLAY_NONE,          /* nothing kept: a close before its response is a 502 */
    GH_HTTP_REPLAY_KEPT,          /* replay_len bytes at the start of the client's input are
                                   * its head, already sent; client input waits behind it */
    GH_HTTP_REPLAY_RELEASED,      /* a response byte came: the connection drops them
                                   * (gh_http_replay_release) */
    GH_HTTP_REPLAY_DUE,           /* the backend was lost first: the head is parsed and
                                   * sent again; a second loss is a 502 */
    GH_HTTP_REPLAY_UNSENT,        /* not replayable, but on a reused backend connection and
                                   * first in the connection's backend buffer with nothing
                                   * of it written yet: the connection checks that the
                                   * backend has not closed before its first byte goes
                                   * (gh_http_send_check_due); if it has, those bytes go on
                                   * a new connection instead (GH_HTTP_LOST_RESEND) */
};

/* What becomes of the client connection when its backend connection ends
 * with no byte of a response read since the last complete one. */
enum gh_http_lost {
    GH_HTTP_LOST_FAIL,            /* nothing may go again: end as gh_http_backend_eof /
                                   * gh_http_backend_failed say */
    GH_HTTP_LOST_REPLACE,         /* a new backend connection; what was framed for the old
                                   * one is dropped, the framer feeds the client's input
                                   * again (nothing in flight, or a kept head) */
    GH_HTTP_LOST_RESEND,          /* a new backend connection; the bytes framed for the old
                                   * one, none of them written (GH_HTTP_REPLAY_UNSENT), go
                                   * on it as they are */
};

/* What a response's end closes. */
enum gh_http_resp_close {
    GH_HTTP_RESP_KEEP_ALIVE,      /* nothing */
    GH_HTTP_RESP_CLOSE_CLIENT,    /* the client connection too: an HTTP/1.0 or close-
                                   * delimited response, or the client asked to close */
    GH_HTTP_RESP_CLOSE_BACKEND,   /* only the backend connection: an HTTP/1.1 response with
                                   * Connection: close, forwarded without that field (it is
                                   * hop-by-hop) while the client connection goes on */
};


/* An interim response gatehouse owes the client itself. */
enum gh_http_interim {
    GH_HTTP_INTERIM_NONE,
    GH_HTTP_INTERIM_CONTINUE,     /* 100 Continue: a held request sent Expect: 100-continue
                                   * and gatehouse, not the backend, reads its body */
};

enum gh_http_phase {
    GH_HTTP_HEAD,                 /* waiting for (the rest of) a head */
    GH_HTTP_BODY_LENGTH,
    GH_HTTP_BODY_CHUNKED,
    GH_HTTP_BODY_HELD,            /* requests only: head and body wait in the client's buffer */
    GH_HTTP_UNTIL_CLOSE,          /* responses only */
    GH_HTTP_TUNNEL,               /* after a 2xx to CONNECT: bytes pass unchecked */
    GH_HTTP_WEBSOCKET,            /* after a valid 101: frames, checked each way */
    GH_HTTP_STOPPED,              /* nothing more is read from this side */
};

struct gh_http_proxy {
    const struct gh_listener_config *cfg;
    const char *client_addr;      /* text for X-Forwarded-For */
    const struct gh_tls_peer *peer; /* the verified client certificate, NULL if none */

    /* requests */
    enum gh_http_phase req_phase;
    enum gh_http_body_out req_out;
    size_t req_scan;              /* gh_http1_head_end resume point */
    unsigned req_empty_lines;     /* skipped before this request's line, <= GH_HTTP1_MAX_EMPTY_LINES */
    double req_head_started;      /* loop time the current head began, 0 if none */
    uint64_t req_body_left;
    uint64_t req_body_bytes;
    struct gh_http1_chunked req_chunked;
    /* a held request (GH_HTTP_BODY_HELD): nothing is consumed; the head
     * and body stay at the start of the client's input, at most
     * cfg->max_held_request bytes, until the body is complete */
    enum gh_http1_body held_body;  /* its framing as the client sent it */
    unsigned held_trailers;       /* trailers it carries that the listener forwards */
    size_t held_head_len;
    size_t held_scan;             /* input bytes checked so far, head included */

    enum gh_http_replay replay;   /* the request in flight, if it can go again */
    size_t replay_len;            /* its head's bytes at the start of the client's input */
    /* requests in flight, oldest first */
    struct gh_http_pending queue[GH_HTTP_PIPELINE_MAX];
    unsigned queue_head, queue_len;

    /* responses */
    enum gh_http_phase resp_phase;
    int resp_status;
    size_t resp_scan;
    uint64_t resp_body_left;
    uint64_t resp_bytes;          /* bytes of the current response sent on */
    double resp_first_byte;
    struct gh_http1_chunked resp_chunked;
    struct gh_http1_limits resp_limits; /* response heads: max_response_header_bytes, _headers */
    enum gh_http_resp_close resp_close; /* what ends after this response */
    bool backend_announced_close; /* a completed response said Connection: close */
    enum gh_http_backend_sync backend_sync;
    uint64_t backend_answered;    /* responses completed on this backend connection */

    /* WebSocket (websocket = on): the upgrade request's head until the 101
     * is checked against it, then the two frame validators. Allocated for
     * an upgrade only: plain HTTP connections carry neither. */
    char *ws_head;
    size_t ws_head_len;
    struct gh_ws_session *ws;

    /* request entries waiting for their responses to reach the client,
     * oldest first; offsets count every byte handed to the client buffer
     * (responses, interim responses, our replies) since the connection began */
    struct gh_http_finished undelivered[GH_HTTP_UNDELIVERED_MAX];
    unsigned undelivered_head, undelivered_len;
    uint64_t client_stream_queued; /* bytes handed to the client buffer */
    uint64_t client_stream_sent;  /* of those, written to the client's TLS connection */

    /* an answer of our own, sent once every earlier response is complete */
    char reply[GH_HTTP_REPLY_MAX];
    char *redirect_reply;         /* mode = redirect: the 308, allocated to its size; sent instead of reply */
    size_t reply_len;
    bool reply_queued;
    bool close_when_idle;         /* close once the queue drains (Connection: close) */
    enum gh_http_interim interim; /* owed to the client now, ahead of any response */
    uint64_t requests;            /* responses the client was written whole, and redirects */
};

/* What the connection must do after a feed. */
enum gh_http_action {
    GH_HTTP_CONTINUE,             /* carry on; feed again when more bytes or room come */
    GH_HTTP_BLOCKED,              /* cannot go on until the other direction progresses */
    GH_HTTP_CLOSE,                /* flush what is queued for the client, then close */
};

struct gh_http_io {
    const uint8_t *in;            /* unconsumed input */
    size_t in_len;
    uint8_t *out;                 /* free space in the output buffer */
    size_t out_room;
    size_t out_pending;           /* bytes ahead of out in the output buffer, not yet sent */
    size_t consumed;              /* set by the feed */
    size_t produced;
    double now;
};

void gh_http_proxy_init(struct gh_http_proxy *hp, const struct gh_listener_config *cfg,
                        const char *client_addr);

/* Client bytes -> what may go to the backend. */
enum gh_http_action gh_http_from_client(struct gh_http_proxy *hp, struct gh_http_io *io,
                                        uint64_t conn_id);

/* Backend bytes -> what may go to the client. */
enum gh_http_action gh_http_from_backend(struct gh_http_proxy *hp, struct gh_http_io *io,
                                         uint64_t conn_id);

/* The backend closed its side. Completes a close-delimited response; a
 * response cut short makes the connection close. Requests left unanswered
 * are audited with UNANSWERED: backend_failed, or client_abort when the
 * client had ended its side first (the backend gave up on seeing that). */
enum gh_http_action gh_http_backend_eof(struct gh_http_proxy *hp, enum gh_http_outcome unanswered,
                                        double now, uint64_t conn_id);

/* The backend failed (refused, reset, timed out: status 502 or 504). If no
 * byte of the current response went to the client yet, an error response
 * is queued. Always ends the connection. The requests it leaves unanswered
 * get their audit entries (outcome backend_failed). */
void gh_http_backend_failed(struct gh_http_proxy *hp, int status, const char *why, double now,
                            uint64_t conn_id);

/* SENT bytes (in all) have been written to the client's TLS connection:
 * the requests whose responses are now out whole leave their entries
 * (outcome complete, or the failure they ended with). */
void gh_http_delivered(struct gh_http_proxy *hp, uint64_t sent, double now, uint64_t conn_id);

/* The connection ends: unanswered requests are abandoned with UNANSWERED,
 * and every entry still waiting for its response to reach the client is
 * written now, response_bytes = what the client was really written. A
 * response that was whole but not written out counts as client_abort
 * (shutdown when UNANSWERED is shutdown); a failure keeps its outcome. */
void gh_http_connection_ended(struct gh_http_proxy *hp, enum gh_http_outcome unanswered,
                              double now, uint64_t conn_id);

/* True when the backend connection must be replaced before the next
 * request (see enum gh_http_backend_sync); the connection drops it and
 * calls gh_http_backend_replaced. */
bool gh_http_backend_replace_due(const struct gh_http_proxy *hp);
void gh_http_backend_replaced(struct gh_http_proxy *hp);
/* The backend connection ended (EOF, reset) with no byte of a response
 * read since the last complete one. Says whether the client connection
 * goes on with a new backend connection (enum gh_http_lost): when nothing
 * was in flight (requests the client pipelined, or sends later, go on the
 * new one), when the request in flight can be sent again (enum
 * gh_http_replay; it leaves the queue without an entry and gets one when
 * it is answered), or when none of it was written (REPLAY_UNSENT; it stays
 * in the queue). The connection replaces the backend connection (see
 * gh_http_backend_replace_due), keeping its unsent bytes for RESEND. */
enum gh_http_lost gh_http_backend_lost(struct gh_http_proxy *hp, uint64_t conn_id);
/* True while the request in flight is REPLAY_UNSENT: before writing its
 * first byte the connection checks that the backend connection is still
 * open, then calls gh_http_send_checked (open) or gh_http_backend_lost. */
bool gh_http_send_check_due(const struct gh_http_proxy *hp);
/* The backend connection was open: the request's bytes go now, and a close
 * from here on leaves it unanswered (a 502: RFC 9112 9.3.1). */
void gh_http_send_checked(struct gh_http_proxy *hp);
/* The client ended its side: no retry any more. Returns the kept head's
 * bytes, which the connection drops from the start of the client's input. */
size_t gh_http_replay_drop(struct gh_http_proxy *hp);
/* Bytes the connection must now drop from the start of the client's input
 * (a kept head whose response has begun); 0 if none. */
size_t gh_http_replay_release(struct gh_http_proxy *hp);

/* Frees what a WebSocket upgrade allocated (at close). */
void gh_http_proxy_release(struct gh_http_proxy *hp);

/* WebSocket frames and messages each way, for the close audit entry;
 * false when the connection never switched. */
bool gh_http_ws_counts(const struct gh_http_proxy *hp, uint64_t *frames_in, uint64_t *frames_out,
                       uint64_t *messages_in);

/* The client took too long to send a complete head (408). */
void gh_http_head_timeout(struct gh_http_proxy *hp);

/* True while a head is incomplete and its deadline runs. */
bool gh_http_head_pending(const struct gh_http_proxy *hp);

/* True between requests: no byte of the next request yet, none in flight,
 * nothing owed to the client (request_timeout, keepalive_timeout run). */
bool gh_http_between_requests(const struct gh_http_proxy *hp);

/* True while a request body is read from the client, held or streamed. */
bool gh_http_body_pending(const struct gh_http_proxy *hp);

/* The client was too slow with a request body (body_timeout,
 * min_body_rate): 408. A request already forwarded (its body streaming)
 * leaves the queue with its request entry, outcome refused, status 408.
 * False when part of that request's response already went to the client:
 * no 408 can follow it, the connection just closes. */
bool gh_http_body_timeout(struct gh_http_proxy *hp, double now, uint64_t conn_id);

/* The interim response (100 Continue) to send now, if one is owed and fits
 * ROOM bytes; marks it taken. Owed only while no response is in flight, so
 * it never lands inside another response. */
bool gh_http_take_interim(struct gh_http_proxy *hp, size_t room, const char **data, size_t *len);

/* The reply to send now, if one is queued and every earlier response is
 * complete; marks it taken. */
bool gh_http_take_reply(struct gh_http_proxy *hp, const char **data, size_t *len);

/* True when client bytes must wait (a reply is pending or the queue is full). */
bool gh_http_client_paused(const struct gh_http_proxy *hp);

/* True while responses are still owed to the client, or our own reply is
 * queued and not yet taken: the connection must not close yet. */
bool gh_http_owes_client(const struct gh_http_proxy *hp);

#endif
