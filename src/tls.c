/* tls.c - the TLS service on wolfSSL; see tls.h.
 *
 * Contexts are built once per listener at start-up. Sessions are driven
 * non-blocking: every call returns WANT_READ/WANT_WRITE rather than block,
 * and the caller retries when its event loop says the socket is ready. */
#include "gatehouse/tls.h"

#include "tls_internal.h"

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define SSL_OF(s) ((s)->ssl)

/* wolfSSL asks for a record's 5-byte header, then for its body: two recv
 * calls per record. A request this small is served from one recv of up to
 * a pool block instead, which usually brings the body and the records after
 * it too (a TLS 1.3 client's ChangeCipherSpec and Finished, a request and
 * its close_notify). Larger requests go straight to the socket, so bulk
 * uploads are not copied twice. */
#define READ_AHEAD_BELOW 512

static int serve_from(struct gh_buf *from, char *buf, int size)
{
    uint32_t take = gh_buf_len(from);
    if (take > (uint32_t)size)
        take = (uint32_t)size;
    memcpy(buf, from->data + from->head, take);
    gh_buf_consume(from, take);
    return (int)take;
}

/* What wolfSSL is told when recv() returned n <= 0 (errno set for n < 0). */
static int recv_failure(struct gh_tls_session *s, ssize_t n)
{
    if (n == 0) {
        s->peer_eof = true;
        return WOLFSSL_CBIO_ERR_WANT_READ; /* gh_tls_read turns this into GH_TLS_EOF */
    }
    switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
        return WOLFSSL_CBIO_ERR_WANT_READ;
    case EINTR:
        return WOLFSSL_CBIO_ERR_ISR;
    case ECONNRESET:
        return WOLFSSL_CBIO_ERR_CONN_RST;
    default:
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

static int receive(WOLFSSL *ssl, char *buf, int size, void *ctx)
{
    struct gh_tls_session *s = ctx;
    ssize_t n;
    (void)ssl;

    if (s->replay && !gh_buf_empty(s->replay))
        return serve_from(s->replay, buf, size);
    if (gh_buf_empty(&s->ahead) && s->pool && size < READ_AHEAD_BELOW &&
        gh_buf_acquire(s->pool, &s->ahead) == 0) {
        n = recv(s->fd, s->ahead.data, s->pool->block_size, 0);
        if (n <= 0) {
            int failure = recv_failure(s, n); /* before the release can touch errno */
            gh_buf_release_if_empty(s->pool, &s->ahead);
            return failure;
        }
        s->ahead.tail = (uint32_t)n;
    }
    if (!gh_buf_empty(&s->ahead)) {
        int got = serve_from(&s->ahead, buf, size);
        gh_buf_release_if_empty(s->pool, &s->ahead);
        return got;
    }
    n = recv(s->fd, buf, (size_t)size, 0);
    return n > 0 ? (int)n : recv_failure(s, n);
}

int gh_tls_global_init(void)
{
    return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1;
}

void gh_tls_global_cleanup(void)
{
    wolfSSL_Cleanup();
}

static const char *wolf_error_text(int err, char *buf, size_t n)
{
    wolfSSL_ERR_error_string_n((unsigned long)err, buf, (unsigned long)n);
    return buf;
}

struct gh_tls_session *gh_tls_session_new(struct gh_tls_context *tc, int cert, int fd,
                                          struct gh_buf_pool *read_ahead)
{
    struct gh_tls_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->tc = tc;
    s->pool = read_ahead;
    if (cert < 0 || (size_t)cert >= tc->n_certs)
        cert = 0;
    s->ssl = wolfSSL_new(tc->certs[cert].ctx);
    if (!s->ssl)
        goto fail;
    if (wolfSSL_set_fd(s->ssl, fd) != WOLFSSL_SUCCESS)
        goto fail;
    wolfSSL_SSLSetIORecv(s->ssl, receive);
    wolfSSL_SetIOReadCtx(s->ssl, s);
    if (tc->verify_clients)
        wolfSSL_SetCertCbCtx(s->ssl, s);
    /* CONTINUE_ON_MISMATCH: a client offering only h2 still gets a session
     * (without ALPN) and falls back to http/1.1, rather than an alert. */
    if (tc->alpn[0] && wolfSSL_UseALPN(s->ssl, (char *)tc->alpn, (unsigned)strlen(tc->alpn),
                                       WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) != WOLFSSL_SUCCESS)
        goto fail;
    return s;
fail:
    wolfSSL_free(s->ssl); /* NULL-safe */
    free(s);
    return NULL;
}

void gh_tls_session_replay(struct gh_tls_session *s, struct gh_buf *buf)
{
    s->replay = buf;
}

int gh_tls_session_resumed(struct gh_tls_session *s)
{
    return wolfSSL_session_reused(s->ssl) ? 1 : 0;
}

const struct gh_tls_peer *gh_tls_session_peer(const struct gh_tls_session *s)
{
    return s->peer;
}

void gh_tls_session_free(struct gh_tls_session *s)
{
    if (!s)
        return;
    wolfSSL_free(s->ssl);
    gh_buf_release(s->pool, &s->ahead); /* unread bytes of a closing connection */
    free(s->peer);
    free(s);
}

static enum gh_io_result classify(WOLFSSL *ssl, int ret)
{
    int err = wolfSSL_get_error(ssl, ret);
    switch (err) {
    case WOLFSSL_ERROR_WANT_READ:
        return GH_IO_WANT_READ;
    case WOLFSSL_ERROR_WANT_WRITE:
        return GH_IO_WANT_WRITE;
    case WOLFSSL_ERROR_ZERO_RETURN:
        return GH_IO_CLOSED;
    default:
        return ret == 0 ? GH_IO_EOF : GH_IO_ERROR;
    }
}

/* ---- the TLS transport (transport.h) ---------------------------------- */

static enum gh_io_result tls_handshake(void *ctx)
{
    struct gh_tls_session *s = ctx;
    int ret = wolfSSL_accept(SSL_OF(s));
    if (ret == WOLFSSL_SUCCESS)
        return GH_IO_OK;
    enum gh_io_result r = classify(SSL_OF(s), ret);
    if (r == GH_IO_WANT_READ && s->peer_eof)
        return GH_IO_ERROR;
    /* During the handshake any kind of close is a failure. */
    return r == GH_IO_CLOSED || r == GH_IO_EOF ? GH_IO_ERROR : r;
}

static enum gh_io_result tls_read(void *ctx, void *buf, size_t len, size_t *n)
{
    struct gh_tls_session *s = ctx;
    *n = 0;
    int ret = wolfSSL_read(SSL_OF(s), buf, (int)len);
    if (ret > 0) {
        *n = (size_t)ret;
        return GH_IO_OK;
    }
    enum gh_io_result r = classify(SSL_OF(s), ret);
    return r == GH_IO_WANT_READ && s->peer_eof ? GH_IO_EOF : r;
}

static enum gh_io_result tls_write(void *ctx, const void *buf, size_t len, size_t *n)
{
    struct gh_tls_session *s = ctx;
    *n = 0;
    int ret = wolfSSL_write(SSL_OF(s), buf, (int)len);
    if (ret > 0) {
        *n = (size_t)ret;
        return GH_IO_OK;
    }
    enum gh_io_result r = classify(SSL_OF(s), ret);
    return r == GH_IO_CLOSED || r == GH_IO_EOF ? GH_IO_ERROR : r;
}

/* Sends close_notify once. */
static enum gh_io_result tls_close_notify(void *ctx)
{
    struct gh_tls_session *s = ctx;
    int ret = wolfSSL_shutdown(SSL_OF(s));
    if (ret == WOLFSSL_SUCCESS || ret == WOLFSSL_SHUTDOWN_NOT_DONE)
        return GH_IO_OK; /* sent; we do not wait for the peer's reply */
    enum gh_io_result r = classify(SSL_OF(s), ret);
    return r == GH_IO_WANT_READ || r == GH_IO_WANT_WRITE ? r : GH_IO_ERROR;
}

static const char *tls_last_error(void *ctx, char *buf, size_t n)
{
    struct gh_tls_session *s = ctx;
    int err = wolfSSL_get_error(SSL_OF(s), 0);
    if (s->peer_eof && (err == WOLFSSL_ERROR_WANT_READ || err == 0)) {
        snprintf(buf, n, "peer closed the connection");
        return buf;
    }
    return wolf_error_text(err, buf, n);
}

enum gh_tls_fail_reason gh_tls_failure_kind(struct gh_tls_session *s)
{
    int err;
    if (s->peer_denied)
        return GH_TLS_FAIL_VERIFY_FAILED;
    if (s->peer_eof)
        return GH_TLS_FAIL_IO_ERROR;
    err = wolfSSL_get_error(SSL_OF(s), 0);
    switch (err) {
    case FATAL_ERROR: /* the peer sent a fatal alert */
        return GH_TLS_FAIL_ALERT;
    case SOCKET_ERROR_E:
    case SOCKET_PEER_CLOSED_E:
    case WOLFSSL_ERROR_SYSCALL:
        return GH_TLS_FAIL_IO_ERROR;
    case VERIFY_CERT_ERROR:
    case NO_PEER_CERT:
    case ASN_NO_SIGNER_E:
    case ASN_AFTER_DATE_E:
    case ASN_BEFORE_DATE_E:
    case ASN_SIG_CONFIRM_E:
    case CRL_CERT_REVOKED:
    case CRL_MISSING:
    case CRL_CERT_DATE_ERR:
    case OCSP_CERT_REVOKED:
        return GH_TLS_FAIL_VERIFY_FAILED;
    default:
        return GH_TLS_FAIL_PROTOCOL_ERROR;
    }
}

void gh_tls_session_info(struct gh_tls_session *s, struct gh_tls_info *info)
{
    WOLFSSL *ssl = SSL_OF(s);
    void *sni = NULL;
    char *alpn = NULL;
    word16 alpn_len = 0;

    memset(info, 0, sizeof *info);
    info->version = wolfSSL_get_version(ssl);
    info->cipher = wolfSSL_get_cipher_name(ssl);
    info->resumed = wolfSSL_session_reused(ssl);
    if (!info->cipher)
        info->cipher = "none";
    /* WOLFSSL_ALWAYS_KEEP_SNI makes wolfSSL keep the name a client sent
     * even though no certificate is chosen by it (yet). */
    info->sni_len = wolfSSL_SNI_GetRequest(ssl, WOLFSSL_SNI_HOST_NAME, &sni);
    info->sni = info->sni_len ? sni : NULL;
    if (wolfSSL_ALPN_GetProtocol(ssl, &alpn, &alpn_len) == WOLFSSL_SUCCESS && alpn_len) {
        info->alpn = alpn;
        info->alpn_len = alpn_len;
    }
}

static void tls_info(void *ctx, struct gh_tls_info *info)
{
    gh_tls_session_info(ctx, info);
}

static const struct gh_tls_peer *tls_peer(const void *ctx)
{
    return gh_tls_session_peer(ctx);
}

const struct gh_transport_ops gh_tls_transport_ops = {
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .shutdown = tls_close_notify,
    .last_error = tls_last_error,
    .info = tls_info,
    .peer = tls_peer,
    .short_read_drains = false,
};

/* ---- version ---------------------------------------------------------- */

static const char *asm_summary(void)
{
#if defined(WOLFSSL_AESNI) && defined(USE_INTEL_SPEEDUP) && defined(WOLFSSL_SP_X86_64_ASM)
    return "on (AES-NI, AVX2, SP x86_64 assembly)";
#elif defined(WOLFSSL_AESNI) || defined(USE_INTEL_SPEEDUP) || defined(WOLFSSL_SP_X86_64_ASM)
    return "partial";
#else
    return "off (portable C)";
#endif
}

void gh_tls_print_version(FILE *to)
{
    fprintf(to, "gatehouse %s\n", GH_VERSION);
    fprintf(to, "wolfSSL %s (%s)\n", wolfSSL_lib_version(),
#ifdef GH_WOLFSSL_SYSTEM
            "system library"
#else
            "built from Debian's patched source as a subproject"
#endif
    );
    fprintf(to, "assembly: %s\n", asm_summary());
}
