/* hello_reader.h - what a TLS connection reads before its session exists.
 *
 * Owns: the buffer the first client bytes go to (a PROXY header from a
 * trusted balancer, then the ClientHello, which may come in pieces and
 * may outgrow a pool block), reading it from the bare socket, choosing the
 * certificate from the parsed hello, and the fatal alert written when no
 * session will follow. The session then replays the same bytes
 * (gh_tls_session_replay). What a failure means for the connection stays
 * with the connection (conn.c). */
#ifndef GATEHOUSE_HELLO_READER_H
#define GATEHOUSE_HELLO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/buffer.h"
#include "gatehouse/client_hello.h"
#include "gatehouse/transport.h"

struct gh_tls_context;

/* A ClientHello may be larger than the listener's buffers (post-quantum
 * key shares, many extensions): the hello then moves to a buffer of its
 * own, sized for the largest hello plus a PROXY header, until the session
 * has read it. */
#define GH_HELLO_BUF_MAX (GH_CLIENT_HELLO_MAX_BYTES + 536)

struct gh_hello_buf {
    struct gh_buf buf;           /* a pool block, or GH_HELLO_BUF_MAX bytes when heap */
    bool heap;                   /* outgrew the pool's block: malloc'd */
};

enum gh_hello_read {
    GH_HELLO_READ_GOT,           /* bytes came (or none fit): look at what is there */
    GH_HELLO_READ_WAIT,          /* nothing now: wait until the socket is readable */
    GH_HELLO_READ_EOF,           /* the client closed before its hello */
    GH_HELLO_READ_FAILED,        /* recv failed; the socket's last_error says why */
    GH_HELLO_READ_NO_MEMORY,
};

/* Reads what the socket has into h. */
enum gh_hello_read gh_hello_read(struct gh_hello_buf *h, struct gh_buf_pool *pool,
                                 struct gh_plain_transport *sock);

/* Gives the buffer back: always, or only once the session read all of it. */
void gh_hello_release(struct gh_hello_buf *h, struct gh_buf_pool *pool, bool always);

enum gh_hello_pick {
    GH_HELLO_PICK_MORE,          /* incomplete: the rest is on its way */
    GH_HELLO_PICK_CERT,          /* *cert is the certificate to serve */
    GH_HELLO_PICK_MALFORMED,     /* not a ClientHello this proxy accepts; *detail why */
    GH_HELLO_PICK_UNKNOWN_SNI,   /* no certificate for the name (sni_unknown = refuse) */
};

/* Parses the hello at the head of h and chooses the certificate. On a
 * refusal the matching fatal alert has been written to fd. */
enum gh_hello_pick gh_hello_pick_cert(const struct gh_hello_buf *h,
                                      const struct gh_tls_context *tls, int fd, int *cert,
                                      const char **detail);

#endif
