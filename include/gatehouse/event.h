/* event.h - one emitter per connection event.
 *
 * Each event a connection raises (reject, backend_error, tls_ok, tls_fail,
 * close, backend_desync) is written here once: its diagnostic line
 * (log.h) and its audit entry (audit.h), with conn, listener and client
 * taken from one per-connection context filled at accept, so no call site
 * repeats "conn=%llu listener=%s" or builds an audit entry by hand. A call
 * site makes one call per event.
 *
 * The lines and entries are behaviour (operators grep them, the audit
 * format is documented in config/audit-log.md): every name and field here
 * is byte-identical to what the call sites wrote before.
 *
 * Use: the connection holds one struct gh_event_ctx, filled by
 * gh_event_ctx_init at accept (and gh_event_ctx_set_client after a PROXY
 * header); each event is then one call, e.g.
 *   gh_event_reject(&c->ev, &(struct gh_reject){.reason = GH_REJECT_TRUNCATED_FRAME,
 *                                               .excerpt = p, .excerpt_len = n});
 *   gh_event_close(&c->ev, GH_CLOSE_BACKEND_RESET, &facts);
 *
 * Owns: the context (client address text included), the close, reject,
 * tls_fail and backend_error reason enums and their name tables, and the
 * line and entry of each event. It owns no connection state: what an event
 * reports beyond the context comes in as plain values. */
#ifndef GATEHOUSE_EVENT_H
#define GATEHOUSE_EVENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gatehouse/config.h"
#include "gatehouse/http_proxy.h"
#include "gatehouse/tls.h"

/* ---- the per-connection context ------------------------------------- */

#define GH_EVENT_IP_MAX INET6_ADDRSTRLEN            /* "ffff:...:255.255.255.255" + NUL */
#define GH_EVENT_PEER_MAX (INET6_ADDRSTRLEN + 8)     /* "[" ip "]:" port */

struct gh_event_ctx {
    uint64_t conn;                          /* the worker's connection number */
    const struct gh_listener_config *cfg;   /* listener name, backend text */
    uint16_t client_port;                   /* 0 when the family is unknown */
    char client_ip[GH_EVENT_IP_MAX];        /* the address alone, "?" if unknown */
    char peer_addr[GH_EVENT_PEER_MAX];      /* "ip:port", "[ip6]:port" or "?" */
};

/* At accept: the connection's number, its listener and the peer's
 * address. Everything an emitter names comes from here. */
void gh_event_ctx_init(struct gh_event_ctx *ev, uint64_t conn,
                       const struct gh_listener_config *cfg, const struct sockaddr_storage *peer);
/* accept_proxy: the balancer's header named the real client. */
void gh_event_ctx_set_client(struct gh_event_ctx *ev, const struct sockaddr_storage *peer);
/* A context for a caller that holds only the client's address text (the
 * HTTP framer): the port is unknown (0) and peer_addr is "?". */
void gh_event_ctx_init_ip(struct gh_event_ctx *ev, uint64_t conn,
                          const struct gh_listener_config *cfg, const char *client_ip);

/* ---- close ---------------------------------------------------------- */

/* Why a connection closed: the reason= of conn_close and of the close
 * audit entry. */
enum gh_close_reason {
    GH_CLOSE_CLIENT_EOF,        /* the client ended first, everything delivered */
    GH_CLOSE_BACKEND_EOF,       /* the backend ended first, everything delivered */
    GH_CLOSE_HTTP_CLOSE,        /* http mode decided to end (Connection: close, ...) */
    GH_CLOSE_REJECTED,          /* a rule refused the client's bytes */
    GH_CLOSE_REDIRECTED,        /* mode = redirect answered its one request */
    GH_CLOSE_CLIENT_ERROR,      /* reading or writing the client failed */
    GH_CLOSE_TLS_ERROR,         /* the TLS session failed */
    GH_CLOSE_BACKEND_REFUSED,   /* the backend refused the connection */
    GH_CLOSE_BACKEND_ERROR,     /* connecting to the backend failed otherwise */
    GH_CLOSE_BACKEND_RESET,     /* the backend reset the connection */
    GH_CLOSE_HANDSHAKE_TIMEOUT, /* handshake_timeout */
    GH_CLOSE_CONNECT_TIMEOUT,   /* connect_timeout */
    GH_CLOSE_IDLE_TIMEOUT,      /* idle_timeout (http: the backend did not answer) */
    GH_CLOSE_REQUEST_TIMEOUT,   /* request_timeout: no first request */
    GH_CLOSE_KEEPALIVE_TIMEOUT, /* keepalive_timeout: no next request */
    GH_CLOSE_HEADER_TIMEOUT,    /* header_timeout: a head took too long */
    GH_CLOSE_BODY_TIMEOUT,      /* body_timeout / min_body_rate */
    GH_CLOSE_SEND_TIMEOUT,      /* send_timeout: the client took nothing */
    GH_CLOSE_OUT_OF_MEMORY,
    GH_CLOSE_SHUTDOWN,          /* the shutdown grace expired */
    GH_CLOSE_REASON_COUNT
};
const char *gh_close_reason_name(enum gh_close_reason reason);
/* What requests still unanswered at this close are audited as:
 * backend_failed when the backend was what they waited for, shutdown, or
 * else client_abort. */
