/* hello_reader.c - the bytes before the TLS session; see hello_reader.h. */
#include "gatehouse/hello_reader.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gatehouse/tls.h"

#define ALERT_DECODE_ERROR 50
#define ALERT_UNRECOGNIZED_NAME 112

static uint32_t hello_room(struct gh_hello_buf *h, struct gh_buf_pool *pool)
{
    if (!h->heap)
        return gh_buf_make_room(pool, &h->buf);
    if (h->buf.head > 0) {
        memmove(h->buf.data, h->buf.data + h->buf.head, gh_buf_len(&h->buf));
        h->buf.tail -= h->buf.head;
        h->buf.head = 0;
    }
    return GH_HELLO_BUF_MAX - h->buf.tail;
}

static int grow_hello(struct gh_hello_buf *h, struct gh_buf_pool *pool)
{
    uint32_t len = gh_buf_len(&h->buf);
    uint8_t *big = malloc(GH_HELLO_BUF_MAX);
    if (!big)
        return -1;
    memcpy(big, h->buf.data + h->buf.head, len);
    gh_buf_release(pool, &h->buf);
    h->buf.data = big;
    h->buf.head = 0;
    h->buf.tail = len;
    h->heap = true;
    return 0;
}

void gh_hello_release(struct gh_hello_buf *h, struct gh_buf_pool *pool, bool always)
{
    if (!h->buf.data || (!always && !gh_buf_empty(&h->buf)))
        return;
    if (h->heap) {
        free(h->buf.data);
        h->buf = (struct gh_buf){0};
        h->heap = false;
    } else {
        gh_buf_release(pool, &h->buf);
    }
}

enum gh_hello_read gh_hello_read(struct gh_hello_buf *h, struct gh_buf_pool *pool,
                                 struct gh_plain_transport *sock)
{
    uint32_t room;
    size_t n = 0;

    if (!h->heap && gh_buf_acquire(pool, &h->buf) < 0)
        return GH_HELLO_READ_NO_MEMORY;
    room = hello_room(h, pool);
    if (room == 0 && !h->heap) {
        if (grow_hello(h, pool) < 0)
            return GH_HELLO_READ_NO_MEMORY;
        room = hello_room(h, pool);
    }
    if (room) {
        switch (gh_plain_read(sock, h->buf.data + h->buf.tail, room, &n)) {
        case GH_IO_OK:
            break;
        case GH_IO_WANT_READ:
        case GH_IO_WANT_WRITE:
            return GH_HELLO_READ_WAIT;
        case GH_IO_EOF:
        case GH_IO_CLOSED:
            return GH_HELLO_READ_EOF;
        case GH_IO_RESET:
        case GH_IO_ERROR:
            return GH_HELLO_READ_FAILED;
        }
    }
    h->buf.tail += (uint32_t)n;
    return GH_HELLO_READ_GOT;
}

/* A fatal alert written straight to the socket: there is no session yet. */
static void send_alert(int fd, uint8_t description)
{
    const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description};
    ssize_t w = send(fd, alert, sizeof alert, MSG_NOSIGNAL);
    (void)w; /* the connection closes either way */
}

enum gh_hello_pick gh_hello_pick_cert(const struct gh_hello_buf *h,
                                      const struct gh_tls_context *tls, int fd, int *cert,
                                      const char **detail)
{
    static struct gh_client_hello hello; /* 17 KiB; one loop, one at a time */
    struct gh_tls_hello choice = {0};
    enum gh_hello_status st;

    st = gh_client_hello_parse(h->buf.data + h->buf.head, gh_buf_len(&h->buf), &hello);
    if (st == GH_HELLO_INCOMPLETE)
        return GH_HELLO_PICK_MORE;
    if (st != GH_HELLO_DONE) {
        /* Not a ClientHello this proxy accepts (strictly per RFC 8446 and
         * 6066): refused here, so a name the parser cannot read cannot slip
         * past sni_unknown = refuse either. */
        send_alert(fd, ALERT_DECODE_ERROR);
        *detail = gh_client_hello_reason_name(hello.reason);
        return GH_HELLO_PICK_MALFORMED;
    }
    choice.sni = hello.has_server_name ? (const char *)hello.server_name.p : NULL;
    choice.sni_len = hello.has_server_name ? hello.server_name.len : 0;
    choice.ecdsa_ok = gh_client_hello_accepts_ecdsa(&hello);
    choice.rsa_ok = gh_client_hello_accepts_rsa(&hello);
    *cert = gh_tls_choose(tls, &choice);
    if (*cert < 0) {
        send_alert(fd, ALERT_UNRECOGNIZED_NAME); /* RFC 6066 3 */
        *detail = "no certificate for the name asked for";
        return GH_HELLO_PICK_UNKNOWN_SNI;
    }
    return GH_HELLO_PICK_CERT;
}
