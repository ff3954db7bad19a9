/* tls.h - the TLS service: server contexts built from a listener's config,
 * and one session's non-blocking handshake, read, write and close as a
 * transport (transport.h).
 *
 * Owns: everything that touches wolfSSL. Callers see opaque handles and
 * small result codes, so the connection state machine reads the same
 * whatever the TLS library does underneath. */
#ifndef GATEHOUSE_TLS_H
#define GATEHOUSE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gatehouse/buffer.h"
#include "gatehouse/config.h"
#include "gatehouse/transport.h"

struct gh_tls_context; /* one per listener: certificates, versions, suites */
struct gh_tls_session; /* one per client connection */

int gh_tls_global_init(void);
void gh_tls_global_cleanup(void);

/* Builds the TLS service of one listener: one wolfSSL context per
 * certificate it serves (cert/key first, the default, then each
 * [cert:NAME] of certs), each with the listener's versions, suites, groups,
 * ALPN, session tickets (tickets.h) and client certificate checks. On
 * failure records errors naming the config line and returns NULL. */
struct gh_tls_context *gh_tls_context_new(const struct gh_config *cfg,
                                          const struct gh_listener_config *l,
                                          struct gh_config_errors *errs);
void gh_tls_context_free(struct gh_tls_context *ctx);

/* OCSP stapling: whether any certificate staples, and whether a response
 * file changed since the context was built (the worker then reloads). */
bool gh_tls_context_staples(const struct gh_tls_context *ctx);
bool gh_tls_context_stale(const struct gh_tls_context *ctx);

/* What a ClientHello said that decides the certificate. */
struct gh_tls_hello {
    const char *sni;      /* the host_name asked for; NULL when none */
    size_t sni_len;
    bool ecdsa_ok;        /* the client can verify an ECDSA P-256 certificate */
    bool rsa_ok;
};

/* The certificate to serve: among those whose names cover the SNI (an
 * exact name before a wildcard), the ECDSA one if the client takes ECDSA,
 * else RSA. No SNI, or one no certificate covers: the default (cert/key and
 * any certificate with the same names), or -1 when sni_unknown = refuse.
 * hello NULL (nothing parsed): the default. */
int gh_tls_choose(const struct gh_tls_context *ctx, const struct gh_tls_hello *hello);
/* "default" or the [cert:NAME] of a choice, for logs. */
const char *gh_tls_cert_label(const struct gh_tls_context *ctx, int cert);

/* cert is what gh_tls_choose returned. read_ahead
 * (may be NULL) lends blocks for reading several records per recv; the
 * session holds one only while it holds bytes wolfSSL has not taken. */
struct gh_tls_session *gh_tls_session_new(struct gh_tls_context *ctx, int cert, int fd,
                                          struct gh_buf_pool *read_ahead);
void gh_tls_session_free(struct gh_tls_session *s);

/* Bytes read from the socket before the session existed (the ClientHello
 * read to choose the certificate): wolfSSL reads them first, consuming buf
 * from its head. buf stays the caller's; it must outlive its bytes. */
void gh_tls_session_replay(struct gh_tls_session *s, struct gh_buf *buf);

/* The client certificate a handshake checked (client_ca set). Sizes are
 * cert_info.h's (checked in tls_context.c), kept here as numbers so this
 * header needs no other. */
#define GH_TLS_DN_MAX 513 /* 512 bytes and the NUL, as cert_info.h keeps them */
#define GH_TLS_DN_ASCII_MAX (3 * 512 + 1)          /* GH_CERT_INFO_NAME_ASCII_MAX + NUL */
#define GH_TLS_URI_LIST_MAX (8 * (2 * 255 + 4) + 1) /* GH_CERT_INFO_URI_LIST_MAX + NUL */
struct gh_tls_peer {
    char subject[GH_TLS_DN_MAX];   /* RFC 4514, UTF-8 */
    char subject_ascii[GH_TLS_DN_ASCII_MAX]; /* the same, non-ASCII bytes as \XX (headers) */
    bool subject_truncated;        /* subject is a prefix of a longer name */
    char issuer[GH_TLS_DN_MAX];
    char cn[257];
    char serial[80];               /* hex */
    char sha256[65];               /* of the DER, hex */
    char uri[256];                 /* the first SAN URI (a SPIFFE ID), "" if none */
    char uri_list[GH_TLS_URI_LIST_MAX]; /* every kept SAN URI, an RFC 9110 list */
    bool uris_dropped;             /* SAN URIs past 8 or unprintable: not in uri_list */
    bool verified;                 /* the chain verified against client_ca */
};
/* NULL when the client sent no certificate (or none was asked for). */
const struct gh_tls_peer *gh_tls_session_peer(const struct gh_tls_session *s);

/* The session as a transport: gh_tls_transport_ops with the session as
 * its context (handshake, read, write, close_notify, last_error, ...). */
extern const struct gh_transport_ops gh_tls_transport_ops;

/* Why a handshake failed, as the tls_fail entry names it (the names are
 * event.c's: gh_tls_fail_reason_name). */
enum gh_tls_fail_reason {
    GH_TLS_FAIL_TIMEOUT,         /* no complete handshake within handshake_timeout */
    GH_TLS_FAIL_IO_ERROR,        /* the client went away or its socket failed */
    GH_TLS_FAIL_PROTOCOL_ERROR,  /* not TLS this proxy accepts */
    GH_TLS_FAIL_UNKNOWN_SNI,     /* no certificate for the name asked for */
    GH_TLS_FAIL_ALERT,           /* the client sent a fatal alert */
    GH_TLS_FAIL_VERIFY_FAILED,   /* its certificate did not verify */
    GH_TLS_FAIL_REASON_COUNT
};

/* Why the handshake failed: alert, verify_failed, io_error or protocol_error. */
enum gh_tls_fail_reason gh_tls_failure_kind(struct gh_tls_session *s);

struct gh_tls_info {
    const char *version;  /* "TLSv1.3" */
    const char *cipher;
    int resumed;
    const char *sni;      /* as the client sent it; NULL when it sent none */
    size_t sni_len;
    const char *alpn;     /* the protocol agreed on; NULL when none */
    size_t alpn_len;
};
void gh_tls_session_info(struct gh_tls_session *s, struct gh_tls_info *info);
/* 1 when the handshake resumed an earlier session, else 0. */
int gh_tls_session_resumed(struct gh_tls_session *s);

/* gatehouse -V (and the head of gatehouse-crypto-speed's report). */
void gh_tls_print_version(FILE *to);

#endif