enum gh_http_outcome gh_close_reason_outcome(enum gh_close_reason reason);
/* Whether an orderly close_notify goes to the client first: not after a
 * TLS error, a client error or a reset backend, so the client can tell the
 * stream was cut. */
bool gh_close_reason_sends_notify(enum gh_close_reason reason);

/* Which count the close entry carries beside the bytes. */
enum gh_close_count {
    GH_CLOSE_COUNT_NONE,     /* tcp mode, framing = raw */
    GH_CLOSE_COUNT_FRAMES,   /* tcp mode with a framer: frames */
    GH_CLOSE_COUNT_REQUESTS, /* http mode: requests (and WebSocket counts) */
};

/* What the connection did, for its close line and entry. */
struct gh_close_facts {
    double duration;                 /* seconds since accept */
    uint64_t bytes_in, bytes_out;    /* client bytes read, written */
    enum gh_close_count count;
    uint64_t frames;                 /* GH_CLOSE_COUNT_FRAMES */
    uint64_t requests;               /* GH_CLOSE_COUNT_REQUESTS */
    bool websocket;                  /* http: the connection became a WebSocket */
    uint64_t ws_frames_in, ws_frames_out, ws_messages_in;
};

/* The conn_close line and the close entry. Call it after the mode has
 * written the entries of its unanswered requests (gh_http_connection_ended),
 * so the close entry is the connection's last. */
void gh_event_close(const struct gh_event_ctx *ev, enum gh_close_reason reason,
                    const struct gh_close_facts *facts);

/* ---- reject --------------------------------------------------------- */

/* Which check refused the client's (or, for a WebSocket frame, either
 * side's) bytes. Where a parser names the rule broken with a stable code
 * of its own (gh_proxy_reason_name, gh_http1_rule_name, the framers' and
 * the WebSocket checks' codes), that code is the reason written and the
 * check's name below is what is written when it gives none. The check also
 * decides the shape of the reject line (stream or http). */
enum gh_reject_reason {
    GH_REJECT_PROXY_UNTRUSTED,     /* a PROXY header from outside proxy_trusted */
    GH_REJECT_PROXY_WRONG_VERSION, /* a valid PROXY header of the other version */
    GH_REJECT_PROXY_HEADER,        /* a broken PROXY header (rule: gh_proxy_reason_name) */
    GH_REJECT_FRAMING,             /* tcp mode's framer (rule: its code) */
    GH_REJECT_TRUNCATED_FRAME,     /* tcp mode: the client ended inside a frame */
    GH_REJECT_HTTP_REQUEST,        /* a request broke a rule (rule: gh_http1_rule_name) */
    GH_REJECT_HEADER_TIMEOUT,      /* a head took longer than header_timeout */
    GH_REJECT_BODY_TIMEOUT,        /* a body came slower than min_body_rate */
    GH_REJECT_WS_UPGRADE,          /* a refused WebSocket upgrade (rule: its code) */
    GH_REJECT_WS_FRAME,            /* a WebSocket frame broke a rule (rule: its code) */
    GH_REJECT_REASON_COUNT
};
const char *gh_reject_reason_name(enum gh_reject_reason reason);

enum gh_event_side { GH_SIDE_CLIENT, GH_SIDE_BACKEND };

struct gh_reject {
    enum gh_reject_reason reason;
    const char *rule;              /* the parser's stable code; NULL: the reason's name */
    int status;                    /* the HTTP status answered; 0: none, the stream just ends */
    enum gh_event_side from;       /* GH_REJECT_WS_FRAME: whose frame */
    const void *excerpt;           /* what was refused, quoted (cut) in the entry */
    size_t excerpt_len;
};

