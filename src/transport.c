/* transport.c - the plain socket transport; see transport.h. */
#include "gatehouse/transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gatehouse/tls.h"

void gh_plain_transport_init(struct gh_plain_transport *p, int fd, struct gh_buf *replay)
{
    p->fd = fd;
    p->last_errno = 0;
    p->replay = replay;
}

/* A failed recv/send (n < 0, errno set): what to wait for, or how it failed. */
static enum gh_io_result plain_failure(struct gh_plain_transport *p, enum gh_io_result wait)
{
    p->last_errno = errno;
    switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
        return wait;
    case ECONNRESET:
    case EPIPE:
        return GH_IO_RESET;
    default:
        return GH_IO_ERROR;
    }
}

enum gh_io_result gh_plain_read(struct gh_plain_transport *p, void *buf, size_t len, size_t *n)
{
    ssize_t got;

    *n = 0;
    if (p->replay && !gh_buf_empty(p->replay)) { /* a PROXY header came with it */
        uint32_t take = gh_buf_len(p->replay);
        if (take > len)
            take = (uint32_t)len;
        memcpy(buf, p->replay->data + p->replay->head, take);
        gh_buf_consume(p->replay, take);
        *n = take;
        return GH_IO_OK;
    }
    do
        got = recv(p->fd, buf, len, 0);
    while (got < 0 && errno == EINTR);
    if (got > 0) {
        *n = (size_t)got;
        return GH_IO_OK;
    }
    if (got == 0)
        return GH_IO_EOF;
    return plain_failure(p, GH_IO_WANT_READ);
}

static enum gh_io_result plain_read(void *ctx, void *buf, size_t len, size_t *n)
{
    return gh_plain_read(ctx, buf, len, n);
}

static enum gh_io_result plain_write(void *ctx, const void *buf, size_t len, size_t *n)
{
    struct gh_plain_transport *p = ctx;
    ssize_t sent;

    *n = 0;
    do
        sent = send(p->fd, buf, len, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent >= 0) {
        *n = (size_t)sent;
        return GH_IO_OK;
    }
    return plain_failure(p, GH_IO_WANT_WRITE);
}

static enum gh_io_result plain_handshake(void *ctx)
{
    (void)ctx;
    return GH_IO_OK;
}

static enum gh_io_result plain_shutdown(void *ctx)
{
    struct gh_plain_transport *p = ctx;
    if (shutdown(p->fd, SHUT_WR) == 0)
        return GH_IO_OK;
    p->last_errno = errno;
    return errno == ENOTCONN ? GH_IO_CLOSED : GH_IO_ERROR;
}

static const char *plain_last_error(void *ctx, char *buf, size_t n)
{
    const struct gh_plain_transport *p = ctx;
    snprintf(buf, n, "%s", strerror(p->last_errno));
    return buf;
}

static void plain_info(void *ctx, struct gh_tls_info *info)
{
    (void)ctx;
    memset(info, 0, sizeof *info);
    info->version = "plaintext";
    info->cipher = "none";
}

static const struct gh_tls_peer *plain_peer(const void *ctx)
{
    (void)ctx;
    return NULL;
}

bool gh_plain_peer_closed(const struct gh_plain_transport *p)
{
    uint8_t probe;
    ssize_t n = recv(p->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

const struct gh_transport_ops gh_plain_transport_ops = {
    .handshake = plain_handshake,
    .read = plain_read,
    .write = plain_write,
    .shutdown = plain_shutdown,
    .last_error = plain_last_error,
    .info = plain_info,
    .peer = plain_peer,
    .short_read_drains = true,
};
