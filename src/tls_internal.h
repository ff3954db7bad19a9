/* tls_internal.h - what tls.c (sessions) and tls_context.c (per-listener
 * contexts) share. Not for other modules: they see include/gatehouse/tls.h. */
#ifndef GATEHOUSE_TLS_INTERNAL_H
#define GATEHOUSE_TLS_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/ssl.h>

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "gatehouse/buffer.h"
#include "gatehouse/config.h"
#include "gatehouse/tls.h"

#define GH_CERT_NAMES_MAX 32    /* SNI names one certificate answers for */
#define GH_DNS_NAME_MAX 253

/* One certificate of a listener, in a wolfSSL context of its own: wolfSSL
 * holds one certificate per context, so choosing a certificate is choosing
 * a context, before the session exists. */
struct gh_tls_cert {
    WOLFSSL_CTX *ctx;
    bool ecdsa;                 /* else RSA */
    char names[GH_CERT_NAMES_MAX][GH_DNS_NAME_MAX + 1]; /* exact or *.wildcard */
    size_t n_names;
    char label[GH_NAME_MAX + 8]; /* "default" or the [cert:NAME], for logs */
    /* OCSP stapling: the DER response an external job keeps fresh */
    const char *ocsp_path;      /* NULL when none is configured */
    uint8_t *ocsp_der;
    size_t ocsp_len;
    struct timespec ocsp_mtime; /* of the file read; a change means a reload */
};

struct gh_tls_context {
    const struct gh_listener_config *cfg;
    struct gh_tls_cert certs[GH_LISTENER_CERTS_MAX]; /* [0]: cert/key, the default */
    size_t n_certs;
    char alpn[GH_ALPN_TEXT_MAX]; /* wolfSSL_UseALPN's comma list, "" = none */
    bool verify_clients;
    struct gh_ticket_scope *tickets; /* NULL on listeners that verify clients */
    /* Where a session may resume: SHA-256 of the listener's name and TLS
     * policy (tls_context.c, resumption_scope). Tickets are encrypted under
     * keys derived with it, and its first bytes are the session ID context
     * of the listener's contexts (tls_context.c, scope_session_ids), so a
     * session resumes only on a listener with the same name and policy -
     * after a reload that changed no TLS setting, or (tickets) on another
     * instance with the same config and ticket secret, but not elsewhere. */
    uint8_t scope[32];
};

/* Our own receive callback stands between wolfSSL and the socket so that a
 * TCP EOF from the client is ours to report, not wolfSSL's: wolfSSL marks a
 * session closed when recv() returns 0 and then refuses to send the
 * close_notify that a half-closed client still expects after the backend's
 * last bytes. It also replays bytes read before the session existed, and
 * reads ahead (see receive() in tls.c). */
struct gh_tls_session {
    WOLFSSL *ssl;
    int fd;
    bool peer_eof;
    struct gh_buf *replay;              /* read first, if not empty (owned by the caller) */
    struct gh_buf ahead;                /* read from the socket, not yet given to wolfSSL */
    struct gh_buf_pool *pool;           /* ahead's blocks; NULL: no read-ahead */
    const struct gh_tls_context *tc;
    struct gh_tls_peer *peer;           /* the client certificate, if one was checked */
    bool peer_denied;                   /* outside the listener's allow-lists */
};

/* tls_context.c: the verify callback installed on contexts that ask for
 * client certificates; it records the leaf's identity in the session. */
int gh_tls_verify_client(int preverify, WOLFSSL_X509_STORE_CTX *store);

#endif