/* The reject line and entry. */
void gh_event_reject(const struct gh_event_ctx *ev, const struct gh_reject *r);

/* ---- TLS ------------------------------------------------------------ */

/* The handshake completed: the tls_ok debug line and entry. info and
 * peer (NULL: no client certificate) are the session's; cert_label names
 * the certificate served. Costs nothing when neither is read. */
bool gh_event_tls_ok_wanted(void);
void gh_event_tls_ok(const struct gh_event_ctx *ev, const struct gh_tls_info *info,
                     const struct gh_tls_peer *peer, const char *cert_label);

/* enum gh_tls_fail_reason: in tls.h, whose gh_tls_failure_kind returns it. */
const char *gh_tls_fail_reason_name(enum gh_tls_fail_reason reason);

/* The tls_fail line and entry of a check gatehouse made itself (before
 * or around the TLS library): detail says which. The line names the
 * reason; a timeout's line says handshake_timeout, without the client. */
void gh_event_tls_fail(const struct gh_event_ctx *ev, enum gh_tls_fail_reason reason,
                       const char *detail);
/* The TLS library failed the handshake: the line quotes its error text,
 * the entry has it as detail. */
void gh_event_tls_session_failed(const struct gh_event_ctx *ev, enum gh_tls_fail_reason reason,
                                 const char *error_text);

/* ---- backend errors ------------------------------------------------- */

/* What failed on the backend side; decides the line's level and shape and
 * the entry's reason and detail. */
enum gh_backend_failure {
    GH_BACKEND_CONNECT_TIMEOUT,  /* connect_timeout ran out */
    GH_BACKEND_RESPONSE_TIMEOUT, /* http: no answer within idle_timeout */
    GH_BACKEND_CONNECT_FAILED,   /* connect(2) failed with err */
    GH_BACKEND_IO_FAILED,        /* send/recv (what) failed with err */
    GH_BACKEND_PROXY_HEADER,     /* the PROXY header could not be sent (err) */
    GH_BACKEND_BAD_RESPONSE,     /* a response head or chunk broke rule (what) */
    GH_BACKEND_BAD_SWITCH,       /* a 101 that is no valid answer to its upgrade (what) */
    GH_BACKEND_FAILURE_COUNT
};
/* The backend_error entry's reason. */
enum gh_backend_error_reason {
    GH_BACKEND_ERROR_TIMEOUT,
    GH_BACKEND_ERROR_REFUSED,
    GH_BACKEND_ERROR_UNREACHABLE,
    GH_BACKEND_ERROR_RESET,
    GH_BACKEND_ERROR_ERROR,
    GH_BACKEND_ERROR_REASON_COUNT
};
const char *gh_backend_error_reason_name(enum gh_backend_error_reason reason);

/* The backend_error line and entry. err is the errno of CONNECT_FAILED,
 * IO_FAILED and PROXY_HEADER (else 0); what names the operation of
 * IO_FAILED ("send", "recv") or the rule of BAD_RESPONSE and BAD_SWITCH
 * (else NULL). */
void gh_event_backend_error(const struct gh_event_ctx *ev, enum gh_backend_failure failure,
                            int err, const char *what);

/* ---- backend desync ------------------------------------------------- */

/* http: the backend's bytes can no longer be paired with requests. */
enum gh_desync_reason {
    GH_DESYNC_EARLY_RESPONSE,        /* it answered before it had the whole request */
    GH_DESYNC_UNSOLICITED_RESPONSE,  /* it sent what no request asked for */
    GH_DESYNC_REASON_COUNT
};
const char *gh_desync_reason_name(enum gh_desync_reason reason);

/* The backend_desync line and entry; excerpt is the start of what it
 * sent, quoted in the entry up to excerpt_max bytes. */
void gh_event_backend_desync(const struct gh_event_ctx *ev, enum gh_desync_reason reason,
                             const void *excerpt, size_t excerpt_len, size_t excerpt_max);

/* ---- reload (the worker's own event) -------------------------------- */

/* SIGHUP: the reloaded line and the reload entry (result ok). */
void gh_event_reloaded(const char *config_path, size_t listeners);
/* SIGHUP: the reload_refused line and the reload entry (result refused)
 * with the number of errors; the running configuration stays. */
void gh_event_reload_refused(const char *config_path, size_t errors);

#endif
