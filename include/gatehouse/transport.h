/* transport.h - how a connection's side moves bytes over its socket.
 *
 * Owns: the byte-stream operations the pump uses on either side of a
 * connection, whatever is underneath (as nginx's c->recv/c->send,
 * Redis's ConnectionType, HAProxy's xprt_ops): read, write, the end of
 * our sending half (close_notify or FIN), and the readiness a call wants
 * next. Two implementations: TLS over wolfSSL (tls.c: the client side of a
 * TLS listener) and the plain socket here (the backend side, and the
 * client side of listeners that do not speak TLS, mode = redirect).
 * Callers never ask which one they hold. */
#ifndef GATEHOUSE_TRANSPORT_H
#define GATEHOUSE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "gatehouse/buffer.h"

struct gh_tls_info;
struct gh_tls_peer;

enum gh_io_result {
    GH_IO_OK,          /* done; for read/write, *n bytes moved */
    GH_IO_WANT_READ,   /* retry when the socket is readable */
    GH_IO_WANT_WRITE,  /* retry when the socket is writable */
    GH_IO_CLOSED,      /* read: the peer sent close_notify; shutdown: the
                        * connection was already gone (ENOTCONN) */
    GH_IO_EOF,         /* read: TCP EOF (without close_notify) */
    GH_IO_RESET,       /* the peer reset the connection (ECONNRESET, EPIPE) */
    GH_IO_ERROR,       /* fatal; last_error says why */
};

struct gh_transport_ops {
    /* The session's own opening (the TLS handshake); OK at once for a
     * plain socket. CLOSED and EOF are never returned: any end is ERROR. */
    enum gh_io_result (*handshake)(void *ctx);
    /* Reads up to len bytes. */
    enum gh_io_result (*read)(void *ctx, void *buf, size_t len, size_t *n);
    /* TLS writes all of len or nothing: after WANT_*, call again with the
     * same bytes. A plain socket may write part (*n < len). */
    enum gh_io_result (*write)(void *ctx, const void *buf, size_t len, size_t *n);
    /* Ends our sending half once: close_notify, or shutdown(SHUT_WR). */
    enum gh_io_result (*shutdown)(void *ctx);
    /* Short reason for the last failure, for logs. */
    const char *(*last_error)(void *ctx, char *buf, size_t n);
    /* What the session agreed on ("plaintext"/"none" for a plain socket),
     * and the client certificate it checked (NULL when none). */
    void (*info)(void *ctx, struct gh_tls_info *info);
    const struct gh_tls_peer *(*peer)(const void *ctx);
    /* A read shorter than asked means the socket is drained (a plain
     * socket: the pump stops reading until epoll says more came); TLS
     * reads one record at a time, so the pump reads until WANT_READ. */
    bool short_read_drains;
};

/* The plain socket transport's context. */
struct gh_plain_transport {
    int fd;
    int last_errno;           /* of the last failed call, for last_error */
    struct gh_buf *replay;    /* read first, if not empty (owned by the caller):
                               * bytes read before the transport took over */
};

extern const struct gh_transport_ops gh_plain_transport_ops;

void gh_plain_transport_init(struct gh_plain_transport *p, int fd, struct gh_buf *replay);

/* Direct calls for the moments before a side has its transport (the
 * ClientHello is read on the bare socket) and for a request's first byte. */
enum gh_io_result gh_plain_read(struct gh_plain_transport *p, void *buf, size_t len, size_t *n);

/* Whether the peer already ended the connection (FIN or reset waiting
 * unread), asked without taking a byte (MSG_PEEK). A question about the TCP
 * socket, not about the byte stream, so it is no transport op: TLS would
 * have to peek below its records, and only the backend side asks it. */
bool gh_plain_peer_closed(const struct gh_plain_transport *p);

#endif
